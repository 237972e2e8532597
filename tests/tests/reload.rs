//! Issue 10, hot reload and outputs that count what they lose: a rules file edited under a
//! running `watch -c` takes effect without a restart (a rule on a syscall the old rules did
//! not trace fires: the kernel was retuned in place; the process tree learned before is still
//! there); a broken edit is reported where it is broken and the rules in force keep firing;
//! SIGHUP reloads and reopens the file output after log rotation; `config_reloads` counts it
//! all. And a file output on a full disk loses only what did not fit, counted, while the agent
//! goes on.

use std::{path::Path, thread, time::Duration};

use serde_json::Value;
use sysaudit_tests::*;

/// The alerts (JSON lines) of rule `rule` in `file`.
fn alerts_in(file: &Path, rule: &str) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["rule"] == rule)
        .collect()
}

const HOSTNAME_RULE: &str = r#"- rule: Hostname read
  desc: the container read its hostname file
  condition: evt.type in (open, openat, openat2) and fd.name = /etc/hostname and container.id != host
  output: "hostname read by %proc.name (file=%fd.name)"
  priority: WARNING
"#;

const MKDIR_RULE: &str = r#"- rule: Directory made
  desc: the container made a directory
  condition: evt.type in (mkdir, mkdirat) and container.id != host
  output: "directory made by %proc.name under %proc.pname"
  priority: WARNING
"#;

/// Line 3 is broken: `and and`.
const BROKEN_RULE: &str = r#"- rule: Directory made
  desc: the container made a directory
  condition: evt.type in (mkdir, mkdirat) and and container.id != host
  output: "directory made by %proc.name"
  priority: WARNING
"#;

#[test]
fn rules_and_outputs_reload_without_stopping_capture() {
    reload_under_watch("0");
}

/// The same with evaluation threads: each worker gets the new rules between the records
/// routed before the reload and those after.
#[test]
fn rules_reload_on_every_evaluation_thread() {
    reload_under_watch("2");
}

fn reload_under_watch(workers: &str) {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("reload");
    let rules = dir.0.join("rules.yaml");
    std::fs::write(&rules, HOSTNAME_RULE).expect("rules v1");
    let alerts = dir.0.join("alerts.json");
    let port = free_port();
    let conf = dir.0.join("falco.yaml");
    std::fs::write(
        &conf,
        format!(
            "rules_files: [{}]\njson_output: true\nstdout_output: {{enabled: false}}\nfile_output:\n  enabled: true\n  keep_alive: true\n  filename: {}\nwebserver:\n  enabled: true\n  listen_address: 127.0.0.1\n  listen_port: {port}\n  prometheus_metrics_enabled: true\nmetrics: {{enabled: true}}\n",
            rules.display(),
            alerts.display()
        ),
    )
    .expect("falco.yaml");

    // Reads its hostname and makes a directory every 50 ms until told to stop.
    let c = TestContainer::new(&[
        "sh",
        "-c",
        "i=0; while [ ! -e /stop ] && [ $i -lt 1200 ]; do cat /etc/hostname > /dev/null; mkdir /tmp/d$i; i=$((i+1)); sleep 0.05; done",
    ]);
    let agent = Agent::start(&[
        "watch",
        "-c",
        conf.to_str().expect("UTF-8"),
        "--workers",
        workers,
    ]);
    let stop = c.rootfs().join("stop");
    let run = thread::scope(|s| {
        let h = s.spawn(|| c.run());
        eventually("the first rules fire", || {
            !alerts_in(&alerts, "Hostname read").is_empty()
        });
        assert!(alerts_in(&alerts, "Directory made").is_empty());

        // 1. The rules file edited: a rule on mkdir, a syscall the first rules left untraced.
        std::fs::write(&rules, MKDIR_RULE).expect("rules v2");
        assert!(
            agent.wait_said("reloaded (", 1, 20),
            "no reload:\n{}",
            agent.said()
        );
        // The kernel traces more now (mkdir, mkdirat): retuned in place.
        let said = agent.said();
        let traced = |after: &str| -> u64 {
            said.split_once(after)
                .and_then(|(_, r)| r.split(" syscalls traced").next())
                .and_then(|r| r.rsplit(['(', ' ']).next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no count after {after:?}:\n{said}"))
        };
        assert!(traced("reloaded (") > traced("watching with "), "{said}");
        eventually("the new rule fires", || {
            !alerts_in(&alerts, "Directory made").is_empty()
        });
        let made = alerts_in(&alerts, "Directory made");
        let a = &made[0];
        assert_eq!(a["output_fields"]["container.id"], c.id(), "{a}");
        // The shell was learned before the reload: its name is still known.
        assert_eq!(a["output_fields"]["proc.pname"], "sh", "{a}");
        // Every evaluation thread has switched by now (a worker still on its last old batch
        // may have raised one more).
        thread::sleep(Duration::from_millis(300));
        let reads = alerts_in(&alerts, "Hostname read").len();
        thread::sleep(Duration::from_millis(500));
        assert_eq!(
            alerts_in(&alerts, "Hostname read").len(),
            reads,
            "the old rule still fires"
        );

        // 2. A broken edit: said where, and the rules in force go on.
        std::fs::write(&rules, BROKEN_RULE).expect("rules v3");
        assert!(
            agent.wait_said("the rules and outputs in force stay", 1, 20),
            "{}",
            agent.said()
        );
        let said = agent.said();
        assert!(
            said.contains(&format!("{}:3:", rules.display())),
            "no located error:\n{said}"
        );
        let before = alerts_in(&alerts, "Directory made").len();
        eventually("the rules in force keep firing", || {
            alerts_in(&alerts, "Directory made").len() > before + 2
        });

        // 3. Log rotation: the file renamed, SIGHUP; alerts go to a new file by that name.
        let rotated = dir.0.join("alerts.json.1");
        std::fs::write(&rules, MKDIR_RULE).expect("rules v2 again");
        thread::sleep(Duration::from_millis(1200));
        std::fs::rename(&alerts, &rotated).expect("rotate");
        agent.signal(libc::SIGHUP);
        assert!(
            agent.wait_said("reloaded (SIGHUP)", 1, 20),
            "{}",
            agent.said()
        );
        eventually("the reopened file gets alerts", || {
            !alerts_in(&alerts, "Directory made").is_empty()
        });
        let (_, metrics) = http_get(&format!("http://127.0.0.1:{port}/metrics")).expect("/metrics");
        std::fs::write(&stop, "").expect("stop file");
        let run = h.join().expect("container thread");
        (run, metrics, rotated)
    });
    let (run, metrics, rotated) = run;
    assert!(run.status.success());
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    assert!(!alerts_in(&rotated, "Directory made").is_empty());
    // Two reloads done (the fixed file may count as a third), one refused.
    let count = |result: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "sysaudit_config_reloads_total{{result=\"{result}\"}}"
                ))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(count("ok") >= 2.0, "{metrics}");
    assert_eq!(count("failed"), 1.0, "{metrics}");
    assert!(!out.stderr.contains(" lost "), "{}", out.stderr);
}

/// A file output on a full disk (a 64 KiB tmpfs mounted here): what did not fit is counted as
/// lost, the other outputs get every alert, the agent goes on and says it at the end.
#[test]
fn a_full_disk_costs_the_file_output_counted_alerts_only() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("disk-full");
    let mnt = dir.0.join("small");
    std::fs::create_dir_all(&mnt).expect("mount point");
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .status()
        .expect("mount");
    assert!(ok.success(), "mount tmpfs");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _umount = Unmount(&mnt);
    let file = mnt.join("alerts.json");
    let n = 300;
    let c = TestContainer::shadow_reader(n);
    let agent = Agent::start(&[
        "watch",
        "--json",
        "--output",
        file.to_str().expect("UTF-8"),
        "--container",
        c.id(),
    ]);
    c.run();
    let out = agent.stop();
    // Lost alerts make the run end with 3.
    assert_eq!(out.status.code(), Some(3), "{}", out.stderr);
    let on_stdout = out
        .alerts_about(c.id())
        .iter()
        .filter(|a| a["rule"] == "Sensitive file read in a container")
        .count();
    assert_eq!(on_stdout, n, "stdout got every alert:\n{}", out.stderr);
    let text = std::fs::read(&file).expect("the file");
    // Only whole lines count as delivered.
    let whole = text.split(|b| *b == b'\n').count() - 1;
    assert!(whole > 0 && whole < n, "{whole} lines written");
    let name = format!("output file {}", file.display());
    let lost: usize = out
        .stderr
        .lines()
        .find_map(|l| l.split_once(&format!("{name} lost ")))
        .and_then(|(_, r)| r.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no loss reported:\n{}", out.stderr));
    assert_eq!(whole + lost, n, "written {whole} + lost {lost}");
    assert!(
        out.stderr.contains("No space left on device"),
        "{}",
        out.stderr
    );
}
