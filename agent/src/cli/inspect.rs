//! `sysaudit inspect [CONTAINER]`: what protects each running container of the node, from
//! outside (amicontained sees one container, from inside it).

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Args;

use super::{flags, select};
use crate::inspect::{inspect, HEADER};
use crate::state::State;

#[derive(Args, Debug, Clone)]
pub(crate) struct InspectArgs {
    /// One container (id, unique prefix, or its engine's name); default: every running one.
    #[arg(value_name = "CONTAINER")]
    pub(crate) container: Option<String>,
    /// One JSON object per container, a line each (denied syscalls listed per ABI).
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) engines: flags::EngineArgs,
}

pub(crate) fn run(a: InspectArgs) -> anyhow::Result<ExitCode> {
    let mut state = State::live();
    a.engines.attach(&mut state)?;
    let all = state.containers.scan();
    let chosen = match &a.container {
        Some(w) => select::running(&all, w)?,
        None => all,
    };
    if chosen.is_empty() {
        match &a.container {
            Some(w) => bail!("no running container matches '{w}'"),
            None => {
                crate::messages::message!("no running containers");
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    let root = crate::host::cgroup2_mount().context("no cgroup2 mount")?;
    let mut rows = Vec::new();
    for c in &chosen {
        let procs = root
            .join(c.cgroup_path.trim_start_matches('/'))
            .join("cgroup.procs");
        // The container's first process: its init.
        let Some(pid) = std::fs::read_to_string(&procs)
            .ok()
            .and_then(|t| t.lines().filter_map(|l| l.trim().parse::<u32>().ok()).min())
        else {
            continue;
        };
        // A container that ends while the node is walked is skipped, not the whole listing.
        let p = match inspect(pid) {
            Ok(p) => p,
            Err(e) => {
                crate::messages::warning!("container {}: process {pid}: {e}", c.id);
                continue;
            }
        };
        let name = c.meta().map(|m| m.name.clone()).unwrap_or_default();
        if a.json {
            let mut v = p.json();
            v["container"] = serde_json::json!(c.id.to_string());
            v["name"] = serde_json::json!(name);
            println!("{v}");
        } else {
            let mut row = vec![c.id.chars().take(12).collect::<String>(), name];
            row.extend(p.cells());
            rows.push(row);
        }
    }
    if !a.json {
        let mut header = vec!["CONTAINER".to_string(), "NAME".to_string()];
        header.extend(HEADER.iter().map(|s| s.to_string()));
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .chain([&header])
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for r in [&header].into_iter().chain(rows.iter()) {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            println!("{}", line.join("  ").trim_end());
        }
    }
    Ok(ExitCode::SUCCESS)
}
