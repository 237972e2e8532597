//! `sysaudit trace`: stream the syscalls of containers.

use crate::messages::{message, report};
use std::{
    io::{self, BufWriter, Write},
    process::ExitCode,
    time::Duration,
};

use anyhow::bail;
use clap::Args;

use super::{
    flags,
    select::{self, Selection},
};
use crate::{
    event::Event,
    probe::{Probe, ProbeConfig, SyscallSet},
    state::{meta::PodField, State, HOST},
    stream::{Ended, Flow, Stream},
    syscalls::{table, Abi},
};

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct TraceArgs {
    #[command(flatten)]
    pub(crate) engines: flags::EngineArgs,
    /// Trace only this container (full id, unique prefix, or its engine's name); repeatable.
    /// It may start later.
    #[arg(long = "container", short = 'c', value_name = "ID")]
    pub(crate) containers: Vec<String>,
    /// Trace every process on the host, not only containers.
    #[arg(long, conflicts_with = "containers")]
    pub(crate) host: bool,
    /// Trace only these syscalls (comma-separated names); filtered in the kernel.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub(crate) syscalls: Vec<String>,
    /// One JSON object per line (the capture format `sysaudit rules test` replays).
    #[arg(long)]
    pub(crate) json: bool,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = flags::duration)]
    pub(crate) duration: Option<Duration>,
    /// Ring buffer size in bytes (power of two; K and M suffixes). Default: 64 KiB per CPU.
    #[arg(long, value_name = "BYTES", value_parser = flags::ring_size)]
    pub(crate) ring_size: Option<u32>,
}

/// Validated `trace` flags.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TraceConfig {
    pub(crate) selection: Selection,
    /// `None`: every syscall.
    pub(crate) syscalls: Option<SyscallSet>,
    pub(crate) json: bool,
    pub(crate) duration: Option<Duration>,
    pub(crate) ring_bytes: u32,
}

impl TraceConfig {
    pub(crate) fn new(a: &TraceArgs) -> anyhow::Result<TraceConfig> {
        let selection = Selection::from_flags(a.host, &a.containers)?;
        let syscalls = if a.syscalls.is_empty() {
            None
        } else {
            Some(parse_syscalls(&a.syscalls)?)
        };
        Ok(TraceConfig {
            selection,
            syscalls,
            json: a.json,
            duration: a.duration,
            ring_bytes: a.ring_size.unwrap_or_else(ProbeConfig::default_ring_bytes),
        })
    }
}

/// Syscall names → numbers in every ABI that has them; unknown names are errors.
pub(crate) fn parse_syscalls(names: &[String]) -> anyhow::Result<SyscallSet> {
    let mut set = SyscallSet::default();
    for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if !set.insert_name(n) {
            match table::suggest(n) {
                Some(s) => bail!("--syscalls: unknown syscall '{n}' (did you mean '{s}'?)"),
                None => bail!("--syscalls: unknown syscall '{n}'"),
            }
        }
    }
    if set.native.is_empty() && set.ia32.is_empty() {
        bail!("--syscalls: no syscall named");
    }
    Ok(set)
}

fn describe(cfg: &TraceConfig) -> String {
    let who = match &cfg.selection {
        Selection::Host => "every process".to_string(),
        Selection::Containers => "every container".to_string(),
        Selection::Ids(ids) => format!("container {}", ids.join(", ")),
    };
    let what = match &cfg.syscalls {
        None => "all syscalls".to_string(),
        Some(s) => format!("{} syscalls", s.native.len().max(s.ia32.len())),
    };
    format!("{what} of {who}")
}

/// One `--json` line: the event and, once its engine has said, its container's name and
/// image and its Kubernetes pod (a capture's reader ignores them).
#[derive(serde::Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    ev: &'a Event,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_image: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k8s_ns_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k8s_pod_name: Option<&'a str>,
}

/// One line of human-readable output.
pub(crate) fn text_line(ev: &Event) -> String {
    let t = ev.task();
    let ctr = if &*t.container_id == HOST {
        HOST.to_string()
    } else {
        t.container_id.chars().take(12).collect()
    };
    let who = format!(
        "{} {:<12} {}({}:{})",
        t.time.rfc3339(),
        ctr,
        t.comm,
        t.pid,
        t.tid
    );
    match ev {
        Event::Syscall(s) => {
            let args: Vec<String> = s.args.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let abi = if s.abi == Abi::X86_64 {
                String::new()
            } else {
                format!("[{}]", s.abi)
            };
            match s.ret {
                Some(r) => format!("{who} {}{abi}({}) = {r}", s.syscall, args.join(", ")),
                None => format!("{who} {}{abi}({})", s.syscall, args.join(", ")),
            }
        }
        Event::Exec(e) => format!("{who} exec {} {:?}", e.filename, e.argv),
        Event::Fork(f) => format!("{who} fork -> {}:{}", f.child_pid, f.child_tid),
        Event::Exit(_) => format!("{who} exit"),
    }
}

pub(crate) async fn run(args: TraceArgs) -> anyhow::Result<ExitCode> {
    let cfg = TraceConfig::new(&args)?;
    crate::probe::preflight()?;
    let mut state = State::live();
    args.engines.attach(&mut state)?;

    let (scope, mut seen) = select::kernel_scope(&cfg.selection, &mut state)?;

    let set = cfg.syscalls.clone().unwrap_or_else(SyscallSet::all);
    state.set_traced(&set);
    let probe = Probe::load(&ProbeConfig::trace(scope, set, cfg.ring_bytes))?;
    let mut stream = Stream::new(probe, state)?;
    message!("tracing {}; stop with Ctrl-C", describe(&cfg));

    let stdout = io::stdout();
    // Both callbacks write: the event handler lines, the tick handler flushes.
    let out = std::cell::RefCell::new(BufWriter::with_capacity(1 << 16, stdout.lock()));
    let mut write_failed: Option<io::Error> = None;
    let selection = cfg.selection.clone();
    let json = cfg.json;
    let _ended: Ended = stream
        .run(
            cfg.duration,
            |st, ev| {
                let t = ev.task();
                if !selection.matches(st, t) {
                    return Flow::Continue;
                }
                selection.note_seen(st, t, &mut seen);
                let mut out = out.borrow_mut();
                let r = if json {
                    let meta = st.containers.peek(t.cgroup_id).and_then(|c| c.meta());
                    let line = Line {
                        ev,
                        container_name: meta.map(|m| m.name.as_str()),
                        container_image: meta.map(|m| m.image.as_str()),
                        k8s_ns_name: meta.and_then(|m| m.pod_label(PodField::Namespace)),
                        k8s_pod_name: meta.and_then(|m| m.pod_label(PodField::Name)),
                    };
                    serde_json::to_writer(&mut *out, &line)
                        .map_err(io::Error::from)
                        .and_then(|_| out.write_all(b"\n"))
                } else {
                    writeln!(out, "{}", text_line(ev))
                };
                match r {
                    Ok(()) => Flow::Continue,
                    Err(e) => {
                        write_failed = Some(e);
                        Flow::Stop
                    }
                }
            },
            |_, _| match out.borrow_mut().flush() {
                Ok(()) => Flow::Continue,
                Err(_) => Flow::Stop,
            },
        )
        .await?;
    let _ = out.borrow_mut().flush();
    drop(out);

    let stats = stream.stats();
    if cfg.json {
        report!("{}", stats.json());
    } else {
        report!("{}", stats.line());
    }
    if let Some(e) = write_failed {
        if e.kind() != io::ErrorKind::BrokenPipe {
            bail!("writing output: {e}");
        }
    }
    cfg.selection.check_all_seen(&seen)?;
    if stats.lost() > 0 {
        message!(
            "{} records were lost; the trace is incomplete",
            stats.lost()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(argv: &[&str]) -> anyhow::Result<TraceConfig> {
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: TraceArgs,
        }
        let t = T::try_parse_from(std::iter::once("trace").chain(argv.iter().copied()))?;
        TraceConfig::new(&t.a)
    }

    #[test]
    fn default_is_every_container_every_syscall() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.selection, Selection::Containers);
        assert!(c.syscalls.is_none());
        assert!(!c.json);
        assert!(c.ring_bytes.is_power_of_two() && c.ring_bytes >= 64 * 1024);
    }

    #[test]
    fn flag_container_is_repeatable_and_checked() {
        let c = parse(&["--container", "abc", "-c", "def"]).unwrap();
        assert_eq!(
            c.selection,
            Selection::Ids(vec!["abc".into(), "def".into()])
        );
        let st = State::replay();
        let task = |id: &str| crate::event::Task {
            container_id: id.into(),
            ..Default::default()
        };
        assert!(c.selection.matches(&st, &task("abc123")));
        assert!(!c.selection.matches(&st, &task("xyz")));
        assert!(!c.selection.matches(&st, &task(HOST)));
        assert!(parse(&["--container", "a/b"]).is_err());
        assert!(parse(&["--container", "abc", "--host"]).is_err());
    }

    #[test]
    fn flag_host_selects_everything() {
        let c = parse(&["--host"]).unwrap();
        assert_eq!(c.selection, Selection::Host);
        let host = crate::event::Task {
            container_id: HOST.into(),
            ..Default::default()
        };
        assert!(c.selection.matches(&State::replay(), &host));
    }

    #[test]
    fn flag_syscalls_resolves_names_in_both_abis() {
        let c = parse(&["--syscalls", "openat,execve"]).unwrap();
        let s = c.syscalls.unwrap();
        assert!(s.contains(Abi::X86_64, 257) && s.contains(Abi::Ia32, 295));
        assert!(s.contains(Abi::X86_64, 59) && s.contains(Abi::Ia32, 11));
        assert!(!s.contains(Abi::X86_64, 0));
        let e = parse(&["--syscalls", "opneat"]).unwrap_err().to_string();
        assert!(
            e.contains("unknown syscall 'opneat'") && e.contains("openat"),
            "{e}"
        );
        // ia32-only names are fine.
        assert!(parse(&["--syscalls", "socketcall"])
            .unwrap()
            .syscalls
            .unwrap()
            .native
            .is_empty());
    }

    #[test]
    fn flag_duration_and_json() {
        let c = parse(&["--duration", "1.5", "--json"]).unwrap();
        assert_eq!(c.duration, Some(Duration::from_millis(1500)));
        assert!(c.json);
        assert!(parse(&["--duration", "0"]).is_err());
        assert!(parse(&["--duration", "-3"]).is_err());
        assert!(parse(&["--duration", "soon"]).is_err());
        assert!(parse(&["--ring-size", "1000"]).is_err());
        assert_eq!(parse(&["--ring-size", "8K"]).unwrap().ring_bytes, 8192);
    }
}
