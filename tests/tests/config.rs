//! Issue 10, a config file Falco users recognise: `sysaudit watch -c falco.yaml` with a
//! Falco-style configuration — rules files from a directory, drop-ins, JSON shape, an
//! `append_output`, a file output and an HTTP output — against a real container, and
//! `config check` on mistakes.

use serde_json::Value;
use sysaudit_tests::*;

#[test]
fn a_falco_yaml_drives_rules_outputs_and_alert_shape() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("falco-yaml");
    let rules_dir = dir.0.join("rules.d");
    let conf_d = dir.0.join("config.d");
    std::fs::create_dir_all(&rules_dir).expect("rules.d");
    std::fs::create_dir_all(&conf_d).expect("config.d");
    // The default ruleset, loaded from a directory as Falco loads rules.d.
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/sysaudit_rules.yaml"),
        rules_dir.join("10-sysaudit.yaml"),
    )
    .expect("copy rules");
    std::fs::write(rules_dir.join("README.txt"), "not a rules file").expect("txt");
    let alerts_file = dir.0.join("events.txt");
    let (url, got) = http_receiver();
    let main = dir.0.join("falco.yaml");
    std::fs::write(
        &main,
        format!(
            r#"rules_files:
  - {rules}
  - /nonexistent/falco_rules.local.yaml
config_files:
  - {conf}
json_output: true
json_include_tags_property: false
priority: warning
stdout_output:
  enabled: true
file_output:
  enabled: true
  keep_alive: false
  filename: {file}
http_output:
  enabled: false
  url: {url}
  user_agent: "sysaudit-test/1"
append_output:
  - suggested_output: true
  - match:
      tags: [filesystem]
    extra_output: "(seen by %proc.name)"
    extra_fields:
      - proc.pid
      - where: "in ${{CFG_TEST_SITE}} as %user.name"
engine:
  kind: modern_ebpf
webserver:
  enabled: false
static_fields:
  cluster: "${{CFG_TEST_SITE}}"
"#,
            rules = rules_dir.display(),
            conf = conf_d.display(),
            file = alerts_file.display(),
        ),
    )
    .expect("falco.yaml");
    std::fs::write(conf_d.join("50-iso.yaml"), "time_format_iso_8601: true\n").expect("drop-in");

    let c = TestContainer::new(&["sh", "-c", "cat /etc/shadow > /dev/null; ls /"]).with_shadow();
    std::env::set_var("CFG_TEST_SITE", "lab-1");
    let agent = Agent::start(&[
        "watch",
        "-c",
        main.to_str().expect("UTF-8"),
        "-o",
        "http_output.enabled=true",
    ]);
    c.run();
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    // The Falco key that asks for something sysaudit does not do: a located warning.
    assert!(
        out.stderr.contains(&format!(
            "{}:27:1: engine: Falco's key, ignored",
            main.display()
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("falco_rules.local.yaml does not exist; skipped"),
        "{}",
        out.stderr
    );
    let alerts = out.alerts_about(c.id());
    let shadow: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "Sensitive file read in a container")
        .collect();
    assert_eq!(shadow.len(), 1, "{}\n{}", out.stdout, out.stderr);
    let a = shadow[0];
    // json_include_tags_property: false; append_output's text, fields and the suggested ones.
    assert!(a.get("tags").is_none(), "{a}");
    let text = a["output"].as_str().expect("output");
    assert!(text.contains("(seen by cat)"), "{text}");
    assert!(text.contains(&format!("container_id={}", c.id())), "{text}");
    // time_format_iso_8601 from the drop-in: the text's time is ISO 8601, in UTC.
    assert!(
        text.starts_with("20") && text.contains('T') && text.contains("+0000: Warning"),
        "{text}"
    );
    assert_eq!(a["output_fields"]["where"], "in lab-1 as root", "{a}");
    // static_fields: a field of every alert, shown by the suggested output.
    assert_eq!(a["output_fields"]["static.cluster"], "lab-1", "{a}");
    assert!(text.contains(" static_cluster=lab-1"), "{text}");
    assert!(a["output_fields"]["proc.pid"].is_u64(), "{a}");
    // priority: warning keeps Notice rules off.
    assert!(
        alerts.iter().all(|a| a["priority"] != "Notice"),
        "{}",
        out.stdout
    );

    // The file output got the same JSON lines; the HTTP output Falco's JSON.
    let file = std::fs::read_to_string(&alerts_file).expect("file_output");
    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(lines.len(), out.events().len(), "{file}");
    let got = got.lock().expect("lock").clone();
    assert_eq!(got.len(), lines.len(), "{got:?}");
    for (head, body) in &got {
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("user-agent: sysaudit-test/1"), "{head}");
        let v: Value = serde_json::from_str(body).expect("JSON body");
        assert!(v["rule"].is_string());
    }
}

#[test]
fn config_check_prints_the_effective_configuration_and_locates_mistakes() {
    let dir = TempDir::new("config-check");
    let f = dir.0.join("falco.yaml");
    std::fs::write(
        &f,
        "json_output: true\nfile_output:\n  enabled: true\n  filename: /tmp/x\n",
    )
    .expect("write");
    let r = sysaudit(&[
        "config",
        "check",
        f.to_str().expect("UTF-8"),
        "-o",
        "priority=ERROR",
    ]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stdout.contains("json_output: true"), "{}", r.stdout);
    assert!(r.stdout.contains("priority: error"), "{}", r.stdout);
    assert!(r.stdout.contains("filename: /tmp/x"), "{}", r.stdout);

    std::fs::write(
        &f,
        "json_output: true\nfile_output:\n  enabled: true\n  file_name: /tmp/x\n",
    )
    .expect("write");
    let r = sysaudit(&["config", "check", f.to_str().expect("UTF-8")]);
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("{}:4:3", f.display())) && r.stderr.contains("file_name"),
        "{}",
        r.stderr
    );
    let r = sysaudit(&["config", "check", f.to_str().expect("UTF-8"), "-o", "nokey"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        r.stderr.contains("-o nokey: expected key=value"),
        "{}",
        r.stderr
    );
}

/// `syslog_output` and `program_output`: the alert reaches syslog's socket with its priority
/// as the level, and a kept-alive program's standard input.
#[test]
fn syslog_and_program_outputs_deliver_alerts() {
    if !privileged() {
        return;
    }
    // syslog(3) writes to /dev/log; this machine runs no syslog daemon, so the test is one.
    let log = std::path::Path::new("/dev/log");
    if log.exists() {
        assert!(
            std::env::var("CI").is_err(),
            "/dev/log belongs to a syslog daemon on this CI machine"
        );
        eprintln!("\n*** SKIPPED: /dev/log belongs to a syslog daemon here ***\n");
        return;
    }
    struct Socket(std::os::unix::net::UnixDatagram);
    impl Drop for Socket {
        fn drop(&mut self) {
            let _ = std::fs::remove_file("/dev/log");
        }
    }
    let sock = Socket(std::os::unix::net::UnixDatagram::bind(log).expect("bind /dev/log"));
    sock.0
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .expect("timeout");
    let dir = TempDir::new("more-outputs");
    let fed = dir.0.join("fed.txt");
    let main = dir.0.join("falco.yaml");
    std::fs::write(
        &main,
        format!(
            "json_output: true\nstdout_output:\n  enabled: false\nsyslog_output:\n  enabled: true\nprogram_output:\n  enabled: true\n  keep_alive: true\n  program: \"cat >> {}\"\n",
            fed.display()
        ),
    )
    .expect("falco.yaml");
    let c = TestContainer::shadow_reader(1);
    let agent = Agent::start(&["watch", "-c", main.to_str().expect("UTF-8")]);
    c.run();
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "stdout_output is off: {}",
        out.stdout
    );
    let mut logged = Vec::new();
    let mut buf = [0u8; 65536];
    while let Ok(n) = sock.0.recv(&mut buf) {
        logged.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let mine: Vec<&String> = logged.iter().filter(|l| l.contains(c.id())).collect();
    let shadow = mine
        .iter()
        .find(|l| l.contains("Sensitive file read in a container"))
        .unwrap_or_else(|| panic!("not in syslog: {logged:?}\n{}", out.stderr));
    // Facility user (8) + warning (4), then the JSON alert.
    assert!(shadow.starts_with("<12>"), "{shadow}");
    let json = &shadow[shadow.find('{').expect("JSON")..];
    let v: Value = serde_json::from_str(json).expect("the alert's JSON");
    assert_eq!(v["priority"], "Warning");
    let fed = std::fs::read_to_string(&fed).expect("the program's output");
    let lines: Vec<Value> = fed
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|a| a["rule"] == "Sensitive file read in a container"
                && a["output_fields"]["container.id"] == c.id()),
        "{fed}"
    );
}

/// `alert_aggregation`: five identical reads in a window give the first alert at once and one
/// that says five were folded — never a silent drop.
#[test]
fn identical_alerts_are_folded_visibly() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("aggregation");
    let main = dir.0.join("falco.yaml");
    std::fs::write(
        &main,
        "json_output: true\nalert_aggregation:\n  enabled: true\n  window_seconds: 60\n  key_fields: [fd.name]\n",
    )
    .expect("falco.yaml");
    let c = TestContainer::shadow_reader(5);
    let agent = Agent::start(&["watch", "-c", main.to_str().expect("UTF-8")]);
    c.run();
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let mine: Vec<Value> = out
        .alerts_about(c.id())
        .into_iter()
        .filter(|a| a["rule"] == "Sensitive file read in a container")
        .collect();
    assert_eq!(mine.len(), 2, "{}", out.stdout);
    assert!(mine[0]["output_fields"].get("aggregated.count").is_none());
    assert_eq!(
        mine[1]["output_fields"]["aggregated.count"], 5,
        "{}",
        mine[1]
    );
    assert!(
        mine[1]["output"]
            .as_str()
            .is_some_and(|t| t.contains("(aggregated: 5 alerts like this one from ")),
        "{}",
        mine[1]
    );
    // The rules' own count is every alert raised.
    assert!(
        out.stderr.contains("5  Sensitive file read in a container"),
        "{}",
        out.stderr
    );
}
