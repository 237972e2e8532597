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
    outputs::Outputs,
    probe::{paths::PathTables, Probe, ProbeConfig, SyscallSet},
    rules::{default::load, Engine, Priority},
    state::State,
    stream::{
        pool::{self, Pool},
        raw, Flow, Stream,
    },
};
use eval::Judge;
use settings::Settings;

mod eval;
pub(crate) mod settings;

#[derive(Args, Debug, Clone)]
pub(crate) struct WatchArgs {
    /// Configuration file: Falco's falco.yaml keys (rules_files, json_output, append_output,
    /// file_output, http_output...). Default: /etc/sysaudit/sysaudit.yaml when it exists.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Override a configuration key, as Falco's -o (`json_output=true`,
    /// `http_output.url=http://...`, `rules_files[]=extra.yaml`); repeatable, in order.
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    pub(crate) options: Vec<String>,
    /// Rules files or directories, in order (repeatable); they replace the configuration's
    /// rules_files. Default: the embedded sysaudit ruleset.
    #[arg(short = 'r', long = "rules", value_name = "FILE")]
    pub(crate) rules: Vec<PathBuf>,
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

pub(crate) async fn run(a: WatchArgs) -> anyhow::Result<ExitCode> {
    let selection = Selection::from_flags(a.host, &a.containers)?;
    let ring_bytes = a.ring_size.unwrap_or_else(ProbeConfig::default_ring_bytes);
    let settings = Settings::new(&a)?;
    let (mut engine, _) = load(&settings.rules, settings.min_priority)?;
    engine.matching = settings.matching;
    engine
        .append_output(&settings.append_output)
        .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    engine
        .switch_rules(&settings.switches)
        .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    let mut outputs = Outputs::new(settings.outputs()?);

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
    let folds = std::cell::RefCell::new(settings.aggregator());
    let deliver = |outputs: &mut Outputs| {
        let mut any = false;
        let mut folds = folds.borrow_mut();
        let now = std::time::Instant::now();
        while let Ok(al) = alerts.try_recv() {
            if let Some(m) = &metrics {
                m.alert(&al);
            }
            if folds.as_mut().is_none_or(|g| g.admit(&al, now)) {
                outputs.emit(&al);
                any = true;
            }
        }
        for s in folds.as_mut().map(|g| g.expired(now)).unwrap_or_default() {
            outputs.emit(&s);
            any = true;
        }
        outputs.flush();
        if let (true, Some(m)) = (any, &metrics) {
            m.output_totals(&outputs.counts());
        }
    };

    let mut meta_summary = None;
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
        let set = interesting(&engine);
        state.set_traced(&set);
        let n_sys = set.native.len();
        let cfg = ProbeConfig {
            path_filter: path_tables(&engine, a.no_path_filter),
            buffers: engine.reads(crate::rules::fields::F::EvtBuffer),
            ..ProbeConfig::trace(scope, set, ring_bytes)
        };
        let probe = Probe::load(&cfg)?;
        let mut stream = Stream::new(probe, state)?;
        if let Some(m) = &metrics {
            stream.set_metrics(m.clone());
        }
        if let Some(p) = &a.raw_out {
            stream.tap(raw::Tap::create(p).with_context(|| format!("--raw-out {}", p.display()))?);
        }
        let enabled = engine.rules.iter().filter(|r| r.enabled).count();
        let on = if workers == 0 {
            String::new()
        } else {
            format!(", {workers} evaluation threads")
        };
        message!("watching with {enabled} rules ({n_sys} syscalls traced{on}); stop with Ctrl-C");
        if let Some(m) = &metrics {
            m.rules_enabled(enabled);
            m.set_ready(true);
        }
        let judges = if workers == 0 {
            // Both callbacks reach the one judge, never at once.
            let j = std::cell::RefCell::new(judge(engine));
            stream
                .run(
                    a.duration,
                    |st, ev| {
                        j.borrow_mut().judge(st, ev, None);
                        Flow::Continue
                    },
                    |st, _| {
                        j.borrow_mut().publish(st);
                        deliver(&mut outputs);
                        Flow::Continue
                    },
                )
                .await?;
            vec![j.into_inner()]
        } else {
            let states = stream
                .take_state()
                .split(workers, |pid| pool::owner(pid, workers));
            let handlers = (0..workers).map(|_| judge(engine.clone())).collect();
            let mut pool = Pool::start(states, handlers).context("starting evaluation threads")?;
            stream
                .run_pool(a.duration, &mut pool, |_| {
                    deliver(&mut outputs);
                    Flow::Continue
                })
                .await?;
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
    deliver(&mut outputs);
    // Windows still open say what they folded before the outputs close.
    for s in folds
        .borrow_mut()
        .as_mut()
        .map(|g| g.drain())
        .unwrap_or_default()
    {
        outputs.emit(&s);
    }
    outputs.close();
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
    if settings.shape.json {
        report!("{}", stats.json());
    } else {
        report!("{}", stats.line());
    }
    let losses = outputs.losses();
    for (o, n) in &losses {
        message!("output {o} lost {n} alert(s)");
    }
    selection.check_all_seen(&seen)?;
    if !losses.is_empty() {
        crate::messages::set_lost();
    }
    Ok(ExitCode::SUCCESS)
}
