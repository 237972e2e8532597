//! What a configuration changes in a loaded rule set, as Falco applies its `falco.yaml`:
//! `append_output` (text and fields added to the outputs of matching rules) and `rules`
//! (rules enabled or disabled by name, `*` wildcards, or tag, in order, after loading).

use crate::config::{AppendOutput, ExtraField, RuleSwitch};

use super::{engine::build_index, output::Format, Engine};

impl Engine {
    /// Apply `append_output` items in order; errors name the item (`append_output[1]...`).
    pub(crate) fn append_output(&mut self, items: &[AppendOutput]) -> Result<(), String> {
        for (i, item) in items.iter().enumerate() {
            let at = |what: &str, (msg, _): (String, String)| {
                format!("append_output[{i}].{what}: {msg}")
            };
            if item.suggested_output {
                self.decorate_matching(|r| matches(item, &r.name, &r.tags));
                self.suggest_statics(item)?;
            }
            let text = match &item.extra_output {
                Some(t) => Some(Format::parse(t).map_err(|e| at("extra_output", e))?),
                None => None,
            };
            let mut fields = Vec::new();
            for (j, f) in item.extra_fields.iter().enumerate() {
                let what = format!("extra_fields[{j}]");
                match f {
                    ExtraField::Field(name) => {
                        let ex = Format::single_field(name).map_err(|e| at(&what, e))?;
                        fields.push((name.clone(), Some(ex), None));
                    }
                    ExtraField::Formatted(m) => {
                        let mut kv = m.iter();
                        let (Some((k, v)), None) = (kv.next(), kv.next()) else {
                            return Err(format!(
                                "append_output[{i}].{what}: one key per entry (key: \"format\")"
                            ));
                        };
                        let fmt = Format::parse(v).map_err(|e| at(&what, e))?;
                        fields.push((k.clone(), None, Some(fmt)));
                    }
                }
            }
            for r in &mut self.rules {
                if !matches(item, &r.name, &r.tags) {
                    continue;
                }
                if let Some(t) = &text {
                    r.output.append(t);
                }
                for (k, ex, fmt) in &fields {
                    r.output.add_field(k, ex.clone(), fmt.clone());
                }
            }
        }
        Ok(())
    }

    /// Falco's `static_fields`: `static.NAME` for every NAME, in conditions and outputs.
    /// Call before [`Engine::append_output`] (its suggested output shows them), then
    /// [`Engine::check_static_fields`].
    pub(crate) fn set_static_fields(
        &mut self,
        fields: &std::collections::BTreeMap<String, String>,
    ) {
        self.statics = fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    }

    /// A rule (condition or output, appended text included) naming a static field that is
    /// not defined is an error, as in Falco (an unknown field).
    pub(crate) fn check_static_fields(&self) -> Result<(), String> {
        for r in &self.rules {
            let mut missing = None;
            let mut check = |e: &super::ir::Extract| {
                if let (super::fields::F::Static, super::fields::Arg::Key(k)) =
                    (e.field.f, &e.field.arg)
                {
                    if !self.statics.iter().any(|(n, _)| n == k) {
                        missing.get_or_insert_with(|| k.clone());
                    }
                }
            };
            r.node.extracts(&mut check);
            r.output.extracts().for_each(&mut check);
            if let Some(k) = missing {
                return Err(format!(
                    "rule '{}': static.{k} is not in static_fields",
                    r.name
                ));
            }
        }
        Ok(())
    }

    /// Falco's suggested output shows the static fields: ` static_NAME=%static.NAME`.
    fn suggest_statics(&mut self, item: &AppendOutput) -> Result<(), String> {
        if self.statics.is_empty() {
            return Ok(());
        }
        let text: String = self
            .statics
            .iter()
            .map(|(k, _)| format!(" static_{k}=%static.{k}"))
            .collect();
        let f = Format::parse(&text).map_err(|(m, _)| format!("static_fields: {m}"))?;
        for r in self
            .rules
            .iter_mut()
            .filter(|r| matches(item, &r.name, &r.tags))
        {
            r.output.append(&f);
        }
        Ok(())
    }

    /// Apply `rules` switches in order (an entry with both a rule and a tag switches the
    /// rule first, then the tag, as Falco does); errors name a bad pattern.
    pub(crate) fn switch_rules(&mut self, switches: &[RuleSwitch]) -> Result<(), String> {
        for (i, s) in switches.iter().enumerate() {
            let (on, sel) = match s {
                RuleSwitch::Enable(sel) => (true, sel),
                RuleSwitch::Disable(sel) => (false, sel),
            };
            if let Some(pat) = &sel.rule {
                let glob = globset::GlobBuilder::new(pat)
                    .literal_separator(false)
                    .build()
                    .map_err(|e| format!("rules[{i}].rule: {e}"))?
                    .compile_matcher();
                for r in self.rules.iter_mut().filter(|r| glob.is_match(&r.name)) {
                    r.enabled = on;
                }
            }
            if let Some(tag) = &sel.tag {
                for r in self.rules.iter_mut().filter(|r| r.tags.contains(tag)) {
                    r.enabled = on;
                }
            }
        }
        self.index = build_index(&self.rules);
        Ok(())
    }
}

/// Does `item` apply to the rule (source `syscall`, every tag, the name)?
fn matches(item: &AppendOutput, name: &str, tags: &[String]) -> bool {
    let m = &item.matches;
    m.source.as_deref().is_none_or(|s| s == "syscall")
        && m.tags.iter().all(|t| tags.contains(t))
        && m.rule.as_deref().is_none_or(|r| r == name)
}

#[cfg(test)]
mod tests {
    use crate::config::{self, Config};
    use crate::event::Event;
    use crate::rules::Engine;
    use crate::state::State;

    const RULES: &str = "- rule: Shadow read\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/shadow\n  output: read %fd.name\n  priority: WARNING\n  tags: [filesystem, pci]\n- rule: Other read\n  desc: d\n  condition: evt.type = openat\n  output: other %fd.name\n  priority: NOTICE\n  tags: [filesystem]\n";

    fn engine(yaml: &str) -> Engine {
        let dir = std::env::temp_dir().join(format!("sysaudit-configure-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join(format!("{}.yaml", yaml.len()));
        std::fs::write(&f, yaml).unwrap();
        let c: Config = config::load(Some(&f), &[]).unwrap().config;
        let mut e = Engine::load(
            &[("r.yaml".into(), RULES.into())],
            crate::rules::Priority::Debug,
        )
        .engine
        .unwrap();
        e.append_output(&c.append_output).unwrap();
        e.switch_rules(&c.rules).unwrap();
        e
    }

    fn alerts(e: &Engine) -> Vec<crate::rules::Alert> {
        let ev: Event = serde_json::from_str(r#"{"event":"syscall","time":"2026-12-06T10:00:00Z","pid":5,"tid":5,"ppid":1,"comm":"cat","exe":"/bin/cat","uid":0,"gid":0,"user":"root","group":"root","cgroup_id":9,"container_id":"abc","syscall":"openat","nr":257,"abi":"x86_64","ret":3,"path":"/etc/shadow","args":{"dirfd":"AT_FDCWD","name":"/etc/shadow","flags":"O_RDONLY"}}"#).unwrap();
        let mut st = State::replay();
        st.observe(&ev);
        let mut out = Vec::new();
        e.eval(&ev, &st, 1, &mut out);
        out
    }

    #[test]
    fn append_output_adds_text_and_fields_to_the_rules_it_matches() {
        let e = engine("append_output:\n  - match: {tags: [pci]}\n    extra_output: \"pid=%proc.pid\"\n    extra_fields:\n      - proc.name\n      - where: \"in %container.id\"\n  - match: {rule: Nope}\n    extra_output: never\n");
        let a = alerts(&e);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].message, "read /etc/shadow pid=5");
        let fields: Vec<(&str, String)> = a[0]
            .output_fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_string()))
            .collect();
        assert!(
            fields.contains(&("proc.name", "\"cat\"".into())),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("where", "\"in abc\"".into())),
            "{fields:?}"
        );
    }

    #[test]
    fn rules_are_switched_by_name_wildcard_and_tag_in_order() {
        let e = engine("rules:\n  - disable: {rule: \"Shadow*\"}\n");
        let a = alerts(&e);
        assert_eq!(
            a.iter().map(|a| a.rule.as_str()).collect::<Vec<_>>(),
            ["Other read"]
        );
        let e = engine("rules:\n  - disable: {tag: filesystem}\n  - enable: {rule: Shadow read}\n");
        let a = alerts(&e);
        assert_eq!(
            a.iter().map(|a| a.rule.as_str()).collect::<Vec<_>>(),
            ["Shadow read"]
        );
    }

    #[test]
    fn static_fields_are_fields_in_conditions_and_the_suggested_output() {
        let rules = "- rule: Prod read\n  desc: d\n  condition: evt.type = openat and static.env = prod\n  output: read in %static.env\n  priority: WARNING\n";
        let load = || {
            Engine::load(
                &[("r.yaml".into(), rules.into())],
                crate::rules::Priority::Debug,
            )
            .engine
            .unwrap()
        };
        let mut e = load();
        let statics = [
            ("env".to_string(), "prod".to_string()),
            ("site".to_string(), "lab 1".to_string()),
        ]
        .into();
        e.set_static_fields(&statics);
        e.append_output(&[crate::config::AppendOutput {
            suggested_output: true,
            ..Default::default()
        }])
        .unwrap();
        e.check_static_fields().unwrap();
        let a = alerts(&e);
        assert_eq!(a.len(), 1);
        assert!(
            a[0].message.starts_with("read in prod "),
            "{}",
            a[0].message
        );
        assert!(
            a[0].message.ends_with(" static_env=prod static_site=lab 1"),
            "{}",
            a[0].message
        );
        assert!(a[0]
            .output_fields
            .iter()
            .any(|(k, v)| k == "static.site" && v == "lab 1"));
        // Another value: the condition no longer holds.
        let mut e = load();
        e.set_static_fields(&[("env".to_string(), "dev".to_string())].into());
        assert!(alerts(&e).is_empty());
        // Not defined: an error naming the rule, as Falco's unknown field.
        let mut e = load();
        e.set_static_fields(&Default::default());
        let err = e.check_static_fields().unwrap_err();
        assert_eq!(err, "rule 'Prod read': static.env is not in static_fields");
    }
}
