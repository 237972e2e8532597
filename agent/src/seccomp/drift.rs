//! Syscall drift: what a recorded profile uses that a committed baseline does not allow —
//! a dependency that starts calling `ptrace` or `bpf` — and what the baseline allows that the
//! recording no longer used. New syscalls and new ABIs are drift; unused ones are news.

use std::collections::BTreeSet;

use super::Profile;
use crate::syscalls::Abi;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Drift {
    /// Recorded, not in the baseline.
    pub(crate) added: Vec<String>,
    /// In the baseline, not recorded this time.
    pub(crate) unused: Vec<String>,
    /// ABIs the recording used that the baseline does not list.
    pub(crate) new_abis: Vec<Abi>,
}

impl Drift {
    pub(crate) fn between(baseline: &Profile, recorded: &Profile) -> Drift {
        let diff = |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).cloned().collect();
        Drift {
            added: diff(&recorded.names, &baseline.names),
            unused: diff(&baseline.names, &recorded.names),
            new_abis: recorded.abis.difference(&baseline.abis).copied().collect(),
        }
    }

    /// Whether the recording needs more than the baseline allows.
    pub(crate) fn drifted(&self) -> bool {
        !self.added.is_empty() || !self.new_abis.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::DefaultAction;

    fn profile(abis: &[Abi], names: &[&str]) -> Profile {
        let mut p = Profile::new(DefaultAction::Errno);
        p.abis = abis.iter().copied().collect();
        for n in names {
            p.names.insert(n.to_string());
        }
        p
    }

    #[test]
    fn new_syscalls_and_abis_drift_unused_ones_do_not() {
        let base = profile(&[Abi::X86_64], &["read", "write", "openat", "futex"]);
        let same = profile(&[Abi::X86_64], &["read", "write"]);
        let d = Drift::between(&base, &same);
        assert!(!d.drifted());
        assert_eq!(d.unused, ["futex", "openat"]);
        let more = profile(&[Abi::X86_64, Abi::Ia32], &["read", "ptrace", "bpf"]);
        let d = Drift::between(&base, &more);
        assert!(d.drifted());
        assert_eq!(d.added, ["bpf", "ptrace"]);
        assert_eq!(d.new_abis, [Abi::Ia32]);
    }
}
