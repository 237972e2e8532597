//! `sysaudit generate`: shell completions and man pages from the clap definitions (what
//! `cargo xtask install` installs), never written by hand.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use clap::{Args, CommandFactory, ValueEnum};

use super::Cli;

#[derive(Args, Debug)]
pub(crate) struct GenerateArgs {
    /// What to generate.
    #[arg(value_enum)]
    pub(crate) what: What,
    /// Directory for the man pages (one per command: sysaudit.1, sysaudit-watch.1, ...);
    /// completions go to stdout.
    #[arg(long, value_name = "DIR", required_if_eq("what", "man"))]
    pub(crate) dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum What {
    Man,
    Bash,
    Zsh,
    Fish,
}

pub(crate) fn run(a: GenerateArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let shell = match a.what {
        What::Man => {
            let dir = a.dir.context("--dir is required for man pages")?;
            std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
            clap_mangen::generate_to(cmd, &dir).with_context(|| dir.display().to_string())?;
            return Ok(ExitCode::SUCCESS);
        }
        What::Bash => clap_complete::Shell::Bash,
        What::Zsh => clap_complete::Shell::Zsh,
        What::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "sysaudit", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
