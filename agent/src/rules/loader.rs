//! Reading rules files: YAML sequences of lists, macros, rules and version requirements become
//! the [`Collection`] of items (merged by `merge.rs`, exceptions read by `exceptions.rs`). Every
//! error is located, and loading goes on so that all errors of a file are reported at once.

use marked_yaml::{
    loader::{parse_yaml_with_options, LoaderOptions},
    types::MarkedMappingNode,
    Node,
};

pub(crate) use super::items::Collection;
use super::{
    diag::{Diag, Loc},
    yaml::{documents, loc_node, loc_of, relax_flow_indentation, strip_value_tags, yaml_error},
};

/// The Falco rules-engine version whose language this engine implements.
pub(crate) const ENGINE_VERSION: (u64, u64, u64) = (0, 63, 0);

impl Collection {
    pub(crate) fn new() -> Collection {
        Collection::default()
    }

    pub(super) fn err(&mut self, loc: Loc, item: &str, msg: impl Into<String>) {
        self.diags.push(Diag::error(Some(loc), item, msg));
    }

    pub(super) fn warn(&mut self, loc: Loc, item: &str, msg: impl Into<String>) {
        self.diags.push(Diag::warning(Some(loc), item, msg));
    }

    /// Load one file's text. Errors and warnings are added to `diags`.
    pub(crate) fn add_file(&mut self, name: &str, text: &str) {
        let file = self.files.len();
        self.files.push(name.to_string());
        self.texts.push(text.to_string());
        if text.trim().is_empty() {
            return;
        }
        let untagged = strip_value_tags(text);
        for doc in documents(&untagged) {
            self.add_document(file, &doc);
        }
    }

    /// One YAML document of file number `file` (located in the whole file's text).
    fn add_document(&mut self, file: usize, text: &str) {
        let opts = LoaderOptions::default()
            .toplevel_sequence()
            .error_on_duplicate_keys(true);
        let relaxed = relax_flow_indentation(text);
        let root = match parse_yaml_with_options(file, relaxed.as_ref(), opts) {
            Ok(n) => n,
            Err(e) => {
                let (loc, msg) = yaml_error(&e);
                self.diags
                    .push(Diag::error(Some(loc), "", format!("invalid YAML: {msg}")));
                return;
            }
        };
        let Some(seq) = root.as_sequence() else {
            self.err(
                loc_node(&root),
                "",
                "a rules file must be a YAML sequence of items",
            );
            return;
        };
        for item in seq.iter() {
            let Some(map) = item.as_mapping() else {
                self.err(
                    loc_node(item),
                    "",
                    "each item must be a mapping (list, macro, rule, ...)",
                );
                continue;
            };
            if map.get_node("rule").is_some() {
                self.rule(map);
            } else if map.get_node("macro").is_some() {
                self.macro_(map);
            } else if map.get_node("list").is_some() {
                self.list(map);
            } else if let Some(v) = map.get_node("required_engine_version") {
                self.engine_version(v);
            } else if let Some(v) = map.get_node("required_plugin_versions") {
                self.plugin_versions(v);
            } else {
                let keys: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
                self.warn(
                    loc_node(item),
                    "",
                    format!("unknown item with keys {keys:?} ignored"),
                );
            }
        }
    }

    fn engine_version(&mut self, v: &Node) {
        let loc = loc_node(v);
        let Some(s) = v.as_scalar() else {
            self.err(loc, "required_engine_version", "must be a version string");
            return;
        };
        let want = s.as_str().trim();
        let parsed = if let Ok(n) = want.parse::<u64>() {
            Some((0, n, 0))
        } else {
            let p: Vec<Option<u64>> = want.split('.').map(|x| x.parse().ok()).collect();
            match p.as_slice() {
                [Some(a), Some(b), Some(c)] => Some((*a, *b, *c)),
                _ => None,
            }
        };
        match parsed {
            None => self.err(
                loc,
                "required_engine_version",
                format!("'{want}' is not a semantic version (X.Y.Z) or a number"),
            ),
            Some(v) if v > ENGINE_VERSION => {
                let (a, b, c) = ENGINE_VERSION;
                self.err(
                    loc,
                    "required_engine_version",
                    format!("the file needs engine {want}; this engine implements {a}.{b}.{c}"),
                )
            }
            Some(_) => {}
        }
    }

    fn plugin_versions(&mut self, v: &Node) {
        let loc = loc_node(v);
        let Some(seq) = v.as_sequence() else {
            self.err(
                loc,
                "required_plugin_versions",
                "must be a list of {name, version}",
            );
            return;
        };
        for p in seq.iter() {
            let ok = p.as_mapping().is_some_and(|m| {
                m.get_scalar("name").is_some() && m.get_scalar("version").is_some()
            });
            if !ok {
                self.err(
                    loc_node(p),
                    "required_plugin_versions",
                    "each entry needs a name and a version",
                );
            }
        }
    }

    pub(super) fn check_keys(&mut self, map: &MarkedMappingNode, item: &str, known: &[&str]) {
        for k in map.keys() {
            if !known.contains(&k.as_str()) {
                self.warn(
                    loc_of(k),
                    item,
                    format!("unknown key '{}' ignored", k.as_str()),
                );
            }
        }
    }

    pub(super) fn scalar(
        &mut self,
        map: &MarkedMappingNode,
        key: &str,
        item: &str,
    ) -> Option<(String, Loc)> {
        match map.get_node(key) {
            None => None,
            Some(Node::Scalar(s)) => Some((s.as_str().to_string(), loc_of(s))),
            Some(n) => {
                self.err(loc_node(n), item, format!("'{key}' must be a string"));
                None
            }
        }
    }

    pub(super) fn bool_key(
        &mut self,
        map: &MarkedMappingNode,
        key: &str,
        item: &str,
    ) -> Option<bool> {
        let s = map.get_scalar(key)?;
        match s.as_bool() {
            Some(b) => Some(b),
            None => {
                self.err(
                    loc_of(s),
                    item,
                    format!("'{key}' must be true or false, not '{}'", s.as_str()),
                );
                None
            }
        }
    }

    pub(super) fn strings(&mut self, n: &Node, what: &str, item: &str) -> Option<Vec<String>> {
        match n {
            Node::Sequence(seq) => {
                let mut out = Vec::new();
                for x in seq.iter() {
                    match x.as_scalar() {
                        Some(s) => out.push(s.as_str().to_string()),
                        None => {
                            self.err(loc_node(x), item, format!("{what} must be strings"));
                            return None;
                        }
                    }
                }
                Some(out)
            }
            _ => {
                self.err(loc_node(n), item, format!("{what} must be a list"));
                None
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::rules::priority::Priority;

    /// The collection of these (name, text) files, loaded in order.
    pub(in crate::rules) fn load(files: &[(&str, &str)]) -> Collection {
        let mut c = Collection::new();
        for (n, t) in files {
            c.add_file(n, t);
        }
        c
    }

    /// The collection's errors, rendered.
    pub(in crate::rules) fn errors(c: &Collection) -> Vec<String> {
        c.diags
            .iter()
            .filter(|d| d.level == super::super::diag::Level::Error)
            .map(|d| d.render(&c.files))
            .collect()
    }

    const BASE: &str = r#"
- required_engine_version: 0.57.0
- required_plugin_versions:
  - name: container
    version: 0.4.0
- list: shells
  items: [sh, bash]
- list: more_shells
  items: [shells, zsh]
- macro: spawned
  condition: evt.type in (execve, execveat)
- rule: Shell
  desc: a shell
  condition: spawned and proc.name in (more_shells)
  output: shell %proc.name
  priority: WARNING
  tags: [shell, container]
"#;

    #[test]
    fn loads_items_and_expands_list_references() {
        let c = load(&[("a.yaml", BASE)]);
        assert!(errors(&c).is_empty(), "{:?}", errors(&c));
        assert_eq!(c.lists[1].items, vec!["sh", "bash", "zsh"]);
        assert_eq!(c.rules[0].priority, Priority::Warning);
        assert!(c.rules[0].enabled);
        assert_eq!(
            c.rules[0].tags.iter().collect::<Vec<_>>(),
            vec!["container", "shell"]
        );
        assert_eq!(
            c.rules[0].condition.loc(),
            Some(Loc {
                file: 0,
                line: 14,
                col: 14
            })
        );
    }

    #[test]
    fn later_files_append_replace_and_toggle() {
        let c = load(&[
            ("a.yaml", BASE),
            (
                "b.yaml",
                r#"
- list: shells
  items: [ksh]
  override:
    items: append
- macro: spawned
  condition: or evt.type = clone
  append: true
- rule: Shell
  condition: and proc.pname = sshd
  output: (parent %proc.pname)
  tags: [extra]
  override:
    condition: append
    output: append
    tags: append
- rule: Shell
  priority: critical
  override:
    priority: replace
- rule: Shell
  enabled: false
"#,
            ),
        ]);
        assert!(errors(&c).is_empty(), "{:?}", errors(&c));
        assert_eq!(c.lists[0].items, vec!["sh", "bash", "ksh"]);
        assert_eq!(
            c.macros[0].condition.text(),
            "evt.type in (execve, execveat) or evt.type = clone"
        );
        let r = &c.rules[0];
        assert_eq!(
            r.condition.text(),
            "spawned and proc.name in (more_shells) and proc.pname = sshd"
        );
        assert_eq!(r.output, "shell %proc.name (parent %proc.pname)");
        assert!(r.tags.contains("extra"));
        assert_eq!(r.priority, Priority::Critical);
        assert!(!r.enabled);
        assert_eq!(r.condition.parts[1].0.file, 1);
    }

    #[test]
    fn redefinition_replaces_in_place() {
        let c = load(&[
            ("a.yaml", BASE),
            (
                "b.yaml",
                "- macro: spawned\n  condition: evt.type = execve\n",
            ),
        ]);
        assert_eq!(c.macros.len(), 1);
        assert_eq!(c.macros[0].condition.text(), "evt.type = execve");
    }

    #[test]
    fn every_error_is_located_and_all_are_reported() {
        let c = load(&[(
            "bad.yaml",
            r#"
- rule: No output
  desc: x
  condition: evt.type = open
  priority: WARNING
- rule: Bad priority
  desc: x
  condition: evt.type = open
  output: x
  priority: LOUD
- list: l
  items: x
- macro: m
  condition: a
  override:
    condition: prepend
- rule: Ghost
  condition: and x
  append: true
- required_engine_version: 9.0.0
"#,
        )]);
        let e = errors(&c);
        assert_eq!(e.len(), 6, "{e:#?}");
        assert!(
            e[0].starts_with("bad.yaml:2:9: error: rule 'No output': missing output"),
            "{}",
            e[0]
        );
        assert!(
            e[1].starts_with("bad.yaml:10:13: error: rule 'Bad priority': unknown priority 'LOUD'"),
            "{}",
            e[1]
        );
        assert!(e[2].contains("list 'l': items must be a list"), "{}", e[2]);
        assert!(
            e[3].contains("macro 'm': override mode must be 'append' or 'replace'"),
            "{}",
            e[3]
        );
        assert!(
            e[4].contains("rule 'Ghost': amends a rule that does not exist"),
            "{}",
            e[4]
        );
        assert!(e[5].contains("needs engine 9.0.0"), "{}", e[5]);
    }

    #[test]
    fn yaml_syntax_errors_are_located() {
        let c = load(&[("y.yaml", "- rule: x\n  desc: [unclosed\n")]);
        let e = errors(&c);
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("y.yaml:"), "{}", e[0]);
        let c = load(&[("m.yaml", "rule: x\n")]);
        assert!(errors(&c)[0].contains("sequence"), "{:?}", errors(&c));
        let c = load(&[("d.yaml", "- rule: x\n  rule: y\n")]);
        assert!(
            errors(&c)[0].contains("duplicate key 'rule'"),
            "{:?}",
            errors(&c)
        );
    }
}
