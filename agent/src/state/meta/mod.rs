//! Container metadata from the engines' own APIs (as Falco's container plugin reads it): a
//! container's name, image, privileges, mounts and labels, and for a Kubernetes container
//! its pod. Docker and podman answer over HTTP, containerd and the CRI runtimes over gRPC. The state asks once per container
//! it learns of (`request`); one task answers from the engine's socket in the background and
//! fills a cell the container's events read without a lock. Until the answer comes a
//! container is known by its id only; an engine that is absent, down or answers garbage is
//! retried with back-off, said once on stderr and counted, never fatal.

mod containerd;
mod cri;
pub(crate) mod docker;
mod grpc;
mod http;
mod oci;
mod podman;
mod serve;

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::{Duration, Instant},
};

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::{cgroup_path::Runtime, FastMap};

/// What an engine says about a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Falco's `container.type` as the engine tells it (a CRI runtime says which it is);
    /// empty: by the cgroup path.
    pub(crate) engine: &'static str,
    pub(crate) name: String,
    /// The image as the container was created from it (`busybox:1.36`).
    pub(crate) image: String,
    pub(crate) image_repository: String,
    pub(crate) image_tag: String,
    pub(crate) image_digest: String,
    /// The image's id, its hex without `sha256:` (Falco's `container.image.id`).
    pub(crate) image_id: String,
    pub(crate) privileged: Option<bool>,
    pub(crate) mounts: Vec<Mount>,
    /// When it started, ns since the epoch; 0: unknown.
    pub(crate) start_ts: u64,
    pub(crate) labels: BTreeMap<String, String>,
    /// Primary IP address (empty: none, e.g. `--network none`).
    pub(crate) ip: String,
    /// The health check's command (`NONE`: explicitly none); `None`: not configured.
    pub(crate) healthcheck: Option<String>,
    /// The pod's own labels (CRI runtimes; the container's are in `labels`).
    pub(crate) pod_labels: BTreeMap<String, String>,
}

impl Meta {
    /// A Kubernetes pod's identity, as the kubelet labels its containers
    /// (`io.kubernetes.pod.*`; cri-dockerd puts them on Docker containers, the CRI runtimes on
    /// theirs).
    pub(crate) fn pod_label(&self, what: PodField) -> Option<&str> {
        let key = match what {
            PodField::Namespace => "io.kubernetes.pod.namespace",
            PodField::Name => "io.kubernetes.pod.name",
            PodField::Uid => "io.kubernetes.pod.uid",
            PodField::Sandbox => "io.kubernetes.sandbox.id",
        };
        self.labels
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

impl Meta {
    /// Whether the container belongs to pod `namespace`/`name`.
    pub(crate) fn in_pod(&self, namespace: &str, name: &str) -> bool {
        self.pod_label(PodField::Namespace) == Some(namespace)
            && self.pod_label(PodField::Name) == Some(name)
    }
}

/// What [`Meta::pod_label`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PodField {
    Namespace,
    Name,
    Uid,
    Sandbox,
}

/// One mount of a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) source: String,
    pub(crate) dest: String,
    pub(crate) mode: String,
    pub(crate) rw: bool,
    pub(crate) propagation: String,
}

impl Mount {
    /// Falco's rendering of one mount: `source:dest:mode:rdwr:propagation`.
    pub(crate) fn text(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.source, self.dest, self.mode, self.rw, self.propagation
        )
    }
}

impl Meta {
    /// Falco's `container.mounts`: every mount's [`Mount::text`], comma-separated.
    pub(crate) fn mounts_text(&self) -> String {
        self.mounts
            .iter()
            .map(Mount::text)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Meta {
    /// The mount `key` names: an index, or a glob over the mounts' sources (`by_dest`: over
    /// their destinations), the first that matches (Falco's `container.mount.*[KEY]`).
    pub(crate) fn mount(&self, key: &str, by_dest: bool) -> Option<&Mount> {
        if let Ok(i) = key.parse::<usize>() {
            return self.mounts.get(i);
        }
        let glob = globset::Glob::new(key).ok()?.compile_matcher();
        self.mounts
            .iter()
            .find(|m| glob.is_match(if by_dest { &m.dest } else { &m.source }))
    }
}

/// Falco's rendering of a label set (`container.labels`, `k8s.pod.labels`): `key:value` (`key`
/// alone for an empty value) joined by ", " in key order; the kubelet's own `io.kubernetes.*`
/// and `annotation.*` keys are left out.
pub(crate) fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .filter(|(k, _)| !k.starts_with("io.kubernetes.") && !k.starts_with("annotation."))
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}:{v}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits an image reference as Falco does: `registry/repo:tag@sha256:d` → (repo with its
/// registry, tag, digest).
pub(crate) fn split_image(image: &str) -> (String, String, String) {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, d.to_string()),
        None => (image, String::new()),
    };
    // A ':' after the last '/' starts the tag (one before it is a registry's port).
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind(':') {
        Some(i) => (
            name[..slash + i].to_string(),
            name[slash + i + 1..].to_string(),
            digest,
        ),
        None => (name.to_string(), String::new(), digest),
    }
}

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MetaError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("nothing answers: {0}")]
    Unreachable(String),
    #[error("gRPC: {0}")]
    Grpc(String),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("the engine has no container {0}")]
    NotFound(String),
    #[error("the engine's answer is not what its API documents: {0}")]
    Garbage(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Where each engine listens (the flags' values, or the standard sockets).
#[derive(Clone, Debug)]
pub(crate) struct Sockets {
    pub(crate) docker: PathBuf,
    /// podman's service (`podman system service`), asked through its Docker-compatible API.
    pub(crate) podman: PathBuf,
    /// podman's storage, read when its service does not run.
    pub(crate) podman_root: PathBuf,
    /// containerd: its own API, and the CRI plugin's.
    pub(crate) containerd: PathBuf,
    /// CRI-O's CRI.
    pub(crate) crio: PathBuf,
}

impl Default for Sockets {
    fn default() -> Sockets {
        Sockets {
            docker: PathBuf::from("/var/run/docker.sock"),
            podman: PathBuf::from("/run/podman/podman.sock"),
            podman_root: PathBuf::from("/var/lib/containers/storage"),
            containerd: PathBuf::from("/run/containerd/containerd.sock"),
            crio: PathBuf::from("/run/crio/crio.sock"),
        }
    }
}

impl Sockets {
    /// Where engine `e` is asked, in order (a CRI container may be containerd's or CRI-O's:
    /// the one its cgroup names first).
    fn of(&self, e: Engine, r: Runtime) -> Vec<&std::path::Path> {
        match e {
            Engine::Docker => vec![&self.docker],
            Engine::Podman => vec![&self.podman],
            Engine::Containerd => vec![&self.containerd],
            Engine::Cri if r == Runtime::Crio => vec![&self.crio, &self.containerd],
            Engine::Cri => vec![&self.containerd, &self.crio],
        }
    }
}

/// A container's metadata as it will be: empty until the engine answers.
pub(crate) type Cell = Arc<Pending>;

/// How long a new container's first events wait for its metadata (Falco's container plugin
/// waits too, rather than print nulls); what still has none then is counted.
pub(crate) const HOLD: Duration = Duration::from_millis(200);

/// One container's lookup.
#[derive(Debug)]
pub(crate) struct Pending {
    meta: OnceLock<Arc<Meta>>,
    /// A fuller answer that came later (docker: the inspect after the list).
    full: OnceLock<Arc<Meta>>,
    /// The lookup ended without an answer, or none was sent: nobody waits.
    settled: AtomicBool,
    asked: Instant,
    engine: Option<Engine>,
}

impl Default for Pending {
    /// A lookup nobody will answer.
    fn default() -> Pending {
        Pending {
            meta: OnceLock::new(),
            full: OnceLock::new(),
            settled: AtomicBool::new(true),
            asked: Instant::now(),
            engine: None,
        }
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Pending) -> bool {
        self.meta.get() == other.meta.get()
    }
}

impl Eq for Pending {}

impl Pending {
    /// Metadata known without asking anyone (the workload `sysaudit ci` launched).
    pub(crate) fn known(m: Meta) -> Pending {
        let p = Pending::default();
        let _ = p.meta.set(Arc::new(m));
        p
    }

    fn sent(engine: Engine) -> Pending {
        Pending {
            settled: AtomicBool::new(false),
            engine: Some(engine),
            ..Pending::default()
        }
    }

    /// The answer, if it came (the fuller one once it has).
    pub(crate) fn get(&self) -> Option<&Arc<Meta>> {
        self.full.get().or_else(|| self.meta.get())
    }

    fn complete(&self, m: Meta) {
        let _ = self.full.set(Arc::new(m));
    }

    fn answer(&self, m: Meta) {
        let _ = self.meta.set(Arc::new(m));
        self.settled.store(true, Ordering::Release);
    }

    fn give_up(&self) {
        self.settled.store(true, Ordering::Release);
    }

    pub(crate) fn is_settled(&self) -> bool {
        self.settled.load(Ordering::Acquire) || self.meta.get().is_some()
    }
}

/// Counts of what the lookups gave.
#[derive(Debug, Default)]
pub(crate) struct MetaStats {
    found: AtomicU64,
    failed: AtomicU64,
    garbage: AtomicU64,
    /// Events that waited for their container's metadata.
    held: AtomicU64,
    /// Events of a container whose metadata was still on its way when their wait ended.
    without: AtomicU64,
    /// Per engine: it answered its last ask (found or not), so new containers' events wait
    /// for it.
    reachable: [AtomicBool; ENGINES],
    /// Per engine: its failure was said on stderr (and its return will be).
    said_down: [AtomicBool; ENGINES],
}

/// The cells of every container asked about, shared by every copy of the state.
#[derive(Default)]
pub(crate) struct MetaCache {
    cells: Mutex<FastMap<Arc<str>, Cell>>,
    tx: Option<UnboundedSender<Ask>>,
    stats: Arc<MetaStats>,
}

impl std::fmt::Debug for MetaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaCache").finish_non_exhaustive()
    }
}

impl MetaCache {
    /// A cache nobody answers (replays, tests): every cell stays empty.
    pub(crate) fn detached() -> Arc<MetaCache> {
        Arc::new(MetaCache::default())
    }

    /// A cache and the thread that answers it (its own runtime: the reader may wait for an
    /// answer, see [`MetaCache::hold`], so the answer must not need the reader's thread).
    pub(crate) fn live(sockets: Sockets) -> std::io::Result<Arc<MetaCache>> {
        let (tx, rx) = unbounded_channel();
        let stats = Arc::new(MetaStats::default());
        let cache = Arc::new(MetaCache {
            cells: Mutex::default(),
            tx: Some(tx),
            stats: stats.clone(),
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("sysaudit-meta".into())
            .spawn(move || rt.block_on(serve::serve(rx, sockets, stats)))?;
        Ok(cache)
    }

    /// The cell of container `id` of `runtime` in cgroup `path`; the first ask sends the
    /// lookup.
    pub(crate) fn request(&self, id: &Arc<str>, runtime: Runtime, path: &str) -> Cell {
        let Ok(mut cells) = self.cells.lock() else {
            return Cell::default();
        };
        if let Some(c) = cells.get(id) {
            return c.clone();
        }
        let cell = match (&self.tx, engine_of(runtime)) {
            (Some(tx), Some(engine)) => {
                let cell = Cell::new(Pending::sent(engine));
                let ask = Ask {
                    id: id.clone(),
                    runtime,
                    namespace: cgroup_parent(path),
                    cell: cell.clone(),
                };
                if tx.send(ask).is_err() {
                    cell.give_up();
                }
                cell
            }
            _ => Cell::default(),
        };
        cells.insert(id.clone(), cell.clone());
        cell
    }

    /// Whether a new container's events should wait for its metadata now: its engine is
    /// answering, the answer has not come, and the container was first seen less than
    /// [`HOLD`] ago (the stream keeps them meanwhile, see `stream::hold`).
    pub(crate) fn must_wait(&self, cell: &Pending) -> bool {
        let up = cell
            .engine
            .is_some_and(|e| self.stats.reachable[e as usize].load(Ordering::Relaxed));
        up && !cell.is_settled() && Instant::now() < cell.asked + HOLD
    }

    /// Count events that waited for their container's metadata, and of those how many it did
    /// not reach in time.
    pub(crate) fn count_waited(&self, held: u64, without: u64) {
        self.stats.held.fetch_add(held, Ordering::Relaxed);
        self.stats.without.fetch_add(without, Ordering::Relaxed);
    }

    /// What the lookups gave so far, for the final stats (`None`: nothing was asked).
    pub(crate) fn summary(&self) -> Option<String> {
        let s = &self.stats;
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (found, failed, garbage) = (n(&s.found), n(&s.failed), n(&s.garbage));
        (found + failed + garbage > 0).then(|| {
            format!(
                "container metadata: {found} found, {failed} not found, {garbage} garbled answers; {} event(s) waited for it, {} evaluated without it",
                n(&s.held),
                n(&s.without)
            )
        })
    }

    /// Forget a container that is gone.
    pub(crate) fn forget(&self, id: &str) {
        if let Ok(mut cells) = self.cells.lock() {
            cells.remove(id);
        }
    }
}

/// One lookup to make.
struct Ask {
    id: Arc<str>,
    runtime: Runtime,
    /// The cgroup's parent directory: `ctr` names it after the container's namespace.
    namespace: Option<String>,
    cell: Cell,
}

/// The name of a cgroup path's parent (`/default/web` → `default`).
fn cgroup_parent(path: &str) -> Option<String> {
    let mut comps = path.rsplit('/').filter(|c| !c.is_empty());
    comps.next()?;
    comps.next().map(str::to_string)
}

/// The engines sysaudit asks, by the runtime a cgroup path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Docker = 0,
    Podman = 1,
    /// containerd's own containers (`ctr`, nerdctl): their cgroups follow no pattern, so a
    /// container only its pid namespace reveals is looked for there — a plain runc one is
    /// then not found, which is no failure.
    Containerd = 2,
    /// A Kubernetes container: the CRI of containerd or CRI-O.
    Cri = 3,
}
const ENGINES: usize = 4;

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
            Engine::Containerd => "containerd",
            Engine::Cri => "CRI",
        }
    }
}
const ALL: [Engine; ENGINES] = [
    Engine::Docker,
    Engine::Podman,
    Engine::Containerd,
    Engine::Cri,
];

fn engine_of(r: Runtime) -> Option<Engine> {
    match r {
        Runtime::Docker => Some(Engine::Docker),
        Runtime::Podman => Some(Engine::Podman),
        Runtime::Cri | Runtime::Containerd | Runtime::Crio => Some(Engine::Cri),
        Runtime::Unknown => Some(Engine::Containerd),
        Runtime::Lxc => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine socket that answers every request with `reply`, then hangs up.
    fn engine_answering(reply: &'static [u8]) -> (tokio::runtime::Runtime, PathBuf) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = std::env::temp_dir().join(format!("sysaudit-engine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let sock = dir.join(format!("garbage-{}.sock", reply.len()));
        let _ = std::fs::remove_file(&sock);
        let listener = rt
            .block_on(async { tokio::net::UnixListener::bind(&sock) })
            .expect("bind");
        rt.spawn(async move {
            while let Ok((mut c, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf).await;
                let _ = c.write_all(reply).await;
            }
        });
        (rt, sock)
    }

    #[test]
    fn an_engine_answering_garbage_is_an_error_never_a_crash() {
        for reply in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{{{{{"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
            b"not http at all\r\n\r\n",
            b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n",
        ] {
            let (rt, sock) = engine_answering(reply);
            let r = rt.block_on(docker::list_one(&sock, "abc123"));
            assert!(
                matches!(r, Err(MetaError::Garbage(_) | MetaError::Http(_))),
                "{:?}: {r:?}",
                String::from_utf8_lossy(reply)
            );
            let _ = std::fs::remove_file(&sock);
        }
    }

    #[test]
    fn pods_are_read_from_the_kubelets_labels() {
        let mut m = Meta::default();
        assert_eq!(m.pod_label(PodField::Name), None);
        for (k, v) in [
            ("io.kubernetes.pod.namespace", "shop"),
            ("io.kubernetes.pod.name", "web-1"),
            ("io.kubernetes.pod.uid", "u-1"),
        ] {
            m.labels.insert(k.into(), v.into());
        }
        assert_eq!(m.pod_label(PodField::Namespace), Some("shop"));
        assert_eq!(m.pod_label(PodField::Name), Some("web-1"));
        assert_eq!(m.pod_label(PodField::Uid), Some("u-1"));
        assert_eq!(m.pod_label(PodField::Sandbox), None);
    }

    #[test]
    fn labels_are_shown_as_falco_shows_them() {
        let l: BTreeMap<String, String> = [
            ("tier", "web"),
            ("app", "shop"),
            ("canary", ""),
            ("io.kubernetes.pod.name", "web-1"),
            ("annotation.x", "y"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(labels_text(&l), "app:shop, canary, tier:web");
        assert_eq!(labels_text(&BTreeMap::new()), "");
    }

    #[test]
    fn mounts_are_found_by_index_source_or_destination_glob() {
        let m = Meta {
            mounts: vec![
                Mount {
                    source: "/proc".into(),
                    dest: "/host/proc".into(),
                    mode: "ro".into(),
                    ..Default::default()
                },
                Mount {
                    source: "/var/run/docker.sock".into(),
                    dest: "/var/run/docker.sock".into(),
                    rw: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            m.mount("/proc*", false).map(|x| x.dest.as_str()),
            Some("/host/proc")
        );
        assert_eq!(m.mount("1", false).map(|x| x.rw), Some(true));
        assert_eq!(
            m.mount("/host/*", true).map(|x| x.source.as_str()),
            Some("/proc")
        );
        assert!(m.mount("/etc*", false).is_none() && m.mount("7", false).is_none());
    }

    #[test]
    fn image_references_split_as_falco_splits_them() {
        let s = |i: &str| split_image(i);
        assert_eq!(s("busybox"), ("busybox".into(), "".into(), "".into()));
        assert_eq!(
            s("busybox:1.36"),
            ("busybox".into(), "1.36".into(), "".into())
        );
        assert_eq!(
            s("registry.local:5000/team/app:v2"),
            (
                "registry.local:5000/team/app".into(),
                "v2".into(),
                "".into()
            )
        );
        assert_eq!(
            s("registry.local:5000/team/app"),
            ("registry.local:5000/team/app".into(), "".into(), "".into())
        );
        assert_eq!(
            s("app:v1@sha256:abcd"),
            ("app".into(), "v1".into(), "sha256:abcd".into())
        );
    }
}
