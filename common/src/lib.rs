//! The record layout shared by the sysaudit eBPF programs and the agent.
//!
//! Everything here is plain `#[repr(C)]` data: the kernel side writes these records into the
//! ring buffer or maps, the agent reads them back. Nothing else crosses the boundary.
#![no_std]
#![warn(missing_docs)]

pub mod uring;

/// Length of `task_struct::comm`.
pub const TASK_COMM_LEN: usize = 16;
/// Syscall numbers per ABI covered by the in-kernel bitmaps (x86_64 tops out near 470).
pub const MAX_SYSCALLS: usize = 512;
/// `u64` words of one ABI's syscall bitmap.
pub const BITMAP_WORDS: usize = MAX_SYSCALLS / 64;
/// Bytes of a path the filter tables compare: longer affixes are cut to this (the filter then
/// keeps more, never less).
pub const FILTER_KEY: usize = 128;
/// Longest path the kernel filter judges; longer ones are always recorded.
pub const FILTER_PATH_MAX: usize = 256;

/// The one definition of a *plain* path, the only kind the kernel's path filter judges: it
/// starts with `/` and has no `//`, no `..` anywhere, no `.` component and no trailing `/`.
/// Its bytes are then the path the rules see (`fd.name` is lexically normal), and the rules'
/// prefilter may rely on [`plain::NEVER_IN`]. The kernel runs [`plain::step`] byte by byte
/// (in `bpf_loop`) and [`plain::ends`] at the end; userspace tests the same functions.
pub mod plain {
    /// The scan's state after byte `b` (the last two bytes), or `None`: not plain.
    #[inline(always)]
    pub fn step(last: u64, b: u8) -> Option<u64> {
        let (prev, prev2) = (last as u8, (last >> 8) as u8);
        if (b == b'/' && (prev == b'/' || (prev == b'.' && prev2 == b'/')))
            || (b == b'.' && prev == b'.')
        {
            return None;
        }
        Some(((last & 0xff) << 8) | b as u64)
    }

    /// Whether a path of `len` bytes whose scan ended in state `last` ends plainly (no
    /// trailing `/` or `/.`).
    #[inline(always)]
    pub fn ends(last: u64, len: usize) -> bool {
        let (prev, prev2) = (last as u8, (last >> 8) as u8);
        !(len > 1 && (prev == b'/' || (prev == b'.' && prev2 == b'/')))
    }

    /// The whole check, for userspace.
    pub fn is_plain(p: &[u8]) -> bool {
        if p.first() != Some(&b'/') {
            return false;
        }
        let mut last = 0;
        for b in p {
            match step(last, *b) {
                Some(l) => last = l,
                None => return false,
            }
        }
        ends(last, p.len())
    }

    /// Text no plain path contains.
    pub const NEVER_IN: [&str; 3] = ["..", "//", "/./"];
}

/// The data of a path filter table's key (an LPM trie key after its bit length).
pub type PathKey = [u8; FILTER_KEY];

/// Longest path copied from user memory (PATH_MAX).
pub const PATH_MAX: usize = 4096;
/// Longest socket address copied (sizeof(struct sockaddr_storage)).
pub const SOCKADDR_MAX: usize = 128;
/// Bytes of an I/O buffer copied when the rules read `evt.buffer` (Falco's default snaplen).
pub const SNAPLEN: usize = 80;
/// Bytes of argv copied at exec (NUL-separated), as Falco's proc.cmdline limit.
pub const ARGV_MAX: usize = 4096;
/// Arguments followed at exec before giving up (the rest is marked truncated).
pub const ARGC_MAX: u32 = 64;

/// Syscall ABIs, as stored in [`Header::abi`] and used to index the per-ABI bitmaps.
pub mod abi {
    /// Native 64-bit syscalls.
    pub const X86_64: u8 = 0;
    /// 32-bit syscalls (ia32 images, or `int 0x80` from 64-bit code).
    pub const IA32: u8 = 1;
    /// x32 syscalls: 64-bit mode with 32-bit pointers, numbers carrying `X32_SYSCALL_BIT`.
    pub const X32: u8 = 2;
    /// ABIs that have a bitmap (x32 is counted, not recorded).
    pub const RECORDED: usize = 2;
}

/// Record kinds, in [`Header::kind`].
pub mod kind {
    /// A syscall that returned (or `exit`/`exit_group`, which never return).
    pub const SYSCALL: u16 = 1;
    /// `sched_process_fork`: a new task.
    pub const FORK: u16 = 2;
    /// `sched_process_exec`: a task replaced its image.
    pub const EXEC: u16 = 3;
    /// `sched_process_exit`: a task ended.
    pub const EXIT: u16 = 4;
    /// `cgroup_mkdir` / `cgroup_rmdir`: the id → path mapping, before any task of the
    /// cgroup runs (a short-lived container is gone before /proc or a walk could tell).
    pub const CGROUP_MKDIR: u16 = 5;
    /// `cgroup_rmdir`: the cgroup is gone, its id may be forgotten.
    pub const CGROUP_RMDIR: u16 = 6;
    /// Profile mode with [`mode::FIRSTS`](super::mode::FIRSTS): a recorded cgroup made a
    /// syscall for the first time (once per cgroup, ABI and syscall): who made it, and when.
    pub const FIRST_USE: u16 = 7;
}

/// Bits of [`Header::flags`].
pub mod flags {
    /// The task runs in a pid namespace other than the host's (only computed for emitted
    /// records, so it is a property of the task, never a filter decision).
    pub const NON_HOST_PIDNS: u8 = 1;
    /// A string or argument list did not fit and was cut.
    pub const TRUNCATED: u8 = 2;
    /// A user-memory read failed (bad pointer or page not resident); the field is empty.
    pub const READ_FAULT: u8 = 4;
    /// A syscall record's tail ends with the [`FileFacts`](super::FileFacts) of the
    /// descriptor the call returned.
    pub const FILE_FACTS: u8 = 8;
    /// The record is an operation submitted through an io_uring ring ([`uring`](crate::uring)),
    /// recorded as the syscall it stands for.
    pub const IO_URING: u8 = 16;
    /// An io_uring operation on a direct descriptor (a slot of the ring's registered files):
    /// its result and descriptor are no process descriptors.
    pub const URING_DIRECT: u8 = 32;
}

/// Common prefix of every ring-buffer record.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Header {
    /// Record kind, one of [`kind`].
    pub kind: u16,
    /// Syscall ABI of the task, one of [`abi`].
    pub abi: u8,
    /// Bits of [`flags`].
    pub flags: u8,
    /// Bytes of the variable tail that follows the fixed record.
    pub tail_len: u16,
    /// `bpf_get_smp_processor_id()`: the CPU the record was made on.
    pub cpu: u16,
    /// `bpf_ktime_get_boot_ns()`.
    pub ts_ns: u64,
    /// `bpf_get_current_pid_tgid()`: tgid in the upper half, tid in the lower.
    pub pid_tgid: u64,
    /// `bpf_get_current_cgroup_id()`: the task's cgroup v2 id.
    pub cgroup_id: u64,
    /// `bpf_get_current_uid_gid()`: gid in the upper half, uid in the lower.
    pub uid_gid: u64,
    /// `bpf_get_current_comm()`: the thread's name, NUL-terminated.
    pub comm: [u8; TASK_COMM_LEN],
}

/// A syscall, emitted at `sys_exit` (or at `sys_enter` for calls that never return).
///
/// Tail: `str_len[0]` bytes of the first path argument, `str_len[1]` of the second, then
/// `addr_len` bytes of a socket address. Strings carry no NUL.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SyscallRecord {
    /// Common header.
    pub hdr: Header,
    /// Syscall number in the table of [`Header::abi`].
    pub nr: u32,
    /// 1 when `ret` is meaningful (0 for `exit`/`exit_group`, recorded at entry).
    pub has_ret: u32,
    /// Return value (a negative errno on failure).
    pub ret: i64,
    /// Raw argument registers in ABI order.
    pub args: [u64; 6],
    /// Tail bytes of each path argument (0: none, or nothing could be read).
    pub str_len: [u16; 2],
    /// Tail bytes of the socket address (0: none).
    pub addr_len: u16,
    /// Explicit padding (zero), so the layout has no implicit holes.
    pub _pad: u16,
}

/// The file behind the descriptor an open returned, read from the task's descriptor table:
/// Falco's open exit parameters `dev` and `ino`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// `inode->i_sb->s_dev`, the kernel's encoding (major << 20 | minor).
    pub dev: u32,
    /// Explicit padding (zero).
    pub _pad: u32,
    /// `inode->i_ino`.
    pub ino: u64,
}

/// `sched_process_fork`, emitted in the parent's context.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ForkRecord {
    /// Common header (the parent's context).
    pub hdr: Header,
    /// The child's thread id (`task_struct.pid`).
    pub child_pid: u32,
    /// The child's process id (`task_struct.tgid`).
    pub child_tgid: u32,
    /// The child's pid in its own pid namespace (0: unknown).
    pub child_vpid: u32,
    /// The child's real parent (tgid): the forker's parent under `CLONE_PARENT` (how runc
    /// starts a container's init), else the forker. 0: unknown.
    pub parent_tgid: u32,
}

/// `sched_process_exec`. Tail: `argv_len` bytes of NUL-terminated arguments and `env_len`
/// bytes of NUL-terminated environment read from the new image's stack, then `filename_len`
/// bytes of the path given to execve (no NUL).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExecRecord {
    /// Common header, for the task after exec.
    pub hdr: Header,
    /// Thread id that called execve: differs from the header's when a non-leader thread
    /// execs (it then takes over the leader's id).
    pub old_pid: u32,
    /// `argc` from the new stack (may exceed the arguments copied, see [`ARGC_MAX`]).
    pub argc: u32,
    /// Tail bytes of the filename.
    pub filename_len: u16,
    /// Tail bytes of the arguments.
    pub argv_len: u16,
    /// Tail bytes of the environment.
    pub env_len: u16,
    /// Explicit padding (zero), so the layout has no implicit holes.
    pub _pad: u16,
    /// Read from the task at exec, race-free even for processes that live a millisecond.
    pub creds: TaskCreds,
    /// The new image's executable and the working directory, read in the kernel at exec.
    pub exe: ExeFacts,
}

/// The executable and working directory of a task at exec. The paths are in the tail, before
/// the arguments, as path components from the leaf up, each NUL-terminated (the walk goes
/// up from the file; the agent reverses them).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ExeFacts {
    /// Inode number of the executable (0: unknown).
    pub ino: u64,
    /// Its inode's change time, ns since the epoch (0: unknown).
    pub ctime_ns: u64,
    /// Its inode's modification time, ns since the epoch (0: unknown).
    pub mtime_ns: u64,
    /// [`exe`] bits.
    pub flags: u32,
    /// Tail bytes of the executable's path components.
    pub exe_len: u16,
    /// Tail bytes of the working directory's path components.
    pub cwd_len: u16,
}

/// Bits of [`ExeFacts::flags`] (Falco's `proc.is_exe_*`).
pub mod exe {
    /// The executable was found (`mm->exe_file`).
    pub const FOUND: u32 = 1;
    /// Writable by the task (owner, mode bits for its fsuid/fsgid and groups, DAC override).
    pub const WRITABLE: u32 = 2;
    /// On overlayfs, in the upper layer (written in the container, not from the image).
    pub const UPPER_LAYER: u32 = 4;
    /// On overlayfs, from a lower layer (the image).
    pub const LOWER_LAYER: u32 = 8;
    /// A `memfd:` file (fileless execution).
    pub const FROM_MEMFD: u32 = 16;
    /// The executable's path is a pseudo file's name (`memfd:x`), not a path.
    pub const PSEUDO: u32 = 32;
    /// The executable's path walk stopped at its bound: the path is its deepest part.
    pub const EXE_CUT: u32 = 64;
    /// The same for the working directory.
    pub const CWD_CUT: u32 = 128;
    /// The working directory was read.
    pub const CWD: u32 = 256;
}

/// Task attributes the kernel reads at exec (0 / all-ones when the kernel lacks the field).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TaskCreds {
    /// Pid in the task's own pid namespace.
    pub vpid: u32,
    /// Audit login uid (`u32::MAX`: unset).
    pub loginuid: u32,
    /// Controlling terminal, encoded as /proc/<pid>/stat's tty_nr (0: none).
    pub tty: u32,
    /// Bit 0: loginuid read; bit 1: capabilities read.
    pub valid: u32,
    /// Effective capability set (bit `n`: capability `n`).
    pub cap_effective: u64,
    /// Permitted capability set.
    pub cap_permitted: u64,
    /// Inheritable capability set.
    pub cap_inheritable: u64,
}

impl TaskCreds {
    /// [`TaskCreds::valid`] bit: `loginuid` was read.
    pub const LOGINUID: u32 = 1;
    /// [`TaskCreds::valid`] bit: the capability sets were read.
    pub const CAPS: u32 = 2;
}

/// `sched_process_exit`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExitRecord {
    /// Common header of the exiting task.
    pub hdr: Header,
}

/// `cgroup_mkdir` / `cgroup_rmdir` of the cgroup v2 hierarchy. Tail: `path_len` bytes of the
/// path below the hierarchy's root (no NUL).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CgroupRecord {
    /// Common header (the task that made or removed the cgroup).
    pub hdr: Header,
    /// `cgrp->kn->id`: what `bpf_get_current_cgroup_id()` returns for its tasks.
    pub id: u64,
    /// Tail bytes of the path.
    pub path_len: u16,
    /// Explicit padding (zero), so the layout has no implicit holes.
    pub _pad: [u16; 3],
}

/// A profiled cgroup's first use of a syscall ([`kind::FIRST_USE`]); the header's `abi` is
/// the ABI and its task the caller.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FirstUseRecord {
    /// Common header.
    pub hdr: Header,
    /// The profile's key: the recorded scope root's cgroup id.
    pub profile: u64,
    /// The syscall number in that ABI.
    pub nr: u32,
    /// Explicit padding (zero).
    pub _pad: u32,
}

/// Where the kernel looks for string and address arguments of one syscall; indexed by syscall
/// number in the `ARG_SPECS` array (one block of [`MAX_SYSCALLS`] per recorded ABI).
/// Argument positions are stored plus one so that the all-zero entry of an unset array slot
/// means "nothing to copy".
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgSpec {
    /// Positions (+1) of arguments holding user path strings.
    pub str_arg: [u8; 2],
    /// Position (+1) of a `struct sockaddr *` argument.
    pub addr_arg: u8,
    /// Position (+1) of its length; [`ArgSpec::LEN_PTR`] set when that argument is a
    /// `socklen_t *` (accept, getsockname); 0 for a fixed size.
    pub addr_len_arg: u8,
    /// 1: the first path is checked against the path filter tables ([`map::PATH_PREFIXES`],
    /// [`map::PATH_SUFFIXES`]); a plain absolute path in neither is dropped.
    pub filter: u8,
    /// Position (+1) of an I/O buffer: its first bytes, as many as the call returned and at
    /// most [`SNAPLEN`], are copied into the next free string slot (`evt.buffer`). Set only
    /// when a loaded rule reads the buffer.
    pub buf_arg: u8,
    /// 1: the call returns a descriptor whose [`FileFacts`] follow the tail.
    pub file: u8,
    /// Explicit padding (zero).
    pub _pad: u8,
}

impl ArgSpec {
    /// Unset position: no such argument.
    pub const NONE: u8 = 0;
    /// Flag of [`ArgSpec::addr_len_arg`]: the length argument is a `socklen_t *`.
    pub const LEN_PTR: u8 = 0x80;
    /// The entry of a syscall with nothing to copy.
    pub const EMPTY: ArgSpec = ArgSpec {
        str_arg: [Self::NONE; 2],
        addr_arg: Self::NONE,
        addr_len_arg: Self::NONE,
        filter: 0,
        buf_arg: Self::NONE,
        file: 0,
        _pad: 0,
    };

    /// Encode argument position `i` (0-based).
    pub const fn pos(i: usize) -> u8 {
        i as u8 + 1
    }
}

/// Declares [`Counters`] from one list: the struct the kernel increments, the names the agent
/// prints, the per-CPU sum. Adding a counter is one line here.
macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Per-CPU counters, one struct in a per-CPU array (index 0). Summed by the agent.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Counters {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Counters {
            /// How many counters there are.
            pub const COUNT: usize = [$(stringify!($name)),*].len();

            /// Every counter as (name, value), in declaration order.
            pub fn fields(&self) -> [(&'static str, u64); Self::COUNT] {
                [$((stringify!($name), self.$name)),*]
            }

            /// Add another CPU's counters.
            pub fn add(&mut self, other: &Counters) {
                $(self.$name += other.$name;)*
            }
        }
    };
}

counters! {
    /// Syscall tracepoint hits (enter and exit programs each count their own).
    seen,
    /// Hits from the agent's own threads.
    filtered_self,
    /// Hits with a negative syscall id (no syscall is running, e.g. a ptrace-cancelled one).
    filtered_id,
    /// Hits from tasks outside the scope (host tasks, other cgroups).
    filtered_scope,
    /// Hits on syscalls outside the interesting set.
    filtered_syscall,
    /// Opens dropped by the path filter (a plain absolute path no rule can match).
    filtered_path,
    /// Syscall records written to the ring buffer.
    emitted,
    /// Records lost because the ring buffer was full.
    ring_full,
    /// Records lost because they did not fit the scratch buffer.
    too_big,
    /// Process lifecycle records written.
    lifecycle_emitted,
    /// Process lifecycle records lost (ring full).
    lifecycle_lost,
    /// User-memory reads that failed.
    read_faults,
    /// Profile mode: syscalls recorded into a bitmap.
    profiled,
    /// Profile mode: a new cgroup could not get a bitmap (map full) — its profile is incomplete.
    profile_map_full,
    /// x32 syscalls (not recorded: no bitmap for that ABI).
    x32_seen,
    /// Path arguments cut at `PATH_MAX` (the program passed a longer one).
    paths_cut,
    /// Records dropped because the per-CPU scratch slot was missing (never expected).
    no_scratch,
    /// io_uring operations recorded at submission and emitted at completion.
    uring_emitted,
    /// io_uring operations lost: the table of requests in flight was full, or the ring
    /// buffer was.
    uring_lost,
    /// First-use records (who made a syscall first) lost to a full ring: the syscall is in
    /// the profile, its first caller unknown.
    firsts_lost,
}

/// Rare conditions a kernel program met while recording one syscall, reported as bits to the
/// program's entry point, which logs them (aya-log) off the common path.
pub mod anomaly {
    /// A path argument was cut at `PATH_MAX`.
    pub const PATH_CUT: u8 = 1;
    /// The record did not fit the scratch slot.
    pub const TOO_BIG: u8 = 2;
    /// The per-CPU scratch slot was missing.
    pub const NO_SCRATCH: u8 = 4;
}

/// Names of the eBPF maps: each is the name of a `#[map]` static in `agent-ebpf/src/maps.rs`
/// (the `#[map]` attribute takes only a literal, so the statics repeat them; a unit test of
/// the agent checks the built object against this list).
pub mod map {
    /// The ring buffer of records.
    pub const EVENTS: &str = "EVENTS";
    /// Per-CPU [`Counters`](crate::Counters).
    pub const COUNTERS: &str = "COUNTERS";
    /// Per-CPU scratch slots where records with strings are assembled.
    pub const SCRATCH: &str = "SCRATCH";
    /// Per-ABI bitmaps of the syscalls to record.
    pub const INTERESTING: &str = "INTERESTING";
    /// [`ArgSpec`](crate::ArgSpec) per ABI and syscall number.
    pub const ARG_SPECS: &str = "ARG_SPECS";
    /// Cgroup ids whose subtrees are in scope ([`scope::CGROUPS`](crate::scope::CGROUPS)).
    pub const SCOPE_CGROUPS: &str = "SCOPE_CGROUPS";
    /// Profile mode fast path: [`Profile`](crate::Profile)s indexed by low cgroup-id bits.
    pub const PROFILE_SLOTS: &str = "PROFILE_SLOTS";
    /// Profile mode: which cgroup id owns each slot of `PROFILE_SLOTS`.
    pub const SLOT_OWNERS: &str = "SLOT_OWNERS";
    /// Profile mode slow path: cgroup id → [`Profile`](crate::Profile), when its slot is taken.
    pub const PROFILES: &str = "PROFILES";
    /// Path filter: prefixes an open's path may start with (an LPM trie of [`PathKey`]s).
    ///
    /// [`PathKey`]: crate::PathKey
    pub const PATH_PREFIXES: &str = "PATH_PREFIXES";
    /// Path filter: suffixes it may end with, reversed (an LPM trie of [`PathKey`]s).
    ///
    /// [`PathKey`]: crate::PathKey
    pub const PATH_SUFFIXES: &str = "PATH_SUFFIXES";
    /// aya-log's ring of log records (named by aya-log-ebpf).
    pub const AYA_LOGS: &str = "AYA_LOGS";
    /// io_uring requests in flight: request address → the record made at submission.
    pub const URING_PENDING: &str = "URING_PENDING";
    /// Every map the object holds.
    pub const ALL: &[&str] = &[
        EVENTS,
        COUNTERS,
        SCRATCH,
        INTERESTING,
        ARG_SPECS,
        SCOPE_CGROUPS,
        PROFILE_SLOTS,
        SLOT_OWNERS,
        PROFILES,
        PATH_PREFIXES,
        PATH_SUFFIXES,
        AYA_LOGS,
        URING_PENDING,
    ];
}

/// Names of the globals the agent sets at load time (statics of `agent-ebpf/src/maps.rs`;
/// loading fails on a name the object lacks).
pub mod global {
    /// The agent's process id, so its own syscalls are skipped.
    pub const OWN_TGID: &str = "OWN_TGID";
    /// Bits of [`mode`](crate::mode).
    pub const MODE: &str = "MODE";
    /// One of [`scope`](crate::scope).
    pub const SCOPE: &str = "SCOPE";
    /// Bit `n` set: `SCOPE_CGROUPS` holds a cgroup at level `n` (root = level 0).
    pub const SCOPE_LEVELS: &str = "SCOPE_LEVELS";
    /// Ring fill level (bytes) past which a submit wakes the agent up.
    pub const RING_WAKE_BYTES: &str = "RING_WAKE_BYTES";
    /// Depth of the agent's pid namespace (0: the initial one).
    pub const HOST_PID_LEVEL: &str = "HOST_PID_LEVEL";
    /// Device of the host pid namespace (`stat` of `/proc/1/ns/pid`), for
    /// `bpf_get_ns_current_pid_tgid`.
    pub const HOST_PIDNS_DEV: &str = "HOST_PIDNS_DEV";
    /// Inode of the host pid namespace.
    pub const HOST_PIDNS_INO: &str = "HOST_PIDNS_INO";
    /// The [`KernelOffsets`](crate::KernelOffsets).
    pub const OFFSETS: &str = "OFFSETS";
    /// Number of `PROFILE_SLOTS` entries minus one (a power of two minus one).
    pub const PROFILE_SLOT_MASK: &str = "PROFILE_SLOT_MASK";
    /// The [`VfsOffsets`](crate::VfsOffsets).
    pub const VFS: &str = "VFS";
    /// The [`UringOffsets`](crate::uring::UringOffsets).
    pub const URING: &str = "URING";
}

/// Scope of the syscall programs, in the `SCOPE` global.
pub mod scope {
    /// Every task (`--host`).
    pub const ALL: u32 = 0;
    /// Tasks outside the host pid namespace (the default: every container).
    pub const CONTAINERS: u32 = 1;
    /// Tasks in the cgroups of `SCOPE_CGROUPS` or below them.
    pub const CGROUPS: u32 = 2;
    /// Both: tasks below `SCOPE_CGROUPS`, and every task outside the host pid namespace
    /// (`sysaudit ci`: the command's cgroup and the containers it starts).
    pub const CGROUPS_AND_CONTAINERS: u32 = 3;
}

/// Bits of the `MODE` global.
pub mod mode {
    /// Stream syscall records through the ring buffer.
    pub const TRACE: u32 = 1;
    /// Set bits in per-cgroup syscall bitmaps, no per-syscall ring traffic.
    pub const PROFILE: u32 = 2;
    /// With `PROFILE`: a [`kind::FIRST_USE`](super::kind::FIRST_USE) record when a bit is set
    /// the first time (a few hundred per workload).
    pub const FIRSTS: u32 = 4;
}

/// Gate of a profile bitmap: when recording starts for that cgroup.
pub mod gate {
    /// Record everything from now on.
    pub const OPEN: u32 = 0;
    /// Wait for the container runtime's hand-over to the workload: the first of the prctl
    /// calls runtimes make once their mounts, pivot_root and sethostname are done and they
    /// start dropping privileges (runc: `PR_GET_PDEATHSIG`; crun: `PR_CAPBSET_DROP`; both:
    /// `PR_SET_NO_NEW_PRIVS`), or the workload's `execve`. What follows is what the runtime
    /// may still do under the seccomp filter, with or without no_new_privs.
    pub const RUNTIME: u32 = 1;
    /// Wait for the first `execve` (a command we launch ourselves).
    pub const EXEC: u32 = 2;
}

/// One cgroup's recorded syscalls (`PROFILES` map value).
///
/// A byte per syscall rather than a bit: several CPUs record the same cgroup at once, and a
/// plain byte store cannot lose a neighbour's update the way a read-modify-write of a shared
/// word can (BPF atomics would need a newer ISA level for no gain).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// The cgroup id this entry records (slot entries; 0: free).
    pub tag: u64,
    /// When recording starts, one of [`gate`]; [`gate::OPEN`] once it has.
    pub gate: u32,
    /// Set by the kernel when a syscall of this cgroup was seen before the gate opened.
    pub pre_gate: u32,
    /// `seen[abi][nr]` is 1 once syscall `nr` of that ABI ran with the gate open.
    pub seen: [[u8; MAX_SYSCALLS]; abi::RECORDED],
}

/// Kernel structure offsets found in the running kernel's BTF by the agent and handed to the
/// programs as read-only globals (aya has no CO-RE for Rust programs).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelOffsets {
    /// `task_struct.pid`.
    pub task_pid: u32,
    /// `task_struct.tgid`.
    pub task_tgid: u32,
    /// `task_struct.thread_info.status` (x86: holds `TS_COMPAT`).
    pub task_ti_status: u32,
    /// `linux_binprm.filename`: the path given to execve.
    pub bprm_filename: u32,
    /// `cgroup.kn`.
    pub cgroup_kn: u32,
    /// `cgroup.root`.
    pub cgroup_root: u32,
    /// `kernfs_node.id`: the cgroup id.
    pub kn_id: u32,
    /// `cgroup_root.hierarchy_id` (0: the cgroup v2 hierarchy).
    pub root_hierarchy_id: u32,
    /// `task_struct.thread_pid`.
    pub task_thread_pid: u32,
    /// `pid.level`: depth of the pid's namespace.
    pub pid_level: u32,
    /// `pid.numbers`: one `upid` per namespace level.
    pub pid_numbers: u32,
    /// Size of `struct upid` in bytes: the stride of `pid.numbers`.
    pub upid_size: u32,
    /// 0 when the kernel has no audit login uid.
    pub task_loginuid: u32,
    /// `task_struct.cred`.
    pub task_cred: u32,
    /// `cred.cap_effective`.
    pub cred_cap_effective: u32,
    /// `cred.cap_permitted`.
    pub cred_cap_permitted: u32,
    /// `cred.cap_inheritable`.
    pub cred_cap_inheritable: u32,
    /// `task_struct.signal`.
    pub task_signal: u32,
    /// `signal_struct.tty`: the controlling terminal.
    pub signal_tty: u32,
    /// `tty_struct.index`.
    pub tty_index: u32,
    /// `tty_struct.driver`.
    pub tty_driver: u32,
    /// `tty_driver.major`.
    pub driver_major: u32,
    /// `tty_driver.minor_start`.
    pub driver_minor_start: u32,
    /// `task_struct.cgroups`.
    pub task_cgroups: u32,
    /// `css_set.dfl_cgrp`: the task's cgroup v2 cgroup.
    pub css_set_dfl_cgrp: u32,
    /// `task_struct.real_parent`.
    pub task_real_parent: u32,
    /// `task_struct.comm`.
    pub task_comm: u32,
    /// `cred.uid` (real).
    pub cred_uid: u32,
    /// `cred.gid` (real).
    pub cred_gid: u32,
}

/// Offsets for the executable and working-directory facts read at exec: files, paths,
/// dentries, mounts, inodes, superblocks (0 where the kernel lacks a field: that fact is then
/// not read).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VfsOffsets {
    /// `task_struct.mm`.
    pub task_mm: u32,
    /// `mm_struct.exe_file`.
    pub mm_exe_file: u32,
    /// `task_struct.fs`.
    pub task_fs: u32,
    /// `fs_struct.pwd` (a `struct path`).
    pub fs_pwd: u32,
    /// `file.f_path` (a `struct path`).
    pub file_f_path: u32,
    /// `file.f_inode`.
    pub file_f_inode: u32,
    /// `path.mnt`.
    pub path_mnt: u32,
    /// `path.dentry`.
    pub path_dentry: u32,
    /// `dentry.d_parent`.
    pub dentry_parent: u32,
    /// `dentry.d_name.name`.
    pub dentry_name: u32,
    /// `dentry.d_inode`.
    pub dentry_inode: u32,
    /// `dentry.d_sb`.
    pub dentry_sb: u32,
    /// `vfsmount.mnt_root`.
    pub vfsmount_root: u32,
    /// `mount.mnt`: where the `vfsmount` sits in its `mount`.
    pub mount_mnt: u32,
    /// `mount.mnt_parent`.
    pub mount_parent: u32,
    /// `mount.mnt_mountpoint`.
    pub mount_mountpoint: u32,
    /// `inode.i_ino`.
    pub inode_ino: u32,
    /// `inode.i_mode`.
    pub inode_mode: u32,
    /// `inode.i_uid`.
    pub inode_uid: u32,
    /// `inode.i_gid`.
    pub inode_gid: u32,
    /// `inode.i_flags`.
    pub inode_flags: u32,
    /// `inode.i_ctime_sec` (or the older layouts' seconds).
    pub inode_ctime_sec: u32,
    /// Nanoseconds of the change time.
    pub inode_ctime_nsec: u32,
    /// `inode.i_mtime_sec` (or the older layouts' seconds).
    pub inode_mtime_sec: u32,
    /// Nanoseconds of the modification time.
    pub inode_mtime_nsec: u32,
    /// `ovl_inode.__upperdentry` counted from the start of the embedded `vfs_inode`.
    pub ovl_upper: u32,
    /// `super_block.s_magic`.
    pub sb_magic: u32,
    /// `super_block.s_flags`.
    pub sb_flags: u32,
    /// `cred.fsuid`.
    pub cred_fsuid: u32,
    /// `cred.fsgid`.
    pub cred_fsgid: u32,
    /// `cred.group_info`.
    pub cred_groups: u32,
    /// `group_info.ngroups`.
    pub groups_n: u32,
    /// `group_info.gid`: the supplementary groups, sorted.
    pub groups_gid: u32,
    /// `task_struct.files`.
    pub task_files: u32,
    /// `files_struct.fdt`.
    pub files_fdt: u32,
    /// `fdtable.max_fds`.
    pub fdt_max_fds: u32,
    /// `fdtable.fd`: the `struct file *` array.
    pub fdt_fd: u32,
    /// `inode.i_sb`.
    pub inode_sb: u32,
    /// `super_block.s_dev`.
    pub sb_dev: u32,
}

/// x86 `TS_COMPAT`: the current syscall is a 32-bit (ia32) one.
pub const TS_COMPAT: u32 = 0x0002;
/// x32 syscalls carry this bit in their number.
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all of these are plain integer structs without padding holes that matter.
    unsafe impl aya::Pod for super::ArgSpec {}
    unsafe impl aya::Pod for super::Counters {}
    unsafe impl aya::Pod for super::Profile {}
    unsafe impl aya::Pod for super::KernelOffsets {}
    unsafe impl aya::Pod for super::VfsOffsets {}
    unsafe impl aya::Pod for super::uring::UringOffsets {}
}

/// The few syscall numbers the kernel programs must know themselves (the agent checks them
/// against its syscall table in a unit test). Index: [`abi::X86_64`], [`abi::IA32`].
pub mod nr {
    /// `exit`.
    pub const EXIT: [u32; 2] = [60, 1];
    /// `exit_group`.
    pub const EXIT_GROUP: [u32; 2] = [231, 252];
    /// `execve`.
    pub const EXECVE: [u32; 2] = [59, 11];
    /// `execveat`.
    pub const EXECVEAT: [u32; 2] = [322, 358];
    /// `prctl`.
    pub const PRCTL: [u32; 2] = [157, 172];
}

/// `prctl` option that reads the parent-death signal. This and the next two mark a
/// runtime's hand-over (see [`gate::RUNTIME`]).
pub const PR_GET_PDEATHSIG: u64 = 2;
/// `prctl` option that drops a capability from the bounding set.
pub const PR_CAPBSET_DROP: u64 = 24;
/// `prctl` option that sets no_new_privs.
pub const PR_SET_NO_NEW_PRIVS: u64 = 38;

#[cfg(test)]
mod tests {
    use super::Counters;

    #[test]
    fn counters_are_listed_and_summed_field_by_field() {
        let mut a = Counters {
            seen: 2,
            x32_seen: 1,
            ..Default::default()
        };
        a.add(&Counters {
            seen: 3,
            ring_full: 4,
            ..Default::default()
        });
        let f = a.fields();
        assert_eq!(
            f.len(),
            core::mem::size_of::<Counters>() / 8,
            "one u64 per field"
        );
        assert_eq!(f[0], ("seen", 5), "declaration order");
        assert!(f.contains(&("ring_full", 4)) && f.contains(&("x32_seen", 1)));
        assert!(f.iter().filter(|(_, v)| *v == 0).count() == Counters::COUNT - 3);
    }
}
