//! Kernel structure offsets from the running kernel's BTF.
//!
//! aya-ebpf has no CO-RE relocations for Rust programs, so every struct field the programs
//! read (task ids and pid-namespace numbers, the `TS_COMPAT` status word, the exec filename,
//! cgroup ids, credentials and capabilities, the controlling tty, the parent) is located
//! here, at load time, and handed to the programs as a read-only global. Nothing is
//! hard-coded; a field the kernel lacks fails the load, except the optional login uid.

use btf_rs::{Btf, Type};
use sysaudit_common::{uring::UringOffsets, KernelOffsets, VfsOffsets};

use super::ProbeError;

pub(crate) const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

pub(crate) fn kernel_offsets(btf: &Btf) -> Result<KernelOffsets, ProbeError> {
    Ok(KernelOffsets {
        task_pid: offset_of(btf, "task_struct", "pid")?,
        task_tgid: offset_of(btf, "task_struct", "tgid")?,
        task_ti_status: offset_of(btf, "task_struct", "thread_info.status")?,
        bprm_filename: offset_of(btf, "linux_binprm", "filename")?,
        cgroup_kn: offset_of(btf, "cgroup", "kn")?,
        cgroup_root: offset_of(btf, "cgroup", "root")?,
        kn_id: offset_of(btf, "kernfs_node", "id")?,
        root_hierarchy_id: offset_of(btf, "cgroup_root", "hierarchy_id")?,
        task_thread_pid: offset_of(btf, "task_struct", "thread_pid")?,
        pid_level: offset_of(btf, "pid", "level")?,
        pid_numbers: offset_of(btf, "pid", "numbers")?,
        upid_size: struct_size(btf, "upid")?,
        // Kernels without CONFIG_AUDIT have no login uid: leave it unread.
        task_loginuid: offset_of(btf, "task_struct", "loginuid").unwrap_or(0),
        task_cred: offset_of(btf, "task_struct", "cred")?,
        cred_cap_effective: offset_of(btf, "cred", "cap_effective")?,
        cred_cap_permitted: offset_of(btf, "cred", "cap_permitted")?,
        cred_cap_inheritable: offset_of(btf, "cred", "cap_inheritable")?,
        task_signal: offset_of(btf, "task_struct", "signal")?,
        signal_tty: offset_of(btf, "signal_struct", "tty")?,
        tty_index: offset_of(btf, "tty_struct", "index")?,
        tty_driver: offset_of(btf, "tty_struct", "driver")?,
        driver_major: offset_of(btf, "tty_driver", "major")?,
        driver_minor_start: offset_of(btf, "tty_driver", "minor_start")?,
        task_cgroups: offset_of(btf, "task_struct", "cgroups")?,
        css_set_dfl_cgrp: offset_of(btf, "css_set", "dfl_cgrp")?,
        task_real_parent: offset_of(btf, "task_struct", "real_parent")?,
        task_comm: offset_of(btf, "task_struct", "comm")?,
        cred_uid: offset_of(btf, "cred", "uid")?,
        cred_gid: offset_of(btf, "cred", "gid")?,
    })
}

/// Offsets for the executable and working-directory facts read at exec. These are optional
/// as a whole: on a kernel whose layout is not the one expected, the facts are left unread
/// (zero offsets) and the agent falls back to /proc, with a warning.
pub(crate) fn vfs_offsets(btf: &Btf) -> VfsOffsets {
    match try_vfs_offsets(btf) {
        Ok(v) => v,
        Err(e) => {
            log::warn!("executable facts are not read in the kernel: {e}");
            VfsOffsets::default()
        }
    }
}

fn try_vfs_offsets(btf: &Btf) -> Result<VfsOffsets, ProbeError> {
    let o = |s: &str, p: &str| offset_of(btf, s, p);
    // The inode times moved twice (6.6: `__i_ctime`, 6.11: `i_ctime_sec` + `i_ctime_nsec`).
    let time = |new_sec: &str, new_nsec: &str, mid: &str, old: &str| {
        o("inode", new_sec)
            .and_then(|s| Ok((s, o("inode", new_nsec)?)))
            .or_else(|_| {
                Ok((
                    o("inode", &format!("{mid}.tv_sec"))?,
                    o("inode", &format!("{mid}.tv_nsec"))?,
                ))
            })
            .or_else(|_: ProbeError| {
                Ok::<_, ProbeError>((
                    o("inode", &format!("{old}.tv_sec"))?,
                    o("inode", &format!("{old}.tv_nsec"))?,
                ))
            })
            .unwrap_or((0, 0))
    };
    let (ctime_sec, ctime_nsec) = time("i_ctime_sec", "i_ctime_nsec", "__i_ctime", "i_ctime");
    let (mtime_sec, mtime_nsec) = time("i_mtime_sec", "i_mtime_nsec", "__i_mtime", "i_mtime");
    // overlayfs keeps the upper dentry right after the VFS inode it embeds.
    let ovl_upper = match (o("ovl_inode", "__upperdentry"), o("ovl_inode", "vfs_inode")) {
        (Ok(u), Ok(v)) if u > v => u - v,
        _ => 0,
    };
    Ok(VfsOffsets {
        task_mm: o("task_struct", "mm")?,
        mm_exe_file: o("mm_struct", "exe_file")?,
        task_fs: o("task_struct", "fs")?,
        fs_pwd: o("fs_struct", "pwd")?,
        file_f_path: o("file", "f_path")?,
        file_f_inode: o("file", "f_inode")?,
        path_mnt: o("path", "mnt")?,
        path_dentry: o("path", "dentry")?,
        dentry_parent: o("dentry", "d_parent")?,
        dentry_name: o("dentry", "d_name.name")?,
        dentry_inode: o("dentry", "d_inode")?,
        dentry_sb: o("dentry", "d_sb")?,
        vfsmount_root: o("vfsmount", "mnt_root")?,
        mount_mnt: o("mount", "mnt")?,
        mount_parent: o("mount", "mnt_parent")?,
        mount_mountpoint: o("mount", "mnt_mountpoint")?,
        inode_ino: o("inode", "i_ino")?,
        inode_mode: o("inode", "i_mode")?,
        inode_uid: o("inode", "i_uid")?,
        inode_gid: o("inode", "i_gid")?,
        inode_flags: o("inode", "i_flags")?,
        inode_ctime_sec: ctime_sec,
        inode_ctime_nsec: ctime_nsec,
        inode_mtime_sec: mtime_sec,
        inode_mtime_nsec: mtime_nsec,
        ovl_upper,
        sb_magic: o("super_block", "s_magic")?,
        sb_flags: o("super_block", "s_flags")?,
        cred_fsuid: o("cred", "fsuid")?,
        cred_fsgid: o("cred", "fsgid")?,
        cred_groups: o("cred", "group_info")?,
        groups_n: o("group_info", "ngroups")?,
        groups_gid: o("group_info", "gid")?,
        task_files: o("task_struct", "files")?,
        files_fdt: o("files_struct", "fdt")?,
        fdt_max_fds: o("fdtable", "max_fds")?,
        fdt_fd: o("fdtable", "fd")?,
        inode_sb: o("inode", "i_sb")?,
        sb_dev: o("super_block", "s_dev")?,
    })
}

/// Offsets for io_uring requests; all zero (io_uring not traced, with a warning) on a kernel
/// without io_uring or whose request layout is not the one expected.
pub(crate) fn uring_offsets(btf: &Btf) -> UringOffsets {
    match try_uring_offsets(btf) {
        Ok(u) => u,
        Err(e) => {
            log::warn!("io_uring operations are not traced: {e}");
            UringOffsets::default()
        }
    }
}

fn try_uring_offsets(btf: &Btf) -> Result<UringOffsets, ProbeError> {
    let o = |s: &str, p: &str| offset_of(btf, s, p);
    Ok(UringOffsets {
        req_opcode: o("io_kiocb", "opcode")?,
        req_flags: o("io_kiocb", "flags")?,
        req_fd: o("io_kiocb", "cqe.fd")?,
        req_cmd: o("io_kiocb", "cmd")?,
        filename_name: o("filename", "name")?,
        open_dfd: o("io_open", "dfd")?,
        open_file_slot: o("io_open", "file_slot")?,
        open_filename: o("io_open", "filename")?,
        open_how: o("io_open", "how")?,
        rename_old_dfd: o("io_rename", "old_dfd")?,
        rename_new_dfd: o("io_rename", "new_dfd")?,
        rename_oldpath: o("io_rename", "oldpath")?,
        rename_newpath: o("io_rename", "newpath")?,
        rename_flags: o("io_rename", "flags")?,
        link_old_dfd: o("io_link", "old_dfd")?,
        link_new_dfd: o("io_link", "new_dfd")?,
        link_oldpath: o("io_link", "oldpath")?,
        link_newpath: o("io_link", "newpath")?,
        link_flags: o("io_link", "flags")?,
        unlink_dfd: o("io_unlink", "dfd")?,
        unlink_flags: o("io_unlink", "flags")?,
        unlink_filename: o("io_unlink", "filename")?,
        mkdir_dfd: o("io_mkdir", "dfd")?,
        mkdir_mode: o("io_mkdir", "mode")?,
        mkdir_filename: o("io_mkdir", "filename")?,
        connect_addr: o("io_connect", "addr")?,
        connect_addr_len: o("io_connect", "addr_len")?,
        socket_domain: o("io_socket", "domain")?,
        socket_type: o("io_socket", "type")?,
        socket_protocol: o("io_socket", "protocol")?,
        socket_file_slot: o("io_socket", "file_slot")?,
        accept_flags: o("io_accept", "flags")?,
        accept_file_slot: o("io_accept", "file_slot")?,
        close_fd: o("io_close", "fd")?,
        close_file_slot: o("io_close", "file_slot")?,
        rw_len: o("io_rw", "len")?,
        sr_len: o("io_sr_msg", "len")?,
        task_flags: o("task_struct", "flags")?,
        task_group_leader: o("task_struct", "group_leader")?,
    })
}

/// Size in bytes of struct `name`.
pub(crate) fn struct_size(btf: &Btf, name: &str) -> Result<u32, ProbeError> {
    btf.resolve_types_by_name(name)
        .map_err(|e| ProbeError::Btf(format!("struct {name}: {e}")))?
        .into_iter()
        .find_map(|t| match t {
            Type::Struct(s) => Some(s.size() as u32),
            _ => None,
        })
        .ok_or_else(|| ProbeError::Btf(format!("no struct {name} in the kernel's BTF")))
}

/// Byte offset of `path` (dot-separated members) inside struct `name`. Members of anonymous
/// structs and unions are found as if they were direct members, as in C.
pub(crate) fn offset_of(btf: &Btf, name: &str, path: &str) -> Result<u32, ProbeError> {
    let missing = || ProbeError::Btf(format!("no member {name}.{path} in the kernel's BTF"));
    let ty = btf
        .resolve_types_by_name(name)
        .map_err(|e| ProbeError::Btf(format!("struct {name}: {e}")))?
        .into_iter()
        .find(|t| matches!(t, Type::Struct(_)))
        .ok_or_else(|| ProbeError::Btf(format!("no struct {name} in the kernel's BTF")))?;
    let mut cur = ty;
    let mut bits = 0u32;
    for part in path.split('.') {
        let (off, next) = find_member(btf, &cur, part).ok_or_else(missing)?;
        bits += off;
        cur = next;
    }
    if !bits.is_multiple_of(8) {
        return Err(ProbeError::Btf(format!("{name}.{path} is a bitfield")));
    }
    Ok(bits / 8)
}

/// Find member `want` in struct/union `ty`, descending into anonymous members. Returns its bit
/// offset and its (typedef-resolved) type.
fn find_member(btf: &Btf, ty: &Type, want: &str) -> Option<(u32, Type)> {
    let members = match ty {
        Type::Struct(s) | Type::Union(s) => &s.members,
        _ => return None,
    };
    for m in members {
        let name = btf.resolve_name(m).unwrap_or_default();
        let mty = strip(btf, btf.resolve_chained_type(m).ok()?);
        if name == want {
            return Some((m.bit_offset(), mty));
        }
        if name.is_empty() {
            if let Some((off, t)) = find_member(btf, &mty, want) {
                return Some((m.bit_offset() + off, t));
            }
        }
    }
    None
}

/// Follow typedefs and qualifiers to the underlying type.
fn strip(btf: &Btf, mut ty: Type) -> Type {
    for _ in 0..16 {
        let next = match &ty {
            Type::Typedef(t) => btf.resolve_chained_type(t),
            Type::Const(t) => btf.resolve_chained_type(t),
            Type::Volatile(t) => btf.resolve_chained_type(t),
            Type::Restrict(t) => btf.resolve_chained_type(t),
            Type::TypeTag(t) => btf.resolve_chained_type(t),
            _ => return ty,
        };
        match next {
            Ok(n) => ty = n,
            Err(_) => return ty,
        }
    }
    ty
}

#[cfg(test)]
mod tests {
    use super::*;

    // Needs the running kernel's BTF; every machine this project targets has it.
    #[test]
    fn finds_task_struct_offsets() {
        if !std::path::Path::new(VMLINUX_BTF).exists() {
            eprintln!("skipping: no {VMLINUX_BTF}");
            return;
        }
        let btf = Btf::from_file(VMLINUX_BTF).expect("parse vmlinux BTF");
        let off = kernel_offsets(&btf).expect("offsets");
        // thread_info is the first member of task_struct on x86 (THREAD_INFO_IN_TASK).
        assert!(off.task_ti_status < 64, "{off:?}");
        assert!(
            off.task_pid > 0 && off.task_tgid == off.task_pid + 4,
            "{off:?}"
        );
        assert!(offset_of(&btf, "task_struct", "no_such_member").is_err());
        assert_eq!(off.upid_size, 16);
        assert!(off.cred_cap_effective > off.cred_cap_permitted);
    }

    #[test]
    fn finds_the_vfs_offsets_of_the_exec_facts() {
        if !std::path::Path::new(VMLINUX_BTF).exists() {
            eprintln!("skipping: no {VMLINUX_BTF}");
            return;
        }
        let btf = Btf::from_file(VMLINUX_BTF).expect("parse vmlinux BTF");
        let v = try_vfs_offsets(&btf).expect("this kernel has the layout the probe reads");
        // Nonzero is what the programs test before reading a fact.
        assert!(v.task_mm > 0 && v.task_fs > 0 && v.mount_mnt > 0, "{v:?}");
        assert!(
            v.inode_ctime_sec > 0 && v.inode_mtime_sec > 0,
            "one of the time layouts"
        );
        // d_name is a qstr whose `name` pointer follows its hash and length.
        assert_eq!(
            v.dentry_name,
            offset_of(&btf, "dentry", "d_name").unwrap() + 8
        );
        assert!(offset_of(&btf, "inode", "no_such_time").is_err());
    }
}
