//! Falco's upstream rules files (read from the reference data, never copied into the tree)
//! load unchanged, with the rule, macro and list counts Falco has and the event types Falco's
//! inference gives each rule.

#[path = "../../tests/src/reference.rs"]
mod reference;

use std::collections::BTreeMap;

use sysaudit::rules::{Engine, Priority};

/// The engine of these upstream files; `None` (skipped, loudly) without the reference data.
fn load(names: &[&str]) -> Option<Engine> {
    let mut sources = Vec::new();
    for n in names {
        sources.push(reference::falco_text(n)?);
    }
    let loaded = Engine::load(&sources, Priority::Debug);
    let errors: Vec<String> = loaded.errors().map(|d| d.render(&loaded.files)).collect();
    assert!(errors.is_empty(), "{names:?}:\n{}", errors.join("\n"));
    Some(loaded.engine.expect("engine"))
}

#[test]
fn default_file_loads_all_25_rules() {
    let Some(e) = load(&["falco_rules.yaml"]) else {
        return;
    };
    assert_eq!((e.rules.len(), e.macros, e.lists), (25, 87, 49));
    assert!(e.rules.iter().all(|r| r.enabled));
}

#[test]
fn incubating_and_sandbox_files_load() {
    let Some(e) = load(&["falco-incubating_rules.yaml"]) else {
        return;
    };
    assert_eq!((e.rules.len(), e.macros, e.lists), (31, 82, 54));
    let Some(e) = load(&["falco-sandbox_rules.yaml"]) else {
        return;
    };
    assert_eq!((e.rules.len(), e.macros, e.lists), (37, 183, 60));
    assert_eq!(e.rules.iter().filter(|r| !r.enabled).count(), 12);
}

#[test]
fn all_three_files_load_together() {
    let Some(e) = load(&[
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]) else {
        return;
    };
    assert_eq!((e.rules.len(), e.macros, e.lists), (93, 315, 118));
}

/// Section 10 of field-usage.txt: `[file] Rule name: type,type,...`.
fn reference_event_types() -> Option<BTreeMap<String, Vec<String>>> {
    let (_, text) = reference::falco_text("field-usage.txt")?;
    let mut out = BTreeMap::new();
    let mut in_section = false;
    for line in text.lines() {
        if line.starts_with("## 10.") {
            in_section = true;
            continue;
        }
        if in_section && line.starts_with("## ") {
            break;
        }
        let Some(rest) = line.trim_start().strip_prefix('[') else {
            continue;
        };
        let Some((_, rest)) = rest.split_once("] ") else {
            continue;
        };
        let Some((name, types)) = rest.rsplit_once(": ") else {
            continue;
        };
        let mut t: Vec<String> = types.split(',').map(str::to_string).collect();
        t.sort();
        out.insert(name.to_string(), t);
    }
    Some(out)
}

#[test]
fn event_type_inference_matches_falco_for_all_93_rules() {
    let (Some(e), Some(reference)) = (
        load(&[
            "falco_rules.yaml",
            "falco-incubating_rules.yaml",
            "falco-sandbox_rules.yaml",
        ]),
        reference_event_types(),
    ) else {
        return;
    };
    assert_eq!(reference.len(), 93);
    for r in &e.rules {
        let want = reference
            .get(&r.name)
            .unwrap_or_else(|| panic!("rule {} not in the reference", r.name));
        let mut got: Vec<String> = r.evttypes.names().into_iter().map(str::to_string).collect();
        got.sort();
        assert_eq!(&got, want, "event types of rule '{}'", r.name);
    }
}

#[test]
fn the_kernel_set_for_the_default_file_is_its_19_event_types() {
    let Some(e) = load(&["falco_rules.yaml"]) else {
        return;
    };
    let (names, all) = e.syscalls();
    assert!(!all);
    assert_eq!(names.len(), 19, "{names:?}");
}
