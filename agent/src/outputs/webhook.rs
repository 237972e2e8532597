//! Alerts POSTed as Falco JSON (or its text line) to an HTTP endpoint (as Falco's
//! `http_output`, which Falcosidekick and event-generator consume), from a [`Worker`]: every
//! alert goes through an on-disk [`Spool`] first and is delivered from its head, in order,
//! retried with back-off while the endpoint is down — across restarts of the agent too.

use std::{
    path::PathBuf,
    sync::{atomic::Ordering, mpsc::RecvTimeoutError, Arc},
    time::{Duration, Instant},
};

use super::{
    spool::Spool,
    worker::{Queue, Shared, Worker},
    Shape,
};
use crate::messages::message;

/// Alerts POSTed to an HTTP endpoint (`--webhook`, `http_output`).
pub(crate) struct Webhook;

/// How to reach the endpoint (Falco's `http_output` keys).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HttpOptions {
    pub user_agent: Option<String>,
    /// Do not verify the server's certificate.
    pub insecure: bool,
    /// Trust these CAs (a PEM file) instead of the bundled roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Present this certificate chain and key (PEM files): mutual TLS.
    pub client: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Where alerts wait for the endpoint (default: one directory per URL below
    /// [`SPOOL_ROOT`]), and how many bytes of them at most.
    pub spool_dir: Option<PathBuf>,
    pub spool_max_bytes: u64,
    /// Alerts waiting for the spool at most.
    pub queue: usize,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            user_agent: None,
            insecure: false,
            ca_file: None,
            client: None,
            spool_dir: None,
            spool_max_bytes: 64 << 20,
            queue: super::QUEUE,
        }
    }
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

/// POSTs each alert with one agent (its connections reused).
struct Post {
    agent: ureq::Agent,
    url: String,
    content_type: &'static str,
}

/// How one post went.
enum Sent {
    Yes,
    /// The endpoint refused this alert (a 4xx other than 429): retrying would not help.
    Refused(String),
    /// Down, slow or overloaded (no answer, 429, 5xx): try again later.
    Later(String),
}

impl Post {
    fn send(&self, body: &str) -> Sent {
        match self
            .agent
            .post(&self.url)
            .header("Content-Type", self.content_type)
            .send(body.as_bytes())
        {
            Ok(_) => Sent::Yes,
            Err(ureq::Error::StatusCode(c)) if c == 429 || c >= 500 => {
                Sent::Later(format!("HTTP {c}"))
            }
            Err(ureq::Error::StatusCode(c)) => Sent::Refused(format!("HTTP {c}")),
            Err(e) => Sent::Later(e.to_string()),
        }
    }
}

/// Retry delays: 250 ms, doubling, at most 30 s.
struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(30);

    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Backoff::MAX);
        d
    }
}

/// How long a stopping agent keeps trying a down endpoint before leaving the rest in the
/// spool for its next start.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The HTTP worker's loop: every alert into the spool, delivered from its head in order;
/// an endpoint that does not answer is retried with back-off while alerts keep coming.
fn durable(
    post: Post,
    mut spool: Spool,
    name: String,
    dir: String,
) -> impl FnOnce(Queue, Arc<Shared>) {
    move |rx, shared| {
        let failed = &shared.failed;
        let earlier = spool.pending_lines();
        if earlier > 0 {
            message!("output {name}: {earlier} alert(s) from an earlier run in its spool {dir}; delivered first");
        }
        let mut backoff = Backoff(Backoff::FIRST);
        let mut next = Instant::now();
        let mut down_since: Option<Instant> = None;
        let mut closing: Option<Instant> = None;
        let mut said_full = false;
        let mut said_refused = false;
        let mut store = |spool: &mut Spool, line: &str| match spool.push(line) {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                failed.fetch_add(1, Ordering::Relaxed);
                if !said_full {
                    message!("output {name}: its spool {dir} is full or cannot be written: alerts dropped (counted)");
                    said_full = true;
                }
            }
        };
        loop {
            match closing {
                None => {
                    let got = if spool.is_empty() {
                        rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
                    } else {
                        rx.recv_timeout(next.saturating_duration_since(Instant::now()))
                    };
                    match got {
                        Ok((_, line)) => store(&mut spool, &line),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => {
                            // Look at the grace (and a reload's hurry) before posting again.
                            closing = Some(Instant::now());
                            continue;
                        }
                    }
                    while let Ok((_, line)) = rx.try_recv() {
                        store(&mut spool, &line);
                    }
                }
                Some(since) => {
                    // Replaced by a reload: the next output delivers from the spool.
                    let hurry = shared.hurry.load(Ordering::Relaxed);
                    if spool.is_empty() || since.elapsed() >= CLOSE_GRACE || hurry {
                        break;
                    }
                    let left = CLOSE_GRACE.saturating_sub(since.elapsed());
                    std::thread::sleep(next.saturating_duration_since(Instant::now()).min(left));
                }
            }
            while Instant::now() >= next {
                let Ok(Some(line)) = spool.head() else { break };
                match post.send(&line) {
                    Sent::Yes => {
                        let _ = spool.pop();
                        backoff = Backoff(Backoff::FIRST);
                        if let Some(t) = down_since.take() {
                            message!(
                                "output {name}: delivering again after {:.1} s",
                                t.elapsed().as_secs_f64()
                            );
                        }
                    }
                    Sent::Refused(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        if !said_refused {
                            message!("output {name}: {e}: alert refused (counted)");
                            said_refused = true;
                        }
                        let _ = spool.pop();
                    }
                    Sent::Later(e) => {
                        if down_since.is_none() {
                            down_since = Some(Instant::now());
                            message!("output {name}: {e}; alerts wait in its spool {dir} and are retried");
                        }
                        next = Instant::now() + backoff.next();
                        break;
                    }
                }
            }
        }
        if spool.is_empty() {
            spool.remove();
        } else {
            message!(
                "output {name}: {} alert(s) left in its spool {dir}: the next output on it delivers them (a reload's, or the next start's)",
                spool.pending_lines()
            );
        }
    }
}

/// A webhook checked (URL, TLS files) but not started: its spool is not opened yet, so it
/// may take over one a retiring output still holds.
pub(crate) struct Prepared {
    post: Post,
    dir: PathBuf,
    max: u64,
    queue: usize,
    shape: Shape,
    name: String,
}

impl Webhook {
    /// The output posting to `url` through its spool, checked; [`Prepared::start`] starts it
    /// on its own thread.
    pub(crate) fn prepare(url: &str, shape: Shape, o: &HttpOptions) -> Result<Prepared, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "webhook URL '{url}' must start with http:// or https://"
            ));
        }
        let mut cfg = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .tls_config(tls(o)?);
        if let Some(ua) = &o.user_agent {
            cfg = cfg.user_agent(ua.as_str());
        }
        let post = Post {
            agent: cfg.build().into(),
            url: url.to_string(),
            // Falco's content types: its JSON alert, or its text line.
            content_type: if shape.json {
                "application/json"
            } else {
                "text/plain"
            },
        };
        Ok(Prepared {
            post,
            dir: o.spool_dir.clone().unwrap_or_else(|| default_spool(url)),
            max: o.spool_max_bytes,
            queue: o.queue,
            shape,
            name: format!("webhook {url}"),
        })
    }
}

impl Prepared {
    /// Open the spool and start delivering.
    pub(crate) fn start(self) -> Result<Worker, String> {
        let spool = Spool::open(&self.dir, self.max)
            .map_err(|e| format!("spool {}: {e}", self.dir.display()))?;
        Worker::spawn_loop(
            self.name.clone(),
            self.shape,
            self.queue,
            durable(self.post, spool, self.name, self.dir.display().to_string()),
        )
        .map_err(|e| e.to_string())
    }
}

/// Where alerts for `url` wait when none is configured: one directory per endpoint.
pub(crate) fn default_spool(url: &str) -> PathBuf {
    let name: String = url
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    PathBuf::from(SPOOL_ROOT).join(name)
}

/// Where the spools of the HTTP outputs live by default.
pub(crate) const SPOOL_ROOT: &str = "/var/lib/sysaudit/spool";
