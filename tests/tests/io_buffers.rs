//! Issue 13, `evt.buffer`: a rule that reads the I/O buffer makes the kernel copy the first
//! bytes of reads and writes (as Falco's snaplen), text and binary alike; without such a rule
//! nothing is copied.

use serde_json::Value;
use sysaudit_tests::*;

const RULES: &str = r#"
- rule: Marker written
  desc: a write whose buffer holds our marker
  condition: evt.type = write and evt.buffer contains "sysaudit-marker"
  output: "marker written (buffer=%evt.buffer container=%container.id)"
  priority: WARNING
- rule: Java class bytes written
  desc: a write whose buffer holds a class file's magic number
  condition: evt.type = write and evt.buffer bcontains cafebabe
  output: "class bytes written (buffer=%evt.buffer container=%container.id)"
  priority: WARNING
"#;

#[test]
fn rules_on_evt_buffer_see_the_bytes_a_container_writes() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("io-buffers");
    let rules = dir.0.join("buffers.yaml");
    std::fs::write(&rules, RULES).expect("write rules");
    let agent = Agent::start(&["watch", "--json", "-r", rules.to_str().expect("UTF-8")]);
    let c = TestContainer::new(&[
        "sh",
        "-c",
        r"echo sysaudit-marker-1 > /tmp/a; printf '\312\376\272\276' > /tmp/b",
    ]);
    let out = c.run();
    assert!(out.status.success(), "{out:?}");
    let res = agent.stop();
    let mine = res.alerts_about(c.id());
    let rule = |name: &str| -> Vec<&Value> { mine.iter().filter(|a| a["rule"] == name).collect() };
    let marker = rule("Marker written");
    assert_eq!(marker.len(), 1, "{}\n{}", res.stdout, res.stderr);
    // Falco's rendering: printable bytes as they are, the newline as a dot.
    assert_eq!(
        marker[0]["output_fields"]["evt.buffer"], "sysaudit-marker-1.",
        "{}",
        marker[0]
    );
    let class = rule("Java class bytes written");
    assert_eq!(
        class.len(),
        1,
        "binary bytes compared as bytes: {}",
        res.stdout
    );
    assert_eq!(class[0]["output_fields"]["evt.buffer"], "....");
    // Falco's default decoration (issue 8) follows the rule's own output.
    let text = marker[0]["output"].as_str().unwrap_or_default();
    assert!(text.contains(") container_id="), "{text}");

    // ... unless asked not to.
    let agent = Agent::start(&[
        "watch",
        "--json",
        "--no-append-output",
        "-r",
        rules.to_str().expect("UTF-8"),
    ]);
    assert!(c.run().status.success());
    let res = agent.stop();
    let plain: Vec<Value> = res
        .events()
        .into_iter()
        .filter(|a| a["rule"] == "Marker written")
        .collect();
    assert!(!plain.is_empty(), "{}", res.stderr);
    for a in &plain {
        let text = a["output"].as_str().unwrap_or_default();
        assert!(!text.contains("container_id="), "{text}");
        assert!(a["output_fields"].get("k8s.pod.name").is_none(), "{a}");
    }
}
