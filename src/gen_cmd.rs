//! `lutcore gen`: the Verilog and manifest.json of an array config
//! ([`lutcore_gen::generate`]), optionally with the shipped testbench
//! ([`crate::testbench_cmd`]); `--list-presets` prints the preset table.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use lutcore_contract::config::presets;

use crate::args::{ConfigArgs, Shape};

/// Arguments of `lutcore gen`.
#[derive(Args)]
pub(crate) struct GenArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Output folder (created if missing). It ends up holding exactly the new .sv files and
    /// manifest.json (and the testbench): what an earlier `lutcore gen` listed in its
    /// manifest.json there (its .sv files; its testbench, vectors/ and build/ scratch) is
    /// removed; a folder holding any other file, even inside vectors/ or build/, is refused.
    #[arg(long, value_name = "DIR", required_unless_present = "list_presets")]
    out: Option<PathBuf>,
    /// List the presets and exit.
    #[arg(long)]
    list_presets: bool,
    /// Also write a self-checking testbench (tb_<top>.sv), its vectors (vectors/) and
    /// run_icarus.sh, run_verilator.sh (Icarus Verilog, Verilator) into the output directory.
    #[arg(long)]
    testbench: bool,
    /// Shape MxK of the testbench's random case (default (2·rows+1) x (3·k_tile+1));
    /// all vectors together are capped at 1 MiB.
    #[arg(long, value_name = "MxK", requires = "testbench")]
    tb_shape: Option<Shape>,
    /// Seed of the testbench's vectors and default stimulus.
    #[arg(long, value_name = "S", default_value_t = 1, requires = "testbench")]
    tb_seed: u64,
}

/// Run `lutcore gen`.
pub(crate) fn cmd_gen(a: &GenArgs) -> Result<ExitCode> {
    if a.list_presets {
        print!("{}", preset_table());
        return Ok(ExitCode::SUCCESS);
    }
    let (name, cfg) = a.config.load()?;
    let out = a
        .out
        .as_ref()
        .context("--out DIR is required (or --list-presets)")?;
    crate::output::check_parent_folders("--out", out)?;
    let design = lutcore_gen::generate(&cfg)?;
    let tb = if a.testbench {
        let shape = a.tb_shape.map(Shape::dims);
        Some(crate::testbench_cmd::build_testbench(
            &design, shape, a.tb_seed,
        )?)
    } else {
        None
    };
    match &tb {
        Some(tb) => design.write_with_testbench(out, tb),
        None => design.write_to(out),
    }
    .with_context(|| format!("--out {}", out.display()))?;
    println!("{name}: {cfg}");
    for f in &design.files {
        println!("  {}", out.join(&f.name).display());
    }
    println!("  {}", out.join("manifest.json").display());
    if let Some(tb) = &tb {
        crate::testbench_cmd::print_testbench(tb, out);
    }
    println!(
        "top {} (sha256 {})",
        design.top,
        &design.verilog_sha256()[..16]
    );
    Ok(ExitCode::SUCCESS)
}

/// The preset table's column headers.
const HEAD: [&str; 7] = [
    "preset", "arch", "rows", "k_groups", "g", "weights", "max_k",
];
/// Which columns of [`HEAD`] hold numbers (right-aligned).
const NUMERIC: [bool; 7] = [false, false, true, true, true, false, true];

/// The presets as a table, one row each, every column as wide as its widest cell
/// (text left-aligned, numbers right-aligned), the description last.
fn preset_table() -> String {
    let rows: Vec<([String; 7], &str)> = presets()
        .iter()
        .map(|p| {
            let r = &p.raw;
            let cells = [
                p.name.to_string(),
                r.arch.to_string(),
                r.rows.to_string(),
                r.k_groups.to_string(),
                r.g.to_string(),
                r.weights.to_string(),
                r.max_k.to_string(),
            ];
            (cells, p.about)
        })
        .collect();
    let width = |c: usize| {
        rows.iter()
            .map(|(cells, _)| cells[c].len())
            .chain([HEAD[c].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..HEAD.len()).map(width).collect();
    let line = |cells: &[&str], about: &str| {
        let mut s = String::new();
        for (c, cell) in cells.iter().enumerate() {
            let w = widths[c];
            if c > 0 {
                s.push(' ');
            }
            s += &if NUMERIC[c] {
                format!("{cell:>w$}")
            } else {
                format!("{cell:<w$}")
            };
        }
        format!("{s}  {about}\n")
    };
    let mut out = line(&HEAD, "about");
    for (cells, about) in &rows {
        out += &line(&cells.each_ref().map(String::as_str), about);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Left-aligned columns start, right-aligned ones end, at the same byte in
    /// every row, and the descriptions all start at the same byte.
    #[test]
    fn preset_table_columns_line_up() {
        let table = preset_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), presets().len() + 1, "{table}");
        // (start, end) of the first 8 words of a line: the 7 columns and the description's first word.
        let spans = |l: &str| -> Vec<(usize, usize)> {
            let b = l.as_bytes();
            let mut v = Vec::new();
            let mut i = 0;
            while v.len() < 8 && i < b.len() {
                if b[i] == b' ' {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < b.len() && b[i] != b' ' {
                    i += 1;
                }
                v.push((start, i));
            }
            v
        };
        let head = spans(lines[0]);
        for l in &lines[1..] {
            let row = spans(l);
            for c in 0..7 {
                let (same, what) = if NUMERIC[c] {
                    (row[c].1 == head[c].1, "end")
                } else {
                    (row[c].0 == head[c].0, "start")
                };
                assert!(
                    same,
                    "column {} does not {what} where its header does:\n{table}",
                    HEAD[c]
                );
            }
            assert_eq!(row[7].0, head[7].0, "description misaligned:\n{table}");
        }
        // The name column is as wide as the longest name, no wider.
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("addsub-fp16-exact addsub ")),
            "{table}"
        );
    }
}
