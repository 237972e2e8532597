//! Syscall names ↔ numbers per ABI, from libseccomp's own table (`libseccomp-syscalls.csv`,
//! Linux 7.1-rc4). Using libseccomp's table means every name we print or put in a profile is a
//! name libseccomp — and so runc, podman and the kubelet — resolves.

use std::{collections::HashMap, fmt, str::FromStr, sync::OnceLock};

use serde::{Deserialize, Serialize};

const CSV: &str = include_str!("libseccomp-syscalls.csv");

/// A syscall ABI of x86_64 Linux.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Abi {
    /// Native 64-bit syscalls.
    X86_64,
    /// 32-bit (i386) syscalls of compat tasks or `int 0x80`.
    Ia32,
    /// x32 syscalls (64-bit registers, 32-bit pointers).
    X32,
}

impl Abi {
    pub const ALL: [Abi; 3] = [Abi::X86_64, Abi::Ia32, Abi::X32];

    pub fn from_kernel(v: u8) -> Abi {
        match v {
            sysaudit_common::abi::IA32 => Abi::Ia32,
            sysaudit_common::abi::X32 => Abi::X32,
            _ => Abi::X86_64,
        }
    }

    /// libseccomp's architecture token (`SCMP_ARCH_*`).
    pub fn scmp_arch(self) -> &'static str {
        match self {
            Abi::X86_64 => "SCMP_ARCH_X86_64",
            Abi::Ia32 => "SCMP_ARCH_X86",
            Abi::X32 => "SCMP_ARCH_X32",
        }
    }

    fn column(self) -> usize {
        // name,x86,x86_kver,x86_64,x86_64_kver,x32,x32_kver,...
        match self {
            Abi::Ia32 => 1,
            Abi::X86_64 => 3,
            Abi::X32 => 5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Abi::X86_64 => "x86_64",
            Abi::Ia32 => "ia32",
            Abi::X32 => "x32",
        }
    }
}

impl fmt::Display for Abi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Abi {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "x86_64" | "native" => Ok(Abi::X86_64),
            "ia32" | "x86" | "i386" => Ok(Abi::Ia32),
            "x32" => Ok(Abi::X32),
            _ => Err(format!("unknown ABI '{s}' (x86_64, ia32, x32)")),
        }
    }
}

struct Table {
    by_nr: [Vec<Option<&'static str>>; 3],
    by_name: [HashMap<&'static str, u32>; 3],
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = Table {
            by_nr: Default::default(),
            by_name: Default::default(),
        };
        for line in CSV.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let cols: Vec<&'static str> = line.split(',').collect();
            for abi in Abi::ALL {
                let i = abi as usize;
                let Some(nr) = cols.get(abi.column()).and_then(|v| v.parse::<u32>().ok()) else {
                    continue;
                };
                let v = &mut t.by_nr[i];
                if v.len() <= nr as usize {
                    v.resize(nr as usize + 1, None);
                }
                v[nr as usize] = Some(cols[0]);
                t.by_name[i].insert(cols[0], nr);
            }
        }
        t
    })
}

/// Name of syscall `nr` of `abi`, if the table knows it.
pub fn name(abi: Abi, nr: u32) -> Option<&'static str> {
    table().by_nr[abi as usize]
        .get(nr as usize)
        .copied()
        .flatten()
}

/// Number of syscall `name` in `abi`.
pub fn number(abi: Abi, name: &str) -> Option<u32> {
    table().by_name[abi as usize].get(name).copied()
}

/// Does any ABI know this name?
pub fn is_known(name: &str) -> bool {
    Abi::ALL.iter().any(|a| number(*a, name).is_some())
}

/// All (number, name) pairs of an ABI, by number.
pub fn all(abi: Abi) -> impl Iterator<Item = (u32, &'static str)> {
    table().by_nr[abi as usize]
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.map(|n| (i as u32, n)))
}

/// A printable name even for numbers the table lacks (`syscall_123`).
pub fn display_name(abi: Abi, nr: u32) -> String {
    match name(abi, nr) {
        Some(n) => n.to_string(),
        None => format!("syscall_{nr}"),
    }
}

/// The closest known names to a misspelt one, for error messages.
pub fn suggest(name: &str) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    for (_, cand) in all(Abi::X86_64) {
        let d = strsim::levenshtein(name, cand);
        if d <= 2 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
        }
    }
    best.map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sysaudit_common::nr;

    #[test]
    fn native_and_compat_numbers_differ() {
        assert_eq!(name(Abi::X86_64, 0), Some("read"));
        assert_eq!(name(Abi::Ia32, 3), Some("read"));
        assert_eq!(name(Abi::X86_64, 257), Some("openat"));
        assert_eq!(name(Abi::Ia32, 295), Some("openat"));
        // ia32-only calls exist only in the compat table.
        assert_eq!(number(Abi::Ia32, "socketcall"), Some(102));
        assert_eq!(number(Abi::X86_64, "socketcall"), None);
        assert_eq!(name(Abi::Ia32, 102), Some("socketcall"));
        assert_eq!(display_name(Abi::X86_64, 4000), "syscall_4000");
    }

    #[test]
    fn kernel_side_constants_match_the_table() {
        for (abi, i) in [(Abi::X86_64, 0), (Abi::Ia32, 1)] {
            assert_eq!(number(abi, "exit"), Some(nr::EXIT[i]));
            assert_eq!(number(abi, "exit_group"), Some(nr::EXIT_GROUP[i]));
            assert_eq!(number(abi, "execve"), Some(nr::EXECVE[i]));
            assert_eq!(number(abi, "execveat"), Some(nr::EXECVEAT[i]));
            assert_eq!(number(abi, "prctl"), Some(nr::PRCTL[i]));
        }
    }

    #[test]
    fn every_number_fits_the_kernel_bitmap() {
        for abi in [Abi::X86_64, Abi::Ia32] {
            for (nr, n) in all(abi) {
                assert!(
                    (nr as usize) < sysaudit_common::MAX_SYSCALLS,
                    "{abi} {n} = {nr}"
                );
            }
        }
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(suggest("opneat"), Some("openat"));
        assert_eq!(suggest("zzzzzzzzzz"), None);
        assert!(is_known("openat2"));
        assert!(!is_known("open_sesame"));
    }
}
