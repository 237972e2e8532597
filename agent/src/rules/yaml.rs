//! The YAML side of rules files: where a node was written, located parser errors, and the
//! pre-pass that lets flow collections closed at their key's column load as Falco's parser
//! (yaml-cpp) loads them.

use marked_yaml::{types::MarkedScalarNode, Node};

use super::diag::Loc;

pub(super) fn loc_of(s: &MarkedScalarNode) -> Loc {
    node_loc(s.span().start())
}

pub(super) fn node_loc(m: Option<&marked_yaml::Marker>) -> Loc {
    match m {
        Some(m) => Loc {
            file: m.source(),
            line: m.line(),
            col: m.column(),
        },
        None => Loc {
            file: 0,
            line: 0,
            col: 0,
        },
    }
}

pub(super) fn loc_node(n: &Node) -> Loc {
    node_loc(n.span().start())
}

/// The location of each item of a sequence, or of a lone scalar.
pub(super) fn item_locs(n: Option<&Node>) -> Vec<Loc> {
    match n {
        Some(Node::Sequence(s)) => s.iter().map(loc_node).collect(),
        Some(n) => vec![loc_node(n)],
        None => Vec::new(),
    }
}

/// The documents of a multi-document file (split at `---` lines, as Falco loads every one),
/// each as the whole text with the other documents' lines blanked, so that locations stay the
/// file's own. A file without a document marker is one document.
pub(crate) fn documents(text: &str) -> Vec<std::borrow::Cow<'_, str>> {
    let is_marker = |l: &str| {
        let l = l.trim_end_matches(['\n', '\r']);
        l == "---" || l.starts_with("--- ") || l == "..."
    };
    if !text.split_inclusive('\n').any(is_marker) {
        return vec![std::borrow::Cow::Borrowed(text)];
    }
    // The line ranges of each document (a marker line belongs to the one it starts, with
    // its marker blanked).
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut docs: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for (i, l) in lines.iter().enumerate() {
        if is_marker(l) {
            docs.push((start, i));
            start = i;
        }
    }
    docs.push((start, lines.len()));
    docs.into_iter()
        .map(|(from, to)| {
            let mut out = String::with_capacity(text.len());
            for (i, l) in lines.iter().enumerate() {
                let nl = if l.ends_with('\n') { "\n" } else { "" };
                if i < from || i >= to {
                    out.push_str(nl);
                } else if i == from && is_marker(l) {
                    // `--- rest`: the marker goes, what follows it stays in place.
                    out.push_str("   ");
                    out.push_str(l.get(3..).unwrap_or(""));
                } else {
                    out.push_str(l);
                }
            }
            std::borrow::Cow::<str>::Owned(out)
        })
        .filter(|d| !d.trim().is_empty())
        .collect()
}

/// yaml-cpp (Falco's parser) reads a scalar with a tag (`desc: != after ...` starts with the
/// tag `!=`) as its plain text and ignores the tag; the strict parser here refuses tags. Blank
/// a tag that starts a value (its columns kept), so such files load as in Falco.
pub(crate) fn strip_value_tags(text: &str) -> std::borrow::Cow<'_, str> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let t = &line[indent..];
        let value_at = if let Some(rest) = t.strip_prefix("- ") {
            Some(indent + 2 + (rest.len() - rest.trim_start().len()))
        } else {
            find_mapping_value(t).map(|v| indent + v)
        };
        if let Some(v) = value_at.filter(|v| line.as_bytes().get(*v) == Some(&b'!')) {
            let tag_len = line[v..]
                .find(|c: char| c.is_whitespace())
                .unwrap_or(line.len() - v);
            out.push_str(&line[..v]);
            out.push_str(&" ".repeat(tag_len));
            out.push_str(&line[v + tag_len..]);
            changed = true;
        } else {
            out.push_str(line);
        }
    }
    if changed {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// libyaml and yaml-cpp (Falco's parser) accept flow collections whose continuation lines
/// are not indented past their key, e.g. a list's closing `]` at the key's column; strict
/// YAML 1.2 parsers refuse them. Indent such lines by the minimum that makes them valid, so
/// upstream files load unchanged. Line numbers do not change.
pub(crate) fn relax_flow_indentation(text: &str) -> std::borrow::Cow<'_, str> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut changed = false;
    let mut depth = 0usize;
    let mut base = 0usize;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = line.trim();
        let mut from = 0;
        if depth == 0 {
            // A flow collection starts a value: after `key:` or `- `.
            let t = &line[indent..];
            let value_at = if let Some(rest) = t.strip_prefix("- ") {
                Some(indent + 2 + (rest.len() - rest.trim_start().len()))
            } else {
                find_mapping_value(t).map(|v| indent + v)
            };
            match value_at {
                Some(v) if matches!(line.as_bytes().get(v), Some(b'[') | Some(b'{')) => {
                    base = indent;
                    from = v;
                }
                _ => {
                    out.push_str(line);
                    continue;
                }
            }
            out.push_str(line);
        } else if !content.is_empty() && !content.starts_with('#') && indent <= base {
            out.push_str(&" ".repeat(base + 1 - indent));
            out.push_str(line);
            changed = true;
        } else {
            out.push_str(line);
        }
        depth = scan_flow(&line[from..], depth);
    }
    if changed {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Offset of the value in `key: value`, if the line is a plain mapping entry.
fn find_mapping_value(t: &str) -> Option<usize> {
    if t.starts_with(['"', '\'', '#', '[', '{']) {
        return None;
    }
    let colon = t.find(": ")?;
    let after = &t[colon + 1..];
    Some(colon + 1 + (after.len() - after.trim_start().len()))
}

/// Flow nesting depth after `s`, starting at `depth`; quotes and comments respected.
fn scan_flow(s: &str, mut depth: usize) -> usize {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for c in s.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '#' if prev.is_whitespace() => break,
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        prev = c;
    }
    depth
}

pub(super) fn yaml_error(e: &marked_yaml::LoadError) -> (Loc, String) {
    use marked_yaml::LoadError::*;
    let m = match e {
        TopLevelMustBeMapping(m)
        | TopLevelMustBeSequence(m)
        | UnexpectedAnchor(m)
        | MappingKeyMustBeScalar(m)
        | UnexpectedTag(m) => Some(*m),
        ScanError(m, _) => Some(*m),
        DuplicateKey(d) => d.key.span().start().copied(),
    };
    let msg = match e {
        TopLevelMustBeSequence(_) => "a rules file must be a YAML sequence of items".to_string(),
        DuplicateKey(d) => format!("duplicate key '{}'", d.key.as_str()),
        ScanError(_, se) => se.to_string(),
        other => {
            // marked_yaml prefixes its own location; keep the message part.
            let s = other.to_string();
            s.split_once(": ").map(|(_, r)| r.to_string()).unwrap_or(s)
        }
    };
    (node_loc(m.as_ref()), msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_of_a_file_is_loaded_in_place() {
        let t = "---\n- rule: a\n---\n- rule: b\n  append: true\n";
        let d = documents(t);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0], "   \n- rule: a\n\n\n\n");
        assert_eq!(d[1], "\n\n   \n- rule: b\n  append: true\n");
        assert_eq!(documents("- rule: a\n").len(), 1);
    }

    #[test]
    fn a_tag_starting_a_value_is_ignored_as_yaml_cpp_does() {
        assert_eq!(
            strip_value_tags("- rule: r\n  desc: != after\n"),
            "- rule: r\n  desc:    after\n"
        );
        assert!(matches!(
            strip_value_tags("  condition: a != b\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn accepts_flow_lists_closed_at_the_key_column() {
        let t = "- list: l\n  items: [\n    a, \"b # c\",\n  ]\n- list: m\n  items: [x]\n";
        let r = relax_flow_indentation(t);
        assert_eq!(
            r,
            "- list: l\n  items: [\n    a, \"b # c\",\n   ]\n- list: m\n  items: [x]\n"
        );
        // Valid YAML is left alone.
        assert!(matches!(
            relax_flow_indentation("- list: m\n  items: [x]\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
