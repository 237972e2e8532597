//! What an OCI runtime spec (`config.json`, as containerd stores it and the CRI runtimes show
//! it in their verbose status) says about a container's privilege and mounts.

use serde::Deserialize;

use super::Mount;

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Spec {
    process: Option<Process>,
    mounts: Vec<SpecMount>,
    linux: Option<Linux>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Process {
    capabilities: Option<Capabilities>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Capabilities {
    bounding: Vec<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct Linux {
    masked_paths: Vec<String>,
    readonly_paths: Vec<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct SpecMount {
    destination: String,
    source: String,
    options: Vec<String>,
}

/// Mount options that name a propagation.
const PROPAGATIONS: [&str; 6] = [
    "rprivate", "private", "rslave", "slave", "rshared", "shared",
];

impl Spec {
    /// Whether the container was made privileged (`--privileged` in docker, ctr, nerdctl and
    /// the CRI): the spec has no flag of its own; what the flag turns into is every
    /// capability (CAP_SYS_ADMIN among them) with nothing of /proc masked or read-only, which
    /// an added capability alone does not give.
    pub(super) fn privileged(&self) -> Option<bool> {
        let caps = &self.process.as_ref()?.capabilities.as_ref()?.bounding;
        let all = caps.iter().any(|c| c == "CAP_SYS_ADMIN");
        let masked = self
            .linux
            .as_ref()
            .is_some_and(|l| !l.masked_paths.is_empty() || !l.readonly_paths.is_empty());
        Some(all && !masked)
    }

    /// The bind mounts (what `container.mount*` rules look at; the runtime's own /proc, /dev,
    /// /sys and tmpfs mounts are not the user's).
    pub(super) fn mounts(&self) -> Vec<Mount> {
        self.mounts
            .iter()
            .filter(|m| m.options.iter().any(|o| o == "bind" || o == "rbind"))
            .map(|m| Mount {
                source: m.source.clone(),
                dest: m.destination.clone(),
                mode: String::new(),
                rw: !m.options.iter().any(|o| o == "ro"),
                propagation: m
                    .options
                    .iter()
                    .find(|o| PROPAGATIONS.contains(&o.as_str()))
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).expect("spec")
    }

    #[test]
    fn a_privileged_spec_has_every_capability_and_no_masked_paths() {
        let all: Vec<String> = (0..41).map(|i| format!("\"CAP_{i}\"")).collect();
        let caps = format!("[\"CAP_SYS_ADMIN\",{}]", all.join(","));
        let privileged = spec(&format!(
            r#"{{"process": {{"capabilities": {{"bounding": {caps}}}}}, "linux": {{}}}}"#
        ));
        assert_eq!(privileged.privileged(), Some(true));
        let masked = spec(&format!(
            r#"{{"process": {{"capabilities": {{"bounding": {caps}}}}}, "linux": {{"maskedPaths": ["/proc/kcore"]}}}}"#
        ));
        assert_eq!(masked.privileged(), Some(false));
        let default = spec(
            r#"{"process": {"capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"]}}, "linux": {"maskedPaths": ["/proc/kcore"]}}"#,
        );
        assert_eq!(default.privileged(), Some(false));
        assert_eq!(spec("{}").privileged(), None);
    }

    #[test]
    fn bind_mounts_carry_their_mode_and_propagation() {
        let s = spec(
            r#"{"mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
                {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro", "rslave"]},
                {"destination": "/run/x.sock", "source": "/run/x.sock", "options": ["bind"]}
            ]}"#,
        );
        let m: Vec<String> = s.mounts().iter().map(Mount::text).collect();
        assert_eq!(
            m,
            [
                "/srv/data:/data::false:rslave",
                "/run/x.sock:/run/x.sock::true:"
            ]
        );
    }
}
