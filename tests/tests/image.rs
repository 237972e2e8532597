//! Issue 10, deployment: the agent image built offline from `deploy/container/Containerfile`
//! (a root file system `deploy/container/stage.sh` stages) runs under the test's dockerd as
//! the DaemonSet runs it — privileged, in the host's pid namespace, BTF and cgroups mounted,
//! the engine's socket for names — and detects another container; the Kubernetes manifests
//! validate against a current Kubernetes's schemas.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;
use sysaudit_tests::{engines::Dockerd, *};

const IMAGE: &str = "sysaudit-test/busybox:1.0";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn the_agent_image_runs_as_the_daemonset_does_and_detects_another_container() {
    if !privileged() {
        return;
    }
    let stage = TempDir::new("image-root");
    let root = stage.0.join("root");
    let out = Command::new("sh")
        .arg(repo("deploy/container/stage.sh"))
        .arg(bin())
        .arg(&root)
        .output()
        .expect("stage.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let d = Dockerd::start();
    let containerfile = repo("deploy/container/Containerfile");
    d.ok(&[
        "build",
        "-t",
        "sysaudit-agent:test",
        "-f",
        containerfile.to_str().expect("UTF-8"),
        root.to_str().expect("UTF-8"),
    ]);
    d.busybox_image(IMAGE);
    let sock = format!("{}:/var/run/docker.sock", d.sock.display());
    d.ok(&[
        "run",
        "-d",
        "--name",
        "sysaudit-agent",
        // `--privileged`, but for CAP_SYS_RESOURCE, which this VM's root lacks (docker cannot
        // grant it: runc fails to apply it).
        "--cap-add",
        "ALL",
        "--cap-drop",
        "SYS_RESOURCE",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "apparmor=unconfined",
        "--pid=host",
        "--network",
        "none",
        "-v",
        "/sys/kernel/btf:/sys/kernel/btf:ro",
        "-v",
        "/sys/fs/cgroup:/sys/fs/cgroup:ro",
        "-v",
        &sock,
        "sysaudit-agent:test",
        "watch",
        "--json",
        "--docker-socket",
        "/var/run/docker.sock",
    ]);
    let logs = |d: &Dockerd| {
        let o = d.docker(&["logs", "sysaudit-agent"]);
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let t = Instant::now();
    while !logs(&d).1.contains("sysaudit: watching") {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the agent did not start in its container:\n{}",
            logs(&d).1
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    d.ok(&[
        "run",
        "--name",
        "victim",
        "--network",
        "none",
        IMAGE,
        "cat",
        "/etc/shadow",
    ]);
    let victim = d.ok(&["inspect", "-f", "{{.Id}}", "victim"]);
    let mut found = None;
    let t = Instant::now();
    while found.is_none() && t.elapsed() < Duration::from_secs(20) {
        found = logs(&d)
            .0
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|a| {
                a["rule"] == "Sensitive file read in a container"
                    && a["output_fields"]["container.id"]
                        .as_str()
                        .is_some_and(|id| victim.starts_with(id))
            });
        std::thread::sleep(Duration::from_millis(200));
    }
    let (stdout, stderr) = logs(&d);
    let a =
        found.unwrap_or_else(|| panic!("no alert from the agent's container:\n{stdout}\n{stderr}"));
    assert_eq!(a["output_fields"]["container.name"], "victim", "{a}");
    // `docker stop` sends SIGTERM: the agent stops cleanly and says what it saw.
    d.ok(&["stop", "-t", "20", "sysaudit-agent"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "sysaudit-agent"]),
        "0"
    );
    let err = logs(&d).1;
    assert!(
        err.contains(r#""event":"stats""#) && err.contains(r#""lost":0"#),
        "{err}"
    );
    // The image's own configuration (the default one) turned its web server on.
    assert!(err.contains("web server on http://0.0.0.0:8765"), "{err}");
}

#[test]
fn the_kubernetes_manifests_validate_and_carry_a_valid_configuration() {
    let manifests = repo("deploy/kubernetes/sysaudit.yaml");
    let out = Command::new("kubernetes-validate")
        .args(["--strict"])
        .arg(&manifests)
        .output()
        .expect("kubernetes-validate (PyPI; `cargo xtask setup` installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for kind in [
        "daemonset/sysaudit",
        "configmap/sysaudit-config",
        "service/sysaudit",
    ] {
        assert!(
            text.contains(&format!("passed for resource {kind}")),
            "{text}"
        );
    }
    // The configuration the ConfigMap carries is one the agent accepts without a warning.
    let yaml = std::fs::read_to_string(&manifests).expect("manifests");
    let start = yaml
        .find("  sysaudit.yaml: |\n")
        .expect("the config in the ConfigMap")
        + 19;
    let body: String = yaml[start..]
        .lines()
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let dir = TempDir::new("cm");
    let f = dir.0.join("sysaudit.yaml");
    std::fs::write(&f, body).expect("write");
    let r = sysaudit(&["config", "check", f.to_str().expect("UTF-8")]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("(0 warning(s))"), "{}", r.stderr);
    assert!(
        r.stdout.contains("prometheus_metrics_enabled: true"),
        "{}",
        r.stdout
    );
}
