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

use super::{Output, Shape};
use crate::rules::Alert;

/// Alerts waiting to be posted at most.
const QUEUE: usize = 1024;

pub(crate) struct Webhook {
    url: String,
    shape: Shape,
    tx: Option<SyncSender<String>>,
    worker: Option<JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

/// How to reach the endpoint (Falco's `http_output` keys).
#[derive(Clone, Debug, Default)]
pub(crate) struct HttpOptions {
    pub user_agent: Option<String>,
    /// Do not verify the server's certificate.
    pub insecure: bool,
    /// Trust these CAs (a PEM file) instead of the bundled roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Present this certificate chain and key (PEM files): mutual TLS.
    pub client: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

/// The TLS settings `o` asks for; errors name the file.
fn tls(o: &HttpOptions) -> Result<ureq::tls::TlsConfig, String> {
    use ureq::tls::{parse_pem, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};
    let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let certs = |p: &std::path::Path| -> Result<Vec<_>, String> {
        let pem = read(p)?;
        let v: Vec<_> = parse_pem(&pem)
            .filter_map(|i| match i {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if v.is_empty() {
            return Err(format!("{}: no PEM certificate", p.display()));
        }
        Ok(v)
    };
    let mut b = TlsConfig::builder().disable_verification(o.insecure);
    if let Some(ca) = &o.ca_file {
        b = b.root_certs(RootCerts::new_with_certs(&certs(ca)?));
    }
    if let Some((cert, key)) = &o.client {
        let k = PrivateKey::from_pem(&read(key)?).map_err(|e| format!("{}: {e}", key.display()))?;
        b = b.client_cert(Some(ClientCert::new_with_certs(&certs(cert)?, k)));
    }
    Ok(b.build())
}

impl Webhook {
    pub(crate) fn new(url: &str, shape: Shape, o: &HttpOptions) -> Result<Webhook, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "webhook URL '{url}' must start with http:// or https://"
            ));
        }
        let tls = tls(o)?;
        let (tx, rx) = sync_channel::<String>(QUEUE);
        let failed = Arc::new(AtomicU64::new(0));
        let f = failed.clone();
        let target = url.to_string();
        // Falco's content types: its JSON alert, or its text line.
        let content_type = if shape.json {
            "application/json"
        } else {
            "text/plain"
        };
        let user_agent = o.user_agent.clone();
        let worker = std::thread::Builder::new()
            .name("webhook".into())
            .spawn(move || {
                let mut cfg = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(5)))
                    .tls_config(tls);
                if let Some(ua) = user_agent {
                    cfg = cfg.user_agent(ua);
                }
                let agent: ureq::Agent = cfg.build().into();
                let mut reported = false;
                for body in rx {
                    let r = agent
                        .post(&target)
                        .header("Content-Type", content_type)
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
            shape,
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
        match tx.try_send(self.shape.render(alert)) {
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
