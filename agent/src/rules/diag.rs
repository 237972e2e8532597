//! Located diagnostics: every load error or warning names file:line:col and the item.

use std::fmt;

/// Where something is: a source index and a 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Loc {
    pub(crate) file: usize,
    pub(crate) line: usize,
    pub(crate) col: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Error,
    Warning,
}

/// An error or warning from loading rules, located in its file where it can be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diag {
    pub(crate) level: Level,
    pub(crate) loc: Option<Loc>,
    /// The item concerned: `rule 'Shell in container'`, `macro 'container'`, ...
    pub(crate) item: String,
    pub(crate) msg: String,
}

impl Diag {
    pub(crate) fn error(loc: Option<Loc>, item: impl Into<String>, msg: impl Into<String>) -> Diag {
        Diag {
            level: Level::Error,
            loc,
            item: item.into(),
            msg: msg.into(),
        }
    }

    pub(crate) fn warning(
        loc: Option<Loc>,
        item: impl Into<String>,
        msg: impl Into<String>,
    ) -> Diag {
        Diag {
            level: Level::Warning,
            loc,
            item: item.into(),
            msg: msg.into(),
        }
    }

    /// In file order, then by position; unlocated last.
    pub(crate) fn sort_key(&self) -> (bool, Option<Loc>) {
        (self.loc.is_none(), self.loc)
    }

    /// `file:line:col: error: rule 'X': message`
    pub fn render(&self, files: &[String]) -> String {
        let place = match self.loc {
            Some(l) => format!(
                "{}:{}:{}: ",
                files.get(l.file).map(String::as_str).unwrap_or("?"),
                l.line,
                l.col
            ),
            None => String::new(),
        };
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        if self.item.is_empty() {
            format!("{place}{level}: {}", self.msg)
        } else {
            format!("{place}{level}: {}: {}", self.item, self.msg)
        }
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&[]))
    }
}

/// Find `token` in `text` at or after (line, col), to point at the offending part of a
/// condition whose text went through YAML folding or list substitution. Falls back to the
/// start position.
pub(crate) fn locate(text: &str, file: usize, line: usize, col: usize, token: &str) -> Loc {
    let start = Loc { file, line, col };
    if token.is_empty() {
        return start;
    }
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            offset += l
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(l.len(), |(b, _)| b);
            break;
        }
        offset += l.len();
    }
    let Some(rest) = text.get(offset..) else {
        return start;
    };
    // Only look a reasonable distance ahead (the item's own text).
    let window = rest
        .char_indices()
        .nth(20_000)
        .map_or(rest.len(), |(b, _)| b);
    let Some(found) = rest[..window].find(token) else {
        return start;
    };
    let abs = offset + found;
    let before = &text[..abs];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Loc { file, line, col }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_located_messages() {
        let d = Diag::error(
            Some(Loc {
                file: 0,
                line: 3,
                col: 14,
            }),
            "rule 'X'",
            "unknown field proc.nmae",
        );
        assert_eq!(
            d.render(&["r.yaml".into()]),
            "r.yaml:3:14: error: rule 'X': unknown field proc.nmae"
        );
        let w = Diag::warning(None, "", "no rules");
        assert_eq!(w.render(&[]), "warning: no rules");
    }

    #[test]
    fn locates_tokens_after_a_start() {
        let t = "- rule: a\n  condition: >\n    evt.type = open and\n    proc.nmae = x\n";
        assert_eq!(
            locate(t, 0, 2, 14, "proc.nmae"),
            Loc {
                file: 0,
                line: 4,
                col: 5
            }
        );
        assert_eq!(
            locate(t, 0, 2, 14, "absent"),
            Loc {
                file: 0,
                line: 2,
                col: 14
            }
        );
        assert_eq!(
            locate(t, 0, 2, 14, ""),
            Loc {
                file: 0,
                line: 2,
                col: 14
            }
        );
    }
}
