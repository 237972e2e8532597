//! The process table: pid → what the rules and outputs need to know about a process (name,
//! executable, arguments, parent), kept from fork/exec/exit events and an initial /proc scan.
//! Threads are not entries: every event names its process (tgid).

use std::{
    fs,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use super::{
    procfs::{read_attrs, read_ns_ids, read_ppid, read_proc, read_root},
    FastMap,
};
use crate::event::{ExecEvent, ProcAttrs, Timestamp};

/// One process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Process {
    pub(crate) pid: u32,
    pub(crate) ppid: u32,
    /// `task->comm` after the last exec (threads may rename themselves; events carry theirs).
    pub(crate) comm: Arc<str>,
    /// The executable of the last exec (Falco's `proc.exepath`), shared with its events.
    pub(crate) exe: Arc<str>,
    /// argv of the last exec (argv[0] is Falco's `proc.exe`).
    pub(crate) args: Vec<String>,
    pub(crate) uid: u32,
    pub(crate) cgroup_id: u64,
    pub(crate) attrs: ProcAttrs,
    /// When it started (fork, or first sight); 0 when unknown.
    pub(crate) start: Timestamp,
    /// Set when its last thread exited; the entry lingers so late events still resolve.
    pub(crate) exited_at: Option<Instant>,
    /// Its root directory in the host's view (a container's rootfs): where its user names
    /// are looked up and its paths are relative to. Read once, inherited at fork.
    pub(crate) root: Option<Arc<Path>>,
    /// /proc was asked for the root already: a process gone before its events are
    /// evaluated is not asked again on each of them.
    pub(crate) root_read: bool,
    /// User and group names of the ids it last ran as, looked up in its root's files.
    pub(crate) names: Option<Names>,
    /// Its other threads' ids in its pid namespace (`thread.vtid`), from their clone
    /// records (or /proc once, for threads older than the agent); 0: unknown.
    pub(crate) thread_vtids: FastMap<u32, u32>,
}

/// Threads per process whose namespace ids are kept; beyond it the others' stay unknown.
const MAX_THREAD_VTIDS: usize = 16384;

impl Process {
    /// Thread `tid`'s id in the process's pid namespace, if known.
    pub(crate) fn vtid(&self, tid: u32) -> Option<u32> {
        if tid == self.pid {
            return (self.attrs.vpid != 0).then_some(self.attrs.vpid);
        }
        if self.attrs.vpid == self.pid {
            // The host's pid namespace: ids are the same.
            return Some(tid);
        }
        self.thread_vtids.get(&tid).copied().filter(|v| *v != 0)
    }

    /// Whether there is an answer (possibly "unknown") for `tid`: nothing to ask /proc.
    pub(crate) fn knows_thread(&self, tid: u32) -> bool {
        tid == self.pid
            || self.attrs.vpid == self.pid
            || self.thread_vtids.len() >= MAX_THREAD_VTIDS
            || self.thread_vtids.contains_key(&tid)
    }

    /// Remember thread `tid`'s namespace id.
    pub(crate) fn set_thread(&mut self, tid: u32, vtid: u32) {
        if self.thread_vtids.len() < MAX_THREAD_VTIDS || self.thread_vtids.contains_key(&tid) {
            self.thread_vtids.insert(tid, vtid);
        }
    }
}

/// A process's user and group names, for the uid and gid they were looked up for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Names {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) user: Arc<str>,
    pub(crate) group: Arc<str>,
}

/// `comm` and the arguments after argv[0], space-separated (Falco's `proc.cmdline`).
pub(crate) fn cmdline(comm: &str, args: &[String]) -> String {
    let mut s = comm.to_string();
    for a in args.iter().skip(1) {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// How long an exited process stays in the table.
const LINGER: Duration = Duration::from_secs(10);
/// Hard cap on entries; beyond it the oldest exited ones go first, then a full sweep.
const MAX_ENTRIES: usize = 65536;

#[derive(Default)]
pub(crate) struct ProcessTable {
    procs: FastMap<u32, Process>,
    /// Under several workers: the processes other workers own, as their owners last
    /// published them (ancestry reads them; nothing here changes them).
    foreign: FastMap<u32, Arc<Process>>,
    /// Read /proc for pids we have not seen (off for replays).
    live: bool,
}

impl ProcessTable {
    /// Processes this table owns (not the foreign ones it only reads).
    pub(crate) fn len(&self) -> usize {
        self.procs.len()
    }

    pub(crate) fn new(live: bool) -> ProcessTable {
        ProcessTable {
            procs: FastMap::default(),
            foreign: FastMap::default(),
            live,
        }
    }

    /// Split into one table per worker: worker `i` owns the processes `owner` gives it and
    /// sees the others as foreign copies.
    pub(crate) fn split(self, n: usize, owner: impl Fn(u32) -> usize) -> Vec<ProcessTable> {
        let mut out: Vec<ProcessTable> = (0..n).map(|_| ProcessTable::new(self.live)).collect();
        for (pid, p) in self.procs {
            let shared = Arc::new(p);
            let own = owner(pid);
            for (i, t) in out.iter_mut().enumerate() {
                if i == own {
                    t.procs.insert(pid, (*shared).clone());
                } else {
                    t.foreign.insert(pid, shared.clone());
                }
            }
        }
        out
    }

    /// An owned process, as other workers will see it.
    pub(crate) fn snapshot(&self, pid: u32) -> Option<Arc<Process>> {
        self.procs.get(&pid).map(|p| Arc::new(p.clone()))
    }

    /// Another worker's process, as it published it.
    pub(crate) fn learn_foreign(&mut self, p: Arc<Process>) {
        if !self.procs.contains_key(&p.pid) {
            self.foreign.insert(p.pid, p);
        }
    }

    /// Hand an owned process over (to the worker that owns it from now on).
    pub(crate) fn take(&mut self, pid: u32) -> Option<Process> {
        self.procs.remove(&pid)
    }

    /// Own a process another worker created (a fork it saw).
    pub(crate) fn adopt(&mut self, p: Process) {
        self.foreign.remove(&p.pid);
        self.procs.insert(p.pid, p);
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
        self.procs
            .get(&pid)
            .or_else(|| self.foreign.get(&pid).map(|p| &**p))
    }

    /// The process, reading /proc for it if it is not known yet.
    pub(crate) fn get_or_load(&mut self, pid: u32) -> Option<&Process> {
        if self.get(pid).is_none() && self.live {
            if let Some(p) = read_proc(pid) {
                self.procs.insert(pid, p);
            }
        }
        self.get(pid)
    }

    /// The process a live record names: known, else read from /proc at first sight, else made
    /// from what the record says. Its root is read once if it is not known yet.
    pub(crate) fn of_record(
        &mut self,
        pid: u32,
        comm: &str,
        uid: u32,
        cgroup_id: u64,
    ) -> &mut Process {
        let live = self.live;
        let p = self.procs.entry(pid).or_insert_with(|| {
            live.then(|| read_proc(pid))
                .flatten()
                .unwrap_or_else(|| Process {
                    pid,
                    comm: comm.into(),
                    uid,
                    cgroup_id,
                    ..Default::default()
                })
        });
        if p.root.is_none() && live && !p.root_read {
            p.root_read = true;
            p.root = read_root(pid);
        }
        p
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
                comm: comm.into(),
                exe: exe.into(),
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
                // One thread: the new one.
                thread_vtids: FastMap::default(),
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
        // exec leaves one thread.
        p.thread_vtids.clear();
        // Its root may have changed on the way (runc's init pivots first).
        p.names = None;
    }

    /// The process renamed itself (prctl PR_SET_NAME; busybox applets do it after a re-exec).
    /// Whether the name changed.
    pub(crate) fn rename(&mut self, pid: u32, comm: &Arc<str>) -> bool {
        match self.procs.get_mut(&pid) {
            Some(p) if p.comm != *comm => {
                p.comm = comm.clone();
                true
            }
            _ => false,
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
            let root = self.root_of(pid);
            if let Some(a) = read_attrs(pid, root.as_deref().unwrap_or(Path::new("/"))) {
                return a;
            }
        }
        self.inherited_attrs(pid, ppid)
    }

    /// What an exec'ing process had, or else its parent: the base the kernel's facts of the
    /// exec complete.
    pub(crate) fn inherited_attrs(&self, pid: u32, ppid: u32) -> ProcAttrs {
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

    /// The root of a known process, without reading anything.
    pub(crate) fn root_of(&self, pid: u32) -> Option<Arc<Path>> {
        self.procs.get(&pid).and_then(|p| p.root.clone())
    }

    /// The root of `pid`, read from /proc once if the table does not have it yet.
    pub(crate) fn root(&mut self, pid: u32) -> Option<Arc<Path>> {
        let p = self.procs.get_mut(&pid)?;
        if p.root.is_none() && self.live && !p.root_read {
            p.root_read = true;
            p.root = read_root(pid);
        }
        p.root.clone()
    }

    /// The process changed its root (exec, `chroot`, `pivot_root`): read it again.
    pub(crate) fn reroot(&mut self, pid: u32) {
        if let Some(p) = self.procs.get_mut(&pid).filter(|_| self.live) {
            p.root = read_root(pid).or(p.root.take());
        }
    }

    /// Process `pid` started thread `tid` (`vtid` in its pid namespace; 0: unknown).
    pub(crate) fn thread(&mut self, pid: u32, tid: u32, vtid: u32) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.set_thread(tid, vtid);
        }
    }

    /// Thread `tid` of `pid` (not its leader) exited.
    pub(crate) fn thread_exit(&mut self, pid: u32, tid: u32) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.thread_vtids.remove(&tid);
        }
    }

    /// The leader thread of `pid` exited.
    pub(crate) fn exit(&mut self, pid: u32) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.exited_at = Some(Instant::now());
        }
    }

    /// Keep the table under its cap.
    fn gc(&mut self) {
        if self.procs.len() + self.foreign.len() < MAX_ENTRIES {
            return;
        }
        self.sweep();
        if self.procs.len() + self.foreign.len() >= MAX_ENTRIES && self.live {
            // Lost exit events: keep only what still exists.
            let alive = |pid: &u32| fs::metadata(format!("/proc/{pid}")).is_ok();
            self.procs.retain(|pid, _| alive(pid));
            self.foreign.retain(|pid, _| alive(pid));
        }
    }

    /// Drop exited processes past their linger time (called periodically).
    pub(crate) fn sweep(&mut self) {
        let lingering = |p: &Process| p.exited_at.is_none_or(|t| t.elapsed() < LINGER);
        self.procs.retain(|_, p| lingering(p));
        self.foreign.retain(|_, p| lingering(p));
    }
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
        assert_eq!(
            t.get(30).map(|p| cmdline(&p.comm, &p.args)).as_deref(),
            Some("cat x")
        );
        assert_eq!(t.get(30).map(|p| p.ppid), Some(20));
        // CLONE_PARENT (runc's init): the forker's image, the forker's parent.
        t.fork(30, 20, 40, Timestamp(3), 0);
        let c = t.get(40).cloned().unwrap_or_default();
        assert_eq!((&*c.comm, c.ppid), ("cat", 20));
        t.exit(40);
        // Threads do not create entries.
        t.fork(30, 30, 30, Timestamp(3), 0);
        assert_eq!(t.procs.len(), 4);
        t.exit(30);
        assert!(t.get(30).and_then(|p| p.exited_at).is_some());
    }

    #[test]
    fn thread_ids_in_the_pid_namespace() {
        let mut t = ProcessTable::new(false);
        let a = ProcAttrs {
            vpid: 1,
            ..Default::default()
        };
        t.exec(&exec_event(500, "java", "/bin/java", vec![], (0, 3), &a));
        t.thread(500, 501, 2);
        t.thread(500, 502, 3);
        let p = t.get(500).cloned().unwrap_or_default();
        assert_eq!(
            (p.vtid(500), p.vtid(501), p.vtid(502), p.vtid(503)),
            (Some(1), Some(2), Some(3), None)
        );
        assert!(p.knows_thread(502) && !p.knows_thread(503));
        t.thread_exit(500, 501);
        assert_eq!(t.get(500).and_then(|p| p.vtid(501)), None);
        // A forked child has one thread; the host's namespace ids are the ids.
        t.fork(500, 500, 600, Timestamp(1), 4);
        assert!(t.get(600).is_some_and(|c| c.thread_vtids.is_empty()));
        let host = ProcAttrs {
            vpid: 700,
            ..Default::default()
        };
        t.exec(&exec_event(700, "sh", "/bin/sh", vec![], (0, 1), &host));
        assert_eq!(t.get(700).and_then(|p| p.vtid(701)), Some(701));
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
        assert_eq!((&*c.comm, c.ppid, c.uid), ("bash", 1, 1000));
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
}
