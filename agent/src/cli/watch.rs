//! `sysaudit watch`: live detection — the kernel stream through the state and the rules
//! engine to the outputs (the same engine `rules test` replays captures through).

use crate::messages::{message, report};
use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context as _;
use clap::Args;

use super::{
    flags::{self, parse_priority},
    select::{self, Selection},
};
use crate::{
    outputs::{LineOutput, Output, Outputs, Webhook},
    probe::{paths::PathTables, Probe, ProbeConfig, SyscallSet},
    rules::{default::load, detect::Detector, Engine, Matching, Priority},
    state::State,
    stream::{Flow, Stream},
};

#[derive(Args, Debug, Clone)]
pub(crate) struct WatchArgs {
    /// Rules files, in order (repeatable). Default: the embedded sysaudit ruleset.
    #[arg(short = 'r', long = "rules", value_name = "FILE")]
    pub(crate) rules: Vec<PathBuf>,
    /// Watch only this container (id or unique prefix); repeatable.
    #[arg(long = "container", short = 'c', value_name = "ID")]
    pub(crate) containers: Vec<String>,
    /// Watch every process on the host, not only containers.
    #[arg(long, conflicts_with = "containers")]
    pub(crate) host: bool,
    /// Alerts as Falco JSON (stdout and --output); the final stats as a JSON object on stderr.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also append alerts to this file.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Also POST each alert (Falco JSON) to this URL.
    #[arg(long, value_name = "URL")]
    pub(crate) webhook: Option<String>,
    /// Evaluate every rule on every event; default: stop at the first match.
    #[arg(long)]
    pub(crate) all_matches: bool,
    /// Minimum priority of the rules loaded.
    #[arg(long, default_value = "debug", value_parser = parse_priority)]
    pub(crate) min_priority: Priority,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = flags::duration)]
    pub(crate) duration: Option<Duration>,
    /// Ring buffer size in bytes (power of two; K and M suffixes).
    #[arg(long, value_name = "BYTES", value_parser = flags::ring_size)]
    pub(crate) ring_size: Option<u32>,
    /// Record every open: no kernel filter of the paths no loaded rule can match.
    #[arg(long)]
    pub(crate) no_path_filter: bool,
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
    let (mut engine, _) = load(&a.rules, a.min_priority)?;
    if a.all_matches {
        engine.matching = Matching::All;
    }
    let mut list: Vec<Box<dyn Output>> = vec![Box::new(LineOutput::stdout(a.json))];
    if let Some(p) = &a.output {
        list.push(Box::new(
            LineOutput::append(p, a.json).with_context(|| format!("--output {}", p.display()))?,
        ));
    }
    if let Some(u) = &a.webhook {
        list.push(Box::new(
            Webhook::new(u).map_err(|e| anyhow::anyhow!("--webhook: {e}"))?,
        ));
    }
    // Both callbacks use the outputs: alerts from the event handler, flushes from the tick.
    let outputs = std::cell::RefCell::new(Outputs::new(list));

    crate::probe::preflight()?;
    let mut state = State::live();
    let (scope, mut seen) = select::kernel_scope(&selection, &mut state)?;
    let set = interesting(&engine);
    state.set_traced(&set);
    let n_sys = set.native.len();
    let cfg = ProbeConfig {
        path_filter: path_tables(&engine, a.no_path_filter),
        ..ProbeConfig::trace(scope, set, ring_bytes)
    };
    let probe = Probe::load(&cfg)?;
    let mut stream = Stream::new(probe, state)?;
    let enabled = engine.rules.iter().filter(|r| r.enabled).count();
    message!("watching with {enabled} rules ({n_sys} syscalls traced); stop with Ctrl-C");

    let mut detector = Detector::new(engine);
    stream
        .run(
            a.duration,
            |st, ev| {
                let t = ev.task();
                if !selection.matches(&t.container_id) {
                    return Flow::Continue;
                }
                selection.note_seen(&t.container_id, &mut seen);
                for al in detector.step(ev, st) {
                    outputs.borrow_mut().emit(al);
                }
                Flow::Continue
            },
            |_, _| {
                outputs.borrow_mut().flush();
                Flow::Continue
            },
        )
        .await?;
    let mut outputs = outputs.into_inner();
    outputs.close();
    let stats = stream.stats();
    message!(
        "{} events evaluated, {} alert(s)",
        detector.events(),
        detector.alerts()
    );
    for (r, n) in detector.fired() {
        report!("  {n:>6}  {r}");
    }
    if a.json {
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
