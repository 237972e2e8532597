//! The path filter the agent derives from its rules: an open of a plain absolute path that
//! starts with none of `PATH_PREFIXES` and ends with none of `PATH_SUFFIXES` is dropped before
//! it reaches the ring. Only plain paths are judged ([`sysaudit_common::plain`]: their bytes
//! are the path the rules see); anything else is always recorded.

use aya_ebpf::{
    cty::{c_long, c_void},
    helpers::generated::bpf_loop,
    maps::lpm_trie::Key,
};
use sysaudit_common::{plain, PathKey, FILTER_KEY, FILTER_PATH_MAX};

use crate::maps::{PATH_PREFIXES, PATH_SUFFIXES, SCRATCH_SIZE};

/// Where the two lookup keys are built in the syscall scratch slot (past any record).
pub(crate) const KEYS_AT: usize = SCRATCH_SIZE - 2 * KEY_STRIDE;
const KEY_STRIDE: usize = 256;
const _: () = assert!(4 + FILTER_KEY <= KEY_STRIDE);
const KEY_MASK: usize = FILTER_KEY - 1;
const PATH_MASK: usize = FILTER_PATH_MAX - 1;
const _: () = assert!(FILTER_KEY.is_power_of_two() && FILTER_PATH_MAX.is_power_of_two());

#[repr(C)]
struct Scan {
    p: *const u8,
    fwd: *mut u8,
    rev: *mut u8,
    len: u64,
    /// The last two bytes seen.
    last: u64,
    bad: u64,
}

/// One byte of the scan: 0 to go on, 1 to stop.
extern "C" fn step(j: u64, ctx: *mut c_void) -> c_long {
    // SAFETY: `ctx` is the `Scan` that `dropped` passed to bpf_loop; the offsets are masked
    // as in `dropped`.
    unsafe {
        let s = &mut *(ctx as *mut Scan);
        let j = j as usize;
        if j >= s.len as usize {
            return 1;
        }
        let b = *s.p.add(j & PATH_MASK);
        let Some(next) = plain::step(s.last, b) else {
            s.bad = 1;
            return 1;
        };
        if j < FILTER_KEY {
            *s.fwd.add(4 + (j & KEY_MASK)) = b;
        }
        let r = (s.len as usize).wrapping_sub(1 + j);
        if r < FILTER_KEY {
            *s.rev.add(4 + (r & KEY_MASK)) = b;
        }
        s.last = next;
    }
    0
}

/// Should the path of `len` bytes at `buf + at` be dropped? `buf` is a scratch slot with the
/// record being built; `at + FILTER_PATH_MAX` must lie below [`KEYS_AT`].
#[inline(always)]
pub(crate) fn dropped(buf: *mut u8, at: usize, len: usize) -> bool {
    if len == 0 || len > FILTER_PATH_MAX {
        return false;
    }
    // SAFETY (every access below): offsets are masked under FILTER_PATH_MAX from `at` and under
    // KEY_STRIDE from KEYS_AT, inside the slot by the callers' and the asserts' bounds.
    let p = unsafe { buf.add(at) };
    let fwd = unsafe { buf.add(KEYS_AT) };
    let rev = unsafe { buf.add(KEYS_AT + KEY_STRIDE) };
    if unsafe { *p } != b'/' {
        return false;
    }
    // Copy the first FILTER_KEY bytes forward and the last FILTER_KEY reversed while checking,
    // in bpf_loop: the verifier checks the step once, where an open-coded loop over an unknown
    // length blew its instruction budget.
    let mut scan = Scan {
        p,
        fwd,
        rev,
        len: len as u64,
        last: 0,
        bad: 0,
    };
    // SAFETY: `step` has the callback signature bpf_loop expects and `scan` outlives the call.
    unsafe {
        bpf_loop(
            FILTER_PATH_MAX as u32,
            step as *mut c_void,
            &mut scan as *mut Scan as *mut c_void,
            0,
        )
    };
    if scan.bad != 0 || !plain::ends(scan.last, len) {
        return false;
    }
    let bits = (if len < FILTER_KEY { len } else { FILTER_KEY } * 8) as u32;
    let (kf, kr) = (fwd as *mut Key<PathKey>, rev as *mut Key<PathKey>);
    // SAFETY: both keys lie in the slot (above); `Key` is packed, so any address is aligned.
    unsafe {
        (*kf).prefix_len = bits;
        (*kr).prefix_len = bits;
        PATH_PREFIXES.get(&*kf).is_none() && PATH_SUFFIXES.get(&*kr).is_none()
    }
}
