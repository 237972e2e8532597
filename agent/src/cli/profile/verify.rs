//! `sysaudit profile verify PROFILE (--bundle DIR | -- COMMAND)`: run the workload without
//! the profile and under it (same runtime, a fresh container each time) and compare; when
//! they differ (or `--runs N` asks), run it again with the profile's denials handed to a
//! seccomp listener that lets every call go on and names each one — syscall, ABI, process.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::{bail, Context as _};
use clap::Args;
use serde_json::{json, Value};

use super::super::flags;
use crate::messages::message;
use crate::seccomp::{
    enforce::Mode,
    notify::Denial,
    trial::{Outcome, Workload},
};

/// Exit code of a profile that changed the workload or denied it something.
const EXIT_NOT_VERIFIED: u8 = 5;

#[derive(Args, Debug, Clone)]
pub(crate) struct VerifyArgs {
    /// The profile (an allowlist: OCI JSON or SPO YAML, as `profile` writes).
    #[arg(value_name = "PROFILE")]
    pub(crate) profile: PathBuf,
    /// An OCI bundle: its container is run by --runtime without the profile and under it.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub(crate) bundle: Option<PathBuf>,
    /// The OCI runtime for --bundle: runc or crun (a name on PATH or a path).
    #[arg(long, default_value = "runc", value_name = "RUNTIME")]
    pub(crate) runtime: String,
    /// Runs under the listener. 1 (the default): one, only when the workload changed under
    /// the profile; more: always, each reporting what the profile would have denied — for
    /// paths one run may not take.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) runs: u32,
    /// Compare exit status only (for workloads whose output changes from run to run).
    #[arg(long)]
    pub(crate) status_only: bool,
    /// How long one run may take.
    #[arg(long, default_value = "120", value_name = "SECS", value_parser = flags::duration)]
    pub(crate) timeout: Duration,
    /// Print the verdict as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// The command to run (when no --bundle).
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

pub(crate) fn run(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let profile = crate::cli::run::read(&a.profile)?;
    let workload = match (&a.bundle, a.command.is_empty()) {
        (Some(dir), true) => Workload::bundle(dir, &a.runtime).context("--bundle")?,
        (None, false) => Workload::command(&a.command)?,
        _ => bail!("say what to run: --bundle DIR or -- COMMAND"),
    };
    let go = |mode: Mode| workload.run(&profile, mode, a.timeout);
    let reference = go(Mode::Plain)?;
    if reference.timed_out || !reference.status.is_some_and(|s| s.success()) {
        message!(
            "verify: the workload fails without the profile too ({}{}); runs are compared as they are",
            reference.status_text(),
            first_line(&reference.stderr)
        );
    }
    let under = go(Mode::Enforce)?;
    let mut differs = Vec::new();
    if reference.timed_out != under.timed_out || reference.status != under.status {
        differs.push(format!(
            "exit: {} without the profile, {} under it",
            reference.status_text(),
            under.status_text()
        ));
    }
    if !a.status_only {
        for (what, x, y) in [
            ("stdout", &reference.stdout, &under.stdout),
            ("stderr", &reference.stderr, &under.stderr),
        ] {
            if x != y {
                differs.push(format!(
                    "{what} differs (under the profile{})",
                    first_line(y)
                ));
            }
        }
    }
    let listened = if a.runs > 1 {
        a.runs
    } else {
        u32::from(!differs.is_empty())
    };
    let mut found: Vec<Found> = Vec::new();
    for run in 1..=listened {
        let o = go(Mode::Listen)?;
        for d in o.denials {
            let known = found
                .iter_mut()
                .find(|k| k.d.abi == d.abi && k.d.name == d.name);
            match known {
                Some(k) => k.d.count += d.count,
                None => found.push(Found {
                    run,
                    by_runtime: workload.by_runtime(&d.comm),
                    d,
                }),
            }
        }
    }
    if let Some(rt) = workload.runtime() {
        if !profile.names.contains("write") {
            message!("verify: the profile denies write, which {rt} needs after it installs the filter (a listener cannot be handed write)");
        }
    }
    // The runtime's own calls after it loaded the filter are reported; they fail the
    // verification only through the runs they change (some happen only while it hands the
    // listener over).
    let verified = differs.is_empty() && found.iter().all(|f| f.by_runtime);
    if a.json {
        println!(
            "{}",
            report_json(verified, &reference, &under, &differs, &found, listened)
        );
    }
    report_text(&a.profile, verified, &differs, &found, listened);
    Ok(if verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_VERIFIED)
    })
}

/// A syscall the profile would have denied, the run it first appeared in, and whether the
/// runtime made it before the workload's exec.
struct Found {
    run: u32,
    by_runtime: bool,
    d: Denial,
}

/// `: "first line"` of a stream, for the message.
fn first_line(b: &[u8]) -> String {
    let t = String::from_utf8_lossy(b);
    match t.lines().next() {
        Some(l) if !l.is_empty() => format!(": \"{}\"", l.chars().take(120).collect::<String>()),
        _ => String::new(),
    }
}

fn report_text(profile: &Path, verified: bool, differs: &[String], found: &[Found], listened: u32) {
    for d in differs {
        message!("verify: {d}");
    }
    let line = |f: &Found| {
        let d = &f.d;
        let args: Vec<String> = d.args.iter().take(3).map(|a| format!("{a:#x}")).collect();
        message!(
            "  {} {}: by {} (pid {}, {}), {} call(s), first in run {}, args ({}, ...)",
            d.abi,
            d.name,
            d.comm,
            d.pid,
            d.exe,
            d.count,
            f.run,
            args.join(", ")
        );
    };
    let (runtime, workload): (Vec<&Found>, Vec<&Found>) = found.iter().partition(|f| f.by_runtime);
    if listened > 0 {
        if workload.is_empty() {
            message!("verify: {listened} run(s) under a listener: the profile denied the workload nothing");
        } else {
            message!(
                "verify: the profile would have denied {} syscall(s) ({listened} run(s) under a listener):",
                workload.len()
            );
            workload.into_iter().for_each(line);
        }
        if !runtime.is_empty() {
            message!("verify: and the runtime's own, after it loaded the filter (some only while it hands a listener over):");
            runtime.into_iter().for_each(line);
        }
    }
    if verified {
        message!(
            "verify: {} verified: the workload ran the same under it",
            profile.display()
        );
    } else {
        message!("verify: {} NOT verified", profile.display());
    }
}

fn report_json(
    verified: bool,
    reference: &Outcome,
    under: &Outcome,
    differs: &[String],
    found: &[Found],
    listened: u32,
) -> Value {
    let run =
        |o: &Outcome| json!({"status": o.status.and_then(|s| s.code()), "timed_out": o.timed_out});
    let denials: Vec<Value> = found
        .iter()
        .map(|f| {
            let d = &f.d;
            json!({"abi": d.abi, "syscall": d.name, "pid": d.pid, "comm": d.comm,
                   "exe": d.exe, "args": d.args, "count": d.count, "first_run": f.run,
                   "by_runtime": f.by_runtime})
        })
        .collect();
    json!({"verified": verified, "without_profile": run(reference), "under_profile": run(under),
           "differences": differs, "listener_runs": listened, "denials": denials})
}
