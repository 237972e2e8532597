//! The filters every syscall passes before any ring-buffer work, and the ABI of a syscall.

use aya_ebpf::bindings::bpf_pidns_info;
use aya_ebpf::helpers::generated::{
    bpf_get_current_ancestor_cgroup_id, bpf_get_current_cgroup_id, bpf_get_ns_current_pid_tgid,
};
use sysaudit_common::{
    abi, scope, Counters, BITMAP_WORDS, MAX_SYSCALLS, TS_COMPAT, X32_SYSCALL_BIT,
};

use crate::maps::{
    konst, HOST_PIDNS_DEV, HOST_PIDNS_INO, HOST_PID_LEVEL, INTERESTING, OFFSETS, OWN_TGID, SCOPE,
    SCOPE_CGROUPS, SCOPE_LEVELS,
};

/// Read a field of a BTF pointer at an offset the verifier knows (a frozen .rodata constant):
/// a plain load, no helper.
#[inline(always)]
pub(crate) fn field<T: Copy>(base: *const u8, off: u32) -> T {
    // SAFETY: `base` is a BTF pointer and `off` a field offset from the running kernel's BTF;
    // the verifier checks the load against the BTF type and makes it fault-safe (PROBE_MEM).
    unsafe { core::ptr::read_volatile(base.add(off as usize) as *const T) }
}

/// `bpf_get_current_pid_tgid()` without the helper call.
#[inline(always)]
pub(crate) fn pid_tgid(task: *const u8) -> u64 {
    let o = &OFFSETS;
    let pid: u32 = field(task, konst(&o.task_pid));
    let tgid: u32 = field(task, konst(&o.task_tgid));
    ((tgid as u64) << 32) | pid as u64
}

/// `bpf_get_current_cgroup_id()` without the helper call:
/// `task->cgroups->dfl_cgrp->kn->id` (RCU-protected; programs run under RCU).
#[inline(always)]
pub(crate) fn cgroup_id(task: *const u8) -> u64 {
    let o = &OFFSETS;
    let cset: *const u8 = field(task, konst(&o.task_cgroups));
    if cset.is_null() {
        // SAFETY: bpf_get_current_cgroup_id takes no arguments and only reads the current task.
        return unsafe { bpf_get_current_cgroup_id() };
    }
    let cgrp: *const u8 = field(cset, konst(&o.css_set_dfl_cgrp));
    if cgrp.is_null() {
        // SAFETY: bpf_get_current_cgroup_id takes no arguments and only reads the current task.
        return unsafe { bpf_get_current_cgroup_id() };
    }
    let kn: *const u8 = field(cgrp, konst(&o.cgroup_kn));
    if kn.is_null() {
        // SAFETY: bpf_get_current_cgroup_id takes no arguments and only reads the current task.
        return unsafe { bpf_get_current_cgroup_id() };
    }
    field(kn, konst(&o.kn_id))
}

/// Deepest cgroup level a scope entry may sit at.
const MAX_LEVEL: i32 = 32;

#[inline(always)]
pub(crate) fn is_own(pid_tgid: u64) -> bool {
    (pid_tgid >> 32) as u32 == konst(&OWN_TGID)
}

/// True when the current task runs in the agent's pid namespace or above it: the depth of its
/// pid namespace (`task->thread_pid->level`, two plain loads through BTF pointers) is not
/// below the agent's. Cheaper than `bpf_get_ns_current_pid_tgid` on every syscall.
#[inline(always)]
pub(crate) fn in_host_pidns_fast(task: *const u8) -> bool {
    let o = &OFFSETS;
    if konst(&o.pid_level) == 0 && konst(&o.task_thread_pid) == 0 {
        return in_host_pidns();
    }
    let pid: *const u8 = field(task, konst(&o.task_thread_pid));
    if pid.is_null() {
        return true;
    }
    let level: u32 = field(pid, konst(&o.pid_level));
    level <= konst(&HOST_PID_LEVEL)
}

/// True when the current task runs in the host pid namespace.
#[inline(always)]
pub(crate) fn in_host_pidns() -> bool {
    let mut info = bpf_pidns_info { pid: 0, tgid: 0 };
    // Fails (-EINVAL) when the task's pid namespace is not the one given.
    // SAFETY: `info` is a live stack struct and the size passed is its own, so the helper
    // writes only inside it.
    let rc = unsafe {
        bpf_get_ns_current_pid_tgid(
            konst(&HOST_PIDNS_DEV),
            konst(&HOST_PIDNS_INO),
            &mut info,
            core::mem::size_of::<bpf_pidns_info>() as u32,
        )
    };
    rc == 0
}

/// How the current task is in scope, with what the check learned on the way.
#[derive(Clone, Copy)]
pub(crate) enum InScope {
    /// Every task is (`scope::ALL`): nothing was read.
    Any,
    /// It runs outside the host pid namespace (`scope::CONTAINERS`).
    Container,
    /// Its cgroup is below this scope root (`scope::CGROUPS`).
    Under(u64),
}

impl InScope {
    /// The cgroup the task is accounted to for profiles: the matching scope root for
    /// `scope::CGROUPS`, the task's own cgroup otherwise.
    #[inline(always)]
    pub(crate) fn key(self, task: *const u8) -> u64 {
        match self {
            InScope::Under(root) => root,
            InScope::Any | InScope::Container => cgroup_id(task),
        }
    }

    /// Whether the task runs outside the host pid namespace, when the check already knows.
    #[inline(always)]
    pub(crate) fn non_host(self) -> Option<bool> {
        match self {
            InScope::Container => Some(true),
            InScope::Any | InScope::Under(_) => None,
        }
    }
}

/// Container scope: `Some` when the current task is in scope. Only what the scope needs is
/// read: the task's cgroup id waits until a record or a profile needs it.
#[inline(always)]
pub(crate) fn in_scope(task: *const u8) -> Option<InScope> {
    match konst(&SCOPE) {
        scope::ALL => Some(InScope::Any),
        scope::CONTAINERS => {
            if in_host_pidns_fast(task) {
                None
            } else {
                Some(InScope::Container)
            }
        }
        kind => {
            let levels = konst(&SCOPE_LEVELS);
            let mut level = 0;
            while level < MAX_LEVEL {
                if levels & (1 << level) != 0 {
                    // SAFETY: the helper takes a plain level and returns 0 when the task's
                    // cgroup is not that deep.
                    let id = unsafe { bpf_get_current_ancestor_cgroup_id(level) };
                    // SAFETY: only presence is tested; the value reference, which user
                    // space could change under us, is never read.
                    if id != 0 && unsafe { SCOPE_CGROUPS.get(id) }.is_some() {
                        return Some(InScope::Under(id));
                    }
                }
                level += 1;
            }
            if kind == scope::CGROUPS_AND_CONTAINERS && !in_host_pidns_fast(task) {
                return Some(InScope::Container);
            }
            None
        }
    }
}

/// ABI of the current syscall: x32 by its number bit, ia32 by the task's `TS_COMPAT` status
/// (which is what seccomp itself uses, so `int 0x80` from 64-bit code counts as ia32 too).
#[inline(always)]
pub(crate) fn syscall_abi(task: *const u8, id: u64) -> u8 {
    if id & X32_SYSCALL_BIT != 0 {
        return abi::X32;
    }
    let off = konst(&OFFSETS.task_ti_status);
    if off == 0 {
        return abi::X86_64;
    }
    let status: u32 = field(task, off);
    if status & TS_COMPAT != 0 {
        abi::IA32
    } else {
        abi::X86_64
    }
}

/// Is syscall `nr` of ABI `abi` (native or ia32) in the interesting set?
#[inline(always)]
pub(crate) fn interesting(abi_idx: u8, nr: u32) -> bool {
    if nr as usize >= MAX_SYSCALLS {
        return false;
    }
    let idx = abi_idx as u32 * BITMAP_WORDS as u32 + nr / 64;
    match INTERESTING.get(idx) {
        Some(word) => *word & (1u64 << (nr % 64)) != 0,
        None => false,
    }
}

/// Run the filter chain shared by the syscall programs, counting what it drops.
/// Returns how the task is in scope and the syscall's ABI.
#[inline(always)]
pub(crate) fn syscall_filters(
    c: &mut Counters,
    task: *const u8,
    pid_tgid: u64,
    id: i64,
) -> Option<(InScope, u8)> {
    if is_own(pid_tgid) {
        c.filtered_self += 1;
        return None;
    }
    if id < 0 {
        c.filtered_id += 1;
        return None;
    }
    let Some(scope) = in_scope(task) else {
        c.filtered_scope += 1;
        return None;
    };
    Some((scope, syscall_abi(task, id as u64)))
}
