//! Rule outputs: `%field`, `%field[arg]`, `%toupper(field)` and `%Nfield` (padded or cut to N
//! characters) in free text; `<NA>` for a missing value. After `%` the longest prefix that is
//! a field wins, so `%proc.name)` stops at the parenthesis. Alerts render as Falco's text
//! line and Falco's JSON.

use serde_json::{json, Map, Value};

use super::{
    ast::Transformer,
    extract::{transform, Ctx},
    fields::bind,
    ir::Extract,
    priority::Priority,
    value::Val,
};
use crate::event::Timestamp;

#[derive(Clone, Debug)]
enum Seg {
    Lit(String),
    /// Falco's `%container.info`: where the decoration goes (nothing without one).
    ContainerInfo,
    Field {
        ex: Extract,
        key: String,
        width: Option<usize>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Format {
    segs: Vec<Seg>,
    /// Fields added to `output_fields` without appearing in the text (Falco's
    /// `append_output` `extra_fields`).
    extra: Vec<(String, Extract)>,
    /// Formatted extra fields (`{key: "format"}`): the rendered text under `key`.
    extra_fmt: Vec<(String, Format)>,
}

/// Falco's default decoration of syscall alerts (its `append_output` with the container
/// plugin's suggestion): text appended to every output, fields added to `output_fields`.
pub(crate) const DECORATION_TEXT: &str =
    " container_id=%container.id container_name=%container.name";
/// See [`DECORATION_TEXT`].
pub(crate) const DECORATION_FIELDS: [&str; 4] = [
    "container.image.repository",
    "container.image.tag",
    "k8s.ns.name",
    "k8s.pod.name",
];

/// Falco's placeholder for the container's fields in a rule's output (after its `%`).
const CONTAINER_INFO: &str = "container.info";

fn is_field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

impl Format {
    /// Parse an output format; errors are (message, offending text).
    pub(crate) fn parse(text: &str) -> Result<Format, (String, String)> {
        // Falco's leading `*` means "print even with missing values", which we always do.
        let text = text.strip_prefix('*').unwrap_or(text);
        let mut segs = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('%') {
            lit.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            if rest.is_empty() {
                return Err(("an output must not end with '%'".into(), "%".into()));
            }
            if let Some(after) = rest.strip_prefix(CONTAINER_INFO) {
                if !after.starts_with(is_field_char) {
                    if !lit.is_empty() {
                        segs.push(Seg::Lit(std::mem::take(&mut lit)));
                    }
                    segs.push(Seg::ContainerInfo);
                    rest = after;
                    continue;
                }
            }
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            let width = rest[..digits].parse::<usize>().ok();
            rest = &rest[digits..];
            let (seg, used) = field_at(rest)?;
            if !lit.is_empty() {
                segs.push(Seg::Lit(std::mem::take(&mut lit)));
            }
            let Seg::Field { ex, key, .. } = seg else {
                unreachable!("field_at returns fields")
            };
            segs.push(Seg::Field { ex, key, width });
            rest = &rest[used..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            segs.push(Seg::Lit(lit));
        }
        Ok(Format {
            segs,
            extra: Vec::new(),
            extra_fmt: Vec::new(),
        })
    }

    /// Put `more`'s text where the output says `%container.info`, else at its end (as Falco
    /// does), and name `extra` fields in `output_fields` as well.
    pub(crate) fn decorate(&mut self, more: &Format, extra: &[(String, Extract)]) {
        let placeholder = self
            .segs
            .iter()
            .position(|s| matches!(s, Seg::ContainerInfo));
        match placeholder {
            Some(i) => {
                // The decoration's leading space is the rule's own, before the placeholder.
                let mut fill = more.segs.clone();
                if let Some(Seg::Lit(l)) = fill.first_mut() {
                    *l = l.trim_start().to_string();
                }
                self.segs.splice(i..=i, fill);
            }
            None => self.segs.extend(more.segs.iter().cloned()),
        }
        for (k, e) in extra {
            if !self.extra.iter().any(|(x, _)| x == k) {
                self.extra.push((k.clone(), e.clone()));
            }
        }
    }

    /// Append `more` to the text after one space (`append_output`'s `extra_output`).
    pub(crate) fn append(&mut self, more: &Format) {
        self.segs.push(Seg::Lit(" ".into()));
        self.segs.extend(more.segs.iter().cloned());
    }

    /// Add `key` to `output_fields`: the value of field `ex`, or the text `fmt` renders to.
    pub(crate) fn add_field(&mut self, key: &str, ex: Option<Extract>, fmt: Option<Format>) {
        self.extra.retain(|(k, _)| k != key);
        self.extra_fmt.retain(|(k, _)| k != key);
        if let Some(e) = ex {
            self.extra.push((key.to_string(), e));
        }
        if let Some(f) = fmt {
            self.extra_fmt.push((key.to_string(), f));
        }
    }

    /// The one field a `%field` format names (an `extra_fields` entry), parsed.
    pub(crate) fn single_field(name: &str) -> Result<Extract, (String, String)> {
        let f = Format::parse(&format!("%{name}"))?;
        match f.segs.as_slice() {
            [Seg::Field { ex, .. }] => Ok(ex.clone()),
            _ => Err((format!("'{name}' is not one field"), name.to_string())),
        }
    }

    /// Every field the output names.
    pub(crate) fn extracts(&self) -> Box<dyn Iterator<Item = &Extract> + '_> {
        Box::new(
            self.segs
                .iter()
                .filter_map(|s| match s {
                    Seg::Field { ex, .. } => Some(ex),
                    Seg::Lit(_) | Seg::ContainerInfo => None,
                })
                .chain(self.extra.iter().map(|(_, e)| e))
                .chain(self.extra_fmt.iter().flat_map(|(_, f)| f.extracts())),
        )
    }

    /// The fields named by the format, as written (`proc.aname[2]`).
    #[cfg(test)]
    fn fields(&self) -> Vec<String> {
        self.segs
            .iter()
            .filter_map(|s| match s {
                Seg::Field { key, .. } => Some(key.clone()),
                Seg::Lit(_) | Seg::ContainerInfo => None,
            })
            .collect()
    }

    /// The text, and the output fields with their JSON values (null when missing).
    pub(crate) fn render(&self, cx: &Ctx<'_>) -> (String, Vec<(String, Value)>) {
        let mut out = String::new();
        let mut fields: Vec<(String, Value)> = Vec::new();
        for s in &self.segs {
            match s {
                Seg::Lit(l) => out.push_str(l),
                // Undecorated: the placeholder says nothing.
                Seg::ContainerInfo => {}
                Seg::Field { ex, key, width } => {
                    let v = value_of(cx, ex);
                    let text = v.as_ref().map(Val::render).unwrap_or_else(|| "<NA>".into());
                    match width {
                        Some(w) => {
                            let t: String = text.chars().take(*w).collect();
                            out.push_str(&format!("{t:<w$}"));
                        }
                        None => out.push_str(&text),
                    }
                    if !fields.iter().any(|(k, _)| k == key) {
                        let json = match (key.as_str(), &v) {
                            // Falco gives evt.time as integer nanoseconds in output_fields.
                            ("evt.time", _) => Value::from(cx.ev.task().time.0),
                            (_, Some(v)) => v.to_json(),
                            (_, None) => Value::Null,
                        };
                        fields.push((key.clone(), json));
                    }
                }
            }
        }
        for (key, ex) in &self.extra {
            if !fields.iter().any(|(k, _)| k == key) {
                let v = value_of(cx, ex).map_or(Value::Null, |v| v.to_json());
                fields.push((key.clone(), v));
            }
        }
        for (key, f) in &self.extra_fmt {
            if !fields.iter().any(|(k, _)| k == key) {
                fields.push((key.clone(), Value::String(f.render(cx).0)));
            }
        }
        (out, fields)
    }
}

/// The value of an extraction, transformers applied (`any` fields: the first value).
pub(crate) fn value_of<'s>(cx: &'s Ctx<'_>, ex: &Extract) -> Option<Val<'s>> {
    if ex.multi.is_none() && ex.field.is_list() {
        return match list_of(cx, ex) {
            // libsinsp prints a list as `(a,b)`.
            Listed::Items(v) => Some(Val::Str(std::borrow::Cow::Owned(format!(
                "({})",
                v.iter().map(Val::render).collect::<Vec<_>>().join(",")
            )))),
            Listed::One(v) => v,
        };
    }
    let mut v = if let Some(m) = &ex.multi {
        // A scalar call: its one value (a list's first, as libsinsp's outer transformers see
        // it).
        m.eval(cx)?
            .into_iter()
            .next()
            .map(|v| Val::Str(std::borrow::Cow::Owned(v)))
    } else if ex.field.any {
        let mut all = Vec::new();
        cx.values(&ex.field, &mut all);
        if all.is_empty() {
            None
        } else {
            // Falco prints every ancestor, space-separated.
            Some(Val::Str(std::borrow::Cow::Owned(
                all.iter().map(Val::render).collect::<Vec<_>>().join(" "),
            )))
        }
    } else {
        cx.value(&ex.field)
    }?;
    for t in &ex.transforms {
        v = transform(*t, v)?;
    }
    Some(v)
}

/// A list field's value after its transformers: still a list (string transformers apply to
/// each item), or one value once `len()` has counted the items.
pub(crate) enum Listed<'s> {
    Items(Vec<Val<'s>>),
    One(Option<Val<'s>>),
}

pub(crate) fn list_of<'s>(cx: &'s Ctx<'_>, ex: &Extract) -> Listed<'s> {
    let mut items = Vec::new();
    cx.values(&ex.field, &mut items);
    let mut out = Listed::Items(items);
    for t in &ex.transforms {
        out = match (out, *t) {
            (Listed::Items(v), Transformer::Len) => Listed::One(Some(Val::Int(v.len() as i64))),
            (Listed::Items(v), t) => {
                Listed::Items(v.into_iter().filter_map(|x| transform(t, x)).collect())
            }
            (Listed::One(v), t) => Listed::One(v.and_then(|x| transform(t, x))),
        };
    }
    out
}

/// Parse the field (or transformer call) at the start of `s`; returns it and the bytes used.
fn field_at(s: &str) -> Result<(Seg, usize), (String, String)> {
    // Transformer: name(field)
    let ident = s
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .count();
    if s[ident..].starts_with('(') {
        if let Some(t) = Transformer::from_name(&s[..ident]) {
            let close = s
                .find(')')
                .ok_or_else(|| (format!("unclosed {}(", t.name()), s[..ident].to_string()))?;
            let (inner, used) = field_at(&s[ident + 1..close])?;
            if used != close - ident - 1 {
                return Err((
                    format!("{}() takes one field", t.name()),
                    s[..close + 1].to_string(),
                ));
            }
            let Seg::Field { mut ex, key, .. } = inner else {
                unreachable!("field_at returns fields")
            };
            ex.transforms.push(t);
            return Ok((
                Seg::Field {
                    ex,
                    key: format!("{}({key})", t.name()),
                    width: None,
                },
                close + 1,
            ));
        }
    }
    let run = s.chars().take_while(|c| is_field_char(*c)).count();
    let mut name = s[..run].trim_end_matches('.');
    // Longest prefix at a dot boundary that names a field.
    loop {
        let after = &s[name.len()..];
        let (arg, extra) = if after.starts_with('[') {
            match after.find(']') {
                Some(e) => (Some(&after[1..e]), e + 1),
                None => (None, 0),
            }
        } else {
            (None, 0)
        };
        if let Ok(field) = bind(name, arg) {
            let key = match arg {
                Some(a) => format!("{name}[{a}]"),
                None => name.to_string(),
            };
            let used = name.len() + extra;
            return Ok((
                Seg::Field {
                    ex: Extract {
                        field,
                        transforms: Vec::new(),
                        multi: None,
                    },
                    key,
                    width: None,
                },
                used,
            ));
        }
        match name.rfind('.') {
            Some(i) if name[..i].contains('.') => name = &name[..i],
            _ => {
                let shown = if s[..run].is_empty() {
                    s.chars().take(10).collect()
                } else {
                    s[..run].to_string()
                };
                return Err((format!("unknown field %{shown}"), shown));
            }
        }
    }
}

/// One alert: a rule matched an event.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// When the event happened.
    pub time: Timestamp,
    /// The rule's name.
    pub rule: String,
    /// The rule's priority.
    pub priority: Priority,
    /// The rule output, rendered.
    pub message: String,
    /// The fields the output names, with their values (`null` when missing).
    pub output_fields: Vec<(String, Value)>,
    /// Sorted (Falco keeps them in a set).
    pub tags: Vec<String>,
    /// The host the agent runs on.
    pub hostname: String,
}

impl Alert {
    /// An alert the agent raises about itself (Falco's "Falco internal: ..."): now, on this
    /// host, no tags.
    pub(crate) fn internal(
        rule: &str,
        priority: Priority,
        message: String,
        output_fields: Vec<(String, Value)>,
    ) -> Alert {
        Alert {
            time: Timestamp::now(),
            rule: rule.to_string(),
            priority,
            message,
            output_fields,
            tags: Vec::new(),
            hostname: super::engine::hostname(),
        }
    }

    /// Falco's text line: `<local time>: <Priority> <output>`.
    pub fn line(&self) -> String {
        self.line_as(false)
    }

    /// [`Alert::line`], with the time as ISO 8601 in UTC when `iso` (Falco's
    /// `time_format_iso_8601`: `2026-12-06T20:51:15.488155871+0000`).
    pub fn line_as(&self, iso: bool) -> String {
        let time = if iso {
            let t = self.time.rfc3339();
            format!("{}+0000", t.trim_end_matches('Z'))
        } else {
            self.time.local(false, true)
        };
        format!("{time}: {} {}", self.priority.as_str(), self.message)
    }

    /// Falco's JSON alert (hostname, output, output_fields, priority, rule, source, tags,
    /// time), consumable by Falcosidekick and Falco's event-generator.
    pub fn to_json(&self) -> Value {
        self.to_json_as(&JsonParts::default())
    }

    /// [`Alert::to_json`] with the optional parts Falco's `json_include_*` keys choose.
    pub fn to_json_as(&self, p: &JsonParts) -> Value {
        let mut o = Map::new();
        o.insert("hostname".into(), json!(self.hostname));
        if p.output {
            o.insert("output".into(), json!(self.line_as(p.iso8601)));
        }
        if p.message {
            o.insert("message".into(), json!(self.message));
        }
        if p.output_fields {
            let mut fields = Map::new();
            fields.insert("evt.time".into(), Value::from(self.time.0));
            for (k, v) in &self.output_fields {
                fields.insert(k.clone(), v.clone());
            }
            o.insert("output_fields".into(), Value::Object(fields));
        }
        o.insert("priority".into(), json!(self.priority.as_str()));
        o.insert("rule".into(), json!(self.rule));
        o.insert("source".into(), json!("syscall"));
        if p.tags {
            o.insert("tags".into(), json!(self.tags));
        }
        o.insert("time".into(), json!(self.time.rfc3339()));
        Value::Object(o)
    }
}

/// The optional parts of a JSON alert (Falco's `json_include_*_property`) and the time
/// format of its `output` text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonParts {
    pub output: bool,
    pub tags: bool,
    pub output_fields: bool,
    pub message: bool,
    pub iso8601: bool,
}

impl Default for JsonParts {
    /// Falco's defaults.
    fn default() -> JsonParts {
        JsonParts {
            output: true,
            tags: true,
            output_fields: true,
            message: false,
            iso8601: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_longest_prefix_first() {
        let f = Format::parse(
            "shell (user=%user.name %proc.name) gp=%proc.aname[2] flags=%evt.arg.flags x%",
        )
        .unwrap_err();
        assert_eq!(f.0, "an output must not end with '%'");
        let f = Format::parse("*shell (user=%user.name %proc.name) gp=%proc.aname[2] f=%evt.arg.flags, %toupper(proc.name) %5proc.pid.").unwrap();
        assert_eq!(
            f.fields(),
            vec![
                "user.name",
                "proc.name",
                "proc.aname[2]",
                "evt.arg.flags",
                "toupper(proc.name)",
                "proc.pid"
            ]
        );
        let e = Format::parse("x %proc.nmae y").unwrap_err();
        assert_eq!(
            e,
            (
                "unknown field %proc.nmae".to_string(),
                "proc.nmae".to_string()
            )
        );
    }
}
