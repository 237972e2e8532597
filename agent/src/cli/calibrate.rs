//! `sysaudit calibrate` (hidden): an empty `sys_enter` program stays attached until SIGINT or
//! SIGTERM. The overhead benchmark runs its loop under it to measure the floor any syscall
//! hook costs here, so that sysaudit's own cost can be told apart from the kernel's.

use crate::messages::message;
use std::process::ExitCode;

use tokio::signal::unix::{signal, SignalKind};

use crate::probe::Probe;

pub(crate) async fn run() -> anyhow::Result<ExitCode> {
    let _probe = Probe::hook_floor()?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    message!("calibrating (empty sys_enter program attached); stop with Ctrl-C");
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    Ok(ExitCode::SUCCESS)
}
