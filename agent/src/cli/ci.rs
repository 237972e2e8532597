//! `sysaudit ci -- COMMAND`: a test suite (or a smoke test) run under detection and profile
//! recording at once, judged the way a CI job needs — an exit code, JUnit and SARIF reports,
//! GitHub annotations, drift against a committed baseline profile.
//!
//! What is watched: the command and everything below the fresh cgroup it is launched in, and
//! every container that appears while it runs (containers the tests start with docker, podman
//! or runc run in a pid namespace of their own, in cgroups of their engines; running ones
//! are watched only when `--container` names them). The launched subtree counts as a
//! container, `ci-<pid>`, named after the command: the rules that say "in a container" apply
//! to the tests as they would to a workload in one. With the embedded ruleset three rules that
//! describe what test suites do all day are off (shells started by programs, shells exec'd
//! into containers, programs run from /tmp); the configuration's `rules:` can turn them on.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use anyhow::Context as _;
use clap::Args;
use sysaudit_common::gate;

use super::{
    flags::{self, parse_priority},
    select,
    watch::{self, settings::Settings, WatchArgs},
};
use crate::{
    config::{RuleSwitch, Selector},
    launch::OwnCgroup,
    messages::{message, report},
    probe::{Probe, ProbeConfig, Scope},
    report::{self as rep, DriftFound, Format, Run},
    rules::{detect::Detector, Alert, Priority},
    seccomp::{drift::Drift, profile::write_atomic, record, DefaultAction, Profile},
    state::{meta::Meta, State, HOST},
    stream::{Ended, Flow, Stream},
    syscalls::{table, Abi},
};

#[derive(Args, Debug, Clone)]
pub(crate) struct CiArgs {
    /// The configuration (as `watch`'s; its stdout_output is off: stdout is the command's).
    #[command(flatten)]
    pub(crate) conf: flags::ConfigArgs,
    /// Fail the job (exit 4) when an alert of this priority or a more severe one fires.
    #[arg(long, default_value = "warning", value_parser = parse_priority)]
    pub(crate) fail_on: Priority,
    /// Write the command's seccomp profile here (atomically).
    #[arg(long, value_name = "FILE")]
    pub(crate) profile_out: Option<PathBuf>,
    /// Format of --profile-out and of an updated baseline.
    #[command(flatten)]
    pub(crate) out_format: flags::ProfileFormatArgs,
    /// A committed profile (OCI JSON or SPO YAML): syscalls the command makes that it does
    /// not allow fail the job (exit 5), each with the process that made it first.
    #[arg(long, value_name = "PROFILE")]
    pub(crate) baseline: Option<PathBuf>,
    /// Write the union of --baseline and this recording back to --baseline.
    #[arg(long, requires = "baseline")]
    pub(crate) update_baseline: bool,
    /// Write a report: junit=FILE or sarif=FILE; repeatable.
    #[arg(long = "report", value_name = "FORMAT=FILE", value_parser = rep::parse_report)]
    pub(crate) reports: Vec<(Format, PathBuf)>,
    /// Also watch this container, running before the command (id, unique prefix, or its
    /// engine's name); repeatable. Containers that start while the command runs are watched.
    #[arg(long = "container", value_name = "ID")]
    pub(crate) containers: Vec<String>,
    /// Ring buffer size in bytes (power of two; K and M suffixes).
    #[arg(long, value_name = "BYTES", value_parser = flags::ring_size)]
    pub(crate) ring_size: Option<u32>,
    #[command(flatten)]
    pub(crate) engines: flags::EngineArgs,
    /// The command to run and judge (a test suite).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

/// The embedded rules `ci` turns off: what a test suite legitimately does all day.
const QUIET_IN_CI: [&str; 3] = [
    "Shell spawned by a non-shell program in a container",
    "Shell exec'd into a running container",
    "Program executed from a temporary directory",
];

/// `watch`'s settings for the same flags: the configuration, `-o`, `-r`; stdout is the
/// command's.
fn settings(a: &CiArgs) -> anyhow::Result<Settings> {
    let mut conf = a.conf.clone();
    conf.options
        .insert(0, "stdout_output.enabled=false".to_string());
    let w = WatchArgs {
        conf,
        containers: Vec::new(),
        host: false,
        json: false,
        output: None,
        webhook: None,
        all_matches: false,
        min_priority: None,
        duration: None,
        ring_size: a.ring_size,
        no_path_filter: false,
        workers: Some(0),
        engines: a.engines.clone(),
        no_append_output: false,
        raw_out: None,
        raw_in: None,
    };
    let mut s = Settings::new(&w)?;
    if s.rules.is_empty() {
        let quiet = QUIET_IN_CI.iter().map(|r| {
            RuleSwitch::Disable(Selector {
                rule: Some(r.to_string()),
                tag: None,
            })
        });
        s.switches.splice(0..0, quiet);
    }
    Ok(s)
}

/// The command's exit status as a shell gives it: its code, or 128 + the signal.
fn status_code(s: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
}

pub(crate) async fn run(a: CiArgs) -> anyhow::Result<ExitCode> {
    select::check_ids(&a.containers)?;
    let settings = settings(&a)?;
    let (engine, files) = watch::engine_with_files(&settings)?;
    let rule_sources = engine
        .rules
        .iter()
        .map(|r| {
            let file = files.get(r.loc.file).cloned().unwrap_or_default();
            (r.name.clone(), (file, r.loc.line))
        })
        .collect();
    let mut outputs = settings.outputs()?;
    let baseline = match &a.baseline {
        Some(p) => Some(
            Profile::read(p, DefaultAction::Errno)
                .with_context(|| format!("--baseline {}", p.display()))?,
        ),
        None => None,
    };
    let format = a.out_format.format();

    crate::probe::preflight()?;
    let mut state = State::live();
    a.engines.attach(&mut state)?;
    let cg = OwnCgroup::create("ci")?;
    let ci_id = format!("ci-{}", std::process::id());
    let name = format!("ci: {}", a.command.join(" "));
    state.containers.adopt(
        cg.id,
        &cg.rel,
        &ci_id,
        Meta {
            engine: "sysaudit-ci",
            name: name.chars().take(128).collect(),
            ..Meta::default()
        },
    );
    // Containers already running are not the command's (unless named).
    let before: BTreeSet<String> = state
        .containers
        .scan()
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    let tuning = watch::tuning(&engine, false);
    state.set_traced(&tuning.interesting);
    let cfg = ProbeConfig {
        path_filter: tuning.path_filter.clone(),
        buffers: tuning.buffers,
        profiles: vec![(cg.id, gate::EXEC)],
        firsts: true,
        ..ProbeConfig::trace(
            Scope::CgroupsAndContainers(vec![(cg.id, cg.level())]),
            tuning.interesting.clone(),
            a.ring_size.unwrap_or_else(ProbeConfig::default_ring_bytes),
        )
        .and_profile(64)
    };
    let probe = Probe::load(&cfg)?;
    let mut stream = Stream::new(probe, state)?;
    let enabled = engine.rules.iter().filter(|r| r.enabled).count();
    message!(
        "ci: watching `{}` with {enabled} rules, recording its profile",
        a.command.join(" ")
    );

    let started = Instant::now();
    let mut child = cg.spawn(&a.command)?;
    let mut status = None;
    let mut detector = Detector::new(engine);
    // Both callbacks reach them, never at once.
    let alerts: std::cell::RefCell<Vec<Alert>> = Default::default();
    let mut pending = 0usize;
    let ended = stream
        .run(
            None,
            |st, ev| {
                let t = ev.task();
                let c = &*t.container_id;
                let ours = c == ci_id
                    || (c != HOST && !before.contains(c))
                    || a.containers.iter().any(|w| select::names(st, t, w));
                if ours {
                    alerts
                        .borrow_mut()
                        .extend(detector.step(ev, st).iter().cloned());
                }
                Flow::Continue
            },
            |_, _| {
                let alerts = alerts.borrow();
                for al in &alerts[pending..] {
                    outputs.emit(al);
                }
                if pending < alerts.len() {
                    outputs.flush();
                    pending = alerts.len();
                }
                match child.try_wait() {
                    Ok(Some(s)) => {
                        status = Some(s);
                        Flow::Stop
                    }
                    _ => Flow::Continue,
                }
            },
        )
        .await?;
    if status.is_none() {
        if ended == Ended::Signal {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        }
        status = Some(child.wait().context("waiting for the command")?);
    }
    let duration = started.elapsed();
    let alerts = alerts.into_inner();
    for al in &alerts[pending..] {
        outputs.emit(al);
    }
    outputs.close();

    let stats = stream.stats();
    let (probe, st) = stream.parts();
    let (mut profile, gate_closed) =
        record::recorded(probe, &mut st.containers, record::Target::Cgroup(cg.id))?;
    profile.base_profile.clone_from(&a.out_format.base_profile);
    profile.incomplete.extend(record::gaps(
        &stats.kernel,
        gate_closed,
        profile.names.is_empty(),
    ));
    let drift = baseline.as_ref().map(|b| {
        let drift = Drift::between(b, &profile);
        let first = drift
            .added
            .iter()
            .filter_map(|n| {
                let u = [Abi::X86_64, Abi::Ia32].iter().find_map(|abi| {
                    let nr = table::number(*abi, n)?;
                    st.firsts.get(cg.id, *abi, nr)
                })?;
                Some((n.clone(), u.clone()))
            })
            .collect();
        DriftFound {
            baseline: a.baseline.clone().unwrap_or_default(),
            drift,
            first,
        }
    });
    let label = Path::new(&a.command[0])
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(p) = &a.profile_out {
        write_atomic(p, &profile.render(format, &label))
            .with_context(|| format!("--profile-out {}", p.display()))?;
        message!(
            "ci: profile of `{}`: {} syscalls, written to {}",
            a.command.join(" "),
            profile.names.len(),
            p.display()
        );
    }
    if let (true, Some(p), Some(b)) = (a.update_baseline, &a.baseline, &baseline) {
        let mut union = b.clone();
        union.merge(&profile);
        write_atomic(p, &union.render(format, &label))
            .with_context(|| format!("--update-baseline {}", p.display()))?;
        message!(
            "ci: baseline {} updated: {} syscalls",
            p.display(),
            union.names.len()
        );
    }
    for r in &profile.incomplete {
        message!("ci: the profile may be incomplete: {r}");
    }
    if stats.kernel.firsts_lost > 0 {
        message!(
            "ci: {} first-use record(s) lost: some new syscalls may be listed without their first caller",
            stats.kernel.firsts_lost
        );
    }

    let run = Run {
        command: a.command.clone(),
        status: status.map(status_code).unwrap_or(1),
        duration,
        alerts,
        rule_sources,
        fail_on: a.fail_on,
        drift,
        lost: stats.lost(),
        output_losses: outputs.losses().iter().map(|(_, n)| n).sum(),
    };
    write_reports(&a.reports, &run)?;
    for line in rep::summary(&run) {
        report!("sysaudit: {line}");
    }
    Ok(ExitCode::from(run.exit_code()))
}

/// The reports asked for, GitHub's annotations and step summary when running there.
fn write_reports(reports: &[(Format, PathBuf)], run: &Run) -> anyhow::Result<()> {
    for (f, path) in reports {
        let text = match f {
            Format::Junit => rep::junit(run),
            Format::Sarif => rep::sarif(run),
        }
        .map_err(|e| anyhow::anyhow!("--report {}: {e}", path.display()))?;
        write_atomic(path, &text).with_context(|| format!("--report {}", path.display()))?;
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        for line in rep::github_commands(run) {
            println!("{line}");
        }
        if let Ok(p) = std::env::var("GITHUB_STEP_SUMMARY") {
            use std::io::Write as _;
            let r = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .and_then(|mut f| f.write_all(rep::step_summary(run).as_bytes()));
            if let Err(e) = r {
                message!("ci: GITHUB_STEP_SUMMARY {p}: {e}");
            }
        }
    }
    Ok(())
}
