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
        lint, sources, Matching, Priority,
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
    /// List every field conditions and outputs may use: type, argument, source, description.
    Fields,
    /// Report what loads but cannot be meant: rules an earlier rule always wins over
    /// (rule_matching: first), lists and macros never used, conditions with no event-type
    /// restriction. Exit 1 when there is anything to report.
    Lint(FilesArgs),
    /// Show a rule's condition as the engine runs it (macros and exceptions named, lists
    /// expanded); with --events, which part decided for each event of a capture.
    Explain(ExplainArgs),
}

#[derive(Args, Debug, Clone)]
pub(crate) struct ExplainArgs {
    /// The rule.
    #[arg(value_name = "RULE")]
    pub(crate) rule: String,
    /// Rules files (repeatable); default: the embedded sysaudit ruleset.
    #[arg(short = 'r', long = "rules", value_name = "FILE")]
    pub(crate) rules: Vec<PathBuf>,
    /// A capture to evaluate the rule on (as `rules test --explain`).
    #[arg(long, value_name = "CAPTURE")]
    pub(crate) events: Option<PathBuf>,
}

/// `--expect RULE[=COUNT]`: the rule fires (COUNT times exactly, when given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expect {
    pub(crate) rule: String,
    pub(crate) count: Option<u64>,
}

fn parse_expect(s: &str) -> Result<Expect, String> {
    // A rule name may hold '=': only a number after the last one is a count.
    if let Some((rule, n)) = s.rsplit_once('=') {
        if let Ok(count) = n.trim().parse::<u64>() {
            if rule.trim().is_empty() {
                return Err("a rule name before '='".into());
            }
            return Ok(Expect {
                rule: rule.trim().to_string(),
                count: Some(count),
            });
        }
    }
    if s.trim().is_empty() {
        return Err("a rule name".into());
    }
    Ok(Expect {
        rule: s.trim().to_string(),
        count: None,
    })
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
    /// Assert that RULE fires on the capture (exactly COUNT times with `=COUNT`; `=0`: never);
    /// repeatable. Any unmet assertion exits 1.
    #[arg(long, value_name = "RULE[=COUNT]", value_parser = parse_expect)]
    pub(crate) expect: Vec<Expect>,
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
        RulesCmd::Lint(a) => lint(&a.files),
        RulesCmd::Explain(a) => match a.events {
            Some(events) => test(TestArgs {
                rules: a.rules,
                events,
                explain: Some(a.rule),
                json: false,
                all_matches: false,
                min_priority: Priority::Debug,
                expect: Vec::new(),
            }),
            None => {
                let (e, _) = load(&a.rules, Priority::Debug)?;
                let Some(r) = e.rules.iter().find(|r| r.name == a.rule) else {
                    bail!("no rule named '{}'", a.rule);
                };
                let types = if r.evttypes.is_all() {
                    "every event type".to_string()
                } else {
                    r.evttypes.names().join(", ")
                };
                println!("rule '{}' ({types}):", r.name);
                for l in r.tree() {
                    println!("  {l}");
                }
                Ok(ExitCode::SUCCESS)
            }
        },
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

/// `rules lint`: the loader's warnings and the shadowed rules, located; exit 1 if any.
fn lint(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let sources = crate::rules::default::sources(files)?;
    let loaded = crate::rules::Engine::load(&sources, Priority::Debug);
    let mut findings: Vec<&crate::rules::Diag> = loaded.diags.iter().collect();
    let shadowed = loaded
        .engine
        .as_ref()
        .map(|e| lint::shadowed(&e.rules))
        .unwrap_or_default();
    findings.extend(shadowed.iter());
    findings.sort_by_key(|d| d.sort_key());
    for d in &findings {
        crate::messages::diag(&d.render(&loaded.files));
    }
    let errors = loaded.errors().count();
    if errors > 0 {
        bail!("{errors} error(s) in the rules");
    }
    if findings.is_empty() {
        println!("OK: nothing to report");
        return Ok(ExitCode::SUCCESS);
    }
    message!("{} finding(s)", findings.len());
    Ok(ExitCode::from(1))
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
    for x in &a.expect {
        match engine.rules.iter().find(|r| r.name == x.rule) {
            None => bail!("--expect: no rule named '{}'", x.rule),
            Some(r) if !r.enabled && x.count != Some(0) => {
                bail!("--expect: rule '{}' is disabled and cannot fire", x.rule)
            }
            Some(_) => {}
        }
    }
    let mut fired: std::collections::HashMap<String, u64> = Default::default();
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
            *fired.entry(al.rule.clone()).or_default() += 1;
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
    let mut unmet = 0;
    for x in &a.expect {
        let n = fired.get(&x.rule).copied().unwrap_or(0);
        let ok = match x.count {
            Some(c) => n == c,
            None => n > 0,
        };
        let wanted = match x.count {
            Some(c) => format!("{c} time(s)"),
            None => "at least once".to_string(),
        };
        if ok {
            message!("expected '{}' {wanted}: fired {n} time(s), ok", x.rule);
        } else {
            unmet += 1;
            message!("expected '{}' {wanted}: fired {n} time(s), FAILED", x.rule);
        }
    }
    if unmet > 0 {
        message!("{unmet} of {} expectation(s) unmet", a.expect.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_take_an_optional_count_after_the_last_equals() {
        let e = |s| parse_expect(s).unwrap();
        assert_eq!(e("Shell in container").count, None);
        assert_eq!(e("Shell in container=2").count, Some(2));
        assert_eq!(e("a=b").rule, "a=b");
        assert_eq!(e("a=b=0").rule, "a=b");
        assert!(parse_expect("=3").is_err());
        assert!(parse_expect(" ").is_err());
    }
}
