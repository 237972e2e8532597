//! Issue 13, kernel filters from the rules: opens of plain absolute paths that no loaded rule
//! can match are dropped in the kernel, and every detection still fires — the sensitive file
//! read by its plain path, through `..`, and relative to the working directory.

use serde_json::Value;
use sysaudit_tests::*;

/// Opens of a file no rule cares about, then `/etc/shadow` read three ways.
const SCRIPT: &str = "echo root:x: > /etc/shadow; echo x > /tmp/f; i=0; while [ $i -lt 5000 ]; do : < /tmp/f; i=$((i+1)); done; \
     cat /etc/shadow > /dev/null; cat /tmp/../etc/shadow > /dev/null; \
     cd /etc && cat ./shadow > /dev/null; true";

/// Alerts of the sensitive-file rule on `/etc/shadow`, and the kernel's filtered count.
fn watch(extra: &[&str]) -> (Vec<Value>, u64, String) {
    let mut args = vec!["watch", "--json"];
    args.extend_from_slice(extra);
    let agent = Agent::start(&args);
    let c = TestContainer::new(&["sh", "-c", SCRIPT]);
    let out = c.run();
    assert!(out.status.success(), "{out:?}");
    let res = agent.stop();
    let alerts = res
        .alerts_about(c.id())
        .into_iter()
        .filter(|a| {
            a["rule"] == "Sensitive file read in a container"
                && a["output_fields"]["fd.name"] == "/etc/shadow"
        })
        .collect();
    let filtered = res.stats()["kernel"]["filtered_path"].as_u64().unwrap_or(0);
    (alerts, filtered, res.stderr)
}

#[test]
fn opens_no_rule_can_match_are_dropped_in_the_kernel_and_every_detection_holds() {
    if !privileged() {
        return;
    }
    let (alerts, filtered, stderr) = watch(&[]);
    assert!(stderr.contains("kernel path filter on"), "{stderr}");
    assert!(
        filtered >= 5000,
        "the loop's 5,000 opens of /tmp/f are dropped in the kernel; filtered {filtered}"
    );
    assert_eq!(
        alerts.len(),
        3,
        "/etc/shadow read by its plain path, through `..` and relatively: {alerts:#?}"
    );

    let (alerts, filtered, _) = watch(&["--no-path-filter"]);
    assert_eq!(filtered, 0, "--no-path-filter records every open");
    assert_eq!(alerts.len(), 3, "{alerts:#?}");

    // Two evaluation threads: the relative read needs the working directory `cd` set in the
    // shell, which the `cat` it forks inherits across threads.
    let (alerts, _, stderr) = watch(&["--no-path-filter", "--workers", "2"]);
    assert!(stderr.contains("2 evaluation threads"), "{stderr}");
    assert_eq!(alerts.len(), 3, "{alerts:#?}");
}
