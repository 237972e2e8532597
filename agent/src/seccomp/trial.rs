//! One run of a workload for `profile verify`: a command, or an OCI bundle's container run by
//! runc or crun on a fresh overlay of its rootfs — without a filter, under the profile, or with
//! the profile's denials handed to a listener that lets them run and names them.

use std::{
    io::Read,
    os::unix::net::UnixListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use super::{
    enforce::{self, EnforceError, Mode},
    notify::{self, Denial, Supervisor},
    Profile,
};
use crate::messages::message;
use crate::syscalls::table;

type Result<T> = std::result::Result<T, EnforceError>;

fn failed(what: impl std::fmt::Display, e: impl std::fmt::Display) -> EnforceError {
    EnforceError::Command(format!("{what}: {e}"))
}

/// What one run did.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) status: Option<ExitStatus>,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) timed_out: bool,
    pub(crate) denials: Vec<Denial>,
}

impl Outcome {
    pub(crate) fn status_text(&self) -> String {
        match (self.timed_out, self.status) {
            (true, _) => "timed out".into(),
            (_, Some(s)) => s.to_string(),
            (_, None) => "unknown".into(),
        }
    }
}

/// How the workload is started: a command (its program resolved), or a bundle's container.
pub(crate) enum Workload {
    Command(Vec<String>),
    Bundle(Bundle),
}

impl Workload {
    pub(crate) fn command(argv: &[String]) -> Result<Workload> {
        let mut argv = argv.to_vec();
        argv[0] = enforce::program(&argv[0])?.display().to_string();
        Ok(Workload::Command(argv))
    }

    pub(crate) fn bundle(dir: &Path, runtime: &str) -> Result<Workload> {
        Ok(Workload::Bundle(Bundle::open(dir, runtime)?))
    }

    pub(crate) fn run(&self, p: &Profile, mode: Mode, timeout: Duration) -> Result<Outcome> {
        match self {
            Workload::Command(argv) => command_run(p, argv, mode, timeout),
            Workload::Bundle(b) => b.run(p, mode, timeout),
        }
    }

    /// Whether a notified task is the runtime itself, before the workload's exec: runc's
    /// init names itself `runc:[2:INIT]`; crun keeps its name.
    pub(crate) fn by_runtime(&self, comm: &str) -> bool {
        let Some(rt) = self.runtime() else {
            return false;
        };
        let base = Path::new(rt)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        comm.starts_with("runc:[") || comm == "crun" || comm == "runc" || comm == base
    }

    /// The runtime that starts it, for a bundle.
    pub(crate) fn runtime(&self) -> Option<&str> {
        match self {
            Workload::Command(_) => None,
            Workload::Bundle(b) => Some(&b.runtime),
        }
    }
}

/// Wait for `child` (its output piped) up to `timeout`; on expiry SIGTERM, then SIGKILL.
fn finish(mut child: Child, timeout: Duration) -> Result<Outcome> {
    let pump = |s: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut s) = s {
                let _ = s.read_to_end(&mut v);
            }
            v
        })
    };
    let out = pump(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = pump(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if Instant::now() >= deadline {
            timed_out = true;
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            std::thread::sleep(Duration::from_secs(2));
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Outcome {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        timed_out,
        denials: Vec::new(),
    })
}

fn command_run(p: &Profile, argv: &[String], mode: Mode, timeout: Duration) -> Result<Outcome> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (child, listening) = enforce::launch(p, cmd, mode)?;
    let mut o = finish(child, timeout)?;
    o.denials = listening.denials()?;
    Ok(o)
}

/// `RUNTIME --version`'s first line (`runc version 1.1.5+ds1`, `crun version 1.8.1`).
pub(crate) fn runtime_version(runtime: &str) -> Result<String> {
    let out = Command::new(runtime)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(runtime, e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or(runtime).trim().to_string())
}

/// A user's OCI bundle, rewritten per run into a work directory.
pub(crate) struct Bundle {
    config: Value,
    rootfs: PathBuf,
    runtime: String,
    work: PathBuf,
}

/// A run's own root: an overlay whose lower layer is the bundle's rootfs, as an engine gives
/// each container — runs do not see each other's writes and the bundle stays as it was.
struct Fresh {
    merged: PathBuf,
}

impl Fresh {
    fn mount(lower: &Path, dir: &Path) -> std::io::Result<Fresh> {
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("rootfs"));
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d)?;
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        let c = |p: &Path| {
            std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).map_err(std::io::Error::other)
        };
        let (src, dst, data) = (c(Path::new("overlay"))?, c(&merged)?, c(Path::new(&opts))?);
        // SAFETY: NUL-terminated strings that outlive the call.
        let r = unsafe {
            libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                src.as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Fresh { merged })
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Ok(p) = std::ffi::CString::new(self.merged.as_os_str().as_encoded_bytes()) {
            // SAFETY: a NUL-terminated path; lazily, in case a straggler holds it.
            unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

impl Bundle {
    fn open(dir: &Path, runtime: &str) -> Result<Bundle> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| failed(path.display(), e))?;
        let mut config: Value =
            serde_json::from_str(&text).map_err(|e| failed(path.display(), e))?;
        let root = config["root"]["path"]
            .as_str()
            .unwrap_or("rootfs")
            .to_string();
        let abs = std::path::absolute(dir.join(&root)).unwrap_or_else(|_| dir.join(&root));
        config["root"]["path"] = json!(abs);
        config["process"]["terminal"] = json!(false);
        if !abs.is_dir() {
            return Err(failed(
                dir.display(),
                format!("no rootfs at {}", abs.display()),
            ));
        }
        let work = PathBuf::from(format!("/run/sysaudit-verify-{}", std::process::id()));
        std::fs::create_dir_all(&work).map_err(|e| failed(work.display(), e))?;
        Ok(Bundle {
            config,
            rootfs: abs,
            runtime: runtime.to_string(),
            work,
        })
    }

    /// The `linux.seccomp` of a run: none, the profile, or the profile with every other
    /// syscall sent to `listener`. runc refuses NOTIFY as the default action and for `write`:
    /// those stay LOG (they run, unreported).
    fn seccomp(p: &Profile, mode: Mode, listener: &Path) -> Value {
        let oci: Value = serde_json::from_str(&p.to_oci()).unwrap_or(Value::Null);
        let mut s = oci.as_object().cloned().unwrap_or_default();
        s.remove("comment");
        if mode == Mode::Listen {
            let mut others: Vec<&str> = p
                .abis
                .iter()
                .flat_map(|abi| table::all(*abi).map(|(_, n)| n))
                .filter(|n| !p.names.contains(*n) && !p.errnos.contains_key(*n) && *n != "write")
                .collect();
            others.sort_unstable();
            others.dedup();
            s.insert("defaultAction".into(), json!("SCMP_ACT_LOG"));
            s.remove("defaultErrnoRet");
            s.insert("listenerPath".into(), json!(listener));
            if let Some(rules) = s.get_mut("syscalls").and_then(Value::as_array_mut) {
                rules.push(json!({"names": others, "action": "SCMP_ACT_NOTIFY"}));
            }
        }
        Value::Object(s)
    }

    fn run(&self, p: &Profile, mode: Mode, timeout: Duration) -> Result<Outcome> {
        static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = RUN.fetch_add(1, Ordering::Relaxed);
        let id = format!("sysaudit-verify-{}-{n}", std::process::id());
        let dir = self.work.join(&id);
        std::fs::create_dir_all(&dir)?;
        let sock = self.work.join(format!("{id}.sock"));
        let mut config = self.config.clone();
        let fresh = Fresh::mount(&self.rootfs, &dir);
        match &fresh {
            Ok(f) => config["root"]["path"] = json!(f.merged),
            Err(e) => message!(
                "verify: runs share the rootfs (an overlay over it failed: {e}); what one run writes the next one sees"
            ),
        }
        match mode {
            Mode::Plain => {
                if let Some(l) = config["linux"].as_object_mut() {
                    l.remove("seccomp");
                }
            }
            _ => config["linux"]["seccomp"] = Bundle::seccomp(p, mode, &sock),
        }
        let text = serde_json::to_vec_pretty(&config).map_err(|e| failed("config.json", e))?;
        std::fs::write(dir.join("config.json"), text)?;
        let listener = if mode == Mode::Listen {
            let l = UnixListener::bind(&sock)
                .map_err(|e| failed(format!("listening on {}", sock.display()), e))?;
            Some(Supervisor::spawn(move |stop| {
                notify::serve_runtime(l, stop)
            })?)
        } else {
            None
        };
        let child = Command::new(&self.runtime)
            .args(["--root", crate::runc::RUNC_ROOT, "run", "--bundle"])
            .arg(&dir)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(format!("running {}", self.runtime), e))?;
        let mut o = finish(child, timeout)?;
        let _ = Command::new(&self.runtime)
            .args(["--root", crate::runc::RUNC_ROOT, "delete", "-f", &id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(cg) = config["linux"]["cgroupsPath"].as_str() {
            crate::runc::remove_cgroup(cg);
        }
        if let Some(l) = listener {
            o.denials = l.finish().map_err(|e| failed("the seccomp listener", e))?;
        }
        drop(fresh);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(&sock);
        Ok(o)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.work);
    }
}
