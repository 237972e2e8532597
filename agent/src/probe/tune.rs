//! What the trace programs keep, written into their maps: the syscalls traced, which opens
//! the path filter judges, whether I/O buffers are copied. Written at load, and again in
//! place when the rules change (hot reload), so that capture never stops; while a retune is
//! under way the kernel keeps at least what either version keeps.

use aya::maps::{Array, MapData};
use sysaudit_common::{map, ArgSpec, MAX_SYSCALLS};

use std::collections::BTreeSet;

use sysaudit_common::{abi, BITMAP_WORDS};

use super::{failed, get_mut, paths, paths::PathTables, Probe, ProbeError};
use crate::syscalls::{args::arg_specs, Abi};

/// Syscalls per ABI (numbers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SyscallSet {
    pub native: BTreeSet<u32>,
    pub ia32: BTreeSet<u32>,
}

impl SyscallSet {
    /// Every syscall of both recorded ABIs.
    pub(crate) fn all() -> SyscallSet {
        SyscallSet {
            native: (0..MAX_SYSCALLS as u32).collect(),
            ia32: (0..MAX_SYSCALLS as u32).collect(),
        }
    }

    pub(crate) fn insert(&mut self, abi: Abi, nr: u32) {
        match abi {
            Abi::Ia32 => self.ia32.insert(nr),
            _ => self.native.insert(nr),
        };
    }

    /// Add syscall `name` in every recorded ABI that has it; false if none does.
    pub(crate) fn insert_name(&mut self, name: &str) -> bool {
        let mut found = false;
        for abi in [Abi::X86_64, Abi::Ia32] {
            if let Some(nr) = crate::syscalls::table::number(abi, name) {
                self.insert(abi, nr);
                found = true;
            }
        }
        found
    }

    pub(crate) fn contains(&self, abi: Abi, nr: u32) -> bool {
        match abi {
            Abi::Ia32 => self.ia32.contains(&nr),
            _ => self.native.contains(&nr),
        }
    }

    fn words(&self) -> Vec<u64> {
        let mut w = vec![0u64; abi::RECORDED * BITMAP_WORDS];
        for (base, set) in [(0, &self.native), (BITMAP_WORDS, &self.ia32)] {
            for nr in set.iter().filter(|n| (**n as usize) < MAX_SYSCALLS) {
                w[base + *nr as usize / 64] |= 1 << (nr % 64);
            }
        }
        w
    }
}

/// What the rules ask of the kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tuning {
    pub interesting: SyscallSet,
    pub path_filter: Option<PathTables>,
    pub buffers: bool,
}

/// Write the interesting set; `clear`: zero words too (a map written before).
pub(super) fn write_interesting(
    ebpf: &mut aya::Ebpf,
    set: &SyscallSet,
    clear: bool,
) -> Result<(), ProbeError> {
    let mut arr: Array<&mut MapData, u64> = get_mut(ebpf, map::INTERESTING)?;
    for (i, w) in set.words().into_iter().enumerate() {
        if w != 0 || clear {
            arr.set(i as u32, w, 0).map_err(failed(map::INTERESTING))?;
        }
    }
    Ok(())
}

/// Write each syscall's argument spec: what to copy, whether its path is filtered.
pub(super) fn write_arg_specs(
    ebpf: &mut aya::Ebpf,
    filter: Option<&PathTables>,
    buffers: bool,
    clear: bool,
) -> Result<(), ProbeError> {
    let mut arr: Array<&mut MapData, ArgSpec> = get_mut(ebpf, map::ARG_SPECS)?;
    for (table, abi) in [(0usize, Abi::X86_64), (1, Abi::Ia32)] {
        for (nr, mut spec) in arg_specs(abi, buffers).into_iter().enumerate() {
            if let Some(f) = filter {
                let name = crate::syscalls::table::name(abi, nr as u32);
                spec.filter = name.is_some_and(|n| f.syscalls.contains(&n)) as u8;
            }
            if spec != ArgSpec::EMPTY || clear {
                arr.set((table * MAX_SYSCALLS + nr) as u32, spec, 0)
                    .map_err(failed(map::ARG_SPECS))?;
            }
        }
    }
    Ok(())
}

impl SyscallSet {
    fn union(&self, o: &SyscallSet) -> SyscallSet {
        SyscallSet {
            native: self.native.union(&o.native).copied().collect(),
            ia32: self.ia32.union(&o.ia32).copied().collect(),
        }
    }
}

impl Probe {
    /// Go from tuning `from` (what the maps hold) to `to`, in an order that never keeps less
    /// than both: the union traced, the new affixes added, the specs switched, the old
    /// affixes removed, the new set alone.
    pub(crate) fn retune(&mut self, from: &Tuning, to: &Tuning) -> Result<(), ProbeError> {
        if from == to {
            return Ok(());
        }
        let ebpf = &mut self.ebpf;
        write_interesting(ebpf, &from.interesting.union(&to.interesting), true)?;
        let empty = PathTables::default();
        let (old, new) = (
            from.path_filter.as_ref().unwrap_or(&empty),
            to.path_filter.as_ref().unwrap_or(&empty),
        );
        paths::write(ebpf, new)?;
        write_arg_specs(ebpf, to.path_filter.as_ref(), to.buffers, true)?;
        paths::remove_stale(ebpf, old, new)?;
        write_interesting(ebpf, &to.interesting, true)
    }
}
