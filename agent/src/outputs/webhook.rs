//! Alerts POSTed as Falco JSON to an HTTP endpoint (as Falco's `http_output`, which
//! Falcosidekick and event-generator consume). Posting happens on a thread behind a bounded
//! queue, so a slow endpoint never stalls the event loop; what does not fit is counted.

use crate::messages::message;
use std::{
    io,
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc::{sync_channel, SyncSender, TrySendError},
        Arc,
    },
    thread::JoinHandle,
    time::Duration,
};

use super::Output;
use crate::rules::Alert;

/// Alerts waiting to be posted at most.
const QUEUE: usize = 1024;

pub(crate) struct Webhook {
    url: String,
    tx: Option<SyncSender<String>>,
    worker: Option<JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl Webhook {
    pub(crate) fn new(url: &str) -> Result<Webhook, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "webhook URL '{url}' must start with http:// or https://"
            ));
        }
        let (tx, rx) = sync_channel::<String>(QUEUE);
        let failed = Arc::new(AtomicU64::new(0));
        let f = failed.clone();
        let target = url.to_string();
        let worker = std::thread::Builder::new()
            .name("webhook".into())
            .spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(5)))
                    .build()
                    .into();
                let mut reported = false;
                for body in rx {
                    let r = agent
                        .post(&target)
                        .header("Content-Type", "application/json")
                        .send(body.as_bytes());
                    if let Err(e) = r {
                        f.fetch_add(1, Ordering::Relaxed);
                        if !reported {
                            message!("webhook {target}: {e}");
                            reported = true;
                        }
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Webhook {
            url: url.to_string(),
            tx: Some(tx),
            worker: Some(worker),
            dropped: Arc::new(AtomicU64::new(0)),
            failed,
        })
    }
}

impl Output for Webhook {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        let Some(tx) = &self.tx else { return Ok(()) };
        match tx.try_send(alert.to_json().to_string()) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(io::Error::other("webhook worker stopped")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        self.tx.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        Ok(())
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }

    fn name(&self) -> String {
        format!("webhook {}", self.url)
    }
}

impl Drop for Webhook {
    /// Deliver what is queued before exiting.
    fn drop(&mut self) {
        let _ = self.close();
    }
}
