//! The one Verilog printer: [`Module`] → text. Two-space indentation,
//! ports one per line with their comments, binary operations parenthesized so
//! that no reader needs to remember operator precedence.

use std::fmt::Write;

use crate::ir::{BinOp, Decl, Dir, Expr, Item, Module, Stmt, UnOp};

/// Print one module, header comment first.
pub fn module(m: &Module) -> String {
    let mut out = String::new();
    for line in &m.doc {
        if line.is_empty() {
            out.push_str("//\n");
        } else {
            let _ = writeln!(out, "// {line}");
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
        let _ = writeln!(out, "  {:<pad$}// {}", format!("{d}{comma}"), p.doc, pad = pad);
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

fn print_decl(out: &mut String, d: &Decl) {
    let signed = if d.signed { "signed " } else { "" };
    let text = format!("logic {signed}{}{};", range(d.width), d.name);
    if d.doc.is_empty() {
        let _ = writeln!(out, "  {text}");
    } else {
        let _ = writeln!(out, "  {text:<40} // {}", d.doc);
    }
}

fn print_item(out: &mut String, item: &Item) {
    match item {
        Item::Comment(c) if c.is_empty() => out.push('\n'),
        Item::Comment(c) => {
            let _ = writeln!(out, "  // {c}");
        }
        Item::Decl(d) => print_decl(out, d),
        Item::Assign(l, r) => {
            let _ = writeln!(out, "  assign {} = {};", expr(l), top_expr(r));
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
        Item::Instance { module, name, conns } => {
            let _ = writeln!(out, "  {module} {name} (");
            let pad = conns.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
            for (i, (p, e)) in conns.iter().enumerate() {
                let comma = if i + 1 < conns.len() { "," } else { "" };
                let _ = writeln!(out, "    .{p:<pad$} ({}){comma}", top_expr(e), pad = pad);
            }
            out.push_str("  );\n");
        }
    }
}

fn print_stmts(out: &mut String, stmts: &[Stmt], depth: usize, op: &str) {
    for s in stmts {
        print_stmt(out, s, depth, op);
    }
}

fn print_block(out: &mut String, stmts: &[Stmt], depth: usize, op: &str) {
    print_stmts(out, stmts, depth + 1, op);
}

fn print_stmt(out: &mut String, s: &Stmt, depth: usize, op: &str) {
    let ind = "  ".repeat(depth);
    match s {
        Stmt::Assign(l, r) => {
            let _ = writeln!(out, "{ind}{} {op} {};", expr(l), top_expr(r));
        }
        Stmt::Comment(c) => {
            let _ = writeln!(out, "{ind}// {c}");
        }
        Stmt::If(c, then, els) => {
            let _ = writeln!(out, "{ind}if ({}) begin", top_expr(c));
            print_block(out, then, depth, op);
            if els.is_empty() {
                let _ = writeln!(out, "{ind}end");
            } else if let [inner @ Stmt::If(..)] = els.as_slice() {
                let _ = write!(out, "{ind}end else ");
                let mut nested = String::new();
                print_stmt(&mut nested, inner, depth, op);
                out.push_str(nested.trim_start());
            } else {
                let _ = writeln!(out, "{ind}end else begin");
                print_block(out, els, depth, op);
                let _ = writeln!(out, "{ind}end");
            }
        }
        Stmt::Case(sel, arms, default) => {
            let _ = writeln!(out, "{ind}case ({})", top_expr(sel));
            let arm = |out: &mut String, label: String, body: &[Stmt]| {
                if let [Stmt::Assign(l, r)] = body {
                    let _ = writeln!(out, "{ind}  {label}: {} {op} {};", expr(l), top_expr(r));
                } else {
                    let _ = writeln!(out, "{ind}  {label}: begin");
                    print_stmts(out, body, depth + 2, op);
                    let _ = writeln!(out, "{ind}  end");
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
        BinOp::LogOr => "||",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Shl => "<<",
        BinOp::Sshr => ">>>",
    }
}

/// An expression at the top of a statement: no outer parentheses. Chains of
/// the same associative operator print flat (`a + b + c`).
fn top_expr(x: &Expr) -> String {
    match x {
        Expr::Bin(op, a, b) => format!("{} {} {}", chain(*op, a), bin_op(*op), expr(b)),
        Expr::Cond(c, a, b) => format!("{} ? {} : {}", expr(c), expr(a), expr(b)),
        _ => expr(x),
    }
}

fn chain(op: BinOp, x: &Expr) -> String {
    match x {
        Expr::Bin(inner, a, b) if *inner == op && matches!(op, BinOp::Add | BinOp::Sub | BinOp::And | BinOp::Or | BinOp::Xor) => {
            format!("{} {} {}", chain(op, a), bin_op(op), expr(b))
        }
        // `a + b - c`: left-associative mixes of + and - read naturally.
        Expr::Bin(inner @ (BinOp::Add | BinOp::Sub), a, b) if matches!(op, BinOp::Add | BinOp::Sub) => {
            format!("{} {} {}", chain(*inner, a), bin_op(*inner), expr(b))
        }
        _ => expr(x),
    }
}

fn expr(x: &Expr) -> String {
    match x {
        Expr::Id(n) => n.clone(),
        Expr::Lit { width, value } => format!("{width}'d{value}"),
        Expr::Bit(a, i) => format!("{}[{i}]", expr(a)),
        Expr::Slice(a, hi, lo) => format!("{}[{hi}:{lo}]", expr(a)),
        Expr::PartSel(x, base, w) => format!("{}[{} +: {w}]", expr(x), top_expr(base)),
        Expr::Un(op, a) => {
            let o = match op {
                UnOp::Not => "~",
                UnOp::LogNot => "!",
                UnOp::Neg => "-",
            };
            format!("{o}{}", expr(a))
        }
        Expr::Bin(..) | Expr::Cond(..) => format!("({})", top_expr(x)),
        Expr::Concat(parts) => {
            let inner: Vec<String> = parts.iter().map(top_expr).collect();
            format!("{{{}}}", inner.join(", "))
        }
        Expr::Repl(n, a) => format!("{{{n}{{{}}}}}", top_expr(a)),
        Expr::Signed(a) => format!("$signed({})", top_expr(a)),
    }
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
        m.assign(t.clone(), e::add(e::add(e::zext(a.clone(), 4, 5), e::zext(a.clone(), 4, 5)), e::lit(5, 1)));
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
}
