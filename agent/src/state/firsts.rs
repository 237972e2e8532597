//! Who made each syscall first (profile mode with first-use records): per recorded cgroup,
//! ABI and syscall, the earliest caller with what the process table knew of it then — the
//! process `sysaudit ci` names for a syscall its baseline lacks.

use std::collections::BTreeMap;

use sysaudit_common::FirstUseRecord;

use super::procs::ProcessTable;
use crate::{event::Timestamp, syscalls::Abi};

/// One first use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FirstUse {
    pub(crate) time: Timestamp,
    pub(crate) pid: u32,
    pub(crate) comm: String,
    /// The executable and command line, when the process was known.
    pub(crate) exe: Option<String>,
    pub(crate) cmdline: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct FirstUses {
    /// (profile key, ABI, syscall number) → the first use.
    by_call: BTreeMap<(u64, Abi, u32), FirstUse>,
}

impl FirstUses {
    /// Note a record (two CPUs may report the same first use: the earlier stays).
    pub(crate) fn note(&mut self, r: &FirstUseRecord, procs: &ProcessTable, time: Timestamp) {
        let tgid = (r.hdr.pid_tgid >> 32) as u32;
        let p = procs.get(tgid);
        let u = FirstUse {
            time,
            pid: tgid,
            comm: String::from_utf8_lossy(crate::probe::decode::comm_bytes(&r.hdr.comm))
                .into_owned(),
            exe: p.map(|p| p.exe.to_string()),
            cmdline: p.map(|p| p.args.join(" ")),
        };
        let key = (r.profile, Abi::from_kernel(r.hdr.abi), r.nr);
        match self.by_call.get(&key) {
            Some(old) if old.time <= u.time => {}
            _ => {
                self.by_call.insert(key, u);
            }
        }
    }

    /// The first use of each syscall in any of the cgroups recorded under `profiles`, by name
    /// (of every ABI), the earliest.
    pub(crate) fn earliest(&self, profiles: &[u64]) -> Vec<(Timestamp, String)> {
        let mut by_name: BTreeMap<String, Timestamp> = BTreeMap::new();
        for ((key, abi, nr), u) in &self.by_call {
            if profiles.contains(key) {
                let name = crate::syscalls::table::display_name(*abi, *nr).into_owned();
                let t = by_name.entry(name).or_insert(u.time);
                *t = (*t).min(u.time);
            }
        }
        by_name.into_iter().map(|(n, t)| (t, n)).collect()
    }

    /// The recorded cgroups that have made syscall `nr` of `abi`, with when.
    pub(crate) fn users(&self, abi: Abi, nr: u32) -> impl Iterator<Item = (u64, Timestamp)> + '_ {
        self.by_call
            .iter()
            .filter(move |((_, a, n), _)| *a == abi && *n == nr)
            .map(|((k, _, _), u)| (*k, u.time))
    }

    /// The first use of syscall `nr` of `abi` in the cgroup recorded under `profile`.
    pub(crate) fn get(&self, profile: u64, abi: Abi, nr: u32) -> Option<&FirstUse> {
        self.by_call.get(&(profile, abi, nr))
    }
}
