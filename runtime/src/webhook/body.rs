//! The body of an inbound webhook (§ 12.3 steps 5 and 6): its content
//! type, form bodies read as JSON objects, and the nesting limit.
//!
//! In: the `Content-Type` header and the raw body. Out: the body as JSON
//! bytes to decode by the payload type (the raw body itself for JSON), or a
//! [`BodyError`] answered `415` or `400`.

/// How deep arrays and objects of a webhook body may nest.
pub const MAX_NESTING: usize = 64;

/// The body formats a webhook accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/json`, or no content type.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

/// Why a body is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Answered `415`.
    #[error("content type `{0}` is not accepted: send `application/json` or `application/x-www-form-urlencoded`")]
    UnsupportedType(String),
    /// Answered `400`.
    #[error("the body nests arrays and objects deeper than {MAX_NESTING} levels")]
    TooDeep,
    /// Answered `400`.
    #[error("the form body is not valid UTF-8 once decoded")]
    BadForm,
}

/// The format a `Content-Type` names (parameters such as `charset` are
/// ignored; names are compared without regard to case).
pub fn format(content_type: Option<&str>) -> Result<Format, BodyError> {
    let Some(content_type) = content_type else { return Ok(Format::Json) };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "" => Ok(Format::Json),
        "application/x-www-form-urlencoded" => Ok(Format::Form),
        _ => Err(BodyError::UnsupportedType(content_type.chars().take(100).collect())),
    }
}

/// A queued event's body as JSON, as it was decoded when accepted: a form
/// body (by its stored `content-type`) as the object of its fields, else
/// the body itself.
pub fn event_json<'b>(headers: &[(String, String)], body: &'b [u8]) -> std::borrow::Cow<'b, [u8]> {
    let content_type = headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    match content_type.map(|(_, value)| format(Some(value))) {
        Some(Ok(Format::Form)) => match form_to_json(body) {
            Ok(json) => std::borrow::Cow::Owned(json),
            Err(_) => std::borrow::Cow::Borrowed(body),
        },
        _ => std::borrow::Cow::Borrowed(body),
    }
}

/// A form body as the JSON object of its fields, in order: each value a
/// string, a repeated field a list of strings (§ 12.3).
pub fn form_to_json(body: &[u8]) -> Result<Vec<u8>, BodyError> {
    if std::str::from_utf8(body).is_err() {
        return Err(BodyError::BadForm);
    }
    let mut object = serde_json::Map::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        let value = serde_json::Value::String(value.into_owned());
        match object.get_mut(name.as_ref()) {
            Some(serde_json::Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                object.insert(name.into_owned(), serde_json::Value::Array(vec![first, value]));
            }
            None => {
                object.insert(name.into_owned(), value);
            }
        }
    }
    serde_json::to_vec(&serde_json::Value::Object(object)).map_err(|_| BodyError::BadForm)
}

/// Refuses JSON whose arrays and objects nest deeper than [`MAX_NESTING`]
/// (brackets inside strings do not count). Other errors are left to the
/// decoder, which reports them with their position.
pub fn check_nesting(json: &[u8]) -> Result<(), BodyError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(BodyError::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(format(None), Ok(Format::Json));
        assert_eq!(format(Some("application/json")), Ok(Format::Json));
        assert_eq!(format(Some("Application/JSON; charset=utf-8")), Ok(Format::Json));
        assert_eq!(format(Some("application/x-www-form-urlencoded")), Ok(Format::Form));
        assert_eq!(format(Some("text/plain")), Err(BodyError::UnsupportedType("text/plain".into())));
        assert!(matches!(format(Some("application/xml")), Err(BodyError::UnsupportedType(_))));
    }

    #[test]
    fn forms_become_objects_of_strings() {
        let json = form_to_json(b"user_name=ada&text=hello+world%21&tag=a&tag=b&tag=c&empty=").unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"user_name":"ada","text":"hello world!","tag":["a","b","c"],"empty":""}"#
        );
        assert_eq!(form_to_json(b"").unwrap(), b"{}");
        assert_eq!(form_to_json(&[0xff, 0xfe]), Err(BodyError::BadForm));
    }

    #[test]
    fn nesting_is_limited_outside_strings() {
        let deep = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert_eq!(check_nesting(deep.as_bytes()), Ok(()));
        let deeper = format!("{}{}", "[".repeat(MAX_NESTING + 1), "]".repeat(MAX_NESTING + 1));
        assert_eq!(check_nesting(deeper.as_bytes()), Err(BodyError::TooDeep));
        let in_string = format!("{{\"a\":\"{}\\\"{}\"}}", "[".repeat(200), "{".repeat(200));
        assert_eq!(check_nesting(in_string.as_bytes()), Ok(()));
    }
}
