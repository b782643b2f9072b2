//! [`SimModel`]: a safe handle on one Verilated model inside a loaded
//! simulation library. This module owns every call across the C ABI of
//! [`crate::shim`]; nothing else in the crate touches raw pointers.
//!
//! Ports are addressed by index (their position in the design's port list);
//! look an index up by name once with [`SimModel::port_index`] and use the
//! index-based calls in loops. Values are 32-bit words, least significant
//! first, `ceil(width / 32)` of them.
//!
//! A model of a trace build ([`BuildOptions::trace`](crate::library::BuildOptions))
//! can write waves: [`SimModel::trace_open`] starts a file at trace time 0,
//! every [`eval`](SimModel::eval) then dumps and advances the time by
//! half a clock period ([`TRACE_HALF_CYCLE`](crate::TRACE_HALF_CYCLE) units; a [`tick`](SimModel::tick)
//! is two), and [`SimModel::trace_close`] finishes the file.

use std::ffi::{c_void, CString};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

use lutcore_contract::interface::{Dir, StreamPort};
use lutcore_gen::Port;

use crate::shim::{port_words, Shim, TraceFormat, FIRED_ERROR, TRACE_CYCLE};
use crate::SimError;

/// One instance of a Verilated design. Dropping it frees the model; the
/// library stays loaded while any model of it exists.
pub struct SimModel {
    shim: Arc<Shim>,
    handle: NonNull<c_void>,
    top: String,
    ports: Arc<[Port]>,
    /// The open trace file, if any.
    tracing: Option<PathBuf>,
    /// Words of `act_data_i`, `wgt_data_i` and `res_data_o`, for a top with the stream interface.
    stream_words: Option<[usize; 3]>,
}

/// The handshakes that completed in one [`SimModel::stream_cycle`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamFired {
    /// The activation beat was accepted (`act_valid_i && act_ready_o`).
    pub act: bool,
    /// The weight beat was accepted (`wgt_valid_i && wgt_ready_o`).
    pub wgt: bool,
    /// A result beat was taken (`res_valid_o && res_ready_i`) and copied out.
    pub res: bool,
}

/// What the driver presents in one [`SimModel::stream_cycle`].
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamBeats<'a> {
    /// `act_valid_i`.
    pub act_valid: bool,
    /// `act_last_i`.
    pub act_last: bool,
    /// A new `act_data_i` (`None`: keep the current one).
    pub act: Option<&'a [u32]>,
    /// `wgt_valid_i`.
    pub wgt_valid: bool,
    /// The `wgt_data_i` for the rising edge (`None`: keep the current one).
    pub wgt: Option<&'a [u32]>,
}

/// A finished trace file ([`SimModel::trace_close`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSummary {
    /// The file written.
    pub path: PathBuf,
    /// Its format.
    pub format: TraceFormat,
    /// Trace time reached: [`TRACE_HALF_CYCLE`](crate::TRACE_HALF_CYCLE) units per evaluation.
    pub end_time: u64,
}

impl TraceSummary {
    /// Clock cycles in the trace (evaluations / 2), from time 0.
    pub fn cycles(&self) -> u64 {
        self.end_time / TRACE_CYCLE
    }
}

// SAFETY: a Verilated model (without `--threads`) has no thread affinity; it
// needs only that one thread at a time uses it, which `&mut self` on every
// state-changing call and the lack of `Sync` guarantee.
unsafe impl Send for SimModel {}

impl std::fmt::Debug for SimModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimModel")
            .field("top", &self.top)
            .field("ports", &self.ports.len())
            .finish_non_exhaustive()
    }
}

impl SimModel {
    pub(crate) fn new(
        shim: Arc<Shim>,
        top: &str,
        ports: Arc<[Port]>,
    ) -> Result<SimModel, SimError> {
        // SAFETY: `new` takes no arguments and returns an owned pointer or null.
        let raw = unsafe { (shim.new)() };
        let handle = NonNull::new(raw).ok_or_else(|| SimError::ModelCreate {
            top: top.to_string(),
        })?;
        let stream_words = shim.stream_cycle.is_some().then(|| {
            let words = |s: StreamPort| {
                ports
                    .iter()
                    .find(|p| p.name == s.name())
                    .map_or(0, |p| port_words(p.width))
            };
            [
                words(StreamPort::ActData),
                words(StreamPort::WgtData),
                words(StreamPort::ResData),
            ]
        });
        Ok(SimModel {
            shim,
            handle,
            top: top.to_string(),
            ports,
            tracing: None,
            stream_words,
        })
    }

    /// The trace format, if the library is a trace build.
    pub fn trace_format(&self) -> Option<TraceFormat> {
        self.shim.trace.as_ref().map(|t| t.format)
    }

    /// The path of the open trace file, if any.
    pub fn tracing(&self) -> Option<&Path> {
        self.tracing.as_deref()
    }

    /// Start writing waves to `path` (created or truncated), at trace time
    /// 0; an open trace is closed first. Errors if the library is not a
    /// trace build, if `path`'s extension asks for the other format
    /// (`.vcd` is VCD, anything else FST; see [`TraceFormat::for_path`]),
    /// or if the file cannot be created.
    pub fn trace_open(&mut self, path: &Path) -> Result<(), SimError> {
        let trace_err = |detail: String| SimError::Trace {
            path: path.to_path_buf(),
            detail,
        };
        let Some(fns) = self.shim.trace.as_ref() else {
            return Err(trace_err(format!(
                "the library of `{}` was built without tracing (build it with BuildOptions::traced)",
                self.top
            )));
        };
        let (format, open) = (fns.format, fns.open);
        let asked = TraceFormat::for_path(path);
        if asked != format {
            return Err(trace_err(format!(
                "the library writes {format} traces but the file name asks for {asked}"
            )));
        }
        self.trace_close();
        // Create the file here for a clear error: Verilator's writers do not report one.
        std::fs::File::create(path).map_err(|source| SimError::Io {
            what: "creating trace file",
            path: path.to_path_buf(),
            source,
        })?;
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| trace_err("the path contains a NUL byte".into()))?;
        // SAFETY: the handle is live and `c_path` is a NUL-terminated string
        // that outlives the call (the writer copies the name).
        let rc = unsafe { open(self.handle.as_ptr(), c_path.as_ptr()) };
        if rc != 0 {
            return Err(trace_err(format!(
                "Verilator's {format} writer could not open it (code {rc})"
            )));
        }
        self.tracing = Some(path.to_path_buf());
        Ok(())
    }

    /// Flush and close the open trace; `None` if none is open.
    pub fn trace_close(&mut self) -> Option<TraceSummary> {
        let path = self.tracing.take()?;
        let fns = self.shim.trace.as_ref()?;
        // SAFETY: the handle is live; closing is idempotent in the shim.
        let end_time = unsafe { (fns.close)(self.handle.as_ptr()) };
        Some(TraceSummary {
            path,
            format: fns.format,
            end_time,
        })
    }

    /// Name of the top module.
    pub fn top(&self) -> &str {
        &self.top
    }

    /// The ports, in index order.
    pub fn ports(&self) -> &[Port] {
        &self.ports
    }

    /// Index of the port called `name`.
    pub fn port_index(&self, name: &str) -> Result<usize, SimError> {
        self.ports
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| SimError::Port {
                port: name.to_string(),
                detail: format!(
                    "no such port on `{}` (ports: {})",
                    self.top,
                    self.ports
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }

    fn port(&self, idx: usize) -> Result<&Port, SimError> {
        self.ports.get(idx).ok_or_else(|| SimError::Port {
            port: format!("#{idx}"),
            detail: format!(
                "index out of range: `{}` has {} ports",
                self.top,
                self.ports.len()
            ),
        })
    }

    fn input(&self, idx: usize) -> Result<&Port, SimError> {
        let p = self.port(idx)?;
        if p.dir != Dir::Input {
            return Err(SimError::Port {
                port: p.name.clone(),
                detail: "is an output and cannot be set".into(),
            });
        }
        Ok(p)
    }

    /// Drive input port `idx` with `words` (exactly `ceil(width / 32)` of
    /// them; bits above the width are ignored). Takes effect at the next
    /// [`eval`](Self::eval) or [`tick`](Self::tick).
    pub fn set_idx(&mut self, idx: usize, words: &[u32]) -> Result<(), SimError> {
        let p = self.input(idx)?;
        let n = port_words(p.width);
        if words.len() != n {
            return Err(SimError::Port {
                port: p.name.clone(),
                detail: format!("{} bits take {n} words, got {}", p.width, words.len()),
            });
        }
        // SAFETY: the handle is live, `idx` is a valid input index, and
        // `words` holds the `n` words the shim reads for it.
        unsafe { (self.shim.set)(self.handle.as_ptr(), idx as u32, words.as_ptr()) };
        Ok(())
    }

    /// Read port `idx` (input or output) into `out` (exactly `ceil(width / 32)` words).
    pub fn get_idx_into(&self, idx: usize, out: &mut [u32]) -> Result<(), SimError> {
        let p = self.port(idx)?;
        let n = port_words(p.width);
        if out.len() != n {
            return Err(SimError::Port {
                port: p.name.clone(),
                detail: format!(
                    "{} bits take {n} words, got a buffer of {}",
                    p.width,
                    out.len()
                ),
            });
        }
        // SAFETY: the handle is live, `idx` is valid, and `out` has room for
        // the `n` words the shim writes; the shim only reads model state.
        unsafe { (self.shim.get)(self.handle.as_ptr(), idx as u32, out.as_mut_ptr()) };
        Ok(())
    }

    /// Read port `idx` (input or output).
    pub fn get_idx(&self, idx: usize) -> Result<Vec<u32>, SimError> {
        let mut out = vec![0u32; port_words(self.port(idx)?.width)];
        self.get_idx_into(idx, &mut out)?;
        Ok(out)
    }

    /// Drive one-bit (or any) input port `idx` with `value` in bit 0.
    pub fn set_bit(&mut self, idx: usize, value: bool) -> Result<(), SimError> {
        let n = port_words(self.input(idx)?.width);
        if n == 1 {
            self.set_idx(idx, &[u32::from(value)])
        } else {
            let mut words = vec![0u32; n];
            words[0] = u32::from(value);
            self.set_idx(idx, &words)
        }
    }

    /// Bit 0 of port `idx`.
    pub fn get_bit(&self, idx: usize) -> Result<bool, SimError> {
        let p = self.port(idx)?;
        if port_words(p.width) == 1 {
            let mut w = [0u32; 1];
            self.get_idx_into(idx, &mut w)?;
            Ok(w[0] & 1 == 1)
        } else {
            Ok(self.get_idx(idx)?[0] & 1 == 1)
        }
    }

    /// [`set_idx`](Self::set_idx) by port name.
    pub fn set(&mut self, port: &str, words: &[u32]) -> Result<(), SimError> {
        let idx = self.port_index(port)?;
        self.set_idx(idx, words)
    }

    /// [`get_idx`](Self::get_idx) by port name.
    pub fn get(&self, port: &str) -> Result<Vec<u32>, SimError> {
        self.get_idx(self.port_index(port)?)
    }

    /// Evaluate the model with the current inputs (and, with a trace open,
    /// dump and advance the trace time by [`TRACE_HALF_CYCLE`](crate::TRACE_HALF_CYCLE)).
    pub fn eval(&mut self) {
        // SAFETY: the handle is live.
        unsafe { (self.shim.eval)(self.handle.as_ptr()) }
    }

    /// One clock of the stream protocol in one call across the C ABI: drive
    /// the valids, `act_last_i` and a new activation beat, evaluate with
    /// `clk_i` low, sample the handshakes (copying a taken result beat into
    /// `res`), drive the weight beat, raise `clk_i` and evaluate. Errors if
    /// the top has no stream interface ([`lutcore_contract::interface`]) or a
    /// slice has the wrong number of words.
    pub fn stream_cycle(
        &mut self,
        beats: StreamBeats<'_>,
        res: &mut [u32],
    ) -> Result<StreamFired, SimError> {
        let (Some(f), Some([act_n, wgt_n, res_n])) = (self.shim.stream_cycle, self.stream_words)
        else {
            return Err(SimError::Port {
                port: "*".into(),
                detail: format!("`{}` has no stream interface", self.top),
            });
        };
        let check = |port: &str, want: usize, got: usize| {
            if want == got {
                Ok(())
            } else {
                Err(SimError::Port {
                    port: port.into(),
                    detail: format!("takes {want} words, got {got}"),
                })
            }
        };
        if let Some(a) = beats.act {
            check(StreamPort::ActData.name(), act_n, a.len())?;
        }
        if let Some(w) = beats.wgt {
            check(StreamPort::WgtData.name(), wgt_n, w.len())?;
        }
        check(StreamPort::ResData.name(), res_n, res.len())?;
        let ctl = u32::from(beats.act_valid)
            | u32::from(beats.act_last) << 1
            | u32::from(beats.wgt_valid) << 2;
        let ptr = |b: Option<&[u32]>| b.map_or(std::ptr::null(), <[u32]>::as_ptr);
        // SAFETY: the handle is live; `act`, `wgt` (or null) and `res` hold
        // exactly the words of their ports, checked above.
        let fired = unsafe {
            f(
                self.handle.as_ptr(),
                ctl,
                ptr(beats.act),
                ptr(beats.wgt),
                res.as_mut_ptr(),
            )
        };
        if fired & FIRED_ERROR != 0 {
            if let Some(e) = self.error() {
                return Err(e);
            }
        }
        Ok(StreamFired {
            act: fired & 1 != 0,
            wgt: fired & 2 != 0,
            res: fired & 4 != 0,
        })
    }

    /// The first assertion of the design that failed (Verilator `--assert`;
    /// [`stream_cycle`](Self::stream_cycle) returns it as soon as it happens),
    /// as [`SimError::Assertion`] with the source line and the comment above
    /// it; `None` if none has.
    pub fn error(&self) -> Option<SimError> {
        let mut file = [0u8; 4096];
        // SAFETY: the handle is live and `file` has room for the `cap` bytes
        // the shim writes (NUL-terminated).
        let line = unsafe {
            (self.shim.error)(
                self.handle.as_ptr(),
                file.as_mut_ptr().cast(),
                file.len() as u32,
            )
        };
        if line == 0 {
            return None;
        }
        let file = std::ffi::CStr::from_bytes_until_nul(&file)
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The failing line and the comment above it (the generator documents each assertion).
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let at = |i: usize| lines.get(i).map_or("", |l| l.trim());
        let source = at(line as usize - 1).to_string();
        let doc = at((line as usize).saturating_sub(2))
            .strip_prefix("//")
            .map(|d| d.trim().to_string());
        Some(SimError::Assertion {
            top: self.top.clone(),
            location: format!(
                "{}:{line}",
                Path::new(&file)
                    .file_name()
                    .map_or(file.clone(), |n| n.to_string_lossy().into_owned())
            ),
            code: source,
            doc: doc.unwrap_or_default(),
        })
    }

    /// One clock cycle: `clk_i = 0`, eval, `clk_i = 1`, eval (just eval
    /// without a `clk_i` port).
    pub fn tick(&mut self) {
        // SAFETY: the handle is live.
        unsafe { (self.shim.tick)(self.handle.as_ptr()) }
    }
}

impl Drop for SimModel {
    fn drop(&mut self) {
        // SAFETY: the handle came from `new` and is freed exactly once; the
        // library outlives it through `self.shim`.
        unsafe { (self.shim.free)(self.handle.as_ptr()) }
    }
}
