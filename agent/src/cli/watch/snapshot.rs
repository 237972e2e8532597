//! Falco's metrics snapshots (`metrics.output_rule`, `metrics.output_file`): every
//! `metrics.interval`, the run's counters as the "Falco internal: metrics snapshot" alert
//! through the outputs, and/or as a JSON line (`{"sample": N, "output_fields": {...}}`)
//! appended to a file — Falco's field names where one means the same, `sysaudit.*` otherwise.

use std::{
    collections::BTreeMap,
    io::Write,
    path::PathBuf,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use super::deliver::Delivery;
use crate::{
    event::Timestamp,
    messages::message,
    probe::Probe,
    rules::{Alert, Priority},
};

/// Falco's rule name for the snapshot alert.
const RULE: &str = "Falco internal: metrics snapshot";

pub(crate) struct Snapshots {
    every: Duration,
    next: Instant,
    rule: bool,
    file: Option<PathBuf>,
    started: (Instant, Timestamp),
    sample: u64,
    /// (events, drops) at the last snapshot.
    last: (u64, u64),
    said_file: bool,
}

impl Snapshots {
    /// Snapshots every `every` to the outputs (`rule`) and/or `file`; `None` when neither.
    pub(super) fn new(every: Duration, rule: bool, file: Option<PathBuf>) -> Option<Snapshots> {
        (rule || file.is_some()).then(|| Snapshots {
            every,
            next: Instant::now() + every,
            rule,
            file,
            started: (Instant::now(), Timestamp::now()),
            sample: 0,
            last: (0, 0),
            said_file: false,
        })
    }

    /// Take a snapshot if one is due.
    pub(super) fn tick(&mut self, probe: &Probe, delivery: &mut Delivery) {
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.next = now + self.every;
        self.sample += 1;
        let fields = self.fields(probe, delivery);
        if self.rule {
            delivery.emit_internal(&Alert::internal(
                RULE,
                Priority::Informational,
                "Falco metrics snapshot".to_string(),
                fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ));
        }
        if let Some(p) = &self.file {
            let line = json!({"sample": self.sample, "output_fields": fields}).to_string();
            let r = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .and_then(|mut f| writeln!(f, "{line}"));
            if let (Err(e), false) = (r, self.said_file) {
                message!("metrics.output_file {}: {e}", p.display());
                self.said_file = true;
            }
        }
    }

    fn fields(&mut self, probe: &Probe, delivery: &Delivery) -> BTreeMap<String, Value> {
        let mut f = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            f.insert(k.to_string(), v);
        };
        let (t0, ts0) = self.started;
        put("evt.source", json!("syscall"));
        put("evt.hostname", json!(crate::rules::hostname()));
        put("evt.time", json!(Timestamp::now().0));
        put("falco.version", json!(env!("CARGO_PKG_VERSION")));
        put("falco.start_ts", json!(ts0.0));
        put("falco.duration_sec", json!(t0.elapsed().as_secs()));
        if let Ok(k) = probe.counters() {
            let s = crate::stream::Stats {
                kernel: k,
                ..Default::default()
            };
            let drops = s.lost();
            let evts = k.emitted + k.lifecycle_emitted + k.uring_emitted + drops;
            let (e0, d0) = std::mem::replace(&mut self.last, (evts, drops));
            let secs = self.every.as_secs_f64();
            put("scap.n_evts", json!(evts));
            put("scap.n_evts_prev", json!(e0));
            put("scap.n_drops", json!(drops));
            put("scap.n_drops_prev", json!(d0));
            put(
                "scap.evts_rate_sec",
                json!((evts - e0.min(evts)) as f64 / secs),
            );
            let de = evts.saturating_sub(e0);
            let dd = drops.saturating_sub(d0);
            put(
                "scap.n_drops_perc",
                json!(if de == 0 {
                    0.0
                } else {
                    100.0 * dd as f64 / de as f64
                }),
            );
            for (stage, n) in s.losses() {
                put(&format!("sysaudit.lost.{stage}"), json!(n));
            }
        }
        let (matches, per_rule) = delivery.fired();
        put("falco.rules.matches_total", json!(matches));
        for (rule, n) in per_rule {
            put(&format!("falco.rules.{}", sanitize(rule)), json!(n));
        }
        let lost: u64 = delivery.outputs.losses().iter().map(|(_, n)| n).sum();
        put("falco.outputs_queue_num_drops", json!(lost));
        f
    }
}

/// A rule name as a field name (Falco's sanitising: letters, digits and `_`).
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_are_sanitised_as_falco_does() {
        assert_eq!(sanitize("Read sensitive file"), "Read_sensitive_file");
    }
}
