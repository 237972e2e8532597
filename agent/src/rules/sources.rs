//! Where each field's value comes from, as `sysaudit rules fields` shows it: what a user
//! needs to know to trust a condition (a kernel fact cannot be raced; engine metadata can be
//! late or absent on a node without that engine).

use super::fields::F;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// In the event's own kernel record (header, arguments, facts the probe read).
    Record,
    /// Read by the kernel programs at exec (inherited at fork) and kept in the process
    /// table; from /proc, once, for processes older than the agent.
    Exec,
    /// Built by the agent's state from earlier events: ancestors, fd table, cwd, times.
    State,
    /// The container's own /etc/passwd and /etc/group, read once per root directory.
    Image,
    /// The container id and engine, from the cgroup the record names.
    Cgroup,
    /// Asked of the container engine (Docker, podman, containerd, CRI-O) once per container.
    Engine,
    /// The names rules compare addresses with, resolved by the agent (`state/dns.rs`).
    Dns,
    /// Made by the agent: constants, counters, the host name.
    Agent,
    /// No data source on a node (the description says why): always null.
    None,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Record => "record",
            Source::Exec => "exec",
            Source::State => "state",
            Source::Image => "image",
            Source::Cgroup => "cgroup",
            Source::Engine => "engine",
            Source::Dns => "dns",
            Source::Agent => "agent",
            Source::None => "none",
        }
    }

    /// The legend `rules fields` prints under its table.
    pub(crate) const ALL: [Source; 9] = [
        Source::Record,
        Source::Exec,
        Source::State,
        Source::Image,
        Source::Cgroup,
        Source::Engine,
        Source::Dns,
        Source::Agent,
        Source::None,
    ];

    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Source::Record => "in the event's kernel record",
            Source::Exec => {
                "read in the kernel at exec (inherited at fork), kept in the process table; \
                 from /proc once for processes older than the agent"
            }
            Source::State => "built by the agent from earlier events (ancestors, fds, cwd)",
            Source::Image => "the container's /etc/passwd or /etc/group, read once per root",
            Source::Cgroup => "from the cgroup in the kernel record",
            Source::Engine => "asked of the container engine once per container",
            Source::Dns => {
                "names the rules give, resolved by the agent (/etc/hosts, DNS) and refreshed"
            }
            Source::Agent => "made by the agent (a constant, a counter, the host name)",
            Source::None => "no data source on a node: always null",
        }
    }
}

/// The source of field `f`.
pub(crate) fn source(f: F) -> Source {
    use F::*;
    match f {
        EvtType | EvtRes | EvtRawRes | EvtFailed | EvtBuffer | EvtArg | EvtRawArg | EvtArgs
        | EvtTime | EvtTimeS | EvtTimeIso | EvtDatetime | EvtRawTime | EvtRawTimeS
        | EvtRawTimeNs | EvtIsOpenRead | EvtIsOpenWrite | EvtIsOpenExec | EvtIsOpenCreate
        | EvtAbi | EvtCpu | EvtIsIo | EvtIsIoUring | ProcName | ProcPid | ThreadTid | UserUid
        | GroupGid => Source::Record,
        EvtDir | EvtNum | EvtCount | EvtSource | EvtHostname | Static => Source::Agent,
        ProcExe | ProcExePath | ProcArgs | ProcCmdline | ProcExeline | ProcVpid | ProcTty
        | ProcEnv | ProcSid | ProcVpgid | ProcIsVpgidLeader | ProcIsSidLeader
        | ProcIsExeFromMemfd | ProcIsExeUpper | ProcIsExeLower | ProcIsExeWritable | ProcExeIno
        | ProcExeInoCtime | ProcExeInoMtime | ProcExeCtimeToStart | ThreadVtid
        | ThreadCapPermitted | ThreadCapEffective | ThreadCapInheritable | UserLoginUid => {
            Source::Exec
        }
        ProcPpidField | ProcCwd | ProcSname | ProcDuration | ProcPidTs | ProcPpidTs
        | ProcPpidDuration | ProcPname | ProcPexe | ProcPexePath | ProcPcmdline | ProcAname
        | ProcAexe | ProcAexePath | ProcApid | FdNum | FdType | FdTypeChar | FdDev | FdDevMajor
        | FdDevMinor | FdIno | FdTypes | FdName | FdNameRaw | FdDirectory | FdFilename | FdIp
        | FdCip | FdSip | FdLip | FdRip | FdPort | FdCport | FdSport | FdLport | FdRport
        | FdL4Proto | FdSockFamily | FdIsServer | FdNet | FdCnet | FdSnet | FdLnet | FdRnet
        | FdConnected | FdNameChanged => Source::State,
        FdCipName | FdSipName | FdLipName | FdRipName => Source::Dns,
        UserName | UserLoginName | GroupName => Source::Image,
        ContainerId | ContainerFullId | ContainerType | ContainerCgroup => Source::Cgroup,
        ContainerName | ContainerImage | ContainerImageId | ContainerImageRepo
        | ContainerImageTag | ContainerImageDigest | ContainerPrivileged | ContainerMounts
        | ContainerStartTs | ContainerDuration | ContainerIp | ContainerHealthcheck | K8sNsName
        | K8sPodName | K8sPodUid | K8sPodSandboxId | K8sPodId | K8sPodLabel | K8sPodLabels
        | K8sPodIp | ContainerLabel | ContainerLabels | ContainerMount | ContainerMountSource
        | ContainerMountDest | ContainerMountMode | ContainerMountRdwr | ContainerMountProp => {
            Source::Engine
        }
        Unavailable | Multi => Source::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fields::DEFS;

    #[test]
    fn only_fields_without_an_extractor_have_no_source() {
        for d in DEFS {
            assert_eq!(
                source(d.f) == Source::None,
                d.f == F::Unavailable,
                "{}",
                d.name
            );
        }
    }
}
