//! Maps and load-time constants shared by all programs.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LpmTrie, PerCpuArray, RingBuf},
};
use sysaudit_common::{
    abi, uring::UringOffsets, ArgSpec, Counters, KernelOffsets, PathKey, Profile, VfsOffsets,
    BITMAP_WORDS, MAX_SYSCALLS,
};

/// Size of one per-CPU scratch slot; records with strings are assembled there.
pub(crate) const SCRATCH_SIZE: usize = 32768;
/// Scratch slots: one for syscall records, one for lifecycle records, so a lifecycle
/// tracepoint that fires in the middle of a syscall record cannot clobber it.
pub(crate) const SCRATCH_SYSCALL: u32 = 0;
pub(crate) const SCRATCH_LIFECYCLE: u32 = 1;
/// io_uring submissions build their record in a third slot: a submission runs inside an
/// `io_uring_enter` syscall, between that syscall's own programs.
pub(crate) const SCRATCH_URING: u32 = 2;

// Load-time constants (.rodata, frozen by the loader, so the verifier sees them as constants
// and prunes the branches a mode does not use).
#[no_mangle]
pub(crate) static OWN_TGID: u32 = 0;
#[no_mangle]
pub(crate) static MODE: u32 = 0;
#[no_mangle]
pub(crate) static SCOPE: u32 = 0;
/// Bit `n` set: `SCOPE_CGROUPS` holds a cgroup at level `n` (root = level 0).
#[no_mangle]
pub(crate) static SCOPE_LEVELS: u32 = 0;
/// Fill level of the ring buffer past which a submit wakes the reader up; below it records are
/// submitted silently and the agent drains on its timer (a wakeup per event costs ~4x).
#[no_mangle]
pub(crate) static RING_WAKE_BYTES: u64 = 0;
/// Depth of the agent's pid namespace (0: the initial one); deeper tasks are in containers.
#[no_mangle]
pub(crate) static HOST_PID_LEVEL: u32 = 0;
#[no_mangle]
pub(crate) static HOST_PIDNS_DEV: u64 = 0;
#[no_mangle]
pub(crate) static HOST_PIDNS_INO: u64 = 0;
#[no_mangle]
pub(crate) static OFFSETS: KernelOffsets = KernelOffsets {
    task_pid: 0,
    task_tgid: 0,
    task_ti_status: 0,
    bprm_filename: 0,
    cgroup_kn: 0,
    cgroup_root: 0,
    kn_id: 0,
    root_hierarchy_id: 0,
    task_thread_pid: 0,
    pid_level: 0,
    pid_numbers: 0,
    upid_size: 0,
    task_loginuid: 0,
    task_cred: 0,
    cred_cap_effective: 0,
    cred_cap_permitted: 0,
    cred_cap_inheritable: 0,
    task_signal: 0,
    signal_tty: 0,
    tty_index: 0,
    tty_driver: 0,
    driver_major: 0,
    driver_minor_start: 0,
    task_cgroups: 0,
    css_set_dfl_cgrp: 0,
    task_real_parent: 0,
    task_comm: 0,
    cred_uid: 0,
    cred_gid: 0,
};

#[no_mangle]
pub(crate) static VFS: VfsOffsets = VfsOffsets {
    task_mm: 0,
    mm_exe_file: 0,
    task_fs: 0,
    fs_pwd: 0,
    file_f_path: 0,
    file_f_inode: 0,
    path_mnt: 0,
    path_dentry: 0,
    dentry_parent: 0,
    dentry_name: 0,
    dentry_inode: 0,
    dentry_sb: 0,
    vfsmount_root: 0,
    mount_mnt: 0,
    mount_parent: 0,
    mount_mountpoint: 0,
    inode_ino: 0,
    inode_mode: 0,
    inode_uid: 0,
    inode_gid: 0,
    inode_flags: 0,
    inode_ctime_sec: 0,
    inode_ctime_nsec: 0,
    inode_mtime_sec: 0,
    inode_mtime_nsec: 0,
    ovl_upper: 0,
    sb_magic: 0,
    sb_flags: 0,
    cred_fsuid: 0,
    cred_fsgid: 0,
    cred_groups: 0,
    groups_n: 0,
    groups_gid: 0,
    task_files: 0,
    files_fdt: 0,
    fdt_max_fds: 0,
    fdt_fd: 0,
    inode_sb: 0,
    sb_dev: 0,
};

/// Offsets for io_uring requests; all zero: the io_uring programs are not attached.
#[no_mangle]
pub(crate) static URING: UringOffsets = UringOffsets {
    req_opcode: 0,
    req_flags: 0,
    req_fd: 0,
    req_cmd: 0,
    filename_name: 0,
    open_dfd: 0,
    open_file_slot: 0,
    open_filename: 0,
    open_how: 0,
    rename_old_dfd: 0,
    rename_new_dfd: 0,
    rename_oldpath: 0,
    rename_newpath: 0,
    rename_flags: 0,
    link_old_dfd: 0,
    link_new_dfd: 0,
    link_oldpath: 0,
    link_newpath: 0,
    link_flags: 0,
    unlink_dfd: 0,
    unlink_flags: 0,
    unlink_filename: 0,
    mkdir_dfd: 0,
    mkdir_mode: 0,
    mkdir_filename: 0,
    connect_addr: 0,
    connect_addr_len: 0,
    socket_domain: 0,
    socket_type: 0,
    socket_protocol: 0,
    socket_file_slot: 0,
    accept_flags: 0,
    accept_file_slot: 0,
    close_fd: 0,
    close_file_slot: 0,
    rw_len: 0,
    sr_len: 0,
    task_flags: 0,
    task_group_leader: 0,
};

/// Read a load-time constant without letting the compiler fold the default value in.
#[inline(always)]
pub(crate) fn konst<T: Copy>(v: &T) -> T {
    // SAFETY: `v` is a reference, so valid and aligned; the volatile read only keeps the
    // loader-set .rodata value from being folded to its default at compile time.
    unsafe { core::ptr::read_volatile(v) }
}

/// The one ring buffer; its size is set by the agent at load time.
#[map]
pub(crate) static EVENTS: RingBuf = RingBuf::with_byte_size(64 * 1024, 0);

#[map]
pub(crate) static COUNTERS: PerCpuArray<Counters> = PerCpuArray::with_max_entries(1, 0);

#[map]
pub(crate) static SCRATCH: PerCpuArray<[u8; SCRATCH_SIZE]> = PerCpuArray::with_max_entries(3, 0);

/// io_uring requests in flight (request address → record made at submission): the arguments
/// are gone by completion, the result unknown before it. Full: the operation is lost, counted.
#[map]
pub(crate) static URING_PENDING: HashMap<u64, [u8; crate::uring::PENDING_SIZE]> =
    HashMap::with_max_entries(1024, 0);

/// Interesting syscalls: `abi::RECORDED` bitmaps of `BITMAP_WORDS` words.
#[map]
pub(crate) static INTERESTING: Array<u64> =
    Array::with_max_entries((abi::RECORDED * BITMAP_WORDS) as u32, 0);

/// Which arguments to copy from user memory, per ABI and syscall number.
#[map]
pub(crate) static ARG_SPECS: Array<ArgSpec> =
    Array::with_max_entries((abi::RECORDED * MAX_SYSCALLS) as u32, 0);

/// Path filter tables ([`crate::paths`]): prefixes, and suffixes reversed.
#[map]
pub(crate) static PATH_PREFIXES: LpmTrie<PathKey, u8> = LpmTrie::with_max_entries(4096, 0);
#[map]
pub(crate) static PATH_SUFFIXES: LpmTrie<PathKey, u8> = LpmTrie::with_max_entries(4096, 0);

/// Cgroup ids whose subtrees are in scope (`scope::CGROUPS`); value unused.
#[map]
pub(crate) static SCOPE_CGROUPS: HashMap<u64, u32> = HashMap::with_max_entries(1024, 0);

/// Profile mode, fast path: an array indexed by the cgroup id's low bits, each entry tagged
/// with its cgroup id (array lookups are inlined: no helper call on every syscall).
#[map]
pub(crate) static PROFILE_SLOTS: Array<Profile> = Array::with_max_entries(4096, 0);

/// Who owns a slot: claimed with an atomic no-overwrite insert, so two new cgroups never
/// share one.
#[map]
pub(crate) static SLOT_OWNERS: HashMap<u32, u64> = HashMap::with_max_entries(4096, 0);

/// Profile mode, slow path: cgroups whose slot is taken (cgroup id → syscalls seen).
#[map]
pub(crate) static PROFILES: HashMap<u64, Profile> = HashMap::with_max_entries(4096, 0);

/// Number of PROFILE_SLOTS entries minus one (a power of two minus one).
#[no_mangle]
pub(crate) static PROFILE_SLOT_MASK: u32 = 0;
