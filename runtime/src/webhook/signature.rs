//! Signature schemes of inbound webhooks (§ 12.3 of spec.md).
//!
//! In: a [`Scheme`] built once at start-up (its secrets read from the
//! environment by the caller), and each request's headers, path and raw
//! body ([`Signed`]) with the time to check timestamps against. Out: `Ok`
//! or a [`SignatureError`] that names the header and what was wrong, never
//! the signature or the secret.
//!
//! Every comparison of a signature is constant-time: the signature sent is
//! decoded (hex or base64) and given to [`hmac::Mac::verify_slice`], which
//! compares the tags in constant time; nothing compares encoded text.
//!
//! | Scheme | Checks |
//! |---|---|
//! | [`Scheme::None`] | nothing |
//! | [`Scheme::Hmac`] | `header` = `prefix` + encoded HMAC of the canonical text; `timestamp_header` within `tolerance` |
//! | [`Scheme::GitHub`] | `X-Hub-Signature-256: sha256=<hex HMAC-SHA-256 of the body>` |
//! | [`Scheme::Stripe`] | `Stripe-Signature: t=..,v1=..[,v1=..]`, HMAC-SHA-256 of `"{t}.{body}"`, `t` within `tolerance` |
//! | [`Scheme::StandardWebhooks`] | `webhook-signature: v1,<base64> ...` over `"{id}.{timestamp}.{body}"` under any of the keys, timestamp within `tolerance` |

use std::fmt;
use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use crate::secret::Secret;

/// The default `tolerance` of timestamps: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The hash of an `hmac` scheme.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Algorithm {
    #[default]
    Sha256,
    Sha512,
    /// For older providers.
    Sha1,
}

impl Algorithm {
    /// `sha256`, `sha512`, `sha1`.
    pub fn parse(word: &str) -> Option<Algorithm> {
        Some(match word {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            "sha1" => Algorithm::Sha1,
            _ => return None,
        })
    }
}

/// How an `hmac` signature is written in its header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    /// Hexadecimal, either case.
    #[default]
    Hex,
    /// Standard base64 (padding optional).
    Base64,
}

impl Encoding {
    /// `hex`, `base64`.
    pub fn parse(word: &str) -> Option<Encoding> {
        Some(match word {
            "hex" => Encoding::Hex,
            "base64" => Encoding::Base64,
            _ => return None,
        })
    }

    fn decode(self, text: &str) -> Option<Vec<u8>> {
        let text = text.trim();
        match self {
            Encoding::Hex => hex::decode(text).ok(),
            Encoding::Base64 => decode_base64(text),
        }
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    STANDARD.decode(text).ok().or_else(|| STANDARD_NO_PAD.decode(text).ok())
}

/// A piece of an `hmac` canonical text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// The raw body, byte for byte.
    Body,
    /// The `timestamp_header` value, as sent.
    Timestamp,
    /// The request path.
    Path,
    /// The `webhook-id` header, as sent (empty when absent).
    Id,
}

/// The canonical text of an `hmac` scheme: `"{timestamp}.{body}"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canonical(pub Vec<Piece>);

impl Canonical {
    /// `{body}`.
    pub fn body() -> Canonical {
        Canonical(vec![Piece::Body])
    }

    /// `{timestamp}.{body}`.
    pub fn timestamp_dot_body() -> Canonical {
        Canonical(vec![Piece::Timestamp, Piece::Text(".".to_owned()), Piece::Body])
    }

    /// Parses a template such as `"v0:{timestamp}:{body}"` (`{{` and `}}`
    /// are literal braces). An unknown name or an unclosed brace is an
    /// error naming it.
    pub fn parse(template: &str) -> Result<Canonical, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = template.chars().peekable();
        while let Some(character) = chars.next() {
            match character {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(other) => name.push(other),
                            None => return Err(format!("`{{{name}` is not closed")),
                        }
                    }
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(match name.as_str() {
                        "body" => Piece::Body,
                        "timestamp" => Piece::Timestamp,
                        "path" => Piece::Path,
                        "id" => Piece::Id,
                        other => return Err(format!("unknown name `{other}` (use body, timestamp, path or id)")),
                    });
                }
                other => text.push(other),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Canonical(pieces))
    }
}

/// `hmac(secret:, header:, algorithm:, encoding:, prefix:, canonical:, timestamp_header:, tolerance:)`.
#[derive(Clone, Debug)]
pub struct HmacScheme {
    pub secret: Secret,
    /// The header carrying the signature.
    pub header: String,
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    /// Written before the encoded signature (`"sha256="`).
    pub prefix: String,
    pub canonical: Canonical,
    /// A header carrying Unix seconds that must be within `tolerance` of now.
    pub timestamp_header: Option<String>,
    pub tolerance: Duration,
}

impl HmacScheme {
    /// SHA-256, hex, no prefix, the canonical text `{body}`.
    pub fn new(secret: Secret, header: impl Into<String>) -> HmacScheme {
        HmacScheme {
            secret,
            header: header.into(),
            algorithm: Algorithm::Sha256,
            encoding: Encoding::Hex,
            prefix: String::new(),
            canonical: Canonical::body(),
            timestamp_header: None,
            tolerance: DEFAULT_TOLERANCE,
        }
    }
}

/// A key of `standard_webhooks`: the bytes of a `whsec_<base64>` secret.
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl Key {
    /// Decodes `whsec_<base64>` (the prefix is optional, as in the
    /// reference libraries).
    pub fn standard_webhooks(secret: &Secret) -> Result<Key, String> {
        let text = secret.expose().trim();
        let encoded = text.strip_prefix("whsec_").unwrap_or(text);
        match decode_base64(encoded) {
            Some(bytes) if !bytes.is_empty() => Ok(Key(bytes)),
            _ => Err("a `standard_webhooks` secret is `whsec_` followed by base64".to_owned()),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(crate::secret::REDACTED)
    }
}

/// How a webhook's sender is verified.
#[derive(Clone, Debug)]
pub enum Scheme {
    /// `signature: none`.
    None,
    Hmac(HmacScheme),
    /// `github(secret:)`.
    GitHub {
        secret: Secret,
    },
    /// `stripe(secret:, tolerance:)`.
    Stripe {
        secret: Secret,
        tolerance: Duration,
    },
    /// `standard_webhooks(secrets: [...], tolerance:)`: any key verifies.
    StandardWebhooks {
        keys: Vec<Key>,
        tolerance: Duration,
    },
}

impl Scheme {
    /// The headers that carry this scheme's signature: never stored or logged.
    pub fn signature_headers(&self) -> Vec<String> {
        match self {
            Scheme::None => Vec::new(),
            Scheme::Hmac(hmac) => vec![hmac.header.to_ascii_lowercase()],
            Scheme::GitHub { .. } => vec![GITHUB_HEADER.to_owned(), "x-hub-signature".to_owned()],
            Scheme::Stripe { .. } => vec![STRIPE_HEADER.to_owned()],
            Scheme::StandardWebhooks { .. } => vec![STANDARD_SIGNATURE.to_owned()],
        }
    }

    /// Checks a request (§ 12.3 step 4) at time `now`.
    pub fn verify(&self, request: &Signed<'_>, now: Timestamp) -> Result<(), SignatureError> {
        match self {
            Scheme::None => Ok(()),
            Scheme::Hmac(hmac) => verify_hmac(hmac, request, now),
            Scheme::GitHub { secret } => {
                let sent = header(request.headers, GITHUB_HEADER)?;
                let tag = sent
                    .strip_prefix("sha256=")
                    .and_then(|hex| Encoding::Hex.decode(hex))
                    .ok_or(SignatureError::Malformed { header: GITHUB_HEADER, why: "expected `sha256=<hex>`" })?;
                verify_tags(Algorithm::Sha256, secret.expose().as_bytes(), &[request.body], &[tag])
            }
            Scheme::Stripe { secret, tolerance } => {
                let sent = header(request.headers, STRIPE_HEADER)?;
                let mut time = None;
                let mut tags = Vec::new();
                for item in sent.split(',') {
                    let (key, value) = item.trim().split_once('=').unwrap_or((item.trim(), ""));
                    match key {
                        "t" => time = Some(value),
                        "v1" => tags.extend(Encoding::Hex.decode(value)),
                        _ => {}
                    }
                }
                let time =
                    time.ok_or(SignatureError::Malformed { header: STRIPE_HEADER, why: "it has no timestamp `t=`" })?;
                if tags.is_empty() {
                    return Err(SignatureError::Malformed { header: STRIPE_HEADER, why: "it has no `v1=` signature" });
                }
                check_time(STRIPE_HEADER, time, *tolerance, now)?;
                let parts: [&[u8]; 3] = [time.as_bytes(), b".", request.body];
                verify_tags(Algorithm::Sha256, secret.expose().as_bytes(), &parts, &tags)
            }
            Scheme::StandardWebhooks { keys, tolerance } => {
                let id = header(request.headers, STANDARD_ID)?;
                let time = header(request.headers, STANDARD_TIMESTAMP)?;
                let sent = header(request.headers, STANDARD_SIGNATURE)?;
                check_time(STANDARD_TIMESTAMP, time, *tolerance, now)?;
                let tags: Vec<Vec<u8>> = sent
                    .split(' ')
                    .filter_map(|item| item.strip_prefix("v1,"))
                    .filter_map(|encoded| decode_base64(encoded.trim()))
                    .collect();
                if tags.is_empty() {
                    return Err(SignatureError::Malformed {
                        header: STANDARD_SIGNATURE,
                        why: "it has no `v1,<base64>` signature",
                    });
                }
                let parts: [&[u8]; 5] = [id.as_bytes(), b".", time.as_bytes(), b".", request.body];
                for key in keys {
                    if verify_tags(Algorithm::Sha256, &key.0, &parts, &tags).is_ok() {
                        return Ok(());
                    }
                }
                Err(SignatureError::Mismatch)
            }
        }
    }
}

const GITHUB_HEADER: &str = "x-hub-signature-256";
const STRIPE_HEADER: &str = "stripe-signature";
const STANDARD_ID: &str = "webhook-id";
const STANDARD_TIMESTAMP: &str = "webhook-timestamp";
const STANDARD_SIGNATURE: &str = "webhook-signature";

/// What a signature is checked over.
#[derive(Clone, Copy, Debug)]
pub struct Signed<'a> {
    pub headers: &'a HeaderMap,
    /// The request path (`/hooks/github`).
    pub path: &'a str,
    /// The raw body.
    pub body: &'a [u8],
}

/// Why a request's signature does not verify (answered `401`). The message
/// names the header, never its value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the `{0}` header is missing")]
    Missing(String),
    #[error("the `{header}` header is malformed: {why}")]
    Malformed { header: &'static str, why: &'static str },
    #[error("the `{0}` header is malformed")]
    MalformedNamed(String),
    #[error("the timestamp in `{header}` is {how} the tolerance of {tolerance}s")]
    Stale { header: String, how: &'static str, tolerance: u64 },
    #[error("the signature does not match")]
    Mismatch,
}

impl SignatureError {
    /// A short word for logs and answers: `missing`, `malformed`, `stale`, `mismatch`.
    pub fn kind(&self) -> &'static str {
        match self {
            SignatureError::Missing(_) => "missing",
            SignatureError::Malformed { .. } | SignatureError::MalformedNamed(_) => "malformed",
            SignatureError::Stale { .. } => "stale",
            SignatureError::Mismatch => "mismatch",
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, SignatureError> {
    match headers.get(name) {
        Some(value) => value.to_str().map_err(|_| SignatureError::MalformedNamed(name.to_owned())),
        None => Err(SignatureError::Missing(name.to_owned())),
    }
}

/// Unix seconds within `tolerance` of `now`, either side.
fn check_time(name: &str, text: &str, tolerance: Duration, now: Timestamp) -> Result<(), SignatureError> {
    let seconds: i64 = text.trim().parse().map_err(|_| SignatureError::MalformedNamed(name.to_owned()))?;
    let difference = i128::from(seconds) - i128::from(now.as_second());
    let limit = i128::from(tolerance.as_secs());
    if difference.abs() > limit {
        return Err(SignatureError::Stale {
            header: name.to_owned(),
            how: if difference < 0 { "older than" } else { "further in the future than" },
            tolerance: tolerance.as_secs(),
        });
    }
    Ok(())
}

fn verify_hmac(scheme: &HmacScheme, request: &Signed<'_>, now: Timestamp) -> Result<(), SignatureError> {
    let sent = header(request.headers, &scheme.header)?;
    let timestamp = match &scheme.timestamp_header {
        Some(name) => {
            let value = header(request.headers, name)?;
            check_time(name, value, scheme.tolerance, now)?;
            Some(value)
        }
        None => None,
    };
    let encoded = sent
        .trim()
        .strip_prefix(scheme.prefix.as_str())
        .ok_or_else(|| SignatureError::MalformedNamed(scheme.header.clone()))?;
    let tag = scheme.encoding.decode(encoded).ok_or_else(|| SignatureError::MalformedNamed(scheme.header.clone()))?;
    let id = request.headers.get(STANDARD_ID).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let parts: Vec<&[u8]> = scheme
        .canonical
        .0
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.as_bytes(),
            Piece::Body => request.body,
            Piece::Timestamp => timestamp.unwrap_or_default().as_bytes(),
            Piece::Path => request.path.as_bytes(),
            Piece::Id => id.as_bytes(),
        })
        .collect();
    verify_tags(scheme.algorithm, scheme.secret.expose().as_bytes(), &parts, &[tag])
}

/// Whether one of `tags` is the HMAC of the concatenated `parts` under
/// `key`; each comparison is constant-time.
fn verify_tags(algorithm: Algorithm, key: &[u8], parts: &[&[u8]], tags: &[Vec<u8>]) -> Result<(), SignatureError> {
    let matched = match algorithm {
        Algorithm::Sha256 => verify_with::<hmac::Hmac<Sha256>>(key, parts, tags),
        Algorithm::Sha512 => verify_with::<hmac::Hmac<Sha512>>(key, parts, tags),
        Algorithm::Sha1 => verify_with::<hmac::Hmac<Sha1>>(key, parts, tags),
    };
    if matched { Ok(()) } else { Err(SignatureError::Mismatch) }
}

fn verify_with<M: Mac + KeyInit + Clone>(key: &[u8], parts: &[&[u8]], tags: &[Vec<u8>]) -> bool {
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else { return false };
    for part in parts {
        mac.update(part);
    }
    // Every tag is compared (no early exit on the first match's position).
    let mut matched = false;
    for tag in tags {
        matched |= mac.clone().verify_slice(tag).is_ok();
    }
    matched
}

/// The signature a scheme expects, for tests and tools that send webhooks:
/// the encoded HMAC of the concatenated `parts`.
pub fn sign(algorithm: Algorithm, encoding: Encoding, key: &[u8], parts: &[&[u8]]) -> String {
    fn tag<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match <M as KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                for part in parts {
                    mac.update(part);
                }
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
    let bytes = match algorithm {
        Algorithm::Sha256 => tag::<hmac::Hmac<Sha256>>(key, parts),
        Algorithm::Sha512 => tag::<hmac::Hmac<Sha512>>(key, parts),
        Algorithm::Sha1 => tag::<hmac::Hmac<Sha1>>(key, parts),
    };
    match encoding {
        Encoding::Hex => hex::encode(bytes),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn canonical_templates_parse_and_refuse_unknown_names() {
        let canonical = Canonical::parse("v0:{timestamp}:{body}").unwrap();
        assert_eq!(
            canonical.0,
            vec![Piece::Text("v0:".into()), Piece::Timestamp, Piece::Text(":".into()), Piece::Body]
        );
        assert_eq!(Canonical::parse("{{x}}{path}").unwrap().0, vec![Piece::Text("{x}".into()), Piece::Path]);
        assert!(Canonical::parse("{method}").unwrap_err().contains("`method`"));
        assert!(Canonical::parse("{body").is_err());
    }

    #[test]
    fn hmac_with_prefix_timestamp_and_base64() {
        let secret = Secret::new("slack-signing-secret-for-tests");
        let scheme = Scheme::Hmac(HmacScheme {
            prefix: "v0=".into(),
            timestamp_header: Some("x-slack-request-timestamp".into()),
            canonical: Canonical::parse("v0:{timestamp}:{body}").unwrap(),
            ..HmacScheme::new(secret.clone(), "X-Slack-Signature")
        });
        let body = b"token=x&text=hello";
        let signature = sign(Algorithm::Sha256, Encoding::Hex, secret.expose().as_bytes(), &[b"v0:1700000000:", body]);
        let sent =
            headers(&[("x-slack-signature", &format!("v0={signature}")), ("x-slack-request-timestamp", "1700000000")]);
        let request = Signed { headers: &sent, path: "/hooks/slack", body };
        assert_eq!(scheme.verify(&request, at(1_700_000_100)), Ok(()));
        assert!(matches!(scheme.verify(&request, at(1_700_000_400)), Err(SignatureError::Stale { .. })));
        let tampered = Signed { body: b"token=x&text=hellO", ..request };
        assert_eq!(scheme.verify(&tampered, at(1_700_000_100)), Err(SignatureError::Mismatch));
        let unprefixed = headers(&[("x-slack-signature", &signature), ("x-slack-request-timestamp", "1700000000")]);
        let request = Signed { headers: &unprefixed, path: "/hooks/slack", body };
        assert_eq!(scheme.verify(&request, at(1_700_000_100)).unwrap_err().kind(), "malformed");
    }

    #[test]
    fn hmac_sha512_sha1_and_path() {
        for algorithm in [Algorithm::Sha512, Algorithm::Sha1] {
            let secret = Secret::new("another-secret-for-tests");
            let scheme = Scheme::Hmac(HmacScheme {
                algorithm,
                encoding: Encoding::Base64,
                canonical: Canonical::parse("{path}\n{body}").unwrap(),
                ..HmacScheme::new(secret.clone(), "X-Sig")
            });
            let signature = sign(algorithm, Encoding::Base64, secret.expose().as_bytes(), &[b"/h\n", b"{}"]);
            let sent = headers(&[("x-sig", &signature)]);
            assert_eq!(scheme.verify(&Signed { headers: &sent, path: "/h", body: b"{}" }, at(0)), Ok(()));
            assert_eq!(
                scheme.verify(&Signed { headers: &sent, path: "/other", body: b"{}" }, at(0)),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn missing_headers_are_named_without_values() {
        let scheme = Scheme::GitHub { secret: Secret::new("gh-secret-for-tests") };
        let empty = HeaderMap::new();
        let error = scheme.verify(&Signed { headers: &empty, path: "/", body: b"" }, at(0)).unwrap_err();
        assert_eq!(error.to_string(), "the `x-hub-signature-256` header is missing");
        let bad = headers(&[("x-hub-signature-256", "md5=abc")]);
        let error = scheme.verify(&Signed { headers: &bad, path: "/", body: b"" }, at(0)).unwrap_err();
        assert!(!error.to_string().contains("abc"));
    }

    #[test]
    fn standard_webhooks_keys_must_be_base64() {
        assert!(Key::standard_webhooks(&Secret::new("whsec_!!!")).is_err());
        assert!(Key::standard_webhooks(&Secret::new("whsec_")).is_err());
        assert!(Key::standard_webhooks(&Secret::new("whsec_c2VjcmV0")).is_ok());
        assert_eq!(format!("{:?}", Key::standard_webhooks(&Secret::new("c2VjcmV0")).unwrap()), "<redacted>");
    }
}
