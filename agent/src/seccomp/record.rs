//! From the kernel's per-cgroup syscall bitmaps to a target's profile, and what makes a
//! recording incomplete.

use sysaudit_common::{abi, Counters, Profile as KernelProfile, MAX_SYSCALLS};

use super::{
    profile::Profile,
    provenance::{Added, Provenance},
    runtime::HANDOVER_BASE,
    DefaultAction,
};
use crate::{
    probe::{Probe, ProbeError},
    state::containers::Containers,
    syscalls::{table, Abi},
};

/// Whose bitmaps make up a profile.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target<'a> {
    /// One cgroup (a launched command's, a `--cgroup`, a container found running).
    Cgroup(u64),
    /// Every cgroup of a container (one that started while recording).
    Container(&'a str),
    /// Not known yet: nothing recorded.
    Unknown,
}

/// The recorded profile of `target`, and whether its gate never opened (the workload never
/// started).
pub(crate) fn recorded(
    probe: &Probe,
    containers: &mut Containers,
    target: Target<'_>,
) -> Result<(Profile, bool), ProbeError> {
    let mut p = Profile::new(DefaultAction::Errno);
    let mut closed = true;
    for (cg, k) in probe.profiles()? {
        if target.is(containers, cg) {
            let r = Recorded::from_kernel(&k);
            closed &= r.gate_closed;
            r.apply(&mut p);
        }
    }
    p.provenance = Provenance::one(&p.names);
    Ok((p, closed))
}

impl Target<'_> {
    /// Whether the kernel's profile of cgroup `cg` is the target's.
    fn is(&self, containers: &mut Containers, cg: u64) -> bool {
        match *self {
            Target::Cgroup(i) => cg == i,
            Target::Container(c) => containers.resolve(cg, 0, true).is_some_and(|x| &*x.id == c),
            Target::Unknown => false,
        }
    }

    /// The cgroups (profile keys) recorded for the target so far.
    pub(crate) fn keys(
        &self,
        probe: &Probe,
        containers: &mut Containers,
    ) -> Result<Vec<u64>, ProbeError> {
        Ok(probe
            .profiles()?
            .into_iter()
            .map(|(cg, _)| cg)
            .filter(|cg| self.is(containers, *cg))
            .collect())
    }
}

/// The recorded profile of each container of Kubernetes pod `namespace`/`name`, by container
/// name (a restarted container's attempts are one profile; the pod's sandbox, which has no
/// name, has none), with whether its gate never opened.
pub(crate) fn pod_profiles(
    probe: &Probe,
    containers: &mut Containers,
    namespace: &str,
    name: &str,
) -> Result<Vec<(String, Profile, bool)>, ProbeError> {
    let mut by_name: std::collections::BTreeMap<String, (Profile, bool)> = Default::default();
    for (cg, k) in probe.profiles()? {
        let Some(c) = containers.resolve(cg, 0, true) else {
            continue;
        };
        let Some(m) = c
            .meta()
            .filter(|m| m.in_pod(namespace, name) && !m.name.is_empty())
        else {
            continue;
        };
        let (p, closed) = by_name
            .entry(m.name.clone())
            .or_insert_with(|| (Profile::new(DefaultAction::Errno), true));
        let r = Recorded::from_kernel(&k);
        *closed &= r.gate_closed;
        r.apply(p);
    }
    Ok(by_name
        .into_iter()
        .map(|(n, (mut p, closed))| {
            p.provenance = Provenance::one(&p.names);
            (n, p, closed)
        })
        .collect())
}

/// A container went through its runtime's hand-over: allow what the runtime may do there —
/// its measured share (`profile base`) when given, and for a Go runtime (runc) the calls its
/// scheduler makes only at times, which no measurement is sure to catch.
pub(crate) fn add_handover(profile: &mut Profile, base: Option<&Profile>) {
    if profile.names.is_empty() {
        return;
    }
    if let Some(b) = base {
        let rt = b
            .provenance
            .runtime
            .clone()
            .unwrap_or_else(|| "the runtime".into());
        for n in &b.names {
            if !profile.names.contains(n) {
                profile.provenance.added.push(Added {
                    name: n.clone(),
                    why: format!("{rt} makes it after it loads the filter (measured)"),
                });
            }
            profile.allow(Abi::X86_64, n);
        }
        profile.provenance.runtime = Some(rt.clone());
        if !rt.starts_with("runc") {
            return;
        }
    }
    for n in HANDOVER_BASE {
        if !profile.names.contains(*n) {
            profile.provenance.added.push(Added {
                name: n.to_string(),
                why: "the runtime's Go code may make it between filter and exec".into(),
            });
        }
        profile.allow(Abi::X86_64, n);
    }
}

/// Why a finished recording may miss syscalls, from what the kernel counted.
pub(crate) fn gaps(k: &Counters, gate_closed: bool, empty: bool) -> Vec<String> {
    let mut out = Vec::new();
    if gate_closed && empty {
        out.push("the workload never started (no exec and no runtime hand-over was seen)".into());
    }
    if k.profile_map_full > 0 {
        out.push(format!(
            "the kernel's profile map was full {} times (raise --max-cgroups): syscalls were not recorded",
            k.profile_map_full
        ));
    }
    if k.lifecycle_lost > 0 {
        out.push(format!(
            "{} process lifecycle records were lost",
            k.lifecycle_lost
        ));
    }
    if k.x32_seen > 0 {
        out.push(format!(
            "{} x32-ABI syscalls were seen and are not recorded",
            k.x32_seen
        ));
    }
    out
}

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

    #[test]
    fn gaps_name_each_kernel_loss() {
        let clean = Counters::default();
        assert!(gaps(&clean, false, false).is_empty());
        assert!(
            gaps(&clean, true, false).is_empty(),
            "a closed gate with syscalls is a hand-over"
        );
        let k = Counters {
            profile_map_full: 2,
            lifecycle_lost: 3,
            x32_seen: 4,
            ..Default::default()
        };
        let g = gaps(&k, true, true);
        assert_eq!(g.len(), 4, "{g:?}");
        assert!(g[0].contains("never started") && g[1].contains("full 2 times"));
        assert!(g[2].starts_with("3 ") && g[3].starts_with("4 x32"));
    }

    #[test]
    fn handover_is_added_only_to_a_recorded_profile() {
        let mut empty = Profile::new(DefaultAction::Errno);
        add_handover(&mut empty, None);
        assert!(empty.names.is_empty());
        let mut p = Profile::new(DefaultAction::Errno);
        p.allow(Abi::X86_64, "openat");
        add_handover(&mut p, None);
        assert!(p.names.contains("rt_sigreturn") && p.names.contains("openat"));
    }
}
