//! From the kernel's per-cgroup syscall bitmaps to profile entries.

use sysaudit_common::{abi, Profile as KernelProfile, MAX_SYSCALLS};

use super::profile::Profile;
use crate::syscalls::{table, Abi};

/// What one cgroup's bitmap holds, by ABI and name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub native: Vec<&'static str>,
    pub ia32: Vec<&'static str>,
    /// Numbers the syscall table does not know (never put in a profile).
    pub unknown: Vec<(Abi, u32)>,
    /// Syscalls were seen before the gate opened (the runtime's own set-up).
    pub pre_gate: bool,
    /// The gate is still closed: the workload never started.
    pub gate_closed: bool,
}

impl Recorded {
    pub(crate) fn from_kernel(k: &KernelProfile) -> Recorded {
        let mut r = Recorded {
            pre_gate: k.pre_gate != 0,
            gate_closed: k.gate != sysaudit_common::gate::OPEN,
            ..Default::default()
        };
        for (i, abi) in [
            (abi::X86_64 as usize, Abi::X86_64),
            (abi::IA32 as usize, Abi::Ia32),
        ] {
            for nr in 0..MAX_SYSCALLS {
                if k.seen[i][nr] == 0 {
                    continue;
                }
                match table::name(abi, nr as u32) {
                    Some(n) if abi == Abi::X86_64 => r.native.push(n),
                    Some(n) => r.ia32.push(n),
                    None => r.unknown.push((abi, nr as u32)),
                }
            }
        }
        r
    }

    /// Add everything recorded to a profile.
    pub(crate) fn apply(&self, p: &mut Profile) {
        for n in &self.native {
            p.allow(Abi::X86_64, n);
        }
        for n in &self.ia32 {
            p.allow(Abi::Ia32, n);
        }
        for (abi, nr) in &self.unknown {
            p.incomplete.push(format!(
                "{abi} syscall {nr} is unknown to libseccomp's table and was left out"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::DefaultAction;

    #[test]
    fn names_come_from_each_abis_table() {
        let mut k = KernelProfile {
            tag: 7,
            gate: sysaudit_common::gate::OPEN,
            pre_gate: 1,
            seen: [[0; MAX_SYSCALLS]; abi::RECORDED],
        };
        k.seen[0][0] = 1; // x86_64 read
        k.seen[1][3] = 1; // ia32 read
        k.seen[1][102] = 1; // ia32 socketcall
        k.seen[0][511] = 1; // nothing
        let r = Recorded::from_kernel(&k);
        assert_eq!(r.native, vec!["read"]);
        assert_eq!(r.ia32, vec!["read", "socketcall"]);
        assert_eq!(r.unknown, vec![(Abi::X86_64, 511)]);
        assert!(r.pre_gate && !r.gate_closed);
        let mut p = Profile::new(DefaultAction::Errno);
        r.apply(&mut p);
        assert_eq!(
            p.names.iter().map(String::as_str).collect::<Vec<_>>(),
            vec!["read", "socketcall"]
        );
        assert!(p.abis.contains(&Abi::Ia32));
        assert_eq!(p.incomplete.len(), 1);
    }
}
