//! The agent's web server (Falco's `webserver`): `/metrics` (Prometheus text, when metrics
//! are on), the health endpoint (`k8s_healthz_endpoint`, `/healthz` by default: the process
//! answers) and `/readyz` (capture is running: the probes are attached and the ring is read)
//! for Kubernetes probes. hyper's HTTP/1 server on a thread of its own with its own runtime:
//! the capture loop never serves a request.

use std::{net::SocketAddr, sync::Arc};

use http_body_util::Full;
use hyper::{body::Bytes, server::conn::http1, service::service_fn, Method, Request, Response};
use hyper_util::rt::TokioIo;

use super::Metrics;

/// What the server answers.
#[derive(Clone, Debug)]
pub(crate) struct Routes {
    pub healthz: String,
    /// `/metrics` is served (metrics enabled and `prometheus_metrics_enabled`).
    pub metrics: bool,
}

/// Bind `addr` now (a bad or taken address is an error at start), then serve from a thread.
pub(crate) fn start(
    addr: SocketAddr,
    routes: Routes,
    m: Arc<Metrics>,
) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("webserver".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    crate::messages::message!("webserver: cannot start its runtime: {e}");
                    return;
                }
            };
            rt.block_on(serve(listener, routes, m));
        })?;
    Ok(bound)
}

async fn serve(listener: std::net::TcpListener, routes: Routes, m: Arc<Metrics>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            crate::messages::message!("webserver: {e}");
            return;
        }
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (routes, m) = (routes.clone(), m.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let r = answer(&req, &routes, &m);
                async move { Ok::<_, std::convert::Infallible>(r) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn answer(
    req: &Request<hyper::body::Incoming>,
    routes: &Routes,
    m: &Metrics,
) -> Response<Full<Bytes>> {
    let reply = |status: u16, ctype: &str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
        if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        r
    };
    const JSON: &str = "application/json";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(405, "text/plain", "method not allowed\n".into());
    }
    let path = req.uri().path();
    if path == routes.healthz {
        return reply(200, JSON, r#"{"status": "ok"}"#.into());
    }
    match path {
        "/readyz" if m.ready() => reply(200, JSON, r#"{"status": "ok"}"#.into()),
        "/readyz" => reply(503, JSON, r#"{"status": "starting"}"#.into()),
        "/metrics" if routes.metrics => {
            reply(200, "text/plain; version=0.0.4; charset=utf-8", m.render())
        }
        _ => reply(404, "text/plain", "not found\n".into()),
    }
}
