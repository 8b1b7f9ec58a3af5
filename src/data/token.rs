//! Consistency tokens: the writer's epoch and a log position at or past a client's last write,
//! signed so a client cannot forge or alter one.
//!
//! Text form: `v1.<system hex>.<timeline hex>.<lsn hex>.<tag>`, where the tag is the first 16
//! bytes of HMAC-SHA256 over the rest, keyed from the shared forwarding secret (domain-separated
//! from the forwarding mark). It travels in the `x-meridian-consistency` header and the
//! `meridian_consistency` HttpOnly cookie; a value that does not verify is ignored.

use super::view::{Epoch, Lsn};
use crate::header_list::HeaderList;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderValue;
use sha2::Sha256;

/// Request and response header carrying the token.
pub const TOKEN_HEADER: &str = "x-meridian-consistency";
/// Cookie carrying the token.
pub const TOKEN_COOKIE: &str = "meridian_consistency";
/// Response header on a read whose token names a write lost in a failover.
pub const LOST_HEADER: &str = "x-meridian-consistency-lost";
/// Bytes of the HMAC kept in a token.
const TAG_BYTES: usize = 16;

/// A position in one epoch's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// Whose history.
    pub epoch: Epoch,
    /// Where in it.
    pub lsn: Lsn,
}

impl Token {
    /// The later of two tokens: a later epoch wins, then a later position. Tokens of different
    /// systems cannot be ordered: `self` (the newer one, by the caller's knowledge) wins.
    pub fn max(self, other: Token) -> Token {
        if self.epoch.system != other.epoch.system {
            return self;
        }
        if (other.epoch.timeline, other.lsn) > (self.epoch.timeline, self.lsn) {
            other
        } else {
            self
        }
    }
}

/// Signs and verifies tokens.
#[derive(Clone)]
pub struct TokenKey {
    /// Pre-keyed HMAC state.
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// A key derived from the shared secret for this one purpose.
    pub fn new(secret: &[u8]) -> Self {
        let mut derive =
            Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        derive.update(b"meridian consistency token v1");
        let key = derive.finalize().into_bytes();
        Self {
            mac: Hmac::<Sha256>::new_from_slice(&key).expect("HMAC accepts keys of any length"),
        }
    }

    fn body(token: Token) -> String {
        format!(
            "v1.{:x}.{:x}.{:x}",
            token.epoch.system, token.epoch.timeline, token.lsn.0
        )
    }

    /// The signed text of a token.
    pub fn sign(&self, token: Token) -> String {
        let body = Self::body(token);
        let mut mac = self.mac.clone();
        mac.update(body.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("{body}.{}", hex::encode(&tag[..TAG_BYTES]))
    }

    /// The token in `text`, if it is well formed and its tag verifies.
    pub fn verify(&self, text: &str) -> Option<Token> {
        let (body, tag) = text.rsplit_once('.')?;
        let tag = hex::decode(tag).ok()?;
        if tag.len() != TAG_BYTES {
            return None;
        }
        let mut mac = self.mac.clone();
        mac.update(body.as_bytes());
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(&tag).ok()?;
        let mut parts = body.split('.');
        if parts.next()? != "v1" {
            return None;
        }
        let system = u64::from_str_radix(parts.next()?, 16).ok()?;
        let timeline = u32::from_str_radix(parts.next()?, 16).ok()?;
        let lsn = u64::from_str_radix(parts.next()?, 16).ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Token {
            epoch: Epoch { system, timeline },
            lsn: Lsn(lsn),
        })
    }

    /// The newest valid token a request carries, in the header or the cookie.
    pub fn from_request(&self, headers: &HeaderList) -> Option<Token> {
        let from_header = headers
            .get_all(TOKEN_HEADER)
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| self.verify(v.trim()));
        let from_cookie = headers
            .get_all("cookie")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                (name == TOKEN_COOKIE).then_some(value)
            })
            .filter_map(|v| self.verify(v.trim_matches('"')));
        from_header.chain(from_cookie).reduce(Token::max)
    }
}

/// The `Set-Cookie` value for a signed token.
pub fn cookie(signed: &str, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{TOKEN_COOKIE}={signed}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(timeline: u32, lsn: u64) -> Token {
        Token {
            epoch: Epoch {
                system: 0x7123_4567_89ab_cdef,
                timeline,
            },
            lsn: Lsn(lsn),
        }
    }

    #[test]
    fn signed_tokens_verify_and_altered_ones_do_not() {
        let key = TokenKey::new(b"secret");
        let t = token(2, 0x300_0148);
        let signed = key.sign(t);
        assert_eq!(key.verify(&signed), Some(t));
        assert_eq!(TokenKey::new(b"other").verify(&signed), None);
        // Moving the position forward (to force a wait) or back breaks the tag.
        let altered = signed.replacen("3000148", "3000149", 1);
        assert_eq!(key.verify(&altered), None);
        for bad in [
            "",
            "v1",
            "v1.1.1.1",
            "v1.1.1.1.zz",
            "v2.1.1.1.00000000000000000000000000000000",
        ] {
            assert_eq!(key.verify(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_newest_token_wins_from_header_or_cookie() {
        let key = TokenKey::new(b"secret");
        let old = key.sign(token(1, 900));
        let new = key.sign(token(2, 100));
        let mut h = HeaderList::new();
        h.append(TOKEN_HEADER, HeaderValue::from_str(&old).unwrap());
        h.append(
            "cookie",
            HeaderValue::from_str(&format!("a=b; {TOKEN_COOKIE}={new}; c=d")).unwrap(),
        );
        h.append(TOKEN_HEADER, HeaderValue::from_static("v1.1.1.1.forged"));
        assert_eq!(key.from_request(&h), Some(token(2, 100)));
        assert_eq!(token(1, 5).max(token(1, 9)), token(1, 9));
        assert_eq!(token(2, 5).max(token(1, 9)), token(2, 5));
    }
}
