//! Profile mode: mark the syscalls a cgroup makes in its `PROFILES` entry, from its gate on.
//! Nothing goes through the ring buffer per syscall.

use aya_ebpf::{
    bindings::{pt_regs, BPF_NOEXIST},
    helpers::bpf_get_current_pid_tgid,
};
use sysaudit_common::{
    abi, gate, kind, mode, nr, scope, Counters, FirstUseRecord, Profile, MAX_SYSCALLS,
    PR_CAPBSET_DROP, PR_GET_PDEATHSIG, PR_SET_NO_NEW_PRIVS,
};

use crate::{
    maps::{konst, EVENTS, MODE, PROFILES, PROFILE_SLOTS, PROFILE_SLOT_MASK, SCOPE, SLOT_OWNERS},
    record::{arg, fill_header, wake_flags},
};

/// A zeroed entry for a container cgroup seen for the first time (`scope::CONTAINERS`).
static NEW_PROFILE: Profile = Profile {
    tag: 0,
    gate: gate::RUNTIME,
    pre_gate: 0,
    seen: [[0; MAX_SYSCALLS]; abi::RECORDED],
};

/// The entry recording cgroup `key`: its slot when it owns it (the hot path: an inlined array
/// lookup and a compare), else the overflow map. In `scope::CONTAINERS` every container is
/// recorded from its first syscall and the agent picks the ones it was asked for; elsewhere
/// only cgroups the agent registered are.
#[inline(always)]
fn entry(c: &mut Counters, key: u64) -> Option<*mut Profile> {
    let slot = (key as u32) & konst(&PROFILE_SLOT_MASK);
    let sp = PROFILE_SLOTS.get_ptr_mut(slot)?;
    // SAFETY: a lookup hit: a valid, aligned Profile in map memory for the program's run.
    // Other CPUs write it only to claim it (once, guarded by SLOT_OWNERS) or to set
    // seen bytes from 0 to 1, so racing accesses are benign.
    let s = unsafe { &mut *sp };
    if s.tag == key {
        return Some(sp);
    }
    if let Some(p) = PROFILES.get_ptr_mut(key) {
        return Some(p);
    }
    if konst(&SCOPE) != scope::CONTAINERS {
        return None;
    }
    if s.tag == 0 && SLOT_OWNERS.insert(slot, key, BPF_NOEXIST as u64).is_ok() {
        // Ours now. Slots are never reused within a run, so the entry is still zeroed.
        s.gate = gate::RUNTIME;
        s.pre_gate = 0;
        s.tag = key;
        return Some(sp);
    }
    #[allow(
        clippy::needless_borrows_for_generic_args,
        reason = "a 1 KiB value must not be copied onto the 512-byte BPF stack"
    )]
    let inserted = PROFILES.insert(key, &NEW_PROFILE, BPF_NOEXIST as u64);
    if let Err(e) = inserted {
        // -EEXIST: another CPU inserted it first; anything else: the map is full.
        if e != -17 {
            c.profile_map_full += 1;
            return None;
        }
    }
    PROFILES.get_ptr_mut(key)
}

#[inline(always)]
pub(crate) fn record(c: &mut Counters, regs: *const pt_regs, key: u64, abi_idx: u8, nr: u32) {
    if abi_idx == abi::X32 {
        c.x32_seen += 1;
        return;
    }
    if nr as usize >= MAX_SYSCALLS {
        return;
    }
    let Some(p) = entry(c, key) else {
        return;
    };
    // SAFETY: `p` is a map value from a lookup in this run, valid and aligned until the
    // program ends; other CPUs only make the same one-way writes (gate open, 0 -> 1).
    let p = unsafe { &mut *p };
    let a = abi_idx as usize & 1;
    if p.gate != gate::OPEN {
        if opens_gate(p.gate, regs, a, nr) {
            p.gate = gate::OPEN;
        } else {
            p.pre_gate = 1;
            return;
        }
    }
    // Re-mask after a volatile read: otherwise LLVM drops the mask (it knows nr < 512 from
    // the check above, on another register) and the verifier sees an unbounded index.
    // SAFETY: `&nr` is a reference to a live local, so the volatile read is valid.
    let idx = unsafe { core::ptr::read_volatile(&nr) } as usize & (MAX_SYSCALLS - 1);
    let slot = &mut p.seen[a][idx];
    // Test first: a hot syscall then only reads its byte, no cache-line ping-pong.
    if *slot == 0 {
        *slot = 1;
        if konst(&MODE) & mode::FIRSTS != 0 {
            first_use(c, key, abi_idx, nr);
        }
    }
    c.profiled += 1;
}

/// Say who used syscall `nr` first in the cgroup of `key` (two CPUs may both say it: the
/// agent keeps the earlier).
#[inline(never)]
fn first_use(c: &mut Counters, key: u64, abi_idx: u8, nr: u32) {
    let Some(mut entry) = EVENTS.reserve::<FirstUseRecord>(0) else {
        c.firsts_lost += 1;
        return;
    };
    // SAFETY: the ring buffer entry is reserved for us and sized for the record; we are its
    // only writer until submit.
    let rec = unsafe { &mut *entry.as_mut_ptr() };
    fill_header(
        &mut rec.hdr,
        kind::FIRST_USE,
        abi_idx,
        bpf_get_current_pid_tgid(),
    );
    rec.profile = key;
    rec.nr = nr;
    rec._pad = 0;
    entry.submit(wake_flags());
    c.lifecycle_emitted += 1;
}

/// Does this syscall hand the cgroup over to its workload?
#[inline(always)]
fn opens_gate(g: u32, regs: *const pt_regs, a: usize, n: u32) -> bool {
    let exec = n == nr::EXECVE[a] || n == nr::EXECVEAT[a];
    match g {
        gate::EXEC => exec,
        gate::RUNTIME => {
            // The runtime's init is done with mounts, pivot_root and sethostname and starts
            // dropping privileges (the seccomp filter is loaded from here on), or execs.
            if exec {
                return true;
            }
            if n != nr::PRCTL[a] {
                return false;
            }
            let option = arg(regs, a as u8, 0);
            option == PR_GET_PDEATHSIG || option == PR_CAPBSET_DROP || option == PR_SET_NO_NEW_PRIVS
        }
        _ => true,
    }
}
