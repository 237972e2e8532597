//! Recording coverage end to end: the curve of new syscalls and "stable since" in the profile,
//! `--until-stable` ending a recording of a workload that would run a minute, SIGUSR1 writing
//! a snapshot while recording goes on, and merged recordings counting who saw each syscall.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use serde_json::Value;
use sysaudit_tests::*;

fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn until_stable_ends_a_long_recording_and_the_profile_carries_its_coverage() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("cov");
    let file = dir.0.join("p.json");
    let script = format!(
        "ls / >/dev/null; sleep 1; mkdir {}/late; sleep 60",
        dir.0.display()
    );
    let t = Instant::now();
    let out = sysaudit(&[
        "profile",
        "-o",
        file.to_str().unwrap(),
        "--until-stable",
        "2",
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        &script,
    ]);
    let took = t.elapsed();
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        took < Duration::from_secs(30),
        "--until-stable 2 let a 60 s workload run {took:?}"
    );
    assert!(out.stderr.contains("--until-stable"), "{}", out.stderr);
    let p = read(&file);
    assert!(profile_names(&p).contains(&"mkdir".to_string()));
    let cov = &p["sysaudit"]["coverage"];
    let secs = cov["seconds"].as_f64().unwrap();
    let last = cov["last_new"][1].as_f64().unwrap();
    assert!(last >= 0.9, "the late mkdir is the last new syscall: {cov}");
    assert!(secs - last >= 2.0, "stable for the asked 2 s: {cov}");
    let total: u64 = cov["curve"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[1].as_u64().unwrap())
        .sum();
    assert_eq!(
        total as usize,
        p["sysaudit"]["seen"].as_object().unwrap().len(),
        "every recorded syscall is on the curve: {cov}"
    );
    assert!(out.stderr.contains("coverage: 0–1 s +"), "{}", out.stderr);
    // The summary after every recording: the score and how to apply it.
    assert!(
        out.stderr.contains("dangerous syscalls allowed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "docker run --security-opt seccomp={}",
            file.display()
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn sigusr1_writes_a_snapshot_and_recording_goes_on() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("snap");
    let file = dir.0.join("p.json");
    let script = format!("ls / >/dev/null; sleep 3; mkdir {}/late", dir.0.display());
    let agent = Agent::start(&[
        "profile",
        "-o",
        file.to_str().unwrap(),
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        &script,
    ]);
    assert!(
        agent.wait_said("recording command", 1, 30),
        "{}",
        agent.said()
    );
    std::thread::sleep(Duration::from_millis(1500));
    agent.signal(libc::SIGUSR1);
    assert!(agent.wait_said("snapshot:", 1, 10), "{}", agent.said());
    let snap = read(&file);
    assert!(
        !profile_names(&snap).contains(&"mkdir".to_string()),
        "the snapshot is of the first phase"
    );
    assert!(
        snap["comment"].as_str().unwrap_or("").contains("snapshot"),
        "a snapshot says so: {snap}"
    );
    let res = agent.wait();
    assert!(res.status.success(), "{}", res.stderr);
    let end = read(&file);
    assert!(profile_names(&end).contains(&"mkdir".to_string()), "{end}");
    assert!(
        end.get("comment").is_none(),
        "the final profile is complete: {end}"
    );
}

#[test]
fn merged_recordings_count_how_many_saw_each_syscall() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("seen");
    let a = dir.0.join("a.json");
    let b = dir.0.join("b.yaml");
    let rec = |out: &Path, extra: &[&str], script: &str| {
        let mut args = vec!["profile", "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "/bin/busybox", "sh", "-c", script]);
        let r = sysaudit(&args);
        assert!(r.status.success(), "{}", r.stderr);
        r
    };
    let mk = format!("mkdir {}/x", dir.0.display());
    rec(&a, &[], "ls / >/dev/null");
    let r = rec(
        &b,
        &["--format", "spo", "--merge", a.to_str().unwrap()],
        &mk,
    );
    let yaml = std::fs::read_to_string(&b).unwrap();
    assert!(
        yaml.contains("apiVersion: security-profiles-operator.x-k8s.io/v1\n"),
        "{yaml}"
    );
    assert!(yaml.contains("sysaudit.io/provenance"), "{yaml}");
    assert!(
        r.stderr.contains("seen by some of the 2 recordings only"),
        "{}",
        r.stderr
    );
    // A third, merged from the SPO manifest: the counts travel through both formats.
    let c = dir.0.join("c.json");
    rec(&c, &["--merge", b.to_str().unwrap()], "ls / >/dev/null");
    let p = read(&c);
    assert_eq!(p["sysaudit"]["recordings"], 3, "{p}");
    assert_eq!(p["sysaudit"]["seen"]["mkdir"], 1, "{p}");
    assert_eq!(p["sysaudit"]["seen"]["execve"], 3, "{p}");
    assert_eq!(p["sysaudit"]["seen"]["getdents64"], 2, "{p}");
}
