//! `sysaudit demo`, the README's first command, end to end: the default rules fire on a real
//! runc container, and the profile recorded from it is enforced and proven.

use serde_json::Value;
use sysaudit_tests::*;

#[test]
fn demo_detects_records_and_proves_its_profile() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("demo");
    let profile = dir.0.join("demo.json");
    let out = std::process::Command::new(bin())
        .args(["demo", "--json", "--profile-out"])
        .arg(&profile)
        .output()
        .expect("run sysaudit demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stderr}");
    let rules: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("Falco JSON alert"))
        .map(|v| v["rule"].as_str().unwrap_or_default().to_string())
        .collect();
    for want in [
        "Sensitive file read in a container",
        "Write below /etc in a container",
        "Shell spawned by a non-shell program in a container",
        "Program executed from a temporary directory",
    ] {
        assert!(rules.iter().any(|r| r == want), "{want} missing: {rules:?}");
    }
    let p: Value = serde_json::from_slice(&std::fs::read(&profile).expect("profile written"))
        .expect("profile is JSON");
    assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
    let names = p["syscalls"][0]["names"].as_array().expect("names");
    assert!(names.iter().any(|n| n == "execve"), "{p}");
    assert!(!names.iter().any(|n| n == "mkdir" || n == "mkdirat"), "{p}");
    assert!(stderr.contains("same output"), "{stderr}");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
}
