//! A BitNet forward pass with every BitLinear matmul on the Verilated array
//! ([`RtlBackend`]) against the CPU backend: identical logits, every matmul
//! bit-exact, for an array that divides the model's shapes evenly and one
//! that does not, for the MAC and add/sub baselines and an int16-activation
//! array; and a deliberately corrupted RTL result is caught.

use std::path::{Path, PathBuf};

use lutcore_contract::config::{Arch, ArrayConfig, RawArrayConfig};
use lutcore_contract::WeightType;
use lutcore_sim::{CheckOutcome, CostModel, ResultWord, RtlBackend, RtlOptions};
use lutcore_sw::backend::{Backend, LutBackend};
use lutcore_sw::model::synth::{write_model, SynthShape};
use lutcore_sw::model::{Model, Session};

/// hidden 256, FFN 512, 2 layers, 4 heads, vocabulary 64 (TQ2_0 needs
/// multiples of 256 along K).
fn tiny_model(dir: &Path) -> PathBuf {
    let shape = SynthShape {
        name: "rtl-test".into(),
        ffn: 512,
        vocab: 64,
        ..SynthShape::tiny()
    };
    let path = dir.join("rtl-test.gguf");
    write_model(&shape, None, 5, &path, |_, _| {}).expect("synthesize the model");
    path
}

fn array(arch: Arch, rows: u32, k_groups: u32, g: u32, act_bits: u32) -> ArrayConfig {
    RawArrayConfig {
        arch,
        rows,
        k_groups,
        g,
        weights: WeightType::Ternary,
        act: lutcore_contract::ActType::int(act_bits).expect("8 or 16"),
        max_k: 1024,
        tokens: 1,
        accumulate: lutcore_contract::Accumulate::Fp32,
    }
    .validate()
    .expect("valid config")
}

fn lut(rows: u32, k_groups: u32, g: u32) -> ArrayConfig {
    array(Arch::Lut, rows, k_groups, g, 8)
}

fn checked(cfg: &ArrayConfig, fail_on_mismatch: bool) -> RtlBackend {
    let opts = RtlOptions {
        check: Some(Box::new(LutBackend { threads: 1 })),
        fail_on_mismatch,
    };
    RtlBackend::new(cfg, opts).unwrap_or_else(|e| panic!("building {cfg}: {e}"))
}

const PROMPT: [u32; 4] = [1, 17, 42, 5];

/// Prompt of 4 tokens, then 2 greedy decode steps; the logits of every step.
fn run(model: &Model, steps: &[Vec<u32>]) -> Vec<Vec<f32>> {
    let mut s = Session::new(model, 1);
    steps
        .iter()
        .flat_map(|t| s.forward(t, true).expect("forward"))
        .collect()
}

fn same_logits_as_cpu(cfg: &ArrayConfig) {
    let t = std::time::Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = tiny_model(dir.path());
    let rtl = checked(cfg, true);
    let built = t.elapsed();
    let on_rtl = Model::load(&path, &rtl, |_, _| {}).expect("load on RTL");
    let on_cpu = Model::load(&path, &LutBackend { threads: 1 }, |_, _| {}).expect("load on CPU");
    let steps = vec![PROMPT.to_vec(), vec![7], vec![60]];
    let a = run(&on_rtl, &steps);
    let b = run(&on_cpu, &steps);
    assert_eq!(a.len(), 6);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let same = x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(
            same,
            "{cfg}: logits of position {i} differ between RTL and CPU"
        );
    }
    let recs = rtl.records();
    assert_eq!(
        recs.len(),
        2 * 7 * steps.len(),
        "one record per BitLinear call"
    );
    for r in &recs {
        assert_eq!(
            r.check,
            CheckOutcome::Exact,
            "{cfg}: {} not bit-exact",
            r.name
        );
        assert!(
            r.cycles > 0 && r.utilization() > 0.0 && r.utilization() <= 1.0,
            "{r:?}"
        );
        assert_eq!(r.passes, r.rows.div_ceil(cfg.rows()) * r.tokens);
    }
    let prompt_q = &recs[0];
    assert_eq!(
        (
            prompt_q.name.as_str(),
            prompt_q.layer(),
            prompt_q.matrix(),
            prompt_q.tokens
        ),
        ("blk.0.attn_q", Some(0), "attn_q", 4)
    );
    let cycles: u64 = recs.iter().map(|r| r.cycles).sum();
    println!(
        "{cfg}: {} matmuls bit-exact, {cycles} cycles, library {} in {:.1} s, total {:.1} s",
        recs.len(),
        rtl.library().status(),
        built.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn forward_on_an_array_that_divides_the_shapes() {
    // 256 and 512 rows are multiples of 16; K = 256, 512 multiples of 16.
    same_logits_as_cpu(&lut(16, 4, 4));
}

#[test]
fn forward_on_an_array_that_does_not_divide_the_shapes() {
    // 256 = 21·12 + 4 rows, K = 256 = 28·9 + 4 activations: padded tiles.
    same_logits_as_cpu(&lut(12, 3, 3));
}

#[test]
fn forward_on_the_mac_and_addsub_baselines() {
    same_logits_as_cpu(&array(Arch::Mac, 16, 4, 4, 8));
    same_logits_as_cpu(&array(Arch::AddSub, 12, 3, 3, 8));
}

#[test]
fn forward_on_an_int16_activation_array() {
    // BitNet's int8 activations, sign-extended into 16-bit lanes.
    same_logits_as_cpu(&array(Arch::Lut, 8, 2, 4, 16));
}

#[test]
fn a_corrupted_rtl_result_is_caught() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = tiny_model(dir.path());
    let cfg = lut(16, 4, 4);

    // Recorded, run continues.
    let rtl = checked(&cfg, false);
    let model = Model::load(&path, &rtl, |_, _| {}).expect("load");
    rtl.inject_fault(3);
    Session::new(&model, 1)
        .forward(&[3], false)
        .expect("forward");
    let recs = rtl.records();
    let bad: Vec<_> = recs.iter().filter(|r| r.check.is_mismatch()).collect();
    assert_eq!(bad.len(), 1, "{recs:?}");
    assert_eq!(bad[0].seq, 3);
    assert_eq!(bad[0].name, "blk.0.attn_output");
    // One integer differs, in bit 0, at token 0, row 0.
    assert!(
        matches!(
            bad[0].check,
            CheckOutcome::Mismatch { count: 1, token: 0, row: 0, rtl: ResultWord::Int(r), cpu: ResultWord::Int(c) }
                if r ^ 1 == c
        ),
        "{:?}",
        bad[0].check
    );

    // An error when asked to fail.
    let strict = checked(&cfg, true);
    let model = Model::load(&path, &strict, |_, _| {}).expect("load");
    strict.inject_fault(0);
    let e = match Session::new(&model, 1).forward(&[3], false) {
        Ok(_) => panic!("a corrupted result passed the check"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("blk.0.attn_q")
            && e.contains("differs from the CPU backend")
            && e.contains("row 0"),
        "{e}"
    );
}

#[test]
fn cost_model_takes_the_slower_of_compute_and_weights() {
    let c = CostModel {
        clock_hz: 100e6,
        weight_bytes_per_s: 1e9,
    };
    assert_eq!(c.seconds(1000, 1), 1e-5);
    assert_eq!(c.seconds(1, 1_000_000), 1e-3);
    let rtl = checked(&lut(16, 4, 4), true);
    assert!(
        rtl.name().starts_with("rtl:lut_r16_k4_g4_ternary"),
        "{}",
        rtl.name()
    );
}
