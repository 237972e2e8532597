//! Shared strings for what workloads pass again and again — flag renderings, paths, thread names — so
//! the live path allocates nothing for a value it has seen (per thread, at most `CAP` each;
//! a full table is cleared, not grown).

use std::{cell::RefCell, collections::HashMap, sync::Arc};

use super::args::Kind;

const CAP: usize = 4096;
type Hasher = foldhash::fast::RandomState;

/// The rendering of flag or enum value `v` of `kind`, rendered once.
pub(crate) fn flags(kind: Kind, v: u64, render: impl FnOnce() -> String) -> Arc<str> {
    thread_local! {
        static SEEN: RefCell<HashMap<(Kind, u64), Arc<str>, Hasher>> = RefCell::default();
    }
    SEEN.with(|m| {
        let mut m = m.borrow_mut();
        if let Some(s) = m.get(&(kind, v)) {
            return s.clone();
        }
        if m.len() >= CAP {
            m.clear();
        }
        let s: Arc<str> = render().into();
        m.insert((kind, v), s.clone());
        s
    })
}

/// A string from the kernel (a path, a thread's name; invalid UTF-8 replaced), shared with its
/// earlier copies.
pub(crate) fn text(b: &[u8]) -> Arc<str> {
    thread_local! {
        static SEEN: RefCell<HashMap<Box<[u8]>, Arc<str>, Hasher>> = RefCell::default();
    }
    SEEN.with(|m| {
        let mut m = m.borrow_mut();
        if let Some(s) = m.get(b) {
            return s.clone();
        }
        if m.len() >= CAP {
            m.clear();
        }
        let s: Arc<str> = String::from_utf8_lossy(b).into();
        m.insert(b.into(), s.clone());
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_seen_before_is_the_same_allocation() {
        let a = text(b"/tmp/storm");
        let b = text(b"/tmp/storm");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*text(b"/x\xff"), "/x\u{fffd}");
    }
}
