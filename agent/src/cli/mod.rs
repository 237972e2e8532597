//! Command-line interface: clap definitions, one module per subcommand. Each subcommand turns
//! its raw flags into a validated config first (errors name the flag), then runs.

pub(crate) mod calibrate;
pub(crate) mod ci;
pub(crate) mod config;
pub(crate) mod demo;
pub(crate) mod flags;
pub(crate) mod generate;
pub(crate) mod inspect;
pub(crate) mod profile;
pub(crate) mod rules;
pub(crate) mod run;
pub(crate) mod select;
pub(crate) mod trace;
pub(crate) mod watch;

use crate::messages::{self, error, message};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "sysaudit",
    version,
    about = "eBPF syscall audit agent for containers",
    long_about = "Traces the syscalls of containers with eBPF: streams them, matches them against \
                  Falco-style rules, and records minimal seccomp profiles."
)]
pub(crate) struct Cli {
    /// More diagnostics on stderr: -v the agent's and its kernel programs' debug log, -vv
    /// trace and aya's. RUST_LOG, when set, decides instead.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Stream the syscalls of containers (or of the whole host).
    Trace(trace::TraceArgs),
    /// Start a busybox container under runc and show what it does (the embedded default).
    Demo(demo::DemoArgs),
    /// Detect threats live: match container syscalls against Falco-style rules.
    Watch(watch::WatchArgs),
    /// Record the syscalls of a container, cgroup or command and write a seccomp profile.
    Profile(Box<profile::ProfileArgs>),
    /// What protects each running container, from outside: seccomp filters (the syscalls they
    /// deny), capabilities, no_new_privs, host namespaces, LSM label, read-only root.
    Inspect(inspect::InspectArgs),
    /// Run a command under a seccomp profile.
    Run(run::RunArgs),
    /// Run a test suite under detection and profile recording; judge it for CI (exit code,
    /// JUnit, SARIF, GitHub annotations, drift against a baseline profile).
    Ci(ci::CiArgs),
    /// Falco-style rules: validate, list, replay captures.
    #[command(subcommand)]
    Rules(rules::RulesCmd),
    /// The configuration file (Falco's falco.yaml keys): check it.
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// Shell completions or man pages, from these definitions.
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
    /// Attach only an empty sys_enter program until stopped (the benchmark's hook floor).
    #[command(hide = true)]
    Calibrate,
}

/// Exit codes: 0 success, 1 error, 2 usage (clap), 3 finished but something was lost (records,
/// alerts) or a profile is incomplete — whatever told `messages` so.
const EXIT_LOST: u8 = 3;

/// The `sysaudit` command line: parse flags, run the subcommand, turn its outcome into the
/// exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "warn,sysaudit=debug",
        _ => "warn,sysaudit=trace,aya=debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp(None)
        .init();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            message!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Trace(a) => trace::run(a).await,
            Command::Demo(a) => demo::run(a).await,
            Command::Rules(c) => rules::run(c),
            Command::Config(c) => config::run(c),
            Command::Generate(a) => generate::run(a),
            Command::Watch(a) => watch::run(a).await,
            Command::Profile(a) => profile::run(*a).await,
            Command::Run(a) => run::run(a),
            Command::Inspect(a) => inspect::run(a),
            Command::Ci(a) => ci::run(a).await,
            Command::Calibrate => calibrate::run().await,
        }
    });
    match result {
        Ok(code) if code == ExitCode::SUCCESS && messages::lost() => ExitCode::from(EXIT_LOST),
        Ok(code) => code,
        Err(e) => {
            error!("{e:#}");
            ExitCode::from(1)
        }
    }
}
