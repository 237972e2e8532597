//! Rule exceptions (the model is in `items.rs`): reading them from YAML, checking their
//! fields and comparators, and folding them into the condition as Falco does.

use marked_yaml::Node;

use super::{
    ast::{Expr, Modifier, Op},
    diag::Diag,
    items::{Collection, ExcValue, Exception},
    lists::quote_item,
    yaml::{item_locs, loc_node},
};

impl Exception {
    /// Its fields must be known and its comparators operators: errors of rule `item`.
    pub(crate) fn check(&self, item: &str) -> Vec<Diag> {
        let mut out = Vec::new();
        for (i, f) in self.fields.iter().enumerate() {
            if let Err(e) = check_field(f) {
                out.push(Diag::error(
                    Some(self.field_locs.get(i).copied().unwrap_or(self.loc)),
                    item,
                    format!("exception '{}': {e}", self.name),
                ));
            }
        }
        for (i, c) in self.comps.iter().enumerate() {
            if !comp_known(c) {
                out.push(Diag::error(
                    Some(self.comp_locs.get(i).copied().unwrap_or(self.loc)),
                    item,
                    format!("exception '{}': unknown operator '{c}'", self.name),
                ));
            }
        }
        out
    }
}

/// A comparator: an operator (not `exists`), or a string operator and a modifier
/// (`startswith oneof`).
fn comp_known(c: &str) -> bool {
    let op = |w: &str| match w {
        "=" | "==" => Some(Op::Eq),
        "!=" => Some(Op::Ne),
        "<" => Some(Op::Lt),
        "<=" => Some(Op::Le),
        ">" => Some(Op::Gt),
        ">=" => Some(Op::Ge),
        w => Op::word(w).filter(|o| *o != Op::Exists),
    };
    match c.split_once(' ') {
        None => op(c).is_some(),
        Some((o, m)) => op(o).is_some_and(Op::takes_modifier) && Modifier::from_name(m).is_some(),
    }
}

/// An exception's field is what a condition's left-hand side may be: a field, with its
/// argument (`proc.aname[2]`), in transformers (`tolower(proc.name)`).
fn check_field(f: &str) -> Result<(), String> {
    match super::parser::parse(&format!("{f} exists")) {
        Ok(Expr::Check(c)) => super::compile::extract(&c.lhs)
            .map(|_| ())
            .map_err(|(m, _)| m),
        _ => Err(format!("'{f}' is not a field")),
    }
}

impl Collection {
    /// The `exceptions` of a rule. `known`: those of the rule being appended to, whose
    /// fields and comps an appended exception of the same name may leave out.
    pub(super) fn exceptions(
        &mut self,
        n: &Node,
        item: &str,
        known: &[Exception],
    ) -> Vec<Exception> {
        let mut out = Vec::new();
        let Some(seq) = n.as_sequence() else {
            self.err(loc_node(n), item, "'exceptions' must be a list");
            return out;
        };
        for e in seq.iter() {
            let Some(m) = e.as_mapping() else {
                self.err(loc_node(e), item, "each exception must be a mapping");
                continue;
            };
            let eloc = loc_node(e);
            let Some((name, _)) = self.scalar(m, "name", item) else {
                self.err(eloc, item, "an exception needs a name");
                continue;
            };
            let what = format!("{item} exception '{name}'");
            self.check_keys(m, &what, &["name", "fields", "comps", "values"]);
            let same = known.iter().find(|k| k.name == name);
            let (fields, single) = match (m.get_node("fields"), same) {
                // Only an exception that adds values to one of the same name (an append)
                // may leave its fields out: they are that one's.
                (None, Some(k)) => (k.fields.clone(), k.single),
                (None, None) => {
                    self.err(eloc, &what, "an exception needs fields");
                    continue;
                }
                (Some(Node::Scalar(s)), _) => (vec![s.as_str().to_string()], true),
                (Some(f), _) => match self.strings(f, "fields", &what) {
                    Some(v) => (v, false),
                    None => continue,
                },
            };
            let inherited = m.get_node("fields").is_none();
            let comps = match m.get_node("comps") {
                None if inherited => same.map(|k| k.comps.clone()).unwrap_or_default(),
                None => {
                    if single {
                        vec!["in".to_string()]
                    } else {
                        vec!["=".to_string(); fields.len()]
                    }
                }
                Some(Node::Scalar(s)) => vec![s.as_str().to_string()],
                Some(c) => match self.strings(c, "comps", &what) {
                    Some(v) => v,
                    None => continue,
                },
            };
            // `"  startswith oneof  "` is `startswith oneof`.
            let comps: Vec<String> = comps
                .iter()
                .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            if let Some(c) = m.get_node("comps") {
                if single != matches!(c, Node::Scalar(_)) {
                    self.err(
                        eloc,
                        &what,
                        "fields and comps must both be lists or both be single values",
                    );
                }
            }
            if !single && comps.len() != fields.len() && !fields.is_empty() {
                self.err(
                    eloc,
                    &what,
                    format!("{} fields but {} comps", fields.len(), comps.len()),
                );
            }
            if single && !matches!(comps[0].as_str(), "in" | "pmatch" | "intersects") {
                self.err(
                    eloc,
                    &what,
                    format!(
                        "a single field needs comps in, pmatch or intersects, not '{}'",
                        comps[0]
                    ),
                );
            }
            let mut values = Vec::new();
            if let Some(v) = m.get_node("values") {
                match v.as_sequence() {
                    None => self.err(loc_node(v), &what, "'values' must be a list"),
                    Some(vs) => {
                        for tuple in vs.iter() {
                            match tuple {
                                Node::Scalar(s) if single => {
                                    values.push(vec![ExcValue::Item(s.as_str().to_string())])
                                }
                                Node::Sequence(t) if !single => {
                                    let mut row = Vec::new();
                                    for x in t.iter() {
                                        match x {
                                            Node::Scalar(s) => {
                                                row.push(ExcValue::Item(s.as_str().to_string()))
                                            }
                                            Node::Sequence(l) => row.push(ExcValue::List(
                                                l.iter()
                                                    .filter_map(|y| {
                                                        y.as_scalar()
                                                            .map(|s| s.as_str().to_string())
                                                    })
                                                    .collect(),
                                            )),
                                            Node::Mapping(_) => self.err(
                                                loc_node(x),
                                                &what,
                                                "a value must be a string or a list",
                                            ),
                                        }
                                    }
                                    if row.len() != fields.len() {
                                        self.err(
                                            loc_node(tuple),
                                            &what,
                                            format!(
                                                "a value has {} items for {} fields",
                                                row.len(),
                                                fields.len()
                                            ),
                                        );
                                    }
                                    values.push(row);
                                }
                                _ if single => self.err(
                                    loc_node(tuple),
                                    &what,
                                    "with a single field, values are a flat list of strings",
                                ),
                                _ => self.err(
                                    loc_node(tuple),
                                    &what,
                                    "each value must be a list with one item per field",
                                ),
                            }
                        }
                    }
                }
            }
            out.push(Exception {
                name,
                fields,
                single,
                comps,
                values,
                loc: eloc,
                field_locs: item_locs(m.get_node("fields")),
                comp_locs: item_locs(m.get_node("comps")),
            });
        }
        out
    }
}

/// An exception value as condition text: quoted as a list item is (a space), and also when a
/// comma or a parenthesis would split it (`pentest-[0-9]{2,4}` in a regex); `(name)` stays a
/// reference to a list.
fn quote_value(v: &str) -> String {
    let q = quote_item(v);
    let list_ref = v.starts_with('(') && v.ends_with(')');
    if q == v && !list_ref && v.contains([',', '(', ')']) && !v.contains('"') {
        format!("\"{v}\"")
    } else {
        q
    }
}

/// The condition text of a rule with its exceptions folded in, as Falco builds it:
/// `(cond) and not (f1 c1 v1 and f2 c2 v2 or ...)` per exception (the compiler builds the
/// same tree from the parts, to name each exception).
#[cfg(test)]
fn with_exceptions(cond: &str, exceptions: &[Exception]) -> String {
    let mut out = format!("({cond})");
    for alts in exceptions.iter().filter_map(exception_text) {
        out.push_str(&format!(" and not ({alts})"));
    }
    out
}

/// What one exception excludes, as condition text (`f1 c1 v1 and f2 c2 v2 or ...`); none
/// when it has no values.
pub(crate) fn exception_text(ex: &Exception) -> Option<String> {
    let mut alts = Vec::new();
    if ex.single {
        let vals: Vec<String> = ex
            .values
            .iter()
            .flat_map(|row| row.iter())
            .map(|v| match v {
                ExcValue::Item(s) => quote_value(s),
                ExcValue::List(l) => l
                    .iter()
                    .map(|s| quote_value(s))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect();
        if !vals.is_empty() {
            alts.push(format!(
                "{} {} ({})",
                ex.fields[0],
                ex.comps[0],
                vals.join(", ")
            ));
        }
    } else {
        for row in &ex.values {
            let terms: Vec<String> = ex
                .fields
                .iter()
                .zip(&ex.comps)
                .zip(row)
                .map(|((f, c), v)| {
                    // A modifier's comparator takes a list too.
                    let list_op =
                        matches!(c.as_str(), "in" | "intersects" | "pmatch") || c.contains(' ');
                    let val = match v {
                        ExcValue::List(l) => format!(
                            "({})",
                            l.iter()
                                .map(|s| quote_value(s))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        ExcValue::Item(s) if list_op && !s.starts_with('(') => format!("({s})"),
                        ExcValue::Item(s) => quote_value(s),
                    };
                    format!("{f} {c} {val}")
                })
                .collect();
            if !terms.is_empty() {
                alts.push(format!("({})", terms.join(" and ")));
            }
        }
    }
    (!alts.is_empty()).then(|| alts.join(" or "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::loader::tests::{errors, load};

    #[test]
    fn exceptions_become_condition_text() {
        let c = load(&[(
            "e.yaml",
            r#"
- rule: Write
  desc: x
  condition: evt.type = open
  output: x
  priority: INFO
  exceptions:
    - name: known_writers
      fields: [proc.name, fd.directory]
      comps: [=, in]
      values:
        - [my app, [/usr/bin, /opt]]
        - [tool, dirs_list]
    - name: names
      fields: proc.name
      values: [a, b c]
    - name: empty
      fields: [proc.name]
"#,
        )]);
        assert!(errors(&c).is_empty(), "{:?}", errors(&c));
        let r = &c.rules[0];
        assert_eq!(
            with_exceptions(&r.condition.text(), &r.exceptions),
            "(evt.type = open) and not ((proc.name = \"my app\" and fd.directory in (/usr/bin, /opt)) or (proc.name = tool and fd.directory in (dirs_list))) and not (proc.name in (a, \"b c\"))"
        );
    }
}
