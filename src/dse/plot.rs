//! Plots (plotters): per target, area vs MAC/cycle with the Pareto front,
//! one panel per weight type and activation type; the LUT-core advantage over
//! each baseline by weight bit width (integer activations); and for FP
//! activations the best area per MAC/cycle of the LUT array and both FP
//! baselines by activation type × weight bits. SVG always, PNG too.
//!
//! plotters lays text out with a TrueType font it is given at run time (the
//! `ab_glyph` feature: no fontconfig or other system library at build time).
//! [`find_font`] looks in `LUTCORE_FONT` and the usual Debian font paths.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::points::{Target, FP_ACTS, MAIN_SHAPE};
use super::report::{main_shape_ratios, Row};

/// Font files tried in order after `LUTCORE_FONT`.
const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/lato/Lato-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
];

/// The TrueType font to draw text with: `LUTCORE_FONT` or the first system font found.
pub fn find_font() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("LUTCORE_FONT") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!("LUTCORE_FONT={} is not a file", p.display());
    }
    FONT_CANDIDATES.iter().map(PathBuf::from).find(|p| p.is_file()).ok_or_else(|| {
        anyhow!("no TrueType font found (tried {}); install fonts-dejavu-core or set LUTCORE_FONT=/path/to/font.ttf", FONT_CANDIDATES.join(", "))
    })
}

fn register_font() -> Result<()> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let path = find_font().map_err(|e| e.to_string())?;
        let bytes: &'static [u8] = Box::leak(
            std::fs::read(&path)
                .map_err(|e| format!("reading font {}: {e}", path.display()))?
                .into_boxed_slice(),
        );
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{} is not a usable TrueType font", path.display()))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// Color of a variant in every plot.
fn color(variant: &str) -> RGBColor {
    match variant {
        "lut" => RGBColor(214, 39, 40),
        "mac" => RGBColor(31, 119, 180),
        "mac-dsp" => RGBColor(44, 160, 44),
        "mac-int8" => RGBColor(148, 103, 189),
        _ => RGBColor(255, 127, 14),
    }
}

/// Every variant, in legend order.
const VARIANTS: [&str; 5] = ["lut", "mac", "mac-dsp", "addsub", "mac-int8"];

/// Points not dominated by another with at least the throughput and at most the area, by throughput.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.total_cmp(&b.1)));
    let mut front: Vec<(f64, f64)> = Vec::new();
    for p in sorted {
        if front.last().is_none_or(|l| p.1 < l.1) {
            front.push(p);
        }
    }
    front.reverse();
    front
}

/// The marker of a variant: filled dots; MAC with DSPs a ring, so a MAC dot
/// under it (same point when no DSP was used) stays visible.
fn marker<C>(variant: &str, at: C) -> Circle<C, i32> {
    let c = color(variant);
    if variant == "mac-dsp" {
        Circle::new(at, 7, c.stroke_width(2))
    } else {
        Circle::new(at, 4, c.filled())
    }
}

fn e<E: std::fmt::Debug>(err: E) -> anyhow::Error {
    anyhow!("drawing failed: {err:?}")
}

fn draw_pareto<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    target: Target,
    rows: &[&Row],
) -> Result<()> {
    root.fill(&WHITE).map_err(e)?;
    // One panel per (activation, weights) of `rows`: each has a point.
    let mut panels: Vec<(bool, String, u64, String)> = rows
        .iter()
        .map(|r| {
            (
                r.float,
                r.act.clone(),
                r.weight_bits.to_bits(),
                r.weights.clone(),
            )
        })
        .collect();
    panels.sort();
    panels.dedup();
    let cols = panels.len().clamp(1, 4);
    let grid_rows = panels.len().div_ceil(cols).max(1);
    let (title_area, body) = root.split_vertically(36);
    title_area
        .draw(&Text::new(
            format!(
                "{target}: {} vs MAC/cycle (log-log), Pareto front in black",
                target.area_unit()
            ),
            (10, 8),
            ("sans-serif", 20),
        ))
        .map_err(e)?;
    let (w, _) = title_area.dim_in_pixel();
    for (i, variant) in VARIANTS.into_iter().enumerate() {
        let x = w as i32 - 520 + 100 * i as i32;
        title_area.draw(&marker(variant, (x, 18))).map_err(e)?;
        title_area
            .draw(&Text::new(variant, (x + 10, 10), ("sans-serif", 15)))
            .map_err(e)?;
    }
    let areas = body.split_evenly((grid_rows, cols));
    for (area, (_, act, _, w)) in areas.iter().zip(&panels) {
        let pts: Vec<&&Row> = rows
            .iter()
            .filter(|r| &r.act == act && &r.weights == w)
            .collect();
        let (xmin, xmax) = pts.iter().fold((f64::MAX, 0f64), |(lo, hi), r| {
            (lo.min(r.macs_per_cycle), hi.max(r.macs_per_cycle))
        });
        let (ymin, ymax) = pts.iter().fold((f64::MAX, 0f64), |(lo, hi), r| {
            (lo.min(r.area as f64), hi.max(r.area as f64))
        });
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{w} weights, {act} activations"),
                ("sans-serif", 14),
            )
            .margin(6)
            .x_label_area_size(32)
            .y_label_area_size(58)
            // At least a decade on each axis, so the log axes always carry labels.
            .build_cartesian_2d(
                (xmin.min(xmax / 10.0) / 1.6..xmax * 1.6).log_scale(),
                (ymin.min(ymax / 10.0) / 1.5..ymax * 1.5).log_scale(),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("MAC/cycle")
            .y_desc(target.area_unit())
            .label_style(("sans-serif", 11))
            .axis_desc_style(("sans-serif", 12))
            .x_labels(6)
            .y_labels(6)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(e)?;
        let front = pareto_front(
            &pts.iter()
                .map(|r| (r.macs_per_cycle, r.area as f64))
                .collect::<Vec<_>>(),
        );
        chart
            .draw_series(LineSeries::new(front.clone(), BLACK.stroke_width(1)))
            .map_err(e)?;
        for variant in VARIANTS {
            let series: Vec<(f64, f64)> = pts
                .iter()
                .filter(|r| r.kind() == variant)
                .map(|r| (r.macs_per_cycle, r.area as f64))
                .collect();
            chart
                .draw_series(series.iter().map(|&p| marker(variant, p)))
                .map_err(e)?;
        }
    }
    root.present().map_err(e)?;
    Ok(())
}

fn draw_ratios<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, rows: &[Row]) -> Result<()> {
    root.fill(&WHITE).map_err(e)?;
    let ratios = main_shape_ratios(rows);
    let targets: Vec<Target> = Target::ALL
        .into_iter()
        .filter(|t| ratios.iter().any(|r| r.target == *t))
        .collect();
    if targets.is_empty() {
        bail!("no LUT-core/baseline pairs at the main shape yet");
    }
    let (title_area, body) = root.split_vertically(36);
    title_area
        .titled(
            &format!(
                "LUT-core advantage: baseline area per MAC/cycle ÷ LUT core's ({}×{}×{} arrays; > 1: LUT core smaller)",
                MAIN_SHAPE.0, MAIN_SHAPE.1, MAIN_SHAPE.2
            ),
            ("sans-serif", 18),
        )
        .map_err(e)?;
    let panels = body.split_evenly((1, targets.len()));
    for (area, &t) in panels.iter().zip(&targets) {
        let tr: Vec<_> = ratios.iter().filter(|r| r.target == t).collect();
        let ymax = tr.iter().map(|r| r.advantage).fold(2.5f64, f64::max) * 1.5;
        let ymin = tr.iter().map(|r| r.advantage).fold(0.5f64, f64::min) / 1.5;
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{t} ({})", t.area_unit()), ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(44)
            .build_cartesian_2d(0.6f64..4.4f64, (ymin..ymax).log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("weight bits (ternary = 1.58)")
            .y_desc("advantage (x, log)")
            .y_label_formatter(&|v| format!("{v:.2}"))
            .label_style(("sans-serif", 11))
            .axis_desc_style(("sans-serif", 12))
            .x_labels(8)
            .draw()
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                [(0.6, 1.0), (4.4, 1.0)],
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                [(0.6, 2.0), (4.4, 2.0)],
                BLACK.mix(0.25).stroke_width(1),
            ))
            .map_err(e)?;
        for baseline in ["mac", "mac-dsp", "addsub", "mac-int8"] {
            for act in [8u32, 16] {
                let mut pts: Vec<(f64, f64)> = tr
                    .iter()
                    .filter(|r| r.baseline == baseline && r.act_bits == act)
                    .map(|r| (r.weight_bits, r.advantage))
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let c = color(baseline);
                let style = if act == 8 {
                    c.stroke_width(2)
                } else {
                    c.mix(0.55).stroke_width(2)
                };
                chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(e)?;
                let label = format!("vs {baseline}, A{act}");
                if act == 8 {
                    chart
                        .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
                        .map_err(e)?
                        .label(label)
                        .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
                } else {
                    chart
                        .draw_series(
                            pts.iter()
                                .map(|&p| TriangleMarker::new(p, 5, c.mix(0.55).filled())),
                        )
                        .map_err(e)?
                        .label(label)
                        .legend(move |(x, y)| {
                            TriangleMarker::new((x + 6, y), 5, c.mix(0.55).filled())
                        });
                }
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 11))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

/// The targets with FP results.
fn fp_targets(rows: &[Row]) -> Vec<Target> {
    Target::ALL
        .into_iter()
        .filter(|t| {
            rows.iter()
                .any(|r| r.float && r.status == "ok" && r.target == *t)
        })
        .collect()
}

/// The best (least) area per MAC/cycle of `variant` for each weight type of
/// one (target, act), as (weight bits, area per MAC/cycle), by weight bits.
pub fn fp_series(rows: &[Row], t: Target, act: &str, variant: &str) -> Vec<(f64, f64)> {
    let mut best: Vec<(f64, f64)> = Vec::new();
    for r in rows.iter().filter(|r| {
        r.float
            && r.status == "ok"
            && r.target == t
            && r.act == act
            && r.kind() == variant
            && r.macs_per_cycle > 0.0
    }) {
        match best.iter_mut().find(|(b, _)| *b == r.weight_bits) {
            Some(p) => p.1 = p.1.min(r.area_per_mac),
            None => best.push((r.weight_bits, r.area_per_mac)),
        }
    }
    best.sort_by(|a, b| a.0.total_cmp(&b.0));
    best
}

/// FP activations: one row of panels per target, one panel per activation
/// type; the best area per MAC/cycle (log) of the LUT array, the paper's MAC
/// and the strict add/sub by weight bits.
fn draw_fp<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, rows: &[Row]) -> Result<()> {
    root.fill(&WHITE).map_err(e)?;
    let targets = fp_targets(rows);
    let (title_area, body) = root.split_vertically(40);
    title_area
        .titled(
            "FP activations: best area per MAC/cycle by weight bits (LUT red, paper's MAC blue, strict add/sub orange)",
            ("sans-serif", 17),
        )
        .map_err(e)?;
    let panels = body.split_evenly((targets.len(), FP_ACTS.len()));
    for (ti, &t) in targets.iter().enumerate() {
        for (ai, act) in FP_ACTS.iter().enumerate() {
            let act = act.to_string();
            let area = &panels[ti * FP_ACTS.len() + ai];
            let series: Vec<(&str, Vec<(f64, f64)>)> = ["lut", "mac", "addsub"]
                .into_iter()
                .map(|v| (v, fp_series(rows, t, &act, v)))
                .collect();
            let all: Vec<f64> = series
                .iter()
                .flat_map(|(_, s)| s.iter().map(|p| p.1))
                .collect();
            if all.is_empty() {
                area.titled(&format!("{t}, {act}: no results"), ("sans-serif", 13))
                    .map_err(e)?;
                continue;
            }
            let ymin = all.iter().copied().fold(f64::MAX, f64::min);
            let ymax = all.iter().copied().fold(0f64, f64::max);
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!("{t}, {act} ({} per MAC/cycle)", t.area_unit()),
                    ("sans-serif", 13),
                )
                .margin(6)
                .x_label_area_size(30)
                .y_label_area_size(52)
                .build_cartesian_2d(
                    0.6f64..4.4f64,
                    (ymin.min(ymax / 10.0) / 1.5..ymax * 1.5).log_scale(),
                )
                .map_err(e)?;
            chart
                .configure_mesh()
                .x_desc("weight bits (ternary = 1.58)")
                .y_label_formatter(&|v| format!("{v:.0}"))
                .label_style(("sans-serif", 10))
                .axis_desc_style(("sans-serif", 11))
                .x_labels(8)
                .y_labels(5)
                .draw()
                .map_err(e)?;
            for (v, pts) in series {
                if pts.is_empty() {
                    continue;
                }
                let c = color(v);
                chart
                    .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                    .map_err(e)?;
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
                    .map_err(e)?;
            }
        }
    }
    root.present().map_err(e)?;
    Ok(())
}

/// Write every plot into `dir` (SVG and PNG). Returns the files written.
pub fn write_all(dir: &Path, rows: &[Row]) -> Result<Vec<PathBuf>> {
    register_font()?;
    std::fs::create_dir_all(dir).map_err(|err| anyhow!("creating {}: {err}", dir.display()))?;
    let mut written = Vec::new();
    for t in Target::ALL {
        // Exact-accumulation rows are compared in the report's tables, not
        // here. Panels come from the plotted rows only, so none is empty (an
        // empty panel's log axis has no range, and plotters loops forever on it).
        let rs: Vec<&Row> = rows
            .iter()
            .filter(|r| {
                r.target == t
                    && r.status == "ok"
                    && r.variant != "cal"
                    && r.macs_per_cycle > 0.0
                    && r.kind() == r.variant
            })
            .collect();
        if rs.is_empty() {
            continue;
        }
        let mut panels: Vec<(&str, &str)> = rs
            .iter()
            .map(|r| (r.act.as_str(), r.weights.as_str()))
            .collect();
        panels.sort();
        panels.dedup();
        let cols = panels.len().clamp(2, 4) as u32;
        let size = (
            320 * cols,
            36 + 300 * panels.len().div_ceil(4).max(1) as u32,
        );
        let svg = dir.join(format!("pareto_{t}.svg"));
        draw_pareto(SVGBackend::new(&svg, size).into_drawing_area(), t, &rs)?;
        written.push(svg);
        let png = dir.join(format!("pareto_{t}.png"));
        draw_pareto(BitMapBackend::new(&png, size).into_drawing_area(), t, &rs)?;
        written.push(png);
    }
    if rows.iter().any(|r| r.float && r.status == "ok") {
        let size = (1200, 330 * fp_targets(rows).len() as u32 + 40);
        let svg = dir.join("fp_by_type.svg");
        draw_fp(SVGBackend::new(&svg, size).into_drawing_area(), rows)?;
        written.push(svg);
        let png = dir.join("fp_by_type.png");
        draw_fp(BitMapBackend::new(&png, size).into_drawing_area(), rows)?;
        written.push(png);
    }
    if main_shape_ratios(rows).is_empty() {
        return Ok(written);
    }
    let size = (1200, 460);
    let svg = dir.join("ratio_by_bits.svg");
    draw_ratios(SVGBackend::new(&svg, size).into_drawing_area(), rows)?;
    written.push(svg);
    let png = dir.join("ratio_by_bits.png");
    draw_ratios(BitMapBackend::new(&png, size).into_drawing_area(), rows)?;
    written.push(png);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_keeps_only_undominated_points() {
        let pts = [
            (8.0, 100.0),
            (16.0, 150.0),
            (16.0, 300.0),
            (32.0, 140.0),
            (64.0, 500.0),
            (4.0, 120.0),
        ];
        assert_eq!(
            pareto_front(&pts),
            vec![(8.0, 100.0), (32.0, 140.0), (64.0, 500.0)]
        );
    }
}
