//! `profile --pod NAMESPACE/NAME`: every container of a Kubernetes pod, one profile each,
//! named `<pod>-<container>` — the name a pod's `localhostProfile` (or an SPO
//! SeccompProfile) refers to.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{bail, Context as _};

use crate::{
    seccomp::{profile::write_atomic, Format, Profile},
    state::containers::Container,
};

/// `NAMESPACE/NAME` → its two halves.
pub(super) fn parse(v: &str) -> anyhow::Result<(String, String)> {
    let ok = |s: &str| !s.is_empty() && !s.contains('/') && !s.chars().any(char::is_whitespace);
    match v.split_once('/') {
        Some((ns, name)) if ok(ns) && ok(name) => Ok((ns.to_string(), name.to_string())),
        _ => bail!("--pod '{v}': give the pod as NAMESPACE/NAME"),
    }
}

/// The pod's containers already running (their engines' answers given a moment: a pod is
/// known by its metadata only).
pub(super) fn running(
    running: &[Arc<Container>],
    namespace: &str,
    name: &str,
) -> Vec<Arc<Container>> {
    let t = std::time::Instant::now();
    while running.iter().any(|c| !c.meta.is_settled()) && t.elapsed() < crate::state::meta::HOLD * 5
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    running
        .iter()
        .filter(|c| c.meta().is_some_and(|m| m.in_pod(namespace, name)))
        .cloned()
        .collect()
}

/// The pod's own cgroup, the parent of its containers' (`/kubepods/<qos>/pod<uid>`): it
/// stays populated while the pod's sandbox runs, so its emptying ends the recording.
pub(super) fn pod_dir(cg_root: &Path, container_cgroup: &str) -> Option<PathBuf> {
    let parent = Path::new(container_cgroup).parent()?;
    let rel = parent.strip_prefix("/").ok()?;
    (!rel.as_os_str().is_empty()).then(|| cg_root.join(rel))
}

/// The file a container's profile goes to in `dir`.
pub(super) fn file(dir: &Path, profile_name: &str, format: Format) -> PathBuf {
    let ext = match format {
        Format::Oci => "json",
        Format::Spo(_) => "yaml",
    };
    dir.join(format!("{profile_name}.{ext}"))
}

/// Write each container's profile (`name`, profile) into `dir`; the files written.
pub(super) fn write(
    dir: &Path,
    pod: &str,
    profiles: &[(String, Profile)],
    format: Format,
) -> anyhow::Result<Vec<(String, PathBuf)>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut out = Vec::new();
    for (container, p) in profiles {
        let name = format!("{pod}-{container}");
        let path = file(dir, &name, format);
        write_atomic(&path, &p.render(format, &name))
            .with_context(|| format!("writing {}", path.display()))?;
        out.push((name, path));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_is_named_by_its_namespace_and_name() {
        assert_eq!(
            parse("shop/web-1").expect("parses"),
            ("shop".into(), "web-1".into())
        );
        for bad in ["web-1", "/web", "shop/", "a/b/c", "sh op/web"] {
            let e = parse(bad).expect_err(bad).to_string();
            assert!(e.contains("NAMESPACE/NAME"), "{e}");
        }
    }

    #[test]
    fn the_pod_cgroup_is_its_containers_parent() {
        let root = Path::new("/sys/fs/cgroup/unified");
        assert_eq!(
            pod_dir(root, "/kubepods/besteffort/podu-1/8c4a"),
            Some(root.join("kubepods/besteffort/podu-1"))
        );
        assert_eq!(pod_dir(root, "/8c4a"), None);
        assert_eq!(
            file(
                Path::new("/p"),
                "web-1-reader",
                Format::Spo(Default::default())
            ),
            Path::new("/p/web-1-reader.yaml")
        );
    }
}
