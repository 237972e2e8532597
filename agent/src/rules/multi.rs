//! The multivalue transformers of libs 0.25 — `join(sep, list)`, `concat(a, b, ...)`,
//! `getopt(argv_list, optstring)[opt]` — from their syntax to their values: parsed as
//! libsinsp parses them, type-checked as its compiler checks them, evaluated on an event.

use super::{
    ast::{MArg, Multi, MultiCall, Operand, Pos, Transformer},
    compile,
    extract::Ctx,
    fields::{Arg, Bound, F},
    ir::Extract,
    output::{list_of, value_of, Listed},
    parser::{is_number, ParseError},
    scan::{ends_bare, is_field_start, Parser},
    value::{Type, Val},
};

impl Parser<'_> {
    /// `name(` seen (the cursor at `(`): the arguments, the `)` and an optional `[arg]`.
    pub(super) fn multi_body(&mut self, kind: Multi, pos: Pos) -> Result<Operand, ParseError> {
        self.enter()?;
        self.i += 1; // '('
        let mut args = Vec::new();
        loop {
            self.ws();
            args.push(self.multi_arg(true)?);
            self.ws();
            match self.peek() {
                Some(',') => self.i += 1,
                Some(')') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(self.err(&format!("expected ',' or ')' in {}(", kind.name()))),
            }
        }
        let select = if self.peek() == Some('[') {
            self.i += 1;
            let v = if matches!(self.peek(), Some('"' | '\'')) {
                self.quoted()?
            } else {
                let start = self.i;
                while let Some(c) = self.peek().filter(|c| *c != ']' && !c.is_whitespace()) {
                    self.i += c.len_utf8();
                }
                let v = self.s[start..self.i].to_string();
                if v.is_empty() {
                    return Err(self.err("expected a valid field argument"));
                }
                v
            };
            if self.peek() != Some(']') {
                return Err(self.err("expected a ']' token"));
            }
            self.i += 1;
            Some(v)
        } else {
            None
        };
        self.depth -= 1;
        Ok(Operand::Multi(Box::new(MultiCall {
            kind,
            args,
            select,
            pos,
        })))
    }

    /// One argument: a quoted string, a number, a field or a transformer, or (at the top
    /// level only) a parenthesised list of those.
    fn multi_arg(&mut self, top: bool) -> Result<MArg, ParseError> {
        let bad = "expected field transformer argument: field, transformer, quoted string, number, or transformer list";
        match self.peek() {
            Some('"' | '\'') => Ok(MArg::Lit(self.quoted()?)),
            Some('(') if top => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(')') {
                    self.i += 1;
                    return Ok(MArg::List(items));
                }
                loop {
                    self.ws();
                    items.push(self.multi_arg(false)?);
                    self.ws();
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some(')') => {
                            self.i += 1;
                            return Ok(MArg::List(items));
                        }
                        _ => return Err(self.err("expected ',' or ')' in a transformer list")),
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == '+' || c == '-' => {
                let start = self.i;
                while let Some(c) = self.peek().filter(|c| !ends_bare(*c)) {
                    self.i += c.len_utf8();
                }
                let t = &self.s[start..self.i];
                if is_number(t) {
                    Ok(MArg::Lit(t.to_string()))
                } else {
                    Err(self.err_at(start, t, bad.into()))
                }
            }
            Some(c) if is_field_start(c) => {
                let start = self.i;
                let word = self.ident_or_field();
                if self.peek() == Some('(') && !word.contains('.') {
                    if let Some(t) = Transformer::from_name(&word) {
                        return Ok(MArg::Operand(self.transform_body(t, start)?));
                    }
                    if let Some(m) = Multi::from_name(&word) {
                        return Ok(MArg::Operand(self.multi_body(m, start)?));
                    }
                    return Err(self.err_at(start, &word, format!("unknown transformer '{word}'")));
                }
                if !word.contains('.') {
                    return Err(self.err_at(start, &word, bad.into()));
                }
                Ok(MArg::Operand(Operand::Field(self.field_arg(word, start)?)))
            }
            _ => Err(self.err(bad)),
        }
    }
}

/// A compiled argument.
#[derive(Clone, Debug)]
pub(crate) enum CArg {
    Lit(String),
    Ex(Extract),
    List(Vec<CArg>),
}

/// A compiled multivalue transformer.
#[derive(Clone, Debug)]
pub(crate) struct CMulti {
    kind: Multi,
    args: Vec<CArg>,
    select: Option<char>,
}

type Error = (String, String);

fn arg(a: &MArg) -> Result<CArg, Error> {
    Ok(match a {
        MArg::Lit(s) => CArg::Lit(s.clone()),
        MArg::Operand(o) => CArg::Ex(compile::extract(o)?),
        MArg::List(v) => CArg::List(v.iter().map(arg).collect::<Result<_, _>>()?),
    })
}

/// A string, as libsinsp types an argument: by its field's own type (a transformer does not
/// change it), a literal or a nested multivalue transformer being one.
fn is_string(a: &CArg) -> bool {
    match a {
        CArg::Lit(_) => true,
        CArg::Ex(e) if e.multi.is_none() && e.is_list() => false,
        CArg::Ex(e) => e.multi.is_some() || matches!(e.field.ty, Type::Str | Type::Dyn),
        CArg::List(_) => false,
    }
}

/// Type-check a call and make it the left-hand side of a check.
pub(super) fn compile(m: &MultiCall) -> Result<Extract, Error> {
    let name = m.kind.name();
    let e = |msg: String| Err((msg, name.to_string()));
    if m.args.len() == 1 {
        return e(format!("unknown field transformer '{name}'"));
    }
    let args: Vec<CArg> = m.args.iter().map(arg).collect::<Result<_, _>>()?;
    // A literal list, or a list field (`fd.types`).
    let list = |a: &CArg| match a {
        CArg::List(_) => true,
        CArg::Ex(e) => e.multi.is_none() && e.is_list(),
        CArg::Lit(_) => false,
    };
    match m.kind {
        Multi::Join => {
            if args.len() != 2 {
                return e("join() requires exactly 2 arguments: separator and list".into());
            }
            if list(&args[0]) {
                return e(
                    "join() first argument (separator) must be a single value, not a list".into(),
                );
            }
            if !list(&args[1]) {
                return e("join() second argument must be a list".into());
            }
        }
        Multi::Concat => {
            if args.len() < 2 {
                return e("concat() requires at least 2 arguments".into());
            }
            if !args.iter().all(is_string) {
                return e("concat() arguments must be strings".into());
            }
        }
        Multi::Getopt => {
            if args.len() != 2 {
                return e("getopt() requires exactly 2 arguments: args list and optstring".into());
            }
            let CArg::List(items) = &args[0] else {
                return e("getopt() first argument must be a list".into());
            };
            if list(&args[1]) {
                return e("getopt() second argument (optstring) must be a single value".into());
            }
            if !items.iter().all(is_string) || !is_string(&args[1]) {
                return e("getopt() arguments must be strings".into());
            }
        }
    }
    let select = match (&m.select, m.kind) {
        (None, _) => None,
        (Some(s), Multi::Getopt) => {
            let mut c = s.chars();
            match (c.next(), c.next()) {
                (Some(ch), None) => Some(ch),
                _ => return e("getopt() field argument must be a single option character".into()),
            }
        }
        (Some(_), _) => {
            return e(format!(
                "transformer '{name}' does not support field arguments"
            ))
        }
    };
    let text = Operand::Multi(Box::new(m.clone())).to_string();
    Ok(Extract {
        field: Bound {
            f: F::Multi,
            ty: Type::Str,
            arg: Arg::None,
            display: text,
            any: false,
        },
        transforms: Vec::new(),
        multi: Some(Box::new(CMulti {
            kind: m.kind,
            args,
            select,
        })),
    })
}

impl CMulti {
    /// A list (getopt without an option): only `in`, `intersects` and `exists` apply.
    pub(crate) fn is_list(&self) -> bool {
        self.kind == Multi::Getopt && self.select.is_none()
    }

    /// Every field the call reads, nested calls included.
    pub(crate) fn extracts<'n>(&'n self, f: &mut impl FnMut(&'n Extract)) {
        fn walk<'n>(a: &'n CArg, f: &mut impl FnMut(&'n Extract)) {
            match a {
                CArg::Lit(_) => {}
                CArg::Ex(e) => {
                    f(e);
                    if let Some(m) = &e.multi {
                        m.extracts(f);
                    }
                }
                CArg::List(v) => v.iter().for_each(|x| walk(x, f)),
            }
        }
        self.args.iter().for_each(|a| walk(a, f));
    }

    /// The values (one for a scalar call); `None` when an argument has none (the check is
    /// then false, as in libsinsp).
    pub(crate) fn eval(&self, cx: &Ctx<'_>) -> Option<Vec<String>> {
        fn one(a: &CArg, cx: &Ctx<'_>) -> Option<String> {
            match a {
                CArg::Lit(s) => Some(s.clone()),
                CArg::Ex(e) => value_of(cx, e).map(|v| v.render()),
                CArg::List(_) => None,
            }
        }
        fn many(a: &CArg, cx: &Ctx<'_>) -> Option<Vec<String>> {
            match a {
                CArg::List(v) => v.iter().map(|x| one(x, cx)).collect(),
                CArg::Ex(e) => match list_of(cx, e) {
                    Listed::Items(v) => Some(v.iter().map(Val::render).collect()),
                    Listed::One(_) => None,
                },
                _ => None,
            }
        }
        match self.kind {
            Multi::Join => {
                let sep = one(&self.args[0], cx)?;
                Some(vec![many(&self.args[1], cx)?.join(&sep)])
            }
            Multi::Concat => Some(vec![self
                .args
                .iter()
                .map(|a| one(a, cx))
                .collect::<Option<Vec<_>>>()?
                .concat()]),
            Multi::Getopt => {
                let argv = many(&self.args[0], cx)?;
                let opts = one(&self.args[1], cx)?;
                getopt(&argv, &opts, self.select)
            }
        }
    }
}

/// libsinsp's getopt: the options of `argv` as `optstring` defines them (`c:` takes an
/// argument), in order, an option's argument after it, `?` for an unknown option; with
/// `select`, that option's last value alone (its argument, or itself when it takes none;
/// `None` when it is not there). The scan stops at `--`, a lone `-` or the first operand;
/// `--long` options are skipped.
pub(crate) fn getopt(
    argv: &[String],
    optstring: &str,
    select: Option<char>,
) -> Option<Vec<String>> {
    let spec: Vec<char> = optstring.chars().collect();
    let mut takes = std::collections::HashMap::new();
    let mut i = usize::from(spec.first() == Some(&':'));
    while i < spec.len() {
        let c = spec[i];
        i += 1;
        let mut arg = false;
        while spec.get(i) == Some(&':') {
            arg = true;
            i += 1;
        }
        takes.entry(c).or_insert(arg);
    }
    let mut out = Vec::new();
    let mut picked: Option<String> = None;
    let mut idx = 0;
    while idx < argv.len() {
        let tok = &argv[idx];
        if tok == "--" {
            break;
        }
        if tok.len() > 2 && tok.starts_with("--") {
            idx += 1;
            continue;
        }
        if tok.is_empty() || !tok.starts_with('-') || tok == "-" {
            break;
        }
        let chars: Vec<char> = tok.chars().skip(1).collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            j += 1;
            match takes.get(&c).filter(|_| c != ':') {
                None => {
                    if select.is_none() {
                        out.push("?".to_string());
                    }
                }
                Some(false) => {
                    if select.is_none() || select == Some(c) {
                        picked = Some(c.to_string());
                    }
                    out.push(c.to_string());
                }
                Some(true) => {
                    let val = if j < chars.len() {
                        Some(chars[j..].iter().collect::<String>())
                    } else if idx + 1 < argv.len() {
                        idx += 1;
                        Some(argv[idx].clone())
                    } else {
                        None
                    };
                    match val {
                        Some(v) => {
                            out.push(c.to_string());
                            if select == Some(c) {
                                picked = Some(v.clone());
                            }
                            out.push(v);
                        }
                        None => {
                            out.push(String::new());
                            if select == Some(c) {
                                picked = Some(String::new());
                            }
                        }
                    }
                    break;
                }
            }
        }
        idx += 1;
    }
    match select {
        None => Some(out),
        Some(_) => picked.map(|p| vec![p]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(argv: &[&str], opts: &str, select: Option<char>) -> Option<Vec<String>> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        getopt(&argv, opts, select)
    }

    fn v(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn getopt_reads_options_as_libsinsp_does() {
        assert_eq!(
            g(&["-n", "-t", "hello"], "nt:", None),
            v(&["n", "t", "hello"])
        );
        assert_eq!(g(&["-nthello"], "nt:", None), v(&["n", "t", "hello"]));
        assert_eq!(g(&["-nx"], "n", None), v(&["n", "?"]));
        assert_eq!(g(&["-n", "--", "-t"], "nt:", None), v(&["n"]));
        assert_eq!(g(&["--exec", "-n"], "n", None), v(&["n"]));
        assert_eq!(g(&["arg1", "-n"], "n", None), v(&[]));
        assert_eq!(g(&["-t"], "t:", None), v(&[""]));
        assert_eq!(g(&["-t", "v1", "-t", "v2"], "t:", Some('t')), v(&["v2"]));
        assert_eq!(g(&["-t", "v1", "-t"], "t:", Some('t')), v(&[""]));
        assert_eq!(g(&["-n"], "nt:", Some('t')), None);
        assert_eq!(g(&["-n", "-t", "x"], "nt:", Some('n')), v(&["n"]));
        assert_eq!(g(&["-t:"], ":t:", Some('t')), v(&[":"]));
    }
}
