//! Files a command writes: checked before any work (never a folder, never an
//! input, never another output, creatable: [`check_outputs`]) and written whole
//! through a temporary file ([`write_atomic`], [`write_json`]). `model_cmd`'s
//! `OutputFile` streams large files (models, logits) the same way.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The folders `path` would be created in: the nearest one that exists must be a
/// folder (not a file), so that creating the rest can work; a clear error otherwise.
pub(crate) fn check_parent_folders(flag: &str, path: &Path) -> Result<()> {
    for dir in path
        .ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
    {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => bail!(
                "{flag} {}: {} is a file, not a folder, so nothing can be created under it",
                path.display(),
                dir.display()
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                continue
            }
            Err(e) => bail!(
                "{flag} {}: cannot use the folder {}: {e}",
                path.display(),
                dir.display()
            ),
        }
    }
    Ok(())
}

/// Whether `a` and `b` name the same file: the same inode if both exist, else the
/// same [`resolved`] path.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        return x.dev() == y.dev() && x.ino() == y.ino();
    }
    matches!((resolved(a), resolved(b)), (Some(x), Some(y)) if x == y)
}

/// `p` as the absolute path it will name once its missing folders are created:
/// the deepest part that exists is canonicalized (symlinks, `..`), the rest is
/// applied one component at a time, a `..` there going up one level (the folders
/// it leaves are created as real folders, not links). So `new/../c.json` is
/// `c.json` even before `new/` exists.
fn resolved(p: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let abs = std::path::absolute(p).ok()?;
    let parts: Vec<Component> = abs.components().collect();
    (1..=parts.len()).rev().find_map(|exists| {
        let mut real = std::fs::canonicalize(parts[..exists].iter().collect::<PathBuf>()).ok()?;
        for part in &parts[exists..] {
            match part {
                Component::ParentDir => {
                    real.pop();
                }
                Component::Normal(name) => real.push(name),
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        Some(real)
    })
}

/// Check an output file before any work: not a folder, creatable (no file where a
/// parent folder should be), and none of `inputs` (flag, path), which it would clobber.
pub(crate) fn check_output(flag: &str, out: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    if out.is_dir() {
        bail!("{flag} {} is a folder; give a file name", out.display());
    }
    check_parent_folders(flag, out)?;
    check_not_input(flag, out, inputs)
}

/// Error if the output `out` (given by `flag`) is the same file as one of
/// `inputs` (flag or description, path), which writing it would clobber.
pub(crate) fn check_not_input(flag: &str, out: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    if let Some((iflag, input)) = inputs.iter().find(|(_, i)| same_file(out, i)) {
        bail!(
            "{flag} {} is the same file as {iflag} {}: an output must not overwrite an input",
            out.display(),
            input.display()
        );
    }
    Ok(())
}

/// Check every output file of a command, `(flag, path)` for those given: each as
/// [`check_output`] against `inputs`, and no two of them the same file.
pub(crate) fn check_outputs(
    outputs: &[(&str, Option<&Path>)],
    inputs: &[(&str, &Path)],
) -> Result<()> {
    let given: Vec<(&str, &Path)> = outputs
        .iter()
        .filter_map(|&(flag, path)| path.map(|p| (flag, p)))
        .collect();
    for (i, &(flag, path)) in given.iter().enumerate() {
        check_output(flag, path, inputs)?;
        if let Some((other, earlier)) = given[..i]
            .iter()
            .find(|(_, earlier)| same_file(earlier, path))
        {
            bail!(
                "{other} {} and {flag} {} are the same file",
                earlier.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Create the folder an output file will be written into, if missing.
pub(crate) fn create_parent_dir(path: &Path) -> Result<()> {
    check_parent_folders("output", path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// Write `value` as pretty JSON to `path` with [`write_atomic`].
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    create_parent_dir(path)?;
    write_atomic(path, &(serde_json::to_string_pretty(value)? + "\n"))
}

/// A new temporary file in `dir`, for an output renamed over its target when
/// complete (`.lutcore-*.part`). Read-write for all before the umask, as
/// `fs::write` creates files (not a temporary file's 0600), so the renamed
/// output has the permissions of any new file.
pub(crate) fn temp_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(".lutcore-")
        .suffix(".part")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
}

/// Write `text` to `path` through a temporary file in the same folder (created if
/// missing), renamed over `path` when complete: a reader sees the old file or the
/// whole new one.
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = temp_file_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_checks_refuse_folders_inputs_and_files_as_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in.json");
        std::fs::write(&input, "{}").unwrap();
        let e = check_output("--json", &input, &[("--config", &input)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("same file as --config"), "{e}");
        // The same file under another name.
        let other = tmp.path().join(".").join("in.json");
        assert!(check_output("--json", &other, &[("--config", &input)]).is_err());
        let e = check_output("--json", tmp.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a folder"), "{e}");
        let e = check_output("--json", &input.join("x/y.json"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a file, not a folder"), "{e}");
        check_output(
            "--json",
            &tmp.path().join("new/dir/out.json"),
            &[("--config", &input)],
        )
        .unwrap();
        let (json, trace) = (tmp.path().join("r.json"), tmp.path().join("./r.json"));
        let e = check_outputs(
            &[
                ("--json", Some(&json)),
                ("--trace", None),
                ("--out", Some(&trace)),
            ],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--json") && e.contains("--out") && e.contains("same file"),
            "{e}"
        );
        check_outputs(
            &[
                ("--json", Some(&json)),
                ("--trace", Some(&tmp.path().join("w.vcd"))),
            ],
            &[("--config", &input)],
        )
        .unwrap();
        assert!(same_file(
            &tmp.path().join("a/../b.json"),
            &tmp.path().join("a/../b.json")
        ));
        // Through a folder that does not exist yet: `new/..` is the folder itself.
        let e = check_output(
            "--json",
            &tmp.path().join("new/../in.json"),
            &[("--config", &input)],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("same file as --config"), "{e}");
        assert!(same_file(
            &tmp.path().join("x/y/../../b.json"),
            &tmp.path().join("b.json")
        ));
        assert!(!same_file(
            &tmp.path().join("x/../y/b.json"),
            &tmp.path().join("b.json")
        ));

        let out = tmp.path().join("sub").join("r.json");
        write_json(&out, &serde_json::json!({"a": 1})).unwrap();
        write_json(&out, &serde_json::json!({"a": 2})).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\n  \"a\": 2\n}\n");
        assert_eq!(
            std::fs::read_dir(out.parent().unwrap()).unwrap().count(),
            1,
            "no temporary file left behind"
        );
        // The mode a plain write gives (0666 less the umask), not a temporary file's 0600.
        use std::os::unix::fs::PermissionsExt;
        let plain = tmp.path().join("plain.json");
        std::fs::write(&plain, "{}").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), mode(&plain));
    }
}
