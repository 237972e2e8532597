//! `sysaudit profile base --runtime runc|crun`: what the installed runtime itself does after
//! it loads a container's filter — measured, not assumed. A container whose filter sends
//! every syscall to a listener runs `true`; the runtime's own calls before the exec are its
//! share. The measured profile names the runtime's version, and `profile --runtime-base`
//! puts it in a container's profile in place of the fixed Go-runtime list.

use std::{collections::BTreeMap, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context as _;
use clap::Args;

use super::super::flags;
use crate::messages::message;
use crate::runc::Bundle;
use crate::seccomp::{
    enforce::Mode,
    profile::write_atomic,
    provenance::{Added, Provenance},
    runtime::HANDOVER_BASE,
    trial::{runtime_version, Workload},
    DefaultAction, Profile,
};
use crate::syscalls::Abi;

#[derive(Args, Debug, Clone)]
pub(crate) struct BaseArgs {
    /// The OCI runtime: runc or crun (a name on PATH or a path, e.g. a wrapper).
    #[arg(long, default_value = "runc", value_name = "RUNTIME")]
    pub(crate) runtime: String,
    /// Containers to run: the union is written (the Go runtime of runc varies by run).
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) runs: u32,
    /// Write the base profile here (OCI JSON, atomically); default: stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) out_format: flags::ProfileFormatArgs,
}

pub(crate) fn run(a: BaseArgs) -> anyhow::Result<ExitCode> {
    let version = runtime_version(&a.runtime)?;
    let dir = tempdir()?;
    let id = format!("sysaudit-base-{}", std::process::id());
    let bundle = Bundle::busybox(&dir, &id, "sysaudit-base", &["/bin/true"])
        .context("a busybox bundle (busybox-static; `cargo xtask setup`)")?;
    let workload = Workload::bundle(&bundle.dir, &a.runtime)?;
    // Nothing allowed: every call after the filter is the listener's to see.
    let nothing = Profile::new(DefaultAction::Errno);
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..a.runs {
        let o = workload.run(&nothing, Mode::Listen, Duration::from_secs(60))?;
        if !o.status.is_some_and(|s| s.success()) {
            anyhow::bail!(
                "{}: the measuring container failed ({}): {}",
                a.runtime,
                o.status_text(),
                String::from_utf8_lossy(&o.stderr).trim()
            );
        }
        for d in o
            .denials
            .iter()
            .filter(|d| workload.by_runtime(&d.comm) && d.abi == Abi::X86_64)
        {
            *counts.entry(d.name.clone()).or_default() += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut p = Profile::new(DefaultAction::Errno);
    let mut added = Vec::new();
    for (n, c) in &counts {
        p.allow(Abi::X86_64, n);
        added.push(Added {
            name: n.clone(),
            why: format!(
                "{version}: made after it loads the filter, in {c} of {} runs",
                a.runs
            ),
        });
    }
    // runc refuses to hand `write` to a listener: it writes its sync messages under the
    // filter, so the measured set cannot show it.
    if a.runtime_is("runc") && !p.names.contains("write") {
        p.allow(Abi::X86_64, "write");
        added.push(Added {
            name: "write".into(),
            why: format!("{version}: writes under the filter (a listener cannot be handed write)"),
        });
    }
    p.provenance = Provenance {
        added,
        runtime: Some(version.clone()),
        ..Provenance::default()
    };
    let text = p.render(a.out_format.format(), &format!("{}-base", a.runtime_name()));
    match &a.output {
        Some(o) => write_atomic(o, &text).with_context(|| format!("writing {}", o.display()))?,
        None => print!("{text}"),
    }
    let missing: Vec<&str> = HANDOVER_BASE
        .iter()
        .copied()
        .filter(|n| !p.names.contains(*n))
        .collect();
    message!(
        "{version}: {} syscalls after the filter over {} runs: {}",
        p.names.len(),
        a.runs,
        p.names.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    if missing.is_empty() {
        message!("the measured set covers the fixed hand-over list");
    } else {
        message!(
            "not measured from the fixed hand-over list (the Go runtime makes them only at times, or this runtime not at all): {}",
            missing.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

impl BaseArgs {
    fn runtime_name(&self) -> String {
        std::path::Path::new(&self.runtime)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.runtime.clone())
    }

    fn runtime_is(&self, name: &str) -> bool {
        self.runtime_name() == name
    }
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("sysaudit-base-{}", std::process::id()));
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    Ok(d)
}
