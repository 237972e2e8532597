//! Kernel prefilter derived from the rules: the path prefixes an open must start with for some
//! loaded rule to care about it. An open of a *plain* absolute path (no `//`, no `.` or `..`
//! component: the path the rules see is its bytes, maybe minus a trailing `/`) that starts with
//! none of them is dropped in the kernel — no record, no ring space, no userspace work.
//!
//! The analysis is an abstract evaluation of each compiled condition over "an open of a plain
//! absolute path": a condition maps to the prefixes such a path must have for it to be true
//! ([`Paths::Some`]), to "never true" or to "no constraint". Every check it does not understand
//! is "no constraint", so the result can only be too permissive, never too strict. Rules on
//! other event types matter too: a rule that reads a descriptor's name on `read` or `close`
//! needs the open that created it, so their conditions' prefixes join the table (and one that
//! reads it unconstrained turns the filter off). Outputs are not conditions: an alert that
//! names a descriptor whose open was dropped names it from /proc when it fires (a syscall per
//! alert, `<NA>` if the process closed it first).

use std::collections::BTreeSet;

use super::{
    ast::Op,
    compile::Rule,
    evttype,
    fields::F,
    ir::{CRhs, Extract, Node},
    value::{Const, PathComp},
};

/// The open syscalls whose path the kernel can filter (the path is their first copied string).
pub(crate) const FILTERED: &[&str] = &["open", "openat", "openat2", "creat"];

/// What a condition needs of a plain absolute path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Paths {
    /// False for every such path.
    Never,
    /// True only for paths with one of these prefixes or suffixes.
    Some(Atoms),
    /// No constraint found.
    Any,
}

/// A disjunction: the path starts with one of `pre` or ends with one of `suf`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Atoms {
    pre: BTreeSet<String>,
    suf: BTreeSet<String>,
}

/// Both `a` and `b` hold of a string: it has the longer of two affixes when one extends the
/// other (`extends(x, y)`: x extends y), no string otherwise.
fn meet(
    a: &BTreeSet<String>,
    b: &BTreeSet<String>,
    extends: fn(&str, &str) -> bool,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in a {
        for q in b {
            if extends(q, p) {
                out.insert(q.clone());
            } else if extends(p, q) {
                out.insert(p.clone());
            }
        }
    }
    out
}

impl Paths {
    fn and(self, o: Paths) -> Paths {
        match (self, o) {
            (Paths::Never, _) | (_, Paths::Never) => Paths::Never,
            (Paths::Any, x) | (x, Paths::Any) => x,
            (Paths::Some(a), Paths::Some(b)) => {
                let atoms = match (
                    a.suf.is_empty(),
                    b.suf.is_empty(),
                    a.pre.is_empty(),
                    b.pre.is_empty(),
                ) {
                    (true, true, _, _) => Atoms {
                        pre: meet(&a.pre, &b.pre, |x, y| x.starts_with(y)),
                        suf: BTreeSet::new(),
                    },
                    (_, _, true, true) => Atoms {
                        pre: BTreeSet::new(),
                        suf: meet(&a.suf, &b.suf, |x, y| x.ends_with(y)),
                    },
                    // Mixed: either side alone is a sound constraint; keep the prefix-only one
                    // (the kernel checks prefixes first), else the smaller.
                    (true, false, _, _) => a,
                    (false, true, _, _) => b,
                    _ if a.pre.len() + a.suf.len() <= b.pre.len() + b.suf.len() => a,
                    _ => b,
                };
                Paths::some(atoms)
            }
        }
    }

    fn or(self, o: Paths) -> Paths {
        match (self, o) {
            (Paths::Any, _) | (_, Paths::Any) => Paths::Any,
            (Paths::Never, x) | (x, Paths::Never) => x,
            (Paths::Some(mut a), Paths::Some(b)) => {
                a.pre.extend(b.pre);
                a.suf.extend(b.suf);
                Paths::Some(a)
            }
        }
    }

    fn some(a: Atoms) -> Paths {
        if a.pre.is_empty() && a.suf.is_empty() {
            Paths::Never
        } else {
            Paths::Some(a)
        }
    }

    fn prefixes<'a>(it: impl IntoIterator<Item = &'a str>) -> Paths {
        // A plain absolute path starts with `/`: other prefixes never hold.
        let pre = it
            .into_iter()
            .filter(|p| p.starts_with('/'))
            .map(str::to_string)
            .collect();
        Paths::some(Atoms {
            pre,
            suf: BTreeSet::new(),
        })
    }

    fn suffixes<'a>(it: impl IntoIterator<Item = &'a str>) -> Paths {
        let mut suf = BTreeSet::new();
        for s in it {
            if s.is_empty() {
                return Paths::Any;
            }
            suf.insert(s.to_string());
        }
        Paths::some(Atoms {
            pre: BTreeSet::new(),
            suf,
        })
    }
}

/// The kernel filter for a rule set: which syscalls to filter and the affix tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathFilter {
    /// Syscalls of [`FILTERED`] whose plain absolute paths with none of the affixes no rule
    /// needs.
    pub(crate) syscalls: Vec<&'static str>,
    /// Sorted, with prefixes another one covers removed.
    pub(crate) prefixes: Vec<String>,
    /// Likewise for suffixes.
    pub(crate) suffixes: Vec<String>,
}

/// The filter the enabled rules allow, or the name of a rule that needs every open.
pub(crate) fn path_filter(rules: &[Rule]) -> Result<PathFilter, String> {
    let mut table = Paths::Never;
    let mut syscalls = Vec::new();
    let mut blocker = None;
    let rules: Vec<&Rule> = rules.iter().filter(|r| r.enabled).collect();
    'syscalls: for s in FILTERED {
        let Some(id) = evttype::id(s) else { continue };
        let mut need = Paths::Never;
        for r in rules.iter().filter(|r| r.evttypes.contains(id)) {
            need = need.or(constraint(&r.node, id, false));
            if need == Paths::Any {
                blocker.get_or_insert_with(|| r.name.clone());
                continue 'syscalls;
            }
        }
        syscalls.push(*s);
        table = table.or(need);
    }
    if syscalls.is_empty() {
        return Err(blocker.unwrap_or_default());
    }
    // Rules on other events that read descriptor fields need the opens that named them.
    for r in &rules {
        if !reads_fd_table(r) {
            continue;
        }
        for id in r.evttypes.ids() {
            let name = evttype::name(id);
            if FILTERED.contains(&name) || !crate::state::fds::reads_table(name) {
                continue;
            }
            table = table.or(constraint(&r.node, id, false));
            if table == Paths::Any {
                return Err(r.name.clone());
            }
        }
    }
    let atoms = match table {
        Paths::Any => return Err(String::new()),
        Paths::Never => Atoms::default(),
        Paths::Some(a) => a,
    };
    // Sorted: a prefix covered by the one before it adds nothing (suffixes: sorted reversed).
    let mut prefixes: Vec<String> = Vec::new();
    for p in atoms.pre {
        if !prefixes.last().is_some_and(|l| p.starts_with(l.as_str())) {
            prefixes.push(p);
        }
    }
    let mut rev: Vec<String> = atoms
        .suf
        .iter()
        .map(|s| s.chars().rev().collect())
        .collect();
    rev.sort();
    let mut suffixes: Vec<String> = Vec::new();
    for r in rev {
        if !suffixes.last().is_some_and(|l| r.starts_with(l.as_str())) {
            suffixes.push(r);
        }
    }
    let suffixes = suffixes.iter().map(|r| r.chars().rev().collect()).collect();
    Ok(PathFilter {
        syscalls,
        prefixes,
        suffixes,
    })
}

/// Fields extracted from the descriptor table rather than the event itself.
fn is_fd_table(f: F) -> bool {
    f != F::FdNum
        && f != F::Unavailable
        && super::fields::DEFS
            .iter()
            .any(|d| d.f == f && d.name.starts_with("fd."))
}

fn extract_reads_fd(e: &Extract) -> bool {
    let mut inner = false;
    if let Some(m) = &e.multi {
        m.extracts(&mut |x| inner |= is_fd_table(x.field.f));
    }
    inner || is_fd_table(e.field.f)
}

fn node_reads_fd(n: &Node) -> bool {
    match n {
        Node::And(v) | Node::Or(v) => v.iter().any(node_reads_fd),
        Node::Not(c) => node_reads_fd(c),
        Node::Labeled(l) => node_reads_fd(&l.node),
        Node::Check(c) => {
            extract_reads_fd(&c.lhs) || matches!(&c.rhs, CRhs::Field(e) if extract_reads_fd(e))
        }
    }
}

/// Conditions only: an output that names a descriptor the table misses reads it from /proc
/// when the alert fires ([`crate::state::fds::FdTables::view_live`]).
fn reads_fd_table(r: &Rule) -> bool {
    node_reads_fd(&r.node)
}

/// Fields that only sockets have: a positive check on one is false for a file.
fn socket_only(f: F) -> bool {
    matches!(
        f,
        F::FdIp
            | F::FdCip
            | F::FdSip
            | F::FdLip
            | F::FdRip
            | F::FdPort
            | F::FdCport
            | F::FdSport
            | F::FdLport
            | F::FdRport
            | F::FdL4Proto
            | F::FdSockFamily
            | F::FdIsServer
            | F::FdNet
            | F::FdCnet
            | F::FdSnet
            | F::FdLnet
            | F::FdRnet
            | F::FdConnected
    )
}

/// The literal start of a glob pattern.
fn glob_prefix(pat: &str) -> &str {
    let end = pat.find(['*', '?', '[', '{', '\\']).unwrap_or(pat.len());
    &pat[..end]
}

/// What `n` (negated when `neg`) needs of the path of event type `ty`.
fn constraint(n: &Node, ty: usize, neg: bool) -> Paths {
    match n {
        Node::And(v) | Node::Or(v) => {
            let is_and = matches!(n, Node::And(_)) != neg;
            let mut acc = if is_and { Paths::Any } else { Paths::Never };
            for c in v {
                let p = constraint(c, ty, neg);
                acc = if is_and { acc.and(p) } else { acc.or(p) };
            }
            acc
        }
        Node::Not(c) => constraint(c, ty, !neg),
        Node::Labeled(l) => constraint(&l.node, ty, neg),
        Node::Check(c) => {
            if !c.lhs.transforms.is_empty() {
                return Paths::Any;
            }
            let f = c.lhs.field.f;
            // Whatever it is compared with (a constant, val(), host names): false for a file.
            if !neg && socket_only(f) && c.op != Op::Ne {
                return Paths::Never;
            }
            let CRhs::Const(k) = &c.rhs else {
                return Paths::Any;
            };
            if f == F::EvtType {
                let holds = match (c.op, k) {
                    (Op::Eq, Const::Str(s)) => Some(evttype::id(s) == Some(ty)),
                    (Op::Ne, Const::Str(s)) => Some(evttype::id(s) != Some(ty)),
                    (Op::In, Const::StrSet(set)) => {
                        Some(set.iter().any(|s| evttype::id(s) == Some(ty)))
                    }
                    _ => None,
                };
                return match holds {
                    Some(h) if h == neg => Paths::Never,
                    _ => Paths::Any,
                };
            }
            if neg {
                return Paths::Any;
            }
            match f {
                F::FdName | F::FdNameRaw | F::FdDirectory => path_check(f, c.op, k),
                F::FdFilename => filename_check(c.op, k),
                F::FdType | F::FdTypeChar => type_check(c.op, k),
                _ => Paths::Any,
            }
        }
    }
}

/// A positive check on the path, its directory or its raw form.
fn path_check(f: F, op: Op, k: &Const) -> Paths {
    match (op, k) {
        // The directory is a prefix of the path, so its prefixes are the path's.
        (Op::Eq | Op::StartsWith, Const::Str(s)) => Paths::prefixes([s.as_str()]),
        (Op::In, Const::StrSet(set)) => Paths::prefixes(set.iter().map(String::as_str)),
        (Op::Glob, Const::Glob(g)) => Paths::prefixes([glob_prefix(g.glob().glob())]),
        (Op::Pmatch, Const::Paths(ps)) => {
            let mut out = Paths::Never;
            for p in ps {
                let mut s = String::new();
                for comp in p {
                    match comp {
                        PathComp::Lit(l) => {
                            s.push('/');
                            s.push_str(l);
                        }
                        PathComp::Glob(_) => break,
                    }
                }
                if s.is_empty() {
                    s.push('/');
                }
                out = out.or(Paths::prefixes([s.as_str()]));
            }
            out
        }
        (Op::EndsWith, Const::Str(s)) if f != F::FdDirectory => Paths::suffixes([s.as_str()]),
        // A plain path holds no `..` and no `//`: the raw path cannot contain them either.
        (Op::Contains, Const::Str(s)) if f != F::FdDirectory && not_plain(s) => Paths::Never,
        _ => Paths::Any,
    }
}

/// A positive check on the file name (the last component): a suffix of the path.
fn filename_check(op: Op, k: &Const) -> Paths {
    let slash = |s: &str| format!("/{s}");
    match (op, k) {
        (Op::Eq, Const::Str(s)) if !s.contains('/') => Paths::suffixes([slash(s).as_str()]),
        (Op::In, Const::StrSet(set)) if !set.iter().any(|s| s.contains('/')) => {
            let v: Vec<String> = set.iter().map(|s| slash(s)).collect();
            Paths::suffixes(v.iter().map(String::as_str))
        }
        (Op::EndsWith, Const::Str(s)) => Paths::suffixes([s.as_str()]),
        _ => Paths::Any,
    }
}

/// A positive check on the descriptor's type: false for files and directories unless it names
/// them.
fn type_check(op: Op, k: &Const) -> Paths {
    let file = |s: &str| matches!(s, "f" | "d" | "file" | "directory");
    match (op, k) {
        (Op::Eq, Const::Str(s)) if !file(s) => Paths::Never,
        (Op::In, Const::StrSet(set)) if !set.iter().any(|s| file(s)) => Paths::Never,
        _ => Paths::Any,
    }
}

/// Text no plain path (the only kind the kernel judges) contains.
fn not_plain(s: &str) -> bool {
    sysaudit_common::plain::NEVER_IN
        .iter()
        .any(|n| s.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{engine::Engine, Priority, DEFAULT_RULES};

    fn engine(yaml: &str) -> Engine {
        let l = Engine::load(&[("t.yaml".into(), yaml.into())], Priority::Debug);
        let errors: Vec<String> = l.errors().map(|d| d.render(&l.files)).collect();
        assert!(errors.is_empty(), "{errors:?}");
        l.engine.expect("rules compile")
    }

    fn rule(cond: &str) -> String {
        format!("- rule: r\n  desc: d\n  condition: {cond}\n  output: o %proc.name\n  priority: WARNING\n")
    }

    fn filter(cond: &str) -> Option<PathFilter> {
        path_filter(&engine(&rule(cond)).rules).ok()
    }

    #[test]
    fn prefixes_come_from_name_and_directory_checks() {
        let f = filter(
            "evt.type in (open, openat) and (fd.name startswith /etc/sh or fd.directory in (/root/.ssh, /var/run))",
        )
        .expect("a filter");
        assert_eq!(f.prefixes, vec!["/etc/sh", "/root/.ssh", "/var/run"]);
        assert_eq!(f.syscalls, FILTERED);
    }

    #[test]
    fn an_unconstrained_open_rule_turns_the_filter_off() {
        for cond in [
            "evt.type = openat and proc.name = cat",
            "evt.type = openat and not fd.name startswith /etc",
            "evt.type = openat and fd.name contains shadow",
        ] {
            let f = filter(cond).expect("the other opens are filtered");
            assert!(!f.syscalls.contains(&"openat"), "{cond}");
        }
        assert!(
            filter("proc.name = cat").is_none(),
            "a rule on every event needs every open"
        );
    }

    #[test]
    fn rules_that_never_see_opens_drop_them_all() {
        let f = filter("evt.type = execve and proc.name = nc").expect("a filter");
        assert!(f.prefixes.is_empty());
        assert_eq!(f.syscalls, FILTERED);
    }

    #[test]
    fn and_keeps_the_longer_prefix_and_covered_ones_fold() {
        let f = filter(
            "evt.type = openat and fd.name startswith /etc and (fd.name pmatch (/etc/pam.d, /etc/ssh/*/x) or fd.name glob '/usr/lib/*.so')",
        )
        .expect("a filter");
        assert_eq!(f.prefixes, vec!["/etc/pam.d", "/etc/ssh"]);
    }

    #[test]
    fn traversal_checks_on_the_raw_path_never_hold_for_plain_paths() {
        let f =
            filter("evt.type = openat and fd.nameraw contains '../' and fd.name contains passwd")
                .expect("a filter");
        assert!(f.prefixes.is_empty());
    }

    #[test]
    fn rules_reading_descriptors_on_other_events_keep_their_opens() {
        let yaml = format!(
            "{}{}",
            rule("evt.type = openat and fd.name startswith /etc"),
            rule("evt.type = close and fd.name startswith /var/log").replace("rule: r", "rule: r2"),
        );
        let f = path_filter(&engine(&yaml).rules).expect("a filter");
        assert_eq!(f.prefixes, vec!["/etc", "/var/log"]);
        let yaml = format!(
            "{}{}",
            rule("evt.type = openat and fd.name startswith /etc"),
            rule("evt.type = write and fd.name contains x").replace("rule: r", "rule: r2"),
        );
        assert!(path_filter(&engine(&yaml).rules).is_err());
        // An output naming the descriptor does not need the open: /proc names it then.
        let yaml = format!(
            "{}{}",
            rule("evt.type = openat and fd.name startswith /etc"),
            rule("evt.type = write and proc.name = x")
                .replace("rule: r", "rule: r2")
                .replace("%proc.name", "%fd.name"),
        );
        assert!(path_filter(&engine(&yaml).rules).is_ok());
        // A socket rule reads the table, but never a file's entry.
        let yaml = format!(
            "{}{}",
            rule("evt.type = openat and fd.name startswith /etc"),
            rule("evt.type = connect and fd.sport = 4444").replace("rule: r", "rule: r2"),
        );
        assert!(path_filter(&engine(&yaml).rules).is_ok());
    }

    #[test]
    fn the_default_rules_allow_a_filter() {
        let e = engine(DEFAULT_RULES);
        let f = path_filter(&e.rules).unwrap_or_else(|r| panic!("rule {r:?} needs every open"));
        assert!(!f.prefixes.is_empty());
        assert!(
            f.prefixes.iter().any(|p| p.starts_with("/etc")),
            "{:?}",
            f.prefixes
        );
    }
}
