//! The reader's side of the alerts: what the judges raised, folded when the configuration
//! aggregates, fanned out to the outputs, counted for `/metrics`.

use std::{sync::mpsc, time::Instant};

use crate::{
    metrics::Metrics,
    outputs::{Aggregator, Next, Outputs},
    rules::Alert,
};

pub(super) struct Delivery {
    pub(super) outputs: Outputs,
    folds: Option<Aggregator>,
    alerts: mpsc::Receiver<Alert>,
    metrics: Option<std::sync::Arc<Metrics>>,
    /// Alerts raised per rule (the metrics snapshot's counters).
    fired: std::collections::BTreeMap<String, u64>,
}

impl Delivery {
    pub(super) fn new(
        outputs: Outputs,
        folds: Option<Aggregator>,
        alerts: mpsc::Receiver<Alert>,
        metrics: Option<std::sync::Arc<Metrics>>,
    ) -> Delivery {
        Delivery {
            outputs,
            folds,
            alerts,
            metrics,
            fired: Default::default(),
        }
    }

    /// Alerts the rules raised: in all, and per rule.
    pub(super) fn fired(&self) -> (u64, &std::collections::BTreeMap<String, u64>) {
        (self.fired.values().sum(), &self.fired)
    }

    /// An alert of the agent's own (a metrics snapshot): to the outputs at once.
    pub(super) fn emit_internal(&mut self, al: &Alert) {
        if let Some(m) = &self.metrics {
            m.alert(al);
        }
        self.outputs.emit(al);
        self.outputs.flush();
    }

    /// Hand what was raised since the last call to the outputs, with the folds whose window
    /// closed; flush.
    pub(super) fn deliver(&mut self) {
        let mut any = false;
        let now = Instant::now();
        while let Ok(al) = self.alerts.try_recv() {
            if let Some(m) = &self.metrics {
                m.alert(&al);
            }
            if !al.rule.starts_with("Falco internal: ") {
                *self.fired.entry(al.rule.clone()).or_default() += 1;
            }
            if self.folds.as_mut().is_none_or(|g| g.admit(&al, now)) {
                self.outputs.emit(&al);
                any = true;
            }
        }
        for s in self
            .folds
            .as_mut()
            .map(|g| g.expired(now))
            .unwrap_or_default()
        {
            self.outputs.emit(&s);
            any = true;
        }
        self.outputs.flush();
        if let (true, Some(m)) = (any, &self.metrics) {
            m.output_totals(&self.outputs.counts());
        }
    }

    /// Windows still open say what they folded, to the outputs in force.
    fn drain_folds(&mut self) {
        for s in self.folds.as_mut().map(|g| g.drain()).unwrap_or_default() {
            self.outputs.emit(&s);
        }
    }

    /// A reload: what was raised goes out first, as it was configured; then the outputs
    /// become `next`, and the folding `folds` when it changed (`Some`).
    /// How many new outputs could not start is returned.
    pub(super) fn replace(&mut self, next: Vec<Next>, folds: Option<Option<Aggregator>>) -> usize {
        self.deliver();
        if let Some(f) = folds {
            self.drain_folds();
            self.folds = f;
        }
        self.outputs.flush();
        let failed = self.outputs.replace(next);
        if let Some(m) = &self.metrics {
            m.output_totals(&self.outputs.counts());
        }
        failed
    }

    /// The end: everything raised delivered, open windows said, outputs closed.
    pub(super) fn finish(&mut self) {
        self.deliver();
        self.drain_folds();
        self.outputs.close();
        if let Some(m) = &self.metrics {
            m.output_totals(&self.outputs.counts());
        }
    }
}
