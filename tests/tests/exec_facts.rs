//! Process facts read in the kernel at exec (issue 13): right even for a process that lives a
//! millisecond, and enough for upstream Falco rules on fileless execution and on binaries
//! dropped into a container's overlayfs upper layer.

#[path = "../src/reference.rs"]
mod reference;

use serde_json::Value;
use sysaudit_tests::*;

fn execs<'a>(events: &'a [Value], container: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event"] == "exec" && e["container_id"] == container)
        .collect()
}

#[test]
fn a_process_that_execs_and_exits_within_a_millisecond_carries_its_facts() {
    if !privileged() {
        return;
    }
    let agent = Agent::start(&["trace", "--json", "--syscalls", "getppid"]);
    let ctr = TestContainer::new(&[
        "sh",
        "-c",
        "cd /tmp; for i in 1 2 3 4 5; do /bin/true; done",
    ]);
    ctr.run();
    let res = agent.stop();
    let events = res.events();
    let trues: Vec<_> = execs(&events, ctr.id())
        .into_iter()
        .filter(|e| e["argv"][0] == "/bin/true")
        .collect();
    assert_eq!(trues.len(), 5, "{}", res.stdout);
    for e in &trues {
        // /bin/true is busybox: the kernel names the file that runs, every time.
        assert_eq!(e["exe"], "/bin/busybox", "{e}");
        assert_eq!(e["cwd"], "/tmp", "{e}");
        for k in ["exe_ino", "exe_ctime", "exe_mtime", "vpid", "cap_effective"] {
            assert!(e[k].as_u64().unwrap_or(0) > 0, "{k}: {e}");
        }
        assert_eq!(e["exe_writable"], true, "root owns it: {e}");
        assert_eq!(e["loginuid"], -1, "{e}");
    }
}

/// `watch -r falco_rules.yaml` on a container doing `what`; the names of the rules that
/// alerted on it. Upstream outputs do not name the container: the alerts carry it through
/// Falco's default decoration (issue 8), in the text and in `output_fields`.
fn upstream_alerts(ctr: &TestContainer) -> Option<Vec<String>> {
    let rules = reference::falco("falco_rules.yaml")?;
    let rules = rules.to_str().expect("UTF-8 path").to_string();
    let agent = Agent::start(&["watch", "--json", "-r", &rules]);
    ctr.run_any();
    let res = agent.stop();
    Some(
        res.events()
            .iter()
            .filter(|a| {
                let id = a["output_fields"]["container.id"].as_str().unwrap_or("-");
                ctr.id().starts_with(id)
                    && a["output"]
                        .as_str()
                        .is_some_and(|o| o.contains(&format!(" container_id={id} container_name=")))
                    && a["output_fields"].as_object().is_some_and(|f| {
                        f.contains_key("container.image.repository")
                            && f.contains_key("k8s.pod.name")
                    })
            })
            .filter_map(|a| a["rule"].as_str().map(str::to_string))
            .collect(),
    )
}

#[test]
fn fileless_execution_fires_the_upstream_rule() {
    if !privileged() {
        return;
    }
    // From a shell: the rule leaves out what runc itself runs from a memfd (its own re-exec),
    // and pid 1 of a runc container is runc's child.
    let ctr = TestContainer::new(&["sh", "-c", "/bin/fileless; true"]);
    std::fs::copy(fixture("fileless"), ctr.rootfs().join("bin/fileless")).expect("copy");
    let Some(fired) = upstream_alerts(&ctr) else {
        return;
    };
    assert!(
        fired
            .iter()
            .any(|r| r == "Fileless execution via memfd_create"),
        "{fired:?}"
    );
}

#[test]
fn a_binary_dropped_in_the_upper_layer_fires_the_upstream_rule() {
    if !privileged() {
        return;
    }
    let mut ctr = TestContainer::new(&[
        "sh",
        "-c",
        "cp /bin/busybox /tmp/busybox && /tmp/busybox true && /bin/true",
    ]);
    ctr.overlay();
    let agent = Agent::start(&["trace", "--json", "--syscalls", "getppid"]);
    ctr.run();
    let res = agent.stop();
    let events = res.events();
    let e = execs(&events, ctr.id());
    let dropped = e.iter().find(|e| e["filename"] == "/tmp/busybox");
    let image = e.iter().find(|e| e["filename"] == "/bin/true");
    assert_eq!(
        dropped.map(|d| &d["exe_upper_layer"]),
        Some(&Value::Bool(true)),
        "{e:?}"
    );
    assert_eq!(
        image.map(|d| &d["exe_lower_layer"]),
        Some(&Value::Bool(true)),
        "{e:?}"
    );
    drop(ctr);

    let mut again = TestContainer::new(&[
        "sh",
        "-c",
        "cp /bin/busybox /tmp/busybox && /tmp/busybox true",
    ]);
    again.overlay();
    let Some(fired) = upstream_alerts(&again) else {
        return;
    };
    assert!(
        fired
            .iter()
            .any(|r| r == "Drop and execute new binary in container"),
        "{fired:?}"
    );
}

/// Issue 13, namespace ids: each thread's id in the container's pid namespace (`thread.vtid`)
/// comes from its clone record, the process's (`proc.vpid`) from its exec.
#[test]
fn threads_carry_their_ids_in_the_containers_pid_namespace() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("vtid");
    let rules = dir.0.join("threads.yaml");
    std::fs::write(
        &rules,
        "- rule: thread reads passwd\n  desc: d\n  condition: evt.type in (open, openat) and fd.name = /etc/passwd and proc.name = threads and thread.tid != val(proc.pid)\n  output: \"tid=%thread.tid vtid=%thread.vtid vpid=%proc.vpid container=%container.id\"\n  priority: WARNING\n",
    )
    .expect("write rules");
    let agent = Agent::start(&["watch", "--json", "-r", rules.to_str().expect("UTF-8")]);
    let c = TestContainer::new(&["/bin/threads"]);
    compile_fixture("threads", &c.rootfs().join("bin/threads"), false);
    let out = c.run();
    assert!(out.status.success(), "{out:?}");
    let res = agent.stop();
    let mine = res.alerts_about(c.id());
    assert_eq!(mine.len(), 4, "{}\n{}", res.stdout, res.stderr);
    let mut vtids: Vec<i64> = mine
        .iter()
        .map(|a| {
            let f = &a["output_fields"];
            // The container's init is pid 1 in its namespace; its threads follow.
            assert_eq!(f["proc.vpid"], 1, "{a}");
            assert_ne!(f["thread.vtid"], f["thread.tid"], "{a}");
            f["thread.vtid"]
                .as_i64()
                .unwrap_or_else(|| panic!("no vtid: {a}"))
        })
        .collect();
    vtids.sort();
    vtids.dedup();
    assert_eq!(vtids.len(), 4, "{vtids:?}");
    assert!(vtids.iter().all(|v| (2..=16).contains(v)), "{vtids:?}");
}
