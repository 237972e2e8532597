//! `sysaudit run --seccomp FILE -- COMMAND`: run a command under a seccomp profile (OCI JSON
//! or SPO YAML), loaded with libseccomp as runc does. The first syscall under the filter is
//! the command's `execve`. With `--serving FILE` (a `profile --phases` serving profile), the
//! start-up-only syscalls go to a supervisor that lets them run until the first serving
//! marker and denies them (EPERM) from then on.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    process::{Command, ExitCode},
};

use anyhow::{bail, Context as _};
use clap::Args;

use crate::seccomp::{
    enforce::{self, exec_under},
    notify::Answer,
    phases::DEFAULT_MARKERS,
    DefaultAction, Profile,
};

#[derive(Args, Debug, Clone)]
pub(crate) struct RunArgs {
    /// The profile to enforce.
    #[arg(long, value_name = "FILE")]
    pub(crate) seccomp: PathBuf,
    /// The serving phase's profile (`profile --phases`): after start-up only it applies.
    #[arg(long, value_name = "FILE")]
    pub(crate) serving: Option<PathBuf>,
    /// The syscall whose first call ends start-up (repeatable; default: the serving
    /// profile's own marker, else accept and accept4).
    #[arg(long, value_name = "SYSCALL", requires = "serving")]
    pub(crate) serving_marker: Vec<String>,
    /// The command.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

/// A profile to enforce: its own default action, and something allowed.
pub(crate) fn read(path: &std::path::Path) -> anyhow::Result<Profile> {
    let mut p = Profile::read(path, DefaultAction::Errno)?;
    if let Some(d) = p.file_default {
        p.default_action = d;
    }
    if p.count() == 0 {
        bail!("{}: the profile allows nothing", path.display());
    }
    Ok(p)
}

pub(crate) fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let p = read(&a.seccomp)?;
    let Some(serving) = &a.serving else {
        let e = exec_under(&p, &a.command);
        bail!("{e}")
    };
    let serving = read(serving)?;
    let markers: Vec<String> = if !a.serving_marker.is_empty() {
        a.serving_marker.clone()
    } else if let Some(ph) = &serving.provenance.phases {
        vec![ph.marker.clone()]
    } else {
        DEFAULT_MARKERS.iter().map(|m| m.to_string()).collect()
    };
    let prog = enforce::phased_filter(&p, &serving, &markers)?;
    let marker_set: BTreeSet<String> = markers.into_iter().collect();
    let mut path = enforce::program(&a.command[0])?;
    if path.is_relative() {
        path = std::path::absolute(&path).unwrap_or(path);
    }
    let mut cmd = Command::new(&path);
    cmd.args(&a.command[1..]);
    let mut serving_now = false;
    let (mut child, listening) = enforce::supervised(cmd, prog, move |_, _, name, _| {
        if marker_set.contains(name) {
            serving_now = true;
            Answer::Pass
        } else if serving_now {
            Answer::Deny(libc::EPERM)
        } else {
            Answer::Pass
        }
    })
    .with_context(|| format!("starting {}", path.display()))?;
    let status = child.wait()?;
    listening.denials()?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(c.clamp(1, 255) as u8),
        None => ExitCode::from(
            (128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)) as u8,
        ),
    })
}
