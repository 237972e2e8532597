//! Argument filters (`profile --args`): the argument values that decide what a syscall can do
//! to the kernel's isolation — socket families, `clone`/`unshare` namespace flags,
//! `personality` values, `ioctl` requests — recorded during the run and written as rules the
//! way Docker's default profile writes its own: a syscall is allowed only with the values the
//! workload used, so a workload that never made a user namespace cannot.

use std::collections::{BTreeMap, BTreeSet};

use super::{file::ArgCmp, profile::Profile, provenance::Added};

/// Every namespace flag of `clone` and `unshare` (`CLONE_NEW*`), as Docker masks them.
pub(crate) const CLONE_NAMESPACES: u64 = 0x7E02_0000;
const ENOSYS: u32 = 38;

/// The syscalls filtered, and the argument that decides.
pub(crate) const FILTERED: &[(&str, u32)] = &[
    ("clone", 0),
    ("ioctl", 1),
    ("personality", 0),
    ("socket", 0),
    ("unshare", 0),
];

/// Traced with them: `clone3`, whose flags sit in memory out of a filter's reach, and `prctl`,
/// whose hand-over options open the gate as in the kernel.
pub(crate) const TRACED: &[&str] = &[
    "clone",
    "clone3",
    "ioctl",
    "personality",
    "prctl",
    "socket",
    "unshare",
];

/// The prctl options that mark a runtime's hand-over (the kernel's `gate::RUNTIME`):
/// PR_GET_PDEATHSIG (runc), PR_CAPBSET_DROP (crun), PR_SET_NO_NEW_PRIVS (both).
const HANDOVER_PRCTL: &[u64] = &[2, 24, 38];

/// The values each filtered syscall was called with, from each cgroup's gate on — what the
/// runtime did before it (runc's netlink socket for the loopback) is not the workload's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    values: BTreeMap<&'static str, BTreeSet<u64>>,
    open: BTreeSet<u64>,
}

impl Seen {
    /// Gates already open (a cgroup recorded from the first moment).
    pub(crate) fn new(open: impl IntoIterator<Item = u64>) -> Seen {
        Seen {
            values: BTreeMap::new(),
            open: open.into_iter().collect(),
        }
    }

    /// An exec in `cgroup` opens its gate, as in the kernel.
    pub(crate) fn exec(&mut self, cgroup: u64) {
        self.open.insert(cgroup);
    }

    /// Note a call (its registers) in `cgroup`.
    pub(crate) fn note(&mut self, cgroup: u64, name: &str, regs: &[u64; 6]) {
        if !self.open.contains(&cgroup) {
            if name == "prctl" && HANDOVER_PRCTL.contains(&regs[0]) {
                self.open.insert(cgroup);
            }
            return;
        }
        if let Some((n, i)) = FILTERED.iter().find(|(n, _)| *n == name) {
            let mut v = regs[*i as usize];
            if *n == "ioctl" {
                // The request is an unsigned int; the register's upper half is not its.
                v &= 0xffff_ffff;
            }
            self.values.entry(n).or_default().insert(v);
        }
    }

    /// Turn the profile's unconditional rules for the filtered syscalls into value rules. A
    /// syscall recorded whose calls were not seen (records lost) stays unconditional.
    pub(crate) fn apply(&self, p: &mut Profile) {
        let eq = |index: u32, value: u64| ArgCmp {
            index,
            value,
            value_two: 0,
            op: "SCMP_CMP_EQ".into(),
        };
        let masked = |index: u32, mask: u64, value: u64| ArgCmp {
            index,
            value: mask,
            value_two: value,
            op: "SCMP_CMP_MASKED_EQ".into(),
        };
        // clone3 cannot be filtered: it answers ENOSYS and libc falls back to clone, which
        // can (Docker does the same for containers without CAP_SYS_ADMIN).
        if p.names.remove("clone3") {
            p.errnos.insert("clone3".into(), ENOSYS);
            if !p.names.contains("clone") && !p.conditions.contains_key("clone") {
                p.provenance.added.push(Added {
                    name: "clone".into(),
                    why: "libc's fallback when clone3 answers ENOSYS".into(),
                });
                p.conditions.insert(
                    "clone".into(),
                    BTreeSet::from([vec![masked(0, CLONE_NAMESPACES, 0)]]),
                );
            }
        }
        for (name, index) in FILTERED {
            let Some(vals) = self.values.get(name) else {
                continue;
            };
            if !p.names.contains(*name) {
                continue;
            }
            let rules: BTreeSet<Vec<ArgCmp>> = match *name {
                "clone" if vals.iter().all(|v| v & CLONE_NAMESPACES == 0) => {
                    BTreeSet::from([vec![masked(*index, CLONE_NAMESPACES, 0)]])
                }
                // Namespaces were made: each flag word as seen.
                "clone" | "personality" | "socket" | "unshare" => {
                    vals.iter().map(|v| vec![eq(*index, *v)]).collect()
                }
                "ioctl" => vals
                    .iter()
                    .map(|v| vec![masked(*index, 0xffff_ffff, *v)])
                    .collect(),
                _ => continue,
            };
            p.names.remove(*name);
            p.conditions
                .entry(name.to_string())
                .or_default()
                .extend(rules);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::DefaultAction;
    use crate::syscalls::Abi;

    fn regs(a0: u64, a1: u64) -> [u64; 6] {
        [a0, a1, 0, 0, 0, 0]
    }

    #[test]
    fn recorded_values_become_docker_style_rules() {
        let mut p = Profile::new(DefaultAction::Errno);
        for n in ["read", "socket", "clone", "clone3", "ioctl", "personality"] {
            p.allow(Abi::X86_64, n);
        }
        let mut s = Seen::default();
        s.note(7, "socket", &regs(16, 0));
        s.note(7, "prctl", &regs(2, 0));
        s.note(7, "socket", &regs(1, 0));
        s.note(7, "socket", &regs(2, 0));
        s.note(7, "clone", &regs(0x01200011, 0));
        s.note(7, "ioctl", &regs(1, 0xffff_ffff_0000_5401));
        s.note(7, "read", &regs(3, 0));
        s.apply(&mut p);
        assert_eq!(
            p.names,
            BTreeSet::from(["personality".into(), "read".into()])
        );
        assert_eq!(
            p.conditions["socket"].len(),
            2,
            "not the family used before the gate"
        );
        let clone = p.conditions["clone"].iter().next().unwrap();
        assert_eq!(clone[0].op, "SCMP_CMP_MASKED_EQ");
        assert_eq!((clone[0].value, clone[0].value_two), (CLONE_NAMESPACES, 0));
        let ioctl = p.conditions["ioctl"].iter().next().unwrap();
        assert_eq!((ioctl[0].index, ioctl[0].value_two), (1, 0x5401));
        assert_eq!(p.errnos["clone3"], ENOSYS);
        // A namespace made: the flags as seen, not the mask.
        let mut q = Profile::new(DefaultAction::Errno);
        q.allow(Abi::X86_64, "unshare");
        q.allow(Abi::X86_64, "clone");
        let mut s = Seen::new([7]);
        s.note(7, "unshare", &regs(0x1000_0000, 0));
        s.note(7, "clone", &regs(0x1000_0000 | 0x11, 0));
        s.apply(&mut q);
        let c = q.conditions["clone"].iter().next().unwrap();
        assert_eq!((c[0].op.as_str(), c[0].value), ("SCMP_CMP_EQ", 0x1000_0011));
        assert!(q.names.is_empty());
    }

    #[test]
    fn clone3_alone_brings_the_masked_clone_fallback() {
        let mut p = Profile::new(DefaultAction::Errno);
        p.allow(Abi::X86_64, "clone3");
        Seen::default().apply(&mut p);
        assert!(p.conditions.contains_key("clone"));
        assert_eq!(p.provenance.added[0].name, "clone");
    }
}
