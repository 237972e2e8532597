//! gRPC over an engine's unix socket (tonic), shared by containerd's API and the CRI.

use std::path::Path;

use tonic::{transport::Channel, Code, Status};

use super::MetaError;

/// A channel to the socket; connecting fails at once when nothing listens there.
pub(super) async fn connect(sock: &Path) -> Result<Channel, MetaError> {
    // containerd-client's connector is a plain unix-socket one: it serves CRI-O's socket too.
    containerd_client::connect(sock)
        .await
        .map_err(|e| match std::error::Error::source(&e) {
            Some(cause) => MetaError::Unreachable(cause.to_string()),
            None => MetaError::Unreachable(e.to_string()),
        })
}

/// What a failed call means for the lookup.
pub(super) fn status(s: Status, id: &str) -> MetaError {
    match s.code() {
        Code::NotFound => MetaError::NotFound(id.to_string()),
        Code::Unavailable | Code::Cancelled => MetaError::Unreachable(s.message().to_string()),
        // tonic's own verdict on an answer it cannot decode.
        Code::Internal if s.message().contains("decode") => {
            MetaError::Garbage(s.message().to_string())
        }
        c => MetaError::Grpc(format!("{c:?}: {}", s.message())),
    }
}
