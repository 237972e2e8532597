//! Syscall signatures: each syscall's arguments, named as in Falco's event table, with how
//! each is decoded (see [`Kind`]).

use super::args::Kind::{self, *};

/// (syscall, [(argument name, kind)]) in argument order.
pub(super) type Sig = (&'static str, &'static [(&'static str, Kind)]);

pub(super) const SIGS: &[Sig] = &[
    (
        "open",
        &[("name", Path), ("flags", OpenFlags), ("mode", Mode)],
    ),
    ("close", &[("fd", Fd)]),
    ("read", &[("fd", Fd), ("buf", Buf), ("size", UInt)]),
    ("write", &[("fd", Fd), ("buf", Buf), ("size", UInt)]),
    (
        "execve",
        &[("filename", Path), ("argv", Ptr), ("envp", Ptr)],
    ),
    (
        "clone",
        &[
            ("flags", CloneFlags),
            ("stack", Ptr),
            ("parent_tid", Ptr),
            ("child_tid", Ptr),
            ("tls", Ptr),
        ],
    ),
    (
        "socket",
        &[("domain", Family), ("type", SockType), ("proto", Int)],
    ),
    (
        "bind",
        &[("fd", Fd), ("addr", SockAddr(2)), ("addrlen", UInt)],
    ),
    (
        "connect",
        &[("fd", Fd), ("addr", SockAddr(2)), ("addrlen", UInt)],
    ),
    ("listen", &[("fd", Fd), ("backlog", Int)]),
    (
        "accept",
        &[("fd", Fd), ("addr", SockAddrOut(2)), ("addrlen", Ptr)],
    ),
    (
        "sendto",
        &[
            ("fd", Fd),
            ("buf", Buf),
            ("size", UInt),
            ("flags", Hex),
            ("addr", SockAddr(5)),
            ("addrlen", UInt),
        ],
    ),
    (
        "recvfrom",
        &[
            ("fd", Fd),
            ("buf", Buf),
            ("size", UInt),
            ("flags", Hex),
            ("addr", SockAddrOut(5)),
            ("addrlen", Ptr),
        ],
    ),
    ("shutdown", &[("fd", Fd), ("how", Int)]),
    (
        "getsockname",
        &[("fd", Fd), ("addr", SockAddrOut(2)), ("addrlen", Ptr)],
    ),
    (
        "getpeername",
        &[("fd", Fd), ("addr", SockAddrOut(2)), ("addrlen", Ptr)],
    ),
    (
        "socketpair",
        &[("domain", Family), ("type", SockType), ("proto", Int)],
    ),
    ("sendmsg", &[("fd", Fd), ("msg", Ptr), ("flags", Hex)]),
    ("recvmsg", &[("fd", Fd), ("msg", Ptr), ("flags", Hex)]),
    ("creat", &[("name", Path), ("mode", Mode)]),
    ("stat", &[("path", Path), ("statbuf", Ptr)]),
    ("lstat", &[("path", Path), ("statbuf", Ptr)]),
    ("ioctl", &[("fd", Fd), ("request", Hex), ("argument", Hex)]),
    ("chdir", &[("path", Path)]),
    ("fchdir", &[("fd", Fd)]),
    ("mkdir", &[("path", Path), ("mode", Mode)]),
    ("rmdir", &[("path", Path)]),
    (
        "openat",
        &[
            ("dirfd", DirFd),
            ("name", Path),
            ("flags", OpenFlags),
            ("mode", Mode),
        ],
    ),
    ("link", &[("oldpath", Path), ("newpath", Path)]),
    (
        "linkat",
        &[
            ("olddir", DirFd),
            ("oldpath", Path),
            ("newdir", DirFd),
            ("newpath", Path),
            ("flags", AtFlags),
        ],
    ),
    ("unlink", &[("path", Path)]),
    (
        "unlinkat",
        &[("dirfd", DirFd), ("name", Path), ("flags", AtFlags)],
    ),
    (
        "pread64",
        &[("fd", Fd), ("buf", Buf), ("size", UInt), ("pos", Int)],
    ),
    (
        "pwrite64",
        &[("fd", Fd), ("buf", Buf), ("size", UInt), ("pos", Int)],
    ),
    ("dup", &[("fd", Fd)]),
    ("kill", &[("pid", Int), ("sig", Signal)]),
    ("tkill", &[("tid", Int), ("sig", Signal)]),
    ("tgkill", &[("pid", Int), ("tid", Int), ("sig", Signal)]),
    ("fcntl", &[("fd", Fd), ("cmd", Int), ("arg", Hex)]),
    (
        "mmap",
        &[
            ("addr", Hex),
            ("length", UInt),
            ("prot", Prot),
            ("flags", Hex),
            ("fd", Fd),
            ("offset", UInt),
        ],
    ),
    (
        "ptrace",
        &[
            ("request", PtraceRequest),
            ("pid", Int),
            ("addr", Hex),
            ("data", Hex),
        ],
    ),
    ("rename", &[("oldpath", Path), ("newpath", Path)]),
    (
        "renameat",
        &[
            ("olddirfd", DirFd),
            ("oldpath", Path),
            ("newdirfd", DirFd),
            ("newpath", Path),
        ],
    ),
    ("symlink", &[("target", Path), ("linkpath", Path)]),
    (
        "symlinkat",
        &[("target", Path), ("linkdirfd", DirFd), ("linkpath", Path)],
    ),
    ("setresuid", &[("ruid", Int), ("euid", Int), ("suid", Int)]),
    ("setresgid", &[("rgid", Int), ("egid", Int), ("sgid", Int)]),
    ("setuid", &[("uid", Int)]),
    ("setgid", &[("gid", Int)]),
    ("setns", &[("fd", Fd), ("nstype", CloneFlags)]),
    (
        "mount",
        &[
            ("dev", Path),
            ("dir", Path),
            ("type", Ptr),
            ("flags", MountFlags),
            ("data", Ptr),
        ],
    ),
    ("umount", &[("name", Path)]),
    ("access", &[("pathname", Path), ("mode", Int)]),
    ("chroot", &[("path", Path)]),
    ("setsid", &[]),
    ("unshare", &[("flags", CloneFlags)]),
    ("setpgid", &[("pid", Int), ("pgid", Int)]),
    ("bpf", &[("cmd", BpfCmd), ("attr", Ptr), ("size", UInt)]),
    ("seccomp", &[("op", Int), ("flags", Hex), ("args", Ptr)]),
    (
        "mkdirat",
        &[("dirfd", DirFd), ("path", Path), ("mode", Mode)],
    ),
    (
        "fchmodat",
        &[("dirfd", DirFd), ("filename", Path), ("mode", Mode)],
    ),
    ("chmod", &[("filename", Path), ("mode", Mode)]),
    ("fchmod", &[("fd", Fd), ("mode", Mode)]),
    (
        "renameat2",
        &[
            ("olddirfd", DirFd),
            ("oldpath", Path),
            ("newdirfd", DirFd),
            ("newpath", Path),
            ("flags", RenameFlags),
        ],
    ),
    ("userfaultfd", &[("flags", Hex)]),
    (
        "openat2",
        &[
            ("dirfd", DirFd),
            ("name", Path),
            ("how", Ptr),
            ("size", UInt),
        ],
    ),
    (
        "mprotect",
        &[("addr", Hex), ("length", UInt), ("prot", Prot)],
    ),
    (
        "execveat",
        &[
            ("dirfd", DirFd),
            ("pathname", Path),
            ("argv", Ptr),
            ("envp", Ptr),
            ("flags", AtFlags),
        ],
    ),
    ("clone3", &[("args", Ptr), ("size", UInt)]),
    (
        "open_by_handle_at",
        &[("mountfd", Fd), ("handle", Ptr), ("flags", OpenFlags)],
    ),
    ("dup2", &[("oldfd", Fd), ("newfd", Fd)]),
    (
        "dup3",
        &[("oldfd", Fd), ("newfd", Fd), ("flags", OpenFlags)],
    ),
    ("chown", &[("path", Path), ("uid", Int), ("gid", Int)]),
    ("lchown", &[("path", Path), ("uid", Int), ("gid", Int)]),
    (
        "fchownat",
        &[
            ("dirfd", DirFd),
            ("pathname", Path),
            ("uid", Int),
            ("gid", Int),
            ("flags", AtFlags),
        ],
    ),
    (
        "accept4",
        &[
            ("fd", Fd),
            ("addr", SockAddrOut(2)),
            ("addrlen", Ptr),
            ("flags", Hex),
        ],
    ),
    ("umount2", &[("name", Path), ("flags", UmountFlags)]),
    (
        "prctl",
        &[
            ("option", PrctlOption),
            ("arg2", Hex),
            ("arg3", Hex),
            ("arg4", Hex),
            ("arg5", Hex),
        ],
    ),
    ("memfd_create", &[("name", Path), ("flags", MemfdFlags)]),
    (
        "init_module",
        &[("img", Ptr), ("length", UInt), ("uargs", Ptr)],
    ),
    (
        "finit_module",
        &[("fd", Fd), ("uargs", Ptr), ("flags", Hex)],
    ),
    (
        "newfstatat",
        &[
            ("dirfd", DirFd),
            ("path", Path),
            ("statbuf", Ptr),
            ("flags", AtFlags),
        ],
    ),
    ("delete_module", &[("name", Ptr), ("flags", Hex)]),
    ("setreuid", &[("ruid", Int), ("euid", Int)]),
    ("setregid", &[("rgid", Int), ("egid", Int)]),
    (
        "fchmodat2",
        &[
            ("dirfd", DirFd),
            ("filename", Path),
            ("mode", Mode),
            ("flags", AtFlags),
        ],
    ),
    ("truncate", &[("path", Path), ("length", Int)]),
    (
        "faccessat",
        &[("dirfd", DirFd), ("pathname", Path), ("mode", Int)],
    ),
    (
        "faccessat2",
        &[
            ("dirfd", DirFd),
            ("pathname", Path),
            ("mode", Int),
            ("flags", AtFlags),
        ],
    ),
    ("pivot_root", &[("new_root", Path), ("put_old", Path)]),
    ("exit", &[("status", Int)]),
    ("exit_group", &[("status", Int)]),
    (
        "statx",
        &[
            ("dirfd", DirFd),
            ("path", Path),
            ("flags", AtFlags),
            ("mask", Hex),
            ("statxbuf", Ptr),
        ],
    ),
    ("readlink", &[("path", Path), ("buf", Ptr), ("size", UInt)]),
    (
        "readlinkat",
        &[
            ("dirfd", DirFd),
            ("path", Path),
            ("buf", Ptr),
            ("size", UInt),
        ],
    ),
    // io_uring: the set-up and the submissions (what the ring then does is another matter).
    ("io_uring_setup", &[("entries", UInt), ("params", Ptr)]),
    (
        "io_uring_enter",
        &[
            ("fd", Fd),
            ("to_submit", UInt),
            ("min_complete", UInt),
            ("flags", Hex),
            ("sig", Ptr),
            ("sigsz", UInt),
        ],
    ),
    (
        "io_uring_register",
        &[
            ("fd", Fd),
            ("opcode", UInt),
            ("arg", Ptr),
            ("nr_args", UInt),
        ],
    ),
];

/// What an exec's exit event carries in Falco beyond the call's arguments: the process as it
/// now is, which the state has (the exec record precedes the syscall's).
const EXEC_EXIT: &[(&str, Kind)] = &[
    ("exe", Text),
    ("args", Text),
    ("tid", Int),
    ("pid", Int),
    ("ptid", Int),
    ("cwd", Text),
    ("comm", Text),
    ("env", Text),
    ("tty", Int),
    ("pgid", Int),
    ("loginuid", Int),
    ("cap_inheritable", Hex),
    ("cap_permitted", Hex),
    ("cap_effective", Hex),
    ("exe_ino", Int),
    ("exe_ino_ctime", Int),
    ("exe_ino_mtime", Int),
    ("uid", Int),
    ("trusted_exepath", Text),
    ("gid", Int),
];

/// An open's exit event carries the file's device and inode in Falco (the kernel reads them
/// from the descriptor table: [`sysaudit_common::FileFacts`]).
const OPEN_EXIT: &[(&str, Kind)] = &[("dev", UInt), ("ino", UInt)];

/// A connection's exit event carries its tuple in Falco.
const TUPLE_EXIT: &[(&str, Kind)] = &[("tuple", Tuple)];

/// Exit parameters by syscall (see [`EXEC_EXIT`]).
pub(super) const EXIT_PARAMS: &[Sig] = &[
    ("open", OPEN_EXIT),
    ("openat", OPEN_EXIT),
    ("openat2", OPEN_EXIT),
    ("creat", OPEN_EXIT),
    ("open_by_handle_at", OPEN_EXIT),
    ("execve", EXEC_EXIT),
    ("execveat", EXEC_EXIT),
    ("connect", TUPLE_EXIT),
    ("accept", TUPLE_EXIT),
    ("accept4", TUPLE_EXIT),
];
