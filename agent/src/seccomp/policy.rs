//! A profile as the kernel would enforce it on one container: for every syscall of every ABI,
//! allowed, allowed or denied on argument conditions, or denied. Docker-style `includes` /
//! `excludes` are resolved as Docker and podman resolve them — against the container's
//! bounding capabilities, the host's architecture and its kernel — and conflicting rules as
//! libseccomp builds them: a syscall's unconditional rule is the fallback of its argument
//! rules.

use std::collections::{BTreeMap, BTreeSet};

use super::file::{ArgCmp, Filter, RawProfile, RawRule};
use crate::syscalls::{table, Abi};

/// What one syscall of one ABI gets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Access {
    Allowed,
    /// Allowed or denied depending on arguments (or on a supervisor): the conditions, as
    /// text (`allowed when arg0 != 40`).
    Conditional(Vec<String>),
    Denied,
}

impl Access {
    /// Whether some call of it can run.
    pub(crate) fn permits(&self) -> bool {
        !matches!(self, Access::Denied)
    }
}

/// What `includes` / `excludes` are resolved against.
#[derive(Clone, Debug)]
pub(crate) struct Context {
    /// The container's bounding set (`CAP_*`).
    pub(crate) caps: BTreeSet<String>,
    /// The kernel's `major.minor`.
    pub(crate) kernel: (u32, u32),
}

/// Docker's and podman's capability set for a container run without `--cap-add`/`--cap-drop`.
pub(crate) const DEFAULT_CAPS: &[&str] = &[
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Go's name for the host architecture, which `includes.arches` uses.
const HOST_ARCH: &str = "amd64";

impl Context {
    /// A default container on this host.
    pub(crate) fn host(caps: BTreeSet<String>) -> Context {
        Context {
            caps,
            kernel: kernel_version().unwrap_or((0, 0)),
        }
    }

    fn admits(&self, includes: &Filter, excludes: &Filter) -> bool {
        let older = |v: &Option<String>| v.as_deref().and_then(parse_version);
        let arch_in = |f: &Filter| f.arches.iter().any(|a| a == HOST_ARCH);
        (includes.arches.is_empty() || arch_in(includes))
            && !(arch_in(excludes))
            && includes.caps.iter().all(|c| self.caps.contains(c))
            && !excludes.caps.iter().any(|c| self.caps.contains(c))
            && older(&includes.min_kernel).is_none_or(|k| self.kernel >= k)
            && older(&excludes.min_kernel).is_none_or(|k| self.kernel < k)
    }
}

fn parse_version(s: &str) -> Option<(u32, u32)> {
    let mut it = s.split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

fn kernel_version() -> Option<(u32, u32)> {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    parse_version(r.trim())
}

/// Whether an action lets the syscall run (`None`: a supervisor decides).
fn runs(action: &str) -> Option<bool> {
    match action {
        "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG" => Some(true),
        "SCMP_ACT_NOTIFY" | "SCMP_ACT_TRACE" => None,
        _ => Some(false),
    }
}

fn op_text(c: &ArgCmp) -> String {
    let a = format!("arg{}", c.index);
    match c.op.as_str() {
        "SCMP_CMP_NE" => format!("{a} != {}", c.value),
        "SCMP_CMP_LT" => format!("{a} < {}", c.value),
        "SCMP_CMP_LE" => format!("{a} <= {}", c.value),
        "SCMP_CMP_EQ" => format!("{a} == {}", c.value),
        "SCMP_CMP_GE" => format!("{a} >= {}", c.value),
        "SCMP_CMP_GT" => format!("{a} > {}", c.value),
        "SCMP_CMP_MASKED_EQ" => format!("{a} & {:#x} == {:#x}", c.value, c.value_two),
        other => format!("{a} {other} {}", c.value),
    }
}

fn condition(r: &RawRule) -> String {
    let verdict = match runs(&r.action) {
        Some(true) => "allowed",
        Some(false) => "denied",
        None => "supervised",
    };
    let when: Vec<String> = r.args.iter().map(op_text).collect();
    format!("{verdict} when {}", when.join(" && "))
}

/// A resolved profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    /// The ABIs the filter lets in at all (syscalls of others are killed).
    pub(crate) abis: BTreeSet<Abi>,
    pub(crate) calls: BTreeMap<Abi, BTreeMap<&'static str, Access>>,
    /// Rule names this libseccomp does not know (runtimes skip them too).
    pub(crate) unknown: BTreeSet<String>,
}

impl Policy {
    pub(crate) fn resolve(raw: &RawProfile, cx: &Context) -> Policy {
        let mut abis: BTreeSet<Abi> = raw
            .architectures
            .iter()
            .filter_map(|a| Abi::from_scmp_arch(a))
            .collect();
        // archMap: the host's entry and its sub-architectures.
        for m in &raw.arch_map {
            if Abi::from_scmp_arch(&m.architecture) == Some(Abi::X86_64) {
                abis.insert(Abi::X86_64);
                abis.extend(
                    m.sub_architectures
                        .iter()
                        .filter_map(|a| Abi::from_scmp_arch(a)),
                );
            }
        }
        // No architectures: the filter is built for the native one.
        if abis.is_empty() {
            abis.insert(Abi::X86_64);
        }
        let rules: Vec<&RawRule> = raw
            .syscalls
            .iter()
            .filter(|r| cx.admits(&r.includes, &r.excludes))
            .collect();
        let mut unknown = BTreeSet::new();
        let mut by_name: BTreeMap<&str, Vec<&RawRule>> = BTreeMap::new();
        for r in &rules {
            for n in r.all_names() {
                if !table::is_known(n) {
                    unknown.insert(n.to_string());
                }
                by_name.entry(n).or_default().push(r);
            }
        }
        let default_runs = runs(&raw.default_action).unwrap_or(false);
        let mut calls = BTreeMap::new();
        for abi in Abi::ALL {
            let mut m = BTreeMap::new();
            for (_, name) in table::all(abi) {
                let access = if !abis.contains(&abi) {
                    Access::Denied
                } else {
                    decide(by_name.get(name).map(Vec::as_slice), default_runs)
                };
                m.insert(name, access);
            }
            calls.insert(abi, m);
        }
        Policy {
            abis,
            calls,
            unknown,
        }
    }

    pub(crate) fn access(&self, abi: Abi, name: &str) -> &Access {
        self.calls
            .get(&abi)
            .and_then(|m| m.get(name))
            .unwrap_or(&Access::Denied)
    }

    /// The syscalls of `abi` some call of which can run.
    pub(crate) fn permitted(&self, abi: Abi) -> impl Iterator<Item = &'static str> + '_ {
        self.calls
            .get(&abi)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|(_, a)| a.permits())
            .map(|(n, _)| *n)
    }
}

/// libseccomp's tree for one syscall: the last unconditional rule (else the default) is the
/// fallback; argument rules whose verdict differs from it are its conditions.
fn decide(rules: Option<&[&RawRule]>, default_runs: bool) -> Access {
    let rules = rules.unwrap_or_default();
    let base = rules
        .iter()
        .rev()
        .find(|r| r.args.is_empty())
        .map(|r| runs(&r.action))
        .unwrap_or(Some(default_runs));
    let mut conds: Vec<String> = rules
        .iter()
        .filter(|r| !r.args.is_empty() && runs(&r.action) != base)
        .map(|r| condition(r))
        .collect();
    conds.sort();
    conds.dedup();
    match (base, conds.is_empty()) {
        (Some(true), true) => Access::Allowed,
        (Some(false), true) => Access::Denied,
        (None, true) => Access::Conditional(vec!["supervised (a notify listener decides)".into()]),
        (_, false) => Access::Conditional(conds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::file::parse;

    fn cx(caps: &[&str]) -> Context {
        Context {
            caps: caps.iter().map(|c| c.to_string()).collect(),
            kernel: (6, 1),
        }
    }

    #[test]
    fn docker_style_rules_resolve_per_capability_arch_and_kernel() {
        let raw = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO",
            "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]},
                       {"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}],
            "syscalls":[
              {"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
              {"names":["ptrace"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8"}},
              {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":40,"op":"SCMP_CMP_NE"}]},
              {"names":["arch_prctl"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd64","x32"]}},
              {"names":["breakpoint"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm"]}},
              {"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
              {"names":["chroot"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_CHROOT"]}},
              {"names":["chroot"],"action":"SCMP_ACT_ERRNO","excludes":{"caps":["CAP_SYS_CHROOT"]}},
              {"names":["bpf"],"action":"SCMP_ACT_ERRNO","excludes":{"caps":["CAP_SYS_ADMIN","CAP_BPF"]}}
            ]}"#,
        )
        .unwrap();
        let p = Policy::resolve(&raw, &cx(DEFAULT_CAPS));
        assert_eq!(p.abis, BTreeSet::from(Abi::ALL));
        assert_eq!(p.access(Abi::X86_64, "read"), &Access::Allowed);
        assert_eq!(p.access(Abi::Ia32, "write"), &Access::Allowed);
        assert_eq!(p.access(Abi::X86_64, "ptrace"), &Access::Allowed);
        assert_eq!(
            p.access(Abi::X86_64, "socket"),
            &Access::Conditional(vec!["allowed when arg0 != 40".into()])
        );
        assert_eq!(p.access(Abi::X86_64, "arch_prctl"), &Access::Allowed);
        assert_eq!(p.access(Abi::X86_64, "mount"), &Access::Denied);
        assert_eq!(p.access(Abi::X86_64, "chroot"), &Access::Allowed);
        assert_eq!(p.access(Abi::X86_64, "bpf"), &Access::Denied);
        assert_eq!(p.access(Abi::X86_64, "openat"), &Access::Denied);
        let admin = Policy::resolve(&raw, &cx(&["CAP_SYS_ADMIN"]));
        assert_eq!(admin.access(Abi::X86_64, "mount"), &Access::Allowed);
        assert_eq!(admin.access(Abi::X86_64, "chroot"), &Access::Denied);
        let old = Policy::resolve(
            &raw,
            &Context {
                kernel: (4, 4),
                ..cx(&[])
            },
        );
        assert_eq!(old.access(Abi::X86_64, "ptrace"), &Access::Denied);
    }

    #[test]
    fn argument_rules_refine_an_unconditional_fallback_and_missing_abis_are_denied() {
        let raw = parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"syscalls":[
              {"names":["socket"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":16,"op":"SCMP_CMP_EQ"}]},
              {"names":["kexec_load"],"action":"SCMP_ACT_KILL_PROCESS"},
              {"names":["clone"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        )
        .unwrap();
        let p = Policy::resolve(&raw, &cx(&[]));
        assert_eq!(
            p.access(Abi::X86_64, "socket"),
            &Access::Conditional(vec!["denied when arg0 == 16".into()])
        );
        assert_eq!(p.access(Abi::X86_64, "openat"), &Access::Allowed);
        assert_eq!(p.access(Abi::X86_64, "kexec_load"), &Access::Denied);
        assert!(matches!(
            p.access(Abi::X86_64, "clone"),
            Access::Conditional(_)
        ));
        assert_eq!(p.access(Abi::Ia32, "read"), &Access::Denied);
        assert_eq!(parse_version("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(parse_version("4.8"), Some((4, 8)));
    }
}
