//! `fd.*ip.name` as Falco's DNS manager gives it: a name in a condition matches the
//! addresses it resolves to (here through /etc/hosts: `localhost`), and names an address in
//! an output. Falco's "Contact K8S API Server From Container" and its miner rules use it.

use std::process::Command;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rules");

#[test]
fn a_name_in_a_condition_matches_the_addresses_it_resolves_to() {
    let o = Command::new(env!("CARGO_BIN_EXE_sysaudit"))
        .args(["rules", "test", "--all-matches", "-r"])
        .arg(format!("{DIR}/address_names.yaml"))
        .arg("--events")
        .arg(format!("{DIR}/connect_localhost.jsonl"))
        .output()
        .expect("run sysaudit");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].ends_with("connect to localhost (127.0.0.1)"),
        "{out}"
    );
    assert!(lines[1].ends_with("elsewhere 192.0.2.7"), "{out}");
}

#[test]
fn a_name_field_takes_only_equality_and_in() {
    let dir = std::env::temp_dir().join(format!("sysaudit-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.yaml");
    std::fs::write(
        &f,
        "- rule: x\n  desc: d\n  condition: fd.sip.name contains local\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sysaudit"))
        .args(["rules", "validate"])
        .arg(&f)
        .output()
        .expect("run sysaudit");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.yaml:3:14: error: rule 'x': fd.sip.name compares with names only"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
