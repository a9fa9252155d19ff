//! `std/hash`: digests, HMACs and checksums of UTF-8 text, as lowercase hex
//! (or standard padded base64 for the `_base64` variants).

use base64::Engine as _;
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use sha2::Digest;

use super::{Native, native_table, optional};
use crate::value::Value;

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn sha256(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

pub fn sha512(s: &str) -> String {
    hex::encode(sha2::Sha512::digest(s.as_bytes()))
}

pub fn sha1(s: &str) -> String {
    hex::encode(sha1::Sha1::digest(s.as_bytes()))
}

pub fn md5(s: &str) -> String {
    hex::encode(md5::Md5::digest(s.as_bytes()))
}

pub fn md5_base64(s: &str) -> String {
    base64(&md5::Md5::digest(s.as_bytes()))
}

/// The HMAC of `message` under `key` with the digest `D`. Any key length is
/// valid for HMAC (a long key is hashed, a short one zero-padded).
fn mac<D: EagerHash>(key: &[u8], message: &[u8]) -> Vec<u8>
where
    Hmac<D>: KeyInit + Mac,
{
    match <Hmac<D> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        // Unreachable: HMAC takes keys of every length.
        Err(_) => Vec::new(),
    }
}

pub fn hmac_sha256(key: &str, message: &str) -> String {
    hex::encode(mac::<sha2::Sha256>(key.as_bytes(), message.as_bytes()))
}

pub fn hmac_sha256_base64(key: &str, message: &str) -> String {
    base64(&mac::<sha2::Sha256>(key.as_bytes(), message.as_bytes()))
}

pub fn hmac_sha512(key: &str, message: &str) -> String {
    hex::encode(mac::<sha2::Sha512>(key.as_bytes(), message.as_bytes()))
}

pub fn hmac_sha512_base64(key: &str, message: &str) -> String {
    base64(&mac::<sha2::Sha512>(key.as_bytes(), message.as_bytes()))
}

pub fn hmac_sha1(key: &str, message: &str) -> String {
    hex::encode(mac::<sha1::Sha1>(key.as_bytes(), message.as_bytes()))
}

/// HMAC-SHA256 under a key given in hex; none when `key_hex` is not hex.
pub fn hmac_sha256_hex_key(key_hex: &str, message: &str) -> Option<String> {
    let key = hex::decode(key_hex).ok()?;
    Some(hex::encode(mac::<sha2::Sha256>(&key, message.as_bytes())))
}

/// The CRC-32 (IEEE) of the UTF-8 bytes.
pub fn crc32(s: &str) -> i64 {
    i64::from(crc32fast::hash(s.as_bytes()))
}

/// Equality in time that depends only on the lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |difference, (x, y)| difference | (x ^ y));
    std::hint::black_box(difference) == 0
}

pub(super) const NATIVES: &[Native] = native_table! {
    "sha256" / 1 => |_, a| Ok(Value::string(sha256(a.string(0)?)));
    "sha512" / 1 => |_, a| Ok(Value::string(sha512(a.string(0)?)));
    "sha1" / 1 => |_, a| Ok(Value::string(sha1(a.string(0)?)));
    "md5" / 1 => |_, a| Ok(Value::string(md5(a.string(0)?)));
    "md5_base64" / 1 => |_, a| Ok(Value::string(md5_base64(a.string(0)?)));
    "hmac_sha256" / 2 => |_, a| Ok(Value::string(hmac_sha256(a.string(0)?, a.string(1)?)));
    "hmac_sha256_base64" / 2 => |_, a| Ok(Value::string(hmac_sha256_base64(a.string(0)?, a.string(1)?)));
    "hmac_sha512" / 2 => |_, a| Ok(Value::string(hmac_sha512(a.string(0)?, a.string(1)?)));
    "hmac_sha512_base64" / 2 => |_, a| Ok(Value::string(hmac_sha512_base64(a.string(0)?, a.string(1)?)));
    "hmac_sha1" / 2 => |_, a| Ok(Value::string(hmac_sha1(a.string(0)?, a.string(1)?)));
    "hmac_sha256_hex_key" / 2 => |_, a| Ok(optional(hmac_sha256_hex_key(a.string(0)?, a.string(1)?), Value::string));
    "crc32" / 1 => |_, a| Ok(Value::Int(crc32(a.string(0)?)));
    "constant_time_eq" / 2 => |_, a| Ok(Value::Bool(constant_time_eq(a.string(0)?, a.string(1)?)));
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    const FOX: &str = "The quick brown fox jumps over the lazy dog";

    #[test]
    fn digests() {
        assert_eq!(sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(
            sha512("abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(sha1("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(md5("abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(md5(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_base64("abc"), "kAFQmDzST7DWlj99KOF/cg==");
        // UTF-8 bytes are hashed.
        assert_eq!(sha256("é"), sha256("\u{e9}"));
        assert_ne!(sha256("é"), sha256("e\u{301}"));
    }

    #[test]
    fn hmacs() {
        assert_eq!(hmac_sha256("key", FOX), "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
        assert_eq!(hmac_sha256_base64("key", FOX), "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=");
        assert_eq!(
            hmac_sha512("key", FOX),
            "b42af09057bac1e2d41708e48a902e09b5ff7f12ab428a4fe86653c73dd248fb82f948a549f7b791a5b41915ee4d1ec3935357e4e2317250d0372afa2ebeeb3a"
        );
        assert_eq!(
            hmac_sha512_base64("key", FOX),
            "tCrwkFe6weLUFwjkipAuCbX/fxKrQopP6GZTxz3SSPuC+UilSfe3kaW0GRXuTR7Dk1NX5OIxclDQNyr6Lr7rOg=="
        );
        assert_eq!(hmac_sha1("key", FOX), "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9");
        // RFC 4231 test case 2 has a short key; an empty key is valid too.
        assert_eq!(hmac_sha256("", ""), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
        // A key longer than the block is hashed first (RFC 4231 test case 6).
        let long_key = "\u{aa}".repeat(131);
        assert_eq!(hmac_sha256(&long_key, "x").len(), 64);
    }

    #[test]
    fn hmac_with_hex_key() {
        assert_eq!(
            hmac_sha256_hex_key("6b6579", FOX).as_deref(),
            Some("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
        );
        assert_eq!(hmac_sha256_hex_key("6B6579", FOX), hmac_sha256_hex_key("6b6579", FOX));
        assert_eq!(hmac_sha256_hex_key("6b6", "x"), None);
        assert_eq!(hmac_sha256_hex_key("zz", "x"), None);
        assert_eq!(hmac_sha256_hex_key("", ""), Some(hmac_sha256("", "")));
    }

    #[test]
    fn checksums_and_comparison() {
        assert_eq!(crc32("hello"), 907_060_870);
        assert_eq!(crc32(""), 0);
        assert_eq!(crc32("\u{ff}\u{ff}\u{ff}"), i64::from(crc32fast::hash("\u{ff}\u{ff}\u{ff}".as_bytes())));
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert!(constant_time_eq("", ""));
    }

    #[test]
    fn adapters() {
        assert_eq!(call("sha256", &[s("abc")]).unwrap(), s(&sha256("abc")));
        assert_eq!(call("hmac_sha256_hex_key", &[s("6b6"), s("x")]).unwrap(), Value::None);
        assert_eq!(call("crc32", &[s("hello")]).unwrap(), Value::Int(907_060_870));
        assert_eq!(call("constant_time_eq", &[s("a"), s("a")]).unwrap(), Value::Bool(true));
        assert_eq!(call("md5_base64", &[s("abc")]).unwrap(), s("kAFQmDzST7DWlj99KOF/cg=="));
    }
}
