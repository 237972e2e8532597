//! Draining the ring buffer. Records are submitted without a wakeup, so the reader drains on
//! a short timer; the kernel forces a wakeup only when the ring is half full.

use std::{io, time::Duration};

use aya::maps::{MapData, RingBuf};
use tokio::io::{unix::AsyncFd, Interest};

use crate::stream::raw::Tap;

/// How often the ring is drained when nothing woke us up.
pub(crate) const DRAIN_INTERVAL: Duration = Duration::from_millis(10);

pub(crate) struct Ring {
    fd: AsyncFd<RingBuf<MapData>>,
    /// Where every record is also written (`watch --raw-out`).
    tap: Option<Tap>,
}

impl Ring {
    pub(crate) fn new(ring: RingBuf<MapData>) -> io::Result<Ring> {
        // SAFETY: the RingBuf owns its map fd and keeps it open, unchanged, until it is
        // dropped together with the AsyncFd.
        let fd = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Ring { fd, tap: None })
    }

    /// Also write every record drained from now on to `tap`.
    pub(crate) fn tap(&mut self, tap: Tap) {
        self.tap = Some(tap);
    }

    /// The tap, to flush at the end.
    pub(crate) fn untap(&mut self) -> Option<Tap> {
        self.tap.take()
    }

    /// Wait until the kernel wakes us up (ring half full).
    pub(crate) async fn wakeup(&self) -> io::Result<()> {
        let mut guard = self.fd.readable().await?;
        guard.clear_ready();
        Ok(())
    }

    /// Hand every available record to `f`; returns how many there were.
    pub(crate) fn drain(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let ring = self.fd.get_mut();
        let mut n = 0;
        while let Some(item) = ring.next() {
            if let Some(t) = &mut self.tap {
                if let Err(e) = t.write(&item) {
                    log::warn!("--raw-out: {e}; no more records written");
                    self.tap = None;
                }
            }
            f(&item);
            n += 1;
        }
        n
    }
}
