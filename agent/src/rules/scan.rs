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
        let end = r
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(r.len());
        let word = &r[..end];
        let op = Op::word(word)?;
        let next = r[end..].chars().next();
        let ok = match op {
            // `exists` may end the condition or be followed by ')'.
            Op::Exists => next.is_none_or(|c| c.is_whitespace() || c == ')'),
            _ => next.is_none_or(|c| c.is_whitespace() || c == '(' || c == '"' || c == '\''),
        };
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

    pub(super) fn quoted(&mut self) -> Result<String, ParseError> {
        let start = self.i;
        let q = self.peek().unwrap_or('"');
        self.i += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((off, c)) = chars.next() {
            if c == q {
                self.i += off + 1;
                return Ok(out);
            }
            if c == '\\' {
                match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, 'r')) => out.push('\r'),
                    Some((_, e)) if e == q || e == '\\' => out.push(e),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => break,
                }
            } else {
                out.push(c);
            }
        }
        self.i = start;
        Err(self.err("unterminated quoted string"))
    }
}
