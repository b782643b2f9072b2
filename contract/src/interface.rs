//! The stream interface every generated array top has, described once.
//!
//! Three valid/ready streams (activation beats in, weight beats in, result
//! beats out) plus clock and reset. [`StreamPort`] names each port and gives
//! its direction, its width as a function of the [`ArrayConfig`] and the doc
//! text the generator prints beside it; [`StreamPort::ALL`] is the order of
//! the top module's port list. Beat layouts, the pass sequence and latency are
//! specified for integrators in `docs/interface.md`; the beat packing itself is
//! [`crate::layout`].
//!
//! Everything that names these ports derives from this description: the
//! generator builds the top's ports (and the controller's handshake ports)
//! from it and checks the result with [`check_ports`]; the simulator's shim and
//! driver look the ports up through it; hand-written Verilog that instantiates
//! an array (the board top) is held to it by [`check_instance`].

use std::fmt;

use serde::Serialize;

use crate::config::{ArrayConfig, RESULT_BITS};

/// Port direction, as seen from the module that has the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// `input`
    Input,
    /// `output`
    Output,
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dir::Input => "input",
            Dir::Output => "output",
        })
    }
}

/// One port of the stream interface. The declaration order is the port order
/// of every array top ([`StreamPort::ALL`], [`StreamPort::index`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamPort {
    /// `clk_i`: the clock.
    Clk,
    /// `rst_ni`: asynchronous reset, active low.
    RstN,
    /// `act_valid_i`: an activation beat is offered.
    ActValid,
    /// `act_ready_o`: the array takes the offered activation beat.
    ActReady,
    /// `act_last_i`: the offered activation beat ends the pass.
    ActLast,
    /// `act_data_i`: one activation beat.
    ActData,
    /// `wgt_valid_i`: a weight beat is offered.
    WgtValid,
    /// `wgt_ready_o`: the array takes the offered weight beat.
    WgtReady,
    /// `wgt_data_i`: one weight beat.
    WgtData,
    /// `res_valid_o`: a result beat is offered.
    ResValid,
    /// `res_ready_i`: the consumer takes the offered result beat.
    ResReady,
    /// `res_data_o`: one result beat.
    ResData,
}

impl StreamPort {
    /// Every port, in the order of the top module's port list.
    pub const ALL: [StreamPort; 12] = [
        StreamPort::Clk,
        StreamPort::RstN,
        StreamPort::ActValid,
        StreamPort::ActReady,
        StreamPort::ActLast,
        StreamPort::ActData,
        StreamPort::WgtValid,
        StreamPort::WgtReady,
        StreamPort::WgtData,
        StreamPort::ResValid,
        StreamPort::ResReady,
        StreamPort::ResData,
    ];

    /// Position in [`StreamPort::ALL`] (and in the top's port list).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The Verilog port name.
    pub fn name(self) -> &'static str {
        match self {
            StreamPort::Clk => "clk_i",
            StreamPort::RstN => "rst_ni",
            StreamPort::ActValid => "act_valid_i",
            StreamPort::ActReady => "act_ready_o",
            StreamPort::ActLast => "act_last_i",
            StreamPort::ActData => "act_data_i",
            StreamPort::WgtValid => "wgt_valid_i",
            StreamPort::WgtReady => "wgt_ready_o",
            StreamPort::WgtData => "wgt_data_i",
            StreamPort::ResValid => "res_valid_o",
            StreamPort::ResReady => "res_ready_i",
            StreamPort::ResData => "res_data_o",
        }
    }

    /// The port called `name`, if the interface has one.
    pub fn from_name(name: &str) -> Option<StreamPort> {
        StreamPort::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Direction, seen from the array.
    pub fn dir(self) -> Dir {
        match self {
            StreamPort::ActReady
            | StreamPort::WgtReady
            | StreamPort::ResValid
            | StreamPort::ResData => Dir::Output,
            _ => Dir::Input,
        }
    }

    /// Whether the port carries a beat (`*_data_*`) rather than a one-bit
    /// clock, reset or handshake signal.
    pub fn is_data(self) -> bool {
        matches!(
            self,
            StreamPort::ActData | StreamPort::WgtData | StreamPort::ResData
        )
    }

    /// Width in bits for arrays of `cfg`: one for clock, reset and
    /// handshakes; the beat widths of the config for the data ports (the
    /// activation and result beats carry all `cfg.tokens()` tokens, laid out
    /// by [`crate::layout::act_lane`] and [`crate::layout::result_lane`]).
    pub fn width(self, cfg: &ArrayConfig) -> u32 {
        match self {
            StreamPort::ActData => cfg.act_beat_bits(),
            StreamPort::WgtData => cfg.weight_beat_bits(),
            StreamPort::ResData => cfg.result_beat_bits(),
            _ => 1,
        }
    }

    /// The one-line description printed beside the port in the array top.
    pub fn doc(self, cfg: &ArrayConfig) -> String {
        match self {
            StreamPort::Clk => "clock, rising edge".into(),
            StreamPort::RstN => "asynchronous reset, active low".into(),
            StreamPort::ActValid => "activation beat valid".into(),
            StreamPort::ActReady => "activation beat accepted when valid and ready".into(),
            StreamPort::ActLast => {
                "this activation beat is the last K-tile of the pass (row tile)".into()
            }
            StreamPort::ActData => match cfg.tokens() {
                1 => format!(
                    "k_tile int{0} activations, activation t at [{0}t +: {0}]",
                    cfg.act_bits()
                ),
                m => format!(
                    "k_tile int{0} activations of each of {m} tokens, token n's activation t at [{1}n + {0}t +: {0}]",
                    cfg.act_bits(),
                    cfg.token_act_bits()
                ),
            },
            StreamPort::WgtValid => "weight beat valid".into(),
            StreamPort::WgtReady => "weight beat accepted when valid and ready".into(),
            StreamPort::WgtData => "weight codes of one beat, layout in docs/interface.md".into(),
            StreamPort::ResValid => "result beat valid".into(),
            StreamPort::ResReady => "result beat accepted when valid and ready".into(),
            StreamPort::ResData => match cfg.tokens() {
                1 => format!(
                    "one int{RESULT_BITS} result per row, row r at [{RESULT_BITS}r +: {RESULT_BITS}]"
                ),
                m => format!(
                    "one int{RESULT_BITS} result per row and token, row r of token n at [{}r + {RESULT_BITS}n +: {RESULT_BITS}]",
                    m as u32 * RESULT_BITS
                ),
            },
        }
    }

    /// A shorter description, printed where the port is repeated inside an
    /// array (the controller's clock, reset and handshake ports).
    pub fn brief(self) -> &'static str {
        match self {
            StreamPort::Clk => "clock",
            StreamPort::RstN => "asynchronous reset, active low",
            StreamPort::ActValid => "activation beat valid",
            StreamPort::ActReady => "activation beat accepted",
            StreamPort::ActLast => "last K-tile of the pass",
            StreamPort::ActData => "activation beat",
            StreamPort::WgtValid => "weight beat valid",
            StreamPort::WgtReady => "weight beat accepted",
            StreamPort::WgtData => "weight beat",
            StreamPort::ResValid => "result beat valid",
            StreamPort::ResReady => "result beat accepted",
            StreamPort::ResData => "result beat",
        }
    }
}

impl fmt::Display for StreamPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a port list or an instance does not match the stream interface.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterfaceError {
    /// A port of the interface is not there.
    #[error("{module}: the stream interface's port `{port}` is missing")]
    Missing {
        /// The module or instance checked.
        module: String,
        /// The missing port.
        port: &'static str,
    },
    /// A port that the interface does not have.
    #[error(
        "{module}: port `{port}` is not part of the stream interface (its ports are {})",
        names()
    )]
    Extra {
        /// The module or instance checked.
        module: String,
        /// The unexpected port.
        port: String,
    },
    /// A port given twice.
    #[error("{module}: port `{port}` appears more than once")]
    Duplicate {
        /// The module or instance checked.
        module: String,
        /// The repeated port.
        port: String,
    },
    /// A port with the wrong direction or width, or out of order.
    #[error("{module}: port {position} is `{have}`, the stream interface has `{want}` there")]
    Mismatch {
        /// The module checked.
        module: String,
        /// Position in the port list (0-based).
        position: usize,
        /// What the interface has: direction, width, name.
        want: String,
        /// What the module has.
        have: String,
    },
    /// The instance to check was not found in the Verilog text.
    #[error("{source_name}: no instance `{instance} (...)` found")]
    NoInstance {
        /// Where the text came from (a file name).
        source_name: String,
        /// The instance name looked for.
        instance: String,
    },
    /// The instance's connection list could not be read.
    #[error("{source_name}: instance `{instance}`: {detail}")]
    Syntax {
        /// Where the text came from (a file name).
        source_name: String,
        /// The instance.
        instance: String,
        /// What could not be read.
        detail: String,
    },
}

/// The interface's port names, comma separated (for error messages).
fn names() -> String {
    StreamPort::ALL.map(StreamPort::name).join(", ")
}

/// `input [7:0] act_data_i`-style text of one port, for error messages.
fn shape(dir: Dir, width: u32, name: &str) -> String {
    if width == 1 {
        format!("{dir} {name}")
    } else {
        format!("{dir} [{}:0] {name}", width - 1)
    }
}

/// Check that a module's port list, `(name, direction, width)` in order, is
/// exactly the stream interface of `cfg`: the ports of [`StreamPort::ALL`],
/// in that order, each with its direction and width, and nothing else.
/// `module` names the module in the error.
pub fn check_ports<'a>(
    module: &str,
    cfg: &ArrayConfig,
    ports: impl IntoIterator<Item = (&'a str, Dir, u32)>,
) -> Result<(), InterfaceError> {
    let have: Vec<(&str, Dir, u32)> = ports.into_iter().collect();
    for (position, want) in StreamPort::ALL.into_iter().enumerate() {
        let want_shape = shape(want.dir(), want.width(cfg), want.name());
        match have.get(position) {
            None => {
                return Err(InterfaceError::Missing {
                    module: module.into(),
                    port: want.name(),
                })
            }
            Some(&(name, dir, width))
                if (name, dir, width) != (want.name(), want.dir(), want.width(cfg)) =>
            {
                return Err(InterfaceError::Mismatch {
                    module: module.into(),
                    position,
                    want: want_shape,
                    have: shape(dir, width, name),
                });
            }
            Some(_) => {}
        }
    }
    match have.get(StreamPort::ALL.len()) {
        Some(&(name, _, _)) => Err(InterfaceError::Extra {
            module: module.into(),
            port: name.into(),
        }),
        None => Ok(()),
    }
}

/// Verilog text without `//` and `/* */` comments (each replaced by a space).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let line = rest.find("//");
        let block = rest.find("/*");
        let (at, end) = match (line, block) {
            (None, None) => {
                out.push_str(rest);
                return out;
            }
            (Some(l), Some(b)) if b < l => (b, rest[b..].find("*/").map(|e| b + e + 2)),
            (Some(l), _) => (l, rest[l..].find('\n').map(|e| l + e)),
            (None, Some(b)) => (b, rest[b..].find("*/").map(|e| b + e + 2)),
        };
        out.push_str(&rest[..at]);
        out.push(' ');
        match end {
            Some(e) => rest = &rest[e..],
            None => return out,
        }
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// The port names connected by name (`.port(expr)`) in the instance called
/// `instance` in the Verilog `text`, in order. `source_name` names the text in
/// errors.
pub fn instance_connections(
    source_name: &str,
    text: &str,
    instance: &str,
) -> Result<Vec<String>, InterfaceError> {
    let text = strip_comments(text);
    let syntax = |detail: String| InterfaceError::Syntax {
        source_name: source_name.into(),
        instance: instance.into(),
        detail,
    };
    // The instance name as a whole word, followed by `(`.
    let mut from = 0;
    let open = loop {
        let Some(at) = text[from..].find(instance).map(|i| from + i) else {
            return Err(InterfaceError::NoInstance {
                source_name: source_name.into(),
                instance: instance.into(),
            });
        };
        let end = at + instance.len();
        let word = !text[..at].ends_with(is_ident_char) && !text[end..].starts_with(is_ident_char);
        let after = text[end..].trim_start();
        if word && after.starts_with('(') {
            break text.len() - after.len();
        }
        from = end;
    };
    // The connection list up to the matching `)`.
    let mut depth = 0usize;
    let mut close = None;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close.ok_or_else(|| syntax("the connection list has no closing `)`".into()))?;
    let body = &text[open + 1..close];
    // Split at top-level commas; each piece is `.name(expr)`.
    let mut conns = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let mut pieces = Vec::new();
    for (i, c) in body.char_indices() {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                pieces.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&body[start..]);
    for piece in pieces {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let name = piece
            .strip_prefix('.')
            .map(|p| {
                p.split(|c: char| !is_ident_char(c))
                    .next()
                    .unwrap_or_default()
            })
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                syntax(format!(
                    "`{piece}` is not a named connection `.port(signal)`"
                ))
            })?;
        conns.push(name.to_string());
    }
    Ok(conns)
}

/// Check that the instance called `instance` in the Verilog `text` (a
/// hand-written file that instantiates an array top) connects by name every
/// port of the stream interface exactly once, and no other port.
/// `source_name` names the text in errors.
pub fn check_instance(source_name: &str, text: &str, instance: &str) -> Result<(), InterfaceError> {
    let conns = instance_connections(source_name, text, instance)?;
    let module = format!("{source_name}: instance {instance}");
    for (i, name) in conns.iter().enumerate() {
        if StreamPort::from_name(name).is_none() {
            return Err(InterfaceError::Extra {
                module,
                port: name.clone(),
            });
        }
        if conns[..i].contains(name) {
            return Err(InterfaceError::Duplicate {
                module,
                port: name.clone(),
            });
        }
    }
    match StreamPort::ALL
        .into_iter()
        .find(|p| !conns.iter().any(|c| c == p.name()))
    {
        Some(p) => Err(InterfaceError::Missing {
            module,
            port: p.name(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::preset;

    #[test]
    fn order_names_and_indices_agree() {
        for (i, p) in StreamPort::ALL.into_iter().enumerate() {
            assert_eq!(p.index(), i, "{p}");
            assert_eq!(StreamPort::from_name(p.name()), Some(p));
            // lowRISC suffixes: the direction is in the name.
            let suffix_dir = if p.name().ends_with("_o") {
                Dir::Output
            } else {
                Dir::Input
            };
            assert_eq!(p.dir(), suffix_dir, "{p}");
        }
        assert_eq!(StreamPort::from_name("act_data"), None);
    }

    #[test]
    fn widths_follow_the_config() {
        let cfg = preset("default").unwrap();
        assert_eq!(StreamPort::ActData.width(&cfg), 16 * 8);
        assert_eq!(StreamPort::WgtData.width(&cfg), 32 * 16);
        assert_eq!(StreamPort::ResData.width(&cfg), 32 * 32);
        assert!(StreamPort::ALL
            .into_iter()
            .filter(|p| !p.is_data())
            .all(|p| p.width(&cfg) == 1));
        assert_eq!(
            StreamPort::ActData.doc(&cfg),
            "k_tile int8 activations, activation t at [8t +: 8]"
        );
    }

    fn ports(cfg: &ArrayConfig) -> Vec<(&'static str, Dir, u32)> {
        StreamPort::ALL
            .map(|p| (p.name(), p.dir(), p.width(cfg)))
            .to_vec()
    }

    #[test]
    fn port_lists_are_checked_in_order_with_widths() {
        let cfg = preset("tiny").unwrap();
        check_ports("top", &cfg, ports(&cfg)).unwrap();
        let mut swapped = ports(&cfg);
        swapped.swap(2, 3);
        let e = check_ports("top", &cfg, swapped).unwrap_err().to_string();
        assert!(
            e.contains("port 2 is `output act_ready_o`") && e.contains("`input act_valid_i`"),
            "{e}"
        );
        let mut narrow = ports(&cfg);
        narrow[5].2 -= 1;
        let e = check_ports("top", &cfg, narrow).unwrap_err().to_string();
        assert!(
            e.contains("input [30:0] act_data_i") && e.contains("input [31:0] act_data_i"),
            "{e}"
        );
        let e = check_ports("top", &cfg, ports(&cfg)[..11].to_vec()).unwrap_err();
        assert_eq!(
            e,
            InterfaceError::Missing {
                module: "top".into(),
                port: "res_data_o"
            }
        );
        let mut extra = ports(&cfg);
        extra.push(("debug_o", Dir::Output, 1));
        let e = check_ports("top", &cfg, extra).unwrap_err().to_string();
        assert!(
            e.contains("debug_o") && e.contains("not part of the stream interface"),
            "{e}"
        );
    }

    const GOOD: &str = "
  lutcore_lut_array u_array (  // the array
    .clk_i(clk_i), .rst_ni(rst_n),
    .act_valid_i(a_valid), .act_ready_o(a_ready), .act_last_i(a_last), .act_data_i({a_hi, a_lo}),
    /* weights */ .wgt_valid_i(w_valid), .wgt_ready_o(w_ready), .wgt_data_i(w_data[7:0]),
    .res_valid_o(res_valid), .res_ready_i(running), .res_data_o(res_data));
  other u_array_2 (.x(y));
";

    #[test]
    fn instances_connect_every_port_once() {
        check_instance("good.v", GOOD, "u_array").unwrap();
        let conns = instance_connections("good.v", GOOD, "u_array_2").unwrap();
        assert_eq!(conns, vec!["x"]);
        let missing = GOOD.replace(".act_last_i(a_last), ", "");
        let e = check_instance("b.v", &missing, "u_array")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("b.v") && e.contains("act_last_i") && e.contains("missing"),
            "{e}"
        );
        let renamed = GOOD.replace(".res_ready_i(", ".res_rdy_i(");
        let e = check_instance("b.v", &renamed, "u_array")
            .unwrap_err()
            .to_string();
        assert!(e.contains("res_rdy_i") && e.contains("not part of"), "{e}");
        let twice = GOOD.replace(".rst_ni(rst_n)", ".rst_ni(rst_n), .clk_i(clk_i)");
        let e = check_instance("b.v", &twice, "u_array")
            .unwrap_err()
            .to_string();
        assert!(e.contains("clk_i") && e.contains("more than once"), "{e}");
        let positional = GOOD.replace(".clk_i(clk_i)", "clk_i");
        let e = check_instance("b.v", &positional, "u_array")
            .unwrap_err()
            .to_string();
        assert!(e.contains("named connection"), "{e}");
        let e = check_instance("b.v", GOOD, "u_arr").unwrap_err();
        assert!(matches!(e, InterfaceError::NoInstance { .. }), "{e}");
        let e = check_instance("b.v", "x u_array (.clk_i(c)", "u_array")
            .unwrap_err()
            .to_string();
        assert!(e.contains("closing"), "{e}");
    }
}
