//! Detection end to end: `sysaudit watch` with the default ruleset against real containers,
//! alerts in Falco's JSON on stdout, in a file and POSTed to a webhook. Also the recorder of
//! the captures the default ruleset's unit tests replay (`cargo xtask captures`).

use std::collections::BTreeSet;

use serde_json::Value;
use sysaudit_tests::{scenarios::*, *};

/// `sysaudit rules syscalls`: what live detection traces for the default rules.
fn detection_syscalls() -> String {
    let r = sysaudit(&["rules", "syscalls"]);
    assert!(r.status.success(), "{}", r.stderr);
    r.stdout.trim().to_string()
}

/// Re-record `rules/tests/*.jsonl` from real containers (run by `cargo xtask captures`).
#[test]
#[ignore]
fn record_rule_captures() {
    if !privileged() {
        return;
    }
    let syscalls = detection_syscalls();
    let dir = captures_dir();
    std::fs::create_dir_all(dir).unwrap();
    let mut manifest = String::from("# capture file -> the rule it must fire ('-': none may fire). Written by `cargo xtask captures`.\n");
    for s in SCENARIOS {
        let c = container(s);
        let agent = Agent::start(&[
            "trace",
            "--json",
            "--container",
            c.id(),
            "--syscalls",
            &syscalls,
        ]);
        run(s, &c);
        let res = agent.stop();
        assert!(res.status.success(), "{}: {}", s.name, res.stderr);
        assert!(!res.stdout.is_empty(), "{}: empty capture", s.name);
        let file = format!("{}.jsonl", s.name);
        std::fs::write(dir.join(&file), &res.stdout).unwrap();
        manifest.push_str(&format!("{file}\t{}\n", s.fires.unwrap_or("-")));
        eprintln!("recorded {file}: {} events", res.stdout.lines().count());
    }
    std::fs::write(dir.join("expected.tsv"), manifest).unwrap();
}

#[test]
fn watch_raises_falco_alerts_for_real_containers() {
    if !privileged() {
        return;
    }
    watch_raises(&["--workers", "0"]);
}

/// Issue 13, several cores: the same detections with the records spread over two
/// evaluation threads (ancestry and inherited state cross them: `shell_spawned_by_awk`
/// reads the parent's name, `sensitive_file_read` a descriptor named before a fork).
#[test]
fn watch_raises_the_same_alerts_on_two_evaluation_threads() {
    if !privileged() {
        return;
    }
    watch_raises(&["--workers", "2"]);
}

fn watch_raises(extra: &[&str]) {
    let dir = TempDir::new("watch");
    let file = dir.0.join("alerts.json");
    let (url, posted) = http_receiver();
    let mut args = vec![
        "watch",
        "--json",
        "--output",
        file.to_str().unwrap(),
        "--webhook",
        &url,
    ];
    args.extend_from_slice(extra);
    let agent = Agent::start(&args);
    let picked = [
        "netcat_remote_shell",
        "sensitive_file_read",
        "shell_spawned_by_awk",
        "benign_file_work",
    ];
    let mut ids = Vec::new();
    for name in picked {
        let s = SCENARIOS.iter().find(|s| s.name == name).unwrap();
        let c = container(s);
        run(s, &c);
        ids.push((s, c.id().to_string()));
    }
    let res = agent.stop();
    assert!(res.status.success(), "{}", res.stderr);
    let alerts = res.events();
    for (s, id) in &ids {
        let mine: Vec<&Value> = alerts
            .iter()
            .filter(|a| a["output_fields"]["container.id"].as_str() == Some(id.as_str()))
            .collect();
        match s.fires {
            Some(rule) => {
                let a = mine.iter().find(|a| a["rule"] == rule).unwrap_or_else(|| {
                    panic!(
                        "{}: no '{rule}' alert:\n{}\n{}",
                        s.name, res.stdout, res.stderr
                    )
                });
                // Falco's JSON alert, field for field.
                let keys: BTreeSet<&str> =
                    a.as_object().unwrap().keys().map(String::as_str).collect();
                assert_eq!(
                    keys,
                    BTreeSet::from([
                        "hostname",
                        "output",
                        "output_fields",
                        "priority",
                        "rule",
                        "source",
                        "tags",
                        "time"
                    ])
                );
                assert_eq!(a["source"], "syscall");
                assert!(a["output_fields"]["evt.time"].is_u64());
                assert!(a["time"].as_str().unwrap().ends_with('Z'));
                assert!(a["output"]
                    .as_str()
                    .unwrap()
                    .contains(&format!(": {} ", a["priority"].as_str().unwrap())));
            }
            None => assert!(mine.is_empty(), "benign {} raised {mine:?}", s.name),
        }
    }
    // The same alerts reached the file and the webhook.
    let in_file = std::fs::read_to_string(&file).unwrap();
    assert_eq!(in_file.lines().count(), alerts.len(), "file output");
    let posted: Vec<String> = posted
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| b.clone())
        .collect();
    assert_eq!(posted.len(), alerts.len(), "webhook output");
    for p in &posted {
        let v: Value = serde_json::from_str(p).unwrap();
        assert!(v["rule"].is_string());
    }
}
