//! Issue 10, Falco's `syscall_event_drops` under `watch -c`: a second that loses more than the
//! threshold is said, raises Falco's "Falco internal: syscall event drop" alert through the
//! outputs, or ends the run — at most as often as the token bucket allows. Simulated drops
//! exercise the actions without losing anything; a storm into a 16 KiB ring loses for real.

use serde_json::Value;
use sysaudit_tests::*;

const RULE: &str = "Falco internal: syscall event drop";

fn config(dir: &TempDir, drops: &str, extra: &str) -> String {
    let p = dir.0.join("falco.yaml");
    std::fs::write(
        &p,
        format!("json_output: true\nsyscall_event_drops:\n{drops}{extra}"),
    )
    .expect("falco.yaml");
    p.to_str().expect("UTF-8").to_string()
}

#[test]
fn simulated_drops_log_and_alert_every_second_without_losing_anything() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("drops-sim");
    let file = dir.0.join("alerts.json");
    let conf = config(
        &dir,
        "  actions: [log, alert]\n  rate: 10\n  max_burst: 10\n  simulate_drops: true\n",
        &format!(
            "file_output:\n  enabled: true\n  keep_alive: true\n  filename: {}\n",
            file.display()
        ),
    );
    let out = Agent::start(&["watch", "-c", &conf, "--duration", "3.5"]).wait();
    assert!(out.status.success(), "{}", out.stderr);
    let alerts: Vec<Value> = std::fs::read_to_string(&file)
        .expect("file output")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &Value| v["rule"] == RULE)
        .collect();
    assert!(alerts.len() >= 2, "{alerts:?}\n{}", out.stderr);
    let a = &alerts[0];
    assert_eq!(a["priority"], "Debug", "{a}");
    assert_eq!(a["output_fields"]["n_drops"], "1", "{a}");
    let text = a["output"].as_str().unwrap_or_default();
    assert!(
        text.ends_with(&format!(
            "Debug {RULE}. 1 system calls dropped in last second."
        )),
        "{a}"
    );
    assert!(
        out.stderr.contains("1 system calls dropped in last second"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stats()["lost"], 0, "nothing was really lost");
}

#[test]
fn real_drops_over_the_threshold_alert_and_end_the_run() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("drops-real");
    let conf = config(&dir, "  threshold: 0\n  actions: [alert, exit]\n", "");
    let agent = Agent::start(&[
        "watch",
        "-c",
        &conf,
        "--ring-size",
        "16K",
        "--no-path-filter",
    ]);
    let c = storm_container(300_000);
    let storm = std::thread::spawn(move || {
        c.run();
    });
    let out = agent.wait();
    let _ = storm.join();
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Exiting (syscall_event_drops.actions: exit)"),
        "{}",
        out.stderr
    );
    let a = out
        .events()
        .into_iter()
        .find(|v| v["rule"] == RULE)
        .unwrap_or_else(|| panic!("no drop alert:\n{}", out.stdout));
    let n: u64 = a["output_fields"]["n_drops"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("n_drops");
    let evts: u64 = a["output_fields"]["n_evts"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("n_evts");
    assert!(n > 0 && evts > 0, "{a}");
    // Every loss is still counted in the stats.
    assert!(out.stats()["lost"].as_u64() >= Some(n), "{}", out.stderr);
}
