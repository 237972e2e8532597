//! The keys the agent acts on, typed: Falco's names, types and meaning (`falco.yaml` of Falco
//! 0.44). A key of the wrong type, an unknown key inside a block, or a value Falco refuses is
//! a located error; defaults are what the agent does with no file at all.

use std::{collections::BTreeMap, path::PathBuf};

use marked_yaml::Node;
use serde::{Deserialize, Serialize};

use super::{sources::Sources, ConfigError};
use crate::rules::Priority;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Config {
    /// Rules files and directories (their `.yaml`/`.yml` files, in name order), in order.
    pub rules_files: Vec<PathBuf>,
    /// Before Falco 0.38: `rules_file`. Accepted, with a warning.
    #[serde(skip_serializing)]
    pub rules_file: Option<Vec<PathBuf>>,
    /// Drop-ins, merged at load (kept for the effective configuration's listing).
    pub config_files: Vec<DropIn>,
    /// `first` or `all`.
    pub rule_matching: RuleMatching,
    /// Minimum priority of the rules enabled.
    #[serde(with = "priority")]
    pub priority: Priority,
    pub json_output: bool,
    pub json_include_output_property: bool,
    pub json_include_tags_property: bool,
    pub json_include_output_fields_property: bool,
    pub json_include_message_property: bool,
    pub time_format_iso_8601: bool,
    /// Text and fields added to the outputs of matching rules.
    pub append_output: Vec<AppendOutput>,
    pub stdout_output: Enabled,
    pub file_output: FileOutput,
    pub http_output: HttpOutput,
    pub program_output: ProgramOutput,
    pub syslog_output: Enabled,
    pub webserver: Webserver,
    pub metrics: MetricsConfig,
    /// sysaudit's: identical alerts within a window folded into one, visibly.
    pub alert_aggregation: AlertAggregation,
    /// Rules enabled or disabled by name or tag after loading, in order.
    pub rules: Vec<RuleSwitch>,
    pub buffered_outputs: bool,
    /// Reload rules and outputs when this file, a drop-in or a rules file changes (SIGHUP
    /// reloads either way).
    pub watch_config_files: bool,
    pub outputs_queue: OutputsQueue,
    pub syscall_event_drops: SyscallEventDrops,
    /// `static.NAME` fields for conditions and outputs (values: `${VAR}` expanded).
    pub static_fields: BTreeMap<String, String>,
}

/// What to do when, within a second, more than `threshold` of the kernel's events were lost
/// (Falco's `syscall_event_drops`); actions rate-limited by a token bucket. Lost records are
/// counted and reported whatever this says.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SyscallEventDrops {
    /// A fraction of the second's events, in [0, 1].
    #[serde(deserialize_with = "unit_interval")]
    pub threshold: f64,
    #[serde(deserialize_with = "drop_actions")]
    pub actions: Vec<DropAction>,
    /// Actions per second at most, on average.
    pub rate: f64,
    /// Actions in a burst at most.
    pub max_burst: f64,
    /// Act as if one event was lost every second (threshold 0): for testing the actions.
    pub simulate_drops: bool,
}

impl Default for SyscallEventDrops {
    fn default() -> SyscallEventDrops {
        SyscallEventDrops {
            threshold: 0.1,
            // As Falco when the key is absent: nothing (its shipped falco.yaml says log, alert).
            actions: Vec::new(),
            rate: 0.03333,
            max_burst: 1.0,
            simulate_drops: false,
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DropAction {
    Ignore,
    Log,
    Alert,
    Exit,
}

fn interval<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = String::deserialize(d)?;
    super::interval::parse_interval(&v).map_err(serde::de::Error::custom)?;
    Ok(Some(v))
}

fn unit_interval<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    if !(0.0..=1.0).contains(&v) {
        return Err(serde::de::Error::custom(
            "syscall event drops threshold must be a double in the range [0, 1]",
        ));
    }
    Ok(v)
}

/// Falco's check: `ignore` with `log` or `alert` makes no sense.
fn drop_actions<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<DropAction>, D::Error> {
    let v = Vec::<DropAction>::deserialize(d)?;
    if v.contains(&DropAction::Ignore)
        && v.iter()
            .any(|a| matches!(a, DropAction::Log | DropAction::Alert))
    {
        return Err(serde::de::Error::custom(
            "syscall event drop actions \"log\" and \"alert\" do not make sense with \"ignore\"",
        ));
    }
    Ok(v)
}

/// Alerts waiting for each output that delivers from a thread of its own.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct OutputsQueue {
    /// At most this many (0, Falco's default "unbounded": the agent's bound, 1,024 — an
    /// output never holds the agent's memory hostage); 1,048,576 at most.
    #[serde(deserialize_with = "queue_capacity")]
    pub capacity: u64,
}

/// The largest `outputs_queue.capacity`: the queue's slots are allocated up front.
pub(crate) const MAX_QUEUE: u64 = 1 << 20;

fn queue_capacity<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = u64::deserialize(d)?;
    if v > MAX_QUEUE {
        return Err(serde::de::Error::custom(format!(
            "outputs_queue.capacity {v} is more than {MAX_QUEUE} alerts"
        )));
    }
    Ok(v)
}

impl Default for Config {
    fn default() -> Config {
        Config {
            rules_files: Vec::new(),
            rules_file: None,
            config_files: Vec::new(),
            rule_matching: RuleMatching::First,
            priority: Priority::Debug,
            json_output: false,
            json_include_output_property: true,
            json_include_tags_property: true,
            json_include_output_fields_property: true,
            json_include_message_property: false,
            time_format_iso_8601: false,
            // Falco's shipped default: the suggested fields (container, image, pod).
            append_output: vec![AppendOutput {
                suggested_output: true,
                ..Default::default()
            }],
            stdout_output: Enabled { enabled: true },
            file_output: FileOutput::default(),
            http_output: HttpOutput::default(),
            program_output: ProgramOutput::default(),
            syslog_output: Enabled { enabled: false },
            webserver: Webserver::default(),
            metrics: MetricsConfig::default(),
            alert_aggregation: AlertAggregation::default(),
            rules: Vec::new(),
            buffered_outputs: false,
            watch_config_files: true,
            outputs_queue: OutputsQueue::default(),
            syscall_event_drops: SyscallEventDrops::default(),
            static_fields: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub(crate) enum DropIn {
    Path(PathBuf),
    With {
        path: PathBuf,
        #[serde(default)]
        strategy: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RuleMatching {
    #[serde(alias = "First", alias = "FIRST")]
    First,
    #[serde(alias = "All", alias = "ALL")]
    All,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AppendOutput {
    #[serde(rename = "match")]
    pub matches: Match,
    /// Appended to the output text, after a space.
    pub extra_output: Option<String>,
    /// Added to `output_fields`: a field name, or `{key: "format"}`.
    pub extra_fields: Vec<ExtraField>,
    /// The fields the data sources suggest: container id and name in the text, image and
    /// pod in `output_fields` (what the container plugin suggests to Falco).
    pub suggested_output: bool,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Match {
    pub source: Option<String>,
    /// The rule must have every one of them.
    pub tags: Vec<String>,
    pub rule: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub(crate) enum ExtraField {
    Field(String),
    Formatted(BTreeMap<String, String>),
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Enabled {
    pub enabled: bool,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct FileOutput {
    pub enabled: bool,
    /// Keep the file open; otherwise it is opened and closed for every alert (Falco takes
    /// only the exact text `true`).
    #[serde(with = "exact_true")]
    pub keep_alive: bool,
    pub filename: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ProgramOutput {
    pub enabled: bool,
    /// One process for every alert (started again if it exits); otherwise one per alert
    /// (Falco takes only the exact text `true`).
    #[serde(with = "exact_true")]
    pub keep_alive: bool,
    /// A `/bin/sh -c` command line.
    pub program: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct HttpOutput {
    pub enabled: bool,
    pub url: Option<String>,
    pub user_agent: String,
    /// No verification of the server's certificate.
    pub insecure: bool,
    /// CA file (PEM); `ca_bundle` when empty; else the system's roots.
    pub ca_cert: Option<PathBuf>,
    pub ca_bundle: Option<PathBuf>,
    pub ca_path: Option<PathBuf>,
    /// Present `client_cert` and `client_key` (PEM) to the server.
    pub mtls: bool,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub echo: bool,
    pub compress_uploads: bool,
    pub keep_alive: bool,
    pub max_consecutive_timeouts: u8,
    /// sysaudit's: where alerts wait while the endpoint is down (survives restarts; default
    /// one directory per URL below /var/lib/sysaudit/spool), and its bound in MiB.
    pub spool_dir: Option<PathBuf>,
    pub spool_max_mb: u64,
}

impl Default for HttpOutput {
    fn default() -> HttpOutput {
        HttpOutput {
            enabled: false,
            url: None,
            user_agent: "falcosecurity/falco".into(),
            insecure: false,
            ca_cert: None,
            ca_bundle: None,
            ca_path: None,
            mtls: false,
            client_cert: "/etc/ssl/certs/client.crt".into(),
            client_key: "/etc/ssl/certs/client.key".into(),
            echo: false,
            compress_uploads: false,
            keep_alive: false,
            max_consecutive_timeouts: 5,
            spool_dir: None,
            spool_max_mb: 64,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AlertAggregation {
    pub enabled: bool,
    /// How long a window stays open after its first alert.
    pub window_seconds: u64,
    /// What makes alerts of one rule and container identical: these output fields' values
    /// (empty: the whole alert text).
    pub key_fields: Vec<String>,
}

impl Default for AlertAggregation {
    fn default() -> AlertAggregation {
        AlertAggregation {
            enabled: false,
            window_seconds: 60,
            key_fields: Vec::new(),
        }
    }
}

/// Falco's embedded web server: health, readiness, Prometheus metrics.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Webserver {
    pub enabled: bool,
    /// Threads serving (one serves here: the answers are small).
    pub threadiness: u32,
    pub listen_port: u16,
    /// An IP address (Falco refuses host names).
    pub listen_address: std::net::IpAddr,
    pub k8s_healthz_endpoint: String,
    /// `/metrics`, when `metrics.enabled` too.
    pub prometheus_metrics_enabled: bool,
    pub ssl_enabled: bool,
    pub ssl_certificate: PathBuf,
}

impl Default for Webserver {
    fn default() -> Webserver {
        Webserver {
            enabled: false,
            threadiness: 0,
            listen_port: 8765,
            listen_address: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            k8s_healthz_endpoint: "/healthz".into(),
            prometheus_metrics_enabled: false,
            ssl_enabled: false,
            ssl_certificate: "/etc/falco/falco.pem".into(),
        }
    }
}

/// Falco's `metrics` block; the agent serves them to Prometheus (the flag sub-keys choose
/// Falco's metric families and are accepted as they are).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MetricsConfig {
    pub enabled: bool,
    /// How often a snapshot is written (`output_rule`, `output_file`): a Prometheus duration.
    #[serde(deserialize_with = "interval")]
    pub interval: Option<String>,
    pub output_rule: bool,
    pub output_file: Option<PathBuf>,
    pub rules_counters_enabled: Option<bool>,
    pub resource_utilization_enabled: Option<bool>,
    pub state_counters_enabled: Option<bool>,
    pub kernel_event_counters_enabled: Option<bool>,
    pub kernel_event_counters_per_cpu_enabled: Option<bool>,
    pub libbpf_stats_enabled: Option<bool>,
    pub plugins_metrics_enabled: Option<bool>,
    pub kernel_iter_event_counters_enabled: Option<bool>,
    pub jemalloc_stats_enabled: Option<bool>,
    pub convert_memory_to_mb: Option<bool>,
    pub include_empty_values: Option<bool>,
}

/// `{enable: {rule: R, tag: T}}` or `{disable: ...}` (`rule` may hold `*` wildcards).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub(crate) enum RuleSwitch {
    Enable(Selector),
    Disable(Selector),
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Selector {
    pub rule: Option<String>,
    pub tag: Option<String>,
}

/// Falco's priority names, any case (`info` for informational).
mod priority {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    use crate::rules::Priority;

    pub(super) fn serialize<S: Serializer>(p: &Priority, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&p.as_str().to_ascii_lowercase())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Priority, D::Error> {
        let s = String::deserialize(d)?;
        Priority::parse(&s).ok_or_else(|| {
            D::Error::custom(format!(
                "unknown priority \"{s}\": expected one of emergency, alert, critical, error, warning, notice, informational, debug"
            ))
        })
    }
}

/// A flag Falco turns on only for the exact text `true`.
mod exact_true {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(b: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(*b)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(String::deserialize(d)? == "true")
    }
}

/// The typed configuration of a (merged, screened) tree.
pub(super) fn from_node(root: &Node, src: &Sources) -> Result<Config, ConfigError> {
    let mut c: Config = marked_yaml::from_node(root).map_err(|e| {
        let at = e
            .start_mark()
            .map(|m| src.at(&marked_yaml::Span::new_start(m)))
            .unwrap_or_else(|| "configuration".into());
        let path = e
            .path()
            .filter(|p| !p.is_empty() && *p != ".")
            .map(str::to_string);
        let msg = match path {
            Some(p) => format!("{p}: {}", e.into_inner()),
            None => e.into_inner().to_string(),
        };
        ConfigError::Invalid { at, msg }
    })?;
    let bad = |msg: &str| ConfigError::Invalid {
        at: "configuration".into(),
        msg: msg.into(),
    };
    if let Some(old) = c.rules_file.take() {
        if !c.rules_files.is_empty() {
            return Err(bad("both 'rules_files' and 'rules_file' are set"));
        }
        c.rules_files = old;
    }
    if c.file_output.enabled && c.file_output.filename.is_none() {
        return Err(bad("file_output is enabled but has no filename"));
    }
    if c.program_output.enabled
        && c.program_output
            .program
            .as_deref()
            .is_none_or(str::is_empty)
    {
        return Err(bad("program_output is enabled but has no program"));
    }
    if c.http_output.enabled {
        match &c.http_output.url {
            None => return Err(bad("http_output is enabled but has no url")),
            Some(u) => {
                let u = u.trim_matches(|c| c == '"' || c == '\'');
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    return Err(bad(&format!(
                        "http_output.url '{u}' must start with http:// or https://"
                    )));
                }
                c.http_output.url = Some(u.to_string());
            }
        }
    }
    if c.alert_aggregation.enabled && c.alert_aggregation.window_seconds == 0 {
        return Err(bad("alert_aggregation.window_seconds must be at least 1"));
    }
    if c.webserver.enabled && c.webserver.ssl_enabled {
        return Err(bad(
            "webserver.ssl_enabled: the web server serves plain HTTP only (put a TLS proxy or a Kubernetes Service in front)",
        ));
    }
    if c.metrics.enabled
        && !c.metrics.output_rule
        && c.metrics
            .output_file
            .as_ref()
            .is_none_or(|p| p.as_os_str().is_empty())
        && !(c.webserver.enabled && c.webserver.prometheus_metrics_enabled)
    {
        return Err(bad(
            "metrics are enabled but go nowhere: set webserver.enabled and webserver.prometheus_metrics_enabled",
        ));
    }
    for (i, s) in c.rules.iter().enumerate() {
        let (RuleSwitch::Enable(sel) | RuleSwitch::Disable(sel)) = s;
        if sel.rule.is_none() && sel.tag.is_none() {
            return Err(bad(&format!("rules[{i}]: name a rule, a tag, or both")));
        }
    }
    Ok(c)
}
