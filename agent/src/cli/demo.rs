//! `sysaudit demo`: the embedded default, both jobs on one real container. A busybox container
//! under runc does some ordinary work and a few things an attacker would; sysaudit, attached
//! before it starts, raises the default ruleset's alerts live and records the container's
//! syscalls in the kernel. The seccomp profile it writes is then proven: the same workload runs
//! under it in a fresh container with identical output, and a syscall it never made is denied.

use crate::messages::{message, report};
use std::{
    path::{Path, PathBuf},
    process::{ExitCode, Output as ProcOutput},
    sync::mpsc,
};

use anyhow::{bail, Context as _};
use clap::Args;

use super::watch::interesting;
use crate::{
    outputs::{LineOutput, Output},
    probe::{Probe, ProbeConfig, Scope},
    rules::{default::load, detect::Detector, Priority},
    runc::{self, Bundle, Runc},
    seccomp::{
        profile::write_atomic,
        record::{self, add_handover, recorded},
        Format,
    },
    state::State,
    stream::{Flow, Stream},
};

/// What the demo container runs: ordinary work first, then what the default rules look for —
/// a credential file read, a write below /etc, a shell spawned by a non-shell (xargs, the shape
/// of remote code execution), a dropped binary run from /tmp. No mkdir anywhere: that is the
/// syscall the proof expects the profile to deny.
pub(crate) const WORKLOAD: &str = "cat /etc/passwd > /dev/null; ls / | wc -l > /tmp/count; \
echo hello > /tmp/greeting; cat /tmp/greeting; \
cat /etc/shadow > /dev/null; echo 'nameserver 10.0.0.1' > /etc/resolv.conf; \
echo id | xargs sh -c; cp /bin/busybox /tmp/busybox && /tmp/busybox echo dropped binary ran";

/// What a workload that stays inside the profile must not be able to do.
const FORBIDDEN: &str = "mkdir /newdir";

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct DemoArgs {
    /// Print alerts as Falco JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Where to write the recorded seccomp profile (OCI JSON); default: a file in the
    /// temporary directory, named on stderr.
    #[arg(long, value_name = "FILE")]
    pub(crate) profile_out: Option<PathBuf>,
}

/// A bundle of the demo workload, removed when dropped.
struct DemoContainer {
    bundle: Bundle,
}

impl DemoContainer {
    fn new(tag: &str, args: &[&str]) -> anyhow::Result<DemoContainer> {
        let id = format!("sysaudit-demo-{}-{tag}", std::process::id());
        let dir = std::env::temp_dir().join(&id);
        let bundle = Bundle::busybox(&dir, &id, "sysaudit-demo", args)?;
        // An image's credential file, for the workload to read.
        std::fs::write(dir.join("rootfs/etc/shadow"), "root:*:19000:0:99999:7:::\n")?;
        Ok(DemoContainer { bundle })
    }

    fn run(&self) -> anyhow::Result<ProcOutput> {
        Runc::default().run(&self.bundle)
    }
}

impl Drop for DemoContainer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.bundle.dir);
    }
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    crate::probe::preflight()?;
    runc::check_tools()?;
    let (mut engine, _) = load(&[], Priority::Debug)?;
    // Alerts name their container, as Falco's do by default.
    engine.decorate();
    let first = DemoContainer::new("record", &["sh", "-c", WORKLOAD])?;
    let id = first.bundle.id.clone();

    // Detection (traced syscalls through the rules) and recording (kernel bitmaps) at once.
    let set = interesting(&engine);
    let mut state = State::live();
    state.set_traced(&set);
    let probe = Probe::load(
        &ProbeConfig::trace(Scope::Containers, set, ProbeConfig::default_ring_bytes())
            .and_profile(64),
    )?;
    let mut stream = Stream::new(probe, state)?;
    let enabled = engine.rules.iter().filter(|r| r.enabled).count();
    message!("probe attached, {enabled} default rules loaded");
    message!("starting container {id} (runc, busybox): sh -c '{WORKLOAD}'\n");

    let (tx, rx) = mpsc::channel();
    let runc = Runc::default();
    let b = first.bundle.clone();
    std::thread::spawn(move || {
        let _ = tx.send(runc.run(&b));
    });

    let mut out = LineOutput::stdout(args.json);
    let mut detector = Detector::new(engine);
    let mut result = None;
    stream
        .run(
            None,
            |st, ev| {
                if *ev.task().container_id != *id {
                    return Flow::Continue;
                }
                for al in detector.step(ev, st) {
                    let _ = out.emit(al);
                    let _ = out.flush();
                }
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
    let recorded_run = match result {
        Some(r) => r.context("running the demo container")?,
        None => bail!("interrupted before the container finished"),
    };
    report!(
        "\n--- container output ---\n{}",
        String::from_utf8_lossy(&recorded_run.stdout).trim_end()
    );
    if !recorded_run.status.success() {
        bail!(
            "the demo container failed ({}): {}",
            recorded_run.status,
            String::from_utf8_lossy(&recorded_run.stderr).trim()
        );
    }
    let stats = stream.stats();
    report!(
        "--- detection: {} events of the container evaluated, {} rule(s) fired ---",
        detector.events(),
        detector.fired().len()
    );
    for r in detector.fired().keys() {
        report!("  {r}");
    }

    let (probe, st) = stream.parts();
    let (mut profile, _) = recorded(probe, &mut st.containers, record::Target::Container(&id))?;
    add_handover(&mut profile, None);
    if profile.names.is_empty() {
        bail!("nothing was recorded for container {id}");
    }
    let path = args
        .profile_out
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("{id}.seccomp.json")));
    let text = profile.render(Format::Oci, &id);
    write_atomic(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    report!(
        "--- seccomp profile: {} syscalls allowed, everything else EPERM; written to {} ---",
        profile.names.len(),
        path.display()
    );

    prove(&path, &text, &recorded_run)?;
    report!("{}", stats.line());
    if detector.fired().is_empty() {
        bail!("no rule fired on the demo workload");
    }
    if !profile.incomplete.is_empty() {
        crate::messages::set_lost();
    }
    Ok(ExitCode::SUCCESS)
}

/// Run the workload again under the profile (same output), then something it never did
/// (denied with EPERM).
fn prove(path: &Path, text: &str, recorded_run: &ProcOutput) -> anyhow::Result<()> {
    let seccomp: serde_json::Value = serde_json::from_str(text)?;
    let mut again = DemoContainer::new("enforce", &["sh", "-c", WORKLOAD])?;
    again.bundle.set_seccomp(seccomp.clone())?;
    let out = again.run()?;
    if !out.status.success() || out.stdout != recorded_run.stdout {
        bail!(
            "the workload failed under its own profile {} ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    report!("--- proof: the same workload under the profile, fresh container: same output ---");
    let mut denied = DemoContainer::new("deny", &["sh", "-c", FORBIDDEN])?;
    denied.bundle.set_seccomp(seccomp)?;
    let out = denied.run()?;
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !err.contains("Operation not permitted") {
        bail!(
            "`{FORBIDDEN}` was not denied under the profile ({}): {}",
            out.status,
            err.trim()
        );
    }
    report!(
        "--- proof: `{FORBIDDEN}` under the profile: {} ---",
        err.trim()
    );
    Ok(())
}
