//! sysaudit's kernel side: syscall and process-lifecycle hooks (BTF raw tracepoints).
//!
//! Per syscall, in this order and before any ring-buffer work: drop the agent's own tgid,
//! drop syscall id -1, drop tasks outside the container scope, drop syscalls outside the
//! interesting set. Trace mode then emits one record at `sys_exit` (at `sys_enter` for
//! `exit`/`exit_group`, which never return); profile mode marks a per-cgroup bitmap at
//! `sys_enter` instead.
#![no_std]
#![no_main]

mod anomaly;
mod filter;
mod lifecycle;
mod maps;
mod paths;
mod profile;
mod record;
mod uring;
mod vfs;

use aya_ebpf::{
    bindings::pt_regs, helpers::bpf_get_current_pid_tgid, macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use sysaudit_common::{mode, nr, Counters, MAX_SYSCALLS, X32_SYSCALL_BIT};

use crate::maps::{konst, COUNTERS, MODE};

#[inline(always)]
fn counters() -> Option<&'static mut Counters> {
    // SAFETY: the lookup gives this CPU's COUNTERS entry, valid while the program runs; no
    // other CPU touches it, and a program nesting on this CPU can at worst lose a count.
    COUNTERS.get_ptr_mut(0).map(|p| unsafe { &mut *p })
}

/// The current task as a BTF pointer: its fields are read with plain loads.
#[inline(always)]
fn current_task() -> *const u8 {
    // SAFETY: the helper takes no arguments and returns the current task, a BTF pointer
    // valid for the whole program run.
    unsafe { aya_ebpf::helpers::generated::bpf_get_current_task_btf() as *const u8 }
}

#[inline(always)]
fn syscall_nr(id: i64) -> u32 {
    (id as u64 & !X32_SYSCALL_BIT) as u32
}

/// `exit` or `exit_group` in any recorded ABI (the ABI is not known yet: x86_64's and ia32's
/// numbers do not collide with each other's pair).
#[inline(always)]
fn never_returns(id: i64) -> bool {
    let n = syscall_nr(id);
    n == nr::EXIT[0] || n == nr::EXIT_GROUP[0] || n == nr::EXIT[1] || n == nr::EXIT_GROUP[1]
}

#[btf_tracepoint(function = "sys_enter")]
pub(crate) fn sys_enter(ctx: BtfTracePointContext) -> i32 {
    let Some(c) = counters() else { return 0 };
    c.seen += 1;
    let regs: *const pt_regs = ctx.arg(0);
    let id: i64 = ctx.arg(1);
    let task = current_task();
    let pid_tgid = filter::pid_tgid(task);
    let m = konst(&MODE);
    // Tracing alone records at entry only the calls that never return: the others leave
    // sys_enter before any filter work.
    if m & mode::PROFILE == 0 && !never_returns(id) {
        return 0;
    }
    let Some((scope, abi_idx)) = filter::syscall_filters(c, task, pid_tgid, id) else {
        return 0;
    };
    let n = syscall_nr(id);
    if m & mode::PROFILE != 0 {
        profile::record(c, regs, scope.key(task), abi_idx, n);
    }
    if m & mode::TRACE != 0 {
        let a = abi_idx as usize & 1;
        // Only calls that never reach sys_exit are traced at entry.
        if n == nr::EXIT[a] || n == nr::EXIT_GROUP[a] {
            if filter::interesting(abi_idx, n) {
                let met =
                    record::emit_syscall(c, regs, (task, pid_tgid, scope), abi_idx, n, None, true);
                if met != 0 {
                    anomaly::report(&ctx, met, n);
                }
            } else {
                c.filtered_syscall += 1;
            }
        }
    }
    0
}

/// Does nothing: attached alone (`sysaudit calibrate`), it measures what any `sys_enter` hook
/// costs on this machine — the floor under the profile-mode overhead.
#[btf_tracepoint(function = "sys_enter")]
pub(crate) fn sys_enter_floor(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[btf_tracepoint(function = "sys_exit")]
pub(crate) fn sys_exit(ctx: BtfTracePointContext) -> i32 {
    let Some(c) = counters() else { return 0 };
    c.seen += 1;
    let regs: *const pt_regs = ctx.arg(0);
    let ret: i64 = ctx.arg(1);
    // SAFETY: `regs` is sys_exit's pt_regs argument, a BTF pointer the verifier lets us load
    // from directly (as record::arg does).
    let id = unsafe { (*regs).orig_rax } as i64;
    let task = current_task();
    let pid_tgid = filter::pid_tgid(task);
    let Some((scope, abi_idx)) = filter::syscall_filters(c, task, pid_tgid, id) else {
        return 0;
    };
    let n = syscall_nr(id);
    if n as usize >= MAX_SYSCALLS || !filter::interesting(abi_idx, n) {
        c.filtered_syscall += 1;
        return 0;
    }
    let a = abi_idx as usize & 1;
    let new_image = ret == 0 && (n == nr::EXECVE[a] || n == nr::EXECVEAT[a]);
    let met = record::emit_syscall(
        c,
        regs,
        (task, pid_tgid, scope),
        abi_idx,
        n,
        Some(ret),
        !new_image,
    );
    if met != 0 {
        anomaly::report(&ctx, met, n);
    }
    0
}

#[btf_tracepoint(function = "sched_process_fork")]
pub(crate) fn sched_process_fork(ctx: BtfTracePointContext) -> i32 {
    let Some(c) = counters() else { return 0 };
    let pid_tgid = bpf_get_current_pid_tgid();
    if filter::is_own(pid_tgid) {
        return 0;
    }
    let child: *const u8 = ctx.arg(1);
    lifecycle::fork(c, pid_tgid, child);
    0
}

#[btf_tracepoint(function = "sched_process_exec")]
pub(crate) fn sched_process_exec(ctx: BtfTracePointContext) -> i32 {
    let Some(c) = counters() else { return 0 };
    let pid_tgid = bpf_get_current_pid_tgid();
    let old_pid: u32 = ctx.arg(1);
    let bprm: *const u8 = ctx.arg(2);
    lifecycle::exec(c, pid_tgid, old_pid, bprm);
    0
}

#[btf_tracepoint(function = "sched_process_exit")]
pub(crate) fn sched_process_exit(_ctx: BtfTracePointContext) -> i32 {
    let Some(c) = counters() else { return 0 };
    let pid_tgid = bpf_get_current_pid_tgid();
    if filter::is_own(pid_tgid) {
        return 0;
    }
    lifecycle::exit(c, pid_tgid);
    0
}

#[btf_tracepoint(function = "io_uring_submit_req")]
pub(crate) fn io_uring_submit_req(ctx: BtfTracePointContext) -> i32 {
    let Some(c) = counters() else { return 0 };
    let task = current_task();
    uring::submit(c, task, filter::pid_tgid(task), ctx.arg(0));
    0
}

#[btf_tracepoint(function = "io_uring_complete")]
pub(crate) fn io_uring_complete(ctx: BtfTracePointContext) -> i32 {
    let Some(c) = counters() else { return 0 };
    // (ctx, req, cqe): `req` is a `void *` here, used only as the key.
    let req: u64 = ctx.arg(1);
    uring::complete(c, current_task(), req, ctx.arg(2));
    0
}

#[btf_tracepoint(function = "cgroup_mkdir")]
pub(crate) fn cgroup_mkdir(ctx: BtfTracePointContext) -> i32 {
    cgroup_event(ctx, sysaudit_common::kind::CGROUP_MKDIR)
}

#[btf_tracepoint(function = "cgroup_rmdir")]
pub(crate) fn cgroup_rmdir(ctx: BtfTracePointContext) -> i32 {
    cgroup_event(ctx, sysaudit_common::kind::CGROUP_RMDIR)
}

#[inline(always)]
fn cgroup_event(ctx: BtfTracePointContext, kind: u16) -> i32 {
    let Some(c) = counters() else { return 0 };
    let cgrp: *const u8 = ctx.arg(0);
    let path: *const u8 = ctx.arg(1);
    lifecycle::cgroup(c, bpf_get_current_pid_tgid(), kind, cgrp, path);
    0
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[link_section = "license"]
#[no_mangle]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
