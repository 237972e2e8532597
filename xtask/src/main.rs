//! Project automation: `cargo xtask setup | demo | test | conformance | bench | fuzz |
//! captures | install | image`.
//!
//! Every command installs what it is missing first (idempotently, saying what it does), so
//! the README's two commands work on a fresh machine.

mod fuzz;
mod install;
#[path = "../../tests/src/reference.rs"]
mod reference;
mod setup;
mod sh;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "sysaudit project tasks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install the BPF toolchain pieces and the Debian packages the demo and tests need.
    Setup,
    /// Set up, build, and run `sysaudit demo`: a busybox container under the default rules,
    /// then its recorded seccomp profile, enforced and proven.
    Demo,
    /// Re-record the default ruleset's captures (rules/tests/) from real containers.
    Captures,
    /// Set up, then run every check: fmt, clippy, unit tests, privileged end-to-end tests.
    Test {
        /// Only the unit tests (no root needed).
        #[arg(long)]
        unit: bool,
        /// Extra arguments for the end-to-end test binary (e.g. a test name filter).
        #[arg(last = true)]
        filter: Vec<String>,
    },
    /// Build the release binary and run Falco's own language cases against it (the
    /// reference data's `falco-conformance/check.sh`): rules files and conditions, each with
    /// the verdict Falco's tests assert. Exits non-zero on any disagreement.
    Conformance {
        /// List every disagreement.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Benchmarks (not tests): per-syscall overhead and the open/close storm in a runc
    /// container against no tracer and peer tools, then rules-engine throughput (criterion).
    /// Prints ratios from one run.
    Bench {
        /// Only the rules-engine benchmark (no root needed).
        #[arg(long)]
        rules_only: bool,
        /// Only these overhead cases (comma-separated name fragments, e.g. plain,profile).
        #[arg(long)]
        cases: Option<String>,
        /// Only these root benchmarks, and no criterion (default: all of them).
        #[arg(value_parser = ["overhead", "storm", "workers", "ci"])]
        suites: Vec<String>,
    },
    /// Build and install: the binary, man pages, shell completions, the systemd unit and
    /// (when absent) /etc/sysaudit/sysaudit.yaml.
    Install {
        /// Where the binary, man pages and completions go (bin/, share/).
        #[arg(long, default_value = "/usr/local")]
        prefix: PathBuf,
        /// Stage everything below this directory instead of / (for packaging).
        #[arg(long)]
        destdir: Option<PathBuf>,
    },
    /// Build the agent image (deploy/container/Containerfile) from a staged root file
    /// system, offline, with the local docker.
    Image {
        /// The image's name.
        #[arg(long, default_value = "sysaudit:latest")]
        tag: String,
    },
    /// Fuzz the rules parser and loader (cargo-fuzz; installs nightly and cargo-fuzz).
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 600)]
        seconds: u32,
        /// Targets to run (default: all of them).
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(fuzz::TARGETS))]
        targets: Vec<String>,
    },
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = root();
    std::env::set_current_dir(&root)?;
    // `cargo install` puts bpf-linker in $CARGO_HOME/bin; make sure the build finds it.
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin"));
    if let Some(bin) = cargo_bin {
        let mut paths: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        if !paths.contains(&bin) {
            paths.insert(0, bin);
            std::env::set_var("PATH", std::env::join_paths(paths)?);
        }
    }
    match cli.cmd {
        Cmd::Setup => setup::all(),
        Cmd::Demo => {
            setup::all()?;
            let bin = build_release()?;
            sh::step("running `sysaudit demo`");
            sh::run(sh::cmd(bin).arg("demo"))
        }
        Cmd::Test { unit, filter } => test(unit, &filter),
        Cmd::Image { tag } => {
            setup::all()?;
            let bin = build_release()?;
            let stage = root.join("target/image-root");
            sh::step(&format!("staging the image's files in {}", stage.display()));
            sh::run(
                sh::cmd("sh")
                    .arg(root.join("deploy/container/stage.sh"))
                    .arg(&bin)
                    .arg(&stage),
            )?;
            sh::step(&format!("docker build -t {tag}"));
            sh::run(
                sh::cmd("docker")
                    .args(["build", "-t", &tag, "-f"])
                    .arg(root.join("deploy/container/Containerfile"))
                    .arg(&stage),
            )
        }
        Cmd::Install { prefix, destdir } => {
            setup::all()?;
            let bin = build_release()?;
            install::run(&bin, &prefix, destdir.as_deref())
        }
        Cmd::Conformance { verbose } => conformance(verbose),
        Cmd::Bench {
            rules_only,
            cases,
            suites,
        } => bench(rules_only, cases.as_deref(), &suites),
        Cmd::Fuzz { seconds, targets } => fuzz::run(&targets, seconds, fuzz::Sanitizer::Address),
        Cmd::Captures => {
            setup::all()?;
            let bin = build_release()?;
            sh::step("recording rules/tests/*.jsonl from real containers");
            sh::run(
                sh::cmd("cargo")
                    .args([
                        "test",
                        "--release",
                        "--package",
                        "sysaudit-tests",
                        "--test",
                        "rules_live",
                        "--",
                    ])
                    .args(["--ignored", "--test-threads=1", "record_rule_captures"])
                    .env("SYSAUDIT_BIN", &bin)
                    .env("SYSAUDIT_REQUIRE_EBPF", "1"),
            )
        }
    }
}

fn conformance(verbose: bool) -> Result<()> {
    setup::all()?;
    let bin = build_release()?;
    let check = reference::dir().join("falco-conformance/check.sh");
    if !check.is_file() {
        anyhow::bail!(
            "{} is missing: the conformance cases are reference data (set {} or provide ../shared/reference)",
            check.display(),
            reference::ENV
        );
    }
    sh::step("Falco's language cases (falco-conformance/check.sh) against the release binary");
    let mut c = sh::cmd(check);
    c.arg(bin);
    if verbose {
        c.arg("-v");
    }
    sh::run(&mut c)
}

/// Build the release binary with the real eBPF object; returns its path.
fn build_release() -> Result<PathBuf> {
    sh::step("building sysaudit (release, with its eBPF programs)");
    sh::run(
        sh::cmd("cargo")
            .args(["build", "--release", "--package", "sysaudit"])
            .env("SYSAUDIT_REQUIRE_EBPF", "1"),
    )?;
    Ok(root().join("target/release/sysaudit"))
}

fn bench(rules_only: bool, cases: Option<&str>, suites: &[String]) -> Result<()> {
    setup::all()?;
    if !rules_only {
        let bin = build_release()?;
        sh::step("building the benchmarks that need root");
        sh::run(sh::cmd("cargo").args([
            "build",
            "--release",
            "--package",
            "sysaudit-tests",
            "--bin",
            "bench",
        ]))?;
        sh::step("overhead (getppid loop), storm (open/close), evaluation threads in runc containers, ci on a test suite (root)");
        let mut c = sh::cmd(root().join("target/release/bench"));
        c.args(suites);
        c.env("SYSAUDIT_BIN", &bin);
        if let Some(cases) = cases {
            c.env("BENCH_CASES", cases);
        }
        sh::run(&mut c)?;
    }
    if !suites.is_empty() {
        return Ok(());
    }
    sh::step("rules-engine throughput (criterion, upstream Falco rules and ours)");
    sh::run(sh::cmd("cargo").args(["bench", "--package", "sysaudit", "--bench", "rules_eval"]))
}

/// How long the test command fuzzes each target.
const FUZZ_SECONDS: u32 = 20;

fn test(unit_only: bool, filter: &[String]) -> Result<()> {
    setup::all()?;
    sh::step("cargo fmt --check");
    sh::run(sh::cmd("cargo").args(["fmt", "--all", "--check"]))?;
    sh::step("cargo clippy -D warnings (host crates)");
    sh::run(
        sh::cmd("cargo")
            .args(["clippy", "--all-targets", "--", "-D", "warnings"])
            .env("SYSAUDIT_REQUIRE_EBPF", "1"),
    )?;
    sh::step("cargo clippy -D warnings (eBPF crate, bpf target)");
    sh::run(
        sh::cmd("cargo")
            .args([
                "clippy",
                "--package",
                "agent-ebpf",
                "--release",
                "--target",
                "bpfel-unknown-none",
                "-Z",
                "build-std=core",
                "--",
                "-D",
                "warnings",
            ])
            .env("RUSTC_BOOTSTRAP", "1"),
    )?;
    sh::step("unit tests");
    sh::run(
        sh::cmd("cargo")
            .args([
                "test",
                "--package",
                "sysaudit",
                "--package",
                "sysaudit-common",
            ])
            .env("SYSAUDIT_REQUIRE_EBPF", "1"),
    )?;
    if unit_only {
        return Ok(());
    }
    if filter.is_empty() {
        // Bounded: each target for FUZZ_SECONDS from its corpus and seeds; a crash fails the
        // command (its input goes into agent/fuzz/regressions/<target>/, named after the bug).
        sh::step(&format!(
            "fuzzing the condition, loader and capture-replay targets, {FUZZ_SECONDS} s each"
        ));
        fuzz::run(&[], FUZZ_SECONDS, fuzz::Sanitizer::None)?;
    }
    let bin = build_release()?;
    sh::step("privileged end-to-end tests (real eBPF, real runc containers; one at a time)");
    let mut c = sh::cmd("cargo");
    c.args([
        "test",
        "--release",
        "--package",
        "sysaudit-tests",
        "--",
        "--test-threads=1",
    ])
    .args(filter)
    .env("SYSAUDIT_BIN", &bin)
    .env("SYSAUDIT_REQUIRE_EBPF", "1");
    sh::run(&mut c)
}
