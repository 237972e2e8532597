//! Event types and Falco's event-type inference: which event types can a condition match?
//! `and` intersects, `or` unites, `not` is pushed to the leaves (De Morgan); `evt.type`
//! comparisons give sets, `evt.num = 0` (the `never_true` macro) the empty set, every other
//! check "all". Rules are indexed by the result, so an event only meets the rules that can
//! match its type.

use std::{collections::HashMap, sync::OnceLock};

use super::ir::{CRhs, Node};
use super::{ast::Op, fields::F, value::Const};
use crate::syscalls::{table, Abi};

/// Pseudo event types beyond syscalls.
pub(crate) const PSEUDO: &[&str] = &["procexit"];

struct Universe {
    names: Vec<&'static str>,
    ids: HashMap<&'static str, usize, foldhash::fast::RandomState>,
}

fn universe() -> &'static Universe {
    static U: OnceLock<Universe> = OnceLock::new();
    U.get_or_init(|| {
        let mut names: Vec<&'static str> = Vec::new();
        for abi in [Abi::X86_64, Abi::Ia32] {
            for (_, n) in table::all(abi) {
                names.push(n);
            }
        }
        names.extend_from_slice(PSEUDO);
        names.sort_unstable();
        names.dedup();
        let ids = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        Universe { names, ids }
    })
}

/// Number of event types.
pub(crate) fn count() -> usize {
    universe().names.len()
}

pub(crate) fn id(name: &str) -> Option<usize> {
    universe().ids.get(name).copied()
}

pub(crate) fn name(id: usize) -> &'static str {
    universe().names.get(id).copied().unwrap_or("?")
}

/// A set of event types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set(Vec<u64>);

impl Set {
    pub(crate) fn empty() -> Set {
        Set(vec![0; count().div_ceil(64)])
    }

    pub(crate) fn all() -> Set {
        let mut s = Set(vec![u64::MAX; count().div_ceil(64)]);
        s.trim();
        s
    }

    fn trim(&mut self) {
        let extra = self.0.len() * 64 - count();
        if extra > 0 {
            if let Some(last) = self.0.last_mut() {
                *last &= u64::MAX >> extra;
            }
        }
    }

    pub(crate) fn insert(&mut self, id: usize) {
        self.0[id / 64] |= 1 << (id % 64);
    }

    pub(crate) fn contains(&self, id: usize) -> bool {
        self.0
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    pub(crate) fn union(&self, o: &Set) -> Set {
        Set(self.0.iter().zip(&o.0).map(|(a, b)| a | b).collect())
    }

    pub(crate) fn intersect(&self, o: &Set) -> Set {
        Set(self.0.iter().zip(&o.0).map(|(a, b)| a & b).collect())
    }

    pub(crate) fn complement(&self) -> Set {
        let mut s = Set(self.0.iter().map(|a| !a).collect());
        s.trim();
        s
    }

    pub(crate) fn is_all(&self) -> bool {
        *self == Set::all()
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        (0..count()).filter(|i| self.contains(*i))
    }

    /// The event types' names, in id order.
    pub fn names(&self) -> Vec<&'static str> {
        self.ids().map(name).collect()
    }
}

/// The event types `n` can match (with `neg`: the types its negation can match).
pub(crate) fn infer(n: &Node, neg: bool) -> Set {
    match n {
        Node::And(v) | Node::Or(v) => {
            let is_and = matches!(n, Node::And(_)) != neg;
            let mut it = v.iter().map(|c| infer(c, neg));
            let Some(first) = it.next() else {
                return Set::all();
            };
            it.fold(first, |acc, s| {
                if is_and {
                    acc.intersect(&s)
                } else {
                    acc.union(&s)
                }
            })
        }
        Node::Not(c) => infer(c, !neg),
        Node::Labeled(l) => infer(&l.node, neg),
        Node::Check(c) => {
            let set = match (c.lhs.field.f, c.lhs.transforms.is_empty(), &c.rhs) {
                (F::EvtType, true, CRhs::Const(k)) => {
                    let names: Vec<&str> = match k {
                        Const::Str(s) => vec![s.as_str()],
                        Const::StrSet(set) => set.iter().map(String::as_str).collect(),
                        _ => return Set::all(),
                    };
                    let mut s = Set::empty();
                    for id in names.iter().filter_map(|x| id(x)) {
                        s.insert(id);
                    }
                    match c.op {
                        Op::Eq | Op::In => s,
                        Op::Ne => s.complement(),
                        _ => return Set::all(),
                    }
                }
                (F::EvtNum, true, CRhs::Const(Const::Int(0))) if c.op == Op::Eq => Set::empty(),
                _ => return Set::all(),
            };
            if neg {
                set.complement()
            } else {
                set
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_algebra() {
        let a = id("openat").unwrap();
        let b = id("execve").unwrap();
        let mut s = Set::empty();
        s.insert(a);
        assert!(s.contains(a) && !s.contains(b));
        assert!(s.complement().contains(b) && !s.complement().contains(a));
        assert!(Set::all().is_all() && Set::empty() == Set::all().complement());
        assert_eq!(s.union(&Set::empty()), s);
        assert!(s.intersect(&Set::all()).contains(a));
        assert_eq!(Set::all().complement(), Set::empty());
        assert!(id("procexit").is_some() && id("socketcall").is_some());
    }
}
