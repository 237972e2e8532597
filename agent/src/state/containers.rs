//! Containers: cgroup v2 id → cgroup path → container.
//!
//! The kernel hands us `bpf_get_current_cgroup_id()`, which is the inode number of the task's
//! directory under the cgroup2 mount. The path comes from `/proc/<pid>/cgroup` while the task
//! lives (checked against the inode), else from a walk of the cgroup2 tree. A cgroup is a
//! container when its path matches a runtime's pattern, or — plain runc, `ctr`, unknown
//! runtimes — when its tasks run outside the host pid namespace. Host services in their own
//! cgroups stay host.

use std::{
    fs,
    os::unix::fs::MetadataExt,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use super::{
    cgroup_path::{self, PathKind, Runtime},
    meta::{Cell, Meta, MetaCache},
    FastMap,
};

/// A container as sysaudit knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Container {
    /// Full id (64 hex for most runtimes, the cgroup name for plain runc), shared with the
    /// container's events.
    pub(crate) id: Arc<str>,
    pub(crate) runtime: Runtime,
    pub(crate) cgroup_path: String,
    pub(crate) cgroup_id: u64,
    /// What its engine says of it, once it has answered (see `meta`).
    pub(crate) meta: Cell,
}

impl Container {
    /// The engine's metadata, if it has answered.
    pub(crate) fn meta(&self) -> Option<&Meta> {
        self.meta.get().map(|m| &**m)
    }
}

/// Falco's `container.id`: the first 12 characters of a hex id, else the id.
pub(crate) fn short_id(id: &str) -> &str {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        &id[..12]
    } else {
        id
    }
}

#[derive(Clone, Debug)]
struct Entry {
    path: Option<String>,
    kind: PathKind,
    container: Option<Arc<Container>>,
    /// When an unresolved entry was made; it is retried after `WALK_INTERVAL`.
    at: Instant,
    /// When the kernel said the cgroup was removed; the entry lingers for late events.
    removed: Option<Instant>,
}

#[derive(Clone)]
pub(crate) struct Containers {
    root: Option<PathBuf>,
    host_pidns: Option<u64>,
    by_cgroup: FastMap<u64, Entry>,
    last_walk: Option<Instant>,
    /// Shared by every copy of the state; answered by the engines (or never, detached).
    meta: Arc<MetaCache>,
    /// Cgroup subtrees that stand for a container though no engine made them (`sysaudit ci`'s
    /// launched command): (path, the container).
    adopted: Vec<(String, Arc<Container>)>,
}

/// How long a removed cgroup stays resolvable (events still in flight).
const LINGER: Duration = Duration::from_secs(30);
/// Minimum time between two full walks of the cgroup tree caused by unknown ids.
const WALK_INTERVAL: Duration = Duration::from_millis(200);

impl Containers {
    /// Cgroups known to belong to containers (and the host's).
    pub(crate) fn len(&self) -> usize {
        self.by_cgroup.len()
    }

    /// Find the cgroup2 mount and the host pid namespace.
    pub(crate) fn new() -> Containers {
        Containers {
            root: crate::host::cgroup2_mount(),
            host_pidns: crate::host::host_pidns().map(|(_, ino)| ino),
            by_cgroup: FastMap::default(),
            last_walk: None,
            meta: MetaCache::detached(),
            adopted: Vec::new(),
        }
    }

    /// For tests and replays: no filesystem access.
    pub(crate) fn detached() -> Containers {
        Containers {
            root: None,
            host_pidns: None,
            by_cgroup: FastMap::default(),
            last_walk: None,
            meta: MetaCache::detached(),
            adopted: Vec::new(),
        }
    }

    /// The container a task belongs to (`None`: host). `non_host_pidns` is what the kernel
    /// saw for the task that produced the event.
    pub(crate) fn resolve(
        &mut self,
        cgroup_id: u64,
        pid: u32,
        non_host_pidns: bool,
    ) -> Option<Arc<Container>> {
        let stale = match self.by_cgroup.get(&cgroup_id) {
            None => true,
            Some(e) => e.path.is_none() && e.at.elapsed() >= WALK_INTERVAL && self.root.is_some(),
        };
        if stale {
            let path = self
                .path_from_proc(cgroup_id, pid)
                .or_else(|| self.path_from_walk(cgroup_id));
            if path.is_some() || !self.by_cgroup.contains_key(&cgroup_id) {
                self.insert(cgroup_id, path);
            }
        }
        let entry = self.by_cgroup.get_mut(&cgroup_id)?;
        if entry.container.is_none() && non_host_pidns && entry.kind == PathKind::Other {
            // Only the pid namespace says "container": name it after its cgroup (or its id
            // while the path is unknown).
            let id: Arc<str> = entry
                .path
                .as_deref()
                .and_then(cgroup_path::fallback_id)
                .unwrap_or_else(|| format!("cgroup-{cgroup_id}"))
                .into();
            let cgroup_path = entry.path.clone().unwrap_or_default();
            // `ctr` and other containerd clients make such containers: containerd is asked.
            let meta = self.meta.request(&id, Runtime::Unknown, &cgroup_path);
            entry.container = Some(Arc::new(Container {
                id,
                runtime: Runtime::Unknown,
                cgroup_path,
                cgroup_id,
                meta,
            }));
        }
        entry.container.clone()
    }

    /// The container of a cgroup, if already resolved (no filesystem access).
    pub(crate) fn peek(&self, cgroup_id: u64) -> Option<&Container> {
        self.by_cgroup
            .get(&cgroup_id)
            .and_then(|e| e.container.as_deref())
    }

    /// The cgroup path of an id, if already known.
    pub(crate) fn peek_path(&self, cgroup_id: u64) -> Option<String> {
        self.by_cgroup.get(&cgroup_id).and_then(|e| e.path.clone())
    }

    /// The cgroup path of an id, if known or findable.
    pub(crate) fn path(&mut self, cgroup_id: u64) -> Option<String> {
        if !self.by_cgroup.contains_key(&cgroup_id) {
            let path = self.path_from_walk(cgroup_id);
            self.insert(cgroup_id, path);
        }
        self.by_cgroup.get(&cgroup_id).and_then(|e| e.path.clone())
    }

    /// Make cgroup `path` (id `cgroup_id`) and every cgroup below it one container, `id`,
    /// with metadata `meta` known up front: rules that say "in a container" then apply to a
    /// workload launched on the host as they would in one.
    pub(crate) fn adopt(&mut self, cgroup_id: u64, path: &str, id: &str, meta: Meta) {
        let c = Arc::new(Container {
            id: id.into(),
            runtime: Runtime::Unknown,
            cgroup_path: path.to_string(),
            cgroup_id,
            meta: Arc::new(super::meta::Pending::known(meta)),
        });
        self.adopted.push((path.to_string(), c));
        self.insert(cgroup_id, Some(path.to_string()));
    }

    /// The adopted container a cgroup path is in.
    fn adopted_by(&self, path: &str) -> Option<Arc<Container>> {
        self.adopted
            .iter()
            .find(|(root, _)| {
                path.strip_prefix(root.as_str())
                    .is_some_and(|r| r.is_empty() || r.starts_with('/'))
            })
            .map(|(_, c)| c.clone())
    }

    fn insert(&mut self, cgroup_id: u64, path: Option<String>) {
        let kind = path
            .as_deref()
            .map(cgroup_path::classify)
            .unwrap_or(PathKind::Other);
        let adopted = path.as_deref().and_then(|p| self.adopted_by(p));
        let container = match &kind {
            _ if adopted.is_some() => adopted,
            PathKind::Container { runtime, id } => {
                let id: Arc<str> = id.as_str().into();
                Some(Arc::new(Container {
                    meta: self
                        .meta
                        .request(&id, *runtime, path.as_deref().unwrap_or_default()),
                    id,
                    runtime: *runtime,
                    cgroup_path: path.clone().unwrap_or_default(),
                    cgroup_id,
                }))
            }
            _ => None,
        };
        self.by_cgroup.insert(
            cgroup_id,
            Entry {
                path,
                kind,
                container,
                at: Instant::now(),
                removed: None,
            },
        );
    }

    /// What a `cgroup_mkdir` / `cgroup_rmdir` record says (the path as the kernel gives it,
    /// relative to the cgroup2 root).
    pub(crate) fn cgroup_record(&mut self, cgroup_id: u64, path: &[u8], removed: bool) {
        if removed {
            self.cgroup_removed(cgroup_id);
        } else {
            let path = format!("/{}", String::from_utf8_lossy(path).trim_start_matches('/'));
            self.cgroup_created(cgroup_id, &path);
        }
    }

    /// The kernel made a cgroup (`cgroup_mkdir`): its path is known before any task runs.
    pub(crate) fn cgroup_created(&mut self, cgroup_id: u64, path: &str) {
        self.insert(cgroup_id, Some(path.to_string()));
    }

    /// The kernel removed a cgroup; forget it after `LINGER`.
    pub(crate) fn cgroup_removed(&mut self, cgroup_id: u64) {
        if let Some(e) = self.by_cgroup.get_mut(&cgroup_id) {
            e.removed = Some(Instant::now());
        }
    }

    /// Drop removed cgroups whose linger time is over.
    pub(crate) fn sweep(&mut self) {
        let meta = &self.meta;
        self.by_cgroup.retain(|_, e| {
            let keep = e.removed.is_none_or(|t| t.elapsed() < LINGER);
            if let (false, Some(c)) = (keep, &e.container) {
                meta.forget(&c.id);
            }
            keep
        });
    }

    /// The metadata cell of the task's container when its events should wait for it now
    /// (a new container whose engine has not answered yet, see `MetaCache::must_wait`).
    pub(crate) fn must_wait(&mut self, cgroup_id: u64, pid: u32, non_host: bool) -> Option<Cell> {
        // The common cases without resolving: a container already answered for, and a known
        // host cgroup (one the pid namespace cannot make a container).
        if let Some(e) = self.by_cgroup.get(&cgroup_id) {
            match &e.container {
                Some(c) if c.meta.is_settled() => return None,
                None if e.path.is_some() && !(non_host && e.kind == PathKind::Other) => {
                    return None
                }
                _ => {}
            }
        }
        let c = self.resolve(cgroup_id, pid, non_host)?;
        self.meta.must_wait(&c.meta).then(|| c.meta.clone())
    }

    /// The cache the cells come from (the stream counts what waited there).
    pub(crate) fn meta_cache(&self) -> &MetaCache {
        &self.meta
    }

    /// Ask the engines about containers from now on (and about those already known).
    pub(crate) fn attach_meta(&mut self, meta: Arc<MetaCache>) {
        self.meta = meta;
        for e in self.by_cgroup.values_mut() {
            if let Some(c) = &mut e.container {
                let cell = self.meta.request(&c.id, c.runtime, &c.cgroup_path);
                Arc::make_mut(c).meta = cell;
            }
        }
    }

    /// Record what a replayed event says about a cgroup (captures carry the container id).
    pub(crate) fn learn(&mut self, cgroup_id: u64, container_id: &str) {
        if container_id == "host" || self.by_cgroup.contains_key(&cgroup_id) {
            return;
        }
        self.by_cgroup.insert(
            cgroup_id,
            Entry {
                path: None,
                kind: PathKind::Other,
                container: Some(Arc::new(Container {
                    id: container_id.into(),
                    runtime: Runtime::Unknown,
                    cgroup_path: String::new(),
                    cgroup_id,
                    meta: Cell::default(),
                })),
                at: Instant::now(),
                removed: None,
            },
        );
    }

    fn path_from_proc(&self, cgroup_id: u64, pid: u32) -> Option<String> {
        let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let path = text
            .lines()
            .find_map(|l| l.strip_prefix("0::"))?
            .to_string();
        let root = self.root.as_ref()?;
        let ino = fs::metadata(root.join(path.trim_start_matches('/')))
            .ok()?
            .ino();
        (ino == cgroup_id).then_some(path)
    }

    fn path_from_walk(&mut self, cgroup_id: u64) -> Option<String> {
        if self.last_walk.is_some_and(|t| t.elapsed() < WALK_INTERVAL) {
            return None;
        }
        self.last_walk = Some(Instant::now());
        let mut found = None;
        for (id, path) in self.walk() {
            if id == cgroup_id {
                found = Some(path.clone());
            }
            if !self.by_cgroup.contains_key(&id) {
                self.insert(id, Some(path));
            }
        }
        found
    }

    /// Every cgroup under the cgroup2 mount: (id, path).
    fn walk(&self) -> Vec<(u64, String)> {
        let Some(root) = &self.root else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut stack = vec![(root.clone(), String::from("/"))];
        while let Some((dir, path)) = stack.pop() {
            let Ok(meta) = fs::metadata(&dir) else {
                continue;
            };
            out.push((meta.ino(), path.clone()));
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let child = if path == "/" {
                        format!("/{name}")
                    } else {
                        format!("{path}/{name}")
                    };
                    stack.push((e.path(), child));
                }
            }
        }
        out
    }

    /// All containers that exist now: recognised by path, or cgroups whose tasks run in a
    /// pid namespace of their own.
    pub(crate) fn scan(&mut self) -> Vec<Arc<Container>> {
        let mut out = Vec::new();
        for (id, path) in self.walk() {
            self.by_cgroup.remove(&id);
            self.insert(id, Some(path.clone()));
            let non_host = self.cgroup_in_own_pidns(&path);
            if let Some(c) = self.resolve(id, 0, non_host) {
                out.push(c);
            }
        }
        out
    }

    fn cgroup_in_own_pidns(&self, path: &str) -> bool {
        let (Some(root), Some(host)) = (&self.root, self.host_pidns) else {
            return false;
        };
        let procs =
            fs::read_to_string(root.join(path.trim_start_matches('/')).join("cgroup.procs"))
                .unwrap_or_default();
        procs
            .lines()
            .filter_map(|l| l.trim().parse::<u32>().ok())
            .any(|pid| fs::metadata(format!("/proc/{pid}/ns/pid")).is_ok_and(|m| m.ino() != host))
    }
}

impl Default for Containers {
    fn default() -> Self {
        Containers::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_follow_falco() {
        let c = Container {
            id: "8c4a2d1e9f0b3a5c7d6e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c".into(),
            runtime: Runtime::Docker,
            cgroup_path: String::new(),
            cgroup_id: 1,
            meta: Cell::default(),
        };
        assert_eq!(short_id(&c.id), "8c4a2d1e9f0b");
        let r = Container {
            id: "web-1".into(),
            ..c
        };
        assert_eq!(short_id(&r.id), "web-1");
    }

    #[test]
    fn learned_ids_resolve_without_the_filesystem() {
        let mut cs = Containers::detached();
        cs.learn(99, "abc");
        cs.learn(1, "host");
        assert_eq!(
            cs.resolve(99, 0, false).map(|c| c.id.clone()).as_deref(),
            Some("abc")
        );
        assert!(cs.resolve(1, 0, false).is_none());
    }
}
