//! How a profile came to be, written beside its rules (a `sysaudit` key in OCI JSON, which
//! runtimes skip as they skip every key they do not know; an annotation in an SPO manifest):
//! how many recordings it unites and how many of them saw each syscall (SPO's coverage idea —
//! a syscall one run in five saw is a path the others missed), when a recording stopped
//! finding new syscalls, and what was added that no recording saw, each with why.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::event::Timestamp;

/// New syscalls per interval of a recording, and since when nothing new appeared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Coverage {
    /// How long the recording ran, in seconds.
    pub(crate) seconds: f64,
    /// `[end of interval in seconds, syscalls first seen in it]`, intervals 1, 2, 5, 10, 30 s...
    pub(crate) curve: Vec<(f64, u32)>,
    /// The last syscall seen for the first time, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_new: Option<(String, f64)>,
}

/// Interval ends: 1-2-5 steps, then minutes.
const MARKS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0,
    86400.0,
];

impl Coverage {
    /// From each syscall's first use, for a recording from `start` to `end`.
    pub(crate) fn of(
        start: Timestamp,
        end: Timestamp,
        firsts: impl IntoIterator<Item = (Timestamp, String)>,
    ) -> Coverage {
        let secs = |t: Timestamp| t.0.saturating_sub(start.0) as f64 / 1e9;
        let seconds = secs(end);
        let mut at: Vec<(f64, String)> = firsts.into_iter().map(|(t, n)| (secs(t), n)).collect();
        at.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut curve = Vec::new();
        let mut i = 0;
        for &m in MARKS.iter().chain(std::iter::once(&f64::INFINITY)) {
            let m = m.min(seconds.max(0.0));
            let from = i;
            while i < at.len() && at[i].0 <= m {
                i += 1;
            }
            if curve.last().is_none_or(|(e, _): &(f64, u32)| *e < m) || i > from {
                curve.push((m, (i - from) as u32));
            }
            if m >= seconds {
                break;
            }
        }
        // A first use the clock put after `end` (records drained late) still counts.
        if i < at.len() {
            if let Some(last) = curve.last_mut() {
                last.1 += (at.len() - i) as u32;
            }
        }
        Coverage {
            seconds,
            curve,
            last_new: at.last().map(|(t, n)| (n.clone(), *t)),
        }
    }

    /// How long nothing new appeared before the end.
    pub(crate) fn stable_for(&self) -> f64 {
        self.last_new
            .as_ref()
            .map(|(_, t)| (self.seconds - t).max(0.0))
            .unwrap_or(self.seconds)
    }

    pub(crate) fn text(&self) -> String {
        let mut prev = 0.0;
        let steps: Vec<String> = self
            .curve
            .iter()
            .map(|(e, n)| {
                let s = format!("{}–{} s +{n}", fmt_secs(prev), fmt_secs(*e));
                prev = *e;
                s
            })
            .collect();
        let last = match &self.last_new {
            Some((n, t)) => format!("last new: {n} at {} s", fmt_secs(*t)),
            None => "nothing recorded".into(),
        };
        format!(
            "{}; {last}; stable for {} s of {} s",
            steps.join(", "),
            fmt_secs(self.stable_for()),
            fmt_secs(self.seconds)
        )
    }
}

fn fmt_secs(s: f64) -> String {
    if s >= 10.0 || s.fract() == 0.0 {
        format!("{s:.0}")
    } else if s >= 1.0 {
        format!("{s:.1}")
    } else {
        format!("{s:.2}")
    }
}

/// A syscall no recording saw, added on purpose.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Added {
    pub(crate) name: String,
    pub(crate) why: String,
}

/// A recording split at the moment the workload started serving.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Phases {
    /// The syscall that marked it (the first `accept4`, say) and when, in seconds.
    pub(crate) marker: String,
    pub(crate) at: f64,
    /// Syscalls seen in start-up and never while serving.
    pub(crate) startup_only: Vec<String>,
    /// Whether this profile is the serving phase's (else the whole run's).
    pub(crate) serving: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Provenance {
    /// Recordings united in the profile (0: unknown, a profile from elsewhere).
    pub(crate) recordings: u32,
    /// Of those, how many saw each syscall.
    #[serde(default)]
    pub(crate) seen: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) coverage: Option<Coverage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) added: Vec<Added>,
    /// The OCI runtime (and version) the recording ran under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) phases: Option<Phases>,
}

impl Provenance {
    /// One recording that saw `names`.
    pub(crate) fn one<'a>(names: impl IntoIterator<Item = &'a String>) -> Provenance {
        Provenance {
            recordings: 1,
            seen: names.into_iter().map(|n| (n.clone(), 1)).collect(),
            ..Provenance::default()
        }
    }

    pub(crate) fn merge(&mut self, other: &Provenance) {
        self.recordings += other.recordings;
        for (n, c) in &other.seen {
            *self.seen.entry(n.clone()).or_default() += c;
        }
        if other.coverage.is_some() {
            self.coverage.clone_from(&other.coverage);
        }
        let mut added: BTreeSet<Added> = self.added.drain(..).collect();
        added.extend(other.added.iter().cloned());
        self.added = added.into_iter().collect();
        if self.runtime.is_none() {
            self.runtime.clone_from(&other.runtime);
        }
        if other.phases.is_some() {
            self.phases.clone_from(&other.phases);
        }
    }

    /// Syscalls fewer than all recordings saw, with how many did, rarest first.
    pub(crate) fn uneven(&self) -> Vec<(&str, u32)> {
        let mut v: Vec<(&str, u32)> = self
            .seen
            .iter()
            .filter(|(_, c)| **c < self.recordings)
            .map(|(n, c)| (n.as_str(), *c))
            .collect();
        v.sort_by_key(|(n, c)| (*c, *n));
        v
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == Provenance::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: f64) -> Timestamp {
        Timestamp(1_000_000_000_000 + (s * 1e9) as u64)
    }

    #[test]
    fn the_curve_counts_new_syscalls_per_interval_up_to_the_end() {
        let firsts = [
            (0.1, "execve"),
            (0.2, "read"),
            (1.5, "openat"),
            (12.0, "poll"),
        ]
        .map(|(s, n)| (t(s), n.to_string()));
        let c = Coverage::of(t(0.0), t(40.0), firsts);
        assert_eq!(
            c.curve,
            vec![
                (1.0, 2),
                (2.0, 1),
                (5.0, 0),
                (10.0, 0),
                (30.0, 1),
                (40.0, 0)
            ]
        );
        assert_eq!(c.last_new, Some(("poll".into(), 12.0)));
        assert_eq!(c.stable_for(), 28.0);
        let text = c.text();
        assert!(text.contains("0–1 s +2"), "{text}");
        assert!(
            text.contains("last new: poll at 12 s; stable for 28 s of 40 s"),
            "{text}"
        );
        let short = Coverage::of(t(0.0), t(0.5), [(t(0.1), "read".to_string())]);
        assert_eq!(short.curve, vec![(0.5, 1)]);
    }

    #[test]
    fn merges_count_recordings_and_who_saw_what() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut p = Provenance::one(&names(&["read", "poll"]));
        p.merge(&Provenance::one(&names(&["read"])));
        p.merge(&Provenance::one(&names(&["read", "write"])));
        assert_eq!(p.recordings, 3);
        assert_eq!(p.seen["read"], 3);
        assert_eq!(p.uneven(), vec![("poll", 1), ("write", 1)]);
        let json = serde_json::to_string(&p).unwrap();
        let back: Provenance = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}
