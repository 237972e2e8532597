//! What the kernel knows about a task's executable and working directory at exec, read from
//! the VFS with offsets from BTF: paths by a bounded walk up the dentry and mount trees (as
//! Falco's probe builds `proc.exepath`: up to the root of the mount tree, so a container's
//! paths are in its own view), the executable's inode number and times, its overlayfs layer,
//! memfd origin and whether the task may write it.

use aya_ebpf::helpers::generated::bpf_probe_read_kernel_str;
use sysaudit_common::{exe, ExeFacts, FileFacts, PATH_MAX};

use crate::{
    lifecycle::rd,
    maps::{konst, OFFSETS, VFS},
};

/// `OVERLAYFS_SUPER_MAGIC`.
const OVERLAYFS_MAGIC: u64 = 0x794c_7630;
/// Components walked at most, mount crossings included (Falco's bound).
const MAX_COMPONENTS: u32 = 96;
/// One component: NAME_MAX bytes and its NUL.
const NAME_BUF: usize = 256;
const PATH_MASK: usize = PATH_MAX - 1;
/// `SB_RDONLY`, `S_IMMUTABLE`, `S_IFMT` and the file types a read-only mount protects.
const SB_RDONLY: u64 = 1;
const S_IMMUTABLE: u32 = 8;
const S_IFMT: u16 = 0o170000;
const S_IFREG: u16 = 0o100000;
const S_IFDIR: u16 = 0o040000;
const S_IFLNK: u16 = 0o120000;
const CAP_DAC_OVERRIDE: u64 = 1;
const CAP_FOWNER: u64 = 3;
/// Supplementary groups looked at for group write permission.
const MAX_GROUPS: u32 = 32;

/// How a walk ended.
struct Walked {
    /// Bytes written: component names leaf-first, each NUL-terminated.
    len: usize,
    /// A pseudo file (memfd, pipe): its one "component" is its name, not a path.
    pseudo: bool,
    /// The walk stopped at its bound: what was written is the deepest part of the path.
    cut: bool,
}

/// The walk's state between iterations, kept in scratch memory (not registers): the verifier
/// then sees the same state at every loop head but for the counter, and prunes — in
/// registers, every iteration's precise length multiplied the paths it had to explore.
#[repr(C)]
pub(crate) struct WalkState {
    d: u64,
    mount: u64,
    mroot: u64,
    len: u64,
    /// `DONE`, `PSEUDO`.
    flags: u64,
}

const DONE: u64 = 1;
const PSEUDO: u64 = 2;

/// Walk from `dentry` on `vfsmnt` up to the root of the mount tree, writing names at `dst`
/// (at most PATH_MAX bytes; the caller reserves PATH_MAX + NAME_BUF there). `ws` is scratch
/// memory for the walk's state.
#[inline(always)]
fn walk(dst: *mut u8, ws: *mut WalkState, dentry: u64, vfsmnt: u64) -> Walked {
    use core::ptr::{addr_of, addr_of_mut, read_volatile as get, write_volatile as put};
    let v = &VFS;
    let mnt_off = konst(&v.mount_mnt) as u64;
    // SAFETY: `ws` points into this CPU's scratch slot, past every record byte (the caller
    // asserts it), and nothing else uses it during the walk.
    unsafe {
        put(addr_of_mut!((*ws).d), dentry);
        put(addr_of_mut!((*ws).mount), vfsmnt.wrapping_sub(mnt_off));
        put(
            addr_of_mut!((*ws).mroot),
            rd(vfsmnt, konst(&v.vfsmount_root)),
        );
        put(addr_of_mut!((*ws).len), 0);
        put(addr_of_mut!((*ws).flags), 0);
    }
    let mut i = 0;
    while i < MAX_COMPONENTS {
        i += 1;
        // SAFETY: as above; volatile so the state is reloaded, not kept in registers.
        let (d, mount, mroot, len, fl) = unsafe {
            (
                get(addr_of!((*ws).d)),
                get(addr_of!((*ws).mount)),
                get(addr_of!((*ws).mroot)),
                get(addr_of!((*ws).len)) as usize,
                get(addr_of!((*ws).flags)),
            )
        };
        if fl & DONE != 0 {
            break;
        }
        let mut next_fl = fl;
        let mut next_d = d;
        let mut next_len = len;
        if d == 0 {
            next_fl |= DONE;
        } else {
            let parent: u64 = rd(d, konst(&v.dentry_parent));
            let pseudo = d == parent && d != mroot;
            let mut name_it = true;
            if d == mroot || d == parent {
                if !pseudo {
                    name_it = false;
                    let up: u64 = rd(mount, konst(&v.mount_parent));
                    if up != mount && up != 0 {
                        // SAFETY: as above.
                        unsafe {
                            put(addr_of_mut!((*ws).d), rd(mount, konst(&v.mount_mountpoint)));
                            put(addr_of_mut!((*ws).mount), up);
                            put(
                                addr_of_mut!((*ws).mroot),
                                rd(up + mnt_off, konst(&v.vfsmount_root)),
                            );
                        }
                        continue;
                    }
                    next_fl |= DONE;
                } else if len != 0 {
                    // A pseudo dentry above real components: the path ends here.
                    name_it = false;
                    next_fl |= DONE;
                } else {
                    // A pseudo file's dentry is its own parent; only its name means anything.
                    next_fl |= PSEUDO | DONE;
                }
            }
            if name_it {
                if len > PATH_MAX - NAME_BUF - 1 {
                    // The bound: leave DONE unset, the path is cut.
                    break;
                }
                let name: u64 = rd(d, konst(&v.dentry_name));
                // SAFETY: the offset is masked below PATH_MAX and the caller reserved
                // PATH_MAX + NAME_BUF bytes at `dst`; a bad `name` only makes the read fail.
                let n = unsafe {
                    bpf_probe_read_kernel_str(
                        dst.add(len & PATH_MASK).cast(),
                        NAME_BUF as u32,
                        name as *const _,
                    )
                };
                if n <= 1 {
                    next_fl |= DONE;
                } else {
                    next_len = (len & PATH_MASK) + (n as usize & (NAME_BUF * 2 - 1));
                    next_d = parent;
                }
            }
        }
        // SAFETY: as above.
        unsafe {
            put(addr_of_mut!((*ws).d), next_d);
            put(addr_of_mut!((*ws).len), next_len as u64);
            put(addr_of_mut!((*ws).flags), next_fl);
        }
    }
    // SAFETY: as above.
    let (len, fl) = unsafe {
        (
            get(addr_of!((*ws).len)) as usize,
            get(addr_of!((*ws).flags)),
        )
    };
    Walked {
        len: len & PATH_MASK,
        pseudo: fl & PSEUDO != 0,
        cut: fl & DONE == 0,
    }
}

/// The executable's and the working directory's facts of `task`; paths at `dst` (the exe's,
/// then the cwd's: the caller reserves 2 * PATH_MAX + NAME_BUF bytes there).
#[inline(always)]
pub(crate) fn facts(task: u64, dst: *mut u8, ws: *mut WalkState) -> ExeFacts {
    let v = &VFS;
    let mut f = ExeFacts::default();
    if konst(&v.task_mm) == 0 {
        return f;
    }
    let mm: u64 = rd(task, konst(&v.task_mm));
    let file: u64 = rd(mm, konst(&v.mm_exe_file));
    let exe_len;
    if file != 0 {
        let fpath = konst(&v.file_f_path);
        let dentry: u64 = rd(file, fpath + konst(&v.path_dentry));
        let mnt: u64 = rd(file, fpath + konst(&v.path_mnt));
        let inode: u64 = rd(file, konst(&v.file_f_inode));
        f.flags |= exe::FOUND;
        f.ino = rd(inode, konst(&v.inode_ino));
        f.ctime_ns = time_ns(inode, konst(&v.inode_ctime_sec), konst(&v.inode_ctime_nsec));
        f.mtime_ns = time_ns(inode, konst(&v.inode_mtime_sec), konst(&v.inode_mtime_nsec));
        let w = walk(dst, ws, dentry, mnt);
        exe_len = w.len & PATH_MASK;
        if w.cut {
            f.flags |= exe::EXE_CUT;
        }
        if w.pseudo {
            f.flags |= exe::PSEUDO;
            // SAFETY: reading our own scratch bytes just written by the walk (in bounds).
            let head = unsafe { core::slice::from_raw_parts(dst, 6) };
            if head == b"memfd:" {
                f.flags |= exe::FROM_MEMFD;
            }
        }
        let sb: u64 = rd(dentry, konst(&v.dentry_sb));
        if rd::<u64>(sb, konst(&v.sb_magic)) == OVERLAYFS_MAGIC {
            f.flags |= layer(inode);
        }
        if writable(task, inode, sb) {
            f.flags |= exe::WRITABLE;
        }
    } else {
        exe_len = 0;
    }
    f.exe_len = exe_len as u16;
    let fs: u64 = rd(task, konst(&v.task_fs));
    if fs != 0 {
        let pwd = konst(&v.fs_pwd);
        let dentry: u64 = rd(fs, pwd + konst(&v.path_dentry));
        let mnt: u64 = rd(fs, pwd + konst(&v.path_mnt));
        // SAFETY: exe_len is masked below PATH_MAX, so the cwd's PATH_MAX + NAME_BUF bytes
        // start inside the region the caller reserved.
        let w = walk(unsafe { dst.add(exe_len) }, ws, dentry, mnt);
        f.cwd_len = (w.len & PATH_MASK) as u16;
        f.flags |= exe::CWD;
        if w.cut {
            f.flags |= exe::CWD_CUT;
        }
    }
    f
}

/// Device and inode of the file behind descriptor `fd` of `task` (zero when the kernel's
/// layout is unknown, the descriptor is out of the table or not a file).
#[inline(always)]
pub(crate) fn fd_file(task: u64, fd: u64) -> FileFacts {
    let v = &VFS;
    let mut f = FileFacts::default();
    if konst(&v.task_files) == 0 {
        return f;
    }
    let files: u64 = rd(task, konst(&v.task_files));
    let fdt: u64 = rd(files, konst(&v.files_fdt));
    let max: u32 = rd(fdt, konst(&v.fdt_max_fds));
    if fd >= max as u64 {
        return f;
    }
    let slots: u64 = rd(fdt, konst(&v.fdt_fd));
    let file: u64 = rd(slots, (fd as u32) * 8);
    let inode: u64 = rd(file, konst(&v.file_f_inode));
    let sb: u64 = rd(inode, konst(&v.inode_sb));
    f.dev = rd(sb, konst(&v.sb_dev));
    f.ino = rd(inode, konst(&v.inode_ino));
    f
}

/// An inode time in ns since the epoch (0 when unknown or before it).
#[inline(always)]
fn time_ns(inode: u64, sec_off: u32, nsec_off: u32) -> u64 {
    if sec_off == 0 {
        return 0;
    }
    let sec: i64 = rd(inode, sec_off);
    let nsec: u32 = rd(inode, nsec_off);
    if sec < 0 {
        return 0;
    }
    (sec as u64) * 1_000_000_000 + nsec as u64
}

/// Upper or lower overlayfs layer: the overlay inode's upper dentry is set (and positive) for
/// a file written in the container.
#[inline(always)]
fn layer(inode: u64) -> u32 {
    let off = konst(&VFS.ovl_upper);
    if off == 0 {
        return exe::LOWER_LAYER;
    }
    let upper: u64 = rd(inode, off);
    let upper_inode: u64 = rd(upper, konst(&VFS.dentry_inode));
    if upper != 0 && rd::<u64>(upper_inode, konst(&VFS.inode_ino)) != 0 {
        exe::UPPER_LAYER
    } else {
        exe::LOWER_LAYER
    }
}

/// Whether the task may write the inode, as Falco's probe decides it: not on a read-only
/// mount, not immutable; the owner may; else the group or other write bit for the task's
/// fsgid and supplementary groups; else CAP_DAC_OVERRIDE or CAP_FOWNER (user namespace
/// mappings are not checked).
#[inline(always)]
fn writable(task: u64, inode: u64, sb: u64) -> bool {
    let v = &VFS;
    let mode: u16 = rd(inode, konst(&v.inode_mode));
    let ty = mode & S_IFMT;
    if rd::<u64>(sb, konst(&v.sb_flags)) & SB_RDONLY != 0
        && (ty == S_IFREG || ty == S_IFDIR || ty == S_IFLNK)
    {
        return false;
    }
    if rd::<u32>(inode, konst(&v.inode_flags)) & S_IMMUTABLE != 0 {
        return false;
    }
    let iuid: u32 = rd(inode, konst(&v.inode_uid));
    let igid: u32 = rd(inode, konst(&v.inode_gid));
    if iuid == u32::MAX || igid == u32::MAX {
        return false;
    }
    let cred: u64 = rd(task, konst(&OFFSETS.task_cred));
    if cred == 0 {
        return false;
    }
    if rd::<u32>(cred, konst(&v.cred_fsuid)) == iuid {
        return true;
    }
    let mut in_group = rd::<u32>(cred, konst(&v.cred_fsgid)) == igid;
    if !in_group {
        let groups: u64 = rd(cred, konst(&v.cred_groups));
        let n: i32 = rd(groups, konst(&v.groups_n));
        let mut i = 0u32;
        while i < MAX_GROUPS {
            if i as i32 >= n {
                break;
            }
            if rd::<u32>(groups, konst(&v.groups_gid) + 4 * i) == igid {
                in_group = true;
                break;
            }
            i += 1;
        }
    }
    let bits = if in_group { mode >> 3 } else { mode };
    if bits & 0o2 != 0 {
        return true;
    }
    let caps: u64 = rd(cred, konst(&OFFSETS.cred_cap_effective));
    caps & (1 << CAP_DAC_OVERRIDE | 1 << CAP_FOWNER) != 0
}
