//! Hot reload: SIGHUP, or a change to a watched file (the configuration, its drop-ins, the
//! rules files and directories, when `watch_config_files` is on), rebuilds the rules and the
//! outputs from the same flags without stopping capture. The state — processes, descriptors,
//! containers — is untouched; the kernel's syscall set and path filter are retuned in place;
//! outputs whose settings did not change are kept as they are. A new version that does not
//! load is reported with its located errors, and the one in force stays.

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime},
};

use super::{settings::Settings, WatchArgs};
use crate::{config::DropIn, messages::message, outputs::Next, probe::tune::Tuning, rules::Engine};

/// How often watched files are looked at (a stat each); a change is acted on once two looks
/// agree, so a file being written is not read half-way.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// What asked for a reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Why {
    Hangup,
    Changed(PathBuf),
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Hangup => f.write_str("SIGHUP"),
            Why::Changed(p) => write!(f, "{} changed", p.display()),
        }
    }
}

/// A file's identity and version as the looks compare them (absent: `None`).
type Stamp = Option<(u64, u64, SystemTime, u64)>;

/// What one look saw: each path (directories' entries too) with its stamp.
type Look = Vec<(PathBuf, Stamp)>;

fn stamp(p: &std::path::Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some((m.dev(), m.ino(), m.modified().ok()?, m.len()))
}

/// Every watched path's stamp; a directory's entries too (a drop-in or rules file added,
/// edited or removed).
fn look(paths: &[PathBuf]) -> Look {
    let mut out = Vec::new();
    for p in paths {
        out.push((p.clone(), stamp(p)));
        if let Ok(rd) = std::fs::read_dir(p) {
            let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            out.extend(entries.into_iter().map(|e| {
                let s = stamp(&e);
                (e, s)
            }));
        }
    }
    out
}

/// The files a configuration reads: the main file and drop-ins read, the drop-in entries
/// (directories: a file added there), the rules files and directories.
pub(super) fn watched(s: &Settings) -> Vec<PathBuf> {
    let mut v = s.files.clone();
    for d in &s.config.config_files {
        let (DropIn::Path(p) | DropIn::With { path: p, .. }) = d;
        v.push(p.clone());
    }
    v.extend(s.rules.iter().cloned());
    v.sort();
    v.dedup();
    v
}

pub(super) struct Trigger {
    hup: Arc<AtomicBool>,
    signal: Option<signal_hook_registry::SigId>,
    /// The watched files and their stamps as last loaded; `None`: not watching.
    files: Option<(Vec<PathBuf>, Look)>,
    /// A changed look waiting for a second, agreeing one.
    pending: Option<Look>,
    last_look: Instant,
}

impl Trigger {
    /// Listen for SIGHUP (which no longer ends the agent), and watch `files` if given.
    pub(super) fn new(files: Option<Vec<PathBuf>>) -> std::io::Result<Trigger> {
        let hup = Arc::new(AtomicBool::new(false));
        let h = hup.clone();
        // SAFETY: the action is an atomic store, which is async-signal-safe.
        let signal = unsafe {
            signal_hook_registry::register(libc::SIGHUP, move || h.store(true, Ordering::SeqCst))
        }?;
        Ok(Trigger {
            hup,
            signal: Some(signal),
            files: files.map(|f| {
                let s = look(&f);
                (f, s)
            }),
            pending: None,
            last_look: Instant::now(),
        })
    }

    /// Why to reload now, if so. Cheap enough for every tick: an atomic load, and twice a
    /// second a stat of each watched file.
    pub(super) fn poll(&mut self) -> Option<Why> {
        if self.hup.swap(false, Ordering::SeqCst) {
            return Some(Why::Hangup);
        }
        if self.last_look.elapsed() < LOOK_EVERY {
            return None;
        }
        self.last_look = Instant::now();
        let (paths, loaded) = self.files.as_ref()?;
        let now = look(paths);
        if now == *loaded {
            self.pending = None;
            return None;
        }
        if self.pending.as_ref() != Some(&now) {
            self.pending = Some(now);
            return None;
        }
        let changed = now
            .iter()
            .find(|e| !loaded.contains(e))
            .or_else(|| loaded.iter().find(|e| !now.contains(e)))
            .map(|(p, _)| p.clone())
            .unwrap_or_default();
        Some(Why::Changed(changed))
    }

    /// What the watched files look like now: taken before a reload reads them, so that an
    /// edit made while it loads is seen afterwards.
    pub(super) fn snapshot(&self) -> Option<Look> {
        self.files.as_ref().map(|(paths, _)| look(paths))
    }

    /// After a reload (done or refused): watch `files` from `seen` (the snapshot before the
    /// reload, when the list is the same; else as they are now); `None`: stop watching.
    pub(super) fn rewatch(&mut self, files: Option<Vec<PathBuf>>, seen: Option<Look>) {
        self.pending = None;
        let same = self.files.as_ref().map(|(p, _)| p) == files.as_ref();
        self.files = files.map(|f| {
            let s = match seen {
                Some(l) if same => l,
                _ => look(&f),
            };
            (f, s)
        });
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        if let Some(id) = self.signal.take() {
            signal_hook_registry::unregister(id);
        }
    }
}

/// A reload ready to be put in force: nothing of the running one was touched to make it.
pub(super) struct Prepared {
    pub(super) settings: Settings,
    pub(super) engine: Engine,
    pub(super) tuning: Tuning,
    pub(super) outputs: Vec<Next>,
}

/// Load everything a reload needs from the flags `a` and the files as they are now; `has`
/// tells which outputs exist already (kept, not reopened).
pub(super) fn prepare(a: &WatchArgs, has: impl Fn(&str) -> bool) -> anyhow::Result<Prepared> {
    let settings = Settings::new(a)?;
    let engine = super::engine(&settings)?;
    let tuning = super::tuning(&engine, a.no_path_filter);
    let mut outputs = Vec::new();
    let mut taken = std::collections::BTreeSet::new();
    for spec in settings.output_specs() {
        let key = spec.key();
        if has(&key) && taken.insert(key.clone()) {
            outputs.push(Next::Keep(key));
            continue;
        }
        outputs.push(match spec.open()? {
            super::settings::Opened::Now(o) => Next::Opened(key, o),
            super::settings::Opened::Deferred(start) => Next::Deferred(key, start),
        });
    }
    Ok(Prepared {
        settings,
        engine,
        tuning,
        outputs,
    })
}

/// Say which changed settings only a restart applies.
pub(super) fn say_restart_only(old: &Settings, new: &Settings) {
    let (o, n) = (&old.config, &new.config);
    for (changed, key) in [
        (o.webserver != n.webserver, "webserver"),
        (o.metrics != n.metrics, "metrics"),
        (
            o.syscall_event_drops != n.syscall_event_drops,
            "syscall_event_drops",
        ),
    ] {
        if changed {
            message!("reload: {key} changed; it applies at the next start");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_acted_on_once_two_looks_agree_and_sighup_always() {
        let dir = std::env::temp_dir().join(format!("sysaudit-reload-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rules.d")).unwrap();
        let f = dir.join("sysaudit.yaml");
        std::fs::write(&f, "json_output: true\n").unwrap();
        let mut t = Trigger::new(Some(vec![f.clone(), dir.join("rules.d")])).unwrap();
        let tick = |t: &mut Trigger| {
            t.last_look = Instant::now() - LOOK_EVERY;
            t.poll()
        };
        assert_eq!(tick(&mut t), None);
        std::fs::write(&f, "json_output: false\n").unwrap();
        assert_eq!(tick(&mut t), None, "first look: wait for a second one");
        assert_eq!(tick(&mut t), Some(Why::Changed(f.clone())));
        t.rewatch(Some(vec![f.clone(), dir.join("rules.d")]), None);
        assert_eq!(tick(&mut t), None);
        // An edit while a reload loads (after its snapshot): seen once it is over.
        let before = t.snapshot();
        std::fs::write(&f, "json_output: true\n").unwrap();
        t.rewatch(Some(vec![f.clone(), dir.join("rules.d")]), before);
        assert_eq!(tick(&mut t), None);
        assert_eq!(tick(&mut t), Some(Why::Changed(f.clone())));
        t.rewatch(Some(vec![f.clone(), dir.join("rules.d")]), None);
        // A file added to a watched directory.
        let r = dir.join("rules.d/extra.yaml");
        std::fs::write(&r, "- list: x\n  items: []\n").unwrap();
        assert_eq!(tick(&mut t), None);
        assert!(matches!(tick(&mut t), Some(Why::Changed(_))));
        t.rewatch(Some(vec![f.clone(), dir.join("rules.d")]), None);
        // SIGHUP, at once and once.
        // SAFETY: raise(3) sends the signal to this thread; the handler is registered.
        unsafe { libc::raise(libc::SIGHUP) };
        assert_eq!(t.poll(), Some(Why::Hangup));
        assert_eq!(t.poll(), None);
        drop(t);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
