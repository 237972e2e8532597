//! Evaluation threads (issue 13, point 7): the kernel stream of several storm containers at
//! once, written as it came (`watch --raw-out`), then evaluated as fast as it goes
//! (`watch --raw-in`) by the reader alone and by 1 and 2 evaluation threads, with the default
//! and the upstream rules. Replayed because on a small machine the storms need the cores
//! while they run; the records, the state and the rules are the real ones.

use std::{process::Command, thread};

use sysaudit_tests::{bin, storm_container, TempDir};

use super::median;

/// Storm containers at once (one process each: a single process cannot spread).
const STORMS: usize = 4;
const PAIRS: u64 = 250_000;
const RUNS: usize = 3;

/// records/s of one replay, from its "replayed N records ... R records/s" line.
fn replay(raw: &std::path::Path, workers: usize, rules: Option<&std::path::Path>) -> f64 {
    let mut c = Command::new(bin());
    c.args([
        "watch",
        "--json",
        "--workers",
        &workers.to_string(),
        "--raw-in",
    ])
    .arg(raw);
    if let Some(r) = rules {
        c.arg("-r").arg(r);
    }
    let out = c.output().expect("run sysaudit");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "replay failed:\n{err}");
    err.lines()
        .find_map(|l| {
            let l = l.split("replayed ").nth(1)?;
            l.split(": ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no replay line:\n{err}"))
}

pub(crate) fn run() {
    let dir = TempDir::new("bench-workers");
    let raw = dir.0.join("storms.raw");
    eprintln!("evaluation threads: {STORMS} storm containers at once ({PAIRS} pairs each), recorded, then replayed {RUNS} times per case:");
    let mut rec = Command::new(bin());
    rec.args(["watch", "--json", "--workers", "0", "--raw-out"])
        .arg(&raw);
    let t = super::storm::Tracer::start(rec, "sysaudit: watching");
    let storms: Vec<_> = (0..STORMS)
        .map(|_| thread::spawn(|| storm_container(PAIRS).run()))
        .collect();
    for s in storms {
        let out = s.join().expect("storm thread");
        assert!(out.status.success(), "storm: {out:?}");
    }
    let stderr = t.stop();
    let (records, lost, _) = super::storm::sysaudit_counts(0, &stderr);
    println!("\nrecorded {records} records ({lost} lost while recording)");
    let upstream = crate::reference::falco("falco_rules.yaml");
    for (name, rules) in [
        ("default rules", None),
        ("upstream falco_rules.yaml", upstream.as_deref()),
    ] {
        if name.starts_with("upstream") && rules.is_none() {
            eprintln!("  (no reference data: the upstream-rules case is left out)");
            continue;
        }
        let rate = |w: usize| {
            median(
                (0..RUNS)
                    .map(|_| replay(&raw, w, rules))
                    .collect::<Vec<_>>(),
            )
        };
        let (alone, one, two) = (rate(0), rate(1), rate(2));
        println!(
            "{name}: reader alone {alone:.0} records/s; reader + 1 evaluation thread {one:.0}; reader + 2 {two:.0}; speedup 1 -> 2 threads {:.2}x ({:.2}x over the reader alone)",
            two / one,
            two / alone
        );
    }
}
