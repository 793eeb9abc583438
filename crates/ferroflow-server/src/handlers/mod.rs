//! Endpoint handlers, one module per resource. Each extracts the request message, turns it into
//! validated core values, calls the store and maps the result to the wire types.

/// Request messages of the management endpoints: structs of optional fields, read by
/// [`crate::extract::MlflowRequest`].
macro_rules! messages {
    ($($name:ident { $($field:ident : $ty:ty),* $(,)? })*) => {
        $(
            #[derive(Debug, Default, Deserialize)]
            #[serde(default)]
            pub struct $name { $(pub $field: $ty),* }
            impl RequestMessage for $name {}
        )*
    };
}

pub mod artifacts;
pub mod audit;
pub mod experiments;
pub mod logged_models;
pub mod metrics;
pub mod registry;
pub mod roles;
pub mod run_artifacts;
pub mod runs;
pub mod server;
pub mod session;
pub mod ui;
pub mod users;

use ferroflow_api::requests as req;
use ferroflow_core::model::KeyValue;

use crate::error::{ApiError, ApiResult};

/// A required string field: present and non-empty.
pub(crate) fn required(value: Option<String>, field: &str) -> ApiResult<String> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| ApiError::missing(field))
}

/// A required experiment id, parsed.
pub(crate) fn experiment_id(value: Option<String>) -> ApiResult<i64> {
    let id = required(value, "experiment_id")?;
    Ok(ferroflow_core::validation::parse_experiment_id(&id)?)
}

/// Tags or params of a request; a key is required (named by its position), a value defaults to "".
pub(crate) fn key_values(tags: Vec<req::KeyValue>, what: &str) -> ApiResult<Vec<KeyValue>> {
    tags.into_iter()
        .enumerate()
        .map(|(i, tag)| {
            Ok(KeyValue { key: required(tag.key, &format!("{what}[{i}].key"))?, value: tag.value.unwrap_or_default() })
        })
        .collect()
}
