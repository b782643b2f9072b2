//! A small typed representation of synthesizable Verilog: modules, ports,
//! declarations, statements and expressions. Builders construct it; the one
//! printer in [`crate::print`] turns it into text. Nothing else formats Verilog.

pub use lutcore_contract::interface::Dir;

/// A module port. Widths are literal numbers: the generator specializes every
/// module for one config, so no Verilog parameters are needed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Port {
    /// Port name (`*_i`, `*_o`, `clk_i`, `rst_ni`).
    pub name: String,
    /// Direction.
    pub dir: Dir,
    /// Width in bits (≥ 1).
    pub width: u32,
    /// One-line description, printed as a comment.
    pub doc: String,
}

impl Port {
    /// An input port.
    pub fn input(name: &str, width: u32, doc: &str) -> Self {
        Port { name: name.into(), dir: Dir::Input, width, doc: doc.into() }
    }
    /// An output port.
    pub fn output(name: &str, width: u32, doc: &str) -> Self {
        Port { name: name.into(), dir: Dir::Output, width, doc: doc.into() }
    }
}

/// A signal declaration (`logic [w-1:0] name;`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decl {
    /// Signal name.
    pub name: String,
    /// Bits per element.
    pub width: u32,
    /// Declared `signed`.
    pub signed: bool,
    /// One-line description.
    pub doc: String,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `&`
    And,
    /// `|`
    Or,
    /// `^`
    Xor,
    /// `&&`
    LogAnd,
    /// `||`
    LogOr,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<<<`
    Shl,
    /// `>>>`
    Sshr,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `~`
    Not,
    /// `!`
    LogNot,
    /// `-`
    Neg,
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// A signal or port.
    Id(String),
    /// A sized literal: `width'd value` (or `'sd` when signed is set; value ≥ 0).
    Lit {
        /// Width in bits.
        width: u32,
        /// Magnitude.
        value: u64,
    },
    /// One bit: `e[i]`.
    Bit(Box<Expr>, u32),
    /// Constant part select: `e[hi:lo]`.
    Slice(Box<Expr>, u32, u32),
    /// Indexed part select with a dynamic base: `e[base +: width]`.
    PartSel(Box<Expr>, Box<Expr>, u32),
    /// Unary operation.
    Un(UnOp, Box<Expr>),
    /// Binary operation (always printed in parentheses).
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `{a, b, ...}` (most significant first).
    Concat(Vec<Expr>),
    /// `{n{e}}`
    Repl(u32, Box<Expr>),
    /// `$signed(e)`
    Signed(Box<Expr>),
}

/// Shorthand constructors for expressions.
pub mod e {
    use super::{BinOp, Expr, UnOp};

    /// A signal.
    pub fn id(name: impl Into<String>) -> Expr {
        Expr::Id(name.into())
    }
    /// A sized literal.
    pub fn lit(width: u32, value: u64) -> Expr {
        Expr::Lit { width, value }
    }
    /// `e[i]`
    pub fn bit(x: Expr, i: u32) -> Expr {
        Expr::Bit(Box::new(x), i)
    }
    /// `e[hi:lo]`
    pub fn slice(x: Expr, hi: u32, lo: u32) -> Expr {
        Expr::Slice(Box::new(x), hi, lo)
    }
    /// `e[lo +: width]` as a constant slice.
    pub fn part(x: Expr, lo: u32, width: u32) -> Expr {
        if width == 1 { bit(x, lo) } else { slice(x, lo + width - 1, lo) }
    }
    /// `x[base +: width]` with a dynamic `base`.
    pub fn part_sel(x: Expr, base: Expr, width: u32) -> Expr {
        Expr::PartSel(Box::new(x), Box::new(base), width)
    }
    /// Binary operation.
    pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Bin(op, Box::new(a), Box::new(b))
    }
    /// `a + b`
    pub fn add(a: Expr, b: Expr) -> Expr {
        bin(BinOp::Add, a, b)
    }
    /// `a - b`
    pub fn sub(a: Expr, b: Expr) -> Expr {
        bin(BinOp::Sub, a, b)
    }
    /// `a & b` for 1-bit operands reads better as `&&`; this is the bitwise form.
    pub fn and(a: Expr, b: Expr) -> Expr {
        bin(BinOp::And, a, b)
    }
    /// `a | b`
    pub fn or(a: Expr, b: Expr) -> Expr {
        bin(BinOp::Or, a, b)
    }
    /// `a == b`
    pub fn eq(a: Expr, b: Expr) -> Expr {
        bin(BinOp::Eq, a, b)
    }
    /// `~a`
    pub fn not(a: Expr) -> Expr {
        Expr::Un(UnOp::Not, Box::new(a))
    }
    /// `-a`
    pub fn neg(a: Expr) -> Expr {
        Expr::Un(UnOp::Neg, Box::new(a))
    }
    /// `x ^ {w{b}}`: `x` (`w` bits) inverted where the one-bit `b` is set.
    pub fn invert_if(x: Expr, w: u32, b: Expr) -> Expr {
        bin(BinOp::Xor, x, Expr::Repl(w, Box::new(b)))
    }
    /// `x & {w{b}}`: `x` (`w` bits) where the one-bit `b` is set, else zero.
    pub fn keep_if(x: Expr, w: u32, b: Expr) -> Expr {
        and(x, Expr::Repl(w, Box::new(b)))
    }
    /// `c ? a : b`
    pub fn cond(c: Expr, a: Expr, b: Expr) -> Expr {
        Expr::Cond(Box::new(c), Box::new(a), Box::new(b))
    }
    /// `{a, b, ...}`
    pub fn concat(parts: Vec<Expr>) -> Expr {
        Expr::Concat(parts)
    }
    /// Sign-extend `x` (of `from` bits, two's complement) to `to` bits.
    pub fn sext(x: Expr, from: u32, to: u32) -> Expr {
        assert!(to >= from, "sext from {from} to {to}");
        if to == from {
            return x;
        }
        let msb = match &x {
            _ if from == 1 => x.clone(),
            Expr::Slice(a, hi, _) => bit((**a).clone(), *hi),
            _ => bit(x.clone(), from - 1),
        };
        concat(vec![Expr::Repl(to - from, Box::new(msb)), x])
    }
    /// Zero-extend `x` (of `from` bits) to `to` bits.
    pub fn zext(x: Expr, from: u32, to: u32) -> Expr {
        assert!(to >= from, "zext from {from} to {to}");
        if to == from { x } else { concat(vec![lit(to - from, 0), x]) }
    }
}

/// A statement inside an `always_ff` or `always_comb` block. Assignments are
/// non-blocking in `always_ff` and blocking in `always_comb`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// `lhs = rhs` / `lhs <= rhs`
    Assign(Expr, Expr),
    /// `if (c) ... else ...`
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    /// `case (sel) value: ...; default: ... endcase`
    Case(Expr, Vec<(Expr, Vec<Stmt>)>, Vec<Stmt>),
    /// A comment line.
    Comment(String),
}

/// A module item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A comment line (empty string: a blank line).
    Comment(String),
    /// `logic ...;`
    Decl(Decl),
    /// `assign lhs = rhs;`
    Assign(Expr, Expr),
    /// `always_ff @(posedge clk_i or negedge rst_ni)`; `reset` statements run
    /// while `rst_ni` is low. Without reset statements the block has no reset.
    AlwaysFf {
        /// Statements under reset.
        reset: Vec<Stmt>,
        /// Statements on each rising clock edge.
        body: Vec<Stmt>,
    },
    /// `always_comb begin ... end`
    AlwaysComb(Vec<Stmt>),
    /// A module instance with named connections.
    Instance {
        /// Module name.
        module: String,
        /// Instance name (`u_*`).
        name: String,
        /// (port, expression) pairs.
        conns: Vec<(String, Expr)>,
    },
}

/// A Verilog module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Module (and file) name.
    pub name: String,
    /// Header comment lines: what it does and the parameters that made it.
    pub doc: Vec<String>,
    /// Ports in declaration order.
    pub ports: Vec<Port>,
    /// Body.
    pub items: Vec<Item>,
}

impl Module {
    /// A new empty module.
    pub fn new(name: &str, doc: Vec<String>) -> Self {
        Module { name: name.into(), doc, ports: Vec::new(), items: Vec::new() }
    }
    /// Add a port.
    pub fn port(&mut self, p: Port) -> Expr {
        let id = e::id(&p.name);
        self.ports.push(p);
        id
    }
    /// Declare a `logic` signal and return a reference to it.
    pub fn logic(&mut self, name: &str, width: u32, doc: &str) -> Expr {
        self.items.push(Item::Decl(Decl { name: name.into(), width, signed: false, doc: doc.into() }));
        e::id(name)
    }
    /// `assign lhs = rhs;`
    pub fn assign(&mut self, lhs: Expr, rhs: Expr) {
        self.items.push(Item::Assign(lhs, rhs));
    }
    /// A comment line in the body.
    pub fn comment(&mut self, text: impl Into<String>) {
        self.items.push(Item::Comment(text.into()));
    }
    /// Any other item.
    pub fn item(&mut self, item: Item) {
        self.items.push(item);
    }
}
