//! The one Verilog printer: [`Module`] → text. Two-space indentation,
//! ports one per line with their comments, binary operations parenthesized so
//! that no reader needs to remember operator precedence. No line is longer
//! than [`MAX_LINE`]: comments wrap at word boundaries, expressions at their
//! outermost operators and concatenation commas that make every line fit.

use std::fmt::Write;

use crate::ir::{Assertion, BinOp, Decl, Dir, EnumDef, Expr, Item, Module, Stmt, Ty, UnOp};

/// The longest line the printer emits, in characters (the lowRISC style guide's limit).
pub const MAX_LINE: usize = 100;

/// A continuation line is aligned under the operand or element it continues
/// when that column is at most this far in; otherwise it is indented four
/// spaces past its statement.
const MAX_ALIGN: usize = 50;

/// Print one module, header comment first.
pub fn module(m: &Module) -> String {
    let mut out = String::new();
    for line in &m.doc {
        if line.is_empty() {
            out.push_str("//\n");
        } else {
            comment(&mut out, "", line);
        }
    }
    let _ = writeln!(out, "module {} (", m.name);
    let decls: Vec<String> = m
        .ports
        .iter()
        .map(|p| {
            let dir = match p.dir {
                Dir::Input => "input ",
                Dir::Output => "output",
            };
            format!("{dir} logic {}{}", range(p.width), p.name)
        })
        .collect();
    let pad = decls.iter().map(|d| d.len()).max().unwrap_or(0) + 2;
    for (i, (d, p)) in decls.iter().zip(&m.ports).enumerate() {
        let comma = if i + 1 < decls.len() { "," } else { " " };
        trailing_comment(
            &mut out,
            format!("  {:<pad$}", format!("{d}{comma}"), pad = pad),
            &p.doc,
        );
    }
    out.push_str(");\n");
    for item in &m.items {
        print_item(&mut out, item);
    }
    out.push_str("endmodule\n");
    out
}

fn range(width: u32) -> String {
    if width == 1 {
        String::new()
    } else {
        format!("[{}:0] ", width - 1)
    }
}

/// `text` as `{indent}// ...` lines of at most [`MAX_LINE`] characters.
fn comment(out: &mut String, indent: &str, text: &str) {
    trailing_comment(out, indent.to_string(), text);
}

/// `lead` followed by `// doc`, the comment wrapped onto lines that repeat
/// `//` in the same column. An empty `doc` prints `lead` alone.
fn trailing_comment(out: &mut String, lead: String, doc: &str) {
    if doc.is_empty() {
        let _ = writeln!(out, "{}", lead.trim_end());
        return;
    }
    let col = lead.len();
    let mut line = format!("{lead}//");
    let mut words_on_line = 0;
    for word in doc.split(' ') {
        // A line comment that starts with `verilator` is a Verilator
        // metacomment (an error if it is not one): such a word never starts
        // a continuation line, the word before it moves down with it.
        let meta = word.eq_ignore_ascii_case("verilator");
        if words_on_line > 0 && line.len() + 1 + word.len() > MAX_LINE {
            if !meta {
                let _ = writeln!(out, "{line}");
                line = format!("{:col$}//", "", col = col);
                words_on_line = 0;
            } else if words_on_line > 1 {
                let cut = line.rfind(' ').expect("a word on the line");
                let before = line.split_off(cut);
                let _ = writeln!(out, "{line}");
                line = format!("{:col$}//{before}", "", col = col);
                words_on_line = 1;
            }
        }
        line.push(' ');
        line.push_str(word);
        words_on_line += 1;
    }
    let _ = writeln!(out, "{line}");
}

fn print_decl(out: &mut String, d: &Decl) {
    let ty = match &d.ty {
        Ty::Logic(w) => format!("logic {}", range(*w)),
        Ty::Named(n) => format!("{n} "),
    };
    let text = format!("{ty}{};", d.name);
    if d.doc.is_empty() {
        let _ = writeln!(out, "  {text}");
    } else {
        trailing_comment(out, format!("  {text:<40} "), &d.doc);
    }
}

fn print_enum(out: &mut String, en: &EnumDef) {
    let _ = writeln!(out, "  typedef enum logic {}{{", range(en.width));
    let pad = en.values.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
    for (i, (name, value, doc)) in en.values.iter().enumerate() {
        let comma = if i + 1 < en.values.len() { "," } else { " " };
        let lead = format!(
            "    {name:<pad$} = {}'d{value}{comma} ",
            en.width,
            pad = pad
        );
        trailing_comment(out, lead, doc);
    }
    let _ = writeln!(out, "  }} {};", en.name);
}

fn print_assert(out: &mut String, a: &Assertion) {
    comment(out, "  ", &a.doc);
    let _ = writeln!(
        out,
        "  {}: assert property (@(posedge clk_i) disable iff (!rst_ni)",
        a.name
    );
    let mut prop = toks(&a.cond, true, 1);
    let imp = if a.next_cycle { "|=> " } else { "|-> " };
    prop.extend(prefixed(imp, 0, toks(&a.check, true, 1)));
    layout(out, "      ", "      ", &prop, ");");
}

fn print_item(out: &mut String, item: &Item) {
    match item {
        Item::Comment(c) if c.is_empty() => out.push('\n'),
        Item::Comment(c) => comment(out, "  ", c),
        Item::Enum(en) => print_enum(out, en),
        Item::Decl(d) => print_decl(out, d),
        Item::Assign(l, r) => {
            layout(
                out,
                "  ",
                &format!("  assign {} = ", expr(l)),
                &toks(r, true, 0),
                ";",
            );
        }
        Item::AlwaysFf { reset, body } => {
            if reset.is_empty() {
                out.push_str("  always_ff @(posedge clk_i) begin\n");
                print_stmts(out, body, 2, "<=");
            } else {
                out.push_str("  always_ff @(posedge clk_i or negedge rst_ni) begin\n");
                out.push_str("    if (!rst_ni) begin\n");
                print_stmts(out, reset, 3, "<=");
                out.push_str("    end else begin\n");
                print_stmts(out, body, 3, "<=");
                out.push_str("    end\n");
            }
            out.push_str("  end\n");
        }
        Item::AlwaysComb(body) => {
            out.push_str("  always_comb begin\n");
            print_stmts(out, body, 2, "=");
            out.push_str("  end\n");
        }
        Item::Instance {
            module,
            name,
            conns,
        } => {
            let _ = writeln!(out, "  {module} {name} (");
            let pad = conns.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
            for (i, (p, e)) in conns.iter().enumerate() {
                let comma = if i + 1 < conns.len() { "," } else { "" };
                let head = format!("    .{p:<pad$} (", pad = pad);
                layout(out, "    ", &head, &toks(e, true, 0), &format!("){comma}"));
            }
            out.push_str("  );\n");
        }
        Item::Ifdef(define, items) => {
            let _ = writeln!(out, "`ifdef {define}");
            for item in items {
                print_item(out, item);
            }
            let _ = writeln!(out, "`endif // {define}");
        }
        Item::Assert(a) => print_assert(out, a),
    }
}

fn print_stmts(out: &mut String, stmts: &[Stmt], depth: usize, op: &str) {
    for s in stmts {
        print_stmt(out, s, depth, op);
    }
}

fn print_stmt(out: &mut String, s: &Stmt, depth: usize, op: &str) {
    let ind = "  ".repeat(depth);
    match s {
        Stmt::Assign(l, r) => {
            layout(
                out,
                &ind,
                &format!("{ind}{} {op} ", expr(l)),
                &toks(r, true, 0),
                ";",
            );
        }
        Stmt::If(c, then, els) => {
            layout(
                out,
                &ind,
                &format!("{ind}if ("),
                &toks(c, true, 0),
                ") begin",
            );
            print_stmts(out, then, depth + 1, op);
            if els.is_empty() {
                let _ = writeln!(out, "{ind}end");
            } else if let [inner @ Stmt::If(..)] = els.as_slice() {
                let _ = write!(out, "{ind}end else ");
                let mut nested = String::new();
                print_stmt(&mut nested, inner, depth, op);
                out.push_str(nested.trim_start());
            } else {
                let _ = writeln!(out, "{ind}end else begin");
                print_stmts(out, els, depth + 1, op);
                let _ = writeln!(out, "{ind}end");
            }
        }
        Stmt::UniqueCase(sel, arms, default) => {
            let _ = writeln!(out, "{ind}unique case ({})", top_expr(sel));
            let pad = arms
                .iter()
                .map(|(v, _)| expr(v).len())
                .max()
                .unwrap_or(0)
                .max("default".len())
                + 1;
            let arm = |out: &mut String, label: String, body: &[Stmt]| {
                let label = format!("{label}:");
                match body {
                    [] => {
                        let _ = writeln!(out, "{ind}  {label:<pad$} ;", pad = pad);
                    }
                    [Stmt::Assign(l, r)] => {
                        let head = format!("{ind}  {label:<pad$} {} {op} ", expr(l), pad = pad);
                        layout(out, &format!("{ind}  "), &head, &toks(r, true, 0), ";");
                    }
                    _ => {
                        let _ = writeln!(out, "{ind}  {label} begin");
                        print_stmts(out, body, depth + 2, op);
                        let _ = writeln!(out, "{ind}  end");
                    }
                }
            };
            for (v, body) in arms {
                arm(out, expr(v), body);
            }
            arm(out, "default".into(), default);
            let _ = writeln!(out, "{ind}endcase");
        }
    }
}

fn bin_op(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::And => "&",
        BinOp::Or => "|",
        BinOp::Xor => "^",
        BinOp::LogAnd => "&&",
        BinOp::Eq => "==",
        BinOp::Lt => "<",
        BinOp::Shl => "<<",
        BinOp::Shr => ">>",
    }
}

/// One piece of an expression's text. Joined with single spaces, the tokens
/// of an expression are its one-line text; a line may break before any token
/// whose `depth` (its nesting in parentheses and braces) is low enough.
#[derive(Clone, Debug)]
struct Tok {
    depth: u32,
    text: String,
    /// A break before this token is between concatenation elements: pack
    /// several per line (else one operand per line).
    fill: bool,
}

/// `toks` with `pre` in front of the first one, which then breaks at `depth`.
fn prefixed(pre: &str, depth: u32, mut toks: Vec<Tok>) -> Vec<Tok> {
    toks[0].text.insert_str(0, pre);
    toks[0].depth = depth;
    toks[0].fill = false;
    toks
}

/// `toks` with `post` after the last one.
fn suffixed(mut toks: Vec<Tok>, post: &str) -> Vec<Tok> {
    toks.last_mut()
        .expect("an expression has tokens")
        .text
        .push_str(post);
    toks
}

/// The tokens of `x` at nesting `d`. At the top of a statement (`top`) a
/// binary operation or condition has no outer parentheses, and chains of the
/// same associative operator print flat (`a + b + c`).
fn toks(x: &Expr, top: bool, d: u32) -> Vec<Tok> {
    let atom = |text: String| {
        vec![Tok {
            depth: d,
            text,
            fill: false,
        }]
    };
    match x {
        Expr::Bin(op, a, b) if top => {
            let mut t = chain(*op, a, d);
            t.extend(prefixed(
                &format!("{} ", bin_op(*op)),
                d,
                toks(b, false, d + 1),
            ));
            t
        }
        Expr::Cond(c, a, b) if top => {
            let mut t = toks(c, false, d + 1);
            t[0].depth = d;
            t.extend(prefixed("? ", d, toks(a, false, d + 1)));
            t.extend(prefixed(": ", d, toks(b, false, d + 1)));
            t
        }
        Expr::Bin(..) | Expr::Cond(..) => {
            let t = prefixed("(", d, toks(x, true, d + 1));
            suffixed(t, ")")
        }
        Expr::Id(n) => atom(n.clone()),
        Expr::Lit { width, value } => atom(format!("{width}'d{value}")),
        Expr::Hex { width, value } => atom(format!("{width}'h{value:x}")),
        Expr::Bit(a, i) => atom(format!("{}[{i}]", expr(a))),
        Expr::Slice(a, hi, lo) => atom(format!("{}[{hi}:{lo}]", expr(a))),
        Expr::PartSel(x, base, w) => atom(format!("{}[{} +: {w}]", expr(x), top_expr(base))),
        Expr::Un(op, a) => {
            let o = match op {
                UnOp::Not => "~",
                UnOp::LogNot => "!",
                UnOp::RedOr => "|",
            };
            prefixed(o, d, toks(a, false, d))
        }
        Expr::Concat(parts) => {
            let n = parts.len();
            let mut t = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                let mut pt = toks(p, true, d + 2);
                pt[0].depth = d + 1;
                pt[0].fill = true;
                if i + 1 < n {
                    pt = suffixed(pt, ",");
                }
                t.extend(pt);
            }
            suffixed(prefixed("{", d, t), "}")
        }
        Expr::Repl(n, a) => suffixed(prefixed(&format!("{{{n}{{"), d, toks(a, true, d + 1)), "}}"),
        Expr::Stable(a) => suffixed(prefixed("$stable(", d, toks(a, true, d + 1)), ")"),
        Expr::Signed(a) => suffixed(prefixed("$signed(", d, toks(a, true, d + 1)), ")"),
    }
}

/// The tokens of `x`, an operand of a chain of `op` at nesting `d`: `a + b - c`
/// and `a & b & c` print without inner parentheses.
fn chain(op: BinOp, x: &Expr, d: u32) -> Vec<Tok> {
    let flat = |inner: BinOp| {
        (inner == op && matches!(op, BinOp::Add | BinOp::Sub | BinOp::And | BinOp::Or | BinOp::Xor))
            // `a + b - c`: left-associative mixes of + and - read naturally.
            || (matches!(inner, BinOp::Add | BinOp::Sub) && matches!(op, BinOp::Add | BinOp::Sub))
    };
    match x {
        Expr::Bin(inner, a, b) if flat(*inner) => {
            let mut t = chain(*inner, a, d);
            t.extend(prefixed(
                &format!("{} ", bin_op(*inner)),
                d,
                toks(b, false, d + 1),
            ));
            t
        }
        _ => toks(x, false, d + 1),
    }
}

fn join(toks: &[Tok]) -> String {
    toks.iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An expression at the top of a statement, on one line.
fn top_expr(x: &Expr) -> String {
    join(&toks(x, true, 0))
}

/// An operand, on one line (parenthesized if it is an operation).
fn expr(x: &Expr) -> String {
    join(&toks(x, false, 0))
}

/// `head`, the expression `toks`, `tail`: on one line if that fits in
/// [`MAX_LINE`], else broken at the outermost level first (see [`lines`]).
fn layout(out: &mut String, indent: &str, head: &str, toks: &[Tok], tail: &str) {
    for l in lines(head, indent.len() + 4, toks, tail) {
        let _ = writeln!(out, "{l}");
    }
}

/// The lines of `first` + `toks` + `tail`. If they do not fit on one line,
/// the tokens are split at their outermost break points: before every operator
/// of an operator chain (one operand per line, aligned under the first), or,
/// for the elements of a concatenation, as many per line as fit (aligned
/// under the first element). Each part that still does not fit is broken the
/// same way one level further in. Continuation lines that would start right of
/// `MAX_ALIGN` start at column `far` instead.
fn lines(first: &str, far: usize, toks: &[Tok], tail: &str) -> Vec<String> {
    let one = format!("{first}{}{tail}", join(toks));
    let Some(d0) = toks.iter().skip(1).map(|t| t.depth).min() else {
        return vec![one];
    };
    if one.len() <= MAX_LINE {
        return vec![one];
    }
    // Parts between the outermost break points.
    let mut parts: Vec<&[Tok]> = Vec::new();
    let mut start = 0;
    for (i, t) in toks.iter().enumerate().skip(1) {
        if t.depth == d0 {
            parts.push(&toks[start..i]);
            start = i;
        }
    }
    parts.push(&toks[start..]);
    let fill = toks[1..]
        .iter()
        .find(|t| t.depth == d0)
        .is_some_and(|t| t.fill);
    // A concatenation's elements line up after its brace.
    let brace = if fill {
        toks[0].text.find('{').map_or(0, |i| i + 1)
    } else {
        0
    };
    let col = first.len() + brace;
    let next = " ".repeat(if col <= MAX_ALIGN { col } else { far });
    let n = parts.len();
    let mut out: Vec<String> = Vec::new();
    let mut line = first.to_string();
    let mut fresh = true;
    for (i, part) in parts.into_iter().enumerate() {
        let end = if i + 1 == n { tail } else { "" };
        let text = join(part);
        let sep = if fresh { "" } else { " " };
        if (fill || fresh) && line.len() + sep.len() + text.len() + end.len() <= MAX_LINE {
            line = format!("{line}{sep}{text}{end}");
            fresh = false;
            continue;
        }
        if !fresh {
            out.push(std::mem::replace(&mut line, next.clone()));
        }
        let mut broken = lines(&line, far, part, end);
        line = broken.pop().expect("at least one line");
        out.extend(broken);
        fresh = false;
    }
    out.push(line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{e, Port};

    #[test]
    fn prints_a_small_module() {
        let mut m = Module::new("lutcore_demo", vec!["A demo.".into()]);
        let a = m.port(Port::input("a_i", 4, "operand"));
        let y = m.port(Port::output("y_o", 5, "sum"));
        let t = m.logic("twice", 5, "a + a");
        m.assign(
            t.clone(),
            e::add(
                e::add(e::zext(a.clone(), 4, 5), e::zext(a.clone(), 4, 5)),
                e::lit(5, 1),
            ),
        );
        m.assign(y, e::cond(e::bit(a, 3), t, e::sext(e::id("twice"), 5, 5)));
        let text = module(&m);
        let want = "\
// A demo.
module lutcore_demo (
  input  logic [3:0] a_i, // operand
  output logic [4:0] y_o  // sum
);
  logic [4:0] twice;                       // a + a
  assign twice = {1'd0, a_i} + {1'd0, a_i} + 5'd1;
  assign y_o = a_i[3] ? twice : twice;
endmodule
";
        assert_eq!(text, want);
    }

    /// The FSM constructs: an enum type, a variable of it, `always_comb` with
    /// a `unique case` (one-assignment arms on one line, others in a block,
    /// an empty default), and a guarded assertion.
    #[test]
    fn prints_an_fsm_and_an_assertion() {
        let mut m = Module::new("lutcore_fsm", vec![]);
        m.port(Port::input("clk_i", 1, "clock"));
        m.port(Port::input("rst_ni", 1, "reset"));
        let go = m.port(Port::input("go_i", 1, "start"));
        m.item(Item::Enum(crate::ir::EnumDef {
            name: "state_e".into(),
            width: 2,
            values: vec![
                ("IDLE".into(), 0, "waiting".into()),
                ("BUSY".into(), 2, "".into()),
            ],
        }));
        let q = m.var("state_q", "state_e", "state");
        let d = m.var("state_d", "state_e", "");
        m.item(Item::AlwaysComb(vec![
            Stmt::Assign(d.clone(), q.clone()),
            Stmt::UniqueCase(
                q.clone(),
                vec![
                    (
                        e::id("IDLE"),
                        vec![Stmt::If(
                            go.clone(),
                            vec![Stmt::Assign(d.clone(), e::id("BUSY"))],
                            vec![],
                        )],
                    ),
                    (e::id("BUSY"), vec![Stmt::Assign(d.clone(), e::id("IDLE"))]),
                ],
                vec![],
            ),
        ]));
        m.item(Item::Ifdef(
            "LUTCORE_ASSERT".into(),
            vec![Item::Assert(crate::ir::Assertion {
                name: "GoStarts".into(),
                doc: "go leaves IDLE.".into(),
                cond: e::log_and(go, e::eq(q.clone(), e::id("IDLE"))),
                next_cycle: true,
                check: e::log_not(Expr::Stable(Box::new(q))),
            })],
        ));
        let want = "\
module lutcore_fsm (
  input  logic clk_i,  // clock
  input  logic rst_ni, // reset
  input  logic go_i    // start
);
  typedef enum logic [1:0] {
    IDLE = 2'd0, // waiting
    BUSY = 2'd2
  } state_e;
  state_e state_q;                         // state
  state_e state_d;
  always_comb begin
    state_d = state_q;
    unique case (state_q)
      IDLE: begin
        if (go_i) begin
          state_d = BUSY;
        end
      end
      BUSY:    state_d = IDLE;
      default: ;
    endcase
  end
`ifdef LUTCORE_ASSERT
  // go leaves IDLE.
  GoStarts: assert property (@(posedge clk_i) disable iff (!rst_ni)
      go_i && (state_q == IDLE) |=> !$stable(state_q));
`endif // LUTCORE_ASSERT
endmodule
";
        assert_eq!(module(&m), want);
    }

    /// Long lines break at the outermost operators first, then inside
    /// concatenations; comments wrap at words, in their column.
    #[test]
    fn a_wrapped_comment_line_never_starts_with_verilator() {
        let mut out = String::new();
        let doc = format!("{} Verilator to a shift.", "word ".repeat(18).trim_end());
        trailing_comment(&mut out, "  ".into(), &doc);
        assert!(
            out.lines().all(|l| !l
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("// verilator")),
            "{out}"
        );
        assert!(out.lines().count() == 2, "{out}");
        assert!(out.lines().all(|l| l.len() <= MAX_LINE), "{out}");
        assert!(
            out.lines()
                .nth(1)
                .unwrap()
                .ends_with("// word Verilator to a shift."),
            "{out}"
        );
    }

    #[test]
    fn wraps_long_lines() {
        let mut m = Module::new(
            "lutcore_wrap",
            vec![format!("Header {}.", "word ".repeat(30).trim_end())],
        );
        let long_doc = "a description that is much too long to fit on one line after a declaration, so it wraps";
        let a = m.logic("a_long_signal_name", 40, long_doc);
        let parts: Vec<Expr> = (0..12)
            .map(|i| e::slice(e::id("a_long_signal_name"), 3 * i + 2, 3 * i))
            .collect();
        let sum = e::add(
            e::add(e::concat(parts.clone()), e::concat(parts)),
            e::zext(e::bit(a.clone(), 0), 1, 40),
        );
        m.assign(a, sum);
        let text = module(&m);
        let want = "\
// Header word word word word word word word word word word word word word word word word word word
// word word word word word word word word word word word word.
module lutcore_wrap (
);
  logic [39:0] a_long_signal_name;         // a description that is much too long to fit on one line
                                           // after a declaration, so it wraps
  assign a_long_signal_name = {a_long_signal_name[2:0], a_long_signal_name[5:3],
                               a_long_signal_name[8:6], a_long_signal_name[11:9],
                               a_long_signal_name[14:12], a_long_signal_name[17:15],
                               a_long_signal_name[20:18], a_long_signal_name[23:21],
                               a_long_signal_name[26:24], a_long_signal_name[29:27],
                               a_long_signal_name[32:30], a_long_signal_name[35:33]}
                              + {a_long_signal_name[2:0], a_long_signal_name[5:3],
                                 a_long_signal_name[8:6], a_long_signal_name[11:9],
                                 a_long_signal_name[14:12], a_long_signal_name[17:15],
                                 a_long_signal_name[20:18], a_long_signal_name[23:21],
                                 a_long_signal_name[26:24], a_long_signal_name[29:27],
                                 a_long_signal_name[32:30], a_long_signal_name[35:33]}
                              + {39'd0, a_long_signal_name[0]};
endmodule
";
        assert_eq!(text, want);
        assert!(text.lines().all(|l| l.len() <= MAX_LINE));
    }
}
