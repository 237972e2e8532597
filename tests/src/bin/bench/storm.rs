//! The storm: a loop of `open` + `close` on one file in a runc container (half the opens
//! relative to the working directory), plain and under each live tracer, all in this one run:
//! the workload's speed as a fraction of plain, events delivered per second, events lost, the
//! tracer's CPU in cores and its steady and peak RSS.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;
use sysaudit_tests::{bin, reported, storm_container, TestContainer};

use super::{bpftrace_script, median};

/// open+close pairs per container run; runs per case.
const PAIRS: u64 = 1_500_000;
const RUNS: usize = 3;

/// What one case measured.
struct Row {
    name: String,
    pairs_per_s: f64,
    delivered: u64,
    lost: u64,
    /// Dropped in the kernel by the rules' path filter.
    filtered: u64,
    wall: f64,
    cpu_s: f64,
    rss_kb: u64,
    peak_kb: u64,
}

/// A live tracer: its stdout lines are counted (one per event or alert), stderr kept.
pub(crate) struct Tracer {
    child: std::process::Child,
    stdout_lines: Arc<AtomicU64>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Tracer {
    pub(crate) fn start(mut cmd: Command, ready: &str) -> Tracer {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tracer");
        let stdout_lines = Arc::new(AtomicU64::new(0));
        let stderr: Arc<Mutex<Vec<String>>> = Arc::default();
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let (n, tx1, r1) = (stdout_lines.clone(), tx.clone(), ready.to_string());
        thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if l.contains(&r1) {
                    let _ = tx1.send(());
                }
                n.fetch_add(1, Ordering::Relaxed);
            }
        });
        let err = child.stderr.take().expect("stderr");
        let (keep, r2) = (stderr.clone(), ready.to_string());
        thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if l.contains(&r2) {
                    let _ = tx.send(());
                }
                if let Ok(mut v) = keep.lock() {
                    v.push(l);
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(120))
            .expect("tracer ready");
        thread::sleep(Duration::from_millis(300));
        // The ready line itself is not an event.
        stdout_lines.store(0, Ordering::Relaxed);
        Tracer {
            child,
            stdout_lines,
            stderr,
        }
    }

    /// (user + system CPU seconds, VmRSS kB, VmHWM kB) of the tracer now.
    fn usage(&self) -> (f64, u64, u64) {
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // After the comm: state is field 0, utime 11, stime 12.
        let cpu = (ticks(11) + ticks(12)) / hz;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kb = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        (cpu, kb("VmRSS:"), kb("VmHWM:"))
    }

    /// SIGINT; then its stderr once it has ended.
    pub(crate) fn stop(mut self) -> Vec<String> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        thread::sleep(Duration::from_millis(200));
        let v = self.stderr.lock().map(|v| v.clone()).unwrap_or_default();
        v
    }
}

/// Run the storm RUNS times; (median pairs/s, total wall seconds).
fn storms() -> (f64, f64) {
    let t = Instant::now();
    let v: Vec<f64> = (0..RUNS)
        .map(|_| {
            let out = storm_container(PAIRS).run();
            reported(&String::from_utf8_lossy(&out.stdout), "pairs_per_s")
        })
        .collect();
    (median(v), t.elapsed().as_secs_f64())
}

fn case(name: &str, tracer: Option<(Command, &str)>, count: Count) -> Option<Row> {
    // The plain run and the hook floor are what the others are measured against.
    if tracer.is_some() && !name.contains("floor") && !super::wanted(name) {
        return None;
    }
    eprintln!("  {name} ...");
    let Some((cmd, ready)) = tracer else {
        let (pairs_per_s, wall) = storms();
        return Some(Row {
            name: name.into(),
            pairs_per_s,
            delivered: 0,
            lost: 0,
            filtered: 0,
            wall,
            cpu_s: 0.0,
            rss_kb: 0,
            peak_kb: 0,
        });
    };
    let t = Tracer::start(cmd, ready);
    let (cpu0, _, _) = t.usage();
    let (pairs_per_s, wall) = storms();
    let (cpu1, rss_kb, peak_kb) = t.usage();
    let lines = t.stdout_lines.load(Ordering::Relaxed);
    let stderr = t.stop();
    let (delivered, lost, filtered) = count(lines, &stderr);
    Some(Row {
        name: name.into(),
        pairs_per_s,
        delivered,
        lost,
        filtered,
        wall,
        cpu_s: cpu1 - cpu0,
        rss_kb,
        peak_kb,
    })
}

/// (events delivered, events lost, events filtered in the kernel) from a tracer's stdout line
/// count and stderr.
type Count = fn(u64, &[String]) -> (u64, u64, u64);

/// sysaudit's final stats object (`--json`).
pub(crate) fn sysaudit_counts(_: u64, stderr: &[String]) -> (u64, u64, u64) {
    let stats: Value = stderr
        .iter()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v["event"] == "stats")
        })
        .unwrap_or_else(|| panic!("no stats from sysaudit:\n{}", stderr.join("\n")));
    (
        stats["records"].as_u64().unwrap_or(0),
        stats["lost"].as_u64().unwrap_or(0),
        stats["kernel"]["filtered_path"].as_u64().unwrap_or(0),
    )
}

/// bpftrace prints one line per event and `Lost N events` when its buffer overflows.
fn bpftrace_counts(lines: u64, stderr: &[String]) -> (u64, u64, u64) {
    let lost = stderr
        .iter()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("Lost ")?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    (lines, lost, 0)
}

fn watch(rules: Option<&std::path::Path>, extra: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(["watch", "--json"]).args(extra);
    if let Some(r) = rules {
        c.arg("-r").arg(r);
    }
    c
}

/// A mixed workload: everyday busybox tools in a loop (the path filter's other data point).
const MIXED: &str = "echo root:x:0:0::/root:/bin/sh > /etc/passwd; echo root:x:0: > /etc/group; \
     mkdir -p /usr/share/doc; i=0; while [ $i -lt 200 ]; do \
     ls -l /bin > /dev/null; cat /etc/passwd > /dev/null; echo $i > /tmp/log.$i; \
     grep root /etc/group > /dev/null; find /usr /tmp -type f > /dev/null; \
     sort /tmp/log.$i > /dev/null; rm /tmp/log.$i; date > /dev/null; i=$((i+1)); done";

/// The share of the mixed workload's events the kernel drops, under `watch` with `rules`.
fn mixed_share(rules: Option<&std::path::Path>) -> (u64, u64) {
    let t = Tracer::start(watch(rules, &[]), "sysaudit: watching");
    let out = TestContainer::new(&["sh", "-c", MIXED]).run();
    assert!(out.status.success(), "mixed workload: {out:?}");
    let stderr = t.stop();
    let (delivered, lost, filtered) = sysaudit_counts(0, &stderr);
    (filtered, delivered + lost + filtered)
}

pub(crate) fn run() {
    eprintln!("open/close storm ({PAIRS} pairs) in a runc busybox container, {RUNS} runs each:");
    let mut rows: Vec<Row> = case("plain", None, sysaudit_counts).into_iter().collect();
    // The kernel's share: an empty program on a syscall hook.
    let mut floor = Command::new(bin());
    floor.arg("calibrate");
    rows.extend(case(
        "empty sys_enter program (hook floor)",
        Some((floor, "sysaudit: calibrating")),
        |_, _| (0, 0, 0),
    ));
    rows.extend(case(
        "sysaudit watch (default rules)",
        Some((watch(None, &[]), "sysaudit: watching")),
        sysaudit_counts,
    ));
    rows.extend(case(
        "sysaudit watch (default rules, no path filter)",
        Some((watch(None, &["--no-path-filter"]), "sysaudit: watching")),
        sysaudit_counts,
    ));
    match crate::reference::falco("falco_rules.yaml") {
        Some(p) => rows.extend(case(
            "sysaudit watch (upstream falco_rules.yaml)",
            Some((watch(Some(&p), &[]), "sysaudit: watching")),
            sysaudit_counts,
        )),
        None => eprintln!("  (no reference data: the upstream-rules case is left out)"),
    }
    rows.extend(case(
        "bpftrace, a line per openat (peer)",
        Some((
            bpftrace_script(
                r#"tracepoint:syscalls:sys_enter_openat /comm == "open_storm"/ { printf("%s %d %s\n", comm, pid, str(args->filename)); }"#,
            ),
            "Attaching",
        )),
        bpftrace_counts,
    ));

    let plain = rows[0].pairs_per_s;
    println!(
        "\n{:<44} {:>9} {:>12} {:>10} {:>7} {:>8} {:>8}",
        "case", "workload", "delivered/s", "lost", "cores", "RSS MB", "peak MB"
    );
    for r in &rows {
        if r.delivered == 0 && r.name != "plain" {
            println!(
                "{:<44} {:>8.2}x   ({:.0} pairs/s)",
                r.name,
                r.pairs_per_s / plain,
                r.pairs_per_s
            );
            continue;
        }
        if r.name == "plain" {
            println!(
                "{:<44} {:>8.2}x {:>12} {:>10} {:>7} {:>8} {:>8}   ({:.0} pairs/s)",
                r.name, 1.0, "-", "-", "-", "-", "-", r.pairs_per_s
            );
            continue;
        }
        println!(
            "{:<44} {:>8.2}x {:>12.0} {:>10} {:>7.2} {:>8.1} {:>8.1}",
            r.name,
            r.pairs_per_s / plain,
            r.delivered as f64 / r.wall,
            r.lost,
            r.cpu_s / r.wall,
            r.rss_kb as f64 / 1024.0,
            r.peak_kb as f64 / 1024.0,
        );
    }
    // What a traced event costs the workload beyond the bare hook: two events per pair.
    let floor = rows[1].pairs_per_s;
    for r in rows.iter().filter(|r| r.name.starts_with("sysaudit")) {
        let ns = (1e9 / r.pairs_per_s - 1e9 / floor) / 2.0;
        println!(
            "{}: {ns:.0} ns per traced event over the hook floor",
            r.name
        );
    }
    // Userspace throughput on the real kernel stream: everything the agent does (reader,
    // decode, state, rules) per core it used.
    for r in rows
        .iter()
        .filter(|r| r.name.starts_with("sysaudit") && r.cpu_s > 0.0)
    {
        println!(
            "{}: {:.0} events/s per agent core",
            r.name,
            r.delivered as f64 / r.cpu_s
        );
    }
    // The rules' kernel filter: its share of what the kernel would have sent.
    let upstream = crate::reference::falco("falco_rules.yaml");
    for (name, rules) in [
        ("default rules", None),
        ("upstream falco_rules.yaml", upstream.as_deref()),
    ] {
        if name.starts_with("upstream") && rules.is_none() || !super::wanted("mixed") {
            continue;
        }
        let (filtered, total) = mixed_share(rules);
        println!(
            "mixed busybox workload, {name}: {filtered} of {total} events dropped in the kernel by the path filter ({:.0} %)",
            100.0 * filtered as f64 / total.max(1) as f64
        );
    }
    for r in rows.iter().filter(|r| r.name.starts_with("sysaudit")) {
        let total = r.delivered + r.lost + r.filtered;
        if total > 0 {
            println!(
                "{}: {} of {total} events dropped in the kernel by the path filter ({:.0} %)",
                r.name,
                r.filtered,
                100.0 * r.filtered as f64 / total as f64
            );
        }
    }
}
