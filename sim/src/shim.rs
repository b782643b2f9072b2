//! The `extern "C"` C++ shim that [`crate::library`] compiles together with
//! Verilator's output, so Rust can drive a Verilated model through a handful
//! of plain C functions. This module owns both halves of that C ABI: the
//! shim's C++ text, and the Rust function types and symbol names
//! [`crate::library`] loads it with (`Shim`).
//!
//! ABI (all functions `extern "C"`, exported with default visibility):
//!
//! * `uint32_t lutcore_sim_port_count(void)`: number of ports.
//! * `void* lutcore_sim_new(void)`: a new `VerilatedContext` + `V<top>`
//!   (null if construction threw); `void lutcore_sim_free(void*)` frees it.
//! * `uint32_t lutcore_sim_error(void*, char* file, uint32_t cap)`: the
//!   source line of the first failed assertion (or `$stop`) of the model, 0
//!   if none; copies the source file's path into `file` (NUL-terminated,
//!   truncated to `cap` bytes).
//! * `void lutcore_sim_eval(void*)`: evaluate the model.
//! * `void lutcore_sim_tick(void*)`: `clk_i = 0; eval; clk_i = 1; eval`
//!   (just `eval` if the top has no `clk_i`).
//! * `void lutcore_sim_set(void*, uint32_t port, const uint32_t* words)` and
//!   `void lutcore_sim_get(void*, uint32_t port, uint32_t* words)`: `port` is
//!   the index in the port list; `words` are `ceil(width / 32)` 32-bit words,
//!   least significant first. `set` masks bits above the width and ignores
//!   outputs and unknown indices; `get` reads inputs and outputs and leaves
//!   `words` untouched for an unknown index.
//!
//! A top with the arrays' stream interface (every port of
//! [`StreamPort::ALL`] with its direction, [`has_stream_interface`]) also gets one clock of the
//! stream protocol in a single call, so a driver crosses the C ABI once per
//! cycle instead of a dozen times:
//!
//! * `uint32_t lutcore_sim_stream_cycle(void*, uint32_t ctl, const uint32_t* act,
//!   const uint32_t* wgt, uint32_t* res)`: drive `act_valid_i` (bit 0 of
//!   `ctl`), `act_last_i` (bit 1), `wgt_valid_i` (bit 2), and `act_data_i` from
//!   `act` unless it is null; evaluate with `clk_i` low; sample the
//!   handshakes, copying `res_data_o` into `res` when a result beat is taken
//!   (`res_valid_o && res_ready_i`); drive `wgt_data_i` from `wgt` unless it is
//!   null; raise `clk_i` and evaluate. Returns bit 0: the activation beat was
//!   accepted, bit 1: the weight beat was, bit 2: a result beat was taken,
//!   bit 3: the model has reported an error (`lutcore_sim_error`), in this
//!   cycle or before.
//!
//! Trace builds ([`cpp_shim_traced`] with a [`TraceFormat`], for a model
//! Verilated with `--trace-fst` or `--trace`) add:
//!
//! * `int lutcore_sim_trace_open(void*, const char* path)`: start writing
//!   waves to `path` (closing an open trace first); 0 on success. Time starts
//!   at 0 and advances by [`TRACE_HALF_CYCLE`] units after every evaluation
//!   (so `tick` advances one clock period, [`TRACE_CYCLE`] units), and every
//!   `eval`/`tick` dumps while the trace is open.
//! * `uint64_t lutcore_sim_trace_close(void*)`: flush and close the trace (a
//!   no-op without one); returns the trace time reached (0 without one).
//!
//! Normal builds emit exactly the text of [`cpp_shim`] and none of this, so
//! their speed and cache entries are unaffected.
//!
//! Contexts and errors: each model has its own `VerilatedContext`, and
//! Verilator finds "the" context through a per-thread pointer
//! (`Verilated::threadContextp`) when it reports an error and when it frees a
//! model's scopes. So every function that enters a model first makes that
//! model's context the thread's, and `lutcore_sim_free` restores the previous
//! one (or none, if it was the freed one). Verilator's runtime is compiled
//! with `VL_USER_STOP` ([`crate::library::CXX_FLAGS`]), and the shim's
//! `vl_stop` records the first failed assertion instead of aborting the
//! process; the model keeps running and the driver reports the error
//! ([`crate::SimModel::error`]). Verilator itself prints the assertion's
//! message (`Assertion failed in …`) on standard output.
//!
//! Port names must be plain C identifiers that are not C++ keywords (all
//! lutcore ports are), so Verilator keeps them as the member names.

use std::ffi::{c_char, c_void};
use std::fmt::Write;

use std::path::Path;

use lutcore_contract::interface::{Dir, StreamPort};
use lutcore_gen::Port;

use crate::SimError;

/// The C symbol names of the shim.
pub mod symbols {
    /// `uint32_t lutcore_sim_port_count(void)`
    pub const PORT_COUNT: &str = "lutcore_sim_port_count";
    /// `void* lutcore_sim_new(void)`
    pub const NEW: &str = "lutcore_sim_new";
    /// `void lutcore_sim_free(void*)`
    pub const FREE: &str = "lutcore_sim_free";
    /// `uint32_t lutcore_sim_error(void*, char*, uint32_t)`
    pub const ERROR: &str = "lutcore_sim_error";
    /// `void lutcore_sim_eval(void*)`
    pub const EVAL: &str = "lutcore_sim_eval";
    /// `void lutcore_sim_tick(void*)`
    pub const TICK: &str = "lutcore_sim_tick";
    /// `void lutcore_sim_set(void*, uint32_t, const uint32_t*)`
    pub const SET: &str = "lutcore_sim_set";
    /// `void lutcore_sim_get(void*, uint32_t, uint32_t*)`
    pub const GET: &str = "lutcore_sim_get";
    /// `uint32_t lutcore_sim_stream_cycle(void*, uint32_t, const uint32_t*, const uint32_t*, uint32_t*)`
    /// (tops with the stream interface only)
    pub const STREAM_CYCLE: &str = "lutcore_sim_stream_cycle";
    /// `int lutcore_sim_trace_open(void*, const char*)` (trace builds only)
    pub const TRACE_OPEN: &str = "lutcore_sim_trace_open";
    /// `uint64_t lutcore_sim_trace_close(void*)` (trace builds only)
    pub const TRACE_CLOSE: &str = "lutcore_sim_trace_close";
}

/// The resolved functions of a loaded shim library, typed as [`cpp_shim_traced`] emits them.
pub(crate) struct Shim {
    pub(crate) port_count: unsafe extern "C" fn() -> u32,
    pub(crate) new: unsafe extern "C" fn() -> *mut c_void,
    pub(crate) free: unsafe extern "C" fn(*mut c_void),
    pub(crate) error: ErrorFn,
    pub(crate) eval: unsafe extern "C" fn(*mut c_void),
    pub(crate) tick: unsafe extern "C" fn(*mut c_void),
    pub(crate) set: unsafe extern "C" fn(*mut c_void, u32, *const u32),
    pub(crate) get: unsafe extern "C" fn(*mut c_void, u32, *mut u32),
    /// One clock of the stream protocol, for tops with the stream interface.
    pub(crate) stream_cycle: Option<StreamCycleFn>,
    /// The trace functions, in a trace build.
    pub(crate) trace: Option<TraceFns>,
    /// Keeps the function pointers above valid.
    _lib: libloading::Library,
}

/// `lutcore_sim_error(model, file, cap) -> line` (module docs).
pub(crate) type ErrorFn = unsafe extern "C" fn(*mut c_void, *mut c_char, u32) -> u32;

/// Bit of `lutcore_sim_stream_cycle`'s result: the model has reported an error.
pub(crate) const FIRED_ERROR: u32 = 1 << 3;

/// `lutcore_sim_stream_cycle(model, ctl, act, wgt, res) -> fired` (module docs).
pub(crate) type StreamCycleFn =
    unsafe extern "C" fn(*mut c_void, u32, *const u32, *const u32, *mut u32) -> u32;

/// The shim functions of a trace build.
pub(crate) struct TraceFns {
    pub(crate) format: TraceFormat,
    pub(crate) open: unsafe extern "C" fn(*mut c_void, *const c_char) -> i32,
    pub(crate) close: unsafe extern "C" fn(*mut c_void) -> u64,
}

impl Shim {
    /// Open the library at `path` and resolve every function of the shim:
    /// the trace functions of `trace`, and the stream cycle if `stream`.
    pub(crate) fn load(
        path: &Path,
        trace: Option<TraceFormat>,
        stream: bool,
    ) -> Result<Shim, SimError> {
        use symbols as sym;
        let err = |source| SimError::Load {
            path: path.to_path_buf(),
            source,
        };
        // SAFETY: the library is one this module built from the lutcore shim;
        // its initializers are Verilator's and the shim's static data only.
        let lib = unsafe { libloading::Library::new(path) }.map_err(err)?;
        // SAFETY: each symbol is looked up with the signature the shim
        // text of this module emits for it (the module docs give the ABI).
        unsafe {
            let new = *lib
                .get::<unsafe extern "C" fn() -> *mut c_void>(sym::NEW.as_bytes())
                .map_err(err)?;
            let free = *lib
                .get::<unsafe extern "C" fn(*mut c_void)>(sym::FREE.as_bytes())
                .map_err(err)?;
            let error = *lib.get::<ErrorFn>(sym::ERROR.as_bytes()).map_err(err)?;
            let eval = *lib
                .get::<unsafe extern "C" fn(*mut c_void)>(sym::EVAL.as_bytes())
                .map_err(err)?;
            let tick = *lib
                .get::<unsafe extern "C" fn(*mut c_void)>(sym::TICK.as_bytes())
                .map_err(err)?;
            let set = *lib
                .get::<unsafe extern "C" fn(*mut c_void, u32, *const u32)>(sym::SET.as_bytes())
                .map_err(err)?;
            let get = *lib
                .get::<unsafe extern "C" fn(*mut c_void, u32, *mut u32)>(sym::GET.as_bytes())
                .map_err(err)?;
            let port_count = *lib
                .get::<unsafe extern "C" fn() -> u32>(sym::PORT_COUNT.as_bytes())
                .map_err(err)?;
            let trace = match trace {
                None => None,
                Some(format) => {
                    let open = *lib
                        .get::<unsafe extern "C" fn(*mut c_void, *const c_char) -> i32>(
                            sym::TRACE_OPEN.as_bytes(),
                        )
                        .map_err(err)?;
                    let close = *lib
                        .get::<unsafe extern "C" fn(*mut c_void) -> u64>(
                            sym::TRACE_CLOSE.as_bytes(),
                        )
                        .map_err(err)?;
                    Some(TraceFns {
                        format,
                        open,
                        close,
                    })
                }
            };
            let stream_cycle = match stream {
                true => Some(
                    *lib.get::<StreamCycleFn>(sym::STREAM_CYCLE.as_bytes())
                        .map_err(err)?,
                ),
                false => None,
            };
            Ok(Shim {
                port_count,
                new,
                free,
                error,
                eval,
                tick,
                set,
                get,
                stream_cycle,
                trace,
                _lib: lib,
            })
        }
    }
}

/// Waveform format of a trace build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    /// GTKWave's compressed FST (Verilator `--trace-fst`; links zlib).
    Fst,
    /// Plain-text VCD (Verilator `--trace`).
    Vcd,
}

impl TraceFormat {
    /// The format a trace file name asks for: VCD for a `.vcd` extension
    /// (any case), FST otherwise.
    pub fn for_path(path: &std::path::Path) -> TraceFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("vcd") => TraceFormat::Vcd,
            _ => TraceFormat::Fst,
        }
    }

    /// The Verilator flag that enables it.
    pub fn verilator_flag(self) -> &'static str {
        match self {
            TraceFormat::Fst => "--trace-fst",
            TraceFormat::Vcd => "--trace",
        }
    }

    /// Verilator's trace class.
    fn class(self) -> &'static str {
        match self {
            TraceFormat::Fst => "VerilatedFstC",
            TraceFormat::Vcd => "VerilatedVcdC",
        }
    }

    /// Verilator's runtime unit (`include/<unit>.cpp` and `.h`) of the format.
    pub fn runtime_unit(self) -> &'static str {
        match self {
            TraceFormat::Fst => "verilated_fst_c",
            TraceFormat::Vcd => "verilated_vcd_c",
        }
    }
}

impl std::fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TraceFormat::Fst => "fst",
            TraceFormat::Vcd => "vcd",
        })
    }
}

/// Trace time units per model evaluation (half a clock cycle).
pub const TRACE_HALF_CYCLE: u64 = 5;
/// Trace time units per clock cycle (one `tick`, or a low and a high evaluation).
pub const TRACE_CYCLE: u64 = 2 * TRACE_HALF_CYCLE;

/// 32-bit words a port of `width` bits occupies in the shim's ABI.
pub fn port_words(width: u32) -> usize {
    width.div_ceil(32).max(1) as usize
}

/// Mask of the valid bits in the top word of a `width`-bit value.
fn top_mask(width: u32) -> String {
    match width % 32 {
        0 => "0xffffffffu".to_string(),
        r => format!("0x{:x}u", (1u64 << r) - 1),
    }
}

/// Verilator's storage class for a port of `width` bits.
enum Storage {
    /// `CData`, `SData` or `IData`: one word.
    Narrow(&'static str),
    /// `QData`: two words.
    Quad,
    /// `VlWide<N>`.
    Wide(usize),
}

fn storage(width: u32) -> Storage {
    match width {
        0..=8 => Storage::Narrow("CData"),
        9..=16 => Storage::Narrow("SData"),
        17..=32 => Storage::Narrow("IData"),
        33..=64 => Storage::Quad,
        _ => Storage::Wide(port_words(width)),
    }
}

/// Whether a top with `ports` has the stream interface (every port of
/// [`StreamPort::ALL`] with its direction), and so the
/// `lutcore_sim_stream_cycle` function. Widths depend on the config and are
/// checked by the driver ([`crate::gemv`]).
pub fn has_stream_interface(ports: &[Port]) -> bool {
    StreamPort::ALL
        .into_iter()
        .all(|s| ports.iter().any(|p| p.name == s.name() && p.dir == s.dir()))
}

/// C++ statements that copy the words at `src` into input port `p` of model `m`.
fn set_port(p: &Port, src: &str) -> Vec<String> {
    let (n, mask) = (&p.name, top_mask(p.width));
    match storage(p.width) {
        Storage::Narrow(ty) => vec![format!("m.{n} = static_cast<{ty}>({src}[0] & {mask});")],
        Storage::Quad => vec![format!(
            "m.{n} = (static_cast<QData>({src}[1] & {mask}) << 32) | static_cast<QData>({src}[0]);"
        )],
        Storage::Wide(words) => {
            let last = words - 1;
            vec![
                format!("for (int i = 0; i < {last}; ++i) m.{n}.m_storage[i] = {src}[i];"),
                format!("m.{n}.m_storage[{last}] = {src}[{last}] & {mask};"),
            ]
        }
    }
}

/// C++ statements that copy port `p` of model `m` into the words at `dst`.
fn get_port(p: &Port, dst: &str) -> Vec<String> {
    let (n, mask) = (&p.name, top_mask(p.width));
    match storage(p.width) {
        Storage::Narrow(_) => vec![format!("{dst}[0] = static_cast<uint32_t>(m.{n}) & {mask};")],
        Storage::Quad => {
            vec![
                format!("{dst}[0] = static_cast<uint32_t>(m.{n});"),
                format!("{dst}[1] = static_cast<uint32_t>(m.{n} >> 32) & {mask};"),
            ]
        }
        Storage::Wide(words) => {
            let last = words - 1;
            vec![
                format!("for (int i = 0; i < {last}; ++i) {dst}[i] = m.{n}.m_storage[i];"),
                format!("{dst}[{last}] = m.{n}.m_storage[{last}] & {mask};"),
            ]
        }
    }
}

/// The C++ shim for the Verilated top module `top` with `ports` (in the
/// order that defines the port indices). Deterministic: the same inputs give
/// the same text.
pub fn cpp_shim(top: &str, ports: &[Port]) -> String {
    cpp_shim_traced(top, ports, None)
}

/// [`cpp_shim`], plus the trace functions of the module docs when `trace`
/// is set (for a model Verilated with [`TraceFormat::verilator_flag`]).
/// With `None` the text is exactly [`cpp_shim`]'s.
pub fn cpp_shim_traced(top: &str, ports: &[Port], trace: Option<TraceFormat>) -> String {
    let class = format!("V{top}");
    let mut s = String::new();
    let w = &mut s;
    // `write!` into a String cannot fail.
    let _ = writeln!(w, "// lutcore simulation shim for top module `{top}`.");
    let _ = writeln!(
        w,
        "// Generated by lutcore-sim {}; do not edit.",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(w, "//");
    let _ = writeln!(w, "// Ports (index: name, direction, width, words):");
    for (i, p) in ports.iter().enumerate() {
        let dir = p.dir;
        let _ = writeln!(
            w,
            "//   {i}: {} {dir} {}b {}w",
            p.name,
            p.width,
            port_words(p.width)
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "#include <cstdint>");
    let _ = writeln!(w, "#include <cstdio>");
    let _ = writeln!(w, "#include <new>");
    let _ = writeln!(w, "#include <string>");
    let _ = writeln!(w);
    let _ = writeln!(w, "#include \"verilated.h\"");
    let _ = writeln!(w, "#include \"{class}.h\"");
    if let Some(t) = trace {
        let _ = writeln!(w, "#include \"{}.h\"", t.runtime_unit());
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "#define LUTCORE_EXPORT extern \"C\" __attribute__((visibility(\"default\")))"
    );
    let _ = writeln!(w);
    let _ = writeln!(w, "namespace {{");
    let _ = writeln!(
        w,
        "// One simulation: its own context, so several models can live in one process."
    );
    if trace.is_some() {
        let _ = writeln!(
            w,
            "// Tracing must be enabled on the context before the model is constructed."
        );
        let _ = writeln!(
            w,
            "VerilatedContext* trace_on(VerilatedContext* c) {{ c->traceEverOn(true); return c; }}"
        );
    }
    let _ = writeln!(w, "struct LutcoreSim {{");
    let _ = writeln!(w, "    VerilatedContext ctx;");
    let _ = writeln!(w, "    {class} model;");
    let _ = writeln!(
        w,
        "    // The first failed assertion: source file and line (0: none)."
    );
    let _ = writeln!(w, "    std::string error_file;");
    let _ = writeln!(w, "    uint32_t error_line = 0;");
    match trace {
        None => {
            let _ = writeln!(
                w,
                "    LutcoreSim() : ctx{{}}, model{{&ctx, \"{top}\"}} {{}}"
            );
        }
        Some(t) => {
            let _ = writeln!(w, "    {}* trace = nullptr;", t.class());
            let _ = writeln!(w, "    uint64_t trace_time = 0;");
            let _ = writeln!(
                w,
                "    LutcoreSim() : ctx{{}}, model{{trace_on(&ctx), \"{top}\"}} {{}}"
            );
            let _ = writeln!(w, "    void dump() {{");
            let _ = writeln!(w, "        if (!trace) return;");
            let _ = writeln!(w, "        trace->dump(trace_time);");
            let _ = writeln!(w, "        trace_time += {TRACE_HALF_CYCLE}u;");
            let _ = writeln!(w, "    }}");
            let _ = writeln!(w, "    uint64_t close_trace() {{");
            let _ = writeln!(w, "        if (!trace) return 0;");
            let _ = writeln!(w, "        trace->close();");
            let _ = writeln!(w, "        delete trace;");
            let _ = writeln!(w, "        trace = nullptr;");
            let _ = writeln!(w, "        return trace_time;");
            let _ = writeln!(w, "    }}");
        }
    }
    let _ = writeln!(w, "}};");
    let _ = writeln!(
        w,
        "// The simulation this thread entered last: where vl_stop records."
    );
    let _ = writeln!(w, "thread_local LutcoreSim* t_current = nullptr;");
    let _ = writeln!(
        w,
        "// Make the model's context the thread's (Verilator reports errors to it)."
    );
    let _ = writeln!(w, "inline LutcoreSim& sim_of(void* p) {{");
    let _ = writeln!(w, "    auto* s = static_cast<LutcoreSim*>(p);");
    let _ = writeln!(w, "    Verilated::threadContextp(&s->ctx);");
    let _ = writeln!(w, "    t_current = s;");
    let _ = writeln!(w, "    return *s;");
    let _ = writeln!(w, "}}");
    let _ = writeln!(
        w,
        "inline {class}& model_of(void* p) {{ return sim_of(p).model; }}"
    );
    let _ = writeln!(w, "}}  // namespace");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "// Verilator's handler of $stop and failed assertions (the runtime is built with"
    );
    let _ = writeln!(
        w,
        "// VL_USER_STOP): record the first one and keep running instead of aborting."
    );
    let _ = writeln!(
        w,
        "void vl_stop(const char* filename, int linenum, const char* hier) {{"
    );
    let _ = writeln!(w, "    (void)hier;");
    let _ = writeln!(w, "    Verilated::threadContextp()->gotError(true);");
    let _ = writeln!(w, "    LutcoreSim* s = t_current;");
    let _ = writeln!(w, "    if (!s || s->error_line != 0) return;");
    let _ = writeln!(w, "    s->error_file = filename ? filename : \"\";");
    let _ = writeln!(
        w,
        "    s->error_line = linenum > 0 ? static_cast<uint32_t>(linenum) : 1u;"
    );
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "LUTCORE_EXPORT uint32_t lutcore_sim_port_count(void) {{ return {}u; }}",
        ports.len()
    );
    let _ = writeln!(w);
    let _ = writeln!(w, "LUTCORE_EXPORT void* lutcore_sim_new(void) {{");
    let _ = writeln!(w, "    try {{");
    let _ = writeln!(w, "        return new LutcoreSim();");
    let _ = writeln!(w, "    }} catch (...) {{");
    let _ = writeln!(w, "        return nullptr;");
    let _ = writeln!(w, "    }}");
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);
    let _ = writeln!(w, "LUTCORE_EXPORT void lutcore_sim_free(void* p) {{");
    let _ = writeln!(w, "    if (!p) return;");
    let _ = writeln!(
        w,
        "    VerilatedContext* const prev = Verilated::threadContextp();"
    );
    let _ = writeln!(w, "    LutcoreSim* const s = &sim_of(p);");
    let _ = writeln!(w, "    VerilatedContext* const mine = &s->ctx;");
    let _ = writeln!(w, "    s->model.final();");
    if trace.is_some() {
        let _ = writeln!(w, "    s->close_trace();");
    }
    let _ = writeln!(w, "    delete s;");
    let _ = writeln!(w, "    t_current = nullptr;");
    let _ = writeln!(
        w,
        "    Verilated::threadContextp(prev == mine ? nullptr : prev);"
    );
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "LUTCORE_EXPORT uint32_t lutcore_sim_error(void* p, char* file, uint32_t cap) {{"
    );
    let _ = writeln!(
        w,
        "    const LutcoreSim& s = *static_cast<const LutcoreSim*>(p);"
    );
    let _ = writeln!(
        w,
        "    if (file && cap) std::snprintf(file, cap, \"%s\", s.error_file.c_str());"
    );
    let _ = writeln!(w, "    return s.error_line;");
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);
    if trace.is_some() {
        let _ = writeln!(w, "LUTCORE_EXPORT void lutcore_sim_eval(void* p) {{");
        let _ = writeln!(w, "    model_of(p).eval();");
        let _ = writeln!(w, "    sim_of(p).dump();");
        let _ = writeln!(w, "}}");
    } else {
        let _ = writeln!(
            w,
            "LUTCORE_EXPORT void lutcore_sim_eval(void* p) {{ model_of(p).eval(); }}"
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "LUTCORE_EXPORT void lutcore_sim_tick(void* p) {{");
    let _ = writeln!(w, "    {class}& m = model_of(p);");
    let clk = StreamPort::Clk.name();
    if ports.iter().any(|p| p.name == clk && p.dir == Dir::Input) {
        let _ = writeln!(w, "    m.{clk} = 0;");
        let _ = writeln!(w, "    m.eval();");
        if trace.is_some() {
            let _ = writeln!(w, "    sim_of(p).dump();");
        }
        let _ = writeln!(w, "    m.{clk} = 1;");
    } else {
        let _ = writeln!(w, "    // no {clk} port: a tick is one evaluation");
    }
    let _ = writeln!(w, "    m.eval();");
    if trace.is_some() {
        let _ = writeln!(w, "    sim_of(p).dump();");
    }
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);
    if let Some(t) = trace {
        let _ = writeln!(
            w,
            "LUTCORE_EXPORT int lutcore_sim_trace_open(void* p, const char* path) {{"
        );
        let _ = writeln!(w, "    LutcoreSim& s = sim_of(p);");
        let _ = writeln!(w, "    s.close_trace();");
        let _ = writeln!(w, "    try {{");
        let _ = writeln!(w, "        auto* t = new {}();", t.class());
        let _ = writeln!(w, "        s.model.trace(t, 99);");
        let _ = writeln!(w, "        t->open(path);");
        let _ = writeln!(w, "        if (!t->isOpen()) {{");
        let _ = writeln!(w, "            delete t;");
        let _ = writeln!(w, "            return 1;");
        let _ = writeln!(w, "        }}");
        let _ = writeln!(w, "        s.trace = t;");
        let _ = writeln!(w, "        s.trace_time = 0;");
        let _ = writeln!(w, "        return 0;");
        let _ = writeln!(w, "    }} catch (...) {{");
        let _ = writeln!(w, "        return 2;");
        let _ = writeln!(w, "    }}");
        let _ = writeln!(w, "}}");
        let _ = writeln!(w);
        let _ = writeln!(w, "LUTCORE_EXPORT uint64_t lutcore_sim_trace_close(void* p) {{ return sim_of(p).close_trace(); }}");
        let _ = writeln!(w);
    }

    // set
    let _ = writeln!(
        w,
        "LUTCORE_EXPORT void lutcore_sim_set(void* p, uint32_t port, const uint32_t* w) {{"
    );
    let _ = writeln!(w, "    {class}& m = model_of(p);");
    let _ = writeln!(w, "    switch (port) {{");
    for (i, p) in ports
        .iter()
        .enumerate()
        .filter(|(_, p)| p.dir == Dir::Input)
    {
        let _ = writeln!(w, "    case {i}:");
        for line in set_port(p, "w") {
            let _ = writeln!(w, "        {line}");
        }
        let _ = writeln!(w, "        break;");
    }
    let _ = writeln!(
        w,
        "    default: break;  // outputs and unknown ports are not settable"
    );
    let _ = writeln!(w, "    }}");
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);

    // get
    let _ = writeln!(
        w,
        "LUTCORE_EXPORT void lutcore_sim_get(void* p, uint32_t port, uint32_t* w) {{"
    );
    let _ = writeln!(w, "    const {class}& m = model_of(p);");
    let _ = writeln!(w, "    switch (port) {{");
    for (i, p) in ports.iter().enumerate() {
        let _ = writeln!(w, "    case {i}:");
        for line in get_port(p, "w") {
            let _ = writeln!(w, "        {line}");
        }
        let _ = writeln!(w, "        break;");
    }
    let _ = writeln!(w, "    default: break;");
    let _ = writeln!(w, "    }}");
    let _ = writeln!(w, "}}");
    if has_stream_interface(ports) {
        let port = |s: StreamPort| {
            ports
                .iter()
                .find(|p| p.name == s.name())
                .expect("checked by has_stream_interface")
        };
        let n = |s: StreamPort| s.name();
        use StreamPort::{
            ActData, ActLast, ActReady, ActValid, Clk, ResData, ResReady, ResValid, WgtData,
            WgtReady, WgtValid,
        };
        let dump = if trace.is_some() {
            "\n    sim_of(p).dump();"
        } else {
            ""
        };
        let body = |lines: Vec<String>, indent: &str| {
            lines
                .into_iter()
                .map(|l| format!("{indent}{l}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "// One clock of the stream protocol (see lutcore_sim::shim)."
        );
        let _ = writeln!(
            w,
            "LUTCORE_EXPORT uint32_t {}(void* p, uint32_t ctl, const uint32_t* act, const uint32_t* wgt, uint32_t* res) {{",
            symbols::STREAM_CYCLE
        );
        let _ = writeln!(w, "    LutcoreSim& s = sim_of(p);");
        let _ = writeln!(w, "    {class}& m = s.model;");
        let _ = writeln!(
            w,
            "    if (act) {{\n{}\n    }}",
            body(set_port(port(ActData), "act"), "        ")
        );
        let _ = writeln!(w, "    m.{} = ctl & 1u;", n(ActValid));
        let _ = writeln!(w, "    m.{} = (ctl >> 1) & 1u;", n(ActLast));
        let _ = writeln!(w, "    m.{} = (ctl >> 2) & 1u;", n(WgtValid));
        let _ = writeln!(w, "    m.{} = 0;", n(Clk));
        let _ = writeln!(w, "    m.eval();{dump}");
        let _ = writeln!(
            w,
            "    const uint32_t res_taken = m.{} & m.{} & 1u;",
            n(ResValid),
            n(ResReady)
        );
        let _ = writeln!(
            w,
            "    const uint32_t fired = (m.{} & m.{} & 1u) | ((m.{} & m.{} & 1u) << 1) | (res_taken << 2);",
            n(ActValid),
            n(ActReady),
            n(WgtValid),
            n(WgtReady)
        );
        let _ = writeln!(
            w,
            "    if (res_taken) {{\n{}\n    }}",
            body(get_port(port(ResData), "res"), "        ")
        );
        let _ = writeln!(
            w,
            "    if (wgt) {{\n{}\n    }}",
            body(set_port(port(WgtData), "wgt"), "        ")
        );
        let _ = writeln!(w, "    m.{} = 1;", n(Clk));
        let _ = writeln!(w, "    m.eval();{dump}");
        let _ = writeln!(
            w,
            "    return fired | (s.error_line != 0 ? {FIRED_ERROR}u : 0u);"
        );
        let _ = writeln!(w, "}}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports() -> Vec<Port> {
        vec![
            Port::input("clk_i", 1, "clock"),
            Port::input("narrow_i", 12, ""),
            Port::output("word_o", 32, ""),
            Port::input("quad_i", 40, ""),
            Port::output("wide_o", 100, ""),
            Port::input("wide_i", 128, ""),
        ]
    }

    #[test]
    fn shim_is_deterministic_and_mentions_every_port() {
        let a = cpp_shim("my_top", &ports());
        let b = cpp_shim("my_top", &ports());
        assert_eq!(a, b);
        assert!(a.contains("#include \"Vmy_top.h\"") && a.contains("#include \"verilated.h\""));
        for p in ports() {
            assert!(
                a.contains(&format!("m.{}", p.name)),
                "port {} missing",
                p.name
            );
        }
        for sym in [
            symbols::PORT_COUNT,
            symbols::NEW,
            symbols::FREE,
            symbols::EVAL,
            symbols::TICK,
            symbols::SET,
            symbols::GET,
        ] {
            assert!(a.contains(&format!("{sym}(")), "symbol {sym} missing");
        }
        assert!(a.contains("lutcore_sim_port_count(void) { return 6u; }"));
        assert!(!a.contains("trace"), "a normal build has no tracing");
        assert_eq!(cpp_shim_traced("my_top", &ports(), None), a);
    }

    #[test]
    fn trace_builds_add_the_trace_functions() {
        for (fmt, class) in [
            (TraceFormat::Fst, "VerilatedFstC"),
            (TraceFormat::Vcd, "VerilatedVcdC"),
        ] {
            let s = cpp_shim_traced("my_top", &ports(), Some(fmt));
            assert!(
                s.contains(&format!("#include \"{}.h\"", fmt.runtime_unit())),
                "{s}"
            );
            assert!(s.contains(&format!("new {class}()")) && s.contains("traceEverOn(true)"));
            assert!(s.contains(&format!(
                "{}(void* p, const char* path)",
                symbols::TRACE_OPEN
            )));
            assert!(s.contains(&format!("{}(void* p)", symbols::TRACE_CLOSE)));
            // low and high evaluation of a tick, and eval, each dump
            assert_eq!(s.matches("sim_of(p).dump();").count(), 3);
        }
        assert_eq!(
            TraceFormat::for_path(std::path::Path::new("a/b.VCD")),
            TraceFormat::Vcd
        );
        assert_eq!(
            TraceFormat::for_path(std::path::Path::new("w.fst")),
            TraceFormat::Fst
        );
        assert_eq!(
            TraceFormat::for_path(std::path::Path::new("w")),
            TraceFormat::Fst
        );
    }

    #[test]
    fn widths_map_to_verilator_storage_and_masks() {
        let s = cpp_shim("t", &ports());
        assert!(s.contains(
            "case 1:\n        m.narrow_i = static_cast<SData>(w[0] & 0xfffu);\n        break;"
        ));
        assert!(s.contains("case 3:\n        m.quad_i = (static_cast<QData>(w[1] & 0xffu) << 32)"));
        assert!(s.contains("m.wide_i.m_storage[3] = w[3] & 0xffffffffu;"));
        assert!(s.contains("w[3] = m.wide_o.m_storage[3] & 0xfu;"));
        // outputs are never assigned
        assert!(!s.contains("m.word_o ="));
        assert!(s.contains("m.clk_i = 1;"));
        let no_clk = cpp_shim("t", &ports()[1..]);
        assert!(!no_clk.contains("clk_i = 1"));
        assert_eq!(port_words(1), 1);
        assert_eq!(port_words(64), 2);
        assert_eq!(port_words(65), 3);
    }

    #[test]
    fn stream_tops_get_the_cycle_function() {
        assert!(
            !cpp_shim("t", &ports()).contains(symbols::STREAM_CYCLE),
            "no stream interface, no cycle function"
        );
        let cfg = lutcore_contract::config::preset("default").expect("preset");
        let stream = lutcore_gen::top_ports(&cfg);
        assert!(has_stream_interface(&stream));
        let s = cpp_shim("t", &stream);
        let f = &s[s.find(symbols::STREAM_CYCLE).expect("cycle function")..];
        // low evaluation, sample, weight beat, high evaluation, in this order
        let at = |needle: &str| f.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
        assert!(at("m.clk_i = 0;") < at("m.eval();"));
        assert!(
            at("m.eval();") < at("res_taken <<")
                && at("res_taken <<") < at("m.wgt_data_i.m_storage")
        );
        assert!(at("m.wgt_data_i.m_storage") < at("m.clk_i = 1;"));
        assert_eq!(f.matches("m.eval();").count(), 2);
        let traced = cpp_shim_traced("t", &stream, Some(TraceFormat::Fst));
        let f = &traced[traced.find(symbols::STREAM_CYCLE).expect("cycle function")..];
        assert_eq!(
            f.matches("sim_of(p).dump();").count(),
            2,
            "a traced cycle dumps both evaluations"
        );
    }
}
