//! Issue 10, deployment pieces: the man pages and shell completions `cargo xtask install`
//! installs (generated from the clap definitions), the systemd unit (`systemd-analyze
//! verify`), the default configuration (`config check`).

use std::{path::Path, process::Command};

use sysaudit_tests::*;

fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn man_pages_and_completions_come_from_the_command_line_definitions() {
    let dir = TempDir::new("man");
    let r = sysaudit(&["generate", "man", "--dir", dir.0.to_str().expect("UTF-8")]);
    assert!(r.status.success(), "{}", r.stderr);
    for page in [
        "sysaudit.1",
        "sysaudit-watch.1",
        "sysaudit-config.1",
        "sysaudit-profile.1",
    ] {
        let text =
            std::fs::read_to_string(dir.0.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    // groff renders the watch page, options included.
    let out = Command::new("groff")
        .args(["-man", "-Tascii", "-P-bcou"])
        .arg(dir.0.join("sysaudit-watch.1"))
        .output()
        .expect("groff");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("--config"), "{text}");

    let r = sysaudit(&["generate", "bash"]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stdout.contains("watch") && r.stdout.contains("--config"));
    let f = dir.0.join("sysaudit.bash");
    std::fs::write(&f, &r.stdout).expect("write");
    let ok = Command::new("bash")
        .arg("-n")
        .arg(&f)
        .status()
        .expect("bash");
    assert!(ok.success(), "bash -n on the completion script");
    for shell in ["zsh", "fish"] {
        let r = sysaudit(&["generate", shell]);
        assert!(
            r.status.success() && r.stdout.contains("sysaudit"),
            "{shell}"
        );
    }
}

#[test]
fn the_systemd_unit_verifies_and_the_default_configuration_checks() {
    let dir = TempDir::new("unit");
    // As `cargo xtask install` writes it: ExecStart names the installed binary.
    let unit = std::fs::read_to_string(repo("deploy/systemd/sysaudit.service"))
        .expect("unit")
        .replace("/usr/local/bin/sysaudit", &bin().display().to_string());
    let f = dir.0.join("sysaudit.service");
    std::fs::write(&f, unit).expect("write");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&f)
        .output()
        .expect("systemd-analyze");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {err}");
    assert!(!err.contains("sysaudit.service"), "{err}");

    let r = sysaudit(&[
        "config",
        "check",
        repo("deploy/sysaudit.yaml").to_str().expect("UTF-8"),
    ]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("(0 warning(s))"), "{}", r.stderr);
}
