//! The benchmarks that need root (`cargo xtask bench`): per-syscall overhead of each recorder
//! (`overhead`), the open/close storm under live detection (`storm`) and the evaluation
//! threads' speedup (`workers`), `sysaudit ci` on a real test suite (`ci`). Each prints ratios
//! measured in this one run. `bench [overhead] [storm] [workers] [ci]` picks; default: all.

mod ci;
mod overhead;
#[path = "../../reference.rs"]
mod reference;
mod storm;
mod workers;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::Duration,
};

use sysaudit_tests::privileged;

fn main() {
    if !privileged() {
        return;
    }
    let picked: Vec<String> = std::env::args().skip(1).collect();
    let run = |name: &str| picked.is_empty() || picked.iter().any(|p| p == name);
    if run("overhead") {
        overhead::run();
    }
    if run("storm") {
        storm::run();
    }
    if run("workers") {
        workers::run();
    }
    if run("ci") {
        ci::run();
    }
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Start a tracer and wait until it prints `ready` on stdout or stderr.
pub(crate) fn start(mut cmd: Command, ready: &str) -> Child {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tracer");
    let (tx, rx) = mpsc::channel();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        let ready = ready.to_string();
        thread::spawn(move || {
            for l in BufReader::new(stream).lines().map_while(Result::ok) {
                if l.contains(&ready) {
                    let _ = tx.send(());
                }
            }
        });
    }
    rx.recv_timeout(Duration::from_secs(60))
        .expect("tracer ready");
    thread::sleep(Duration::from_millis(200));
    child
}

pub(crate) fn stop(mut c: Child) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
    let _ = c.wait();
}

/// bpftrace with `body` on every syscall entry. It needs tracefs: mounted in a private mount
/// namespace only, never left mounted.
pub(crate) fn bpftrace(body: &str) -> Command {
    bpftrace_script(&format!("tracepoint:raw_syscalls:sys_enter {{ {body} }}"))
}

/// bpftrace running `script`, with tracefs mounted in its private mount namespace.
pub(crate) fn bpftrace_script(script: &str) -> Command {
    let mut c = Command::new("unshare");
    c.args(["-m", "sh", "-c"]).arg(format!(
        "mount -t tracefs nodev /sys/kernel/tracing && exec bpftrace -e '{script}'"
    ));
    c
}

/// `BENCH_CASES=plain,profile` limits the run (for quick comparisons while tuning).
pub(crate) fn wanted(name: &str) -> bool {
    match std::env::var("BENCH_CASES") {
        Ok(v) => v
            .split(',')
            .any(|c| name.starts_with(c) || name.contains(c)),
        Err(_) => true,
    }
}
