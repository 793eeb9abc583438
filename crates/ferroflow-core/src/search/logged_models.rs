//! The filter and order-by of `logged-models/search`: the shared grammar, checked against what a logged
//! model has (metrics, params, tags and its attributes).

use super::{entity_of, number_condition, string_match, Entity, NumberOp, StringMatch};
use crate::error::{invalid, Result};
use crate::model::LoggedModelStatus;

/// String attributes of a logged model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedModelStringAttribute {
    /// `model_id`
    ModelId,
    /// `name`
    Name,
    /// `status` (compared by wire name; `READY` and `LOGGED_MODEL_READY` are the same)
    Status,
    /// `model_type`
    ModelType,
    /// `source_run_id`
    SourceRunId,
}

/// Numeric attributes of a logged model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedModelNumberAttribute {
    /// `experiment_id`
    ExperimentId,
    /// `creation_timestamp` (alias `creation_time`, `creation_timestamp_ms`)
    CreationTimestamp,
    /// `last_updated_timestamp` (alias `last_updated_timestamp_ms`)
    LastUpdatedTimestamp,
}

/// One validated clause of a logged-model filter.
#[derive(Debug, Clone, PartialEq)]
pub enum LoggedModelClause {
    /// Compares the model's latest value of a metric (within the request's datasets, if any).
    Metric { key: String, op: NumberOp, value: f64 },
    /// A condition on a param.
    Param { key: String, condition: StringMatch },
    /// A condition on a tag.
    Tag { key: String, condition: StringMatch },
    /// A condition on a string attribute.
    StringAttribute { attribute: LoggedModelStringAttribute, condition: StringMatch },
    /// A condition on a numeric attribute.
    NumberAttribute { attribute: LoggedModelNumberAttribute, op: NumberOp, value: f64 },
}

/// What a logged-model ordering sorts by.
#[derive(Debug, Clone, PartialEq)]
pub enum LoggedModelOrderKey {
    /// The latest value of a metric, optionally only on one dataset.
    Metric { key: String, dataset_name: Option<String>, dataset_digest: Option<String> },
    /// A string attribute.
    StringAttribute(LoggedModelStringAttribute),
    /// A numeric attribute.
    NumberAttribute(LoggedModelNumberAttribute),
}

/// One `order_by` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModelOrder {
    /// The key.
    pub key: LoggedModelOrderKey,
    /// Ascending unless `false`.
    pub ascending: bool,
}

const ATTRIBUTE_KEYS: &str = "['model_id', 'name', 'status', 'model_type', 'source_run_id', 'experiment_id', \
     'creation_timestamp', 'last_updated_timestamp']";

fn string_attribute(key: &str) -> Option<LoggedModelStringAttribute> {
    Some(match key {
        "model_id" => LoggedModelStringAttribute::ModelId,
        "name" => LoggedModelStringAttribute::Name,
        "status" => LoggedModelStringAttribute::Status,
        "model_type" => LoggedModelStringAttribute::ModelType,
        "source_run_id" => LoggedModelStringAttribute::SourceRunId,
        _ => return None,
    })
}

fn number_attribute(key: &str) -> Option<LoggedModelNumberAttribute> {
    Some(match key {
        "experiment_id" => LoggedModelNumberAttribute::ExperimentId,
        "creation_timestamp" | "creation_time" | "creation_timestamp_ms" => {
            LoggedModelNumberAttribute::CreationTimestamp
        }
        "last_updated_timestamp" | "last_updated_timestamp_ms" => LoggedModelNumberAttribute::LastUpdatedTimestamp,
        _ => return None,
    })
}

/// Parses and checks the filter of a `logged-models/search` request.
///
/// # Errors
/// `InvalidParameterValue` naming the offending part.
pub fn parse_logged_model_filter(filter: &str) -> Result<Vec<LoggedModelClause>> {
    super::grammar::parse_filter(filter)?
        .into_iter()
        .map(|c| {
            let key = c.identifier.key.clone();
            Ok(match entity_of(&c.identifier)? {
                Entity::Metric => {
                    let (op, value) = number_condition(&c, "metric")?;
                    LoggedModelClause::Metric { key, op, value }
                }
                Entity::Param => LoggedModelClause::Param { key, condition: string_match(&c, true, "param")? },
                Entity::Tag => LoggedModelClause::Tag { key, condition: string_match(&c, true, "tag")? },
                Entity::Attribute => {
                    if let Some(attribute) = string_attribute(&key) {
                        let mut condition = string_match(&c, true, "attribute")?;
                        if attribute == LoggedModelStringAttribute::Status {
                            condition = status_condition(condition)?;
                        }
                        LoggedModelClause::StringAttribute { attribute, condition }
                    } else if let Some(attribute) = number_attribute(&key) {
                        let (op, value) = number_condition(&c, "attribute")?;
                        LoggedModelClause::NumberAttribute { attribute, op, value }
                    } else {
                        return Err(invalid(format!(
                            "Invalid attribute key '{key}' specified. Valid keys are {ATTRIBUTE_KEYS}"
                        )));
                    }
                }
                Entity::Dataset => {
                    return Err(invalid(
                        "Logged models cannot be filtered on datasets in the filter; use the `datasets` field",
                    ))
                }
            })
        })
        .collect()
}

/// Status values are stored by wire name; accept the short names too.
fn status_condition(condition: StringMatch) -> Result<StringMatch> {
    let wire = |value: String| {
        LoggedModelStatus::from_name(&value).map(|s| s.as_str().to_owned()).ok_or_else(|| {
            invalid(format!("Invalid status '{value}'. Valid values are ['PENDING', 'READY', 'UPLOAD_FAILED']"))
        })
    };
    Ok(match condition {
        StringMatch::Eq(v) => StringMatch::Eq(wire(v)?),
        StringMatch::Ne(v) => StringMatch::Ne(wire(v)?),
        StringMatch::In(vs) => StringMatch::In(vs.into_iter().map(wire).collect::<Result<_>>()?),
        StringMatch::NotIn(vs) => StringMatch::NotIn(vs.into_iter().map(wire).collect::<Result<_>>()?),
        pattern @ (StringMatch::Like(_) | StringMatch::ILike(_)) => pattern,
    })
}

/// Parses one `order_by` object of `logged-models/search`.
///
/// # Errors
/// `InvalidParameterValue` for an unknown field, or dataset scoping on a non-metric field.
pub fn parse_logged_model_order(
    field_name: &str,
    ascending: bool,
    dataset_name: Option<String>,
    dataset_digest: Option<String>,
) -> Result<LoggedModelOrder> {
    let (entity, key) = match field_name.split_once('.') {
        Some((entity, key)) => (Some(entity), key),
        None => (None, field_name),
    };
    let key = match entity {
        Some("metrics" | "metric") => {
            if dataset_digest.is_some() && dataset_name.is_none() {
                return Err(invalid("`dataset_digest` can only be given together with `dataset_name`"));
            }
            return Ok(LoggedModelOrder {
                key: LoggedModelOrderKey::Metric { key: key.to_owned(), dataset_name, dataset_digest },
                ascending,
            });
        }
        None | Some("attribute" | "attributes") => {
            if let Some(attribute) = string_attribute(key) {
                LoggedModelOrderKey::StringAttribute(attribute)
            } else if let Some(attribute) = number_attribute(key) {
                LoggedModelOrderKey::NumberAttribute(attribute)
            } else {
                return Err(invalid(format!(
                    "Invalid order_by field '{field_name}'. Valid fields are metrics.<name> and {ATTRIBUTE_KEYS}"
                )));
            }
        }
        Some(_) => {
            return Err(invalid(format!(
                "Invalid order_by field '{field_name}'. Valid fields are metrics.<name> and {ATTRIBUTE_KEYS}"
            )))
        }
    };
    if dataset_name.is_some() || dataset_digest.is_some() {
        return Err(invalid(format!("`dataset_name` and `dataset_digest` only apply to metrics, not '{field_name}'")));
    }
    Ok(LoggedModelOrder { key, ascending })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_cover_metrics_params_tags_and_attributes() {
        let clauses = parse_logged_model_filter(
            "name = 'model' AND metrics.acc >= 0.9 AND params.depth IN ('3', '4') AND tags.`team` LIKE 'ml%' \
             AND status = 'READY' AND creation_timestamp > 10 AND attributes.source_run_id != 'x'",
        )
        .unwrap();
        assert_eq!(clauses.len(), 7);
        assert_eq!(
            clauses[4],
            LoggedModelClause::StringAttribute {
                attribute: LoggedModelStringAttribute::Status,
                condition: StringMatch::Eq("LOGGED_MODEL_READY".into())
            }
        );
        for bad in ["status = 'DONE'", "colour = 'red'", "metrics.acc = 'high'", "datasets.name = 'x'", "name > 3"] {
            assert!(parse_logged_model_filter(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn order_fields() {
        assert_eq!(
            parse_logged_model_order("metrics.acc", false, Some("eval".into()), None).unwrap().key,
            LoggedModelOrderKey::Metric { key: "acc".into(), dataset_name: Some("eval".into()), dataset_digest: None }
        );
        assert_eq!(
            parse_logged_model_order("creation_time", true, None, None).unwrap().key,
            LoggedModelOrderKey::NumberAttribute(LoggedModelNumberAttribute::CreationTimestamp)
        );
        assert!(parse_logged_model_order("name", true, Some("eval".into()), None).is_err());
        assert!(parse_logged_model_order("params.x", true, None, None).is_err());
        assert!(parse_logged_model_order("metrics.acc", true, None, Some("d".into())).is_err());
    }
}
