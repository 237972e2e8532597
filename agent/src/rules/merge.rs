//! Falco's merge semantics: a later item amends an earlier one by `override: {key: append |
//! replace}` or legacy `append: true`, a plain redefinition replaces it in place, an item
//! holding only `rule` and `enabled` toggles a rule.

use std::collections::BTreeSet;

use marked_yaml::{types::MarkedMappingNode, Node};

use super::{
    items::{Collection, ListDef, MacroDef, RuleDef, Text},
    priority::Priority,
    yaml::{loc_node, loc_of},
};

/// How an item amends an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Append,
    Replace,
}

impl Collection {
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

    pub(super) fn list(&mut self, map: &MarkedMappingNode) {
        let Some((name, loc)) = self.scalar(map, "list", "list") else {
            return;
        };
        let item = format!("list '{name}'");
        if name.trim().is_empty() {
            self.err(loc, "list", "a list needs a name");
            return;
        }
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

    pub(super) fn macro_(&mut self, map: &MarkedMappingNode) {
        let Some((name, loc)) = self.scalar(map, "macro", "macro") else {
            return;
        };
        let item = format!("macro '{name}'");
        if name.trim().is_empty() {
            self.err(loc, "macro", "a macro needs a name");
            return;
        }
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

    pub(super) fn rule(&mut self, map: &MarkedMappingNode) {
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
        if name.trim().is_empty() {
            self.err(loc, "rule", "a rule needs a name");
            return;
        }
        if let Some(d) = map.get_scalar("capture_duration") {
            if d.as_str().trim().parse::<u64>().is_err() {
                self.err(
                    loc_of(d),
                    &item,
                    format!(
                        "'capture_duration' must be a number of milliseconds, not '{}'",
                        d.as_str()
                    ),
                );
            }
        }
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
            // An empty source is the default one.
            let source = map
                .get_scalar("source")
                .map(|s| s.as_str().trim())
                .map(|s| if s.is_empty() { "syscall" } else { s }.to_string());
            if let Some(s) = source.filter(|s| *s != self.rules[j].source) {
                let was = self.rules[j].source.clone();
                self.err(
                    loc,
                    &item,
                    format!("amended with source '{s}'; it was defined with source '{was}'"),
                );
                return;
            }
            if legacy_append
                && map.get_node("condition").is_none()
                && map.get_node("exceptions").is_none()
            {
                self.err(
                    loc,
                    &item,
                    "an appended rule needs a condition or exceptions to append",
                );
                return;
            }
            if has_override {
                // Every key given must say, in `override`, whether it appends or replaces.
                let said: Vec<String> = match map.get_node("override") {
                    Some(Node::Mapping(o)) => o.keys().map(|k| k.as_str().to_string()).collect(),
                    _ => Vec::new(),
                };
                for k in map.keys().map(|k| k.as_str()) {
                    if k != "rule" && k != "override" && !said.iter().any(|s| s == k) {
                        self.err(
                            loc,
                            &item,
                            format!("'{k}' is given but 'override' does not say whether it appends or replaces"),
                        );
                    }
                }
            }
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
            Some(e) => self.exceptions(e, &item, &[]),
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
                .map(|(s, _)| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "syscall".into()),
            warn_evttypes: self.bool_key(map, "warn_evttypes", &item).unwrap_or(true),
            skip_if_unknown_filter: self
                .bool_key(map, "skip-if-unknown-filter", &item)
                .unwrap_or(false),
            loc,
        };
        match existing {
            Some(j) if self.rules[j].source != rule.source => {
                let was = self.rules[j].source.clone();
                self.err(
                    loc,
                    &item,
                    format!(
                        "redefined with source '{}'; it was defined with source '{was}'",
                        rule.source
                    ),
                );
            }
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
                    // A replacement is whole: its exceptions take nothing from the old ones.
                    let known = match mode {
                        Mode::Append => self.rules[j].exceptions.clone(),
                        Mode::Replace => Vec::new(),
                    };
                    let new = self.exceptions(n, item, &known);
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
