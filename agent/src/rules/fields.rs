//! The field registry: every field a condition or an output may name, its type, whether it
//! takes an argument, and whether the agent has its data (fields without a data source
//! evaluate to null, as Falco's do when metadata is missing).

use super::value::Type;

/// Field identities, dispatched on by the extractor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum F {
    EvtType,
    EvtDir,
    EvtNum,
    EvtRes,
    EvtRawRes,
    EvtFailed,
    EvtArg,
    EvtRawArg,
    EvtArgs,
    EvtTime,
    EvtTimeS,
    EvtTimeIso,
    EvtDatetime,
    EvtRawTime,
    EvtRawTimeS,
    EvtRawTimeNs,
    EvtIsOpenRead,
    EvtIsOpenWrite,
    EvtIsOpenExec,
    EvtIsOpenCreate,
    EvtSource,
    EvtHostname,
    EvtAbi,
    ProcName,
    ProcExe,
    ProcExePath,
    ProcArgs,
    ProcCmdline,
    ProcExeline,
    ProcPid,
    ProcVpid,
    ProcTty,
    ProcCwd,
    ProcEnv,
    ProcSid,
    ProcSname,
    ProcVpgid,
    ProcIsVpgidLeader,
    ProcIsSidLeader,
    ProcDuration,
    ProcPname,
    ProcPexe,
    ProcPexePath,
    ProcPcmdline,
    ProcPpidField,
    ProcAname,
    ProcAexe,
    ProcAexePath,
    ProcApid,
    ProcIsExeFromMemfd,
    ThreadTid,
    ThreadCapPermitted,
    ThreadCapEffective,
    ThreadCapInheritable,
    UserUid,
    UserName,
    UserLoginUid,
    UserLoginName,
    GroupGid,
    GroupName,
    FdNum,
    FdType,
    FdTypeChar,
    FdName,
    FdNameRaw,
    FdDirectory,
    FdFilename,
    FdIp,
    FdCip,
    FdSip,
    FdLip,
    FdRip,
    FdPort,
    FdCport,
    FdSport,
    FdLport,
    FdRport,
    FdL4Proto,
    FdSockFamily,
    FdIsServer,
    FdNet,
    FdCnet,
    FdSnet,
    FdLnet,
    FdRnet,
    FdConnected,
    FdNameChanged,
    ContainerId,
    ContainerFullId,
    ContainerName,
    ContainerType,
    ContainerCgroup,
    /// A field whose data source the agent does not have (DNS names, image metadata,
    /// Kubernetes, exe inode times, I/O buffers): always null.
    Unavailable,
}

/// What the `[...]` after a field may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    None,
    /// An index; optional (`proc.aname` alone means "any ancestor").
    Index,
    /// A free-form key, optional (`proc.env[HOME]`).
    Key,
    /// A name or index, required (`evt.arg.flags`, `evt.arg[0]`).
    Required,
}

pub struct Def {
    pub name: &'static str,
    pub f: F,
    pub ty: Type,
    pub arg: ArgKind,
    pub desc: &'static str,
}

const fn d(name: &'static str, f: F, ty: Type, arg: ArgKind, desc: &'static str) -> Def {
    Def {
        name,
        f,
        ty,
        arg,
        desc,
    }
}

use ArgKind as A;
use Type as T;

pub static DEFS: &[Def] = &[
    d(
        "evt.type",
        F::EvtType,
        T::Str,
        A::None,
        "syscall name (execve, openat, ...)",
    ),
    d("syscall.type", F::EvtType, T::Str, A::None, "syscall name"),
    d(
        "evt.dir",
        F::EvtDir,
        T::Str,
        A::None,
        "'<': every event is an exit event",
    ),
    d(
        "evt.num",
        F::EvtNum,
        T::Int,
        A::None,
        "event number, from 1",
    ),
    d(
        "evt.res",
        F::EvtRes,
        T::Str,
        A::None,
        "SUCCESS or the errno name (ENOENT, EINPROGRESS...)",
    ),
    d("evt.rawres", F::EvtRawRes, T::Int, A::None, "return value"),
    d(
        "evt.failed",
        F::EvtFailed,
        T::Bool,
        A::None,
        "the syscall returned an error",
    ),
    d(
        "evt.arg",
        F::EvtArg,
        T::Dyn,
        A::Required,
        "argument by name (evt.arg.flags) or index (evt.arg[0])",
    ),
    d(
        "evt.rawarg",
        F::EvtRawArg,
        T::Dyn,
        A::Required,
        "numeric argument by name",
    ),
    d(
        "evt.args",
        F::EvtArgs,
        T::Str,
        A::None,
        "all arguments, name=value",
    ),
    d(
        "evt.info",
        F::EvtArgs,
        T::Str,
        A::None,
        "all arguments, name=value",
    ),
    d(
        "evt.time",
        F::EvtTime,
        T::Str,
        A::None,
        "time of day with nanoseconds (local)",
    ),
    d(
        "evt.time.s",
        F::EvtTimeS,
        T::Str,
        A::None,
        "time of day (local)",
    ),
    d(
        "evt.time.iso8601",
        F::EvtTimeIso,
        T::Str,
        A::None,
        "RFC 3339 time, UTC",
    ),
    d(
        "evt.datetime",
        F::EvtDatetime,
        T::Str,
        A::None,
        "date and time (local)",
    ),
    d(
        "evt.rawtime",
        F::EvtRawTime,
        T::Int,
        A::None,
        "ns since the epoch",
    ),
    d(
        "evt.rawtime.s",
        F::EvtRawTimeS,
        T::Int,
        A::None,
        "seconds since the epoch",
    ),
    d(
        "evt.rawtime.ns",
        F::EvtRawTimeNs,
        T::Int,
        A::None,
        "ns part of the time",
    ),
    d(
        "evt.is_open_read",
        F::EvtIsOpenRead,
        T::Bool,
        A::None,
        "an open for reading",
    ),
    d(
        "evt.is_open_write",
        F::EvtIsOpenWrite,
        T::Bool,
        A::None,
        "an open for writing",
    ),
    d(
        "evt.is_open_exec",
        F::EvtIsOpenExec,
        T::Bool,
        A::None,
        "an open creating an executable file",
    ),
    d(
        "evt.is_open_create",
        F::EvtIsOpenCreate,
        T::Bool,
        A::None,
        "an open with O_CREAT",
    ),
    d(
        "evt.source",
        F::EvtSource,
        T::Str,
        A::None,
        "always 'syscall'",
    ),
    d("evt.hostname", F::EvtHostname, T::Str, A::None, "host name"),
    d(
        "evt.abi",
        F::EvtAbi,
        T::Str,
        A::None,
        "syscall ABI: x86_64, ia32, x32 (sysaudit)",
    ),
    d(
        "evt.buffer",
        F::Unavailable,
        T::Str,
        A::None,
        "I/O buffer (not captured)",
    ),
    d(
        "evt.cpu",
        F::Unavailable,
        T::Int,
        A::None,
        "CPU (not captured)",
    ),
    d(
        "proc.name",
        F::ProcName,
        T::Str,
        A::None,
        "process name (comm)",
    ),
    d("proc.exe", F::ProcExe, T::Str, A::None, "argv[0]"),
    d(
        "proc.exepath",
        F::ProcExePath,
        T::Str,
        A::None,
        "executable path",
    ),
    d(
        "proc.args",
        F::ProcArgs,
        T::Str,
        A::None,
        "arguments after argv[0], space-separated",
    ),
    d(
        "proc.cmdline",
        F::ProcCmdline,
        T::Str,
        A::None,
        "name and arguments",
    ),
    d(
        "proc.exeline",
        F::ProcExeline,
        T::Str,
        A::None,
        "argv[0] and arguments",
    ),
    d("proc.pid", F::ProcPid, T::Int, A::None, "process id"),
    d(
        "proc.ppid",
        F::ProcPpidField,
        T::Int,
        A::None,
        "parent process id",
    ),
    d(
        "proc.vpid",
        F::ProcVpid,
        T::Int,
        A::None,
        "process id in its pid namespace",
    ),
    d(
        "proc.tty",
        F::ProcTty,
        T::Int,
        A::None,
        "controlling terminal (0: none)",
    ),
    d("proc.cwd", F::ProcCwd, T::Str, A::None, "working directory"),
    d(
        "proc.env",
        F::ProcEnv,
        T::Str,
        A::Key,
        "environment, or one variable: proc.env[HOME]",
    ),
    d("proc.sid", F::ProcSid, T::Int, A::None, "session id"),
    d(
        "proc.sname",
        F::ProcSname,
        T::Str,
        A::None,
        "name of the session leader",
    ),
    d(
        "proc.vpgid",
        F::ProcVpgid,
        T::Int,
        A::None,
        "process group id in the pid namespace",
    ),
    d(
        "proc.is_vpgid_leader",
        F::ProcIsVpgidLeader,
        T::Bool,
        A::None,
        "leads its process group",
    ),
    d(
        "proc.is_sid_leader",
        F::ProcIsSidLeader,
        T::Bool,
        A::None,
        "leads its session",
    ),
    d(
        "proc.duration",
        F::ProcDuration,
        T::Int,
        A::None,
        "ns since the process started",
    ),
    d("proc.pname", F::ProcPname, T::Str, A::None, "parent's name"),
    d(
        "proc.pexe",
        F::ProcPexe,
        T::Str,
        A::None,
        "parent's argv[0]",
    ),
    d(
        "proc.pexepath",
        F::ProcPexePath,
        T::Str,
        A::None,
        "parent's executable path",
    ),
    d(
        "proc.pcmdline",
        F::ProcPcmdline,
        T::Str,
        A::None,
        "parent's command line",
    ),
    d(
        "proc.aname",
        F::ProcAname,
        T::Str,
        A::Index,
        "ancestor's name; no index: any ancestor",
    ),
    d(
        "proc.aexe",
        F::ProcAexe,
        T::Str,
        A::Index,
        "ancestor's argv[0]",
    ),
    d(
        "proc.aexepath",
        F::ProcAexePath,
        T::Str,
        A::Index,
        "ancestor's executable path",
    ),
    d("proc.apid", F::ProcApid, T::Int, A::Index, "ancestor's pid"),
    d(
        "proc.is_exe_from_memfd",
        F::ProcIsExeFromMemfd,
        T::Bool,
        A::None,
        "executable is a memfd",
    ),
    d(
        "proc.is_exe_upper_layer",
        F::Unavailable,
        T::Bool,
        A::None,
        "executable in the overlay upper layer (not available)",
    ),
    d(
        "proc.is_exe_writable",
        F::Unavailable,
        T::Bool,
        A::None,
        "executable writable (not available)",
    ),
    d(
        "proc.exe_ino",
        F::Unavailable,
        T::Int,
        A::None,
        "executable inode (not available)",
    ),
    d(
        "proc.exe_ino.ctime",
        F::Unavailable,
        T::Int,
        A::None,
        "(not available)",
    ),
    d(
        "proc.exe_ino.mtime",
        F::Unavailable,
        T::Int,
        A::None,
        "(not available)",
    ),
    d(
        "proc.exe_ino.ctime_duration_proc_start",
        F::Unavailable,
        T::Int,
        A::None,
        "(not available)",
    ),
    d("thread.tid", F::ThreadTid, T::Int, A::None, "thread id"),
    d(
        "thread.cap_permitted",
        F::ThreadCapPermitted,
        T::Str,
        A::None,
        "permitted capabilities",
    ),
    d(
        "thread.cap_effective",
        F::ThreadCapEffective,
        T::Str,
        A::None,
        "effective capabilities",
    ),
    d(
        "thread.cap_inheritable",
        F::ThreadCapInheritable,
        T::Str,
        A::None,
        "inheritable capabilities",
    ),
    d("user.uid", F::UserUid, T::Int, A::None, "user id"),
    d(
        "user.name",
        F::UserName,
        T::Str,
        A::None,
        "user name (the container's /etc/passwd inside containers)",
    ),
    d(
        "user.loginuid",
        F::UserLoginUid,
        T::Int,
        A::None,
        "audit login uid, -1 if unset",
    ),
    d(
        "user.loginname",
        F::UserLoginName,
        T::Str,
        A::None,
        "name of the login uid",
    ),
    d("group.gid", F::GroupGid, T::Int, A::None, "group id"),
    d("group.name", F::GroupName, T::Str, A::None, "group name"),
    d(
        "fd.num",
        F::FdNum,
        T::Int,
        A::None,
        "descriptor number (-1: failed open)",
    ),
    d(
        "fd.type",
        F::FdType,
        T::Str,
        A::None,
        "file, directory, ipv4, ipv6, unix, ...",
    ),
    d(
        "fd.typechar",
        F::FdTypeChar,
        T::Str,
        A::None,
        "f, d, 4, 6, u, p, ...",
    ),
    d(
        "fd.name",
        F::FdName,
        T::Str,
        A::None,
        "path, or cip:cport->sip:sport",
    ),
    d(
        "fd.nameraw",
        F::FdNameRaw,
        T::Str,
        A::None,
        "path as passed",
    ),
    d(
        "fd.directory",
        F::FdDirectory,
        T::Str,
        A::None,
        "directory of the path",
    ),
    d(
        "fd.filename",
        F::FdFilename,
        T::Str,
        A::None,
        "file name of the path",
    ),
    d("fd.ip", F::FdIp, T::Ip, A::None, "client or server IP"),
    d("fd.cip", F::FdCip, T::Ip, A::None, "client IP"),
    d("fd.sip", F::FdSip, T::Ip, A::None, "server IP"),
    d("fd.lip", F::FdLip, T::Ip, A::None, "local IP"),
    d("fd.rip", F::FdRip, T::Ip, A::None, "remote IP"),
    d(
        "fd.port",
        F::FdPort,
        T::Int,
        A::None,
        "client or server port",
    ),
    d("fd.cport", F::FdCport, T::Int, A::None, "client port"),
    d("fd.sport", F::FdSport, T::Int, A::None, "server port"),
    d("fd.lport", F::FdLport, T::Int, A::None, "local port"),
    d("fd.rport", F::FdRport, T::Int, A::None, "remote port"),
    d("fd.l4proto", F::FdL4Proto, T::Str, A::None, "tcp, udp, raw"),
    d(
        "fd.sockfamily",
        F::FdSockFamily,
        T::Str,
        A::None,
        "ip or unix",
    ),
    d(
        "fd.is_server",
        F::FdIsServer,
        T::Bool,
        A::None,
        "this side is the server",
    ),
    d(
        "fd.net",
        F::FdNet,
        T::Ip,
        A::None,
        "client or server IP, compared with a network",
    ),
    d(
        "fd.cnet",
        F::FdCnet,
        T::Ip,
        A::None,
        "client IP, compared with a network",
    ),
    d(
        "fd.snet",
        F::FdSnet,
        T::Ip,
        A::None,
        "server IP, compared with a network",
    ),
    d(
        "fd.lnet",
        F::FdLnet,
        T::Ip,
        A::None,
        "local IP, compared with a network",
    ),
    d(
        "fd.rnet",
        F::FdRnet,
        T::Ip,
        A::None,
        "remote IP, compared with a network",
    ),
    d(
        "fd.connected",
        F::FdConnected,
        T::Bool,
        A::None,
        "socket is connected",
    ),
    d(
        "fd.name_changed",
        F::FdNameChanged,
        T::Bool,
        A::None,
        "the event set the fd's name (e.g. sendto with an address)",
    ),
    d(
        "fd.cip.name",
        F::Unavailable,
        T::Str,
        A::None,
        "DNS name of the client (not available)",
    ),
    d(
        "fd.sip.name",
        F::Unavailable,
        T::Str,
        A::None,
        "DNS name of the server (not available)",
    ),
    d(
        "fd.lip.name",
        F::Unavailable,
        T::Str,
        A::None,
        "(not available)",
    ),
    d(
        "fd.rip.name",
        F::Unavailable,
        T::Str,
        A::None,
        "(not available)",
    ),
    d(
        "container.id",
        F::ContainerId,
        T::Str,
        A::None,
        "12-character id, or 'host'",
    ),
    d(
        "container.full_id",
        F::ContainerFullId,
        T::Str,
        A::None,
        "full id, or 'host'",
    ),
    d(
        "container.name",
        F::ContainerName,
        T::Str,
        A::None,
        "name ('host' for the host)",
    ),
    d(
        "container.type",
        F::ContainerType,
        T::Str,
        A::None,
        "runtime: docker, containerd, cri-o, podman, ...",
    ),
    d(
        "container.cgroup",
        F::ContainerCgroup,
        T::Str,
        A::None,
        "cgroup path (sysaudit)",
    ),
    d(
        "container.image",
        F::Unavailable,
        T::Str,
        A::None,
        "image (needs engine metadata)",
    ),
    d(
        "container.image.id",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs engine metadata)",
    ),
    d(
        "container.image.repository",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs engine metadata)",
    ),
    d(
        "container.image.tag",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs engine metadata)",
    ),
    d(
        "container.image.digest",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs engine metadata)",
    ),
    d(
        "container.privileged",
        F::Unavailable,
        T::Bool,
        A::None,
        "(needs engine metadata)",
    ),
    d(
        "container.mounts",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs engine metadata)",
    ),
    d(
        "container.mount",
        F::Unavailable,
        T::Str,
        A::Key,
        "(needs engine metadata)",
    ),
    d(
        "container.mount.source",
        F::Unavailable,
        T::Str,
        A::Key,
        "(needs engine metadata)",
    ),
    d(
        "container.mount.dest",
        F::Unavailable,
        T::Str,
        A::Key,
        "(needs engine metadata)",
    ),
    d(
        "container.mount.mode",
        F::Unavailable,
        T::Str,
        A::Key,
        "(needs engine metadata)",
    ),
    d(
        "container.mount.rdwr",
        F::Unavailable,
        T::Str,
        A::Key,
        "(needs engine metadata)",
    ),
    d(
        "container.mount.propagation",
        F::Unavailable,
        T::Str,
        A::Key,
        "(needs engine metadata)",
    ),
    d(
        "container.start_ts",
        F::Unavailable,
        T::Int,
        A::None,
        "(needs engine metadata)",
    ),
    d(
        "container.duration",
        F::Unavailable,
        T::Int,
        A::None,
        "(needs engine metadata)",
    ),
    d(
        "container.ip",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs engine metadata)",
    ),
    d(
        "container.healthcheck",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs engine metadata)",
    ),
    d(
        "container.label",
        F::Unavailable,
        T::Str,
        A::Key,
        "(needs engine metadata)",
    ),
    d(
        "k8s.ns.name",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs Kubernetes)",
    ),
    d(
        "k8s.pod.name",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs Kubernetes)",
    ),
    d(
        "k8s.pod.id",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs Kubernetes)",
    ),
    d(
        "k8s.pod.uid",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs Kubernetes)",
    ),
    d(
        "k8s.pod.label",
        F::Unavailable,
        T::Str,
        A::Key,
        "(needs Kubernetes)",
    ),
    d(
        "k8s.pod.labels",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs Kubernetes)",
    ),
    d(
        "k8s.pod.ip",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs Kubernetes)",
    ),
    d(
        "k8s.pod.cni.json",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs Kubernetes)",
    ),
    d(
        "k8s.rc.name",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs Kubernetes)",
    ),
    d(
        "k8s.deployment.name",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs Kubernetes)",
    ),
    d(
        "k8s.svc.name",
        F::Unavailable,
        T::Str,
        A::None,
        "(needs Kubernetes)",
    ),
];

/// The argument a bound field carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    None,
    Index(usize),
    Key(String),
}

/// A field as a check uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    pub f: F,
    pub ty: Type,
    pub arg: Arg,
    /// As written (`proc.aname[2]`), the output_fields key.
    pub display: String,
    /// `proc.aname` without an index: true if any ancestor matches.
    pub any: bool,
}

pub fn def(name: &str) -> Option<&'static Def> {
    DEFS.iter().find(|d| d.name == name)
}

/// Resolve `name` (possibly with a dotted argument, `evt.arg.flags`) and its bracket argument.
pub fn bind(name: &str, arg: Option<&str>) -> Result<Bound, String> {
    let (def, arg) = match def(name) {
        Some(d) => (d, arg.map(str::to_string)),
        None => {
            // `evt.arg.flags` is `evt.arg` with the argument `flags`.
            let (head, tail) = name
                .rsplit_once('.')
                .ok_or_else(|| format!("unknown field {name}"))?;
            match def(head) {
                Some(d) if d.arg != ArgKind::None && arg.is_none() => (d, Some(tail.to_string())),
                _ => return Err(unknown(name)),
            }
        }
    };
    let display = match &arg {
        Some(a) if name == def.name => format!("{name}[{a}]"),
        _ => name.to_string(),
    };
    let bound_arg = match (def.arg, arg) {
        (ArgKind::None, Some(a)) => {
            return Err(format!("field {} takes no argument, got [{a}]", def.name))
        }
        (ArgKind::None, None) => Arg::None,
        (ArgKind::Required, None) => {
            return Err(format!(
                "field {} needs an argument: {}.NAME or {}[N]",
                def.name, def.name, def.name
            ))
        }
        (ArgKind::Index, None) | (ArgKind::Key, None) => Arg::None,
        (ArgKind::Index, Some(a)) => Arg::Index(
            a.parse()
                .map_err(|_| format!("field {}: index '{a}' is not a number", def.name))?,
        ),
        (ArgKind::Key, Some(a)) | (ArgKind::Required, Some(a)) => match a.parse::<usize>() {
            Ok(i) if def.arg == ArgKind::Required => Arg::Index(i),
            _ => Arg::Key(a),
        },
    };
    Ok(Bound {
        f: def.f,
        ty: def.ty,
        any: matches!(
            def.f,
            F::ProcAname | F::ProcAexe | F::ProcAexePath | F::ProcApid
        ) && bound_arg == Arg::None,
        arg: bound_arg,
        display,
    })
}

fn unknown(name: &str) -> String {
    // Suggest a close name: most typos are one or two letters off.
    let best = DEFS
        .iter()
        .map(|d| (strsim::levenshtein(name, d.name), d.name))
        .filter(|(s, _)| *s <= 2)
        .min_by_key(|(s, _)| *s);
    match best {
        Some((_, n)) => format!("unknown field {name} (did you mean {n}?)"),
        None => format!("unknown field {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_plain_dotted_and_indexed_fields() {
        let b = bind("proc.name", None).unwrap();
        assert_eq!(
            (b.f, b.ty, b.arg, b.display.as_str()),
            (F::ProcName, Type::Str, Arg::None, "proc.name")
        );
        let b = bind("evt.arg.flags", None).unwrap();
        assert_eq!(
            (b.f, b.arg, b.display.as_str()),
            (F::EvtArg, Arg::Key("flags".into()), "evt.arg.flags")
        );
        let b = bind("evt.arg", Some("0")).unwrap();
        assert_eq!((b.arg, b.display.as_str()), (Arg::Index(0), "evt.arg[0]"));
        let b = bind("proc.aname", Some("2")).unwrap();
        assert_eq!(
            (b.arg, b.any, b.display.as_str()),
            (Arg::Index(2), false, "proc.aname[2]")
        );
        assert!(bind("proc.aname", None).unwrap().any);
        let b = bind("container.mount.dest", Some("/proc*")).unwrap();
        assert_eq!((b.f, b.arg), (F::Unavailable, Arg::Key("/proc*".into())));
        assert_eq!(bind("proc.exe_ino.ctime", None).unwrap().f, F::Unavailable);
    }

    #[test]
    fn rejects_unknown_fields_and_bad_arguments() {
        assert_eq!(
            bind("proc.nmae", None).unwrap_err(),
            "unknown field proc.nmae (did you mean proc.name?)"
        );
        assert_eq!(bind("foo.bar", None).unwrap_err(), "unknown field foo.bar");
        assert!(bind("proc.name", Some("1"))
            .unwrap_err()
            .contains("takes no argument"));
        assert!(bind("evt.arg", None)
            .unwrap_err()
            .contains("needs an argument"));
        assert!(bind("proc.aname", Some("x"))
            .unwrap_err()
            .contains("not a number"));
        assert!(bind("proc.name.x", None).is_err());
    }

    #[test]
    fn every_field_falco_s_files_use_is_registered() {
        // Section 8 of the reference field-usage.txt: the union of the fields the three
        // upstream files use, one per line after its count.
        let Some((_, text)) = crate::reference::falco_text("field-usage.txt") else {
            return;
        };
        let names: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("## 8."))
            .skip(1)
            .take_while(|l| !l.starts_with("## "))
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                w.next()?.parse::<u32>().ok()?;
                w.next()
            })
            .collect();
        assert_eq!(names.len(), 90);
        for n in names {
            assert!(bind(n, None).is_ok(), "{n}");
        }
    }
}
