//! Field values for one event: an evaluation context that looks things up in the event and
//! the state (process table, descriptor tables, containers) once, lazily, and hands out
//! borrowed values so that evaluating many rules on one event allocates little.

use std::{borrow::Cow, cell::OnceCell, net::IpAddr, sync::Arc};

mod container;
mod params;
mod transform;

pub(crate) use transform::transform;

use super::{
    fields::{Arg, Bound, F},
    value::Val,
};
use crate::{
    event::{ArgValue, Event, SyscallEvent},
    state::{
        fds::{FdInfo, FdKind, FdView},
        procs::Process,
        State,
    },
    syscalls::names::{caps, errno_name},
};

pub(crate) struct Ctx<'a> {
    pub(crate) ev: &'a Event,
    pub(crate) st: &'a State,
    /// Event number (evt.num), from 1.
    pub(crate) num: u64,
    pub(crate) hostname: &'a str,
    /// The configuration's `static_fields` (`static.NAME`).
    pub(crate) statics: &'a [(String, String)],
    proc: OnceCell<Option<&'a Process>>,
    parent: OnceCell<Option<&'a Process>>,
    ancestors: OnceCell<Vec<&'a Process>>,
    cmdline: OnceCell<String>,
    args: OnceCell<String>,
    pcmdline: OnceCell<Option<String>>,
    fd: OnceCell<Option<FdView<'a>>>,
    /// Set while an alert's output is rendered: a descriptor the table misses may then be
    /// named from /proc ([`crate::state::fds::FdTables::view_live`]).
    rendering: std::cell::Cell<bool>,
    fd_live: OnceCell<Option<FdView<'a>>>,
}

/// Ancestors followed at most (pid reuse can make loops).
const MAX_ANCESTORS: usize = 64;

pub(super) fn s(v: &str) -> Option<Val<'_>> {
    Some(Val::Str(Cow::Borrowed(v)))
}

fn nonzero<'a>(v: u64) -> Option<Val<'a>> {
    (v != 0).then_some(Val::Int(v as i64))
}

pub(super) fn owned<'a>(v: String) -> Option<Val<'a>> {
    Some(Val::Str(Cow::Owned(v)))
}

fn join_args(p: &Process) -> String {
    p.args
        .iter()
        .skip(1)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(ev: &'a Event, st: &'a State, num: u64, hostname: &'a str) -> Ctx<'a> {
        Ctx {
            ev,
            st,
            num,
            hostname,
            statics: &[],
            proc: OnceCell::new(),
            parent: OnceCell::new(),
            ancestors: OnceCell::new(),
            cmdline: OnceCell::new(),
            args: OnceCell::new(),
            pcmdline: OnceCell::new(),
            fd: OnceCell::new(),
            rendering: std::cell::Cell::new(false),
            fd_live: OnceCell::new(),
        }
    }

    /// Render an alert's output with `f`: fields may then read /proc for what the state lacks.
    pub(crate) fn rendering<T>(&self, f: impl FnOnce(&Self) -> T) -> T {
        self.rendering.set(true);
        let out = f(self);
        self.rendering.set(false);
        out
    }

    fn sys(&self) -> Option<&'a SyscallEvent> {
        match self.ev {
            Event::Syscall(e) => Some(e),
            _ => None,
        }
    }

    /// Falco's event type: the syscall's name, `procexit` for a process exit.
    pub(crate) fn evt_type(&self) -> &'a str {
        self.ev.kind()
    }

    fn proc(&self) -> Option<&'a Process> {
        *self
            .proc
            .get_or_init(|| self.st.procs.get(self.ev.task().pid))
    }

    fn parent(&self) -> Option<&'a Process> {
        *self.parent.get_or_init(|| {
            let ppid = self.proc().map(|p| p.ppid).unwrap_or(self.ev.task().ppid);
            (ppid != 0).then(|| self.st.procs.get(ppid)).flatten()
        })
    }

    /// Index 0 is the process itself, 1 its parent, ...
    fn ancestors(&self) -> &Vec<&'a Process> {
        self.ancestors.get_or_init(|| {
            let mut out = Vec::new();
            let Some(mut cur) = self.proc() else {
                return out;
            };
            out.push(cur);
            while out.len() < MAX_ANCESTORS {
                match (cur.ppid != 0)
                    .then(|| self.st.procs.get(cur.ppid))
                    .flatten()
                {
                    Some(p) if p.pid != cur.pid => {
                        out.push(p);
                        cur = p;
                    }
                    _ => break,
                }
            }
            out
        })
    }

    pub(crate) fn fd(&self) -> Option<&FdView<'a>> {
        let known = self
            .fd
            .get_or_init(|| self.sys().and_then(|e| self.st.fds.view(e)))
            .as_ref();
        if known.is_some() || !self.rendering.get() || !self.st.is_live() {
            return known;
        }
        self.fd_live
            .get_or_init(|| {
                let e = self.sys()?;
                let root = self.proc()?.root.clone()?;
                self.st.fds.view_live(e, &root)
            })
            .as_ref()
    }

    /// One value of field `b` (for `any` fields: the first; use [`Ctx::values`]).
    pub(crate) fn value(&self, b: &Bound) -> Option<Val<'_>> {
        let t = self.ev.task();
        match b.f {
            F::EvtType => s(self.evt_type()),
            F::EvtDir => s("<"),
            F::EvtNum => Some(Val::Int(self.num as i64)),
            F::EvtRes => {
                let r = self.sys()?.ret?;
                if r < 0 {
                    owned(errno_name(r))
                } else {
                    s("SUCCESS")
                }
            }
            F::EvtRawRes => self.sys()?.ret.map(Val::Int),
            F::EvtBuffer => match self.sys()?.args.get("data")? {
                ArgValue::Bytes(b) => Some(Val::Bytes(Cow::Borrowed(b))),
                _ => None,
            },
            F::EvtFailed => Some(Val::Bool(self.sys()?.ret? < 0)),
            F::EvtArg | F::EvtRawArg => {
                let e = self.sys()?;
                let raw = b.f == F::EvtRawArg;
                let (name, v) = match &b.arg {
                    Arg::Key(k) if k == "res" || (k == "fd" && e.args.get("fd").is_none()) => {
                        return e.ret.map(Val::Int)
                    }
                    Arg::Key(k) => match e.args.get(k) {
                        Some(v) => (k.as_str(), v),
                        None => return self.exit_param(e, k, raw),
                    },
                    Arg::Index(i) => {
                        let (n, v) = e.args.0.get(*i)?;
                        (n.as_ref(), v)
                    }
                    Arg::None => return None,
                };
                if raw {
                    return params::raw_arg(e, name, v);
                }
                match v {
                    ArgValue::Int(i) => Some(Val::Int(*i)),
                    ArgValue::Hex(h) => owned(format!("{h:#x}")),
                    ArgValue::Str(x) => s(x),
                    _ => None,
                }
            }
            F::EvtArgs => {
                let e = self.sys()?;
                owned(
                    e.args
                        .0
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            }
            F::EvtTime => owned(t.time.local(false, true)),
            F::EvtTimeS => owned(t.time.local(false, false)),
            F::EvtTimeIso => owned(t.time.rfc3339()),
            F::EvtDatetime => owned(t.time.local(true, false)),
            F::EvtRawTime => Some(Val::Int(t.time.0 as i64)),
            F::EvtRawTimeS => Some(Val::Int((t.time.0 / 1_000_000_000) as i64)),
            F::EvtRawTimeNs => Some(Val::Int((t.time.0 % 1_000_000_000) as i64)),
            F::EvtIsOpenRead | F::EvtIsOpenWrite | F::EvtIsOpenExec | F::EvtIsOpenCreate => {
                let e = self.sys()?;
                if !matches!(
                    e.syscall.as_ref(),
                    "open" | "openat" | "openat2" | "creat" | "open_by_handle_at"
                ) {
                    return Some(Val::Bool(false));
                }
                let flags = e.args.get("flags").and_then(ArgValue::as_str).unwrap_or(
                    if e.syscall == "creat" {
                        "O_WRONLY|O_CREAT|O_TRUNC"
                    } else {
                        ""
                    },
                );
                let create = flags.contains("O_CREAT") || e.syscall == "creat";
                let v = match b.f {
                    F::EvtIsOpenRead => flags.contains("O_RDONLY") || flags.contains("O_RDWR"),
                    F::EvtIsOpenWrite => flags.contains("O_WRONLY") || flags.contains("O_RDWR"),
                    F::EvtIsOpenCreate => create,
                    _ => {
                        create
                            && e.args
                                .get("mode")
                                .and_then(ArgValue::as_str)
                                .is_some_and(|m| m.contains("S_IX"))
                    }
                };
                Some(Val::Bool(v))
            }
            F::EvtSource => s("syscall"),
            F::EvtHostname => s(self.hostname),
            F::Static => self.statics.iter().find_map(|(n, v)| match &b.arg {
                Arg::Key(k) if k == n => s(v),
                _ => None,
            }),
            F::EvtAbi => s(self.sys()?.abi.as_str()),
            F::EvtCount => Some(Val::Int(1)),
            F::EvtCpu => t.cpu.map(|c| Val::Int(c as i64)),
            F::EvtIsIo => Some(Val::Bool(params::is_io(self.evt_type()))),
            F::EvtIsIoUring => Some(Val::Bool(self.sys().is_some_and(|e| e.via.is_some()))),
            F::ProcName => s(&t.comm),
            F::ProcExe => match self.proc() {
                Some(p) if !p.args.is_empty() => s(&p.args[0]),
                Some(p) => s(&p.comm),
                None => s(&t.comm),
            },
            F::ProcExePath => match self.proc() {
                Some(p) if !p.exe.is_empty() => s(&p.exe),
                _ if !t.exe.is_empty() => s(&t.exe),
                _ => None,
            },
            F::ProcArgs => {
                let p = self.proc()?;
                Some(Val::Str(Cow::Borrowed(
                    self.args.get_or_init(|| join_args(p)).as_str(),
                )))
            }
            F::ProcCmdline => {
                // The event's thread name with the process's arguments.
                let c = self.cmdline.get_or_init(|| match self.proc() {
                    Some(p) => crate::state::procs::cmdline(&t.comm, &p.args),
                    None => t.comm.to_string(),
                });
                Some(Val::Str(Cow::Borrowed(c.as_str())))
            }
            F::ProcExeline => {
                let p = self.proc()?;
                owned(p.args.join(" "))
            }
            F::ProcPid => Some(Val::Int(t.pid as i64)),
            F::ProcPpidField => Some(Val::Int(
                self.proc().map(|p| p.ppid).unwrap_or(t.ppid) as i64
            )),
            F::ProcVpid => {
                let v = self.proc()?.attrs.vpid;
                (v != 0).then_some(Val::Int(v as i64))
            }
            F::ProcTty => Some(Val::Int(self.proc()?.attrs.tty as i64)),
            F::ProcCwd => {
                let c = &self.proc()?.attrs.cwd;
                (!c.is_empty()).then_some(Val::Str(Cow::Borrowed(c.as_str())))
            }
            F::ProcEnv => {
                let env = &self.proc()?.attrs.env;
                match &b.arg {
                    Arg::Key(k) => env
                        .iter()
                        .find_map(|e| e.strip_prefix(k.as_str()).and_then(|r| r.strip_prefix('=')))
                        .and_then(s),
                    _ => owned(env.join(" ")),
                }
            }
            F::ProcSid => {
                let v = self.proc()?.attrs.sid;
                (v != 0).then_some(Val::Int(v as i64))
            }
            F::ProcSname => {
                let sid = self.proc()?.attrs.sid;
                let vpid = self.proc()?.attrs.vpid;
                // The session leader is the ancestor whose namespace pid is the session id.
                self.ancestors()
                    .iter()
                    .find(|a| a.attrs.vpid == sid && sid != 0)
                    .map(|a| &*a.comm)
                    .or((vpid == sid && sid != 0).then_some(&*t.comm))
                    .and_then(s)
            }
            F::ProcVpgid => {
                let v = self.proc()?.attrs.vpgid;
                (v != 0).then_some(Val::Int(v as i64))
            }
            F::ProcIsVpgidLeader => {
                let a = &self.proc()?.attrs;
                (a.vpid != 0).then_some(Val::Bool(a.vpid == a.vpgid))
            }
            F::ProcIsSidLeader => {
                let a = &self.proc()?.attrs;
                (a.vpid != 0).then_some(Val::Bool(a.vpid == a.sid))
            }
            F::ProcDuration => {
                let st = self.proc()?.start.0;
                (st != 0).then(|| Val::Int(t.time.0.saturating_sub(st) as i64))
            }
            F::ProcPidTs => nonzero(self.proc()?.start.0),
            F::ProcPpidTs => nonzero(self.parent()?.start.0),
            F::ProcPpidDuration => {
                let st = self.parent()?.start.0;
                (st != 0).then(|| Val::Int(t.time.0.saturating_sub(st) as i64))
            }
            F::ProcPname => s(&self.parent()?.comm),
            F::ProcPexe => {
                let p = self.parent()?;
                s(p.args.first().map_or(&*p.comm, String::as_str))
            }
            F::ProcPexePath => {
                let e = &self.parent()?.exe;
                (!e.is_empty()).then_some(Val::Str(Cow::Borrowed(e)))
            }
            F::ProcPcmdline => self
                .pcmdline
                .get_or_init(|| {
                    self.parent()
                        .map(|p| crate::state::procs::cmdline(&p.comm, &p.args))
                })
                .as_deref()
                .map(|c| Val::Str(Cow::Borrowed(c))),
            F::ProcAname | F::ProcAexe | F::ProcAexePath | F::ProcApid => {
                let i = match &b.arg {
                    Arg::Index(i) => *i,
                    _ => 1,
                };
                let a = *self.ancestors().get(i)?;
                ancestor_field(b.f, a)
            }
            F::ProcIsExeFromMemfd => {
                let p = self.proc()?;
                let e = &*p.exe;
                Some(Val::Bool(
                    p.attrs.exe_from_memfd || e.starts_with("/memfd:") || e.starts_with("memfd:"),
                ))
            }
            F::ProcIsExeUpper => Some(Val::Bool(self.proc()?.attrs.exe_upper_layer)),
            F::ProcIsExeLower => Some(Val::Bool(self.proc()?.attrs.exe_lower_layer)),
            F::ProcIsExeWritable => Some(Val::Bool(self.proc()?.attrs.exe_writable)),
            // 0 is Falco's "no value" for the inode facts.
            F::ProcExeIno => nonzero(self.proc()?.attrs.exe_ino),
            F::ProcExeInoCtime => nonzero(self.proc()?.attrs.exe_ctime),
            F::ProcExeInoMtime => nonzero(self.proc()?.attrs.exe_mtime),
            F::ProcExeCtimeToStart => {
                let p = self.proc()?;
                let (start, ctime) = (p.start.0, p.attrs.exe_ctime);
                (start > 0 && ctime > 0).then(|| Val::Int(start as i64 - ctime as i64))
            }
            F::ThreadTid => Some(Val::Int(t.tid as i64)),
            F::ThreadVtid => self.proc()?.vtid(t.tid).map(|v| Val::Int(v as i64)),
            F::ThreadCapPermitted => owned(caps(self.proc()?.attrs.cap_permitted)),
            F::ThreadCapEffective => owned(caps(self.proc()?.attrs.cap_effective)),
            F::ThreadCapInheritable => owned(caps(self.proc()?.attrs.cap_inheritable)),
            F::UserUid => Some(Val::Int(t.uid as i64)),
            F::UserName => (!t.user.is_empty()).then_some(Val::Str(Cow::Borrowed(&t.user))),
            F::UserLoginUid => Some(Val::Int(self.proc().map_or(-1, |p| p.attrs.loginuid))),
            F::UserLoginName => {
                let n = &self.proc()?.attrs.loginname;
                (!n.is_empty()).then_some(Val::Str(Cow::Borrowed(n.as_str())))
            }
            F::GroupGid => Some(Val::Int(t.gid as i64)),
            F::GroupName => (!t.group.is_empty()).then_some(Val::Str(Cow::Borrowed(&t.group))),
            F::FdNum => Some(Val::Int(self.fd()?.num)),
            F::FdType => s(self.fd()?.info.kind.name()),
            F::FdTypeChar => s(self.fd()?.info.kind.typechar()),
            F::FdDev => Some(Val::Int(self.fd()?.info.dev as i64)),
            F::FdDevMajor => Some(Val::Int(((self.fd()?.info.dev & 0xf_ff00) >> 8) as i64)),
            F::FdDevMinor => {
                let d = self.fd()?.info.dev;
                Some(Val::Int(((d & 0xff) | ((d >> 12) & 0xf_ff00)) as i64))
            }
            F::FdIno => Some(Val::Int(self.fd()?.info.ino as i64)),
            // As one value (an output): libsinsp prints a list as `(a,b)`.
            F::FdTypes => owned(format!("({})", self.fd_types(&b.arg)?.join(","))),
            F::FdName => {
                let f = self.fd()?;
                if f.info.kind.is_net() {
                    owned(f.info.tuple())
                } else {
                    self.fd_str(|i| &i.name)
                }
            }
            F::FdNameRaw => self.fd_str(|i| &i.nameraw),
            F::FdDirectory | F::FdFilename => {
                let f = self.fd()?;
                if !matches!(f.info.kind, FdKind::File | FdKind::Directory)
                    || f.info.name.is_empty()
                {
                    return None;
                }
                let name = f.info.name.clone();
                let (dir, file) = match name.rsplit_once('/') {
                    Some(("", file)) => ("/".to_string(), file.to_string()),
                    Some((d, file)) => (d.to_string(), file.to_string()),
                    None => (String::new(), name.to_string()),
                };
                owned(if b.f == F::FdDirectory { dir } else { file })
            }
            F::FdIp | F::FdNet => self.ip(|c, s| c.or(s)),
            F::FdCip | F::FdCnet => self.ip(|c, _| c),
            F::FdSip | F::FdSnet => self.ip(|_, s| s),
            F::FdLip | F::FdLnet => self
                .fd()
                .and_then(|f| f.info.local)
                .map(|a| Val::Ip(a.ip())),
            F::FdRip | F::FdRnet => self
                .fd()
                .and_then(|f| f.info.remote)
                .map(|a| Val::Ip(a.ip())),
            F::FdCipName | F::FdSipName | F::FdLipName | F::FdRipName => {
                owned(crate::state::dns::name_of(self.named_ip(b.f)?)?)
            }
            F::FdPort => self.port(|c, s| s.or(c)),
            F::FdCport => self.port(|c, _| c),
            F::FdSport => self.port(|_, s| s),
            F::FdLport => self
                .fd()
                .and_then(|f| f.info.local)
                .map(|a| Val::Int(a.port() as i64)),
            F::FdRport => self
                .fd()
                .and_then(|f| f.info.remote)
                .map(|a| Val::Int(a.port() as i64)),
            F::FdL4Proto => s(self.fd()?.info.l4proto?),
            F::FdSockFamily => match self.fd()?.info.kind {
                FdKind::Ipv4 | FdKind::Ipv6 => s("ip"),
                FdKind::Unix => s("unix"),
                _ => None,
            },
            F::FdIsServer => Some(Val::Bool(self.fd()?.info.server)),
            F::FdConnected => Some(Val::Bool(self.fd()?.info.connected)),
            F::FdNameChanged => Some(Val::Bool(self.fd()?.name_changed)),
            F::ContainerId
            | F::ContainerFullId
            | F::ContainerName
            | F::ContainerType
            | F::ContainerCgroup
            | F::ContainerImage
            | F::ContainerImageId
            | F::ContainerImageRepo
            | F::ContainerImageTag
            | F::ContainerImageDigest
            | F::ContainerPrivileged
            | F::ContainerMounts
            | F::ContainerStartTs
            | F::ContainerMount
            | F::ContainerMountSource
            | F::ContainerMountDest
            | F::ContainerMountMode
            | F::ContainerMountRdwr
            | F::ContainerMountProp
            | F::ContainerDuration
            | F::ContainerIp
            | F::ContainerHealthcheck
            | F::K8sNsName
            | F::K8sPodName
            | F::K8sPodUid
            | F::K8sPodId
            | F::K8sPodLabel
            | F::K8sPodLabels
            | F::K8sPodIp
            | F::ContainerLabels
            | F::K8sPodSandboxId
            | F::ContainerLabel => self.container_value(b),
            F::Unavailable | F::Multi => None,
        }
    }

    fn fd_str(&self, f: impl Fn(&FdInfo) -> &Arc<str>) -> Option<Val<'_>> {
        let v = self.fd()?;
        let x = f(&v.info);
        if x.is_empty() {
            return None;
        }
        match &v.info {
            Cow::Borrowed(i) => Some(Val::Str(Cow::Borrowed(f(i)))),
            Cow::Owned(_) => owned(x.to_string()),
        }
    }

    fn ip(
        &self,
        pick: impl Fn(Option<IpAddr>, Option<IpAddr>) -> Option<IpAddr>,
    ) -> Option<Val<'_>> {
        let f = self.fd()?;
        if !f.info.kind.is_net() {
            return None;
        }
        let (c, s) = f.info.client_server();
        pick(c.map(|a| a.ip()), s.map(|a| a.ip())).map(Val::Ip)
    }

    /// The address `fd.*ip.name` field `f` names.
    pub(crate) fn named_ip(&self, f: F) -> Option<IpAddr> {
        let ip = f.named_ip()?;
        let b = Bound {
            f: ip,
            ty: super::value::Type::Ip,
            arg: Arg::None,
            display: String::new(),
            any: false,
        };
        match self.value(&b)? {
            Val::Ip(a) => Some(a),
            _ => None,
        }
    }

    fn port(&self, pick: impl Fn(Option<u16>, Option<u16>) -> Option<u16>) -> Option<Val<'_>> {
        let f = self.fd()?;
        if !f.info.kind.is_net() {
            return None;
        }
        let (c, s) = f.info.client_server();
        pick(c.map(|a| a.port()), s.map(|a| a.port())).map(|p| Val::Int(p as i64))
    }

    /// Every value of a multi-valued field (`proc.aname` without index: all ancestors).
    pub(crate) fn values<'s>(&'s self, b: &Bound, out: &mut Vec<Val<'s>>) {
        if b.is_list() {
            out.extend(self.fd_types(&b.arg).into_iter().flatten().filter_map(s));
        } else if b.any {
            for a in self.ancestors().iter().skip(1) {
                if let Some(v) = ancestor_field(b.f, a) {
                    out.push(v);
                }
            }
        } else if let Some(v) = self.value(b) {
            out.push(v);
        }
    }
}

fn ancestor_field<'a>(f: F, a: &'a Process) -> Option<Val<'a>> {
    match f {
        F::ProcAname => s(&a.comm),
        F::ProcAexe => s(a.args.first().map_or(&*a.comm, String::as_str)),
        F::ProcAexePath => (!a.exe.is_empty()).then_some(Val::Str(Cow::Borrowed(&a.exe))),
        _ => Some(Val::Int(a.pid as i64)),
    }
}

/// A string value, null when empty (as Falco shows missing metadata).
pub(super) fn nonempty(v: &str) -> Option<Val<'_>> {
    (!v.is_empty()).then_some(Val::Str(Cow::Borrowed(v)))
}
