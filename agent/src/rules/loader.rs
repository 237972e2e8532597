//! Rules files (YAML sequences of lists, macros, rules and version requirements) → the
//! collection of items, with Falco's merge semantics: later files amend earlier ones by
//! `override: {key: append|replace}` or legacy `append: true`, a plain redefinition replaces,
//! an item holding only `rule` and `enabled` toggles a rule. Every error is located and
//! loading goes on so that all errors of a file are reported at once.

use std::collections::{BTreeSet, HashMap};

use marked_yaml::{
    loader::{parse_yaml_with_options, LoaderOptions},
    types::{MarkedMappingNode, MarkedScalarNode},
    Node,
};

use super::{
    diag::{Diag, Loc},
    lists::quote_item,
};

/// The Falco rules-engine version whose language this engine implements.
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 63, 0);

/// Alert priority, most severe first (Falco's order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s.to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }

    /// The word Falco prints (`Warning`, `Informational`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }
}

/// Text that may have been assembled from several places (appends): each part remembers
/// where it came from, so errors point into the right file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    pub parts: Vec<(Loc, String)>,
}

impl Text {
    fn new(loc: Loc, s: String) -> Text {
        Text {
            parts: vec![(loc, s)],
        }
    }

    fn append(&mut self, loc: Loc, s: String) {
        self.parts.push((loc, s));
    }

    /// The whole text (parts joined by a space, as Falco concatenates appends).
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn loc(&self) -> Option<Loc> {
        self.parts.first().map(|(l, _)| *l)
    }
}

#[derive(Clone, Debug)]
pub struct ListDef {
    pub name: String,
    pub items: Vec<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub struct MacroDef {
    pub name: String,
    pub condition: Text,
    pub loc: Loc,
}

/// One exception value: a string (a value, or a list name) or a list of strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExcValue {
    Item(String),
    List(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Exception {
    pub name: String,
    /// `None` when the single-field form was used (`fields: proc.name`).
    pub fields: Vec<String>,
    pub single: bool,
    pub comps: Vec<String>,
    /// Tuples (one entry per field), or flat values in the single-field form.
    pub values: Vec<Vec<ExcValue>>,
    pub loc: Loc,
    /// Where each field and each comp is written (for errors that point at it).
    pub field_locs: Vec<Loc>,
    pub comp_locs: Vec<Loc>,
}

#[derive(Clone, Debug)]
pub struct RuleDef {
    pub name: String,
    pub desc: String,
    pub condition: Text,
    pub output: String,
    pub output_loc: Option<Loc>,
    pub priority: Priority,
    pub enabled: bool,
    pub tags: BTreeSet<String>,
    pub exceptions: Vec<Exception>,
    pub source: String,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub loc: Loc,
}

/// Everything loaded so far, in definition order (redefinitions keep the first position).
#[derive(Default)]
pub struct Collection {
    pub files: Vec<String>,
    pub texts: Vec<String>,
    pub lists: Vec<ListDef>,
    pub macros: Vec<MacroDef>,
    pub rules: Vec<RuleDef>,
    list_idx: HashMap<String, usize>,
    macro_idx: HashMap<String, usize>,
    rule_idx: HashMap<String, usize>,
    /// Lists named in other lists' items (used, even if no condition names them).
    pub list_refs: std::collections::HashSet<String>,
    pub diags: Vec<Diag>,
}

fn loc_of(s: &MarkedScalarNode) -> Loc {
    node_loc(s.span().start())
}

fn node_loc(m: Option<&marked_yaml::Marker>) -> Loc {
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

fn loc_node(n: &Node) -> Loc {
    node_loc(n.span().start())
}

/// The location of each item of a sequence, or of a lone scalar.
fn item_locs(n: Option<&Node>) -> Vec<Loc> {
    match n {
        Some(Node::Sequence(s)) => s.iter().map(loc_node).collect(),
        Some(n) => vec![loc_node(n)],
        None => Vec::new(),
    }
}

/// How an item amends an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Append,
    Replace,
}

impl Collection {
    pub fn new() -> Collection {
        Collection::default()
    }

    fn err(&mut self, loc: Loc, item: &str, msg: impl Into<String>) {
        self.diags.push(Diag::error(Some(loc), item, msg));
    }

    fn warn(&mut self, loc: Loc, item: &str, msg: impl Into<String>) {
        self.diags.push(Diag::warning(Some(loc), item, msg));
    }

    /// Load one file's text. Errors and warnings are added to `diags`.
    pub fn add_file(&mut self, name: &str, text: &str) {
        let file = self.files.len();
        self.files.push(name.to_string());
        self.texts.push(text.to_string());
        if text.trim().is_empty() {
            return;
        }
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

    fn mode(
        &mut self,
        map: &MarkedMappingNode,
        item: &str,
        key: &str,
        allowed: &[&str],
        append_ok: &[&str],
    ) -> Option<Mode> {
        // Returns the mode of `key` for this item: from `override`, or legacy `append`.
        let legacy = map
            .get_scalar("append")
            .and_then(|s| s.as_bool())
            .unwrap_or(false);
        if let Some(ov) = map.get_node("override") {
            if map.get_node("append").is_some() {
                self.err(
                    loc_node(ov),
                    item,
                    "'append' and 'override' cannot be used together",
                );
                return None;
            }
            let Some(ovm) = ov.as_mapping() else {
                self.err(
                    loc_node(ov),
                    item,
                    "'override' must map keys to append or replace",
                );
                return None;
            };
            for (k, v) in ovm.iter() {
                if !allowed.contains(&k.as_str()) {
                    self.err(
                        loc_of(k),
                        item,
                        format!("key '{}' cannot be overridden", k.as_str()),
                    );
                }
                let mode = v
                    .as_scalar()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                if mode != "append" && mode != "replace" {
                    self.err(
                        loc_node(v),
                        item,
                        format!("override mode must be 'append' or 'replace', not '{mode}'"),
                    );
                } else if mode == "append" && !append_ok.contains(&k.as_str()) {
                    self.err(
                        loc_node(v),
                        item,
                        format!("key '{}' can only be replaced", k.as_str()),
                    );
                }
            }
            return match ovm.get_scalar(key).map(|s| s.as_str()) {
                Some("append") => Some(Mode::Append),
                Some("replace") => Some(Mode::Replace),
                _ => None,
            };
        }
        legacy.then_some(Mode::Append)
    }

    fn check_keys(&mut self, map: &MarkedMappingNode, item: &str, known: &[&str]) {
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

    fn scalar(&mut self, map: &MarkedMappingNode, key: &str, item: &str) -> Option<(String, Loc)> {
        match map.get_node(key) {
            None => None,
            Some(Node::Scalar(s)) => Some((s.as_str().to_string(), loc_of(s))),
            Some(n) => {
                self.err(loc_node(n), item, format!("'{key}' must be a string"));
                None
            }
        }
    }

    fn bool_key(&mut self, map: &MarkedMappingNode, key: &str, item: &str) -> Option<bool> {
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

    fn strings(&mut self, n: &Node, what: &str, item: &str) -> Option<Vec<String>> {
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

    fn list(&mut self, map: &MarkedMappingNode) {
        let Some((name, loc)) = self.scalar(map, "list", "list") else {
            return;
        };
        let item = format!("list '{name}'");
        self.check_keys(map, &item, &["list", "items", "append", "override"]);
        let mode = self.mode(map, &item, "items", &["items"], &["items"]);
        let Some(items_node) = map.get_node("items") else {
            self.err(loc, &item, "missing 'items'");
            return;
        };
        let Some(raw) = self.strings(items_node, "items", &item) else {
            return;
        };
        // Items naming an earlier list are replaced by that list's items.
        let mut items = Vec::new();
        for i in raw {
            match self.list_idx.get(&i) {
                Some(&j) => {
                    items.extend(self.lists[j].items.iter().cloned());
                    self.list_refs.insert(i);
                }
                None => items.push(i),
            }
        }
        match (mode, self.list_idx.get(&name).copied()) {
            (Some(Mode::Append), Some(j)) => self.lists[j].items.extend(items),
            (Some(Mode::Append), None) => {
                self.err(loc, &item, "appends to a list that does not exist")
            }
            (_, Some(j)) => self.lists[j].items = items,
            (_, None) => {
                self.list_idx.insert(name.clone(), self.lists.len());
                self.lists.push(ListDef { name, items, loc });
            }
        }
    }

    fn macro_(&mut self, map: &MarkedMappingNode) {
        let Some((name, loc)) = self.scalar(map, "macro", "macro") else {
            return;
        };
        let item = format!("macro '{name}'");
        self.check_keys(map, &item, &["macro", "condition", "append", "override"]);
        let mode = self.mode(map, &item, "condition", &["condition"], &["condition"]);
        let Some((cond, cloc)) = self.scalar(map, "condition", &item) else {
            self.err(loc, &item, "missing 'condition'");
            return;
        };
        match (mode, self.macro_idx.get(&name).copied()) {
            (Some(Mode::Append), Some(j)) => self.macros[j].condition.append(cloc, cond),
            (Some(Mode::Append), None) => {
                self.err(loc, &item, "appends to a macro that does not exist")
            }
            (_, Some(j)) => self.macros[j].condition = Text::new(cloc, cond),
            (_, None) => {
                self.macro_idx.insert(name.clone(), self.macros.len());
                self.macros.push(MacroDef {
                    name,
                    condition: Text::new(cloc, cond),
                    loc,
                });
            }
        }
    }

    fn exceptions(&mut self, n: &Node, item: &str) -> Vec<Exception> {
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
            let (fields, single) = match m.get_node("fields") {
                None => (Vec::new(), false),
                Some(Node::Scalar(s)) => (vec![s.as_str().to_string()], true),
                Some(f) => match self.strings(f, "fields", &what) {
                    Some(v) => (v, false),
                    None => continue,
                },
            };
            let comps = match m.get_node("comps") {
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

    fn rule(&mut self, map: &MarkedMappingNode) {
        let Some((name, loc)) = self.scalar(map, "rule", "rule") else {
            return;
        };
        let item = format!("rule '{name}'");
        const KEYS: &[&str] = &[
            "rule",
            "desc",
            "condition",
            "output",
            "priority",
            "enabled",
            "tags",
            "exceptions",
            "source",
            "warn_evttypes",
            "skip-if-unknown-filter",
            "capture",
            "capture_duration",
            "append",
            "override",
        ];
        self.check_keys(map, &item, KEYS);
        let appendable = ["condition", "output", "desc", "tags", "exceptions"];
        let replaceable = [
            "condition",
            "output",
            "desc",
            "tags",
            "exceptions",
            "priority",
            "enabled",
            "warn_evttypes",
            "skip-if-unknown-filter",
            "capture",
            "capture_duration",
        ];
        let existing = self.rule_idx.get(&name).copied();
        let has_override = map.get_node("override").is_some();
        let legacy_append = map
            .get_scalar("append")
            .and_then(|s| s.as_bool())
            .unwrap_or(false);

        // Legacy toggle: only `rule` and `enabled`.
        let only_enabled = map.len() == 2 && map.get_node("enabled").is_some();
        if only_enabled && !has_override {
            match existing {
                Some(j) => {
                    if let Some(e) = self.bool_key(map, "enabled", &item) {
                        self.rules[j].enabled = e;
                    }
                }
                None => self.err(loc, &item, "enables or disables a rule that does not exist"),
            }
            return;
        }

        if has_override || legacy_append {
            let Some(j) = existing else {
                self.err(loc, &item, "amends a rule that does not exist");
                return;
            };
            for key in replaceable {
                let mode = if legacy_append {
                    appendable.contains(&key).then_some(Mode::Append)
                } else {
                    self.mode_quiet(map, key)
                };
                let Some(mode) = mode else { continue };
                if map.get_node(key).is_none() {
                    if has_override {
                        self.err(
                            loc,
                            &item,
                            format!("override of '{key}' without a '{key}' value"),
                        );
                    }
                    continue;
                }
                self.amend_rule(j, map, key, mode, &item);
            }
            if has_override {
                // Validate the override mapping itself (modes, keys).
                let _ = self.mode(map, &item, "", &replaceable, &appendable);
            }
            return;
        }

        // A full definition (or a redefinition, which replaces).
        let mut missing = Vec::new();
        let desc = self.scalar(map, "desc", &item).map(|(s, _)| s);
        let cond = self.scalar(map, "condition", &item);
        let output = self.scalar(map, "output", &item);
        let prio = self.scalar(map, "priority", &item);
        if desc.is_none() {
            missing.push("desc");
        }
        if cond.is_none() {
            missing.push("condition");
        }
        if output.is_none() {
            missing.push("output");
        }
        if prio.is_none() {
            missing.push("priority");
        }
        if !missing.is_empty() {
            self.err(loc, &item, format!("missing {}", missing.join(", ")));
        }
        // Without a condition there is nothing more to check; otherwise keep going with
        // placeholders so that the condition's own errors are reported in the same run (the
        // errors already recorded keep the rule set from being used).
        let Some((cond, cloc)) = cond else {
            return;
        };
        let (output, oloc) = output.unwrap_or((String::new(), loc));
        let priority = match prio {
            Some((p, ploc)) => Priority::parse(&p).unwrap_or_else(|| {
                self.err(ploc, &item, format!("unknown priority '{p}' (emergency, alert, critical, error, warning, notice, informational, debug)"));
                Priority::Debug
            }),
            None => Priority::Debug,
        };
        let desc = desc.unwrap_or_default();
        let tags = match map.get_node("tags") {
            Some(t) => self
                .strings(t, "tags", &item)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            None => BTreeSet::new(),
        };
        let exceptions = match map.get_node("exceptions") {
            Some(e) => self.exceptions(e, &item),
            None => Vec::new(),
        };
        let rule = RuleDef {
            name: name.clone(),
            desc,
            condition: Text::new(cloc, cond),
            output: output.trim().to_string(),
            output_loc: Some(oloc),
            priority,
            enabled: self.bool_key(map, "enabled", &item).unwrap_or(true),
            tags,
            exceptions,
            source: self
                .scalar(map, "source", &item)
                .map(|(s, _)| s)
                .unwrap_or_else(|| "syscall".into()),
            warn_evttypes: self.bool_key(map, "warn_evttypes", &item).unwrap_or(true),
            skip_if_unknown_filter: self
                .bool_key(map, "skip-if-unknown-filter", &item)
                .unwrap_or(false),
            loc,
        };
        match existing {
            Some(j) => self.rules[j] = rule,
            None => {
                self.rule_idx.insert(name, self.rules.len());
                self.rules.push(rule);
            }
        }
    }

    fn mode_quiet(&self, map: &MarkedMappingNode, key: &str) -> Option<Mode> {
        match map.get_mapping("override")?.get_scalar(key)?.as_str() {
            "append" => Some(Mode::Append),
            "replace" => Some(Mode::Replace),
            _ => None,
        }
    }

    fn amend_rule(&mut self, j: usize, map: &MarkedMappingNode, key: &str, mode: Mode, item: &str) {
        match key {
            "condition" => {
                if let Some((c, cloc)) = self.scalar(map, key, item) {
                    match mode {
                        Mode::Append => self.rules[j].condition.append(cloc, c),
                        Mode::Replace => self.rules[j].condition = Text::new(cloc, c),
                    }
                }
            }
            "output" | "desc" => {
                if let Some((v, vloc)) = self.scalar(map, key, item) {
                    let r = &mut self.rules[j];
                    let slot = if key == "output" {
                        &mut r.output
                    } else {
                        &mut r.desc
                    };
                    match mode {
                        Mode::Append => {
                            slot.push(' ');
                            slot.push_str(v.trim());
                        }
                        Mode::Replace => *slot = v.trim().to_string(),
                    }
                    if key == "output" {
                        r.output_loc = Some(vloc);
                    }
                }
            }
            "tags" => {
                if let Some(n) = map.get_node(key) {
                    let tags = self.strings(n, "tags", item).unwrap_or_default();
                    let r = &mut self.rules[j];
                    if mode == Mode::Replace {
                        r.tags.clear();
                    }
                    r.tags.extend(tags);
                }
            }
            "exceptions" => {
                if let Some(n) = map.get_node(key) {
                    let new = self.exceptions(n, item);
                    let r = &mut self.rules[j];
                    if mode == Mode::Replace {
                        r.exceptions = new;
                    } else {
                        for e in new {
                            match r.exceptions.iter_mut().find(|x| x.name == e.name) {
                                Some(x) => x.values.extend(e.values),
                                None => r.exceptions.push(e),
                            }
                        }
                    }
                }
            }
            "priority" => {
                if let Some((p, ploc)) = self.scalar(map, key, item) {
                    match Priority::parse(&p) {
                        Some(pr) => self.rules[j].priority = pr,
                        None => self.err(ploc, item, format!("unknown priority '{p}'")),
                    }
                }
            }
            "enabled" | "warn_evttypes" | "skip-if-unknown-filter" => {
                if let Some(b) = self.bool_key(map, key, item) {
                    let r = &mut self.rules[j];
                    match key {
                        "enabled" => r.enabled = b,
                        "warn_evttypes" => r.warn_evttypes = b,
                        _ => r.skip_if_unknown_filter = b,
                    }
                }
            }
            _ => {}
        }
    }
}

/// The condition text of a rule with its exceptions folded in, as Falco builds it:
/// `(cond) and not (f1 c1 v1 and f2 c2 v2 or ...)` per exception.
pub fn with_exceptions(cond: &str, exceptions: &[Exception]) -> String {
    let mut out = format!("({cond})");
    for ex in exceptions {
        let mut alts = Vec::new();
        if ex.single {
            let vals: Vec<String> = ex
                .values
                .iter()
                .flat_map(|row| row.iter())
                .map(|v| match v {
                    ExcValue::Item(s) => quote_item(s),
                    ExcValue::List(l) => l
                        .iter()
                        .map(|s| quote_item(s))
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
                        let list_op = matches!(c.as_str(), "in" | "intersects" | "pmatch");
                        let val = match v {
                            ExcValue::List(l) => format!(
                                "({})",
                                l.iter()
                                    .map(|s| quote_item(s))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                            ExcValue::Item(s) if list_op && !s.starts_with('(') => format!("({s})"),
                            ExcValue::Item(s) => quote_item(s),
                        };
                        format!("{f} {c} {val}")
                    })
                    .collect();
                if !terms.is_empty() {
                    alts.push(format!("({})", terms.join(" and ")));
                }
            }
        }
        if !alts.is_empty() {
            out.push_str(&format!(" and not ({})", alts.join(" or ")));
        }
    }
    out
}

/// libyaml and yaml-cpp (Falco's parser) accept flow collections whose continuation lines
/// are not indented past their key, e.g. a list's closing `]` at the key's column; strict
/// YAML 1.2 parsers refuse them. Indent such lines by the minimum that makes them valid, so
/// upstream files load unchanged. Line numbers do not change.
pub fn relax_flow_indentation(text: &str) -> std::borrow::Cow<'_, str> {
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

fn yaml_error(e: &marked_yaml::LoadError) -> (Loc, String) {
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

    fn load(files: &[(&str, &str)]) -> Collection {
        let mut c = Collection::new();
        for (n, t) in files {
            c.add_file(n, t);
        }
        c
    }

    fn errors(c: &Collection) -> Vec<String> {
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

    #[test]
    fn accepts_flow_lists_closed_at_the_key_column() {
        let t = "- list: l\n  items: [\n    a, \"b # c\",\n  ]\n- list: m\n  items: [x]\n";
        let r = relax_flow_indentation(t);
        assert_eq!(
            r,
            "- list: l\n  items: [\n    a, \"b # c\",\n   ]\n- list: m\n  items: [x]\n"
        );
        let c = load(&[("f.yaml", t)]);
        assert!(errors(&c).is_empty(), "{:?}", errors(&c));
        assert_eq!(c.lists[0].items, vec!["a", "b # c"]);
        // Valid YAML is left alone.
        assert!(matches!(
            relax_flow_indentation(BASE),
            std::borrow::Cow::Borrowed(_)
        ));
    }

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
