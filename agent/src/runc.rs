//! Real containers without an engine: OCI bundles with a static busybox rootfs, run by runc.
//! Used by `sysaudit demo` (which proves its profile in a second container) and by the
//! end-to-end tests.

use std::{
    fs,
    io::Read as _,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

/// Where Debian's busybox-static puts the binary.
pub const BUSYBOX: &str = "/bin/busybox";
/// runc state directory used by sysaudit (kept apart from any engine's).
pub const RUNC_ROOT: &str = "/run/sysaudit-runc";

/// Is `path` a static ELF executable (no PT_INTERP), so it runs in an empty rootfs?
pub fn is_static_elf(path: &Path) -> Result<bool> {
    let mut f = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut b = Vec::new();
    f.read_to_end(&mut b)?;
    if b.len() < 64 || &b[..4] != b"\x7fELF" {
        bail!("{} is not an ELF file", path.display());
    }
    let is64 = b[4] == 2;
    let rd = |off: usize, n: usize| -> u64 {
        let mut v = 0u64;
        for i in (0..n).rev() {
            v = (v << 8) | *b.get(off + i).unwrap_or(&0) as u64;
        }
        v
    };
    let (phoff, phentsize, phnum) = if is64 {
        (
            rd(0x20, 8) as usize,
            rd(0x36, 2) as usize,
            rd(0x38, 2) as usize,
        )
    } else {
        (
            rd(0x1c, 4) as usize,
            rd(0x2a, 2) as usize,
            rd(0x2c, 2) as usize,
        )
    };
    for i in 0..phnum {
        if rd(phoff + i * phentsize, 4) == 3 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Check that runc and a static busybox are installed.
pub fn check_tools() -> Result<()> {
    if which("runc").is_none() {
        bail!("runc is not installed (apt-get install -y runc; `cargo xtask setup` does it)");
    }
    let bb = Path::new(BUSYBOX);
    if !bb.exists() || !is_static_elf(bb)? {
        bail!("{BUSYBOX} is missing or not static (apt-get install -y busybox-static; `cargo xtask setup` does it)");
    }
    Ok(())
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(cmd))
            .find(|p| p.is_file())
    })
}

/// An OCI bundle: `config.json` plus a rootfs.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// The bundle directory (`config.json` and `rootfs/`).
    pub dir: PathBuf,
    /// Container id, also its hostname and the last part of its cgroup path.
    pub id: String,
    /// The OCI config; [`Bundle::write`] saves edits.
    pub config: Value,
}

impl Bundle {
    /// A bundle whose rootfs holds a static `busybox` (or `binary`) with every applet linked,
    /// minimal `/etc/passwd` and `/etc/group`, running `args` in cgroup `/<parent>/<id>`.
    pub fn busybox(dir: &Path, id: &str, parent: &str, args: &[&str]) -> Result<Bundle> {
        Self::with_binary(dir, id, parent, args, Path::new(BUSYBOX))
    }

    /// As [`Bundle::busybox`], with the busybox binary taken from `busybox`.
    pub fn with_binary(
        dir: &Path,
        id: &str,
        parent: &str,
        args: &[&str],
        busybox: &Path,
    ) -> Result<Bundle> {
        let rootfs = dir.join("rootfs");
        for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "www"] {
            fs::create_dir_all(rootfs.join(d))
                .with_context(|| format!("creating {}", rootfs.join(d).display()))?;
        }
        let bb = rootfs.join("bin/busybox");
        if !bb.exists() {
            fs::copy(busybox, &bb).with_context(|| format!("copying {}", busybox.display()))?;
        }
        // Ask the source binary: executing the fresh copy races with any fork elsewhere in
        // this process that inherited its write descriptor (ETXTBSY).
        let list = Command::new(busybox)
            .arg("--list")
            .output()
            .context("busybox --list")?;
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let link = rootfs.join("bin").join(applet);
            if applet != "busybox" && !link.exists() {
                symlink("busybox", &link)?;
            }
        }
        fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        )?;
        fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
        fs::write(rootfs.join("etc/hostname"), format!("{id}\n"))?;
        let config = default_config(id, parent, args);
        let b = Bundle {
            dir: dir.to_path_buf(),
            id: id.to_string(),
            config,
        };
        b.write()?;
        Ok(b)
    }

    /// Write `config.json` (after editing `config`).
    pub fn write(&self) -> Result<()> {
        let s = serde_json::to_string_pretty(&self.config)?;
        fs::write(self.dir.join("config.json"), s).context("writing config.json")
    }

    /// Put a seccomp profile (OCI `linux.seccomp` object) into the config.
    pub fn set_seccomp(&mut self, seccomp: Value) -> Result<()> {
        self.config["linux"]["seccomp"] = seccomp;
        self.write()
    }

    /// Run in the host's network namespace (loopback servers without CAP_NET_ADMIN).
    pub fn share_host_network(&mut self) -> Result<()> {
        if let Some(ns) = self.config["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "network");
        }
        self.write()
    }

    /// The cgroup path runc will create.
    pub fn cgroup_path(&self) -> String {
        self.config["linux"]["cgroupsPath"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// The config `runc spec` would write, reduced to what a test container needs.
fn default_config(id: &str, parent: &str, args: &[&str]) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin", "HOME=/root"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": id,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "cgroupsPath": format!("/{parent}/{id}"),
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// runc with sysaudit's own state directory.
pub struct Runc {
    /// runc's state directory (`--root`).
    pub root: PathBuf,
}

impl Default for Runc {
    fn default() -> Self {
        Runc {
            root: PathBuf::from(RUNC_ROOT),
        }
    }
}

impl Runc {
    /// A `runc` command with the state directory set.
    pub fn command(&self) -> Command {
        let mut c = Command::new("runc");
        c.arg("--root").arg(&self.root);
        c
    }

    /// `runc run` the bundle to completion, capturing its output.
    pub fn run(&self, b: &Bundle) -> Result<Output> {
        let out = self
            .command()
            .args(["run", "--bundle"])
            .arg(&b.dir)
            .arg(&b.id)
            .stdin(Stdio::null())
            .output()
            .context("running runc")?;
        self.cleanup(b);
        Ok(out)
    }

    /// Remove the container's state and the cgroup directories runc leaves behind.
    pub fn cleanup(&self, b: &Bundle) {
        let _ = self
            .command()
            .args(["delete", "-f", &b.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        remove_cgroup(&b.cgroup_path());
    }
}

/// Remove a cgroup directory and its now-empty parent in every hierarchy.
pub fn remove_cgroup(path: &str) {
    let Ok(rd) = fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut roots: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    let rel = path.trim_start_matches('/');
    for root in roots {
        let dir = root.join(rel);
        let _ = fs::remove_dir(&dir);
        if let Some(parent) = dir.parent() {
            if parent != root {
                let _ = fs::remove_dir(parent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_static_and_dynamic_binaries() {
        // The test binary itself is dynamically linked.
        let me = std::env::current_exe().unwrap();
        assert!(!is_static_elf(&me).unwrap());
        assert!(is_static_elf(Path::new("/etc/hostname")).is_err());
    }

    #[test]
    fn config_names_cgroup_and_args() {
        let c = default_config("c1", "sysaudit-test", &["cat", "/etc/passwd"]);
        assert_eq!(c["linux"]["cgroupsPath"], "/sysaudit-test/c1");
        assert_eq!(c["process"]["args"][1], "/etc/passwd");
        assert_eq!(c["process"]["terminal"], false);
    }
}
