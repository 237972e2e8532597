//! `sysaudit rules validate` on broken files: every error located (file:line:col) and named,
//! all of a file's errors at once, a non-zero exit; on good files a one-line summary.

#[path = "../../tests/src/reference.rs"]
mod reference;

mod common;

use common::sysaudit;

const BROKEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rules/broken.yaml");

#[test]
fn broken_file_reports_every_error_with_its_location() {
    let (code, out, err) = sysaudit(&["rules", "validate", BROKEN]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    let expect = [
        ":8:14: error: macro 'loop_a': macros reference each other in a cycle: loop_a -> loop_b -> loop_a",
        ":15:26: error: rule 'Typo in a field': unknown field proc.nmae (did you mean proc.name?)",
        ":23:5: error: rule 'Undefined macro': undefined macro 'not_a_macro'",
        ":29:34: error: rule 'Operator the field cannot take': operator 'contains' cannot be used with fd.num (number)",
        ":35:43: error: rule 'Not a number': invalid condition: '>' needs a number, found 'three'",
        ":41:34: error: rule 'Unbalanced parenthesis': invalid condition: this '(' is never closed",
        ":48:18: error: rule 'Unknown output field': invalid output: unknown field %fd.nmae",
        ":55:13: error: rule 'Every event': unknown priority 'LOUD'",
        ":60:34: error: rule 'Bad exception and bad condition': field proc.aname: index 'x' is not a number",
        ":65:16: error: rule 'Bad exception and bad condition': exception 'typo': unknown field fd.nmae (did you mean fd.name?)",
    ];
    for e in expect {
        assert!(
            err.lines()
                .any(|l| l.starts_with(BROKEN) && l[BROKEN.len()..].starts_with(e)),
            "missing {e:?} in:\n{err}"
        );
    }
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with(BROKEN) && l.contains(": error: "))
            .count(),
        expect.len(),
        "{err}"
    );
    assert!(err.contains("error(s) in the rules"), "{err}");
    // In the order of the file.
    let lines: Vec<usize> = err
        .lines()
        .filter_map(|l| l.strip_prefix(BROKEN)?.split(':').nth(1)?.parse().ok())
        .collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

#[test]
fn good_files_print_a_summary() {
    let (code, out, _) = sysaudit(&["rules", "validate"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("OK: 25 rules (25 enabled)"), "{out}");
    let Some(upstream) = reference::falco("falco_rules.yaml") else {
        return;
    };
    let (code, out, err) = sysaudit(&["rules", "validate", &upstream.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    // Every field the upstream files use has a data source (issue 9): image, privilege and
    // pod fields from the engines, fd.sip.name from the names the rule gives.
    assert_eq!(
        out.trim(),
        "OK: 25 rules (25 enabled), 87 macros, 49 lists loaded from 1 file(s); 0 warning(s)"
    );
    assert!(!err.contains("no data source"), "{err}");
}

#[test]
fn missing_files_and_bad_captures_are_clear_errors() {
    let (code, _, err) = sysaudit(&["rules", "validate", "/nonexistent.yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent.yaml: cannot read"), "{err}");
    let dir = std::env::temp_dir().join(format!("sysaudit-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = dir.join("bad.jsonl");
    std::fs::write(&cap, "{\"event\":\"syscall\"}\n").unwrap();
    let (code, _, err) = sysaudit(&["rules", "test", "--events", cap.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.jsonl:1:") && err.contains("not an event"),
        "{err}"
    );
    let (code, _, err) = sysaudit(&[
        "rules",
        "test",
        "--events",
        cap.to_str().unwrap(),
        "--explain",
        "No such rule",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no rule named 'No such rule'"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn list_shows_priority_enabled_and_event_types() {
    let (code, out, _) = sysaudit(&["rules", "list"]);
    assert_eq!(code, 0);
    let line = out
        .lines()
        .find(|l| l.contains("Process attached with ptrace"))
        .expect("rule listed");
    assert!(
        line.starts_with("Warning") && line.contains("true") && line.trim_end().ends_with("ptrace"),
        "{line}"
    );
}

#[test]
fn explain_shows_the_deciding_check() {
    let cap = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules/tests/sensitive_file_read.jsonl"
    );
    let (code, out, _) = sysaudit(&[
        "rules",
        "test",
        "--events",
        cap,
        "--explain",
        "Sensitive file read in a container",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("MATCHES"), "{out}");
    // For a non-matching open, the deciding (=>) check is a file name test.
    let decided = out
        .lines()
        .filter(|l| l.starts_with("=>") && l.contains("✗ fd.name"))
        .count();
    assert!(decided > 0, "{out}");
}
