//! Field values, typed constants, and the comparison semantics of every operator
//! (following libsinsp: `glob` is fnmatch without FNM_PATHNAME, `regex` must match the whole
//! value, `pmatch` is a path-prefix match on whole components, a missing value never
//! compares true).

use std::{borrow::Cow, collections::HashSet, fmt, net::IpAddr};

/// The sets `in`/`intersects` compare against, looked up on every evaluation: a fast hasher
/// (SipHash was a seventh of the engine's time); seeded per process, so event values cannot
/// be chosen to collide.
pub(crate) type Set<T> = HashSet<T, foldhash::fast::RandomState>;

use globset::{GlobBuilder, GlobMatcher};
use ipnet::IpNet;
use regex::Regex;

use super::ast::Op;

/// Type of a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Type {
    Str,
    Int,
    Bool,
    /// An IP address; compared with addresses or networks (`fd.net = 10.0.0.0/8`).
    Ip,
    /// Decoded syscall arguments: numbers compare as numbers, everything else as text.
    Dyn,
    /// A byte buffer (`evt.buffer`): Falco's PT_BYTEBUF operators.
    Bytes,
    /// A fraction (`thread.cpu`): compared as a number; constants are whole numbers.
    Double,
    /// A socket address or a connection tuple as a raw argument: libsinsp compares neither,
    /// only `exists` applies.
    Addr,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Str => "string",
            Type::Int => "number",
            Type::Bool => "bool",
            Type::Ip => "IP address",
            Type::Dyn => "argument",
            Type::Bytes => "buffer",
            Type::Double => "double",
            Type::Addr => "socket address",
        })
    }
}

/// An extracted value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
    /// Raw bytes (`evt.buffer`): compared as bytes, shown as Falco shows them.
    Bytes(Cow<'a, [u8]>),
}

impl Val<'_> {
    pub(crate) fn render(&self) -> String {
        match self {
            Val::Str(s) => s.to_string(),
            Val::Bytes(b) => crate::syscalls::value::printable_bytes(b),
            Val::Int(i) => i.to_string(),
            Val::Bool(b) => b.to_string(),
            Val::Ip(ip) => ip.to_string(),
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Val::Str(s) => serde_json::Value::String(s.to_string()),
            Val::Int(i) => serde_json::Value::from(*i),
            Val::Bool(b) => serde_json::Value::Bool(*b),
            Val::Ip(ip) => serde_json::Value::String(ip.to_string()),
            Val::Bytes(b) => serde_json::Value::String(crate::syscalls::value::printable_bytes(b)),
        }
    }

    /// The bytes the byte comparisons look at.
    fn bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Val::Bytes(b) => Cow::Borrowed(b.as_ref()),
            Val::Str(s) => Cow::Borrowed(s.as_bytes()),
            other => Cow::Owned(other.render().into_bytes()),
        }
    }

    fn text(&self) -> Cow<'_, str> {
        match self {
            Val::Str(s) => Cow::Borrowed(s.as_ref()),
            other => Cow::Owned(other.render()),
        }
    }
}

/// A right-hand side constant, prepared for the comparison it is used in.
#[derive(Clone, Debug)]
pub(crate) enum Const {
    Str(String),
    /// Lower-cased, for `icontains`.
    Lower(String),
    Bytes(Vec<u8>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Net(IpNet),
    Glob(GlobMatcher),
    Regex(Regex),
    /// `in` / `intersects` over strings: the set, plus the numbers when they parse.
    StrSet(Set<String>),
    IntSet(Set<i64>),
    FloatSet(Vec<f64>),
    NetSet(Vec<IpNet>),
    /// `pmatch`: path prefixes split in components, each component a glob.
    Paths(Vec<Vec<PathComp>>),
}

#[derive(Clone, Debug)]
pub(crate) enum PathComp {
    Lit(String),
    Glob(GlobMatcher),
}

/// Why a constant does not fit its field.
pub(crate) type ConstError = String;

fn glob(pat: &str, case_insensitive: bool) -> Result<GlobMatcher, ConstError> {
    GlobBuilder::new(pat)
        .literal_separator(false)
        .backslash_escape(false)
        .case_insensitive(case_insensitive)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("invalid glob '{pat}': {e}"))
}

pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16)
            .ok()
            .or_else(|| u64::from_str_radix(h, 16).ok().map(|v| v as i64));
    }
    t.parse::<i64>()
        .ok()
        .or_else(|| t.parse::<u64>().ok().map(|v| v as i64))
}

/// A double's constant: libsinsp reads only whole 32-bit numbers into one (`1`, not `1.0`).
fn parse_float(s: &str) -> Option<f64> {
    s.trim().parse::<i32>().ok().map(f64::from)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

fn hex_bytes(s: &str) -> Result<Vec<u8>, ConstError> {
    let t = s.trim();
    if !t.len().is_multiple_of(2) || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("'{s}' is not a hex byte string"));
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

/// Which operators a type supports (libsinsp's `flt_is_comparable`: strings compare in
/// order too; the byte operators are for buffers, which have no order, glob or regex).
pub(crate) fn op_allowed(ty: Type, op: Op) -> bool {
    use Op::*;
    match ty {
        Type::Str => !matches!(op, BContains | BStartsWith),
        Type::Dyn => true,
        Type::Int | Type::Double => {
            matches!(op, Eq | Ne | Lt | Le | Gt | Ge | In | Intersects | Exists)
        }
        Type::Addr => op == Exists,
        Type::Bool => matches!(op, Eq | Ne | In | Intersects | Exists),
        Type::Ip => matches!(op, Eq | Ne | In | Intersects | Exists),
        Type::Bytes => matches!(
            op,
            Eq | Ne
                | Contains
                | In
                | Exists
                | StartsWith
                | EndsWith
                | Intersects
                | BContains
                | BStartsWith
        ),
    }
}

/// Prepare a single constant for `op` on a field of type `ty`.
pub(crate) fn prepare(ty: Type, op: Op, text: &str) -> Result<Const, ConstError> {
    use Op::*;
    match op {
        IContains => return Ok(Const::Lower(text.to_lowercase())),
        BContains | BStartsWith => return hex_bytes(text).map(Const::Bytes),
        Glob => return glob(text, false).map(Const::Glob),
        IGlob => return glob(text, true).map(Const::Glob),
        Regex => {
            return regex::Regex::new(&format!("^(?:{text})$"))
                .map(Const::Regex)
                .map_err(|e| format!("invalid regex '{text}': {e}"))
        }
        _ => {}
    }
    match ty {
        Type::Int => parse_int(text)
            .map(Const::Int)
            .ok_or_else(|| format!("'{text}' is not a number")),
        Type::Double => parse_float(text)
            .map(Const::Float)
            .ok_or_else(|| format!("'{text}' is not a number")),
        Type::Addr => Err(format!("'{text}': a socket address is not compared")),
        Type::Bool => parse_bool(text)
            .map(Const::Bool)
            .ok_or_else(|| format!("'{text}' is not true or false")),
        Type::Ip => parse_net(text)
            .map(Const::Net)
            .ok_or_else(|| format!("'{text}' is not an IP address or network")),
        Type::Dyn => Ok(match (parse_int(text), matches!(op, Lt | Le | Gt | Ge)) {
            (Some(i), true) => Const::Int(i),
            (None, true) => return Err(format!("'{text}' is not a number")),
            _ => Const::Str(text.to_string()),
        }),
        Type::Str | Type::Bytes => Ok(Const::Str(text.to_string())),
    }
}

/// Prepare a list constant for `in`, `intersects` or `pmatch`.
pub(crate) fn prepare_list(ty: Type, op: Op, items: &[String]) -> Result<Const, ConstError> {
    if op == Op::Pmatch {
        let mut v = Vec::new();
        for p in items {
            let mut comps = Vec::new();
            for c in p.split('/').filter(|c| !c.is_empty()) {
                if c.contains(['*', '?', '[']) {
                    comps.push(PathComp::Glob(glob(c, false)?));
                } else {
                    comps.push(PathComp::Lit(c.to_string()));
                }
            }
            v.push(comps);
        }
        return Ok(Const::Paths(v));
    }
    match ty {
        Type::Int => items
            .iter()
            .map(|i| parse_int(i).ok_or_else(|| format!("'{i}' is not a number")))
            .collect::<Result<Set<_>, _>>()
            .map(Const::IntSet),
        Type::Double => items
            .iter()
            .map(|i| parse_float(i).ok_or_else(|| format!("'{i}' is not a number")))
            .collect::<Result<Vec<_>, _>>()
            .map(Const::FloatSet),
        Type::Addr => Err("a socket address is not compared".to_string()),
        Type::Ip => items
            .iter()
            .map(|i| parse_net(i).ok_or_else(|| format!("'{i}' is not an IP address or network")))
            .collect::<Result<Vec<_>, _>>()
            .map(Const::NetSet),
        Type::Bool => items
            .iter()
            .map(|i| {
                parse_bool(i)
                    .map(|b| b.to_string())
                    .ok_or_else(|| format!("'{i}' is not true or false"))
            })
            .collect::<Result<Set<_>, _>>()
            .map(Const::StrSet),
        Type::Str | Type::Dyn | Type::Bytes => Ok(Const::StrSet(items.iter().cloned().collect())),
    }
}

/// Does value `v` satisfy `op` against `c`?
pub(crate) fn compare(v: &Val<'_>, op: Op, c: &Const) -> bool {
    use Op::*;
    match (op, c) {
        (Eq, _) => equals(v, c),
        (Ne, _) => !equals(v, c),
        (Lt | Le | Gt | Ge, Const::Float(k)) => {
            let Some(x) = as_float(v) else { return false };
            match op {
                Lt => x < *k,
                Le => x <= *k,
                Gt => x > *k,
                _ => x >= *k,
            }
        }
        (Lt | Le | Gt | Ge, Const::Int(k)) => {
            let Some(x) = as_int(v) else { return false };
            match op {
                Lt => x < *k,
                Le => x <= *k,
                Gt => x > *k,
                _ => x >= *k,
            }
        }
        // Strings in byte order (strcmp), as libsinsp compares them.
        (Lt | Le | Gt | Ge, Const::Str(s)) => {
            let o = v.text().as_ref().cmp(s.as_str());
            match op {
                Lt => o.is_lt(),
                Le => o.is_le(),
                Gt => o.is_gt(),
                _ => o.is_ge(),
            }
        }
        (Contains, Const::Str(s)) => v.text().contains(s.as_str()),
        (IContains, Const::Lower(s)) => v.text().to_lowercase().contains(s.as_str()),
        (StartsWith, Const::Str(s)) => v.text().starts_with(s.as_str()),
        (EndsWith, Const::Str(s)) => v.text().ends_with(s.as_str()),
        (BContains, Const::Bytes(b)) => {
            let t = v.bytes();
            b.is_empty() || t.windows(b.len()).any(|w| w == b.as_slice())
        }
        (BStartsWith, Const::Bytes(b)) => v.bytes().starts_with(b),
        (Glob | IGlob, Const::Glob(g)) => g.is_match(v.text().as_ref()),
        (Regex, Const::Regex(r)) => r.is_match(&v.text()),
        (In | Intersects, _) => in_set(v, c),
        (Pmatch, Const::Paths(ps)) => {
            let t = v.text();
            let comps: Vec<&str> = t.split('/').filter(|c| !c.is_empty()).collect();
            ps.iter().any(|p| {
                p.len() <= comps.len()
                    && p.iter().zip(&comps).all(|(pc, vc)| match pc {
                        PathComp::Lit(l) => l == vc,
                        PathComp::Glob(g) => g.is_match(vc),
                    })
            })
        }
        _ => false,
    }
}

fn as_int(v: &Val<'_>) -> Option<i64> {
    match v {
        Val::Int(i) => Some(*i),
        Val::Bool(b) => Some(*b as i64),
        Val::Str(s) => parse_int(s),
        Val::Ip(_) | Val::Bytes(_) => None,
    }
}

fn as_float(v: &Val<'_>) -> Option<f64> {
    match v {
        Val::Str(s) => s.trim().parse::<f64>().ok(),
        other => as_int(other).map(|i| i as f64),
    }
}

fn equals(v: &Val<'_>, c: &Const) -> bool {
    match (v, c) {
        (_, Const::Float(k)) => as_float(v) == Some(*k),
        (Val::Int(i), Const::Int(k)) => i == k,
        (Val::Int(i), Const::Str(s)) => parse_int(s) == Some(*i),
        (Val::Bool(b), Const::Bool(k)) => b == k,
        (Val::Ip(ip), Const::Net(n)) => n.contains(ip),
        (Val::Str(s), Const::Str(k)) => s == k,
        (Val::Str(s), Const::Int(k)) => parse_int(s) == Some(*k),
        (Val::Str(s), Const::Net(n)) => s.parse::<IpAddr>().is_ok_and(|ip| n.contains(&ip)),
        (_, Const::Str(k)) => v.render() == *k,
        _ => false,
    }
}

fn in_set(v: &Val<'_>, c: &Const) -> bool {
    match c {
        Const::StrSet(set) => set.contains(v.text().as_ref()),
        Const::IntSet(set) => as_int(v).is_some_and(|i| set.contains(&i)),
        Const::FloatSet(set) => as_float(v).is_some_and(|x| set.contains(&x)),
        Const::NetSet(nets) => match v {
            Val::Ip(ip) => nets.iter().any(|n| n.contains(ip)),
            Val::Str(s) => s
                .parse::<IpAddr>()
                .is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip))),
            _ => false,
        },
        _ => false,
    }
}

/// Compare two extracted values (`val(field)` on the right): equality and ordering on their
/// common form, the string operators on text.
pub(crate) fn compare_values(a: &Val<'_>, op: Op, b: &Val<'_>) -> bool {
    use Op::*;
    match op {
        Eq => a == b || a.text() == b.text(),
        Ne => !(a == b || a.text() == b.text()),
        Lt | Le | Gt | Ge => match (as_int(a), as_int(b)) {
            (Some(x), Some(y)) => match op {
                Lt => x < y,
                Le => x <= y,
                Gt => x > y,
                _ => x >= y,
            },
            _ => false,
        },
        Contains => a.text().contains(b.text().as_ref()),
        IContains => a.text().to_lowercase().contains(&b.text().to_lowercase()),
        StartsWith => a.text().starts_with(b.text().as_ref()),
        EndsWith => a.text().ends_with(b.text().as_ref()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Val<'_> {
        Val::Str(Cow::Borrowed(x))
    }

    fn cmp(v: Val<'_>, ty: Type, op: Op, c: &str) -> bool {
        compare(&v, op, &prepare(ty, op, c).unwrap())
    }

    fn cmp_list(v: Val<'_>, ty: Type, op: Op, items: &[&str]) -> bool {
        let items: Vec<String> = items.iter().map(|i| i.to_string()).collect();
        compare(&v, op, &prepare_list(ty, op, &items).unwrap())
    }

    #[test]
    fn string_operators() {
        assert!(cmp(s("/etc/shadow"), Type::Str, Op::StartsWith, "/etc"));
        assert!(cmp(s("/etc/shadow"), Type::Str, Op::EndsWith, "dow"));
        assert!(cmp(s("/etc/shadow"), Type::Str, Op::Contains, "c/sh"));
        assert!(cmp(s("Bash -C"), Type::Str, Op::IContains, "bash -c"));
        assert!(cmp(s("x"), Type::Str, Op::Ne, "y"));
        assert!(!cmp(s("x"), Type::Str, Op::Eq, "X"));
    }

    #[test]
    fn glob_is_fnmatch_without_pathname() {
        assert!(cmp(
            s("/home/a/b/.ssh/id"),
            Type::Str,
            Op::Glob,
            "/home/*/.ssh/*"
        ));
        assert!(cmp(
            s("/proc/12/environ"),
            Type::Str,
            Op::Glob,
            "/proc/*/environ"
        ));
        assert!(!cmp(
            s("/proc/12/environx"),
            Type::Str,
            Op::Glob,
            "/proc/*/environ"
        ));
        assert!(cmp(s("/TMP/X"), Type::Str, Op::IGlob, "/tmp/*"));
        assert!(cmp(s("a\\b"), Type::Str, Op::Glob, "a\\b"));
    }

    #[test]
    fn regex_matches_the_whole_value() {
        assert!(cmp(s("nc.openbsd"), Type::Str, Op::Regex, "nc(\\..*)?"));
        assert!(!cmp(s("xnc"), Type::Str, Op::Regex, "nc"));
        assert!(prepare(Type::Str, Op::Regex, "(").is_err());
    }

    #[test]
    fn pmatch_is_per_component() {
        let l = ["/tmp/hello", "/var/lib/*/x"];
        assert!(cmp_list(s("/tmp/hello"), Type::Str, Op::Pmatch, &l));
        assert!(cmp_list(s("/tmp/hello/x"), Type::Str, Op::Pmatch, &l));
        assert!(!cmp_list(s("/tmp/hello_world"), Type::Str, Op::Pmatch, &l));
        assert!(cmp_list(
            s("/var/lib/docker/x/y"),
            Type::Str,
            Op::Pmatch,
            &l
        ));
        assert!(!cmp_list(s("/var/lib/docker/z"), Type::Str, Op::Pmatch, &l));
    }

    #[test]
    fn numbers_lists_and_nets() {
        assert!(cmp(Val::Int(-1), Type::Int, Op::Lt, "0"));
        assert!(cmp(Val::Int(255), Type::Int, Op::Eq, "0xff"));
        assert!(prepare(Type::Int, Op::Eq, "abc").is_err());
        assert!(cmp_list(Val::Int(2), Type::Int, Op::In, &["0", "1", "2"]));
        assert!(prepare_list(Type::Int, Op::In, &["a".into()]).is_err());
        let ip = Val::Ip("10.1.2.3".parse().unwrap());
        assert!(cmp(ip.clone(), Type::Ip, Op::Eq, "10.0.0.0/8"));
        assert!(cmp(ip.clone(), Type::Ip, Op::Ne, "127.0.0.0/8"));
        assert!(cmp_list(
            ip,
            Type::Ip,
            Op::In,
            &["192.168.0.0/16", "10.0.0.0/8"]
        ));
        assert!(cmp(Val::Bool(true), Type::Bool, Op::Eq, "TRUE"));
        assert!(op_allowed(Type::Int, Op::Ge) && !op_allowed(Type::Int, Op::Contains));
        assert!(op_allowed(Type::Str, Op::Lt) && !op_allowed(Type::Str, Op::BContains));
        assert!(cmp(s("abc"), Type::Str, Op::Lt, "abd") && !cmp(s("b"), Type::Str, Op::Le, "a"));
        assert!(!op_allowed(Type::Bytes, Op::Glob) && op_allowed(Type::Bytes, Op::BContains));
    }

    #[test]
    fn dynamic_arguments_compare_by_form() {
        assert!(cmp(Val::Int(0), Type::Dyn, Op::Eq, "0"));
        assert!(cmp(
            s("O_RDONLY|O_CREAT"),
            Type::Dyn,
            Op::Contains,
            "O_CREAT"
        ));
        assert!(cmp(Val::Int(1000), Type::Dyn, Op::Ge, "1000"));
    }

    #[test]
    fn bytes_and_field_to_field() {
        assert!(cmp(s("\u{1}CAFE"), Type::Str, Op::BContains, "43414645"));
        assert!(prepare(Type::Str, Op::BContains, "XYZ").is_err());
        assert!(compare_values(&s("bash"), Op::Eq, &s("bash")));
        assert!(compare_values(&Val::Int(3), Op::Eq, &s("3")));
        assert!(compare_values(&Val::Int(3), Op::Lt, &Val::Int(4)));
    }

    #[test]
    fn doubles_take_whole_numbers_and_addresses_only_exist() {
        assert!(cmp(Val::Int(3), Type::Double, Op::Gt, "2"));
        assert!(cmp(s("0.5"), Type::Double, Op::Lt, "1"));
        assert!(cmp_list(Val::Int(1), Type::Double, Op::In, &["1", "2"]));
        // libsinsp never parsed fractions into a double's constant.
        assert!(prepare(Type::Double, Op::Eq, "1.0").is_err());
        assert!(op_allowed(Type::Addr, Op::Exists));
        assert!(!op_allowed(Type::Addr, Op::Eq) && !op_allowed(Type::Addr, Op::Gt));
    }
}
