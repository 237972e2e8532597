//! Falco's `syscall_event_drops`: once a second, the share of the kernel's events lost in that
//! second against a threshold; above it, the configured actions — a log line, an alert through
//! the outputs (Falco's "Falco internal: syscall event drop", its fields), or the end of the
//! run — at most as often as a token bucket allows. Losses are counted and reported whatever
//! this says (`messages::DropReport`); this is what a user asked to happen on top.

use std::{
    sync::mpsc::Sender,
    time::{Duration, Instant},
};

use serde_json::Value;

use super::Stats;
use crate::{
    config::{DropAction, SyscallEventDrops},
    messages::message,
    rules::{Alert, Priority},
};

/// Falco's rule name for the alert, kept so that pipelines matching on it keep working.
pub(crate) const RULE: &str = "Falco internal: syscall event drop";

const EVERY: Duration = Duration::from_secs(1);

/// `rate` tokens a second, `max` at most; an action takes one.
struct Bucket {
    rate: f64,
    max: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn claim(&mut self, now: Instant) -> bool {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * self.rate).min(self.max);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub(crate) struct DropPolicy {
    cfg: SyscallEventDrops,
    alerts: Sender<Alert>,
    bucket: Bucket,
    /// (events, lost) at the last check.
    last: (u64, u64),
    next: Instant,
    /// Seconds over the threshold, and actions taken.
    pub(crate) over: u64,
    pub(crate) acted: u64,
}

impl DropPolicy {
    /// The policy `cfg`; alerts go to `alerts` (the judges' channel: delivered in order).
    pub(crate) fn new(cfg: SyscallEventDrops, alerts: Sender<Alert>) -> DropPolicy {
        let now = Instant::now();
        DropPolicy {
            bucket: Bucket {
                rate: cfg.rate,
                max: cfg.max_burst,
                tokens: cfg.max_burst,
                at: now,
            },
            cfg,
            alerts,
            last: (0, 0),
            next: now + EVERY,
            over: 0,
            acted: 0,
        }
    }

    /// Check the second that ended, if one did; `Err`: an `exit` action ends the run.
    pub(crate) fn check(&mut self, s: &Stats, now: Instant) -> Result<(), String> {
        if now < self.next {
            return Ok(());
        }
        self.next = now + EVERY;
        let lost = s.lost();
        // The kernel's events: what reached the ring, and what could not.
        let events = s.records + lost;
        let (e0, l0) = std::mem::replace(&mut self.last, (events, lost));
        let mut dropped = lost.saturating_sub(l0);
        let seen = events.saturating_sub(e0);
        let threshold = if self.cfg.simulate_drops {
            dropped += 1;
            0.0
        } else {
            self.cfg.threshold
        };
        if dropped == 0 || (dropped as f64 / seen.max(dropped) as f64) <= threshold {
            return Ok(());
        }
        self.over += 1;
        if !self.bucket.claim(now) {
            return Ok(());
        }
        self.acted += 1;
        let msg = format!("{RULE}. {dropped} system calls dropped in last second.");
        let mut exit = Ok(());
        for a in &self.cfg.actions {
            match a {
                DropAction::Ignore => {}
                DropAction::Log => message!("{msg}"),
                DropAction::Alert => {
                    let _ = self.alerts.send(alert(&msg, seen, dropped, s));
                }
                DropAction::Exit => {
                    exit = Err(format!(
                        "{msg} Exiting (syscall_event_drops.actions: exit)."
                    ))
                }
            }
        }
        exit
    }
}

/// Falco's alert for a second with drops: its fields, as strings as Falco writes them; the
/// stages without a Falco name keep ours.
fn alert(msg: &str, seen: u64, dropped: u64, s: &Stats) -> Alert {
    let k = &s.kernel;
    let field = |k: &str, v: u64| (k.to_string(), Value::String(v.to_string()));
    Alert::internal(
        RULE,
        Priority::Debug,
        msg.to_string(),
        vec![
            field("n_evts", seen),
            field("n_drops", dropped),
            field(
                "n_drops_buffer_total",
                k.ring_full + k.lifecycle_lost + k.uring_lost,
            ),
            field("n_drops_scratch_map", k.no_scratch),
            field("n_drops_too_big", k.too_big),
            field("n_drops_undecodable", s.decode_errors),
            ("ebpf_enabled".to_string(), Value::String("1".into())),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(cfg: SyscallEventDrops) -> (DropPolicy, std::sync::mpsc::Receiver<Alert>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (DropPolicy::new(cfg, tx), rx)
    }

    fn stats(records: u64, ring_full: u64) -> Stats {
        let mut s = Stats {
            records,
            ..Stats::default()
        };
        s.kernel.ring_full = ring_full;
        s
    }

    #[test]
    fn a_second_over_the_threshold_acts_as_the_bucket_allows() {
        let (mut p, rx) = policy(SyscallEventDrops {
            threshold: 0.1,
            actions: vec![DropAction::Alert, DropAction::Exit],
            rate: 0.5,
            max_burst: 1.0,
            simulate_drops: false,
        });
        let t0 = Instant::now();
        // 5 % lost: under the threshold.
        assert_eq!(p.check(&stats(950, 50), t0 + EVERY), Ok(()));
        assert!(rx.try_recv().is_err());
        // Then 500 of 1,000 more: over; an alert with the second's counts, and the exit.
        let r = p.check(&stats(1450, 550), t0 + EVERY * 2);
        assert!(r.is_err_and(|e| e.contains("500 system calls dropped")));
        let a = rx.try_recv().expect("alert");
        assert_eq!(a.rule, RULE);
        assert_eq!(a.priority, Priority::Debug);
        assert!(a
            .output_fields
            .contains(&("n_evts".into(), Value::String("1000".into()))));
        // Within the second: not looked at.
        assert_eq!(
            p.check(&stats(1450, 9550), t0 + EVERY * 2 + EVERY / 2),
            Ok(())
        );
        // Over again a second later, but half a token came back: no action.
        assert_eq!(p.check(&stats(1450, 10550), t0 + EVERY * 3), Ok(()));
        assert!(rx.try_recv().is_err());
        // Another second, a whole token: acted on.
        assert!(p.check(&stats(1450, 11550), t0 + EVERY * 4).is_err());
        assert_eq!((p.over, p.acted), (3, 2));
    }

    #[test]
    fn simulated_drops_act_every_second_without_loss() {
        let (mut p, rx) = policy(SyscallEventDrops {
            actions: vec![DropAction::Alert],
            rate: 10.0,
            max_burst: 2.0,
            simulate_drops: true,
            ..SyscallEventDrops::default()
        });
        let t0 = Instant::now();
        for i in 1..=3 {
            assert_eq!(p.check(&stats(100 * i, 0), t0 + EVERY * i as u32), Ok(()));
        }
        assert_eq!(rx.try_iter().count(), 3);
    }
}
