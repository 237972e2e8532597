//! `cargo xtask fuzz`: run the cargo-fuzz targets (agent/fuzz) for a while each.
//!
//! libFuzzer needs a nightly toolchain (`-Z sanitizer`); it is installed here when missing.
//! Each run starts from the committed seeds plus the regression inputs, and keeps its corpus
//! in agent/fuzz/corpus (ignored by git). A crash fails the command; copy the artifact into
//! agent/fuzz/regressions/<target>/ so the regression test replays it forever after.

use anyhow::Result;

use crate::{root, sh};

pub const TARGETS: &[&str] = &["condition", "loader"];

pub fn run(targets: &[String], seconds: u32) -> Result<()> {
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
        sh::step(&format!("fuzzing `{t}` for {seconds} s"));
        sh::run(
            sh::cmd("cargo")
                .current_dir(&dir)
                .args(["+nightly", "fuzz", "run", t])
                .arg(&corpus)
                .arg(dir.join("seeds").join(t))
                .arg(dir.join("regressions").join(t))
                .args(["--", &format!("-max_total_time={seconds}")])
                // The fuzzers exercise the rules engine only: no eBPF object needed.
                .env("SYSAUDIT_EBPF_STUB", "1"),
        )?;
    }
    Ok(())
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
    sh::step("installing cargo-fuzz (cargo install --locked)");
    sh::run(sh::cmd("cargo").args(["install", "--locked", "cargo-fuzz"]))
}
