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
    (
        "openat",
        &[
            ("dirfd", DirFd),
            ("name", Path),
            ("flags", OpenFlags),
            ("mode", Mode),
        ],
    ),
    (
        "openat2",
        &[
            ("dirfd", DirFd),
            ("name", Path),
            ("how", Ptr),
            ("size", UInt),
        ],
    ),
    ("creat", &[("name", Path), ("mode", Mode)]),
    (
        "open_by_handle_at",
        &[("mountfd", Fd), ("handle", Ptr), ("flags", OpenFlags)],
    ),
    (
        "execve",
        &[("filename", Path), ("argv", Ptr), ("envp", Ptr)],
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
    ("unlink", &[("path", Path)]),
    (
        "unlinkat",
        &[("dirfd", DirFd), ("name", Path), ("flags", AtFlags)],
    ),
    ("rmdir", &[("path", Path)]),
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
    ("mkdir", &[("path", Path), ("mode", Mode)]),
    (
        "mkdirat",
        &[("dirfd", DirFd), ("path", Path), ("mode", Mode)],
    ),
    ("chmod", &[("filename", Path), ("mode", Mode)]),
    ("fchmod", &[("fd", Fd), ("mode", Mode)]),
    (
        "fchmodat",
        &[("dirfd", DirFd), ("filename", Path), ("mode", Mode)],
    ),
    (
        "fchmodat2",
        &[
            ("dirfd", DirFd),
            ("filename", Path),
            ("mode", Mode),
            ("flags", AtFlags),
        ],
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
    ("symlink", &[("target", Path), ("linkpath", Path)]),
    (
        "symlinkat",
        &[("target", Path), ("linkdirfd", DirFd), ("linkpath", Path)],
    ),
    ("truncate", &[("path", Path), ("length", Int)]),
    ("chdir", &[("path", Path)]),
    ("fchdir", &[("fd", Fd)]),
    ("chroot", &[("path", Path)]),
    ("access", &[("pathname", Path), ("mode", Int)]),
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
    ("umount2", &[("name", Path), ("flags", UmountFlags)]),
    ("umount", &[("name", Path)]),
    ("pivot_root", &[("new_root", Path), ("put_old", Path)]),
    ("close", &[("fd", Fd)]),
    ("read", &[("fd", Fd), ("buf", Buf), ("size", UInt)]),
    ("write", &[("fd", Fd), ("buf", Buf), ("size", UInt)]),
    (
        "pread64",
        &[("fd", Fd), ("buf", Buf), ("size", UInt), ("pos", Int)],
    ),
    (
        "pwrite64",
        &[("fd", Fd), ("buf", Buf), ("size", UInt), ("pos", Int)],
    ),
    ("dup", &[("fd", Fd)]),
    ("dup2", &[("oldfd", Fd), ("newfd", Fd)]),
    (
        "dup3",
        &[("oldfd", Fd), ("newfd", Fd), ("flags", OpenFlags)],
    ),
    (
        "socket",
        &[("domain", Family), ("type", SockType), ("proto", Int)],
    ),
    (
        "socketpair",
        &[("domain", Family), ("type", SockType), ("proto", Int)],
    ),
    (
        "connect",
        &[("fd", Fd), ("addr", SockAddr(2)), ("addrlen", UInt)],
    ),
    (
        "bind",
        &[("fd", Fd), ("addr", SockAddr(2)), ("addrlen", UInt)],
    ),
    ("listen", &[("fd", Fd), ("backlog", Int)]),
    (
        "accept",
        &[("fd", Fd), ("addr", SockAddrOut(2)), ("addrlen", Ptr)],
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
    ("sendmsg", &[("fd", Fd), ("msg", Ptr), ("flags", Hex)]),
    ("recvmsg", &[("fd", Fd), ("msg", Ptr), ("flags", Hex)]),
    (
        "getsockname",
        &[("fd", Fd), ("addr", SockAddrOut(2)), ("addrlen", Ptr)],
    ),
    (
        "getpeername",
        &[("fd", Fd), ("addr", SockAddrOut(2)), ("addrlen", Ptr)],
    ),
    ("shutdown", &[("fd", Fd), ("how", Int)]),
    (
        "ptrace",
        &[
            ("request", PtraceRequest),
            ("pid", Int),
            ("addr", Hex),
            ("data", Hex),
        ],
    ),
    ("kill", &[("pid", Int), ("sig", Signal)]),
    ("tkill", &[("tid", Int), ("sig", Signal)]),
    ("tgkill", &[("pid", Int), ("tid", Int), ("sig", Signal)]),
    ("setuid", &[("uid", Int)]),
    ("setgid", &[("gid", Int)]),
    ("setreuid", &[("ruid", Int), ("euid", Int)]),
    ("setregid", &[("rgid", Int), ("egid", Int)]),
    ("setresuid", &[("ruid", Int), ("euid", Int), ("suid", Int)]),
    ("setresgid", &[("rgid", Int), ("egid", Int), ("sgid", Int)]),
    ("setns", &[("fd", Fd), ("nstype", CloneFlags)]),
    ("unshare", &[("flags", CloneFlags)]),
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
    ("clone3", &[("args", Ptr), ("size", UInt)]),
    (
        "init_module",
        &[("img", Ptr), ("length", UInt), ("uargs", Ptr)],
    ),
    (
        "finit_module",
        &[("fd", Fd), ("uargs", Ptr), ("flags", Hex)],
    ),
    ("delete_module", &[("name", Ptr), ("flags", Hex)]),
    ("bpf", &[("cmd", BpfCmd), ("attr", Ptr), ("size", UInt)]),
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
        "mprotect",
        &[("addr", Hex), ("length", UInt), ("prot", Prot)],
    ),
    ("ioctl", &[("fd", Fd), ("request", Hex), ("argument", Hex)]),
    ("userfaultfd", &[("flags", Hex)]),
    ("seccomp", &[("op", Int), ("flags", Hex), ("args", Ptr)]),
    ("setsid", &[]),
    ("setpgid", &[("pid", Int), ("pgid", Int)]),
    ("exit", &[("status", Int)]),
    ("exit_group", &[("status", Int)]),
    ("fcntl", &[("fd", Fd), ("cmd", Int), ("arg", Hex)]),
    (
        "newfstatat",
        &[
            ("dirfd", DirFd),
            ("path", Path),
            ("statbuf", Ptr),
            ("flags", AtFlags),
        ],
    ),
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
    ("stat", &[("path", Path), ("statbuf", Ptr)]),
    ("lstat", &[("path", Path), ("statbuf", Ptr)]),
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
];
