//! Verilator coverage builds ([`BuildOptions::coverage`](crate::BuildOptions)):
//! the model is Verilated with `--coverage` (line and toggle points) and
//! linked with Verilator's coverage runtime plus one exported function that
//! writes the counters; [`write_coverage`] calls it. Read the file with
//! `verilator_coverage` (or `scripts/coverage.sh`, which summarizes it per
//! module).

use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::library::{SimLibrary, LIBRARY_NAME};
use crate::SimError;

/// The Verilator flag of a coverage build.
pub const VERILATOR_FLAG: &str = "--coverage";

/// Symbol of the exported writer.
const WRITE_SYMBOL: &str = "lutcore_sim_coverage_write";

/// The extra translation unit of a coverage build: Verilator's coverage
/// runtime and the exported writer, written into `obj`. Returns its
/// `(source, object)` compile job.
pub(crate) fn sources(obj: &Path) -> Result<Vec<(PathBuf, PathBuf)>, SimError> {
    let src = obj.join("lutcore_coverage.cpp");
    let text = format!(
        "// lutcore coverage build: Verilator's coverage runtime and a C entry point.\n\
         #include \"verilated_cov.cpp\"\n\
         extern \"C\" __attribute__((visibility(\"default\"))) int {WRITE_SYMBOL}(const char* path) {{\n\
         \x20   Verilated::threadContextp()->coveragep()->write(path);\n\
         \x20   return 0;\n\
         }}\n"
    );
    fs::write(&src, text).map_err(|source| SimError::Io {
        what: "writing",
        path: src.clone(),
        source,
    })?;
    let obj_file = src.with_extension("o");
    Ok(vec![(src, obj_file)])
}

/// Write the coverage counters of every model of `lib` (a coverage build)
/// to `path` (Verilator's `coverage.dat` format). Errors if `lib` is not a
/// coverage build.
pub fn write_coverage(lib: &SimLibrary, path: &Path) -> Result<(), SimError> {
    let so = lib.dir().join(LIBRARY_NAME);
    let err = |source| SimError::Load {
        path: so.clone(),
        source,
    };
    // SAFETY: the library is already loaded by `lib` (this only takes another
    // reference); it is one this crate built from the lutcore shim.
    let handle = unsafe { libloading::Library::new(&so) }.map_err(err)?;
    // SAFETY: a coverage build exports this symbol with exactly this signature.
    let write = unsafe {
        handle.get::<unsafe extern "C" fn(*const std::ffi::c_char) -> i32>(WRITE_SYMBOL.as_bytes())
    }
    .map_err(err)?;
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| SimError::Port {
        port: "coverage".into(),
        detail: "the path contains a NUL byte".into(),
    })?;
    // SAFETY: a NUL-terminated path that outlives the call; the writer only
    // reads the counters of this library's models.
    unsafe { write(c_path.as_ptr()) };
    Ok(())
}
