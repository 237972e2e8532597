//! The kernel's path filter tables (`agent-ebpf/src/paths.rs`): which open syscalls it judges,
//! and the prefixes and suffixes their paths may have. What goes in them is the rules'
//! business ([`crate::rules::prefilter`]); this module only writes them.

use aya::{
    maps::{
        lpm_trie::{Key, LpmTrie},
        MapData,
    },
    Ebpf,
};
use sysaudit_common::{map, PathKey, FILTER_KEY};

use super::{failed, get_mut, ProbeError};

/// What the kernel filters: syscalls by name, and the affixes that keep an open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PathTables {
    pub(crate) syscalls: Vec<&'static str>,
    pub(crate) prefixes: Vec<String>,
    pub(crate) suffixes: Vec<String>,
}

/// An LPM key over `bytes`, cut to the key size (a shorter affix keeps more, never less).
fn key(bytes: impl Iterator<Item = u8>) -> Key<PathKey> {
    let mut data = [0u8; FILTER_KEY];
    let mut n = 0;
    for (d, b) in data.iter_mut().zip(bytes) {
        *d = b;
        n += 1;
    }
    Key::new(n as u32 * 8, data)
}

/// Whether two affixes make the same key.
fn same(a: impl Iterator<Item = u8>, b: impl Iterator<Item = u8>) -> bool {
    let (a, b) = (key(a), key(b));
    a.prefix_len() == b.prefix_len() && a.data() == b.data()
}

pub(super) fn write(ebpf: &mut Ebpf, t: &PathTables) -> Result<(), ProbeError> {
    let mut pre: LpmTrie<&mut MapData, PathKey, u8> = get_mut(ebpf, map::PATH_PREFIXES)?;
    for p in &t.prefixes {
        pre.insert(&key(p.bytes()), 1, 0)
            .map_err(failed(map::PATH_PREFIXES))?;
    }
    let mut suf: LpmTrie<&mut MapData, PathKey, u8> = get_mut(ebpf, map::PATH_SUFFIXES)?;
    for s in &t.suffixes {
        suf.insert(&key(s.bytes().rev()), 1, 0)
            .map_err(failed(map::PATH_SUFFIXES))?;
    }
    Ok(())
}

/// Remove the affixes of `old` that `new` does not have.
pub(super) fn remove_stale(
    ebpf: &mut Ebpf,
    old: &PathTables,
    new: &PathTables,
) -> Result<(), ProbeError> {
    let mut pre: LpmTrie<&mut MapData, PathKey, u8> = get_mut(ebpf, map::PATH_PREFIXES)?;
    for p in old.prefixes.iter().filter(|p| !new.prefixes.contains(p)) {
        // Two affixes cut to the same key: the one kept still needs it.
        if new.prefixes.iter().any(|n| same(n.bytes(), p.bytes())) {
            continue;
        }
        let _ = pre.remove(&key(p.bytes()));
    }
    let mut suf: LpmTrie<&mut MapData, PathKey, u8> = get_mut(ebpf, map::PATH_SUFFIXES)?;
    for s in old.suffixes.iter().filter(|s| !new.suffixes.contains(s)) {
        if new
            .suffixes
            .iter()
            .any(|n| same(n.bytes().rev(), s.bytes().rev()))
        {
            continue;
        }
        let _ = suf.remove(&key(s.bytes().rev()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_cut_to_the_key_size() {
        let k = key("/etc".bytes());
        assert_eq!(k.prefix_len(), 32);
        assert_eq!(&k.data()[..4], b"/etc");
        let long = "x".repeat(FILTER_KEY + 10);
        assert_eq!(key(long.bytes()).prefix_len(), FILTER_KEY as u32 * 8);
    }
}
