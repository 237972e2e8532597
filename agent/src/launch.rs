//! A command launched in a cgroup of its own, so that the probe can scope to exactly it and
//! its descendants from its first `execve` on (`profile -- COMMAND`).

use std::{
    ffi::CString,
    fs, io,
    os::unix::{fs::MetadataExt, process::CommandExt},
    path::{Path, PathBuf},
    process::Child,
};

use crate::state::cgroup_path;

#[derive(Debug, thiserror::Error)]
pub(crate) enum LaunchError {
    #[error("no cgroup2 mount to launch the command in")]
    NoCgroup2,
    #[error("creating cgroup {}: {source}", dir.display())]
    Create { dir: PathBuf, source: io::Error },
    #[error("cgroup path {} holds a NUL byte", .0.display())]
    Path(PathBuf),
    #[error("starting {program}: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("no command to launch")]
    Empty,
}

/// A cgroup v2 made for one launched command, removed when dropped.
pub(crate) struct OwnCgroup {
    dir: PathBuf,
    /// Path below the cgroup2 mount, from `/`.
    pub(crate) rel: String,
    /// The cgroup's id (its directory's inode), as the kernel's cgroup-id helpers give it.
    pub(crate) id: u64,
}

impl OwnCgroup {
    /// `/sysaudit/<kind>-<our pid>` below the cgroup2 mount.
    pub(crate) fn create(kind: &str) -> Result<OwnCgroup, LaunchError> {
        let root = crate::host::cgroup2_mount().ok_or(LaunchError::NoCgroup2)?;
        let rel = format!("/sysaudit/{kind}-{}", std::process::id());
        let dir = root.join(rel.trim_start_matches('/'));
        let made = fs::create_dir_all(&dir).and_then(|()| fs::metadata(&dir));
        match made {
            Ok(m) => Ok(OwnCgroup {
                id: m.ino(),
                dir,
                rel,
            }),
            Err(source) => Err(LaunchError::Create { dir, source }),
        }
    }

    /// Its depth below the root, for the probe's ancestor check.
    pub(crate) fn level(&self) -> u32 {
        cgroup_path::level(&self.rel)
    }

    /// Start `argv` inside the cgroup: the child moves itself in before `execve`, so even its
    /// exec is recorded.
    pub(crate) fn spawn(&self, argv: &[String]) -> Result<Child, LaunchError> {
        let (program, args) = argv.split_first().ok_or(LaunchError::Empty)?;
        let procs_path = self.dir.join("cgroup.procs");
        let procs = CString::new(procs_path.as_os_str().as_encoded_bytes())
            .map_err(|_| LaunchError::Path(procs_path.clone()))?;
        let mut cmd = std::process::Command::new(program);
        cmd.args(args);
        // SAFETY: only async-signal-safe calls (open, write, close) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if n != 1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.spawn().map_err(|source| LaunchError::Spawn {
            program: program.clone(),
            source,
        })
    }
}

impl Drop for OwnCgroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.dir);
        if let Some(parent) = self.dir.parent() {
            let _ = fs::remove_dir(parent);
        }
    }
}

/// `populated` of a cgroup v2 (the subtree holds processes); `None` once it is gone.
pub(crate) fn populated(dir: &Path) -> Option<bool> {
    let t = fs::read_to_string(dir.join("cgroup.events")).ok()?;
    parse_populated(&t)
}

fn parse_populated(events: &str) -> Option<bool> {
    events
        .lines()
        .find_map(|l| l.strip_prefix("populated "))
        .map(|v| v.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_populated_from_cgroup_events() {
        assert_eq!(parse_populated("populated 1\nfrozen 0\n"), Some(true));
        assert_eq!(parse_populated("populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(parse_populated("frozen 0\n"), None);
    }
}
