//! Opaque page tokens for offset-based paging.
//!
//! The layout matches MLflow's (base64 of `{"offset": N}`), so tokens handed out by either server read
//! the same, but clients treat them as opaque.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::error::{invalid, Result};

/// Encodes the offset of the next page.
pub fn encode(offset: u64) -> String {
    STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// Decodes a token from a request. An absent or empty token means the first page (offset 0).
///
/// # Errors
/// `InvalidParameterValue` when the token is not one this server produced.
pub fn decode(token: Option<&str>) -> Result<u64> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bad = || invalid(format!("Invalid page token, could not base64-decode or parse it: '{token}'"));
    let bytes = STANDARD.decode(token.trim()).map_err(|_| bad())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    match value.get("offset").and_then(serde_json::Value::as_u64) {
        Some(offset) if offset > 0 => Ok(offset),
        _ => Err(invalid(format!("Invalid page token '{token}': it carries no positive offset"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_mlflow_layout() {
        assert_eq!(encode(1), "eyJvZmZzZXQiOiAxfQ==");
        assert_eq!(decode(Some(&encode(1234))).unwrap(), 1234);
        assert_eq!(decode(None).unwrap(), 0);
        assert_eq!(decode(Some("")).unwrap(), 0);
    }

    #[test]
    fn rejects_garbage_and_zero_offsets() {
        assert!(decode(Some("not base64!")).is_err());
        assert!(decode(Some(&STANDARD.encode("[1]"))).is_err());
        assert!(decode(Some(&STANDARD.encode("{\"offset\": 0}"))).is_err());
        assert!(decode(Some(&STANDARD.encode("{\"offset\": -3}"))).is_err());
    }
}
