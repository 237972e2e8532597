//! Falco's list substitution: before a condition is parsed, every whole-token occurrence of a
//! list's name is replaced by its comma-joined items (items with spaces quoted). The token
//! delimiters are blanks, `(`, `)`, `,` and `=`; an empty list also removes a neighbouring
//! comma. Doing it textually, exactly as Falco does, keeps upstream rule files' meaning.

const BLANKS: &[char] = &[' ', '\t', '\n', '\r'];

fn is_delim(c: char) -> bool {
    BLANKS.contains(&c) || matches!(c, '(' | ')' | ',' | '=')
}

/// Quote an item that contains a space and is not quoted already.
pub(crate) fn quote_item(item: &str) -> String {
    let quoted = item.len() >= 2
        && ((item.starts_with('"') && item.ends_with('"'))
            || (item.starts_with('\'') && item.ends_with('\'')));
    if item.contains(' ') && !quoted {
        format!("\"{item}\"")
    } else {
        item.to_string()
    }
}

/// Replace list `name` (with `items`) in `cond`; returns whether it was used.
pub(crate) fn substitute(cond: &mut String, name: &str, items: &[String]) -> bool {
    if name.is_empty() {
        return false;
    }
    let mut used = false;
    let mut from = 0;
    while let Some(rel) = cond.get(from..).and_then(|s| s.find(name)) {
        let mut start = from + rel;
        let mut end = start + name.len();
        let before_ok = start == 0 || cond[..start].chars().next_back().is_some_and(is_delim);
        let after_ok = end >= cond.len() || cond[end..].chars().next().is_some_and(is_delim);
        if !(before_ok && after_ok) {
            from = start + 1;
            while !cond.is_char_boundary(from) {
                from += 1;
            }
            continue;
        }
        while start > 0 && cond[..start].ends_with(BLANKS) {
            start -= 1;
        }
        while end < cond.len() && cond[end..].starts_with(BLANKS) {
            end += 1;
        }
        let sub = items
            .iter()
            .map(|i| quote_item(i))
            .collect::<Vec<_>>()
            .join(", ");
        if sub.is_empty() {
            if start > 0 && cond[..start].ends_with(',') {
                start -= 1;
            } else if end < cond.len() && cond[end..].starts_with(',') {
                end += 1;
            }
        }
        let mut next = String::with_capacity(cond.len() + sub.len() + 2);
        if start > 0 {
            next.push_str(&cond[..start]);
            next.push(' ');
        }
        next.push_str(&sub);
        next.push(' ');
        let resume = next.len();
        next.push_str(&cond[end..]);
        *cond = next;
        from = resume;
        used = true;
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(c: &str, name: &str, items: &[&str]) -> String {
        let mut c = c.to_string();
        let items: Vec<String> = items.iter().map(|i| i.to_string()).collect();
        substitute(&mut c, name, &items);
        c
    }

    #[test]
    fn replaces_whole_tokens_only() {
        assert_eq!(
            s(
                "proc.name in (shell_binaries)",
                "shell_binaries",
                &["sh", "bash"]
            ),
            "proc.name in ( sh, bash )"
        );
        assert_eq!(
            s(
                "proc.name in (my_shell_binaries)",
                "shell_binaries",
                &["sh"]
            ),
            "proc.name in (my_shell_binaries)"
        );
        assert_eq!(s("proc.name=shells", "shells", &["sh"]), "proc.name= sh ");
        assert_eq!(
            s(
                "proc.name in (a, lst, b) or fd.name in (lst)",
                "lst",
                &["x"]
            ),
            "proc.name in (a, x , b) or fd.name in ( x )"
        );
    }

    #[test]
    fn quotes_items_with_spaces_and_drops_commas_for_empty_lists() {
        assert_eq!(
            s("x in (l)", "l", &["a b", "'c d'"]),
            "x in ( \"a b\", 'c d' )"
        );
        assert_eq!(s("x in (a, l)", "l", &[]), "x in (a  )");
        assert_eq!(s("x in (l, a)", "l", &[]), "x in (   a)");
        assert_eq!(s("x in (l)", "l", &[]), "x in (  )");
    }

    #[test]
    fn reports_use_and_handles_unicode() {
        let mut c = "é in (l) and l".to_string();
        assert!(substitute(&mut c, "l", &["z".into()]));
        let mut c = "nothing here".to_string();
        assert!(!substitute(&mut c, "l", &["z".into()]));
        assert!(!substitute(&mut c, "", &["z".into()]));
    }
}
