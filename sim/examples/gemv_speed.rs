//! Simulation speed of one GEMV on a preset:
//! `cargo run --release -p lutcore-sim --example gemv_speed -- [preset] [M] [K]`.

use std::process::ExitCode;

use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::reference::gemv_plain;
use lutcore_sim::Simulator;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("default", String::as_str);
    let m: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1536);
    let k: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1536);
    let run = || -> Result<bool, Box<dyn std::error::Error>> {
        let cfg = lutcore_contract::config::preset(name)?;
        let t = std::time::Instant::now();
        let mut sim = Simulator::new(&cfg)?;
        println!(
            "{name}: {cfg}\nmodel {} in {:.1} s",
            sim.build_status(),
            t.elapsed().as_secs_f64()
        );
        let wt = cfg.weights();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let values: Vec<i32> = (0..m * k)
            .map(|_| rng.gen_range(wt.min_value()..=wt.max_value()))
            .collect();
        let w = WeightMatrix::from_values(m, k, wt, &values)?;
        let x: Vec<i8> = (0..k).map(|_| rng.gen()).collect();
        let r = sim.gemv(&w, &x)?;
        let ok = r
            .results
            .iter()
            .map(|&v| i64::from(v))
            .eq(gemv_plain(&w, &x));
        println!(
            "{m}x{k}: {} cycles in {:.1} ms = {:.3} M cycles/s; bit-exact: {ok}",
            r.cycles,
            r.wall.as_secs_f64() * 1e3,
            r.cycles as f64 / r.wall.as_secs_f64() / 1e6
        );
        Ok(ok)
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
