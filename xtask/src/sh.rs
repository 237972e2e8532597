//! Running commands loudly.

use std::{ffi::OsStr, process::Command};

use anyhow::{bail, Context as _, Result};

pub(crate) fn step(msg: &str) {
    eprintln!("\n==> {msg}");
}

pub(crate) fn cmd(program: impl AsRef<OsStr>) -> Command {
    Command::new(program)
}

/// Run, echoing the command line; fail on a non-zero exit.
pub(crate) fn run(c: &mut Command) -> Result<()> {
    eprintln!("    $ {}", show(c));
    let status = c
        .status()
        .with_context(|| format!("starting {}", show(c)))?;
    if !status.success() {
        bail!("{} failed ({status})", show(c));
    }
    Ok(())
}

/// Run and capture stdout; `None` when the program is missing or fails.
pub(crate) fn output(c: &mut Command) -> Option<String> {
    let o = c.output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

fn show(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}
