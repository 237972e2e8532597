//! The live pipeline every long-running command shares: drain the ring → decode → state →
//! the command's handler, until SIGINT/SIGTERM, a duration, or the handler says stop. Drops are
//! reported as they happen (rate-limited) and counted for the final stats line.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use sysaudit_common::Counters;

use crate::{
    event::Event,
    messages::DropReport,
    probe::{
        decode,
        ring::{Ring, Woken},
        Probe,
    },
    state::{containers::Containers, State},
};
use hold::Hold;
use pool::{Handler, Pool};

pub(crate) mod drops;
mod hold;
pub(crate) mod pool;
pub(crate) mod raw;

/// What the handler wants after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Why the stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    Signal,
    Duration,
    Handler,
    /// `syscall_event_drops` asked to exit.
    Drops,
}

/// Counters of one run: the kernel's, plus what userspace saw.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    pub kernel: Counters,
    pub records: u64,
    pub decode_errors: u64,
}

impl Stats {
    /// Records lost, by stage (the metrics' `stage` label).
    pub(crate) fn losses(&self) -> [(&'static str, u64); 6] {
        let k = &self.kernel;
        [
            ("ring_full", k.ring_full),
            ("too_big", k.too_big),
            ("no_scratch", k.no_scratch),
            ("lifecycle", k.lifecycle_lost),
            ("io_uring", k.uring_lost),
            ("undecodable", self.decode_errors),
        ]
    }

    /// Every record lost anywhere on the way.
    pub(crate) fn lost(&self) -> u64 {
        self.losses().iter().map(|(_, n)| n).sum()
    }

    /// The final stats as one JSON object (`--json` mode prints this instead of the line).
    pub(crate) fn json(&self) -> serde_json::Value {
        let k = &self.kernel;
        serde_json::json!({
            "event": "stats",
            "records": self.records,
            "lost": self.lost(),
            "decode_errors": self.decode_errors,
            "kernel": serde_json::Map::from_iter(
                k.fields().map(|(name, v)| (name.to_string(), v.into()))
            ),
        })
    }

    /// The final stats line.
    pub(crate) fn line(&self) -> String {
        let k = &self.kernel;
        format!(
            "sysaudit: {} records received; lost {} (ring full {}, too big {}, lifecycle {}, io_uring {}, undecodable {}); kernel saw {} syscall hits, filtered {} (own {}, id -1 {}, scope {}, syscall set {}, path filter {}), emitted {}",
            self.records,
            self.lost(),
            k.ring_full,
            k.too_big,
            k.lifecycle_lost,
            k.uring_lost,
            self.decode_errors,
            k.seen,
            k.filtered_self
                + k.filtered_id
                + k.filtered_scope
                + k.filtered_syscall
                + k.filtered_path,
            k.filtered_self,
            k.filtered_id,
            k.filtered_scope,
            k.filtered_syscall,
            k.filtered_path,
            k.emitted + k.lifecycle_emitted + k.uring_emitted,
        )
    }
}

/// How often the kernel counters are read for drops.
const DROP_CHECK_EVERY: Duration = Duration::from_millis(250);
/// How often exited processes and removed cgroups past their linger time are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct Stream {
    probe: Probe,
    ring: Ring,
    pub state: State,
    stats: Stats,
    hold: Hold,
    /// Where the run's totals are published (`/metrics`), about once a second.
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    /// What to do when a second loses too much (`syscall_event_drops`).
    drops: Option<drops::DropPolicy>,
}

/// Where drained records go: through the state on this thread, or to workers. New
/// containers' records wait in `hold` for their metadata; `all` releases everything (the
/// stream ends).
trait Consumer {
    fn drain(&mut self, ring: &mut Ring, stats: &mut Stats, all: bool) -> Flow;
    fn tick(&mut self, probe: &mut Probe) -> Flow;
    fn sweep(&mut self);
}

struct Inline<'s, E, T> {
    state: &'s mut State,
    hold: &'s mut Hold,
    on_event: E,
    on_tick: T,
}

/// One record through the state and the event handler.
fn process<E>(state: &mut State, on_event: &mut E, flow: &mut Flow, stats: &mut Stats, bytes: &[u8])
where
    E: FnMut(&mut State, &Event) -> Flow,
{
    match decode::decode(bytes) {
        Ok(rec) => {
            if let Some(ev) = state.ingest(&rec) {
                if *flow == Flow::Continue {
                    *flow = on_event(state, &ev);
                }
                state.observe(&ev);
            }
        }
        Err(e) => {
            stats.decode_errors += 1;
            log::debug!("undecodable record: {e}");
        }
    }
}

impl<E, T> Consumer for Inline<'_, E, T>
where
    E: FnMut(&mut State, &Event) -> Flow,
    T: FnMut(&mut State, &mut Probe) -> Flow,
{
    fn drain(&mut self, ring: &mut Ring, stats: &mut Stats, all: bool) -> Flow {
        let (state, hold) = (&mut *self.state, &mut *self.hold);
        let on_event = &mut self.on_event;
        let mut flow = Flow::Continue;
        ring.drain(|bytes| {
            stats.records += 1;
            if !hold.keep(&mut state.containers, bytes) {
                process(state, on_event, &mut flow, stats, bytes);
            }
        });
        for b in hold.due(&state.containers, all) {
            process(state, on_event, &mut flow, stats, &b);
        }
        flow
    }

    fn tick(&mut self, probe: &mut Probe) -> Flow {
        (self.on_tick)(self.state, probe)
    }

    fn sweep(&mut self) {
        self.state.procs.sweep();
        self.state.containers.sweep();
    }
}

struct Pooled<'p, H, T> {
    pool: &'p mut Pool<H>,
    /// The reader's own view of the cgroups, for the hold (the workers have theirs).
    containers: &'p mut Containers,
    hold: &'p mut Hold,
    on_tick: T,
}

impl<H: Handler, T: FnMut(&mut Probe, &mut Pool<H>) -> Flow> Consumer for Pooled<'_, H, T> {
    fn drain(&mut self, ring: &mut Ring, stats: &mut Stats, all: bool) -> Flow {
        let (pool, containers, hold) = (&mut *self.pool, &mut *self.containers, &mut *self.hold);
        stats.records += ring.drain(|bytes| {
            hold::learn_cgroup(containers, bytes);
            if !hold.keep(containers, bytes) {
                pool.route(bytes);
            }
        }) as u64;
        for b in hold.due(containers, all) {
            pool.route(&b);
        }
        pool.flush();
        stats.decode_errors = pool.decode_errors();
        Flow::Continue
    }

    fn tick(&mut self, probe: &mut Probe) -> Flow {
        (self.on_tick)(probe, self.pool)
    }

    fn sweep(&mut self) {
        self.pool.sweep();
        self.containers.sweep();
    }
}

impl Stream {
    pub(crate) fn new(mut probe: Probe, state: State) -> anyhow::Result<Stream> {
        let (ring, bytes) = probe.take_ring()?;
        let ring = Ring::new(ring, bytes).context("polling the ring buffer")?;
        Ok(Stream {
            probe,
            ring,
            state,
            stats: Stats::default(),
            hold: Hold::default(),
            metrics: None,
            drops: None,
        })
    }

    /// Publish the run's totals to `m` as it goes.
    pub(crate) fn set_metrics(&mut self, m: std::sync::Arc<crate::metrics::Metrics>) {
        self.metrics = Some(m);
    }

    /// Act on seconds that lose too much as `p` says.
    pub(crate) fn set_drop_policy(&mut self, p: drops::DropPolicy) {
        self.drops = Some(p);
    }

    /// The probe and the state at once (e.g. to read maps and resolve their keys).
    pub(crate) fn parts(&mut self) -> (&Probe, &mut State) {
        (&self.probe, &mut self.state)
    }

    /// Also write every record to `tap` (see [`raw`]).
    pub(crate) fn tap(&mut self, tap: raw::Tap) {
        self.ring.tap(tap);
    }

    /// Flush the tap, if any.
    pub(crate) fn untap(&mut self) -> std::io::Result<()> {
        self.ring.untap().map_or(Ok(()), raw::Tap::finish)
    }

    /// The state, for workers to split (the stream keeps an empty one, but for the
    /// containers: the reader holds new containers' records back itself).
    pub(crate) fn take_state(&mut self) -> State {
        let s = std::mem::replace(&mut self.state, State::replay());
        self.state.containers = s.containers.clone();
        s
    }

    /// Run until stopped. `on_event` sees every event; `on_tick` runs about every 10 ms.
    pub(crate) async fn run(
        &mut self,
        duration: Option<Duration>,
        on_event: impl FnMut(&mut State, &Event) -> Flow,
        on_tick: impl FnMut(&mut State, &mut Probe) -> Flow,
    ) -> anyhow::Result<Ended> {
        let mut c = Inline {
            state: &mut self.state,
            hold: &mut self.hold,
            on_event,
            on_tick,
        };
        run_loop(
            &mut self.probe,
            &mut self.ring,
            &mut self.stats,
            self.metrics.as_deref(),
            self.drops.as_mut(),
            duration,
            &mut c,
        )
        .await
    }

    /// Run until stopped, the records going to `pool`'s workers; `on_tick` runs about every
    /// 10 ms. The pool is finished by the caller (its queues may still hold records).
    pub(crate) async fn run_pool<H: Handler>(
        &mut self,
        duration: Option<Duration>,
        pool: &mut Pool<H>,
        on_tick: impl FnMut(&mut Probe, &mut Pool<H>) -> Flow,
    ) -> anyhow::Result<Ended> {
        let mut c = Pooled {
            pool,
            containers: &mut self.state.containers,
            hold: &mut self.hold,
            on_tick,
        };
        run_loop(
            &mut self.probe,
            &mut self.ring,
            &mut self.stats,
            self.metrics.as_deref(),
            self.drops.as_mut(),
            duration,
            &mut c,
        )
        .await
    }

    /// Count what the pool's workers found undecodable after they finished.
    pub(crate) fn add_decode_errors(&mut self, total: u64) {
        self.stats.decode_errors = self.stats.decode_errors.max(total);
    }

    pub(crate) fn stats(&self) -> Stats {
        self.stats
    }
}

async fn run_loop(
    probe: &mut Probe,
    ring: &mut Ring,
    stats: &mut Stats,
    metrics: Option<&crate::metrics::Metrics>,
    mut policy: Option<&mut drops::DropPolicy>,
    duration: Option<Duration>,
    c: &mut impl Consumer,
) -> anyhow::Result<Ended> {
    let deadline = duration.map(|d| Instant::now() + d);
    let mut last_check = Instant::now();
    let mut drops = DropReport::default();
    let mut last_sweep = Instant::now();

    let ended = loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            break Ended::Duration;
        }
        if ring.wait(left).context("waiting on the ring buffer")? == Woken::Stop {
            break Ended::Signal;
        }
        if c.drain(ring, stats, false) == Flow::Stop || c.tick(probe) == Flow::Stop {
            break Ended::Handler;
        }
        if last_check.elapsed() >= DROP_CHECK_EVERY {
            last_check = Instant::now();
            probe.flush_logs();
            refresh_counters(probe, stats);
            drops.report(stats.lost(), false);
            if let Some(m) = metrics {
                m.stream_totals(stats);
                if let Some(f) = ring.take_peak_fill() {
                    m.ring_fill(f);
                }
            }
            if let Some(Err(e)) = policy.as_mut().map(|p| p.check(stats, last_check)) {
                crate::messages::message!("{e}");
                break Ended::Drops;
            }
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            c.sweep();
            last_sweep = Instant::now();
        }
    };
    // Flush what the kernel already wrote and what waits; report losses not reported yet.
    c.drain(ring, stats, true);
    probe.flush_logs();
    refresh_counters(probe, stats);
    drops.report(stats.lost(), true);
    if let Some(m) = metrics {
        m.stream_totals(stats);
    }
    Ok(ended)
}

fn refresh_counters(probe: &Probe, stats: &mut Stats) {
    match probe.counters() {
        Ok(c) => stats.kernel = c,
        Err(e) => log::warn!("reading kernel counters: {e}"),
    }
}
