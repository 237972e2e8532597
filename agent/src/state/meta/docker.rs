//! Docker Engine API: `GET /containers/{id}/json` (container inspect) on dockerd's socket.

use std::{collections::BTreeMap, path::Path};

use serde::Deserialize;

use super::{http, split_image, Meta, MetaError, Mount};

/// The container's metadata, from dockerd.
pub(crate) async fn inspect(sock: &Path, id: &str) -> Result<Meta, MetaError> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(MetaError::NotFound(id.to_string()));
    }
    let (status, body) = http::get(sock, &format!("/containers/{id}/json")).await?;
    match status {
        200 => parse(&body),
        404 => Err(MetaError::NotFound(id.to_string())),
        s => Err(MetaError::Http(format!(
            "status {s}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))),
    }
}

/// The container as dockerd's container list shows it: name, image, labels, mounts. The list
/// reads dockerd's in-memory view, so it answers while the container is still starting,
/// when an inspect waits for the container's lock (hundreds of ms); privilege and start
/// time come from the inspect afterwards.
pub(crate) async fn list_one(sock: &Path, id: &str) -> Result<Meta, MetaError> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(MetaError::NotFound(id.to_string()));
    }
    // filters={"id":["<id>"]}, URL-encoded.
    let path = format!("/containers/json?all=1&filters=%7B%22id%22%3A%5B%22{id}%22%5D%7D");
    let (status, body) = http::get(sock, &path).await?;
    if status != 200 {
        return Err(MetaError::Http(format!("status {status}")));
    }
    parse_list(&body)?.ok_or_else(|| MetaError::NotFound(id.to_string()))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Listed {
    names: Vec<String>,
    image: String,
    #[serde(rename = "ImageID")]
    image_id: String,
    labels: Option<BTreeMap<String, String>>,
    mounts: Vec<DockerMount>,
}

/// A container list answer → the metadata of its one entry (`None`: no such container).
pub(crate) fn parse_list(body: &[u8]) -> Result<Option<Meta>, MetaError> {
    let v: Vec<Listed> =
        serde_json::from_slice(body).map_err(|e| MetaError::Garbage(format!("list: {e}")))?;
    let Some(c) = v.into_iter().next() else {
        return Ok(None);
    };
    let name = c
        .names
        .first()
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    if name.is_empty() && c.image.is_empty() {
        return Err(MetaError::Garbage(
            "list entry without a name or an image".into(),
        ));
    }
    Ok(Some(meta(
        name,
        c.image,
        &c.image_id,
        None,
        c.mounts,
        0,
        c.labels,
    )))
}

fn meta(
    name: String,
    image: String,
    image_id: &str,
    privileged: Option<bool>,
    mounts: Vec<DockerMount>,
    start_ts: u64,
    labels: Option<BTreeMap<String, String>>,
) -> Meta {
    let (image_repository, image_tag, image_digest) = split_image(&image);
    let image_id = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    Meta {
        name,
        image,
        image_repository,
        image_tag,
        image_digest,
        image_id: image_id.to_string(),
        privileged,
        mounts: mounts
            .into_iter()
            .map(|m| Mount {
                source: m.source,
                dest: m.destination,
                mode: m.mode,
                rw: m.rw,
                propagation: m.propagation,
            })
            .collect(),
        start_ts,
        labels: labels.unwrap_or_default(),
        ..Meta::default()
    }
}

/// Whether dockerd answers on `sock` (`GET /_ping`), within a second.
pub(crate) async fn ping(sock: &Path) -> bool {
    let ask = http::get(sock, "/_ping");
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(1), ask).await,
        Ok(Ok((200, _)))
    )
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Inspect {
    name: String,
    /// The image's id (`sha256:…`).
    image: String,
    config: Config,
    host_config: HostConfig,
    mounts: Vec<DockerMount>,
    state: State,
    network_settings: NetworkSettings,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NetworkSettings {
    #[serde(rename = "IPAddress")]
    ip_address: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Healthcheck {
    test: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Config {
    image: String,
    labels: Option<BTreeMap<String, String>>,
    healthcheck: Option<Healthcheck>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct HostConfig {
    privileged: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DockerMount {
    source: String,
    destination: String,
    mode: String,
    #[serde(rename = "RW")]
    rw: bool,
    propagation: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct State {
    started_at: String,
}

/// An inspect answer → metadata.
pub(crate) fn parse(body: &[u8]) -> Result<Meta, MetaError> {
    let i: Inspect =
        serde_json::from_slice(body).map_err(|e| MetaError::Garbage(format!("inspect: {e}")))?;
    if i.name.is_empty() && i.config.image.is_empty() {
        return Err(MetaError::Garbage(
            "inspect without a name or an image".into(),
        ));
    }
    let healthcheck = i.config.healthcheck.as_ref().and_then(health_command);
    let mut m = meta(
        i.name.trim_start_matches('/').to_string(),
        i.config.image,
        &i.image,
        Some(i.host_config.privileged),
        i.mounts,
        started_ns(&i.state.started_at),
        i.config.labels,
    );
    m.ip = i.network_settings.ip_address;
    m.healthcheck = healthcheck;
    Ok(m)
}

/// A health check's command as Falco shows it: `NONE` when disabled, the command otherwise
/// (Docker's `CMD` / `CMD-SHELL` form word dropped).
fn health_command(h: &Healthcheck) -> Option<String> {
    let (kind, rest) = h.test.split_first()?;
    match kind.as_str() {
        "NONE" => Some("NONE".into()),
        "CMD" | "CMD-SHELL" if !rest.is_empty() => Some(rest.join(" ")),
        _ => None,
    }
}

/// RFC 3339 → ns since the epoch (0 for docker's "never started" zero time or garbage).
fn started_ns(t: &str) -> u64 {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|d| u64::try_from(d.unix_timestamp_nanos()).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of dockerd's answer (API 1.41), trimmed to what is read.
    const ANSWER: &str = r#"{
        "Id": "5f3c", "Name": "/shadow-reader",
        "Image": "sha256:0123456789abcdef0123",
        "State": {"Status": "running", "StartedAt": "2026-12-02T21:00:00.5Z"},
        "HostConfig": {"Privileged": true, "NetworkMode": "none"},
        "Mounts": [{"Type": "bind", "Source": "/srv/data", "Destination": "/data", "Mode": "ro", "RW": false, "Propagation": "rprivate"}],
        "NetworkSettings": {"IPAddress": "172.17.0.2"},
        "Config": {"Image": "sysaudit-test/busybox:1.0", "Labels": {"team": "blue"},
                   "Healthcheck": {"Test": ["CMD-SHELL", "wget -q localhost"]}}
    }"#;

    #[test]
    fn reads_an_inspect_answer() {
        let m = parse(ANSWER.as_bytes()).expect("parses");
        assert_eq!(m.name, "shadow-reader");
        assert_eq!(
            (m.image_repository.as_str(), m.image_tag.as_str()),
            ("sysaudit-test/busybox", "1.0")
        );
        assert_eq!(m.image_id, "0123456789abcdef0123");
        assert_eq!(m.privileged, Some(true));
        assert_eq!(m.mounts_text(), "/srv/data:/data:ro:false:rprivate");
        assert_eq!(m.start_ts, 1_796_245_200_500_000_000);
        assert_eq!(m.labels.get("team").map(String::as_str), Some("blue"));
        assert_eq!(m.ip, "172.17.0.2");
        assert_eq!(m.healthcheck.as_deref(), Some("wget -q localhost"));
        let none = Healthcheck {
            test: vec!["NONE".into()],
        };
        assert_eq!(health_command(&none).as_deref(), Some("NONE"));
    }

    #[test]
    fn reads_a_container_list_answer() {
        let list = r#"[{"Id": "5f3c", "Names": ["/shadow-reader"], "Image": "sysaudit-test/busybox:1.0",
            "ImageID": "sha256:0123456789abcdef", "Labels": {}, "State": "running",
            "Mounts": [{"Source": "/a", "Destination": "/b", "Mode": "", "RW": true, "Propagation": "rprivate"}]}]"#;
        let m = parse_list(list.as_bytes())
            .expect("parses")
            .expect("one entry");
        assert_eq!(
            (m.name.as_str(), m.image_tag.as_str()),
            ("shadow-reader", "1.0")
        );
        assert_eq!(m.privileged, None, "the list does not say");
        assert_eq!(m.mounts_text(), "/a:/b::true:rprivate");
        assert_eq!(parse_list(b"[]").expect("parses"), None);
        assert!(matches!(parse_list(b"{}"), Err(MetaError::Garbage(_))));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for g in [
            "",
            "[]",
            "{\"Name\": 5}",
            "{}",
            "\u{0}\u{1}",
            "{\"Config\": []}",
        ] {
            assert!(
                matches!(parse(g.as_bytes()), Err(MetaError::Garbage(_))),
                "{g:?}"
            );
        }
    }
}
