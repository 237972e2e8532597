//! The process table: pid → what the rules and outputs need to know about a process (name,
//! executable, arguments, parent), kept from fork/exec/exit events and an initial /proc scan.
//! Threads are not entries: every event names its process (tgid).

use std::{
    collections::HashMap,
    fs,
    time::{Duration, Instant},
};

use crate::event::{ExecEvent, ProcAttrs, Timestamp};

/// One process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Process {
    pub(crate) pid: u32,
    pub(crate) ppid: u32,
    /// `task->comm` after the last exec (threads may rename themselves; events carry theirs).
    pub(crate) comm: String,
    /// Path given to the last execve (Falco's `proc.exepath` as far as it can be known).
    pub(crate) exe: String,
    /// argv of the last exec (argv[0] is Falco's `proc.exe`).
    pub(crate) args: Vec<String>,
    pub(crate) uid: u32,
    pub(crate) cgroup_id: u64,
    pub(crate) attrs: ProcAttrs,
    /// When it started (fork, or first sight); 0 when unknown.
    pub(crate) start: Timestamp,
    /// Set when its last thread exited; the entry lingers so late events still resolve.
    pub(crate) exited_at: Option<Instant>,
}

impl Process {
    /// `proc.cmdline`: name and arguments.
    pub(crate) fn cmdline(&self) -> String {
        let mut s = self.comm.clone();
        for a in self.args.iter().skip(1) {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

/// How long an exited process stays in the table.
const LINGER: Duration = Duration::from_secs(10);
/// Hard cap on entries; beyond it the oldest exited ones go first, then a full sweep.
const MAX_ENTRIES: usize = 65536;

#[derive(Default)]
pub(crate) struct ProcessTable {
    procs: HashMap<u32, Process>,
    /// Read /proc for pids we have not seen (off for replays).
    live: bool,
}

impl ProcessTable {
    pub(crate) fn new(live: bool) -> ProcessTable {
        ProcessTable {
            procs: HashMap::new(),
            live,
        }
    }

    /// Fill the table from /proc (processes that started before the agent).
    pub(crate) fn scan_proc(&mut self) {
        let Ok(rd) = fs::read_dir("/proc") else {
            return;
        };
        for e in rd.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                if let Some(p) = read_proc(pid) {
                    self.procs.insert(pid, p);
                }
            }
        }
    }

    pub(crate) fn get(&self, pid: u32) -> Option<&Process> {
        self.procs.get(&pid)
    }

    /// The process, reading /proc for it if it is not known yet.
    pub(crate) fn get_or_load(&mut self, pid: u32) -> Option<&Process> {
        if !self.procs.contains_key(&pid) && self.live {
            if let Some(p) = read_proc(pid) {
                self.procs.insert(pid, p);
            }
        }
        self.procs.get(&pid)
    }

    /// Make sure an entry exists for a process an event names, with what the event knows.
    pub(crate) fn ensure(
        &mut self,
        pid: u32,
        ppid: u32,
        comm: &str,
        exe: &str,
        uid: u32,
        cgroup_id: u64,
    ) {
        if self.get_or_load(pid).is_some() {
            return;
        }
        self.procs.insert(
            pid,
            Process {
                pid,
                ppid,
                comm: comm.to_string(),
                exe: exe.to_string(),
                uid,
                cgroup_id,
                ..Default::default()
            },
        );
    }

    /// A new process `child` of `parent` (threads are ignored). It inherits everything but
    /// its ids until it execs.
    /// `forker` made `child`, whose parent is `parent` (they differ under `CLONE_PARENT`).
    pub(crate) fn fork(&mut self, forker: u32, parent: u32, child: u32, at: Timestamp, vpid: u32) {
        if child == forker {
            return;
        }
        let base = self.get_or_load(forker).cloned().unwrap_or(Process {
            pid: forker,
            ..Default::default()
        });
        let mut attrs = base.attrs.clone();
        attrs.vpid = vpid;
        if self.live {
            if let Some((v, sid, pgid)) = read_ns_ids(child) {
                (attrs.sid, attrs.vpgid) = (sid, pgid);
                if attrs.vpid == 0 {
                    attrs.vpid = v;
                }
            }
        }
        self.procs.insert(
            child,
            Process {
                pid: child,
                ppid: parent,
                attrs,
                start: at,
                exited_at: None,
                ..base
            },
        );
        self.gc();
    }

    /// The process replaced its image: everything the exec record says.
    pub(crate) fn exec(&mut self, e: &ExecEvent) {
        let t = &e.task;
        let pid = t.pid;
        let p = self.procs.entry(pid).or_insert_with(|| Process {
            pid,
            ..Default::default()
        });
        if p.ppid == 0 && self.live {
            p.ppid = read_ppid(pid).unwrap_or(0);
        }
        p.comm = t.comm.clone();
        p.exe = t.exe.clone();
        p.args = e.argv.clone();
        p.uid = t.uid;
        p.cgroup_id = t.cgroup_id;
        p.attrs = e.attrs.clone();
        p.exited_at = None;
    }

    /// The process renamed itself (prctl PR_SET_NAME; busybox applets do it after a re-exec).
    pub(crate) fn rename(&mut self, pid: u32, comm: &str) {
        if let Some(p) = self.procs.get_mut(&pid) {
            if p.comm != comm {
                p.comm = comm.to_string();
            }
        }
    }

    /// The process changed its working directory.
    pub(crate) fn chdir(&mut self, pid: u32, cwd: &str) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.attrs.cwd = cwd.to_string();
        }
    }

    /// Attributes for a process that is exec'ing: from /proc while it lives, else what it
    /// inherited from its parent.
    pub(crate) fn attrs_at_exec(&self, pid: u32, ppid: u32) -> ProcAttrs {
        if self.live {
            if let Some(a) = read_attrs(pid) {
                return a;
            }
        }
        match self.procs.get(&pid) {
            Some(p) => p.attrs.clone(),
            None => {
                let mut a = self
                    .procs
                    .get(&ppid)
                    .map(|p| p.attrs.clone())
                    .unwrap_or_default();
                a.vpid = 0;
                a
            }
        }
    }

    /// The leader thread of `pid` exited.
    pub(crate) fn exit(&mut self, pid: u32) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.exited_at = Some(Instant::now());
        }
    }

    /// Ancestors of `pid`, parent first, as far as the table knows them (bounded: pid reuse
    /// can make loops).
    fn gc(&mut self) {
        if self.procs.len() < MAX_ENTRIES {
            return;
        }
        self.procs
            .retain(|_, p| p.exited_at.is_none_or(|t| t.elapsed() < LINGER));
        if self.procs.len() >= MAX_ENTRIES && self.live {
            // Lost exit events: keep only what still exists.
            self.procs
                .retain(|pid, _| fs::metadata(format!("/proc/{pid}")).is_ok());
        }
    }

    /// Drop exited processes past their linger time (called periodically).
    pub(crate) fn sweep(&mut self) {
        self.procs
            .retain(|_, p| p.exited_at.is_none_or(|t| t.elapsed() < LINGER));
    }
}

fn read_ppid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).map(|(_, ppid)| ppid)
}

/// (comm, ppid) from /proc/<pid>/stat; comm may contain spaces and parentheses.
fn parse_stat(stat: &str) -> Option<(String, u32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, ppid))
}

/// The executable of a live process, as the process itself sees it: /proc's link is in the
/// host's view, so the process's root (a container's rootfs) is stripped.
pub(crate) fn exe_of(pid: u32) -> Option<String> {
    let exe = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let root = fs::read_link(format!("/proc/{pid}/root")).unwrap_or_default();
    Some(match exe.strip_prefix(&root) {
        Ok(rel) if root.as_os_str() != "/" => format!("/{}", rel.display()),
        _ => exe.display().to_string(),
    })
}

/// Resolve the symlinks of absolute `path` as seen from the root of process `pid` (its
/// container's rootfs), the way the kernel did when it opened the file. Absolute link targets
/// stay inside that root. `None` if the process is gone or the path does not resolve.
pub(crate) fn resolve_in_root(pid: u32, path: &str) -> Option<String> {
    let root = std::path::PathBuf::from(format!("/proc/{pid}/root"));
    fs::metadata(&root).ok()?;
    let mut todo: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(str::to_string)
        .collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let here = root.join(done.join("/")).join(&c);
        match fs::read_link(&here) {
            Ok(target) => {
                links += 1;
                if links > 40 {
                    return None;
                }
                let t = target.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    done.clear();
                }
                todo.extend(
                    t.split('/')
                        .filter(|x| !x.is_empty())
                        .rev()
                        .map(str::to_string),
                );
            }
            Err(_) => {
                fs::symlink_metadata(&here).ok()?;
                done.push(c);
            }
        }
    }
    Some(format!("/{}", done.join("/")))
}

fn read_proc(pid: u32) -> Option<Process> {
    let (comm, ppid) = parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    let args: Vec<String> = fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let exe = exe_of(pid).unwrap_or_default();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid = status_field(&status, "Uid:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let attrs = read_attrs(pid).unwrap_or_default();
    Some(Process {
        pid,
        ppid,
        comm,
        exe,
        args,
        uid,
        cgroup_id: 0,
        attrs,
        start: Timestamp(0),
        exited_at: None,
    })
}

/// First value of a `Name:\tvalue ...` line of /proc/<pid>/status.
fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
}

/// Last value of a namespaced id line (`NSpid:\t1234\t1`): the id in the innermost namespace.
fn status_ns_last(status: &str, name: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().last())
        .and_then(|v| v.parse().ok())
}

fn read_ns_ids(pid: u32) -> Option<(u32, u32, u32)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((
        status_ns_last(&status, "NSpid:")?,
        status_ns_last(&status, "NSsid:").unwrap_or(0),
        status_ns_last(&status, "NSpgid:").unwrap_or(0),
    ))
}

/// What /proc says about a live process beyond its name and arguments.
pub(crate) fn read_attrs(pid: u32) -> Option<ProcAttrs> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let cap = |name: &str| {
        status_field(&status, name)
            .and_then(|v| u64::from_str_radix(v, 16).ok())
            .unwrap_or(0)
    };
    let loginuid = fs::read_to_string(format!("/proc/{pid}/loginuid"))
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .map_or(-1, |v| if v == u32::MAX { -1 } else { v as i64 });
    let cwd = fs::read_link(format!("/proc/{pid}/cwd"))
        .ok()
        .map(|c| {
            let root = fs::read_link(format!("/proc/{pid}/root")).unwrap_or_default();
            match c.strip_prefix(&root) {
                Ok(rel) if root.as_os_str() != "/" => format!("/{}", rel.display()),
                _ => c.display().to_string(),
            }
        })
        .unwrap_or_default();
    let env = fs::read(format!("/proc/{pid}/environ"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|e| !e.is_empty())
                .map(|e| String::from_utf8_lossy(e).into_owned())
                .collect()
        })
        .unwrap_or_default();
    Some(ProcAttrs {
        cwd,
        tty: parse_stat_tty(&stat).unwrap_or(0),
        loginuid,
        loginname: String::new(),
        env,
        cap_effective: cap("CapEff:"),
        cap_permitted: cap("CapPrm:"),
        cap_inheritable: cap("CapInh:"),
        vpid: status_ns_last(&status, "NSpid:").unwrap_or(0),
        sid: status_ns_last(&status, "NSsid:").unwrap_or(0),
        vpgid: status_ns_last(&status, "NSpgid:").unwrap_or(0),
    })
}

/// tty_nr, the 7th field of /proc/<pid>/stat.
fn parse_stat_tty(stat: &str) -> Option<u32> {
    let close = stat.rfind(')')?;
    stat.get(close + 1..)?
        .split_whitespace()
        .nth(4)?
        .parse::<i64>()
        .ok()
        .map(|v| v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Task;

    fn exec_event(
        pid: u32,
        comm: &str,
        exe: &str,
        argv: Vec<String>,
        (uid, cgroup_id): (u32, u64),
        attrs: &ProcAttrs,
    ) -> ExecEvent {
        ExecEvent {
            task: Task {
                pid,
                tid: pid,
                comm: comm.into(),
                exe: exe.into(),
                uid,
                cgroup_id,
                ..Default::default()
            },
            filename: exe.into(),
            argv,
            truncated: false,
            attrs: attrs.clone(),
        }
    }

    #[test]
    fn parses_stat_with_odd_comm() {
        let s = "123 (my (weird) name) S 45 123 123 0 -1 4194560";
        assert_eq!(parse_stat(s), Some(("my (weird) name".into(), 45)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn lifecycle_builds_ancestry() {
        let mut t = ProcessTable::new(false);
        let a = ProcAttrs::default();
        t.exec(&exec_event(
            10,
            "containerd-shim",
            "/usr/bin/containerd-shim",
            vec![],
            (0, 1),
            &a,
        ));
        t.fork(10, 10, 20, Timestamp(1), 0);
        t.exec(&exec_event(
            20,
            "sh",
            "/bin/sh",
            vec!["sh".into(), "-c".into(), "cat x".into()],
            (0, 5),
            &a,
        ));
        t.fork(20, 20, 30, Timestamp(2), 0);
        t.exec(&exec_event(
            30,
            "cat",
            "/bin/cat",
            vec!["cat".into(), "x".into()],
            (0, 5),
            &a,
        ));
        let parent = |pid| t.get(pid).map(|p| p.ppid).unwrap_or(0);
        assert_eq!((parent(30), parent(20)), (20, 10));
        assert_eq!(t.get(30).map(|p| p.cmdline()).as_deref(), Some("cat x"));
        assert_eq!(t.get(30).map(|p| p.ppid), Some(20));
        // CLONE_PARENT (runc's init): the forker's image, the forker's parent.
        t.fork(30, 20, 40, Timestamp(3), 0);
        let c = t.get(40).cloned().unwrap_or_default();
        assert_eq!((c.comm.as_str(), c.ppid), ("cat", 20));
        t.exit(40);
        // Threads do not create entries.
        t.fork(30, 30, 30, Timestamp(3), 0);
        assert_eq!(t.procs.len(), 4);
        t.exit(30);
        assert!(t.get(30).and_then(|p| p.exited_at).is_some());
    }

    #[test]
    fn forked_child_inherits_until_exec() {
        let mut t = ProcessTable::new(false);
        let a = ProcAttrs {
            cwd: "/home/u".into(),
            tty: 34817,
            loginuid: 1000,
            vpid: 1,
            ..Default::default()
        };
        t.exec(&exec_event(
            1,
            "bash",
            "/bin/bash",
            vec!["bash".into()],
            (1000, 3),
            &a,
        ));
        t.fork(1, 1, 2, Timestamp(5), 7);
        let c = t.get(2).cloned().unwrap_or_default();
        assert_eq!((c.comm.as_str(), c.ppid, c.uid), ("bash", 1, 1000));
        assert_eq!(
            (
                c.attrs.cwd.as_str(),
                c.attrs.tty,
                c.attrs.loginuid,
                c.attrs.vpid
            ),
            ("/home/u", 34817, 1000, 7)
        );
        assert_eq!(c.start, Timestamp(5));
        t.chdir(2, "/tmp");
        assert_eq!(t.get(2).map(|p| p.attrs.cwd.as_str()), Some("/tmp"));
    }

    #[test]
    fn resolves_links_inside_the_process_root() {
        let me = std::process::id();
        let dir = std::env::temp_dir().join(format!("sysaudit-resolve-{me}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin")).unwrap();
        fs::write(dir.join("bin/busybox"), b"x").unwrap();
        std::os::unix::fs::symlink("busybox", dir.join("bin/sh")).unwrap();
        std::os::unix::fs::symlink(dir.join("bin"), dir.join("abs")).unwrap();
        let p = format!("{}/bin/sh", dir.display());
        assert_eq!(
            resolve_in_root(me, &p),
            Some(format!("{}/bin/busybox", dir.display()))
        );
        let p = format!("{}/abs/./sh", dir.display());
        assert_eq!(
            resolve_in_root(me, &p),
            Some(format!("{}/bin/busybox", dir.display()))
        );
        assert_eq!(
            resolve_in_root(me, &format!("{}/nope", dir.display())),
            None
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn reads_itself_from_proc() {
        let me = std::process::id();
        let p = read_proc(me).expect("own /proc entry");
        assert_eq!(p.pid, me);
        assert!(!p.args.is_empty());
        assert!(p.exe.starts_with('/'));
        assert_eq!(p.attrs.vpid, me, "the test runs in the host pid namespace");
        assert_eq!(
            p.attrs.cwd,
            std::env::current_dir().unwrap().display().to_string()
        );
        assert!(p.attrs.env.iter().any(|e| e.starts_with("PATH=")));
    }

    #[test]
    fn parses_stat_tty() {
        let s = "123 (bash) S 45 123 123 34816 123 4194560";
        assert_eq!(parse_stat_tty(s), Some(34816));
        assert_eq!(status_ns_last("NSpid:\t4242\t1\n", "NSpid:"), Some(1));
    }
}
