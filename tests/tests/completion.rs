//! `profile --complete`: a dynamically linked program recorded on the path that never polls
//! gets `poll` (and its sibling `ppoll`) from its imports, listed with why; under that profile
//! the other path works, under the plain recording it is denied — the "generated profile
//! breaks my container" case a single recording leaves open.

use std::{path::Path, process::Command};

use serde_json::Value;
use sysaudit_tests::*;

fn record(bin: &Path, out: &Path, extra: &[&str]) -> AgentOutput {
    let mut args = vec!["profile", "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", bin.to_str().unwrap()]);
    let r = sysaudit(&args);
    assert!(r.status.success(), "{}", r.stderr);
    r
}

fn run_under(profile: &Path, bin: &Path) -> String {
    let out = Command::new(sysaudit_tests::bin())
        .args([
            "run",
            "--seccomp",
            profile.to_str().unwrap(),
            "--",
            bin.to_str().unwrap(),
            "wait",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn imports_complete_the_path_a_recording_missed() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("complete");
    let bin = dir.0.join("sometimes_polls");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sometimes_polls.c");
    let gcc = Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        gcc.status.success(),
        "{}",
        String::from_utf8_lossy(&gcc.stderr)
    );

    let plain = dir.0.join("plain.json");
    record(&bin, &plain, &[]);
    let done = dir.0.join("completed.json");
    let r = record(&bin, &done, &["--complete", "all"]);
    assert!(r.stderr.contains("imports poll()"), "{}", r.stderr);

    let p: Value = serde_json::from_str(&std::fs::read_to_string(&done).unwrap()).unwrap();
    let added = p["sysaudit"]["added"].as_array().unwrap();
    let why = |n: &str| {
        added
            .iter()
            .find(|a| a["name"] == n)
            .map(|a| a["why"].as_str().unwrap().to_string())
    };
    assert!(why("poll").unwrap().ends_with("imports poll()"), "{p:#}");
    assert!(why("ppoll").is_some(), "{p:#}");

    assert!(run_under(&plain, &bin).contains("poll: Operation not permitted"));
    assert_eq!(run_under(&done, &bin), "poll: ok\n");
}
