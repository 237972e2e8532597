//! SARIF 2.1.0 (serde-sarif's types) for code scanning: one run of the `sysaudit` tool, a
//! reporting rule per rule that fired plus drift and lost events, a result per alert (level
//! from its priority) and per syscall new against the baseline. Every result has a physical
//! location — GitHub refuses a file where one has none: the rules file and line that define
//! the rule, or the baseline profile; the process and container are logical locations and
//! properties.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use serde_sarif::sarif as s;

use super::{who, Run};
use crate::rules::{Alert, Priority};

/// Results written at most (GitLab takes 5,000 per run; GitHub 25,000).
const MAX_RESULTS: usize = 5000;

const DRIFT_RULE: &str = "sysaudit/syscall-drift";
const LOST_RULE: &str = "sysaudit/events-lost";

/// A rule name as a SARIF rule id: `sysaudit/<words-joined-by-dashes>`.
fn rule_id(name: &str) -> String {
    let mut id = String::from("sysaudit/");
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !id.ends_with('/') {
                id.push('-');
            }
            id.push(c.to_ascii_lowercase());
            dash = false;
        } else {
            dash = true;
        }
    }
    id
}

fn level(p: Priority) -> s::ResultLevel {
    match p {
        Priority::Emergency | Priority::Alert | Priority::Critical | Priority::Error => {
            s::ResultLevel::Error
        }
        Priority::Warning => s::ResultLevel::Warning,
        Priority::Notice | Priority::Informational | Priority::Debug => s::ResultLevel::Note,
    }
}

fn level_name(p: Priority) -> &'static str {
    match level(p) {
        s::ResultLevel::Error => "error",
        s::ResultLevel::Warning => "warning",
        _ => "note",
    }
}

/// A file path as a SARIF URI: relative paths as they are, the embedded ruleset by its name.
fn uri(path: &str) -> String {
    let p = path.strip_prefix("<embedded>/").unwrap_or(path);
    match std::env::current_dir() {
        Ok(cwd) => std::path::Path::new(p)
            .strip_prefix(&cwd)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.to_string()),
        Err(_) => p.to_string(),
    }
}

fn location(file: &str, line: usize, logical: Vec<s::LogicalLocation>) -> s::Location {
    let physical = s::PhysicalLocation::builder()
        .artifact_location(s::ArtifactLocation::builder().uri(uri(file)).build())
        .region(s::Region::builder().start_line(line.max(1) as i64).build())
        .build();
    if logical.is_empty() {
        s::Location::builder().physical_location(physical).build()
    } else {
        s::Location::builder()
            .physical_location(physical)
            .logical_locations(logical)
            .build()
    }
}

fn properties(map: BTreeMap<String, Value>) -> s::PropertyBag {
    s::PropertyBag {
        additional_properties: map,
        ..Default::default()
    }
}

fn field<'a>(a: &'a Alert, name: &str) -> Option<&'a Value> {
    a.output_fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn descriptor(id: String, name: &str, text: &str, lvl: &str) -> s::ReportingDescriptor {
    s::ReportingDescriptor::builder()
        .id(id)
        .name(name.to_string())
        .short_description(
            s::MultiformatMessageString::builder()
                .text(text.to_string())
                .build(),
        )
        .default_configuration(
            s::ReportingConfiguration::builder()
                .level(json!(lvl))
                .build(),
        )
        .build()
}

fn alert_result(run: &Run, a: &Alert) -> s::Result {
    let (file, line) = run
        .rule_sources
        .get(&a.rule)
        .cloned()
        .unwrap_or_else(|| ("sysaudit_rules.yaml".to_string(), 1));
    let mut logical = Vec::new();
    if let Some(Value::String(p)) = field(a, "proc.name") {
        let fqn = match field(a, "proc.pid") {
            Some(pid) => format!("{}/pid {pid}/{p}", run.command_line()),
            None => format!("{}/{p}", run.command_line()),
        };
        logical.push(
            s::LogicalLocation::builder()
                .name(p.clone())
                .kind("process")
                .fully_qualified_name(fqn)
                .build(),
        );
    }
    if let Some(Value::String(c)) = field(a, "container.name") {
        logical.push(
            s::LogicalLocation::builder()
                .name(c.clone())
                .kind("container")
                .build(),
        );
    }
    let mut props: BTreeMap<String, Value> = a.output_fields.iter().cloned().collect();
    props.insert("priority".into(), json!(a.priority.as_str()));
    props.insert("time".into(), json!(a.time.rfc3339()));
    props.insert("tags".into(), json!(a.tags));
    s::Result::builder()
        .rule_id(rule_id(&a.rule))
        .level(level(a.priority))
        .message(&a.message)
        .locations(vec![location(&file, line, logical)])
        .properties(properties(props))
        .build()
}

pub(crate) fn sarif(run: &Run) -> Result<String, String> {
    let mut rules = Vec::new();
    let mut results = Vec::new();
    for (rule, alerts) in run.by_rule() {
        let worst = run.worst(&alerts);
        rules.push(descriptor(rule_id(rule), rule, rule, level_name(worst)));
        for a in alerts {
            if results.len() < MAX_RESULTS {
                results.push(alert_result(run, a));
            }
        }
    }
    if let Some(d) = &run.drift {
        rules.push(descriptor(
            DRIFT_RULE.into(),
            "Syscall drift against the baseline profile",
            "A syscall the committed baseline profile does not allow was made",
            "error",
        ));
        let base = d.baseline.display().to_string();
        for sc in &d.drift.added {
            let mut props = BTreeMap::from([("syscall".to_string(), json!(sc))]);
            let by = match d.first.get(sc) {
                Some(u) => {
                    props.insert("pid".into(), json!(u.pid));
                    props.insert("comm".into(), json!(u.comm));
                    props.insert("exe".into(), json!(u.exe));
                    props.insert("cmdline".into(), json!(u.cmdline));
                    props.insert("first_time".into(), json!(u.time.rfc3339()));
                    format!(", first by {}", who(u))
                }
                None => String::new(),
            };
            results.push(
                s::Result::builder()
                    .rule_id(DRIFT_RULE)
                    .level(s::ResultLevel::Error)
                    .message(&format!("syscall {sc} is not in the baseline {base}{by}"))
                    .locations(vec![location(&base, 1, Vec::new())])
                    .properties(properties(props))
                    .build(),
            );
        }
        for abi in &d.drift.new_abis {
            results.push(
                s::Result::builder()
                    .rule_id(DRIFT_RULE)
                    .level(s::ResultLevel::Error)
                    .message(&format!(
                        "ABI {} is not in the baseline {base}",
                        abi.as_str()
                    ))
                    .locations(vec![location(&base, 1, Vec::new())])
                    .build(),
            );
        }
    }
    if run.lost > 0 || run.output_losses > 0 {
        rules.push(descriptor(
            LOST_RULE.into(),
            "Events lost",
            "Records or alerts were lost: the run was not fully audited",
            "warning",
        ));
        let anchor = run.command.first().cloned().unwrap_or_default();
        results.push(
            s::Result::builder()
                .rule_id(LOST_RULE)
                .level(s::ResultLevel::Warning)
                .message(&format!(
                    "{} record(s) lost, {} alert(s) not delivered",
                    run.lost, run.output_losses
                ))
                .locations(vec![location(&anchor, 1, Vec::new())])
                .build(),
        );
    }
    let omitted = run.alerts.len().saturating_sub(MAX_RESULTS);
    let driver = s::ToolComponent::builder()
        .name("sysaudit")
        .version(env!("CARGO_PKG_VERSION"))
        .rules(rules)
        .build();
    let mut run_props = BTreeMap::from([
        ("command".to_string(), json!(run.command_line())),
        ("exit_status".to_string(), json!(run.status)),
        ("fail_on".to_string(), json!(run.fail_on.as_str())),
    ]);
    if omitted > 0 {
        run_props.insert("alerts_omitted".into(), json!(omitted));
    }
    let log = s::Sarif::builder()
        .schema("https://json.schemastore.org/sarif-2.1.0.json")
        .version(json!("2.1.0"))
        .runs(vec![s::Run::builder()
            .tool(driver)
            .results(results)
            .properties(properties(run_props))
            .build()])
        .build();
    serde_json::to_string_pretty(&log).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_and_drift_become_results_with_physical_locations() {
        let text = sarif(&crate::report::tests::run()).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        let ids: Vec<&str> = run["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "sysaudit/sensitive-file-read",
                "sysaudit/shell-in-a-test",
                DRIFT_RULE
            ]
        );
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 4);
        for r in results {
            let uri = &r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
            assert!(uri.is_string(), "{r}");
        }
        assert_eq!(results[0]["level"], "warning");
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            12
        );
        assert_eq!(results[2]["level"], "note");
        assert_eq!(results[3]["properties"]["pid"], 77);
        assert_eq!(
            results[3]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "ci/baseline.json"
        );
    }
}
