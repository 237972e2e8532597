//! Lexical path forms: Falco's `fd.name` is an absolute path without `.`, `..` or `//`.

/// An absolute path `normalize` leaves as it is. Looser than the kernel filter's "plain"
/// (`sysaudit_common::plain`, which also refuses `..` inside a name): every path the kernel
/// judges is normal here, which a test checks.
pub(crate) fn is_plain(p: &str) -> bool {
    !(p.contains("//")
        || p.contains("/./")
        || p.contains("/..")
        || p.ends_with("/.")
        || (p.len() > 1 && p.ends_with('/')))
}

/// The lexically normal form of the components `parts` into `out` (cleared first).
fn normal_into<'p>(out: &mut String, parts: impl Iterator<Item = &'p str>) {
    out.clear();
    for c in parts {
        match c {
            "" | "." => {}
            ".." => {
                let cut = out.rfind('/').unwrap_or(0);
                out.truncate(cut);
            }
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
}

/// Lexical `.`/`..` removal of an absolute path.
pub(crate) fn normalize(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    normal_into(&mut out, p.split('/'));
    out
}

/// `rel` resolved against directory `base` and normalized, shared with its earlier copies: a
/// workload opens the same relative paths again and again, and this allocates nothing then.
pub(crate) fn resolve(base: &str, rel: &str) -> std::sync::Arc<str> {
    use std::cell::RefCell;
    thread_local! {
        static BUF: RefCell<String> = RefCell::default();
    }
    BUF.with(|b| {
        let mut out = b.borrow_mut();
        normal_into(&mut out, base.split('/').chain(rel.split('/')));
        crate::syscalls::intern::text(out.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path over `/`, `.` and `a` up to 9 bytes: the kernel's "plain" (one definition,
    /// in common) implies normal form here, so the bytes the kernel judged are the `fd.name`
    /// the rules match; and it never holds what the rules' prefilter assumes it cannot.
    #[test]
    fn what_the_kernel_calls_plain_is_normal_and_free_of_the_prefilters_substrings() {
        let mut paths = vec![String::new()];
        let mut plain = 0;
        for _ in 0..9 {
            let mut next = Vec::new();
            for p in &paths {
                for c in ['/', '.', 'a'] {
                    let q = format!("{p}{c}");
                    if sysaudit_common::plain::is_plain(q.as_bytes()) {
                        plain += 1;
                        assert!(is_plain(&q), "{q}");
                        assert_eq!(normalize(&q), q);
                        assert!(
                            !sysaudit_common::plain::NEVER_IN
                                .iter()
                                .any(|n| q.contains(n)),
                            "{q}"
                        );
                    }
                    next.push(q);
                }
            }
            paths = next;
        }
        assert!(plain > 100, "{plain}");
        for p in ["/etc/shadow", "/", "/a.b/.c"] {
            assert!(sysaudit_common::plain::is_plain(p.as_bytes()), "{p}");
        }
        for p in [
            "/etc//shadow",
            "/tmp/../etc",
            "/a/.",
            "/a/",
            "/./a",
            "a/b",
            "",
            "/a..b",
        ] {
            assert!(!sysaudit_common::plain::is_plain(p.as_bytes()), "{p}");
        }
    }

    #[test]
    fn resolves_relative_paths_like_normalize() {
        for (base, rel) in [
            ("/work", "a/../b.txt"),
            ("/", ".."),
            ("/a/b", "../../.."),
            ("/srv", "./x/"),
        ] {
            assert_eq!(
                &*resolve(base, rel),
                normalize(&format!("{base}/{rel}")),
                "{base} {rel}"
            );
        }
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize("/a/./b/../c"), "/a/c");
        assert_eq!(normalize("/../.."), "/");
        assert_eq!(normalize("/etc//passwd"), "/etc/passwd");
        for p in ["/etc/passwd", "/", "/root/.ssh/id_rsa"] {
            assert!(is_plain(p), "{p}");
            assert_eq!(normalize(p), p);
        }
        for p in ["/tmp/../etc/shadow", "/etc/./x", "/etc//x", "/etc/", "/x/."] {
            assert!(!is_plain(p), "{p}");
        }
    }
}
