//! Where `watch` evaluates: one detection step per thread (the container selection, the
//! rules, alerts sent to the outputs' thread), on the reader's thread or on workers; and the
//! replay of a `--raw-out` file through either, timed.

use std::{collections::BTreeSet, path::Path, sync::mpsc, time::Instant};

use anyhow::Context as _;

use super::select::Selection;
use crate::{
    event::Event,
    messages::message,
    metrics::Meter,
    probe::decode,
    rules::{detect::Detector, Alert, Engine},
    state::State,
    stream::{
        pool::{self, Handler, Pool},
        raw, Stats,
    },
};

/// The detection step of one thread.
pub(super) struct Judge {
    pub(super) detector: Detector,
    selection: Selection,
    /// Requested containers this thread saw.
    pub(super) seen: BTreeSet<String>,
    alerts: mpsc::Sender<Alert>,
    /// Counts for `/metrics`, when served.
    meter: Option<Meter>,
}

impl Judge {
    pub(super) fn new(
        engine: Engine,
        selection: &Selection,
        alerts: &mpsc::Sender<Alert>,
    ) -> Judge {
        Judge {
            detector: Detector::new(engine),
            selection: selection.clone(),
            seen: BTreeSet::new(),
            alerts: alerts.clone(),
            meter: None,
        }
    }

    /// Count and time this judge's events for `/metrics`.
    pub(super) fn with_meter(mut self, m: Meter) -> Judge {
        self.meter = Some(m);
        self
    }

    /// Judge with `engine` from now on (a reload); the counts so far stay.
    pub(super) fn replace(&mut self, engine: Engine) {
        self.detector.engine = engine;
    }

    /// Publish the counts and the state's sizes (once per batch or tick).
    pub(super) fn publish(&mut self, st: &State) {
        if let Some(m) = &mut self.meter {
            m.publish(st.procs.len(), st.fds.len(), st.containers.len());
        }
    }

    /// Evaluate one event; `num`: its number in the stream, else this judge's count.
    pub(super) fn judge(&mut self, st: &State, ev: &Event, num: Option<u64>) {
        let t = ev.task();
        if !self.selection.matches(st, t) {
            return;
        }
        self.selection.note_seen(st, t, &mut self.seen);
        let timed = self.meter.as_mut().and_then(|m| m.event(ev));
        let alerts = match num {
            Some(n) => self.detector.step_numbered(ev, st, n),
            None => self.detector.step(ev, st),
        };
        if let (Some(start), Some(m)) = (timed, &self.meter) {
            m.timed(start);
        }
        for al in alerts {
            // The receiver lives until every judge is done.
            let _ = self.alerts.send(al.clone());
        }
    }
}

impl Handler for Judge {
    fn event(&mut self, st: &mut State, ev: &Event, num: u64) {
        self.judge(st, ev, Some(num));
    }

    fn batch_done(&mut self, st: &State) {
        self.publish(st);
    }
}

/// Let every worker finish; their judges.
pub(super) fn finish(pool: Pool<Judge>) -> Vec<Judge> {
    let done = pool.finish();
    let late: u64 = done.iter().map(|d| d.late_hand_overs).sum();
    if late > 0 {
        message!("{late} new process(es) reached their thread late (learned from /proc)");
    }
    done.into_iter().map(|d| d.handler).collect()
}

/// Evaluate the records of a `--raw-out` file on `workers` threads (0: this one), as fast as
/// they go; say how fast.
pub(super) fn replay(
    path: &Path,
    mut state: State,
    workers: usize,
    engine: &Engine,
    judge: impl Fn(Engine) -> Judge,
) -> anyhow::Result<(Vec<Judge>, Stats)> {
    let recs = raw::read(path).with_context(|| format!("--raw-in {}", path.display()))?;
    let mut stats = Stats {
        records: recs.len() as u64,
        ..Stats::default()
    };
    let t = Instant::now();
    let judges = if workers == 0 {
        let mut j = judge(engine.clone());
        for b in &recs {
            match decode::decode(b) {
                Ok(rec) => {
                    if let Some(ev) = state.ingest(&rec) {
                        j.judge(&state, &ev, None);
                        state.observe(&ev);
                    }
                }
                Err(_) => stats.decode_errors += 1,
            }
        }
        vec![j]
    } else {
        let states = state.split(workers, |pid| pool::owner(pid, workers));
        let handlers = (0..workers).map(|_| judge(engine.clone())).collect();
        let mut pool = Pool::start(states, handlers).context("starting evaluation threads")?;
        for (i, b) in recs.iter().enumerate() {
            pool.route(b);
            // As the ring's drains would.
            if i % 4096 == 4095 {
                pool.flush();
            }
        }
        let errors = pool.decode_errors();
        let judges = finish(pool);
        stats.decode_errors = errors;
        judges
    };
    let secs = t.elapsed().as_secs_f64();
    message!(
        "replayed {} records on {} in {secs:.3} s: {:.0} records/s",
        recs.len(),
        match workers {
            0 => "the reading thread".to_string(),
            n => format!("{n} evaluation threads"),
        },
        recs.len() as f64 / secs.max(1e-9)
    );
    Ok((judges, stats))
}
