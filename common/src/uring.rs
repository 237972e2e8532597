//! io_uring operations recorded as the syscalls they stand for.
//!
//! An operation submitted through a ring never enters the syscall table, so seccomp and
//! syscall tracers do not see it. The kernel programs read each request when it is submitted
//! (`io_uring_submit_req`: its arguments, paths copied while the kernel still holds them) and
//! emit it when it completes (`io_uring_complete`: its result), as a syscall record of the
//! equivalent x86_64 syscall flagged [`IO_URING`](crate::flags::IO_URING).

/// Operation codes (`enum io_uring_op`, UAPI: stable across kernels), each named after its
/// `IORING_OP_*`.
#[allow(
    missing_docs,
    reason = "each is named after what it stands for, said above"
)]
pub mod op {
    pub const READV: u8 = 1;
    pub const WRITEV: u8 = 2;
    pub const READ_FIXED: u8 = 4;
    pub const WRITE_FIXED: u8 = 5;
    pub const SENDMSG: u8 = 9;
    pub const RECVMSG: u8 = 10;
    pub const ACCEPT: u8 = 13;
    pub const CONNECT: u8 = 16;
    pub const OPENAT: u8 = 18;
    pub const CLOSE: u8 = 19;
    pub const READ: u8 = 22;
    pub const WRITE: u8 = 23;
    pub const SEND: u8 = 26;
    pub const RECV: u8 = 27;
    pub const OPENAT2: u8 = 28;
    pub const RENAMEAT: u8 = 35;
    pub const UNLINKAT: u8 = 36;
    pub const MKDIRAT: u8 = 37;
    pub const SYMLINKAT: u8 = 38;
    pub const LINKAT: u8 = 39;
    pub const SOCKET: u8 = 45;
}

/// The x86_64 syscall an operation is recorded as, and its name (the agent checks the pairs
/// against its syscall table); `None` for operations not recorded.
pub const fn syscall(opcode: u8) -> Option<(u32, &'static str)> {
    Some(match opcode {
        op::READV => (19, "readv"),
        op::WRITEV => (20, "writev"),
        op::READ | op::READ_FIXED => (0, "read"),
        op::WRITE | op::WRITE_FIXED => (1, "write"),
        op::SENDMSG => (46, "sendmsg"),
        op::RECVMSG => (47, "recvmsg"),
        op::SEND => (44, "sendto"),
        op::RECV => (45, "recvfrom"),
        op::ACCEPT => (288, "accept4"),
        op::CONNECT => (42, "connect"),
        op::OPENAT => (257, "openat"),
        op::OPENAT2 => (437, "openat2"),
        op::CLOSE => (3, "close"),
        op::RENAMEAT => (316, "renameat2"),
        op::UNLINKAT => (263, "unlinkat"),
        op::MKDIRAT => (258, "mkdirat"),
        op::SYMLINKAT => (266, "symlinkat"),
        op::LINKAT => (265, "linkat"),
        op::SOCKET => (41, "socket"),
        _ => return None,
    })
}

/// `REQ_F_FIXED_FILE`: the request's descriptor indexes the ring's registered files.
pub const REQ_F_FIXED_FILE: u64 = 1 << 0;
/// `REQ_F_CQE_SKIP`: no completion is posted when the request succeeds.
pub const REQ_F_CQE_SKIP: u64 = 1 << 6;
/// `IORING_CQE_F_MORE`: more completions of this (multishot) request follow.
pub const CQE_F_MORE: u32 = 1 << 1;

/// Offsets into the kernel's request and per-operation structures, from BTF (internal
/// structures: they move between kernels). `req_opcode` 0 means the kernel lacks what is
/// needed and the io_uring programs are not attached. Each field is named after the member
/// it locates (`<struct>_<member>`, the struct without its `io_` prefix).
#[allow(
    missing_docs,
    reason = "each is named after what it stands for, said above"
)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UringOffsets {
    /// `io_kiocb.opcode`.
    pub req_opcode: u32,
    /// `io_kiocb.flags`.
    pub req_flags: u32,
    /// `io_kiocb.cqe.fd`: the submission's descriptor.
    pub req_fd: u32,
    /// `io_kiocb.cmd`: where the operation's own structure starts.
    pub req_cmd: u32,
    /// `filename.name`.
    pub filename_name: u32,
    /// `io_open.dfd`, `.file_slot`, `.filename`, `.how` (`open_how`: flags, then mode).
    pub open_dfd: u32,
    pub open_file_slot: u32,
    pub open_filename: u32,
    pub open_how: u32,
    /// `io_rename` (and `io_link`, same layout checked): `old_dfd`, `new_dfd`, `oldpath`,
    /// `newpath`, `flags`.
    pub rename_old_dfd: u32,
    pub rename_new_dfd: u32,
    pub rename_oldpath: u32,
    pub rename_newpath: u32,
    pub rename_flags: u32,
    pub link_old_dfd: u32,
    pub link_new_dfd: u32,
    pub link_oldpath: u32,
    pub link_newpath: u32,
    pub link_flags: u32,
    /// `io_unlink.dfd`, `.flags`, `.filename`.
    pub unlink_dfd: u32,
    pub unlink_flags: u32,
    pub unlink_filename: u32,
    /// `io_mkdir.dfd`, `.mode`, `.filename`.
    pub mkdir_dfd: u32,
    pub mkdir_mode: u32,
    pub mkdir_filename: u32,
    /// `io_connect.addr` (a user pointer), `.addr_len`.
    pub connect_addr: u32,
    pub connect_addr_len: u32,
    /// `io_socket.domain`, `.type`, `.protocol`, `.file_slot`.
    pub socket_domain: u32,
    pub socket_type: u32,
    pub socket_protocol: u32,
    pub socket_file_slot: u32,
    /// `io_accept.flags`, `.file_slot`.
    pub accept_flags: u32,
    pub accept_file_slot: u32,
    /// `io_close.fd`, `.file_slot`.
    pub close_fd: u32,
    pub close_file_slot: u32,
    /// `io_rw.len`, `io_sr_msg.len` (lengths of reads, writes, sends and receives).
    pub rw_len: u32,
    pub sr_len: u32,
    /// `task_struct.flags`, `.group_leader`: an io_uring worker or submission-polling thread
    /// (`PF_IO_WORKER`) acts for its process, whose main thread the record names.
    pub task_flags: u32,
    pub task_group_leader: u32,
}

/// `PF_IO_WORKER`: the task is a kernel thread of io_uring (io-wq worker, SQPOLL poller).
pub const PF_IO_WORKER: u32 = 0x10;
