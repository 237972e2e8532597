//! The compiled form of a condition, shared by the compiler that builds it, the evaluator and
//! the event-type inference that walk it, and the output formatter that extracts fields.

use super::{
    ast::{Modifier, Op, Transformer},
    fields::Bound,
    multi::CMulti,
    value::{Const, Type},
};

/// A field with its transformers (applied innermost first).
#[derive(Clone, Debug)]
pub(crate) struct Extract {
    /// The field (`F::Multi` for a multivalue transformer's result).
    pub(crate) field: Bound,
    pub(crate) transforms: Vec<Transformer>,
    /// `join`, `concat`, `getopt`: what computes the value instead of a field.
    pub(crate) multi: Option<Box<CMulti>>,
}

impl Extract {
    pub(crate) fn ty(&self) -> Type {
        match self.transforms.last() {
            None => self.field.ty,
            Some(Transformer::Len) => Type::Int,
            Some(_) => Type::Str,
        }
    }

    /// A list (getopt's options; a list field such as `fd.types` until `len()` counts it):
    /// only `in`, `intersects` and `exists` compare it.
    pub(crate) fn is_list(&self) -> bool {
        match &self.multi {
            Some(m) => m.is_list() && self.transforms.is_empty(),
            None => self.field.is_list() && !self.transforms.contains(&Transformer::Len),
        }
    }

    pub(crate) fn display(&self) -> String {
        let mut s = self.field.display.clone();
        for t in &self.transforms {
            s = format!("{}({s})", t.name());
        }
        s
    }
}

#[derive(Clone, Debug)]
pub(crate) enum CRhs {
    None,
    Const(Const),
    Field(Extract),
    /// A modifier over each item's constant.
    Mod(Modifier, Vec<Const>),
    /// `fd.sip.name = n` / `in (...)`: host names; the left side is compiled to the address
    /// field, which matches when it is one a name resolves to (`state/dns.rs`).
    Names(Vec<String>),
}

#[derive(Clone, Debug)]
pub(crate) struct CCheck {
    pub(crate) lhs: Extract,
    pub(crate) op: Op,
    pub(crate) rhs: CRhs,
    /// The check as written (for `--explain`).
    pub(crate) text: String,
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Check(Box<CCheck>),
    /// A macro's or an exception's part of the tree, named for `--explain`.
    Labeled(Box<Labeled>),
}

#[derive(Clone, Debug)]
pub(crate) struct Labeled {
    /// `macro spawned_process`, `exception 'proc_writer'`.
    pub(crate) label: String,
    pub(crate) node: Node,
}

impl Node {
    /// The tree as indented lines (`rules explain`): one line per node.
    pub(crate) fn tree(&self, depth: usize, out: &mut Vec<String>) {
        let pad = "  ".repeat(depth);
        match self {
            Node::And(v) | Node::Or(v) => {
                out.push(format!(
                    "{pad}{}",
                    if matches!(self, Node::And(_)) {
                        "and"
                    } else {
                        "or"
                    }
                ));
                v.iter().for_each(|c| c.tree(depth + 1, out));
            }
            Node::Not(c) => {
                out.push(format!("{pad}not"));
                c.tree(depth + 1, out);
            }
            Node::Labeled(l) => {
                out.push(format!("{pad}{}", l.label));
                l.node.tree(depth + 1, out);
            }
            Node::Check(c) => out.push(format!("{pad}{}", c.text)),
        }
    }

    pub(crate) fn labeled(label: String, node: Node) -> Node {
        Node::Labeled(Box::new(Labeled { label, node }))
    }
}

impl Node {
    /// Every field the condition extracts (both sides of each check).
    pub(crate) fn extracts<'n>(&'n self, f: &mut impl FnMut(&'n Extract)) {
        match self {
            Node::And(v) | Node::Or(v) => v.iter().for_each(|n| n.extracts(f)),
            Node::Not(n) => n.extracts(f),
            Node::Labeled(l) => l.node.extracts(f),
            Node::Check(c) => {
                let mut both = |e: &'n Extract| {
                    f(e);
                    if let Some(m) = &e.multi {
                        m.extracts(f);
                    }
                };
                both(&c.lhs);
                if let CRhs::Field(e) = &c.rhs {
                    both(e);
                }
            }
        }
    }
}
