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

/// busybox's shell runs some applets (find, dd) in a forked child without an exec; run from a
/// link outside /bin they exec, as a real image's binaries always do.
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
        name: "link_to_shadow",
        args: &["sh", "-c", "ln -s /etc/shadow /tmp/s; ln /etc/shadow /tmp/h; true"],
        exec: None,
        fires: Some("Link to a sensitive file created in a container"),
    },
    Scenario {
        name: "traversal_read",
        args: &["sh", "-c", "mkdir -p /www/app; cat /www/app/../../etc/passwd /tmp/../etc/hostname > /dev/null"],
        exec: None,
        fires: Some("File below /etc or /root read through directory traversal in a container"),
    },
    Scenario {
        name: "exec_from_dev_shm",
        args: &["sh", "-c", "cp /bin/busybox /dev/shm/x && /dev/shm/x true; echo true > /dev/shm/s.sh; sh /dev/shm/s.sh"],
        exec: None,
        fires: Some("Program executed from /dev/shm"),
    },
    Scenario {
        name: "credential_search",
        args: &["sh", "-c", "mkdir -p /opt/bin; ln -s /bin/busybox /opt/bin/find; /opt/bin/find / -name id_rsa 2>/dev/null; grep -r 'PRIVATE KEY' /etc 2>/dev/null; true"],
        exec: None,
        fires: Some("Credential search in a container"),
    },
    Scenario {
        name: "data_destruction",
        args: &["sh", "-c", "echo data > /tmp/f; shred -u /tmp/f; mkdir -p /opt/bin; ln -s /bin/busybox /opt/bin/dd; /opt/bin/dd if=/dev/zero of=/dev/sda bs=512 count=1 2>/dev/null; mke2fs /tmp/img 2>/dev/null; true"],
        exec: None,
        fires: Some("Data destruction tool run in a container"),
    },
    Scenario {
        name: "ptrace_traceme",
        args: &["/bin/traceme"],
        exec: None,
        fires: Some("PTRACE_TRACEME anti-debugging in a container"),
    },
    Scenario {
        name: "fileless_memfd",
        args: &["/bin/fileless"],
        exec: None,
        fires: Some("Fileless execution from a memfd"),
    },
    Scenario {
        name: "reverse_shell",
        args: &["sh", "-c", "nc -l -p 47446 > /dev/null & sleep 0.3; /bin/reverse_shell 47446; kill $! 2>/dev/null; true"],
        exec: None,
        fires: Some("Standard streams redirected to an outbound connection in a container"),
    },
    Scenario {
        name: "drift_upper_layer",
        args: &["sh", "-c", "mkdir -p /opt && cp /bin/busybox /opt/tool && /opt/tool true"],
        exec: None,
        fires: Some("Program not in the image run in a container"),
    },
    Scenario {
        name: "k8s_api_contact",
        args: &["sh", "-c", "nc -l -p 47443 > /dev/null & sleep 0.3; nc -w 1 $KUBERNETES_SERVICE_HOST 47443 < /dev/null; kill $! 2>/dev/null; true"],
        exec: None,
        fires: Some("Kubernetes API server contacted from a container"),
    },
    Scenario {
        name: "io_uring_setup",
        args: &["/bin/uring_setup"],
        exec: None,
        fires: Some("io_uring set up in a container"),
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
    Scenario {
        name: "benign_web_server_and_client",
        args: &["sh", "-c", "echo hello > /www/index.html; httpd -p 127.0.0.1:47080 -h /www; sleep 0.3; wget -q -O - http://127.0.0.1:47080/index.html; wget -q -O /tmp/page http://127.0.0.1:47080/; killall httpd; true"],
        exec: None,
        fires: None,
    },
    Scenario {
        name: "benign_shell_script",
        args: &["sh", "-c", "mkdir -p /app; printf '#!/bin/sh\\necho start\\nls / > /dev/null\\nwc -c /etc/passwd\\n' > /app/run.sh; chmod +x /app/run.sh; /app/run.sh"],
        exec: None,
        fires: None,
    },
    Scenario {
        name: "benign_cron_loop",
        args: &["sh", "-c", "i=0; while [ $i -lt 3 ]; do date > /tmp/tick; cat /tmp/tick > /dev/null; sleep 0.1; i=$((i+1)); done"],
        exec: None,
        fires: None,
    },
    Scenario {
        name: "benign_log_writer",
        args: &["sh", "-c", "mkdir -p /var/log/app; for i in 1 2 3; do echo line $i >> /var/log/app/app.log; done; tail -n 1 /var/log/app/app.log; gzip -c /var/log/app/app.log > /tmp/app.log.gz"],
        exec: None,
        fires: None,
    },
];

/// Build the scenario's container: fixtures compiled into its rootfs, files, network and
/// environment as the behaviour needs.
pub fn container(s: &Scenario) -> TestContainer {
    let mut c = TestContainer::new(s.args);
    let fixture = |name: &str, c: &TestContainer| {
        compile_fixture(name, &c.rootfs().join("bin").join(name), false);
    };
    match s.name {
        "ptrace_attach" => fixture("ptrace_attach", &c),
        "ptrace_traceme" => fixture("traceme", &c),
        "fileless_memfd" => fixture("fileless", &c),
        "io_uring_setup" => fixture("uring_setup", &c),
        "reverse_shell" => {
            fixture("reverse_shell", &c);
            c.bundle.share_host_network().expect("host network");
        }
        "k8s_api_contact" => {
            // As in a pod: the API server's address in the environment.
            if let Some(env) = c.bundle.config["process"]["env"].as_array_mut() {
                env.push("KUBERNETES_SERVICE_HOST=127.0.0.1".into());
                env.push("KUBERNETES_SERVICE_PORT=47443".into());
            }
            c.bundle.share_host_network().expect("host network");
        }
        "benign_web_server_and_client" => {
            c.bundle.share_host_network().expect("host network");
        }
        "drift_upper_layer" => {
            c.overlay();
        }
        _ => {}
    }
    if matches!(s.name, "sensitive_file_read" | "link_to_shadow") {
        std::fs::write(c.rootfs().join("etc/shadow"), "root:*:19000:0:99999:7:::\n")
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
