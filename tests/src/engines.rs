//! Real container engines for the end-to-end tests, started by hand as the design notes (§5)
//! say: private data and exec roots, a private socket, no systemd, no network set-up; stopped
//! and cleaned up (containers, mounts, cgroups) when dropped.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::{unique, Bundle, TempDir};

/// A dockerd of our own.
pub struct Dockerd {
    child: Child,
    /// Its API socket (what `sysaudit watch --docker-socket` is given).
    pub sock: PathBuf,
    dir: TempDir,
}

impl Dockerd {
    /// Start dockerd and wait until its API answers.
    pub fn start() -> Dockerd {
        Dockerd::start_in(TempDir::new("dockerd"))
    }

    /// Where a dockerd started in `dir` listens (to give an agent before it starts).
    pub fn sock_in(dir: &TempDir) -> PathBuf {
        dir.0.join("docker.sock")
    }

    /// [`Dockerd::start`] with its files (and socket) in `dir`.
    pub fn start_in(dir: TempDir) -> Dockerd {
        let sock = Dockerd::sock_in(&dir);
        let log = std::fs::File::create(dir.0.join("dockerd.log")).expect("dockerd log");
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.0.join("data"))
            .arg("--exec-root")
            .arg(dir.0.join("exec"))
            .arg("--pidfile")
            .arg(dir.0.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--bridge=none",
                "--userland-proxy=false",
                "--storage-driver=overlay2",
                "--exec-opt",
                "native.cgroupdriver=cgroupfs",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start dockerd (Debian's docker.io; `cargo xtask setup` installs it)");
        let d = Dockerd { child, sock, dir };
        let t = Instant::now();
        while !d.docker(&["version"]).status.success() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "dockerd did not answer:\n{}",
                d.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
        d
    }

    /// `docker -H <our socket> ARGS`.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .output()
            .expect("run docker")
    }

    /// As [`Dockerd::docker`], failing the test with docker's stderr unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// An image `name` holding a static busybox (and an `/etc/shadow`), built offline: the
    /// same archive `ctr images import` and `podman load` read (`docker load`).
    pub fn busybox_image(&self, name: &str) {
        let t = TempDir::new("image");
        let tar = ImageTar::busybox(&t, name, &["sh"]);
        self.ok(&["load", "-i", tar.to_str().expect("UTF-8")]);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let ids = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        terminate(&mut self.child, Duration::from_secs(15));
        unmount_below(&self.dir.0);
        remove_cgroups("docker");
    }
}

/// SIGTERM a daemon we started; SIGKILL it if it has not ended within `grace`.
pub(crate) fn terminate(child: &mut Child, grace: Duration) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t = Instant::now();
    while t.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Unmount whatever an engine left mounted below `dir` (deepest first).
pub(crate) fn unmount_below(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.to_string_lossy().to_string();
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").arg("-l").arg(p).status();
    }
}

/// Remove the (empty) parent cgroup `name` an engine made in every hierarchy.
pub(crate) fn remove_cgroups(name: &str) {
    fn rmdir_tree(p: &Path) {
        // Children first: rmdir removes only empty cgroups, which is all that is left.
        if let Ok(children) = std::fs::read_dir(p) {
            for c in children.flatten().filter(|c| c.path().is_dir()) {
                rmdir_tree(&c.path());
            }
        }
        let _ = std::fs::remove_dir(p);
    }
    let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in rd.flatten() {
        let p = h.path().join(name);
        if p.is_dir() {
            rmdir_tree(&p);
        }
    }
}

/// A rootfs tar holding a static busybox and an `/etc/shadow` (an image, for `import`).
fn busybox_tar(t: &TempDir) -> PathBuf {
    let b = Bundle::busybox(&t.0, &unique("img"), "/sysaudit-image", &["sh"]).expect("rootfs");
    std::fs::write(b.dir.join("rootfs/etc/shadow"), "root:x:19000::::::\n").expect("shadow");
    let tar = t.0.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(b.dir.join("rootfs"))
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(st.success(), "tar the rootfs");
    tar
}

/// An image archive in Docker's `save` format (a manifest, an image config, one layer), which
/// `ctr images import`, `docker load` and `podman load` all read.
pub(crate) struct ImageTar;

impl ImageTar {
    /// An image `name` of one layer, [`busybox_tar`]'s rootfs, whose command is `cmd`.
    pub(crate) fn busybox(t: &TempDir, name: &str, cmd: &[&str]) -> PathBuf {
        let dir = t.0.join("archive");
        std::fs::create_dir_all(&dir).expect("archive dir");
        let layer = busybox_tar(t);
        std::fs::rename(&layer, dir.join("layer.tar")).expect("layer");
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": cmd, "Env": ["PATH=/bin:/sbin:/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256(&dir.join("layer.tar")))]},
        });
        let config_file = dir.join("config.json");
        std::fs::write(&config_file, config.to_string()).expect("image config");
        let config_name = format!("{}.json", sha256(&config_file));
        std::fs::rename(&config_file, dir.join(&config_name)).expect("image config");
        let manifest = serde_json::json!([
            {"Config": config_name, "RepoTags": [name], "Layers": ["layer.tar"]}
        ]);
        std::fs::write(dir.join("manifest.json"), manifest.to_string()).expect("manifest");
        let tar = t.0.join("image.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&dir)
            .arg("-cf")
            .arg(&tar)
            .args(["manifest.json", &config_name, "layer.tar"])
            .status()
            .expect("tar");
        assert!(st.success(), "tar the image");
        tar
    }
}

/// A file's SHA-256, hex (coreutils' sha256sum).
fn sha256(file: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(file)
        .output()
        .expect("sha256sum");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .next()
        .expect("a digest")
        .to_string()
}

/// podman with private storage, and its API service at a private socket.
pub struct Podman {
    service: Child,
    /// The service's socket (what `sysaudit watch --podman-socket` is given).
    pub sock: PathBuf,
    dir: TempDir,
}

impl Podman {
    /// Start `podman system service` and wait until it answers.
    pub fn start() -> Podman {
        let dir = TempDir::new("podman");
        let sock = dir.0.join("podman.sock");
        let log = std::fs::File::create(dir.0.join("service.log")).expect("service log");
        let mut cmd = Podman::base(&dir.0);
        cmd.args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", sock.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let service = cmd
            .spawn()
            .expect("start podman (Debian's podman; `cargo xtask setup` installs it)");
        let p = Podman { service, sock, dir };
        let t = Instant::now();
        while !p.sock.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "podman service did not start"
            );
            thread::sleep(Duration::from_millis(100));
        }
        p
    }

    fn base(dir: &Path) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(dir.join("root"))
            .arg("--runroot")
            .arg(dir.join("run"))
            .arg("--tmpdir")
            .arg(dir.join("tmp"))
            .args(["--cgroup-manager=cgroupfs", "--events-backend=file"]);
        c
    }

    /// Its storage root (what `sysaudit watch --podman-root` is given).
    pub fn root(&self) -> PathBuf {
        self.dir.0.join("root")
    }

    /// `podman <private storage> ARGS`, failing the test unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = Podman::base(&self.dir.0)
            .args(args)
            .output()
            .expect("run podman");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `podman run` as the design notes say (runc, no network, fixed ulimits).
    pub fn run(&self, name: &str, image: &str, cmd: &[&str]) {
        let mut args = vec![
            "--runtime",
            "runc",
            "run",
            "--name",
            name,
            "--network",
            "none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=4096:4096",
            image,
        ];
        args.extend_from_slice(cmd);
        self.ok(&args);
    }

    /// An image `name` holding a static busybox, built offline: the archive docker and
    /// containerd load too (`podman load`).
    pub fn busybox_image(&self, name: &str) {
        let t = TempDir::new("image");
        let tar = ImageTar::busybox(&t, name, &["sh"]);
        self.ok(&["load", "-i", tar.to_str().expect("UTF-8")]);
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = Podman::base(&self.dir.0).args(["rm", "-af"]).output();
        terminate(&mut self.service, Duration::from_secs(10));
        unmount_below(&self.dir.0);
        remove_cgroups("libpod_parent");
    }
}
