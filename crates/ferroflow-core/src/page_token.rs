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

/// Encodes the offset of the next page of a search that insists on being continued with the same
/// arguments (logged models): `search` is a canonical rendering of those arguments.
pub fn encode_for_search(offset: u64, search: &str) -> String {
    STANDARD.encode(serde_json::json!({ "offset": offset, "search": search }).to_string())
}

/// Decodes a token made by [`encode_for_search`], checking it belongs to the same `search`.
///
/// # Errors
/// `InvalidParameterValue` for a foreign token or one issued for other search arguments.
pub fn decode_for_search(token: Option<&str>, search: &str) -> Result<u64> {
    let offset = decode(token)?;
    if offset == 0 {
        return Ok(0);
    }
    let bytes = STANDARD.decode(token.unwrap_or_default().trim()).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if value.get("search").and_then(serde_json::Value::as_str) != Some(search) {
        return Err(invalid(
            "Invalid page token: it was issued for a search with different experiment_ids, filter or order_by",
        ));
    }
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_bound_tokens_only_continue_their_search() {
        let token = encode_for_search(50, "a");
        assert_eq!(decode_for_search(Some(&token), "a").unwrap(), 50);
        assert!(decode_for_search(Some(&token), "b").is_err());
        assert!(decode_for_search(Some(&encode(50)), "a").is_err());
        assert_eq!(decode_for_search(None, "a").unwrap(), 0);
    }

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
