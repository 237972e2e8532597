//! `profile diff` and `profile score` on real profiles: Docker's and podman's defaults (from
//! the reference data, archMap and conditional rules included) and a small allowlist.

#[path = "../src/reference.rs"]
mod reference;

use serde_json::{json, Value};
use sysaudit_tests::*;

fn run_json(args: &[&str]) -> (AgentOutput, Value) {
    let out = sysaudit(args);
    let v = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}\n{}", out.stdout, out.stderr));
    (out, v)
}

#[test]
fn docker_and_podman_defaults_differ_where_they_should() {
    let (Some(docker), Some(podman)) = (
        reference::file("seccomp/docker-default.json"),
        reference::file("seccomp/podman-containers-common-seccomp.json"),
    ) else {
        return;
    };
    let (d, p) = (docker.to_str().unwrap(), podman.to_str().unwrap());
    let (out, v) = run_json(&["profile", "diff", d, p, "--json"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(v["identical"], false);
    let x = &v["abis"]["x86_64"];
    // podman's profile leaves mount and unshare to capabilities; Docker's denies them.
    for n in ["mount", "unshare"] {
        assert!(
            x["only_b"].as_array().unwrap().contains(&json!(n)),
            "{n}: {x}"
        );
    }
    let socket = x["differ"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "socket")
        .expect("socket's conditions differ");
    assert!(socket["a"]["conditional"].is_array(), "{socket}");
    // With CAP_SYS_ADMIN, Docker's allows mount too.
    let (_, admin) = run_json(&[
        "profile",
        "diff",
        d,
        p,
        "--json",
        "--caps",
        "default,SYS_ADMIN",
    ]);
    assert!(!admin["abis"]["x86_64"]["only_b"]
        .as_array()
        .unwrap()
        .contains(&json!("mount")));
    let same = sysaudit(&["profile", "diff", d, d, "--exit-code"]);
    assert!(same.status.success(), "{}", same.stderr);
    assert!(
        same.stdout.contains("allow the same syscalls"),
        "{}",
        same.stdout
    );
    let differ = sysaudit(&["profile", "diff", d, p, "--exit-code"]);
    assert_eq!(differ.status.code(), Some(1));
    assert!(
        differ.stdout.contains("allowed by B only"),
        "{}",
        differ.stdout
    );
}

#[test]
fn score_names_what_goes_beyond_the_baseline_and_the_dangerous_calls() {
    let Some(docker) = reference::file("seccomp/docker-default.json") else {
        return;
    };
    let dir = TempDir::new("score");
    let p = dir.0.join("p.json");
    std::fs::write(
        &p,
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["read","write","exit_group","ptrace","bpf"],"action":"SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let (out, v) = run_json(&[
        "profile",
        "score",
        p.to_str().unwrap(),
        "--baseline",
        docker.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(v["allowed"]["x86_64"], 5);
    assert_eq!(v["versus"]["beyond_baseline"], json!(["bpf"]), "{v:#}");
    let dangerous: Vec<&str> = v["dangerous"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(dangerous, ["bpf", "ptrace"]);
    let text = sysaudit(&[
        "profile",
        "score",
        p.to_str().unwrap(),
        "--baseline",
        docker.to_str().unwrap(),
    ]);
    assert!(
        text.stdout.contains("and 1 it denies: bpf"),
        "{}",
        text.stdout
    );
}

#[test]
fn bad_profiles_are_refused_with_their_place() {
    let dir = TempDir::new("badprof");
    let cm = dir.0.join("cm.yaml");
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap();
    let out = sysaudit(&["profile", "score", cm.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("cm.yaml") && out.stderr.contains("not a SeccompProfile"),
        "{}",
        out.stderr
    );
    let broken = dir.0.join("b.json");
    std::fs::write(
        &broken,
        "{\"syscalls\": [{\"names\": [\"read\"], \"action\": 5}]}",
    )
    .unwrap();
    let out = sysaudit(&[
        "profile",
        "diff",
        broken.to_str().unwrap(),
        cm.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("b.json") && out.stderr.contains("line 1"),
        "{}",
        out.stderr
    );
    let missing = sysaudit(&["profile", "score", "/nonexistent/p.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        missing.stderr.contains("/nonexistent/p.json"),
        "{}",
        missing.stderr
    );
}
