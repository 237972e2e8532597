//! `sysaudit profile`: record the syscalls a container (or a pod's containers, a cgroup, a
//! command) makes, in the kernel, and write the minimal seccomp profile that lets it run.

mod base;
mod compare;
mod pod;
mod snapshot;
mod verify;

use crate::messages::{message, report, report_inline, warning};
use std::{
    fs,
    io::{IsTerminal, Write},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};
use clap::Args;
use sysaudit_common::gate;

use super::{flags, select};
use crate::seccomp::record::pod_profiles;
use crate::{
    event::{Event, Timestamp},
    launch::{populated, OwnCgroup},
    probe::{Probe, ProbeConfig, Scope},
    seccomp::{
        args, complete, phases,
        profile::write_atomic,
        provenance::Coverage,
        record::{self, add_handover, recorded},
        DefaultAction, Format, Profile,
    },
    state::{cgroup_path, State},
    stream::{Ended, Flow, Stream},
};

#[derive(Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct ProfileArgs {
    #[command(subcommand)]
    pub(crate) tool: Option<Tool>,
    /// Write the profile here (atomically); default: stdout. With --pod: a directory, one
    /// profile per container, `<pod>-<container>.json` (`.yaml` for spo).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) out_format: flags::ProfileFormatArgs,
    /// Name of the SeccompProfile (spo); default: derived from the target.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// The runtime's share of a container's profile as `profile base` measured it (in place
    /// of the fixed Go-runtime list; for runc both are kept); its version is named in the
    /// profile.
    #[arg(long, value_name = "FILE")]
    pub(crate) runtime_base: Option<PathBuf>,
    /// Union with an existing profile (OCI JSON or SPO YAML); repeatable.
    #[arg(long = "merge", value_name = "FILE")]
    pub(crate) merge: Vec<PathBuf>,
    /// What syscalls outside the profile get.
    #[arg(long, default_value = "errno", value_parser = ["errno", "kill", "log", "trap"])]
    pub(crate) default_action: String,
    /// Stop recording after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = flags::duration)]
    pub(crate) duration: Option<Duration>,
    /// Also record the argument values that decide what a syscall can do to isolation —
    /// socket families, clone/unshare namespace flags, personality values, ioctl requests —
    /// and allow only those (as Docker's default filters socket and clone); clone3, whose
    /// flags a filter cannot see, answers ENOSYS so libc falls back to clone.
    #[arg(long, conflicts_with = "pod")]
    pub(crate) args: bool,
    /// Add what one recording may miss, each addition listed with why: `siblings` (for a
    /// syscall seen, the other forms its libc call may use: poll/ppoll, wait4/waitid...),
    /// `imports` (the syscalls behind the libc functions the executables that ran import),
    /// or `all`.
    #[arg(long, value_name = "WHAT", value_parser = ["siblings", "imports", "all"])]
    pub(crate) complete: Option<String>,
    /// Split the recording where the workload starts serving (its first accept/accept4, or
    /// --serving-marker): -o FILE gets the whole run's profile and FILE.serving the serving
    /// phase's, for `run --serving` to apply after start-up.
    #[arg(long, conflicts_with_all = ["pod", "args"], requires = "output")]
    pub(crate) phases: bool,
    /// The syscall whose first call marks serving (repeatable; default accept, accept4).
    #[arg(long, value_name = "SYSCALL", requires = "phases")]
    pub(crate) serving_marker: Vec<String>,
    /// Stop recording once no new syscall has appeared for this many seconds (a launched
    /// command is then asked to stop).
    #[arg(long, value_name = "SECS", value_parser = flags::duration)]
    pub(crate) until_stable: Option<Duration>,
    /// Record this container (id, unique prefix, or its engine's name); it may start after
    /// sysaudit.
    #[arg(long, value_name = "ID", conflicts_with_all = ["cgroup", "command"])]
    pub(crate) container: Option<String>,
    /// Record every container of this Kubernetes pod (as its engine's metadata names it),
    /// one profile each, until the pod ends; it may start after sysaudit.
    #[arg(
        long,
        value_name = "NAMESPACE/NAME",
        conflicts_with_all = ["container", "cgroup", "command", "name"]
    )]
    pub(crate) pod: Option<String>,
    #[command(flatten)]
    pub(crate) engines: flags::EngineArgs,
    /// Record this cgroup v2 (path below the cgroup2 mount, or absolute) and its descendants.
    #[arg(long, value_name = "PATH", conflicts_with = "command")]
    pub(crate) cgroup: Option<String>,
    /// Ring buffer size (process lifecycle records only; syscalls are counted in the kernel).
    #[arg(long, value_name = "BYTES", value_parser = flags::ring_size)]
    pub(crate) ring_size: Option<u32>,
    /// How many cgroups the kernel can record at once.
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub(crate) max_cgroups: u32,
    /// Launch this command in a fresh cgroup and record it and its descendants.
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

/// What is done with profiles once written.
#[derive(clap::Subcommand, Debug, Clone)]
pub(crate) enum Tool {
    /// What one profile allows that the other does not, per ABI, with argument conditions.
    Diff(compare::DiffArgs),
    /// A profile's surface: against a baseline (the node's podman default by default) and the
    /// dangerous syscalls it still allows.
    Score(compare::ScoreArgs),
    /// Run the workload without the profile and under it; when it changes, name every
    /// syscall the profile denies it, with the process and ABI (exit 5 when not verified).
    Verify(verify::VerifyArgs),
    /// Measure what the installed runc or crun does itself after it loads a container's
    /// filter: the runtime's share of every container profile, with its version.
    Base(base::BaseArgs),
}

#[derive(Clone, Debug, PartialEq)]
enum Target {
    Container(String),
    Pod { namespace: String, name: String },
    Cgroup { path: String, id: u64, level: u32 },
    Command(Vec<String>),
}

struct Config {
    target: Target,
    output: Option<PathBuf>,
    format: Format,
    name: String,
    merged: Profile,
    duration: Option<Duration>,
    until_stable: Option<Duration>,
    args: bool,
    /// `--phases`: the markers.
    phases: Option<Vec<String>>,
    /// `--complete`: siblings, imports.
    complete: (bool, bool),
    runtime_base: Option<Profile>,
    ring_bytes: u32,
    max_cgroups: u32,
}

fn config(a: &ProfileArgs) -> anyhow::Result<Config> {
    let default_action = DefaultAction::parse(&a.default_action).context("--default-action")?;
    let target = match (&a.container, &a.cgroup, a.command.is_empty()) {
        _ if a.pod.is_some() => {
            let (namespace, name) = pod::parse(a.pod.as_deref().unwrap_or_default())?;
            if a.output.is_none() {
                bail!("--pod writes one profile per container: give a directory with -o DIR");
            }
            Target::Pod { namespace, name }
        }
        (Some(c), None, true) => {
            select::check_ids(std::slice::from_ref(c))?;
            Target::Container(c.clone())
        }
        (None, Some(p), true) => {
            let root = crate::host::cgroup2_mount().context("no cgroup2 mount")?;
            let rel = p.strip_prefix(root.to_str().unwrap_or("")).unwrap_or(p);
            let rel = format!("/{}", rel.trim_matches('/'));
            let dir = root.join(rel.trim_start_matches('/'));
            let meta = fs::metadata(&dir)
                .with_context(|| format!("--cgroup {p}: {} is not a cgroup", dir.display()))?;
            let level = cgroup_path::level(&rel);
            if level == 0 {
                bail!("--cgroup {p}: the root cgroup is the whole host; name a cgroup below it");
            }
            Target::Cgroup {
                path: rel,
                id: meta.ino(),
                level,
            }
        }
        (None, None, false) => Target::Command(a.command.clone()),
        (None, None, true) => {
            bail!("say what to record: --container ID, --pod NAMESPACE/NAME, --cgroup PATH or -- COMMAND")
        }
        _ => bail!("--container, --cgroup and -- COMMAND exclude each other"),
    };
    let mut merged = Profile::new(default_action);
    for m in &a.merge {
        merged.merge(&Profile::read(m, default_action)?);
    }
    if let Some(b) = &a.out_format.base_profile {
        merged.base_profile = Some(b.clone());
    }
    let name = a.name.clone().unwrap_or_else(|| match &target {
        Target::Container(c) => c.clone(),
        Target::Pod { name, .. } => name.clone(),
        Target::Cgroup { path, .. } => path.rsplit('/').next().unwrap_or("cgroup").to_string(),
        Target::Command(argv) => Path::new(&argv[0])
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    });
    Ok(Config {
        target,
        output: a.output.clone(),
        format: a.out_format.format(),
        name,
        merged,
        duration: a.duration,
        until_stable: a.until_stable,
        args: a.args,
        phases: a.phases.then(|| markers(&a.serving_marker)).transpose()?,
        complete: match a.complete.as_deref() {
            Some("siblings") => (true, false),
            Some("imports") => (false, true),
            Some(_) => (true, true),
            None => (false, false),
        },
        runtime_base: match &a.runtime_base {
            Some(p) => Some(Profile::read(p, default_action).context("--runtime-base")?),
            None => None,
        },
        ring_bytes: a.ring_size.unwrap_or_else(ProbeConfig::default_ring_bytes),
        max_cgroups: a.max_cgroups.max(1),
    })
}

pub(crate) async fn run(a: ProfileArgs) -> anyhow::Result<ExitCode> {
    match a.tool {
        Some(Tool::Diff(d)) => return compare::diff(d),
        Some(Tool::Score(s)) => return compare::score(s),
        Some(Tool::Verify(v)) => return verify::run(v),
        Some(Tool::Base(b)) => return base::run(b),
        None => {}
    }
    let cfg = config(&a)?;
    crate::probe::preflight()?;
    let mut state = State::live();
    if matches!(cfg.target, Target::Container(_) | Target::Pod { .. }) {
        // A container may be named by its engine's name; a pod is known only by it.
        a.engines.attach(&mut state)?;
    }
    let mut reasons: Vec<String> = Vec::new();
    let cg_root = crate::host::cgroup2_mount().context("no cgroup2 mount")?;

    // Scope and gate per target.
    let mut own: Option<OwnCgroup> = None;
    let mut watch_dir: Option<PathBuf> = None;
    // The cgroup the kernel records under, when known up front.
    let mut fixed_id: Option<u64> = None;
    // The target had processes when recording started: its cgroup emptying (or going away)
    // ends the recording even if that happens before the first look (regression: a
    // container that ended while the probe was still loading left `profile` waiting).
    let mut was_populated = false;
    let (scope, profiles, label) = match &cfg.target {
        Target::Command(argv) => {
            let cg = OwnCgroup::create("profile")?;
            fixed_id = Some(cg.id);
            let s = (
                Scope::Cgroups(vec![(cg.id, cg.level())]),
                vec![(cg.id, gate::EXEC)],
                format!("command {}", argv.join(" ")),
            );
            own = Some(cg);
            s
        }
        Target::Cgroup { path, id, level } => {
            let dir = cg_root.join(path.trim_start_matches('/'));
            let busy = populated(&dir).unwrap_or(false);
            was_populated = busy;
            if busy {
                reasons.push(format!("cgroup {path} already had processes when recording started; their earlier syscalls are missing"));
            }
            watch_dir = Some(dir);
            fixed_id = Some(*id);
            (
                Scope::Cgroups(vec![(*id, *level)]),
                vec![(*id, if busy { gate::OPEN } else { gate::EXEC })],
                format!("cgroup {path}"),
            )
        }
        Target::Container(want) => {
            let running = select::running(&state.containers.scan(), want)?;
            match running.first() {
                Some(c) => {
                    was_populated = true;
                    reasons.push(format!("container {} was already running when recording started; its start-up syscalls are missing", c.id));
                    let level = cgroup_path::level(&c.cgroup_path);
                    watch_dir = Some(cg_root.join(c.cgroup_path.trim_start_matches('/')));
                    fixed_id = Some(c.cgroup_id);
                    (
                        Scope::Cgroups(vec![(c.cgroup_id, level)]),
                        vec![(c.cgroup_id, gate::OPEN)],
                        format!("container {}", c.id),
                    )
                }
                None => (Scope::Containers, Vec::new(), format!("container {want}")),
            }
        }
        Target::Pod { namespace, name } => {
            // Every container is in scope (the pod's next ones too); those running already
            // are recorded from now on.
            let running = pod::running(&state.containers.scan(), namespace, name);
            if let Some(c) = running.first() {
                was_populated = true;
                reasons.push(format!("pod {namespace}/{name} was already running when recording started; its containers' start-up syscalls are missing"));
                watch_dir = pod::pod_dir(&cg_root, &c.cgroup_path);
            }
            let profiles = running.iter().map(|c| (c.cgroup_id, gate::OPEN)).collect();
            (
                Scope::Containers,
                profiles,
                format!("pod {namespace}/{name}"),
            )
        }
    };

    let profiles_gates = profiles.clone();
    let mut pc = ProbeConfig::profile(scope, profiles, cfg.max_cgroups, cfg.ring_bytes);
    // First-use records: when each syscall first appeared (the coverage curve).
    pc.firsts = true;
    if cfg.args {
        // The filtered syscalls come through the ring with their registers.
        pc.trace = true;
        for n in args::TRACED {
            pc.interesting.insert_name(n);
        }
    }
    let probe = Probe::load(&pc)?;
    let mut stream = Stream::new(probe, state)?;
    message!(
        "recording {label}; stop with Ctrl-C{}",
        if cfg.output.is_some() {
            ", snapshot with SIGUSR1"
        } else {
            ""
        }
    );
    let start = Timestamp::now();
    let snapshot = snapshot::Request::listen()?;

    let mut child = match (&cfg.target, &own) {
        (Target::Command(argv), Some(cg)) => Some(cg.spawn(argv)?),
        _ => None,
    };
    let mut status: Option<std::process::ExitStatus> = None;
    let want = match &cfg.target {
        Target::Container(w) => Some(w.clone()),
        _ => None,
    };
    let want_pod = match &cfg.target {
        Target::Pod { namespace, name } => Some((namespace.clone(), name.clone())),
        _ => None,
    };
    let pod_seen = std::cell::Cell::new(false);
    // Both callbacks read them: the event handler learns a late container's cgroup.
    let container_id: std::cell::RefCell<Option<String>> = std::cell::RefCell::new(None);
    let watch_dir = std::cell::RefCell::new(watch_dir);
    let tty = std::io::stderr().is_terminal();
    let mut last_look = Instant::now();
    let mut last_count = 0usize;
    let mut last_new = Instant::now();
    let mut stable = false;
    let mut split: Option<phases::Split> = None;
    let imports = std::cell::RefCell::new(complete::Imports::default());
    let seen = std::cell::RefCell::new(args::Seen::new(
        profiles_gates
            .iter()
            .filter(|(_, g)| *g == gate::OPEN)
            .map(|(cg, _)| *cg),
    ));

    let ended = stream
        .run(
            cfg.duration,
            |st, ev: &Event| {
                // A container that starts later: learn its cgroup from its first event.
                if let Some(w) = &want {
                    let t = ev.task();
                    if watch_dir.borrow().is_none()
                        && &*t.container_id != crate::state::HOST
                        && select::names(st, t, w)
                    {
                        *container_id.borrow_mut() = Some(t.container_id.to_string());
                        if let Some(p) = st.containers.path(t.cgroup_id) {
                            *watch_dir.borrow_mut() = Some(cg_root.join(p.trim_start_matches('/')));
                        }
                    }
                }
                // A pod that starts later: its cgroup is its first container's parent.
                if let (Some((ns, name)), false) = (&want_pod, pod_seen.get()) {
                    let c = st.containers.peek(ev.task().cgroup_id);
                    if let Some(c) = c.filter(|c| c.meta().is_some_and(|m| m.in_pod(ns, name))) {
                        pod_seen.set(true);
                        if watch_dir.borrow().is_none() {
                            *watch_dir.borrow_mut() = pod::pod_dir(&cg_root, &c.cgroup_path);
                        }
                    }
                }
                if let (true, Event::Exec(e)) = (cfg.complete.1, ev) {
                    let mine = fixed_id.is_some()
                        || container_id.borrow().as_deref() == Some(&*e.task.container_id);
                    if mine {
                        // The process may be gone already: its root may still lead to the
                        // file, and a launched command's paths are the host's.
                        let exe = PathBuf::from(format!("/proc/{}/exe", e.task.pid));
                        let rooted = PathBuf::from(format!("/proc/{}/root{}", e.task.pid, e.filename));
                        let host = PathBuf::from(&e.filename);
                        let mut paths = vec![exe.as_path(), rooted.as_path()];
                        if matches!(cfg.target, Target::Command(_)) {
                            paths.push(host.as_path());
                        }
                        imports.borrow_mut().executable(&paths, &e.filename);
                    }
                }
                if cfg.args {
                    let t = ev.task();
                    let mine = fixed_id.is_some()
                        || container_id.borrow().as_deref() == Some(&*t.container_id);
                    match ev {
                        Event::Exec(_) if mine => seen.borrow_mut().exec(t.cgroup_id),
                        Event::Syscall(e) if mine => {
                            if let Some(regs) = &e.regs {
                                seen.borrow_mut().note(t.cgroup_id, &e.syscall, regs);
                            }
                        }
                        _ => {}
                    }
                }
                Flow::Continue
            },
            |st, probe| {
                if let Some(c) = child.as_mut() {
                    if let Ok(Some(s)) = c.try_wait() {
                        status = Some(s);
                        return Flow::Stop;
                    }
                }
                if let Some(dir) = watch_dir.borrow().as_ref() {
                    match populated(dir) {
                        Some(true) => was_populated = true,
                        // Emptied (or removed) after it ran: the workload is over.
                        Some(false) | None
                            if was_populated
                                || container_id.borrow().is_some()
                                || pod_seen.get() =>
                        {
                            return Flow::Stop
                        }
                        _ => {}
                    }
                }
                if let (Some(markers), None) = (&cfg.phases, &split) {
                    let cid = container_id.borrow().clone();
                    let t = target(fixed_id, cid.as_deref());
                    let seen = phases::marker_seen(
                        &st.firsts,
                        || t.keys(probe, &mut st.containers).unwrap_or_default(),
                        markers,
                    );
                    if let Some((marker, at)) = seen {
                        match start_serving(probe, st, t, marker, at) {
                            Ok(s) => {
                                message!(
                                    "serving from {:.2} s (the first {}): {} syscalls in start-up; recording the serving phase",
                                    at.0.saturating_sub(start.0) as f64 / 1e9,
                                    s.marker,
                                    s.startup.names.len()
                                );
                                split = Some(s);
                            }
                            Err(e) => warning!("--phases: {e:#}"),
                        }
                    }
                }
                if last_look.elapsed() < Duration::from_millis(500) && !snapshot.asked() {
                    return Flow::Continue;
                }
                last_look = Instant::now();
                let cid = container_id.borrow().clone();
                let n = match &want_pod {
                    Some((ns, name)) => pod_profiles(probe, &mut st.containers, ns, name)
                        .map(|v| v.iter().map(|(_, p, _)| p.names.len()).sum())
                        .unwrap_or(0),
                    None => recorded(probe, &mut st.containers, target(fixed_id, cid.as_deref()))
                        .map(|(p, _)| p.names.len())
                        .unwrap_or(0),
                };
                if n != last_count {
                    last_count = n;
                    last_new = Instant::now();
                }
                if tty {
                    report_inline!(
                        "\rsysaudit: {label}: {n} syscalls recorded, the last new {:.0} s ago ",
                        last_new.elapsed().as_secs_f64()
                    );
                }
                if snapshot.take() {
                    if want_pod.is_some() || cfg.output.is_none() {
                        warning!("SIGUSR1: a snapshot needs -o FILE and a container, cgroup or command (not --pod)");
                    } else {
                        let t = target(fixed_id, cid.as_deref());
                        match build(
                            &cfg,
                            probe,
                            st,
                            t,
                            &SoFar {
                                start,
                                reasons: &reasons,
                                seen: &seen.borrow(),
                                imports: &imports.borrow(),
                                startup: split.as_ref().map(|s| &s.startup),
                            },
                            true,
                        )
                            .and_then(|p| write(&cfg, &p))
                        {
                            Ok(()) => message!("snapshot: {n} syscalls written; recording goes on"),
                            Err(e) => warning!("snapshot: {e:#}"),
                        }
                    }
                }
                if let Some(d) = cfg.until_stable {
                    if n > 0 && last_new.elapsed() >= d {
                        stable = true;
                        return Flow::Stop;
                    }
                }
                Flow::Continue
            },
        )
        .await?;
    if tty {
        report!();
    }
    if stable {
        message!(
            "no new syscall for {} s: recording ended (--until-stable)",
            cfg.until_stable.unwrap_or_default().as_secs_f64()
        );
    }

    // A signal ends the recording; a launched command is asked to stop and awaited.
    if let Some(c) = child.as_mut() {
        if status.is_none() {
            if ended == Ended::Signal || stable {
                // SAFETY: signalling our own child.
                unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while status.is_none() && Instant::now() < deadline {
                if let Ok(Some(s)) = c.try_wait() {
                    status = Some(s);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    let stats = stream.stats();
    let k = stats.kernel;
    let container_id = container_id.into_inner();
    let (probe, st) = stream.parts();
    if let Some((ns, name)) = &want_pod {
        let recorded = pod_profiles(probe, &mut st.containers, ns, name)?;
        return finish_pod(&cfg, ns, name, recorded, &k, reasons);
    }
    let t = target(fixed_id, container_id.as_deref());
    if want.is_some()
        && container_id.is_none()
        && fixed_id.is_none()
        && t.keys(probe, &mut st.containers)?.is_empty()
    {
        bail!(
            "no container matching '{}' appeared while recording",
            want.unwrap_or_default()
        );
    }
    reasons.extend(record::gaps(&k, false, false));
    if cfg.args && (k.ring_full > 0 || k.too_big > 0) {
        reasons.push(format!(
            "{} syscall records were lost: argument values may be missing (--args)",
            k.ring_full + k.too_big
        ));
    }
    let seen = seen.into_inner();
    let imports = imports.into_inner();
    let so_far = SoFar {
        start,
        reasons: &reasons,
        seen: &seen,
        imports: &imports,
        // The end's profile is the serving phase's; phases::finish adds start-up.
        startup: None,
    };
    if cfg.complete.1 {
        message!(
            "--complete imports: {} executables read ({} static, nothing to import), {} gone before they could be read",
            imports.read,
            imports.statics,
            imports.unread
        );
    }
    let mut out = build(&cfg, probe, st, t, &so_far, false)?;
    let mut serving = None;
    if let Some(s) = &split {
        let keys = t.keys(probe, &mut st.containers)?;
        let after: Vec<String> = st
            .firsts
            .earliest(&keys)
            .into_iter()
            .filter(|(at, _)| *at >= s.at)
            .map(|(_, n)| n)
            .collect();
        let (full, serve) = phases::finish(s, &out, after, start);
        out = full;
        serving = Some(serve);
    } else if cfg.phases.is_some() {
        warning!("--phases: no serving marker was seen (the workload never started serving); only the whole run's profile is written");
    }
    write(&cfg, &out)?;
    if let (Some(serve), Some(path)) = (&serving, &cfg.output) {
        let sp = phases::serving_path(path);
        let text = serve.render(cfg.format, &format!("{}-serving", cfg.name));
        write_atomic(&sp, &text).with_context(|| format!("writing {}", sp.display()))?;
        if let Some(ph) = &out.provenance.phases {
            message!(
                "phases: start-up and serving {} syscalls, serving alone {}, written to {}; only at start-up ({}): {}",
                out.count(),
                serve.count(),
                sp.display(),
                ph.startup_only.len(),
                ph.startup_only.join(", ")
            );
            message!(
                "apply the serving phase after start-up: sysaudit run --seccomp {} --serving {} -- COMMAND (a supervisor denies the start-up-only calls from the first {} on), or stack it from the workload with prctl(PR_SET_SECCOMP) once it serves",
                path.display(),
                sp.display(),
                ph.marker
            );
        }
    }
    let native = out.count();
    message!(
        "profile of {label}: {} syscalls ({}){}",
        native,
        out.abis
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        cfg.output
            .as_ref()
            .map(|p| format!(", written to {}", p.display()))
            .unwrap_or_default()
    );
    if let Some(c) = &out.provenance.coverage {
        message!("coverage: {}", c.text());
    }
    if k.firsts_lost > 0 {
        message!(
            "coverage: {} first-use records were lost; the curve misses them",
            k.firsts_lost
        );
    }
    compare::summary(&out, cfg.output.as_deref(), cfg.format, &cfg.name);
    drop(own);
    if !out.incomplete.is_empty() {
        for r in &out.incomplete {
            warning!("the profile may be incomplete: {r}");
        }
    }
    if let Some(s) = status {
        if !s.success() && !stable {
            let code = s
                .code()
                .unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(0));
            return Ok(ExitCode::from(code.clamp(1, 255) as u8));
        }
    }
    if !out.incomplete.is_empty() {
        crate::messages::set_lost();
    }
    Ok(ExitCode::SUCCESS)
}

/// `--serving-marker` names, checked (default: accept, accept4).
fn markers(named: &[String]) -> anyhow::Result<Vec<String>> {
    if named.is_empty() {
        return Ok(phases::DEFAULT_MARKERS
            .iter()
            .map(|m| m.to_string())
            .collect());
    }
    for m in named {
        if crate::syscalls::table::number(crate::syscalls::Abi::X86_64, m).is_none() {
            bail!("--serving-marker {m}: not a syscall");
        }
    }
    Ok(named.to_vec())
}

/// The workload made its first marker: keep what start-up recorded, start the kernel's
/// bitmaps over.
fn start_serving(
    probe: &mut Probe,
    st: &mut State,
    t: record::Target<'_>,
    marker: String,
    at: Timestamp,
) -> anyhow::Result<phases::Split> {
    let (startup, _) = recorded(probe, &mut st.containers, t)?;
    for k in t.keys(probe, &mut st.containers)? {
        probe.reset_profile(k)?;
    }
    Ok(phases::Split {
        marker,
        at,
        startup,
    })
}

/// What a recording has gathered beside the kernel's bitmaps.
#[derive(Clone, Copy)]
struct SoFar<'a> {
    start: Timestamp,
    reasons: &'a [String],
    seen: &'a args::Seen,
    imports: &'a complete::Imports,
    /// Start-up's profile, once a `--phases` split restarted the kernel's.
    startup: Option<&'a Profile>,
}

/// The profile recorded so far, merged with the earlier ones, with its coverage: what the end
/// of a recording writes, and a SIGUSR1 snapshot.
fn build(
    cfg: &Config,
    probe: &Probe,
    st: &mut State,
    t: record::Target<'_>,
    so_far: &SoFar<'_>,
    snapshot: bool,
) -> anyhow::Result<Profile> {
    let SoFar {
        start,
        reasons,
        seen,
        imports,
        startup,
    } = *so_far;
    let (mut profile, gate_closed) = recorded(probe, &mut st.containers, t)?;
    if let Some(startup) = startup {
        // After a --phases split the kernel holds the serving phase only.
        profile.merge(startup);
    }
    if cfg.args {
        seen.apply(&mut profile);
    }
    if cfg.complete != (false, false) {
        complete::apply(
            &mut profile,
            cfg.complete.0,
            cfg.complete.1.then_some(imports),
            cfg.args,
        );
    }
    let keys = t.keys(probe, &mut st.containers)?;
    profile.provenance.coverage = Some(Coverage::of(
        start,
        Timestamp::now(),
        st.firsts.earliest(&keys),
    ));
    profile.default_action = cfg.merged.default_action;
    profile.incomplete.extend(reasons.iter().cloned());
    if gate_closed && profile.names.is_empty() {
        profile
            .incomplete
            .extend(record::gaps(&Default::default(), true, true));
    }
    if snapshot {
        profile
            .incomplete
            .push("a snapshot: the recording was still going on".into());
    }
    if matches!(cfg.target, Target::Container(_)) {
        add_handover(&mut profile, cfg.runtime_base.as_ref());
    }
    let mut out = cfg.merged.clone();
    out.merge(&profile);
    Ok(out)
}

/// Write the profile to -o (atomically) or stdout.
fn write(cfg: &Config, out: &Profile) -> anyhow::Result<()> {
    let text = out.render(cfg.format, &cfg.name);
    match &cfg.output {
        Some(p) => write_atomic(p, &text).with_context(|| format!("writing {}", p.display()))?,
        None => {
            print!("{text}");
            let _ = std::io::stdout().flush();
        }
    }
    Ok(())
}

/// Write one profile per container of the pod: each as complete as a container's own.
fn finish_pod(
    cfg: &Config,
    namespace: &str,
    name: &str,
    recorded: Vec<(String, Profile, bool)>,
    k: &sysaudit_common::Counters,
    reasons: Vec<String>,
) -> anyhow::Result<ExitCode> {
    if recorded.is_empty() {
        bail!("no container of pod {namespace}/{name} appeared while recording");
    }
    let mut profiles = Vec::new();
    let mut incomplete = false;
    for (container, mut p, gate_closed) in recorded {
        p.default_action = cfg.merged.default_action;
        p.incomplete.extend(reasons.iter().cloned());
        p.incomplete
            .extend(record::gaps(k, gate_closed, p.names.is_empty()));
        add_handover(&mut p, cfg.runtime_base.as_ref());
        let mut out = cfg.merged.clone();
        out.merge(&p);
        for r in &out.incomplete {
            warning!("the profile of {container} may be incomplete: {r}");
        }
        incomplete |= !out.incomplete.is_empty();
        profiles.push((container, out));
    }
    let dir = cfg.output.as_deref().unwrap_or(Path::new("."));
    let written = pod::write(dir, name, &profiles, cfg.format)?;
    for ((n, path), (_, p)) in written.iter().zip(&profiles) {
        message!(
            "profile {n}: {} syscalls, written to {}",
            p.names.len(),
            path.display()
        );
    }
    if incomplete {
        crate::messages::set_lost();
    }
    Ok(ExitCode::SUCCESS)
}

/// The recorded cgroup when it is known up front, else the container that appeared.
fn target(id: Option<u64>, container: Option<&str>) -> record::Target<'_> {
    match (id, container) {
        (Some(i), _) => record::Target::Cgroup(i),
        (None, Some(c)) => record::Target::Container(c),
        (None, None) => record::Target::Unknown,
    }
}
