//! Container ids from cgroup paths, for the path shapes each runtime and cgroup driver
//! produces. The deepest matching component wins, so a container's own sub-cgroups
//! (`/docker/<id>/init.scope`) resolve to the container.

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Who created the container, as far as the cgroup path tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Runtime {
    Docker,
    Containerd,
    Crio,
    Podman,
    /// A Kubernetes pod container under the cgroupfs driver (containerd or CRI-O).
    Cri,
    Lxc,
    /// Not recognised by its path (plain runc `cgroupsPath`, `ctr`, others): a container only
    /// because its tasks run in their own pid namespace.
    Unknown,
}

impl Runtime {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Cri => "cri",
            Runtime::Lxc => "lxc",
            Runtime::Unknown => "unknown",
        }
    }
}

/// What a cgroup path says about its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PathKind {
    /// A container of a known runtime.
    Container { runtime: Runtime, id: String },
    /// A runtime's helper next to a container (conmon): host, not the container.
    Helper,
    /// Nothing recognised.
    Other,
}

struct Pattern {
    re: Regex,
    /// `None` marks a helper cgroup.
    runtime: Option<Runtime>,
}

fn patterns() -> &'static [Pattern] {
    static P: OnceLock<Vec<Pattern>> = OnceLock::new();
    P.get_or_init(|| {
        let hex = "([0-9a-f]{64})";
        let list: Vec<(String, Option<Runtime>)> = vec![
            // systemd driver scopes
            (format!("^docker-{hex}\\.scope$"), Some(Runtime::Docker)),
            (
                format!("^cri-containerd-{hex}\\.scope$"),
                Some(Runtime::Containerd),
            ),
            (format!("^crio-conmon-{hex}\\.scope$"), None),
            (format!("^crio-{hex}(\\.scope)?$"), Some(Runtime::Crio)),
            (format!("^libpod-conmon-{hex}\\.scope$"), None),
            (format!("^libpod-{hex}(\\.scope)?$"), Some(Runtime::Podman)),
            ("^lxc\\.payload\\.(.+)$".to_string(), Some(Runtime::Lxc)),
        ];
        list.into_iter()
            .map(|(re, runtime)| Pattern {
                re: Regex::new(&re).expect("static pattern"),
                runtime,
            })
            .collect()
    })
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Classify a cgroup v2 path (as in `/proc/<pid>/cgroup`, starting with `/`).
/// Depth of a cgroup below the root (`/a/b` → 2): the level `bpf_get_current_ancestor_cgroup_id`
/// takes.
pub(crate) fn level(path: &str) -> u32 {
    path.split('/').filter(|c| !c.is_empty()).count() as u32
}

pub(crate) fn classify(path: &str) -> PathKind {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for (i, comp) in comps.iter().enumerate().rev() {
        for p in patterns() {
            if let Some(c) = p.re.captures(comp) {
                return match p.runtime {
                    Some(runtime) => PathKind::Container {
                        runtime,
                        id: c[1].to_string(),
                    },
                    None => PathKind::Helper,
                };
            }
        }
        // cgroupfs drivers: a bare 64-hex id under a runtime's parent.
        if is_hex64(comp) {
            let parent = if i > 0 { comps[i - 1] } else { "" };
            let runtime = if parent == "docker" {
                Runtime::Docker
            } else if comps.first().is_some_and(|c| c.starts_with("kubepods")) {
                Runtime::Cri
            } else {
                Runtime::Unknown
            };
            return PathKind::Container {
                runtime,
                id: comp.to_string(),
            };
        }
        if i > 0 && (comps[i - 1] == "lxc" || comps[i - 1] == "lxc.payload") {
            return PathKind::Container {
                runtime: Runtime::Lxc,
                id: comp.to_string(),
            };
        }
    }
    PathKind::Other
}

/// The id a container gets when only its pid namespace says it is one: the last path
/// component (plain runc uses `cgroupsPath` = `/<parent>/<id>`; `ctr` uses `/<ns>/<id>`).
pub(crate) fn fallback_id(path: &str) -> Option<String> {
    path.rsplit('/').find(|c| !c.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "8c4a2d1e9f0b3a5c7d6e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c";

    fn container(rt: Runtime) -> PathKind {
        PathKind::Container {
            runtime: rt,
            id: ID.to_string(),
        }
    }

    #[test]
    fn real_world_path_shapes() {
        let cases: Vec<(String, PathKind)> = vec![
            // Docker, cgroupfs and systemd drivers, and a systemd inside the container.
            (format!("/docker/{ID}"), container(Runtime::Docker)),
            (format!("/system.slice/docker-{ID}.scope"), container(Runtime::Docker)),
            (format!("/docker/{ID}/init.scope"), container(Runtime::Docker)),
            // containerd CRI, systemd driver; cgroupfs driver in every QoS class.
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e3d4c_5b6a_7980_a1b2_c3d4e5f6a7b8.slice/cri-containerd-{ID}.scope"),
                container(Runtime::Containerd),
            ),
            (
                format!("/kubepods/besteffort/pod1f2e3d4c-5b6a-7980-a1b2-c3d4e5f6a7b8/{ID}"),
                container(Runtime::Cri),
            ),
            (
                format!("/kubepods/pod1f2e3d4c-5b6a-7980-a1b2-c3d4e5f6a7b8/{ID}"),
                container(Runtime::Cri),
            ),
            // CRI-O, with its conmon helper (host side).
            (
                format!("/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope"),
                container(Runtime::Crio),
            ),
            (format!("/kubepods.slice/kubepods-pod1.slice/crio-conmon-{ID}.scope"), PathKind::Helper),
            (format!("/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope/container"), container(Runtime::Crio)),
            // podman: cgroupfs and systemd managers, conmon, nested systemd.
            (format!("/libpod_parent/libpod-{ID}"), container(Runtime::Podman)),
            (format!("/machine.slice/libpod-{ID}.scope"), container(Runtime::Podman)),
            (format!("/machine.slice/libpod-{ID}.scope/container"), container(Runtime::Podman)),
            (format!("/machine.slice/libpod-conmon-{ID}.scope"), PathKind::Helper),
            (
                format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"),
                container(Runtime::Podman),
            ),
            // LXC
            ("/lxc.payload.web1".to_string(), PathKind::Container { runtime: Runtime::Lxc, id: "web1".into() }),
            ("/lxc/web1".to_string(), PathKind::Container { runtime: Runtime::Lxc, id: "web1".into() }),
            // An unknown runtime with a 64-hex id (garden, nerdctl's cgroupfs layout).
            (format!("/default/{ID}"), container(Runtime::Unknown)),
            // Host shapes: root, systemd services and user sessions, plain runc paths.
            ("/".to_string(), PathKind::Other),
            ("/system.slice/ssh.service".to_string(), PathKind::Other),
            ("/user.slice/user-0.slice/session-3.scope".to_string(), PathKind::Other),
            ("/init.scope".to_string(), PathKind::Other),
            ("/sysaudit-test/ctr-1".to_string(), PathKind::Other),
            // Upper-case hex is not a runtime id.
            (format!("/docker/{}", ID.to_uppercase()), PathKind::Other),
        ];
        for (path, want) in cases {
            assert_eq!(classify(&path), want, "{path}");
        }
    }

    #[test]
    fn fallback_is_the_last_component() {
        assert_eq!(
            fallback_id("/sysaudit-test/ctr-1").as_deref(),
            Some("ctr-1")
        );
        assert_eq!(fallback_id("/k8s.io/abc/").as_deref(), Some("abc"));
        assert_eq!(fallback_id("/"), None);
    }
}
