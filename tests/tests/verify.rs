//! `sysaudit profile verify` end to end: a profile recorded from a real workload verifies; the
//! same profile with a syscall cut out does not, and the report names that syscall, its ABI
//! and the process that made it — for a command, a runc container and a crun container.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sysaudit_tests::*;

fn cut(src: &Path, dst: &Path, name: &str) {
    let mut p: Value = serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    let names = p["syscalls"][0]["names"].as_array_mut().unwrap();
    let before = names.len();
    names.retain(|n| n != name);
    assert_eq!(
        names.len() + 1,
        before,
        "{name} was not in the recorded profile"
    );
    std::fs::write(dst, serde_json::to_string(&p).unwrap()).unwrap();
}

fn verdict(out: &AgentOutput) -> Value {
    serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("verify --json: {e}\n{}\n{}", out.stdout, out.stderr))
}

/// The one denial of the workload's (not the runtime's) in a verdict.
fn workload_denials(v: &Value) -> Vec<&Value> {
    v["denials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["by_runtime"] == false)
        .collect()
}

fn check_cut_report(out: &AgentOutput) {
    assert_eq!(out.status.code(), Some(5), "{}", out.stderr);
    let v = verdict(out);
    assert_eq!(v["verified"], false);
    let d = workload_denials(&v);
    assert_eq!(d.len(), 1, "{v:#}");
    assert_eq!(d[0]["syscall"], "mkdir");
    assert_eq!(d[0]["abi"], "x86_64");
    assert!(d[0]["pid"].as_u64().unwrap() > 1, "{v:#}");
    assert!(
        d[0]["exe"].as_str().unwrap().ends_with("busybox"),
        "the process is named: {v:#}"
    );
    assert!(
        out.stderr.contains("x86_64 mkdir: by "),
        "the text report names it: {}",
        out.stderr
    );
    assert!(out.stderr.contains("NOT verified"), "{}", out.stderr);
}

#[test]
fn a_command_profile_verifies_and_a_cut_one_names_the_denied_syscall() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("verify-cmd");
    let work = dir.0.join("w");
    // Made before the recording too: every run removes it and makes it again.
    std::fs::create_dir_all(work.join("x")).unwrap();
    let script = format!("rm -rf {w}/x; mkdir {w}/x && ls {w}", w = work.display());
    let cmd = ["--", "/bin/busybox", "sh", "-c", &script];
    let full = dir.0.join("full.json");
    let mut args = vec!["profile", "-o", full.to_str().unwrap()];
    args.extend_from_slice(&cmd);
    let rec = sysaudit(&args);
    assert!(rec.status.success(), "{}", rec.stderr);

    let mut args = vec!["profile", "verify", full.to_str().unwrap()];
    args.extend_from_slice(&cmd);
    let ok = sysaudit(&args);
    assert_eq!(ok.status.code(), Some(0), "{}", ok.stderr);
    assert!(ok.stderr.contains("verified"), "{}", ok.stderr);

    let cutp = dir.0.join("cut.json");
    cut(&full, &cutp, "mkdir");
    let mut args = vec!["profile", "verify", "--json", cutp.to_str().unwrap()];
    args.extend_from_slice(&cmd);
    check_cut_report(&sysaudit(&args));

    // Repeated listener runs over the complete profile find nothing.
    let mut args = vec![
        "profile",
        "verify",
        "--json",
        "--runs",
        "3",
        full.to_str().unwrap(),
    ];
    args.extend_from_slice(&cmd);
    let rep = sysaudit(&args);
    assert_eq!(rep.status.code(), Some(0), "{}", rep.stderr);
    let v = verdict(&rep);
    assert_eq!(v["listener_runs"], 3);
    assert_eq!(v["denials"], serde_json::json!([]), "{v:#}");
}

const SCRIPT: &str = "rm -rf /tmp/x; mkdir /tmp/x && echo made";

/// Record the container's profile under runc.
fn record_script(dir: &Path) -> PathBuf {
    let c = TestContainer::new(&["sh", "-c", SCRIPT]);
    let file = dir.join("full.json");
    let (out, _) = record_container(&c, &file, &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "made\n");
    file
}

#[test]
fn a_runc_bundle_profile_verifies_and_a_cut_one_names_the_denied_syscall() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("verify-runc");
    let full = record_script(&dir.0);
    let c = TestContainer::new(&["sh", "-c", SCRIPT]);
    let bundle = c.bundle.dir.to_str().unwrap();
    let ok = sysaudit(&[
        "profile",
        "verify",
        full.to_str().unwrap(),
        "--bundle",
        bundle,
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", ok.stderr);
    let cutp = dir.0.join("cut.json");
    cut(&full, &cutp, "mkdir");
    check_cut_report(&sysaudit(&[
        "profile",
        "verify",
        "--json",
        cutp.to_str().unwrap(),
        "--bundle",
        bundle,
    ]));
}

#[test]
fn a_crun_bundle_profile_verifies_and_a_cut_one_names_the_denied_syscall() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("verify-crun");
    let full = record_script(&dir.0);
    let crun = crun_hybrid(&dir.0);
    let c = TestContainer::new(&["sh", "-c", SCRIPT]);
    let bundle = c.bundle.dir.to_str().unwrap();
    let rt = crun.to_str().unwrap();
    let ok = sysaudit(&[
        "profile",
        "verify",
        "--json",
        "--runs",
        "2",
        full.to_str().unwrap(),
        "--bundle",
        bundle,
        "--runtime",
        rt,
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", ok.stderr);
    let v = verdict(&ok);
    assert!(workload_denials(&v).is_empty(), "{v:#}");
    let cutp = dir.0.join("cut.json");
    cut(&full, &cutp, "mkdir");
    check_cut_report(&sysaudit(&[
        "profile",
        "verify",
        "--json",
        cutp.to_str().unwrap(),
        "--bundle",
        bundle,
        "--runtime",
        rt,
    ]));
}

#[test]
fn verify_refuses_a_missing_bundle_and_a_missing_workload() {
    let dir = TempDir::new("verify-bad");
    let p = dir.0.join("p.json");
    std::fs::write(
        &p,
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let none = sysaudit(&["profile", "verify", p.to_str().unwrap()]);
    assert_eq!(none.status.code(), Some(1), "{}", none.stderr);
    assert!(
        none.stderr.contains("--bundle DIR or -- COMMAND"),
        "{}",
        none.stderr
    );
    let missing = dir.0.join("nope");
    let bad = sysaudit(&[
        "profile",
        "verify",
        p.to_str().unwrap(),
        "--bundle",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", bad.stderr);
    assert!(bad.stderr.contains("nope/config.json"), "{}", bad.stderr);
}
