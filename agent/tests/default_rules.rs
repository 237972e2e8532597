//! The default ruleset against recorded captures of real containers: each behaviour fires
//! its rule; benign captures fire nothing.

use std::{fs, path::PathBuf};

use sysaudit::{
    event::Event,
    rules::{Alert, Engine, Matching, Priority},
    rules::{DEFAULT_RULES, DEFAULT_RULES_NAME},
    state::State,
};

fn engine() -> Engine {
    let loaded = Engine::load(
        &[(DEFAULT_RULES_NAME.to_string(), DEFAULT_RULES.to_string())],
        Priority::Debug,
    );
    let diags: Vec<String> = loaded
        .diags
        .iter()
        .map(|d| d.render(&loaded.files))
        .collect();
    assert!(
        diags.is_empty(),
        "the default ruleset must load without errors or warnings:\n{}",
        diags.join("\n")
    );
    let mut e = loaded.engine.expect("engine");
    e.matching = Matching::All;
    e
}

/// Replay a capture exactly as `sysaudit rules test` does.
fn replay(e: &Engine, path: &PathBuf) -> Vec<Alert> {
    let text = fs::read_to_string(path).expect("capture");
    let mut st = State::replay();
    let mut alerts = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let ev: Event = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("{}:{}: {err}", path.display(), i + 1));
        e.eval(&ev, &st, i as u64 + 1, &mut alerts);
        st.observe(&ev);
    }
    alerts
}

#[test]
fn every_rule_fires_on_its_capture_and_benign_captures_stay_quiet() {
    let e = engine();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules/tests");
    let manifest = fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv");
    let mut covered = std::collections::BTreeSet::new();
    let mut benign = 0;
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (file, rule) = line.split_once('\t').expect("file<TAB>rule");
        let alerts = replay(&e, &dir.join(file));
        let fired: Vec<&str> = alerts.iter().map(|a| a.rule.as_str()).collect();
        if rule == "-" {
            assert!(fired.is_empty(), "benign {file} fired {fired:?}");
            benign += 1;
        } else {
            assert!(
                fired.contains(&rule),
                "{file} should fire '{rule}', fired {fired:?}"
            );
            assert!(
                fired.iter().all(|f| *f == rule),
                "{file} fired more than '{rule}': {fired:?}"
            );
            covered.insert(rule.to_string());
        }
    }
    // Every rule of the default set is covered by a capture, and there are benign ones.
    let all: std::collections::BTreeSet<String> = e.rules.iter().map(|r| r.name.clone()).collect();
    assert_eq!(covered, all, "rules without a capture");
    assert!(benign >= 2);
}

#[test]
fn alerts_render_as_falco_json() {
    let e = engine();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules/tests");
    let alerts = replay(&e, &dir.join("sensitive_file_read.jsonl"));
    let a = alerts.first().expect("an alert").to_json();
    assert_eq!(a["rule"], "Sensitive file read in a container");
    assert_eq!(a["priority"], "Warning");
    assert_eq!(a["source"], "syscall");
    assert_eq!(a["output_fields"]["fd.name"], "/etc/shadow");
    assert!(a["output_fields"]["evt.time"].is_u64());
    assert!(a["output"]
        .as_str()
        .unwrap()
        .contains(": Warning Sensitive file /etc/shadow read"));
    let tags: Vec<&str> = a["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let mut sorted = tags.clone();
    sorted.sort();
    assert_eq!(tags, sorted);
}
