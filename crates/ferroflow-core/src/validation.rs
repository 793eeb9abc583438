//! MLflow's validation rules for names, keys, values and request sizes.
//!
//! Mirrors `mlflow/utils/validation.py` (MLflow 3.x): the limits and the kinds of input refused are the
//! same, the messages are ours.

use crate::error::{invalid, Result};

/// Longest metric, param or tag key.
pub const MAX_KEY_LENGTH: usize = 250;
/// Param values longer than this are cut to this many characters.
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
/// Run tag values longer than this are cut to this many characters.
pub const MAX_RUN_TAG_VALUE_LENGTH: usize = 8000;
/// Longest experiment tag value; longer ones are refused.
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 20_000;
/// Longest experiment name.
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
/// Longest experiment artifact location.
pub const MAX_ARTIFACT_LOCATION_LENGTH: usize = 2048;
/// log-batch limits.
pub const MAX_BATCH_METRICS: usize = 1000;
/// log-batch limits.
pub const MAX_BATCH_PARAMS: usize = 100;
/// log-batch limits.
pub const MAX_BATCH_TAGS: usize = 100;
/// log-batch limit on metrics + params + tags.
pub const MAX_BATCH_ENTITIES: usize = 1000;
/// Largest `max_results` of runs/search and experiments/search.
pub const MAX_SEARCH_RESULTS: i64 = 50_000;
/// Default `max_results` of runs/search.
pub const DEFAULT_RUN_SEARCH_RESULTS: i64 = 1000;
/// At most this many `mlflow.customView.view*` tags on one experiment.
pub const MAX_CUSTOM_VIEW_TAGS: usize = 50;
/// Prefix of experiment tags holding the UI's saved views.
pub const CUSTOM_VIEW_TAG_PREFIX: &str = "mlflow.customView.view";
/// Dataset field limits (log-inputs).
pub const MAX_DATASET_NAME_LENGTH: usize = 500;
/// Dataset field limits (log-inputs).
pub const MAX_DATASET_DIGEST_LENGTH: usize = 36;
/// Dataset field limits (log-inputs).
pub const MAX_DATASET_SOURCE_LENGTH: usize = 65_535;
/// Dataset field limits (log-inputs).
pub const MAX_DATASET_SCHEMA_LENGTH: usize = 1_048_575;
/// Dataset field limits (log-inputs).
pub const MAX_DATASET_PROFILE_LENGTH: usize = 16_777_215;
/// Input tag limits (log-inputs).
pub const MAX_INPUT_TAG_KEY_LENGTH: usize = 255;
/// Input tag limits (log-inputs).
pub const MAX_INPUT_TAG_VALUE_LENGTH: usize = 500;

/// What a key names, used in error messages.
#[derive(Debug, Clone, Copy)]
pub enum KeyKind {
    /// A run metric.
    Metric,
    /// A run param.
    Param,
    /// A run or experiment tag.
    Tag,
}

impl KeyKind {
    fn noun(self) -> &'static str {
        match self {
            Self::Metric => "metric name",
            Self::Param => "parameter name",
            Self::Tag => "tag name",
        }
    }
}

/// Message for a required field that is absent or empty, worded as MLflow words it.
pub fn missing(field: &str) -> crate::Error {
    invalid(format!(
        "Missing value for required parameter '{field}'. See the API docs for more information about request parameters."
    ))
}

/// Checks a metric, param or tag key: allowed characters, length, and that it reads as a clean
/// relative path (MLflow stores keys as file names in its file store and keeps the rule everywhere).
pub fn validate_key(kind: KeyKind, key: &str) -> Result<()> {
    let noun = kind.noun();
    if key.is_empty() {
        return Err(invalid(format!("Invalid {noun}: the name must not be empty")));
    }
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/' | ':');
    if !key.chars().all(allowed) {
        return Err(invalid(format!(
            "Invalid {noun}: '{key}'. Names may only contain alphanumerics, underscores (_), dashes (-), \
             periods (.), spaces ( ), colon(:) and slashes (/)."
        )));
    }
    if !is_normalized_relative_path(key) {
        return Err(invalid(format!(
            "Invalid {noun}: '{key}'. Names cannot be absolute or contain '..', './', '//' or a trailing '/'."
        )));
    }
    if key.chars().count() > MAX_KEY_LENGTH {
        return Err(invalid(format!(
            "Invalid {noun}: '{}...' is longer than the limit of {MAX_KEY_LENGTH} characters",
            truncate(key, 40)
        )));
    }
    Ok(())
}

fn is_normalized_relative_path(key: &str) -> bool {
    !key.starts_with('/')
        && !key.ends_with('/')
        && key.split('/').all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// Cuts a value to at most `limit` characters (on a character boundary).
pub fn truncate(value: &str, limit: usize) -> &str {
    match value.char_indices().nth(limit) {
        Some((byte_index, _)) => &value[..byte_index],
        None => value,
    }
}

/// Checks an experiment name: present, not blank, within the length limit.
pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(invalid("Invalid experiment name: the name must be a non-empty string"));
    }
    if name.chars().count() > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(invalid(format!(
            "Invalid experiment name: it is longer than the limit of {MAX_EXPERIMENT_NAME_LENGTH} characters"
        )));
    }
    Ok(())
}

/// Parses an experiment id; the SQL store only knows integer ids.
pub fn parse_experiment_id(id: &str) -> Result<i64> {
    id.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| invalid(format!("Invalid experiment ID: '{id}'. Experiment IDs are non-negative integers.")))
}

/// Checks a run id's shape (`^[a-zA-Z0-9][\w\-]{0,255}$`).
pub fn validate_run_id(id: &str) -> Result<()> {
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if first_ok && rest_ok && id.len() <= 256 {
        Ok(())
    } else {
        Err(invalid(format!("Invalid run ID: '{}'", truncate(id, 64))))
    }
}

/// Checks an explicit artifact location given to experiments/create.
pub fn validate_artifact_location(location: &str) -> Result<()> {
    if location.chars().count() > MAX_ARTIFACT_LOCATION_LENGTH {
        return Err(invalid(format!(
            "Invalid artifact location: it is longer than the limit of {MAX_ARTIFACT_LOCATION_LENGTH} characters"
        )));
    }
    if location.starts_with("runs:") {
        return Err(invalid(format!("Artifact location cannot be a runs:/ URI. Given: '{location}'")));
    }
    if location.contains('#') || (location.contains("://") && location.contains('?')) {
        return Err(invalid(format!(
            "Invalid artifact location '{location}': query parameters and fragments are not allowed"
        )));
    }
    Ok(())
}

/// Checks an experiment tag (key rules plus the value limit; experiment tag values are never truncated).
pub fn validate_experiment_tag(key: &str, value: &str) -> Result<()> {
    validate_key(KeyKind::Tag, key)?;
    if value.chars().count() > MAX_EXPERIMENT_TAG_VALUE_LENGTH {
        return Err(invalid(format!(
            "Experiment tag '{key}' has a value longer than the limit of {MAX_EXPERIMENT_TAG_VALUE_LENGTH} characters"
        )));
    }
    Ok(())
}

/// Checks that a length-limited field is within its limit.
pub fn validate_length(field: &str, value: &str, limit: usize) -> Result<()> {
    if value.chars().count() > limit {
        return Err(invalid(format!("'{field}' exceeds the maximum length of {limit} characters")));
    }
    Ok(())
}

/// Checks `max_results` of a search against `1..=limit`.
pub fn validate_max_results(max_results: i64, limit: i64) -> Result<()> {
    if max_results < 1 || max_results > limit {
        return Err(invalid(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be between 1 and {limit}."
        )));
    }
    Ok(())
}

/// A metric timestamp or step must be a non-negative integer of milliseconds.
pub fn validate_timestamp(field: &str, value: i64) -> Result<()> {
    if value < 0 {
        return Err(invalid(format!("Invalid value {value} for '{field}': it must be non-negative")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_charset_and_path_rules() {
        for ok in ["loss", "train/loss", "a.b-c d:e", "ünïcode_key"] {
            validate_key(KeyKind::Metric, ok).unwrap();
        }
        for bad in ["", "a$b", "/abs", "a/../b", "a//b", "a/", "./a", "..", "a\\b", "a\nb"] {
            assert!(validate_key(KeyKind::Param, bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_key(KeyKind::Tag, &"k".repeat(250)).is_ok());
        assert!(validate_key(KeyKind::Tag, &"k".repeat(251)).is_err());
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[test]
    fn experiment_ids_are_non_negative_integers() {
        assert_eq!(parse_experiment_id("0").unwrap(), 0);
        assert_eq!(parse_experiment_id("42").unwrap(), 42);
        for bad in ["", "abc", "-1", "1.5", "99999999999999999999"] {
            assert!(parse_experiment_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn run_ids_and_artifact_locations() {
        validate_run_id("0123456789abcdef0123456789abcdef").unwrap();
        assert!(validate_run_id("../etc").is_err());
        assert!(validate_run_id("").is_err());
        assert!(validate_artifact_location("runs:/abc/model").is_err());
        assert!(validate_artifact_location("s3://b/p?x=1").is_err());
        validate_artifact_location("s3://bucket/prefix").unwrap();
    }
}
