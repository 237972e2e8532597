//! Harness for the privileged end-to-end tests: run the real `sysaudit` binary (real eBPF) and
//! real runc containers, collect what the agent printed.
//!
//! These tests need root. Outside CI a non-root run skips them with a loud message; under
//! `CI=true` a missing privilege is a failure, never a skip.

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;
pub use sysaudit::runc::{Bundle, Runc};

pub mod containerd;
pub mod engines;
pub mod scenarios;

/// True when the test may run. Panics under CI when it cannot.
pub fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("privileged end-to-end tests must run as root under CI=true");
    }
    eprintln!("\n*** SKIPPED: this end-to-end test needs root (real eBPF and runc) ***\n");
    false
}

/// The sysaudit binary under test: `$SYSAUDIT_BIN` (set by `cargo xtask test`), else the
/// workspace's release or debug build.
pub fn bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SYSAUDIT_BIN") {
        return PathBuf::from(p);
    }
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for p in ["target/release/sysaudit", "target/debug/sysaudit"] {
        let b = ws.join(p);
        if b.is_file() {
            return b;
        }
    }
    panic!(
        "no sysaudit binary: run `cargo xtask test` or `cargo build --release -p sysaudit` first"
    );
}

/// A unique name for containers and directories of this test run.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique(name));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Cgroup parent of every test container.
pub const PARENT: &str = "sysaudit-test";

/// A busybox container bundle in its own temp dir.
pub struct TestContainer {
    /// Unmounted first (fields drop in order), before the directory goes.
    overlay: Option<Overlay>,
    pub bundle: Bundle,
    _dir: TempDir,
}

/// An overlayfs mount as the container's root: the busybox rootfs as the lower layer, an
/// empty upper layer (what Docker, podman, containerd and CRI-O give a container).
struct Overlay {
    merged: PathBuf,
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.merged).status();
    }
}

impl TestContainer {
    pub fn new(args: &[&str]) -> TestContainer {
        Self::with_id(&unique("ctr"), args)
    }

    pub fn with_id(id: &str, args: &[&str]) -> TestContainer {
        let dir = TempDir::new("ctr");
        let bundle = Bundle::busybox(&dir.0, id, PARENT, args).expect("bundle");
        TestContainer {
            overlay: None,
            bundle,
            _dir: dir,
        }
    }

    /// Make the rootfs an overlayfs mount (lower: the rootfs as built; upper: empty), so
    /// files the workload writes land in the upper layer. Unmounted when dropped.
    pub fn overlay(&mut self) -> &mut TestContainer {
        let root = self.rootfs();
        let base = self.bundle.dir.clone();
        let lower = base.join("lower");
        std::fs::rename(&root, &lower).expect("move the rootfs");
        for d in ["upper", "work", "rootfs"] {
            std::fs::create_dir_all(base.join(d)).expect("overlay dirs");
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            base.join("upper").display(),
            base.join("work").display()
        );
        let ok = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(&root)
            .status()
            .expect("mount");
        assert!(ok.success(), "mount -t overlay failed");
        self.overlay = Some(Overlay { merged: root });
        self
    }

    /// Drop the overlay mount now (the container has run).
    pub fn unmount(&mut self) {
        self.overlay = None;
    }

    pub fn id(&self) -> &str {
        &self.bundle.id
    }

    /// The rootfs, to add files.
    pub fn rootfs(&self) -> PathBuf {
        self.bundle.dir.join("rootfs")
    }

    /// Give the container an `/etc/shadow` (busybox's rootfs has none) for its workload to
    /// read: what the sensitive-read rules fire on.
    pub fn with_shadow(self) -> TestContainer {
        std::fs::write(
            self.rootfs().join("etc/shadow"),
            "root:*:19000:0:99999:7:::\n",
        )
        .expect("write /etc/shadow");
        self
    }

    /// A container that reads its `/etc/shadow` `n` times: `n` sensitive-read alerts.
    pub fn shadow_reader(n: usize) -> TestContainer {
        let script = vec!["cat /etc/shadow > /dev/null"; n].join("; ");
        TestContainer::new(&["sh", "-c", &script]).with_shadow()
    }

    /// Run to completion, whatever the workload's exit status (runc itself must start it).
    pub fn run_any(&self) -> std::process::Output {
        Runc::default().run(&self.bundle).expect("runc")
    }

    /// Run to completion; panics with runc's stderr if it fails.
    pub fn run(&self) -> std::process::Output {
        let out = Runc::default().run(&self.bundle).expect("runc");
        assert!(
            out.status.success(),
            "container {} failed: {}\n{}",
            self.id(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// Compile a fixture (tests/fixtures/NAME.c) to a static binary at `dst`.
pub fn compile_fixture(name: &str, dst: &Path, m32: bool) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.c"));
    let mut c = Command::new("gcc");
    if m32 {
        c.arg("-m32");
    }
    // Libraries a fixture links (statically, like everything a container runs).
    let libs: &[&str] = match name {
        "uring_ops" => &["-luring"],
        _ => &[],
    };
    let out = c
        .args(["-static", "-O2", "-pthread", "-o"])
        .arg(dst)
        .arg(&src)
        .args(libs)
        .output()
        .expect("gcc");
    assert!(
        out.status.success(),
        "gcc {name} failed (gcc-multilib or liburing-dev missing? `cargo xtask setup`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the agent printed.
pub struct AgentOutput {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl AgentOutput {
    /// stdout parsed as JSON lines (panics on a bad line: the format is the contract).
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect()
    }

    /// The alerts about the container with full id `container` (their `container.id`, short
    /// or whole, begins it).
    pub fn alerts_about(&self, container: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|a| {
                a["output_fields"]["container.id"]
                    .as_str()
                    .is_some_and(|id| container.starts_with(id))
            })
            .collect()
    }

    /// Distinct container ids in the JSON output (for failure messages).
    pub fn container_ids(&self) -> std::collections::BTreeSet<String> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["container_id"].as_str().map(str::to_string))
            .collect()
    }

    /// The final `{"event":"stats"}` object from stderr (`--json` mode).
    pub fn stats(&self) -> Value {
        self.stderr
            .lines()
            .rev()
            .find_map(|l| {
                serde_json::from_str::<Value>(l)
                    .ok()
                    .filter(|v| v["event"] == "stats")
            })
            .unwrap_or_else(|| panic!("no stats line in stderr:\n{}", self.stderr))
    }
}

/// A running `sysaudit` process.
pub struct Agent {
    child: Child,
    stdout: thread::JoinHandle<String>,
    stderr: thread::JoinHandle<String>,
    /// Its stderr so far, for tests that act on what it says while it runs.
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Agent {
    /// Start `sysaudit ARGS` and wait until it says it is tracing (probes attached).
    pub fn start(args: &[&str]) -> Agent {
        let mut child = Command::new(bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sysaudit");
        let mut out = child.stdout.take().expect("stdout");
        let stdout = thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = child.stderr.take().expect("stderr");
        let (ready_tx, ready_rx) = mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let shared = log.clone();
        let stderr = thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if [
                    "sysaudit: tracing",
                    "sysaudit: recording",
                    "sysaudit: watching",
                ]
                .iter()
                .any(|p| line.starts_with(p))
                {
                    let _ = ready_tx.send(());
                }
                all.push_str(&line);
                all.push('\n');
                if let Ok(mut l) = shared.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
            all
        });
        let agent = Agent {
            child,
            stdout,
            stderr,
            log,
        };
        match ready_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(()) => agent,
            Err(_) => {
                let out = agent.stop();
                panic!("sysaudit did not start ({}):\n{}", out.status, out.stderr);
            }
        }
    }

    /// Wait until the agent's stderr holds `needle` `n` times (false after `secs`).
    pub fn wait_said(&self, needle: &str, n: usize, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self.said().matches(needle).count() >= n {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// What the agent wrote to stderr so far.
    pub fn said(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Send the agent `sig`.
    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// SIGINT, then collect everything (SIGKILL after 30 s).
    pub fn stop(self) -> AgentOutput {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.wait()
    }

    /// Wait for the agent to end by itself (e.g. `--duration`).
    pub fn wait(mut self) -> AgentOutput {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().expect("wait after kill");
            }
            thread::sleep(Duration::from_millis(20));
        };
        AgentOutput {
            status,
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
        }
    }
}

/// Run `sysaudit ARGS` to completion (for commands that end by themselves). A command that
/// has not ended after two minutes is killed and the test fails, rather than the suite hanging.
pub fn sysaudit(args: &[&str]) -> AgentOutput {
    let child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sysaudit");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let o = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(o) => o.expect("wait for sysaudit"),
        Err(_) => {
            // SAFETY: signalling the child we spawned, by pid.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("sysaudit {args:?} did not end within 120 s");
        }
    };
    AgentOutput {
        status: o.status,
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Syscall events of one container.
pub fn syscalls_of<'a>(events: &'a [Value], container: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event"] == "syscall" && e["container_id"] == container)
        .collect()
}

/// A fixture compiled once per process, at a path of its own.
pub fn fixture(name: &'static str) -> &'static Path {
    static BUILT: std::sync::Mutex<Vec<(&'static str, &'static Path)>> =
        std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(n, _)| *n == name) {
        return p;
    }
    let p: &'static Path = Box::leak(
        std::env::temp_dir()
            .join(format!("{name}-{}", std::process::id()))
            .into_boxed_path(),
    );
    compile_fixture(name, p, false);
    built.push((name, p));
    p
}

/// A container running the open/close storm (`tests/fixtures/open_storm.c`) for `pairs`.
pub fn storm_container(pairs: u64) -> TestContainer {
    let c = TestContainer::new(&["/bin/open_storm", &pairs.to_string()]);
    std::fs::copy(fixture("open_storm"), c.rootfs().join("bin/open_storm"))
        .expect("copy the storm program");
    c
}

/// `key=value` from a fixture's output line (`pairs_per_s=812345`).
pub fn reported(out: &str, key: &str) -> f64 {
    out.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {out:?}"))
}

impl Agent {
    /// The agent's pid (to read its CPU time and memory from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Requests received: (head, lowercased; body).
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// An HTTP endpoint on 127.0.0.1 answering 200 to every request and keeping its head and
/// body (what the agent's HTTP output posted).
pub fn http_receiver() -> (String, Received) {
    http_receiver_at(0, Default::default())
}

/// [`http_receiver`] on `port` (0: any); while `down` holds it answers 503 and keeps nothing
/// (an endpoint that is overloaded or being restarted).
pub fn http_receiver_at(
    port: u16,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (String, Received) {
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let url = format!("http://{}/falco", l.local_addr().expect("addr"));
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    thread::spawn(move || {
        for stream in l.incoming().flatten() {
            let mut r = BufReader::new(stream);
            let (mut head, mut line, mut len) = (String::new(), String::new(), 0usize);
            while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line.to_ascii_lowercase());
                line.clear();
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            let answer: &[u8] = if down.load(std::sync::atomic::Ordering::Relaxed) {
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            } else {
                g.lock()
                    .expect("lock")
                    .push((head, String::from_utf8_lossy(&body).into_owned()));
                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            };
            let _ = std::io::Write::write_all(&mut r.into_inner(), answer);
        }
    });
    (url, got)
}

/// A TCP port nothing listens on now (for a server the test starts, or none).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// GET `url`: (status, body); `None` when nothing answers.
pub fn http_get(url: &str) -> Option<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut r = agent.get(url).call().ok()?;
    let status = r.status().as_u16();
    Some((status, r.body_mut().read_to_string().unwrap_or_default()))
}

/// Poll until `f` holds (20 s at most); panics saying `what` otherwise.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        thread::sleep(Duration::from_millis(200));
    }
    panic!("never: {what}");
}

/// Run one of `tests/support/`'s Python checkers (independent readers of our reports) on
/// `args`; its JSON answer. Panics with its stderr when it refuses.
pub fn python_check(script: &str, args: &[&Path]) -> Value {
    let out = Command::new("python3")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("support")
                .join(script),
        )
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the checker")
}

/// The names of a profile's unconditional ALLOW rule (the first rule, as sysaudit writes it).
pub fn profile_names(p: &Value) -> Vec<String> {
    p["syscalls"][0]["names"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Record `c` while it runs (`profile --container ID -o FILE EXTRA...`): the container's
/// output and the profile.
pub fn record_container(
    c: &TestContainer,
    file: &Path,
    extra: &[&str],
) -> (std::process::Output, Value) {
    let mut args = vec![
        "profile",
        "--container",
        c.id(),
        "-o",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let agent = Agent::start(&args);
    let out = c.run();
    let res = agent.wait();
    assert!(res.status.success(), "{}", res.stderr);
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("no profile ({e}):\n{}", res.stderr));
    (out, serde_json::from_str(&text).expect("profile JSON"))
}

/// crun refuses this host's hybrid cgroup layout; as on such hosts in production it runs in a
/// private mount namespace without the cgroup2 mount. A wrapper in `dir` that does so, for
/// commands that take a runtime (`profile verify --runtime`, `profile base --runtime`).
pub fn crun_hybrid(dir: &Path) -> PathBuf {
    let w = dir.join("crun-hybrid");
    std::fs::write(
        &w,
        "#!/bin/sh\nexec unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec crun \"$@\"' crun \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755)).unwrap();
    w
}
