//! Seccomp user notification: a supervisor that lets every notified syscall go on
//! (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`) and writes down which task made it, with the ABI and
//! the arguments — the exact answer to "which syscalls would this profile have denied". The
//! task is stopped in the syscall while it is asked about, so its name and executable are
//! read without racing its exit.

use std::{
    collections::BTreeMap,
    fs, io,
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
        unix::net::UnixListener,
    },
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use super::bpf::abi_of;
use crate::syscalls::{table, Abi};

/// One syscall the profile would have denied, first seen from this task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Denial {
    pub(crate) abi: Abi,
    pub(crate) name: String,
    pub(crate) pid: u32,
    pub(crate) comm: String,
    pub(crate) exe: String,
    pub(crate) args: [u64; 6],
    /// How many times it was made.
    pub(crate) count: u64,
}

/// What the supervisor answers a notified syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Let it run, unrecorded (the launcher's own calls).
    Pass,
    /// Let it run and write it down (what the profile would have denied).
    Record,
    /// Fail it with this errno (a phase's denial).
    Deny(i32),
}

/// A listener fd and what it has seen.
pub(crate) struct Listener {
    fd: OwnedFd,
    /// (ABI, name) → the first task's denial and the count.
    seen: BTreeMap<(Abi, String), Denial>,
}

impl Listener {
    pub(crate) fn new(fd: OwnedFd) -> Listener {
        Listener {
            fd,
            seen: BTreeMap::new(),
        }
    }

    /// Serve until every task under the filter is gone (the fd hangs up) or `stop` is set and
    /// nothing is pending; `decide` answers each notification (pid, ABI, name, arguments).
    pub(crate) fn serve(
        &mut self,
        stop: &AtomicBool,
        mut decide: impl FnMut(u32, Abi, &str, &[u64; 6]) -> Answer,
    ) -> io::Result<()> {
        loop {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, 50) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                continue;
            }
            if pfd.revents & libc::POLLIN != 0 {
                self.one(&mut decide)?;
            } else if pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                return Ok(());
            }
        }
    }

    fn one(
        &mut self,
        decide: &mut impl FnMut(u32, Abi, &str, &[u64; 6]) -> Answer,
    ) -> io::Result<()> {
        // SAFETY: the kernel fills a zeroed seccomp_notif (it insists on zero).
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl writes one seccomp_notif.
        if unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                &mut req,
            )
        } < 0
        {
            let e = io::Error::last_os_error();
            // The task was killed while queued (ENOENT), or a signal.
            return match e.raw_os_error() {
                Some(libc::ENOENT | libc::EINTR) => Ok(()),
                _ => Err(e),
            };
        }
        let d = req.data;
        let mut answer = Answer::Record;
        if let Some((abi, nr)) = abi_of(d.arch, d.nr) {
            let name = table::display_name(abi, nr).into_owned();
            answer = decide(req.pid, abi, &name, &d.args);
            if answer == Answer::Record {
                let e = self.seen.entry((abi, name.clone())).or_insert_with(|| {
                    let read = |f: &str| {
                        fs::read_to_string(format!("/proc/{}/{f}", req.pid))
                            .map(|s| s.trim_end().to_string())
                            .unwrap_or_default()
                    };
                    Denial {
                        abi,
                        name,
                        pid: req.pid,
                        comm: read("comm"),
                        exe: fs::read_link(format!("/proc/{}/exe", req.pid))
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                        args: d.args,
                        count: 0,
                    }
                });
                e.count += 1;
            }
        }
        let (error, flags) = match answer {
            Answer::Deny(e) => (-e, 0),
            _ => (0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
        };
        let mut resp = libc::seccomp_notif_resp {
            id: req.id,
            val: 0,
            error,
            flags,
        };
        // SAFETY: the ioctl reads one seccomp_notif_resp. ENOENT: the task is gone.
        if unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND,
                &mut resp,
            )
        } < 0
        {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(e);
            }
        }
        Ok(())
    }

    pub(crate) fn denials(self) -> Vec<Denial> {
        self.seen.into_values().collect()
    }
}

/// A thread that takes a listener and serves it; stopped (and its findings taken) once the
/// workload has ended.
pub(crate) struct Supervisor {
    handle: JoinHandle<io::Result<Vec<Denial>>>,
    stop: Arc<AtomicBool>,
}

impl Supervisor {
    /// `serve` gets the stop flag: it ends when every task under the filter is gone, or when
    /// the flag is set and nothing is pending.
    pub(crate) fn spawn(
        serve: impl FnOnce(&AtomicBool) -> io::Result<Vec<Denial>> + Send + 'static,
    ) -> io::Result<Supervisor> {
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let handle = std::thread::Builder::new()
            .name("seccomp-listener".into())
            .spawn(move || serve(&st))?;
        Ok(Supervisor { handle, stop })
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub(crate) fn finish(self) -> io::Result<Vec<Denial>> {
        self.stop();
        self.handle
            .join()
            .map_err(|_| io::Error::other("the listener thread panicked"))?
    }
}

/// Whether `fd` (ours) is a seccomp listener.
fn is_listener(fd: RawFd) -> bool {
    fs::read_link(format!("/proc/self/fd/{fd}"))
        .is_ok_and(|p| p.to_string_lossy() == "anon_inode:seccomp notify")
}

/// Copy fd `target` of process `pid` once it is a seccomp listener (`pidfd_getfd`, as runc
/// takes its init's), waiting for the process to install it.
pub(crate) fn take_from(pid: i32, target: RawFd, wait: Duration) -> io::Result<OwnedFd> {
    // SAFETY: plain syscalls; the returned fds are owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pidfd_open returned a new fd.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    let deadline = Instant::now() + wait;
    loop {
        // SAFETY: as above.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0) };
        if fd >= 0 {
            // SAFETY: pidfd_getfd returned a new fd.
            let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
            if is_listener(fd.as_raw_fd()) {
                return Ok(fd);
            }
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("process {pid} installed no seccomp listener as fd {target}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Wait for the runtime to connect to `listenerPath`, take the listener it sends and serve it.
pub(crate) fn serve_runtime(sock: UnixListener, stop: &AtomicBool) -> io::Result<Vec<Denial>> {
    sock.set_nonblocking(true)?;
    let conn = loop {
        match sock.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if stop.load(Ordering::Relaxed) {
                    return Err(io::Error::other(
                        "the runtime never handed over the listener: did the container start?",
                    ));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e),
        }
    };
    conn.set_nonblocking(false)?;
    let (fd, _state) = receive(conn.as_raw_fd())?;
    let mut l = Listener::new(fd);
    l.serve(stop, |_, _, _, _| Answer::Record)?;
    Ok(l.denials())
}

/// Receive the listener a runtime sends to `listenerPath` (one message: the container's
/// state as JSON and the fd as SCM_RIGHTS).
fn receive(sock: RawFd) -> io::Result<(OwnedFd, Vec<u8>)> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for a few fds; runtimes send one.
    let mut cmsg = [0u64; 16];
    // SAFETY: msghdr is plain data; the pointers below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg);
    // SAFETY: msg points at live buffers.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    let mut fd = None;
    // SAFETY: walking the control messages the kernel wrote into `cmsg`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c).cast::<RawFd>();
                let count = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize)
                    / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    let raw = std::ptr::read_unaligned(data.add(i));
                    let owned = OwnedFd::from_raw_fd(raw);
                    if fd.is_none() {
                        fd = Some(owned);
                    }
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    let fd = fd.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the runtime sent no file descriptor",
        )
    })?;
    if !is_listener(fd.as_raw_fd()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the runtime sent a descriptor that is not a seccomp listener",
        ));
    }
    Ok((fd, buf))
}
