//! User and group names. Inside a container a uid means what the container's own
//! `/etc/passwd` says, so names are looked up per root directory (the process table knows
//! each process's), read through `/proc/<pid>/root` and cached for a while.

use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) name: String,
    pub(crate) home: String,
    pub(crate) shell: String,
}

#[derive(Default)]
struct Db {
    users: HashMap<u32, User>,
    groups: HashMap<u32, String>,
    loaded: Option<Instant>,
}

/// How long a root's passwd/group stay cached.
const TTL: Duration = Duration::from_secs(30);

#[derive(Default)]
pub(crate) struct Users {
    by_root: HashMap<PathBuf, Db>,
}

fn parse_passwd(text: &str) -> HashMap<u32, User> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let uid = f.get(2)?.parse().ok()?;
            Some((
                uid,
                User {
                    name: f.first()?.to_string(),
                    home: f.get(5).unwrap_or(&"").to_string(),
                    shell: f.get(6).unwrap_or(&"").to_string(),
                },
            ))
        })
        .collect()
}

fn parse_group(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f.first()?.to_string()))
        })
        .collect()
}

impl Users {
    /// The names database of the root `root` (host view), loaded through `/proc/<pid>/root`
    /// of a process living in it, again after [`TTL`].
    fn db(&mut self, root: &Path, pid: u32) -> &Db {
        let stale = self
            .by_root
            .get(root)
            .is_none_or(|d| d.loaded.is_none_or(|t| t.elapsed() > TTL));
        if stale {
            let base = PathBuf::from(format!("/proc/{pid}/root"));
            let users = fs::read_to_string(base.join("etc/passwd")).map(|t| parse_passwd(&t));
            let groups = fs::read_to_string(base.join("etc/group")).map(|t| parse_group(&t));
            let db = self.by_root.entry(root.to_path_buf()).or_default();
            // A process that is gone keeps the names it had.
            if let Ok(u) = users {
                db.users = u;
            }
            if let Ok(g) = groups {
                db.groups = g;
            }
            db.loaded = Some(Instant::now());
        }
        &self.by_root[root]
    }

    /// The user `uid` of a process `pid` whose root is `root`.
    pub(crate) fn user(&mut self, root: &Path, pid: u32, uid: u32) -> Option<User> {
        let found = self.db(root, pid).users.get(&uid).cloned();
        found.or_else(|| fallback_user(uid))
    }

    /// The group `gid` of a process `pid` whose root is `root`.
    pub(crate) fn group(&mut self, root: &Path, pid: u32, gid: u32) -> Option<String> {
        let found = self.db(root, pid).groups.get(&gid).cloned();
        found.or_else(|| fallback_group(gid))
    }
}

/// What uid 0 is called everywhere, when no passwd says.
pub(crate) fn fallback_user(uid: u32) -> Option<User> {
    (uid == 0).then(|| User {
        name: "root".into(),
        home: "/root".into(),
        shell: String::new(),
    })
}

/// What gid 0 is called everywhere, when no group file says.
pub(crate) fn fallback_group(gid: u32) -> Option<String> {
    (gid == 0).then(|| "root".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_and_group() {
        let p = parse_passwd("root:x:0:0:root:/root:/bin/bash\n# c\nbad\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n");
        assert_eq!(p.get(&0).map(|u| u.name.as_str()), Some("root"));
        assert_eq!(
            p.get(&65534).map(|u| u.shell.as_str()),
            Some("/usr/sbin/nologin")
        );
        assert_eq!(p.len(), 2);
        let g = parse_group("root:x:0:\nadm:x:4:syslog\n");
        assert_eq!(g.get(&4).map(String::as_str), Some("adm"));
    }

    #[test]
    fn looks_up_through_the_process_root() {
        let mut u = Users::default();
        let me = std::process::id();
        let root = Path::new("/");
        assert_eq!(u.user(root, me, 0).map(|u| u.name), Some("root".into()));
        assert_eq!(u.group(root, me, 0), Some("root".into()));
        assert!(u.user(root, me, 4_000_000).is_none());
        // Cached per root: a pid that is gone still finds the names its root had.
        assert_eq!(
            u.user(root, u32::MAX, 0).map(|u| u.name),
            Some("root".into())
        );
        assert_eq!(u.by_root.len(), 1);
    }
}
