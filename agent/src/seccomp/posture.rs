//! Comparing resolved profiles: what one allows that another does not (`profile diff`), and a
//! profile's surface scored against a baseline and against syscalls a container rarely needs
//! and attackers often use (`profile score`, and the summary after every recording).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::policy::{Access, Policy};
use crate::syscalls::Abi;

/// Syscalls that widen the kernel surface or break isolation, each with why.
pub(crate) const DANGEROUS: &[(&str, &str)] = &[
    (
        "add_key",
        "kernel keyrings: a long record of privilege escalations",
    ),
    ("bpf", "loads programs into the kernel, reads kernel memory"),
    ("create_module", "kernel modules"),
    ("delete_module", "unloads kernel modules"),
    ("finit_module", "loads kernel modules"),
    ("fsconfig", "the new mount API"),
    ("fsmount", "the new mount API"),
    ("fsopen", "the new mount API"),
    ("init_module", "loads kernel modules"),
    (
        "io_uring_enter",
        "io_uring: I/O no seccomp filter sees, a large attack surface",
    ),
    (
        "io_uring_register",
        "io_uring: I/O no seccomp filter sees, a large attack surface",
    ),
    (
        "io_uring_setup",
        "io_uring: I/O no seccomp filter sees, a large attack surface",
    ),
    ("kexec_file_load", "replaces the running kernel"),
    ("kexec_load", "replaces the running kernel"),
    (
        "keyctl",
        "kernel keyrings: a long record of privilege escalations",
    ),
    ("mount", "mounts filesystems: the classic container escape"),
    ("mount_setattr", "the new mount API"),
    ("move_mount", "the new mount API"),
    ("open_tree", "the new mount API"),
    (
        "perf_event_open",
        "kernel profiling: side channels, a large attack surface",
    ),
    (
        "personality",
        "changes the execution domain (can turn off ASLR)",
    ),
    ("ptrace", "reads and controls other processes"),
    ("query_module", "kernel modules"),
    ("setns", "joins other namespaces"),
    (
        "unshare",
        "creates namespaces: user namespaces expose root-only kernel code",
    ),
    (
        "userfaultfd",
        "stalls page faults: widens kernel race windows for exploits",
    ),
];

fn access_json(a: &Access) -> Value {
    match a {
        Access::Allowed => json!("allowed"),
        Access::Denied => json!("denied"),
        Access::Conditional(c) => json!({ "conditional": c }),
    }
}

fn access_text(a: &Access) -> String {
    match a {
        Access::Allowed => "allowed".into(),
        Access::Denied => "denied".into(),
        Access::Conditional(c) => c.join("; "),
    }
}

/// What differs between two profiles in one ABI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AbiDiff {
    /// Some call of it runs under A, none under B.
    pub(crate) only_a: Vec<&'static str>,
    pub(crate) only_b: Vec<&'static str>,
    /// Both let some calls run, under different conditions.
    pub(crate) differ: Vec<(&'static str, Access, Access)>,
    /// Whether each filter lets the ABI in at all.
    pub(crate) abi_in: (bool, bool),
}

impl AbiDiff {
    fn is_empty(&self) -> bool {
        self.only_a.is_empty() && self.only_b.is_empty() && self.differ.is_empty()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Diff {
    pub(crate) abis: BTreeMap<Abi, AbiDiff>,
}

impl Diff {
    pub(crate) fn between(a: &Policy, b: &Policy) -> Diff {
        let mut abis = BTreeMap::new();
        for abi in Abi::ALL {
            let mut d = AbiDiff {
                abi_in: (a.abis.contains(&abi), b.abis.contains(&abi)),
                ..AbiDiff::default()
            };
            for (name, x) in a.calls.get(&abi).into_iter().flatten() {
                let y = b.access(abi, name);
                match (x.permits(), y.permits()) {
                    (true, false) => d.only_a.push(name),
                    (false, true) => d.only_b.push(name),
                    (true, true) if x != y => d.differ.push((name, x.clone(), y.clone())),
                    _ => {}
                }
            }
            if !d.is_empty() {
                abis.insert(abi, d);
            }
        }
        Diff { abis }
    }

    pub(crate) fn identical(&self) -> bool {
        self.abis.is_empty()
    }

    pub(crate) fn text(&self, a: &str, b: &str) -> String {
        if self.identical() {
            return format!("{a} and {b} allow the same syscalls\n");
        }
        let mut s = format!("A: {a}\nB: {b}\n");
        for (abi, d) in &self.abis {
            s.push_str(&format!("{abi}:\n"));
            let list = |s: &mut String, who: &str, names: &[&str], other_in: bool| {
                if names.is_empty() {
                    return;
                }
                if !other_in {
                    let other = if who == "A" { "B" } else { "A" };
                    s.push_str(&format!(
                        "  allowed by {who} only: the whole ABI ({} syscalls; {other}'s filter does not let {abi} in)\n",
                        names.len()
                    ));
                } else {
                    s.push_str(&format!(
                        "  allowed by {who} only ({}): {}\n",
                        names.len(),
                        names.join(", ")
                    ));
                }
            };
            list(&mut s, "A", &d.only_a, d.abi_in.1);
            list(&mut s, "B", &d.only_b, d.abi_in.0);
            if !d.differ.is_empty() {
                s.push_str(&format!("  conditions differ ({}):\n", d.differ.len()));
                for (n, x, y) in &d.differ {
                    s.push_str(&format!(
                        "    {n}: A {}; B {}\n",
                        access_text(x),
                        access_text(y)
                    ));
                }
            }
        }
        s
    }

    pub(crate) fn json(&self, a: &str, b: &str) -> Value {
        let abis: serde_json::Map<String, Value> = self
            .abis
            .iter()
            .map(|(abi, d)| {
                let differ: Vec<Value> = d
                    .differ
                    .iter()
                    .map(|(n, x, y)| json!({"name": n, "a": access_json(x), "b": access_json(y)}))
                    .collect();
                (
                    abi.to_string(),
                    json!({
                        "only_a": d.only_a,
                        "only_b": d.only_b,
                        "differ": differ,
                        "abi_in_a": d.abi_in.0,
                        "abi_in_b": d.abi_in.1,
                    }),
                )
            })
            .collect();
        json!({"a": a, "b": b, "identical": self.identical(), "abis": abis})
    }
}

/// A profile against a baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Versus {
    pub(crate) name: String,
    /// Native syscalls the baseline lets run.
    pub(crate) baseline: usize,
    /// Of those, the ones this profile lets run too.
    pub(crate) shared: usize,
    /// Native syscalls this profile lets run that the baseline denies.
    pub(crate) beyond: Vec<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Score {
    /// Syscalls some call of which runs, per ABI the filter lets in.
    pub(crate) permitted: BTreeMap<Abi, usize>,
    pub(crate) versus: Option<Versus>,
    /// Dangerous syscalls still allowed: name, why, and the ABIs.
    pub(crate) dangerous: Vec<(&'static str, &'static str, Vec<Abi>, Access)>,
}

impl Score {
    pub(crate) fn of(p: &Policy, baseline: Option<(&str, &Policy)>) -> Score {
        let permitted = p
            .abis
            .iter()
            .map(|abi| (*abi, p.permitted(*abi).count()))
            .collect();
        let versus = baseline.map(|(name, b)| {
            let native = Abi::X86_64;
            let theirs = b.permitted(native).count();
            let shared = b
                .permitted(native)
                .filter(|n| p.access(native, n).permits())
                .count();
            let beyond = p
                .permitted(native)
                .filter(|n| !b.access(native, n).permits())
                .collect();
            Versus {
                name: name.to_string(),
                baseline: theirs,
                shared,
                beyond,
            }
        });
        let dangerous = DANGEROUS
            .iter()
            .filter_map(|(n, why)| {
                let abis: Vec<Abi> = p
                    .abis
                    .iter()
                    .copied()
                    .filter(|abi| p.access(*abi, n).permits())
                    .collect();
                let first = abis.first().map(|abi| p.access(*abi, n).clone())?;
                Some((*n, *why, abis, first))
            })
            .collect();
        Score {
            permitted,
            versus,
            dangerous,
        }
    }

    /// The share of the baseline's native surface this profile keeps, in percent.
    pub(crate) fn share(&self) -> Option<f64> {
        self.versus
            .as_ref()
            .map(|v| 100.0 * v.shared as f64 / (v.baseline.max(1)) as f64)
    }

    pub(crate) fn text(&self, path: &str) -> String {
        let abis: Vec<String> = self
            .permitted
            .iter()
            .map(|(abi, n)| format!("{n} ({abi})"))
            .collect();
        let mut s = format!("{path}: allows {}\n", abis.join(", "));
        match &self.versus {
            Some(v) => {
                s.push_str(&format!(
                    "  against {}: keeps {} of its {} syscalls ({:.0}%)",
                    v.name,
                    v.shared,
                    v.baseline,
                    self.share().unwrap_or(0.0)
                ));
                if v.beyond.is_empty() {
                    s.push_str(", allows nothing it denies\n");
                } else {
                    s.push_str(&format!(
                        ", and {} it denies: {}\n",
                        v.beyond.len(),
                        v.beyond.join(", ")
                    ));
                }
            }
            None => s.push_str("  no baseline (name one with --baseline)\n"),
        }
        if self.dangerous.is_empty() {
            s.push_str("  dangerous syscalls allowed: none\n");
        } else {
            s.push_str(&format!(
                "  dangerous syscalls allowed ({}):\n",
                self.dangerous.len()
            ));
            for (n, why, abis, a) in &self.dangerous {
                let cond = match a {
                    Access::Conditional(c) => format!(" [{}]", c.join("; ")),
                    _ => String::new(),
                };
                let abis: Vec<&str> = abis.iter().map(|a| a.as_str()).collect();
                s.push_str(&format!("    {n} ({}){cond}: {why}\n", abis.join(", ")));
            }
        }
        s
    }

    pub(crate) fn json(&self, path: &str) -> Value {
        let permitted: serde_json::Map<String, Value> = self
            .permitted
            .iter()
            .map(|(abi, n)| (abi.to_string(), json!(n)))
            .collect();
        let versus = self.versus.as_ref().map(|v| {
            json!({
                "baseline": v.name,
                "baseline_allows": v.baseline,
                "shared": v.shared,
                "share_percent": self.share(),
                "beyond_baseline": v.beyond,
            })
        });
        let dangerous: Vec<Value> = self
            .dangerous
            .iter()
            .map(|(n, why, abis, a)| {
                json!({"name": n, "why": why, "abis": abis, "access": access_json(a)})
            })
            .collect();
        json!({"profile": path, "allowed": permitted, "versus": versus, "dangerous": dangerous})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::{
        file::parse,
        policy::{Context, DEFAULT_CAPS},
    };

    fn policy(json: &str) -> Policy {
        let cx = Context {
            caps: DEFAULT_CAPS.iter().map(|c| c.to_string()).collect(),
            kernel: (6, 1),
        };
        Policy::resolve(&parse(json).unwrap(), &cx)
    }

    const RECORDED: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["read","write","socket","ptrace","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#;
    const BASE: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],
        "syscalls":[{"names":["read","write","exit_group","openat","close"],"action":"SCMP_ACT_ALLOW"},
        {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":40,"op":"SCMP_CMP_NE"}]}]}"#;

    #[test]
    fn diff_names_each_side_conditions_and_whole_abis() {
        let d = Diff::between(&policy(RECORDED), &policy(BASE));
        let x = &d.abis[&Abi::X86_64];
        assert_eq!(x.only_a, ["ptrace"]);
        assert_eq!(x.only_b, ["close", "openat"]);
        assert_eq!(x.differ.len(), 1);
        assert_eq!(x.differ[0].0, "socket");
        let ia32 = &d.abis[&Abi::Ia32];
        assert_eq!(ia32.abi_in, (false, true));
        let t = d.text("a.json", "b.json");
        assert!(t.contains("allowed by A only (1): ptrace"), "{t}");
        assert!(
            t.contains("socket: A allowed; B allowed when arg0 != 40"),
            "{t}"
        );
        assert!(t.contains("the whole ABI"), "{t}");
        assert_eq!(
            d.json("a", "b")["abis"]["x86_64"]["only_b"],
            json!(["close", "openat"])
        );
        assert!(Diff::between(&policy(BASE), &policy(BASE)).identical());
    }

    #[test]
    fn score_against_a_baseline_and_the_dangerous_list() {
        let s = Score::of(&policy(RECORDED), Some(("base", &policy(BASE))));
        assert_eq!(s.permitted[&Abi::X86_64], 5);
        let v = s.versus.as_ref().unwrap();
        assert_eq!((v.baseline, v.shared), (6, 4));
        assert_eq!(v.beyond, ["ptrace"]);
        assert_eq!(s.dangerous.len(), 1);
        assert_eq!(s.dangerous[0].0, "ptrace");
        let t = s.text("p.json");
        assert!(
            t.contains("keeps 4 of its 6 syscalls (67%), and 1 it denies: ptrace"),
            "{t}"
        );
        assert!(t.contains("ptrace (x86_64): reads and controls"), "{t}");
        assert_eq!(s.json("p")["versus"]["beyond_baseline"], json!(["ptrace"]));
    }

    #[test]
    fn dangerous_names_are_syscalls_this_libseccomp_knows() {
        for (n, _) in DANGEROUS {
            assert!(crate::syscalls::table::is_known(n), "{n}");
        }
    }
}
