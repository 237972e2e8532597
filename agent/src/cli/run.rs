//! `sysaudit run --seccomp FILE -- COMMAND`: run a command under a seccomp profile (OCI JSON
//! or SPO YAML), loaded with libseccomp as runc does. The first syscall under the filter is
//! the command's `execve`.

use std::{path::PathBuf, process::ExitCode};

use anyhow::bail;
use clap::Args;

use crate::seccomp::{enforce::exec_under, DefaultAction, Profile};

#[derive(Args, Debug, Clone)]
pub(crate) struct RunArgs {
    /// The profile to enforce.
    #[arg(long, value_name = "FILE")]
    pub(crate) seccomp: PathBuf,
    /// The command.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

pub(crate) fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let mut p = Profile::read(&a.seccomp, DefaultAction::Errno)?;
    if let Some(d) = p.file_default {
        p.default_action = d;
    }
    if p.names.is_empty() {
        bail!("{}: the profile allows nothing", a.seccomp.display());
    }
    let e = exec_under(&p, &a.command);
    bail!("{e}")
}
