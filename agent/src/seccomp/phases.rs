//! Temporal specialisation (`profile --phases`): a server needs more syscalls to start than to
//! serve. The recording is split at the first call that says serving began (`accept4` by
//! default): what was recorded until then is the start-up phase, the kernel's bitmap is then
//! started over, and what follows is the serving phase. Both profiles are written; the serving
//! one is applied after start-up (`run --serving`, a supervisor that denies the start-up-only
//! calls from the first marker on).

use crate::{
    event::Timestamp,
    state::firsts::FirstUses,
    syscalls::{table, Abi},
};

use super::{provenance::Phases, Profile};

/// The markers when none is named: the calls a TCP server starts serving with.
pub(crate) const DEFAULT_MARKERS: &[&str] = &["accept", "accept4"];

/// Where a recording was split.
#[derive(Clone, Debug)]
pub(crate) struct Split {
    pub(crate) marker: String,
    pub(crate) at: Timestamp,
    /// What was recorded until the split.
    pub(crate) startup: Profile,
}

/// The first use of a marker by one of `keys`' cgroups, if any yet.
pub(crate) fn marker_seen(
    firsts: &FirstUses,
    keys: impl FnOnce() -> Vec<u64>,
    markers: &[String],
) -> Option<(String, Timestamp)> {
    let mut candidates: Vec<(String, u64, Timestamp)> = Vec::new();
    for m in markers {
        let Some(nr) = table::number(Abi::X86_64, m) else {
            continue;
        };
        candidates.extend(
            firsts
                .users(Abi::X86_64, nr)
                .map(|(k, t)| (m.clone(), k, t)),
        );
    }
    if candidates.is_empty() {
        return None;
    }
    let keys = keys();
    candidates
        .into_iter()
        .filter(|(_, k, _)| keys.contains(k))
        .min_by_key(|(_, _, t)| *t)
        .map(|(m, _, t)| (m, t))
}

/// The whole run's profile and the serving phase's, from the split and what the kernel
/// recorded after it. Syscalls first made after the marker (before the bitmap was started
/// over) belong to serving too.
pub(crate) fn finish(
    split: &Split,
    after: &Profile,
    first_used_after: impl IntoIterator<Item = String>,
    start: Timestamp,
) -> (Profile, Profile) {
    let mut serving = after.clone();
    serving.names.insert(split.marker.clone());
    for n in first_used_after {
        serving.names.insert(n);
    }
    let mut full = split.startup.clone();
    full.merge(&serving);
    let startup_only: Vec<String> = full
        .names
        .iter()
        .filter(|n| !serving.names.contains(*n))
        .cloned()
        .collect();
    let phases = |is_serving: bool| Phases {
        marker: split.marker.clone(),
        at: split.at.0.saturating_sub(start.0) as f64 / 1e9,
        startup_only: startup_only.clone(),
        serving: is_serving,
    };
    full.provenance.phases = Some(phases(false));
    serving.provenance.phases = Some(phases(true));
    serving.incomplete = full.incomplete.clone();
    (full, serving)
}

/// `web.json` → `web.serving.json`.
pub(crate) fn serving_path(p: &std::path::Path) -> std::path::PathBuf {
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = p
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    p.with_file_name(format!("{stem}.serving{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::DefaultAction;

    fn profile(names: &[&str]) -> Profile {
        let mut p = Profile::new(DefaultAction::Errno);
        for n in names {
            p.allow(Abi::X86_64, n);
        }
        p
    }

    #[test]
    fn the_serving_phase_is_what_came_after_the_marker() {
        let split = Split {
            marker: "accept4".into(),
            at: Timestamp(3_000_000_000),
            startup: profile(&["execve", "mmap", "bind", "listen", "read", "accept4"]),
        };
        let after = profile(&["read", "write", "close"]);
        let (full, serving) = finish(
            &split,
            &after,
            ["epoll_wait".to_string()],
            Timestamp(1_000_000_000),
        );
        assert_eq!(full.names.len(), 9);
        assert!(serving.names.contains("accept4") && serving.names.contains("epoll_wait"));
        let ph = full.provenance.phases.as_ref().unwrap();
        assert_eq!(ph.startup_only, ["bind", "execve", "listen", "mmap"]);
        assert_eq!(ph.at, 2.0);
        assert!(serving.provenance.phases.as_ref().unwrap().serving);
        assert_eq!(
            serving_path(std::path::Path::new("/p/web.json")),
            std::path::Path::new("/p/web.serving.json")
        );
    }
}
