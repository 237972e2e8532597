//! Issue 9, io_uring is not a blind spot: a container doing its file and network I/O through a
//! ring (`tests/fixtures/uring_ops.c`, liburing, static) is traced operation by operation —
//! recorded as the syscalls they stand for, with paths, results and addresses — and rules
//! match them: our default ruleset, upstream `falco_rules.yaml`, and `evt.is_io_uring`.

#[path = "../src/reference.rs"]
mod reference;

use serde_json::Value;
use sysaudit_tests::*;

const PORT: &str = "47991";

/// A container running the io_uring program (`sqpoll`: a kernel thread submits).
fn uring_container(sqpoll: bool) -> TestContainer {
    let mut args = vec!["/bin/uring_ops", PORT];
    if sqpoll {
        args.push("sqpoll");
    }
    let c = TestContainer::new(&args).with_shadow();
    compile_fixture("uring_ops", &c.rootfs().join("bin/uring_ops"), false);
    c
}

/// What the program printed: `op=result` per operation, in order.
fn results(out: &std::process::Output) -> Vec<(String, i64)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (op, r) = l.split_once('=')?;
            Some((op.to_string(), r.parse().ok()?))
        })
        .collect()
}

#[test]
fn operations_submitted_through_a_ring_are_traced_as_their_syscalls() {
    if !privileged() {
        return;
    }
    traced_through_a_ring(false);
}

/// With a submission-polling thread (`iou-sqp-<pid>`), the program makes no syscall per
/// operation at all; the operations are still its own.
#[test]
fn operations_a_polling_kernel_thread_submits_are_the_process_s() {
    if !privileged() {
        return;
    }
    traced_through_a_ring(true);
}

fn traced_through_a_ring(sqpoll: bool) {
    let c = uring_container(sqpoll);
    let agent = Agent::start(&["trace", "--json", "--container", c.id()]);
    let out = c.run();
    let res = agent.stop();
    assert!(res.status.success(), "{}", res.stderr);
    let printed = results(&out);
    assert_eq!(printed.len(), 13, "the program's output: {printed:?}");
    let events = res.events();
    let ring: Vec<&Value> = events.iter().filter(|e| e["via"] == "io_uring").collect();
    let seen: Vec<(&str, i64)> = ring
        .iter()
        .map(|e| {
            (
                e["syscall"].as_str().unwrap_or(""),
                e["ret"].as_i64().unwrap_or(i64::MIN),
            )
        })
        .collect();
    // One event per operation, in order, each with the result the program got.
    let want: Vec<(&str, i64)> = printed
        .iter()
        .map(|(op, r)| {
            let name = match op.as_str() {
                "create" => "openat",
                "renameat" => "renameat2",
                "rmdir" => "unlinkat",
                o => o,
            };
            (name, *r)
        })
        .collect();
    assert_eq!(seen, want, "{}\n{}", res.stdout, res.stderr);
    let by = |syscall: &str, path: &str| {
        ring.iter()
            .find(|e| e["syscall"] == syscall && e["path"] == path)
            .copied()
            .unwrap_or_else(|| panic!("no {syscall} of {path}:\n{}", res.stdout))
    };
    let shadow = by("openat", "/etc/shadow");
    assert_eq!(shadow["args"]["flags"], "O_RDONLY");
    // The open's exit parameters, read from the descriptor table at completion.
    assert!(
        shadow["args"]["ino"].as_u64().is_some_and(|i| i > 0),
        "{shadow}"
    );
    let made = by("openat", "/tmp/uring-made");
    assert_eq!(made["args"]["flags"], "O_WRONLY|O_CREAT");
    let moved = by("renameat2", "/tmp/uring-made");
    assert_eq!(moved["args"]["newpath"], "/tmp/uring-moved");
    assert_eq!(
        by("unlinkat", "/tmp/uring-dir")["args"]["flags"],
        "AT_REMOVEDIR"
    );
    assert_eq!(
        by("mkdirat", "/tmp/uring-dir")["args"]["path"],
        "/tmp/uring-dir"
    );
    let connect = ring
        .iter()
        .find(|e| e["syscall"] == "connect")
        .expect("connect");
    assert_eq!(connect["args"]["addr"], format!("127.0.0.1:{PORT}"));
    // The read is on the descriptor the ring's open returned.
    let read = ring.iter().find(|e| e["syscall"] == "read").expect("read");
    assert_eq!(read["args"]["fd"], shadow["ret"]);
    // Every one is the container's, from the program's main thread (not the poller's).
    for e in &ring {
        assert_eq!(e["container_id"], c.id(), "{e}");
        assert_eq!(e["comm"], "uring_ops", "{e}");
        assert_eq!(e["tid"], e["pid"], "{e}");
    }
    let stats = res.stats();
    assert_eq!(stats["kernel"]["uring_emitted"], 13, "{stats}");
    assert_eq!(stats["lost"], 0, "{stats}");
}

/// Rules match operations done through a ring like the syscalls they stand for; our own
/// field tells them apart.
#[test]
fn rules_fire_on_operations_submitted_through_a_ring() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("uring-rules");
    let own = dir.0.join("uring.yaml");
    std::fs::write(
        &own,
        "- rule: Open through io_uring\n  desc: an open submitted through a ring\n  condition: evt.type = openat and evt.is_io_uring = true and container.id != host\n  output: opened %fd.name through io_uring (%proc.name %container.id)\n  priority: NOTICE\n",
    )
    .expect("rules file");
    let default =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/sysaudit_rules.yaml");
    let default_and_own = [
        "watch",
        "--json",
        "-r",
        default.to_str().expect("UTF-8"),
        "-r",
        own.to_str().expect("UTF-8"),
    ];
    let c = uring_container(false);
    let agent = Agent::start(&default_and_own);
    c.run();
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let alerts = out.alerts_about(c.id());
    let fired = |rule: &str| alerts.iter().filter(|a| a["rule"] == rule).count();
    let shadow = alerts
        .iter()
        .find(|a| a["rule"] == "Sensitive file read in a container")
        .unwrap_or_else(|| panic!("no sensitive read alert:\n{}\n{}", out.stdout, out.stderr));
    assert_eq!(shadow["output_fields"]["fd.name"], "/etc/shadow");
    assert_eq!(fired("io_uring set up in a container"), 1, "{}", out.stdout);
    // The other open (the first was the sensitive read's: one alert per event, the first
    // matching rule's, as Falco's `rule_matching: first`), and none of the opens made as
    // syscalls (the runtime's, before exec).
    let opened: Vec<&str> = alerts
        .iter()
        .filter(|a| a["rule"] == "Open through io_uring")
        .filter_map(|a| a["output_fields"]["fd.name"].as_str())
        .collect();
    assert_eq!(opened, ["/tmp/uring-made"], "{}", out.stdout);

    let Some(upstream) = reference::falco("falco_rules.yaml") else {
        return;
    };
    let c = uring_container(false);
    let agent = Agent::start(&["watch", "--json", "-r", upstream.to_str().expect("UTF-8")]);
    c.run();
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let alerts = out.alerts_about(c.id());
    assert!(
        alerts
            .iter()
            .any(|a| a["rule"] == "Read sensitive file untrusted"
                && a["output_fields"]["fd.name"] == "/etc/shadow"),
        "upstream rules saw no read of /etc/shadow through the ring:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}
