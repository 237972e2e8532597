//! The Kubernetes CRI (`runtime.v1.RuntimeService`), which a kubelet drives: containerd's CRI
//! plugin on containerd's socket, CRI-O on its own. A container's status names it and its
//! image; its pod sandbox's status gives the pod (name, namespace, uid, labels, IP).

use std::{collections::BTreeMap, path::Path};

use k8s_cri::v1::{
    runtime_service_client::RuntimeServiceClient, ContainerFilter, ContainerStatus,
    ContainerStatusRequest, ListContainersRequest, MountPropagation, PodSandboxStatus,
    PodSandboxStatusRequest, VersionRequest,
};
use serde::Deserialize;
use tonic::transport::Channel;

use super::{grpc, oci, split_image, Meta, MetaError, Mount};

/// Container `id` (or pod sandbox `id`) as the CRI runtime on `sock` knows it.
pub(crate) async fn lookup(sock: &Path, id: &str) -> Result<Meta, MetaError> {
    let mut rt = RuntimeServiceClient::new(grpc::connect(sock).await?);
    let err = |s| grpc::status(s, id);
    let version = rt
        .version(VersionRequest {
            version: "v1".into(),
        })
        .await
        .map_err(err)?
        .into_inner();
    let engine = engine_name(&version.runtime_name);
    let filter = ContainerFilter {
        id: id.to_string(),
        ..ContainerFilter::default()
    };
    let listed = rt
        .list_containers(ListContainersRequest {
            filter: Some(filter),
        })
        .await
        .map_err(err)?
        .into_inner()
        .containers
        .into_iter()
        .find(|c| c.id == id);
    let Some(listed) = listed else {
        // Not a container: a pod's sandbox (its pause process), or nothing this runtime has.
        let sandbox = sandbox_status(&mut rt, id).await?;
        return Ok(sandbox_meta(engine, sandbox));
    };
    let status = rt
        .container_status(ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: true,
        })
        .await
        .map_err(err)?
        .into_inner();
    let c = status
        .status
        .ok_or_else(|| MetaError::Garbage("a container status without a status".into()))?;
    let verbose = status.info.get("info").map(String::as_str);
    // The pod may be going away while its container is asked about: the container still is.
    let sandbox = sandbox_status(&mut rt, &listed.pod_sandbox_id).await.ok();
    container_meta(engine, c, verbose, sandbox)
}

async fn sandbox_status(
    rt: &mut RuntimeServiceClient<Channel>,
    id: &str,
) -> Result<PodSandboxStatus, MetaError> {
    rt.pod_sandbox_status(PodSandboxStatusRequest {
        pod_sandbox_id: id.to_string(),
        verbose: false,
    })
    .await
    .map_err(|s| grpc::status(s, id))?
    .into_inner()
    .status
    .ok_or_else(|| MetaError::Garbage("a sandbox status without a status".into()))
}

/// Falco's `container.type` for a CRI runtime, by the name its version call gives.
fn engine_name(runtime: &str) -> &'static str {
    match runtime {
        "containerd" => "containerd",
        "cri-o" => "cri-o",
        _ => "cri",
    }
}

/// The verbose status's `info`: containerd puts the container's CRI config (with its security
/// context) and its OCI spec there, CRI-O its spec and a privileged flag.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Verbose {
    privileged: Option<bool>,
    config: Option<Config>,
    runtime_spec: Option<oci::Spec>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    linux: Option<LinuxConfig>,
    image: Option<ConfigImage>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfigImage {
    image: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LinuxConfig {
    security_context: Option<SecurityContext>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SecurityContext {
    privileged: Option<bool>,
}

/// Privileged as the runtime says: containerd in the container's config (leaving a false
/// flag out), CRI-O in a flag of its own; neither: not privileged (Falco's reading).
fn privileged(v: &Verbose) -> bool {
    let from_config = v
        .config
        .as_ref()
        .and_then(|c| c.linux.as_ref()?.security_context.as_ref()?.privileged);
    from_config
        .or(v.privileged)
        .or_else(|| v.runtime_spec.as_ref().and_then(oci::Spec::privileged))
        .unwrap_or(false)
}

/// The image as Falco's CRI engine names it: the status's image (a tag), with the repository
/// of the digest reference when there is one; an id (`sha256:…`) is replaced by the name the
/// runtime's annotations keep.
fn image(c: &ContainerStatus) -> String {
    let mut image = c
        .image
        .as_ref()
        .map(|i| i.image.clone())
        .unwrap_or_default();
    if image.is_empty() || image.starts_with("sha256") {
        for k in [
            "io.kubernetes.cri.image-name",
            "io.kubernetes.cri-o.Image",
            "io.kubernetes.cri-o.ImageName",
        ] {
            if let Some(v) = c.annotations.get(k).filter(|v| !v.is_empty()) {
                image = v.clone();
                break;
            }
        }
    }
    if let Some((repo, _)) = c.image_ref.split_once("@sha256:") {
        let (_, tag, _) = split_image(&image);
        image = if tag.is_empty() {
            repo.to_string()
        } else {
            format!("{repo}:{tag}")
        };
    }
    image
}

/// A container's status (and its pod's) → metadata, as Falco's CRI engine reads them.
pub(crate) fn container_meta(
    engine: &'static str,
    c: ContainerStatus,
    verbose: Option<&str>,
    sandbox: Option<PodSandboxStatus>,
) -> Result<Meta, MetaError> {
    let name = c
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let image = image(&c);
    if c.id.is_empty() || (name.is_empty() && image.is_empty()) {
        return Err(MetaError::Garbage(
            "a container status without an id, a name or an image".into(),
        ));
    }
    let (image_repository, image_tag, _) = split_image(&image);
    // `image_ref` is the repo digest (`repo@sha256:…`) or, for an image with none, its id.
    let image_digest = match c.image_ref.split_once('@') {
        Some((_, d)) if d.starts_with("sha256:") => d.to_string(),
        _ if c.image_ref.starts_with("sha256:") => c.image_ref.clone(),
        _ => String::new(),
    };
    let v: Option<Verbose> = verbose.and_then(|v| serde_json::from_str(v).ok());
    // The image's id: what the container was created from (containerd's config), else the
    // status's; the hex without its `sha256:`, as Falco shows it.
    let config_image = v
        .as_ref()
        .and_then(|v| v.config.as_ref()?.image.as_ref())
        .map(|i| i.image.as_str())
        .filter(|i| !i.is_empty());
    let image_id = match config_image {
        Some(i) => i.rsplit(':').next().unwrap_or(i).to_string(),
        None => c.image_id.trim_start_matches("sha256:").to_string(),
    };
    let mut m = Meta {
        engine,
        name,
        image,
        image_repository,
        image_tag,
        image_digest,
        image_id,
        privileged: v.as_ref().map(privileged),
        mounts: c.mounts.iter().map(mount).collect(),
        start_ts: u64::try_from(c.created_at).unwrap_or(0),
        labels: c.labels.into_iter().collect(),
        ..Meta::default()
    };
    if let Some(s) = sandbox {
        pod(&mut m, s);
    }
    Ok(m)
}

/// A pod's sandbox (its pause process) as a container of its own: no name or image, as
/// Falco has none for it either; its pod is known.
fn sandbox_meta(engine: &'static str, s: PodSandboxStatus) -> Meta {
    let mut m = Meta {
        engine,
        start_ts: u64::try_from(s.created_at).unwrap_or(0),
        labels: s.labels.clone().into_iter().collect(),
        ..Meta::default()
    };
    pod(&mut m, s);
    m
}

/// What the pod adds: its identity as the kubelet's labels say it (Falco's CRI engine sets
/// them from the sandbox, whatever the container's labels), its labels and its IP.
fn pod(m: &mut Meta, s: PodSandboxStatus) {
    m.labels
        .insert("io.kubernetes.sandbox.id".into(), s.id.clone());
    if let Some(p) = &s.metadata {
        for (k, v) in [
            ("io.kubernetes.pod.uid", &p.uid),
            ("io.kubernetes.pod.name", &p.name),
            ("io.kubernetes.pod.namespace", &p.namespace),
        ] {
            m.labels.insert(k.into(), v.clone());
        }
    }
    m.ip = s.network.map(|n| n.ip).unwrap_or_default();
    m.pod_labels = s.labels.into_iter().collect::<BTreeMap<_, _>>();
}

fn mount(m: &k8s_cri::v1::Mount) -> Mount {
    let propagation = match MountPropagation::try_from(m.propagation) {
        Ok(MountPropagation::PropagationPrivate) => "private",
        Ok(MountPropagation::PropagationHostToContainer) => "rslave",
        Ok(MountPropagation::PropagationBidirectional) => "rshared",
        Err(_) => "unknown",
    };
    Mount {
        source: m.host_path.clone(),
        dest: m.container_path.clone(),
        mode: String::new(),
        rw: !m.readonly,
        propagation: propagation.into(),
    }
}

/// Whether a CRI runtime answers on `sock` (its version call), within a second.
pub(crate) async fn ping(sock: &Path) -> bool {
    let ask = async {
        let mut rt = RuntimeServiceClient::new(grpc::connect(sock).await.ok()?);
        rt.version(VersionRequest {
            version: "v1".into(),
        })
        .await
        .ok()
    };
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(1), ask).await,
        Ok(Some(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_cri::v1::{ContainerMetadata, ImageSpec, PodSandboxMetadata, PodSandboxNetworkStatus};

    const ID: &str = "8c4a2d1e9f0b3a5c7d6e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c";

    fn status() -> ContainerStatus {
        ContainerStatus {
            id: ID.into(),
            metadata: Some(ContainerMetadata {
                name: "reader".into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: "docker.io/sysaudit-test/busybox:1.0".into(),
                ..ImageSpec::default()
            }),
            image_ref: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                .into(),
            created_at: 1_796_245_200_000_000_005,
            labels: [(
                "io.kubernetes.container.name".to_string(),
                "reader".to_string(),
            )]
            .into(),
            mounts: vec![k8s_cri::v1::Mount {
                container_path: "/data".into(),
                host_path: "/srv/data".into(),
                readonly: true,
                propagation: MountPropagation::PropagationHostToContainer as i32,
                ..k8s_cri::v1::Mount::default()
            }],
            ..ContainerStatus::default()
        }
    }

    fn sandbox() -> PodSandboxStatus {
        PodSandboxStatus {
            id: "5f3c".into(),
            metadata: Some(PodSandboxMetadata {
                name: "web-1".into(),
                uid: "u-1".into(),
                namespace: "shop".into(),
                attempt: 0,
            }),
            network: Some(PodSandboxNetworkStatus {
                ip: "10.88.0.7".into(),
                ..PodSandboxNetworkStatus::default()
            }),
            labels: [("app".to_string(), "web".to_string())].into(),
            ..PodSandboxStatus::default()
        }
    }

    #[test]
    fn a_container_and_its_pod_are_read_as_falco_reads_them() {
        let verbose = r#"{"sandboxID": "5f3c", "config": {"image": {"image": "sha256:0123456789abcdef"},
            "linux": {"security_context": {"privileged": true}}}}"#;
        let m =
            container_meta("containerd", status(), Some(verbose), Some(sandbox())).expect("reads");
        assert_eq!((m.engine, m.name.as_str()), ("containerd", "reader"));
        assert_eq!(m.image_tag, "1.0");
        assert_eq!(m.image_id, "0123456789abcdef");
        assert_eq!(
            m.image_digest,
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        );
        assert_eq!(m.privileged, Some(true));
        assert_eq!(m.mounts_text(), "/srv/data:/data::false:rslave");
        assert_eq!(m.start_ts, 1_796_245_200_000_000_005);
        assert_eq!(m.ip, "10.88.0.7");
        let label = |k: &str| m.labels.get(k).map(String::as_str);
        assert_eq!(label("io.kubernetes.pod.name"), Some("web-1"));
        assert_eq!(label("io.kubernetes.pod.namespace"), Some("shop"));
        assert_eq!(label("io.kubernetes.sandbox.id"), Some("5f3c"));
        assert_eq!(m.pod_labels.get("app").map(String::as_str), Some("web"));
    }

    #[test]
    fn privilege_comes_from_the_config_the_flag_or_the_spec() {
        let p = |j: &str| privileged(&serde_json::from_str(j).expect("json"));
        assert!(!p(r#"{"config": {"linux": {}}}"#));
        assert!(p(r#"{"privileged": true}"#));
        assert!(!p("{}"));
    }

    #[test]
    fn an_image_is_named_by_its_repository_digest_and_tag() {
        let mut c = status();
        c.image_ref = "docker.io/sysaudit-test/busybox@sha256:ab".into();
        assert_eq!(image(&c), "docker.io/sysaudit-test/busybox:1.0");
        c.image = Some(ImageSpec {
            image: "sha256:0123".into(),
            ..ImageSpec::default()
        });
        c.image_ref = String::new();
        c.annotations
            .insert("io.kubernetes.cri.image-name".into(), "app:v2".into());
        assert_eq!(image(&c), "app:v2");
    }

    #[test]
    fn a_sandbox_carries_its_pod() {
        let m = sandbox_meta("cri-o", sandbox());
        assert_eq!((m.engine, m.name.as_str()), ("cri-o", ""));
        assert_eq!(
            m.labels.get("io.kubernetes.pod.uid").map(String::as_str),
            Some("u-1")
        );
    }

    #[test]
    fn a_garbled_status_is_an_error() {
        let empty = ContainerStatus::default();
        assert!(matches!(
            container_meta("cri", empty, None, None),
            Err(MetaError::Garbage(_))
        ));
    }
}
