//! The agent's Prometheus metrics (Falco's `metrics.enabled` with
//! `webserver.prometheus_metrics_enabled`): what it saw, lost, raised and delivered — per
//! syscall, stage, rule and output — and what it tracks, served on `/metrics` by [`server`].
//!
//! The per-event counts are kept in plain arrays by each evaluation thread ([`Meter`]) and
//! added to the shared registry once per batch, so the hot path takes no atomic per event;
//! rule evaluation is timed on one event in [`SAMPLE`].

pub(crate) mod server;

use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc, Mutex,
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::{Registry, Unit},
};

use crate::{event::Event, rules::Alert, stream::Stats, syscalls::Abi};

/// One event in this many is timed through the rules.
pub(crate) const SAMPLE: u64 = 64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyscallLabel {
    syscall: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    rule: String,
    priority: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CounterLabel {
    counter: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutputLabel {
    output: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThreadLabel {
    thread: String,
}

/// Every metric, shared by the reader, the evaluation threads and the server.
pub(crate) struct Metrics {
    registry: Registry,
    events: Family<SyscallLabel, Counter>,
    alerts: Family<RuleLabels, Counter>,
    lost: Family<StageLabel, Counter>,
    kernel: Family<CounterLabel, Counter>,
    records: Counter,
    deliveries: Family<OutputLabel, Counter>,
    failures: Family<OutputLabel, Counter>,
    processes: Family<ThreadLabel, Gauge>,
    descriptors: Family<ThreadLabel, Gauge>,
    containers: Gauge,
    rules_loaded: Gauge,
    ring_fill: Gauge<f64, AtomicU64>,
    reloads: Family<ResultLabel, Counter>,
    evaluation: Histogram,
    /// Absolute totals last published, to add only what is new to the counters.
    last: Mutex<Last>,
    ready: AtomicBool,
}

#[derive(Default)]
struct Last {
    kernel: Vec<(&'static str, u64)>,
    lost: Vec<(&'static str, u64)>,
    records: u64,
    outputs: Vec<(String, u64, u64)>,
}

impl Metrics {
    pub(crate) fn new() -> Arc<Metrics> {
        let mut r = Registry::with_prefix("sysaudit");
        let events = Family::<SyscallLabel, Counter>::default();
        r.register(
            "events",
            "Events evaluated against the rules, by syscall",
            events.clone(),
        );
        let alerts = Family::<RuleLabels, Counter>::default();
        r.register(
            "alerts",
            "Alerts raised, by rule and priority",
            alerts.clone(),
        );
        let lost = Family::<StageLabel, Counter>::default();
        r.register(
            "events_lost",
            "Records lost, by stage (ring_full, too_big, no_scratch, lifecycle, io_uring, undecodable)",
            lost.clone(),
        );
        let kernel = Family::<CounterLabel, Counter>::default();
        r.register(
            "kernel_events",
            "The kernel programs' counters, summed over CPUs",
            kernel.clone(),
        );
        let records = Counter::default();
        r.register(
            "records",
            "Records read from the ring buffer",
            records.clone(),
        );
        let deliveries = Family::<OutputLabel, Counter>::default();
        r.register(
            "output_deliveries",
            "Alerts handed to each output",
            deliveries.clone(),
        );
        let failures = Family::<OutputLabel, Counter>::default();
        r.register(
            "output_failures",
            "Alerts an output could not deliver (queue full, receiver error)",
            failures.clone(),
        );
        let processes = Family::<ThreadLabel, Gauge>::default();
        r.register(
            "processes_tracked",
            "Processes in the state, by evaluation thread",
            processes.clone(),
        );
        let descriptors = Family::<ThreadLabel, Gauge>::default();
        r.register(
            "descriptors_tracked",
            "Open descriptors in the state, by evaluation thread",
            descriptors.clone(),
        );
        let containers = Gauge::default();
        r.register("containers_tracked", "Containers known", containers.clone());
        let ring_fill = Gauge::<f64, AtomicU64>::default();
        r.register(
            "ring_buffer_fill_ratio",
            "Highest fill of the ring buffer seen before a drain in the last quarter second (1: full, records lost)",
            ring_fill.clone(),
        );
        let rules_loaded = Gauge::default();
        r.register("rules_enabled", "Rules enabled", rules_loaded.clone());
        let evaluation = Histogram::new(exponential_buckets(1e-7, 2.0, 16));
        r.register_with_unit(
            "rule_evaluation",
            "Time to evaluate one event against the rules (one event in 64)",
            Unit::Seconds,
            evaluation.clone(),
        );
        let reloads = Family::<ResultLabel, Counter>::default();
        // Both series from the start: a dashboard's rate() sees the first reload.
        for result in ["ok", "failed"] {
            let _ = reloads.get_or_create(&ResultLabel { result });
        }
        r.register(
            "config_reloads",
            "Reloads of the configuration and rules (SIGHUP, a watched file changed), by result",
            reloads.clone(),
        );
        let build = Family::<VersionLabel, Gauge>::default();
        build
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        r.register("build_info", "The agent's version (always 1)", build);
        Arc::new(Metrics {
            registry: r,
            events,
            alerts,
            lost,
            kernel,
            records,
            deliveries,
            failures,
            processes,
            descriptors,
            containers,
            rules_loaded,
            ring_fill,
            reloads,
            evaluation,
            last: Mutex::new(Last::default()),
            ready: AtomicBool::new(false),
        })
    }

    /// The text exposition (Prometheus text format 0.0.4).
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry).is_err() {
            return String::new();
        }
        out
    }

    /// Capture is running: `/readyz` answers 200 from now on.
    pub(crate) fn set_ready(&self, on: bool) {
        self.ready.store(on, Ordering::Relaxed);
    }

    pub(crate) fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub(crate) fn rules_enabled(&self, n: usize) {
        self.rules_loaded.set(n as i64);
    }

    /// The ring buffer's fill (0 to 1) lately.
    pub(crate) fn ring_fill(&self, f: f64) {
        self.ring_fill.set(f);
    }

    /// A reload done (`ok`) or refused (the version in force stays).
    pub(crate) fn config_reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.reloads.get_or_create(&ResultLabel { result }).inc();
    }

    pub(crate) fn alert(&self, a: &Alert) {
        self.alerts
            .get_or_create(&RuleLabels {
                rule: a.rule.clone(),
                priority: a.priority.as_str().to_ascii_lowercase(),
            })
            .inc();
    }

    pub(crate) fn containers(&self, n: usize) {
        self.containers.set(n as i64);
    }

    /// Publish the run's totals so far: kernel counters, losses per stage, records.
    pub(crate) fn stream_totals(&self, s: &Stats) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let k = &s.kernel;
        let lost = s.losses();
        add(&mut last.lost, &lost, |name, d| {
            self.lost
                .get_or_create(&StageLabel {
                    stage: name.to_string(),
                })
                .inc_by(d);
        });
        add(&mut last.kernel, &k.fields(), |name, d| {
            self.kernel
                .get_or_create(&CounterLabel {
                    counter: name.to_string(),
                })
                .inc_by(d);
        });
        self.records.inc_by(s.records.saturating_sub(last.records));
        last.records = last.records.max(s.records);
    }

    /// Publish each output's totals: (name, alerts handed to it, alerts it lost).
    pub(crate) fn output_totals(&self, outputs: &[(String, u64, u64)]) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        for (name, delivered, failed) in outputs {
            let prev = last
                .outputs
                .iter()
                .position(|(n, _, _)| n == name)
                .unwrap_or_else(|| {
                    last.outputs.push((name.clone(), 0, 0));
                    last.outputs.len() - 1
                });
            let (_, d0, f0) = &mut last.outputs[prev];
            let label = OutputLabel {
                output: name.clone(),
            };
            self.deliveries
                .get_or_create(&label)
                .inc_by(delivered.saturating_sub(*d0));
            self.failures
                .get_or_create(&label)
                .inc_by(failed.saturating_sub(*f0));
            *d0 = (*d0).max(*delivered);
            *f0 = (*f0).max(*failed);
        }
    }
}

/// Add to each counter what its absolute total gained since `last`.
fn add(last: &mut Vec<(&'static str, u64)>, now: &[(&'static str, u64)], inc: impl Fn(&str, u64)) {
    for (name, v) in now {
        match last.iter_mut().find(|(n, _)| n == name) {
            Some((_, prev)) => {
                if *v > *prev {
                    inc(name, *v - *prev);
                    *prev = *v;
                }
            }
            None => {
                inc(name, *v);
                last.push((name, *v));
            }
        }
    }
}

/// One evaluation thread's counts, added to the registry once per batch.
pub(crate) struct Meter {
    m: Arc<Metrics>,
    thread: String,
    /// Events per syscall since the last publish: index ABI × 512 + number.
    counts: Vec<u64>,
    pending: u64,
    seen: u64,
}

impl Meter {
    pub(crate) fn new(m: Arc<Metrics>, thread: usize) -> Meter {
        Meter {
            m,
            thread: thread.to_string(),
            counts: vec![0; 3 * sysaudit_common::MAX_SYSCALLS],
            pending: 0,
            seen: 0,
        }
    }

    /// Count one event; `Some(start)` when this one is to be timed.
    #[inline]
    pub(crate) fn event(&mut self, ev: &Event) -> Option<std::time::Instant> {
        if let Event::Syscall(s) = ev {
            let base = match s.abi {
                Abi::X86_64 => 0,
                Abi::Ia32 => 1,
                Abi::X32 => 2,
            };
            if let Some(c) = self
                .counts
                .get_mut(base * sysaudit_common::MAX_SYSCALLS + s.nr as usize)
            {
                *c += 1;
                self.pending += 1;
            }
        }
        self.seen += 1;
        self.seen
            .is_multiple_of(SAMPLE)
            .then(std::time::Instant::now)
    }

    /// The timed event's evaluation ended.
    pub(crate) fn timed(&self, start: std::time::Instant) {
        self.m.evaluation.observe(start.elapsed().as_secs_f64());
    }

    /// Add the counts to the registry; the thread's state sizes as gauges.
    pub(crate) fn publish(&mut self, processes: usize, descriptors: usize, containers: usize) {
        self.m.containers(containers);
        let t = ThreadLabel {
            thread: self.thread.clone(),
        };
        self.m.processes.get_or_create(&t).set(processes as i64);
        self.m.descriptors.get_or_create(&t).set(descriptors as i64);
        if self.pending == 0 {
            return;
        }
        self.pending = 0;
        for (i, c) in self.counts.iter_mut().enumerate().filter(|(_, c)| **c > 0) {
            let abi = match i / sysaudit_common::MAX_SYSCALLS {
                0 => Abi::X86_64,
                1 => Abi::Ia32,
                _ => Abi::X32,
            };
            let nr = (i % sysaudit_common::MAX_SYSCALLS) as u32;
            let name = crate::syscalls::table::display_name(abi, nr);
            self.m
                .events
                .get_or_create(&SyscallLabel {
                    syscall: name.into_owned(),
                })
                .inc_by(*c);
            *c = 0;
        }
    }
}
