//! Process lifecycle records for the agent's process table: fork, exec (with the path and the
//! argument list read from the new image's stack), exit.

use aya_ebpf::{
    bindings::pt_regs,
    helpers::{
        bpf_probe_read_kernel, bpf_probe_read_user,
        generated::{
            bpf_get_current_task_btf, bpf_probe_read_kernel_str, bpf_probe_read_user_str,
            bpf_task_pt_regs,
        },
    },
};
use sysaudit_common::{
    abi, flags, kind, CgroupRecord, Counters, ExecRecord, ExitRecord, ForkRecord, TaskCreds,
    ARGC_MAX, ARGV_MAX, PATH_MAX,
};

use crate::{
    maps::{konst, EVENTS, OFFSETS, SCRATCH, SCRATCH_LIFECYCLE, SCRATCH_SIZE},
    record::{fill_header, output, wake_flags},
};

/// User code segment selector of 32-bit tasks (`__USER32_CS`).
const USER32_CS: u64 = 0x23;

pub(crate) fn fork(c: &mut Counters, pid_tgid: u64, child: *const u8) {
    let off = &OFFSETS;
    // SAFETY: bpf_probe_read_kernel copies from kernel memory and fails cleanly on a bad
    // address; the offset is task_struct's `pid` from the running kernel's BTF.
    let child_pid: u32 =
        unsafe { bpf_probe_read_kernel(child.add(konst(&off.task_pid) as usize) as *const u32) }
            .unwrap_or(0);
    // SAFETY: as above, a checked kernel read at the BTF offset of task_struct's `tgid`.
    let child_tgid: u32 =
        unsafe { bpf_probe_read_kernel(child.add(konst(&off.task_tgid) as usize) as *const u32) }
            .unwrap_or(0);
    let child_vpid = vpid(child);
    let real_parent: u64 = rd(child as u64, konst(&off.task_real_parent));
    let parent_tgid: u32 = rd(real_parent, konst(&off.task_tgid));
    let Some(mut entry) = EVENTS.reserve::<ForkRecord>(0) else {
        c.lifecycle_lost += 1;
        return;
    };
    // SAFETY: the ring buffer entry is reserved for us and sized for the record; we are its
    // only writer until submit.
    let rec = unsafe { &mut *entry.as_mut_ptr() };
    fill_header(&mut rec.hdr, kind::FORK, abi::X86_64, pid_tgid);
    rec.child_pid = child_pid;
    rec.child_tgid = child_tgid;
    rec.child_vpid = child_vpid;
    rec.parent_tgid = parent_tgid;
    entry.submit(wake_flags());
    c.lifecycle_emitted += 1;
}

pub(crate) fn exit(c: &mut Counters, pid_tgid: u64) {
    let Some(mut entry) = EVENTS.reserve::<ExitRecord>(0) else {
        c.lifecycle_lost += 1;
        return;
    };
    // SAFETY: the ring buffer entry is reserved for us and sized for the record; we are its
    // only writer until submit.
    let rec = unsafe { &mut *entry.as_mut_ptr() };
    fill_header(&mut rec.hdr, kind::EXIT, abi::X86_64, pid_tgid);
    entry.submit(wake_flags());
    c.lifecycle_emitted += 1;
}

/// Read a kernel pointer-sized or integer value at `base + off` (0 on failure).
#[inline(always)]
pub(crate) fn rd<T: Copy + Default>(base: u64, off: u32) -> T {
    if base == 0 {
        return T::default();
    }
    // SAFETY: bpf_probe_read_kernel copies from kernel memory and fails cleanly on a bad
    // address (giving the default); `base` is non-null and `off` comes from the BTF.
    unsafe { bpf_probe_read_kernel((base as *const u8).add(off as usize) as *const T) }
        .unwrap_or_default()
}

/// The task's pid in its own (innermost) pid namespace: `thread_pid->numbers[level].nr`.
#[inline(always)]
fn vpid(task: *const u8) -> u32 {
    let o = &OFFSETS;
    if konst(&o.upid_size) == 0 {
        return 0;
    }
    let pid: u64 = rd(task as u64, konst(&o.task_thread_pid));
    let level: u32 = rd(pid, konst(&o.pid_level));
    if level > 32 {
        return 0;
    }
    rd::<i32>(pid, konst(&o.pid_numbers) + level * konst(&o.upid_size)) as u32
}

/// vpid, login uid, controlling tty and capabilities of a task.
#[inline(always)]
fn creds(task: *const u8) -> TaskCreds {
    let o = &OFFSETS;
    let t = task as u64;
    let mut out = TaskCreds {
        vpid: vpid(task),
        loginuid: u32::MAX,
        ..TaskCreds::default()
    };
    if konst(&o.task_loginuid) != 0 {
        out.loginuid = rd(t, konst(&o.task_loginuid));
        out.valid |= TaskCreds::LOGINUID;
    }
    let cred: u64 = rd(t, konst(&o.task_cred));
    if cred != 0 {
        out.cap_effective = rd(cred, konst(&o.cred_cap_effective));
        out.cap_permitted = rd(cred, konst(&o.cred_cap_permitted));
        out.cap_inheritable = rd(cred, konst(&o.cred_cap_inheritable));
        out.valid |= TaskCreds::CAPS;
    }
    let signal: u64 = rd(t, konst(&o.task_signal));
    let tty: u64 = rd(signal, konst(&o.signal_tty));
    if tty != 0 {
        let index: u32 = rd(tty, konst(&o.tty_index));
        let driver: u64 = rd(tty, konst(&o.tty_driver));
        let major: u32 = rd(driver, konst(&o.driver_major));
        let minor: u32 = rd::<u32>(driver, konst(&o.driver_minor_start)) + index;
        // new_encode_dev(), as /proc/<pid>/stat prints tty_nr.
        out.tty = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
    }
    out
}

const FIXED: usize = core::mem::size_of::<ExecRecord>();
const PATH_MASK: usize = PATH_MAX - 1;
const ARGV_MASK: usize = ARGV_MAX - 1;
// The tail: the exe's and the cwd's path components (below 2 * PATH_MAX, with a component's
// worth of slack), argv (offset below 2 * PATH_MAX), env (offset below 4 * ARGV_MAX), the
// filename (offset clamped to FNAME_AT_MAX); each bound is one the verifier can see.
const FNAME_AT_MAX: usize = 4 * ARGV_MAX + ARGV_MAX;
const _: () = assert!(2 * PATH_MAX == 2 * ARGV_MAX);
const _: () = assert!(FIXED + 2 * PATH_MAX + 256 <= SCRATCH_SIZE);
const _: () = assert!(FIXED + 4 * ARGV_MAX + ARGV_MAX <= SCRATCH_SIZE);
const _: () = assert!(FIXED + FNAME_AT_MAX + PATH_MAX <= WALK_AT);
/// Where the path walk keeps its state: the end of the slot, past the record.
const WALK_AT: usize = SCRATCH_SIZE - 64;
const _: () = assert!(WALK_AT + core::mem::size_of::<crate::vfs::WalkState>() <= SCRATCH_SIZE);

/// One pointer slot of the initial stack (4 bytes for 32-bit images).
#[inline(always)]
fn read_slot(at: u64, compat: bool) -> u64 {
    if compat {
        // SAFETY: bpf_probe_read_user copies from user memory and fails cleanly on a bad or
        // unmapped address.
        unsafe { bpf_probe_read_user(at as *const u32) }.unwrap_or(0) as u64
    } else {
        // SAFETY: as above, a checked user read that fails cleanly.
        unsafe { bpf_probe_read_user(at as *const u64) }.unwrap_or(0)
    }
}

/// Copy the strings of a NULL-terminated pointer array at `arr` (at most `limit` entries and
/// ARGC_MAX) into `dst`, NUL-separated, at most ARGV_MAX bytes. Returns (bytes, strings).
#[inline(always)]
fn copy_strv(
    hflags: &mut u8,
    dst: *mut u8,
    arr: u64,
    slot: u64,
    compat: bool,
    limit: u64,
) -> (usize, u32) {
    let mut used = 0usize;
    let mut i = 0u32;
    while i < ARGC_MAX {
        if i as u64 >= limit {
            break;
        }
        let p = read_slot(arr + slot * i as u64, compat);
        if p == 0 {
            break;
        }
        let room = ARGV_MAX - (used & ARGV_MASK);
        // SAFETY: the masked offset plus `room` stays within the ARGV_MAX bytes at `dst`, inside
        // the scratch slot (asserted above); a bad user `p` only makes the read fail.
        let n = unsafe {
            bpf_probe_read_user_str(dst.add(used & ARGV_MASK).cast(), room as u32, p as *const _)
        };
        if n <= 0 {
            *hflags |= flags::READ_FAULT;
            break;
        }
        used = (used & ARGV_MASK) + n as usize;
        if used >= ARGV_MAX {
            *hflags |= flags::TRUNCATED;
            used = ARGV_MAX;
            break;
        }
        i += 1;
    }
    (used, i)
}

pub(crate) fn exec(c: &mut Counters, pid_tgid: u64, old_pid: u32, bprm: *const u8) {
    let Some(buf) = SCRATCH.get_ptr_mut(SCRATCH_LIFECYCLE) else {
        return;
    };
    let buf = buf as *mut u8;
    // SAFETY: `buf` is this CPU's lifecycle scratch slot, map memory aligned for and larger
    // than the record; it is not the syscall slot, so nothing else writes it meanwhile.
    let rec = unsafe { &mut *(buf as *mut ExecRecord) };
    // The new image's registers: start_thread() has set the user stack and code segment.
    // SAFETY: both helpers only take the current task, a valid BTF pointer; the result is
    // read only through bpf_probe_read_kernel below.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as *const pt_regs;
    // SAFETY: `(*regs).rsp` and `(*regs).cs` only form field addresses; the reads are done by
    // bpf_probe_read_kernel, which fails cleanly (0) if `regs` is bad.
    let (sp, cs) = unsafe {
        (
            bpf_probe_read_kernel(&(*regs).rsp).unwrap_or(0),
            bpf_probe_read_kernel(&(*regs).cs).unwrap_or(0),
        )
    };
    let compat = cs == USER32_CS;
    fill_header(
        &mut rec.hdr,
        kind::EXEC,
        if compat { abi::IA32 } else { abi::X86_64 },
        pid_tgid,
    );
    rec.old_pid = old_pid;
    // SAFETY: the helper takes no arguments; creds() and facts() read through the task
    // pointer it returns only with bpf_probe_read_kernel.
    let task = unsafe { aya_ebpf::helpers::bpf_get_current_task() };
    rec.creds = creds(task as *const u8);
    // SAFETY: FIXED + 2 * PATH_MAX + 256 fits the slot (asserted above): the paths' region;
    // the walk's state sits at WALK_AT, past every record byte.
    rec.exe = crate::vfs::facts(task, unsafe { buf.add(FIXED) }, unsafe {
        buf.add(WALK_AT) as *mut crate::vfs::WalkState
    });
    rec.argc = 0;
    rec.filename_len = 0;
    rec.argv_len = 0;
    rec.env_len = 0;
    rec._pad = 0;

    // Initial process stack (System V ABI): argc, argv[] pointers, NULL, envp[] pointers, NULL.
    let slot = if compat { 4u64 } else { 8u64 };
    let argc: u64 = read_slot(sp, compat);
    rec.argc = argc as u32;
    let argv_at = (rec.exe.exe_len as usize + rec.exe.cwd_len as usize) & (2 * PATH_MAX - 1);
    // SAFETY: argv_at is masked below 2 * ARGV_MAX, so it and the ARGV_MAX bytes copy_strv
    // writes there stay inside the slot (asserted above).
    let (used, n) = copy_strv(
        &mut rec.hdr.flags,
        unsafe { buf.add(FIXED + argv_at) },
        sp + slot,
        slot,
        compat,
        argc,
    );
    if n as u64 >= ARGC_MAX as u64 && argc > ARGC_MAX as u64 {
        rec.hdr.flags |= flags::TRUNCATED;
    }
    rec.argv_len = used as u16;
    let env_at = (argv_at + (used & (2 * ARGV_MAX - 1))) & (4 * ARGV_MAX - 1);
    let envp = sp + slot * (argc + 2);
    // SAFETY: env_at is masked below 4 * ARGV_MAX, so it and the ARGV_MAX bytes written
    // there stay within FIXED + 5 * ARGV_MAX, inside the slot (asserted above).
    let (env_used, _) = copy_strv(
        &mut rec.hdr.flags,
        unsafe { buf.add(FIXED + env_at) },
        envp,
        slot,
        compat,
        u64::MAX,
    );
    rec.env_len = env_used as u16;

    // bprm->filename (the path as passed to execve) after the arguments and environment.
    let fname_off = konst(&OFFSETS.bprm_filename) as usize;
    // SAFETY: bpf_probe_read_kernel copies from kernel memory and fails cleanly on a bad
    // address; the offset is linux_binprm's `filename` from the running kernel's BTF.
    let fname: u64 =
        unsafe { bpf_probe_read_kernel(bprm.add(fname_off) as *const u64) }.unwrap_or(0);
    let mut flen = 0usize;
    let mut at = env_at + (env_used & (2 * ARGV_MAX - 1));
    if at > FNAME_AT_MAX {
        at = FNAME_AT_MAX;
    }
    if fname != 0 {
        // SAFETY: `at` is at most FNAME_AT_MAX, so the PATH_MAX-byte copy stays inside the
        // scratch slot (asserted above); bpf_probe_read_kernel_str fails cleanly on a bad
        // `fname`.
        let n = unsafe {
            bpf_probe_read_kernel_str(
                buf.add(FIXED + at).cast(),
                PATH_MAX as u32,
                fname as *const _,
            )
        };
        if n > 0 {
            flen = (n as usize - 1) & PATH_MASK;
        }
    }
    rec.filename_len = flen as u16;

    let tail = at + flen;
    rec.hdr.tail_len = tail as u16;
    if output(buf, FIXED + tail) {
        c.lifecycle_emitted += 1;
    } else {
        c.lifecycle_lost += 1;
    }
}

const CG_FIXED: usize = core::mem::size_of::<CgroupRecord>();
const _: () = assert!(CG_FIXED + PATH_MAX <= SCRATCH_SIZE);

/// A cgroup of the v2 hierarchy (hierarchy id 0) was made or removed.
pub(crate) fn cgroup(
    c: &mut Counters,
    pid_tgid: u64,
    record_kind: u16,
    cgrp: *const u8,
    path: *const u8,
) {
    let off = &OFFSETS;
    // SAFETY: bpf_probe_read_kernel copies from kernel memory and fails cleanly on a bad
    // address; the offset comes from the running kernel's BTF.
    let root: u64 =
        unsafe { bpf_probe_read_kernel(cgrp.add(konst(&off.cgroup_root) as usize) as *const u64) }
            .unwrap_or(0);
    if root == 0 {
        return;
    }
    // SAFETY: as above, a checked kernel read of the root's hierarchy id at its BTF offset.
    let hierarchy: i32 = unsafe {
        bpf_probe_read_kernel(
            (root as *const u8).add(konst(&off.root_hierarchy_id) as usize) as *const i32,
        )
    }
    .unwrap_or(-1);
    if hierarchy != 0 {
        return;
    }
    // SAFETY: as above, a checked kernel read of the cgroup's `kn` at its BTF offset.
    let kn: u64 =
        unsafe { bpf_probe_read_kernel(cgrp.add(konst(&off.cgroup_kn) as usize) as *const u64) }
            .unwrap_or(0);
    if kn == 0 {
        return;
    }
    // SAFETY: as above, a checked kernel read of the kernfs node's id at its BTF offset.
    let id: u64 = unsafe {
        bpf_probe_read_kernel((kn as *const u8).add(konst(&off.kn_id) as usize) as *const u64)
    }
    .unwrap_or(0);
    let Some(buf) = SCRATCH.get_ptr_mut(SCRATCH_LIFECYCLE) else {
        return;
    };
    let buf = buf as *mut u8;
    // SAFETY: `buf` is this CPU's lifecycle scratch slot, map memory aligned for and larger
    // than the record; nothing else writes it while we build the record.
    let rec = unsafe { &mut *(buf as *mut CgroupRecord) };
    fill_header(&mut rec.hdr, record_kind, abi::X86_64, pid_tgid);
    rec.id = id;
    rec._pad = [0; 3];
    // SAFETY: CG_FIXED + PATH_MAX fits the scratch slot (asserted above); the helper writes
    // at most PATH_MAX bytes there and fails cleanly on a bad `path`.
    let n = unsafe {
        bpf_probe_read_kernel_str(buf.add(CG_FIXED).cast(), PATH_MAX as u32, path.cast())
    };
    let len = if n > 0 {
        (n as usize - 1) & PATH_MASK
    } else {
        0
    };
    rec.path_len = len as u16;
    rec.hdr.tail_len = len as u16;
    if output(buf, CG_FIXED + len) {
        c.lifecycle_emitted += 1;
    } else {
        c.lifecycle_lost += 1;
    }
}
