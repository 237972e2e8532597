//! Falco's upstream rules files load unchanged, with the rule, macro and list counts Falco
//! has and the event types Falco's inference gives each rule.

use std::{collections::BTreeMap, fs, path::PathBuf};

use sysaudit::rules::{Engine, Priority};

fn upstream(name: &str) -> (String, String) {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../rules/upstream")
        .join(name);
    (
        p.display().to_string(),
        fs::read_to_string(&p).expect("upstream rules file"),
    )
}

fn load(names: &[&str]) -> Engine {
    let sources: Vec<(String, String)> = names.iter().map(|n| upstream(n)).collect();
    let loaded = Engine::load(&sources, Priority::Debug);
    let errors: Vec<String> = loaded.errors().map(|d| d.render(&loaded.files)).collect();
    assert!(errors.is_empty(), "{names:?}:\n{}", errors.join("\n"));
    loaded.engine.expect("engine")
}

#[test]
fn default_file_loads_all_25_rules() {
    let e = load(&["falco_rules.yaml"]);
    assert_eq!((e.rules.len(), e.macros, e.lists), (25, 87, 49));
    assert!(e.rules.iter().all(|r| r.enabled));
}

#[test]
fn incubating_and_sandbox_files_load() {
    let e = load(&["falco-incubating_rules.yaml"]);
    assert_eq!((e.rules.len(), e.macros, e.lists), (31, 82, 54));
    let e = load(&["falco-sandbox_rules.yaml"]);
    assert_eq!((e.rules.len(), e.macros, e.lists), (37, 183, 60));
    assert_eq!(e.rules.iter().filter(|r| !r.enabled).count(), 12);
}

#[test]
fn all_three_files_load_together() {
    let e = load(&[
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]);
    assert_eq!((e.rules.len(), e.macros, e.lists), (93, 315, 118));
}

/// Section 10 of field-usage.txt: `[file] Rule name: type,type,...`.
fn reference_event_types() -> BTreeMap<String, Vec<String>> {
    let (_, text) = upstream("field-usage.txt");
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
    out
}

#[test]
fn event_type_inference_matches_falco_for_all_93_rules() {
    let e = load(&[
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]);
    let reference = reference_event_types();
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
    let e = load(&["falco_rules.yaml"]);
    let (names, all) = e.syscalls();
    assert!(!all);
    assert_eq!(names.len(), 19, "{names:?}");
}
