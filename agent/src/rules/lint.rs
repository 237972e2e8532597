//! `rules lint`: what loads but cannot be what its author meant. The loader's own warnings
//! (lists and macros never used, conditions with no event-type restriction) plus shadowed
//! rules: under `rule_matching: first` (Falco's default) a rule never fires when an earlier
//! enabled rule matches every event it matches (Falco issue #1695).
//!
//! Shadowing is decided syntactically and soundly: the later rule's condition implies the
//! earlier one's when every conjunct of the earlier condition (or every one of its leaves) is
//! a conjunct of the later one, macros seen through. A report is always true; a shadow this
//! reasoning cannot see is not reported.

use std::collections::HashSet;

use super::{
    compile::Rule,
    diag::Diag,
    ir::{CRhs, Node},
};

/// A canonical text for `n`: equal keys, equal meaning.
fn key(n: &Node) -> String {
    match n {
        Node::Check(c) => {
            let rhs = match &c.rhs {
                CRhs::None => String::new(),
                _ => c.text.clone(),
            };
            if rhs.is_empty() {
                format!("{} {}", c.lhs.display(), c.op.as_str())
            } else {
                rhs
            }
        }
        Node::Labeled(l) => l.label.clone(),
        Node::Not(c) => format!("not ({})", key(c)),
        Node::And(v) | Node::Or(v) => {
            let mut ks: Vec<String> = v.iter().map(key).collect();
            ks.sort();
            ks.dedup();
            let op = if matches!(n, Node::And(_)) {
                " and "
            } else {
                " or "
            };
            format!("({})", ks.join(op))
        }
    }
}

/// The conjuncts of `n` at its top level (`and` flattened, macros kept whole).
fn top(n: &Node, out: &mut Vec<String>) {
    match n {
        Node::And(v) => v.iter().for_each(|c| top(c, out)),
        _ => out.push(key(n)),
    }
}

/// Everything `n` implies by its structure: each conjunct, and inside each macro that is a
/// conjunct, its own conjuncts.
fn implied(n: &Node, out: &mut HashSet<String>) {
    match n {
        Node::And(v) => v.iter().for_each(|c| implied(c, out)),
        Node::Labeled(l) => {
            out.insert(key(n));
            implied(&l.node, out);
        }
        _ => {
            out.insert(key(n));
        }
    }
}

/// The leaves of `n`'s conjunction, macros opened.
fn leaves(n: &Node, out: &mut Vec<String>) {
    match n {
        Node::And(v) => v.iter().for_each(|c| leaves(c, out)),
        Node::Labeled(l) => leaves(&l.node, out),
        _ => out.push(key(n)),
    }
}

/// Whether every event `later` matches, `earlier` matches too.
fn covers(earlier: &Rule, later: &Rule) -> bool {
    if !later.evttypes.ids().all(|t| earlier.evttypes.contains(t)) {
        return false;
    }
    let mut have = HashSet::new();
    implied(&later.node, &mut have);
    let (mut t, mut l) = (Vec::new(), Vec::new());
    top(&earlier.node, &mut t);
    leaves(&earlier.node, &mut l);
    t.iter().all(|k| have.contains(k)) || l.iter().all(|k| have.contains(k))
}

/// Enabled rules an earlier enabled rule always wins over under `rule_matching: first`.
pub(crate) fn shadowed(rules: &[Rule]) -> Vec<Diag> {
    let mut out = Vec::new();
    let enabled: Vec<&Rule> = rules.iter().filter(|r| r.enabled).collect();
    for (i, later) in enabled.iter().enumerate() {
        if let Some(e) = enabled[..i].iter().find(|e| covers(e, later)) {
            out.push(Diag::warning(
                Some(later.loc),
                format!("rule '{}'", later.name),
                format!(
                    "never fires with rule_matching: first: the earlier rule '{}' (line {}) matches every event it matches",
                    e.name, e.loc.line
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Engine, Priority};

    fn lint(yaml: &str) -> Vec<String> {
        let l = Engine::load(&[("t.yaml".into(), yaml.into())], Priority::Debug);
        let e = l.engine.expect("rules load");
        super::shadowed(&e.rules)
            .iter()
            .map(|d| d.render(&l.files))
            .collect()
    }

    const RULES: &str = "\
- macro: spawned
  condition: evt.type = execve
- rule: Any exec
  desc: d
  condition: spawned and proc.name != init
  output: o
  priority: WARNING
- rule: Shell exec
  desc: d
  condition: evt.type = execve and proc.name = sh and proc.name != init
  output: o
  priority: WARNING
- rule: Open
  desc: d
  condition: evt.type = openat
  output: o
  priority: WARNING
- rule: Open or exec by sh
  desc: d
  condition: evt.type in (openat, execve) and proc.name = sh
  output: o
  priority: WARNING
";

    #[test]
    fn a_rule_an_earlier_one_always_wins_over_is_reported() {
        let l = lint(RULES);
        assert_eq!(l.len(), 1, "{l:?}");
        assert!(
            l[0].starts_with("t.yaml:8:9: warning: rule 'Shell exec': never fires with rule_matching: first: the earlier rule 'Any exec' (line 3)"),
            "{l:?}"
        );
    }

    #[test]
    fn exceptions_and_disabled_rules_stop_the_shadow() {
        let with_exc = RULES.replace(
            "  condition: spawned and proc.name != init\n",
            "  condition: spawned and proc.name != init\n  exceptions:\n    - name: shells\n      fields: [proc.name]\n      values: [[sh]]\n",
        );
        assert!(lint(&with_exc).is_empty());
        let disabled = RULES.replace(
            "  condition: spawned and proc.name != init\n  output: o\n  priority: WARNING\n",
            "  condition: spawned and proc.name != init\n  output: o\n  priority: WARNING\n  enabled: false\n",
        );
        assert!(lint(&disabled).is_empty());
    }
}
