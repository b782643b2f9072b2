//! Every branch of `scripts/deps.sh` (the installer behind `make deps`), driven with
//! stub `dpkg-query`, `apt-get`, `id` and `sudo` commands on a PATH of their own, so
//! the machine's packages are never touched. The stubs keep a package database in a
//! text file (`name version` per line) and log every apt-get/sudo call.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A sandbox: a bin folder with the stubs and links to the few real tools the script uses.
struct Sandbox {
    dir: tempfile::TempDir,
}

const STUB_DPKG_QUERY: &str = r#"#!/bin/bash
# dpkg-query -W -f=FORMAT PKG: "install ok installed VERSION" or exit 1 (never seen)
pkg=${!#}
line=$(grep "^$pkg " "$STUB_DIR/db" 2>/dev/null | head -n 1)
[ -n "$line" ] || { echo "dpkg-query: no packages found matching $pkg" >&2; exit 1; }
printf 'install ok installed %s' "${line#* }"
"#;

const STUB_APT_GET: &str = r#"#!/bin/bash
echo "apt-get $*" >> "$STUB_DIR/calls"
case "$*" in
  *update*) exit "${STUB_UPDATE_RC:-0}" ;;
esac
pinned=0
for a in "$@"; do case "$a" in *=*) pinned=1 ;; esac; done
[ "$pinned" = 1 ] && [ "${STUB_PINNED_RC:-0}" != 0 ] && { echo "E: Version not found" >&2; exit "$STUB_PINNED_RC"; }
[ "${STUB_INSTALL_RC:-0}" != 0 ] && { echo "E: Unable to locate package" >&2; exit "$STUB_INSTALL_RC"; }
for a in "$@"; do
  case "$a" in
    -*|install) ;;
    *=*) echo "${a%%=*} ${a#*=}" >> "$STUB_DIR/db" ;;
    *) echo "$a 9.9-archive" >> "$STUB_DIR/db" ;;
  esac
done
"#;

const STUB_ID: &str = "#!/bin/bash\necho \"${STUB_UID:-0}\"\n";
const STUB_SUDO: &str = "#!/bin/bash\necho \"sudo $*\" >> \"$STUB_DIR/calls\"\nexec \"$@\"\n";

impl Sandbox {
    /// Stubs for `dpkg-query`, `apt-get` and `id`; `sudo` only when `with_sudo`;
    /// `dpkg-query` only when `debian`. `db` lists the installed packages.
    fn new(db: &str, with_sudo: bool, debian: bool) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        let mut stubs = vec![("apt-get", STUB_APT_GET), ("id", STUB_ID)];
        if debian {
            stubs.push(("dpkg-query", STUB_DPKG_QUERY));
        }
        if with_sudo {
            stubs.push(("sudo", STUB_SUDO));
        }
        for (name, text) in stubs {
            let p = bin.join(name);
            fs::write(&p, text).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        for tool in ["bash", "cat", "env", "grep", "head", "mktemp", "rm", "tail"] {
            let real = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| Path::new(d).join(tool))
                .find(|p| p.exists());
            std::os::unix::fs::symlink(
                real.unwrap_or_else(|| panic!("{tool} not found")),
                bin.join(tool),
            )
            .unwrap();
        }
        fs::write(dir.path().join("db"), db).unwrap();
        Sandbox { dir }
    }

    fn run(&self, env: &[(&str, &str)], specs: &[&str]) -> Output {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/deps.sh");
        let mut cmd = Command::new("/bin/bash");
        cmd.arg(script).args(specs).env_clear();
        cmd.env("PATH", self.dir.path().join("bin"))
            .env("STUB_DIR", self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("running deps.sh")
    }

    fn calls(&self) -> String {
        fs::read_to_string(self.dir.path().join("calls")).unwrap_or_default()
    }

    fn db(&self) -> String {
        fs::read_to_string(self.dir.path().join("db")).unwrap()
    }
}

const SPECS: &[&str] = &["verilator=5.006-3", "yosys=0.23-6"];

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn all_present_is_quiet_and_installs_nothing() {
    let s = Sandbox::new("verilator 5.006-3\nyosys 0.23-6\n", false, true);
    let o = s.run(&[], SPECS);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
    assert_eq!(s.calls(), "");
}

#[test]
fn another_version_is_kept_with_a_note() {
    let s = Sandbox::new("verilator 5.020-1\nyosys 0.23-6\n", false, true);
    let o = s.run(&[], SPECS);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("verilator 5.020-1 installed (pinned 5.006-3); keeping it"),
        "{err}"
    );
    assert_eq!(s.calls(), "");
}

#[test]
fn missing_packages_are_installed_at_the_pinned_version() {
    // Only yosys is installed: dpkg-query exits 1 for verilator, which must mean "missing".
    let s = Sandbox::new("yosys 0.23-6\n", false, true);
    let o = s.run(&[], SPECS);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("deps: installing verilator=5.006-3"), "{out}");
    assert!(out.contains("deps: verilator 5.006-3"), "{out}");
    let calls = s.calls();
    assert!(calls.contains("apt-get update"), "{calls}");
    assert!(
        calls.contains("install -y -qq --no-install-recommends verilator=5.006-3\n"),
        "{calls}"
    );
    assert!(
        !calls.contains("yosys"),
        "an installed package was installed again: {calls}"
    );
}

#[test]
fn unavailable_pin_falls_back_to_the_archive_version() {
    let s = Sandbox::new("", false, true);
    let o = s.run(&[("STUB_PINNED_RC", "100")], SPECS);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(err.contains("pinned versions unavailable"), "{err}");
    assert!(
        out.contains("deps: verilator 9.9-archive") && out.contains("deps: yosys 9.9-archive"),
        "{out}"
    );
    assert!(s.db().contains("verilator 9.9-archive"));
}

#[test]
fn apt_install_failure_says_what_to_do() {
    let s = Sandbox::new("", false, true);
    let o = s.run(
        &[("STUB_PINNED_RC", "100"), ("STUB_INSTALL_RC", "100")],
        SPECS,
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("apt-get install verilator yosys failed")
            && err.contains("install them by hand"),
        "{err}"
    );
    assert!(
        err.contains("Unable to locate package"),
        "apt's own message is shown: {err}"
    );
}

#[test]
fn apt_update_failure_says_what_to_do() {
    let s = Sandbox::new("", false, true);
    let o = s.run(&[("STUB_UPDATE_RC", "100")], SPECS);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("apt-get update failed") && err.contains("apt-get install verilator yosys"),
        "{err}"
    );
    assert!(
        !s.calls().contains("install"),
        "no install after a failed update"
    );
}

#[test]
fn not_root_without_sudo_is_refused_with_the_command_to_run() {
    let s = Sandbox::new("yosys 0.23-6\n", false, true);
    let o = s.run(&[("STUB_UID", "1000")], SPECS);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "missing verilator; run as root or install them yourself: apt-get install verilator"
        ),
        "{err}"
    );
    assert_eq!(s.calls(), "");
}

#[test]
fn not_root_with_sudo_installs_through_sudo() {
    let s = Sandbox::new("", true, true);
    let o = s.run(&[("STUB_UID", "1000")], SPECS);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let calls = s.calls();
    assert!(
        calls.contains("sudo env DEBIAN_FRONTEND=noninteractive apt-get update")
            && calls.contains("sudo env DEBIAN_FRONTEND=noninteractive apt-get install"),
        "{calls}"
    );
}

#[test]
fn a_system_without_dpkg_is_told_to_install_by_hand() {
    let s = Sandbox::new("", false, false);
    let o = s.run(&[], SPECS);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not a Debian-like system") && err.contains("verilator=5.006-3"),
        "{err}"
    );
}
