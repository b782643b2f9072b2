//! The matmul interface a model runs on, and the CPU backends.
//!
//! A [`Backend`] turns a ternary/low-bit [`WeightMatrix`] into a prepared
//! [`Linear`] once (packing, uploading); the model then calls
//! [`Linear::gemm`] with int8 activations and gets exact i32 results. Every
//! backend computes the same integers, so a model's output does not depend on
//! the backend — the co-simulated RTL (crate `lutcore-sim`) is one more backend.
//!
//! [`Linear::gemm_fp`] is the floating-point form: raw activation codes of a
//! narrow format (FP16, ...) and binary32 results whose every rounding is fixed
//! by an [`FpMatmul`] (the contract's `gemv_fp_lut` or `gemv_fp_mac` order), so
//! it too is bit-exact across backends. The reference backend implements it with
//! the contract's functions; the int8 LUT kernels do not.

use std::sync::Arc;

use crate::kernels::prefill::{PrefillGemm, PREFILL_MIN_BATCH};
use crate::kernels::{Dispatch, Isa, KernelOptions, LutGemm, Scheme};
use lutcore_contract::config::{Arch, ArrayConfig};
use lutcore_contract::dtype::WeightType;
use lutcore_contract::fp::{FpFormat, FP16};
use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::reference::{gemv_fp_lut, gemv_fp_mac, gemv_plain};

/// Errors a backend reports.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend could not prepare or run a matrix.
    #[error("backend {backend}, matrix {matrix}: {detail}")]
    Failed {
        /// Backend name.
        backend: String,
        /// Name of the matrix (e.g. `blk.3.attn_q`).
        matrix: String,
        /// What went wrong.
        detail: String,
    },
}

/// A prepared weight matrix: `out[t·M + r] = Σ_c W[r][c] · x[t·K + c]` for
/// `n` tokens, exactly.
pub trait Linear: Send + Sync {
    /// Output rows M.
    fn rows(&self) -> usize;
    /// Reduction length K.
    fn cols(&self) -> usize;
    /// `n` tokens of int8 activations (token-major, `n·K`) → `n·M` i32.
    fn gemm(&self, x: &[i8], n: usize, out: &mut [i32]) -> Result<(), BackendError>;
    /// `n` tokens of raw `fp.fmt` activation codes (token-major, `n·K`) →
    /// `n·M` binary32 bits, rounded exactly as `fp` says ([`FpMatmul::gemv`]).
    /// The default refuses: a backend whose matrices hold only int8 kernels
    /// says so and names the one that runs floating-point activations.
    fn gemm_fp(
        &self,
        fp: FpMatmul,
        x: &[u32],
        n: usize,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        let _ = (x, n, out);
        Err(BackendError::Failed {
            backend: "?".into(),
            matrix: format!("{}x{}", self.rows(), self.cols()),
            detail: format!(
                "this backend runs int8 activations only, not {}: use the `ref` backend for floating-point activations",
                fp.fmt
            ),
        })
    }
    /// The LUT GEMM behind this matrix, if it is one (lets [`gemm_many`] fuse
    /// several matrices into one call).
    fn as_lut(&self) -> Option<&LutGemm> {
        None
    }
}

/// Apply several matrices of the same K to the same tokens: `outs[i]` gets
/// `mats[i].gemm(x, n, ..)`'s result, bit for bit. Below
/// [`PREFILL_MIN_BATCH`] tokens LUT matrices share one table build and one
/// pass of the thread pool ([`LutGemm::gemm_many`]); from there on each
/// matrix runs its own [`Linear::gemm`] (the prefill kernel, which builds no tables).
/// Errors leave the matrix name empty (the caller knows which matrices it passed).
pub fn gemm_many(
    mats: &[&dyn Linear],
    x: &[i8],
    n: usize,
    outs: &mut [&mut [i32]],
) -> Result<(), BackendError> {
    if outs.len() != mats.len() {
        return Err(BackendError::Failed {
            backend: "?".into(),
            matrix: String::new(),
            detail: format!("{} matrices but {} outputs", mats.len(), outs.len()),
        });
    }
    let fused = if n < PREFILL_MIN_BATCH {
        mats.iter()
            .map(|m| m.as_lut())
            .collect::<Option<Vec<&LutGemm>>>()
    } else {
        None
    };
    match fused {
        Some(l) => LutGemm::gemm_many(&l, x, n, outs).map_err(|e| BackendError::Failed {
            backend: "lut".into(),
            matrix: String::new(),
            detail: e.to_string(),
        }),
        None => {
            for (m, o) in mats.iter().zip(outs.iter_mut()) {
                m.gemm(x, n, o)?;
            }
            Ok(())
        }
    }
}

/// How a datapath sums floating-point products: the order fixes every
/// binary32 rounding, so it is part of a matmul's numerics
/// (docs/decisions.md §18, §19).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpSum {
    /// The FP LUT array's order ([`gemv_fp_lut`]): tables of `g` activations,
    /// `k_groups` groups per K-tile.
    Lut {
        /// Activations per table.
        g: usize,
        /// Groups per K-tile.
        k_groups: usize,
    },
    /// The FP MAC and add-tree baselines' order ([`gemv_fp_mac`]): `k_tile`
    /// products per beat.
    Mac {
        /// Products per beat.
        k_tile: usize,
    },
}

/// A floating-point matmul: the activations' format and the summation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpMatmul {
    /// Activation format (codes of `fmt.bits()` bits).
    pub fmt: FpFormat,
    /// Summation order.
    pub sum: FpSum,
}

impl std::fmt::Display for FpMatmul {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.sum {
            FpSum::Lut { g, k_groups } => {
                write!(
                    f,
                    "{} activations, FP LUT sums (g {g}, k_groups {k_groups})",
                    self.fmt
                )
            }
            FpSum::Mac { k_tile } => {
                write!(f, "{} activations, FP MAC sums (k_tile {k_tile})", self.fmt)
            }
        }
    }
}

impl FpMatmul {
    /// The matmul an array of `cfg` computes; `None` for integer activations.
    pub fn of_config(cfg: &ArrayConfig) -> Option<FpMatmul> {
        let fmt = cfg.act_float()?;
        let sum = match cfg.arch() {
            Arch::Lut => FpSum::Lut {
                g: cfg.g(),
                k_groups: cfg.k_groups(),
            },
            Arch::Mac | Arch::AddSub => FpSum::Mac {
                k_tile: cfg.k_tile(),
            },
        };
        Some(FpMatmul { fmt, sum })
    }

    /// FP16 activations summed as the FP LUT array with `g` 4 and one group
    /// per K-tile (preset `lut-fp16`'s tile): the CPU-only FP16 model path.
    pub fn lut_fp16() -> FpMatmul {
        FpMatmul {
            fmt: FP16,
            sum: FpSum::Lut { g: 4, k_groups: 1 },
        }
    }

    /// `y = W·x` for one token of raw codes, binary32 bits per row: the
    /// contract's [`gemv_fp_lut`] or [`gemv_fp_mac`]. Errors on a tile outside
    /// the arrays' range (`g` 1..=8, `k_groups` and `k_tile` ≥ 1) or a wrong `x` length.
    pub fn gemv(&self, w: &WeightMatrix, x: &[u32]) -> Result<Vec<u32>, String> {
        if x.len() != w.cols() {
            return Err(format!(
                "{} activations for a matrix of {} columns",
                x.len(),
                w.cols()
            ));
        }
        match self.sum {
            FpSum::Lut { g, k_groups } if (1..=8).contains(&g) && k_groups >= 1 => {
                Ok(gemv_fp_lut(w, self.fmt, x, g, k_groups))
            }
            FpSum::Mac { k_tile } if k_tile >= 1 => Ok(gemv_fp_mac(w, self.fmt, x, k_tile)),
            _ => Err(format!(
                "{self}: the tile is outside the arrays' range (g 1..=8, k_groups and k_tile at least 1)"
            )),
        }
    }
}

/// Something that prepares matrices.
pub trait Backend: Send + Sync {
    /// Short name (`ref`, `lut`, `rtl:default`, …).
    fn name(&self) -> String;
    /// Prepare `w`; `name` identifies it in errors and reports.
    fn prepare(&self, name: &str, w: &WeightMatrix) -> Result<Arc<dyn Linear>, BackendError>;
}

/// The reference backend: plain i64 dot products ([`gemv_plain`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct RefBackend;

struct RefLinear(WeightMatrix);

impl Linear for RefLinear {
    fn rows(&self) -> usize {
        self.0.rows()
    }
    fn cols(&self) -> usize {
        self.0.cols()
    }
    fn gemm(&self, x: &[i8], n: usize, out: &mut [i32]) -> Result<(), BackendError> {
        self.per_token(x, n, out, |xt| {
            Ok(gemv_plain(&self.0, xt)
                .into_iter()
                .map(|v| v as i32)
                .collect())
        })
    }
    fn gemm_fp(
        &self,
        fp: FpMatmul,
        x: &[u32],
        n: usize,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        self.per_token(x, n, out, |xt| fp.gemv(&self.0, xt))
    }
}

impl RefLinear {
    /// The shape check, then `gemv` of each token's activations into that
    /// token's rows of `out`: the common part of [`Linear::gemm`] and
    /// [`Linear::gemm_fp`].
    fn per_token<A, R: Copy>(
        &self,
        x: &[A],
        n: usize,
        out: &mut [R],
        gemv: impl Fn(&[A]) -> Result<Vec<R>, String>,
    ) -> Result<(), BackendError> {
        let (m, k) = (self.0.rows(), self.0.cols());
        check_shape("ref", m, k, x, n, out)?;
        for t in 0..n {
            let y = gemv(&x[t * k..(t + 1) * k]).map_err(|detail| BackendError::Failed {
                backend: "ref".into(),
                matrix: format!("{m}x{k}"),
                detail,
            })?;
            out[t * m..(t + 1) * m].copy_from_slice(&y);
        }
        Ok(())
    }
}

impl Backend for RefBackend {
    fn name(&self) -> String {
        "ref".into()
    }
    fn prepare(&self, _name: &str, w: &WeightMatrix) -> Result<Arc<dyn Linear>, BackendError> {
        Ok(Arc::new(RefLinear(w.clone())))
    }
}

/// The fast CPU backend: [`LutGemm`] (native ternary tables for ternary
/// weights, bit planes otherwise) for fewer than [`PREFILL_MIN_BATCH`]
/// tokens (decoding), the int8 [`PrefillGemm`] for batches from there on (a
/// prompt). Both are exact, so the choice never changes a result. Every
/// matrix is packed for both at [`Backend::prepare`]: the prefill copy costs
/// 2 bits per weight (4 for uint3–4) besides the LUT packing.
#[derive(Clone, Copy, Debug)]
pub struct LutBackend {
    /// Threads per matmul.
    pub threads: usize,
}

struct LutLinear {
    lut: LutGemm,
    prefill: PrefillGemm,
}

impl Linear for LutLinear {
    fn rows(&self) -> usize {
        self.lut.rows()
    }
    fn cols(&self) -> usize {
        self.lut.cols()
    }
    fn gemm(&self, x: &[i8], n: usize, out: &mut [i32]) -> Result<(), BackendError> {
        if n >= PREFILL_MIN_BATCH {
            self.prefill.gemm(x, n, out)
        } else {
            self.lut.gemm(x, n, out)
        }
        .map_err(|e| BackendError::Failed {
            backend: "lut".into(),
            matrix: String::new(),
            detail: e.to_string(),
        })
    }
    fn as_lut(&self) -> Option<&LutGemm> {
        Some(&self.lut)
    }
}

impl Backend for LutBackend {
    fn name(&self) -> String {
        format!(
            "lut ({} thread{})",
            self.threads,
            if self.threads == 1 { "" } else { "s" }
        )
    }
    fn prepare(&self, name: &str, w: &WeightMatrix) -> Result<Arc<dyn Linear>, BackendError> {
        self.prepare_for(Isa::detect(), name, w)
    }
}

impl LutBackend {
    /// [`Backend::prepare`] with the kernels of `isa` (which must be available)
    /// instead of [`Isa::detect`]'s selection (the prefill kernel is the one
    /// [`Dispatch::prefill`] names for it).
    pub fn prepare_for(
        &self,
        isa: Isa,
        name: &str,
        w: &WeightMatrix,
    ) -> Result<Arc<dyn Linear>, BackendError> {
        let mut opts = KernelOptions::best(self.threads);
        opts.isa = isa;
        if w.wtype() == WeightType::Ternary {
            opts.scheme = Scheme::TernaryNative;
        }
        let failed = |e: crate::kernels::KernelError| BackendError::Failed {
            backend: "lut".into(),
            matrix: name.into(),
            detail: e.to_string(),
        };
        let lut = LutGemm::new(w, &opts).map_err(failed)?;
        let kernel = Dispatch::new(isa).map_err(failed)?.prefill();
        let prefill = PrefillGemm::new(w, kernel, self.threads).map_err(failed)?;
        Ok(Arc::new(LutLinear { lut, prefill }))
    }
}

/// Check the slice lengths of a gemm call (int8 → i32, or FP codes → binary32 bits).
pub fn check_shape<A, R>(
    backend: &str,
    m: usize,
    k: usize,
    x: &[A],
    n: usize,
    out: &[R],
) -> Result<(), BackendError> {
    if x.len() != n * k || out.len() != n * m {
        return Err(BackendError::Failed {
            backend: backend.into(),
            matrix: format!("{m}x{k}"),
            detail: format!(
                "gemm of {n} tokens needs x of {} and out of {}, got {} and {}",
                n * k,
                n * m,
                x.len(),
                out.len()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lutcore_contract::config::RawArrayConfig;
    use lutcore_contract::testing::random_weights;
    use lutcore_contract::ActType;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The reference backend's FP matmul is the contract's GEMV of each token
    /// in the order asked for (LUT or MAC), the LUT kernels refuse FP
    /// activations naming the backend that runs them, and a tile outside the
    /// arrays' range is an error, not a panic.
    #[test]
    fn fp_matmul_is_the_contract_gemv_per_token() {
        let mut rng = ChaCha8Rng::seed_from_u64(16);
        let (m, k, n) = (7, 37, 3);
        let w = random_weights(&mut rng, WeightType::Ternary, m, k, false);
        let x: Vec<u32> = (0..n * k)
            .map(|_| FP16.round(rng.gen_range(-1.0..1.0) * 2f64.powi(rng.gen_range(-14..15))))
            .collect();
        let lut = FpMatmul {
            fmt: FP16,
            sum: FpSum::Lut { g: 3, k_groups: 2 },
        };
        let mac = FpMatmul {
            fmt: FP16,
            sum: FpSum::Mac { k_tile: 5 },
        };
        let r = RefBackend.prepare("w", &w).unwrap();
        for fp in [lut, mac] {
            let mut out = vec![0u32; n * m];
            r.gemm_fp(fp, &x, n, &mut out).unwrap();
            for t in 0..n {
                let xt = &x[t * k..(t + 1) * k];
                let want = match fp.sum {
                    FpSum::Lut { g, k_groups } => gemv_fp_lut(&w, FP16, xt, g, k_groups),
                    FpSum::Mac { k_tile } => gemv_fp_mac(&w, FP16, xt, k_tile),
                };
                assert_eq!(out[t * m..(t + 1) * m], want[..], "{fp}, token {t}");
            }
        }
        // The two orders round differently somewhere on these values (magnitudes
        // 2^-14..2^15: the binary32 sums are not exact).
        let (mut a, mut b) = (vec![0u32; n * m], vec![0u32; n * m]);
        r.gemm_fp(lut, &x, n, &mut a).unwrap();
        r.gemm_fp(mac, &x, n, &mut b).unwrap();
        assert_ne!(a, b, "LUT and MAC sum orders");

        let l = LutBackend { threads: 1 }.prepare("w", &w).unwrap();
        let e = l.gemm_fp(lut, &x, n, &mut a).unwrap_err().to_string();
        assert!(e.contains("int8") && e.contains("`ref`"), "{e}");
        let bad = FpMatmul {
            fmt: FP16,
            sum: FpSum::Lut { g: 9, k_groups: 1 },
        };
        let e = r.gemm_fp(bad, &x, n, &mut a).unwrap_err().to_string();
        assert!(e.contains("g 1..=8"), "{e}");
        let e = r.gemm_fp(lut, &x[1..], n, &mut a).unwrap_err().to_string();
        assert!(e.contains("needs x of"), "{e}");
    }

    /// An array's FP matmul: its format and its datapath's order; none for int8.
    #[test]
    fn fp_matmul_of_a_config() {
        let cfg = |arch, act| {
            RawArrayConfig::new(arch, 4, 2, 4, WeightType::Uint(1), act, 4096)
                .validate()
                .unwrap()
        };
        assert_eq!(
            FpMatmul::of_config(&cfg(Arch::Lut, ActType::Fp16)),
            Some(FpMatmul {
                fmt: FP16,
                sum: FpSum::Lut { g: 4, k_groups: 2 }
            })
        );
        assert_eq!(
            FpMatmul::of_config(&cfg(Arch::Mac, ActType::Fp16)),
            Some(FpMatmul {
                fmt: FP16,
                sum: FpSum::Mac { k_tile: 8 }
            })
        );
        assert_eq!(FpMatmul::of_config(&cfg(Arch::Lut, ActType::Int8)), None);
        assert_eq!(
            FpMatmul::of_config(&lutcore_contract::config::preset("lut-fp16").unwrap()),
            Some(FpMatmul::lut_fp16())
        );
    }
}
