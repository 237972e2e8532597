//! Issue 12, `sysaudit ci -- COMMAND`: one run detects with the default rules on the command's
//! subtree (and the containers it starts) and records its profile; the exit code says what
//! happened (the command's own failure, alerts at or above --fail-on, drift against a
//! baseline, losses); JUnit and SARIF reports are checked by independent readers
//! (junitparser; jsonschema against the official SARIF schema that serde-sarif ships).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;
use sysaudit_tests::*;

/// The official SARIF 2.1.0 schema, as the serde-sarif crate of this build (Cargo.lock's
/// version, in cargo's registry sources) ships it.
fn sarif_schema() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"serde-sarif\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .expect("serde-sarif in Cargo.lock");
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo")
        });
    std::fs::read_dir(home.join("registry/src"))
        .expect("cargo's registry sources")
        .filter_map(Result::ok)
        .map(|d| {
            d.path()
                .join(format!("serde-sarif-{version}/src/schema.json"))
        })
        .find(|p| p.is_file())
        .expect("serde-sarif's schema.json")
}

fn ci(args: &[&str]) -> AgentOutput {
    let mut all = vec!["ci"];
    all.extend_from_slice(args);
    sysaudit(&all)
}

#[test]
fn a_suite_is_judged_by_its_alerts_and_its_drift_with_ci_reports() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("ci");
    let suite = fixture("ci_suite").to_str().expect("UTF-8");
    let base = dir.0.join("baseline.json");
    let p = |n: &str| dir.0.join(n).display().to_string();
    let base_s = base.to_str().expect("UTF-8");

    // A clean run: exit 0, the command's output passes through, the profile written.
    let r = ci(&["--profile-out", base_s, "--", suite, "clean"]);
    assert_eq!(r.status.code(), Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("suite: clean"), "{}", r.stdout);
    let profile = std::fs::read_to_string(&base).expect("--profile-out");
    assert!(
        profile.contains("\"write\"") && !profile.contains("personality"),
        "{profile}"
    );

    // The same run against its own profile as the baseline: no drift.
    let clean_xml = p("clean.xml");
    let r = ci(&[
        "--baseline",
        base_s,
        "--report",
        &format!("junit={clean_xml}"),
        "--",
        suite,
        "clean",
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("no syscall drift against"),
        "{}",
        r.stderr
    );
    let cases = python_check("check_junit.py", &[Path::new(&clean_xml)]);
    assert!(
        cases
            .as_array()
            .is_some_and(|c| c.iter().all(|c| c["failed"] == false)),
        "{cases}"
    );

    // Reading /etc/shadow and calling a syscall the baseline lacks: the alert fails the job
    // (exit 4), the drift is listed with the process that made the call.
    let (bad_xml, bad_sarif) = (p("bad.xml"), p("bad.sarif"));
    let r = ci(&[
        "--baseline",
        base_s,
        "--report",
        &format!("junit={bad_xml}"),
        "--report",
        &format!("sarif={bad_sarif}"),
        "--",
        suite,
        "bad",
    ]);
    assert_eq!(r.status.code(), Some(4), "{}", r.stderr);
    assert!(
        r.stderr.contains("FAIL Sensitive file read in a container"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("ci:      personality, first by pid "),
        "{}",
        r.stderr
    );
    let cases = python_check("check_junit.py", &[Path::new(&bad_xml)]);
    let failed: Vec<&str> = cases
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["failed"] == true)
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "Sensitive file read in a container",
            &format!("syscall drift against {base_s}")
        ],
        "{cases}"
    );
    let ids = python_check("check_sarif.py", &[Path::new(&bad_sarif), &sarif_schema()]);
    let ids: Vec<&str> = ids
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        ids.contains(&"sysaudit/sensitive-file-read-in-a-container")
            && ids.contains(&"sysaudit/syscall-drift"),
        "{ids:?}"
    );
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&bad_sarif).expect("sarif")).expect("JSON");
    let drift = sarif["runs"][0]["results"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|r| r["properties"]["syscall"] == "personality")
        })
        .expect("a drift result for personality");
    assert!(
        drift["properties"]["comm"]
            .as_str()
            .is_some_and(|c| c.starts_with("ci_suite")),
        "{drift}"
    );

    // Above the alert's priority, the drift alone fails it (exit 5); GitHub annotations.
    let r = Command::new(bin())
        .args([
            "ci",
            "--fail-on",
            "critical",
            "--baseline",
            base_s,
            "--",
            suite,
            "bad",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.0.join("summary.md"))
        .output()
        .expect("sysaudit ci");
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert_eq!(
        r.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(
        stdout.contains("::warning file=sysaudit_rules.yaml,line=")
            && stdout.contains("title=sysaudit%3A Sensitive file read in a container::"),
        "{stdout}"
    );
    assert!(
        stdout.contains("::error file=") && stdout.contains("title=sysaudit%3A syscall drift::"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(dir.0.join("summary.md")).expect("step summary");
    assert!(md.contains("- `personality` — first by pid "), "{md}");

    // --update-baseline takes the new syscall in; the next run no longer drifts.
    let r = ci(&[
        "--fail-on",
        "emergency",
        "--baseline",
        base_s,
        "--update-baseline",
        "--",
        suite,
        "bad",
    ]);
    assert_eq!(r.status.code(), Some(5), "{}", r.stderr);
    let r = ci(&[
        "--fail-on",
        "emergency",
        "--baseline",
        base_s,
        "--",
        suite,
        "bad",
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", r.stderr);

    // Records lost (a 16 KiB ring under an open/close storm): the run was not fully
    // audited (exit 3), said in the summary and the JUnit.
    let lost_xml = p("lost.xml");
    let r = ci(&[
        "--ring-size",
        "16K",
        "--report",
        &format!("junit={lost_xml}"),
        "--",
        fixture("open_storm").to_str().expect("UTF-8"),
        "300000",
    ]);
    assert_eq!(r.status.code(), Some(3), "{}", r.stderr);
    assert!(r.stderr.contains("ci: exit 3: events lost"), "{}", r.stderr);
    let cases = python_check("check_junit.py", &[Path::new(&lost_xml)]);
    assert!(
        cases.as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["name"] == "events watched" && c["failed"] == true)),
        "{cases}"
    );

    // The command's own failure wins.
    let r = ci(&["--", "sh", "-c", "cat /etc/shadow > /dev/null; exit 7"]);
    assert_eq!(r.status.code(), Some(7), "{}", r.stderr);
    assert!(
        r.stderr.contains("FAIL Sensitive file read"),
        "{}",
        r.stderr
    );
}

/// A reverse shell in the suite, and a container the suite starts with runc: both caught.
#[test]
fn a_reverse_shell_and_the_containers_a_suite_starts_are_caught() {
    if !privileged() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("port").port().to_string();
    let accept = std::thread::spawn(move || {
        let _ = listener.accept();
    });
    let shell = fixture("reverse_shell").to_str().expect("UTF-8");
    let r = ci(&["--", shell, &port]);
    let _ = accept.join();
    assert_eq!(r.status.code(), Some(4), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("FAIL Standard streams redirected to an outbound connection in a container"),
        "{}",
        r.stderr
    );

    let c = TestContainer::shadow_reader(1);
    let runc = sysaudit::runc::Runc::default().command();
    let mut argv: Vec<String> = vec![runc.get_program().to_string_lossy().into_owned()];
    argv.extend(runc.get_args().map(|a| a.to_string_lossy().into_owned()));
    argv.extend([
        "run".into(),
        "--bundle".into(),
        c.bundle.dir.display().to_string(),
        c.id().to_string(),
    ]);
    let mut args = vec!["--"];
    args.extend(argv.iter().map(String::as_str));
    let r = ci(&args);
    sysaudit::runc::Runc::default().cleanup(&c.bundle);
    assert_eq!(r.status.code(), Some(4), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("container={}", &c.id()[..12.min(c.id().len())])),
        "the alert is the container's:\n{}",
        r.stderr
    );
}
