//! Per-process file descriptor tables, kept from the syscalls that create, duplicate and
//! close descriptors (open*, creat, socket, connect, bind, accept*, dup*, fcntl, memfd_create,
//! close). What Falco's `fd.*` fields describe: one derivation per syscall gives both the
//! descriptor the current event is about (`view`, what rules read) and the table's update.

use std::{borrow::Cow, net::SocketAddr, sync::Arc};

use super::FastMap;

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
    pub(crate) name: Arc<str>,
    /// The path exactly as the program passed it.
    pub(crate) nameraw: Arc<str>,
    /// `tcp`, `udp`, `raw` for IP sockets.
    pub(crate) l4proto: Option<&'static str>,
    pub(crate) local: Option<SocketAddr>,
    pub(crate) remote: Option<SocketAddr>,
    /// Set by `listen`/`accept`: this side is the server.
    pub(crate) server: bool,
    pub(crate) connected: bool,
    /// The file's device (userspace encoding) and inode, from the open's record (0: unknown,
    /// or not a file).
    pub(crate) dev: u32,
    pub(crate) ino: u64,
}

impl FdInfo {
    /// A file or directory; the names are shared with the event that opened it.
    pub(crate) fn file(path: Arc<str>, raw: Arc<str>, directory: bool) -> FdInfo {
        FdInfo {
            kind: if directory {
                FdKind::Directory
            } else {
                FdKind::File
            },
            name: path,
            nameraw: raw,
            l4proto: None,
            local: None,
            remote: None,
            server: false,
            connected: false,
            dev: 0,
            ino: 0,
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
            name: Arc::default(),
            nameraw: Arc::default(),
            l4proto,
            local: None,
            remote: None,
            server: false,
            connected: false,
            dev: 0,
            ino: 0,
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

/// The arguments [`FdTables::view`] looks a descriptor up by.
const TABLE_KEYS: [&str; 2] = ["fd", "oldfd"];

/// The descriptor argument of `e` the table is looked up by.
fn table_fd(e: &SyscallEvent) -> Option<i64> {
    int(e, TABLE_KEYS[0]).or_else(|| int(e, TABLE_KEYS[1]))
}

/// Whether events of `syscall` can show a descriptor that an earlier call created: what the
/// kernel's open filter must keep ([`crate::rules::prefilter`]).
pub(crate) fn reads_table(syscall: &str) -> bool {
    crate::syscalls::args::signature(syscall)
        .is_some_and(|s| s.iter().any(|(n, _)| TABLE_KEYS.contains(n)))
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

/// One process's descriptors, on their way from one worker to another.
#[derive(Debug)]
pub(crate) struct FdTable(FastMap<i64, FdInfo>);

#[derive(Default)]
pub(crate) struct FdTables {
    by_pid: FastMap<u32, FastMap<i64, FdInfo>>,
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

/// The descriptor an event is about, as Falco's `fd.*` fields see it during the event.
#[derive(Clone, Debug)]
pub(crate) struct FdView<'a> {
    pub(crate) num: i64,
    pub(crate) info: Cow<'a, FdInfo>,
    /// The event gave the descriptor a name it does not keep (`sendto` with an address).
    pub(crate) name_changed: bool,
}

/// What a syscall does to a descriptor; derived once, both for the event's view
/// ([`FdTables::view`]) and for the table ([`FdTables::observe`]).
struct Change {
    fd: i64,
    info: FdInfo,
    effect: Effect,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// The table takes it and the event is about it (open, socket, accept, connect, ...).
    Store,
    /// The table takes it; the event is about its argument descriptor (dup, fcntl).
    Copy,
    /// Only the event sees it: a failed open, a connect that failed, a `sendto` address.
    Transient,
}

impl FdTables {
    /// Open descriptors over every process.
    pub(crate) fn len(&self) -> usize {
        self.by_pid.values().map(|t| t.len()).sum()
    }

    pub(crate) fn get(&self, pid: u32, fd: i64) -> Option<&FdInfo> {
        self.by_pid.get(&pid).and_then(|t| t.get(&fd))
    }

    /// The kinds of a process's descriptors, in descriptor order.
    pub(crate) fn kinds(&self, pid: u32) -> Vec<FdKind> {
        let Some(t) = self.by_pid.get(&pid) else {
            return Vec::new();
        };
        let mut v: Vec<(i64, FdKind)> = t.iter().map(|(fd, i)| (*fd, i.kind)).collect();
        v.sort_unstable_by_key(|(fd, _)| *fd);
        v.into_iter().map(|(_, k)| k).collect()
    }

    fn table(&mut self, pid: u32) -> &mut FastMap<i64, FdInfo> {
        self.by_pid.entry(pid).or_default()
    }

    /// A directory descriptor the state had not seen being opened (it predates the agent),
    /// named from /proc once.
    pub(crate) fn learn_dir(&mut self, pid: u32, fd: i64, path: &str) {
        let path: Arc<str> = path.into();
        self.table(pid)
            .insert(fd, FdInfo::file(path.clone(), path, true));
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

    /// Hand a process's descriptors over to the worker that owns it from now on.
    pub(crate) fn take(&mut self, pid: u32) -> Option<FdTable> {
        self.by_pid.remove(&pid).map(FdTable)
    }

    /// Descriptors handed over by [`FdTables::take`].
    pub(crate) fn adopt(&mut self, pid: u32, t: FdTable) {
        self.by_pid.insert(pid, t.0);
    }

    /// One table per worker, each process's descriptors where `owner` puts them.
    pub(crate) fn split(self, n: usize, owner: impl Fn(u32) -> usize) -> Vec<FdTables> {
        let mut out: Vec<FdTables> = (0..n).map(|_| FdTables::default()).collect();
        for (pid, t) in self.by_pid {
            out[owner(pid)].by_pid.insert(pid, t);
        }
        out
    }

    /// The descriptor `e` is about, before [`FdTables::observe`] applies it: what the syscall
    /// makes of it, else the table's entry for its descriptor argument.
    pub(crate) fn view(&self, e: &SyscallEvent) -> Option<FdView<'_>> {
        // Keep `reads_table` in step with the lookups below.
        if let Some(c) = self.change(e).filter(|c| c.effect != Effect::Copy) {
            return Some(FdView {
                num: c.fd,
                info: Cow::Owned(c.info),
                name_changed: matches!(e.syscall.as_ref(), "sendto" | "sendmsg" | "recvfrom"),
            });
        }
        if matches!(e.syscall.as_ref(), "execve" | "execveat") {
            return None;
        }
        let fd = table_fd(e)?;
        self.get(e.task.pid, fd).map(|i| FdView {
            num: fd,
            info: Cow::Borrowed(i),
            name_changed: false,
        })
    }

    /// The event's descriptor named from /proc, for an alert's output only: the table misses
    /// a file whose open the kernel filter dropped (or that predates the agent). Never used
    /// to evaluate conditions, so it costs a syscall per alert, not per event.
    pub(crate) fn view_live(
        &self,
        e: &SyscallEvent,
        root: &std::path::Path,
    ) -> Option<FdView<'static>> {
        let fd = table_fd(e)?;
        let name = super::procfs::link_of(e.task.pid, &format!("fd/{fd}"), root)?;
        // Sockets, pipes and anonymous inodes read as `type:[inode]`: not files.
        if !name.starts_with('/') {
            return None;
        }
        let dir =
            std::fs::metadata(format!("/proc/{}/fd/{fd}", e.task.pid)).is_ok_and(|m| m.is_dir());
        let name: Arc<str> = name.into();
        Some(FdView {
            num: fd,
            info: Cow::Owned(FdInfo::file(name.clone(), name, dir)),
            name_changed: false,
        })
    }

    /// Apply a syscall's effect on its process's table.
    pub(crate) fn observe(&mut self, e: &SyscallEvent) {
        let pid = e.task.pid;
        if e.syscall == "close" && e.ret == Some(0) {
            if let (Some(fd), Some(t)) = (int(e, "fd"), self.by_pid.get_mut(&pid)) {
                t.remove(&fd);
            }
            return;
        }
        if let Some(c) = self.change(e).filter(|c| c.effect != Effect::Transient) {
            self.table(pid).insert(c.fd, c.info);
        }
    }

    fn change(&self, e: &SyscallEvent) -> Option<Change> {
        let pid = e.task.pid;
        let ret = e.ret.unwrap_or(-1);
        // A direct descriptor is none of the process's: its result names no table entry.
        let ok = ret >= 0 && e.via != Some(crate::event::Submitted::IoUringDirect);
        let made = |info: FdInfo| {
            ok.then_some(Change {
                fd: ret,
                info,
                effect: Effect::Store,
            })
        };
        let existing = |fd: Option<i64>| fd.and_then(|fd| Some((fd, self.get(pid, fd)?.clone())));
        match e.syscall.as_ref() {
            "open" | "openat" | "openat2" | "creat" | "open_by_handle_at" => {
                let raw = match e.args.get("name") {
                    Some(ArgValue::Str(s)) => s.clone(),
                    _ => Arc::default(),
                };
                let path = e.path.clone().unwrap_or_else(|| raw.clone());
                let dir = text(e, "flags").is_some_and(|f| f.contains("O_DIRECTORY"));
                let mut info = FdInfo::file(path, raw, dir);
                info.dev = int(e, "dev").unwrap_or(0) as u32;
                info.ino = int(e, "ino").unwrap_or(0) as u64;
                Some(Change {
                    fd: if ok { ret } else { -1 },
                    info,
                    effect: if ok { Effect::Store } else { Effect::Transient },
                })
            }
            "memfd_create" => {
                let name: Arc<str> =
                    format!("memfd:{}", text(e, "name").unwrap_or_default()).into();
                let mut f = FdInfo::file(name.clone(), name, false);
                f.kind = FdKind::Memfd;
                made(f)
            }
            "socket" => made(FdInfo::socket(
                text(e, "domain").unwrap_or_default(),
                text(e, "type").unwrap_or_default(),
            )),
            "eventfd" | "eventfd2" | "signalfd" | "signalfd4" | "timerfd_create"
            | "inotify_init" | "inotify_init1" | "epoll_create" | "epoll_create1" => {
                let mut f = FdInfo::file(Arc::default(), Arc::default(), false);
                f.kind = FdKind::Event;
                made(f)
            }
            "accept" | "accept4" => {
                let addr = text(e, "addr");
                let mut info = existing(int(e, "fd")).map(|(_, i)| i).unwrap_or_else(|| {
                    FdInfo::socket(addr.map(family_of).unwrap_or(""), "SOCK_STREAM")
                });
                info.remote = addr.and_then(parse_addr);
                info.server = true;
                info.connected = true;
                made(info)
            }
            "connect" | "sendto" | "sendmsg" | "recvfrom" => {
                let fd = int(e, "fd")?;
                let addr = text(e, "addr")?;
                let connect = e.syscall == "connect";
                if !connect && parse_addr(addr).is_none() {
                    return None;
                }
                let mut info = existing(Some(fd))
                    .map(|(_, i)| i)
                    .unwrap_or_else(|| FdInfo::socket(family_of(addr), ""));
                match parse_addr(addr) {
                    Some(a) => {
                        info.remote = Some(a);
                        if info.kind == FdKind::Socket {
                            info.kind = if a.is_ipv4() {
                                FdKind::Ipv4
                            } else {
                                FdKind::Ipv6
                            };
                        }
                    }
                    None => info.name = addr.into(),
                }
                let done = connect && (ret == 0 || ret == -(libc::EINPROGRESS as i64));
                if connect {
                    info.connected = done;
                }
                Some(Change {
                    fd,
                    info,
                    effect: if done {
                        Effect::Store
                    } else {
                        Effect::Transient
                    },
                })
            }
            "bind" | "listen" if ret == 0 => {
                let (fd, mut info) = existing(int(e, "fd"))?;
                if e.syscall == "listen" {
                    info.server = true;
                } else {
                    match text(e, "addr").map(|a| (a, parse_addr(a))) {
                        Some((_, Some(a))) => info.local = Some(a),
                        Some((a, None)) => info.name = a.into(),
                        None => return None,
                    }
                }
                Some(Change {
                    fd,
                    info,
                    effect: Effect::Store,
                })
            }
            // F_DUPFD and F_DUPFD_CLOEXEC return a new descriptor, as dup does.
            "fcntl"
                if !matches!(int(e, "cmd"), Some(c) if c == libc::F_DUPFD as i64
                    || c == libc::F_DUPFD_CLOEXEC as i64) =>
            {
                None
            }
            "dup" | "dup2" | "dup3" | "fcntl" if ok => {
                let (_, info) = existing(int(e, "fd").or_else(|| int(e, "oldfd")))?;
                Some(Change {
                    fd: ret,
                    info,
                    effect: Effect::Copy,
                })
            }
            _ => None,
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
        args: &[(&'static str, ArgValue)],
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
            syscall: name.to_string().into(),
            nr: 0,
            abi: Abi::X86_64,
            ret: Some(ret),
            path: path.map(Into::into),
            args: a,
            truncated: false,
            via: None,
            regs: None,
        }
    }

    fn s(v: &str) -> ArgValue {
        ArgValue::Str(v.into())
    }

    #[test]
    fn an_open_into_a_direct_descriptor_names_no_process_descriptor() {
        let mut t = FdTables::default();
        let mut e = ev(
            1,
            "openat",
            0,
            &[("name", s("/etc/shadow"))],
            Some("/etc/shadow"),
        );
        e.via = Some(crate::event::Submitted::IoUringDirect);
        // The event is still about the file, on no descriptor of the process.
        let v = t.view(&e).expect("a view");
        assert_eq!((v.num, &*v.info.name), (-1, "/etc/shadow"));
        t.observe(&e);
        assert!(t.get(1, 0).is_none());
        // Through the ring on process descriptors, it is an open like any other.
        e.via = Some(crate::event::Submitted::IoUring);
        t.observe(&e);
        assert_eq!(t.get(1, 0).map(|f| &*f.name), Some("/etc/shadow"));
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
            t.get(1, 3).map(|f| (f.kind, &*f.name, &*f.nameraw)),
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

    #[test]
    fn the_view_is_what_observe_then_keeps() {
        let mut t = FdTables::default();
        let sock = ev(
            1,
            "socket",
            3,
            &[("domain", s("AF_INET")), ("type", s("SOCK_DGRAM"))],
            None,
        );
        let v = t.view(&sock).map(|v| (v.num, v.info.into_owned()));
        t.observe(&sock);
        assert_eq!(v, Some((3, t.get(1, 3).cloned().unwrap())));

        let failed = ev(1, "openat", -2, &[("name", s("/nope"))], Some("/nope"));
        let v = t.view(&failed).unwrap();
        assert_eq!((v.num, &*v.info.name), (-1, "/nope"));
        t.observe(&failed);
        assert!(t.get(1, -1).is_none(), "a failed open keeps nothing");

        let send = ev(
            1,
            "sendto",
            5,
            &[("fd", ArgValue::Int(3)), ("addr", s("10.0.0.2:53"))],
            None,
        );
        let v = t.view(&send).unwrap();
        assert!(v.name_changed && v.info.remote.is_some());
        t.observe(&send);
        assert!(
            t.get(1, 3).unwrap().remote.is_none(),
            "sendto names it once"
        );

        let dup = ev(1, "dup", 7, &[("fd", ArgValue::Int(3))], None);
        assert_eq!(
            t.view(&dup).map(|v| v.num),
            Some(3),
            "dup is about its argument"
        );
        t.observe(&dup);
        assert_eq!(t.get(1, 7), t.get(1, 3));

        let refused = ev(
            1,
            "connect",
            -111,
            &[("fd", ArgValue::Int(3)), ("addr", s("10.0.0.3:80"))],
            None,
        );
        let v = t.view(&refused).unwrap();
        assert!(!v.info.connected && v.info.remote.is_some());
        t.observe(&refused);
        assert!(!t.get(1, 3).unwrap().connected);
    }
}
