//! `sysaudit inspect` on runc containers started under different profiles: none, Docker's
//! default (resolved for the container as Docker resolves it), and a profile sysaudit
//! recorded. The filters are read from the running processes and run for every syscall.

#[path = "../src/reference.rs"]
mod reference;

use std::{thread, time::Duration};

use serde_json::{json, Value};
use sysaudit_tests::*;

/// The container's capabilities (the harness's bundles).
const CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// Docker's default profile as dockerd hands it to runc for this container: rules kept by
/// their includes/excludes (capabilities, amd64), the archMap's x86 entry as architectures.
fn docker_default() -> Option<Value> {
    let path = reference::file("seccomp/docker-default.json")?;
    let d: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let has = |c: &Value| CAPS.contains(&c.as_str().unwrap());
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let rules: Vec<Value> = list(&d["syscalls"])
        .into_iter()
        .filter(|r| {
            let inc = &r["includes"];
            let exc = &r["excludes"];
            list(&inc["caps"]).iter().all(has)
                && !list(&exc["caps"]).iter().any(has)
                && (list(&inc["arches"]).is_empty()
                    || list(&inc["arches"]).contains(&json!("amd64")))
                && !list(&exc["arches"]).contains(&json!("amd64"))
        })
        .map(|r| {
            let mut o = json!({"names": r["names"], "action": r["action"]});
            if !list(&r["args"]).is_empty() {
                o["args"] = r["args"].clone();
            }
            if let Some(e) = r.get("errnoRet") {
                o["errnoRet"] = e.clone();
            }
            o
        })
        .collect();
    Some(json!({
        "defaultAction": d["defaultAction"],
        "defaultErrnoRet": d["defaultErrnoRet"],
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    }))
}

/// Run `sleep` in a container under `profile` and inspect it while it sleeps.
fn inspect_under(profile: Option<Value>) -> Value {
    let mut c = TestContainer::new(&["sleep", "30"]);
    if let Some(p) = profile {
        c.bundle.set_seccomp(p).unwrap();
    }
    let id = c.id().to_string();
    let runner = thread::spawn(move || {
        let out = c.run_any();
        (c, out)
    });
    let mut seen = None;
    eventually("the container runs and is inspected", || {
        let r = sysaudit(&["inspect", &id, "--json"]);
        if r.status.success() && !r.stdout.trim().is_empty() {
            seen = Some(r);
            true
        } else {
            thread::sleep(Duration::from_millis(100));
            false
        }
    });
    let _ = Runc::default()
        .command()
        .args(["kill", &id, "KILL"])
        .stderr(std::process::Stdio::null())
        .status();
    let _ = runner.join();
    let r = seen.unwrap();
    serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap()
}

fn never(v: &Value) -> Vec<&str> {
    v["denied"]["x86_64"]["never"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect()
}

#[test]
fn inspect_reads_each_containers_filters_capabilities_and_namespaces() {
    if !privileged() {
        return;
    }
    let none = inspect_under(None);
    assert_eq!(none["seccomp"], "disabled", "{none:#}");
    assert_eq!(none["denied"], json!({}));
    assert_eq!(none["no_new_privs"], true);
    assert_eq!(
        none["capabilities"]["effective"],
        json!(["KILL", "NET_BIND_SERVICE", "AUDIT_WRITE"])
    );
    let shared: Vec<&str> = none["host_namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        shared.contains(&"user") && !shared.contains(&"pid") && !shared.contains(&"net"),
        "{none:#}"
    );
    assert_eq!(none["privileged"], false);

    if let Some(docker) = docker_default() {
        let d = inspect_under(Some(docker));
        assert_eq!(d["seccomp"], "filter", "{d:#}");
        assert_eq!(d["seccomp_filters"], 1);
        let n = never(&d);
        for denied in ["kexec_load", "mount", "bpf", "init_module"] {
            assert!(
                n.contains(&denied),
                "Docker's default denies {denied}: {n:?}"
            );
        }
        for allowed in ["read", "openat", "nanosleep"] {
            assert!(!n.contains(&allowed), "{allowed}: {n:?}");
        }
        let args = &d["denied"]["x86_64"]["on_arguments"];
        for a in ["clone", "socket", "personality"] {
            assert!(args.as_array().unwrap().contains(&json!(a)), "{a}: {args}");
        }
    }

    // A recorded profile: everything the sleep never did is denied.
    let dir = TempDir::new("inspect");
    let file = dir.0.join("p.json");
    let c = TestContainer::new(&["sleep", "1"]);
    let (_, recorded) = record_container(&c, &file, &[]);
    let r = inspect_under(Some(recorded));
    let n = never(&r);
    assert!(n.len() > 250, "{} denied", n.len());
    assert!(n.contains(&"mkdir") && n.contains(&"socket"), "{n:?}");
    assert!(!n.contains(&"nanosleep") && !n.contains(&"execve"), "{n:?}");
    assert!(
        r["denied"]["ia32"]["never"].as_array().unwrap().len() > 300,
        "ia32 is not let in"
    );
}
