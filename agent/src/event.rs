//! The typed event model: what `sysaudit trace --json` prints, what captures hold, and what the
//! rules engine evaluates. Its serde form *is* the capture format, so replaying a capture goes
//! through exactly the same types as live detection.

use std::{borrow::Cow, sync::Arc};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

pub use crate::syscalls::{
    table::Abi,
    value::{ArgValue, Args},
};

/// Nanoseconds since the Unix epoch, serialized as RFC 3339 UTC with 9 fractional digits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Now, by the wall clock (for what the agent says itself, not an event's time).
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// RFC 3339 UTC with nanoseconds (`2023-05-25T13:44:05.478445995Z`); `secs.nanos`
    /// when the year is out of range.
    pub fn rfc3339(self) -> String {
        let secs = (self.0 / 1_000_000_000) as i64;
        let nanos = (self.0 % 1_000_000_000) as u32;
        match time::OffsetDateTime::from_unix_timestamp(secs) {
            Ok(t) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                nanos
            ),
            Err(_) => format!("{}.{:09}", secs, nanos),
        }
    }

    /// Local time of day with nanoseconds (`13:44:05.478445995`), as Falco prints `evt.time`.
    pub(crate) fn local(self, with_date: bool, with_ns: bool) -> String {
        let ns = self.0;
        let secs = (ns / 1_000_000_000) as libc::time_t;
        // SAFETY: localtime_r writes into the tm we own.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        unsafe { libc::localtime_r(&secs, &mut tm) };
        let mut out = String::new();
        if with_date {
            out.push_str(&format!(
                "{:04}-{:02}-{:02} ",
                tm.tm_year + 1900,
                tm.tm_mon + 1,
                tm.tm_mday
            ));
        }
        out.push_str(&format!(
            "{:02}:{:02}:{:02}",
            tm.tm_hour, tm.tm_min, tm.tm_sec
        ));
        if with_ns {
            out.push_str(&format!(".{:09}", ns % 1_000_000_000));
        }
        out
    }

    /// Parse an RFC 3339 time (any offset); `None` if invalid or before the epoch.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let t =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        let ns = t.unix_timestamp_nanos();
        u64::try_from(ns).ok().map(Timestamp)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| de::Error::custom(format!("invalid RFC 3339 time '{s}'")))
    }
}

/// Who did it: the fields every event carries about its task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// When it happened (wall clock, converted from the kernel's boot time).
    pub time: Timestamp,
    /// Process id (tgid) in the host pid namespace.
    pub pid: u32,
    /// Thread id in the host pid namespace.
    pub tid: u32,
    /// Parent process id in the host pid namespace (0: unknown).
    pub ppid: u32,
    /// Thread name (`task_struct::comm`, at most 15 bytes); shared with the process table
    /// while it is the process's name.
    pub comm: Arc<str>,
    /// Path of the executable (container-relative inside containers). Shared, not copied, by
    /// every event of the process, as are the names and the container id below.
    pub exe: Arc<str>,
    /// Real user id (in the initial user namespace).
    pub uid: u32,
    /// Real group id (in the initial user namespace).
    pub gid: u32,
    /// Names of `uid` and `gid` in the task's own root (its container's /etc/passwd).
    #[serde(default, skip_serializing_if = "str_is_empty")]
    pub user: Arc<str>,
    /// Name of `gid`, found as `user` is (empty: unknown).
    #[serde(default, skip_serializing_if = "str_is_empty")]
    pub group: Arc<str>,
    /// Id of the task's cgroup v2 cgroup.
    pub cgroup_id: u64,
    /// Container id (full), or `host`.
    pub container_id: Arc<str>,
    /// The CPU the kernel recorded it on (absent in captures from before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u16>,
}

fn str_is_empty(s: &Arc<str>) -> bool {
    s.is_empty()
}

/// A syscall and its result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyscallEvent {
    /// The calling task.
    #[serde(flatten)]
    pub task: Task,
    /// Syscall name, as libseccomp knows it (`syscall_N` when it does not); borrowed from
    /// the syscall table, not copied, for known syscalls.
    pub syscall: Cow<'static, str>,
    /// Syscall number in the table of `abi`.
    pub nr: u32,
    /// ABI the call was made through.
    pub abi: Abi,
    /// Return value; absent for `exit`/`exit_group`, which never return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ret: Option<i64>,
    /// The file the call is about, made absolute where it could be (Falco's `fd.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Arc<str>>,
    /// Decoded arguments, in signature order.
    #[serde(default, skip_serializing_if = "Args::is_empty")]
    pub args: Args,
    /// A path or argument could not be read completely.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// How the operation reached the kernel when it was no syscall (`evt.is_io_uring`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Submitted>,
    /// The argument registers as the kernel saw them (`evt.rawarg` of a decoded flag word);
    /// not in a capture, whose arguments are decoded already.
    #[serde(skip)]
    pub regs: Option<[u64; 6]>,
}

/// A path into the kernel other than the syscall table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Submitted {
    /// Submitted through an io_uring ring and recorded as the syscall it stands for.
    IoUring,
    /// The same, on a direct descriptor (a slot of the ring's registered files): the
    /// descriptors it takes or returns are none of the process's.
    IoUringDirect,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A new process or thread (`task` is the parent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForkEvent {
    /// The forking task.
    #[serde(flatten)]
    pub task: Task,
    /// The child's process id (tgid) in the host pid namespace.
    pub child_pid: u32,
    /// The child's thread id (`child_pid` for a new process).
    pub child_tid: u32,
    /// The child's pid in its own pid namespace (0: unknown).
    #[serde(default)]
    pub child_vpid: u32,
    /// The child's real parent: not the forker under `CLONE_PARENT` (0: unknown, the forker).
    #[serde(default)]
    pub parent_pid: u32,
}

/// A process replaced its image (`task` describes it after exec).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecEvent {
    /// The task, after exec.
    #[serde(flatten)]
    pub task: Task,
    /// The path given to execve.
    pub filename: String,
    /// Arguments, `argv[0]` first.
    pub argv: Vec<String>,
    /// Arguments or environment were cut or could not be read.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// What else was known about the process at exec (so a replay rebuilds the same
    /// process table the live agent had).
    #[serde(flatten)]
    pub attrs: ProcAttrs,
}

/// Process attributes beyond the event header, read when the process is first seen or execs
/// and inherited across fork.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcAttrs {
    /// Working directory, in the process's own root (empty: unknown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cwd: String,
    /// Controlling terminal device number (0: none).
    #[serde(default)]
    pub tty: u32,
    /// Audit login uid; -1 when unset.
    #[serde(default = "unset_loginuid")]
    pub loginuid: i64,
    /// Name of `loginuid` in the process's root (empty: unset or unknown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub loginname: String,
    /// Environment, as `NAME=value` strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Effective capability set (bit `n`: capability `n`).
    #[serde(default)]
    pub cap_effective: u64,
    /// Permitted capability set.
    #[serde(default)]
    pub cap_permitted: u64,
    /// Inheritable capability set.
    #[serde(default)]
    pub cap_inheritable: u64,
    /// Pid in the process's own pid namespace (0: unknown).
    #[serde(default)]
    pub vpid: u32,
    /// Session id in the process's own pid namespace (0: unknown).
    #[serde(default)]
    pub sid: u32,
    /// Process group id in the process's own pid namespace (0: unknown).
    #[serde(default)]
    pub vpgid: u32,
    /// The executable's inode number (0: unknown), read in the kernel at exec.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exe_ino: u64,
    /// The executable inode's change time, ns since the epoch (0: unknown).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exe_ctime: u64,
    /// The executable inode's modification time, ns since the epoch (0: unknown).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exe_mtime: u64,
    /// The task may write its executable (Falco's `proc.is_exe_writable`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub exe_writable: bool,
    /// The executable is in an overlayfs upper layer: written in the container.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exe_upper_layer: bool,
    /// The executable is in an overlayfs lower layer: from the image.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exe_lower_layer: bool,
    /// The executable is a memfd (fileless execution).
    #[serde(default, skip_serializing_if = "is_false")]
    pub exe_from_memfd: bool,
}

fn unset_loginuid() -> i64 {
    -1
}

impl Default for ProcAttrs {
    fn default() -> Self {
        ProcAttrs {
            cwd: String::new(),
            tty: 0,
            loginuid: -1,
            loginname: String::new(),
            env: Vec::new(),
            cap_effective: 0,
            cap_permitted: 0,
            cap_inheritable: 0,
            vpid: 0,
            sid: 0,
            vpgid: 0,
            exe_ino: 0,
            exe_ctime: 0,
            exe_mtime: 0,
            exe_writable: false,
            exe_upper_layer: false,
            exe_lower_layer: false,
            exe_from_memfd: false,
        }
    }
}

/// A thread ended (the process ends with its last thread; `tid == pid` marks the leader).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExitEvent {
    /// The thread that ended.
    #[serde(flatten)]
    pub task: Task,
}

/// Everything that flows from the probe (or a capture) to the consumers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "the large variant is the common one: boxing it would allocate for every event"
)]
pub enum Event {
    /// A syscall returned (or `exit`/`exit_group` was entered).
    Syscall(SyscallEvent),
    /// A process or thread was created.
    Fork(ForkEvent),
    /// A process replaced its image.
    Exec(ExecEvent),
    /// A thread ended.
    Exit(ExitEvent),
}

impl Event {
    /// Falco's event type: the syscall's name, `procexit` for a process exit; `fork` and
    /// `exec` for the lifecycle records, which only feed the state.
    pub fn kind(&self) -> &str {
        match self {
            Event::Syscall(s) => &s.syscall,
            Event::Exit(_) => "procexit",
            Event::Fork(_) => "fork",
            Event::Exec(_) => "exec",
        }
    }

    /// Who did it (for a fork, the parent).
    pub fn task(&self) -> &Task {
        match self {
            Event::Syscall(e) => &e.task,
            Event::Fork(e) => &e.task,
            Event::Exec(e) => &e.task,
            Event::Exit(e) => &e.task,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_has_nanoseconds() {
        let t = Timestamp(1_685_022_245_478_445_995).local(false, true);
        assert_eq!(t.len(), 18);
        assert!(t.ends_with(".478445995"));
    }

    #[test]
    fn time_is_rfc3339_with_nanoseconds() {
        let t = Timestamp(1_685_022_245_478_445_995);
        assert_eq!(t.rfc3339(), "2023-05-25T13:44:05.478445995Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.rfc3339()), Some(t));
        assert_eq!(Timestamp(5).rfc3339(), "1970-01-01T00:00:00.000000005Z");
    }

    #[test]
    fn syscall_json_round_trips() {
        let mut args = Args::default();
        args.push("dirfd", ArgValue::Str("AT_FDCWD".into()));
        args.push("name", ArgValue::Str("/etc/passwd".into()));
        args.push("mode", ArgValue::Int(0));
        let e = Event::Syscall(SyscallEvent {
            task: Task {
                time: Timestamp(1_700_000_000_000_000_001),
                pid: 10,
                tid: 11,
                ppid: 1,
                comm: "cat".into(),
                exe: "/bin/cat".into(),
                uid: 0,
                gid: 0,
                user: "root".into(),
                group: "root".into(),
                cgroup_id: 4242,
                container_id: "abc".into(),
                cpu: Some(1),
            },
            syscall: "openat".into(),
            nr: 257,
            abi: Abi::X86_64,
            ret: Some(3),
            path: Some("/etc/passwd".into()),
            args,
            truncated: false,
            via: Some(Submitted::IoUring),
            regs: None,
        });
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.contains(r#""via":"io_uring""#), "{s}");
        assert!(
            s.starts_with(r#"{"event":"syscall","time":"2023-11-14T22:13:20.000000001Z","pid":10"#),
            "{s}"
        );
        assert!(
            s.contains(r#""args":{"dirfd":"AT_FDCWD","name":"/etc/passwd","mode":0}"#),
            "{s}"
        );
        let back: Event = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn lifecycle_json_round_trips() {
        let e = Event::Exec(ExecEvent {
            task: Task {
                pid: 7,
                tid: 7,
                comm: "sh".into(),
                container_id: "host".into(),
                ..Default::default()
            },
            filename: "/bin/sh".into(),
            argv: vec!["sh".into(), "-c".into(), "id".into()],
            truncated: true,
            attrs: ProcAttrs {
                cwd: "/root".into(),
                tty: 34816,
                env: vec!["HOME=/root".into()],
                vpid: 1,
                ..Default::default()
            },
        });
        let s = serde_json::to_string(&e).unwrap();
        let back: Event = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
        assert!(serde_json::from_str::<Event>(r#"{"event":"nope"}"#).is_err());
    }
}
