//! What rules files hold once read: lists, macros and rules (with their exceptions), each
//! remembering where it was written, collected in definition order.

use std::collections::{BTreeSet, HashMap};

use super::{
    diag::{Diag, Loc},
    priority::Priority,
};

/// One exception value: a string (a value, or a list name) or a list of strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ExcValue {
    Item(String),
    List(Vec<String>),
}

/// A rule exception (named tuples of fields, comparators and values), as written; checked
/// and folded into the condition by `exceptions.rs`.
#[derive(Clone, Debug)]
pub(crate) struct Exception {
    pub(crate) name: String,
    /// `None` when the single-field form was used (`fields: proc.name`).
    pub(crate) fields: Vec<String>,
    pub(crate) single: bool,
    pub(crate) comps: Vec<String>,
    /// Tuples (one entry per field), or flat values in the single-field form.
    pub(crate) values: Vec<Vec<ExcValue>>,
    pub(crate) loc: Loc,
    /// Where each field and each comp is written (for errors that point at it).
    pub(crate) field_locs: Vec<Loc>,
    pub(crate) comp_locs: Vec<Loc>,
}

/// Text that may have been assembled from several places (appends): each part remembers
/// where it came from, so errors point into the right file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Text {
    pub(crate) parts: Vec<(Loc, String)>,
}

impl Text {
    pub(super) fn new(loc: Loc, s: String) -> Text {
        Text {
            parts: vec![(loc, s)],
        }
    }

    pub(super) fn append(&mut self, loc: Loc, s: String) {
        self.parts.push((loc, s));
    }

    /// The whole text (parts joined by a space, as Falco concatenates appends).
    pub(crate) fn text(&self) -> String {
        self.parts
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub(crate) fn loc(&self) -> Option<Loc> {
        self.parts.first().map(|(l, _)| *l)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct ListDef {
    pub(crate) name: String,
    pub(crate) items: Vec<String>,
    pub(crate) loc: Loc,
}

#[derive(Clone, Debug)]
pub(crate) struct MacroDef {
    pub(crate) name: String,
    pub(crate) condition: Text,
    pub(crate) loc: Loc,
}

#[derive(Clone, Debug)]
pub(crate) struct RuleDef {
    pub(crate) name: String,
    pub(crate) desc: String,
    pub(crate) condition: Text,
    pub(crate) output: String,
    pub(crate) output_loc: Option<Loc>,
    pub(crate) priority: Priority,
    pub(crate) enabled: bool,
    pub(crate) tags: BTreeSet<String>,
    pub(crate) exceptions: Vec<Exception>,
    pub(crate) source: String,
    pub(crate) warn_evttypes: bool,
    pub(crate) skip_if_unknown_filter: bool,
    pub(crate) loc: Loc,
}

/// Everything loaded so far, in definition order (redefinitions keep the first position).
#[derive(Default)]
pub(crate) struct Collection {
    pub(crate) files: Vec<String>,
    pub(crate) texts: Vec<String>,
    pub(crate) lists: Vec<ListDef>,
    pub(crate) macros: Vec<MacroDef>,
    pub(crate) rules: Vec<RuleDef>,
    pub(super) list_idx: HashMap<String, usize>,
    pub(super) macro_idx: HashMap<String, usize>,
    pub(super) rule_idx: HashMap<String, usize>,
    /// Lists named in other lists' items (used, even if no condition names them).
    pub(crate) list_refs: std::collections::HashSet<String>,
    pub(crate) diags: Vec<Diag>,
}
