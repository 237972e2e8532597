//! Running a seccomp filter as the kernel does: a classic-BPF interpreter over `seccomp_data`,
//! so a filter read from a live process (`PTRACE_SECCOMP_GET_FILTER`) tells, for every syscall
//! of every ABI, what that process gets.

use crate::syscalls::{table, Abi};

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// The ABI and number of a notified syscall (`seccomp_data.arch` / `.nr`).
pub(crate) fn abi_of(arch: u32, nr: i32) -> Option<(Abi, u32)> {
    let nr = nr as u32;
    match arch {
        AUDIT_ARCH_X86_64 if nr & sysaudit_common::X32_SYSCALL_BIT as u32 != 0 => {
            Some((Abi::X32, nr & !(sysaudit_common::X32_SYSCALL_BIT as u32)))
        }
        AUDIT_ARCH_X86_64 => Some((Abi::X86_64, nr)),
        AUDIT_ARCH_I386 => Some((Abi::Ia32, nr)),
        _ => None,
    }
}

/// `SECCOMP_RET_*` actions, from the most to the least severe (the kernel keeps the most
/// severe of all stacked filters' answers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verdict {
    KillProcess,
    KillThread,
    Trap,
    Errno(u16),
    Notify,
    Trace,
    Log,
    Allow,
}

impl Verdict {
    fn from_ret(r: u32) -> Verdict {
        match r & 0xffff_0000 {
            0x8000_0000 => Verdict::KillProcess,
            0x0000_0000 => Verdict::KillThread,
            0x0003_0000 => Verdict::Trap,
            0x0005_0000 => Verdict::Errno((r & 0xffff) as u16),
            0x7fc0_0000 => Verdict::Notify,
            0x7ff0_0000 => Verdict::Trace,
            0x7ffc_0000 => Verdict::Log,
            0x7fff_0000 => Verdict::Allow,
            // Unknown actions are treated by the kernel as KILL_PROCESS.
            _ => Verdict::KillProcess,
        }
    }

    /// Severity alone, without an errno's value.
    fn rank(self) -> u8 {
        match self {
            Verdict::KillProcess => 0,
            Verdict::KillThread => 1,
            Verdict::Trap => 2,
            Verdict::Errno(_) => 3,
            Verdict::Notify => 4,
            Verdict::Trace => 5,
            Verdict::Log => 6,
            Verdict::Allow => 7,
        }
    }

    /// Whether the syscall runs.
    pub(crate) fn runs(self) -> bool {
        matches!(self, Verdict::Allow | Verdict::Log)
    }
}

/// One instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Insn {
    pub(crate) code: u16,
    pub(crate) jt: u8,
    pub(crate) jf: u8,
    pub(crate) k: u32,
}

/// `struct seccomp_data` as the filter reads it.
fn data(arch: u32, nr: i32, args: &[u64; 6]) -> [u8; 64] {
    let mut d = [0u8; 64];
    d[0..4].copy_from_slice(&nr.to_ne_bytes());
    d[4..8].copy_from_slice(&arch.to_ne_bytes());
    for (i, a) in args.iter().enumerate() {
        d[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
    }
    d
}

/// Run `prog` on one syscall; also whether it looked at the arguments on the way. A malformed
/// program (the kernel would have refused it) kills.
pub(crate) fn run(prog: &[Insn], arch: u32, nr: i32, args: &[u64; 6]) -> (Verdict, bool) {
    let mut read_args = false;
    let v = exec(prog, arch, nr, args, &mut read_args);
    (v, read_args)
}

fn exec(prog: &[Insn], arch: u32, nr: i32, args: &[u64; 6], read_args: &mut bool) -> Verdict {
    let d = data(arch, nr, args);
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    // Classic BPF only jumps forward: at most one pass over the program.
    while let Some(i) = prog.get(pc) {
        pc += 1;
        let k = i.k;
        let src = if i.code & 0x08 != 0 { x } else { k };
        match i.code & 0x07 {
            // BPF_LD
            0x00 => match i.code & 0xe0 {
                0x20 => match d.get(k as usize..k as usize + 4) {
                    Some(b) if k >= 16 => {
                        *read_args = true;
                        a = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
                    }
                    Some(b) => a = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                    None => return Verdict::KillProcess,
                },
                0x00 => a = k,
                0x60 => a = mem[(k & 15) as usize],
                0x80 => a = 64,
                _ => return Verdict::KillProcess,
            },
            // BPF_LDX
            0x01 => match i.code & 0xe0 {
                0x00 => x = k,
                0x60 => x = mem[(k & 15) as usize],
                0x80 => x = 64,
                _ => return Verdict::KillProcess,
            },
            0x02 => mem[(k & 15) as usize] = a,
            0x03 => mem[(k & 15) as usize] = x,
            // BPF_ALU
            0x04 => {
                a = match i.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    // The kernel's program returns 0 (KILL_THREAD) on a division by zero.
                    0x30 | 0x90 if src == 0 => return Verdict::KillThread,
                    0x30 => a / src,
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.wrapping_shl(src),
                    0x70 => a.wrapping_shr(src),
                    0x80 => a.wrapping_neg(),
                    0x90 => a % src,
                    0xa0 => a ^ src,
                    _ => return Verdict::KillProcess,
                }
            }
            // BPF_JMP
            0x05 => {
                let taken = match i.code & 0xf0 {
                    0x00 => {
                        pc += k as usize;
                        continue;
                    }
                    0x10 => a == src,
                    0x20 => a > src,
                    0x30 => a >= src,
                    0x40 => a & src != 0,
                    _ => return Verdict::KillProcess,
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
            // BPF_RET
            0x06 => {
                return Verdict::from_ret(match i.code & 0x18 {
                    0x10 => a,
                    _ => k,
                })
            }
            // BPF_MISC: TAX / TXA
            _ => {
                if i.code & 0xf8 == 0x80 {
                    a = x;
                } else {
                    x = a;
                }
            }
        }
    }
    Verdict::KillProcess
}

/// The kernel's answer for one syscall under a stack of filters (the most severe), and whether
/// a filter looked at its arguments.
pub(crate) fn stacked(
    filters: &[Vec<Insn>],
    abi: Abi,
    nr: u32,
    args: &[u64; 6],
) -> (Verdict, bool) {
    let (arch, nr) = match abi {
        Abi::X86_64 => (AUDIT_ARCH_X86_64, nr as i32),
        Abi::X32 => (
            AUDIT_ARCH_X86_64,
            (nr | sysaudit_common::X32_SYSCALL_BIT as u32) as i32,
        ),
        Abi::Ia32 => (AUDIT_ARCH_I386, nr as i32),
    };
    filters
        .iter()
        .map(|f| run(f, arch, nr, args))
        // Newest first: a later filter replaces the answer only with a more severe action
        // (its errno does not count), as the kernel runs them.
        .fold((Verdict::Allow, false), |(v, r), (w, s)| {
            (if w.rank() < v.rank() { w } else { v }, r || s)
        })
}

/// What a stack of filters does to every syscall of an ABI: the ones that never run, and the
/// ones whose answer depends on their arguments.
pub(crate) fn denied(filters: &[Vec<Insn>], abi: Abi) -> (Vec<&'static str>, Vec<&'static str>) {
    let (mut denied, mut depends) = (Vec::new(), Vec::new());
    for (nr, name) in table::all(abi) {
        let (v, looked) = stacked(filters, abi, nr, &[0; 6]);
        if looked {
            depends.push(name);
        } else if !v.runs() {
            denied.push(name);
        }
    }
    (denied, depends)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::{enforce, DefaultAction, Profile};

    /// A filter libseccomp builds, exported and read back as the kernel holds it.
    fn compiled(p: &Profile) -> Vec<Insn> {
        enforce::compiled(p).unwrap()
    }

    #[test]
    fn abis_of_notified_syscalls() {
        assert_eq!(abi_of(AUDIT_ARCH_X86_64, 0), Some((Abi::X86_64, 0)));
        assert_eq!(
            abi_of(
                AUDIT_ARCH_X86_64,
                (sysaudit_common::X32_SYSCALL_BIT as u32 | 1) as i32
            ),
            Some((Abi::X32, 1))
        );
        assert_eq!(abi_of(AUDIT_ARCH_I386, 3), Some((Abi::Ia32, 3)));
        assert_eq!(abi_of(0xc000_00b7, 3), None);
    }

    #[test]
    fn evaluates_libseccomp_filters_as_the_kernel_would() {
        let mut p = Profile::new(DefaultAction::Errno);
        p.allow(Abi::X86_64, "read");
        p.allow(Abi::X86_64, "write");
        let mut seen = crate::seccomp::args::Seen::new([1]);
        p.allow(Abi::X86_64, "socket");
        seen.note(1, "socket", &[1, 0, 0, 0, 0, 0]);
        seen.apply(&mut p);
        let f = vec![compiled(&p)];
        let nr = |n| table::number(Abi::X86_64, n).unwrap();
        assert_eq!(
            stacked(&f, Abi::X86_64, nr("read"), &[0; 6]).0,
            Verdict::Allow
        );
        assert_eq!(
            stacked(&f, Abi::X86_64, nr("mkdir"), &[0; 6]).0,
            Verdict::Errno(libc::EPERM as u16)
        );
        assert_eq!(
            stacked(&f, Abi::X86_64, nr("socket"), &[1, 0, 0, 0, 0, 0]).0,
            Verdict::Allow
        );
        assert!(
            !stacked(&f, Abi::X86_64, nr("socket"), &[16, 0, 0, 0, 0, 0])
                .0
                .runs()
        );
        // An ABI the filter does not name is killed.
        assert_eq!(stacked(&f, Abi::Ia32, 3, &[0; 6]).0, Verdict::KillThread);
        let (denied, depends) = denied(&f, Abi::X86_64);
        assert!(denied.contains(&"mkdir") && !denied.contains(&"read"));
        assert_eq!(depends, ["socket"]);
        // Stacked errnos: the newest filter's (index 0) stands.
        let mut eacces = Profile::new(DefaultAction::Errno);
        eacces.allow(Abi::X86_64, "read");
        let mut prog = compiled(&eacces);
        for i in prog.iter_mut() {
            if i.code == 0x06 && i.k == 0x0005_0000 | libc::EPERM as u32 {
                i.k = 0x0005_0000 | libc::EACCES as u32;
            }
        }
        let two = vec![prog, compiled(&p)];
        assert_eq!(
            stacked(&two, Abi::X86_64, nr("mkdir"), &[0; 6]).0,
            Verdict::Errno(libc::EACCES as u16)
        );
        // Stacked: the most severe answer wins.
        let mut kill = Profile::new(DefaultAction::Kill);
        kill.allow(Abi::X86_64, "write");
        let both = vec![compiled(&p), compiled(&kill)];
        assert_eq!(
            stacked(&both, Abi::X86_64, nr("read"), &[0; 6]).0,
            Verdict::KillProcess
        );
        assert_eq!(
            stacked(&both, Abi::X86_64, nr("write"), &[0; 6]).0,
            Verdict::Allow
        );
    }
}
