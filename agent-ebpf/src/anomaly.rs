//! The programs' rare anomalies, logged through aya-log (the agent shows them with `-v` or
//! `RUST_LOG`). Only reached when a record met one — never on the common path — and each is
//! counted as well, so a quiet run's counters prove there were none.

use aya_ebpf::programs::BtfTracePointContext;
use aya_log_ebpf::{debug, warn};
use sysaudit_common::anomaly::{NO_SCRATCH, PATH_CUT, TOO_BIG};

/// Log what `emit_syscall` met while recording syscall `nr`.
#[inline(never)]
pub(crate) fn report(ctx: &BtfTracePointContext, met: u8, nr: u32) {
    if met & PATH_CUT != 0 {
        debug!(ctx, "syscall {}: a path argument was cut at PATH_MAX", nr);
    }
    if met & TOO_BIG != 0 {
        warn!(
            ctx,
            "syscall {}: the record did not fit its scratch slot", nr
        );
    }
    if met & NO_SCRATCH != 0 {
        warn!(ctx, "syscall {}: no per-CPU scratch slot", nr);
    }
}
