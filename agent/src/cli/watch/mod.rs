//! `sysaudit watch`: live detection — the kernel stream through the state and the rules
//! engine to the outputs (the same engine `rules test` replays captures through).

use crate::messages::{message, report};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    process::ExitCode,
    sync::mpsc,
    time::Duration,
};

use anyhow::Context as _;
use clap::Args;

use super::{
    flags::{self, parse_priority},
    select::{self, Selection},
};
use crate::metrics::Meter;
use crate::{
    probe::{paths::PathTables, tune::Tuning, Probe, ProbeConfig, SyscallSet},
    rules::{default::load, Engine, Priority},
    state::State,
    stream::{
        drops::DropPolicy,
        pool::{self, Pool},
        raw, Ended, Flow, Stream,
    },
};
use deliver::Delivery;
use eval::Judge;
use settings::Settings;

mod deliver;
mod eval;
mod reload;
pub(crate) mod settings;
mod snapshot;

#[derive(Args, Debug, Clone)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    pub(crate) conf: flags::ConfigArgs,
    /// Watch only this container (id, unique prefix, or its engine's name); repeatable.
    #[arg(long = "container", value_name = "ID")]
    pub(crate) containers: Vec<String>,
    /// Watch every process on the host, not only containers.
    #[arg(long, conflicts_with = "containers")]
    pub(crate) host: bool,
    /// Alerts as Falco JSON (stdout and --output); the final stats as a JSON object on stderr.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also append alerts to this file (instead of the configuration's file_output).
    #[arg(long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Also POST each alert (Falco JSON) to this URL (instead of the configuration's
    /// http_output).
    #[arg(long, value_name = "URL")]
    pub(crate) webhook: Option<String>,
    /// Evaluate every rule on every event; default: stop at the first match (the
    /// configuration's rule_matching).
    #[arg(long)]
    pub(crate) all_matches: bool,
    /// Minimum priority of the rules loaded. Default: the configuration's priority, else
    /// debug.
    #[arg(long, value_parser = parse_priority)]
    pub(crate) min_priority: Option<Priority>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = flags::duration)]
    pub(crate) duration: Option<Duration>,
    /// Ring buffer size in bytes (power of two; K and M suffixes).
    #[arg(long, value_name = "BYTES", value_parser = flags::ring_size)]
    pub(crate) ring_size: Option<u32>,
    /// Record every open: no kernel filter of the paths no loaded rule can match.
    #[arg(long)]
    pub(crate) no_path_filter: bool,
    /// Evaluation threads beside the one reading the ring, each owning a share of the
    /// processes (0: the reader evaluates). Default: 0 up to 4 CPUs, else one per 4 CPUs, at
    /// most 16.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=256))]
    pub(crate) workers: Option<u16>,
    #[command(flatten)]
    pub(crate) engines: flags::EngineArgs,
    /// Leave alerts as their rules write them: no ` container_id=… container_name=…` appended
    /// and no image and pod fields added to `output_fields` (Falco's default decoration).
    #[arg(long)]
    pub(crate) no_append_output: bool,
    /// Also write every kernel record to FILE (for `--raw-in`).
    #[arg(long, value_name = "FILE", hide = true)]
    pub(crate) raw_out: Option<PathBuf>,
    /// Evaluate the records of a `--raw-out` file as fast as they go instead of the kernel's,
    /// and say how fast (the evaluation threads' benchmark).
    #[arg(long, value_name = "FILE", hide = true, conflicts_with = "raw_out")]
    pub(crate) raw_in: Option<PathBuf>,
}

/// `--workers` when not given: a quarter of the node at most, and none on small machines,
/// where the reader keeps up alone and a thread more would take from the workload.
pub(crate) fn default_workers(cpus: usize) -> usize {
    if cpus <= 4 {
        0
    } else {
        (cpus / 4).min(16)
    }
}

/// The kernel path filter the rules allow (see `rules::prefilter`), announced.
pub(crate) fn path_tables(engine: &Engine, off: bool) -> Option<PathTables> {
    if off {
        return None;
    }
    match crate::rules::prefilter::path_filter(&engine.rules) {
        Ok(f) => {
            message!(
                "kernel path filter on {}: {} prefixes, {} suffixes (--no-path-filter records every open)",
                f.syscalls.join(", "),
                f.prefixes.len(),
                f.suffixes.len()
            );
            Some(PathTables {
                syscalls: f.syscalls,
                prefixes: f.prefixes,
                suffixes: f.suffixes,
            })
        }
        Err(rule) => {
            log::info!("no kernel path filter: rule {rule:?} can match any open");
            None
        }
    }
}

/// The kernel's interesting set for a rule set: what its rules can match, plus what the state
/// follows.
pub(crate) fn interesting(engine: &Engine) -> SyscallSet {
    let (names, all) = engine.syscalls();
    crate::state::interesting(&names, all)
}

/// The rules engine the settings describe: the rules files at the minimum priority, with the
/// configuration's matching, `append_output` and enable/disable switches.
pub(crate) fn engine(settings: &Settings) -> anyhow::Result<Engine> {
    engine_with_files(settings).map(|(e, _)| e)
}

/// [`engine`], with the names of the rules files it read (as the rules' locations index
/// them).
pub(crate) fn engine_with_files(settings: &Settings) -> anyhow::Result<(Engine, Vec<String>)> {
    let (mut engine, loaded) = load(&settings.rules, settings.min_priority)?;
    engine.matching = settings.matching;
    engine.set_static_fields(&settings.config.static_fields);
    let conf = |e| anyhow::anyhow!("configuration: {e}");
    engine
        .append_output(&settings.append_output)
        .map_err(conf)?;
    engine.switch_rules(&settings.switches).map_err(conf)?;
    engine.check_static_fields().map_err(conf)?;
    Ok((engine, loaded.files))
}

/// What the kernel must keep for `engine`.
pub(crate) fn tuning(engine: &Engine, no_path_filter: bool) -> Tuning {
    Tuning {
        interesting: interesting(engine),
        path_filter: path_tables(engine, no_path_filter),
        buffers: engine.reads(crate::rules::fields::F::EvtBuffer),
    }
}

/// The reload in force, and what triggers the next one.
struct Reloader<'a> {
    args: &'a WatchArgs,
    trigger: reload::Trigger,
    settings: Settings,
    tuning: Tuning,
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

fn watching(s: &Settings) -> Option<Vec<PathBuf>> {
    s.config.watch_config_files.then(|| reload::watched(s))
}

impl Reloader<'_> {
    /// When a reload is due and loads: the probe retuned, the outputs replaced, and the
    /// engine to put in every judge. A version that does not load changes nothing.
    fn check(&mut self, probe: &mut Probe, delivery: &mut Delivery) -> Option<Engine> {
        let why = self.trigger.poll()?;
        let hup = why == reload::Why::Hangup;
        let seen = self.trigger.snapshot();
        let done = reload::prepare(self.args, |k| delivery.outputs.has(k)).and_then(|p| {
            probe
                .retune(&self.tuning, &p.tuning)
                .map_err(|e| {
                    // Back to what the rules in force need (from the union a retune keeps).
                    let _ = probe.retune(&p.tuning, &self.tuning);
                    anyhow::anyhow!("retuning the kernel programs: {e}")
                })
                .map(|()| p)
        });
        let p = match done {
            Ok(p) => p,
            Err(e) => {
                message!("reload ({why}): {e:#}; the rules and outputs in force stay");
                if hup {
                    delivery.outputs.reopen();
                }
                self.trigger.rewatch(watching(&self.settings), seen);
                if let Some(m) = &self.metrics {
                    m.config_reload(false);
                }
                return None;
            }
        };
        reload::say_restart_only(&self.settings, &p.settings);
        let folds = (p.settings.config.alert_aggregation != self.settings.config.alert_aggregation)
            .then(|| p.settings.aggregator());
        let failed = delivery.replace(p.outputs, folds);
        if hup {
            delivery.outputs.reopen();
        }
        let enabled = p.engine.rules.iter().filter(|r| r.enabled).count();
        message!(
            "reloaded ({why}): {enabled} rules, {} syscalls traced{}",
            p.tuning.interesting.native.len(),
            match failed {
                0 => String::new(),
                n => format!("; {n} output(s) could not start"),
            }
        );
        if let Some(m) = &self.metrics {
            m.config_reload(failed == 0);
            m.rules_enabled(enabled);
        }
        self.trigger.rewatch(watching(&p.settings), seen);
        self.settings = p.settings;
        self.tuning = p.tuning;
        Some(p.engine)
    }
}

pub(crate) async fn run(a: WatchArgs) -> anyhow::Result<ExitCode> {
    let selection = Selection::from_flags(a.host, &a.containers)?;
    let ring_bytes = a.ring_size.unwrap_or_else(ProbeConfig::default_ring_bytes);
    let settings = Settings::new(&a)?;
    // Before anything slow: SIGHUP's default action would end the agent while it starts.
    let trigger = reload::Trigger::new(watching(&settings)).context("listening for SIGHUP")?;
    let stats_json = settings.shape.json;
    let engine = engine(&settings)?;
    let outputs = settings.outputs()?;

    let workers = a.workers.map(usize::from).unwrap_or_else(|| {
        default_workers(std::thread::available_parallelism().map_or(1, |n| n.get()))
    });
    let metrics = settings.metrics();
    if let Some(m) = &metrics {
        let at = settings.serve(m)?;
        message!(
            "web server on http://{at}: health, /readyz, and /metrics when metrics are enabled"
        );
    }
    let (tx, alerts) = mpsc::channel();
    let next_thread = std::cell::Cell::new(0usize);
    let judge = |engine| {
        let j = Judge::new(engine, &selection, &tx);
        match &metrics {
            Some(m) => {
                let n = next_thread.replace(next_thread.get() + 1);
                j.with_meter(Meter::new(m.clone(), n))
            }
            None => j,
        }
    };
    let mut delivery = Delivery::new(outputs, settings.aggregator(), alerts, metrics.clone());

    let mut meta_summary = None;
    let mut ended = None;
    let (judges, stats, seen) = if let Some(path) = &a.raw_in {
        let mut state = State::live();
        // As the recording's probe did (the same rules).
        state.set_traced(&interesting(&engine));
        let (judges, stats) = eval::replay(path, state, workers, &engine, judge)?;
        (judges, stats, BTreeSet::new())
    } else {
        crate::probe::preflight()?;
        let mut state = State::live();
        meta_summary = Some(a.engines.attach(&mut state)?);
        let (scope, seen) = select::kernel_scope(&selection, &mut state)?;
        let tuning = tuning(&engine, a.no_path_filter);
        state.set_traced(&tuning.interesting);
        let n_sys = tuning.interesting.native.len();
        let cfg = ProbeConfig {
            path_filter: tuning.path_filter.clone(),
            buffers: tuning.buffers,
            ..ProbeConfig::trace(scope, tuning.interesting.clone(), ring_bytes)
        };
        let probe = Probe::load(&cfg)?;
        let mut stream = Stream::new(probe, state)?;
        if let Some(m) = &metrics {
            stream.set_metrics(m.clone());
        }
        if let Some(p) = &a.raw_out {
            stream.tap(raw::Tap::create(p).with_context(|| format!("--raw-out {}", p.display()))?);
        }
        let d = &settings.config.syscall_event_drops;
        if d.actions
            .iter()
            .any(|x| *x != crate::config::DropAction::Ignore)
        {
            stream.set_drop_policy(DropPolicy::new(d.clone(), tx.clone()));
        }
        let enabled = engine.rules.iter().filter(|r| r.enabled).count();
        let on = if workers == 0 {
            String::new()
        } else {
            format!(", {workers} evaluation threads")
        };
        let mut snapshots = settings.snapshots();
        let mut reloader = Reloader {
            args: &a,
            trigger,
            settings,
            tuning,
            metrics: metrics.clone(),
        };
        message!("watching with {enabled} rules ({n_sys} syscalls traced{on}); stop with Ctrl-C, reload with SIGHUP");
        if let Some(m) = &metrics {
            m.rules_enabled(enabled);
            m.set_ready(true);
        }
        let judges = if workers == 0 {
            // Both callbacks reach the one judge, never at once.
            let j = std::cell::RefCell::new(judge(engine));
            ended = Some(
                stream
                    .run(
                        a.duration,
                        |st, ev| {
                            j.borrow_mut().judge(st, ev, None);
                            Flow::Continue
                        },
                        |st, probe| {
                            j.borrow_mut().publish(st);
                            delivery.deliver();
                            if let Some(s) = &mut snapshots {
                                s.tick(probe, &mut delivery);
                            }
                            if let Some(e) = reloader.check(probe, &mut delivery) {
                                j.borrow_mut().replace(e);
                            }
                            Flow::Continue
                        },
                    )
                    .await?,
            );
            vec![j.into_inner()]
        } else {
            let states = stream
                .take_state()
                .split(workers, |pid| pool::owner(pid, workers));
            let handlers = (0..workers).map(|_| judge(engine.clone())).collect();
            let mut pool = Pool::start(states, handlers).context("starting evaluation threads")?;
            ended = Some(
                stream
                    .run_pool(a.duration, &mut pool, |probe, pool| {
                        delivery.deliver();
                        if let Some(s) = &mut snapshots {
                            s.tick(probe, &mut delivery);
                        }
                        if let Some(e) = reloader.check(probe, &mut delivery) {
                            // In order: records routed before now are judged by the old rules.
                            pool.update(|| {
                                let e = e.clone();
                                Box::new(move |j: &mut Judge| j.replace(e))
                            });
                        }
                        Flow::Continue
                    })
                    .await?,
            );
            let errors = pool.decode_errors();
            let judges = eval::finish(pool);
            stream.add_decode_errors(errors);
            judges
        };
        stream.untap().context("--raw-out")?;
        (judges, stream.stats(), seen)
    };
    if let Some(m) = &metrics {
        m.set_ready(false);
    }
    drop(tx);
    delivery.finish();
    let mut fired: BTreeMap<&str, u64> = BTreeMap::new();
    let mut seen = seen;
    for j in &judges {
        for (r, n) in j.detector.fired() {
            *fired.entry(r).or_default() += n;
        }
        seen.extend(j.seen.iter().cloned());
    }
    message!(
        "{} events evaluated, {} alert(s)",
        judges.iter().map(|j| j.detector.events()).sum::<u64>(),
        fired.values().sum::<u64>()
    );
    for (r, n) in &fired {
        report!("  {n:>6}  {r}");
    }
    if let Some(s) = meta_summary.as_ref().and_then(|m| m.summary()) {
        message!("{s}");
    }
    if stats_json {
        report!("{}", stats.json());
    } else {
        report!("{}", stats.line());
    }
    let losses = delivery.outputs.losses();
    for (o, n) in &losses {
        message!("output {o} lost {n} alert(s)");
    }
    if ended == Some(Ended::Drops) {
        anyhow::bail!("stopped: syscall_event_drops.actions has exit");
    }
    selection.check_all_seen(&seen)?;
    if !losses.is_empty() {
        crate::messages::set_lost();
    }
    Ok(ExitCode::SUCCESS)
}
