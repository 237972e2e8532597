//! The Falco condition grammar (libsinsp's), by recursive descent over the text:
//!
//! ```text
//! Expr  := And ('or' And)*            -- lowest precedence
//! And   := Not ('and' Not)*
//! Not   := 'not' Not | Check          -- `not a and b` = `(not a) and b`
//! Check := '(' Expr ')' | Operand Cond | Identifier   -- identifier: a macro
//! Cond  := 'exists' | CmpOp Value | ListOp List
//! ```
//! Lists have been substituted into the text before parsing (Falco does the same). Tokens come
//! from the scanner (`scan.rs`).

use super::{
    ast::{Check, Expr, FieldRef, Modifier, Multi, Op, Operand, Pos, Rhs, Transformer},
    scan::{is_field_start, is_ident_char, Parser},
};

/// Deepest nesting accepted (Falco's loader uses 1000; the parser's default is 100).
pub(crate) const MAX_DEPTH: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub(crate) struct ParseError {
    pub(crate) msg: String,
    /// Byte offset in the condition.
    pub(crate) pos: Pos,
    /// The text the error is about, to find it in the source file.
    pub(crate) token: String,
}

pub(crate) fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        s: text,
        i: 0,
        depth: 0,
    };
    p.ws();
    if p.eof() {
        return Err(p.err("empty condition"));
    }
    let e = p.expr()?;
    p.ws();
    if !p.eof() {
        return Err(p.err(&format!(
            "unexpected '{}' after a complete condition",
            p.peek_token()
        )));
    }
    Ok(e)
}

impl<'a> Parser<'a> {
    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut items = vec![self.and()?];
        loop {
            self.ws();
            if self.keyword("or") {
                self.ws();
                items.push(self.and()?);
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.not()?];
        loop {
            self.ws();
            if self.keyword("and") {
                self.ws();
                items.push(self.not()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        // Iterative, so `not not not ...` costs no stack.
        let mut nots = 0usize;
        loop {
            self.ws();
            if self.keyword("not") {
                nots += 1;
                if nots > MAX_DEPTH {
                    return Err(
                        self.err(&format!("condition nested deeper than {MAX_DEPTH} levels"))
                    );
                }
            } else {
                break;
            }
        }
        let mut e = self.check()?;
        for _ in 0..nots {
            e = Expr::Not(Box::new(e));
        }
        Ok(e)
    }

    fn check(&mut self) -> Result<Expr, ParseError> {
        self.ws();
        let start = self.i;
        match self.peek() {
            None => Err(self.err("condition ends where a check was expected")),
            Some('(') => {
                self.i += 1;
                let e = self.expr()?;
                self.ws();
                if self.peek() != Some(')') {
                    if self.eof() {
                        return Err(self.err_at(start, "(", "this '(' is never closed".into()));
                    }
                    return Err(self.err("expected ')'"));
                }
                self.i += 1;
                Ok(e)
            }
            Some(c) if is_field_start(c) => {
                let word = self.ident_or_field();
                // A transformer call: `tolower(proc.name) = ...`.
                if self.peek() == Some('(') && !word.contains('.') {
                    if let Some(t) = Transformer::from_name(&word) {
                        let lhs = self.transform_body(t, start)?;
                        return self.cond(lhs, start);
                    }
                    if let Some(m) = Multi::from_name(&word) {
                        let lhs = self.multi_body(m, start)?;
                        return self.cond(lhs, start);
                    }
                    return Err(self.err_at(start, &word, format!("unknown transformer '{word}'")));
                }
                if !word.contains('.') {
                    return Ok(Expr::Macro {
                        name: word,
                        pos: start,
                    });
                }
                let field = self.field_arg(word, start)?;
                self.cond(Operand::Field(field), start)
            }
            Some(_) => Err(self.err(&format!(
                "expected a field, a macro or '(' but found '{}'",
                self.peek_token()
            ))),
        }
    }

    /// `[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)*`
    pub(super) fn ident_or_field(&mut self) -> String {
        let start = self.i;
        let b = self.s.as_bytes();
        let mut j = self.i;
        while j < b.len() {
            let c = b[j] as char;
            let dot_then_ident = c == '.' && j + 1 < b.len() && is_ident_char(b[j + 1] as char);
            if is_ident_char(c) || dot_then_ident {
                j += 1;
            } else {
                break;
            }
        }
        self.i = j;
        self.s[start..j].to_string()
    }

    /// An optional `[arg]` right after a field name.
    pub(super) fn field_arg(&mut self, name: String, pos: Pos) -> Result<FieldRef, ParseError> {
        if self.peek() != Some('[') {
            return Ok(FieldRef {
                name,
                arg: None,
                pos,
            });
        }
        self.i += 1;
        let arg = if matches!(self.peek(), Some('"') | Some('\'')) {
            self.quoted()?
        } else {
            let start = self.i;
            while let Some(c) = self.peek() {
                if c == ']' || c == '[' || c == '"' || c == '\'' || c.is_whitespace() {
                    break;
                }
                self.i += c.len_utf8();
            }
            let a = self.s[start..self.i].to_string();
            if a.is_empty() {
                return Err(self.err(&format!("{name}[] needs an argument")));
            }
            a
        };
        if self.peek() != Some(']') {
            return Err(self.err(&format!("expected ']' after the argument of {name}")));
        }
        self.i += 1;
        Ok(FieldRef {
            name,
            arg: Some(arg),
            pos,
        })
    }

    /// `t(` already seen the name; parse `operand )`.
    pub(super) fn transform_body(
        &mut self,
        t: Transformer,
        start: Pos,
    ) -> Result<Operand, ParseError> {
        self.enter()?;
        self.i += 1; // '('
        self.ws();
        let inner_start = self.i;
        let word = self.ident_or_field();
        let inner = if self.peek() == Some('(') {
            match (Transformer::from_name(&word), Multi::from_name(&word)) {
                (Some(t2), _) => self.transform_body(t2, inner_start)?,
                (None, Some(m)) => self.multi_body(m, inner_start)?,
                (None, None) => {
                    return Err(self.err_at(
                        inner_start,
                        &word,
                        format!("unknown transformer '{word}'"),
                    ))
                }
            }
        } else if word.contains('.') {
            Operand::Field(self.field_arg(word, inner_start)?)
        } else {
            return Err(self.err_at(
                inner_start,
                &word,
                format!("{}() needs a field, found '{word}'", t.name()),
            ));
        };
        self.ws();
        if self.peek() != Some(')') {
            return Err(self.err(&format!("expected ')' to close {}(", t.name())));
        }
        self.i += 1;
        self.depth -= 1;
        let _ = start;
        Ok(Operand::Transform(t, Box::new(inner)))
    }

    fn cond(&mut self, lhs: Operand, pos: Pos) -> Result<Expr, ParseError> {
        self.ws();
        let op_pos = self.i;
        let op = self.operator().ok_or_else(|| {
            self.err(&format!(
                "expected an operator after {lhs} but found '{}'",
                self.peek_token()
            ))
        })?;
        if op == Op::Exists {
            return Ok(Expr::Check(Check {
                lhs,
                op,
                rhs: Rhs::None,
                pos,
            }));
        }
        let before = self.i;
        self.ws();
        let had_blank = self.i > before;
        if let Some(m) = self.modifier(op, had_blank) {
            let items = if self.peek() == Some('(') {
                self.list()?
            } else {
                // A name (a list the text did not define): one item.
                vec![self.value()?]
            };
            return Ok(Expr::Check(Check {
                lhs,
                op,
                rhs: Rhs::Mod(m, items),
                pos,
            }));
        }
        let rhs = if op.takes_list() {
            if self.peek() == Some('(') {
                Rhs::List(self.list()?)
            } else if let Some(o) = self.rhs_operand()? {
                Rhs::Operand(o)
            } else {
                return Err(self.err(&format!("'{}' needs a list: ( ... )", op.as_str())));
            }
        } else if let Some(o) = self.rhs_operand()? {
            Rhs::Operand(o)
        } else {
            let v = self.value()?;
            // The order operators take a number in libsinsp's grammar (`NumValue`), whatever
            // the field's type.
            if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && (v.quoted || !is_number(&v.text))
            {
                return Err(self.err_at(
                    v.pos,
                    &v.text,
                    format!("'{}' needs a number, found '{}'", op.as_str(), v.text),
                ));
            }
            Rhs::Value(v)
        };
        let _ = op_pos;
        Ok(Expr::Check(Check { lhs, op, rhs, pos }))
    }

    /// A modifier after a string operator, consumed with the blanks after it, when libsinsp
    /// would read one: blanks before and after it, then a list or a name, and not a boolean
    /// keyword (else `oneof` is a plain value: `proc.name = oneof and ...`).
    fn modifier(&mut self, op: Op, had_blank: bool) -> Option<Modifier> {
        if !had_blank || !op.takes_modifier() {
            return None;
        }
        let r = self.rest();
        let word_end = r
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(r.len());
        let m = Modifier::from_name(&r[..word_end])?;
        let after = &r[word_end..];
        let blanks = after.len() - after.trim_start().len();
        if blanks == 0 {
            return None;
        }
        let next = &after[blanks..];
        let list_follows =
            next.starts_with('(') || next.starts_with(|c: char| c.is_ascii_alphabetic());
        let keyword_follows = ["and", "or", "not"].iter().any(|k| {
            next.strip_prefix(k)
                .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric()))
        });
        if !list_follows || keyword_follows {
            return None;
        }
        self.i += word_end + blanks;
        Some(m)
    }

    /// `val(field)` or a transformer on the right-hand side, if that is what comes next.
    fn rhs_operand(&mut self) -> Result<Option<Operand>, ParseError> {
        let r = self.rest();
        let name_end = r.find(|c: char| !is_ident_char(c)).unwrap_or(r.len());
        if name_end == 0 || !r[name_end..].starts_with('(') {
            return Ok(None);
        }
        let name = &r[..name_end];
        let start = self.i;
        if name == "val" {
            self.i += name_end + 1;
            self.ws();
            let fstart = self.i;
            let word = self.ident_or_field();
            if !word.contains('.') {
                return Err(self.err_at(
                    fstart,
                    &word,
                    format!("val() needs a field, found '{word}'"),
                ));
            }
            let f = self.field_arg(word, fstart)?;
            self.ws();
            if self.peek() != Some(')') {
                return Err(self.err("expected ')' to close val("));
            }
            self.i += 1;
            return Ok(Some(Operand::Field(f)));
        }
        if let Some(t) = Transformer::from_name(name) {
            self.i += name_end;
            return self.transform_body(t, start).map(Some);
        }
        if let Some(m) = Multi::from_name(name) {
            self.i += name_end;
            return self.multi_body(m, start).map(Some);
        }
        Ok(None)
    }
}

/// libsinsp's `NumValue`: `[+-]?` then a hex integer (`0x1F`) or a decimal with an optional
/// fraction and exponent (`-0.12e+10`).
pub(super) fn is_number(t: &str) -> bool {
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mant_ok = match mant.split_once('.') {
        Some((i, f)) => digits(i) && digits(f),
        None => digits(mant),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mant_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers_as_libsinsp_reads_them() {
        assert_eq!(
            p("proc.name startswith oneof (a, b)"),
            "proc.name startswith oneof (a, b)"
        );
        assert_eq!(p("proc.name == allof ()"), "proc.name = allof ()");
        // Not a modifier: a plain value.
        assert_eq!(
            p("proc.name == oneof and proc.name == anyof (cat)"),
            "(proc.name = oneof and proc.name = anyof (cat))"
        );
        assert_eq!(p("(proc.name == oneof)"), "proc.name = oneof");
        for bad in [
            "proc.name ==oneof (cat)",
            "proc.name == oneof(cat)",
            "proc.name == ONEOF (cat)",
            "proc.name in oneof (cat)",
            "proc.num > oneof (1, 2)",
            "proc.name == oneof (a,,b)",
            "proc.name == oneof_x (cat)",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn order_operators_take_numbers() {
        for ok in [
            "1000",
            "+1",
            "-1",
            "0x12345",
            "0XaB00AB",
            "1.2",
            "-0.1222e+10",
        ] {
            assert!(is_number(ok), "{ok}");
            assert!(parse(&format!("proc.cmdline > {ok}")).is_ok(), "{ok}");
        }
        for bad in ["a", "0aaaaa", "0xAAA.1", "!0.1222e+10", "1.", ".5", "1e"] {
            assert!(!is_number(bad), "{bad}");
        }
        assert!(parse("fd.name > (value)").is_err());
        assert!(parse("proc.name < 'x'").is_err());
        assert!(parse("fd.num < val(fd.num)").is_ok());
    }

    fn p(s: &str) -> String {
        parse(s)
            .map(|e| e.to_string())
            .unwrap_or_else(|e| format!("ERR {} @{}", e.msg, e.pos))
    }

    #[test]
    fn precedence_is_or_and_not() {
        assert_eq!(p("a or b and c"), "(a or (b and c))");
        assert_eq!(p("not a and b"), "(not a and b)");
        assert_eq!(p("not (a and b)"), "not (a and b)");
        assert_eq!(p("a and not not b or c"), "((a and not not b) or c)");
        assert_eq!(p("((a))"), "a");
    }

    #[test]
    fn checks_and_values() {
        assert_eq!(p("evt.type=open"), "evt.type = open");
        assert_eq!(
            p("evt.type == open and proc.name!=cat"),
            "(evt.type = open and proc.name != cat)"
        );
        assert_eq!(p("fd.name startswith /etc"), "fd.name startswith /etc");
        assert_eq!(
            p("proc.name in (a, 'b c', \"d\")"),
            "proc.name in (a, \"b c\", \"d\")"
        );
        assert_eq!(p("proc.name in ()"), "proc.name in ()");
        assert_eq!(
            p("proc.pname in (runc:[0:PARENT], runc:[1:CHILD])"),
            "proc.pname in (runc:[0:PARENT], runc:[1:CHILD])"
        );
        assert_eq!(p("proc.aname[2] = sh"), "proc.aname[2] = sh");
        assert_eq!(
            p("container.mount.dest[/var/run/docker.sock] exists"),
            "container.mount.dest[/var/run/docker.sock] exists"
        );
        assert_eq!(
            p("not proc.pname exists or x"),
            "(not proc.pname exists or x)"
        );
        assert_eq!(p("evt.rawres >= 0"), "evt.rawres >= 0");
        assert_eq!(p("fd.num<3"), "fd.num < 3");
        assert_eq!(p("evt.dir = <"), "evt.dir = <");
        assert_eq!(
            p("evt.buffer bcontains CAFEBABE"),
            "evt.buffer bcontains CAFEBABE"
        );
        assert_eq!(
            p(r#"proc.cmdline contains "a \"q\" b""#),
            r#"proc.cmdline contains "a \"q\" b""#
        );
        assert_eq!(
            p("proc.env[\"HTTP PROXY\"] exists"),
            "proc.env[HTTP PROXY] exists"
        );
    }

    #[test]
    fn transformers_and_val() {
        assert_eq!(p("tolower(proc.name) = bash"), "tolower(proc.name) = bash");
        assert_eq!(
            p("proc.name = val(proc.pname)"),
            "proc.name = val(proc.pname)"
        );
        assert_eq!(p("len(proc.args) > 10"), "len(proc.args) > 10");
        assert_eq!(
            p("basename(toupper(fd.name)) = X"),
            "basename(toupper(fd.name)) = X"
        );
        assert_eq!(
            p("fd.name = tolower(fd.nameraw)"),
            "fd.name = val(tolower(fd.nameraw))"
        );
        assert!(p("nosuch(proc.name) = x").starts_with("ERR unknown transformer 'nosuch'"));
    }

    #[test]
    fn keywords_need_a_delimiter() {
        // `android` is a macro name, not `and` + `roid`.
        assert_eq!(p("android"), "android");
        assert_eq!(p("a and(b)"), "(a and b)");
        assert_eq!(p("notice"), "notice");
        assert_eq!(
            p("proc.name containsx"),
            "ERR expected an operator after proc.name but found 'containsx' @10"
        );
    }

    #[test]
    fn multibyte_text_never_splits_a_character() {
        // Found by the fuzzer: a keyword check sliced inside a UTF-8 character.
        assert!(parse("a or\u{6da}vt.type = x").is_err());
        assert!(parse("a \u{e9}t b").is_err());
        assert!(parse("proc.name = \u{1f600}").is_ok());
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("proc.name = a and").unwrap_err();
        assert!(e.msg.contains("check was expected"), "{}", e.msg);
        let e = parse("proc.name in (a, b").unwrap_err();
        assert_eq!(e.msg, "expected ',' or ')' in a list");
        let e = parse("(a and b").unwrap_err();
        assert_eq!((e.msg.as_str(), e.pos), ("this '(' is never closed", 0));
        let e = parse("(a and b c").unwrap_err();
        assert_eq!(e.msg, "expected ')'");
        let e = parse("a b").unwrap_err();
        assert_eq!(
            (e.msg.as_str(), e.pos, e.token.as_str()),
            ("unexpected 'b' after a complete condition", 2, "b")
        );
        assert!(parse("").is_err());
        assert!(parse("proc.name = 'open")
            .unwrap_err()
            .msg
            .contains("unterminated"));
        assert!(parse("= x").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        // The loader parses on a thread with a large stack; so does this test (debug frames
        // are big).
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(|| {
                let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
                assert!(parse(&deep).unwrap_err().msg.contains("nested deeper"));
                let ok = format!("{}a{}", "(".repeat(900), ")".repeat(900));
                assert!(parse(&ok).is_ok());
                let nots = format!("{}a", "not ".repeat(5000));
                assert!(parse(&nots).is_err());
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
