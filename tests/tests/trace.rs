//! `sysaudit trace` end to end: real eBPF programs, real runc containers.

use std::{
    os::unix::fs::MetadataExt,
    process::Command,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::Duration,
};

use serde_json::Value;
use sysaudit_tests::*;

fn is_rfc3339_ns(s: &str) -> bool {
    // 2026-11-23T02:34:11.269498372Z
    s.len() == 30 && s.as_bytes()[10] == b'T' && s.ends_with('Z') && s.as_bytes()[19] == b'.'
}

#[test]
fn container_openat_is_traced_with_its_id_and_the_host_is_not() {
    if !privileged() {
        return;
    }
    let agent = Agent::start(&["trace", "--json"]);

    // A host process reading the same file in parallel, all along.
    let stop = Arc::new(AtomicBool::new(false));
    let host_pids = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut pids = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let c = Command::new("cat").arg("/etc/passwd").output();
                assert!(c.is_ok());
                let child = Command::new("cat")
                    .arg("/etc/passwd")
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("host cat");
                pids.push(child.id());
                let mut child = child;
                let _ = child.wait();
                thread::sleep(Duration::from_millis(20));
            }
            pids
        })
    };

    let ctr = TestContainer::new(&["sh", "-c", "cat /etc/passwd; sleep 1"]);
    let cgroup_dir = format!("/sys/fs/cgroup/unified/{PARENT}/{}", ctr.id());
    let inode = {
        let dir = cgroup_dir.clone();
        thread::spawn(move || {
            for _ in 0..300 {
                if let Ok(m) = std::fs::metadata(&dir) {
                    return m.ino();
                }
                thread::sleep(Duration::from_millis(5));
            }
            0
        })
    };
    let out = ctr.run();
    assert!(String::from_utf8_lossy(&out.stdout).contains("root:x:0:0"));
    let cgroup_id = inode.join().unwrap();
    assert_ne!(
        cgroup_id, 0,
        "the container's cgroup never appeared at {cgroup_dir}"
    );
    stop.store(true, Ordering::Relaxed);
    let host_pids = host_pids.join().unwrap();

    let res = agent.stop();
    assert!(
        res.status.success(),
        "agent failed: {}\n{}",
        res.status,
        res.stderr
    );
    let events = res.events();

    let opens: Vec<&Value> = syscalls_of(&events, ctr.id())
        .into_iter()
        .filter(|e| e["syscall"] == "openat" && e["path"] == "/etc/passwd" && e["comm"] == "cat")
        .collect();
    assert!(
        !opens.is_empty(),
        "no openat of /etc/passwd by cat in container {}:\n{}",
        ctr.id(),
        res.stdout
    );
    let e = opens[0];
    for field in [
        "time",
        "syscall",
        "abi",
        "ret",
        "pid",
        "tid",
        "ppid",
        "comm",
        "exe",
        "uid",
        "cgroup_id",
        "container_id",
    ] {
        assert!(!e[field].is_null(), "field {field} missing in {e}");
    }
    assert!(is_rfc3339_ns(e["time"].as_str().unwrap_or_default()), "{e}");
    assert_eq!(e["abi"], "x86_64");
    assert_eq!(e["cgroup_id"], cgroup_id, "{e}");
    assert_eq!(e["args"]["name"], "/etc/passwd");
    assert!(
        e["args"]["flags"]
            .as_str()
            .unwrap_or_default()
            .starts_with("O_RDONLY"),
        "{e}"
    );
    assert!(e["ret"].as_i64().unwrap_or(-1) >= 0, "{e}");
    // busybox sh runs applets by re-executing /proc/self/exe; the agent resolves the link.
    assert_eq!(e["exe"], "/bin/busybox", "{e}");
    assert_eq!(e["uid"], 0);
    assert_ne!(e["ppid"], 0);

    // The exec that started cat, with its arguments, is part of the stream: busybox sh
    // re-executes itself for applets, and the agent names the real binary.
    assert!(
        events.iter().any(|e| e["event"] == "exec"
            && e["container_id"] == ctr.id()
            && e["filename"] == "/proc/self/exe"
            && e["exe"] == "/bin/busybox"
            && e["argv"] == serde_json::json!(["cat", "/etc/passwd"])),
        "no exec of cat:\n{}",
        res.stdout
    );
    // The shell itself was started by runc through the /bin/sh symlink.
    assert!(events
        .iter()
        .any(|e| e["event"] == "exec" && e["filename"] == "/bin/sh" && e["exe"] == "/bin/busybox"));

    // Default scope: containers only. Nothing from the host, in particular not the host cats.
    assert!(!host_pids.is_empty());
    for e in &events {
        assert_ne!(
            e["container_id"], "host",
            "host event in default scope: {e}"
        );
        let pid = e["pid"].as_u64().unwrap_or(0) as u32;
        assert!(
            !host_pids.contains(&pid),
            "host cat {pid} leaked into the trace: {e}"
        );
    }
    assert_eq!(res.stats()["lost"], 0);
}

#[test]
fn syscall_filter_is_applied_in_the_kernel() {
    if !privileged() {
        return;
    }
    let agent = Agent::start(&["trace", "--json", "--syscalls", "openat"]);
    let ctr = TestContainer::new(&["cat", "/etc/passwd"]);
    ctr.run();
    let res = agent.stop();
    assert!(res.status.success(), "{}", res.stderr);
    let events = res.events();
    let syscalls: Vec<&Value> = events.iter().filter(|e| e["event"] == "syscall").collect();
    assert!(syscalls
        .iter()
        .any(|e| e["container_id"] == ctr.id() && e["path"] == "/etc/passwd"));
    for e in &syscalls {
        assert_eq!(e["syscall"], "openat", "{e}");
    }
    // The kernel dropped the other syscalls before the ring buffer: everything it emitted
    // is what we printed, and it counted what it filtered.
    let stats = res.stats();
    let k = &stats["kernel"];
    assert!(k["filtered_syscall"].as_u64().unwrap_or(0) > 100, "{stats}");
    assert_eq!(
        k["emitted"].as_u64(),
        Some(syscalls.len() as u64),
        "{stats}"
    );
}

#[test]
fn a_container_started_later_is_found_by_id_prefix() {
    if !privileged() {
        return;
    }
    let wanted = TestContainer::with_id(
        &format!("{}-wanted", unique("later")),
        &["cat", "/etc/hostname"],
    );
    let other = TestContainer::new(&["cat", "/etc/passwd"]);
    // A true prefix: the id without its last characters.
    let prefix = &wanted.id()[..wanted.id().len() - 3];
    let agent = Agent::start(&["trace", "--json", "--container", prefix]);
    other.run();
    wanted.run();
    let res = agent.stop();
    assert!(
        res.status.success(),
        "{}\nids seen: {:?}",
        res.stderr,
        res.container_ids()
    );
    assert!(res.stderr.contains("waiting for it"), "{}", res.stderr);
    let events = res.events();
    assert!(syscalls_of(&events, wanted.id())
        .iter()
        .any(|e| e["path"] == "/etc/hostname"));
    assert!(
        events.iter().all(|e| e["container_id"] == wanted.id()),
        "other containers leaked"
    );
}

#[test]
fn bad_flags_and_absent_containers_fail_clearly() {
    if !privileged() {
        return;
    }
    let r = sysaudit(&["trace", "--no-such-flag"]);
    assert_eq!(r.status.code(), Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--no-such-flag"), "{}", r.stderr);

    let r = sysaudit(&["trace", "--syscalls", "opne"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        r.stderr.contains("unknown syscall 'opne'") && r.stderr.contains("open"),
        "{}",
        r.stderr
    );

    let r = sysaudit(&["trace", "--duration", "1", "--container", "nosuchcontainer"]);
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no container matching 'nosuchcontainer' appeared while running"),
        "{}",
        r.stderr
    );
}

#[test]
fn ia32_syscalls_are_named_from_the_compat_table() {
    if !privileged() {
        return;
    }
    let ctr = TestContainer::new(&["/bin/compat32", "/etc/passwd"]);
    compile_fixture("compat", &ctr.rootfs().join("bin/compat32"), true);

    let agent = Agent::start(&["trace", "--json", "--container", ctr.id()]);
    let out = ctr.run();
    assert!(String::from_utf8_lossy(&out.stdout).contains("read"));
    let res = agent.stop();
    assert!(res.status.success(), "{}", res.stderr);
    let events = res.events();
    let mine = syscalls_of(&events, ctr.id());
    let open = mine
        .iter()
        .find(|e| e["abi"] == "ia32" && e["path"] == "/etc/passwd")
        .unwrap_or_else(|| panic!("no ia32 open of /etc/passwd:\n{}", res.stdout));
    // i386 openat is 295 (x86_64's 295 is preadv); open is 5.
    let (name, nr) = (
        open["syscall"].as_str().unwrap_or_default(),
        open["nr"].as_u64().unwrap_or(0),
    );
    assert!(
        matches!((name, nr), ("openat", 295) | ("open", 5)),
        "{open}"
    );
    assert!(mine
        .iter()
        .any(|e| e["abi"] == "ia32" && e["syscall"] == "getppid" && e["nr"] == 64));
    // The runtime before the exec was 64-bit.
    assert!(mine.iter().any(|e| e["abi"] == "x86_64"));
}

#[test]
fn lost_records_are_counted_reported_and_fail_the_run() {
    if !privileged() {
        return;
    }
    // A 4 KiB ring holds a few dozen records; a busy container overflows it between drains.
    let agent = Agent::start(&["trace", "--json", "--ring-size", "4K"]);
    let ctr = TestContainer::new(&[
        "sh",
        "-c",
        "i=0; while [ $i -lt 300 ]; do cat /etc/passwd; i=$((i+1)); done >/dev/null",
    ]);
    ctr.run();
    let res = agent.stop();
    assert_eq!(
        res.status.code(),
        Some(3),
        "a lossy run must not exit 0:\n{}",
        res.stderr
    );
    let stats = res.stats();
    let lost = stats["lost"].as_u64().unwrap_or(0);
    assert!(lost > 0, "{stats}");
    assert_eq!(
        lost,
        stats["kernel"]["ring_full"].as_u64().unwrap_or(0)
            + stats["kernel"]["lifecycle_lost"].as_u64().unwrap_or(0),
        "{stats}"
    );
    assert!(
        res.stderr.contains("records lost") && res.stderr.contains("try --ring-size"),
        "no drop report:\n{}",
        res.stderr
    );
    assert!(
        res.stderr.contains("the trace is incomplete"),
        "{}",
        res.stderr
    );
}

/// The kernel programs log their rare anomalies through aya-log; `-v` shows them, and each is
/// counted. A path longer than PATH_MAX is cut (and the open fails with ENAMETOOLONG).
#[test]
fn kernel_anomalies_are_logged_with_v_and_counted() {
    if !privileged() {
        return;
    }
    let agent = Agent::start(&["trace", "-v", "--json", "--syscalls", "openat"]);
    let ctr = TestContainer::new(&[
        "sh",
        "-c",
        "p=$(head -c 5000 /dev/zero | tr '\\0' a); cat /$p 2>/dev/null; true",
    ]);
    ctr.run();
    let res = agent.stop();
    let stats = res.stats();
    assert!(
        stats["kernel"]["paths_cut"].as_u64().unwrap_or(0) >= 1,
        "{stats}"
    );
    assert!(
        res.stderr.contains("a path argument was cut at PATH_MAX"),
        "no kernel log line:\n{}",
        res.stderr
    );
    let cut = syscalls_of(&res.events(), ctr.id())
        .into_iter()
        .find(|e| e["truncated"] == true)
        .cloned();
    assert!(cut.is_some(), "the cut open is flagged truncated");
}
