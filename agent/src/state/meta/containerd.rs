//! containerd's own API (`containerd.services.containers.v1` on containerd's socket): the
//! containers `ctr`, nerdctl and other clients make, in whichever containerd namespace.

use std::path::Path;

use containerd_client::services::v1::{
    containers_client::ContainersClient, images_client::ImagesClient,
    namespaces_client::NamespacesClient, version_client::VersionClient, Container,
    GetContainerRequest, GetImageRequest, ListNamespacesRequest,
};
use tonic::{transport::Channel, Request};

use super::{grpc, oci, split_image, Meta, MetaError};

/// The request header naming the namespace a call is about.
const NAMESPACE: &str = "containerd-namespace";

/// A request in namespace `ns`.
fn within<T>(msg: T, ns: &str) -> Result<Request<T>, MetaError> {
    let mut r = Request::new(msg);
    let v = ns
        .parse()
        .map_err(|_| MetaError::Garbage(format!("namespace {ns:?}")))?;
    r.metadata_mut().insert(NAMESPACE, v);
    Ok(r)
}

/// Container `id`: looked for in `namespace` first (`ctr` makes its cgroups
/// `/<namespace>/<id>`), then in every namespace containerd has.
pub(crate) async fn lookup(
    sock: &Path,
    id: &str,
    namespace: Option<&str>,
) -> Result<Meta, MetaError> {
    let ch = grpc::connect(sock).await?;
    let mut tried: Vec<String> = Vec::new();
    if let Some(ns) = namespace {
        if let Some(m) = find(&ch, ns, id).await? {
            return Ok(m);
        }
        tried.push(ns.to_string());
    }
    let all = NamespacesClient::new(ch.clone())
        .list(ListNamespacesRequest::default())
        .await
        .map_err(|s| grpc::status(s, id))?
        .into_inner()
        .namespaces;
    for ns in all.iter().map(|n| n.name.as_str()) {
        if tried.iter().any(|t| t == ns) {
            continue;
        }
        if let Some(m) = find(&ch, ns, id).await? {
            return Ok(m);
        }
    }
    Err(MetaError::NotFound(id.to_string()))
}

/// Container `id` of namespace `ns`, if it has one.
async fn find(ch: &Channel, ns: &str, id: &str) -> Result<Option<Meta>, MetaError> {
    let ask = GetContainerRequest { id: id.to_string() };
    let c = match ContainersClient::new(ch.clone())
        .get(within(ask, ns)?)
        .await
    {
        Ok(r) => r.into_inner().container,
        Err(s) => match grpc::status(s, id) {
            MetaError::NotFound(_) => return Ok(None),
            e => return Err(e),
        },
    };
    let c = c.ok_or_else(|| MetaError::Garbage("a container answer without a container".into()))?;
    let mut m = meta(c)?;
    // The image's digest is the image record's target (the manifest it was pulled or
    // imported as); a missing image is no reason to fail the container.
    if !m.image.is_empty() {
        let ask = GetImageRequest {
            name: m.image.clone(),
        };
        if let Ok(r) = ImagesClient::new(ch.clone()).get(within(ask, ns)?).await {
            if let Some(t) = r.into_inner().image.and_then(|i| i.target) {
                m.image_digest = t.digest;
            }
        }
    }
    Ok(Some(m))
}

/// containerd's record → metadata. A container has no name of its own: nerdctl keeps one in
/// a label; otherwise it is the id's first 12 characters, as Falco names it (`ctr run IMAGE
/// NAME` makes NAME the id).
pub(crate) fn meta(c: Container) -> Result<Meta, MetaError> {
    if c.id.is_empty() {
        return Err(MetaError::Garbage("a container without an id".into()));
    }
    let spec: Option<oci::Spec> = match &c.spec {
        Some(any) if !any.value.is_empty() => Some(
            serde_json::from_slice(&any.value)
                .map_err(|e| MetaError::Garbage(format!("the container's spec: {e}")))?,
        ),
        _ => None,
    };
    let name = c
        .labels
        .get("nerdctl/name")
        .cloned()
        .unwrap_or_else(|| c.id.chars().take(12).collect());
    let (image_repository, image_tag, image_digest) = split_image(&c.image);
    let start_ts = c.created_at.map_or(0, |t| {
        u64::try_from(t.seconds).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.nanos).unwrap_or(0)
    });
    Ok(Meta {
        engine: "containerd",
        name,
        image: c.image,
        image_repository,
        image_tag,
        image_digest,
        privileged: spec.as_ref().and_then(oci::Spec::privileged),
        mounts: spec.as_ref().map(oci::Spec::mounts).unwrap_or_default(),
        start_ts,
        labels: c.labels.into_iter().collect(),
        ..Meta::default()
    })
}

/// Whether containerd answers on `sock` (its version service), within a second.
pub(crate) async fn ping(sock: &Path) -> bool {
    let ask = async {
        let ch = grpc::connect(sock).await.ok()?;
        VersionClient::new(ch).version(()).await.ok()
    };
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(1), ask).await,
        Ok(Some(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_container_record() {
        let spec = r#"{"process": {"capabilities": {"bounding": ["CAP_KILL"]}},
            "mounts": [{"destination": "/data", "source": "/srv", "options": ["rbind", "rw", "rprivate"]}],
            "linux": {"maskedPaths": ["/proc/kcore"]}}"#;
        let c = Container {
            id: "shadow-reader".into(),
            image: "docker.io/sysaudit-test/busybox:1.0".into(),
            labels: [("team".to_string(), "blue".to_string())].into(),
            spec: Some(prost_types::Any {
                type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec".into(),
                value: spec.as_bytes().to_vec(),
            }),
            created_at: Some(prost_types::Timestamp {
                seconds: 1_796_245_200,
                nanos: 5,
            }),
            ..Container::default()
        };
        let m = meta(c).expect("reads");
        // Named as Falco names it: the id's first 12 characters.
        assert_eq!((m.engine, m.name.as_str()), ("containerd", "shadow-reade"));
        assert_eq!(
            (m.image_repository.as_str(), m.image_tag.as_str()),
            ("docker.io/sysaudit-test/busybox", "1.0")
        );
        assert_eq!(m.privileged, Some(false));
        assert_eq!(m.mounts_text(), "/srv:/data::true:rprivate");
        assert_eq!(m.start_ts, 1_796_245_200_000_000_005);
        assert_eq!(m.labels.get("team").map(String::as_str), Some("blue"));
    }

    #[test]
    fn a_garbled_record_is_an_error() {
        let bad_spec = Container {
            id: "x".into(),
            spec: Some(prost_types::Any {
                type_url: String::new(),
                value: b"{not json".to_vec(),
            }),
            ..Container::default()
        };
        assert!(matches!(meta(bad_spec), Err(MetaError::Garbage(_))));
        assert!(matches!(
            meta(Container::default()),
            Err(MetaError::Garbage(_))
        ));
    }
}
