//! Lenient field deserializers for request bodies (see the crate docs).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn describe(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 64 {
        format!("{}...", &text[..text.char_indices().nth(60).map_or(text.len(), |(i, _)| i)])
    } else {
        text
    }
}

/// An optional int64: a JSON integer, an integral float, or a numeric string.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(value) = Option::<Value>::deserialize(d)? else {
        return Ok(None);
    };
    let parsed = match &value {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18).map(|f| f as i64))
        }
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| D::Error::custom(format!("expected a 64-bit integer, got {}", describe(&value))))
}

/// An optional double: a JSON number, a numeric string, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let Some(value) = Option::<Value>::deserialize(d)? else {
        return Ok(None);
    };
    let parsed = match &value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.trim() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" | "+Infinity" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            other => other.parse::<f64>().ok(),
        },
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| D::Error::custom(format!("expected a number, got {}", describe(&value))))
}

/// An optional bool: JSON `true`/`false`, or the strings `true`/`false` in any case (query strings).
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let Some(value) = Option::<Value>::deserialize(d)? else {
        return Ok(None);
    };
    match &value {
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        _ => Err(D::Error::custom(format!("expected a boolean, got {}", describe(&value)))),
    }
}

/// A repeated string field: a JSON array of strings. (A query string's repeated keys arrive as an array
/// too; see `RequestMessage::REPEATED`.)
pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                other => Err(D::Error::custom(format!("expected a string, got {}", describe(&other)))),
            })
            .collect(),
        Some(other) => Err(D::Error::custom(format!("expected a list of strings, got {}", describe(&other)))),
    }
}

/// A repeated message field: an array, or absent/null for none.
pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// An enum given by name or number, mapped by `from_name`/`from_number`. Unknown names are dropped, as
/// proto JSON parsing drops them; unknown numbers are refused.
pub fn opt_enum<'de, D: Deserializer<'de>, T>(
    d: D,
    from_name: fn(&str) -> Option<T>,
    from_number: fn(i64) -> Option<T>,
) -> Result<Option<T>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None => Ok(None),
        Some(Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => from_number(n).map(Some).ok_or_else(|| D::Error::custom(format!("unknown enum value {n}"))),
            Err(_) => Ok(from_name(s.trim())),
        },
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(from_number)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("unknown enum value {n}"))),
        Some(other) => Err(D::Error::custom(format!("expected an enum name, got {}", describe(&other)))),
    }
}
