//! JUnit XML (quick-junit, nextest's writer): one suite for the run; a test case for the
//! command, one per rule that fired (failed at or above `--fail-on`, passed with its alerts
//! in system-out below it), one for drift against the baseline, one for lost events.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{who, Run};

/// Alerts listed in a test case at most (the count says how many there were).
const LISTED: usize = 50;

fn failure(message: String, text: String) -> TestCaseStatus {
    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
    st.set_message(message).set_description(text);
    st
}

fn case(name: String, class: &str, status: TestCaseStatus) -> TestCase {
    let mut tc = TestCase::new(name, status);
    tc.set_classname(class);
    tc
}

pub(crate) fn junit(run: &Run) -> Result<String, String> {
    let mut suite = TestSuite::new(format!("sysaudit ci: {}", run.command_line()));
    let mut command = case(
        run.command_line(),
        "sysaudit.command",
        if run.status == 0 {
            TestCaseStatus::success()
        } else {
            failure(
                format!("the command exited with {}", run.status),
                String::new(),
            )
        },
    );
    command.set_time(run.duration);
    suite.add_test_case(command);
    for (rule, alerts) in run.by_rule() {
        let lines: Vec<String> = alerts
            .iter()
            .take(LISTED)
            .map(|a| a.line_as(true))
            .collect();
        let mut text = lines.join("\n");
        if alerts.len() > LISTED {
            text.push_str(&format!("\n... and {} more", alerts.len() - LISTED));
        }
        let worst = run.worst(&alerts);
        let n = alerts.len();
        let mut tc = if alerts.iter().any(|a| run.fails(a)) {
            case(
                rule.to_string(),
                "sysaudit.rules",
                failure(format!("{n} alert(s), {} at worst", worst.as_str()), text),
            )
        } else {
            let mut tc = case(
                rule.to_string(),
                "sysaudit.rules",
                TestCaseStatus::success(),
            );
            tc.set_system_out(format!(
                "{n} alert(s) below --fail-on {}:\n{text}",
                run.fail_on.as_str()
            ));
            tc
        };
        tc.add_property(("priority", worst.as_str()));
        suite.add_test_case(tc);
    }
    if let Some(d) = &run.drift {
        let name = format!("syscall drift against {}", d.baseline.display());
        let mut lines: Vec<String> = d
            .drift
            .added
            .iter()
            .map(|s| match d.first.get(s) {
                Some(u) => format!("new: {s}, first by {}", who(u)),
                None => format!("new: {s}"),
            })
            .collect();
        lines.extend(
            d.drift
                .new_abis
                .iter()
                .map(|a| format!("new ABI: {}", a.as_str())),
        );
        let unused = format!(
            "no longer used ({}): {}",
            d.drift.unused.len(),
            d.drift.unused.join(" ")
        );
        let mut tc = if d.drift.drifted() {
            case(
                name,
                "sysaudit.drift",
                failure(
                    format!(
                        "{} syscall(s) not in the baseline",
                        d.drift.added.len() + d.drift.new_abis.len()
                    ),
                    lines.join("\n"),
                ),
            )
        } else {
            case(name, "sysaudit.drift", TestCaseStatus::success())
        };
        tc.set_system_out(unused);
        suite.add_test_case(tc);
    }
    if run.lost > 0 || run.output_losses > 0 {
        suite.add_test_case(case(
            "events watched".into(),
            "sysaudit.coverage",
            failure(
                format!(
                    "{} record(s) lost, {} alert(s) not delivered: the run was not fully audited",
                    run.lost, run.output_losses
                ),
                String::new(),
            ),
        ));
    }
    let mut report = Report::new("sysaudit");
    report.add_test_suite(suite);
    report.to_string().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fail_at_or_above_the_threshold_and_drift_names_the_process() {
        let xml = junit(&crate::report::tests::run()).unwrap();
        let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        let cases = &back.test_suites[0].test_cases;
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "./run-tests -q",
                "Sensitive file read",
                "Shell in a test",
                "syscall drift against ci/baseline.json"
            ]
        );
        let failed: Vec<bool> = cases
            .iter()
            .map(|c| !matches!(c.status, TestCaseStatus::Success { .. }))
            .collect();
        assert_eq!(failed, [false, true, false, true]);
        assert!(
            xml.contains("new: ptrace, first by pid 77 (python3: python3 -m pytest)"),
            "{xml}"
        );
    }
}
