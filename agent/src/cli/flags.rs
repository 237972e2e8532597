//! Value parsers for flags several subcommands share: clap runs them, so a bad value is
//! reported with the flag's name and exit code 2 before anything starts.

use std::time::Duration;

use crate::rules::Priority;

/// `--min-priority P`: one of Falco's priority words.
pub(crate) fn parse_priority(s: &str) -> Result<Priority, String> {
    Priority::parse(s).ok_or_else(|| format!("unknown priority '{s}'"))
}

/// `--duration SECS`: a positive number of seconds (fractions allowed).
pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(d) if d.is_finite() && d > 0.0 => Ok(Duration::from_secs_f64(d)),
        _ => Err("must be a positive number of seconds".into()),
    }
}

/// `--ring-size BYTES`: a power of two between 4K and 1024M; K and M suffixes.
pub(crate) fn ring_size(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 1024u64),
        Some('M' | 'm') => (&t[..t.len() - 1], 1024 * 1024),
        _ => (t, 1),
    };
    let v: u64 = num.parse().map_err(|_| "not a size".to_string())?;
    let bytes = v.saturating_mul(mult);
    if bytes < 4096 || !bytes.is_power_of_two() || bytes > 1 << 30 {
        return Err("must be a power of two between 4K and 1024M".into());
    }
    Ok(bytes as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_positive_seconds() {
        assert_eq!(duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(duration("0").is_err());
        assert!(duration("-3").is_err());
        assert!(duration("soon").is_err());
        assert!(duration("inf").is_err());
    }

    #[test]
    fn ring_sizes_are_bounded_powers_of_two() {
        assert_eq!(ring_size("64K"), Ok(65536));
        assert_eq!(ring_size("4M"), Ok(4 << 20));
        assert_eq!(ring_size("8192"), Ok(8192));
        assert!(ring_size("1000").is_err());
        assert!(ring_size("1K").is_err());
        assert!(ring_size("2048M").is_err());
        assert!(ring_size("big").is_err());
    }
}

/// The configuration a long-running command reads, as Falco's: the file, its `-o` overrides,
/// the rules files that replace its `rules_files`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ConfigArgs {
    /// Configuration file: Falco's falco.yaml keys (rules_files, json_output, append_output,
    /// file_output, http_output...). Default: /etc/sysaudit/sysaudit.yaml when it exists.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub(crate) config: Option<std::path::PathBuf>,
    /// Override a configuration key, as Falco's -o (`json_output=true`,
    /// `http_output.url=http://...`, `rules_files[]=extra.yaml`); repeatable, in order.
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    pub(crate) options: Vec<String>,
    /// Rules files or directories, in order (repeatable); they replace the configuration's
    /// rules_files. Default: the embedded sysaudit ruleset.
    #[arg(short = 'r', long = "rules", value_name = "FILE")]
    pub(crate) rules: Vec<std::path::PathBuf>,
}

/// How a recorded profile is written.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ProfileFormatArgs {
    /// oci: Docker/podman/runc/kubelet JSON; spo: Security Profiles Operator SeccompProfile.
    #[arg(long, default_value = "oci", value_parser = ["oci", "spo"])]
    pub(crate) format: String,
    /// The SeccompProfile API version (spo): v1 (SPO 1.0.0 and later) or v1beta1.
    #[arg(long, default_value = "v1", value_parser = ["v1", "v1beta1"])]
    pub(crate) spo_version: String,
    /// SPO `baseProfileName`: layer the recorded profile on this runtime base profile (for
    /// example `runc-v1.1.5`), whose syscalls the operator adds.
    #[arg(long, value_name = "NAME")]
    pub(crate) base_profile: Option<String>,
}

impl ProfileFormatArgs {
    pub(crate) fn format(&self) -> crate::seccomp::Format {
        use crate::seccomp::{Format, SpoVersion};
        match self.format.as_str() {
            "spo" => Format::Spo(SpoVersion::parse(&self.spo_version).unwrap_or_default()),
            _ => Format::Oci,
        }
    }
}

/// Where the container engines listen (their metadata names containers in events and alerts).
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct EngineArgs {
    /// dockerd's API socket, asked for container names, images, labels and mounts.
    #[arg(long, value_name = "PATH", default_value = "/var/run/docker.sock")]
    pub(crate) docker_socket: std::path::PathBuf,
    /// podman's API socket (`podman system service`), asked the same.
    #[arg(long, value_name = "PATH", default_value = "/run/podman/podman.sock")]
    pub(crate) podman_socket: std::path::PathBuf,
    /// podman's storage, read for names and images when its service does not run.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/lib/containers/storage"
    )]
    pub(crate) podman_root: std::path::PathBuf,
    /// containerd's socket: its own API (containers `ctr` and nerdctl make) and its CRI
    /// plugin's (Kubernetes pods and their containers).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/run/containerd/containerd.sock"
    )]
    pub(crate) containerd_socket: std::path::PathBuf,
    /// CRI-O's socket (Kubernetes pods and their containers).
    #[arg(long, value_name = "PATH", default_value = "/run/crio/crio.sock")]
    pub(crate) crio_socket: std::path::PathBuf,
}

impl Default for EngineArgs {
    fn default() -> EngineArgs {
        let s = crate::state::meta::Sockets::default();
        EngineArgs {
            docker_socket: s.docker,
            podman_socket: s.podman,
            podman_root: s.podman_root,
            containerd_socket: s.containerd,
            crio_socket: s.crio,
        }
    }
}

impl EngineArgs {
    /// Start asking the engines about the containers `state` learns of.
    pub(crate) fn attach(
        &self,
        state: &mut crate::state::State,
    ) -> anyhow::Result<std::sync::Arc<crate::state::meta::MetaCache>> {
        use anyhow::Context as _;
        let meta = crate::state::meta::MetaCache::live(self.sockets())
            .context("starting the container metadata thread")?;
        state.containers.attach_meta(meta.clone());
        Ok(meta)
    }

    fn sockets(&self) -> crate::state::meta::Sockets {
        crate::state::meta::Sockets {
            docker: self.docker_socket.clone(),
            podman: self.podman_socket.clone(),
            podman_root: self.podman_root.clone(),
            containerd: self.containerd_socket.clone(),
            crio: self.crio_socket.clone(),
        }
    }
}
