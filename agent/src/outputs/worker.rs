//! An output that delivers on its own thread behind a bounded queue, so a slow or stuck
//! receiver (an HTTP endpoint, a program, syslog) never stalls the event loop: what does not
//! fit the queue, and what the receiver refuses, is counted and reported, never silent.

use std::{
    io,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{sync_channel, Receiver, SyncSender, TrySendError},
        Arc,
    },
    thread::JoinHandle,
};

use super::{Output, Shape};
use crate::{
    messages::message,
    rules::{Alert, Priority},
};

/// Alerts waiting for their receiver at most, unless `outputs_queue.capacity` says.
pub(crate) const QUEUE: usize = 1024;

/// Delivers one rendered alert; an error is counted (and said once).
pub(crate) trait Deliver: Send + 'static {
    fn deliver(&mut self, priority: Priority, line: &str) -> Result<(), String>;
    /// Called once after the last alert, on the worker thread.
    fn finish(&mut self) {}
}

pub(crate) struct Worker {
    name: String,
    shape: Shape,
    tx: Option<SyncSender<(Priority, String)>>,
    thread: Option<JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
    shared: Arc<Shared>,
}

/// What the worker thread and the output share.
#[derive(Default)]
pub(crate) struct Shared {
    /// Alerts the thread could not deliver.
    pub(crate) failed: AtomicU64,
    /// Set when a reload replaces the output: stop without waiting for a down receiver.
    pub(crate) hurry: AtomicBool,
}

/// What a worker thread receives: each alert's priority and rendered line.
pub(crate) type Queue = Receiver<(Priority, String)>;

impl Worker {
    /// A worker delivering with `d`, `queue` alerts waiting at most.
    pub(crate) fn spawn(
        name: String,
        shape: Shape,
        queue: usize,
        mut d: impl Deliver,
    ) -> io::Result<Worker> {
        let n = name.clone();
        Worker::spawn_loop(name, shape, queue, move |rx, shared| {
            let mut reported = false;
            for (priority, line) in rx {
                if let Err(e) = d.deliver(priority, &line) {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    if !reported {
                        message!("output {n}: {e}");
                        reported = true;
                    }
                }
            }
            d.finish();
        })
    }

    /// A worker whose thread runs `run` on the queue (until it disconnects), counting in
    /// `shared.failed` what it could not deliver.
    pub(crate) fn spawn_loop(
        name: String,
        shape: Shape,
        queue: usize,
        run: impl FnOnce(Queue, Arc<Shared>) + Send + 'static,
    ) -> io::Result<Worker> {
        let (tx, rx) = sync_channel::<(Priority, String)>(queue.max(1));
        let shared = Arc::new(Shared::default());
        let f = shared.clone();
        let thread = std::thread::Builder::new()
            .name(thread_name(&name))
            .spawn(move || run(rx, f))?;
        Ok(Worker {
            name,
            shape,
            tx: Some(tx),
            thread: Some(thread),
            dropped: Arc::new(AtomicU64::new(0)),
            shared,
        })
    }
}

/// A thread name (at most 15 bytes on Linux): the output's kind.
fn thread_name(name: &str) -> String {
    name.split_whitespace()
        .next()
        .unwrap_or("output")
        .chars()
        .take(15)
        .collect()
}

impl Output for Worker {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        let Some(tx) = &self.tx else { return Ok(()) };
        match tx.try_send((alert.priority, self.shape.render(alert))) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => {
                Err(io::Error::other(format!("{} stopped", self.name)))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Deliver what is queued, then stop.
    fn close(&mut self) -> io::Result<()> {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        Ok(())
    }

    fn retire(&mut self) -> io::Result<()> {
        self.shared.hurry.store(true, Ordering::Relaxed);
        self.close()
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed) + self.shared.failed.load(Ordering::Relaxed)
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
