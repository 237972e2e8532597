//! Lexical path forms: Falco's `fd.name` is an absolute path without `.`, `..` or `//`.

/// An absolute path `normalize` leaves as it is.
pub(crate) fn is_plain(p: &str) -> bool {
    !(p.contains("//")
        || p.contains("/./")
        || p.contains("/..")
        || p.ends_with("/.")
        || (p.len() > 1 && p.ends_with('/')))
}

/// Lexical `.`/`..` removal of an absolute path.
pub(crate) fn normalize(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
