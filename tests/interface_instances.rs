//! Hand-written Verilog that instantiates a generated array connects exactly
//! the stream interface of `lutcore_contract::interface`: the board top (also
//! checked whenever `lutcore_sim::board::board_design` builds it) and the
//! formal pass check. A renamed, missing or extra port fails here, naming the
//! file, the instance and the port.

use std::path::Path;

use lutcore_contract::interface::check_instance;

fn check(file: &str, instance: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    check_instance(file, &text, instance).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_board_tops_array_instance_has_the_stream_interface() {
    check("hdl/lutcore_board.v", lutcore_sim::board::ARRAY_INSTANCE);
}

#[test]
fn the_formal_pass_checks_dut_has_the_stream_interface() {
    check("scripts/formal/pass_check.sv", "dut");
}

/// The port table of `docs/interface.md` names every port of the interface,
/// with its direction, and no other.
#[test]
fn the_integrators_port_table_lists_the_interface() {
    use lutcore_contract::interface::{Dir, StreamPort};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/interface.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = text.find("## Ports").expect("a `## Ports` section");
    let section = &text[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut listed = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let names: Vec<&str> = cells[1]
            .split(',')
            .map(|n| n.trim().trim_matches('`'))
            .collect();
        let dirs: Vec<&str> = cells[2].split(',').map(str::trim).collect();
        assert_eq!(
            names.len(),
            dirs.len(),
            "row `{row}`: one direction per port"
        );
        for (name, dir) in names.into_iter().zip(dirs) {
            let port = StreamPort::from_name(name)
                .unwrap_or_else(|| panic!("docs/interface.md lists `{name}`, not a stream port"));
            let want = if port.dir() == Dir::Input {
                "in"
            } else {
                "out"
            };
            assert_eq!(dir, want, "docs/interface.md: direction of `{name}`");
            listed.push(port);
        }
    }
    for p in StreamPort::ALL {
        assert_eq!(
            listed.iter().filter(|&&l| l == p).count(),
            1,
            "docs/interface.md lists `{p}` once"
        );
    }
}
