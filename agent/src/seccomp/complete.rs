//! Opt-in completion (`profile --complete`): syscalls one recording did not see but the same
//! code can make on another path. Two sources, each addition listed with why (in the summary
//! and the profile's provenance), never silent:
//! - siblings: for a syscall seen, the other forms the same libc function uses depending on
//!   its arguments or the libc version (`poll`/`ppoll`, `wait4`/`waitid`...);
//! - imports: for each dynamically linked executable that ran, the syscalls behind the libc
//!   functions it imports that have such a hidden choice.
//!
//! A static binary imports nothing: for it only merged recordings and `verify --runs` help.

use std::{collections::BTreeMap, path::Path};

use object::{Object, ObjectSymbol};

use super::{provenance::Added, Profile};

/// Syscalls that stand in for each other (x86_64 names).
const SIBLINGS: &[&[&str]] = &[
    &["accept", "accept4"],
    &["access", "faccessat", "faccessat2"],
    &["clock_nanosleep", "nanosleep"],
    &["dup2", "dup3"],
    &["epoll_pwait", "epoll_pwait2", "epoll_wait"],
    &["eventfd", "eventfd2"],
    &["fstat", "lstat", "newfstatat", "stat", "statx"],
    &["getdents", "getdents64"],
    &["open", "openat"],
    &["pipe", "pipe2"],
    &["poll", "ppoll"],
    &["pselect6", "select"],
    &["rename", "renameat", "renameat2"],
    &["signalfd", "signalfd4"],
    &["wait4", "waitid"],
];

/// libc functions whose syscalls a run shows only on some paths.
const IMPORTS: &[(&str, &[&str])] = &[
    ("accept", &["accept", "accept4"]),
    ("clock_nanosleep", &["clock_nanosleep"]),
    ("epoll_wait", &["epoll_wait", "epoll_pwait"]),
    (
        "getaddrinfo",
        &[
            "socket", "connect", "sendto", "recvfrom", "poll", "sendmmsg",
        ],
    ),
    ("nanosleep", &["clock_nanosleep", "nanosleep"]),
    ("poll", &["poll", "ppoll"]),
    ("popen", &["clone", "clone3", "execve", "wait4", "pipe2"]),
    ("posix_spawn", &["clone", "clone3", "execve", "wait4"]),
    ("ppoll", &["ppoll"]),
    ("pselect", &["pselect6"]),
    ("select", &["select", "pselect6"]),
    ("sleep", &["clock_nanosleep", "nanosleep"]),
    (
        "system",
        &[
            "clone",
            "clone3",
            "execve",
            "wait4",
            "rt_sigaction",
            "rt_sigprocmask",
        ],
    ),
    ("usleep", &["clock_nanosleep", "nanosleep"]),
    ("wait", &["wait4"]),
    ("waitid", &["waitid"]),
    ("waitpid", &["wait4"]),
];

/// What the executables that ran import, gathered during a recording.
#[derive(Clone, Debug, Default)]
pub(crate) struct Imports {
    /// libc function → the first executable seen importing it.
    by_function: BTreeMap<&'static str, String>,
    names: std::collections::BTreeSet<String>,
    pub(crate) read: u32,
    pub(crate) unread: u32,
    pub(crate) statics: u32,
}

impl Imports {
    /// Note an executable named `name`, its bytes at the first of `paths` that reads
    /// (`/proc/PID/exe`, then what else may still lead to it). Each name is read once.
    pub(crate) fn executable(&mut self, paths: &[&Path], name: &str) {
        if !self.names.insert(name.to_string()) {
            return;
        }
        let Some(data) = paths.iter().find_map(|p| std::fs::read(p).ok()) else {
            self.unread += 1;
            return;
        };
        let Ok(file) = object::File::parse(&*data) else {
            self.unread += 1;
            return;
        };
        self.read += 1;
        let mut any = false;
        for s in file.dynamic_symbols().filter(|s| s.is_undefined()) {
            any = true;
            let Ok(n) = s.name() else { continue };
            if let Some((f, _)) = IMPORTS.iter().find(|(f, _)| *f == n) {
                self.by_function
                    .entry(f)
                    .or_insert_with(|| name.to_string());
            }
        }
        if !any {
            self.statics += 1;
        }
    }
}

/// Add what completion finds to `p`, each with why. `args_filtered`: the profile has
/// `--args` rules.
pub(crate) fn apply(
    p: &mut Profile,
    siblings: bool,
    imports: Option<&Imports>,
    args_filtered: bool,
) {
    let add = |p: &mut Profile, name: &str, why: String| {
        // Under `--args` the filtered syscalls keep their argument rules (or stay out):
        // completion never widens one to an unconditional allow.
        let argued = args_filtered && super::args::TRACED.contains(&name);
        if crate::syscalls::table::number(crate::syscalls::Abi::X86_64, name).is_none()
            || p.names.contains(name)
            || p.conditions.contains_key(name)
            || p.errnos.contains_key(name)
            || argued
        {
            return;
        }
        p.names.insert(name.to_string());
        p.provenance.added.push(Added {
            name: name.to_string(),
            why,
        });
    };
    if siblings {
        let seen: Vec<String> = p.names.iter().cloned().collect();
        for group in SIBLINGS {
            if let Some(s) = group.iter().find(|n| seen.iter().any(|x| x == *n)) {
                for n in group.iter() {
                    add(
                        p,
                        n,
                        format!("a sibling of {s} (the same libc call may use either)"),
                    );
                }
            }
        }
    }
    if let Some(i) = imports {
        for (f, exe) in &i.by_function {
            let Some((_, calls)) = IMPORTS.iter().find(|(g, _)| g == f) else {
                continue;
            };
            for n in calls.iter() {
                add(p, n, format!("{exe} imports {f}()"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::DefaultAction;
    use crate::syscalls::Abi;

    #[test]
    fn siblings_and_imports_are_added_with_why() {
        let mut p = Profile::new(DefaultAction::Errno);
        p.allow(Abi::X86_64, "poll");
        p.allow(Abi::X86_64, "read");
        let mut i = Imports::default();
        // This test binary is dynamically linked against libc.
        i.executable(
            &[Path::new("/nonexistent"), Path::new("/proc/self/exe")],
            "test",
        );
        i.executable(&[Path::new("/proc/self/exe")], "test");
        assert_eq!(i.read, 1);
        i.by_function.insert("waitpid", "/bin/sh".into());
        apply(&mut p, true, Some(&i), false);
        let mut q = Profile::new(DefaultAction::Errno);
        q.allow(Abi::X86_64, "read");
        q.errnos.insert("clone3".into(), 38);
        i.by_function.insert("system", "/bin/sh".into());
        apply(&mut q, false, Some(&i), true);
        assert!(
            !q.names.contains("clone3") && !q.names.contains("clone"),
            "{:?}",
            q.names
        );
        assert!(q.names.contains("execve"));
        assert!(p.names.contains("ppoll"));
        assert!(p.names.contains("wait4"));
        let why: Vec<&str> = p.provenance.added.iter().map(|a| a.why.as_str()).collect();
        assert!(
            why.contains(&"a sibling of poll (the same libc call may use either)"),
            "{why:?}"
        );
        assert!(why.contains(&"/bin/sh imports waitpid()"), "{why:?}");
        assert!(!p.names.contains("getdents64"), "no group member was seen");
    }

    #[test]
    fn a_static_binary_imports_nothing() {
        let mut i = Imports::default();
        i.executable(&[Path::new("/bin/busybox")], "busybox");
        if i.read == 1 {
            assert_eq!(i.statics, 1);
            assert!(i.by_function.is_empty());
        }
    }
}
