//! io_uring operations ([`sysaudit_common::uring`]): each request of a task in scope is read
//! when submitted — its arguments and paths, which the kernel frees before completion — into
//! a record held in `URING_PENDING` under the request's address, and emitted with its result
//! when its completion is posted.

use aya_ebpf::helpers::{
    bpf_probe_read_user_buf,
    generated::{bpf_ktime_get_boot_ns, bpf_probe_read_kernel_str},
};
use sysaudit_common::{
    abi, flags, kind,
    uring::{op, syscall, CQE_F_MORE, PF_IO_WORKER, REQ_F_CQE_SKIP, REQ_F_FIXED_FILE},
    Counters, FileFacts, SyscallRecord, PATH_MAX, SOCKADDR_MAX,
};

use crate::{
    filter::{self, field},
    lifecycle::rd,
    maps::{konst, OFFSETS, SCRATCH, SCRATCH_URING, URING, URING_PENDING},
    record::{self, fill_header_of},
};

const FIXED: usize = core::mem::size_of::<SyscallRecord>();
/// A pending record: the fixed part, two paths, and an address or the file facts.
pub(crate) const PENDING_SIZE: usize = FIXED + 2 * PATH_MAX + SOCKADDR_MAX;
const FACTS: usize = core::mem::size_of::<FileFacts>();
const PATH_MASK: usize = PATH_MAX - 1;
const _: () = assert!(FACTS <= SOCKADDR_MAX);
const _: () = assert!(PENDING_SIZE <= crate::paths::KEYS_AT);
/// `struct open_how` as openat2 takes it: its size is the call's fourth argument.
const OPEN_HOW_SIZE: u64 = 24;

/// `openat` and `openat2`: the calls whose result is a descriptor to a file.
const OPENAT_NR: u32 = match syscall(op::OPENAT) {
    Some((n, _)) => n,
    None => 0,
};
const OPENAT2_NR: u32 = match syscall(op::OPENAT2) {
    Some((n, _)) => n,
    None => 0,
};

/// Read request `req` (an `io_kiocb`) at submission.
#[inline(always)]
pub(crate) fn submit(c: &mut Counters, task: *const u8, pid_tgid: u64, req: *const u8) {
    let u = &URING;
    let op_off = konst(&u.req_opcode);
    if op_off == 0 || filter::is_own(pid_tgid) {
        return;
    }
    let opcode: u8 = field(req, op_off);
    let Some((nr, _)) = syscall(opcode) else {
        return;
    };
    if !filter::interesting(abi::X86_64, nr) {
        return;
    }
    let Some(scope) = filter::in_scope(task) else {
        return;
    };
    let Some(buf) = SCRATCH.get_ptr_mut(SCRATCH_URING) else {
        c.no_scratch += 1;
        return;
    };
    let buf = buf as *mut u8;
    // SAFETY: `buf` is this CPU's io_uring scratch slot, map memory aligned for and larger
    // than the record; no other program uses that slot.
    let rec = unsafe { &mut *(buf as *mut SyscallRecord) };
    fill_header_of(
        &mut rec.hdr,
        kind::SYSCALL,
        abi::X86_64,
        pid_tgid,
        task,
        scope.non_host(),
    );
    rec.hdr.flags |= flags::IO_URING;
    // The poller or worker thread submits for its process: the record names the process's
    // main thread (its name is the one rules know), not `iou-sqp-<pid>`.
    let tflags: u32 = field(task, konst(&u.task_flags));
    if tflags & PF_IO_WORKER != 0 {
        let leader: *const u8 = field(task, konst(&u.task_group_leader));
        if !leader.is_null() {
            let o = &OFFSETS;
            let lo: u64 = field(leader, konst(&o.task_comm));
            let hi: u64 = field(leader, konst(&o.task_comm) + 8);
            rec.hdr.comm[..8].copy_from_slice(&lo.to_ne_bytes());
            rec.hdr.comm[8..].copy_from_slice(&hi.to_ne_bytes());
            let pid: u32 = field(leader, konst(&o.task_pid));
            rec.hdr.pid_tgid = (pid_tgid & !0xffff_ffff) | pid as u64;
        }
    }
    rec.nr = nr;
    rec.has_ret = 0;
    rec.ret = 0;
    rec.str_len = [0, 0];
    rec.addr_len = 0;
    rec._pad = 0;

    let req_flags: u64 = field(req, konst(&u.req_flags));
    // A registered file's index is no process descriptor.
    let fd: u64 = if req_flags & REQ_F_FIXED_FILE != 0 {
        u64::MAX
    } else {
        field::<i32>(req, konst(&u.req_fd)) as i64 as u64
    };
    let cmd = req as u64 + konst(&u.req_cmd) as u64;
    let int = |off: u32| rd::<i32>(cmd, off) as i64 as u64;
    let ptr = |off: u32| rd::<u64>(cmd, off);
    // Paths (`struct filename *`), a direct-descriptor slot, and a user socket address.
    let (mut p0, mut p1, mut slot, mut addr, mut addr_len) = (0u64, 0u64, 0u32, 0u64, 0u64);
    let args = match opcode {
        op::OPENAT | op::OPENAT2 => {
            p0 = ptr(konst(&u.open_filename));
            slot = rd(cmd, konst(&u.open_file_slot));
            let dfd = int(konst(&u.open_dfd));
            if opcode == op::OPENAT {
                let how = konst(&u.open_how);
                [dfd, 0, ptr(how), ptr(how + 8), 0, 0]
            } else {
                [dfd, 0, 0, OPEN_HOW_SIZE, 0, 0]
            }
        }
        op::RENAMEAT => {
            p0 = ptr(konst(&u.rename_oldpath));
            p1 = ptr(konst(&u.rename_newpath));
            [
                int(konst(&u.rename_old_dfd)),
                0,
                int(konst(&u.rename_new_dfd)),
                0,
                int(konst(&u.rename_flags)),
                0,
            ]
        }
        op::LINKAT | op::SYMLINKAT => {
            p0 = ptr(konst(&u.link_oldpath));
            p1 = ptr(konst(&u.link_newpath));
            let new_dfd = int(konst(&u.link_new_dfd));
            if opcode == op::SYMLINKAT {
                [0, new_dfd, 0, 0, 0, 0]
            } else {
                [
                    int(konst(&u.link_old_dfd)),
                    0,
                    new_dfd,
                    0,
                    int(konst(&u.link_flags)),
                    0,
                ]
            }
        }
        op::UNLINKAT => {
            p0 = ptr(konst(&u.unlink_filename));
            [
                int(konst(&u.unlink_dfd)),
                0,
                int(konst(&u.unlink_flags)),
                0,
                0,
                0,
            ]
        }
        op::MKDIRAT => {
            p0 = ptr(konst(&u.mkdir_filename));
            let mode: u16 = rd(cmd, konst(&u.mkdir_mode));
            [int(konst(&u.mkdir_dfd)), 0, mode as u64, 0, 0, 0]
        }
        op::CONNECT => {
            addr = ptr(konst(&u.connect_addr));
            addr_len = int(konst(&u.connect_addr_len));
            [fd, 0, addr_len, 0, 0, 0]
        }
        op::SOCKET => {
            slot = rd(cmd, konst(&u.socket_file_slot));
            [
                int(konst(&u.socket_domain)),
                int(konst(&u.socket_type)),
                int(konst(&u.socket_protocol)),
                0,
                0,
                0,
            ]
        }
        op::ACCEPT => {
            slot = rd(cmd, konst(&u.accept_file_slot));
            [fd, 0, 0, int(konst(&u.accept_flags)), 0, 0]
        }
        op::CLOSE => {
            slot = rd(cmd, konst(&u.close_file_slot));
            let fd = if slot != 0 {
                u64::MAX
            } else {
                int(konst(&u.close_fd))
            };
            [fd, 0, 0, 0, 0, 0]
        }
        op::SEND | op::RECV | op::SENDMSG | op::RECVMSG => {
            [fd, 0, rd::<u32>(cmd, konst(&u.sr_len)) as u64, 0, 0, 0]
        }
        _ => [fd, 0, rd::<u32>(cmd, konst(&u.rw_len)) as u64, 0, 0, 0],
    };
    rec.args = args;
    if slot != 0 {
        rec.hdr.flags |= flags::URING_DIRECT;
    }

    let mut tail = 0usize;
    let name_off = konst(&u.filename_name);
    let mut i = 0;
    while i < 2 {
        let f = if i == 0 { p0 } else { p1 };
        if f != 0 {
            let name: u64 = rd(f, name_off);
            // SAFETY: the masked offset is below PATH_MAX and FIXED + 2 * PATH_MAX fits the
            // slot (asserted above), so `dst` and the PATH_MAX bytes after it are in bounds.
            let dst = unsafe { buf.add(FIXED + (tail & PATH_MASK)) };
            // SAFETY: writes at most PATH_MAX bytes at `dst` (in bounds, above); a bad kernel
            // pointer only makes the read fail.
            let n =
                unsafe { bpf_probe_read_kernel_str(dst.cast(), PATH_MAX as u32, name as *const _) };
            if n > 0 {
                let len = (n as usize - 1) & PATH_MASK;
                if n as usize == PATH_MAX {
                    rec.hdr.flags |= flags::TRUNCATED;
                    c.paths_cut += 1;
                }
                rec.str_len[i] = len as u16;
                if i == 0
                    && record::arg_spec(abi::X86_64, nr).filter != 0
                    && crate::paths::dropped(buf, FIXED, len)
                {
                    c.filtered_path += 1;
                    return;
                }
                tail = (tail & PATH_MASK) + len;
            }
        }
        i += 1;
    }
    if addr != 0 && addr_len > 0 {
        let l = (if addr_len > SOCKADDR_MAX as u64 {
            SOCKADDR_MAX as u64
        } else {
            addr_len
        }) as usize
            & (2 * SOCKADDR_MAX - 1);
        let o = tail & (2 * PATH_MAX - 1);
        if l <= SOCKADDR_MAX {
            // SAFETY: o < 2 * PATH_MAX and l <= SOCKADDR_MAX keep the bytes inside the slot,
            // past the fixed part `rec` covers; any u8 is valid.
            let dst = unsafe { core::slice::from_raw_parts_mut(buf.add(FIXED + o), l) };
            // SAFETY: the helper writes at most dst.len() bytes and fails cleanly on a bad
            // user pointer (submission runs in the submitter's address space).
            if unsafe { bpf_probe_read_user_buf(addr as *const u8, dst) }.is_ok() {
                rec.addr_len = l as u16;
                tail = o + l;
            } else {
                rec.hdr.flags |= flags::READ_FAULT;
                c.read_faults += 1;
            }
        }
    }
    rec.hdr.tail_len = tail as u16;

    if req_flags & REQ_F_CQE_SKIP != 0 {
        // No completion will come on success: the operation is recorded now, result unknown.
        if record::output(buf, FIXED + tail) {
            c.uring_emitted += 1;
        } else {
            c.uring_lost += 1;
        }
        return;
    }
    // SAFETY: the slot holds at least PENDING_SIZE initialized bytes (asserted above).
    let value = unsafe { &*(buf as *const [u8; PENDING_SIZE]) };
    if URING_PENDING.insert(req as u64, value, 0).is_err() {
        c.uring_lost += 1;
    }
}

/// Emit the pending record of request `req` with the result its completion `cqe` posts.
#[inline(always)]
pub(crate) fn complete(c: &mut Counters, task: *const u8, req: u64, cqe: *const u8) {
    let Some(p) = URING_PENDING.get_ptr_mut(req) else {
        return;
    };
    let p = p as *mut u8;
    // SAFETY: `p` is a map value of PENDING_SIZE bytes, aligned as map values are, holding a
    // record written by `submit`; entries are only touched from the request's own path.
    let rec = unsafe { &mut *(p as *mut SyscallRecord) };
    // `struct io_uring_cqe` is UAPI: res at 8, flags at 12.
    let res: i32 = field(cqe, 8);
    let cflags: u32 = field(cqe, 12);
    rec.has_ret = 1;
    rec.ret = res as i64;
    // SAFETY: the helper takes no arguments.
    rec.hdr.ts_ns = unsafe { bpf_ktime_get_boot_ns() };
    let mut tail = rec.hdr.tail_len as usize & (2 * PATH_MAX - 1);
    let opens_file = rec.nr == OPENAT_NR || rec.nr == OPENAT2_NR;
    if opens_file && res >= 0 && rec.hdr.flags & flags::URING_DIRECT == 0 {
        // Completions run in a thread of the submitting process: its descriptor table.
        let facts = crate::vfs::fd_file(task as u64, res as u64);
        if facts.ino != 0 {
            // SAFETY: tail < 2 * PATH_MAX and FACTS <= SOCKADDR_MAX keep the bytes inside the
            // value (PENDING_SIZE), past the fixed part.
            unsafe { core::ptr::write_unaligned(p.add(FIXED + tail) as *mut FileFacts, facts) };
            rec.hdr.flags |= flags::FILE_FACTS;
            tail += FACTS;
            rec.hdr.tail_len = tail as u16;
        }
    }
    let total = FIXED + tail;
    if total <= PENDING_SIZE {
        // SAFETY: `total` bytes of the value are initialized and in bounds (checked).
        let data = unsafe { core::slice::from_raw_parts(p as *const u8, total) };
        if crate::maps::EVENTS
            .output::<[u8]>(data, record::wake_flags())
            .is_ok()
        {
            c.uring_emitted += 1;
        } else {
            c.uring_lost += 1;
        }
    }
    // A multishot request (accept, receive) completes again: keep its record.
    if cflags & CQE_F_MORE == 0 {
        let _ = URING_PENDING.remove(req);
    }
}
