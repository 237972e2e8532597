//! One HTTP/1.1 GET over an engine's unix socket (hyper's client on a tokio `UnixStream`).

use std::path::Path;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::{body::Bytes, Request};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use super::MetaError;

/// The most of an answer read (an inspect is a few kB).
const MAX_BODY: usize = 4 << 20;

/// `GET path` on the socket: the status and the body.
pub(super) async fn get(sock: &Path, path: &str) -> Result<(u16, Bytes), MetaError> {
    let http = |e: &dyn std::fmt::Display| MetaError::Http(e.to_string());
    let stream = UnixStream::connect(sock).await?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| http(&e))?;
    // The connection is driven beside the request; it ends with it.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = Request::get(path)
        .header(hyper::header::HOST, "localhost")
        .body(Empty::<Bytes>::new())
        .map_err(|e| http(&e))?;
    let resp = send.send_request(req).await.map_err(|e| http(&e))?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| http(&*e))?
        .to_bytes();
    Ok((status, body))
}
