//! Draining the ring buffer. Records are submitted without a wakeup, so the reader drains on
//! a short timer; the kernel forces a wakeup only when the ring is half full.
//!
//! The wait is one `epoll_wait` on a private epoll set (the ring and a stop eventfd the
//! SIGINT/SIGTERM handler writes), not tokio's timer: a tokio timer waking the `block_on`
//! future costs an eventfd write and a second `epoll_wait` per tick, three syscalls where one
//! does, and the agent's own syscalls are what the watched workload pays for.

use std::{
    io,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd},
    time::Duration,
};

use aya::maps::{MapData, RingBuf};

use crate::stream::raw::Tap;

/// How often the ring is drained when records flow and nothing woke us up.
pub(crate) const DRAIN_INTERVAL: Duration = Duration::from_millis(10);

/// The longest wait once the ring has been found empty (the interval doubles up to it): an
/// idle agent wakes ~25 times a second, and a record waits at most this long to be seen.
const IDLE_INTERVAL: Duration = Duration::from_millis(40);

/// The epoll token of the stop eventfd (the ring's is 0).
const STOP: u64 = 1;

pub(crate) struct Ring {
    ring: RingBuf<MapData>,
    epoll: OwnedFd,
    stop: OwnedFd,
    signals: Vec<signal_hook_registry::SigId>,
    /// How long the next wait may last.
    interval: Duration,
    /// Where every record is also written (`watch --raw-out`).
    tap: Option<Tap>,
    /// The kernel's positions, read without a syscall; `None` if they could not be mapped.
    positions: Option<Positions>,
    /// The highest fill seen before a drain since it was last taken, in bytes.
    peak: u64,
}

/// The ring's consumer and producer positions: the first word of its first two pages, mapped
/// read-only (the kernel's layout for BPF_MAP_TYPE_RINGBUF). aya keeps its own mapping
/// private; these two pages cost no syscall to read.
struct Positions {
    consumer: *mut libc::c_void,
    producer: *mut libc::c_void,
    page: usize,
    size: u64,
}

// SAFETY: the mappings are read-only words the kernel updates; reading them from any thread
// is what the positions are for.
unsafe impl Send for Positions {}

impl Positions {
    fn map(fd: RawFd, size: u32) -> io::Result<Positions> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let one = |offset: usize| -> io::Result<*mut libc::c_void> {
            // SAFETY: a fresh read-only shared mapping of one page of the ring's fd; checked.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    page,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    fd,
                    offset as libc::off_t,
                )
            };
            if p == libc::MAP_FAILED {
                Err(io::Error::last_os_error())
            } else {
                Ok(p)
            }
        };
        let consumer = one(0)?;
        let producer = match one(page) {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: mapped just above, with this length.
                unsafe { libc::munmap(consumer, page) };
                return Err(e);
            }
        };
        Ok(Positions {
            consumer,
            producer,
            page,
            size: u64::from(size),
        })
    }

    /// Bytes written by the kernel and not yet consumed.
    fn used(&self) -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        // SAFETY: both pages are mapped for the life of `self` and start with an aligned
        // u64 the kernel writes atomically.
        let (c, p) = unsafe {
            (
                (*(self.consumer as *const AtomicU64)).load(Ordering::Acquire),
                (*(self.producer as *const AtomicU64)).load(Ordering::Acquire),
            )
        };
        p.saturating_sub(c).min(self.size)
    }
}

impl Drop for Positions {
    fn drop(&mut self) {
        // SAFETY: both were mapped with this length and are not used after.
        unsafe {
            libc::munmap(self.consumer, self.page);
            libc::munmap(self.producer, self.page);
        }
    }
}

/// What ended a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// The kernel's wakeup or the interval: drain.
    Drain,
    /// SIGINT or SIGTERM arrived.
    Stop,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn watch_fd(epoll: &OwnedFd, fd: RawFd, token: u64, edge: bool) -> io::Result<()> {
    let edge = if edge { libc::EPOLLET } else { 0 };
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | edge) as u32,
        u64: token,
    };
    // SAFETY: both fds are open; the kernel copies `ev`.
    cvt(unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
    Ok(())
}

impl Ring {
    /// Drain `ring` of `size` bytes.
    pub(crate) fn new(ring: RingBuf<MapData>, size: u32) -> io::Result<Ring> {
        // SAFETY: plain syscalls; each returned fd is owned from here on.
        let epoll = unsafe { OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        let stop = unsafe {
            OwnedFd::from_raw_fd(cvt(libc::eventfd(
                0,
                libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
            ))?)
        };
        // Edge-triggered: the ring wakes us when the kernel forces it (half full), not
        // whenever it holds a record — level-triggered, a busy ring returned at once and the
        // reader drained it in slivers (a syscall and a batch per few records: 513 k lost
        // on the unfiltered storm). The timer does the rest.
        watch_fd(&epoll, ring.as_fd().as_raw_fd(), 0, true)?;
        watch_fd(&epoll, stop.as_raw_fd(), STOP, false)?;
        let raw = stop.as_raw_fd();
        let mut signals = Vec::new();
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let on_signal = move || {
                let one: u64 = 1;
                // SAFETY: write(2) is async-signal-safe; the eventfd outlives the handler,
                // which is unregistered before the fd is closed (Drop).
                unsafe { libc::write(raw, (&one as *const u64).cast(), 8) };
            };
            // SAFETY: the action only calls write(2), which is async-signal-safe.
            signals.push(unsafe { signal_hook_registry::register(sig, on_signal) }?);
        }
        let positions = Positions::map(ring.as_fd().as_raw_fd(), size)
            .map_err(|e| log::warn!("the ring buffer's fill cannot be measured: {e}"))
            .ok();
        Ok(Ring {
            ring,
            epoll,
            stop,
            signals,
            interval: DRAIN_INTERVAL,
            tap: None,
            positions,
            peak: 0,
        })
    }

    /// The highest fill (a fraction of the size) seen before a drain since the last call;
    /// `None` when it cannot be measured.
    pub(crate) fn take_peak_fill(&mut self) -> Option<f64> {
        let p = self.positions.as_ref()?;
        let f = self.peak as f64 / p.size.max(1) as f64;
        self.peak = 0;
        Some(f)
    }

    /// Also write every record drained from now on to `tap`.
    pub(crate) fn tap(&mut self, tap: Tap) {
        self.tap = Some(tap);
    }

    /// The tap, to flush at the end.
    pub(crate) fn untap(&mut self) -> Option<Tap> {
        self.tap.take()
    }

    /// Block until the kernel wakes us up, the interval passes (no later than `limit`), or a
    /// stop signal arrives. One syscall.
    pub(crate) fn wait(&mut self, limit: Option<Duration>) -> io::Result<Woken> {
        let wait = limit.map_or(self.interval, |l| l.min(self.interval));
        let ms = wait.as_millis().try_into().unwrap_or(libc::c_int::MAX);
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 2];
        // SAFETY: `evs` is valid for two entries.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), evs.as_mut_ptr(), 2, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            // A signal interrupted the wait; its handler has written the eventfd if it was ours.
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(self.stopped())
            } else {
                Err(e)
            };
        }
        let got = &evs[..n as usize];
        if got.iter().any(|e| e.u64 == STOP) {
            return Ok(Woken::Stop);
        }
        Ok(Woken::Drain)
    }

    /// Whether a stop signal is pending (a non-blocking read of the eventfd).
    fn stopped(&self) -> Woken {
        let mut v = 0u64;
        // SAFETY: reads 8 bytes into `v`; the fd is non-blocking.
        let r = unsafe { libc::read(self.stop.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        if r == 8 {
            Woken::Stop
        } else {
            Woken::Drain
        }
    }

    /// Hand every available record to `f`; returns how many there were. An empty ring lets
    /// the next wait grow towards [`IDLE_INTERVAL`]; records bring it back to the interval.
    pub(crate) fn drain(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        if let Some(p) = &self.positions {
            self.peak = self.peak.max(p.used());
        }
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            if let Some(t) = &mut self.tap {
                if let Err(e) = t.write(&item) {
                    log::warn!("--raw-out: {e}; no more records written");
                    self.tap = None;
                }
            }
            f(&item);
            n += 1;
        }
        self.interval = if n == 0 {
            (self.interval * 2).min(IDLE_INTERVAL)
        } else {
            DRAIN_INTERVAL
        };
        n
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        for id in self.signals.drain(..) {
            signal_hook_registry::unregister(id);
        }
    }
}
