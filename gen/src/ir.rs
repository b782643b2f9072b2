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
        Port {
            name: name.into(),
            dir: Dir::Input,
            width,
            doc: doc.into(),
        }
    }
    /// An output port.
    pub fn output(name: &str, width: u32, doc: &str) -> Self {
        Port {
            name: name.into(),
            dir: Dir::Output,
            width,
            doc: doc.into(),
        }
    }
}

/// The type of a declared signal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `logic` (width 1) or `logic [w-1:0]`.
    Logic(u32),
    /// A type declared in the module by an [`Item::Enum`], e.g. `phase_e`.
    Named(String),
}

/// A signal declaration (`logic [w-1:0] name;` or `phase_e name;`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decl {
    /// Signal name: `*_q` for a flop, `*_d` for its next value, no suffix for
    /// other combinational signals.
    pub name: String,
    /// Its type.
    pub ty: Ty,
    /// One-line description.
    pub doc: String,
}

/// An enumerated type, `typedef enum logic [w-1:0] { A = w'd0, ... } name_e;`.
/// Every value is given explicitly, so the encoding is part of the design
/// (and of the golden files), not the tool's choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumDef {
    /// Type name (`*_e`).
    pub name: String,
    /// Width of the encoding in bits.
    pub width: u32,
    /// (value name in ALL_CAPS, encoding, one-line description).
    pub values: Vec<(String, u64, String)>,
}

/// A concurrent assertion, clocked by `clk_i` and disabled while `rst_ni` is
/// low: `Name: assert property (@(posedge clk_i) disable iff (!rst_ni) p);`
/// with `p` = `cond |-> check` (same cycle) or `cond |=> check` (next cycle).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// Label (UpperCamelCase), named in the simulator's failure message.
    pub name: String,
    /// The rule in words, printed above it.
    pub doc: String,
    /// The antecedent.
    pub cond: Expr,
    /// `true`: `check` holds one cycle after `cond` (`|=>`); `false`: in the same cycle (`|->`).
    pub next_cycle: bool,
    /// The consequent.
    pub check: Expr,
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
    /// `==`
    Eq,
    /// `<`
    Lt,
    /// `<<` (a constant or a plane number as the shift amount)
    Shl,
    /// `>>` (logical: zeros enter at the top; the FP units' alignment shifts)
    Shr,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `~`
    Not,
    /// `!`
    LogNot,
    /// `|` as a reduction: one bit, set if any bit of the operand is (sticky bits)
    RedOr,
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// A signal or port.
    Id(String),
    /// A sized unsigned literal: `width'd value`.
    Lit {
        /// Width in bits.
        width: u32,
        /// Value.
        value: u64,
    },
    /// A sized unsigned literal in hex, `width'hvalue`: bit patterns
    /// (floating-point constants) read better than in decimal.
    Hex {
        /// Width in bits.
        width: u32,
        /// Value.
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
    /// Binary operation (parenthesized as an operand; see [`crate::print`]).
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `{a, b, ...}` (most significant first).
    Concat(Vec<Expr>),
    /// `{n{e}}`
    Repl(u32, Box<Expr>),
    /// `$stable(e)`: `e` has the value it had one clock earlier (assertions only).
    Stable(Box<Expr>),
    /// `$signed(e)`: `e` read as two's complement (the DSE calibration multiplier).
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
    /// A sized literal printed in hex.
    pub fn hex(width: u32, value: u64) -> Expr {
        Expr::Hex { width, value }
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
        if width == 1 {
            bit(x, lo)
        } else {
            slice(x, lo + width - 1, lo)
        }
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
    /// `a & b` (bitwise; also the datapath's and controller's one-bit conditions)
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
    /// `a && b` (one-bit conditions in assertions)
    pub fn log_and(a: Expr, b: Expr) -> Expr {
        bin(BinOp::LogAnd, a, b)
    }
    /// `!a` (one-bit conditions in assertions)
    pub fn log_not(a: Expr) -> Expr {
        Expr::Un(UnOp::LogNot, Box::new(a))
    }
    /// `~a`
    pub fn not(a: Expr) -> Expr {
        Expr::Un(UnOp::Not, Box::new(a))
    }
    /// `|a`: one bit, set if any bit of `a` is set
    pub fn red_or(a: Expr) -> Expr {
        Expr::Un(UnOp::RedOr, Box::new(a))
    }
    /// `a < b` (unsigned)
    pub fn lt(a: Expr, b: Expr) -> Expr {
        bin(BinOp::Lt, a, b)
    }
    /// `a << b`
    pub fn shl(a: Expr, b: Expr) -> Expr {
        bin(BinOp::Shl, a, b)
    }
    /// `a >> b` (logical)
    pub fn shr(a: Expr, b: Expr) -> Expr {
        bin(BinOp::Shr, a, b)
    }
    /// `a * b` (unsigned unless both operands are `$signed`)
    pub fn mul(a: Expr, b: Expr) -> Expr {
        bin(BinOp::Mul, a, b)
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
        if to == from {
            x
        } else {
            concat(vec![lit(to - from, 0), x])
        }
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
    /// `unique case (sel) label: ...; default: ...; endcase`: the labels are
    /// distinct constants, so at most one arm applies; `default` covers the
    /// encodings no label names (an empty default prints as `default: ;`).
    UniqueCase(Expr, Vec<(Expr, Vec<Stmt>)>, Vec<Stmt>),
}

/// A module item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A comment line (empty string: a blank line).
    Comment(String),
    /// `typedef enum ...` (see [`EnumDef`]).
    Enum(EnumDef),
    /// `logic ...;` or `type_e ...;`
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
    /// `` `ifdef NAME `` ... `` `endif ``: items only some tools read
    /// (assertions, which Icarus 11 and yosys's own parser do not take).
    Ifdef(String, Vec<Item>),
    /// A concurrent assertion (inside an [`Item::Ifdef`]).
    Assert(Assertion),
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
        Module {
            name: name.into(),
            doc,
            ports: Vec::new(),
            items: Vec::new(),
        }
    }
    /// Add a port.
    pub fn port(&mut self, p: Port) -> Expr {
        let id = e::id(&p.name);
        self.ports.push(p);
        id
    }
    /// Declare a `logic` signal and return a reference to it.
    pub fn logic(&mut self, name: &str, width: u32, doc: &str) -> Expr {
        self.items.push(Item::Decl(Decl {
            name: name.into(),
            ty: Ty::Logic(width),
            doc: doc.into(),
        }));
        e::id(name)
    }
    /// Declare a signal of a type named by an [`Item::Enum`] of this module.
    pub fn var(&mut self, name: &str, ty: &str, doc: &str) -> Expr {
        self.items.push(Item::Decl(Decl {
            name: name.into(),
            ty: Ty::Named(ty.into()),
            doc: doc.into(),
        }));
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
