//! Per-syscall overhead: a getppid loop in a busybox container, plain and under each
//! recorder, ns per syscall measured inside the container, medians of several runs, ratios to
//! plain — all from this one run.

use std::process::Command;

use sysaudit_tests::{bin, compile_fixture, unique, TestContainer};

use super::{bpftrace, median, start, stop, wanted};

const RUNS: usize = 5;

/// The loop program, compiled once.
fn program() -> &'static std::path::Path {
    static P: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let p = std::env::temp_dir().join(format!("getppid_loop-{}", std::process::id()));
        compile_fixture("getppid_loop", &p, false);
        p
    })
}

fn container(n: u64) -> TestContainer {
    let c = TestContainer::new(&["/bin/getppid_loop", &n.to_string()]);
    std::fs::copy(program(), c.rootfs().join("bin/getppid_loop")).expect("copy loop program");
    c
}

/// Run the loop `n` times in a fresh container; ns per call as the program measured it.
fn loop_once(n: u64) -> f64 {
    let out = container(n).run();
    parse(&String::from_utf8_lossy(&out.stdout))
}

fn parse(s: &str) -> f64 {
    s.split_whitespace()
        .find_map(|w| w.strip_prefix("ns_per_call="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no ns_per_call in {s:?}"))
}

fn measure(name: &str, n: u64, tracer: Option<(Command, &str)>) -> (String, f64) {
    if !wanted(name) {
        return (name.to_string(), f64::NAN);
    }
    let child = tracer.map(|(cmd, ready)| start(cmd, ready));
    let v: Vec<f64> = (0..RUNS).map(|_| loop_once(n)).collect();
    if let Some(c) = child {
        stop(c);
    }
    let m = median(v.clone());
    eprintln!(
        "  {name:<44} {m:>9.1} ns/call   runs: {}",
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    (name.to_string(), m)
}

pub(crate) fn run() {
    let n = 2_000_000u64;
    eprintln!("getppid loop in a runc busybox container, {RUNS} runs each, medians:");
    let mut rows = vec![measure("plain", n, None)];

    let mut sa = Command::new(bin());
    sa.args([
        "profile",
        "--container",
        &unique("bench-never"),
        "-o",
        "/dev/null",
    ]);
    // Every container of the host is recorded (the target starts later): the real cost.
    rows.push(measure(
        "sysaudit profile (kernel bitmaps)",
        n,
        Some((sa, "sysaudit: recording")),
    ));

    // The kernel's share: an empty program on the same hook.
    let mut floor = Command::new(bin());
    floor.arg("calibrate");
    rows.push(measure(
        "empty sys_enter program (hook floor)",
        n,
        Some((floor, "sysaudit: calibrating")),
    ));

    let mut w = Command::new(bin());
    w.args(["watch", "--output", "/dev/null"]);
    rows.push(measure(
        "sysaudit watch (default rules, filtered)",
        n,
        Some((w, "sysaudit: watching")),
    ));

    rows.push(measure(
        "bpftrace, count per cgroup (peer)",
        n,
        Some((bpftrace("@[cgroup] = count();"), "Attaching")),
    ));
    // What bpftrace pays before doing anything: its perf-tracepoint attach path.
    rows.push(measure(
        "bpftrace, empty probe (its attach cost)",
        n,
        Some((bpftrace(""), "Attaching")),
    ));

    // strace is ~3 orders of magnitude slower: fewer calls, same per-call figure.
    let strace = if !wanted("strace") {
        ("strace -f -c".to_string(), f64::NAN)
    } else {
        let c = container(n / 200);
        let mut v = Vec::new();
        for _ in 0..3 {
            let out = Command::new("strace")
                .args([
                    "-f",
                    "-c",
                    "-o",
                    "/dev/null",
                    "runc",
                    "--root",
                    sysaudit_tests::Runc::default().root.to_str().unwrap(),
                    "run",
                    "--bundle",
                ])
                .arg(&c.bundle.dir)
                .arg(c.id())
                .output()
                .expect("strace");
            sysaudit_tests::Runc::default().cleanup(&c.bundle);
            v.push(parse(&String::from_utf8_lossy(&out.stdout)));
        }
        let m = median(v);
        eprintln!(
            "  {:<44} {m:>9.1} ns/call",
            "strace -f -c (the seeds' tool)"
        );
        ("strace -f -c".to_string(), m)
    };
    rows.push(strace);

    let _ = std::fs::remove_file(program());
    let plain = rows[0].1;
    println!("\n{:<44} {:>12} {:>10}", "case", "ns/syscall", "vs plain");
    for (name, v) in rows.iter().filter(|(_, v)| !v.is_nan()) {
        println!("{name:<44} {v:>12.1} {:>9.2}x", v / plain);
    }
}
