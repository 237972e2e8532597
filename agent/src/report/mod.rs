//! What one `sysaudit ci` run found — the command's status, the alerts, the syscall drift
//! against a baseline, what was lost — and the forms a CI system reads: JUnit XML, SARIF
//! 2.1.0, GitHub Actions workflow commands, a short human summary; and the exit code a job
//! acts on.

mod github;
mod junit;
mod sarif;
mod summary;

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

pub(crate) use github::{github_commands, step_summary};
pub(crate) use junit::junit;
pub(crate) use sarif::sarif;
pub(crate) use summary::summary;

use crate::{
    rules::{Alert, Priority},
    seccomp::drift::Drift,
    state::firsts::FirstUse,
};

/// The exit codes of `sysaudit ci` after the command's own (a non-zero status wins).
pub(crate) mod exit {
    /// Alerts at or above `--fail-on` fired.
    pub(crate) const ALERTS: u8 = 4;
    /// The recorded profile needs syscalls (or ABIs) its baseline does not allow.
    pub(crate) const DRIFT: u8 = 5;
    /// Events were lost: the run was not fully watched.
    pub(crate) const LOST: u8 = 3;
}

/// The drift found against a committed baseline.
pub(crate) struct DriftFound {
    pub(crate) baseline: PathBuf,
    pub(crate) drift: Drift,
    /// Who made each added syscall first, when the kernel said.
    pub(crate) first: BTreeMap<String, FirstUse>,
}

/// One run, as the reports see it.
pub(crate) struct Run {
    pub(crate) command: Vec<String>,
    /// The command's exit status: its code, or 128 + the signal that ended it.
    pub(crate) status: i32,
    pub(crate) duration: Duration,
    pub(crate) alerts: Vec<Alert>,
    /// Where each rule is defined: (file, line).
    pub(crate) rule_sources: BTreeMap<String, (String, usize)>,
    pub(crate) fail_on: Priority,
    pub(crate) drift: Option<DriftFound>,
    /// Records lost on the way (kernel and userspace).
    pub(crate) lost: u64,
    /// Alerts the configured outputs could not deliver.
    pub(crate) output_losses: u64,
}

impl Run {
    /// Whether an alert fails the job.
    pub(crate) fn fails(&self, a: &Alert) -> bool {
        // Priorities order from the most severe.
        a.priority <= self.fail_on
    }

    /// The alerts, by rule, in the order the rules first fired.
    pub(crate) fn by_rule(&self) -> Vec<(&str, Vec<&Alert>)> {
        let mut out: Vec<(&str, Vec<&Alert>)> = Vec::new();
        for a in &self.alerts {
            match out.iter_mut().find(|(r, _)| *r == a.rule) {
                Some((_, v)) => v.push(a),
                None => out.push((&a.rule, vec![a])),
            }
        }
        out
    }

    /// The most severe priority among `alerts` (`--fail-on` for none).
    pub(crate) fn worst(&self, alerts: &[&Alert]) -> Priority {
        alerts
            .iter()
            .map(|a| a.priority)
            .min()
            .unwrap_or(self.fail_on)
    }

    pub(crate) fn drifted(&self) -> bool {
        self.drift.as_ref().is_some_and(|d| d.drift.drifted())
    }

    /// The job's exit code: the command's own failure first, then alerts at or above
    /// `--fail-on`, then drift, then losses.
    pub(crate) fn exit_code(&self) -> u8 {
        if self.status != 0 {
            return self.status.clamp(1, 255) as u8;
        }
        if self.alerts.iter().any(|a| self.fails(a)) {
            exit::ALERTS
        } else if self.drifted() {
            exit::DRIFT
        } else if self.lost > 0 || self.output_losses > 0 {
            exit::LOST
        } else {
            0
        }
    }

    /// `ci -- CMD ARGS` as one line.
    pub(crate) fn command_line(&self) -> String {
        self.command.join(" ")
    }
}

/// What `--report FORMAT=FILE` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Junit,
    Sarif,
}

/// Parse `--report FORMAT=FILE`.
pub(crate) fn parse_report(s: &str) -> Result<(Format, PathBuf), String> {
    let (f, path) = s.split_once('=').ok_or_else(|| {
        format!("'{s}': expected FORMAT=FILE (junit=report.xml, sarif=report.sarif)")
    })?;
    let f = match f {
        "junit" => Format::Junit,
        "sarif" => Format::Sarif,
        other => return Err(format!("unknown report format '{other}': junit or sarif")),
    };
    if path.is_empty() {
        return Err(format!("'{s}': no file"));
    }
    Ok((f, PathBuf::from(path)))
}

/// A first use, in a line: `pid 42 (python3: python3 -m pytest)`.
pub(crate) fn who(u: &FirstUse) -> String {
    let what = u
        .cmdline
        .as_deref()
        .filter(|c| !c.is_empty())
        .unwrap_or(u.comm.as_str());
    format!("pid {} ({}: {what})", u.pid, u.comm)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::Timestamp;

    pub(crate) fn alert(rule: &str, priority: Priority) -> Alert {
        Alert {
            time: Timestamp(1_700_000_000_000_000_000),
            rule: rule.to_string(),
            priority,
            message: format!("{rule} by cat (file=/etc/shadow)"),
            output_fields: vec![
                ("proc.name".into(), serde_json::json!("cat")),
                ("proc.pid".into(), serde_json::json!(42)),
                (
                    "container.name".into(),
                    serde_json::json!("ci: ./run-tests"),
                ),
            ],
            tags: vec!["filesystem".into()],
            hostname: "runner".into(),
        }
    }

    pub(crate) fn run() -> Run {
        let mut first = BTreeMap::new();
        first.insert(
            "ptrace".to_string(),
            FirstUse {
                time: Timestamp(1_700_000_000_000_000_000),
                pid: 77,
                comm: "python3".into(),
                exe: Some("/usr/bin/python3".into()),
                cmdline: Some("python3 -m pytest".into()),
            },
        );
        Run {
            command: vec!["./run-tests".into(), "-q".into()],
            status: 0,
            duration: Duration::from_millis(1500),
            alerts: vec![
                alert("Sensitive file read", Priority::Warning),
                alert("Sensitive file read", Priority::Warning),
                alert("Shell in a test", Priority::Notice),
            ],
            rule_sources: [(
                "Sensitive file read".to_string(),
                ("rules/x.yaml".to_string(), 12),
            )]
            .into(),
            fail_on: Priority::Warning,
            drift: Some(DriftFound {
                baseline: "ci/baseline.json".into(),
                drift: Drift {
                    added: vec!["ptrace".into()],
                    unused: vec!["futex".into()],
                    new_abis: Vec::new(),
                },
                first,
            }),
            lost: 0,
            output_losses: 0,
        }
    }

    #[test]
    fn the_command_wins_then_alerts_then_drift_then_losses() {
        let mut r = run();
        assert_eq!(r.exit_code(), exit::ALERTS);
        r.status = 2;
        assert_eq!(r.exit_code(), 2);
        r.status = 0;
        r.fail_on = Priority::Error;
        assert_eq!(r.exit_code(), exit::DRIFT);
        r.drift = None;
        r.lost = 5;
        assert_eq!(r.exit_code(), exit::LOST);
        r.lost = 0;
        assert_eq!(r.exit_code(), 0);
        assert_eq!(
            r.by_rule()
                .iter()
                .map(|(n, v)| (*n, v.len()))
                .collect::<Vec<_>>(),
            [("Sensitive file read", 2), ("Shell in a test", 1)]
        );
    }

    #[test]
    fn report_flags_name_a_format_and_a_file() {
        assert_eq!(
            parse_report("junit=out/j.xml"),
            Ok((Format::Junit, PathBuf::from("out/j.xml")))
        );
        assert!(parse_report("html=x")
            .unwrap_err()
            .contains("junit or sarif"));
        assert!(parse_report("junit").is_err());
        assert!(parse_report("sarif=").is_err());
    }
}
