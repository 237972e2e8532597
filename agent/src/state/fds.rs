//! Per-process file descriptor tables, kept from the syscalls that create, duplicate and
//! close descriptors (open*, creat, socket, connect, bind, accept*, dup*, fcntl, memfd_create,
//! close). What Falco's `fd.*` fields describe.

use std::{collections::HashMap, net::SocketAddr};

use crate::event::{ArgValue, SyscallEvent};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FdKind {
    File,
    Directory,
    Ipv4,
    Ipv6,
    Unix,
    Netlink,
    /// Another socket family (packet, ...).
    Socket,
    Memfd,
    Event,
}

impl FdKind {
    /// Falco's `fd.type`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            FdKind::File => "file",
            FdKind::Directory => "directory",
            FdKind::Ipv4 => "ipv4",
            FdKind::Ipv6 => "ipv6",
            FdKind::Unix => "unix",
            FdKind::Netlink => "netlink",
            FdKind::Socket => "socket",
            FdKind::Memfd => "memfd",
            FdKind::Event => "event",
        }
    }

    /// Falco's `fd.typechar`.
    pub(crate) fn typechar(self) -> &'static str {
        match self {
            FdKind::File | FdKind::Memfd => "f",
            FdKind::Directory => "d",
            FdKind::Ipv4 => "4",
            FdKind::Ipv6 => "6",
            FdKind::Unix => "u",
            FdKind::Netlink => "s",
            FdKind::Socket => "o",
            FdKind::Event => "e",
        }
    }

    pub(crate) fn is_net(self) -> bool {
        matches!(self, FdKind::Ipv4 | FdKind::Ipv6)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FdInfo {
    pub(crate) kind: FdKind,
    /// Path for files; the unix socket path; empty for unnamed sockets.
    pub(crate) name: String,
    /// The path exactly as the program passed it.
    pub(crate) nameraw: String,
    /// `tcp`, `udp`, `raw` for IP sockets.
    pub(crate) l4proto: Option<&'static str>,
    pub(crate) local: Option<SocketAddr>,
    pub(crate) remote: Option<SocketAddr>,
    /// Set by `listen`/`accept`: this side is the server.
    pub(crate) server: bool,
    pub(crate) connected: bool,
}

impl FdInfo {
    pub(crate) fn file(path: &str, raw: &str, directory: bool) -> FdInfo {
        FdInfo {
            kind: if directory {
                FdKind::Directory
            } else {
                FdKind::File
            },
            name: path.to_string(),
            nameraw: raw.to_string(),
            l4proto: None,
            local: None,
            remote: None,
            server: false,
            connected: false,
        }
    }

    fn socket(domain: &str, ty: &str) -> FdInfo {
        let kind = match domain {
            "AF_INET" => FdKind::Ipv4,
            "AF_INET6" => FdKind::Ipv6,
            "AF_UNIX" => FdKind::Unix,
            "AF_NETLINK" => FdKind::Netlink,
            _ => FdKind::Socket,
        };
        let l4proto = if kind.is_net() {
            if ty.starts_with("SOCK_STREAM") {
                Some("tcp")
            } else if ty.starts_with("SOCK_DGRAM") {
                Some("udp")
            } else if ty.starts_with("SOCK_RAW") {
                Some("raw")
            } else {
                None
            }
        } else {
            None
        };
        FdInfo {
            kind,
            name: String::new(),
            nameraw: String::new(),
            l4proto,
            local: None,
            remote: None,
            server: false,
            connected: false,
        }
    }

    /// (client, server) ends of a connected IP socket.
    pub(crate) fn client_server(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        if self.server {
            (self.remote, self.local)
        } else {
            (self.local, self.remote)
        }
    }

    /// Falco's socket `fd.name`: `cip:cport->sip:sport`.
    pub(crate) fn tuple(&self) -> String {
        let (c, s) = self.client_server();
        let show = |a: Option<SocketAddr>| match a {
            Some(SocketAddr::V4(v)) => format!("{}:{}", v.ip(), v.port()),
            Some(SocketAddr::V6(v)) => format!("{}:{}", v.ip(), v.port()),
            None => "0.0.0.0:0".to_string(),
        };
        format!("{}->{}", show(c), show(s))
    }
}

/// Parse the `addr` argument the agent renders (`1.2.3.4:80`, `[::1]:443`).
pub(crate) fn parse_addr(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>().ok()
}

/// The syscalls whose effect on descriptors [`FdTables::observe`] follows (the kernel must
/// trace them for `fd.*` fields to be right, whatever the rules say).
pub(crate) const HANDLED: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "open_by_handle_at",
    "memfd_create",
    "socket",
    "eventfd",
    "eventfd2",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "inotify_init",
    "inotify_init1",
    "epoll_create",
    "epoll_create1",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "close",
];

#[derive(Default)]
pub(crate) struct FdTables {
    by_pid: HashMap<u32, HashMap<i64, FdInfo>>,
}

fn int(e: &SyscallEvent, name: &str) -> Option<i64> {
    match e.args.get(name) {
        Some(ArgValue::Int(i)) => Some(*i),
        _ => None,
    }
}

fn text<'a>(e: &'a SyscallEvent, name: &str) -> Option<&'a str> {
    e.args.get(name).and_then(ArgValue::as_str)
}

impl FdTables {
    pub(crate) fn get(&self, pid: u32, fd: i64) -> Option<&FdInfo> {
        self.by_pid.get(&pid).and_then(|t| t.get(&fd))
    }

    fn table(&mut self, pid: u32) -> &mut HashMap<i64, FdInfo> {
        self.by_pid.entry(pid).or_default()
    }

    /// A child process starts with a copy of its parent's descriptors.
    pub(crate) fn fork(&mut self, parent: u32, child: u32) {
        if let Some(t) = self.by_pid.get(&parent).cloned() {
            self.by_pid.insert(child, t);
        }
    }

    pub(crate) fn exit(&mut self, pid: u32) {
        self.by_pid.remove(&pid);
    }

    /// Apply a syscall's effect on its process's table.
    pub(crate) fn observe(&mut self, e: &SyscallEvent) {
        let pid = e.task.pid;
        let ret = e.ret.unwrap_or(-1);
        match e.syscall.as_str() {
            "open" | "openat" | "openat2" | "creat" | "open_by_handle_at" if ret >= 0 => {
                let raw = text(e, "name").unwrap_or_default();
                let path = e.path.as_deref().unwrap_or(raw);
                let dir = text(e, "flags").is_some_and(|f| f.contains("O_DIRECTORY"));
                self.table(pid).insert(ret, FdInfo::file(path, raw, dir));
            }
            "memfd_create" if ret >= 0 => {
                let name = format!("memfd:{}", text(e, "name").unwrap_or_default());
                let mut f = FdInfo::file(&name, &name, false);
                f.kind = FdKind::Memfd;
                self.table(pid).insert(ret, f);
            }
            "socket" if ret >= 0 => {
                let s = FdInfo::socket(
                    text(e, "domain").unwrap_or_default(),
                    text(e, "type").unwrap_or_default(),
                );
                self.table(pid).insert(ret, s);
            }
            "eventfd" | "eventfd2" | "signalfd" | "signalfd4" | "timerfd_create"
            | "inotify_init" | "inotify_init1" | "epoll_create" | "epoll_create1"
                if ret >= 0 =>
            {
                let mut f = FdInfo::file("", "", false);
                f.kind = FdKind::Event;
                self.table(pid).insert(ret, f);
            }
            "connect" if ret == 0 || ret == -(libc::EINPROGRESS as i64) => {
                if let (Some(fd), Some(addr)) = (int(e, "fd"), text(e, "addr")) {
                    let t = self.table(pid);
                    let info = t
                        .entry(fd)
                        .or_insert_with(|| FdInfo::socket(family_of(addr), ""));
                    if let Some(a) = parse_addr(addr) {
                        info.remote = Some(a);
                        if info.kind == FdKind::Socket {
                            info.kind = if a.is_ipv4() {
                                FdKind::Ipv4
                            } else {
                                FdKind::Ipv6
                            };
                        }
                    } else {
                        info.name = addr.to_string();
                    }
                    info.connected = true;
                }
            }
            "bind" if ret == 0 => {
                if let (Some(fd), Some(addr)) = (int(e, "fd"), text(e, "addr")) {
                    if let Some(info) = self.table(pid).get_mut(&fd) {
                        match parse_addr(addr) {
                            Some(a) => info.local = Some(a),
                            None => info.name = addr.to_string(),
                        }
                    }
                }
            }
            "listen" if ret == 0 => {
                if let Some(info) = int(e, "fd").and_then(|fd| self.table(pid).get_mut(&fd)) {
                    info.server = true;
                }
            }
            "accept" | "accept4" if ret >= 0 => {
                let listener = int(e, "fd").and_then(|fd| self.get(pid, fd).cloned());
                let remote = text(e, "addr").and_then(parse_addr);
                let mut info = listener.unwrap_or_else(|| {
                    FdInfo::socket(text(e, "addr").map(family_of).unwrap_or(""), "SOCK_STREAM")
                });
                info.remote = remote;
                info.server = true;
                info.connected = true;
                self.table(pid).insert(ret, info);
            }
            "dup" | "dup2" | "dup3" if ret >= 0 => {
                let old = int(e, "fd").or_else(|| int(e, "oldfd"));
                if let Some(info) = old.and_then(|o| self.get(pid, o).cloned()) {
                    self.table(pid).insert(ret, info);
                }
            }
            "fcntl" if ret >= 0 => {
                // F_DUPFD and F_DUPFD_CLOEXEC return a new descriptor.
                let cmd = int(e, "cmd").unwrap_or(-1);
                if cmd == libc::F_DUPFD as i64 || cmd == libc::F_DUPFD_CLOEXEC as i64 {
                    if let Some(info) = int(e, "fd").and_then(|o| self.get(pid, o).cloned()) {
                        self.table(pid).insert(ret, info);
                    }
                }
            }
            "close" if ret == 0 => {
                if let Some(fd) = int(e, "fd") {
                    if let Some(t) = self.by_pid.get_mut(&pid) {
                        t.remove(&fd);
                    }
                }
            }
            _ => {}
        }
    }
}

fn family_of(addr: &str) -> &'static str {
    if addr.starts_with('[') {
        "AF_INET6"
    } else if addr.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        "AF_INET"
    } else {
        "AF_UNIX"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Args, Task};
    use crate::syscalls::Abi;

    fn ev(
        pid: u32,
        name: &str,
        ret: i64,
        args: &[(&str, ArgValue)],
        path: Option<&str>,
    ) -> SyscallEvent {
        let mut a = Args::default();
        for (k, v) in args {
            a.push(k, v.clone());
        }
        SyscallEvent {
            task: Task {
                pid,
                tid: pid,
                ..Default::default()
            },
            syscall: name.into(),
            nr: 0,
            abi: Abi::X86_64,
            ret: Some(ret),
            path: path.map(str::to_string),
            args: a,
            truncated: false,
        }
    }

    fn s(v: &str) -> ArgValue {
        ArgValue::Str(v.into())
    }

    #[test]
    fn tracks_files_sockets_dups_and_closes() {
        let mut t = FdTables::default();
        t.observe(&ev(
            1,
            "openat",
            3,
            &[("name", s("passwd")), ("flags", s("O_RDONLY"))],
            Some("/etc/passwd"),
        ));
        assert_eq!(
            t.get(1, 3)
                .map(|f| (f.kind, f.name.as_str(), f.nameraw.as_str())),
            Some((FdKind::File, "/etc/passwd", "passwd"))
        );
        t.observe(&ev(
            1,
            "socket",
            4,
            &[
                ("domain", s("AF_INET")),
                ("type", s("SOCK_STREAM|SOCK_CLOEXEC")),
            ],
            None,
        ));
        t.observe(&ev(
            1,
            "connect",
            0,
            &[("fd", ArgValue::Int(4)), ("addr", s("10.0.0.1:443"))],
            None,
        ));
        let sock = t.get(1, 4).cloned().unwrap();
        assert_eq!(
            (sock.kind, sock.l4proto, sock.connected),
            (FdKind::Ipv4, Some("tcp"), true)
        );
        assert_eq!(sock.tuple(), "0.0.0.0:0->10.0.0.1:443");
        t.observe(&ev(
            1,
            "dup2",
            0,
            &[("oldfd", ArgValue::Int(4)), ("newfd", ArgValue::Int(0))],
            None,
        ));
        assert_eq!(t.get(1, 0).map(|f| f.kind), Some(FdKind::Ipv4));
        t.observe(&ev(1, "close", 0, &[("fd", ArgValue::Int(3))], None));
        assert!(t.get(1, 3).is_none());
        t.fork(1, 2);
        assert_eq!(t.get(2, 4).map(|f| f.kind), Some(FdKind::Ipv4));
        t.exit(1);
        assert!(t.get(1, 4).is_none());
    }

    #[test]
    fn accepted_connections_are_server_side() {
        let mut t = FdTables::default();
        t.observe(&ev(
            1,
            "socket",
            3,
            &[("domain", s("AF_INET")), ("type", s("SOCK_STREAM"))],
            None,
        ));
        t.observe(&ev(
            1,
            "bind",
            0,
            &[("fd", ArgValue::Int(3)), ("addr", s("0.0.0.0:8080"))],
            None,
        ));
        t.observe(&ev(1, "listen", 0, &[("fd", ArgValue::Int(3))], None));
        t.observe(&ev(
            1,
            "accept4",
            5,
            &[("fd", ArgValue::Int(3)), ("addr", s("127.0.0.1:5555"))],
            None,
        ));
        let c = t.get(1, 5).unwrap();
        assert!(c.server);
        assert_eq!(c.tuple(), "127.0.0.1:5555->0.0.0.0:8080");
    }
}
