//! Where third-party reference data lives — Falco's rules files and conformance cases, the
//! engines' default seccomp profiles. None of it is in this tree: it is read from
//! `$SYSAUDIT_REFERENCE`, else from `shared/reference` beside the checkout. A test that needs
//! it skips loudly when it is absent, except under `CI=true`, where it is always there and a
//! missing file fails the test.
//!
//! One file, included by every crate that reads the data (`#[path]`), so the location has one
//! name in one place. Every including crate sits one directory below the workspace root.

#![allow(dead_code, reason = "each including crate uses a different part")]

use std::path::{Path, PathBuf};

/// The environment variable that overrides the reference directory.
pub(crate) const ENV: &str = "SYSAUDIT_REFERENCE";

/// The reference directory: `$SYSAUDIT_REFERENCE`, else `<workspace>/../shared/reference`.
pub(crate) fn dir() -> PathBuf {
    match std::env::var_os(ENV) {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference"),
    }
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `rel` below the reference directory, or `None` after a loud skip message. Under `CI=true`
/// a missing file panics.
pub(crate) fn file(rel: &str) -> Option<PathBuf> {
    let p = dir().join(rel);
    if p.is_file() {
        return Some(p);
    }
    if under_ci() {
        panic!(
            "reference data {} is missing under CI=true (set {ENV} or provide ../shared/reference)",
            p.display()
        );
    }
    eprintln!(
        "\n*** SKIPPED: needs the reference file {} (set {ENV} or provide ../shared/reference) ***\n",
        p.display()
    );
    None
}

/// One of Falco's files (`falco_rules.yaml`, `field-usage.txt`, ...).
pub(crate) fn falco(name: &str) -> Option<PathBuf> {
    file(&format!("falco/{name}"))
}

/// The text of one of Falco's files.
pub(crate) fn falco_text(name: &str) -> Option<(String, String)> {
    let p = falco(name)?;
    match std::fs::read_to_string(&p) {
        Ok(t) => Some((p.display().to_string(), t)),
        Err(e) => panic!("{}: {e}", p.display()),
    }
}
