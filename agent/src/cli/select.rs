//! Which containers a command looks at: flags → the kernel scope (explicit cgroups when the
//! named containers already run, every container otherwise) and the userspace match.

use crate::messages::message;
use std::{collections::BTreeSet, sync::Arc};

use anyhow::bail;

use crate::{
    event::Task,
    probe::Scope,
    state::{cgroup_path, containers::Container, State, HOST},
};

/// Which containers' events are shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Every container (the default).
    Containers,
    /// Everything, host included.
    Host,
    /// These ids or prefixes.
    Ids(Vec<String>),
}

impl Selection {
    /// From `--host` and `--container` (clap keeps them exclusive).
    pub(crate) fn from_flags(host: bool, containers: &[String]) -> anyhow::Result<Selection> {
        Ok(if host {
            Selection::Host
        } else if containers.is_empty() {
            Selection::Containers
        } else {
            check_ids(containers)?;
            Selection::Ids(containers.to_vec())
        })
    }

    /// Whether the event's task is selected: its container's id starts with a requested
    /// value, or its engine names it so.
    pub(crate) fn matches(&self, st: &State, t: &Task) -> bool {
        match self {
            Selection::Host => true,
            Selection::Containers => &*t.container_id != HOST,
            Selection::Ids(ids) => &*t.container_id != HOST && ids.iter().any(|p| names(st, t, p)),
        }
    }
}

/// Does the task's container go by `want` (an id prefix, or its name)?
pub(crate) fn names(st: &State, t: &Task, want: &str) -> bool {
    t.container_id.starts_with(want)
        || st
            .containers
            .peek(t.cgroup_id)
            .and_then(|c| c.meta())
            .is_some_and(|m| m.name == want)
}

impl Selection {
    /// Remember which requested ids or names an event's container satisfied.
    pub(crate) fn note_seen(&self, st: &State, t: &Task, seen: &mut BTreeSet<String>) {
        if let Selection::Ids(ids) = self {
            for p in ids.iter().filter(|p| names(st, t, p)) {
                seen.insert(p.clone());
            }
        }
    }

    /// Fail when a requested container never appeared.
    pub(crate) fn check_all_seen(&self, seen: &BTreeSet<String>) -> anyhow::Result<()> {
        if let Selection::Ids(ids) = self {
            let missing: Vec<String> = ids
                .iter()
                .filter(|i| !seen.contains(*i))
                .map(|m| format!("'{m}'"))
                .collect();
            if !missing.is_empty() {
                bail!(
                    "no container matching {} appeared while running",
                    missing.join(", ")
                );
            }
        }
        Ok(())
    }
}

/// Validate `--container` values.
pub(crate) fn check_ids(ids: &[String]) -> anyhow::Result<()> {
    for c in ids {
        if c.is_empty() || c.contains('/') || c.chars().any(char::is_whitespace) {
            bail!("--container '{c}': not a container id or prefix");
        }
    }
    Ok(())
}

/// The cgroups of the running container whose id starts with `want`, or else that its engine
/// names `want`; empty (said on stderr) when none runs yet; an error when the prefix names
/// several containers.
pub(crate) fn running(
    running: &[Arc<Container>],
    want: &str,
) -> anyhow::Result<Vec<Arc<Container>>> {
    let mut hits: Vec<Arc<Container>> = running
        .iter()
        .filter(|c| c.id.starts_with(want))
        .cloned()
        .collect();
    if hits.is_empty() {
        // Names come from the engines: give their answers a moment.
        let t = std::time::Instant::now();
        while running.iter().any(|c| !c.meta.is_settled())
            && t.elapsed() < crate::state::meta::HOLD * 5
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        hits = running
            .iter()
            .filter(|c| c.meta().is_some_and(|m| m.name == want))
            .cloned()
            .collect();
    }
    let ids: BTreeSet<&str> = hits.iter().map(|c| &*c.id).collect();
    if ids.len() > 1 {
        bail!(
            "--container '{want}' is ambiguous: it matches {}",
            ids.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    if hits.is_empty() {
        message!("container '{want}' is not running yet; waiting for it");
    }
    Ok(hits)
}

/// The kernel scope for a selection: containers named on the command line that already run
/// are scoped in the kernel by cgroup; any that has not started yet widens the kernel scope
/// to every container until it appears. Returns the ids already seen running.
pub(crate) fn kernel_scope(
    sel: &Selection,
    state: &mut State,
) -> anyhow::Result<(Scope, BTreeSet<String>)> {
    let mut seen = BTreeSet::new();
    let scope = match sel {
        Selection::Host => Scope::All,
        Selection::Containers => Scope::Containers,
        Selection::Ids(ids) => {
            let running = state.containers.scan();
            let mut cgroups = Vec::new();
            let mut pending = false;
            for want in ids {
                let hits = self::running(&running, want)?;
                if hits.is_empty() {
                    pending = true;
                    continue;
                }
                for c in hits {
                    cgroups.push((c.cgroup_id, cgroup_path::level(&c.cgroup_path)));
                }
                seen.insert(want.clone());
            }
            if pending {
                Scope::Containers
            } else {
                Scope::Cgroups(cgroups)
            }
        }
    };
    Ok((scope, seen))
}
