//! Hand-written Verilog that instantiates a generated array connects exactly
//! the stream interface of `lutcore_contract::interface`: the board top (also
//! checked whenever `lutcore_sim::board::board_design` builds it) and the
//! formal pass check. A renamed, missing or extra port fails here, naming the
//! file, the instance and the port. Likewise the formal controller check
//! against the generated controller's ports, and the cocotb example's port
//! names against the interface.

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

/// The formal controller check (`scripts/formal/ctrl_check.sv`) connects
/// every port of the generated `lutcore_ctrl` (the LUT controller with bit
/// planes, which has them all) exactly once, and no other.
#[test]
fn the_formal_ctrl_checks_dut_has_the_controllers_ports() {
    let file = "scripts/formal/ctrl_check.sv";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Every `ifdef branch at once: the LUT controller with bit planes has every port.
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('`'))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut conns = lutcore_contract::interface::instance_connections(file, &text, "dut")
        .unwrap_or_else(|e| panic!("{e}"));
    let cfg = lutcore_contract::config::preset("tiny").expect("tiny");
    assert!(cfg.beats_per_tile() > 1, "tiny has bit planes (plane_o)");
    let mut ports: Vec<String> = lutcore_gen::control::module(&cfg)
        .ports
        .into_iter()
        .map(|p| p.name)
        .collect();
    conns.sort();
    ports.sort();
    assert_eq!(conns, ports, "{file}: instance dut vs lutcore_ctrl's ports");
}

/// The cocotb example (`examples/cocotb/test_stream.py`) drives and reads
/// every port of the stream interface, and only those.
#[test]
fn the_cocotb_example_uses_the_stream_ports() {
    use lutcore_contract::interface::StreamPort;
    let file = "examples/cocotb/test_stream.py";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut used: Vec<&str> = text
        .match_indices("dut.")
        .map(|(at, _)| {
            let rest = &text[at + 4..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| !name.starts_with('_'))
        .collect();
    used.sort();
    used.dedup();
    let mut want: Vec<&str> = StreamPort::ALL.into_iter().map(|p| p.name()).collect();
    want.sort();
    assert_eq!(used, want, "{file}: the dut's ports it uses");
}
