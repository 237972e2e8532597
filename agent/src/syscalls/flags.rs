//! Symbolic rendering of flag, mode and enum arguments, the way Falco prints them
//! (`O_RDONLY|O_CLOEXEC`, `S_IRUSR|S_ISUID`, `AF_PACKET`), so that rule conditions such as
//! `evt.arg.flags contains O_CREAT` compare symbols. Values come from the libc crate.

use libc as c;

type Names = &'static [(u64, &'static str)];

pub(crate) const OPEN_FLAGS: Names = &[
    (c::O_WRONLY as u64, "O_WRONLY"),
    (c::O_RDWR as u64, "O_RDWR"),
    (c::O_CREAT as u64, "O_CREAT"),
    (c::O_EXCL as u64, "O_EXCL"),
    (c::O_NOCTTY as u64, "O_NOCTTY"),
    (c::O_TRUNC as u64, "O_TRUNC"),
    (c::O_APPEND as u64, "O_APPEND"),
    (c::O_NONBLOCK as u64, "O_NONBLOCK"),
    (c::O_DSYNC as u64, "O_DSYNC"),
    (c::O_ASYNC as u64, "O_ASYNC"),
    (c::O_DIRECT as u64, "O_DIRECT"),
    (c::O_LARGEFILE as u64, "O_LARGEFILE"),
    (c::O_DIRECTORY as u64, "O_DIRECTORY"),
    (c::O_NOFOLLOW as u64, "O_NOFOLLOW"),
    (c::O_NOATIME as u64, "O_NOATIME"),
    (c::O_CLOEXEC as u64, "O_CLOEXEC"),
    // O_SYNC includes O_DSYNC's bit; listed by its own extra bit.
    ((c::O_SYNC & !c::O_DSYNC) as u64, "O_SYNC"),
    ((c::O_PATH) as u64, "O_PATH"),
    ((c::O_TMPFILE & !c::O_DIRECTORY) as u64, "O_TMPFILE"),
];

/// Open flags: the access mode first (O_RDONLY is 0, so it is named explicitly), then bits.
pub(crate) fn open_flags(v: u64) -> String {
    let mut out = String::new();
    if v & (c::O_ACCMODE as u64) == c::O_RDONLY as u64 && v & c::O_PATH as u64 == 0 {
        out.push_str("O_RDONLY");
    }
    bits_into(&mut out, v, OPEN_FLAGS);
    if out.is_empty() {
        out.push_str("O_RDONLY");
    }
    out
}

pub(crate) const MODE_BITS: Names = &[
    (c::S_IXOTH as u64, "S_IXOTH"),
    (c::S_IWOTH as u64, "S_IWOTH"),
    (c::S_IROTH as u64, "S_IROTH"),
    (c::S_IXGRP as u64, "S_IXGRP"),
    (c::S_IWGRP as u64, "S_IWGRP"),
    (c::S_IRGRP as u64, "S_IRGRP"),
    (c::S_IXUSR as u64, "S_IXUSR"),
    (c::S_IWUSR as u64, "S_IWUSR"),
    (c::S_IRUSR as u64, "S_IRUSR"),
    (c::S_ISVTX as u64, "S_ISVTX"),
    (c::S_ISGID as u64, "S_ISGID"),
    (c::S_ISUID as u64, "S_ISUID"),
];

/// Permission bits of a mode, `0` for none.
pub(crate) fn mode(v: u64) -> String {
    let s = bits(v & 0o7777, MODE_BITS);
    if s.is_empty() {
        "0".into()
    } else {
        s
    }
}

pub(crate) const AT_FLAGS: Names = &[
    (c::AT_SYMLINK_NOFOLLOW as u64, "AT_SYMLINK_NOFOLLOW"),
    (c::AT_REMOVEDIR as u64, "AT_REMOVEDIR"),
    (c::AT_SYMLINK_FOLLOW as u64, "AT_SYMLINK_FOLLOW"),
    (c::AT_NO_AUTOMOUNT as u64, "AT_NO_AUTOMOUNT"),
    (c::AT_EMPTY_PATH as u64, "AT_EMPTY_PATH"),
];

pub(crate) const RENAME_FLAGS: Names = &[
    (1, "RENAME_NOREPLACE"),
    (2, "RENAME_EXCHANGE"),
    (4, "RENAME_WHITEOUT"),
];

pub(crate) const CLONE_FLAGS: Names = &[
    (c::CLONE_VM as u64, "CLONE_VM"),
    (c::CLONE_FS as u64, "CLONE_FS"),
    (c::CLONE_FILES as u64, "CLONE_FILES"),
    (c::CLONE_SIGHAND as u64, "CLONE_SIGHAND"),
    (c::CLONE_PIDFD as u64, "CLONE_PIDFD"),
    (c::CLONE_PTRACE as u64, "CLONE_PTRACE"),
    (c::CLONE_VFORK as u64, "CLONE_VFORK"),
    (c::CLONE_PARENT as u64, "CLONE_PARENT"),
    (c::CLONE_THREAD as u64, "CLONE_THREAD"),
    (c::CLONE_NEWNS as u64, "CLONE_NEWNS"),
    (c::CLONE_SYSVSEM as u64, "CLONE_SYSVSEM"),
    (c::CLONE_SETTLS as u64, "CLONE_SETTLS"),
    (c::CLONE_PARENT_SETTID as u64, "CLONE_PARENT_SETTID"),
    (c::CLONE_CHILD_CLEARTID as u64, "CLONE_CHILD_CLEARTID"),
    (c::CLONE_DETACHED as u64, "CLONE_DETACHED"),
    (c::CLONE_UNTRACED as u64, "CLONE_UNTRACED"),
    (c::CLONE_CHILD_SETTID as u64, "CLONE_CHILD_SETTID"),
    (c::CLONE_NEWCGROUP as u64, "CLONE_NEWCGROUP"),
    (c::CLONE_NEWUTS as u64, "CLONE_NEWUTS"),
    (c::CLONE_NEWIPC as u64, "CLONE_NEWIPC"),
    (c::CLONE_NEWUSER as u64, "CLONE_NEWUSER"),
    (c::CLONE_NEWPID as u64, "CLONE_NEWPID"),
    (c::CLONE_NEWNET as u64, "CLONE_NEWNET"),
    (c::CLONE_IO as u64, "CLONE_IO"),
];

pub(crate) const MOUNT_FLAGS: Names = &[
    (c::MS_RDONLY, "MS_RDONLY"),
    (c::MS_NOSUID, "MS_NOSUID"),
    (c::MS_NODEV, "MS_NODEV"),
    (c::MS_NOEXEC, "MS_NOEXEC"),
    (c::MS_SYNCHRONOUS, "MS_SYNCHRONOUS"),
    (c::MS_REMOUNT, "MS_REMOUNT"),
    (c::MS_MANDLOCK, "MS_MANDLOCK"),
    (c::MS_DIRSYNC, "MS_DIRSYNC"),
    (c::MS_NOATIME, "MS_NOATIME"),
    (c::MS_NODIRATIME, "MS_NODIRATIME"),
    (c::MS_BIND, "MS_BIND"),
    (c::MS_MOVE, "MS_MOVE"),
    (c::MS_REC, "MS_REC"),
    (c::MS_SILENT, "MS_SILENT"),
    (c::MS_POSIXACL, "MS_POSIXACL"),
    (c::MS_UNBINDABLE, "MS_UNBINDABLE"),
    (c::MS_PRIVATE, "MS_PRIVATE"),
    (c::MS_SLAVE, "MS_SLAVE"),
    (c::MS_SHARED, "MS_SHARED"),
    (c::MS_RELATIME, "MS_RELATIME"),
    (c::MS_KERNMOUNT, "MS_KERNMOUNT"),
    (c::MS_I_VERSION, "MS_I_VERSION"),
    (c::MS_STRICTATIME, "MS_STRICTATIME"),
    (c::MS_LAZYTIME, "MS_LAZYTIME"),
];

pub(crate) const UMOUNT_FLAGS: Names = &[
    (c::MNT_FORCE as u64, "MNT_FORCE"),
    (c::MNT_DETACH as u64, "MNT_DETACH"),
    (c::MNT_EXPIRE as u64, "MNT_EXPIRE"),
    (c::UMOUNT_NOFOLLOW as u64, "UMOUNT_NOFOLLOW"),
];

pub(crate) const SOCK_TYPE_FLAGS: Names = &[
    (c::SOCK_NONBLOCK as u64, "SOCK_NONBLOCK"),
    (c::SOCK_CLOEXEC as u64, "SOCK_CLOEXEC"),
];

pub(crate) const MEMFD_FLAGS: Names = &[
    (c::MFD_CLOEXEC as u64, "MFD_CLOEXEC"),
    (c::MFD_ALLOW_SEALING as u64, "MFD_ALLOW_SEALING"),
    (c::MFD_HUGETLB as u64, "MFD_HUGETLB"),
];

pub(crate) const PROT_FLAGS: Names = &[
    (c::PROT_READ as u64, "PROT_READ"),
    (c::PROT_WRITE as u64, "PROT_WRITE"),
    (c::PROT_EXEC as u64, "PROT_EXEC"),
];

type Enum = &'static [(i64, &'static str)];

pub(crate) const ADDRESS_FAMILIES: Enum = &[
    (c::AF_UNSPEC as i64, "AF_UNSPEC"),
    (c::AF_UNIX as i64, "AF_UNIX"),
    (c::AF_INET as i64, "AF_INET"),
    (c::AF_INET6 as i64, "AF_INET6"),
    (c::AF_NETLINK as i64, "AF_NETLINK"),
    (c::AF_PACKET as i64, "AF_PACKET"),
    (c::AF_KEY as i64, "AF_KEY"),
    (c::AF_ALG as i64, "AF_ALG"),
    (c::AF_VSOCK as i64, "AF_VSOCK"),
    (c::AF_BLUETOOTH as i64, "AF_BLUETOOTH"),
    (c::AF_CAN as i64, "AF_CAN"),
    (c::AF_XDP as i64, "AF_XDP"),
];

pub(crate) const SOCK_TYPES: Enum = &[
    (c::SOCK_STREAM as i64, "SOCK_STREAM"),
    (c::SOCK_DGRAM as i64, "SOCK_DGRAM"),
    (c::SOCK_RAW as i64, "SOCK_RAW"),
    (c::SOCK_RDM as i64, "SOCK_RDM"),
    (c::SOCK_SEQPACKET as i64, "SOCK_SEQPACKET"),
    (10, "SOCK_PACKET"),
];

pub(crate) const PTRACE_REQUESTS: Enum = &[
    (c::PTRACE_TRACEME as i64, "PTRACE_TRACEME"),
    (c::PTRACE_PEEKTEXT as i64, "PTRACE_PEEKTEXT"),
    (c::PTRACE_PEEKDATA as i64, "PTRACE_PEEKDATA"),
    (c::PTRACE_PEEKUSER as i64, "PTRACE_PEEKUSR"),
    (c::PTRACE_POKETEXT as i64, "PTRACE_POKETEXT"),
    (c::PTRACE_POKEDATA as i64, "PTRACE_POKEDATA"),
    (c::PTRACE_POKEUSER as i64, "PTRACE_POKEUSR"),
    (c::PTRACE_CONT as i64, "PTRACE_CONT"),
    (c::PTRACE_KILL as i64, "PTRACE_KILL"),
    (c::PTRACE_SINGLESTEP as i64, "PTRACE_SINGLESTEP"),
    (c::PTRACE_GETREGS as i64, "PTRACE_GETREGS"),
    (c::PTRACE_SETREGS as i64, "PTRACE_SETREGS"),
    (c::PTRACE_GETFPREGS as i64, "PTRACE_GETFPREGS"),
    (c::PTRACE_SETFPREGS as i64, "PTRACE_SETFPREGS"),
    (c::PTRACE_ATTACH as i64, "PTRACE_ATTACH"),
    (c::PTRACE_DETACH as i64, "PTRACE_DETACH"),
    (c::PTRACE_SYSCALL as i64, "PTRACE_SYSCALL"),
    (c::PTRACE_SETOPTIONS as i64, "PTRACE_SETOPTIONS"),
    (c::PTRACE_GETEVENTMSG as i64, "PTRACE_GETEVENTMSG"),
    (c::PTRACE_GETSIGINFO as i64, "PTRACE_GETSIGINFO"),
    (c::PTRACE_SETSIGINFO as i64, "PTRACE_SETSIGINFO"),
    (c::PTRACE_GETREGSET as i64, "PTRACE_GETREGSET"),
    (c::PTRACE_SETREGSET as i64, "PTRACE_SETREGSET"),
    (c::PTRACE_SEIZE as i64, "PTRACE_SEIZE"),
    (c::PTRACE_INTERRUPT as i64, "PTRACE_INTERRUPT"),
    (c::PTRACE_LISTEN as i64, "PTRACE_LISTEN"),
];

pub(crate) const BPF_CMDS: Enum = &[
    (0, "BPF_MAP_CREATE"),
    (1, "BPF_MAP_LOOKUP_ELEM"),
    (2, "BPF_MAP_UPDATE_ELEM"),
    (3, "BPF_MAP_DELETE_ELEM"),
    (4, "BPF_MAP_GET_NEXT_KEY"),
    (5, "BPF_PROG_LOAD"),
    (6, "BPF_OBJ_PIN"),
    (7, "BPF_OBJ_GET"),
    (8, "BPF_PROG_ATTACH"),
    (9, "BPF_PROG_DETACH"),
    (10, "BPF_PROG_TEST_RUN"),
    (17, "BPF_RAW_TRACEPOINT_OPEN"),
    (18, "BPF_BTF_LOAD"),
    (28, "BPF_LINK_CREATE"),
];

pub(crate) const SIGNALS: Enum = &[
    (c::SIGHUP as i64, "SIGHUP"),
    (c::SIGINT as i64, "SIGINT"),
    (c::SIGQUIT as i64, "SIGQUIT"),
    (c::SIGILL as i64, "SIGILL"),
    (c::SIGTRAP as i64, "SIGTRAP"),
    (c::SIGABRT as i64, "SIGABRT"),
    (c::SIGBUS as i64, "SIGBUS"),
    (c::SIGFPE as i64, "SIGFPE"),
    (c::SIGKILL as i64, "SIGKILL"),
    (c::SIGUSR1 as i64, "SIGUSR1"),
    (c::SIGSEGV as i64, "SIGSEGV"),
    (c::SIGUSR2 as i64, "SIGUSR2"),
    (c::SIGPIPE as i64, "SIGPIPE"),
    (c::SIGALRM as i64, "SIGALRM"),
    (c::SIGTERM as i64, "SIGTERM"),
    (c::SIGCHLD as i64, "SIGCHLD"),
    (c::SIGCONT as i64, "SIGCONT"),
    (c::SIGSTOP as i64, "SIGSTOP"),
    (c::SIGTSTP as i64, "SIGTSTP"),
    (c::SIGSYS as i64, "SIGSYS"),
];

pub(crate) const PRCTL_OPTIONS: Enum = &[
    (c::PR_SET_PDEATHSIG as i64, "PR_SET_PDEATHSIG"),
    (c::PR_GET_PDEATHSIG as i64, "PR_GET_PDEATHSIG"),
    (c::PR_GET_DUMPABLE as i64, "PR_GET_DUMPABLE"),
    (c::PR_SET_DUMPABLE as i64, "PR_SET_DUMPABLE"),
    (c::PR_SET_KEEPCAPS as i64, "PR_SET_KEEPCAPS"),
    (c::PR_SET_NAME as i64, "PR_SET_NAME"),
    (c::PR_GET_NAME as i64, "PR_GET_NAME"),
    (c::PR_GET_SECCOMP as i64, "PR_GET_SECCOMP"),
    (c::PR_SET_SECCOMP as i64, "PR_SET_SECCOMP"),
    (c::PR_CAPBSET_READ as i64, "PR_CAPBSET_READ"),
    (c::PR_CAPBSET_DROP as i64, "PR_CAPBSET_DROP"),
    (c::PR_SET_SECUREBITS as i64, "PR_SET_SECUREBITS"),
    (c::PR_SET_CHILD_SUBREAPER as i64, "PR_SET_CHILD_SUBREAPER"),
    (c::PR_SET_NO_NEW_PRIVS as i64, "PR_SET_NO_NEW_PRIVS"),
    (c::PR_GET_NO_NEW_PRIVS as i64, "PR_GET_NO_NEW_PRIVS"),
    (c::PR_CAP_AMBIENT as i64, "PR_CAP_AMBIENT"),
];

/// `A|B|C` for the set bits that have names, then any remainder in hex.
pub(crate) fn bits(v: u64, names: Names) -> String {
    let mut out = String::new();
    bits_into(&mut out, v, names);
    out
}

fn bits_into(out: &mut String, v: u64, names: Names) {
    let mut rest = v;
    for (bit, name) in names {
        if *bit != 0 && v & bit == *bit {
            if !out.is_empty() {
                out.push('|');
            }
            out.push_str(name);
            rest &= !bit;
        }
    }
    if rest != 0 && names.iter().all(|(b, _)| *b != 0) {
        if !out.is_empty() {
            out.push('|');
        }
        out.push_str(&format!("{rest:#x}"));
    }
}

/// The name of an enum value, or the number.
pub(crate) fn enum_name(v: i64, names: Enum) -> String {
    names
        .iter()
        .find(|(n, _)| *n == v)
        .map(|(_, s)| (*s).to_string())
        .unwrap_or_else(|| v.to_string())
}

/// Socket type with its flag bits (`SOCK_STREAM|SOCK_CLOEXEC`).
pub(crate) fn sock_type(v: u64) -> String {
    let base = v & 0xf;
    let mut s = enum_name(base as i64, SOCK_TYPES);
    let f = bits(v & !0xf, SOCK_TYPE_FLAGS);
    if !f.is_empty() {
        s.push('|');
        s.push_str(&f);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_name_the_access_mode() {
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(
            open_flags((c::O_RDONLY | c::O_CLOEXEC) as u64),
            "O_RDONLY|O_CLOEXEC"
        );
        let f = open_flags((c::O_WRONLY | c::O_CREAT | c::O_TRUNC) as u64);
        assert_eq!(f, "O_WRONLY|O_CREAT|O_TRUNC");
        assert!(open_flags(c::O_SYNC as u64).contains("O_SYNC"));
    }

    #[test]
    fn modes_and_enums() {
        assert_eq!(
            mode(0o4755),
            "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"
        );
        assert_eq!(mode(0), "0");
        assert_eq!(enum_name(17, ADDRESS_FAMILIES), "AF_PACKET");
        assert_eq!(enum_name(999, ADDRESS_FAMILIES), "999");
        assert_eq!(
            sock_type((c::SOCK_RAW | c::SOCK_CLOEXEC) as u64),
            "SOCK_RAW|SOCK_CLOEXEC"
        );
        assert_eq!(
            bits(c::CLONE_NEWNS as u64 | 1 << 40, CLONE_FLAGS),
            "CLONE_NEWNS|0x10000000000"
        );
    }
}
