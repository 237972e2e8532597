//! The profile model and its two formats. Output is deterministic for the same recordings:
//! sorted names, fixed key order, no timestamps (coverage is in seconds since the start).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt, fs,
    io::Write,
    path::Path,
};

use serde::Serialize;
use yaml_rust2::{yaml::Hash, Yaml, YamlEmitter};

use super::file::{self, ArgCmp, RawProfile, RawRule, SPO_GROUP};
use super::provenance::Provenance;
use crate::syscalls::{table, Abi};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ProfileError {
    #[error("{path}: {msg}")]
    Parse { path: String, msg: String },
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
}

/// What a syscall outside the profile gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DefaultAction {
    /// Fail with EPERM (the default; what Docker's profile does).
    Errno,
    /// Kill the whole process.
    Kill,
    /// Allow and log (audit mode).
    Log,
    /// Send SIGSYS.
    Trap,
}

impl DefaultAction {
    pub(crate) fn parse(s: &str) -> Option<DefaultAction> {
        Some(match s {
            "errno" => DefaultAction::Errno,
            "kill" => DefaultAction::Kill,
            "log" => DefaultAction::Log,
            "trap" => DefaultAction::Trap,
            _ => return None,
        })
    }

    pub(crate) fn scmp(self) -> &'static str {
        match self {
            DefaultAction::Errno => "SCMP_ACT_ERRNO",
            DefaultAction::Kill => "SCMP_ACT_KILL_PROCESS",
            DefaultAction::Log => "SCMP_ACT_LOG",
            DefaultAction::Trap => "SCMP_ACT_TRAP",
        }
    }
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// OCI runtime-spec `linux.seccomp` / Docker `--security-opt seccomp=` / kubelet Localhost.
    Oci,
    /// Security Profiles Operator `SeccompProfile` manifest (YAML).
    Spo(SpoVersion),
}

/// The SPO API version written (both are read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum SpoVersion {
    /// `v1`, since SPO 1.0.0.
    #[default]
    V1,
    /// `v1beta1`, for operators older than 1.0.0.
    V1beta1,
}

impl SpoVersion {
    pub(crate) fn parse(s: &str) -> Option<SpoVersion> {
        match s {
            "v1" => Some(SpoVersion::V1),
            "v1beta1" => Some(SpoVersion::V1beta1),
            _ => None,
        }
    }

    fn api_version(self) -> String {
        let v = match self {
            SpoVersion::V1 => "v1",
            SpoVersion::V1beta1 => "v1beta1",
        };
        format!("{SPO_GROUP}/{v}")
    }
}

/// An allowlist profile.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Profile {
    pub default_action: DefaultAction,
    pub abis: BTreeSet<Abi>,
    pub names: BTreeSet<String>,
    /// Why the recording may be missing syscalls (empty: complete).
    pub incomplete: Vec<String>,
    /// The default action a profile read from a file names (merges use the flag's).
    pub file_default: Option<DefaultAction>,
    /// SPO `baseProfileName`: the runtime profile this one is layered on.
    pub base_profile: Option<String>,
    pub provenance: Provenance,
    /// Syscalls allowed only with some argument values (`--args`): each rule's comparisons
    /// must all hold. A name is here or in `names`, not both.
    pub conditions: BTreeMap<String, BTreeSet<Vec<ArgCmp>>>,
    /// Syscalls answered with an errno rather than the default action.
    pub errnos: BTreeMap<String, u32>,
}

impl Profile {
    pub(crate) fn new(default_action: DefaultAction) -> Profile {
        Profile {
            default_action,
            abis: BTreeSet::from([Abi::X86_64]),
            names: BTreeSet::new(),
            incomplete: Vec::new(),
            file_default: None,
            base_profile: None,
            provenance: Provenance::default(),
            conditions: BTreeMap::new(),
            errnos: BTreeMap::new(),
        }
    }

    /// Add a recorded syscall of an ABI.
    pub(crate) fn allow(&mut self, abi: Abi, name: &str) {
        self.abis.insert(abi);
        self.names.insert(name.to_string());
    }

    /// Union with another profile (another run, another replica).
    pub(crate) fn merge(&mut self, other: &Profile) {
        self.abis.extend(other.abis.iter().copied());
        self.names.extend(other.names.iter().cloned());
        if self.base_profile.is_none() {
            self.base_profile.clone_from(&other.base_profile);
        }
        self.provenance.merge(&other.provenance);
        for (n, rules) in &other.conditions {
            self.conditions
                .entry(n.clone())
                .or_default()
                .extend(rules.iter().cloned());
        }
        for (n, e) in &other.errnos {
            self.errnos.entry(n.clone()).or_insert(*e);
        }
        // What one profile allows outright, the union does.
        let names = &self.names;
        self.conditions.retain(|n, _| !names.contains(n));
        self.errnos
            .retain(|n, _| !names.contains(n) && !self.conditions.contains_key(n));
        for r in &other.incomplete {
            if !self.incomplete.contains(r) {
                self.incomplete.push(r.clone());
            }
        }
    }

    /// As a file would hold it, for the resolver.
    pub(crate) fn raw(&self) -> RawProfile {
        RawProfile {
            default_action: self.default_action.scmp().to_string(),
            architectures: self
                .abis
                .iter()
                .map(|a| a.scmp_arch().to_string())
                .collect(),
            syscalls: self.rules(),
            ..RawProfile::default()
        }
    }

    /// Its rules as written: the unconditional allowlist, the argument rules, the errnos.
    pub(crate) fn rules(&self) -> Vec<RawRule> {
        let rule =
            |names: Vec<String>, action: &str, args: Vec<ArgCmp>, errno: Option<u32>| RawRule {
                names,
                name: None,
                action: action.into(),
                args,
                includes: Default::default(),
                excludes: Default::default(),
                errno_ret: errno,
            };
        let mut out = Vec::new();
        if !self.names.is_empty() {
            out.push(rule(
                self.names.iter().cloned().collect(),
                "SCMP_ACT_ALLOW",
                Vec::new(),
                None,
            ));
        }
        for (n, rules) in &self.conditions {
            for args in rules {
                out.push(rule(vec![n.clone()], "SCMP_ACT_ALLOW", args.clone(), None));
            }
        }
        for (n, e) in &self.errnos {
            out.push(rule(
                vec![n.clone()],
                "SCMP_ACT_ERRNO",
                Vec::new(),
                Some(*e),
            ));
        }
        out
    }

    /// Syscalls allowed, outright or on arguments.
    pub(crate) fn count(&self) -> usize {
        self.names.len() + self.conditions.len()
    }

    fn note(&self) -> Option<String> {
        (!self.incomplete.is_empty()).then(|| {
            format!(
                "INCOMPLETE recording (sysaudit): {}",
                self.incomplete.join("; ")
            )
        })
    }

    /// OCI/Docker JSON (pretty, newline-terminated).
    pub(crate) fn to_oci(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Rule<'a> {
            names: &'a [String],
            action: &'a str,
            #[serde(skip_serializing_if = "<[ArgCmp]>::is_empty")]
            args: &'a [ArgCmp],
            #[serde(skip_serializing_if = "Option::is_none")]
            errno_ret: Option<u32>,
        }
        // `comment` and `sysaudit` are ignored by runc, crun, Docker, podman and containerd
        // (unknown JSON keys are skipped): the incomplete-recording flag and the provenance.
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Oci<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            comment: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            sysaudit: Option<&'a Provenance>,
            default_action: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            default_errno_ret: Option<u32>,
            architectures: Vec<&'static str>,
            syscalls: Vec<Rule<'a>>,
        }
        let rules = self.rules();
        let doc = Oci {
            comment: self.note(),
            sysaudit: (!self.provenance.is_empty()).then_some(&self.provenance),
            default_action: self.default_action.scmp(),
            default_errno_ret: (self.default_action == DefaultAction::Errno)
                .then_some(libc::EPERM as u32),
            architectures: self.abis.iter().map(|a| a.scmp_arch()).collect(),
            syscalls: rules
                .iter()
                .map(|r| Rule {
                    names: &r.names,
                    action: &r.action,
                    args: &r.args,
                    errno_ret: r.errno_ret,
                })
                .collect(),
        };
        let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
        s.push('\n');
        s
    }

    /// A Security Profiles Operator `SeccompProfile` (YAML).
    pub(crate) fn to_spo(&self, name: &str, version: SpoVersion) -> String {
        let st = |s: &str| Yaml::String(s.to_string());
        let mut meta = Hash::new();
        meta.insert(st("name"), st(&spo_name(name)));
        let mut ann = Hash::new();
        ann.insert(st("sysaudit.io/recorded-by"), st("sysaudit"));
        if let Some(n) = self.note() {
            ann.insert(st("sysaudit.io/incomplete"), st(&n));
        }
        if !self.provenance.is_empty() {
            let j = serde_json::to_string(&self.provenance).unwrap_or_default();
            ann.insert(st(PROVENANCE_ANNOTATION), st(&j));
        }
        meta.insert(st("annotations"), Yaml::Hash(ann));
        // Above i64 (a 64-bit mask) YAML gets the decimal digits, which read back as u64.
        let int = |v: u64| match i64::try_from(v) {
            Ok(i) => Yaml::Integer(i),
            Err(_) => Yaml::Real(v.to_string()),
        };
        let rules: Vec<Yaml> = self
            .rules()
            .into_iter()
            .map(|r| {
                let mut h = Hash::new();
                h.insert(st("action"), st(&r.action));
                h.insert(
                    st("names"),
                    Yaml::Array(r.names.iter().map(|n| st(n)).collect()),
                );
                if !r.args.is_empty() {
                    let args = r.args.iter().map(|a| {
                        let mut c = Hash::new();
                        c.insert(st("index"), int(a.index.into()));
                        c.insert(st("value"), int(a.value));
                        if a.value_two != 0 {
                            c.insert(st("valueTwo"), int(a.value_two));
                        }
                        c.insert(st("op"), st(&a.op));
                        Yaml::Hash(c)
                    });
                    h.insert(st("args"), Yaml::Array(args.collect()));
                }
                if let Some(e) = r.errno_ret {
                    h.insert(st("errnoRet"), int(e.into()));
                }
                Yaml::Hash(h)
            })
            .collect();
        let mut spec = Hash::new();
        if let Some(b) = &self.base_profile {
            spec.insert(st("baseProfileName"), st(b));
        }
        spec.insert(st("defaultAction"), st(self.default_action.scmp()));
        spec.insert(
            st("architectures"),
            Yaml::Array(self.abis.iter().map(|a| st(a.scmp_arch())).collect()),
        );
        if !rules.is_empty() {
            spec.insert(st("syscalls"), Yaml::Array(rules));
        }
        let mut doc = Hash::new();
        doc.insert(st("apiVersion"), st(&version.api_version()));
        doc.insert(st("kind"), st("SeccompProfile"));
        doc.insert(st("metadata"), Yaml::Hash(meta));
        doc.insert(st("spec"), Yaml::Hash(spec));
        let mut out = String::new();
        let _ = YamlEmitter::new(&mut out).dump(&Yaml::Hash(doc));
        out.push('\n');
        out
    }

    pub(crate) fn render(&self, format: Format, name: &str) -> String {
        match format {
            Format::Oci => self.to_oci(),
            Format::Spo(v) => self.to_spo(name, v),
        }
    }

    /// Read a profile written by sysaudit or by hand: OCI/Docker JSON or an SPO manifest.
    /// Only its ALLOW rules matter for a merge; anything else is refused rather than dropped.
    pub(crate) fn read(
        path: &Path,
        default_action: DefaultAction,
    ) -> Result<Profile, ProfileError> {
        let raw = file::read(path)?;
        Profile::from_raw(&raw, default_action).map_err(|msg| ProfileError::Parse {
            path: path.display().to_string(),
            msg,
        })
    }

    fn from_raw(raw: &RawProfile, default_action: DefaultAction) -> Result<Profile, String> {
        if !raw.arch_map.is_empty() {
            return Err("archMap profiles (Docker's and podman's defaults) are not allowlists; merge recorded profiles, compare with `profile diff`".into());
        }
        let mut out = Profile::new(default_action);
        out.base_profile = raw.base_profile_name.clone();
        let provenance = raw.sysaudit.clone();
        out.file_default = match raw.default_action.as_str() {
            "" => None,
            "SCMP_ACT_ERRNO" => Some(DefaultAction::Errno),
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_PROCESS" | "SCMP_ACT_KILL_THREAD" => Some(DefaultAction::Kill),
            "SCMP_ACT_LOG" => Some(DefaultAction::Log),
            "SCMP_ACT_TRAP" => Some(DefaultAction::Trap),
            other => return Err(format!("defaultAction {other}: an allowlist needs a denying default (ERRNO, KILL, TRAP or LOG)")),
        };
        out.abis.clear();
        for a in &raw.architectures {
            let abi = Abi::from_scmp_arch(a).ok_or_else(|| {
                format!("architecture {a} is not one sysaudit records (x86_64, x86, x32)")
            })?;
            out.abis.insert(abi);
        }
        out.abis.insert(Abi::X86_64);
        for r in &raw.syscalls {
            if !r.includes.is_empty() || !r.excludes.is_empty() {
                return Err("a rule with includes/excludes cannot be merged".into());
            }
            let errno = r.action == "SCMP_ACT_ERRNO" && r.args.is_empty();
            if r.action != "SCMP_ACT_ALLOW" && !errno {
                return Err(format!("a rule with action {}: only allowlists (SCMP_ACT_ALLOW rules, with or without arguments, and plain ERRNO rules) can be merged", r.action));
            }
            for n in r.all_names() {
                if !table::is_known(n) {
                    return Err(format!("unknown syscall '{n}'"));
                }
                if errno {
                    let e = r.errno_ret.unwrap_or(libc::EPERM as u32);
                    out.errnos.insert(n.to_string(), e);
                } else if r.args.is_empty() {
                    out.names.insert(n.to_string());
                } else {
                    if let Some(a) = r.args.iter().find(|a| !KNOWN_OPS.contains(&a.op.as_str())) {
                        return Err(format!("{n}: unknown comparison '{}'", a.op));
                    }
                    let rules = out.conditions.entry(n.to_string()).or_default();
                    rules.insert(r.args.clone());
                }
            }
        }
        let names = &out.names;
        out.conditions.retain(|n, _| !names.contains(n));
        out.provenance = provenance.unwrap_or_else(|| Provenance::one(&out.names));
        Ok(out)
    }
}

/// The comparisons of libseccomp (and of OCI's `args[].op`).
pub(crate) const KNOWN_OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// The SPO annotation that carries [`Provenance`] (as JSON).
pub(crate) const PROVENANCE_ANNOTATION: &str = "sysaudit.io/provenance";

/// A Kubernetes object name: lowercase alphanumerics, '-' and '.', at most 253 characters.
pub(crate) fn spo_name(s: &str) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out = out.trim_matches(|c| c == '-' || c == '.').to_string();
    out.truncate(253);
    if out.is_empty() {
        "sysaudit-profile".into()
    } else {
        out
    }
}

/// Write `text` to `path` atomically: a temporary file in the same directory, then rename.
pub(crate) fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "profile".into());
    let tmp = dir.join(format!(".{name}.sysaudit-{}.tmp", std::process::id()));
    let r = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} syscalls, {}",
            self.names.len(),
            self.abis
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join("+")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Profile {
        let mut p = Profile::new(DefaultAction::Errno);
        for n in ["write", "read", "exit_group", "read"] {
            p.allow(Abi::X86_64, n);
        }
        p
    }

    #[test]
    fn oci_is_sorted_deterministic_and_has_no_rule_equal_to_the_default() {
        let p = sample();
        let a = p.to_oci();
        assert_eq!(a, sample().to_oci());
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        assert_eq!(v["architectures"], serde_json::json!(["SCMP_ARCH_X86_64"]));
        assert_eq!(
            v["syscalls"][0]["names"],
            serde_json::json!(["exit_group", "read", "write"])
        );
        assert_eq!(v["syscalls"][0]["action"], "SCMP_ACT_ALLOW");
        assert!(v.get("comment").is_none());
        let mut k = sample();
        k.default_action = DefaultAction::Kill;
        let v: serde_json::Value = serde_json::from_str(&k.to_oci()).unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_KILL_PROCESS");
        assert!(v.get("defaultErrnoRet").is_none());
    }

    #[test]
    fn ia32_adds_its_architecture_and_incomplete_is_said() {
        let mut p = sample();
        p.allow(Abi::Ia32, "socketcall");
        p.incomplete.push("3 events lost".into());
        let v: serde_json::Value = serde_json::from_str(&p.to_oci()).unwrap();
        assert_eq!(
            v["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
        );
        assert!(v["comment"].as_str().unwrap().contains("INCOMPLETE"));
        let y = p.to_spo("My App_1", SpoVersion::V1);
        assert!(
            y.contains("apiVersion: security-profiles-operator.x-k8s.io/v1\n"),
            "{y}"
        );
        assert!(y.contains("kind: SeccompProfile"), "{y}");
        assert!(y.contains("name: my-app-1"), "{y}");
        assert!(y.contains("sysaudit.io/incomplete"), "{y}");
        assert!(y.contains("- SCMP_ARCH_X86"), "{y}");
    }

    #[test]
    fn reads_back_and_merges_both_formats() {
        let dir = std::env::temp_dir().join(format!("sysaudit-prof-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut a = sample();
        a.provenance = Provenance::one(&a.names);
        let mut sock = crate::seccomp::args::Seen::default();
        a.allow(Abi::X86_64, "socket");
        a.allow(Abi::X86_64, "clone3");
        sock.exec(1);
        sock.note(1, "socket", &[1, 0, 0, 0, 0, 0]);
        sock.apply(&mut a);
        let oci = dir.join("a.json");
        write_atomic(&oci, &a.to_oci()).unwrap();
        let mut b = Profile::new(DefaultAction::Errno);
        b.allow(Abi::X86_64, "mkdir");
        b.allow(Abi::Ia32, "socketcall");
        let spo = dir.join("b.yaml");
        b.base_profile = Some("runc-v1.1.5".into());
        b.conditions = a.conditions.clone();
        b.conditions.insert(
            "personality".into(),
            BTreeSet::from([vec![ArgCmp {
                index: 0,
                value: u64::MAX,
                value_two: 0,
                op: "SCMP_CMP_EQ".into(),
            }]]),
        );
        b.errnos = a.errnos.clone();
        b.provenance = Provenance::one(&b.names);
        b.provenance.coverage = Some(crate::seccomp::provenance::Coverage {
            seconds: 3.5,
            curve: vec![(1.0, 2), (2.0, 0), (3.5, 0)],
            last_new: Some(("mkdir".into(), 0.25)),
        });
        write_atomic(&spo, &b.to_spo("b", SpoVersion::V1beta1)).unwrap();
        let mut ra = Profile::read(&oci, DefaultAction::Errno).unwrap();
        assert_eq!(ra.file_default, Some(DefaultAction::Errno));
        ra.file_default = None;
        assert_eq!(ra, a);
        let mut rb = Profile::read(&spo, DefaultAction::Errno).unwrap();
        rb.file_default = None;
        assert_eq!(rb, b);
        a.merge(&rb);
        assert_eq!(a.names.len(), 5);
        assert_eq!(a.provenance.recordings, 2);
        let mut hand = sample();
        hand.provenance = Provenance::default();
        let plain = dir.join("hand.json");
        write_atomic(&plain, &hand.to_oci()).unwrap();
        let rh = Profile::read(&plain, DefaultAction::Errno).unwrap();
        assert_eq!(
            rh.provenance.recordings, 1,
            "a profile from elsewhere counts once"
        );
        assert_eq!(
            a.base_profile.as_deref(),
            Some("runc-v1.1.5"),
            "kept by a merge"
        );
        assert!(a
            .to_spo("a", SpoVersion::V1)
            .contains("baseProfileName: runc-v1.1.5"));
        assert!(a.abis.contains(&Abi::Ia32));
        fs::write(dir.join("deny.json"), r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#).unwrap();
        let e = Profile::read(&dir.join("deny.json"), DefaultAction::Errno)
            .unwrap_err()
            .to_string();
        assert!(e.contains("only allowlists"), "{e}");
        fs::write(dir.join("bad.json"), "{\"syscalls\": [}").unwrap();
        let e = Profile::read(&dir.join("bad.json"), DefaultAction::Errno)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.json: ") && e.contains("line 1 column"),
            "{e}"
        );
        fs::write(
            dir.join("typo.json"),
            r#"{"syscalls":[{"names":["raed"],"action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        assert!(Profile::read(&dir.join("typo.json"), DefaultAction::Errno)
            .unwrap_err()
            .to_string()
            .contains("unknown syscall 'raed'"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn names_for_kubernetes() {
        assert_eq!(spo_name("ctr-1/Web"), "ctr-1-web");
        assert_eq!(spo_name("___"), "sysaudit-profile");
    }
}
