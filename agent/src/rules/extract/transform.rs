//! The field transformers of the language (`toupper`, `tolower`, `len`, `basename`, `b64`).

use std::borrow::Cow;

use super::super::{ast::Transformer, value::Val};

/// Apply a transformer to a value.
pub(crate) fn transform<'a>(t: Transformer, v: Val<'a>) -> Option<Val<'a>> {
    let text = match &v {
        Val::Str(s) => s.clone(),
        other => Cow::Owned(other.render()),
    };
    Some(match t {
        Transformer::ToLower => Val::Str(Cow::Owned(text.to_lowercase())),
        Transformer::ToUpper => Val::Str(Cow::Owned(text.to_uppercase())),
        Transformer::Len => Val::Int(text.chars().count() as i64),
        Transformer::Basename => {
            if text.ends_with('/') {
                Val::Str(Cow::Borrowed(""))
            } else {
                Val::Str(Cow::Owned(
                    text.rsplit('/').next().unwrap_or("").to_string(),
                ))
            }
        }
        Transformer::B64 => {
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .ok()?;
            Val::Str(Cow::Owned(String::from_utf8_lossy(&raw).into_owned()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transformers() {
        let v = |x: &'static str| Val::Str(Cow::Borrowed(x));
        assert_eq!(transform(Transformer::ToUpper, v("ab")), Some(v("AB")));
        assert_eq!(
            transform(Transformer::Basename, v("/usr/bin/ls")),
            Some(v("ls"))
        );
        assert_eq!(
            transform(Transformer::Basename, v("/usr/bin/")),
            Some(v(""))
        );
        assert_eq!(transform(Transformer::Len, v("héllo")), Some(Val::Int(5)));
        assert_eq!(transform(Transformer::B64, v("aGVsbG8=")), Some(v("hello")));
        assert_eq!(transform(Transformer::B64, v("!!")), None);
    }
}
