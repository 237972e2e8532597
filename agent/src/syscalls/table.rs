//! Syscall names ↔ numbers per ABI, asked of the node's libseccomp — the library runc, crun
//! and podman resolve profile names with — once, on first use. Every name sysaudit prints or
//! writes into a profile is therefore one that library knows, by construction; a number it
//! does not know is shown as `syscall_N`.

use std::{collections::HashMap, fmt, str::FromStr, sync::OnceLock};

use libseccomp::{ScmpArch, ScmpSyscall};
use serde::{Deserialize, Serialize};
use sysaudit_common::X32_SYSCALL_BIT;

/// Numbers asked of libseccomp per ABI: above every x86 table (x32's own calls end near 550).
const MAX_NR: u32 = 1024;

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
    /// Every ABI, in table index order.
    pub const ALL: [Abi; 3] = [Abi::X86_64, Abi::Ia32, Abi::X32];

    /// The ABI of a record's [`Header::abi`](sysaudit_common::Header::abi) (unknown: x86_64).
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

    /// The ABI of a profile's `SCMP_ARCH_*` token (other architectures: none).
    pub(crate) fn from_scmp_arch(s: &str) -> Option<Abi> {
        Abi::ALL.into_iter().find(|a| a.scmp_arch() == s)
    }

    /// libseccomp's architecture.
    pub(crate) fn scmp(self) -> ScmpArch {
        match self {
            Abi::X86_64 => ScmpArch::X8664,
            Abi::Ia32 => ScmpArch::X86,
            Abi::X32 => ScmpArch::X32,
        }
    }

    /// Name as printed and in JSON (`x86_64`, `ia32`, `x32`).
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
        // One copy of each name, shared by the ABIs (a few hundred, kept for the process).
        let mut interned: HashMap<String, &'static str> = HashMap::new();
        for abi in Abi::ALL {
            let i = abi as usize;
            for nr in 0..MAX_NR {
                // libseccomp numbers x32 calls with their ABI bit, as the kernel does.
                let asked = if abi == Abi::X32 {
                    nr | X32_SYSCALL_BIT as u32
                } else {
                    nr
                };
                let Ok(name) = ScmpSyscall::from(asked as i32).get_name_by_arch(abi.scmp()) else {
                    continue;
                };
                let name: &'static str = match interned.get(&name) {
                    Some(n) => n,
                    None => {
                        let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
                        interned.insert(name, leaked);
                        leaked
                    }
                };
                let v = &mut t.by_nr[i];
                if v.len() <= nr as usize {
                    v.resize(nr as usize + 1, None);
                }
                v[nr as usize] = Some(name);
                // The first number wins where libseccomp maps several to one name.
                t.by_name[i].entry(name).or_insert(nr);
            }
        }
        t
    })
}

/// Name of syscall `nr` of `abi`, if the table knows it.
pub(crate) fn name(abi: Abi, nr: u32) -> Option<&'static str> {
    table().by_nr[abi as usize]
        .get(nr as usize)
        .copied()
        .flatten()
}

/// Number of syscall `name` in `abi`.
pub(crate) fn number(abi: Abi, name: &str) -> Option<u32> {
    table().by_name[abi as usize].get(name).copied()
}

/// Does any ABI know this name?
pub(crate) fn is_known(name: &str) -> bool {
    Abi::ALL.iter().any(|a| number(*a, name).is_some())
}

/// All (number, name) pairs of an ABI, by number.
pub(crate) fn all(abi: Abi) -> impl Iterator<Item = (u32, &'static str)> {
    table().by_nr[abi as usize]
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.map(|n| (i as u32, n)))
}

/// A printable name even for numbers the table lacks (`syscall_123`).
pub(crate) fn display_name(abi: Abi, nr: u32) -> std::borrow::Cow<'static, str> {
    match name(abi, nr) {
        Some(n) => n.into(),
        None => format!("syscall_{nr}").into(),
    }
}

/// The closest known names to a misspelt one, for error messages.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
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
    fn x32_numbers_are_stripped_of_their_abi_bit() {
        // libseccomp numbers x32 calls with the ABI bit; the table (like the kernel record)
        // keeps the plain number.
        assert_eq!(name(Abi::X32, 257), Some("openat"));
        assert_eq!(number(Abi::X32, "openat"), Some(257));
        assert_eq!(name(Abi::X32, 0), Some("read"));
    }

    #[test]
    fn unknown_numbers_have_a_printable_name() {
        assert_eq!(name(Abi::X86_64, 1000), None);
        assert_eq!(display_name(Abi::Ia32, 1000), "syscall_1000");
        assert_eq!(number(Abi::X86_64, "no_such_call"), None);
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
        // The syscalls io_uring operations are recorded as (x86_64 numbers).
        let mut recorded = 0;
        for op in 0..=u8::MAX {
            if let Some((n, name)) = sysaudit_common::uring::syscall(op) {
                assert_eq!(number(Abi::X86_64, name), Some(n), "io_uring op {op}");
                recorded += 1;
            }
        }
        assert_eq!(recorded, 21);
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
