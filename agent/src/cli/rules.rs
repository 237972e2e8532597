//! `sysaudit rules validate | list | test`: the rules engine without the kernel.

use crate::messages::message;
use std::{
    fs,
    io::{self, BufRead, BufReader, Write},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};

use super::flags::parse_priority;
use crate::{
    event::Event,
    outputs::{LineOutput, Output},
    rules::{
        default::load,
        detect::Detector,
        fields::{self, ArgKind},
        sources, Matching, Priority,
    },
    state::State,
};

#[derive(Subcommand, Debug)]
pub(crate) enum RulesCmd {
    /// Load rules files and report every error (file:line:col) or a summary.
    Validate(FilesArgs),
    /// List the rules of rules files: priority, enabled, event types.
    List(FilesArgs),
    /// Replay a capture (`sysaudit trace --json` output) through the rules.
    Test(TestArgs),
    /// Print the syscalls live detection traces for these rules (theirs plus the state's),
    /// comma-separated, as `trace --syscalls` takes them.
    Syscalls(FilesArgs),
    /// List every field conditions and outputs may use: type, argument, description (fields
    /// without a data source here say so).
    Fields,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct FilesArgs {
    /// Rules files, loaded in order (later ones amend earlier ones). Default: the embedded
    /// sysaudit ruleset.
    #[arg(value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct TestArgs {
    /// Rules files (repeatable); default: the embedded sysaudit ruleset.
    #[arg(short = 'r', long = "rules", value_name = "FILE")]
    pub(crate) rules: Vec<PathBuf>,
    /// The capture: JSON lines as written by `sysaudit trace --json` (`-` for stdin).
    #[arg(long, value_name = "CAPTURE")]
    pub(crate) events: PathBuf,
    /// Show, for each event of the rule's types, which sub-condition decided.
    #[arg(long, value_name = "RULE")]
    pub(crate) explain: Option<String>,
    /// Print alerts as Falco JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Evaluate every rule on every event (Falco's `rule_matching: all`); default: first match.
    #[arg(long)]
    pub(crate) all_matches: bool,
    /// Minimum priority of the rules loaded.
    #[arg(long, default_value = "debug", value_parser = parse_priority)]
    pub(crate) min_priority: Priority,
}

pub(crate) fn run(cmd: RulesCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCmd::Validate(a) => {
            let (e, loaded) = load(&a.files, Priority::Debug)?;
            let enabled = e.rules.iter().filter(|r| r.enabled).count();
            println!(
                "OK: {} rules ({} enabled), {} macros, {} lists loaded from {} file(s); {} warning(s)",
                e.rules.len(),
                enabled,
                e.macros,
                e.lists,
                loaded.files.len(),
                loaded.warnings().count()
            );
            Ok(ExitCode::SUCCESS)
        }
        RulesCmd::List(a) => {
            let (e, _) = load(&a.files, Priority::Debug)?;
            let mut out = io::stdout().lock();
            writeln!(
                out,
                "{:<13} {:<8} {:<55} EVENT TYPES",
                "PRIORITY", "ENABLED", "RULE"
            )?;
            for r in &e.rules {
                let types = if r.evttypes.is_all() {
                    "(all)".to_string()
                } else {
                    r.evttypes.names().join(",")
                };
                writeln!(
                    out,
                    "{:<13} {:<8} {:<55} {}",
                    r.priority.as_str(),
                    r.enabled,
                    r.name,
                    types
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCmd::Test(a) => test(a),
        RulesCmd::Fields => {
            let mut out = io::stdout().lock();
            writeln!(
                out,
                "{:<42} {:<10} {:<7} DESCRIPTION",
                "FIELD", "TYPE", "SOURCE"
            )?;
            for d in fields::DEFS {
                let name = match d.arg {
                    ArgKind::None => d.name.to_string(),
                    ArgKind::Required => format!("{}[ARG]", d.name),
                    ArgKind::Index | ArgKind::Key => format!("{}[ARG?]", d.name),
                };
                let src = sources::source(d.f);
                writeln!(
                    out,
                    "{name:<42} {:<10} {:<7} {}",
                    d.ty.to_string(),
                    src.as_str(),
                    d.desc
                )?;
            }
            writeln!(out, "\nSOURCE")?;
            for s in sources::Source::ALL {
                writeln!(out, "  {:<7} {}", s.as_str(), s.meaning())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCmd::Syscalls(a) => {
            let (e, _) = load(&a.files, Priority::Debug)?;
            let (names, all) = e.syscalls();
            if all {
                println!("all");
            } else {
                let mut v: Vec<&str> = names
                    .into_iter()
                    .chain(crate::state::needed_syscalls())
                    .collect();
                v.sort_unstable();
                v.dedup();
                println!("{}", v.join(","));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn test(a: TestArgs) -> anyhow::Result<ExitCode> {
    let (mut engine, _) = load(&a.rules, a.min_priority)?;
    if a.all_matches {
        engine.matching = Matching::All;
    }
    if let Some(r) = &a.explain {
        if !engine.rules.iter().any(|x| &x.name == r) {
            bail!("--explain: no rule named '{r}'");
        }
    }
    let reader: Box<dyn BufRead> = if a.events.as_os_str() == "-" {
        Box::new(BufReader::new(io::stdin()))
    } else {
        Box::new(BufReader::new(fs::File::open(&a.events).with_context(
            || format!("{}: cannot read", a.events.display()),
        )?))
    };
    let name = a.events.display().to_string();
    let mut state = State::replay();
    let mut out = LineOutput::new(io::stdout().lock(), a.json, "stdout");
    let mut detector = Detector::new(engine);
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{name}:{}: cannot read", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let ev: Event = match serde_json::from_str(&line) {
            Ok(e) => e,
            Err(e) => {
                // A stats line from a trace on the same stream is not an event.
                if line.contains("\"event\":\"stats\"") {
                    continue;
                }
                bail!("{name}:{}:{}: not an event: {e}", i + 1, e.column());
            }
        };
        if let Some(rule) = &a.explain {
            let num = detector.events() + 1;
            if let Some((matched, lines)) = detector.engine.explain(rule, &ev, &state, num) {
                let t = ev.task();
                let w = out.writer();
                writeln!(
                    w,
                    "event {num} ({name}:{}) {} by {} pid {}: rule '{rule}' {}",
                    i + 1,
                    ev.kind(),
                    t.comm,
                    t.pid,
                    if matched { "MATCHES" } else { "does not match" }
                )?;
                for l in lines {
                    writeln!(w, "{l}")?;
                }
            }
        }
        for al in detector.step(&ev, &state) {
            out.emit(al)?;
        }
        state.observe(&ev);
    }
    out.flush()?;
    message!(
        "{} events replayed, {} alert(s)",
        detector.events(),
        detector.alerts()
    );
    Ok(ExitCode::SUCCESS)
}
