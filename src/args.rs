//! The arguments several commands share, each defined and checked once: the
//! array config (`--preset NAME` or `--config FILE`, [`ConfigArgs`], loaded by
//! [`load_config`]), the GEMV shape (`--shape MxK`, [`Shape`]) and bounded
//! whole-number flags ([`parse_bounded`]) and the CPU backend of `--backend`
//! and `--check` ([`CpuBackend`]).

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use clap::Args;
use lutcore_contract::config::ArrayConfig;
use lutcore_contract::layout::check_fits;

use crate::limits;

/// The preset a command uses when neither `--preset` nor `--config` is given;
/// `--help` shows it as the default of `--preset`.
pub(crate) trait DefaultPreset {
    /// The preset's name (see `lutcore gen --list-presets`).
    const NAME: &'static str;
}

/// `default`, the array the README measures: `gen`, `sim` and `sim-model`.
#[derive(Clone, Debug)]
pub(crate) struct ArrayPreset;

impl DefaultPreset for ArrayPreset {
    const NAME: &'static str = "default";
}

/// `ice40`, the config the iCEBreaker bitstream is built from: `fpga run` and
/// `fpga cosim`. A board only accepts the config it was built with, so these
/// commands default to the board's config rather than to `default`, which does
/// not fit the iCE40.
#[derive(Clone, Debug)]
pub(crate) struct BoardPreset;

impl DefaultPreset for BoardPreset {
    const NAME: &'static str = "ice40";
}

/// Which array config a command runs: `--preset NAME` or `--config FILE` (at most
/// one of them), else the preset `D::NAME`. Every command that takes a config
/// flattens this struct and loads it through [`ConfigArgs::load`], so the flags,
/// their checks and their errors are the same everywhere; only the default
/// preset differs, for the reason given at [`BoardPreset`].
#[derive(Args, Clone, Debug)]
#[group(required = false, multiple = false)]
pub(crate) struct ConfigArgs<D: DefaultPreset + Send + Sync + 'static = ArrayPreset> {
    /// A named preset (see `lutcore gen --list-presets`).
    #[arg(long, default_value = D::NAME)]
    pub(crate) preset: String,
    /// A JSON config file with the fields of a preset (see README, "The command line"):
    /// one object, every field once, at most 1 MiB.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    #[arg(skip)]
    default: PhantomData<D>,
}

impl<D: DefaultPreset + Send + Sync + 'static> ConfigArgs<D> {
    /// Where the config comes from: the file if given, else the preset.
    pub(crate) fn source(&self) -> ConfigSource<'_> {
        match &self.config {
            Some(path) => ConfigSource::File(path),
            None => ConfigSource::Preset(&self.preset),
        }
    }

    /// The validated config and a name for it (the preset's name or the file's path).
    pub(crate) fn load(&self) -> Result<(String, ArrayConfig)> {
        load_config(self.source())
    }

    /// The input files among these flags, for [`crate::output::check_output`].
    pub(crate) fn inputs(&self) -> Vec<(&'static str, &Path)> {
        self.config
            .iter()
            .map(|c| ("--config", c.as_path()))
            .collect()
    }
}

/// A config by preset name or by JSON file.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ConfigSource<'a> {
    /// A built-in preset.
    Preset(&'a str),
    /// A JSON file with the fields of a preset.
    File(&'a Path),
}

/// The one config loader of every command: the preset, or the file read (at most
/// [`limits::MAX_CONFIG_BYTES`], UTF-8) and validated (`ArrayConfig::from_json`).
/// Returns a name for the config (the preset's name or the file's path) and the config.
pub(crate) fn load_config(source: ConfigSource<'_>) -> Result<(String, ArrayConfig)> {
    match source {
        ConfigSource::Preset(name) => {
            Ok((name.to_string(), lutcore_contract::config::preset(name)?))
        }
        ConfigSource::File(path) => {
            let text = read_text_file("config file", path, limits::MAX_CONFIG_BYTES as u64)?;
            let cfg = ArrayConfig::from_json(&text)
                .with_context(|| format!("in config file {}", path.display()))?;
            Ok((path.display().to_string(), cfg))
        }
    }
}

/// The text of an input file, refusing a folder, a file over `limit` bytes (read no
/// further) and bytes that are not UTF-8; `what` names the file in errors.
pub(crate) fn read_text_file(what: &str, path: &Path, limit: u64) -> Result<String> {
    use std::io::Read;
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("reading {what} {shown}"))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        bail!("{what} {shown} is a folder; expected a file");
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {what} {shown}"))?;
    if bytes.len() as u64 > limit {
        bail!("{what} {shown} is larger than the limit of {limit} bytes");
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{what} {shown} is not UTF-8 text (byte {} is not)",
            e.utf8_error().valid_up_to()
        )
    })
}

/// A matmul shape `MxK` (M output rows, reduction length K), as every `--shape`
/// and `--tb-shape` flag takes it: two whole numbers in 1..=[`limits::MAX_DIM`]
/// joined by `x` (or `X`). Clap names the flag in front of a parse error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Output rows.
    pub(crate) m: usize,
    /// Reduction length.
    pub(crate) k: usize,
}

impl FromStr for Shape {
    type Err = String;

    fn from_str(s: &str) -> Result<Shape, String> {
        let (m, k) = s.split_once(['x', 'X']).ok_or_else(|| {
            format!("shape `{s}` is not MxK: give two whole numbers joined by x, e.g. 1536x1536")
        })?;
        let max = limits::MAX_DIM;
        let parse = |v: &str, what: &str| -> Result<usize, String> {
            let v = v.trim();
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "{what} `{v}` in shape `{s}` must be a whole number in 1..={max} (digits only)"
                ));
            }
            match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                Ok(0) => Err(format!("{what} = 0 in shape `{s}`: M and K must be at least 1")),
                _ => Err(format!("{what} = {v} in shape `{s}` is over the limit: M and K are at most {max} (2^24)")),
            }
        };
        Ok(Shape {
            m: parse(m, "M")?,
            k: parse(k, "K")?,
        })
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.m, self.k)
    }
}

impl Shape {
    /// `(M, K)`, as the library crates take a shape.
    pub(crate) fn dims(self) -> (usize, usize) {
        (self.m, self.k)
    }

    /// M·K, refused above `max` weights (a power of two) with an error that names
    /// `--shape`, the product, the limit and the command `cmd` whose limit it is.
    pub(crate) fn check_weights(self, max: usize, cmd: &str) -> Result<()> {
        match self.m.checked_mul(self.k) {
            Some(n) if n <= max => Ok(()),
            _ => bail!(
                "--shape {self}: M·K = {} weights is over the limit of {max} (2^{}) weights of `lutcore {cmd}`: use a smaller M or K",
                self.m as u128 * self.k as u128,
                max.trailing_zeros()
            ),
        }
    }

    /// K within the config's `max_k`; the error names the shape, the config `name` and both values.
    pub(crate) fn check_fits(self, name: &str, cfg: &ArrayConfig) -> Result<()> {
        check_fits(cfg, self.k)
            .with_context(|| format!("--shape {self} does not fit config {name} (`lutcore gen --list-presets` shows each preset's max_k)"))
    }
}

/// An integer flag value in `lo..=hi`; the error names the flag, the value and the range.
pub(crate) fn parse_bounded(s: &str, flag: &str, lo: usize, hi: usize) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{flag} {n} is out of range: allowed {lo}..={hi}")),
        Err(_) => Err(format!("{flag} `{s}` is not a whole number in {lo}..={hi}")),
    }
}

/// A CPU matmul backend named on the command line (`--backend`, `--check`);
/// `--help` lists the names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CpuBackend {
    /// The fast CPU LUT kernels.
    Lut,
    /// The plain integer reference.
    Ref,
}

impl CpuBackend {
    /// The backend, with `threads` worker threads for the LUT kernels.
    pub(crate) fn build(self, threads: usize) -> Box<dyn lutcore_sw::backend::Backend> {
        match self {
            CpuBackend::Lut => Box::new(lutcore_sw::backend::LutBackend { threads }),
            CpuBackend::Ref => Box::new(lutcore_sw::backend::RefBackend),
        }
    }
}

impl std::fmt::Display for CpuBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CpuBackend::Lut => "lut",
            CpuBackend::Ref => "ref",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn shapes_are_positive_bounded_whole_numbers() {
        let parse = |s: &str| s.parse::<Shape>();
        assert_eq!(parse("1536x1536"), Ok(Shape { m: 1536, k: 1536 }));
        assert_eq!(parse(" 8X16 "), Ok(Shape { m: 8, k: 16 }));
        assert_eq!(
            parse("16777216x1"),
            Ok(Shape {
                m: limits::MAX_DIM,
                k: 1
            })
        );
        assert_eq!(parse("8x16").map(|s| s.to_string()), Ok("8x16".to_string()));
        for bad in [
            "0x5",
            "5x0",
            "16777217x1",
            "1x16777217",
            "-1x5",
            "+5x5",
            "1e3x5",
            "5",
            "x",
            "5x",
            "x5",
            "1.5x2",
            "99999999999999999999999x1",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains(&format!("shape `{bad}`")), "{bad}: {e}");
        }
        assert!(parse("0x5").unwrap_err().contains("at least 1"));
        assert!(parse("16777217x1").unwrap_err().contains("16777216"));
        assert!(parse("64").unwrap_err().contains("not MxK"));
    }

    #[test]
    fn shape_checks_name_the_shape_and_the_limit() {
        let e = Shape { m: 1 << 24, k: 17 }
            .check_weights(limits::MAX_WEIGHTS, "sim")
            .unwrap_err()
            .to_string();
        for want in [
            "--shape 16777216x17",
            "M·K = 285212672",
            "268435456",
            "2^28",
            "`lutcore sim`",
        ] {
            assert!(e.contains(want), "{want}: {e}");
        }
        Shape {
            m: 1 << 14,
            k: 1 << 14,
        }
        .check_weights(limits::MAX_WEIGHTS, "sim")
        .unwrap();
        let tiny = lutcore_contract::config::preset("tiny").unwrap();
        let e = format!(
            "{:#}",
            Shape { m: 4, k: 300 }
                .check_fits("tiny", &tiny)
                .unwrap_err()
        );
        for want in ["--shape 4x300", "config tiny", "K = 300", "max_k = 256"] {
            assert!(e.contains(want), "{want}: {e}");
        }
        Shape { m: 4, k: 256 }.check_fits("tiny", &tiny).unwrap();
    }

    #[derive(Parser)]
    struct Cli<D: DefaultPreset + Send + Sync + 'static> {
        #[command(flatten)]
        config: ConfigArgs<D>,
    }

    #[test]
    fn one_loader_with_the_commands_default() {
        let (name, cfg) = Cli::<ArrayPreset>::parse_from(["x"]).config.load().unwrap();
        assert_eq!(
            (name.as_str(), cfg),
            (
                "default",
                lutcore_contract::config::preset("default").unwrap()
            )
        );
        let (name, _) = Cli::<BoardPreset>::parse_from(["x"]).config.load().unwrap();
        assert_eq!(name, "ice40");
        let (name, _) = Cli::<BoardPreset>::parse_from(["x", "--preset", "tiny"])
            .config
            .load()
            .unwrap();
        assert_eq!(name, "tiny");

        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("c.json");
        std::fs::write(
            &file,
            serde_json::to_string(lutcore_contract::config::preset("tiny").unwrap().raw()).unwrap(),
        )
        .unwrap();
        let f = file.display().to_string();
        let args = Cli::<BoardPreset>::parse_from(["x", "--config", &f]).config;
        let (name, cfg) = args.load().unwrap();
        assert_eq!(
            (name, cfg),
            (f.clone(), lutcore_contract::config::preset("tiny").unwrap())
        );
        assert_eq!(args.inputs(), vec![("--config", file.as_path())]);

        let e = Cli::<ArrayPreset>::try_parse_from(["x", "--preset", "tiny", "--config", &f])
            .err()
            .expect("both flags");
        assert!(e.to_string().contains("cannot be used with"), "{e}");
        let e = Cli::<ArrayPreset>::parse_from(["x", "--preset", "nope"])
            .config
            .load()
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope") && e.contains("ice40"), "{e}");
    }
}
