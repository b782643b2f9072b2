//! `lutcore dse`: design-space exploration of the LUT core against the MAC
//! (with and without DSP blocks) and ternary add/sub baselines, by yosys
//! synthesis on iCE40, ECP5 and an ASIC-like CMOS proxy.
//!
//! * [`points`]: targets, design points, the quick and full sweeps.
//! * [`synth`]: yosys scripts, running yosys, parsing `stat -json`.
//! * [`run`]: one point end to end, resumable result files.
//! * [`report`]: tables, ratios, `report.md`.
//! * [`plot`]: Pareto and ratio plots.

pub mod plot;
pub mod points;
pub mod report;
pub mod run;
pub mod synth;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;

use points::{Point, Target};
use run::{Layout, Status};

/// `lutcore dse`: sweep array configs through yosys and compare area per MAC/cycle.
#[derive(Args, Debug, Clone)]
#[command(after_long_help = "\
Outputs (under --out, default build/dse):
  points/<id>.json   one result per point (written atomically; a rerun reuses every finished
                     point whose Verilog, yosys script and yosys version are unchanged, and
                     retries failed ones)
  work/<id>/         the point's Verilog, synth.ys, yosys.log and stat.json
  results.csv/.json  every point with LUT4, carry, FF, DSP, BRAM, LUT4-eq or transistors,
                     MAC/cycle and area per MAC/cycle
  report.md          accounting, the LUT-core/baseline ratios, the issue's targets,
                     the ASIC per-module breakdown
  plots/             pareto_<target>.svg/.png, ratio_by_bits.svg/.png

Accounting: iCE40 LUT4-eq = SB_LUT4 (SB_CARRY shares the logic cell of its sum LUT);
ECP5 LUT4-eq = LUT4 + 2 x CCU2C; DSP blocks count as the measured LUT4-eq of a signed
16x16 (iCE40) / 18x18 (ECP5) multiplier synthesized without DSPs. ASIC proxy: generic
synth, dffunmap, abc -g cmos2, stat -tech cmos (+20 transistors per async-reset flop).

On a cluster (each point is independent; all tasks share one --out directory):
  N=$(lutcore dse --quick --list | wc -l)
  sbatch --array=0-$((N-1)) --wrap 'lutcore dse --quick --point $SLURM_ARRAY_TASK_ID --out /shared/dse'
  lutcore dse --quick --report --out /shared/dse   # after the array: tables and plots, no synthesis
Use the same --quick/--targets for --list and --point: they select the list the index refers to.")]
pub struct DseArgs {
    /// The quick sweep (263 points: 119 with integer activations, 144 with FP ones) instead of the full one (1542).
    #[arg(long)]
    pub quick: bool,
    /// Output directory (results, work directories, plots).
    #[arg(long, value_name = "DIR", default_value = "build/dse")]
    pub out: PathBuf,
    /// Parallel yosys jobs (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Targets to sweep, comma-separated: ice40, ecp5, asic.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "ice40,ecp5,asic"
    )]
    pub targets: Vec<Target>,
    /// Print every point of the sweep (index, id, config), one per line, and exit.
    #[arg(long, conflicts_with_all = ["point", "report"])]
    pub list: bool,
    /// Run one point only (its index in --list or its id), e.g. one task of a
    /// cluster job array; writes only `points/<id>.json`.
    #[arg(long, value_name = "ID", conflicts_with = "report")]
    pub point: Option<String>,
    /// No synthesis: build the tables, report and plots from the results in --out.
    #[arg(long)]
    pub report: bool,
    /// The yosys binary (Debian's yosys 0.23, installed by `make deps`).
    #[arg(long, value_name = "PATH", default_value = "yosys")]
    pub yosys: String,
}

/// Run `lutcore dse`.
pub fn cmd_dse(a: &DseArgs) -> Result<ExitCode> {
    let mut targets = a.targets.clone();
    targets.sort();
    targets.dedup();
    let sweep = if a.quick {
        points::quick(&targets)
    } else {
        points::full(&targets)
    };
    if a.list {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        for (i, p) in sweep.iter().enumerate() {
            // A closed pipe (`| head`) ends the listing quietly.
            if writeln!(out, "{i} {} {}", p.id, p.describe()).is_err() {
                break;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let layout = Layout { out: a.out.clone() };
    if a.report {
        return report_all(&layout, &sweep);
    }
    let version = synth::yosys_version(&a.yosys)?;
    if let Some(key) = &a.point {
        let p = points::find(&sweep, key)?;
        let expected = run::expected_key(p, &version);
        if expected.is_ok_and(|k| run::reusable(&layout, p, &k)) {
            println!(
                "{}: already done ({}), reused",
                p.id,
                layout.point_file(&p.id).display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        let r = run::run_point(&layout, p, &a.yosys, &version)?;
        return Ok(match r.status {
            Status::Ok => {
                println!(
                    "{}: ok in {:.1} s -> {}",
                    p.id,
                    r.yosys_seconds,
                    layout.point_file(&p.id).display()
                );
                ExitCode::SUCCESS
            }
            Status::Failed => {
                eprintln!("{}: FAILED: {}", p.id, r.error.unwrap_or_default());
                ExitCode::FAILURE
            }
        });
    }
    let jobs = a
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let summary = run_sweep(&layout, &sweep, &a.yosys, &version, jobs, true)?;
    println!(
        "sweep      {} points: {} reused from {}, {} run ({} ok, {} failed) in {:.1} min with {jobs} job(s)",
        sweep.len(),
        summary.reused,
        layout.points_dir().display(),
        summary.ran,
        summary.ran - summary.failed,
        summary.failed,
        summary.wall.as_secs_f64() / 60.0
    );
    let code = report_all(&layout, &sweep)?;
    Ok(if summary.failed > 0 {
        ExitCode::FAILURE
    } else {
        code
    })
}

/// What a sweep did.
#[derive(Clone, Debug, Default)]
pub struct SweepSummary {
    /// Points whose stored result was reused.
    pub reused: usize,
    /// Points synthesized in this run.
    pub ran: usize,
    /// Of those, failed.
    pub failed: usize,
    /// Wall time.
    pub wall: Duration,
}

/// Synthesize every point of `sweep` without a reusable result, `jobs` at a time.
pub fn run_sweep(
    layout: &Layout,
    sweep: &[Point],
    yosys: &str,
    version: &str,
    jobs: usize,
    progress: bool,
) -> Result<SweepSummary> {
    let t = Instant::now();
    let mut todo = Vec::new();
    let mut reused = 0;
    for p in sweep {
        // A point that cannot be generated is run anyway: its result file
        // records the error, and the sweep goes on.
        match run::expected_key(p, version) {
            Ok(key) if run::reusable(layout, p, &key) => reused += 1,
            _ => todo.push(p),
        }
    }
    let bar = if progress {
        indicatif::ProgressBar::new(todo.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} points, ETA {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(500));
    if progress && reused > 0 {
        println!(
            "resume     {reused} of {} points already done in {}, reused",
            sweep.len(),
            layout.points_dir().display()
        );
    }
    // Largest points first, handed out one at a time: the long MAC syntheses
    // start early instead of leaving one core busy at the end.
    todo.sort_by_key(|p| std::cmp::Reverse(points::cost_estimate(p)));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<run::PointResult>>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(todo.len()).max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = todo.get(i) else { break };
                let r = run::run_point(layout, p, yosys, version);
                if let Ok(r) = &r {
                    if r.status == Status::Failed {
                        // Printed above the bar, and also when stderr is not a terminal.
                        bar.suspend(|| {
                            eprintln!(
                                "FAILED {}: {}",
                                p.id,
                                r.error
                                    .as_deref()
                                    .unwrap_or("")
                                    .lines()
                                    .next()
                                    .unwrap_or("")
                            )
                        });
                    }
                }
                bar.inc(1);
                bar.set_message(p.id.clone());
                results.lock().unwrap_or_else(|e| e.into_inner()).push(r);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    bar.finish_and_clear();
    let mut failed = 0;
    for r in results {
        if r?.status == Status::Failed {
            failed += 1;
        }
    }
    Ok(SweepSummary {
        reused,
        ran: todo.len(),
        failed,
        wall: t.elapsed(),
    })
}

/// Tables, report and plots from every stored result; prints the table and the targets.
fn report_all(layout: &Layout, sweep: &[Point]) -> Result<ExitCode> {
    let results = run::load_all(layout)?;
    if results.is_empty() {
        anyhow::bail!(
            "no results in {}: run `lutcore dse` (or `--point` tasks) with this --out first",
            layout.points_dir().display()
        );
    }
    let rows = report::rows(&results);
    report::write_tables(&layout.out, &rows)?;
    let md = report::markdown(&results, &rows);
    crate::output::write_atomic(&layout.out.join("report.md"), &md)?;
    print!("{}", report::human_table(&rows));
    println!();
    if rows.iter().any(|r| !r.float && r.variant != "cal") {
        for l in report::goal_lines(&report::goals(&rows)) {
            println!("target     {l}");
        }
    }
    if rows.iter().any(|r| r.float) {
        for l in report::fp_goal_lines(&report::fp_goals(&rows)) {
            println!("fp target  {}", l.replace("**", ""));
        }
    }
    let missing = sweep
        .iter()
        .filter(|p| {
            !results
                .iter()
                .any(|r| r.point.id == p.id && r.status == Status::Ok)
        })
        .count();
    if missing > 0 {
        println!(
            "missing    {missing} of this sweep's {} points have no ok result in {} yet",
            sweep.len(),
            layout.points_dir().display()
        );
    }
    let plots = layout.out.join("plots");
    match plot::write_all(&plots, &rows) {
        Ok(files) => println!("plots      {} files in {}", files.len(), plots.display()),
        Err(e) => eprintln!("warning: plots not written: {e:#}"),
    }
    println!(
        "wrote      {0}/results.csv, {0}/results.json, {0}/report.md",
        layout.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lutcore_contract::config::{Arch, RawArrayConfig};
    use lutcore_contract::WeightType;
    use points::Variant;

    /// Two tiny points on the ASIC proxy end to end: result files appear, the
    /// report is written, and a second run reuses both.
    #[test]
    fn tiny_points_run_and_resume() {
        let Ok(version) = synth::yosys_version("yosys") else {
            eprintln!("skipping: yosys not installed (make deps)");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout {
            out: dir.path().to_path_buf(),
        };
        let tiny = |arch| RawArrayConfig {
            arch,
            rows: 2,
            k_groups: 1,
            g: 2,
            weights: WeightType::Uint(1),
            act: lutcore_contract::ActType::Int8,
            max_k: 16,
            tokens: 1,
            accumulate: lutcore_contract::Accumulate::Fp32,
        };
        let sweep = vec![
            Point::array(Target::Asic, Variant::Lut, tiny(Arch::Lut)),
            Point::array(Target::Asic, Variant::Mac, tiny(Arch::Mac)),
        ];
        let s = run_sweep(&layout, &sweep, "yosys", &version, 2, false).unwrap();
        assert_eq!((s.reused, s.ran, s.failed), (0, 2, 0));
        for p in &sweep {
            let r = run::load(&layout.point_file(&p.id)).expect("point file written");
            assert_eq!(r.status, Status::Ok, "{:?}", r.error);
            assert!(
                r.resources.transistors > 100,
                "{}: {} transistors",
                p.id,
                r.resources.transistors
            );
            assert!(layout.work_dir(&p.id).join("yosys.log").exists());
        }
        let s = run_sweep(&layout, &sweep, "yosys", &version, 2, false).unwrap();
        assert_eq!((s.reused, s.ran), (2, 0));
        report_all(&layout, &sweep).unwrap();
        let csv = std::fs::read_to_string(dir.path().join("results.csv")).unwrap();
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(dir.path().join("report.md").exists());
    }
}
