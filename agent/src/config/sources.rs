//! Where a configuration comes from: the main file, its `config_files` drop-ins (files, or
//! directories read in name order) merged over it, and `-o key.path=value` overrides — all on
//! one YAML tree whose nodes keep their file, line and column for error messages.

use std::path::{Path, PathBuf};

use marked_yaml::{
    types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode},
    Node, Span,
};

use super::ConfigError;

/// The files read, by the source index their nodes carry.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    files: Vec<PathBuf>,
}

/// An empty top-level mapping: the configuration of no file.
pub(crate) fn empty() -> Node {
    Node::Mapping(MarkedMappingNode::new_empty(Span::new_blank()))
}

/// How a drop-in's keys combine with what is there (Falco's `config_files` `strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    /// Sequences are appended to, everything else replaced (the default).
    Append,
    /// Every key the drop-in has replaces the same key.
    Override,
    /// Only keys not there yet are taken.
    AddOnly,
}

impl Sources {
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        self.files.clone()
    }

    /// `file:line:col` of a node (`-o` for one an override made).
    pub(crate) fn at(&self, span: &Span) -> String {
        match span.start() {
            Some(m) => match self.files.get(m.source()) {
                Some(f) => format!("{}:{}:{}", f.display(), m.line(), m.column()),
                None => "-o".into(),
            },
            None => "-o".into(),
        }
    }

    /// Parse one file; its top level must be a mapping.
    pub(crate) fn read(&mut self, path: &Path) -> Result<Node, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let idx = self.files.len();
        self.files.push(path.to_path_buf());
        if text.trim().is_empty() {
            return Ok(empty());
        }
        let mut node = marked_yaml::parse_yaml(idx, &text).map_err(|e| ConfigError::Yaml {
            at: path.display().to_string(),
            msg: e.to_string(),
        })?;
        expand_env(&mut node);
        match node {
            Node::Mapping(_) => Ok(node),
            other => Err(ConfigError::Invalid {
                at: self.at(other.span()),
                msg: "a configuration file is a mapping of keys".into(),
            }),
        }
    }

    /// Merge the drop-ins `root`'s `config_files` names, each in turn, as Falco does: paths
    /// as written (relative ones from the working directory), missing ones skipped, a
    /// directory's regular files in name order; a drop-in may not name drop-ins itself.
    pub(crate) fn drop_ins(&mut self, root: &mut Node) -> Result<(), ConfigError> {
        let Some(map) = root.as_mapping() else {
            return Ok(());
        };
        let Some(list) = map.get_node("config_files") else {
            return Ok(());
        };
        let mut entries = Vec::new();
        let items: Vec<Node> = match list {
            Node::Sequence(s) => s.iter().cloned().collect(),
            Node::Scalar(s) if s.as_str().is_empty() => Vec::new(),
            other => {
                return Err(ConfigError::Invalid {
                    at: self.at(other.span()),
                    msg: "config_files: expected a list of paths".into(),
                })
            }
        };
        for item in items {
            let (path, strategy) = self.entry(&item)?;
            if self.files.first() == Some(&path) {
                return Err(ConfigError::Invalid {
                    at: self.at(item.span()),
                    msg: "config_files: names the main configuration file itself".into(),
                });
            }
            if path.is_dir() {
                let mut inside: Vec<PathBuf> = std::fs::read_dir(&path)
                    .map_err(|source| ConfigError::Read {
                        path: path.display().to_string(),
                        source,
                    })?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file())
                    .collect();
                inside.sort();
                entries.extend(inside.into_iter().map(|p| (p, strategy)));
            } else if path.exists() {
                entries.push((path, strategy));
            }
        }
        for (path, strategy) in entries {
            let node = self.read(&path)?;
            if let Some(v) = node.as_mapping().and_then(|m| m.get_node("config_files")) {
                return Err(ConfigError::Invalid {
                    at: self.at(v.span()),
                    msg: "config_files: a drop-in may not name drop-ins".into(),
                });
            }
            merge(root, node, strategy);
        }
        Ok(())
    }

    /// A `config_files` entry: a path, or `{path: P, strategy: append|override|add-only}`.
    fn entry(&self, item: &Node) -> Result<(PathBuf, Strategy), ConfigError> {
        let bad = |msg: &str| ConfigError::Invalid {
            at: self.at(item.span()),
            msg: format!("config_files: {msg}"),
        };
        match item {
            Node::Scalar(s) if !s.as_str().is_empty() => {
                Ok((PathBuf::from(s.as_str()), Strategy::Append))
            }
            Node::Mapping(m) => {
                for k in m.keys() {
                    if !matches!(k.as_str(), "path" | "strategy") {
                        return Err(bad(&format!(
                            "unknown key '{}' (an entry has path and strategy)",
                            k.as_str()
                        )));
                    }
                }
                let path = m
                    .get_scalar("path")
                    .filter(|p| !p.as_str().is_empty())
                    .ok_or_else(|| bad("an entry needs a path"))?;
                let strategy = match m.get_scalar("strategy").map(|s| s.as_str()) {
                    None | Some("append") => Strategy::Append,
                    Some("override") => Strategy::Override,
                    Some("add-only") => Strategy::AddOnly,
                    Some(other) => {
                        return Err(bad(&format!(
                            "strategy '{other}': expected append, override or add-only"
                        )))
                    }
                };
                Ok((PathBuf::from(path.as_str()), strategy))
            }
            _ => Err(bad("expected a path or {path, strategy}")),
        }
    }
}

/// Merge a drop-in's top-level keys into `root`.
fn merge(root: &mut Node, add: Node, strategy: Strategy) {
    let (Some(dst), Node::Mapping(src)) = (root.as_mapping_mut(), add) else {
        return;
    };
    for (k, v) in src.iter() {
        match (strategy, dst.get_mut(k), v) {
            (Strategy::AddOnly, Some(_), _) => {}
            (Strategy::Append, Some(Node::Sequence(have)), Node::Sequence(more)) => {
                have.extend(more.iter().cloned());
            }
            _ => {
                dst.insert(k.clone(), v.clone());
            }
        }
    }
}

/// One segment of an override's key path.
#[derive(Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    /// `[N]`: an element of a sequence; `[]`: a new one at its end.
    Index(Option<usize>),
}

/// `a.b[0].c` → segments (`\.`, `\[`, `\]`, `\\` are literal); `None` when malformed.
fn key_path(s: &str) -> Option<Vec<Seg>> {
    // Split at unescaped dots; escaped characters are kept as private-use stand-ins while
    // the brackets are read, then put back.
    const DOT: char = '\u{e000}';
    const OPEN: char = '\u{e001}';
    const CLOSE: char = '\u{e002}';
    const BACK: char = '\u{e003}';
    let mut plain = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            plain.push(match chars.next()? {
                '.' => DOT,
                '[' => OPEN,
                ']' => CLOSE,
                '\\' => BACK,
                _ => return None,
            });
        } else {
            plain.push(c);
        }
    }
    let restore = |k: &str| {
        k.replace(DOT, ".")
            .replace(OPEN, "[")
            .replace(CLOSE, "]")
            .replace(BACK, "\\")
    };
    let mut out = Vec::new();
    for part in plain.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() && (out.is_empty() || rest.is_empty()) {
            return None;
        }
        if !name.is_empty() {
            out.push(Seg::Key(restore(name)));
        }
        while !rest.is_empty() {
            let inner = rest.strip_prefix('[')?;
            let close = inner.find(']')?;
            let idx = &inner[..close];
            out.push(Seg::Index(if idx.is_empty() {
                None
            } else {
                Some(idx.parse().ok()?)
            }));
            rest = &inner[close + 1..];
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Apply `key.path=value` (the value is YAML: `true`, `5`, `[a, b]`, `{k: v}`, text).
pub(crate) fn apply_override(root: &mut Node, arg: &str) -> Result<(), ConfigError> {
    let fail = |msg: &str| ConfigError::Override {
        arg: arg.to_string(),
        msg: msg.to_string(),
    };
    let (key, text) = arg
        .split_once('=')
        .ok_or_else(|| fail("expected key=value"))?;
    let path = key_path(key.trim()).ok_or_else(|| fail("malformed key (a.b, a[0].b, a[])"))?;
    // As Falco: `{...}` is YAML (a block: `{"extra_output": "x"}`), anything else one text
    // value, typed when its key is read.
    let value = if text.starts_with('{') && text.ends_with('}') {
        let mut v = marked_yaml::parse_yaml(usize::MAX, text)
            .map_err(|e| fail(&format!("invalid value: {e}")))?;
        blank(&mut v);
        v
    } else {
        Node::Scalar(MarkedScalarNode::new(Span::new_blank(), text))
    };
    let mut cur = root;
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let next_is_index = matches!(path.get(i + 1), Some(Seg::Index(_)));
        let fresh = || {
            if next_is_index {
                Node::Sequence(MarkedSequenceNode::new_empty(Span::new_blank()))
            } else {
                empty()
            }
        };
        cur = match seg {
            Seg::Key(k) => {
                if !matches!(cur, Node::Mapping(_)) {
                    *cur = empty();
                }
                let m = cur.as_mapping_mut().expect("a mapping");
                let key = MarkedScalarNode::new(Span::new_blank(), k.as_str());
                if last {
                    m.insert(key, value);
                    return Ok(());
                }
                let needs_new = match m.get(&key) {
                    Some(Node::Mapping(_)) => next_is_index,
                    Some(Node::Sequence(_)) => !next_is_index,
                    _ => true,
                };
                if needs_new {
                    m.insert(key.clone(), fresh());
                }
                m.get_mut(&key).expect("inserted")
            }
            Seg::Index(idx) => {
                let Node::Sequence(s) = cur else {
                    return Err(fail("an index applies to a list"));
                };
                let at = match idx {
                    Some(n) if *n < s.len() => *n,
                    Some(n) if *n == s.len() => {
                        s.push(fresh());
                        *n
                    }
                    Some(n) => {
                        return Err(fail(&format!(
                            "index {n} is past the end of a list of {}",
                            s.len()
                        )))
                    }
                    None => {
                        s.push(fresh());
                        s.len() - 1
                    }
                };
                if last {
                    s[at] = value;
                    return Ok(());
                }
                &mut s[at]
            }
        };
    }
    Ok(())
}

/// Falco's `${NAME}` in a file's values: the variable's value, empty when unset; `$${` is a
/// literal `${`. Keys are left as they are.
fn expand_env(n: &mut Node) {
    match n {
        Node::Scalar(s) => {
            if s.as_str().contains("${") {
                let text = expand(s.as_str(), |k| std::env::var(k).ok());
                let span = *s.span();
                *s = MarkedScalarNode::new(span, text);
            }
        }
        Node::Sequence(q) => q.iter_mut().for_each(expand_env),
        Node::Mapping(m) => m.values_mut().for_each(expand_env),
    }
}

fn expand(s: &str, var: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(lit) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = lit;
        } else if let Some(body) = after.strip_prefix("${") {
            match body.find('}') {
                Some(end) => {
                    out.push_str(&var(&body[..end]).unwrap_or_default());
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str(after);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Forget an override value's positions (they are in the argument, not a file).
fn blank(n: &mut Node) {
    *n.span_mut() = Span::new_blank();
    match n {
        Node::Sequence(s) => s.iter_mut().for_each(blank),
        Node::Mapping(m) => m.values_mut().for_each(blank),
        Node::Scalar(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_parse_as_falco_writes_them() {
        assert_eq!(
            key_path("http_output.url"),
            Some(vec![Seg::Key("http_output".into()), Seg::Key("url".into())])
        );
        assert_eq!(
            key_path("rules_files[1]"),
            Some(vec![Seg::Key("rules_files".into()), Seg::Index(Some(1))])
        );
        assert_eq!(
            key_path("append_output[].extra_output"),
            Some(vec![
                Seg::Key("append_output".into()),
                Seg::Index(None),
                Seg::Key("extra_output".into())
            ])
        );
        for bad in ["", ".a", "a..b", "a[x]", "a[1", "[0]"] {
            assert_eq!(key_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn overrides_set_nested_keys_and_list_items() {
        let mut root =
            marked_yaml::parse_yaml(0, "rules_files: [a.yaml]\nhttp_output: {enabled: false}\n")
                .unwrap();
        apply_override(&mut root, "http_output.url=http://x/").unwrap();
        apply_override(&mut root, "http_output.enabled=true").unwrap();
        apply_override(&mut root, "rules_files[]=b.yaml").unwrap();
        apply_override(&mut root, "rules_files[0]=c.yaml").unwrap();
        apply_override(&mut root, "append_output[0].extra_output=x").unwrap();
        apply_override(&mut root, r#"append_output[]={"extra_output": "y"}"#).unwrap();
        apply_override(&mut root, r"static_fields.a\.b=v").unwrap();
        let m = root.as_mapping().unwrap();
        let http = m.get_mapping("http_output").unwrap();
        assert_eq!(http.get_scalar("url").unwrap().as_str(), "http://x/");
        assert_eq!(http.get_scalar("enabled").unwrap().as_bool(), Some(true));
        let files: Vec<&str> = m
            .get_sequence("rules_files")
            .unwrap()
            .iter()
            .map(|n| n.as_scalar().unwrap().as_str())
            .collect();
        assert_eq!(files, ["c.yaml", "b.yaml"]);
        let ao = m.get_sequence("append_output").unwrap();
        assert_eq!(
            ao.get_mapping(0)
                .unwrap()
                .get_scalar("extra_output")
                .unwrap()
                .as_str(),
            "x"
        );
        assert_eq!(
            ao.get_mapping(1)
                .unwrap()
                .get_scalar("extra_output")
                .unwrap()
                .as_str(),
            "y"
        );
        let st = m.get_mapping("static_fields").unwrap();
        assert_eq!(st.get_scalar("a.b").unwrap().as_str(), "v");
        assert!(apply_override(&mut root, "rules_files[5]=x").is_err());
        assert!(apply_override(&mut root, "no_equals").is_err());
    }

    #[test]
    fn environment_variables_expand_in_values() {
        let var = |k: &str| (k == "HOME").then(|| "/root".to_string());
        assert_eq!(expand("${HOME}/x", var), "/root/x");
        assert_eq!(expand("a${NOPE}b", var), "ab");
        assert_eq!(expand("$${HOME} $5 ${open", var), "${HOME} $5 ${open");
    }

    #[test]
    fn drop_ins_append_lists_and_replace_the_rest_unless_told_otherwise() {
        let mut root =
            marked_yaml::parse_yaml(0, "rules_files: [a]\npriority: debug\njson_output: false\n")
                .unwrap();
        let add = marked_yaml::parse_yaml(1, "rules_files: [b]\npriority: error\n").unwrap();
        merge(&mut root, add.clone(), Strategy::Append);
        let m = root.as_mapping().unwrap();
        assert_eq!(m.get_sequence("rules_files").unwrap().len(), 2);
        assert_eq!(m.get_scalar("priority").unwrap().as_str(), "error");
        merge(&mut root, add.clone(), Strategy::Override);
        assert_eq!(
            root.as_mapping()
                .unwrap()
                .get_sequence("rules_files")
                .unwrap()
                .len(),
            1
        );
        let only = marked_yaml::parse_yaml(2, "priority: notice\nrule_matching: all\n").unwrap();
        merge(&mut root, only, Strategy::AddOnly);
        let m = root.as_mapping().unwrap();
        assert_eq!(m.get_scalar("priority").unwrap().as_str(), "error");
        assert_eq!(m.get_scalar("rule_matching").unwrap().as_str(), "all");
    }
}
