//! Facts about the host the agent runs on: its pid namespace and its cgroup2 mount.

use std::{fs, os::unix::fs::MetadataExt, path::PathBuf};

/// (device, inode) of the host pid namespace. PID 1's link may be unreadable (a sandbox's
/// init is not dumpable); the agent itself runs in the host namespace as a fallback.
pub(crate) fn host_pidns() -> Option<(u64, u64)> {
    ["/proc/1/ns/pid", "/proc/self/ns/pid"]
        .iter()
        .find_map(|p| fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
}

/// The cgroup2 mount point, from /proc/self/mountinfo.
pub(crate) fn cgroup2_mount() -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").ok()?;
    parse_cgroup2_mount(&text)
}

fn parse_cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|l| {
        // id parent major:minor root mountpoint opts... - fstype source superopts
        let (pre, post) = l.split_once(" - ")?;
        if post.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        pre.split_whitespace().nth(4).map(PathBuf::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_in_hybrid_and_unified_layouts() {
        let hybrid = "25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro\n\
                      26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n\
                      27 25 0:24 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(
            parse_cgroup2_mount(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let unified =
            "30 24 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            parse_cgroup2_mount(unified),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(
            parse_cgroup2_mount("1 0 0:1 / / rw - ext4 /dev/vda rw\n"),
            None
        );
    }

    #[test]
    fn finds_own_pid_namespace() {
        assert!(host_pidns().is_some());
    }
}
