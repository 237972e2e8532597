//! Alerts POSTed as Falco JSON (or its text line) to an HTTP endpoint (as Falco's
//! `http_output`, which Falcosidekick and event-generator consume), from a [`Worker`].

use std::time::Duration;

use crate::rules::Priority;

use super::{
    worker::{Deliver, Worker},
    Shape,
};

/// Alerts POSTed to an HTTP endpoint (`--webhook`, `http_output`).
pub(crate) struct Webhook;

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

/// POSTs each alert with one agent (its connections reused).
struct Post {
    agent: ureq::Agent,
    url: String,
    content_type: &'static str,
}

impl Deliver for Post {
    fn deliver(&mut self, _: Priority, body: &str) -> Result<(), String> {
        self.agent
            .post(&self.url)
            .header("Content-Type", self.content_type)
            .send(body.as_bytes())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl Webhook {
    /// The output posting to `url`, on its own thread.
    pub(crate) fn start(url: &str, shape: Shape, o: &HttpOptions) -> Result<Worker, String> {
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
        Worker::spawn(format!("webhook {url}"), shape, post).map_err(|e| e.to_string())
    }
}
