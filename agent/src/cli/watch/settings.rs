//! `watch`'s effective settings: its flags over the configuration file (`-c`, else
//! `/etc/sysaudit/sysaudit.yaml` when it exists) and its `-o` overrides, over the defaults.

use std::path::PathBuf;

use anyhow::Context as _;

use super::WatchArgs;
use crate::{
    config::{self, AppendOutput, Config, RuleSwitch},
    messages::message,
    outputs::{
        AppendedFile, HttpOptions, LineOutput, Output, Outputs, Program, ReopenedFile, Shape,
        Syslog, Webhook,
    },
    rules::{output::JsonParts, Matching, Priority},
};

pub(crate) struct Settings {
    pub rules: Vec<PathBuf>,
    pub min_priority: Priority,
    pub matching: Matching,
    pub shape: Shape,
    pub append_output: Vec<AppendOutput>,
    pub switches: Vec<RuleSwitch>,
    /// The configuration files read (the main one, then the drop-ins).
    pub files: Vec<PathBuf>,
    pub config: Config,
    output: Option<PathBuf>,
    webhook: Option<String>,
}

/// The configuration `a` names (or the default file), its warnings said once.
pub(crate) fn load_config(
    path: Option<&std::path::Path>,
    overrides: &[String],
) -> anyhow::Result<config::Loaded> {
    let path = path.map(PathBuf::from).or_else(config::default_path);
    let loaded = config::load(path.as_deref(), overrides)?;
    for w in &loaded.warnings {
        message!("{w}");
    }
    Ok(loaded)
}

impl Settings {
    pub(crate) fn new(a: &WatchArgs) -> anyhow::Result<Settings> {
        let loaded = load_config(a.conf.config.as_deref(), &a.conf.options)?;
        let c = loaded.config;
        // `-r` replaces the file's list, as in Falco; entries that do not exist are dropped
        // from the file's (Falco's packaged list names optional ones), said once.
        let rules = if a.conf.rules.is_empty() {
            c.rules_files
                .iter()
                .filter(|p| {
                    let ok = p.exists();
                    if !ok {
                        message!("rules_files: {} does not exist; skipped", p.display());
                    }
                    ok
                })
                .cloned()
                .collect()
        } else {
            a.conf.rules.clone()
        };
        let matching = if a.all_matches {
            Matching::All
        } else {
            match c.rule_matching {
                config::RuleMatching::First => Matching::First,
                config::RuleMatching::All => Matching::All,
            }
        };
        let shape = Shape {
            json: a.json || c.json_output,
            parts: JsonParts {
                output: c.json_include_output_property,
                tags: c.json_include_tags_property,
                output_fields: c.json_include_output_fields_property,
                message: c.json_include_message_property,
                iso8601: c.time_format_iso_8601,
            },
        };
        let append_output = if a.no_append_output {
            Vec::new()
        } else {
            c.append_output.clone()
        };
        Ok(Settings {
            rules,
            min_priority: a.min_priority.unwrap_or(c.priority),
            matching,
            shape,
            append_output,
            switches: c.rules.clone(),
            output: a.output.clone(),
            webhook: a.webhook.clone(),
            files: loaded.files,
            config: c,
        })
    }

    /// The outputs: stdout (unless the file turns it off), the file (`--output`, else
    /// `file_output`), the webhook (`--webhook`, else `http_output`), `program_output`,
    /// `syslog_output` — each as what opens it.
    pub(crate) fn output_specs(&self) -> Vec<OutputSpec> {
        let c = &self.config;
        let shape = self.shape;
        let queue = match c.outputs_queue.capacity {
            0 => crate::outputs::QUEUE,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let mut list = Vec::new();
        if c.stdout_output.enabled {
            list.push(OutputSpec::Stdout(shape));
        }
        if let Some(p) = &self.output {
            list.push(OutputSpec::File {
                path: p.clone(),
                keep_alive: true,
                shape,
                flag: true,
            });
        } else if let (true, Some(p)) = (c.file_output.enabled, &c.file_output.filename) {
            list.push(OutputSpec::File {
                path: p.clone(),
                keep_alive: c.file_output.keep_alive,
                shape,
                flag: false,
            });
        }
        if let Some(u) = &self.webhook {
            list.push(OutputSpec::Http {
                url: u.clone(),
                shape: shape.into_json(),
                options: HttpOptions {
                    queue,
                    ..HttpOptions::default()
                },
                flag: true,
            });
        } else if let (true, Some(u)) = (c.http_output.enabled, &c.http_output.url) {
            let h = &c.http_output;
            list.push(OutputSpec::Http {
                url: u.clone(),
                shape,
                options: HttpOptions {
                    user_agent: Some(h.user_agent.clone()),
                    insecure: h.insecure,
                    ca_file: h.ca_cert.clone().or_else(|| h.ca_bundle.clone()),
                    client: h
                        .mtls
                        .then(|| (h.client_cert.clone(), h.client_key.clone())),
                    spool_dir: h.spool_dir.clone(),
                    spool_max_bytes: h.spool_max_mb.saturating_mul(1 << 20),
                    queue,
                },
                flag: false,
            });
        }
        let p = &c.program_output;
        if let (true, Some(cmd)) = (p.enabled, &p.program) {
            list.push(OutputSpec::Program {
                command: cmd.clone(),
                keep_alive: p.keep_alive,
                shape,
                queue,
            });
        }
        if c.syslog_output.enabled {
            list.push(OutputSpec::Syslog { shape, queue });
        }
        list
    }

    /// The outputs, opened.
    pub(crate) fn outputs(&self) -> anyhow::Result<Outputs> {
        let mut list = Vec::new();
        for spec in self.output_specs() {
            let out = match spec.open()? {
                Opened::Now(o) => o,
                Opened::Deferred(start) => start()?,
            };
            list.push((spec.key(), out));
        }
        Ok(Outputs::new(list))
    }
}

/// One output as the settings describe it; equal specs make the same output (a reload keeps
/// an output whose spec did not change).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum OutputSpec {
    Stdout(Shape),
    File {
        path: PathBuf,
        keep_alive: bool,
        shape: Shape,
        /// From `--output`, not `file_output` (for the errors' wording).
        flag: bool,
    },
    Http {
        url: String,
        shape: Shape,
        options: HttpOptions,
        flag: bool,
    },
    Program {
        command: String,
        keep_alive: bool,
        shape: Shape,
        queue: usize,
    },
    Syslog {
        shape: Shape,
        queue: usize,
    },
}

/// An output opened, or (HTTP) checked and started once the output it replaces is retired.
pub(crate) enum Opened {
    Now(Box<dyn Output>),
    Deferred(crate::outputs::Start),
}

impl OutputSpec {
    pub(crate) fn key(&self) -> String {
        format!("{self:?}")
    }

    pub(crate) fn open(&self) -> anyhow::Result<Opened> {
        Ok(Opened::Now(match self {
            OutputSpec::Stdout(shape) => Box::new(LineOutput::stdout(*shape)),
            OutputSpec::File {
                path,
                keep_alive,
                shape,
                flag,
            } => {
                let ctx = || match flag {
                    true => format!("--output {}", path.display()),
                    false => format!("file_output {}", path.display()),
                };
                if *keep_alive {
                    Box::new(AppendedFile::open(path, *shape).with_context(ctx)?)
                } else {
                    Box::new(ReopenedFile::new(path, *shape).with_context(ctx)?)
                }
            }
            OutputSpec::Http {
                url,
                shape,
                options,
                flag,
            } => {
                let what = if *flag { "--webhook" } else { "http_output" };
                let p = Webhook::prepare(url, *shape, options)
                    .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
                return Ok(Opened::Deferred(Box::new(move || {
                    p.start()
                        .map(|w| Box::new(w) as Box<dyn Output>)
                        .map_err(std::io::Error::other)
                })));
            }
            OutputSpec::Program {
                command,
                keep_alive,
                shape,
                queue,
            } => Box::new(
                Program::start(command, *keep_alive, *shape, *queue).context("program_output")?,
            ),
            OutputSpec::Syslog { shape, queue } => {
                Box::new(Syslog::start(*shape, *queue).context("syslog_output")?)
            }
        }))
    }
}

impl Settings {
    /// The folding of identical alerts, when the configuration asks for it.
    pub(crate) fn aggregator(&self) -> Option<crate::outputs::Aggregator> {
        let g = &self.config.alert_aggregation;
        g.enabled.then(|| {
            crate::outputs::Aggregator::new(
                std::time::Duration::from_secs(g.window_seconds),
                g.key_fields.clone(),
            )
        })
    }

    /// Falco's metrics snapshots, when `metrics` asks for them (`output_rule`, `output_file`).
    pub(crate) fn snapshots(&self) -> Option<super::snapshot::Snapshots> {
        let m = &self.config.metrics;
        if !m.enabled {
            return None;
        }
        // Checked when the configuration was read; Falco's default is 5 s.
        let every = crate::config::parse_interval(m.interval.as_deref().unwrap_or("5000"))
            .unwrap_or(std::time::Duration::from_secs(5));
        let file = m.output_file.clone().filter(|p| !p.as_os_str().is_empty());
        super::snapshot::Snapshots::new(every, m.output_rule, file)
    }

    /// The metrics registry, and the web server serving it and the probes, when the
    /// configuration turns the server on (bound now: a taken port is an error at start).
    pub(crate) fn metrics(&self) -> Option<std::sync::Arc<crate::metrics::Metrics>> {
        let w = &self.config.webserver;
        if !w.enabled {
            return None;
        }
        Some(crate::metrics::Metrics::new())
    }

    /// Start the web server for `m` (its address, once bound).
    pub(crate) fn serve(
        &self,
        m: &std::sync::Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<std::net::SocketAddr> {
        let w = &self.config.webserver;
        let routes = crate::metrics::server::Routes {
            healthz: w.k8s_healthz_endpoint.clone(),
            metrics: self.config.metrics.enabled && w.prometheus_metrics_enabled,
        };
        let addr = std::net::SocketAddr::new(w.listen_address, w.listen_port);
        crate::metrics::server::start(addr, routes, m.clone())
            .with_context(|| format!("webserver: cannot listen on {addr}"))
    }
}

impl Shape {
    /// `--webhook` posts Falco's JSON whatever the other outputs print (as it always has).
    fn into_json(self) -> Shape {
        Shape { json: true, ..self }
    }
}
