//! Every line the agent writes to stderr besides alerts and traces: messages, warnings, rules
//! diagnostics, the rate-limited "records lost" report. Also the one place that remembers that
//! something was lost (records, alerts, a profile's completeness): `cli::main` turns it into
//! exit code 3 (ripgrep's `messages.rs` + its `main`).

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

static LOST: AtomicBool = AtomicBool::new(false);

/// A line on stderr, prefixed with `sysaudit: `.
macro_rules! message {
    ($($t:tt)*) => { eprintln!("sysaudit: {}", format_args!($($t)*)) };
}

/// A warning on stderr: something is off, and the run goes on.
macro_rules! warning {
    ($($t:tt)*) => { eprintln!("sysaudit: warning: {}", format_args!($($t)*)) };
}

/// An error that ends the command (exit code 1).
macro_rules! error {
    ($($t:tt)*) => { eprintln!("sysaudit: error: {}", format_args!($($t)*)) };
}

/// A report line as it is (summaries, stats, the demo's narration).
macro_rules! report {
    ($($t:tt)*) => { eprintln!($($t)*) };
}

/// A status line that the next one overwrites (`\r...`, on a terminal).
macro_rules! report_inline {
    ($($t:tt)*) => {{
        eprint!($($t)*);
        let _ = std::io::Write::flush(&mut std::io::stderr());
    }};
}

pub(crate) use {error, message, report, report_inline, warning};

/// A rules diagnostic, already located and rendered (`file:line:col: error: ...`).
pub(crate) fn diag(rendered: &str) {
    eprintln!("{rendered}");
}

/// Something was lost or is incomplete: the run ends with exit code 3 unless it fails.
pub(crate) fn set_lost() {
    LOST.store(true, Ordering::Relaxed);
}

pub(crate) fn lost() -> bool {
    LOST.load(Ordering::Relaxed)
}

/// How often the "records lost" line is printed at most.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);

/// The rate-limited "records lost" line.
#[derive(Default)]
pub(crate) struct DropReport {
    last: Option<Instant>,
    reported: u64,
}

impl DropReport {
    /// Report new losses if a report is due (or `now`, at the end of a run).
    pub(crate) fn report(&mut self, lost: u64, now: bool) {
        let due = now || self.last.is_none_or(|t| t.elapsed() >= DROP_REPORT_EVERY);
        if lost <= self.reported || !due {
            return;
        }
        set_lost();
        let since = self.last.map_or(String::new(), |t| {
            format!(" in the last {:.1}s", t.elapsed().as_secs_f64())
        });
        message!(
            "{} records lost{since} ({lost} in total): the ring buffer is too small or the reader too slow (try --ring-size)",
            lost - self.reported,
        );
        self.reported = lost;
        self.last = Some(Instant::now());
    }
}
