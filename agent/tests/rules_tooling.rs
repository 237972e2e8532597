//! Rule tooling beyond Falco's: `rules test --expect` assertions for a user's CI,
//! `rules explain` naming macros and exceptions, `rules lint` on a file of mistakes.

mod common;

use common::sysaudit;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rules");
const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/tests");

#[test]
fn lint_reports_each_mistake_located_and_exits_1() {
    let (code, out, err) = sysaudit(&["rules", "lint", &format!("{DIR}/lint_mistakes.yaml")]);
    assert_eq!(code, 1, "{out}{err}");
    for want in [
        ":2:9: warning: list 'forgotten_binaries': defined but not used",
        ":4:10: warning: macro 'forgotten_macro': defined but not used",
        ":13:9: warning: rule 'Shell started in a container': never fires with rule_matching: first: the earlier rule 'Any program started in a container' (line 8)",
        ":18:9: warning: rule 'Anything by nc': the condition does not restrict evt.type",
        "4 finding(s)",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}

#[test]
fn lint_passes_the_default_ruleset() {
    let (code, out, err) = sysaudit(&["rules", "lint"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("OK: nothing to report"), "{out}");
}

#[test]
fn expectations_pass_and_fail_with_the_exit_code() {
    let cap = format!("{CAPTURES}/sensitive_file_read.jsonl");
    let rule = "Sensitive file read in a container";
    let (code, _, err) = sysaudit(&["rules", "test", "--events", &cap, "--expect", rule]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "expected '{rule}' at least once: fired 1 time(s), ok"
        )),
        "{err}"
    );
    let (code, _, err) = sysaudit(&[
        "rules",
        "test",
        "--events",
        &cap,
        "--expect",
        &format!("{rule}=3"),
        "--expect",
        "Package manager run in a container=0",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "expected '{rule}' 3 time(s): fired 1 time(s), FAILED"
        )),
        "{err}"
    );
    assert!(err.contains("1 of 2 expectation(s) unmet"), "{err}");
    let (code, _, err) = sysaudit(&[
        "rules",
        "test",
        "--events",
        &cap,
        "--expect",
        "No such rule",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--expect: no rule named 'No such rule'"),
        "{err}"
    );
}

#[test]
fn explain_names_macros_and_exceptions() {
    let f = std::env::temp_dir().join(format!("sysaudit-explain-{}.yaml", std::process::id()));
    std::fs::write(
        &f,
        "- list: readers\n  items: [cat]\n- macro: opening\n  condition: evt.type in (open, openat)\n\
         - rule: Shadow read\n  desc: d\n  condition: opening and fd.name = /etc/shadow\n  output: o %proc.name\n  priority: WARNING\n  \
         exceptions:\n    - name: allowed_readers\n      fields: [proc.name]\n      comps: [in]\n      values: [[readers]]\n",
    )
    .unwrap();
    let rules = f.to_str().unwrap();
    let (code, out, err) = sysaudit(&["rules", "explain", "Shadow read", "-r", rules]);
    assert_eq!(code, 0, "{err}");
    let want = "rule 'Shadow read' (open, openat):\n  and\n    macro opening\n      evt.type in (open, openat)\n    fd.name = /etc/shadow\n    not\n      exception 'allowed_readers'\n        proc.name in (cat)\n";
    assert_eq!(out, want);
    // On a capture: `cat /etc/shadow` in a container is excepted, and the trace says by what.
    let cap = format!("{CAPTURES}/sensitive_file_read.jsonl");
    let (code, out, err) = sysaudit(&[
        "rules",
        "explain",
        "Shadow read",
        "-r",
        rules,
        "--events",
        &cap,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rule 'Shadow read' does not match"), "{out}");
    assert!(
        out.contains("=>      exception 'allowed_readers' -> true"),
        "{out}"
    );
    let _ = std::fs::remove_file(&f);
}
