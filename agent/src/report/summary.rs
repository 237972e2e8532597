//! The run in a few lines for stderr: what the command did, which rules fired, the drift,
//! what was lost, and what the exit code means.

use super::{exit, who, Run};

pub(crate) fn summary(run: &Run) -> Vec<String> {
    let mut out = vec![format!(
        "ci: {} exited {} after {:.1} s",
        run.command_line(),
        run.status,
        run.duration.as_secs_f64()
    )];
    let rules = run.by_rule();
    if rules.is_empty() {
        out.push("ci: no rule fired".into());
    }
    for (rule, alerts) in &rules {
        let worst = run.worst(alerts);
        let fails = alerts.iter().any(|a| run.fails(a));
        out.push(format!(
            "ci: {} {rule}: {} alert(s){}",
            if fails { "FAIL" } else { "note" },
            alerts.len(),
            if fails {
                format!(" ({} at worst)", worst.as_str())
            } else {
                String::new()
            }
        ));
        if let Some(a) = alerts.first() {
            out.push(format!("ci:      {}", a.message));
        }
    }
    if let Some(d) = &run.drift {
        if d.drift.drifted() {
            out.push(format!(
                "ci: FAIL syscall drift against {}: {} new",
                d.baseline.display(),
                d.drift.added.len() + d.drift.new_abis.len()
            ));
            for s in &d.drift.added {
                let by = d
                    .first
                    .get(s)
                    .map(|u| format!(", first by {}", who(u)))
                    .unwrap_or_default();
                out.push(format!("ci:      {s}{by}"));
            }
            for a in &d.drift.new_abis {
                out.push(format!("ci:      ABI {}", a.as_str()));
            }
        } else {
            out.push(format!(
                "ci: no syscall drift against {}",
                d.baseline.display()
            ));
        }
        if !d.drift.unused.is_empty() {
            out.push(format!(
                "ci: note {} baseline syscall(s) not used this time: {}",
                d.drift.unused.len(),
                d.drift.unused.join(" ")
            ));
        }
    }
    if run.lost > 0 || run.output_losses > 0 {
        out.push(format!(
            "ci: {} record(s) lost, {} alert(s) not delivered",
            run.lost, run.output_losses
        ));
    }
    let code = run.exit_code();
    let why = match code {
        0 => "clean".to_string(),
        exit::ALERTS if run.status == 0 => format!("alerts at or above {}", run.fail_on.as_str()),
        exit::DRIFT if run.status == 0 => "syscall drift".into(),
        exit::LOST if run.status == 0 => "events lost".into(),
        _ => "the command's own status".into(),
    };
    out.push(format!("ci: exit {code}: {why}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_failed_and_why_the_code() {
        let s = summary(&crate::report::tests::run()).join("\n");
        assert!(
            s.contains("ci: FAIL Sensitive file read: 2 alert(s) (Warning at worst)"),
            "{s}"
        );
        assert!(s.contains("ci: note Shell in a test: 1 alert(s)"), "{s}");
        assert!(s.contains("ptrace, first by pid 77"), "{s}");
        assert!(s.ends_with("ci: exit 4: alerts at or above Warning"), "{s}");
    }
}
