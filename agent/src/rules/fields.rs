//! The field registry: every field a condition or an output may name, its type, whether it
//! takes an argument, and whether the agent has its data (fields without a data source
//! evaluate to null, as Falco's do when metadata is missing).

use super::value::Type;

/// What the `[...]` after a field may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgKind {
    None,
    /// An index; optional (`proc.aname` alone means "any ancestor").
    Index,
    /// A free-form key, optional (`proc.env[HOME]`).
    Key,
    /// A name or index, required (`evt.arg.flags`, `evt.arg[0]`).
    Required,
}

pub(crate) struct Def {
    pub(crate) name: &'static str,
    pub(crate) f: F,
    pub(crate) ty: Type,
    pub(crate) arg: ArgKind,
    pub(crate) desc: &'static str,
}

/// Generates the field identities (`F`, one per extractor) and `DEFS` (every name a condition
/// or an output may use) from one table, so that each field is written once.
macro_rules! fields {
    (
        fields { $($v:ident $name:literal $ty:ident $arg:ident $desc:literal;)* }
        aliases { $($av:ident $aname:literal $aty:ident $aarg:ident $adesc:literal;)* }
        unavailable { $($uname:literal $uty:ident $uarg:ident $udesc:literal;)* }
    ) => {
        /// Field identities, dispatched on by the extractor.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub(crate) enum F {
            $($v,)*
            /// A field whose data source the agent does not have: always null.
            Unavailable,
            /// A multivalue transformer's result, computed from its arguments (`multi.rs`).
            Multi,
        }

        pub(crate) static DEFS: &[Def] = &[
            $(Def { name: $name, f: F::$v, ty: Type::$ty, arg: ArgKind::$arg, desc: $desc },)*
            $(Def { name: $aname, f: F::$av, ty: Type::$aty, arg: ArgKind::$aarg, desc: $adesc },)*
            $(Def { name: $uname, f: F::Unavailable, ty: Type::$uty, arg: ArgKind::$uarg, desc: $udesc },)*
        ];
    };
}

#[rustfmt::skip]
fields! {
    // variant, name, type, argument, description; one row per field.
    fields {
        EvtType              "evt.type"                               Str  None     "syscall name (execve, openat, ...)";
        EvtDir               "evt.dir"                                Str  None     "'<': every event is an exit event";
        EvtNum               "evt.num"                                Int  None     "event number, from 1";
        EvtRes               "evt.res"                                Str  None     "SUCCESS or the errno name (ENOENT, EINPROGRESS...)";
        EvtRawRes            "evt.rawres"                             Int  None     "return value";
        EvtFailed            "evt.failed"                             Bool None     "the syscall returned an error";
        EvtBuffer            "evt.buffer"                             Bytes None     "first bytes (up to 80) of a read/write/send/recv buffer; copied in the kernel only when a loaded rule reads this field";
        EvtArg               "evt.arg"                                Dyn  Required "argument by name (evt.arg.flags) or index (evt.arg[0])";
        EvtRawArg            "evt.rawarg"                             Dyn  Required "numeric argument by name";
        EvtArgs              "evt.args"                               Str  None     "all arguments, name=value";
        EvtTime              "evt.time"                               Str  None     "time of day with nanoseconds (local)";
        EvtTimeS             "evt.time.s"                             Str  None     "time of day (local)";
        EvtTimeIso           "evt.time.iso8601"                       Str  None     "RFC 3339 time, UTC";
        EvtDatetime          "evt.datetime"                           Str  None     "date and time (local)";
        EvtRawTime           "evt.rawtime"                            Int  None     "ns since the epoch";
        EvtRawTimeS          "evt.rawtime.s"                          Int  None     "seconds since the epoch";
        EvtRawTimeNs         "evt.rawtime.ns"                         Int  None     "ns part of the time";
        EvtIsOpenRead        "evt.is_open_read"                       Bool None     "an open for reading";
        EvtIsOpenWrite       "evt.is_open_write"                      Bool None     "an open for writing";
        EvtIsOpenExec        "evt.is_open_exec"                       Bool None     "an open creating an executable file";
        EvtIsOpenCreate      "evt.is_open_create"                     Bool None     "an open with O_CREAT";
        EvtSource            "evt.source"                             Str  None     "always 'syscall'";
        EvtHostname          "evt.hostname"                           Str  None     "host name";
        Static               "static"                                 Str  Required "a value of the configuration's static_fields (static.NAME), the same in every alert";
        EvtAbi               "evt.abi"                                Str  None     "syscall ABI: x86_64, ia32, x32 (sysaudit)";
        EvtCpu               "evt.cpu"                                Int  None     "CPU the kernel recorded the event on";
        EvtCount             "evt.count"                              Int  None     "always 1 (Falco's, to count events)";
        EvtIsIo              "evt.is_io"                              Bool None     "the syscall reads from or writes to a descriptor (read, write, send, recv and their vector forms)";
        EvtIsIoUring         "evt.is_io_uring"                        Bool None     "the operation was submitted through an io_uring ring, not made as a syscall; evt.type is the syscall it stands for (sysaudit)";
        ProcName             "proc.name"                              Str  None     "process name (comm)";
        ProcExe              "proc.exe"                               Str  None     "argv[0]";
        ProcExePath          "proc.exepath"                           Str  None     "executable path";
        ProcArgs             "proc.args"                              Str  None     "arguments after argv[0], space-separated";
        ProcCmdline          "proc.cmdline"                           Str  None     "name and arguments";
        ProcExeline          "proc.exeline"                           Str  None     "argv[0] and arguments";
        ProcPid              "proc.pid"                               Int  None     "process id";
        ProcPpidField        "proc.ppid"                              Int  None     "parent process id";
        ProcVpid             "proc.vpid"                              Int  None     "process id in its pid namespace";
        ProcTty              "proc.tty"                               Int  None     "controlling terminal (0: none)";
        ProcCwd              "proc.cwd"                               Str  None     "working directory";
        ProcEnv              "proc.env"                               Str  Key      "environment, or one variable: proc.env[HOME]";
        ProcSid              "proc.sid"                               Int  None     "session id";
        ProcSname            "proc.sname"                             Str  None     "name of the session leader";
        ProcVpgid            "proc.vpgid"                             Int  None     "process group id in the pid namespace";
        ProcIsVpgidLeader    "proc.is_vpgid_leader"                   Bool None     "leads its process group";
        ProcIsSidLeader      "proc.is_sid_leader"                     Bool None     "leads its session";
        ProcDuration         "proc.duration"                          Int  None     "ns since the process started";
        ProcPidTs            "proc.pid.ts"                            Int  None     "process start, ns since the epoch";
        ProcPpidTs           "proc.ppid.ts"                           Int  None     "parent's start, ns since the epoch";
        ProcPpidDuration     "proc.ppid.duration"                     Int  None     "ns since the parent started";
        ProcPname            "proc.pname"                             Str  None     "parent's name";
        ProcPexe             "proc.pexe"                              Str  None     "parent's argv[0]";
        ProcPexePath         "proc.pexepath"                          Str  None     "parent's executable path";
        ProcPcmdline         "proc.pcmdline"                          Str  None     "parent's command line";
        ProcAname            "proc.aname"                             Str  Index    "ancestor's name; no index: any ancestor";
        ProcAexe             "proc.aexe"                              Str  Index    "ancestor's argv[0]";
        ProcAexePath         "proc.aexepath"                          Str  Index    "ancestor's executable path";
        ProcApid             "proc.apid"                              Int  Index    "ancestor's pid";
        ProcIsExeFromMemfd   "proc.is_exe_from_memfd"                 Bool None     "executable is a memfd";
        ProcIsExeUpper       "proc.is_exe_upper_layer"                Bool None     "executable in an overlayfs upper layer (written in the container)";
        ProcIsExeLower       "proc.is_exe_lower_layer"                Bool None     "executable in an overlayfs lower layer (the image)";
        ProcIsExeWritable    "proc.is_exe_writable"                   Bool None     "the process may write its executable";
        ProcExeIno           "proc.exe_ino"                           Int  None     "executable's inode number";
        ProcExeInoCtime      "proc.exe_ino.ctime"                     Int  None     "executable inode's change time (ns since the epoch)";
        ProcExeInoMtime      "proc.exe_ino.mtime"                     Int  None     "executable inode's modification time (ns since the epoch)";
        ProcExeCtimeToStart  "proc.exe_ino.ctime_duration_proc_start" Int  None     "ns from the executable's change time to the process start";
        ThreadTid            "thread.tid"                             Int  None     "thread id";
        ThreadVtid           "thread.vtid"                            Int  None     "thread id in its pid namespace (the clone record's, or /proc once for threads older than the agent)";
        ThreadCapPermitted   "thread.cap_permitted"                   Str  None     "permitted capabilities";
        ThreadCapEffective   "thread.cap_effective"                   Str  None     "effective capabilities";
        ThreadCapInheritable "thread.cap_inheritable"                 Str  None     "inheritable capabilities";
        UserUid              "user.uid"                               Int  None     "user id";
        UserName             "user.name"                              Str  None     "user name (the container's /etc/passwd inside containers)";
        UserLoginUid         "user.loginuid"                          Int  None     "audit login uid, -1 if unset";
        UserLoginName        "user.loginname"                         Str  None     "name of the login uid";
        GroupGid             "group.gid"                              Int  None     "group id";
        GroupName            "group.name"                             Str  None     "group name";
        FdNum                "fd.num"                                 Int  None     "descriptor number (-1: failed open)";
        FdType               "fd.type"                                Str  None     "file, directory, ipv4, ipv6, unix, ...";
        FdTypeChar           "fd.typechar"                            Str  None     "f, d, 4, 6, u, p, ...";
        FdDev                "fd.dev"                                 Int  None     "device of the file (major << 8 | minor, as userspace encodes it), read at open in the kernel; 0 for other descriptors";
        FdDevMajor           "fd.dev.major"                           Int  None     "major number of fd.dev";
        FdDevMinor           "fd.dev.minor"                           Int  None     "minor number of fd.dev";
        FdIno                "fd.ino"                                 Int  None     "inode number of the file, read at open in the kernel; 0 for other descriptors";
        FdTypes              "fd.types"                               Str  Index    "a list: the types of the process's descriptors, each once; fd.types[N]: descriptor N's";
        FdName               "fd.name"                                Str  None     "path, or cip:cport->sip:sport";
        FdNameRaw            "fd.nameraw"                             Str  None     "path as passed";
        FdDirectory          "fd.directory"                           Str  None     "directory of the path";
        FdFilename           "fd.filename"                            Str  None     "file name of the path";
        FdIp                 "fd.ip"                                  Ip   None     "client or server IP";
        FdCip                "fd.cip"                                 Ip   None     "client IP";
        FdSip                "fd.sip"                                 Ip   None     "server IP";
        FdLip                "fd.lip"                                 Ip   None     "local IP";
        FdRip                "fd.rip"                                 Ip   None     "remote IP";
        FdPort               "fd.port"                                Int  None     "client or server port";
        FdCport              "fd.cport"                               Int  None     "client port";
        FdSport              "fd.sport"                               Int  None     "server port";
        FdLport              "fd.lport"                               Int  None     "local port";
        FdRport              "fd.rport"                               Int  None     "remote port";
        FdL4Proto            "fd.l4proto"                             Str  None     "tcp, udp, raw";
        FdSockFamily         "fd.sockfamily"                          Str  None     "ip or unix";
        FdIsServer           "fd.is_server"                           Bool None     "this side is the server";
        FdNet                "fd.net"                                 Ip   None     "client or server IP, compared with a network";
        FdCnet               "fd.cnet"                                Ip   None     "client IP, compared with a network";
        FdSnet               "fd.snet"                                Ip   None     "server IP, compared with a network";
        FdLnet               "fd.lnet"                                Ip   None     "local IP, compared with a network";
        FdRnet               "fd.rnet"                                Ip   None     "remote IP, compared with a network";
        FdConnected          "fd.connected"                           Bool None     "socket is connected";
        FdNameChanged        "fd.name_changed"                        Bool None     "the event set the fd's name (e.g. sendto with an address)";
        FdCipName            "fd.cip.name"                            Str  None     "client address's name: =, != and in compare it with names, true when the name resolves to the address; as output, the name a rule gave that resolves to it";
        FdSipName            "fd.sip.name"                            Str  None     "server address's name (as fd.cip.name)";
        FdLipName            "fd.lip.name"                            Str  None     "local address's name (as fd.cip.name)";
        FdRipName            "fd.rip.name"                            Str  None     "remote address's name (as fd.cip.name)";
        ContainerId          "container.id"                           Str  None     "12-character id, or 'host'";
        ContainerFullId      "container.full_id"                      Str  None     "full id, or 'host'";
        ContainerName        "container.name"                         Str  None     "name ('host' for the host)";
        ContainerType        "container.type"                         Str  None     "runtime: docker, containerd, cri-o, podman, ...";
        ContainerCgroup      "container.cgroup"                       Str  None     "cgroup path (sysaudit)";
        ContainerImage       "container.image"                        Str  None     "image as the container was created from it (engine metadata)";
        ContainerImageId     "container.image.id"                     Str  None     "image id, hex without sha256: (engine metadata)";
        ContainerImageRepo   "container.image.repository"             Str  None     "image repository, registry included (engine metadata)";
        ContainerImageTag    "container.image.tag"                    Str  None     "image tag (engine metadata)";
        ContainerImageDigest "container.image.digest"                 Str  None     "image digest (engine metadata)";
        ContainerPrivileged  "container.privileged"                   Bool None     "runs privileged (engine metadata)";
        ContainerMounts      "container.mounts"                       Str  None     "source:dest:mode:rdwr:propagation, comma-separated (engine metadata)";
        ContainerStartTs     "container.start_ts"                     Int  None     "start time, ns since the epoch (engine metadata)";
        ContainerDuration    "container.duration"                     Int  None     "ns since container.start_ts, at the event (engine metadata)";
        ContainerIp          "container.ip"                           Str  None     "primary IP address (engine metadata)";
        ContainerHealthcheck "container.healthcheck"                  Str  None     "health check command, NONE if disabled, N/A if none (engine metadata)";
        K8sNsName            "k8s.ns.name"                            Str  None     "pod namespace (the kubelet's io.kubernetes.pod.namespace label)";
        K8sPodName           "k8s.pod.name"                           Str  None     "pod name (the kubelet's io.kubernetes.pod.name label)";
        K8sPodUid            "k8s.pod.uid"                            Str  None     "pod uid (the kubelet's io.kubernetes.pod.uid label)";
        K8sPodSandboxId      "k8s.pod.sandbox_id"                     Str  None     "pod sandbox id, 12 characters (io.kubernetes.sandbox.id)";
        K8sPodId             "k8s.pod.id"                             Str  None     "pod uid (Falco's legacy name for k8s.pod.uid)";
        K8sPodLabel          "k8s.pod.label"                          Str  Key      "a pod label's value (the CRI runtime's pod sandbox; else the container's labels)";
        K8sPodLabels         "k8s.pod.labels"                         Str  None     "pod labels, key:value joined by ', ' (io.kubernetes.* left out; CRI runtimes)";
        K8sPodIp             "k8s.pod.ip"                             Str  None     "pod IP (the CRI runtime's pod sandbox)";
        ContainerLabel       "container.label"                        Str  Key      "a label's value (engine metadata)";
        ContainerLabels      "container.labels"                       Str  None     "labels, key:value joined by ', ' (io.kubernetes.* left out; engine metadata)";
        ContainerMount       "container.mount"                        Str  Key      "one mount, by index or source (a glob): source:dest:mode:rdwr:propagation; N/A if none";
        ContainerMountSource "container.mount.source"                 Str  Key      "a mount's source, by index or destination (a glob); N/A if none";
        ContainerMountDest   "container.mount.dest"                   Str  Key      "a mount's destination, by index or source (a glob); N/A if none";
        ContainerMountMode   "container.mount.mode"                   Str  Key      "a mount's mode, by index or source (a glob); N/A if none";
        ContainerMountRdwr   "container.mount.rdwr"                   Str  Key      "whether a mount is read-write, by index or source (a glob); N/A if none";
        ContainerMountProp   "container.mount.propagation"            Str  Key      "a mount's propagation, by index or source (a glob); N/A if none";
    }
    // More names for a field above (Falco keeps both).
    aliases {
        EvtType              "syscall.type"                           Str  None     "syscall name";
        EvtArgs              "evt.info"                               Str  None     "all arguments, name=value";
    }
    // Fields whose data source the agent does not have: always null, as in Falco
    // without that metadata.
    unavailable {
        "thread.cpu"                             Double None   "CPU share of the last second: Falco has it only on the procinfo events its kernel module emits (its modern eBPF probe emits none); null on syscall events, as in Falco";
        "thread.cpu.user"                        Double None   "user CPU share of the last second: as thread.cpu";
        "thread.cpu.system"                      Double None   "system CPU share of the last second: as thread.cpu";
        "k8s.pod.cni.json"                       Str  None     "(CNI result: CRI-O keeps it in an annotation, containerd nowhere)";
        "k8s.rc.name"                            Str  None     "needs the Kubernetes API, which a node agent does not watch";
        "k8s.deployment.name"                    Str  None     "needs the Kubernetes API, which a node agent does not watch";
        "k8s.svc.name"                           Str  None     "needs the Kubernetes API, which a node agent does not watch";
    }
}

/// The argument a bound field carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Arg {
    None,
    Index(usize),
    Key(String),
}

/// A field as a check uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bound {
    pub(crate) f: F,
    pub(crate) ty: Type,
    pub(crate) arg: Arg,
    /// As written (`proc.aname[2]`), the output_fields key.
    pub(crate) display: String,
    /// `proc.aname` without an index: true if any ancestor matches.
    pub(crate) any: bool,
}

impl F {
    /// For `fd.*ip.name`: the address field the name is compared against.
    pub(crate) fn named_ip(self) -> Option<F> {
        match self {
            F::FdCipName => Some(F::FdCip),
            F::FdSipName => Some(F::FdSip),
            F::FdLipName => Some(F::FdLip),
            F::FdRipName => Some(F::FdRip),
            _ => None,
        }
    }
}

impl Bound {
    /// A list-valued field (libsinsp's `EPF_IS_LIST`): only `in`, `intersects` and `exists`
    /// compare it; `len()` counts its items.
    pub(crate) fn is_list(&self) -> bool {
        self.f == F::FdTypes
    }
}

pub(crate) fn def(name: &str) -> Option<&'static Def> {
    DEFS.iter().find(|d| d.name == name)
}

/// Resolve `name` (possibly with a dotted argument, `evt.arg.flags`) and its bracket argument.
pub(crate) fn bind(name: &str, arg: Option<&str>) -> Result<Bound, String> {
    let statics = name
        .strip_prefix("static.")
        .filter(|k| !k.is_empty() && arg.is_none())
        .and_then(|k| Some((def("static")?, Some(k.to_string()))));
    let (def, arg) = match statics.or_else(|| def(name).map(|d| (d, arg.map(str::to_string)))) {
        Some(d) => d,
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
    let ty = match (def.f, &bound_arg) {
        (F::EvtRawArg, Arg::Key(k)) => raw_arg_type(k).unwrap_or(def.ty),
        _ => def.ty,
    };
    Ok(Bound {
        f: def.f,
        ty,
        any: matches!(
            def.f,
            F::ProcAname | F::ProcAexe | F::ProcAexePath | F::ProcApid
        ) && bound_arg == Arg::None,
        arg: bound_arg,
        display,
    })
}

/// `evt.rawarg.NAME`'s type: that of the first signature naming it (libsinsp takes the
/// first event of its table with such a parameter; the signatures keep that order): a number
/// (flags, modes, descriptors, ids; `res`, the return value), a string, an address or a tuple
/// (which libsinsp does not compare), else an argument compared by its form.
fn raw_arg_type(name: &str) -> Option<Type> {
    use crate::syscalls::args::Kind;
    if name == "res" {
        return Some(Type::Int);
    }
    Some(match crate::syscalls::args::first_kind_named(name)? {
        Kind::Ptr => return None,
        Kind::Buf => Type::Bytes,
        Kind::Path | Kind::Text => Type::Str,
        Kind::SockAddr(_) | Kind::SockAddrOut(_) | Kind::Tuple => Type::Addr,
        _ => Type::Int,
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
        assert_eq!(
            (b.f, b.arg),
            (F::ContainerMountDest, Arg::Key("/proc*".into()))
        );
        assert_eq!(
            bind("proc.exe_ino.ctime", None).unwrap().f,
            F::ProcExeInoCtime
        );
        assert_eq!(bind("evt.buffer", None).unwrap().f, F::EvtBuffer);
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

    #[test]
    fn rawarg_is_typed_by_the_first_signature_naming_it() {
        let ty = |n: &str| bind(&format!("evt.rawarg.{n}"), None).unwrap().ty;
        // `addr` is connect's address before it is mmap's number, as in Falco's table.
        assert_eq!(ty("addr"), Type::Addr);
        assert_eq!(ty("tuple"), Type::Addr);
        assert_eq!(ty("data"), Type::Bytes);
        assert_eq!(ty("type"), Type::Int);
        assert_eq!(ty("flags"), Type::Int);
        assert_eq!(ty("name"), Type::Str);
        // An exec's exit parameters.
        assert_eq!(ty("cap_inheritable"), Type::Int);
        assert_eq!(ty("exe_ino_ctime"), Type::Int);
        assert_eq!(ty("trusted_exepath"), Type::Str);
        assert_eq!(ty("no_such_param"), Type::Dyn);
    }
}
