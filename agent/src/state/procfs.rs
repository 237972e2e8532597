//! What /proc says about a live process, read when the process is first seen (the start-up
//! scan, a pid the table does not know) or execs — never again per event. Paths are given in
//! the process's own view: its root (a container's rootfs) is stripped.

use std::{fs, path::Path, sync::Arc};

use super::procs::Process;
use crate::event::{ProcAttrs, Timestamp};

pub(super) fn read_ppid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).map(|(_, ppid)| ppid)
}

/// (comm, ppid) from /proc/<pid>/stat; comm may contain spaces and parentheses.
fn parse_stat(stat: &str) -> Option<(String, u32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, ppid))
}

/// The root directory of a live process, in the host's view (`/`, or a container's rootfs).
pub(crate) fn read_root(pid: u32) -> Option<Arc<Path>> {
    fs::read_link(format!("/proc/{pid}/root"))
        .ok()
        .map(|p| Arc::from(p.as_path()))
}

/// `path` (a host-view link target) in the view of a process whose root is `root`.
pub(crate) fn in_root(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if root.as_os_str() != "/" => format!("/{}", rel.display()),
        _ => path.display().to_string(),
    }
}

/// The executable of a live process, as the process itself sees it.
pub(crate) fn exe_of(pid: u32, root: &Path) -> Option<String> {
    let exe = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    Some(in_root(root, &exe))
}

/// A link of a live process (`cwd`, `fd/3`), as the process itself sees it.
pub(crate) fn link_of(pid: u32, link: &str, root: &Path) -> Option<String> {
    let target = fs::read_link(format!("/proc/{pid}/{link}")).ok()?;
    Some(in_root(root, &target))
}

/// Resolve the symlinks of absolute `path` as seen from the root of process `pid` (its
/// container's rootfs), the way the kernel did when it opened the file. Absolute link targets
/// stay inside that root. `None` if the process is gone or the path does not resolve.
pub(crate) fn resolve_in_root(pid: u32, path: &str) -> Option<String> {
    let root = std::path::PathBuf::from(format!("/proc/{pid}/root"));
    fs::metadata(&root).ok()?;
    let mut todo: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(str::to_string)
        .collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let here = root.join(done.join("/")).join(&c);
        match fs::read_link(&here) {
            Ok(target) => {
                links += 1;
                if links > 40 {
                    return None;
                }
                let t = target.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    done.clear();
                }
                todo.extend(
                    t.split('/')
                        .filter(|x| !x.is_empty())
                        .rev()
                        .map(str::to_string),
                );
            }
            Err(_) => {
                fs::symlink_metadata(&here).ok()?;
                done.push(c);
            }
        }
    }
    Some(format!("/{}", done.join("/")))
}

/// A NUL-separated /proc file of a live process (`cmdline`, `environ`), as strings.
fn nul_strings(pid: u32, file: &str) -> Vec<String> {
    fs::read(format!("/proc/{pid}/{file}"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn read_proc(pid: u32) -> Option<Process> {
    let (comm, ppid) = parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    let args = nul_strings(pid, "cmdline");
    let root = read_root(pid);
    let r = root.as_deref().unwrap_or(Path::new("/"));
    let exe = exe_of(pid, r).unwrap_or_default();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid = status_field(&status, "Uid:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let attrs = read_attrs(pid, r).unwrap_or_default();
    Some(Process {
        pid,
        ppid,
        comm: comm.into(),
        exe: exe.into(),
        args,
        uid,
        cgroup_id: 0,
        attrs,
        start: Timestamp(0),
        exited_at: None,
        root,
        root_read: true,
        names: None,
        thread_vtids: Default::default(),
    })
}

/// First value of a `Name:\tvalue ...` line of /proc/<pid>/status.
fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
}

/// Last value of a namespaced id line (`NSpid:\t1234\t1`): the id in the innermost namespace.
fn status_ns_last(status: &str, name: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().last())
        .and_then(|v| v.parse().ok())
}

pub(super) fn read_ns_ids(pid: u32) -> Option<(u32, u32, u32)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((
        status_ns_last(&status, "NSpid:")?,
        status_ns_last(&status, "NSsid:").unwrap_or(0),
        status_ns_last(&status, "NSpgid:").unwrap_or(0),
    ))
}

/// Thread `tid`'s id in the pid namespace of process `pid` (a thread older than the agent).
pub(super) fn read_vtid(pid: u32, tid: u32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?;
    status_ns_last(&status, "NSpid:")
}

/// What /proc says about a live process beyond its name and arguments.
pub(crate) fn read_attrs(pid: u32, root: &Path) -> Option<ProcAttrs> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let cap = |name: &str| {
        status_field(&status, name)
            .and_then(|v| u64::from_str_radix(v, 16).ok())
            .unwrap_or(0)
    };
    let loginuid = fs::read_to_string(format!("/proc/{pid}/loginuid"))
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .map_or(-1, |v| if v == u32::MAX { -1 } else { v as i64 });
    let cwd = link_of(pid, "cwd", root).unwrap_or_default();
    let env = nul_strings(pid, "environ");
    Some(ProcAttrs {
        cwd,
        tty: parse_stat_tty(&stat).unwrap_or(0),
        loginuid,
        loginname: String::new(),
        env,
        cap_effective: cap("CapEff:"),
        cap_permitted: cap("CapPrm:"),
        cap_inheritable: cap("CapInh:"),
        vpid: status_ns_last(&status, "NSpid:").unwrap_or(0),
        sid: status_ns_last(&status, "NSsid:").unwrap_or(0),
        vpgid: status_ns_last(&status, "NSpgid:").unwrap_or(0),
        ..ProcAttrs::default()
    })
}

/// tty_nr, the 7th field of /proc/<pid>/stat.
fn parse_stat_tty(stat: &str) -> Option<u32> {
    let close = stat.rfind(')')?;
    stat.get(close + 1..)?
        .split_whitespace()
        .nth(4)?
        .parse::<i64>()
        .ok()
        .map(|v| v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let s = "123 (my (weird) name) S 45 123 123 0 -1 4194560";
        assert_eq!(parse_stat(s), Some(("my (weird) name".into(), 45)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn resolves_links_inside_the_process_root() {
        let me = std::process::id();
        let dir = std::env::temp_dir().join(format!("sysaudit-resolve-{me}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin")).unwrap();
        fs::write(dir.join("bin/busybox"), b"x").unwrap();
        std::os::unix::fs::symlink("busybox", dir.join("bin/sh")).unwrap();
        std::os::unix::fs::symlink(dir.join("bin"), dir.join("abs")).unwrap();
        let p = format!("{}/bin/sh", dir.display());
        assert_eq!(
            resolve_in_root(me, &p),
            Some(format!("{}/bin/busybox", dir.display()))
        );
        let p = format!("{}/abs/./sh", dir.display());
        assert_eq!(
            resolve_in_root(me, &p),
            Some(format!("{}/bin/busybox", dir.display()))
        );
        assert_eq!(
            resolve_in_root(me, &format!("{}/nope", dir.display())),
            None
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn reads_itself_from_proc() {
        let me = std::process::id();
        let p = read_proc(me).expect("own /proc entry");
        assert_eq!(p.pid, me);
        assert!(!p.args.is_empty());
        assert!(p.exe.starts_with('/'));
        assert_eq!(p.attrs.vpid, me, "the test runs in the host pid namespace");
        assert_eq!(
            p.attrs.cwd,
            std::env::current_dir().unwrap().display().to_string()
        );
        assert!(p.attrs.env.iter().any(|e| e.starts_with("PATH=")));
    }

    #[test]
    fn parses_stat_tty() {
        let s = "123 (bash) S 45 123 123 34816 123 4194560";
        assert_eq!(parse_stat_tty(s), Some(34816));
        assert_eq!(status_ns_last("NSpid:\t4242\t1\n", "NSpid:"), Some(1));
    }
}
