//! GitHub Actions workflow commands (when `GITHUB_ACTIONS=true`): an annotation per rule that
//! fired and one for drift, escaped as the runner expects; and a Markdown summary for
//! `$GITHUB_STEP_SUMMARY`. GitHub shows ten error annotations per step: rules are grouped.

use super::{who, Run};

/// Annotations of one kind shown per step at most.
const SHOWN: usize = 10;

/// A message after `::`: `%`, CR and LF escaped (in that order).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value (`title=`, `file=`): the message escapes, and `:` and `,`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn command(kind: &str, title: &str, file: Option<(&str, usize)>, msg: &str) -> String {
    let mut props = format!("title={}", escape_property(title));
    if let Some((f, line)) = file {
        props = format!(
            "file={},line={},{props}",
            escape_property(f.strip_prefix("<embedded>/").unwrap_or(f)),
            line.max(1)
        );
    }
    format!("::{kind} {props}::{}", escape_data(msg))
}

/// The workflow commands for `run`, one a line.
pub(crate) fn github_commands(run: &Run) -> Vec<String> {
    let mut out = Vec::new();
    let (mut errors, mut others) = (0, 0);
    for (rule, alerts) in run.by_rule() {
        let failing = alerts.iter().any(|a| run.fails(a));
        let n = if failing { &mut errors } else { &mut others };
        *n += 1;
        if *n > SHOWN {
            continue;
        }
        let file = run.rule_sources.get(rule).map(|(f, l)| (f.as_str(), *l));
        let msg = format!(
            "{} alert(s), first: {}",
            alerts.len(),
            alerts
                .first()
                .map(|a| a.message.as_str())
                .unwrap_or_default()
        );
        out.push(command(
            if failing { "error" } else { "warning" },
            &format!("sysaudit: {rule}"),
            file,
            &msg,
        ));
    }
    if let Some(d) = run.drift.as_ref().filter(|d| d.drift.drifted()) {
        let mut lines: Vec<String> = d
            .drift
            .added
            .iter()
            .map(|s| match d.first.get(s) {
                Some(u) => format!("{s} (first by {})", who(u)),
                None => s.clone(),
            })
            .collect();
        lines.extend(
            d.drift
                .new_abis
                .iter()
                .map(|a| format!("ABI {}", a.as_str())),
        );
        out.push(command(
            "error",
            "sysaudit: syscall drift",
            Some((&d.baseline.display().to_string(), 1)),
            &format!("not in the baseline: {}", lines.join(", ")),
        ));
    }
    if errors > SHOWN || others > SHOWN {
        out.push(command(
            "notice",
            "sysaudit: more rules fired",
            None,
            &format!(
                "{} more rule(s) fired: see the JUnit or SARIF report",
                errors.saturating_sub(SHOWN) + others.saturating_sub(SHOWN)
            ),
        ));
    }
    out
}

/// The run as Markdown for the job's summary page.
pub(crate) fn step_summary(run: &Run) -> String {
    let mut md = format!(
        "### sysaudit ci: `{}`\n\nexit {} of the command, {:.1} s; exit code {}\n\n",
        run.command_line(),
        run.status,
        run.duration.as_secs_f64(),
        run.exit_code()
    );
    if !run.alerts.is_empty() {
        md.push_str("| rule | priority | alerts | fails |\n|---|---|---|---|\n");
        for (rule, alerts) in run.by_rule() {
            let worst = run.worst(&alerts);
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                rule.replace('|', "\\|"),
                worst.as_str(),
                alerts.len(),
                if alerts.iter().any(|a| run.fails(a)) {
                    "yes"
                } else {
                    "no"
                }
            ));
        }
    }
    if let Some(d) = &run.drift {
        md.push_str(&format!(
            "\nDrift against `{}`: {} new, {} no longer used\n",
            d.baseline.display(),
            d.drift.added.len(),
            d.drift.unused.len()
        ));
        for s in &d.drift.added {
            let by = d
                .first
                .get(s)
                .map(|u| format!(" — first by {}", who(u)))
                .unwrap_or_default();
            md.push_str(&format!("- `{s}`{by}\n"));
        }
    }
    if run.lost > 0 {
        md.push_str(&format!(
            "\n{} record(s) lost: the run was not fully audited\n",
            run.lost
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_escaped_as_the_runner_reads_them() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(escape_property("a: b, c"), "a%3A b%2C c");
        let lines = github_commands(&crate::report::tests::run());
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with("::error file=rules/x.yaml,line=12,title=sysaudit%3A Sensitive file read::2 alert(s)"),
            "{}",
            lines[0]
        );
        assert!(lines[1].starts_with("::warning title=sysaudit%3A Shell in a test::"));
        assert!(lines[2].contains("ptrace (first by pid 77"), "{}", lines[2]);
        let md = step_summary(&crate::report::tests::run());
        assert!(
            md.contains("| Sensitive file read | Warning | 2 | yes |"),
            "{md}"
        );
    }
}
