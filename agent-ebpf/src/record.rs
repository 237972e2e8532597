//! Building records: the common header, syscall records (fixed, or with strings and a socket
//! address assembled in the per-CPU scratch slot), and the ring-buffer output.

use aya_ebpf::{
    bindings::{pt_regs, BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{
        bpf_probe_read_user, bpf_probe_read_user_buf,
        generated::{
            bpf_get_current_comm, bpf_get_current_task_btf, bpf_get_current_uid_gid,
            bpf_get_smp_processor_id, bpf_ktime_get_boot_ns, bpf_probe_read_user_str,
        },
    },
};
use sysaudit_common::{
    abi, anomaly, flags, ArgSpec, Counters, FileFacts, Header, SyscallRecord, MAX_SYSCALLS,
    PATH_MAX, SNAPLEN, SOCKADDR_MAX, TASK_COMM_LEN,
};

use crate::{
    filter::{cgroup_id, field, in_host_pidns_fast, InScope},
    maps::{
        konst, ARG_SPECS, EVENTS, HOST_PIDNS_INO, OFFSETS, RING_WAKE_BYTES, SCRATCH, SCRATCH_SIZE,
        SCRATCH_SYSCALL,
    },
};

/// Fill the header of a record about the current task: what the helpers
/// `bpf_get_current_{cgroup_id,uid_gid,comm}` and `bpf_get_ns_current_pid_tgid` would give,
/// as plain loads through the task's BTF pointer (each helper call cost tens of ns on every
/// record).
#[inline(always)]
pub(crate) fn fill_header(hdr: &mut Header, kind: u16, abi_idx: u8, pid_tgid: u64) {
    // SAFETY: the helper takes no arguments.
    let task = unsafe { bpf_get_current_task_btf() } as *const u8;
    fill_header_of(hdr, kind, abi_idx, pid_tgid, task, None);
}

/// [`fill_header`] for a caller that already holds the current task (the syscall programs)
/// and may know from the scope check whether it runs outside the host pid namespace.
#[inline(always)]
pub(crate) fn fill_header_of(
    hdr: &mut Header,
    kind: u16,
    abi_idx: u8,
    pid_tgid: u64,
    task: *const u8,
    non_host: Option<bool>,
) {
    hdr.kind = kind;
    hdr.abi = abi_idx;
    hdr.flags = 0;
    hdr.tail_len = 0;
    // SAFETY: the helper takes no arguments.
    hdr.cpu = unsafe { bpf_get_smp_processor_id() } as u16;
    // SAFETY: the helper takes no arguments.
    hdr.ts_ns = unsafe { bpf_ktime_get_boot_ns() };
    hdr.cgroup_id = cgroup_id(task);
    let o = &OFFSETS;
    if konst(&o.cred_uid) != 0 {
        let cred: *const u8 = field(task, konst(&o.task_cred));
        let uid: u32 = field(cred, konst(&o.cred_uid));
        let gid: u32 = field(cred, konst(&o.cred_gid));
        hdr.uid_gid = ((gid as u64) << 32) | uid as u64;
    } else {
        // SAFETY: the helper takes no arguments.
        hdr.uid_gid = unsafe { bpf_get_current_uid_gid() };
    }
    if konst(&o.task_comm) != 0 {
        let lo: u64 = field(task, konst(&o.task_comm));
        let hi: u64 = field(task, konst(&o.task_comm) + 8);
        hdr.comm[..8].copy_from_slice(&lo.to_ne_bytes());
        hdr.comm[8..].copy_from_slice(&hi.to_ne_bytes());
    } else {
        // SAFETY: bpf_get_current_comm writes at most TASK_COMM_LEN bytes into `hdr.comm`, an
        // array of exactly that size.
        unsafe { bpf_get_current_comm(hdr.comm.as_mut_ptr().cast(), TASK_COMM_LEN as u32) };
    }
    hdr.pid_tgid = pid_tgid;
    let non_host = match non_host {
        Some(known) => known,
        None => konst(&HOST_PIDNS_INO) != 0 && !in_host_pidns_fast(task),
    };
    if non_host {
        hdr.flags |= flags::NON_HOST_PIDNS;
    }
}

/// Syscall argument `n` from the saved user registers, in the ABI's calling convention.
#[inline(always)]
pub(crate) fn arg(regs: *const pt_regs, abi_idx: u8, n: u8) -> u64 {
    // SAFETY: direct loads: in a tp_btf program `regs` is a BTF pointer the verifier lets us read.
    unsafe {
        if abi_idx == abi::IA32 {
            match n {
                0 => (*regs).rbx,
                1 => (*regs).rcx,
                2 => (*regs).rdx,
                3 => (*regs).rsi,
                4 => (*regs).rdi,
                _ => (*regs).rbp,
            }
        } else {
            match n {
                0 => (*regs).rdi,
                1 => (*regs).rsi,
                2 => (*regs).rdx,
                3 => (*regs).r10,
                4 => (*regs).r8,
                _ => (*regs).r9,
            }
        }
    }
}

#[inline(always)]
fn all_args(regs: *const pt_regs, abi_idx: u8) -> [u64; 6] {
    [
        arg(regs, abi_idx, 0),
        arg(regs, abi_idx, 1),
        arg(regs, abi_idx, 2),
        arg(regs, abi_idx, 3),
        arg(regs, abi_idx, 4),
        arg(regs, abi_idx, 5),
    ]
}

#[inline(always)]
pub(crate) fn arg_spec(abi_idx: u8, nr: u32) -> ArgSpec {
    // x32 shares the native table's numbers for the calls that matter here.
    let table = if abi_idx == abi::IA32 { 1 } else { 0 };
    match ARG_SPECS.get(table * MAX_SYSCALLS as u32 + nr) {
        Some(s) => *s,
        None => ArgSpec::EMPTY,
    }
}

const FIXED: usize = core::mem::size_of::<SyscallRecord>();
const PATH_MASK: usize = PATH_MAX - 1;
// Room for the fixed part, two paths and an address; the masks below keep every offset
// provably inside the slot for the verifier.
const _: () = assert!(FIXED + 2 * PATH_MAX + SOCKADDR_MAX <= crate::paths::KEYS_AT);
// The file facts of an open go where an address would (opens have none).
const FACTS: usize = core::mem::size_of::<FileFacts>();
const _: () = assert!(FACTS <= SOCKADDR_MAX);

/// Emit one syscall record. `ret` is `None` for calls recorded at entry. `copy` false skips
/// user-memory arguments (after a successful execve they point into the old, gone image).
/// Returns the [`anomaly`] bits met on the way (0 almost always), for the caller to log.
#[inline(always)]
pub(crate) fn emit_syscall(
    c: &mut Counters,
    regs: *const pt_regs,
    (task, pid_tgid, scope): (*const u8, u64, InScope),
    abi_idx: u8,
    nr: u32,
    ret: Option<i64>,
    copy: bool,
) -> u8 {
    let who = (task, pid_tgid, scope.non_host());
    let spec = if copy {
        arg_spec(abi_idx, nr)
    } else {
        ArgSpec::EMPTY
    };
    let simple = spec.str_arg[0] == ArgSpec::NONE
        && spec.str_arg[1] == ArgSpec::NONE
        && spec.addr_arg == ArgSpec::NONE
        && (spec.file == 0 || ret.is_none_or(|r| r < 0))
        && (spec.buf_arg == ArgSpec::NONE || ret.is_none_or(|r| r <= 0));
    if simple {
        // Fixed size: reserve in place, no copy.
        let Some(mut entry) = EVENTS.reserve::<SyscallRecord>(0) else {
            c.ring_full += 1;
            return 0;
        };
        // SAFETY: the ring buffer entry is reserved for us and sized for the record; we are its
        // only writer until submit.
        let rec = unsafe { &mut *entry.as_mut_ptr() };
        fill_syscall(rec, regs, who, abi_idx, nr, ret);
        entry.submit(syscall_wake_flags(c));
        c.emitted += 1;
        return 0;
    }

    let Some(buf) = SCRATCH.get_ptr_mut(SCRATCH_SYSCALL) else {
        c.no_scratch += 1;
        return anomaly::NO_SCRATCH;
    };
    let mut met = 0u8;
    let buf = buf as *mut u8;
    // SAFETY: `buf` is this CPU's syscall scratch slot, map memory aligned for and larger
    // than the record; lifecycle programs use their own slot, so nothing else writes it.
    let rec = unsafe { &mut *(buf as *mut SyscallRecord) };
    fill_syscall(rec, regs, who, abi_idx, nr, ret);

    // Bytes of tail written so far; kept provably below 2 * PATH_MAX for the verifier.
    let mut tail = 0usize;
    let mut i = 0;
    while i < 2 {
        let a = spec.str_arg[i];
        if a != ArgSpec::NONE {
            let ptr = arg(regs, abi_idx, a - 1) as *const u8;
            // SAFETY: the masked offset is below PATH_MAX and FIXED + 2 * PATH_MAX fits the slot
            // (asserted above), so `dst` and the PATH_MAX bytes after it are in bounds.
            let dst = unsafe { buf.add(FIXED + (tail & PATH_MASK)) };
            // SAFETY: writes at most PATH_MAX bytes at `dst` (in bounds, above); a bad user
            // pointer only makes the read fail.
            let n = unsafe { bpf_probe_read_user_str(dst.cast(), PATH_MAX as u32, ptr.cast()) };
            if n > 0 {
                // n counts the NUL; a full buffer means the path was cut.
                let len = (n as usize - 1) & PATH_MASK;
                if n as usize == PATH_MAX {
                    rec.hdr.flags |= flags::TRUNCATED;
                    c.paths_cut += 1;
                    met |= anomaly::PATH_CUT;
                }
                rec.str_len[i] = len as u16;
                // The first path sits at FIXED: the filter judges it there.
                if i == 0
                    && spec.filter != 0
                    && ret.is_some()
                    && crate::paths::dropped(buf, FIXED, len)
                {
                    c.filtered_path += 1;
                    return met;
                }
                tail = (tail & PATH_MASK) + len;
            } else if ptr as usize != 0 {
                rec.hdr.flags |= flags::READ_FAULT;
                c.read_faults += 1;
            }
        }
        i += 1;
    }

    // An I/O buffer: as many bytes as the call moved, at most SNAPLEN, in the string slot
    // after the paths.
    let slot =
        (spec.str_arg[0] != ArgSpec::NONE) as usize + (spec.str_arg[1] != ArgSpec::NONE) as usize;
    if let (true, Some(r)) = (spec.buf_arg != ArgSpec::NONE && slot < 2, ret) {
        if r > 0 {
            let ptr = arg(regs, abi_idx, spec.buf_arg - 1) as *const u8;
            let want = if r as u64 > SNAPLEN as u64 {
                SNAPLEN
            } else {
                r as usize
            };
            let l = want & (2 * SNAPLEN - 1);
            let o = tail & PATH_MASK;
            if l <= SNAPLEN && ptr as usize != 0 {
                // SAFETY: o < PATH_MAX and l <= SNAPLEN keep the bytes inside the slot (asserted
                // above) and past the fixed part `rec` covers; any u8 is valid.
                let dst = unsafe { core::slice::from_raw_parts_mut(buf.add(FIXED + o), l) };
                // SAFETY: the helper writes at most dst.len() bytes and fails cleanly on a bad
                // user pointer.
                if unsafe { bpf_probe_read_user_buf(ptr, dst) }.is_ok() {
                    rec.str_len[slot & 1] = l as u16;
                    tail = o + l;
                } else {
                    rec.hdr.flags |= flags::READ_FAULT;
                    c.read_faults += 1;
                }
            }
        }
    }

    if spec.addr_arg != ArgSpec::NONE {
        let ptr = arg(regs, abi_idx, spec.addr_arg - 1) as *const u8;
        let len_arg = spec.addr_len_arg;
        let mut len: u64 = SOCKADDR_MAX as u64;
        let len_pos = len_arg & !ArgSpec::LEN_PTR;
        if len_pos != ArgSpec::NONE {
            let v = arg(regs, abi_idx, len_pos - 1);
            len = if len_arg & ArgSpec::LEN_PTR != 0 {
                if v == 0 {
                    0
                } else {
                    // SAFETY: bpf_probe_read_user fails cleanly on a bad user address.
                    unsafe { bpf_probe_read_user(v as *const u32) }.unwrap_or(0) as u64
                }
            } else {
                v
            };
        }
        if len > SOCKADDR_MAX as u64 {
            len = SOCKADDR_MAX as u64;
        }
        if ptr as usize != 0 && len > 0 {
            // Bound the offset so the verifier can prove the copy stays in the slot.
            let o = tail & (2 * PATH_MAX - 1);
            let l = (len as usize) & (SOCKADDR_MAX * 2 - 1);
            if l <= SOCKADDR_MAX {
                // SAFETY: o < 2 * PATH_MAX and l <= SOCKADDR_MAX keep the bytes inside the slot
                // (asserted above) and past the fixed part `rec` covers; any u8 is valid.
                let dst = unsafe { core::slice::from_raw_parts_mut(buf.add(FIXED + o), l) };
                // SAFETY: the helper writes at most dst.len() bytes and fails cleanly on a bad user
                // pointer.
                if unsafe { bpf_probe_read_user_buf(ptr, dst) }.is_ok() {
                    rec.addr_len = l as u16;
                    tail = o + l;
                } else {
                    rec.hdr.flags |= flags::READ_FAULT;
                    c.read_faults += 1;
                }
            }
        }
    }

    // The file behind the descriptor an open returned.
    if let (true, Some(r)) = (spec.file != 0 && tail < 2 * PATH_MAX, ret) {
        if r >= 0 {
            let facts = crate::vfs::fd_file(task as u64, r as u64);
            if facts.ino != 0 {
                let o = tail & (2 * PATH_MAX - 1);
                // SAFETY: o < 2 * PATH_MAX and FACTS <= SOCKADDR_MAX keep the bytes inside the
                // slot (asserted above), past the fixed part `rec` covers.
                unsafe { core::ptr::write_unaligned(buf.add(FIXED + o) as *mut FileFacts, facts) };
                rec.hdr.flags |= flags::FILE_FACTS;
                tail = o + FACTS;
            }
        }
    }

    let total = FIXED + tail;
    rec.hdr.tail_len = tail as u16;
    if total > SCRATCH_SIZE {
        c.too_big += 1;
        return met | anomaly::TOO_BIG;
    }
    if output_with(buf, total, syscall_wake_flags(c)) {
        c.emitted += 1;
    } else {
        c.ring_full += 1;
    }
    met
}

/// Copy `len` bytes of a scratch slot into the ring buffer; false when the ring is full.
#[inline(always)]
pub(crate) fn output(buf: *const u8, len: usize) -> bool {
    output_with(buf, len, wake_flags())
}

#[inline(always)]
fn output_with(buf: *const u8, len: usize, flags: u64) -> bool {
    let len = len & (SCRATCH_SIZE - 1);
    // SAFETY: `buf` is a scratch slot of SCRATCH_SIZE bytes (a power of two) and `len` is
    // masked below that; map memory is initialized and not written while `data` lives.
    let data = unsafe { core::slice::from_raw_parts(buf, len) };
    EVENTS.output::<[u8]>(data, flags).is_ok()
}

#[inline(always)]
fn fill_syscall(
    rec: &mut SyscallRecord,
    regs: *const pt_regs,
    (task, pid_tgid, non_host): (*const u8, u64, Option<bool>),
    abi_idx: u8,
    nr: u32,
    ret: Option<i64>,
) {
    fill_header_of(
        &mut rec.hdr,
        sysaudit_common::kind::SYSCALL,
        abi_idx,
        pid_tgid,
        task,
        non_host,
    );
    rec.nr = nr;
    match ret {
        Some(r) => {
            rec.has_ret = 1;
            rec.ret = r;
        }
        None => {
            rec.has_ret = 0;
            rec.ret = 0;
        }
    }
    rec.args = all_args(regs, abi_idx);
    rec.str_len = [0, 0];
    rec.addr_len = 0;
    rec._pad = 0;
}

/// Records between two looks at the ring's fill level from the syscall programs (the query is
/// a helper call; the agent drains on its timer anyway, so a look every few records is enough).
const WAKE_CHECK_EVERY: u64 = 32;

/// [`wake_flags`] for syscall records: looked at once every `WAKE_CHECK_EVERY` records per CPU.
#[inline(always)]
fn syscall_wake_flags(c: &Counters) -> u64 {
    if c.emitted.is_multiple_of(WAKE_CHECK_EVERY) {
        wake_flags()
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
}

/// Submit silently unless the ring is filling up.
#[inline(always)]
pub(crate) fn wake_flags() -> u64 {
    if EVENTS.query(BPF_RB_AVAIL_DATA as u64) > konst(&RING_WAKE_BYTES) {
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
}
