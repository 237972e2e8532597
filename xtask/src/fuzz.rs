//! `cargo xtask fuzz`: run the cargo-fuzz targets (agent/fuzz) for a while each.
//!
//! libFuzzer needs a nightly toolchain (`-Z sanitizer`); it is installed here when missing.
//! Each run starts from its corpus (agent/fuzz/corpus, ignored by git), the regression inputs
//! and seeds: for the loader, whole rules files — ours, the test fixtures and Falco's from the
//! reference data (passed as directories, never copied); for the condition parser, every
//! condition of those files, extracted here at run time. A crash fails the command; copy the
//! artifact into agent/fuzz/regressions/<target>/, named after the bug, so the regression test
//! replays it forever after.

use std::{
    collections::hash_map::DefaultHasher,
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use yaml_rust2::{Yaml, YamlLoader};

use crate::{reference, root, sh};

/// The cargo-fuzz release installed when missing.
const CARGO_FUZZ: &str = "0.13.2";

pub(crate) const TARGETS: &[&str] = &["condition", "loader", "replay"];

/// How a run instruments the code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sanitizer {
    /// AddressSanitizer (`cargo xtask fuzz`): slower to build and run, finds memory errors
    /// in unsafe code and C.
    Address,
    /// Coverage only (the test command): the targets are safe Rust, where a bug is a panic.
    None,
}

pub(crate) fn run(targets: &[String], seconds: u32, sanitizer: Sanitizer) -> Result<()> {
    nightly()?;
    cargo_fuzz()?;
    let dir = root().join("agent/fuzz");
    let chosen: Vec<String> = if targets.is_empty() {
        TARGETS.iter().map(|t| t.to_string()).collect()
    } else {
        targets.to_vec()
    };
    for t in &chosen {
        let corpus = dir.join("corpus").join(t);
        std::fs::create_dir_all(&corpus)?;
        let seeds = match t.as_str() {
            "loader" => rules_dirs(),
            // Real captures: the ruleset's and the test fixtures'.
            "replay" => vec![root().join("rules/tests"), root().join("agent/tests/rules")],
            _ => vec![condition_seeds(&dir.join("corpus/condition-seeds"))?],
        };
        sh::step(&format!("fuzzing `{t}` for {seconds} s"));
        sh::run(
            sh::cmd("cargo")
                .current_dir(&dir)
                .args(["+nightly", "fuzz", "run", t])
                .args(match sanitizer {
                    Sanitizer::Address => &[][..],
                    Sanitizer::None => &["--sanitizer", "none"][..],
                })
                .arg(&corpus)
                // libFuzzer stops at a missing directory: a target may have no seeds or
                // regressions of its own yet.
                .args(
                    seeds
                        .iter()
                        .chain([&dir.join("seeds").join(t), &dir.join("regressions").join(t)])
                        .filter(|d| d.is_dir()),
                )
                .args(["--", &format!("-max_total_time={seconds}")])
                // The fuzzers exercise the rules engine only: no eBPF object needed.
                .env("SYSAUDIT_EBPF_STUB", "1"),
        )?;
    }
    Ok(())
}

/// Directories of whole rules files: ours, the test fixtures, Falco's (when the reference data
/// is there).
fn rules_dirs() -> Vec<PathBuf> {
    let mut v = vec![root().join("rules"), root().join("agent/tests/rules")];
    match reference::falco("falco_rules.yaml").and_then(|p| p.parent().map(Path::to_path_buf)) {
        Some(d) => v.push(d),
        None => eprintln!("note: fuzzing without Falco's rules files as seeds"),
    }
    v
}

/// Write every condition of the rules files into `out`, one file each; returns `out`.
fn condition_seeds(out: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(out)?;
    let mut n = 0;
    for d in rules_dirs() {
        for e in std::fs::read_dir(&d).with_context(|| d.display().to_string())? {
            let p = e?.path();
            if p.extension().is_none_or(|x| x != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&p)?;
            // Broken fixtures are seeds for the loader, not sources of conditions.
            let Ok(docs) = YamlLoader::load_from_str(&text) else {
                continue;
            };
            for item in docs.iter().filter_map(Yaml::as_vec).flatten() {
                if let Some(c) = item["condition"].as_str() {
                    let mut h = DefaultHasher::new();
                    c.hash(&mut h);
                    std::fs::write(out.join(format!("{:016x}", h.finish())), c)?;
                    n += 1;
                }
            }
        }
    }
    eprintln!("ok: {n} condition seeds in {}", out.display());
    Ok(out.to_path_buf())
}

fn nightly() -> Result<()> {
    if sh::output(sh::cmd("rustc").arg("+nightly").arg("--version")).is_some() {
        eprintln!("ok: a nightly toolchain is installed");
        return Ok(());
    }
    sh::step("installing a nightly toolchain (cargo-fuzz needs -Z sanitizer)");
    sh::run(sh::cmd("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))
}

fn cargo_fuzz() -> Result<()> {
    if sh::output(sh::cmd("cargo").args(["fuzz", "--version"])).is_some() {
        eprintln!("ok: cargo-fuzz is installed");
        return Ok(());
    }
    sh::step(&format!(
        "installing cargo-fuzz {CARGO_FUZZ} (cargo install --locked)"
    ));
    sh::run(sh::cmd("cargo").args(["install", "--locked", "cargo-fuzz", "--version", CARGO_FUZZ]))
}
