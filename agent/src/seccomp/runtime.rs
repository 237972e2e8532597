//! What a container runtime may need under the profile beyond what one recording shows.
//!
//! Between loading the filter and the workload's `execve`, runc's init is a Go program: at any
//! instant the Go runtime may deliver an async-preemption signal (and return from it), park or
//! wake threads, or touch memory. One recording catches these only by chance, and a profile
//! missing one kills the container at random (SIGSEGV from a denied `rt_sigreturn`, seen here
//! in 2 of 3 runs of a `cat` container). Profiles recorded through a runtime hand-over
//! therefore always allow this set.
pub(crate) const HANDOVER_BASE: &[&str] = &[
    "close",
    "epoll_ctl",
    "epoll_pwait",
    "execve",
    "exit",
    "exit_group",
    "futex",
    "getpid",
    "gettid",
    "madvise",
    "mmap",
    "munmap",
    "nanosleep",
    "read",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_yield",
    "sigaltstack",
    "tgkill",
    "write",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::{table, Abi};

    #[test]
    fn base_names_are_x86_64_syscalls() {
        for n in HANDOVER_BASE {
            assert!(table::number(Abi::X86_64, n).is_some(), "{n}");
        }
        let mut v = HANDOVER_BASE.to_vec();
        v.sort();
        assert_eq!(v, HANDOVER_BASE, "kept sorted");
    }
}
