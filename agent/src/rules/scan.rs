//! The condition scanner: a cursor over the text (whitespace, keywords, nesting depth, error
//! positions) and the tokens below the grammar — operators, lists, bare and quoted values.

use super::{
    ast::{Literal, Op, Pos},
    parser::{ParseError, MAX_DEPTH},
};

/// A cursor over a condition's text; the grammar (`parser.rs`) drives it.
pub(super) struct Parser<'a> {
    pub(super) s: &'a str,
    pub(super) i: usize,
    pub(super) depth: usize,
}

pub(super) fn is_field_start(c: char) -> bool {
    c.is_ascii_alphabetic()
}

pub(super) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Characters that end a bare (unquoted) value.
pub(super) fn ends_bare(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"' | '\'' | '=' | ',')
}

impl<'a> Parser<'a> {
    pub(super) fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    pub(super) fn eof(&self) -> bool {
        self.i >= self.s.len()
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(super) fn ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.i += c.len_utf8();
            } else {
                break;
            }
        }
    }

    pub(super) fn err(&self, msg: &str) -> ParseError {
        ParseError {
            msg: msg.to_string(),
            pos: self.i,
            token: self.peek_token(),
        }
    }

    pub(super) fn err_at(&self, pos: Pos, token: &str, msg: String) -> ParseError {
        ParseError {
            msg,
            pos,
            token: token.to_string(),
        }
    }

    /// The next whitespace-delimited chunk, for error messages.
    pub(super) fn peek_token(&self) -> String {
        let r = self.rest();
        let end = r
            .char_indices()
            .find(|(i, c)| c.is_whitespace() || (*i > 0 && matches!(c, '(' | ')')))
            .map(|(i, _)| i)
            .unwrap_or(r.len());
        if end == 0 {
            r.chars().next().map(String::from).unwrap_or_default()
        } else {
            r[..end].to_string()
        }
    }

    /// Consume keyword `kw` if it is next and followed by whitespace, `(` or the end of the
    /// text (so that a dangling `a and` is reported as a missing operand).
    pub(super) fn keyword(&mut self, kw: &str) -> bool {
        let r = self.rest();
        if !r
            .get(..kw.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(kw))
        {
            return false;
        }
        match r[kw.len()..].chars().next() {
            Some(c) if !(c.is_whitespace() || c == '(') => false,
            _ => {
                self.i += kw.len();
                true
            }
        }
    }

    pub(super) fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(&format!("condition nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    pub(super) fn operator(&mut self) -> Option<Op> {
        let r = self.rest();
        for (sym, op) in [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if r.starts_with(sym) {
                self.i += sym.len();
                return Some(op);
            }
        }
        // libsinsp takes `exists` as a prefix: `fd.name existsand m` is `exists and m`;
        // whatever follows must then be a keyword or the end.
        if r.starts_with("exists") {
            self.i += "exists".len();
            return Some(Op::Exists);
        }
        let end = r
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(r.len());
        let word = &r[..end];
        let op = Op::word(word)?;
        let next = r[end..].chars().next();
        let ok = next.is_none_or(|c| c.is_whitespace() || c == '(' || c == '"' || c == '\'');
        if !ok {
            return None;
        }
        self.i += end;
        Some(op)
    }

    pub(super) fn list(&mut self) -> Result<Vec<Literal>, ParseError> {
        self.i += 1; // '('
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(')') {
            self.i += 1;
            return Ok(items);
        }
        loop {
            self.ws();
            items.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(',') => {
                    self.i += 1;
                }
                Some(')') => {
                    self.i += 1;
                    return Ok(items);
                }
                _ => return Err(self.err("expected ',' or ')' in a list")),
            }
        }
    }

    pub(super) fn value(&mut self) -> Result<Literal, ParseError> {
        let pos = self.i;
        match self.peek() {
            Some('"') | Some('\'') => Ok(Literal {
                text: self.quoted()?,
                quoted: true,
                pos,
            }),
            Some(c) if !ends_bare(c) => {
                while let Some(c) = self.peek() {
                    if ends_bare(c) {
                        break;
                    }
                    self.i += c.len_utf8();
                }
                Ok(Literal {
                    text: self.s[pos..self.i].to_string(),
                    quoted: false,
                    pos,
                })
            }
            _ => Err(self.err("expected a value")),
        }
    }

    /// A quoted string, as libsinsp lexes it: it ends at the first quote of its kind not
    /// right after a backslash (so `'a\\'` goes on), then the escapes are read: `\b \f \n
    /// \r \t \/ \\ \xHH`, `\ ` (a backslash), and the string's own quote; any other is an
    /// error.
    pub(super) fn quoted(&mut self) -> Result<String, ParseError> {
        let start = self.i;
        let q = self.peek().unwrap_or('"');
        let body_at = start + q.len_utf8();
        let mut prev = q;
        let mut end = None;
        for (off, c) in self.s[body_at..].char_indices() {
            if c == q && prev != '\\' {
                end = Some(body_at + off);
                break;
            }
            prev = c;
        }
        let Some(end) = end else {
            return Err(self.err("unterminated quoted string"));
        };
        let mut out = String::new();
        let mut chars = self.s[body_at..end].char_indices();
        while let Some((off, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let bad = |me: &mut Self, msg: String| {
                me.i = body_at + off;
                Err(me.err(&msg))
            };
            match chars.next().map(|(_, e)| e) {
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(' ' | '\\') => out.push('\\'),
                Some('/') => out.push('/'),
                Some(e @ ('"' | '\'')) if e == q => out.push(e),
                Some(e @ ('"' | '\'')) => {
                    return bad(self, format!("invalid \\{e} escape in {q}-quoted string"))
                }
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).map(|(_, h)| h).collect();
                    match u8::from_str_radix(&hex, 16) {
                        Ok(b) if hex.len() == 2 => out.push(b as char),
                        _ => return bad(self, format!("invalid hex char escape sequence: {hex}")),
                    }
                }
                Some(e) => return bad(self, format!("unsupported string escape sequence: \\{e}")),
                None => return bad(self, "a backslash ends the string".to_string()),
            }
        }
        self.i = end + q.len_utf8();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ast::Expr, parser::parse};

    /// The right-hand side of `proc.name = <text>`, or the error.
    fn value(text: &str) -> Result<String, String> {
        match parse(&format!("proc.name = {text}")).map_err(|e| e.msg)? {
            Expr::Check(c) => match c.rhs {
                super::super::ast::Rhs::Value(v) => Ok(v.text),
                other => Err(format!("not a value: {other:?}")),
            },
            other => Err(format!("not a check: {other}")),
        }
    }

    #[test]
    fn quoted_strings_end_and_unescape_as_in_libsinsp() {
        // A quote right after a backslash never ends the string, whatever escapes it.
        assert_eq!(
            value(r"'multiple escape single quote \' \\''").as_deref(),
            Ok(r"multiple escape single quote ' \'")
        );
        assert_eq!(value(r#"'mixed "'"#).as_deref(), Ok("mixed \""));
        assert_eq!(value(r#""mixed '""#).as_deref(), Ok("mixed '"));
        assert_eq!(value(r"'a\tb\x41\/'").as_deref(), Ok("a\tbA/"));
        // Each quote escapes only itself.
        assert!(value(r#""mixed \'""#).unwrap_err().contains("escape"));
        assert!(value(r#"'mixed \"'"#).unwrap_err().contains("escape"));
        assert!(value(r"'\q'").unwrap_err().contains("unsupported"));
        assert!(value(r"'\x4'").unwrap_err().contains("hex"));
        assert!(value("'open").unwrap_err().contains("unterminated"));
    }

    #[test]
    fn exists_is_a_prefix_as_in_libsinsp() {
        assert_eq!(
            parse("fd.name existsand m").map(|e| e.to_string()),
            Ok("(fd.name exists and m)".to_string())
        );
        assert!(parse("fd.name existsx").is_err());
    }
}
