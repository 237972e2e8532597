//! Issue 8, real nodes: containers started by real engines (started here by the harness, at
//! private sockets) are named in alerts by their engine's metadata — name, image repository
//! and tag — with our default rules and with upstream `falco_rules.yaml`.

#[path = "../src/reference.rs"]
mod reference;

use serde_json::Value;
use sysaudit_tests::{
    engines::{Dockerd, Podman},
    *,
};

const IMAGE: &str = "sysaudit-test/busybox:1.0";

/// Alerts of `rule` about the docker container `name`, from `watch` with `rules`.
fn docker_alerts(d: &Dockerd, name: &str, rules: Option<&str>, rule: &str) -> (Vec<Value>, String) {
    docker_alerts_at(d, d.sock.to_str().expect("UTF-8"), name, rules, rule)
}

fn docker_alerts_at(
    d: &Dockerd,
    sock: &str,
    name: &str,
    rules: Option<&str>,
    rule: &str,
) -> (Vec<Value>, String) {
    let sock = sock.to_string();
    let mut args = vec!["watch", "--json", "--docker-socket", &sock];
    if let Some(r) = rules {
        args.extend(["-r", r]);
    }
    let agent = Agent::start(&args);
    // The read is the container's first act: its events wait for the engine's answer.
    d.ok(&[
        "run",
        "--name",
        name,
        "--network",
        "none",
        IMAGE,
        "cat",
        "/etc/shadow",
    ]);
    let id = d.ok(&["inspect", "-f", "{{.Id}}", name]);
    alerts_about(agent.stop(), rule, &id)
}

/// The alerts of `rule` about the container with full id `id`, and what the agent printed.
fn alerts_about(res: AgentOutput, rule: &str, id: &str) -> (Vec<Value>, String) {
    let mine = res
        .alerts_about(id)
        .into_iter()
        .filter(|a| a["rule"] == rule)
        .collect();
    (mine, format!("{}\n{}", res.stdout, res.stderr))
}

fn sock_of(d: &Dockerd) -> &str {
    d.sock.to_str().expect("UTF-8")
}

fn assert_named(alerts: &[Value], name: &str, out: &str) {
    assert_named_from(alerts, name, "sysaudit-test/busybox", out);
}

fn assert_named_from(alerts: &[Value], name: &str, repo: &str, out: &str) {
    assert!(!alerts.is_empty(), "no alert:\n{out}");
    let summary: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("container metadata"))
        .collect();
    for a in alerts {
        let f = &a["output_fields"];
        assert_eq!(f["container.name"], name, "{a}\n{summary:?}");
        assert_eq!(f["container.image.repository"], repo, "{a}");
        assert_eq!(f["container.image.tag"], "1.0", "{a}");
        let text = a["output"].as_str().unwrap_or_default();
        assert!(text.ends_with(&format!("container_name={name}")), "{text}");
    }
}

#[test]
fn docker_containers_are_named_with_their_image_in_alerts() {
    if !privileged() {
        return;
    }
    let d = Dockerd::start();
    d.busybox_image(IMAGE);
    let (alerts, out) = docker_alerts(
        &d,
        "shadow-reader",
        None,
        "Sensitive file read in a container",
    );
    assert_named(&alerts, "shadow-reader", &out);
    assert!(out.contains("container metadata: 1 found"), "{out}");
    assert!(out.contains("0 evaluated without it"), "{out}");

    // No engine at the socket: the container is named by its id, said once, no failure.
    let (alerts, out) = docker_alerts_at(
        &d,
        "/nonexistent/docker.sock",
        "shadow-reader-1",
        None,
        "Sensitive file read in a container",
    );
    assert!(!alerts.is_empty(), "{out}");
    let id = d.ok(&["inspect", "-f", "{{.Id}}", "shadow-reader-1"]);
    assert_eq!(alerts[0]["output_fields"]["container.name"], id, "{out}");
    assert_eq!(
        alerts[0]["output_fields"]["container.image.repository"],
        Value::Null
    );
    assert_eq!(
        out.matches("docker metadata not available").count(),
        1,
        "{out}"
    );

    // `--container` takes names: one already running (scoped in the kernel by its cgroup),
    // one that starts later (matched as its events come).
    d.ok(&[
        "run",
        "-d",
        "--name",
        "early",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "sleep 3; cat /etc/shadow",
    ]);
    let agent = Agent::start(&[
        "watch",
        "--json",
        "--docker-socket",
        sock_of(&d),
        "--container",
        "early",
        "--container",
        "late",
    ]);
    d.ok(&[
        "run",
        "--name",
        "late",
        "--network",
        "none",
        IMAGE,
        "cat",
        "/etc/shadow",
    ]);
    d.ok(&[
        "run",
        "--name",
        "other",
        "--network",
        "none",
        IMAGE,
        "cat",
        "/etc/shadow",
    ]);
    d.ok(&["wait", "early"]);
    let res = agent.stop();
    assert!(res.status.success(), "{}", res.stderr);
    assert!(
        !res.stderr.contains("'early' is not running yet"),
        "found by name at start: {}",
        res.stderr
    );
    assert!(
        res.stderr.contains("'late' is not running yet"),
        "{}",
        res.stderr
    );
    let names: std::collections::BTreeSet<String> = res
        .events()
        .iter()
        .filter_map(|a| {
            a["output_fields"]["container.name"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        names,
        ["early".to_string(), "late".to_string()].into(),
        "{}",
        res.stderr
    );

    // Mounts, as Falco's fields give them.
    let mdir = TempDir::new("mnt");
    let rules = mdir.0.join("mounts.yaml");
    std::fs::write(
        &rules,
        "- rule: mounts\n  desc: d\n  condition: evt.type in (open, openat) and fd.name = /etc/shadow and container.id != host\n  output: \"m=%container.mounts d=%container.mount.dest[/tmp/*] n=%container.mount.dest[/nowhere*] h=%container.healthcheck d=%container.duration\"\n  priority: WARNING\n",
    )
    .expect("rules");
    let agent = Agent::start(&[
        "watch",
        "--json",
        "--no-append-output",
        "--docker-socket",
        sock_of(&d),
        "-r",
        rules.to_str().expect("UTF-8"),
    ]);
    let bind = format!("{}:/data:ro", mdir.0.display());
    d.ok(&[
        "run",
        "--name",
        "mounted",
        "--network",
        "none",
        "-v",
        &bind,
        "--health-cmd",
        "true",
        IMAGE,
        "sh",
        "-c",
        // The read a moment after the start: by then the inspect has answered too.
        "sleep 1; cat /etc/shadow",
    ]);
    let res = agent.stop();
    let m = res
        .events()
        .into_iter()
        .find(|a| a["rule"] == "mounts")
        .unwrap_or_else(|| panic!("no alert: {}", res.stderr));
    let text = m["output"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!("m={}:/data:ro:false:", mdir.0.display())),
        "{text}"
    );
    assert!(text.contains(" d=/data n=N/A h=true d="), "{text}");
    let duration: u64 = text
        .rsplit("d=")
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        duration >= 500_000_000,
        "about a second after the start: {text}"
    );

    // A pod's container as cri-dockerd labels it: the decoration's k8s fields are the pod's.
    let agent = Agent::start(&["watch", "--json", "--docker-socket", sock_of(&d)]);
    d.ok(&[
        "run",
        "--name",
        "k8s_web_web-1_shop_u-1_0",
        "--network",
        "none",
        "--label",
        "io.kubernetes.pod.name=web-1",
        "--label",
        "io.kubernetes.pod.namespace=shop",
        "--label",
        "io.kubernetes.pod.uid=u-1",
        IMAGE,
        "cat",
        "/etc/shadow",
    ]);
    let res = agent.stop();
    let pod = res
        .events()
        .into_iter()
        .find(|a| a["output_fields"]["container.name"] == "k8s_web_web-1_shop_u-1_0")
        .unwrap_or_else(|| panic!("no alert: {}", res.stderr));
    assert_eq!(pod["output_fields"]["k8s.pod.name"], "web-1", "{pod}");
    assert_eq!(pod["output_fields"]["k8s.ns.name"], "shop", "{pod}");

    // `profile --container NAME`: a container that starts later, found by its name.
    let pdir = TempDir::new("prof");
    let file = pdir.0.join("p.json");
    let agent = Agent::start(&[
        "profile",
        "--container",
        "prof-target",
        "--docker-socket",
        sock_of(&d),
        "-o",
        file.to_str().expect("UTF-8"),
    ]);
    d.ok(&[
        "run",
        "--name",
        "prof-target",
        "--network",
        "none",
        IMAGE,
        "cat",
        "/etc/shadow",
    ]);
    let res = agent.wait();
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no profile ({e}):\n{}", res.stderr));
    let profile: Value = serde_json::from_str(&text).expect("profile JSON");
    let names: Vec<&str> = profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["names"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    assert!(
        names.contains(&"openat") && names.contains(&"execve"),
        "{names:?}\n{}",
        res.stderr
    );

    // `trace --json` names the container in every event, the first one included.
    let sock = d.sock.to_str().expect("UTF-8");
    let agent = Agent::start(&[
        "trace",
        "--json",
        "--syscalls",
        "openat",
        "--docker-socket",
        sock,
    ]);
    d.ok(&[
        "run",
        "--name",
        "traced",
        "--network",
        "none",
        IMAGE,
        "cat",
        "/etc/shadow",
    ]);
    let id = d.ok(&["inspect", "-f", "{{.Id}}", "traced"]);
    let res = agent.stop();
    let mine: Vec<Value> = res
        .events()
        .into_iter()
        .filter(|e| e["container_id"] == id)
        .collect();
    assert!(!mine.is_empty(), "{}", res.stderr);
    for e in &mine {
        assert_eq!(e["container_name"], "traced", "{e}");
        assert_eq!(e["container_image"], IMAGE, "{e}");
    }
    assert!(mine.iter().any(|e| e["path"] == "/etc/shadow"), "{mine:?}");

    let Some(upstream) = reference::falco("falco_rules.yaml") else {
        return;
    };
    let (alerts, out) = docker_alerts(
        &d,
        "shadow-reader-2",
        upstream.to_str(),
        "Read sensitive file untrusted",
    );
    assert_named(&alerts, "shadow-reader-2", &out);
}

#[test]
fn podman_containers_are_named_with_their_image_in_alerts() {
    if !privileged() {
        return;
    }
    let p = Podman::start();
    p.busybox_image(IMAGE);
    let sock = p.sock.to_str().expect("UTF-8").to_string();
    let agent = Agent::start(&["watch", "--json", "--podman-socket", &sock]);
    p.run("pm-reader", IMAGE, &["cat", "/etc/shadow"]);
    let id = p.ok(&["inspect", "-f", "{{.Id}}", "pm-reader"]);
    let (alerts, out) = alerts_about(agent.stop(), "Sensitive file read in a container", &id);
    // podman names local images under `localhost/`.
    assert_named_from(
        &alerts,
        "pm-reader",
        "localhost/sysaudit-test/busybox",
        &out,
    );

    // Without its service, podman's storage names the container (first event too).
    let root = p.root().to_str().expect("UTF-8").to_string();
    let agent = Agent::start(&[
        "watch",
        "--json",
        "--podman-socket",
        "/nonexistent/podman.sock",
        "--podman-root",
        &root,
    ]);
    p.run("pm-offline", IMAGE, &["cat", "/etc/shadow"]);
    let id = p.ok(&["inspect", "-f", "{{.Id}}", "pm-offline"]);
    let (alerts, out) = alerts_about(agent.stop(), "Sensitive file read in a container", &id);
    assert_named_from(
        &alerts,
        "pm-offline",
        "localhost/sysaudit-test/busybox",
        &out,
    );
    assert!(out.contains("0 evaluated without it"), "{out}");

    let Some(upstream) = reference::falco("falco_rules.yaml") else {
        return;
    };
    let agent = Agent::start(&[
        "watch",
        "--json",
        "--podman-socket",
        &sock,
        "-r",
        upstream.to_str().expect("UTF-8"),
    ]);
    p.run("pm-reader-2", IMAGE, &["cat", "/etc/shadow"]);
    let id = p.ok(&["inspect", "-f", "{{.Id}}", "pm-reader-2"]);
    let (alerts, out) = alerts_about(agent.stop(), "Read sensitive file untrusted", &id);
    assert_named_from(
        &alerts,
        "pm-reader-2",
        "localhost/sysaudit-test/busybox",
        &out,
    );
}

/// Issue 8, an engine that appears after the agent (or comes back after a restart): its
/// containers are named from then on, on their first event too.
#[test]
fn an_engine_that_starts_after_the_agent_names_its_containers() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("dockerd");
    let sock = Dockerd::sock_in(&dir).to_str().expect("UTF-8").to_string();
    let agent = Agent::start(&["watch", "--json", "--docker-socket", &sock]);
    let d = Dockerd::start_in(dir);
    d.busybox_image(IMAGE);
    // Give the agent's next look at the socket (once a second) its chance.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    d.ok(&[
        "run",
        "--name",
        "late-engine",
        "--network",
        "none",
        IMAGE,
        "cat",
        "/etc/shadow",
    ]);
    let id = d.ok(&["inspect", "-f", "{{.Id}}", "late-engine"]);
    let (alerts, out) = alerts_about(agent.stop(), "Sensitive file read in a container", &id);
    assert_named(&alerts, "late-engine", &out);
}
