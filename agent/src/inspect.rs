//! What protects a running process, seen from outside its container: seccomp mode and stacked
//! filters (read with `PTRACE_SECCOMP_GET_FILTER` and run for every syscall), capabilities,
//! no_new_privs, the namespaces it shares with the host, its LSM label, whether its root is
//! read-only, and whether it is privileged.

use std::{collections::BTreeMap, fs, io};

use crate::seccomp::bpf::{self, Insn};
use crate::syscalls::Abi;

const PTRACE_SEIZE: libc::c_uint = 0x4206;
const PTRACE_INTERRUPT: libc::c_uint = 0x4207;
const PTRACE_SECCOMP_GET_FILTER: libc::c_uint = 0x420c;

/// Capability names by number (`capability.h`).
const CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The namespaces compared with the host's: sysaudit's own (it runs in the host's, as a
/// DaemonSet with hostPID does; pid 1 may be out of reach).
const NAMESPACES: &[&str] = &["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// The seccomp filters' effect on one ABI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Denied {
    pub(crate) never: Vec<&'static str>,
    pub(crate) on_arguments: Vec<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Posture {
    pub(crate) pid: u32,
    /// 0 disabled, 1 strict, 2 filter.
    pub(crate) seccomp: u8,
    pub(crate) filters: u32,
    /// Per ABI, when the filters could be read.
    pub(crate) denied: Result<BTreeMap<Abi, Denied>, String>,
    pub(crate) cap_effective: u64,
    pub(crate) cap_bounding: u64,
    pub(crate) no_new_privs: bool,
    pub(crate) host_namespaces: Vec<&'static str>,
    pub(crate) lsm: Option<String>,
    pub(crate) readonly_root: bool,
    pub(crate) privileged: bool,
}

pub(crate) fn cap_names(mask: u64) -> Vec<&'static str> {
    CAPS.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// Read the process's posture. Reading its filters stops it for an instant (ptrace).
pub(crate) fn inspect(pid: u32) -> io::Result<Posture> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let hex = |k: &str| {
        status_field(&status, k)
            .and_then(|v| u64::from_str_radix(v, 16).ok())
            .unwrap_or(0)
    };
    let num = |k: &str| {
        status_field(&status, k)
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let seccomp = num("Seccomp") as u8;
    let filters = num("Seccomp_filters");
    let denied = if seccomp == 2 {
        read_filters(pid, filters).map(|f| {
            Abi::ALL
                .into_iter()
                .map(|abi| {
                    let (never, on_arguments) = bpf::denied(&f, abi);
                    (
                        abi,
                        Denied {
                            never,
                            on_arguments,
                        },
                    )
                })
                .collect()
        })
    } else {
        Ok(BTreeMap::new())
    };
    let ns = |p: &str, n: &str| fs::read_link(format!("/proc/{p}/ns/{n}")).ok();
    let host_namespaces = NAMESPACES
        .iter()
        .copied()
        .filter(|n| ns(&pid.to_string(), n).is_some_and(|v| Some(v) == ns("self", n)))
        .collect();
    let lsm = fs::read_to_string(format!("/proc/{pid}/attr/current"))
        .ok()
        .map(|s| s.trim_end_matches(['\0', '\n']).to_string())
        .filter(|s| !s.is_empty());
    let cap_effective = hex("CapEff");
    let cap_bounding = hex("CapBnd");
    let full = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| status_field(&s, "CapBnd").and_then(|v| u64::from_str_radix(v, 16).ok()))
        .unwrap_or(u64::MAX);
    Ok(Posture {
        pid,
        seccomp,
        filters,
        denied,
        cap_effective,
        cap_bounding,
        no_new_privs: num("NoNewPrivs") == 1,
        host_namespaces,
        lsm,
        readonly_root: readonly_root(pid),
        // As Docker's --privileged: every capability and no seccomp.
        privileged: cap_effective & full == full && seccomp == 0,
    })
}

/// Whether the process's `/` is mounted read-only (its own mount table).
fn readonly_root(pid: u32) -> bool {
    let Ok(mi) = fs::read_to_string(format!("/proc/{pid}/mountinfo")) else {
        return false;
    };
    // The last mount on `/` is the one in effect.
    mi.lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .and_then(|l| l.split(' ').nth(5))
        .is_some_and(|opts| opts.split(',').any(|o| o == "ro"))
}

/// The process's seccomp filters, newest first, as the kernel holds them.
fn read_filters(pid: u32, count: u32) -> Result<Vec<Vec<Insn>>, String> {
    let p = pid as libc::pid_t;
    let err = |what: &str| format!("{what}: {}", io::Error::last_os_error());
    // SAFETY: plain ptrace requests on a pid; the tracee is detached on every path below.
    unsafe {
        if libc::ptrace(PTRACE_SEIZE, p, 0, 0) < 0 {
            return Err(err("ptrace seize"));
        }
        let mut pending = 0;
        let out = (|| {
            if libc::ptrace(PTRACE_INTERRUPT, p, 0, 0) < 0 {
                return Err(err("ptrace interrupt"));
            }
            // The first stop may be a signal's delivery (one sent between seize and
            // interrupt): it is handed back at detach rather than swallowed.
            let mut st = 0;
            while libc::waitpid(p, &mut st, libc::__WALL) < 0 {
                if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    return Err(err("waitpid"));
                }
            }
            if libc::WIFSTOPPED(st) && st >> 16 == 0 && libc::WSTOPSIG(st) != libc::SIGTRAP {
                pending = libc::WSTOPSIG(st);
            }
            let mut filters = Vec::new();
            for i in 0..count.max(1) as libc::c_long {
                let n = libc::ptrace(PTRACE_SECCOMP_GET_FILTER, p, i, std::ptr::null_mut::<u8>());
                if n < 0 {
                    if filters.is_empty() && count == 0 {
                        break;
                    }
                    return Err(err("PTRACE_SECCOMP_GET_FILTER"));
                }
                let mut buf = vec![
                    libc::sock_filter {
                        code: 0,
                        jt: 0,
                        jf: 0,
                        k: 0
                    };
                    n as usize
                ];
                if libc::ptrace(PTRACE_SECCOMP_GET_FILTER, p, i, buf.as_mut_ptr()) < 0 {
                    return Err(err("PTRACE_SECCOMP_GET_FILTER"));
                }
                filters.push(
                    buf.iter()
                        .map(|f| Insn {
                            code: f.code,
                            jt: f.jt,
                            jf: f.jf,
                            k: f.k,
                        })
                        .collect(),
                );
            }
            Ok(filters)
        })();
        libc::ptrace(libc::PTRACE_DETACH, p, 0, pending as libc::c_long);
        out
    }
}

impl Posture {
    pub(crate) fn json(&self) -> serde_json::Value {
        use serde_json::json;
        let denied = match &self.denied {
            Ok(m) => json!(m
                .iter()
                .map(|(abi, d)| (
                    abi.to_string(),
                    json!({"never": d.never, "on_arguments": d.on_arguments})
                ))
                .collect::<serde_json::Map<_, _>>()),
            Err(e) => json!({"error": e}),
        };
        json!({
            "pid": self.pid,
            "seccomp": match self.seccomp { 0 => "disabled", 1 => "strict", _ => "filter" },
            "seccomp_filters": self.filters,
            "denied": denied,
            "capabilities": {"effective": cap_names(self.cap_effective), "bounding": cap_names(self.cap_bounding)},
            "no_new_privs": self.no_new_privs,
            "host_namespaces": self.host_namespaces,
            "lsm": self.lsm,
            "readonly_root": self.readonly_root,
            "privileged": self.privileged,
        })
    }

    /// The table's cells after the container's id and name.
    pub(crate) fn cells(&self) -> Vec<String> {
        let seccomp = match self.seccomp {
            0 => "none".to_string(),
            1 => "strict".to_string(),
            _ => format!("filter×{}", self.filters),
        };
        let denied = match &self.denied {
            Ok(m) => m
                .get(&Abi::X86_64)
                .map(|d| match d.on_arguments.len() {
                    0 => d.never.len().to_string(),
                    n => format!("{}+{n}?", d.never.len()),
                })
                .unwrap_or_else(|| "0".into()),
            Err(_) => "unreadable".into(),
        };
        let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
        vec![
            seccomp,
            denied,
            yes(self.no_new_privs),
            cap_names(self.cap_effective).len().to_string(),
            if self.host_namespaces.is_empty() {
                "-".into()
            } else {
                self.host_namespaces.join(",")
            },
            self.lsm.clone().unwrap_or_else(|| "-".into()),
            yes(self.readonly_root),
            yes(self.privileged),
        ]
    }
}

/// The table's header after CONTAINER and NAME.
pub(crate) const HEADER: &[&str] = &[
    "SECCOMP",
    "DENIED",
    "NNP",
    "CAPS",
    "HOST-NS",
    "LSM",
    "RO-ROOT",
    "PRIVILEGED",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_and_status_fields() {
        assert_eq!(cap_names(0b101), ["CHOWN", "DAC_READ_SEARCH"]);
        assert_eq!(cap_names(1 << 21), ["SYS_ADMIN"]);
        assert_eq!(CAPS.len(), 41);
        let s = "Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\nNoNewPrivs:\t1\n";
        assert_eq!(status_field(s, "Seccomp"), Some("2"));
        assert_eq!(status_field(s, "Seccomp_filters"), Some("1"));
    }

    #[test]
    fn this_process_is_seen_as_it_is() {
        let me = inspect(std::process::id()).unwrap();
        assert!(me.host_namespaces.contains(&"pid"), "{me:?}");
    }
}
