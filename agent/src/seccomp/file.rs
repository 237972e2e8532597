//! Profile files as users have them: OCI/Docker JSON (with `architectures` or Docker's
//! `archMap`) or a Security Profiles Operator `SeccompProfile` manifest (`v1` or `v1beta1`),
//! read into one raw form. Errors name the file and the place (line:column for JSON, the
//! YAML mark and key path for manifests).

use std::{fs, path::Path};

use serde::Deserialize;

use super::{
    profile::{ProfileError, PROVENANCE_ANNOTATION},
    provenance::Provenance,
};

/// The SPO API group; both of its versions are read.
pub(crate) const SPO_GROUP: &str = "security-profiles-operator.x-k8s.io";

/// `null` reads as absent: Docker's and podman's own profiles write `"args": null`.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One argument comparison of a rule (`args[]`).
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArgCmp {
    pub(crate) index: u32,
    pub(crate) value: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) value_two: u64,
    pub(crate) op: String,
}

/// `includes` / `excludes` of a Docker-style rule.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Filter {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) arches: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) caps: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) min_kernel: Option<String>,
}

impl Filter {
    pub(crate) fn is_empty(&self) -> bool {
        self.arches.is_empty() && self.caps.is_empty() && self.min_kernel.is_none()
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawRule {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) names: Vec<String>,
    /// The old single-name form (`"name": "read"`).
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) name: Option<String>,
    pub(crate) action: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) args: Vec<ArgCmp>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) includes: Filter,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) excludes: Filter,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) errno_ret: Option<u32>,
}

impl RawRule {
    pub(crate) fn all_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(String::as_str)
            .chain(self.name.as_deref())
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArchMapEntry {
    pub(crate) architecture: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) sub_architectures: Vec<String>,
}

/// A profile's body: the OCI document, or an SPO manifest's `spec`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawProfile {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) default_action: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) default_errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) architectures: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) arch_map: Vec<ArchMapEntry>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) syscalls: Vec<RawRule>,
    /// SPO: the profile this one is layered on.
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) base_profile_name: Option<String>,
    /// What sysaudit wrote of how it came to be (an SPO manifest's annotation).
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) sysaudit: Option<Provenance>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default, deserialize_with = "nullable")]
    api_version: String,
    #[serde(default, deserialize_with = "nullable")]
    kind: String,
    #[serde(default, deserialize_with = "nullable")]
    metadata: Metadata,
    spec: Option<RawProfile>,
}

#[derive(Default, Deserialize)]
struct Metadata {
    #[serde(default, deserialize_with = "nullable")]
    annotations: std::collections::BTreeMap<String, String>,
}

/// Read a profile file of either format.
pub(crate) fn read(path: &Path) -> Result<RawProfile, ProfileError> {
    let p = path.display().to_string();
    let text = fs::read_to_string(path).map_err(|err| ProfileError::Io {
        path: p.clone(),
        err,
    })?;
    parse(&text).map_err(|msg| ProfileError::Parse { path: p, msg })
}

pub(crate) fn parse(text: &str) -> Result<RawProfile, String> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| e.to_string());
    }
    let node = marked_yaml::parse_yaml(0, text).map_err(|e| format!("invalid YAML: {e}"))?;
    let m: Manifest = marked_yaml::from_node(&node).map_err(|e| {
        let at = e
            .start_mark()
            .map(|m| format!("line {}:{}: ", m.line(), m.column()))
            .unwrap_or_default();
        let path = e
            .path()
            .filter(|p| !p.is_empty() && *p != ".")
            .map(|p| format!("{p}: "))
            .unwrap_or_default();
        format!("{at}{path}{}", e.into_inner())
    })?;
    let group = m.api_version.split('/').next().unwrap_or_default();
    if m.kind != "SeccompProfile" || group != SPO_GROUP {
        return Err(format!(
            "not a SeccompProfile of {SPO_GROUP} (apiVersion '{}', kind '{}')",
            m.api_version, m.kind
        ));
    }
    let mut spec = m
        .spec
        .ok_or_else(|| "no spec: an empty SeccompProfile".to_string())?;
    if let Some(j) = m.metadata.annotations.get(PROVENANCE_ANNOTATION) {
        spec.sysaudit = Some(
            serde_json::from_str(j)
                .map_err(|e| format!("annotation {PROVENANCE_ANNOTATION}: {e}"))?,
        );
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_style_json_and_both_spo_versions() {
        let j = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],
            "syscalls":[{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":40,"op":"SCMP_CMP_NE"}],"excludes":{"caps":["CAP_SYS_ADMIN"]}},
            {"name":"read","action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        assert_eq!(j.arch_map[0].sub_architectures, ["SCMP_ARCH_X86"]);
        assert_eq!(j.syscalls[0].args[0].value, 40);
        assert_eq!(j.syscalls[0].excludes.caps, ["CAP_SYS_ADMIN"]);
        assert_eq!(j.syscalls[1].all_names().collect::<Vec<_>>(), ["read"]);
        for v in ["v1", "v1beta1"] {
            let y = parse(&format!(
                "apiVersion: {SPO_GROUP}/{v}\nkind: SeccompProfile\nmetadata: {{name: x}}\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  baseProfileName: runc-v1.1.5\n  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names: [read]\n"
            ))
            .unwrap();
            assert_eq!(y.base_profile_name.as_deref(), Some("runc-v1.1.5"));
            assert_eq!(y.syscalls[0].names, ["read"]);
        }
    }

    #[test]
    fn errors_are_located() {
        let e = parse("{\"syscalls\": [}").unwrap_err();
        assert!(e.contains("line 1 column"), "{e}");
        let e = parse("apiVersion: v1\nkind: ConfigMap\n").unwrap_err();
        assert!(e.contains("not a SeccompProfile"), "{e}");
        let e = parse(&format!(
            "apiVersion: {SPO_GROUP}/v1\nkind: SeccompProfile\nspec:\n  syscalls:\n  - names: [read]\n    action: SCMP_ACT_ALLOW\n    args: [{{index: x, value: 1, op: SCMP_CMP_EQ}}]\n"
        ))
        .unwrap_err();
        assert!(e.contains("line 7") && e.contains("index"), "{e}");
    }
}
