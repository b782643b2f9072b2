//! The synthetic `tiny` BitNet model with FP16 BitLinear activations
//! (`Numerics::Fp`) and every matmul on a Verilated FP16 LUT array: each
//! matmul bit-exact against the CPU FP path (the reference backend, the
//! contract's `gemv_fp_lut`), the logits identical bit for bit, and near the
//! int8 path's but not equal to them (the FP path really ran). The array
//! (12 rows, 3 groups of 3) divides none of the model's shapes, so padded row
//! and K tiles are exercised; a model asking for another summation order is refused.

use lutcore_contract::config::{Arch, ArrayConfig, RawArrayConfig};
use lutcore_contract::{ActType, WeightType};
use lutcore_sim::{CheckOutcome, RtlBackend, RtlOptions};
use lutcore_sw::backend::{FpMatmul, FpSum, LutBackend, RefBackend};
use lutcore_sw::model::synth::{write_model, SynthShape};
use lutcore_sw::model::{Model, Numerics, Session};

/// Prompt of 4 tokens, then 2 single-token steps: every position's logits.
fn run(model: &Model, numerics: Numerics) -> Vec<Vec<f32>> {
    let mut s = Session::new(model, 1);
    s.numerics = numerics;
    [vec![1, 17, 42, 5], vec![7], vec![60]]
        .iter()
        .flat_map(|t| s.forward(t, true).expect("forward"))
        .collect()
}

#[test]
fn tiny_model_with_fp16_activations_on_the_rtl_equals_the_cpu_fp_path() {
    let t = std::time::Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny.gguf");
    let shape = SynthShape::named("tiny").expect("the tiny shape");
    write_model(&shape, None, 3, &path, |_, _| {}).expect("synthesize the model");
    let cfg: ArrayConfig = RawArrayConfig::new(
        Arch::Lut,
        12,
        3,
        3,
        WeightType::Ternary,
        ActType::Fp16,
        1024,
    )
    .validate()
    .expect("valid config");
    let fp = FpMatmul::of_config(&cfg).expect("FP activations");
    assert_eq!(fp.sum, FpSum::Lut { g: 3, k_groups: 3 });
    let rtl = RtlBackend::new(
        &cfg,
        RtlOptions {
            check: Some(Box::new(RefBackend)),
            fail_on_mismatch: true,
        },
    )
    .unwrap_or_else(|e| panic!("building {cfg}: {e}"));
    let built = t.elapsed();

    let on_rtl = Model::load(&path, &rtl, |_, _| {}).expect("load on RTL");
    let on_ref = Model::load(&path, &RefBackend, |_, _| {}).expect("load on ref");
    let on_lut = Model::load(&path, &LutBackend { threads: 1 }, |_, _| {}).expect("load on lut");
    let a = run(&on_rtl, Numerics::Fp(fp));
    let b = run(&on_ref, Numerics::Fp(fp));
    let int8 = run(&on_lut, Numerics::BitNet);
    assert_eq!(a.len(), 6, "4 prompt positions and 2 steps");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            x.iter().all(|v| v.is_finite()),
            "position {i}: logits not finite"
        );
        assert!(
            x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()),
            "position {i}: logits differ between RTL and the CPU FP path"
        );
    }
    let recs = rtl.records();
    assert_eq!(recs.len(), 2 * 7 * 3, "one record per BitLinear call");
    for r in &recs {
        assert_eq!(r.check, CheckOutcome::Exact, "{} not bit-exact", r.name);
    }

    // FP16 inputs are not int8 ones: the logits move, by a small fraction of their scale.
    let (mut diff, mut scale) = (0f64, 0f64);
    for (x, y) in a.iter().zip(&int8) {
        for (&p, &q) in x.iter().zip(y) {
            diff = diff.max((f64::from(p) - f64::from(q)).abs());
            scale = scale.max(f64::from(q).abs());
        }
    }
    println!("fp16 vs int8 logits: max |difference| {diff:.3e}, largest |logit| {scale:.3e}");
    assert!(
        diff > 0.0 && diff < 0.1 * scale,
        "fp16 vs int8: {diff} of {scale}"
    );

    // The model must ask for the summation order the array computes.
    let other = FpMatmul {
        sum: FpSum::Lut { g: 4, k_groups: 1 },
        ..fp
    };
    let mut s = Session::new(&on_rtl, 1);
    s.numerics = Numerics::Fp(other);
    let err = s.forward(&[3], false).expect_err("refused").to_string();
    assert!(
        err.contains("the array computes") && err.contains("blk.0.attn_q"),
        "{err}"
    );
    println!(
        "{} matmuls bit-exact; library {} in {:.1} s, total {:.1} s",
        recs.len(),
        rtl.library().status(),
        built.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
}
