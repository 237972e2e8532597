//! `sysaudit profile` end to end: record real runc containers in the kernel, then run the same
//! workload in a new container whose config.json carries the generated profile (it must pass
//! with identical output) and something the workload never did (it must fail with EPERM).

use std::{path::Path, thread, time::Duration};

use serde_json::Value;
use sysaudit_tests::*;

/// A workload: the container's command and how to prepare its rootfs.
struct Workload {
    args: Vec<String>,
    /// The same workload plus a syscall it never made (mkdir), which must be denied.
    denied: Vec<String>,
    setup: fn(&TestContainer),
    host_net: bool,
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn container(w: &Workload, args: &[String]) -> TestContainer {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = TestContainer::new(&a);
    if w.host_net {
        c.bundle.share_host_network().unwrap();
    }
    (w.setup)(&c);
    c
}

/// Record a run of the workload; returns the profile and the workload's output.
fn record(w: &Workload, extra: &[&str]) -> (Value, String, AgentOutput) {
    let c = container(w, &w.args);
    let dir = TempDir::new("prof");
    let file = dir.0.join("profile.json");
    let mut args = vec![
        "profile",
        "--container",
        c.id(),
        "-o",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let agent = Agent::start(&args);
    let out = c.run();
    let res = agent.wait();
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no profile ({e}):\n{}", res.stderr));
    let profile: Value = serde_json::from_str(&text).expect("profile JSON");
    (
        profile,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        res,
    )
}

/// Run `args` of the workload under `profile` in a fresh container.
fn enforce(w: &Workload, args: &[String], profile: &Value) -> std::process::Output {
    let mut c = container(w, args);
    c.bundle.set_seccomp(profile.clone()).unwrap();
    c.run_any()
}

fn names(p: &Value) -> Vec<&str> {
    p["syscalls"][0]["names"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The round trip every workload class must pass.
fn round_trip(w: &Workload) -> Value {
    let (profile, recorded_out, res) = record(w, &[]);
    assert!(
        res.status.success(),
        "profile failed ({}):\n{}",
        res.status,
        res.stderr
    );
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
    let n = names(&profile);
    let mut sorted = n.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(n, sorted, "names sorted and unique");
    // The runtime's own set-up stays out; what it does after the hand-over is in.
    for setup in ["mount", "pivot_root", "sethostname", "umount2"] {
        assert!(
            !n.contains(&setup),
            "{setup} leaked into the profile: {n:?}"
        );
    }
    for needed in ["execve", "exit_group"] {
        assert!(n.contains(&needed), "{needed} missing: {n:?}");
    }
    assert!(!n.contains(&"mkdir") && !n.contains(&"mkdirat"), "{n:?}");

    let again = enforce(w, &w.args, &profile);
    assert!(
        again.status.success(),
        "workload failed under its own profile: {}\n{}",
        again.status,
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        recorded_out,
        "output differs under the profile"
    );

    let denied = enforce(w, &w.denied, &profile);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&denied.stdout),
        String::from_utf8_lossy(&denied.stderr)
    );
    assert!(
        all.contains("Operation not permitted"),
        "mkdir was not denied with EPERM ({}):\n{all}\nprofile: {profile}",
        denied.status
    );
    profile
}

fn nothing(_: &TestContainer) {}

#[test]
fn single_command() {
    if !privileged() {
        return;
    }
    round_trip(&Workload {
        args: strs(&["cat", "/etc/passwd"]),
        denied: strs(&["mkdir", "/tmp/x"]),
        setup: nothing,
        host_net: false,
    });
}

#[test]
fn shell_pipeline_with_several_processes() {
    if !privileged() {
        return;
    }
    let p = "cat /etc/passwd | grep root | wc -l";
    round_trip(&Workload {
        args: strs(&["sh", "-c", p]),
        denied: strs(&["sh", "-c", &format!("{p}; mkdir /tmp/x")]),
        setup: nothing,
        host_net: false,
    });
}

fn www(c: &TestContainer) {
    std::fs::write(c.rootfs().join("www/index.html"), "hello from httpd\n").unwrap();
}

#[test]
fn server_and_client_over_loopback() {
    if !privileged() {
        return;
    }
    let port = 20000 + (std::process::id() % 20000);
    let script = format!("httpd -p 127.0.0.1:{port} -h /www && wget -q -O - http://127.0.0.1:{port}/index.html; killall httpd");
    round_trip(&Workload {
        args: strs(&["sh", "-c", &script]),
        denied: strs(&["sh", "-c", &format!("{script}; mkdir /tmp/x")]),
        setup: www,
        host_net: true,
    });
}

fn threads(c: &TestContainer) {
    compile_fixture("threads", &c.rootfs().join("bin/threads"), false);
}

#[test]
fn multi_threaded_program() {
    if !privileged() {
        return;
    }
    let p = round_trip(&Workload {
        args: strs(&["/bin/threads"]),
        denied: strs(&["/bin/threads", "mkdir"]),
        setup: threads,
        host_net: false,
    });
    assert!(names(&p).contains(&"clone3") || names(&p).contains(&"clone"));
}

fn compat32(c: &TestContainer) {
    compile_fixture("compat", &c.rootfs().join("bin/compat32"), true);
}

#[test]
fn static_32_bit_binary() {
    if !privileged() {
        return;
    }
    let p = round_trip(&Workload {
        args: strs(&["/bin/compat32", "/etc/passwd"]),
        denied: strs(&["/bin/compat32", "/etc/passwd", "mkdir"]),
        setup: compat32,
        host_net: false,
    });
    // The 32-bit calls are named from the ia32 table and the x86 architecture is listed.
    assert_eq!(
        p["architectures"],
        serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
    );
    let n = names(&p);
    assert!(n.contains(&"openat") || n.contains(&"open"), "{n:?}");
}

#[test]
fn merged_recordings_let_both_behaviours_run() {
    if !privileged() {
        return;
    }
    let a = Workload {
        args: strs(&["cat", "/etc/passwd"]),
        denied: vec![],
        setup: nothing,
        host_net: false,
    };
    let b = Workload {
        args: strs(&["mkdir", "-p", "/tmp/made/here"]),
        denied: vec![],
        setup: nothing,
        host_net: false,
    };
    let dir = TempDir::new("merge");
    let (pa, out_a, _) = record(&a, &[]);
    let fa = dir.0.join("a.json");
    std::fs::write(&fa, serde_json::to_string(&pa).unwrap()).unwrap();
    // b alone fails under a's profile (mkdir was never recorded there)...
    let alone = enforce(&b, &b.args, &pa);
    assert!(
        !alone.status.success(),
        "mkdir passed under cat's profile: the test proves nothing"
    );
    // ...the union of both recordings runs both.
    let (merged, out_b, res) = record(&b, &["--merge", fa.to_str().unwrap()]);
    assert!(res.status.success(), "{}", res.stderr);
    for (w, out) in [(&a, &out_a), (&b, &out_b)] {
        let r = enforce(w, &w.args, &merged);
        assert!(
            r.status.success(),
            "{:?} failed under the merged profile: {}",
            w.args,
            String::from_utf8_lossy(&r.stderr)
        );
        assert_eq!(&String::from_utf8_lossy(&r.stdout), out);
    }
}

#[test]
fn launched_command_round_trip_with_a_real_seccomp_loader() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("cmd");
    let file = dir.0.join("cmd.yaml");
    let cmd = ["/bin/busybox", "sh", "-c", "cat /etc/passwd | wc -l"];
    let mut args = vec![
        "profile",
        "--format",
        "spo",
        "--name",
        "count-users",
        "-o",
        file.to_str().unwrap(),
        "--",
    ];
    args.extend_from_slice(&cmd);
    let rec = sysaudit(&args);
    assert!(rec.status.success(), "{}", rec.stderr);
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(
        yaml.contains("kind: SeccompProfile") && yaml.contains("name: count-users"),
        "{yaml}"
    );
    // Enforce the SPO manifest with libseccomp, as runc does.
    let mut run = vec!["run", "--seccomp", file.to_str().unwrap(), "--"];
    run.extend_from_slice(&cmd);
    let ok = sysaudit(&run);
    assert!(ok.status.success(), "{}", ok.stderr);
    assert_eq!(ok.stdout, rec.stdout, "same output under the profile");
    let denied = sysaudit(&[
        "run",
        "--seccomp",
        file.to_str().unwrap(),
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        "cat /etc/passwd | wc -l; mkdir /tmp/sysaudit-denied",
    ]);
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "{}",
        denied.stderr
    );
    // The command's own status is sysaudit's.
    let fail = sysaudit(&[
        "profile",
        "-o",
        dir.0.join("f.json").to_str().unwrap(),
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(fail.status.code(), Some(7), "{}", fail.stderr);
}

#[test]
fn a_lossy_recording_is_written_but_flagged() {
    if !privileged() {
        return;
    }
    // Room for one cgroup (its slot, plus one overflow entry): two decoy containers take
    // both, the target's syscalls cannot be recorded.
    let target = TestContainer::new(&["cat", "/etc/passwd"]);
    let decoy = TestContainer::new(&["sh", "-c", "sleep 1"]);
    let decoy2 = TestContainer::new(&["sh", "-c", "sleep 1"]);
    let dir = TempDir::new("lossy");
    let file = dir.0.join("p.json");
    let agent = Agent::start(&[
        "profile",
        "--container",
        target.id(),
        "--max-cgroups",
        "1",
        "-o",
        file.to_str().unwrap(),
    ]);
    let decoys: Vec<_> = [&decoy, &decoy2]
        .iter()
        .map(|d| {
            let b = Bundle {
                dir: d.bundle.dir.clone(),
                id: d.bundle.id.clone(),
                config: d.bundle.config.clone(),
            };
            thread::spawn(move || Runc::default().run(&b))
        })
        .collect();
    thread::sleep(Duration::from_millis(400));
    target.run();
    let res = agent.wait();
    for d in decoys {
        let _ = d.join();
    }
    assert_eq!(
        res.status.code(),
        Some(3),
        "a lossy profile must not exit 0:\n{}",
        res.stderr
    );
    assert!(
        res.stderr.contains("may be incomplete") && res.stderr.contains("profile map was full"),
        "{}",
        res.stderr
    );
    let p: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("profile still written"))
            .unwrap();
    assert!(p.to_string().contains("INCOMPLETE"), "{p}");
}

/// Run `c` under runc on a thread; return once its cgroup exists (it runs).
fn start_running(c: &TestContainer) -> thread::JoinHandle<anyhow::Result<std::process::Output>> {
    let b = c.bundle.clone();
    let runner = thread::spawn(move || Runc::default().run(&b));
    let cg = Path::new("/sys/fs/cgroup/unified")
        .join(PARENT)
        .join(c.id());
    for _ in 0..300 {
        if cg.exists() {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    runner
}

#[test]
fn a_container_already_running_is_flagged() {
    if !privileged() {
        return;
    }
    let c = TestContainer::new(&["sh", "-c", "sleep 2; cat /etc/passwd"]);
    let runner = start_running(&c);
    thread::sleep(Duration::from_millis(200));
    let res = sysaudit(&["profile", "--container", c.id()]);
    let _ = runner.join();
    assert_eq!(res.status.code(), Some(3), "{}", res.stderr);
    assert!(
        res.stderr
            .contains("already running when recording started"),
        "{}",
        res.stderr
    );
    let p: Value = serde_json::from_str(&res.stdout).expect("profile on stdout");
    assert!(names(&p).contains(&"openat"), "{p}");
}

/// Issue 13, overload: a recording during which the kernel could not deliver a process
/// lifecycle record is written but flagged incomplete, and the run exits 3. An exec record
/// bigger than the whole ring (a 5,000-byte environment variable against a 4 KiB ring) can
/// never be written, so the loss is certain.
#[test]
fn a_recording_that_lost_lifecycle_records_is_flagged() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("lifecycle");
    let file = dir.0.join("p.json");
    let rec = sysaudit(&[
        "profile",
        "--ring-size",
        "4K",
        "-o",
        file.to_str().unwrap(),
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        "X=$(head -c 5000 /dev/zero | tr '\\0' a) /bin/busybox true",
    ]);
    assert_eq!(rec.status.code(), Some(3), "{}", rec.stderr);
    assert!(
        rec.stderr.contains("may be incomplete")
            && rec.stderr.contains("process lifecycle records were lost"),
        "{}",
        rec.stderr
    );
    assert!(file.is_file(), "the profile is still written");
}

/// Regression: a container found running whose cgroup empties before the recorder's first
/// look (it ends while the probe loads) left `profile --container` waiting forever.
#[test]
fn a_container_that_ends_while_the_probe_loads_ends_the_recording() {
    if !privileged() {
        return;
    }
    let c = TestContainer::new(&["sh", "-c", "sleep 0.3"]);
    let runner = start_running(&c);
    // Ends by itself (the harness fails a run past two minutes).
    let res = sysaudit(&["profile", "--container", c.id()]);
    let _ = runner.join();
    assert_eq!(res.status.code(), Some(3), "{}", res.stderr);
}

/// crun refuses this hybrid cgroup layout, so — as on such hosts in production — it runs in a
/// private mount namespace without the cgroup2 mount, from a cgroup2 leaf of its own: the
/// container is known to sysaudit by that leaf's name.
fn crun_run(leaf: &str, c: &TestContainer) -> std::process::Output {
    let script = format!(
        "echo $$ > /sys/fs/cgroup/unified/{leaf}/cgroup.procs && exec unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec crun --root /run/sysaudit-crun run -b {} {}'",
        c.bundle.dir.display(),
        c.id()
    );
    std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("crun")
}

#[test]
fn crun_container_round_trip() {
    if !privileged() {
        return;
    }
    let leaf = unique("crun");
    let leaf_dir = Path::new("/sys/fs/cgroup/unified").join(&leaf);
    std::fs::create_dir_all(&leaf_dir).unwrap();
    let p = "cat /etc/passwd | grep root | wc -l";
    let c = TestContainer::new(&["sh", "-c", p]);
    let dir = TempDir::new("crun");
    let file = dir.0.join("crun.json");
    let agent = Agent::start(&[
        "profile",
        "--container",
        &leaf,
        "-o",
        file.to_str().unwrap(),
    ]);
    let rec = crun_run(&leaf, &c);
    assert!(
        rec.status.success(),
        "crun: {}",
        String::from_utf8_lossy(&rec.stderr)
    );
    let res = agent.wait();
    assert!(res.status.success(), "{}", res.stderr);
    let profile: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let n = names(&profile);
    for setup in ["mount", "pivot_root", "sethostname", "umount2"] {
        assert!(
            !n.contains(&setup),
            "{setup} leaked into the profile: {n:?}"
        );
    }
    let mut again = TestContainer::new(&["sh", "-c", p]);
    again.bundle.set_seccomp(profile.clone()).unwrap();
    let out = crun_run(&leaf, &again);
    assert!(
        out.status.success(),
        "workload failed under its crun profile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, rec.stdout);
    let mut denied = TestContainer::new(&["sh", "-c", &format!("{p}; mkdir /tmp/x")]);
    denied.bundle.set_seccomp(profile).unwrap();
    let out = crun_run(&leaf, &denied);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir(&leaf_dir);
}
