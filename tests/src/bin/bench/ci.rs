//! `sysaudit ci`'s cost on a real test suite (issue 12, point 6): a part of CPython's own
//! regression tests (`python3 -m test`: files, processes, threads, sockets) run bare and
//! under `sysaudit ci` (default rules, profile recording), alternating, the median of each.
//! Goal: within 5 % of the bare run.

use std::{
    process::{Command, Stdio},
    time::Instant,
};

use sysaudit_tests::bin;

use super::median;

const RUNS: usize = 3;
const SUITE: [&str; 15] = [
    "-m",
    "test",
    "-q",
    "test_json",
    "test_shutil",
    "test_tempfile",
    "test_glob",
    "test_subprocess",
    "test_os",
    "test_pathlib",
    "test_zipfile",
    "test_tarfile",
    "test_logging",
    "test_csv",
    "test_re",
];

fn timed(mut c: Command) -> f64 {
    let t = Instant::now();
    let st = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run the suite");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        st.success() || st.code() == Some(4),
        "the suite failed: {st}"
    );
    secs
}

pub(crate) fn run() {
    let bare = || {
        let mut c = Command::new("python3");
        c.args(SUITE);
        c
    };
    let watched = || {
        let mut c = Command::new(bin());
        c.args(["ci", "--fail-on", "emergency", "--", "python3"])
            .args(SUITE);
        c
    };
    // Warm the page cache and Python's bytecode.
    timed(bare());
    let (mut b, mut w) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        b.push(timed(bare()));
        w.push(timed(watched()));
    }
    let (b, w) = (median(b), median(w));
    // The fixed part: loading and verifying the kernel programs, reading the profile back.
    let start = median(
        (0..RUNS)
            .map(|_| {
                let mut c = Command::new(bin());
                c.args(["ci", "--", "true"]);
                timed(c)
            })
            .collect(),
    );
    println!(
        "ci overhead: CPython regression tests ({} files), median of {RUNS}",
        SUITE.len() - 3
    );
    println!("  bare                    {b:>7.2} s");
    println!(
        "  under sysaudit ci       {w:>7.2} s   {:>+6.1} %   (goal: within 5 %)",
        (w / b - 1.0) * 100.0
    );
    println!("  of which start and end  {start:>7.2} s   (`sysaudit ci -- true`)");
}
