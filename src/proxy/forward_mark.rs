//! The cross-region forwarding mark: proves a request was sent by a sibling Meridian.
//!
//! A sibling that receives a request carrying a valid mark serves it locally and never sends it
//! across regions again, so two regions can never bounce a request between them. The mark is
//! an HMAC-SHA256 over the request id, origin region and a timestamp with a shared secret; a
//! client cannot forge it, and any mark that does not verify is stripped.

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderValue;
use sha2::Sha256;
use std::time::{SystemTime, UNIX_EPOCH};

/// Header carrying the mark.
pub const FORWARD_MARK: &str = "x-meridian-forwarded";

/// How far a mark's timestamp may be from our clock, in seconds (replay window).
const MAX_SKEW_SECS: u64 = 300;

/// The shared secret, ready to sign and verify.
#[derive(Clone)]
pub struct ForwardKey {
    /// Pre-keyed HMAC state; cloned per use.
    mac: Hmac<Sha256>,
}

impl ForwardKey {
    /// Keys the HMAC.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length"),
        }
    }

    fn tag(&self, from_region: &str, ts: u64, request_id: &str) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(b"v1|");
        mac.update(from_region.as_bytes());
        mac.update(b"|");
        mac.update(ts.to_string().as_bytes());
        mac.update(b"|");
        mac.update(request_id.as_bytes());
        mac
    }

    /// The header value marking `request_id` as forwarded from `from_region` now.
    pub fn sign(&self, from_region: &str, request_id: &str) -> HeaderValue {
        let ts = unix_now();
        let sig = hex::encode(
            self.tag(from_region, ts, request_id)
                .finalize()
                .into_bytes(),
        );
        HeaderValue::from_str(&format!("v1;{from_region};{ts};{sig}"))
            .expect("region names and hex are valid header text")
    }

    /// Verifies a mark for `request_id`; returns the region that forwarded it.
    pub fn verify(&self, value: &HeaderValue, request_id: &str) -> Option<String> {
        let text = value.to_str().ok()?;
        let mut parts = text.split(';');
        let (version, region, ts, sig) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version != "v1" || parts.next().is_some() {
            return None;
        }
        let ts: u64 = ts.parse().ok()?;
        if unix_now().abs_diff(ts) > MAX_SKEW_SECS {
            return None;
        }
        let sig = hex::decode(sig).ok()?;
        // verify_slice compares in constant time.
        self.tag(region, ts, request_id).verify_slice(&sig).ok()?;
        Some(region.to_string())
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_marks_verify_and_forgeries_do_not() {
        let key = ForwardKey::new(b"secret");
        let mark = key.sign("us-east-1", "req-1");
        assert_eq!(key.verify(&mark, "req-1").as_deref(), Some("us-east-1"));
        // Bound to the request id.
        assert_eq!(key.verify(&mark, "req-2"), None);
        // Another secret does not verify.
        assert_eq!(ForwardKey::new(b"other").verify(&mark, "req-1"), None);
        // Hand-written marks do not verify.
        let forged = HeaderValue::from_static("v1;us-east-1;0;00");
        assert_eq!(key.verify(&forged, "req-1"), None);
        assert_eq!(key.verify(&HeaderValue::from_static("1"), "req-1"), None);
    }
}
