//! `sysaudit config check FILE`: load a configuration as `watch -c FILE` would (drop-ins,
//! `-o` overrides), print its warnings and the effective configuration, exit 1 on an error.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Subcommand};

use crate::messages::message;

#[derive(Subcommand, Debug)]
pub(crate) enum ConfigCmd {
    /// Validate a configuration file and print the effective configuration.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    /// The configuration file (Falco's falco.yaml keys).
    pub(crate) file: PathBuf,
    /// Override a key, as `watch -o` does; repeatable, in order.
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    pub(crate) options: Vec<String>,
}

pub(crate) fn run(c: ConfigCmd) -> anyhow::Result<ExitCode> {
    let ConfigCmd::Check(a) = c;
    let loaded = super::watch::settings::load_config(Some(&a.file), &a.options)?;
    let files: Vec<String> = loaded
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    message!(
        "OK: {} ({} warning(s))",
        files.join(", "),
        loaded.warnings.len()
    );
    let value = serde_json::to_value(&loaded.config)?;
    let mut text = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut text);
    emitter.dump(&to_yaml(value))?;
    println!("{}", text.trim_start_matches("---\n"));
    Ok(ExitCode::SUCCESS)
}

fn to_yaml(v: serde_json::Value) -> yaml_rust2::Yaml {
    use serde_json::Value as J;
    use yaml_rust2::Yaml as Y;
    match v {
        J::Null => Y::Null,
        J::Bool(b) => Y::Boolean(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Y::Integer(i),
            None => Y::Real(n.to_string()),
        },
        J::String(s) => Y::String(s),
        J::Array(a) => Y::Array(a.into_iter().map(to_yaml).collect()),
        J::Object(o) => Y::Hash(
            o.into_iter()
                .map(|(k, v)| (Y::String(k), to_yaml(v)))
                .collect(),
        ),
    }
}
