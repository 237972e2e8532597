//! What the command-line tests share: run the built binary, keep what it said.

use std::process::Command;

/// `sysaudit ARGS`: the exit code, stdout and stderr.
pub(crate) fn sysaudit(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_sysaudit"))
        .args(args)
        .output()
        .expect("run sysaudit");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
