//! podman without its service: the containers file of its storage (`containers.json` of
//! containers/storage), which holds each container's names and, in its metadata, the image it
//! was created from. Labels and mounts live only in libpod's database: the API has them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{split_image, Meta, MetaError};

/// The storage drivers whose containers file is looked for, in order.
const DRIVERS: [&str; 2] = ["overlay", "vfs"];

/// The containers file under storage root `root`, if any.
pub(crate) fn containers_file(root: &Path) -> Option<PathBuf> {
    DRIVERS
        .iter()
        .map(|d| root.join(format!("{d}-containers/containers.json")))
        .find(|p| p.is_file())
}

#[derive(Deserialize)]
struct Stored {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    /// A JSON document of its own, as a string.
    #[serde(default)]
    metadata: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct Metadata {
    image_name: String,
    image_id: String,
    /// Seconds since the epoch.
    created_at: u64,
}

/// Container `id` as podman's storage under `root` records it.
pub(crate) fn from_state(root: &Path, id: &str) -> Result<Meta, MetaError> {
    let file = containers_file(root).ok_or_else(|| {
        MetaError::Unreachable(format!("no containers file under {}", root.display()))
    })?;
    parse(&std::fs::read(&file)?, id)
}

/// A containers file → the metadata of container `id`.
pub(crate) fn parse(body: &[u8], id: &str) -> Result<Meta, MetaError> {
    let all: Vec<Stored> = serde_json::from_slice(body)
        .map_err(|e| MetaError::Garbage(format!("podman's containers file: {e}")))?;
    let c = all
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| MetaError::NotFound(id.to_string()))?;
    let m: Metadata = if c.metadata.is_empty() {
        Metadata::default()
    } else {
        serde_json::from_str(&c.metadata)
            .map_err(|e| MetaError::Garbage(format!("a container's metadata: {e}")))?
    };
    let (image_repository, image_tag, image_digest) = split_image(&m.image_name);
    Ok(Meta {
        engine: "podman",
        name: c.names.into_iter().next().unwrap_or_default(),
        image: m.image_name,
        image_repository,
        image_tag,
        image_digest,
        image_id: m.image_id,
        start_ts: m.created_at.saturating_mul(1_000_000_000),
        ..Meta::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "12c3648f966179fc1e1d3cd97a0751f666335e3363abc8db9387b3c9850ba51f";

    /// The shape of podman 4.3's file, trimmed.
    fn file() -> String {
        format!(
            r#"[{{"id": "{ID}", "names": ["pm-x"], "image": "e674",
                "metadata": "{{\"image-name\":\"localhost/sysaudit-test/bb:1.0\",\"image-id\":\"e67434eb\",\"name\":\"pm-x\",\"created-at\":1796286706}}",
                "created": "2026-12-03T08:31:46.860210573Z"}}]"#
        )
    }

    #[test]
    fn reads_a_container_from_the_storage_file() {
        let m = parse(file().as_bytes(), ID).expect("parses");
        assert_eq!((m.engine, m.name.as_str()), ("podman", "pm-x"));
        assert_eq!(m.image_repository, "localhost/sysaudit-test/bb");
        assert_eq!(m.image_tag, "1.0");
        assert_eq!(m.image_id, "e67434eb");
        assert_eq!(m.start_ts, 1_796_286_706_000_000_000);
        assert!(matches!(
            parse(file().as_bytes(), "other"),
            Err(MetaError::NotFound(_))
        ));
        assert!(matches!(parse(b"{", ID), Err(MetaError::Garbage(_))));
        let bad_meta = format!(r#"[{{"id": "{ID}", "metadata": "not json"}}]"#);
        assert!(matches!(
            parse(bad_meta.as_bytes(), ID),
            Err(MetaError::Garbage(_))
        ));
    }
}
