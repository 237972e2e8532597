//! Profile mode: mark the syscalls a cgroup makes in its `PROFILES` entry, from its gate on.
//! Nothing goes through the ring buffer per syscall.

use aya_ebpf::bindings::{pt_regs, BPF_NOEXIST};
use sysaudit_common::{
    abi, gate, nr, scope, Counters, Profile, MAX_SYSCALLS, PR_CAPBSET_DROP, PR_GET_PDEATHSIG,
    PR_SET_NO_NEW_PRIVS,
};

use crate::{
    maps::{konst, PROFILES, SCOPE},
    record::arg,
};

/// A zeroed entry for a container cgroup seen for the first time (`scope::CONTAINERS`).
static NEW_PROFILE: Profile = Profile {
    gate: gate::RUNTIME,
    pre_gate: 0,
    seen: [[0; MAX_SYSCALLS]; abi::RECORDED],
};

#[inline(always)]
pub fn record(c: &mut Counters, regs: *const pt_regs, key: u64, abi_idx: u8, nr: u32) {
    if abi_idx == abi::X32 {
        c.x32_seen += 1;
        return;
    }
    if nr as usize >= MAX_SYSCALLS {
        return;
    }
    let mut p = PROFILES.get_ptr_mut(key);
    if p.is_none() && konst(&SCOPE) == scope::CONTAINERS {
        // Every container is recorded from its first syscall; the agent picks the ones it
        // was asked for. A failed insert other than "already there" means the map is full.
        // By reference: a 1 KiB value must not be copied onto the 512-byte BPF stack.
        #[allow(clippy::needless_borrows_for_generic_args)]
        let inserted = PROFILES.insert(key, &NEW_PROFILE, BPF_NOEXIST as u64);
        if let Err(e) = inserted {
            if e != -17 {
                c.profile_map_full += 1;
                return;
            }
        }
        p = PROFILES.get_ptr_mut(key);
    }
    let Some(p) = p else {
        return;
    };
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
    let idx = unsafe { core::ptr::read_volatile(&nr) } as usize & (MAX_SYSCALLS - 1);
    let slot = &mut p.seen[a][idx];
    // Test first: a hot syscall then only reads its byte, no cache-line ping-pong.
    if *slot == 0 {
        *slot = 1;
    }
    c.profiled += 1;
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
