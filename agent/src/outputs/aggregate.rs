//! Alert aggregation (`alert_aggregation` in the configuration): identical alerts — the same
//! rule and container and the same values of the chosen fields, or the same text when none is
//! chosen — raised within a window are folded, visibly. The first goes out at once (folding
//! never delays a detection); when the window closes, one more alert says how many were
//! folded and between which times (`aggregated.count`, `.first`, `.last` in its
//! `output_fields`, and in its text).

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{event::Timestamp, rules::Alert};

/// One open window.
struct Fold {
    alert: Alert,
    /// Alerts in the window, the first included.
    count: u64,
    first: Timestamp,
    last: Timestamp,
    opened: Instant,
}

pub(crate) struct Aggregator {
    window: Duration,
    keys: Vec<String>,
    open: HashMap<Vec<String>, Fold>,
}

impl Aggregator {
    pub(crate) fn new(window: Duration, keys: Vec<String>) -> Aggregator {
        Aggregator {
            window,
            keys,
            open: HashMap::new(),
        }
    }

    fn key(&self, a: &Alert) -> Vec<String> {
        let field = |name: &str| {
            a.output_fields
                .iter()
                .find(|(k, _)| k == name)
                .map_or(String::new(), |(_, v)| v.to_string())
        };
        let mut k = vec![a.rule.clone(), field("container.id")];
        if self.keys.is_empty() {
            k.push(a.message.clone());
        } else {
            k.extend(self.keys.iter().map(|f| field(f)));
        }
        k
    }

    /// Whether `a` goes out now (false: folded into an open window).
    pub(crate) fn admit(&mut self, a: &Alert, now: Instant) -> bool {
        let key = self.key(a);
        match self.open.get_mut(&key) {
            Some(f) if now.duration_since(f.opened) < self.window => {
                f.count += 1;
                f.last = a.time;
                false
            }
            _ => {
                self.open.insert(
                    key,
                    Fold {
                        alert: a.clone(),
                        count: 1,
                        first: a.time,
                        last: a.time,
                        opened: now,
                    },
                );
                true
            }
        }
    }

    /// The summaries of the windows closed by `now` (only those that folded something).
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<Alert> {
        let window = self.window;
        let done: Vec<Vec<String>> = self
            .open
            .iter()
            .filter(|(_, f)| now.duration_since(f.opened) >= window)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out: Vec<Fold> = done.iter().filter_map(|k| self.open.remove(k)).collect();
        out.sort_by_key(|f| f.first.0);
        out.into_iter().filter_map(summary).collect()
    }

    /// Every open window's summary (the agent is stopping).
    pub(crate) fn drain(&mut self) -> Vec<Alert> {
        let mut out: Vec<Fold> = self.open.drain().map(|(_, f)| f).collect();
        out.sort_by_key(|f| f.first.0);
        out.into_iter().filter_map(summary).collect()
    }
}

/// The alert that says what a window folded; none when it folded nothing.
fn summary(f: Fold) -> Option<Alert> {
    if f.count < 2 {
        return None;
    }
    let mut a = f.alert;
    let (first, last) = (f.first.rfc3339(), f.last.rfc3339());
    a.message = format!(
        "{} (aggregated: {} alerts like this one from {first} to {last})",
        a.message, f.count
    );
    a.time = f.last;
    a.output_fields.extend([
        ("aggregated.count".to_string(), Value::from(f.count)),
        ("aggregated.first".to_string(), Value::from(first)),
        ("aggregated.last".to_string(), Value::from(last)),
    ]);
    Some(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Priority;

    fn alert(t: u64, file: &str) -> Alert {
        Alert {
            time: Timestamp(t),
            rule: "Sensitive file read".into(),
            priority: Priority::Warning,
            message: format!("read {file}"),
            output_fields: vec![
                ("container.id".into(), Value::from("abc")),
                ("fd.name".into(), Value::from(file)),
            ],
            tags: Vec::new(),
            hostname: "h".into(),
        }
    }

    #[test]
    fn identical_alerts_in_a_window_fold_into_one_summary_that_says_so() {
        let t0 = Instant::now();
        let mut g = Aggregator::new(Duration::from_secs(10), Vec::new());
        assert!(g.admit(&alert(1, "/etc/shadow"), t0));
        assert!(!g.admit(&alert(2, "/etc/shadow"), t0 + Duration::from_secs(1)));
        assert!(!g.admit(&alert(3, "/etc/shadow"), t0 + Duration::from_secs(2)));
        // Another file: another alert, not folded.
        assert!(g.admit(&alert(4, "/etc/gshadow"), t0 + Duration::from_secs(2)));
        assert!(g.expired(t0 + Duration::from_secs(5)).is_empty());
        let s = g.expired(t0 + Duration::from_secs(11));
        // The gshadow window folded nothing: no summary for it.
        assert_eq!(s.len(), 1);
        assert!(s[0]
            .message
            .starts_with("read /etc/shadow (aggregated: 3 alerts"));
        assert!(s[0]
            .output_fields
            .contains(&("aggregated.count".into(), Value::from(3))));
        assert_eq!(s[0].time, Timestamp(3));
        // After the window: the next one goes out again.
        assert!(g.admit(&alert(5, "/etc/shadow"), t0 + Duration::from_secs(12)));
        assert!(g.drain().is_empty());
    }

    #[test]
    fn chosen_fields_make_the_key() {
        let t0 = Instant::now();
        let mut g = Aggregator::new(Duration::from_secs(10), vec!["container.id".into()]);
        assert!(g.admit(&alert(1, "/etc/shadow"), t0));
        // Same rule and container: folded whatever the file.
        assert!(!g.admit(&alert(2, "/etc/gshadow"), t0));
        assert_eq!(g.drain().len(), 1);
    }
}
