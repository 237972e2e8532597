//! The behaviours the default ruleset is tested against: each runs in a real busybox
//! container; the recorded captures live in `rules/tests/` and are replayed by the agent's
//! unit tests; the live detection test runs some of them under `sysaudit watch`.

use std::{path::Path, thread, time::Duration};

use crate::{compile_fixture, Runc, TestContainer};

pub struct Scenario {
    /// Capture file stem (`rules/tests/<name>.jsonl`).
    pub name: &'static str,
    /// The container's command.
    pub args: &'static [&'static str],
    /// A command `runc exec`'d into the running container, if any.
    pub exec: Option<&'static [&'static str]>,
    /// The rule this behaviour must fire; `None` for benign behaviour (no rule may fire).
    pub fires: Option<&'static str>,
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "shell_spawned_by_awk",
        args: &["sh", "-c", "awk 'BEGIN { system(\"id\") }'"],
        exec: None,
        fires: Some("Shell spawned by a non-shell program in a container"),
    },
    Scenario {
        name: "shell_exec_into_container",
        args: &["sleep", "2"],
        exec: Some(&["sh", "-c", "id; hostname"]),
        fires: Some("Shell exec'd into a running container"),
    },
    Scenario {
        name: "sensitive_file_read",
        args: &["sh", "-c", "cat /etc/shadow > /dev/null"],
        exec: None,
        fires: Some("Sensitive file read in a container"),
    },
    Scenario {
        name: "write_below_etc",
        args: &["sh", "-c", "echo 'pwned' > /etc/motd"],
        exec: None,
        fires: Some("Write below /etc in a container"),
    },
    Scenario {
        name: "write_below_bin",
        args: &["sh", "-c", "cp /bin/busybox /bin/dropped && rm /bin/dropped"],
        exec: None,
        fires: Some("Write below a binary directory in a container"),
    },
    Scenario {
        name: "package_manager",
        args: &["sh", "-c", "dpkg -l > /dev/null 2>&1; true"],
        exec: None,
        fires: Some("Package manager run in a container"),
    },
    Scenario {
        name: "netcat_remote_shell",
        args: &["sh", "-c", "nc -l -p 4444 -e /bin/sh & sleep 0.3; kill $!"],
        exec: None,
        fires: Some("Netcat remote shell in a container"),
    },
    Scenario {
        name: "ptrace_attach",
        args: &["/bin/ptrace_attach"],
        exec: None,
        fires: Some("Process attached with ptrace in a container"),
    },
    Scenario {
        name: "setuid_bit",
        args: &["sh", "-c", "touch /tmp/suid && chmod u+s /tmp/suid"],
        exec: None,
        fires: Some("Setuid or setgid bit set in a container"),
    },
    Scenario {
        name: "unshare_and_mount",
        args: &["sh", "-c", "unshare -n true; mkdir -p /mnt; mount -t tmpfs none /mnt; true"],
        exec: None,
        fires: Some("Namespace or mount change from a container"),
    },
    Scenario {
        name: "kernel_module_load",
        args: &["sh", "-c", "echo junk > /tmp/evil.ko; insmod /tmp/evil.ko; true"],
        exec: None,
        fires: Some("Kernel module load attempt"),
    },
    Scenario {
        name: "exec_from_tmp",
        args: &["sh", "-c", "cp /bin/busybox /tmp/payload && /tmp/payload true"],
        exec: None,
        fires: Some("Program executed from a temporary directory"),
    },
    Scenario {
        name: "log_cleared",
        args: &["sh", "-c", "mkdir -p /var/log && echo a >> /var/log/app.log && : > /var/log/app.log && rm /var/log/app.log"],
        exec: None,
        fires: Some("Log file cleared or removed"),
    },
    Scenario {
        name: "raw_socket",
        args: &["sh", "-c", "ping -c 1 -W 1 127.0.0.1; arping -c 1 -w 1 127.0.0.1; true"],
        exec: None,
        fires: Some("Raw or packet socket created in a container"),
    },
    Scenario {
        name: "benign_file_work",
        args: &["sh", "-c", "cat /etc/passwd > /dev/null; ls / > /tmp/ls; wc -l /tmp/ls; echo hi > /tmp/out; cat /tmp/out; sleep 0.1"],
        exec: None,
        fires: None,
    },
    Scenario {
        name: "benign_scripts_and_logs",
        args: &["sh", "-c", "mkdir -p /var/log; echo a >> /var/log/app.log; cat /var/log/app.log; sh -c 'sh -c true'; date > /dev/null"],
        exec: None,
        fires: None,
    },
];

/// Build the scenario's container (the ptrace helper is compiled into its rootfs).
pub fn container(s: &Scenario) -> TestContainer {
    let c = TestContainer::new(s.args);
    if s.args[0] == "/bin/ptrace_attach" {
        compile_fixture(
            "ptrace_attach",
            &c.rootfs().join("bin/ptrace_attach"),
            false,
        );
    }
    if s.name == "sensitive_file_read" {
        std::fs::write(
            c.bundle.dir.join("rootfs/etc/shadow"),
            "root:*:19000:0:99999:7:::\n",
        )
        .expect("shadow");
    }
    c
}

/// Run the scenario to completion (with its `runc exec`, if any).
pub fn run(s: &Scenario, c: &TestContainer) {
    match s.exec {
        None => {
            // Scenarios may exit non-zero on purpose (denied syscalls); only runc failing is fatal.
            let out = Runc::default().run(&c.bundle).expect("runc");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("runc run failed"), "{}: {err}", s.name);
        }
        Some(cmd) => {
            let bundle_dir = c.bundle.dir.clone();
            let id = c.id().to_string();
            let runner = {
                let id = id.clone();
                thread::spawn(move || {
                    Runc::default()
                        .command()
                        .args(["run", "--bundle"])
                        .arg(&bundle_dir)
                        .arg(&id)
                        .stdin(std::process::Stdio::null())
                        .output()
                })
            };
            wait_running(&id);
            let out = Runc::default()
                .command()
                .arg("exec")
                .arg(&id)
                .args(cmd)
                .output()
                .expect("runc exec");
            assert!(
                out.status.success(),
                "runc exec: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = runner.join();
            Runc::default().cleanup(&c.bundle);
        }
    }
}

fn wait_running(id: &str) {
    for _ in 0..200 {
        let st = Runc::default().command().args(["state", id]).output();
        if let Ok(o) = st {
            if String::from_utf8_lossy(&o.stdout).contains("\"running\"") {
                return;
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("container {id} never ran");
}

/// Where the recorded captures live.
pub fn captures_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/tests"))
}
