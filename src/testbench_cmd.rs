//! `lutcore gen --testbench`: the design plus a self-checking SystemVerilog
//! testbench, its vectors and run scripts for Icarus Verilog and Verilator
//! (see [`lutcore_gen::testbench`]).

use std::path::Path;

use anyhow::{Context, Result};
use lutcore_gen::testbench::{self, TbOptions, Testbench, VECTOR_DIR};
use lutcore_gen::Design;

/// The testbench of `design`. `shape` is the random case's MxK (`None`: the
/// default, neither a multiple of its tile); `seed` seeds the values and the
/// default stimulus. [`Design::write_with_testbench`] writes it.
pub fn build_testbench(
    design: &Design,
    shape: Option<(usize, usize)>,
    seed: u64,
) -> Result<Testbench> {
    let opts = TbOptions {
        shape,
        seed,
        ..TbOptions::default()
    };
    testbench::generate(design, &opts).context("generating the testbench")
}

/// List what `tb` wrote into `out`: `tb_<top>.sv`, `vectors/`,
/// `run_icarus.sh`/`run_verilator.sh`, then what the vectors hold.
pub fn print_testbench(tb: &Testbench, out: &Path) {
    let s = &tb.summary;
    println!("  {}", out.join(&tb.sv.name).display());
    for f in &tb.vectors {
        println!("  {}", out.join(VECTOR_DIR).join(&f.name).display());
    }
    for f in &tb.scripts {
        println!("  {}", out.join(&f.name).display());
    }
    let cases: Vec<String> = s
        .cases
        .iter()
        .map(|c| format!("{} {}x{}", c.spec.name, c.spec.m, c.spec.k))
        .collect();
    println!(
        "testbench {}: {} cases ({}), {} passes, {} results, {} bytes of vectors (seed {})",
        tb.name,
        s.cases.len(),
        cases.join(", "),
        s.passes,
        s.results,
        s.bytes,
        s.seed
    );
    if s.extreme_k_capped {
        println!(
            "  min_acts/max_acts run at K = {} < max_k = {} to keep the vectors within {} bytes",
            s.cases.last().map_or(0, |c| c.spec.k),
            s.config.max_k(),
            s.max_bytes
        );
    }
    println!("run: {0}/run_icarus.sh, {0}/run_verilator.sh (each prints PASS or FAIL; exit status 0 on PASS)", out.display());
}
