//! Issue 10, Prometheus metrics and Kubernetes probes: `watch -c` with Falco's `webserver`
//! and `metrics` keys serves `/healthz`, `/readyz` and `/metrics`; a real Prometheus (Debian's,
//! started here) scrapes it and sees the alert a container raised, and `promtool check
//! metrics` passes the exposition.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use serde_json::Value;
use sysaudit_tests::*;

/// A Prometheus server scraping `target` every second, stopped when dropped.
struct Prometheus {
    child: std::process::Child,
    url: String,
    _dir: TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let dir = TempDir::new("prometheus");
        let conf = dir.0.join("prometheus.yml");
        std::fs::write(
            &conf,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sysaudit\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("prometheus.yml");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", conf.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (cargo xtask setup installs it)");
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// The instant vector of `query`.
    fn query(&self, query: &str) -> Vec<Value> {
        let q: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        http_get(&format!("{}/api/v1/query?query={q}", self.url))
            .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_scrapes_the_agent_and_kubernetes_probes_answer() {
    if !privileged() {
        return;
    }
    let port = free_port();
    let dir = TempDir::new("metrics");
    let main = dir.0.join("falco.yaml");
    std::fs::write(
        &main,
        format!(
            "json_output: true\nwebserver:\n  enabled: true\n  listen_address: 127.0.0.1\n  listen_port: {port}\n  k8s_healthz_endpoint: /healthz\n  prometheus_metrics_enabled: true\nmetrics:\n  enabled: true\n"
        ),
    )
    .expect("falco.yaml");
    let base = format!("http://127.0.0.1:{port}");
    let agent = Agent::start(&["watch", "-c", main.to_str().expect("UTF-8")]);
    assert_eq!(
        http_get(&format!("{base}/healthz")),
        Some((200, r#"{"status": "ok"}"#.to_string()))
    );
    assert_eq!(http_get(&format!("{base}/readyz")).map(|r| r.0), Some(200));
    assert_eq!(http_get(&format!("{base}/nothing")).map(|r| r.0), Some(404));

    let prom = Prometheus::start(&format!("127.0.0.1:{port}"));
    let c = TestContainer::shadow_reader(1);
    c.run();
    // The alert, as Prometheus stored it from its scrapes.
    eventually("Prometheus has the alert", || {
        prom.query(r#"sysaudit_alerts_total{rule="Sensitive file read in a container"}"#)
            .iter()
            .any(|s| s["value"][1] == "1" && s["metric"]["priority"] == "warning")
    });
    eventually("Prometheus has the container's opens", || {
        prom.query(r#"sysaudit_events_total{syscall="openat"}"#)
            .iter()
            .any(|s| s["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()) > Some(0.0))
    });
    let (status, text) = http_get(&format!("{base}/metrics")).expect("/metrics");
    assert_eq!(status, 200);
    for name in [
        "sysaudit_records_total",
        "sysaudit_events_lost_total{stage=\"ring_full\"} 0",
        "sysaudit_kernel_events_total{counter=\"emitted\"}",
        "sysaudit_output_deliveries_total{output=\"stdout\"}",
        "sysaudit_processes_tracked{thread=\"0\"}",
        "sysaudit_rule_evaluation_seconds_bucket",
        "sysaudit_rules_enabled",
        "sysaudit_config_reloads_total{result=\"ok\"} 0",
        "sysaudit_config_reloads_total{result=\"failed\"} 0",
        "sysaudit_ring_buffer_fill_ratio",
    ] {
        assert!(text.contains(name), "no {name} in:\n{text}");
    }
    // Prometheus's own linter passes the exposition.
    let mut lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    lint.stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("to promtool");
    let out = lint.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let res = agent.stop();
    assert!(res.status.success(), "{}", res.stderr);
}

/// The value of the unlabelled series `name` in an exposition.
fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The ring's fill is measured, not guessed: a storm into a 16 KiB ring fills it (records
/// are lost, counted) and the gauge says so; idle, it reads nearly empty.
#[test]
fn the_ring_buffer_fill_gauge_follows_the_kernel() {
    if !privileged() {
        return;
    }
    let port = free_port();
    let dir = TempDir::new("ring-fill");
    let main = dir.0.join("falco.yaml");
    std::fs::write(
        &main,
        format!("json_output: true\nwebserver:\n  enabled: true\n  listen_address: 127.0.0.1\n  listen_port: {port}\n  prometheus_metrics_enabled: true\nmetrics:\n  enabled: true\n"),
    )
    .expect("falco.yaml");
    let url = format!("http://127.0.0.1:{port}/metrics");
    let agent = Agent::start(&[
        "watch",
        "-c",
        main.to_str().expect("UTF-8"),
        "--ring-size",
        "16K",
        "--no-path-filter",
    ]);
    let fill = || http_get(&url).and_then(|(_, t)| value(&t, "sysaudit_ring_buffer_fill_ratio"));
    std::thread::sleep(std::time::Duration::from_millis(600));
    let idle = fill().expect("the gauge");
    assert!(idle < 0.2, "idle fill {idle}");
    let c = storm_container(300_000);
    let storm = std::thread::spawn(move || {
        c.run();
    });
    let mut peak = 0.0f64;
    while !storm.is_finished() {
        peak = peak.max(fill().unwrap_or(0.0));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = storm.join();
    let out = agent.stop();
    let lost = out.stats()["lost"].as_u64().unwrap_or(0);
    assert!(
        lost > 0,
        "a 16 KiB ring under a storm loses records: {}",
        out.stderr
    );
    eprintln!("ring fill: idle {idle:.3}, peak {peak:.3}, {lost} records lost");
    assert!(
        peak > 0.5,
        "peak fill {peak} while {lost} records were lost"
    );
}

/// Falco's metrics snapshots: `metrics.output_rule` sends "Falco internal: metrics snapshot"
/// through the outputs every `interval`, `metrics.output_file` appends the same counters as
/// JSON lines; the rule counters see the alert a container raised.
#[test]
fn metrics_snapshots_go_to_the_outputs_and_a_file() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("snapshots");
    let file = dir.0.join("stats.jsonl");
    let main = dir.0.join("falco.yaml");
    std::fs::write(
        &main,
        format!(
            "json_output: true\nmetrics:\n  enabled: true\n  interval: 500ms\n  output_rule: true\n  output_file: {}\n",
            file.display()
        ),
    )
    .expect("falco.yaml");
    let agent = Agent::start(&[
        "watch",
        "-c",
        main.to_str().expect("UTF-8"),
        "--duration",
        "5",
    ]);
    let c = TestContainer::shadow_reader(1);
    c.run();
    let out = agent.wait();
    assert!(out.status.success(), "{}", out.stderr);
    let snaps: Vec<Value> = out
        .events()
        .into_iter()
        .filter(|v| v["rule"] == "Falco internal: metrics snapshot")
        .collect();
    assert!(snaps.len() >= 3, "{}", out.stdout);
    let last = &snaps[snaps.len() - 1];
    assert_eq!(last["priority"], "Informational", "{last}");
    let f = &last["output_fields"];
    assert_eq!(
        f["falco.rules.Sensitive_file_read_in_a_container"], 1,
        "{last}"
    );
    assert_eq!(f["falco.rules.matches_total"], 1, "{last}");
    assert!(f["scap.n_evts"].as_u64() > Some(0), "{last}");
    assert_eq!(f["scap.n_drops"], 0, "{last}");
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .expect("output_file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), snaps.len());
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["sample"], i as u64 + 1, "{l}");
        assert!(l["output_fields"]["falco.duration_sec"].is_u64(), "{l}");
    }
}
