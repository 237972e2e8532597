//! `profile --args` end to end: a server's recording under runc becomes a profile whose socket
//! and clone rules carry the argument values it used; under it the server runs as before,
//! while the same binary's escape attempts — a child in a new user namespace, a netlink socket
//! — are denied. A profile recorded without `--args` lets the socket through (the contrast),
//! and `profile verify` names the two syscalls.

use serde_json::Value;
use sysaudit_tests::*;

fn container(mode: &str) -> TestContainer {
    let c = TestContainer::new(&["/bin/ns_escape", mode]);
    compile_fixture("ns_escape", &c.rootfs().join("bin/ns_escape"), false);
    c
}

fn record(extra: &[&str]) -> Value {
    let c = container("plain");
    let dir = TempDir::new("args");
    let (out, p) = record_container(&c, &dir.0.join("p.json"), extra);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "fork: ok\nunix socket: ok\n"
    );
    p
}

fn rules_for<'a>(p: &'a Value, name: &str) -> Vec<&'a Value> {
    p["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
        .collect()
}

fn run_under(mode: &str, p: &Value) -> String {
    let mut c = container(mode);
    c.bundle.set_seccomp(p.clone()).unwrap();
    let out = c.run_any();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn argument_filters_deny_the_namespace_escape_a_recording_never_made() {
    if !privileged() {
        return;
    }
    let p = record(&["--args"]);
    let socket = rules_for(&p, "socket");
    assert!(!socket.is_empty(), "{p:#}");
    for r in &socket {
        assert_eq!(r["action"], "SCMP_ACT_ALLOW");
        assert_eq!(
            r["args"][0]["index"], 0,
            "socket is filtered on its family: {p:#}"
        );
    }
    assert!(
        socket
            .iter()
            .any(|r| r["args"][0]["value"] == libc::AF_UNIX),
        "{p:#}"
    );
    let clone = rules_for(&p, "clone");
    assert!(
        clone
            .iter()
            .all(|r| r["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"),
        "clone is allowed only without namespace flags: {p:#}"
    );

    assert_eq!(run_under("plain", &p), "fork: ok\nunix socket: ok\n");
    let escape = run_under("escape", &p);
    assert!(escape.contains("fork: ok"), "{escape}");
    assert!(escape.contains("user namespace: denied"), "{escape}");
    assert!(escape.contains("netlink socket: denied"), "{escape}\n{p:#}");

    // The contrast: without argument filters the netlink socket gets through. (This runc
    // container's kernel refuses the user namespace by itself; the filter's own refusal shows
    // in verify's report, where the listener sees the clone before the kernel does.)
    let loose = record(&[]);
    let through = run_under("escape", &loose);
    assert!(through.contains("netlink socket: ok"), "{through}");

    // verify names both, under runc's listener.
    let dir = TempDir::new("args-verify");
    let file = dir.0.join("p.json");
    std::fs::write(&file, serde_json::to_string(&p).unwrap()).unwrap();
    let c = container("escape");
    let out = sysaudit(&[
        "profile",
        "verify",
        "--json",
        file.to_str().unwrap(),
        "--bundle",
        c.bundle.dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let denied: Vec<&str> = v["denials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["by_runtime"] == false)
        .map(|d| d["syscall"].as_str().unwrap())
        .collect();
    assert!(
        denied.contains(&"clone") && denied.contains(&"socket"),
        "{v:#}"
    );
}
