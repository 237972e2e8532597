//! Condition syntax tree, as parsed (before macros are resolved and fields checked).

use std::fmt;

/// Byte offset in the condition text an item came from (for error locations).
pub(crate) type Pos = usize;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// A bare identifier: a macro reference.
    Macro {
        name: String,
        pos: Pos,
    },
    Check(Check),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Check {
    pub(crate) lhs: Operand,
    pub(crate) op: Op,
    pub(crate) rhs: Rhs,
    pub(crate) pos: Pos,
}

/// A field, possibly wrapped in transformers (`tolower(proc.name)`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Operand {
    Field(FieldRef),
    Transform(Transformer, Box<Operand>),
    /// `join`, `concat`, `getopt` over several arguments (see `multi.rs`).
    Multi(Box<MultiCall>),
}

/// A multivalue transformer call as written: `getopt(("-t", "x"), "t:")[t]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MultiCall {
    pub(crate) kind: Multi,
    pub(crate) args: Vec<MArg>,
    /// The `[arg]` after the call (getopt's option).
    pub(crate) select: Option<String>,
    pub(crate) pos: Pos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Multi {
    Join,
    Concat,
    Getopt,
}

impl Multi {
    pub(crate) fn from_name(s: &str) -> Option<Multi> {
        Some(match s {
            "join" => Multi::Join,
            "concat" => Multi::Concat,
            "getopt" => Multi::Getopt,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Multi::Join => "join",
            Multi::Concat => "concat",
            Multi::Getopt => "getopt",
        }
    }
}

/// One argument of a multivalue transformer: a string or number, a field or transformer, or
/// a list of those (`(fd.name, "x")`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum MArg {
    Lit(String),
    Operand(Operand),
    List(Vec<MArg>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldRef {
    /// As written, without the `[arg]` (e.g. `evt.arg.flags`, `proc.aname`).
    pub(crate) name: String,
    /// The bracketed argument (`proc.aname[2]` → `2`).
    pub(crate) arg: Option<String>,
    pub(crate) pos: Pos,
}

impl FieldRef {
    /// The field as written in a rule (`proc.aname[2]`), the key Falco uses in output_fields.
    pub(crate) fn display(&self) -> String {
        match &self.arg {
            Some(a) => format!("{}[{}]", self.name, a),
            None => self.name.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transformer {
    ToLower,
    ToUpper,
    Basename,
    Len,
    B64,
}

impl Transformer {
    pub(crate) fn from_name(s: &str) -> Option<Transformer> {
        Some(match s {
            "tolower" => Transformer::ToLower,
            "toupper" => Transformer::ToUpper,
            "basename" => Transformer::Basename,
            "len" => Transformer::Len,
            "b64" => Transformer::B64,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
            Transformer::B64 => "b64",
        }
    }
}

/// A literal on the right-hand side, remembering whether it was quoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Literal {
    pub(crate) text: String,
    pub(crate) quoted: bool,
    pub(crate) pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Rhs {
    /// `exists` has no right-hand side.
    None,
    Value(Literal),
    List(Vec<Literal>),
    /// `val(field)` or a transformer: compare with another field of the same event.
    Operand(Operand),
    /// A string operator with a modifier over a list (`startswith oneof (a, b)`).
    Mod(Modifier, Vec<Literal>),
}

/// How many of a list's items the comparison must hold for (libs 0.25): exactly one, at
/// least one, every one (an empty list: never).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(
    clippy::enum_variant_names,
    reason = "Falco's own words: oneof, anyof, allof"
)]
pub(crate) enum Modifier {
    OneOf,
    AnyOf,
    AllOf,
}

impl Modifier {
    pub(crate) fn from_name(s: &str) -> Option<Modifier> {
        Some(match s {
            "oneof" => Modifier::OneOf,
            "anyof" => Modifier::AnyOf,
            "allof" => Modifier::AllOf,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Modifier::OneOf => "oneof",
            Modifier::AnyOf => "anyof",
            Modifier::AllOf => "allof",
        }
    }

    /// Whether `hits` of `n` items satisfying the comparison satisfy the modifier.
    pub(crate) fn holds(self, hits: usize, n: usize) -> bool {
        n > 0
            && match self {
                Modifier::OneOf => hits == 1,
                Modifier::AnyOf => hits >= 1,
                Modifier::AllOf => hits == n,
            }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    Pmatch,
    Exists,
}

impl Op {
    pub(crate) fn word(s: &str) -> Option<Op> {
        Some(match s {
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "regex" => Op::Regex,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::Pmatch,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    /// Operators whose right-hand side is a list.
    pub(crate) fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }

    /// Operators that take a modifier (libsinsp's `StrOperator`).
    pub(crate) fn takes_modifier(self) -> bool {
        use Op::*;
        matches!(
            self,
            Eq | Ne
                | Glob
                | IGlob
                | Contains
                | IContains
                | BContains
                | StartsWith
                | BStartsWith
                | EndsWith
                | Regex
        )
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
            Op::Exists => "exists",
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field(r) => f.write_str(&r.display()),
            Operand::Transform(t, inner) => write!(f, "{}({inner})", t.name()),
            Operand::Multi(m) => {
                fn arg(a: &MArg) -> String {
                    match a {
                        MArg::Lit(s) => format!("{s:?}"),
                        MArg::Operand(o) => o.to_string(),
                        MArg::List(v) => {
                            format!("({})", v.iter().map(arg).collect::<Vec<_>>().join(", "))
                        }
                    }
                }
                let args: Vec<String> = m.args.iter().map(arg).collect();
                write!(f, "{}({})", m.kind.name(), args.join(", "))?;
                match &m.select {
                    Some(s) => write!(f, "[{s}]"),
                    None => Ok(()),
                }
            }
        }
    }
}

fn lit(l: &Literal) -> String {
    if l.quoted || l.text.is_empty() || l.text.contains([' ', '(', ')', ',']) {
        format!("{:?}", l.text)
    } else {
        l.text.clone()
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.lhs, self.op.as_str())?;
        match &self.rhs {
            Rhs::None => Ok(()),
            Rhs::Value(v) => write!(f, " {}", lit(v)),
            Rhs::List(items) => {
                let v: Vec<String> = items.iter().map(lit).collect();
                write!(f, " ({})", v.join(", "))
            }
            Rhs::Mod(m, items) => {
                let v: Vec<String> = items.iter().map(lit).collect();
                write!(f, " {} ({})", m.name(), v.join(", "))
            }
            Rhs::Operand(o) => write!(f, " val({o})"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(v) | Expr::Or(v) => {
                let sep = if matches!(self, Expr::And(_)) {
                    " and "
                } else {
                    " or "
                };
                f.write_str("(")?;
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str(")")
            }
            Expr::Not(e) => write!(f, "not {e}"),
            Expr::Macro { name, .. } => f.write_str(name),
            Expr::Check(c) => write!(f, "{c}"),
        }
    }
}
