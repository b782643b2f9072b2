//! Building a design into a loadable simulation library, at run time.
//!
//! This module owns the Verilator and C++ compiler invocations and the
//! on-disk cache. A design is built into `<cache_root>/<hash>/`, where the
//! hash covers the Verilog, the shim, the Verilator and compiler versions and
//! every flag; a `done` marker is written last, so a directory with the
//! marker holds a complete `liblutcore_sim.so` and is reused as is. A lock
//! file in each directory serializes concurrent builds (threads or
//! processes). Verilator's runtime (`verilated.cpp`, `verilated_threads.cpp`)
//! is compiled once per toolchain into `<cache_root>/runtime-<hash>/` and
//! shared by every design.
//!
//! Trace builds ([`BuildOptions::trace`]) run Verilator with `--trace-fst`
//! (or `--trace`), compile with `VM_TRACE=1` and link Verilator's trace
//! writer (`verilated_fst_c.cpp`, compiled once per toolchain into
//! `<cache_root>/runtime-<fmt>-<hash>/`; FST also links zlib, `-lz`). They
//! are separate cache entries (the format is part of the key); the default
//! build is unchanged.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lutcore_gen::{Design, Port};
use sha2::{Digest, Sha256};

use crate::model::SimModel;
use crate::shim::{Shim, TraceFormat};
use crate::SimError;

/// Flags passed to every Verilator run (before `--top-module` and the files).
/// `--assert +define+LUTCORE_ASSERT` turns on the arrays' stream-protocol
/// assertions ([`lutcore_gen::control::ASSERT_DEFINE`]) and the `unique case`
/// checks; a failure is reported by [`SimModel::error`].
pub const VERILATOR_FLAGS: &[&str] = &[
    "--cc",
    "--assert",
    "+define+LUTCORE_ASSERT",
    "-O3",
    "--x-assign",
    "fast",
    "--x-initial",
    "fast",
    "-Wno-fatal",
    "--no-timing",
];

/// Ports wider than this many bits get [`WIDE_PORT_FLAGS`].
pub const WIDE_PORT_BITS: u32 = 1024;

/// Verilator 5.006 with `--assert` emits C++ that does not compile for
/// `$stable` of a port wider than about 32 words (the word-copy loop's
/// variable `__Vilp` is declared in another function): designs with such a
/// port are built without V3Expand, which writes that loop.
pub const WIDE_PORT_FLAGS: &[&str] = &["-fno-expand"];

/// The extra Verilator flags `design` needs ([`WIDE_PORT_FLAGS`] or none).
fn design_flags(design: &Design) -> &'static [&'static str] {
    if design.ports.iter().any(|p| p.width > WIDE_PORT_BITS) {
        WIDE_PORT_FLAGS
    } else {
        &[]
    }
}

/// Flags passed to every C++ compile (before include directories).
/// `-O3 -march=native`: the model is built on the machine that runs it (the
/// CPU is part of the cache key); together they took the default array from
/// 0.89 to 1.0 M cycles/s. `-DVL_USER_STOP`: the shim, not Verilator's
/// runtime, handles a failed assertion (it records it instead of aborting the
/// process; see [`crate::shim`]).
pub const CXX_FLAGS: &[&str] = &[
    "-std=c++17",
    "-DVL_USER_STOP",
    "-O3",
    "-march=native",
    "-fPIC",
    "-faligned-new",
    "-fvisibility=hidden",
    "-w",
    "-DVM_COVERAGE=0",
    "-DVM_SC=0",
    "-DVM_TRACE=0",
    "-DVM_TRACE_FST=0",
    "-DVM_TRACE_VCD=0",
];

/// Extra flags for Verilator's `*__Slow.cpp` files (construction and
/// initial settling, run once): optimizing them costs build time for nothing.
pub const CXX_SLOW_FLAGS: &[&str] = &["-O0"];

/// Libraries the shared object links against (as Verilator's `verilated.mk`).
const LINK_LIBS: &[&str] = &["-pthread", "-lpthread", "-latomic"];

/// How to build a design. The default is the normal, untraced build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BuildOptions {
    /// Build with waveform tracing in this format, so models can
    /// [`SimModel::trace_open`] a trace file. Tracing slows compilation and,
    /// while a trace is open, the simulation.
    pub trace: Option<TraceFormat>,
    /// Build with Verilator's `--coverage` (line and toggle points), so
    /// [`crate::coverage::write_coverage`] can dump a `coverage.dat`. A
    /// separate cache entry; the default build is unchanged.
    pub coverage: bool,
}

impl BuildOptions {
    /// A trace build writing `format`.
    pub fn traced(format: TraceFormat) -> BuildOptions {
        BuildOptions {
            trace: Some(format),
            coverage: false,
        }
    }

    /// A `--coverage` build.
    pub fn covered() -> BuildOptions {
        BuildOptions {
            trace: None,
            coverage: true,
        }
    }
}

/// [`CXX_FLAGS`], with the `VM_TRACE*` defines of `trace`.
fn cxx_flags(trace: Option<TraceFormat>) -> Vec<&'static str> {
    CXX_FLAGS
        .iter()
        .map(|&f| match (trace, f) {
            (Some(_), "-DVM_TRACE=0") => "-DVM_TRACE=1",
            (Some(TraceFormat::Fst), "-DVM_TRACE_FST=0") => "-DVM_TRACE_FST=1",
            (Some(TraceFormat::Vcd), "-DVM_TRACE_VCD=0") => "-DVM_TRACE_VCD=1",
            _ => f,
        })
        .collect()
}

/// Libraries a trace build links in addition to [`LINK_LIBS`].
fn trace_libs(trace: Option<TraceFormat>) -> &'static [&'static str] {
    match trace {
        Some(TraceFormat::Fst) => &["-lz"],
        _ => &[],
    }
}

/// File name of the built library inside a cache directory.
pub const LIBRARY_NAME: &str = "liblutcore_sim.so";

const INSTALL_HINT: &str =
    "install Verilator 5 with `make deps` (or `apt-get install verilator`), or put it on PATH";

/// Whether [`SimLibrary::build`] compiled the design or found it in the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildStatus {
    /// Verilator and the compiler ran.
    Built,
    /// A complete earlier build was reused; no tool ran.
    Cached,
}

impl std::fmt::Display for BuildStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BuildStatus::Built => "built",
            BuildStatus::Cached => "cached",
        })
    }
}

/// A design compiled into a loaded simulation library. Create models with
/// [`SimLibrary::instantiate`]; the library stays loaded while any exists.
pub struct SimLibrary {
    dir: PathBuf,
    top: String,
    ports: Arc<[Port]>,
    status: BuildStatus,
    elapsed: Duration,
    trace: Option<TraceFormat>,
    shim: Arc<Shim>,
}

impl std::fmt::Debug for SimLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimLibrary")
            .field("dir", &self.dir)
            .field("top", &self.top)
            .field("status", &self.status)
            .field("elapsed", &self.elapsed)
            .field("trace", &self.trace)
            .finish_non_exhaustive()
    }
}

/// Where built designs are cached: `$LUTCORE_SIM_CACHE`, else
/// `$CARGO_TARGET_DIR/lutcore-sim`, else `lutcore-sim` in the Cargo target
/// directory that holds the running executable, else the workspace's
/// `target/lutcore-sim`.
pub fn cache_root() -> PathBuf {
    if let Some(p) = std::env::var_os("LUTCORE_SIM_CACHE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("CARGO_TARGET_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(p).join("lutcore-sim");
    }
    if let Ok(exe) = std::env::current_exe() {
        // Cargo marks its target directory with CACHEDIR.TAG.
        if let Some(target) = exe
            .ancestors()
            .skip(1)
            .find(|a| a.join("CACHEDIR.TAG").is_file())
        {
            return target.join("lutcore-sim");
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("lutcore-sim")
}

fn command_line(cmd: &Command) -> String {
    let quote = |s: &OsStr| {
        let s = s.to_string_lossy();
        if s.is_empty() || s.contains([' ', '"', '\'']) {
            format!("'{s}'")
        } else {
            s.into_owned()
        }
    };
    std::iter::once(quote(cmd.get_program()))
        .chain(cmd.get_args().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tail(text: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Run `cmd`; on failure the error carries the command and its output tail.
fn run(mut cmd: Command) -> Result<Vec<u8>, SimError> {
    let line = command_line(&cmd);
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            let tool = cmd.get_program().to_string_lossy().into_owned();
            let hint = if tool.contains("verilator") {
                INSTALL_HINT.to_string()
            } else {
                "install a C++17 compiler (`apt-get install g++`) or set CXX".to_string()
            };
            SimError::ToolMissing { tool, hint }
        } else {
            SimError::ToolFailed {
                command: line.clone(),
                status: format!("could not start: {e}"),
                stderr_tail: String::new(),
            }
        }
    })?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let mut text = out.stdout;
        text.extend_from_slice(&out.stderr);
        Err(SimError::ToolFailed {
            command: line,
            status: out.status.to_string(),
            stderr_tail: tail(&text, 40),
        })
    }
}

fn verilator() -> Command {
    Command::new("verilator")
}

fn cxx() -> String {
    std::env::var("CXX")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "c++".to_string())
}

/// The installed Verilator's version line, e.g. `Verilator 5.006 2023-01-22 rev ...`.
/// Fails with an install hint if `verilator` is not on PATH.
pub fn verilator_version() -> Result<String, SimError> {
    let mut cmd = verilator();
    cmd.arg("--version");
    Ok(String::from_utf8_lossy(&run(cmd)?).trim().to_string())
}

fn verilator_root() -> Result<PathBuf, SimError> {
    let mut cmd = verilator();
    cmd.args(["--getenv", "VERILATOR_ROOT"]);
    Ok(PathBuf::from(String::from_utf8_lossy(&run(cmd)?).trim()))
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SimError + 'a {
    move |source| SimError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// An exclusive lock on `<dir>/lock`, released on drop.
struct DirLock(File);

impl DirLock {
    fn acquire(dir: &Path) -> Result<DirLock, SimError> {
        fs::create_dir_all(dir).map_err(io_err("creating cache directory", dir))?;
        let path = dir.join("lock");
        let file = File::create(&path).map_err(io_err("creating lock file", &path))?;
        file.lock().map_err(io_err("locking", &path))?;
        Ok(DirLock(file))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// The CPU's model name and feature flags (Linux `/proc/cpuinfo`), so that a
/// cache built with `-march=native` is never loaded on another kind of CPU.
fn cpu_identity() -> String {
    let info = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    format!("{} [{}]", field("model name"), field("flags"))
}

fn hash_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    format!("{:x}", h.finalize())
}

/// Compile every `(source, object)` pair with the given include directories,
/// using all available cores.
fn compile_all(
    jobs: &[(PathBuf, PathBuf)],
    includes: &[PathBuf],
    flags: &[&str],
) -> Result<(), SimError> {
    let cxx = cxx();
    let next = AtomicUsize::new(0);
    let first_err: Mutex<Option<SimError>> = Mutex::new(None);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(jobs.len())
        .max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((src, obj)) = jobs.get(i) else { break };
                if first_err.lock().map(|e| e.is_some()).unwrap_or(true) {
                    break;
                }
                let mut cmd = Command::new(&cxx);
                cmd.args(flags);
                if src
                    .file_stem()
                    .is_some_and(|s| s.to_string_lossy().ends_with("__Slow"))
                {
                    cmd.args(CXX_SLOW_FLAGS);
                }
                for inc in includes {
                    cmd.arg("-I").arg(inc);
                }
                cmd.arg("-c").arg(src).arg("-o").arg(obj);
                if let Err(e) = run(cmd) {
                    if let Ok(mut slot) = first_err.lock() {
                        slot.get_or_insert(e);
                    }
                    break;
                }
            });
        }
    });
    match first_err
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

fn runtime_includes(root: &Path) -> Vec<PathBuf> {
    vec![root.join("include"), root.join("include").join("vltstd")]
}

/// Verilator runtime units (`include/<unit>.cpp`) compiled with `flags`, once
/// per toolchain and flag set, into `<cache>/runtime-<tag><hash>/`; every
/// design links the same objects.
fn runtime_units(
    cache: &Path,
    vroot: &Path,
    (version, cxx_version): (&str, &str),
    tag: &str,
    units: &[&str],
    flags: &[&str],
) -> Result<Vec<PathBuf>, SimError> {
    let joined = flags.join(" ");
    let key = hash_hex(&[
        version.as_bytes(),
        cxx_version.as_bytes(),
        joined.as_bytes(),
        units.join(" ").as_bytes(),
        vroot.as_os_str().as_encoded_bytes(),
    ]);
    let dir = cache.join(format!("runtime-{tag}{}", &key[..20]));
    let _lock = DirLock::acquire(&dir)?;
    let objs: Vec<PathBuf> = units.iter().map(|u| dir.join(format!("{u}.o"))).collect();
    let done = dir.join("done");
    if !done.is_file() {
        let jobs: Vec<(PathBuf, PathBuf)> = units
            .iter()
            .zip(&objs)
            .map(|(u, o)| (vroot.join("include").join(format!("{u}.cpp")), o.clone()))
            .collect();
        compile_all(&jobs, &runtime_includes(vroot), flags)?;
        fs::write(&done, format!("{version}\n{cxx_version}\n{joined}\n"))
            .map_err(io_err("writing", &done))?;
    }
    Ok(objs)
}

/// Verilator's runtime (`verilated.cpp`, `verilated_threads.cpp`).
fn runtime_objects(
    cache: &Path,
    vroot: &Path,
    versions: (&str, &str),
) -> Result<Vec<PathBuf>, SimError> {
    runtime_units(
        cache,
        vroot,
        versions,
        "",
        &["verilated", "verilated_threads"],
        CXX_FLAGS,
    )
}

/// Verilator's trace writer of `format` (e.g. `verilated_fst_c.cpp`, which
/// includes GTKWave's FST writer), with the trace build's flags.
fn trace_runtime_objects(
    cache: &Path,
    vroot: &Path,
    versions: (&str, &str),
    format: TraceFormat,
) -> Result<Vec<PathBuf>, SimError> {
    runtime_units(
        cache,
        vroot,
        versions,
        &format!("{format}-"),
        &[format.runtime_unit()],
        &cxx_flags(Some(format)),
    )
}

/// Revision of the build recipe (file grouping etc.), part of the cache key.
const PIPELINE_REV: u32 = 1;

/// Bytes of Verilated C++ worth a translation unit of its own: below this,
/// parsing Verilator's headers once more costs more than it parallelizes.
const BUNDLE_BYTES: u64 = 256 * 1024;

/// Group Verilator's `.cpp` files (names in `obj`, with sizes) and the shim
/// into a few translation units, as Verilator's own `__ALL.cpp` does, so the
/// heavy headers are parsed a few times instead of once per file: the
/// `__Slow` files (run once) in one unit compiled without optimization, the
/// rest balanced by size over as many units as there are cores (fewer for a
/// small design). Returns the `(source, object)` jobs, largest first.
fn bundles(obj: &Path, sources: Vec<(u64, String)>) -> Result<Vec<(PathBuf, PathBuf)>, SimError> {
    let (mut slow, mut fast): (Vec<_>, Vec<_>) = sources
        .into_iter()
        .partition(|(_, n)| n.ends_with("__Slow.cpp"));
    fast.push((0, "../lutcore_sim_shim.cpp".to_string()));
    fast.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    slow.sort_by(|a, b| a.1.cmp(&b.1));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let fast_bytes: u64 = fast.iter().map(|f| f.0).sum();
    let n = (fast_bytes / BUNDLE_BYTES + 1)
        .min(cores)
        .min(fast.len() as u64)
        .max(1) as usize;
    let mut units: Vec<(u64, Vec<String>)> = vec![(0, Vec::new()); n];
    for (size, name) in fast {
        // Greedy: the next largest file goes to the smallest unit.
        if let Some(unit) = units.iter_mut().min_by_key(|u| u.0) {
            unit.0 += size;
            unit.1.push(name);
        }
    }
    let mut named: Vec<(u64, String, Vec<String>)> = units
        .into_iter()
        .enumerate()
        .map(|(i, (size, files))| (size, format!("lutcore_unit_{i}.cpp"), files))
        .collect();
    if !slow.is_empty() {
        let size = slow.iter().map(|f| f.0).sum();
        named.push((
            size,
            "lutcore_unit__Slow.cpp".to_string(),
            slow.into_iter().map(|f| f.1).collect(),
        ));
    }
    named.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut jobs = Vec::new();
    for (_, name, files) in named {
        let src = obj.join(&name);
        let text: String = files
            .iter()
            .map(|f| format!("#include \"{f}\"\n"))
            .collect();
        fs::write(&src, text).map_err(io_err("writing", &src))?;
        jobs.push((src.clone(), src.with_extension("o")));
    }
    Ok(jobs)
}

impl SimLibrary {
    /// Build `design` (or reuse an identical earlier build) under [`cache_root`].
    pub fn build(design: &Design) -> Result<SimLibrary, SimError> {
        Self::build_in(design, &cache_root())
    }

    /// Build `design` (or reuse an identical earlier build) under `cache`.
    pub fn build_in(design: &Design, cache: &Path) -> Result<SimLibrary, SimError> {
        Self::build_in_with(design, cache, &BuildOptions::default())
    }

    /// Build `design` with `opts` (or reuse an identical earlier build) under [`cache_root`].
    pub fn build_with(design: &Design, opts: &BuildOptions) -> Result<SimLibrary, SimError> {
        Self::build_in_with(design, &cache_root(), opts)
    }

    /// Build `design` with `opts` (or reuse an identical earlier build) under
    /// `cache`. A trace build is a separate cache entry from the normal one.
    pub fn build_in_with(
        design: &Design,
        cache: &Path,
        opts: &BuildOptions,
    ) -> Result<SimLibrary, SimError> {
        let start = Instant::now();
        let version = verilator_version()?;
        let shim = crate::shim::cpp_shim_traced(&design.top, &design.ports, opts.trace);
        let mut cxx_cmd = Command::new(cxx());
        cxx_cmd.arg("--version");
        // `-march=native` code is only valid on this kind of CPU: the CPU's
        // name and feature flags are part of every cache key.
        let cxx_version = format!(
            "{} | {}",
            String::from_utf8_lossy(&run(cxx_cmd)?)
                .lines()
                .next()
                .unwrap_or_default(),
            cpu_identity()
        );
        let mut flags = format!(
            "lutcore-sim {} pipeline {PIPELINE_REV}\nverilator {} --top-module {}\n{} {} (slow: {})\nlink {}",
            env!("CARGO_PKG_VERSION"),
            VERILATOR_FLAGS
                .iter()
                .chain(design_flags(design))
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
            design.top,
            cxx(),
            cxx_flags(opts.trace).join(" "),
            CXX_SLOW_FLAGS.join(" "),
            LINK_LIBS.join(" ")
        );
        if let Some(t) = opts.trace {
            // Only trace builds add to the key, so normal builds keep their cache entries.
            flags += &format!(
                "\ntrace {} {} link {}",
                t.verilator_flag(),
                t.runtime_unit(),
                trace_libs(opts.trace).join(" ")
            );
        }
        if opts.coverage {
            // Likewise only coverage builds.
            flags += &format!("\ncoverage {}", crate::coverage::VERILATOR_FLAG);
        }
        let key = hash_hex(&[
            design.verilog_sha256().as_bytes(),
            shim.as_bytes(),
            version.as_bytes(),
            cxx_version.as_bytes(),
            flags.as_bytes(),
        ]);
        let dir = cache.join(&key[..24]);
        let so = dir.join(LIBRARY_NAME);
        let done = dir.join("done");

        let lock = DirLock::acquire(&dir)?;
        let status = if done.is_file() && so.is_file() {
            BuildStatus::Cached
        } else {
            Self::compile(design, cache, &dir, &shim, &version, &cxx_version, opts)?;
            fs::write(
                &done,
                format!(
                    "{}\n{version}\n{cxx_version}\n{flags}\n",
                    design.verilog_sha256()
                ),
            )
            .map_err(io_err("writing", &done))?;
            BuildStatus::Built
        };
        drop(lock);

        let shim_fns = Shim::load(
            &so,
            opts.trace,
            crate::shim::has_stream_interface(&design.ports),
        )?;
        // SAFETY: a function without arguments returning a constant.
        let count = unsafe { (shim_fns.port_count)() };
        if count as usize != design.ports.len() {
            return Err(SimError::Port {
                port: "*".into(),
                detail: format!(
                    "library has {count} ports but the design lists {}",
                    design.ports.len()
                ),
            });
        }
        Ok(SimLibrary {
            dir,
            top: design.top.clone(),
            ports: design.ports.clone().into(),
            status,
            elapsed: start.elapsed(),
            trace: opts.trace,
            shim: Arc::new(shim_fns),
        })
    }

    fn compile(
        design: &Design,
        cache: &Path,
        dir: &Path,
        shim: &str,
        version: &str,
        cxx_version: &str,
        opts: &BuildOptions,
    ) -> Result<(), SimError> {
        let trace = opts.trace;
        let rtl = dir.join("rtl");
        let obj = dir.join("obj");
        for d in [&rtl, &obj] {
            if d.exists() {
                fs::remove_dir_all(d).map_err(io_err("removing stale build directory", d))?;
            }
        }
        design
            .write_to(&rtl)
            .map_err(io_err("writing design into", &rtl))?;
        let shim_path = dir.join("lutcore_sim_shim.cpp");
        fs::write(&shim_path, shim).map_err(io_err("writing", &shim_path))?;

        let mut cmd = verilator();
        cmd.args(VERILATOR_FLAGS).args(design_flags(design));
        if let Some(t) = trace {
            cmd.arg(t.verilator_flag());
        }
        if opts.coverage {
            cmd.arg(crate::coverage::VERILATOR_FLAG);
        }
        cmd.arg("--Mdir")
            .arg(&obj)
            .arg("--top-module")
            .arg(&design.top);
        for f in &design.files {
            cmd.arg(rtl.join(&f.name));
        }
        run(cmd)?;

        let vroot = verilator_root()?;
        let versions = (version, cxx_version);
        let mut runtime = runtime_objects(cache, &vroot, versions)?;
        if let Some(t) = trace {
            runtime.extend(trace_runtime_objects(cache, &vroot, versions, t)?);
        }

        let mut sources: Vec<(u64, String)> = Vec::new();
        for entry in fs::read_dir(&obj).map_err(io_err("reading", &obj))? {
            let path = entry.map_err(io_err("reading", &obj))?.path();
            if let (Some("cpp"), Some(name)) =
                (path.extension().and_then(OsStr::to_str), path.file_name())
            {
                let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                sources.push((size, name.to_string_lossy().into_owned()));
            }
        }
        let mut jobs = bundles(&obj, sources)?;
        let mut includes = vec![obj.clone()];
        includes.extend(runtime_includes(&vroot));
        let mut flags = cxx_flags(trace);
        if opts.coverage {
            jobs.extend(crate::coverage::sources(&obj)?);
            flags = flags
                .into_iter()
                .map(|f| {
                    if f == "-DVM_COVERAGE=0" {
                        "-DVM_COVERAGE=1"
                    } else {
                        f
                    }
                })
                .collect();
        }
        compile_all(&jobs, &includes, &flags)?;

        let so = dir.join(LIBRARY_NAME);
        let tmp = dir.join(format!("{LIBRARY_NAME}.tmp"));
        let mut link = Command::new(cxx());
        link.args(["-shared", "-fPIC", "-o"]).arg(&tmp);
        link.args(jobs.iter().map(|(_, o)| o))
            .args(&runtime)
            .args(LINK_LIBS)
            .args(trace_libs(trace));
        run(link)?;
        fs::rename(&tmp, &so).map_err(io_err("renaming into place", &so))?;
        Ok(())
    }

    /// Whether this call built the library or reused the cache.
    pub fn status(&self) -> BuildStatus {
        self.status
    }

    /// Wall time [`SimLibrary::build`] took (including loading).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The cache directory holding the Verilog, Verilator's output and the library.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Name of the top module.
    pub fn top(&self) -> &str {
        &self.top
    }

    /// The trace format of a trace build ([`BuildOptions::trace`]), `None` otherwise.
    pub fn trace_format(&self) -> Option<TraceFormat> {
        self.trace
    }

    /// The top module's ports, in shim index order.
    pub fn ports(&self) -> &[Port] {
        &self.ports
    }

    /// A new model instance in its initial state (inputs zero, not reset).
    pub fn instantiate(&self) -> Result<SimModel, SimError> {
        SimModel::new(self.shim.clone(), &self.top, self.ports.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_define_the_assertions_of_the_generator() {
        let define = format!("+define+{}", lutcore_gen::control::ASSERT_DEFINE);
        assert!(
            VERILATOR_FLAGS.contains(&define.as_str()) && VERILATOR_FLAGS.contains(&"--assert")
        );
    }

    #[test]
    fn a_missing_verilator_says_how_to_install_it() {
        let e = run(Command::new("verilator-not-installed-here")).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, SimError::ToolMissing { .. }), "{msg}");
        assert!(
            msg.contains("make deps") && msg.contains("apt-get install verilator"),
            "{msg}"
        );
    }

    #[test]
    fn a_failing_tool_reports_command_and_output_tail() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "for i in $(seq 1 100); do echo line$i >&2; done; exit 3",
        ]);
        let msg = run(cmd).unwrap_err().to_string();
        assert!(
            msg.contains("sh -c") && msg.contains("line100") && !msg.contains("line50\n"),
            "{msg}"
        );
    }

    #[test]
    fn small_designs_become_one_fast_unit_and_one_slow_unit() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            (1000, "Vt.cpp".to_string()),
            (2000, "Vt__Syms.cpp".to_string()),
            (3000, "Vt___024root__Slow.cpp".to_string()),
            (4000, "Vt___024root__DepSet_h0__0.cpp".to_string()),
        ];
        let jobs = bundles(dir.path(), files).unwrap();
        assert_eq!(jobs.len(), 2);
        let fast = std::fs::read_to_string(&jobs[0].0).unwrap();
        assert!(
            fast.contains("\"Vt.cpp\"")
                && fast.contains("../lutcore_sim_shim.cpp")
                && !fast.contains("Slow")
        );
        let slow = std::fs::read_to_string(&jobs[1].0).unwrap();
        assert_eq!(slow, "#include \"Vt___024root__Slow.cpp\"\n");
        assert!(jobs[1].0.to_string_lossy().ends_with("__Slow.cpp"));
    }
}
