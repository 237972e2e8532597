//! `profile diff A B` and `profile score P`, and the summary printed after every recording:
//! profiles resolved for a container (its capabilities, this host's kernel) and compared.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::Args;

use crate::messages::message;
use crate::seccomp::{
    file,
    policy::{Context, Policy, DEFAULT_CAPS},
    posture::{Diff, Score},
    Format, Profile,
};

/// podman's default profile (containers-common), where the node has it.
const NODE_BASELINE: &str = "/usr/share/containers/seccomp.json";

#[derive(Args, Debug, Clone)]
pub(crate) struct ResolveArgs {
    /// The container's capabilities that Docker-style `includes`/`excludes` are resolved
    /// against: `default` (Docker's and podman's set), `none`, or a comma-separated list
    /// (`CAP_SYS_ADMIN,NET_RAW`).
    #[arg(long, default_value = "default", value_name = "CAPS", value_parser = caps)]
    pub(crate) caps: BTreeSet<String>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct DiffArgs {
    /// Profiles (OCI/Docker JSON, with archMap or not, or SPO YAML of either version).
    #[arg(value_name = "A")]
    pub(crate) a: PathBuf,
    #[arg(value_name = "B")]
    pub(crate) b: PathBuf,
    #[command(flatten)]
    pub(crate) resolve: ResolveArgs,
    /// Exit 1 when they differ (as `git diff --exit-code`).
    #[arg(long)]
    pub(crate) exit_code: bool,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct ScoreArgs {
    #[arg(value_name = "PROFILE")]
    pub(crate) profile: PathBuf,
    /// Compare with this profile; default: the node's podman default profile
    /// (/usr/share/containers/seccomp.json) when present.
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) resolve: ResolveArgs,
}

fn caps(s: &str) -> Result<BTreeSet<String>, String> {
    match s.trim() {
        "default" => Ok(DEFAULT_CAPS.iter().map(|c| c.to_string()).collect()),
        "none" | "" => Ok(BTreeSet::new()),
        list => list
            .split(',')
            .map(|c| {
                let c = c.trim().to_ascii_uppercase();
                let c = if c.starts_with("CAP_") {
                    c
                } else {
                    format!("CAP_{c}")
                };
                if c.len() > 4 && c[4..].chars().all(|x| x.is_ascii_uppercase() || x == '_') {
                    Ok(c)
                } else {
                    Err(format!("'{c}' is not a capability name"))
                }
            })
            .collect(),
    }
}

fn resolved(path: &Path, cx: &Context) -> anyhow::Result<Policy> {
    let raw = file::read(path)?;
    let p = Policy::resolve(&raw, cx);
    if !p.unknown.is_empty() {
        log::debug!(
            "{}: this libseccomp does not know {}; runtimes skip them too",
            path.display(),
            p.unknown.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(p)
}

fn print(json: bool, v: serde_json::Value, text: String) {
    if json {
        println!("{v}");
    } else {
        print!("{text}");
    }
}

pub(crate) fn diff(a: DiffArgs) -> anyhow::Result<ExitCode> {
    let cx = Context::host(a.resolve.caps.clone());
    let (pa, pb) = (resolved(&a.a, &cx)?, resolved(&a.b, &cx)?);
    let d = Diff::between(&pa, &pb);
    let (na, nb) = (a.a.display().to_string(), a.b.display().to_string());
    print(a.resolve.json, d.json(&na, &nb), d.text(&na, &nb));
    Ok(if a.exit_code && !d.identical() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The baseline named, else the node's podman default when present.
fn baseline(named: Option<&Path>, cx: &Context) -> anyhow::Result<Option<(String, Policy)>> {
    let path = match named {
        Some(p) => p.to_path_buf(),
        None if Path::new(NODE_BASELINE).is_file() => PathBuf::from(NODE_BASELINE),
        None => return Ok(None),
    };
    let p = resolved(&path, cx)?;
    Ok(Some((path.display().to_string(), p)))
}

pub(crate) fn score(a: ScoreArgs) -> anyhow::Result<ExitCode> {
    let cx = Context::host(a.resolve.caps.clone());
    let p = resolved(&a.profile, &cx)?;
    let base = baseline(a.baseline.as_deref(), &cx)?;
    let s = Score::of(&p, base.as_ref().map(|(n, b)| (n.as_str(), b)));
    let name = a.profile.display().to_string();
    print(a.resolve.json, s.json(&name), s.text(&name));
    Ok(ExitCode::SUCCESS)
}

/// After a recording: the score against the node's baseline and how to apply the profile.
pub(crate) fn summary(p: &Profile, written: Option<&Path>, format: Format, name: &str) {
    let cx = Context::host(DEFAULT_CAPS.iter().map(|c| c.to_string()).collect());
    let policy = Policy::resolve(&p.raw(), &cx);
    let base = baseline(None, &cx).ok().flatten();
    let s = Score::of(&policy, base.as_ref().map(|(n, b)| (n.as_str(), b)));
    for line in s.text("profile").lines() {
        message!("{}", line.trim_start());
    }
    let pv = &p.provenance;
    let uneven = pv.uneven();
    if pv.recordings > 1 && !uneven.is_empty() {
        let v: Vec<String> = uneven
            .iter()
            .map(|(n, c)| format!("{n} ({c} of {})", pv.recordings))
            .collect();
        message!(
            "seen by some of the {} recordings only: {} (paths a single run may miss; verify with `profile verify --runs N`)",
            pv.recordings,
            v.join(", ")
        );
    }
    // Each addition with why, those with the same reason on one line.
    let mut by_why: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for a in &pv.added {
        by_why.entry(&a.why).or_default().push(&a.name);
    }
    for (why, names) in by_why {
        message!(
            "allowed without being recorded: {} — {why}",
            names.join(", ")
        );
    }
    for line in hints(written, format, name) {
        message!("{line}");
    }
}

/// How to apply a written profile: engine flags, a pod's securityContext, the SPO object.
pub(crate) fn hints(written: Option<&Path>, format: Format, name: &str) -> Vec<String> {
    let path = written
        .map(|p| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        })
        .unwrap_or_else(|| "PROFILE.json".into());
    let spo = crate::seccomp::profile::spo_name(name);
    match format {
        Format::Oci => vec![
            format!("apply: docker run --security-opt seccomp={path} IMAGE"),
            format!("apply: podman run --security-opt seccomp={path} IMAGE"),
            format!(
                "apply: in Kubernetes, copy it to /var/lib/kubelet/seccomp/{spo}.json on the nodes and set the pod's securityContext: {{seccompProfile: {{type: Localhost, localhostProfile: {spo}.json}}}}"
            ),
        ],
        Format::Spo(_) => vec![
            format!("apply: kubectl apply -n NAMESPACE -f {path} (the operator installs SeccompProfile {spo} on every node)"),
            format!(
                "apply: set the pod's securityContext: {{seccompProfile: {{type: Localhost, localhostProfile: operator/NAMESPACE/{spo}.json}}}}"
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_lists_are_checked_and_completed() {
        assert_eq!(caps("none").unwrap(), BTreeSet::new());
        assert_eq!(caps("default").unwrap().len(), DEFAULT_CAPS.len());
        assert_eq!(
            caps("sys_admin, CAP_NET_RAW").unwrap(),
            BTreeSet::from(["CAP_NET_RAW".to_string(), "CAP_SYS_ADMIN".to_string()])
        );
        assert!(caps("SYS ADMIN").is_err());
    }

    #[test]
    fn hints_name_the_engine_flags_the_pod_field_and_the_spo_object() {
        let h = hints(Some(Path::new("/p/web.json")), Format::Oci, "Web_1").join("\n");
        assert!(
            h.contains("docker run --security-opt seccomp=/p/web.json"),
            "{h}"
        );
        assert!(h.contains("localhostProfile: web-1.json"), "{h}");
        let h = hints(None, Format::Spo(Default::default()), "web").join("\n");
        assert!(h.contains("operator/NAMESPACE/web.json"), "{h}");
    }
}
