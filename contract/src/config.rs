//! `ArrayConfig`: the single description of a generated array, shared by the
//! generator, the co-simulation and the reports.
//!
//! A config is written as a [`RawArrayConfig`] (JSON, presets, the CLI) and
//! becomes an [`ArrayConfig`] only through [`RawArrayConfig::validate`], which
//! checks every field against its allowed range and derives every width
//! (table entry, accumulator, stream beats). Nothing downstream re-derives a
//! width: the generator, the simulator driver and the layout module ask the
//! validated config.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dtype::{ActType, WeightType};

/// Width of every result the arrays emit: two's complement for integer
/// activations, IEEE binary32 bits for floating-point ones.
pub const RESULT_BITS: u32 = 32;

/// Width of every floating-point value inside an array with FP activations
/// (table entries, sums, accumulators): IEEE binary32 ([`crate::fp`]).
pub const FP_BITS: u32 = 32;

/// Which datapath the array uses. All share the controller and the stream
/// interface ([`crate::interface`]), so they can be swapped behind the same driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Table lookup: precomputed mirror-halved tables, bit-serial planes.
    Lut,
    /// Baseline: one multiplier per weight, all planes at once (integer
    /// activations: int-a × int-b; FP activations: the weight dequantized to the
    /// activation format and an FP multiplier, as the LUT Tensor Core paper's MAC).
    Mac,
    /// Baseline without multipliers: integer activations take ternary weights
    /// only, each adding, subtracting or skipping its activation; FP activations
    /// take any weight type, each product a sign flip and shift-add of the
    /// activation by the integer weight, summed by an FP adder tree.
    #[serde(rename = "addsub")]
    AddSub,
}

impl Arch {
    /// Every datapath, the LUT array first.
    pub const ALL: [Arch; 3] = [Arch::Lut, Arch::Mac, Arch::AddSub];

    /// Whether the array takes one weight bit plane per beat (LUT) rather
    /// than every bit of a K-tile's weights in one beat (the baselines).
    pub fn bit_serial(self) -> bool {
        self == Arch::Lut
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::Lut => "lut",
            Arch::Mac => "mac",
            Arch::AddSub => "addsub",
        })
    }
}

/// How an array with floating-point activations sums its products: the
/// `accumulate` field of a config.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accumulate {
    /// Every table entry, tree node and accumulator is a binary32 add with
    /// round-to-nearest-even, in the fixed order of
    /// [`crate::reference::gemv_fp_lut`] / [`crate::reference::gemv_fp_mac`]
    /// (the default; integer arrays are exact anyway and take only this).
    #[default]
    Fp32,
    /// Each activation is converted exactly to a signed fixed-point integer
    /// ([`crate::fp::FpFormat::fixed_point`]); tables, trees and accumulators are
    /// integer adds, and each row's sum is rounded once to binary32
    /// ([`crate::reference::gemv_fp_exact`]). FP16 and FP8 only: BF16's range
    /// would need a register of about 280 bits.
    Exact,
}

impl Accumulate {
    /// Both modes, the default first.
    pub const ALL: [Accumulate; 2] = [Accumulate::Fp32, Accumulate::Exact];
}

impl fmt::Display for Accumulate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accumulate::Fp32 => "fp32",
            Accumulate::Exact => "exact",
        })
    }
}

/// A config as written by a user, before validation. Field docs give the
/// allowed range and what the field costs in hardware.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawJson", into = "RawJson")]
pub struct RawArrayConfig {
    /// Datapath: `lut`, `mac` or `addsub` (ternary weights only).
    pub arch: Arch,
    /// Output rows computed in parallel (1..=256). Area grows linearly.
    pub rows: u32,
    /// Activation groups consumed per beat (1..=32): the K-tile is
    /// `k_groups * g` activations. Area and stream width grow linearly.
    pub k_groups: u32,
    /// Activations per group, i.e. weight bits per table index (2..=5).
    /// Table size is `2^(g-1)` entries per group.
    pub g: u32,
    /// Weight format: `uint1`..`uint4` or `ternary`.
    pub weights: WeightType,
    /// Activation type: `int8` (as BitNet) or `int16`, written `"act_bits": 8|16`,
    /// or a float (`fp16`, `bf16`, `fp8-e4m3`, `fp8-e5m2`), written
    /// `"activations": "fp16"`. Integer widths grow with it; FP arrays compute in
    /// binary32 ([`crate::fp`]) or, with `accumulate` exact, in fixed point.
    pub act: ActType,
    /// Largest K (reduction length) the accumulators must hold exactly
    /// (1..=1048576). Accumulator width grows with log2(max_k).
    pub max_k: u32,
    /// Tokens per pass, M (1..=8; JSON `"tokens": 2`, left out when 1): the
    /// array computes M independent GEMVs against the same weight beats. Each
    /// token has its own tables (LUT: one precompute unit and Σx correction
    /// per token), its own table reads, beat sums and accumulator per row;
    /// the weight stream, the index decode (LUT) or the weight
    /// dequantization (baselines) and the controller are shared. The
    /// activation and result beats grow M-fold, the datapath roughly
    /// M-fold, the weight port not at all.
    pub tokens: u32,
    /// FP activations: `"accumulate": "fp32"` (default, left out of the JSON)
    /// or `"exact"` ([`Accumulate`]; fp16, fp8-e4m3, fp8-e5m2 on `lut` and
    /// `addsub`). Exact trades each binary32 adder for an integer adder of the
    /// fixed-point width (FP16: 41 bits plus the sum's growth).
    pub accumulate: Accumulate,
}

/// [`RawArrayConfig`] as JSON: integer activations as `act_bits` (the form every
/// existing config and manifest has), floats as `activations`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJson {
    arch: Arch,
    rows: u32,
    k_groups: u32,
    g: u32,
    weights: WeightType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    act_bits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activations: Option<ActType>,
    max_k: u32,
    #[serde(default = "one_token", skip_serializing_if = "is_one_token")]
    tokens: u32,
    #[serde(default, skip_serializing_if = "is_fp32")]
    accumulate: Accumulate,
}

fn one_token() -> u32 {
    1
}

fn is_one_token(t: &u32) -> bool {
    *t == 1
}

/// Whether `a` is the default, left out of the JSON (so every config written
/// before the field existed stays byte-identical).
fn is_fp32(a: &Accumulate) -> bool {
    *a == Accumulate::Fp32
}

impl From<RawArrayConfig> for RawJson {
    fn from(r: RawArrayConfig) -> Self {
        let float = r.act.is_float();
        RawJson {
            arch: r.arch,
            rows: r.rows,
            k_groups: r.k_groups,
            g: r.g,
            weights: r.weights,
            act_bits: (!float).then(|| r.act.bits()),
            activations: float.then_some(r.act),
            max_k: r.max_k,
            tokens: r.tokens,
            accumulate: r.accumulate,
        }
    }
}

impl TryFrom<RawJson> for RawArrayConfig {
    type Error = String;
    fn try_from(j: RawJson) -> Result<Self, String> {
        let act = match (j.act_bits, j.activations) {
            (Some(b), None) => ActType::int(b).ok_or_else(|| {
                format!(
                    "invalid array config: field `act_bits` = {b}: {}",
                    allowed("act_bits")
                )
            })?,
            (None, Some(a)) => a,
            (None, None) => {
                return Err(format!(
                    "missing field `act_bits` ({})",
                    allowed("act_bits")
                ))
            }
            (Some(_), Some(_)) => {
                return Err(
                    "give either act_bits (integer activations) or activations, not both".into(),
                )
            }
        };
        Ok(RawArrayConfig {
            arch: j.arch,
            rows: j.rows,
            k_groups: j.k_groups,
            g: j.g,
            weights: j.weights,
            act,
            max_k: j.max_k,
            tokens: j.tokens,
            accumulate: j.accumulate,
        })
    }
}

/// The top-level keys of a JSON object, in order, repeats kept (values skipped).
struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

/// Why a config was rejected: the field, the value, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid array config: field `{field}` = {value}: {allowed}")]
pub struct ConfigError {
    /// Name of the offending field.
    pub field: &'static str,
    /// The rejected value, as written.
    pub value: String,
    /// The allowed range or set.
    pub allowed: String,
}

/// Allowed range of `rows` (output rows in parallel).
pub const ROWS_RANGE: (u32, u32) = (1, 256);
/// Allowed range of `k_groups` (activation groups per beat).
pub const K_GROUPS_RANGE: (u32, u32) = (1, 32);
/// Allowed range of `g` (activations per group).
pub const G_RANGE: (u32, u32) = (2, 5);
/// Allowed range of `max_k` (largest reduction length), before the result-width check.
pub const MAX_K_RANGE: (u32, u32) = (1, 1 << 20);
/// Allowed range of `tokens` (tokens per pass, M).
pub const TOKENS_RANGE: (u32, u32) = (1, 8);
/// The key of the optional `tokens` field (1 when left out).
pub const TOKENS_KEY: &str = "tokens";
/// Allowed values of `act_bits`.
pub const ACT_BITS_VALUES: [u32; 2] = [8, 16];
/// The key that names a floating-point activation type instead of `act_bits`.
pub const ACTIVATIONS_KEY: &str = "activations";
/// The optional key that chooses the FP accumulation ([`Accumulate`]).
pub const ACCUMULATE_KEY: &str = "accumulate";
/// Largest config text [`ArrayConfig::from_json`] accepts (bytes): a config is a
/// small JSON object, so anything larger is not one.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;
/// The fields of a config, in the order they are documented.
pub const FIELD_NAMES: [&str; 7] = [
    "arch", "rows", "k_groups", "g", "weights", "act_bits", "max_k",
];

/// What a field allows, as written in error messages.
fn allowed(field: &str) -> String {
    let range = |(lo, hi): (u32, u32)| format!("allowed range is {lo}..={hi}");
    match field {
        "arch" => format!(
            "allowed values are {}",
            Arch::ALL.map(|a| a.to_string()).join(", ")
        ),
        "rows" => range(ROWS_RANGE),
        "k_groups" => range(K_GROUPS_RANGE),
        "g" => range(G_RANGE),
        "weights" => format!(
            "allowed values are {}",
            WeightType::ALL.map(|w| w.to_string()).join(", ")
        ),
        "act_bits" => format!(
            "allowed values are {} and {} (or, instead of act_bits, \"activations\": one of {})",
            ACT_BITS_VALUES[0],
            ACT_BITS_VALUES[1],
            ActType::FLOATS.map(|a| a.to_string()).join(", ")
        ),
        "activations" => format!(
            "allowed values are {}",
            ActType::ALL.map(|a| a.to_string()).join(", ")
        ),
        "max_k" => range(MAX_K_RANGE),
        "tokens" => range(TOKENS_RANGE),
        "accumulate" => format!(
            "allowed values are {} (optional, default fp32)",
            Accumulate::ALL.map(|a| a.to_string()).join(", ")
        ),
        _ => format!("the fields are {}", FIELD_NAMES.join(", ")),
    }
}

/// At most 40 characters of `s`, for an error message about a hostile value.
fn shown(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}... ({} bytes)", &s[..i], s.len()),
        None => s.to_string(),
    }
}

/// Why a config text was refused: [`ArrayConfig::from_json`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigParseError {
    /// Nothing but whitespace (or a byte-order mark).
    #[error("the config is empty; expected a JSON object with the fields {}", FIELD_NAMES.join(", "))]
    Empty,
    /// Longer than [`MAX_CONFIG_BYTES`].
    #[error("the config is {len} bytes; the limit is {MAX_CONFIG_BYTES} bytes (a config is a small JSON object)")]
    TooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// Not JSON at all.
    #[error("not valid JSON: {0}")]
    Syntax(serde_json::Error),
    /// JSON, but not an object.
    #[error("the config must be a JSON object {{\"arch\": ..., \"rows\": ..., ...}} with the fields {}; found {found}", FIELD_NAMES.join(", "))]
    NotAnObject {
        /// What was found instead (`an array`, `a number`, ...).
        found: &'static str,
    },
    /// A key that is not a field.
    #[error("unknown field `{key}`; the fields are {} (and, optionally, {TOKENS_KEY})", FIELD_NAMES.join(", "))]
    UnknownField {
        /// The key, shortened if long.
        key: String,
    },
    /// A field left out.
    #[error("missing field `{field}` ({allowed}); the fields are {}", FIELD_NAMES.join(", "))]
    MissingField {
        /// The field.
        field: &'static str,
        /// What it allows.
        allowed: String,
    },
    /// A key given more than once.
    #[error("field `{field}` is given more than once")]
    Duplicate {
        /// The key, shortened if long.
        field: String,
    },
    /// A field out of its range.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

fn check_range(field: &'static str, value: u32, (lo, hi): (u32, u32)) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError {
            field,
            value: value.to_string(),
            allowed: format!("allowed range is {lo}..={hi}"),
        })
    }
}

/// Bits of a two's-complement number that holds every value in `lo..=hi`.
pub fn signed_bits(lo: i64, hi: i64) -> u32 {
    (1..=64)
        .find(|&b| {
            let half = 1i128 << (b - 1);
            i128::from(lo) >= -half && i128::from(hi) < half
        })
        .unwrap_or(64)
}

impl RawArrayConfig {
    /// The config with these fields, in declaration order: one positional
    /// constructor for the preset table, the DSE sweep and the tests' tables.
    pub const fn new(
        arch: Arch,
        rows: u32,
        k_groups: u32,
        g: u32,
        weights: WeightType,
        act: ActType,
        max_k: u32,
    ) -> Self {
        Self {
            arch,
            rows,
            k_groups,
            g,
            weights,
            act,
            max_k,
            tokens: 1,
            accumulate: Accumulate::Fp32,
        }
    }

    /// This config with `tokens` tokens per pass (M).
    pub const fn with_tokens(self, tokens: u32) -> Self {
        Self { tokens, ..self }
    }

    /// The same config with `accumulate` set.
    pub const fn with_accumulate(self, accumulate: Accumulate) -> Self {
        Self { accumulate, ..self }
    }

    /// Check every field and derive the widths.
    pub fn validate(&self) -> Result<ArrayConfig, ConfigError> {
        check_range("rows", self.rows, ROWS_RANGE)?;
        check_range("tokens", self.tokens, TOKENS_RANGE)?;
        check_range("k_groups", self.k_groups, K_GROUPS_RANGE)?;
        check_range("g", self.g, G_RANGE)?;
        if self.arch == Arch::AddSub && self.weights != WeightType::Ternary && !self.act.is_float()
        {
            return Err(ConfigError {
                field: "weights",
                value: self.weights.to_string(),
                allowed: "the only allowed type for arch `addsub` is `ternary` (it adds, subtracts or skips each activation)".into(),
            });
        }
        check_range("max_k", self.max_k, MAX_K_RANGE)?;
        if self.accumulate == Accumulate::Exact {
            self.check_exact()?;
        }
        let cfg = ArrayConfig { raw: self.clone() };
        let bits = cfg.acc_bits();
        if !self.act.is_float() && cfg.result_value_bits() > RESULT_BITS {
            let lo = self.largest_max_k(|c| c.result_value_bits() <= RESULT_BITS);
            return Err(ConfigError {
                field: "max_k",
                value: self.max_k.to_string(),
                allowed: format!(
                    "results would need {} bits (accumulator {bits}); allowed range with these weights and act_bits is 1..={lo}, so that results fit in {RESULT_BITS} bits",
                    cfg.result_value_bits()
                ),
            });
        }
        Ok(cfg)
    }
}

/// Widest accumulator an exact array may have: its bounds and sums are `i64`.
pub const EXACT_MAX_ACC_BITS: u32 = 64;

impl RawArrayConfig {
    /// The checks of `"accumulate": "exact"`: a format with a fixed point,
    /// a datapath that has the exact mode, an accumulator of at most
    /// [`EXACT_MAX_ACC_BITS`].
    fn check_exact(&self) -> Result<(), ConfigError> {
        let refuse = |allowed: String| ConfigError {
            field: "accumulate",
            value: Accumulate::Exact.to_string(),
            allowed,
        };
        let fixed = self.act.float_format().and_then(|f| f.fixed_point());
        if fixed.is_none() {
            let why = if self.act.is_float() {
                format!(
                    "{} spans too many binades: its fixed-point register would be about 280 bits",
                    self.act
                )
            } else {
                format!("{} arrays already sum exactly in integers", self.act)
            };
            return Err(refuse(format!(
                "exact accumulation is allowed for fp16, fp8-e4m3 and fp8-e5m2 activations only ({why}); use \"accumulate\": \"fp32\" or leave it out"
            )));
        }
        if self.arch == Arch::Mac {
            return Err(refuse(
                "exact accumulation is allowed for arch lut and addsub only (the add/sub baseline forms the same exact integer products without an FP multiplier); use arch addsub, or accumulate fp32 for the MAC".into(),
            ));
        }
        let bits = |c: &ArrayConfig| bits_of_bound(c.acc_bound_wide()).max(c.beat_sum_bits());
        let need = bits(&self.with_max_k(self.max_k));
        if need > EXACT_MAX_ACC_BITS {
            let lo = self.largest_max_k(|c| bits(c) <= EXACT_MAX_ACC_BITS);
            return Err(ConfigError {
                field: "max_k",
                value: self.max_k.to_string(),
                allowed: format!(
                    "the exact accumulator would need {need} bits; allowed range with these weights and activations is 1..={lo}, so that it fits in {EXACT_MAX_ACC_BITS} bits"
                ),
            });
        }
        Ok(())
    }

    /// This config with `max_k` instead of its own, unvalidated: for sizing
    /// the widths that grow with `max_k`.
    fn with_max_k(&self, max_k: u32) -> ArrayConfig {
        ArrayConfig {
            raw: RawArrayConfig {
                max_k,
                ..self.clone()
            },
        }
    }

    /// The largest `max_k` below this config's for which `fits` holds, by
    /// binary search (`fits` turns false once as `max_k` grows: the widths
    /// only grow with it); 1 when none does. For the error that names the
    /// allowed range.
    fn largest_max_k(&self, fits: impl Fn(&ArrayConfig) -> bool) -> u32 {
        let (mut lo, mut hi) = (1u32, self.max_k);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(&self.with_max_k(mid)) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// Bits of a two's-complement number that holds `-b..=b`.
fn bits_of_bound(b: i128) -> u32 {
    (1..=128).find(|&n| b < 1i128 << (n - 1)).unwrap_or(128)
}

/// A validated array config with every derived width.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArrayConfig {
    raw: RawArrayConfig,
}

impl Serialize for ArrayConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ArrayConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawArrayConfig::deserialize(d)?
            .validate()
            .map_err(serde::de::Error::custom)
    }
}

impl ArrayConfig {
    /// Parse and validate a config written as JSON (a `--config` file): a leading
    /// UTF-8 byte-order mark is skipped; every field must be present exactly once,
    /// no other key may be, and each is checked against its range, the error
    /// naming the field, the value and what is allowed.
    pub fn from_json(text: &str) -> Result<ArrayConfig, ConfigParseError> {
        use serde_json::Value;
        if text.len() > MAX_CONFIG_BYTES {
            return Err(ConfigParseError::TooLarge { len: text.len() });
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Err(ConfigParseError::Empty);
        }
        let value: Value = serde_json::from_str(text).map_err(ConfigParseError::Syntax)?;
        let obj = match &value {
            Value::Object(o) => o,
            Value::Array(_) => return Err(ConfigParseError::NotAnObject { found: "an array" }),
            Value::String(_) => return Err(ConfigParseError::NotAnObject { found: "a string" }),
            Value::Number(_) => return Err(ConfigParseError::NotAnObject { found: "a number" }),
            Value::Bool(_) => return Err(ConfigParseError::NotAnObject { found: "a boolean" }),
            Value::Null => return Err(ConfigParseError::NotAnObject { found: "null" }),
        };
        if let Some(k) = obj.keys().find(|k| {
            ![ACTIVATIONS_KEY, TOKENS_KEY, ACCUMULATE_KEY].contains(&k.as_str())
                && !FIELD_NAMES.contains(&k.as_str())
        }) {
            return Err(ConfigParseError::UnknownField { key: shown(k) });
        }
        // `activations` stands in for `act_bits`; exactly one of them is given.
        let float_key = obj.contains_key(ACTIVATIONS_KEY);
        if float_key && obj.contains_key("act_bits") {
            return Err(ConfigParseError::Invalid(ConfigError {
                field: "activations",
                value: shown(&obj[ACTIVATIONS_KEY].to_string()),
                allowed:
                    "allowed is either act_bits (integer activations) or activations, not both"
                        .into(),
            }));
        }
        if let Some(&field) = FIELD_NAMES
            .iter()
            .find(|f| !(obj.contains_key(**f) || float_key && **f == "act_bits"))
        {
            return Err(ConfigParseError::MissingField {
                field,
                allowed: allowed(field),
            });
        }
        let bad = |field: &'static str| ConfigError {
            field,
            value: shown(&obj[field].to_string()),
            allowed: allowed(field),
        };
        let int = |field: &'static str| {
            obj[field]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad(field))
        };
        let arch = obj["arch"]
            .as_str()
            .and_then(|s| Arch::ALL.into_iter().find(|a| a.to_string() == s))
            .ok_or_else(|| bad("arch"))?;
        let weights = obj["weights"]
            .as_str()
            .and_then(|s| s.parse::<WeightType>().ok())
            .ok_or_else(|| bad("weights"))?;
        let act = if float_key {
            obj[ACTIVATIONS_KEY]
                .as_str()
                .and_then(|s| s.parse::<ActType>().ok())
                .ok_or_else(|| bad(ACTIVATIONS_KEY))?
        } else {
            ActType::int(int("act_bits")?).ok_or_else(|| bad("act_bits"))?
        };
        let accumulate = match obj.get(ACCUMULATE_KEY) {
            None => Accumulate::Fp32,
            Some(v) => v
                .as_str()
                .and_then(|s| Accumulate::ALL.into_iter().find(|a| a.to_string() == s))
                .ok_or_else(|| bad(ACCUMULATE_KEY))?,
        };
        let raw = RawArrayConfig {
            arch,
            rows: int("rows")?,
            k_groups: int("k_groups")?,
            g: int("g")?,
            weights,
            act,
            max_k: int("max_k")?,
            tokens: if obj.contains_key(TOKENS_KEY) {
                int(TOKENS_KEY)?
            } else {
                1
            },
            accumulate,
        };
        // The map above keeps the last of a repeated key: look for one in the text.
        let keys = serde_json::from_str::<Keys>(text).map_err(ConfigParseError::Syntax)?;
        if let Some(i) = (1..keys.0.len()).find(|&i| keys.0[..i].contains(&keys.0[i])) {
            return Err(ConfigParseError::Duplicate {
                field: shown(&keys.0[i]),
            });
        }
        Ok(raw.validate()?)
    }

    /// The fields as written.
    pub fn raw(&self) -> &RawArrayConfig {
        &self.raw
    }
    /// Datapath kind.
    pub fn arch(&self) -> Arch {
        self.raw.arch
    }
    /// Output rows computed in parallel.
    pub fn rows(&self) -> usize {
        self.raw.rows as usize
    }
    /// Activation groups per beat.
    pub fn k_groups(&self) -> usize {
        self.raw.k_groups as usize
    }
    /// Activations per group.
    pub fn g(&self) -> usize {
        self.raw.g as usize
    }
    /// Weight format.
    pub fn weights(&self) -> WeightType {
        self.raw.weights
    }
    /// Activation bits.
    pub fn act_bits(&self) -> u32 {
        self.raw.act.bits()
    }
    /// Activation type.
    pub fn act_type(&self) -> ActType {
        self.raw.act
    }
    /// The activations' floating-point format, `None` for integer activations.
    pub fn act_float(&self) -> Option<crate::fp::FpFormat> {
        self.raw.act.float_format()
    }
    /// Largest K the accumulators hold exactly.
    pub fn max_k(&self) -> usize {
        self.raw.max_k as usize
    }
    /// Tokens per pass (M): activation vectors computed at once.
    pub fn tokens(&self) -> usize {
        self.raw.tokens as usize
    }
    /// Activations per beat (the K-tile).
    pub fn k_tile(&self) -> usize {
        self.k_groups() * self.g()
    }
    /// Weight beats per K-tile: one per bit plane (LUT, bit-serial) or one
    /// holding all planes (MAC).
    pub fn beats_per_tile(&self) -> usize {
        if self.arch().bit_serial() {
            self.weights().bits() as usize
        } else {
            1
        }
    }
    /// Width of one token's K-tile of activations: `k_tile · act_bits`.
    pub fn token_act_bits(&self) -> u32 {
        (self.k_tile() as u32) * self.act_bits()
    }
    /// Width of one activation beat: one K-tile of every token
    /// (layout: [`crate::layout::act_lane`]).
    pub fn act_beat_bits(&self) -> u32 {
        self.raw.tokens * self.token_act_bits()
    }
    /// Address bits of a buffer that holds one pass's activation beats at
    /// `max_k` (a beat per K-tile): `ceil(log2(ceil(max_k / k_tile)))`, at
    /// least 1. The FPGA boards' activation RAM is this deep (`ACT_AW`).
    pub fn act_addr_bits(&self) -> u32 {
        let beats = self.max_k().div_ceil(self.k_tile()).max(2);
        beats.next_power_of_two().trailing_zeros()
    }
    /// Width of one weight beat.
    pub fn weight_beat_bits(&self) -> u32 {
        let per_row = self.k_tile() as u32
            * if self.arch().bit_serial() {
                1
            } else {
                self.weights().bits()
            };
        per_row * self.raw.rows
    }
    /// Width of one result beat: every row's result of every token,
    /// [`RESULT_BITS`] each (layout: [`crate::layout::result_lane`]).
    pub fn result_beat_bits(&self) -> u32 {
        self.raw.rows * self.raw.tokens * RESULT_BITS
    }
    /// Entries of one mirror-halved table: `2^(g-1)`.
    pub fn table_entries(&self) -> usize {
        1 << (self.g() - 1)
    }
    /// How the array sums: [`Accumulate::Exact`] or the binary32 default.
    pub fn accumulate(&self) -> Accumulate {
        self.raw.accumulate
    }
    /// The fixed-point format an exact array converts its activations to
    /// ([`crate::fp::FpFormat::fixed_point`]); `None` unless `accumulate` is exact.
    pub fn act_fixed(&self) -> Option<crate::fp::FixedPoint> {
        match self.accumulate() {
            Accumulate::Exact => self.act_float().and_then(|f| f.fixed_point()),
            Accumulate::Fp32 => None,
        }
    }
    /// Fractional bits of the integer an exact array rounds once per row:
    /// the activations' `frac_bits`, one more for the LUT array, whose
    /// accumulator holds twice the sum (the bit-plane identity's ½ is not
    /// applied to the integer). `None` unless `accumulate` is exact.
    pub fn result_frac_bits(&self) -> Option<u32> {
        let f = self.act_fixed()?.frac_bits;
        Some(if self.arch() == Arch::Lut { f + 1 } else { f })
    }
    /// Whether values inside the array are binary32 (FP activations,
    /// `accumulate` fp32): then every width below is [`FP_BITS`].
    fn binary32_inside(&self) -> bool {
        self.act_type().is_float() && self.act_fixed().is_none()
    }
    /// Smallest and largest activation: the integer range, or for an exact
    /// array the fixed-point integers of its format (`±max_finite · 2^frac_bits`).
    pub fn act_range(&self) -> (i64, i64) {
        if let (Some(fmt), Some(fx)) = (self.act_float(), self.act_fixed()) {
            // max_finite · 2^frac_bits is an integer below 2^(width-1) ≤ 2^63, exact in f64 (< 2^53 here).
            let m = (fmt.max_finite() * 2f64.powi(fx.frac_bits as i32)) as i64;
            return (-m, m);
        }
        let half = 1i64 << (self.act_bits() - 1);
        (-half, half - 1)
    }
    /// Range of one half-table entry `x[g-1] + Σ_{t<g-1} ±x[t]`.
    pub fn entry_range(&self) -> (i64, i64) {
        let (lo, hi) = self.act_range();
        let g = self.g() as i64;
        // The last activation always enters with +; the others with either
        // sign, so each contributes at most |lo| in magnitude.
        (g * lo, hi + (g - 1) * -lo)
    }
    /// Bits of one table entry ([`FP_BITS`] with FP activations summed in binary32).
    pub fn entry_bits(&self) -> u32 {
        if self.binary32_inside() {
            return FP_BITS;
        }
        let (lo, hi) = self.entry_range();
        signed_bits(lo, hi)
    }
    /// Coefficient of the Σx correction ([`WeightType::correction_coeff`]).
    pub fn correction_coeff(&self) -> i64 {
        self.weights().correction_coeff()
    }
    /// Magnitude bound of the accumulator over any K ≤ `max_k`.
    pub fn acc_bound(&self) -> i64 {
        i64::try_from(self.acc_bound_wide())
            .expect("validate() keeps every accumulator bound within i64")
    }
    /// [`Self::acc_bound`] without the `i64` limit, for validation.
    fn acc_bound_wide(&self) -> i128 {
        let k = self.max_k() as i128;
        let amax = -i128::from(self.act_range().0); // |x| ≤ 2^(act_bits-1)
        match self.arch() {
            Arch::Lut => {
                // Σ_i 2^i (s_i·x) plus c·Σx, each bounded by (2^b-1)·|x|·K.
                let planes = (1i128 << self.weights().bits()) - 1;
                planes * amax * k + i128::from(self.correction_coeff().abs()) * amax * k
            }
            Arch::Mac | Arch::AddSub => {
                let w = self.weights();
                let wmax = i128::from(w.max_value().abs().max(w.min_value().abs()));
                wmax * amax * k
            }
        }
    }
    /// Accumulator width, derived from `max_k`, the weight and activation types.
    pub fn acc_bits(&self) -> u32 {
        if self.binary32_inside() {
            return FP_BITS;
        }
        let b = self.acc_bound();
        // A beat always spans a whole K-tile, so when max_k < k_tile the per-beat sum
        // (sized for the tile) can be wider than max_k needs; the accumulator takes it.
        signed_bits(-b, b).max(self.beat_sum_bits())
    }
    /// Bits of one LUT term: a table entry after the mirror negation
    /// (`-entry_min` needs one more bit than the entry).
    pub fn term_bits(&self) -> u32 {
        if self.binary32_inside() {
            return FP_BITS;
        }
        let (lo, hi) = self.entry_range();
        signed_bits(-hi.max(-lo), hi.max(-lo))
    }
    /// Bits of one MAC product `x · w` (activation times the weight's value range).
    pub fn product_bits(&self) -> u32 {
        if self.binary32_inside() {
            return FP_BITS;
        }
        let (alo, ahi) = self.act_range();
        let w = self.weights();
        let (wlo, whi) = (i64::from(w.min_value()), i64::from(w.max_value()));
        let cands = [alo * wlo, alo * whi, ahi * wlo, ahi * whi];
        signed_bits(*cands.iter().min().unwrap(), *cands.iter().max().unwrap())
    }
    /// Bits of the per-beat sum over the K-tile (all LUT terms of one plane,
    /// or all MAC products of one beat), before it enters the accumulator.
    pub fn beat_sum_bits(&self) -> u32 {
        if self.binary32_inside() {
            return FP_BITS;
        }
        let n = self.k_tile() as i64;
        match self.arch() {
            Arch::Lut => {
                let m = -self.act_range().0 * n;
                signed_bits(-m, m)
            }
            Arch::Mac | Arch::AddSub => {
                let per = 1i64 << (self.product_bits() - 1);
                signed_bits(-per * n, per * n)
            }
        }
    }
    /// Bits of the running Σx over any K ≤ `max_k` (LUT correction term).
    pub fn sum_x_bits(&self) -> u32 {
        if self.binary32_inside() {
            return FP_BITS;
        }
        let (lo, hi) = self.act_range();
        let k = self.max_k() as i64;
        signed_bits(lo * k, hi * k)
    }
    /// Bits the final result needs (the LUT array halves its accumulator).
    pub fn result_value_bits(&self) -> u32 {
        if self.act_type().is_float() {
            return FP_BITS;
        }
        match self.arch() {
            Arch::Lut => self.acc_bits() - 1,
            Arch::Mac | Arch::AddSub => self.acc_bits(),
        }
    }
    /// Multiply-accumulates of the logical matmul the array completes per
    /// busy cycle: LUT `tokens·rows·k_tile/bits`, MAC and add/sub
    /// `tokens·rows·k_tile`.
    pub fn macs_per_cycle(&self) -> f64 {
        (self.tokens() * self.rows() * self.k_tile()) as f64 / self.beats_per_tile() as f64
    }
    /// Short identifier used in file and module names, e.g. `lut_r32_k4_g4_ternary`.
    pub fn slug(&self) -> String {
        let act = match self.act_type() {
            a if a.is_float() => a.to_string().replace('-', "_"),
            a => a.bits().to_string(),
        };
        let tokens = match self.tokens() {
            1 => String::new(),
            t => format!("_t{t}"),
        };
        let exact = match self.accumulate() {
            Accumulate::Exact => "_xacc",
            Accumulate::Fp32 => "",
        };
        format!(
            "{}_r{}_k{}_g{}_{}_a{act}_m{}{tokens}{exact}",
            self.arch(),
            self.rows(),
            self.k_groups(),
            self.g(),
            self.weights(),
            self.max_k()
        )
    }
}

impl fmt::Display for ArrayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arch={} rows={} k_groups={} g={} weights={} ",
            self.arch(),
            self.rows(),
            self.k_groups(),
            self.g(),
            self.weights(),
        )?;
        match self.act_type() {
            a if a.is_float() => write!(f, "activations={a}")?,
            a => write!(f, "act_bits={}", a.bits())?,
        }
        write!(f, " max_k={}", self.max_k())?;
        if self.tokens() != 1 {
            write!(f, " tokens={}", self.tokens())?;
        }
        match self.accumulate() {
            Accumulate::Exact => write!(f, " accumulate=exact"),
            Accumulate::Fp32 => Ok(()),
        }
    }
}

/// A named, documented config.
#[derive(Clone, Debug)]
pub struct Preset {
    /// Name used on the command line.
    pub name: &'static str,
    /// What it is for.
    pub about: &'static str,
    /// The config.
    pub raw: RawArrayConfig,
}

const fn raw(
    arch: Arch,
    rows: u32,
    k_groups: u32,
    g: u32,
    weights: WeightType,
    max_k: u32,
) -> RawArrayConfig {
    RawArrayConfig::new(arch, rows, k_groups, g, weights, ActType::Int8, max_k)
}

/// The named configs, `default` first.
pub fn presets() -> Vec<Preset> {
    use Arch::{AddSub, Lut, Mac};
    use WeightType::{Ternary, Uint};
    vec![
        Preset { name: "default", about: "LUT array for BitNet ternary GEMV: 32 rows x 16 activations per beat, g=4", raw: raw(Lut, 32, 4, 4, Ternary, 16384) },
        Preset { name: "tiny", about: "smallest useful LUT array (4 rows, one group of 4 per beat, uint2); readable golden RTL", raw: raw(Lut, 4, 1, 4, Uint(2), 256) },
        Preset { name: "ice40", about: "LUT array sized for the iCE40 UP5K (iCEBreaker)", raw: raw(Lut, 4, 1, 4, Ternary, 4096) },
        Preset { name: "ecp5", about: "LUT array sized for the ECP5-85k (ULX3S)", raw: raw(Lut, 16, 2, 4, Ternary, 16384) },
        Preset { name: "mac-default", about: "MAC baseline with the default preset's shape (int8 x ternary multipliers)", raw: raw(Mac, 32, 4, 4, Ternary, 16384) },
        Preset { name: "mac-tiny", about: "MAC baseline with the tiny preset's shape", raw: raw(Mac, 4, 1, 4, Uint(2), 256) },
        Preset { name: "addsub-default", about: "add/sub baseline with the default preset's shape (each ternary weight adds, subtracts or skips)", raw: raw(AddSub, 32, 4, 4, Ternary, 16384) },
        Preset { name: "addsub-tiny", about: "add/sub baseline, 4 rows x 4 ternary weights per beat", raw: raw(AddSub, 4, 1, 4, Ternary, 256) },
        Preset { name: "lut-a16", about: "LUT array with int16 activations (W1A16): 16 rows x 8 activations per beat, g=4", raw: RawArrayConfig { act: ActType::Int16, ..raw(Lut, 16, 2, 4, Uint(1), 4096) } },
        Preset { name: "lut-fp16", about: "LUT array with FP16 activations and binary32 tables (W1 x FP16): 4 rows x 4 activations per beat, g=4", raw: RawArrayConfig { act: ActType::Fp16, ..raw(Lut, 4, 1, 4, Uint(1), 4096) } },
        Preset { name: "mac-fp16", about: "FP MAC baseline of lut-fp16: weights dequantized to FP16, FP16 multipliers, binary32 sums", raw: RawArrayConfig { act: ActType::Fp16, ..raw(Mac, 4, 1, 4, Uint(1), 4096) } },
        Preset { name: "addsub-fp16", about: "FP add-tree baseline of lut-fp16: FP16 x integer weight products (no multiplier), binary32 sums", raw: RawArrayConfig { act: ActType::Fp16, ..raw(AddSub, 4, 1, 4, Uint(1), 4096) } },
        Preset { name: "lut-fp16-exact", about: "lut-fp16 with exact accumulation: FP16 activations as 41-bit fixed point, integer tables and accumulators, one binary32 rounding per row", raw: RawArrayConfig { act: ActType::Fp16, accumulate: Accumulate::Exact, ..raw(Lut, 4, 1, 4, Uint(1), 4096) } },
        Preset { name: "addsub-fp16-exact", about: "addsub-fp16 with exact accumulation: FP16 x integer weight products as fixed-point shift-adds, integer sums, one binary32 rounding per row", raw: RawArrayConfig { act: ActType::Fp16, accumulate: Accumulate::Exact, ..raw(AddSub, 4, 1, 4, Uint(1), 4096) } },
    ]
}

/// Look up a preset by name; the error lists the known names.
pub fn preset(name: &str) -> Result<ArrayConfig, ConfigError> {
    let all = presets();
    match all.iter().find(|p| p.name == name) {
        Some(p) => p.raw.validate(),
        None => Err(ConfigError {
            field: "preset",
            value: name.to_string(),
            allowed: format!(
                "known presets are {}",
                all.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> RawArrayConfig {
        presets()[0].raw.clone()
    }

    #[test]
    fn all_presets_validate() {
        for p in presets() {
            p.raw
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
    }

    #[test]
    fn every_bad_field_is_named_with_value_and_range() {
        let cases: Vec<(&str, RawArrayConfig, &str)> = vec![
            ("rows", RawArrayConfig { rows: 0, ..base() }, "0"),
            (
                "rows",
                RawArrayConfig {
                    rows: 257,
                    ..base()
                },
                "257",
            ),
            (
                "k_groups",
                RawArrayConfig {
                    k_groups: 0,
                    ..base()
                },
                "0",
            ),
            (
                "k_groups",
                RawArrayConfig {
                    k_groups: 33,
                    ..base()
                },
                "33",
            ),
            ("g", RawArrayConfig { g: 1, ..base() }, "1"),
            ("g", RawArrayConfig { g: 6, ..base() }, "6"),
            (
                "weights",
                RawArrayConfig {
                    arch: Arch::AddSub,
                    weights: WeightType::Uint(2),
                    ..base()
                },
                "uint2",
            ),
            ("max_k", RawArrayConfig { max_k: 0, ..base() }, "0"),
            (
                "max_k",
                RawArrayConfig {
                    max_k: (1 << 20) + 1,
                    ..base()
                },
                "1048577",
            ),
        ];
        for (field, cfg, value) in cases {
            let e = cfg.validate().unwrap_err();
            assert_eq!(e.field, field);
            let msg = e.to_string();
            assert!(
                msg.contains(field) && msg.contains(value) && msg.contains("allowed"),
                "{msg}"
            );
        }
    }

    #[test]
    fn unknown_weight_type_and_field_rejected_from_json() {
        let bad = r#"{"arch":"lut","rows":4,"k_groups":1,"g":4,"weights":"int7","act_bits":8,"max_k":64}"#;
        let e = serde_json::from_str::<RawArrayConfig>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("int7") && e.contains("uint1"), "{e}");
        let bad = r#"{"arch":"lut","rows":4,"k_groups":1,"g":4,"weights":"uint2","act_bits":8,"max_k":64,"colz":3}"#;
        let e = serde_json::from_str::<RawArrayConfig>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("colz"), "{e}");
        let bad = r#"{"arch":"dsp","rows":4,"k_groups":1,"g":4,"weights":"uint2","act_bits":8,"max_k":64}"#;
        let e = serde_json::from_str::<RawArrayConfig>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dsp"), "{e}");
    }

    #[test]
    fn act_bits_and_activations_in_json() {
        let j = |act: &str| {
            format!(
                r#"{{"arch":"lut","rows":4,"k_groups":1,"g":4,"weights":"uint1",{act},"max_k":64}}"#
            )
        };
        let fp = ArrayConfig::from_json(&j(r#""activations":"bf16""#)).unwrap();
        assert_eq!(fp.act_type(), ActType::Bf16);
        assert_eq!(
            (fp.act_bits(), fp.entry_bits(), fp.acc_bits()),
            (16, FP_BITS, FP_BITS)
        );
        assert!(fp.to_string().contains("activations=bf16"), "{fp}");
        assert_eq!(fp.slug(), "lut_r4_k1_g4_uint1_abf16_m64");
        // Serialization round-trips and keeps the integer form for integers.
        let back: ArrayConfig = serde_json::from_str(&serde_json::to_string(&fp).unwrap()).unwrap();
        assert_eq!(back, fp);
        let int = preset("tiny").unwrap();
        let text = serde_json::to_string(&int).unwrap();
        assert!(
            text.contains(r#""act_bits":8"#) && !text.contains("activations"),
            "{text}"
        );
        assert_eq!(ArrayConfig::from_json(&text).unwrap(), int);
        for (bad, words) in [
            (j(r#""act_bits":12"#), vec!["act_bits", "12", "fp16"]),
            (j(r#""act_bits":4"#), vec!["act_bits", "4"]),
            (
                j(r#""activations":"fp4""#),
                vec!["activations", "fp4", "fp8-e5m2"],
            ),
            (j(r#""activations":"fp16","act_bits":16"#), vec!["either"]),
        ] {
            let e = ArrayConfig::from_json(&bad).unwrap_err().to_string();
            assert!(words.iter().all(|w| e.contains(w)), "{bad}: {e}");
            assert!(serde_json::from_str::<ArrayConfig>(&bad).is_err(), "{bad}");
        }
        // Without either key: the missing field is act_bits.
        let e = ArrayConfig::from_json(
            r#"{"arch":"lut","rows":4,"k_groups":1,"g":4,"weights":"uint1","max_k":64}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("act_bits") && e.contains("activations"), "{e}");
        // FP arrays take any weight type on the add-tree baseline.
        let c = RawArrayConfig {
            arch: Arch::AddSub,
            weights: WeightType::Uint(4),
            act: ActType::Fp16,
            ..base()
        };
        assert!(c.validate().is_ok());
    }

    #[test]
    fn tokens_widen_the_beats_and_are_left_out_when_one() {
        let one = preset("lut-fp16").unwrap();
        let text = serde_json::to_string(&one).unwrap();
        assert!(!text.contains("tokens"), "{text}");
        let two = one.raw().clone().with_tokens(2).validate().unwrap();
        let text = serde_json::to_string(&two).unwrap();
        assert!(text.contains(r#""tokens":2"#), "{text}");
        assert_eq!(ArrayConfig::from_json(&text).unwrap(), two);
        assert_eq!(serde_json::from_str::<ArrayConfig>(&text).unwrap(), two);
        assert_eq!(two.act_beat_bits(), 2 * one.act_beat_bits());
        assert_eq!(two.token_act_bits(), one.act_beat_bits());
        assert_eq!(two.result_beat_bits(), 2 * one.result_beat_bits());
        assert_eq!(two.weight_beat_bits(), one.weight_beat_bits());
        assert_eq!(two.macs_per_cycle(), 2.0 * one.macs_per_cycle());
        assert!(two.slug().ends_with("_t2") && !one.slug().contains("_t"));
        assert!(two.to_string().ends_with(" tokens=2"), "{two}");
        assert!(!one.to_string().contains("tokens"), "{one}");
        for bad in [0, 9] {
            let e = one.raw().clone().with_tokens(bad).validate().unwrap_err();
            assert_eq!(e.field, "tokens");
            assert!(e.to_string().contains("1..=8"), "{e}");
            let text = serde_json::to_string(one.raw())
                .unwrap()
                .replace('}', &format!(r#","tokens":{bad}}}"#));
            let e = ArrayConfig::from_json(&text).unwrap_err().to_string();
            assert!(e.contains("tokens") && e.contains("1..=8"), "{e}");
        }
        let e = ArrayConfig::from_json(&text.replace(r#""tokens":2"#, r#""tokens":"two""#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tokens") && e.contains("two"), "{e}");
    }

    #[test]
    fn unknown_preset_lists_known_ones() {
        let e = preset("huge").unwrap_err().to_string();
        assert!(e.contains("huge") && e.contains("default"), "{e}");
    }

    #[test]
    fn derived_widths_match_hand_computation() {
        let c = preset("default").unwrap();
        // g=4, int8: half-table entries span [-512, 511] -> 10 bits.
        assert_eq!(c.entry_range(), (-512, 511));
        assert_eq!(c.entry_bits(), 10);
        assert_eq!(c.table_entries(), 8);
        // ternary: c = 3 - 2 = 1; bound = (3 + 1) * 128 * 16384 = 2^23 -> 25 bits.
        assert_eq!(c.correction_coeff(), 1);
        assert_eq!(c.acc_bits(), 25);
        assert_eq!(c.weight_beat_bits(), 32 * 16);
        assert_eq!(c.act_beat_bits(), 16 * 8);
        assert_eq!(signed_bits(-128, 127), 8);
        assert_eq!(signed_bits(-128, 128), 9);
    }

    #[test]
    fn int16_activations_widen_entries_and_accumulators() {
        let c = RawArrayConfig {
            act: ActType::Int16,
            max_k: 4096,
            ..base()
        }
        .validate()
        .unwrap();
        // g=4, int16: entries span [-131072, 131071] -> 18 bits.
        assert_eq!(c.entry_range(), (-131072, 131071));
        assert_eq!(c.entry_bits(), 18);
        // ternary: (3 + 1) * 32768 * 4096 = 2^29 -> 31 bits.
        assert_eq!(c.acc_bits(), 31);
        assert_eq!(c.act_beat_bits(), 16 * 16);
        // K = 16384 would need 33-bit accumulators and 32-bit results: still fits;
        // 2^20 does not.
        let e = RawArrayConfig {
            act: ActType::Int16,
            max_k: 1 << 20,
            ..base()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "max_k");
    }

    #[test]
    fn exact_accumulation_widths_json_and_refusals() {
        let fp16 = |arch, w| {
            RawArrayConfig::new(arch, 4, 1, 4, w, ActType::Fp16, 4096)
                .with_accumulate(Accumulate::Exact)
        };
        let c = fp16(Arch::Lut, WeightType::Uint(1)).validate().unwrap();
        // FP16 as fixed point: frac 24, |x| ≤ 65504·2^24 = 1098974756864 < 2^40.
        let m = 65504i64 << 24;
        assert_eq!(c.act_range(), (-m, m));
        assert_eq!(c.result_frac_bits(), Some(25));
        // Entries: |e| ≤ 4m < 2^42 -> 43 bits; acc: 2·m·4096 < 2^53 -> 54 bits.
        assert_eq!((c.entry_bits(), c.acc_bits()), (43, 54));
        assert_eq!(c.sum_x_bits(), signed_bits(-m * 4096, m * 4096));
        let a = fp16(Arch::AddSub, WeightType::Uint(4)).validate().unwrap();
        assert_eq!(a.result_frac_bits(), Some(24));
        // Products ≤ 15m < 2^44 -> 45 bits.
        assert_eq!(a.product_bits(), 45);
        // E4M3: frac 9, 448·2^9 = 229376.
        let e4 = RawArrayConfig::new(
            Arch::Lut,
            2,
            1,
            4,
            WeightType::Ternary,
            ActType::Fp8E4m3,
            64,
        )
        .with_accumulate(Accumulate::Exact)
        .validate()
        .unwrap();
        assert_eq!(e4.act_range(), (-229376, 229376));
        assert!(
            e4.to_string().ends_with("max_k=64 accumulate=exact"),
            "{e4}"
        );
        assert_eq!(e4.slug(), "lut_r2_k1_g4_ternary_afp8_e4m3_m64_xacc");
        // JSON: the field only when exact; fp32 configs keep their text.
        let text = serde_json::to_string(&c).unwrap();
        assert!(
            text.ends_with(r#""max_k":4096,"accumulate":"exact"}"#),
            "{text}"
        );
        assert_eq!(ArrayConfig::from_json(&text).unwrap(), c);
        assert_eq!(serde_json::from_str::<ArrayConfig>(&text).unwrap(), c);
        let plain = preset("lut-fp16").unwrap();
        let text = serde_json::to_string(&plain).unwrap();
        assert!(!text.contains("accumulate"), "{text}");
        let with = text.replace('}', r#","accumulate":"fp32"}"#);
        assert_eq!(ArrayConfig::from_json(&with).unwrap(), plain);
        let e = ArrayConfig::from_json(&text.replace('}', r#","accumulate":"kulisch"}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("accumulate") && e.contains("kulisch") && e.contains("exact"),
            "{e}"
        );
        // Refused: bf16 (range), integers (exact already), the MAC, a too-wide accumulator.
        for (raw, words) in [
            (
                RawArrayConfig::new(Arch::Lut, 4, 1, 4, WeightType::Uint(1), ActType::Bf16, 64),
                vec!["bf16", "280 bits", "fp32"],
            ),
            (
                RawArrayConfig::new(Arch::Lut, 4, 1, 4, WeightType::Uint(1), ActType::Int8, 64),
                vec!["int8", "exactly in integers"],
            ),
            (
                RawArrayConfig::new(Arch::Mac, 4, 1, 4, WeightType::Uint(1), ActType::Fp16, 64),
                vec!["lut and addsub", "addsub"],
            ),
        ] {
            let e = raw
                .with_accumulate(Accumulate::Exact)
                .validate()
                .unwrap_err();
            assert_eq!(e.field, "accumulate");
            let msg = e.to_string();
            assert!(words.iter().all(|w| msg.contains(w)), "{msg}");
        }
        let e = RawArrayConfig {
            max_k: 1 << 20,
            ..fp16(Arch::Lut, WeightType::Uint(4))
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "max_k");
        assert!(e.to_string().contains("64 bits"), "{e}");
        // The largest allowed max_k is accepted, and its accumulator is at most 64 bits.
        let lo: u32 = e
            .allowed
            .split("1..=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let ok = RawArrayConfig {
            max_k: lo,
            ..fp16(Arch::Lut, WeightType::Uint(4))
        }
        .validate()
        .unwrap();
        assert!(ok.acc_bits() <= EXACT_MAX_ACC_BITS);
        for name in ["lut-fp16-exact", "addsub-fp16-exact"] {
            assert_eq!(preset(name).unwrap().accumulate(), Accumulate::Exact);
        }
        // Several tokens per pass: the widths are those of one token, the
        // beats M times as wide.
        for arch in [Arch::Lut, Arch::AddSub] {
            let one = fp16(arch, WeightType::Ternary).validate().unwrap();
            for m in [2, 8] {
                let c = fp16(arch, WeightType::Ternary)
                    .with_tokens(m)
                    .validate()
                    .unwrap_or_else(|e| panic!("{arch} tokens {m}: {e}"));
                assert_eq!(
                    (c.tokens(), c.accumulate()),
                    (m as usize, Accumulate::Exact)
                );
                assert_eq!(
                    (c.acc_bits(), c.entry_bits()),
                    (one.acc_bits(), one.entry_bits())
                );
                assert_eq!(c.act_beat_bits(), m * one.act_beat_bits());
            }
        }
    }

    #[test]
    fn addsub_is_a_one_beat_ternary_baseline() {
        let c = preset("addsub-default").unwrap();
        assert_eq!(c.arch(), Arch::AddSub);
        assert_eq!(c.beats_per_tile(), 1);
        assert_eq!(c.weight_beat_bits(), 32 * 16 * 2);
        assert_eq!(c.product_bits(), 9);
        assert_eq!(c.macs_per_cycle(), 512.0);
        assert_eq!(serde_json::to_string(&Arch::AddSub).unwrap(), "\"addsub\"");
    }
}
