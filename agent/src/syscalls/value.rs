//! Decoded syscall arguments: the values events carry, a JSON object on the wire.

use std::{borrow::Cow, fmt, sync::Arc};

use smallvec::SmallVec;

use serde::{
    de::{MapAccess, Visitor},
    ser::SerializeMap,
    Deserialize, Deserializer, Serialize, Serializer,
};

/// One decoded argument value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ArgValue {
    /// A number (descriptors, counts, plain integers).
    Int(i64),
    /// A string: a path, decoded flags or a symbolic name. Shared: the flags' renderings and
    /// paths are interned, a path is shared with the event and the fd table.
    Str(Arc<str>),
    /// A pointer or raw flag word, rendered `0x…` only when printed (a capture reads it back
    /// as a string).
    #[serde(serialize_with = "hex", skip_deserializing)]
    Hex(u64),
    /// The first bytes of an I/O buffer (`evt.buffer`), printed as Falco prints them: printable
    /// ASCII as is, anything else as `.`.
    #[serde(serialize_with = "printable", skip_deserializing)]
    Bytes(Arc<[u8]>),
    /// A value that could not be read (a path or address); `<NA>` when printed.
    Null,
}

/// A buffer as Falco's outputs show it.
pub(crate) fn printable_bytes(b: &[u8]) -> String {
    b.iter()
        .map(|c| {
            if c.is_ascii_graphic() || *c == b' ' {
                *c as char
            } else {
                '.'
            }
        })
        .collect()
}

fn printable<S: Serializer>(v: &Arc<[u8]>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&printable_bytes(v))
}

impl ArgValue {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ArgValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

fn hex<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:#x}"))
}

impl fmt::Display for ArgValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgValue::Int(i) => write!(f, "{i}"),
            ArgValue::Str(s) => f.write_str(s),
            ArgValue::Hex(v) => write!(f, "{v:#x}"),
            ArgValue::Bytes(b) => f.write_str(&printable_bytes(b)),
            ArgValue::Null => f.write_str("<NA>"),
        }
    }
}

/// Named arguments in signature order (a JSON object on the wire). Names are borrowed from
/// the signature table (owned only when read back from a capture); up to six live inline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args(pub SmallVec<[(Cow<'static, str>, ArgValue); 6]>);

impl Args {
    /// Room for `n` arguments.
    pub fn with_capacity(n: usize) -> Args {
        Args(SmallVec::with_capacity(n))
    }
    /// Append an argument.
    pub fn push(&mut self, name: &'static str, v: ArgValue) {
        self.0.push((Cow::Borrowed(name), v));
    }
    /// The value of argument `name`, if present.
    pub fn get(&self, name: &str) -> Option<&ArgValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    /// No arguments.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Args {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Args;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of arguments")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Args, A::Error> {
                let mut out = Args::default();
                while let Some((k, v)) = m.next_entry::<String, ArgValue>()? {
                    out.0.push((Cow::Owned(k), v));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pointer_is_rendered_only_when_printed() {
        let v = ArgValue::Hex(0x7ffd_1000);
        assert_eq!(v.to_string(), "0x7ffd1000");
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"0x7ffd1000\"");
        // A capture reads it back as the string it printed.
        let back: ArgValue = serde_json::from_str("\"0x7ffd1000\"").unwrap();
        assert_eq!(back, ArgValue::Str("0x7ffd1000".into()));
    }
}
