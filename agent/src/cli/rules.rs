//! `sysaudit rules validate | list | test`: the rules engine without the kernel.

use std::{
    fs,
    io::{self, BufRead, BufReader, Write},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};

use crate::{
    event::Event,
    rules::{Engine, Loaded, Matching, Priority},
    state::State,
};

/// The default ruleset, embedded.
pub const DEFAULT_RULES: &str = include_str!("../../../rules/sysaudit_rules.yaml");
pub const DEFAULT_RULES_NAME: &str = "<embedded>/sysaudit_rules.yaml";

#[derive(Subcommand, Debug)]
pub enum RulesCmd {
    /// Load rules files and report every error (file:line:col) or a summary.
    Validate(FilesArgs),
    /// List the rules of rules files: priority, enabled, event types.
    List(FilesArgs),
    /// Replay a capture (`sysaudit trace --json` output) through the rules.
    Test(TestArgs),
    /// Print the syscalls live detection traces for these rules (theirs plus the state's),
    /// comma-separated, as `trace --syscalls` takes them.
    Syscalls(FilesArgs),
}

#[derive(Args, Debug, Clone)]
pub struct FilesArgs {
    /// Rules files, loaded in order (later ones amend earlier ones). Default: the embedded
    /// sysaudit ruleset.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct TestArgs {
    /// Rules files (repeatable); default: the embedded sysaudit ruleset.
    #[arg(short = 'r', long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// The capture: JSON lines as written by `sysaudit trace --json` (`-` for stdin).
    #[arg(long, value_name = "CAPTURE")]
    pub events: PathBuf,
    /// Show, for each event of the rule's types, which sub-condition decided.
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// Print alerts as Falco JSON.
    #[arg(long)]
    pub json: bool,
    /// Evaluate every rule on every event (Falco's `rule_matching: all`); default: first match.
    #[arg(long)]
    pub all_matches: bool,
    /// Minimum priority of the rules loaded.
    #[arg(long, default_value = "debug", value_parser = parse_priority)]
    pub min_priority: Priority,
}

pub fn parse_priority(s: &str) -> Result<Priority, String> {
    Priority::parse(s).ok_or_else(|| format!("unknown priority '{s}'"))
}

/// Read the files (or the embedded default).
pub fn sources(files: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    if files.is_empty() {
        return Ok(vec![(
            DEFAULT_RULES_NAME.to_string(),
            DEFAULT_RULES.to_string(),
        )]);
    }
    files
        .iter()
        .map(|f| {
            let text =
                fs::read_to_string(f).with_context(|| format!("{}: cannot read", f.display()))?;
            Ok((f.display().to_string(), text))
        })
        .collect()
}

/// Load and print diagnostics; errors make it fail.
pub fn load(files: &[PathBuf], min: Priority) -> anyhow::Result<(Engine, Loaded)> {
    let mut loaded = Engine::load(&sources(files)?, min);
    for d in &loaded.diags {
        eprintln!("{}", d.render(&loaded.files));
    }
    let n = loaded.errors().count();
    match loaded.engine.take() {
        Some(e) if n == 0 => Ok((e, loaded)),
        _ => bail!("{n} error(s) in the rules"),
    }
}

pub fn run(cmd: RulesCmd) -> anyhow::Result<ExitCode> {
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
        RulesCmd::Syscalls(a) => {
            let (e, _) = load(&a.files, Priority::Debug)?;
            let (names, all) = e.syscalls();
            if all {
                println!("all");
            } else {
                let mut v: Vec<&str> = names
                    .into_iter()
                    .chain(super::watch::STATE_SYSCALLS.iter().copied())
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
    let mut out = io::stdout().lock();
    let mut alerts = Vec::new();
    let (mut events, mut total_alerts) = (0u64, 0u64);
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
        events += 1;
        if let Some(rule) = &a.explain {
            if let Some((matched, lines)) = engine.explain(rule, &ev, &state, events) {
                let t = ev.task();
                writeln!(
                    out,
                    "event {events} ({name}:{}) {} by {} pid {}: rule '{rule}' {}",
                    i + 1,
                    kind(&ev),
                    t.comm,
                    t.pid,
                    if matched { "MATCHES" } else { "does not match" }
                )?;
                for l in lines {
                    writeln!(out, "{l}")?;
                }
            }
        }
        alerts.clear();
        engine.eval(&ev, &state, events, &mut alerts);
        for al in &alerts {
            total_alerts += 1;
            if a.json {
                writeln!(out, "{}", al.to_json())?;
            } else {
                writeln!(out, "{}", al.line())?;
            }
        }
        state.observe(&ev);
    }
    eprintln!("sysaudit: {events} events replayed, {total_alerts} alert(s)");
    Ok(ExitCode::SUCCESS)
}

fn kind(ev: &Event) -> String {
    match ev {
        Event::Syscall(s) => s.syscall.clone(),
        Event::Exit(_) => "procexit".into(),
        Event::Fork(_) => "fork".into(),
        Event::Exec(_) => "exec".into(),
    }
}
