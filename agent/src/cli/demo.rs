//! `sysaudit demo`: the embedded default. Starts a busybox container under runc after the
//! probe is attached, streams its syscalls, and sums them up.

use std::{
    collections::BTreeMap,
    io::{self, Write},
    process::ExitCode,
    sync::mpsc,
};

use anyhow::Context as _;
use clap::Args;

use crate::{
    cli::trace::text_line,
    event::Event,
    probe::{Probe, ProbeConfig, Scope, SyscallSet},
    runc::{self, Bundle, Runc},
    state::State,
    stream::{Flow, Stream},
};

/// What the demo container runs: a few file reads and writes, a pipeline, an exec chain.
pub const WORKLOAD: &str =
    "cat /etc/passwd > /dev/null; ls / | wc -l > /tmp/count; echo hello > /tmp/greeting; cat /tmp/greeting";

#[derive(Args, Debug, Clone, Default)]
pub struct DemoArgs {
    /// Print events as JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    crate::probe::preflight()?;
    runc::check_tools()?;
    let id = format!("sysaudit-demo-{}", std::process::id());
    let dir = std::env::temp_dir().join(&id);
    let bundle = Bundle::busybox(&dir, &id, "sysaudit-demo", &["sh", "-c", WORKLOAD])?;

    let probe = Probe::load(&ProbeConfig {
        trace: true,
        profile: false,
        scope: Scope::Containers,
        interesting: SyscallSet::all(),
        ring_bytes: ProbeConfig::default_ring_bytes(),
        profiles: Vec::new(),
        profile_entries: 1,
    })?;
    let mut stream = Stream::new(probe, State::live())?;
    eprintln!(
        "sysaudit: probe attached; starting container {id} (runc, busybox): sh -c '{WORKLOAD}'"
    );

    let (tx, rx) = mpsc::channel();
    let runc = Runc::default();
    let b = Bundle {
        dir: bundle.dir.clone(),
        id: bundle.id.clone(),
        config: bundle.config.clone(),
    };
    std::thread::spawn(move || {
        let _ = tx.send(runc.run(&b));
    });

    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut execs = Vec::new();
    let mut result = None;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    stream
        .run(
            None,
            |_, ev| {
                if ev.task().container_id != id {
                    return Flow::Continue;
                }
                match ev {
                    Event::Syscall(s) => *counts.entry(s.syscall.clone()).or_default() += 1,
                    Event::Exec(e) => execs.push(e.argv.join(" ")),
                    _ => {}
                }
                let line = if args.json {
                    serde_json::to_string(ev).unwrap_or_default()
                } else {
                    text_line(ev)
                };
                let _ = writeln!(out, "{line}");
                Flow::Continue
            },
            |_, _| match rx.try_recv() {
                Ok(r) => {
                    result = Some(r);
                    Flow::Stop
                }
                Err(_) => Flow::Continue,
            },
        )
        .await?;
    let _ = std::fs::remove_dir_all(&dir);
    let output = match result {
        Some(r) => r.context("running the demo container")?,
        None => anyhow::bail!("interrupted before the container finished"),
    };
    eprintln!(
        "\n--- container output ---\n{}",
        String::from_utf8_lossy(&output.stdout).trim_end()
    );
    if !output.status.success() {
        anyhow::bail!(
            "the demo container failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let total: u64 = counts.values().sum();
    let mut by_count: Vec<(&String, &u64)> = counts.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    eprintln!(
        "--- {total} syscalls ({} distinct) by container {id} ---",
        counts.len()
    );
    for (name, n) in by_count {
        eprintln!("{n:>6}  {name}");
    }
    eprintln!("--- programs executed ---");
    for e in &execs {
        eprintln!("  {e}");
    }
    let stats = stream.stats();
    eprintln!("{}", stats.line());
    if total == 0 {
        anyhow::bail!("no syscall of the demo container was seen");
    }
    Ok(if stats.lost() > 0 {
        ExitCode::from(super::EXIT_LOST)
    } else {
        ExitCode::SUCCESS
    })
}
