//! Secrets and their redaction (§ 7.4 of spec.md).
//!
//! A [`Secret`] holds a credential in memory. Its `Debug` and `Display`
//! print [`REDACTED`], never the value; the value is read with
//! [`Secret::expose`], which only the HTTP layer calls when it puts a
//! credential on the wire.
//!
//! Creating a `Secret` registers its value with the process-wide
//! [`Redactor`], together with the encodings in which it commonly shows up
//! in text: percent-encoded as in a URL query (`%20` for space), form-encoded
//! (`+` for space) and JSON-escaped. The HTTP layer also registers
//! `base64(username ":" password)` for `basic` auth and every OAuth2 access
//! token it obtains. [`redact`] then replaces every occurrence of any of these
//! texts by `<redacted>` (the marker of § 7.4) in whatever text it is given:
//! every error message, log line and URL that the HTTP layer produces goes
//! through it.
//!
//! Matching is leftmost-longest in one pass, so a secret that contains
//! another is replaced whole, and the marker itself is never rewritten.
//! Registrations are counted: [`Redactor::forget`] removes a value only when
//! every registration of it has been forgotten (an OAuth2 token that was
//! replaced is forgotten so that a long-running process does not accumulate
//! them).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a redacted secret is replaced by (§ 7.4).
pub const REDACTED: &str = "<redacted>";

/// The characters percent-encoded in URL query keys and values and in path
/// segments: everything but RFC 3986's unreserved `A–Z a–z 0–9 - . _ ~`.
pub(crate) const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The WHATWG form serializer's set: everything but `A–Z a–z 0–9 * - . _`
/// (space is written `+` separately).
pub(crate) const FORM_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'*').remove(b'-').remove(b'.').remove(b'_');

/// `application/x-www-form-urlencoded` encoding of one key or value.
pub(crate) fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, part) in text.split(' ').enumerate() {
        if index > 0 {
            out.push('+');
        }
        out.extend(utf8_percent_encode(part, FORM_COMPONENT));
    }
    out
}

/// A credential. Printing it shows [`REDACTED`]; its value is registered
/// with the process-wide [`Redactor`] when it is created.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps `value` and registers it (and its encodings) for redaction.
    pub fn new(value: impl Into<Arc<str>>) -> Secret {
        let value = value.into();
        Redactor::global().register(&value);
        Secret(value)
    }

    /// The credential itself, to put on the wire. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret::new(value)
    }
}

/// The texts to scrub: every registered secret and its encodings.
#[derive(Default)]
struct Patterns {
    /// Registration counts, by exact text.
    counts: HashMap<Arc<str>, usize>,
    /// The same texts, longest first (the order matching tries them).
    by_length: Vec<Arc<str>>,
}

impl Patterns {
    fn add(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(count) = self.counts.get_mut(text) {
            *count += 1;
            return;
        }
        let text: Arc<str> = Arc::from(text);
        self.counts.insert(text.clone(), 1);
        let position = self.by_length.partition_point(|other| other.len() >= text.len());
        self.by_length.insert(position, text);
    }

    fn remove(&mut self, text: &str) {
        let Some(count) = self.counts.get_mut(text) else { return };
        *count -= 1;
        if *count == 0 {
            self.counts.remove(text);
            self.by_length.retain(|other| &**other != text);
        }
    }
}

/// Knows every secret value in use and scrubs them from text.
///
/// One instance serves the whole process ([`Redactor::global`]); separate
/// instances are for tests.
#[derive(Default)]
pub struct Redactor {
    patterns: RwLock<Patterns>,
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// The process-wide redactor that [`Secret::new`] registers with and
    /// [`redact`] uses.
    pub fn global() -> &'static Redactor {
        static GLOBAL: OnceLock<Redactor> = OnceLock::new();
        GLOBAL.get_or_init(Redactor::new)
    }

    /// The forms of `value` that are registered: the value, its URL and form
    /// encodings and its JSON escaping (each only when it differs).
    fn forms(value: &str) -> Vec<String> {
        let mut forms = vec![value.to_owned()];
        let url: String = utf8_percent_encode(value, URL_COMPONENT).collect();
        let form = form_encode(value);
        let json = serde_json::to_string(value).unwrap_or_default();
        let json = json.strip_prefix('"').and_then(|inner| inner.strip_suffix('"')).unwrap_or_default().to_owned();
        for other in [url, form, json] {
            if !other.is_empty() && !forms.contains(&other) {
                forms.push(other);
            }
        }
        forms
    }

    /// Registers `value` and its common encodings. Empty values are ignored.
    pub fn register(&self, value: &str) {
        if value.is_empty() {
            return;
        }
        let mut patterns = self.patterns.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for form in Redactor::forms(value) {
            patterns.add(&form);
        }
    }

    /// Forgets one registration of `value` (and its encodings).
    pub fn forget(&self, value: &str) {
        if value.is_empty() {
            return;
        }
        let mut patterns = self.patterns.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for form in Redactor::forms(value) {
            patterns.remove(&form);
        }
    }

    /// Registers the credentials of HTTP basic auth: the password, and
    /// `base64(username ":" password)` as it appears in the header.
    pub fn register_basic(&self, username: &str, password: &str) {
        self.register(password);
        self.register(&basic_credentials(username, password));
    }

    /// Replaces every occurrence of a registered text by [`REDACTED`].
    /// Borrows when there is nothing to replace.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let patterns = self.patterns.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let present: Vec<&str> =
            patterns.by_length.iter().map(|pattern| &**pattern).filter(|pattern| text.contains(pattern)).collect();
        if present.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(character) = rest.chars().next() {
            // `present` is longest first, so the first match is the longest.
            if let Some(pattern) = present.iter().find(|pattern| rest.starts_with(**pattern)) {
                out.push_str(REDACTED);
                rest = rest.get(pattern.len()..).unwrap_or_default();
            } else {
                out.push(character);
                rest = rest.get(character.len_utf8()..).unwrap_or_default();
            }
        }
        Cow::Owned(out)
    }
}

/// `base64(username ":" password)`, the credentials of a basic
/// `Authorization` header (RFC 7617, UTF-8).
pub(crate) fn basic_credentials(username: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
}

/// Scrubs every registered secret from `text` (the process-wide redactor).
pub fn redact(text: &str) -> Cow<'_, str> {
    Redactor::global().redact(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_redacted() {
        let secret = Secret::new("s3cr3t-value-unit");
        assert_eq!(secret.to_string(), REDACTED);
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(secret.expose(), "s3cr3t-value-unit");
    }

    #[test]
    fn redacts_values_and_encodings() {
        let redactor = Redactor::new();
        redactor.register("p@ss word+1");
        assert_eq!(redactor.redact("x p@ss word+1 y"), "x <redacted> y");
        assert_eq!(redactor.redact("key=p%40ss%20word%2B1&a=b"), "key=<redacted>&a=b");
        assert_eq!(redactor.redact("key=p%40ss+word%2B1"), "key=<redacted>");
        assert!(matches!(redactor.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn longest_match_wins_and_the_marker_is_not_rewritten() {
        let redactor = Redactor::new();
        redactor.register("abc");
        redactor.register("abcdef");
        redactor.register("red");
        assert_eq!(redactor.redact("abcdefabc red"), "<redacted><redacted> <redacted>");
    }

    #[test]
    fn basic_credentials_are_redacted() {
        let redactor = Redactor::new();
        redactor.register_basic("ann", "hunter2");
        let header = format!("Basic {}", basic_credentials("ann", "hunter2"));
        assert_eq!(redactor.redact(&header), "Basic <redacted>");
    }

    #[test]
    fn forgetting_is_counted() {
        let redactor = Redactor::new();
        redactor.register("token-1");
        redactor.register("token-1");
        redactor.forget("token-1");
        assert_eq!(redactor.redact("token-1"), REDACTED);
        redactor.forget("token-1");
        assert_eq!(redactor.redact("token-1"), "token-1");
    }

    #[test]
    fn multibyte_text_is_kept() {
        let redactor = Redactor::new();
        redactor.register("é secret");
        assert_eq!(redactor.redact("ünïcode é secret ✓"), "ünïcode <redacted> ✓");
    }
}
