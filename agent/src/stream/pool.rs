//! Evaluation on several cores. The reader routes each record to the worker that owns its
//! process (a hash of the tgid), so a process's state — its entry, its descriptors, its
//! pending exec — lives in one worker and is never locked. What crosses workers:
//! - cgroup records go to every worker: each keeps its own cgroup → container map;
//! - a fork whose child hashes to another worker: the parent's worker applies it (it holds
//!   what the child inherits) and hands the child's entry and descriptors over. The reader
//!   sends the fork on at once and puts a marker in the child's worker's queue before any of
//!   the child's records; that worker waits at the marker for the hand-over. A worker only
//!   ever waits for a record earlier in the ring than the one it is at, already queued, so the
//!   waits cannot form a circle;
//! - ancestry (`proc.pname`, `proc.aname[N]`...): after a change other processes read (a fork,
//!   an exec, an exit, a new name) the owner publishes a snapshot of the entry, which the
//!   others keep as a foreign copy. A copy lags its owner by what the owner has queued.
//!
//! Batches are reused: workers send emptied ones back to the reader.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc::{channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::{
    event::Event,
    probe::decode::{self, Owner},
    state::{fds::FdTable, procs::Process, FastMap, State},
};

/// What a worker does with each event (before the state applies it); its number in the stream.
pub(crate) trait Handler: Send + 'static {
    fn event(&mut self, st: &mut State, ev: &Event, num: u64);
    /// A batch of records is through (a chance to publish what was counted).
    fn batch_done(&mut self, _st: &State) {}
}

/// The worker that owns process `tgid`, of `n`.
pub(crate) fn owner(tgid: u32, n: usize) -> usize {
    // Fibonacci hashing: consecutive pids land on different workers.
    ((u64::from(tgid.wrapping_mul(0x9E37_79B9)) * n as u64) >> 32) as usize
}

/// A batch is sent on once it holds this many bytes (and at the end of every drain).
const BATCH_BYTES: usize = 256 * 1024;
/// Batches queued per worker before the reader waits (and the ring fills, counted).
const QUEUED_BATCHES: usize = 8;
/// How long a worker waits at a fork marker before it goes on without the hand-over.
const HAND_OVER_WAIT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
enum Entry {
    /// A record at `start..start + len` of the batch's bytes. `hand_over`: after applying
    /// it, hand process `.0` over to worker `.1`.
    Record {
        num: u64,
        start: u32,
        len: u32,
        hand_over: Option<(u32, u32)>,
    },
    /// Wait here for process `.0` to be handed over.
    Await(u32),
}

#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

enum Msg<H> {
    Batch(Batch),
    /// Drop what lingered past its time.
    Sweep,
    /// Change the handler (a reload), between the batches before and after.
    Update(Box<dyn FnOnce(&mut H) + Send>),
}

enum Peer {
    HandOver {
        pid: u32,
        proc: Option<Box<Process>>,
        fds: Option<FdTable>,
    },
    Snapshot(Arc<Process>),
}

/// What a worker leaves at the end.
pub(crate) struct Done<H> {
    pub(crate) handler: H,
    /// Hand-overs that did not come in time (the child was then learned from /proc).
    pub(crate) late_hand_overs: u64,
}

/// The reader's side: a batch filling per worker, the queues, the threads.
pub(crate) struct Pool<H> {
    filling: Vec<Batch>,
    to: Vec<SyncSender<Msg<H>>>,
    free: Receiver<Batch>,
    joins: Vec<JoinHandle<Done<H>>>,
    num: u64,
    /// Undecodable records, the reader's and the workers'.
    errors: Arc<AtomicU64>,
}

impl<H: Handler> Pool<H> {
    /// One worker per state (see [`State::split`]), each with its handler.
    pub(crate) fn start(states: Vec<State>, handlers: Vec<H>) -> std::io::Result<Pool<H>> {
        let n = states.len();
        let errors = Arc::new(AtomicU64::new(0));
        let (free_tx, free) = channel();
        let (peer_tx, peer_rx): (Vec<_>, Vec<_>) = (0..n).map(|_| channel::<Peer>()).unzip();
        let mut to = Vec::with_capacity(n);
        let mut joins = Vec::with_capacity(n);
        for (id, ((st, h), inbox)) in states.into_iter().zip(handlers).zip(peer_rx).enumerate() {
            let (tx, rx) = sync_channel(QUEUED_BATCHES);
            let w = Worker {
                id,
                st,
                h,
                peers: peer_tx.clone(),
                inbox,
                stash: FastMap::default(),
                errors: errors.clone(),
                free: free_tx.clone(),
                late: 0,
            };
            joins.push(
                std::thread::Builder::new()
                    .name(format!("sysaudit-w{id}"))
                    .spawn(move || w.run(rx))?,
            );
            to.push(tx);
        }
        Ok(Pool {
            filling: (0..n).map(|_| Batch::default()).collect(),
            to,
            free,
            joins,
            num: 0,
            errors,
        })
    }

    /// Route one record from the ring.
    pub(crate) fn route(&mut self, bytes: &[u8]) {
        self.num += 1;
        let n = self.to.len();
        match decode::owner(bytes) {
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                log::debug!("undecodable record: {e}");
            }
            Ok(Owner::All) => {
                for w in 0..n {
                    self.push(w, bytes, None);
                }
            }
            Ok(Owner::Task { tgid, child }) => {
                let w = owner(tgid, n);
                let hand_over = child
                    .filter(|c| *c != tgid && owner(*c, n) != w)
                    .map(|c| (c, owner(c, n)));
                self.push(w, bytes, hand_over.map(|(c, to)| (c, to as u32)));
                if let Some((c, to)) = hand_over {
                    // The fork must be queued before its marker can be.
                    self.send(w);
                    self.filling[to].entries.push(Entry::Await(c));
                }
            }
        }
    }

    fn push(&mut self, w: usize, bytes: &[u8], hand_over: Option<(u32, u32)>) {
        let b = &mut self.filling[w];
        let (Ok(start), Ok(len)) = (u32::try_from(b.bytes.len()), u32::try_from(bytes.len()))
        else {
            return;
        };
        b.bytes.extend_from_slice(bytes);
        b.entries.push(Entry::Record {
            num: self.num,
            start,
            len,
            hand_over,
        });
        if b.bytes.len() >= BATCH_BYTES {
            self.send(w);
        }
    }

    fn send(&mut self, w: usize) {
        if self.filling[w].entries.is_empty() {
            return;
        }
        let next = self.free.try_recv().unwrap_or_default();
        let b = std::mem::replace(&mut self.filling[w], next);
        // A worker gone (it panicked) has nothing to receive; its records are dropped with it.
        let _ = self.to[w].send(Msg::Batch(b));
    }

    /// Send every batch that holds something (the end of a drain).
    pub(crate) fn flush(&mut self) {
        for w in 0..self.to.len() {
            self.send(w);
        }
    }

    /// Ask every worker to drop what lingered (exited processes, removed cgroups).
    pub(crate) fn sweep(&mut self) {
        for t in &self.to {
            let _ = t.try_send(Msg::Sweep);
        }
    }

    /// Change every worker's handler with what `make` returns, after the records routed so
    /// far (they are sent first) and before any routed later.
    pub(crate) fn update(&mut self, mut make: impl FnMut() -> Box<dyn FnOnce(&mut H) + Send>) {
        self.flush();
        for t in &self.to {
            let _ = t.send(Msg::Update(make()));
        }
    }

    /// Undecodable records so far.
    pub(crate) fn decode_errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Send what is left, let every worker finish its queue, and collect them.
    pub(crate) fn finish(mut self) -> Vec<Done<H>> {
        self.flush();
        self.to.clear();
        self.joins
            .drain(..)
            .filter_map(|j| match j.join() {
                Ok(d) => Some(d),
                Err(_) => {
                    crate::messages::message!("an evaluation worker panicked; its counts are lost");
                    None
                }
            })
            .collect()
    }
}

struct Worker<H> {
    id: usize,
    st: State,
    h: H,
    peers: Vec<Sender<Peer>>,
    inbox: Receiver<Peer>,
    /// Hand-overs that came before their marker was reached.
    stash: FastMap<u32, (Option<Box<Process>>, Option<FdTable>)>,
    errors: Arc<AtomicU64>,
    free: Sender<Batch>,
    late: u64,
}

impl<H: Handler> Worker<H> {
    fn run(mut self, rx: Receiver<Msg<H>>) -> Done<H> {
        while let Ok(msg) = rx.recv() {
            while let Ok(m) = self.inbox.try_recv() {
                self.peer(m);
            }
            match msg {
                Msg::Batch(mut b) => {
                    for e in &b.entries {
                        self.entry(&b.bytes, *e);
                    }
                    b.bytes.clear();
                    b.entries.clear();
                    let _ = self.free.send(b);
                    self.h.batch_done(&self.st);
                }
                Msg::Sweep => {
                    self.st.procs.sweep();
                    self.st.containers.sweep();
                }
                Msg::Update(f) => f(&mut self.h),
            }
        }
        Done {
            handler: self.h,
            late_hand_overs: self.late,
        }
    }

    fn entry(&mut self, bytes: &[u8], e: Entry) {
        let (num, start, len, hand_over) = match e {
            Entry::Await(pid) => return self.wait_for(pid),
            Entry::Record {
                num,
                start,
                len,
                hand_over,
            } => (num, start as usize, len as usize, hand_over),
        };
        match bytes.get(start..start + len).map(decode::decode) {
            Some(Ok(rec)) => {
                if let Some(ev) = self.st.ingest(&rec) {
                    self.h.event(&mut self.st, &ev, num);
                    for pid in self.st.observe(&ev).into_iter().flatten() {
                        if hand_over.is_none_or(|h| h.0 != pid) {
                            self.publish(pid);
                        }
                    }
                }
            }
            Some(Err(e)) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                log::debug!("undecodable record: {e}");
            }
            None => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Whatever became of the record, the marker's worker waits for this.
        if let Some((pid, to)) = hand_over {
            let msg = Peer::HandOver {
                pid,
                proc: self.st.procs.take(pid).map(Box::new),
                fds: self.st.fds.take(pid),
            };
            if let Some(p) = self.peers.get(to as usize) {
                let _ = p.send(msg);
            }
        }
    }

    fn peer(&mut self, m: Peer) {
        match m {
            Peer::Snapshot(p) => self.st.procs.learn_foreign(p),
            Peer::HandOver { pid, proc, fds } => {
                self.stash.insert(pid, (proc, fds));
            }
        }
    }

    fn wait_for(&mut self, pid: u32) {
        let deadline = Instant::now() + HAND_OVER_WAIT;
        loop {
            if let Some((proc, fds)) = self.stash.remove(&pid) {
                if let Some(p) = proc {
                    self.st.procs.adopt(*p);
                }
                if let Some(t) = fds {
                    self.st.fds.adopt(pid, t);
                }
                return self.publish(pid);
            }
            match self
                .inbox
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(m) => self.peer(m),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    self.late += 1;
                    log::warn!(
                        "worker {}: process {pid} was not handed over in time",
                        self.id
                    );
                    return;
                }
            }
        }
    }

    /// Tell the other workers what an owned process is now.
    fn publish(&mut self, pid: u32) {
        if self.peers.len() < 2 {
            return;
        }
        let Some(snap) = self.st.procs.snapshot(pid) else {
            return;
        };
        for (i, p) in self.peers.iter().enumerate() {
            if i != self.id {
                let _ = p.send(Peer::Snapshot(snap.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::decode::tests::{bytes, header};
    use std::collections::BTreeMap;
    use sysaudit_common::{kind, ExecRecord, ExitRecord, ForkRecord, Header, SyscallRecord};

    fn hdr(k: u16, tgid: u32, comm: &str) -> Header {
        let mut h = header(k);
        h.pid_tgid = (u64::from(tgid) << 32) | u64::from(tgid);
        h.comm = [0; 16];
        h.comm[..comm.len()].copy_from_slice(comm.as_bytes());
        h
    }

    fn exec(tgid: u32, comm: &str) -> Vec<u8> {
        let argv = format!("{comm}\0");
        let file = format!("/bin/{comm}");
        let rec = ExecRecord {
            hdr: hdr(kind::EXEC, tgid, comm),
            old_pid: tgid,
            argc: 1,
            filename_len: file.len() as u16,
            argv_len: argv.len() as u16,
            env_len: 0,
            _pad: 0,
            creds: Default::default(),
            exe: Default::default(),
        };
        let mut b = bytes(&rec);
        b.extend_from_slice(argv.as_bytes());
        b.extend_from_slice(file.as_bytes());
        b
    }

    fn fork(parent: u32, comm: &str, child: u32) -> Vec<u8> {
        bytes(&ForkRecord {
            hdr: hdr(kind::FORK, parent, comm),
            child_pid: child,
            child_tgid: child,
            child_vpid: 0,
            parent_tgid: parent,
        })
    }

    fn syscall(tgid: u32, comm: &str, nr: u32, fd: i64, ret: i64, path: &str) -> Vec<u8> {
        let rec = SyscallRecord {
            hdr: hdr(kind::SYSCALL, tgid, comm),
            nr,
            has_ret: 1,
            ret,
            args: [fd as u64, 0, 0, 0, 0, 0],
            str_len: [path.len() as u16, 0],
            addr_len: 0,
            _pad: 0,
        };
        let mut b = bytes(&rec);
        b.extend_from_slice(path.as_bytes());
        b
    }

    fn exit(tgid: u32, comm: &str) -> Vec<u8> {
        bytes(&ExitRecord {
            hdr: hdr(kind::EXIT, tgid, comm),
        })
    }

    /// A shell forks children that exec `cat`, open a file, fork a grandchild that
    /// inherits the descriptor and closes it, then exit: every cross-process fact a worker
    /// can get wrong (inherited descriptors, the parent's and grandparent's names).
    fn records() -> Vec<Vec<u8>> {
        let mut v = vec![exec(100, "sh")];
        for c in 101..141u32 {
            let g = c + 1000;
            v.push(fork(100, "sh", c));
            v.push(exec(c, "cat"));
            v.push(syscall(c, "cat", 257, -100, 3, &format!("/etc/f{c}")));
            v.push(fork(c, "cat", g));
            v.push(syscall(g, "cat", 3, 3, 0, ""));
            v.push(exec(g, "ls"));
            v.push(syscall(g, "ls", 257, -100, 4, "/tmp/g"));
            v.push(syscall(c, "cat", 3, 3, 0, ""));
            v.push(exit(g, "ls"));
            v.push(exit(c, "cat"));
        }
        v
    }

    /// What an event looked like to its handler: the process's name, its parent's and
    /// grandparent's, and the descriptor's name.
    #[derive(Default)]
    struct Seen(BTreeMap<u64, String>);

    impl Handler for Seen {
        fn event(&mut self, st: &mut State, ev: &Event, num: u64) {
            let t = ev.task();
            let name = |pid: u32| st.procs.get(pid).map(|p| (p.comm.to_string(), p.ppid));
            let (me, ppid) = name(t.pid).unwrap_or_default();
            let (parent, gppid) = name(ppid).unwrap_or_default();
            let (grand, _) = name(gppid).unwrap_or_default();
            let fd = match ev {
                Event::Syscall(s) => st.fds.view(s).map(|v| v.info.name.to_string()),
                _ => None,
            };
            self.0.insert(
                num,
                format!("{} {} {me}<{parent}<{grand} {fd:?}", ev.kind(), t.pid),
            );
        }
    }

    fn inline(recs: &[Vec<u8>]) -> BTreeMap<u64, String> {
        let mut st = State::replay();
        let mut h = Seen::default();
        for (i, b) in recs.iter().enumerate() {
            let ev = st.ingest(&decode::decode(b).expect("fixture decodes"));
            if let Some(ev) = ev {
                h.event(&mut st, &ev, i as u64 + 1);
                st.observe(&ev);
            }
        }
        h.0
    }

    fn pooled(recs: &[Vec<u8>], n: usize) -> BTreeMap<u64, String> {
        let states = State::replay().split(n, |p| owner(p, n));
        let mut pool =
            Pool::start(states, (0..n).map(|_| Seen::default()).collect()).expect("threads start");
        for (i, b) in recs.iter().enumerate() {
            pool.route(b);
            // Batches of varied sizes, as drains make them.
            if i % 7 == 0 {
                pool.flush();
            }
        }
        let done = pool.finish();
        assert_eq!(done.iter().map(|d| d.late_hand_overs).sum::<u64>(), 0);
        let mut all = BTreeMap::new();
        for d in done {
            all.extend(d.handler.0);
        }
        all
    }

    #[test]
    fn workers_see_what_one_thread_sees() {
        let recs = records();
        let want = inline(&recs);
        // The grandchild's close: the descriptor it inherited, its parent and grandparent.
        assert!(
            want.values()
                .any(|l| l == "close 1101 cat<cat<sh Some(\"/etc/f101\")"),
            "{want:?}"
        );
        for n in [1, 2, 3, 8] {
            assert_eq!(pooled(&recs, n), want, "{n} workers");
        }
    }

    /// Regression (CI, rules_live with two workers, 1 run in 4): busybox's awk renames the
    /// shell it runs in and forks `system()`'s shell; the fork carried both the child and
    /// the forker's new name, only the child was published, and the child's worker read its
    /// parent as "sh" (so "Shell spawned by a non-shell program" did not fire).
    #[test]
    fn a_forker_renamed_by_its_fork_record_is_published_with_the_child() {
        let mut recs = vec![exec(100, "sh")];
        for c in 101..141u32 {
            recs.push(fork(100, "awk", c));
            recs.push(exec(c, "sh"));
        }
        let want = inline(&recs);
        assert!(
            want.values().any(|l| l == "exec 101 awk<awk< None"),
            "{want:?}"
        );
        for n in [2, 3, 8] {
            assert_eq!(pooled(&recs, n), want, "{n} workers");
        }
    }

    #[test]
    fn owners_spread_consecutive_pids() {
        let mut per = [0u32; 4];
        for pid in 1000..5000 {
            per[owner(pid, 4)] += 1;
        }
        assert!(per.iter().all(|n| (900..=1100).contains(n)), "{per:?}");
    }
}
