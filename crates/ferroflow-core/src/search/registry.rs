//! Filters and orderings of `registered-models/search` and `model-versions/search`.

use super::grammar::{self, Comparator, Comparison, Operand};
use super::{number_condition, string_match, NumberOp, StringMatch, MAX_ORDER_BY_KEYS};
use crate::error::{invalid, Result};

/// The tag that marks prompts, which registry searches hide unless asked for.
pub const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

/// A string attribute of registered models or model versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryStringAttribute {
    /// `name`
    Name,
    /// `run_id` (versions only)
    RunId,
    /// `source_path` (versions only)
    Source,
}

/// One validated clause of a registry filter.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryClause {
    /// A condition on a string attribute.
    Attribute { attribute: RegistryStringAttribute, condition: StringMatch },
    /// `version_number` compared with an integer (versions only).
    VersionNumber { op: NumberOp, value: i64 },
    /// A condition on a tag (of the model, or of the version).
    Tag { key: String, condition: StringMatch },
}

/// Which registry search a filter or ordering is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryEntity {
    /// `registered-models/search`
    RegisteredModels,
    /// `model-versions/search`
    ModelVersions,
}

/// What a registry ordering sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryOrderKey {
    /// `name`
    Name,
    /// `version_number` (versions only)
    VersionNumber,
    /// `creation_timestamp` (versions only)
    CreationTimestamp,
    /// `last_updated_timestamp`, also spelled `timestamp` for models
    LastUpdatedTimestamp,
}

/// One `order_by` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryOrder {
    /// The key.
    pub key: RegistryOrderKey,
    /// Ascending unless `DESC`.
    pub ascending: bool,
}

/// Parses and checks a registry filter.
///
/// # Errors
/// `InvalidParameterValue` naming the offending part.
pub fn parse_registry_filter(filter: &str, entity: RegistryEntity) -> Result<Vec<RegistryClause>> {
    grammar::parse_filter(filter)?.into_iter().map(|c| registry_clause(c, entity)).collect()
}

fn registry_clause(c: Comparison, entity: RegistryEntity) -> Result<RegistryClause> {
    let key = c.identifier.key.clone();
    let prefix = c.identifier.entity.as_deref().map(str::to_ascii_lowercase);
    match prefix.as_deref() {
        Some("tag" | "tags") => {
            if matches!(c.comparator, Comparator::In | Comparator::NotIn | Comparator::IsNull | Comparator::IsNotNull) {
                return Err(invalid(format!(
                    "Invalid comparator '{}' for tag '{key}'. Valid comparators are ['=', '!=', 'LIKE', 'ILIKE']",
                    c.comparator.as_str()
                )));
            }
            Ok(RegistryClause::Tag { condition: string_match(&c, false, "tag")?, key })
        }
        None | Some("attribute" | "attributes") => {
            let versions = entity == RegistryEntity::ModelVersions;
            let attribute = match key.as_str() {
                "name" => RegistryStringAttribute::Name,
                "run_id" if versions => RegistryStringAttribute::RunId,
                "source_path" if versions => RegistryStringAttribute::Source,
                "version_number" if versions => return version_number(&c),
                _ => {
                    let valid =
                        if versions { "['name', 'run_id', 'source_path', 'version_number']" } else { "['name']" };
                    return Err(invalid(format!("Invalid attribute key '{key}' specified. Valid keys are {valid}")));
                }
            };
            let allow_lists = attribute != RegistryStringAttribute::Source;
            Ok(RegistryClause::Attribute { attribute, condition: string_match(&c, allow_lists, "attribute")? })
        }
        Some(other) => Err(invalid(format!("Invalid entity type '{other}'. Valid values are ['tag', 'attribute']"))),
    }
}

fn version_number(c: &Comparison) -> Result<RegistryClause> {
    // MLflow accepts the number quoted, too.
    let unquoted;
    let c = match &c.operand {
        Operand::Text(text) => {
            let number = text
                .trim()
                .parse::<i64>()
                .map_err(|_| invalid(format!("Expected an integer for version_number, found the string '{text}'")))?;
            unquoted = Comparison { operand: Operand::Number(number as f64), ..c.clone() };
            &unquoted
        }
        _ => c,
    };
    let (op, value) = number_condition(c, "attribute")?;
    if value.fract() != 0.0 || !value.is_finite() {
        return Err(invalid(format!("Expected an integer for version_number, found {value}")));
    }
    Ok(RegistryClause::VersionNumber { op, value: value as i64 })
}

/// Parses a registry `order_by` list.
///
/// # Errors
/// `InvalidParameterValue` for an unknown or repeated key.
pub fn parse_registry_order_by(clauses: &[String], entity: RegistryEntity) -> Result<Vec<RegistryOrder>> {
    if clauses.len() > MAX_ORDER_BY_KEYS {
        return Err(invalid(format!("`order_by` can have at most {MAX_ORDER_BY_KEYS} keys, got {}", clauses.len())));
    }
    let versions = entity == RegistryEntity::ModelVersions;
    let mut orders: Vec<RegistryOrder> = Vec::new();
    for clause in clauses {
        let (identifier, ascending) = grammar::parse_order_clause(clause)?;
        let attribute_prefix = matches!(identifier.entity.as_deref(), None | Some("attribute" | "attributes"));
        let key = match identifier.key.as_str() {
            _ if !attribute_prefix => None,
            "name" => Some(RegistryOrderKey::Name),
            "timestamp" | "last_updated_timestamp" => Some(RegistryOrderKey::LastUpdatedTimestamp),
            "version_number" if versions => Some(RegistryOrderKey::VersionNumber),
            "creation_timestamp" if versions => Some(RegistryOrderKey::CreationTimestamp),
            _ => None,
        };
        let Some(key) = key else {
            let valid = if versions {
                "['name', 'version_number', 'creation_timestamp', 'last_updated_timestamp']"
            } else {
                "['name', 'timestamp', 'last_updated_timestamp']"
            };
            return Err(invalid(format!("Invalid order_by clause '{clause}'. Valid keys are {valid}")));
        };
        if orders.iter().any(|o| o.key == key) {
            return Err(invalid(format!("`order_by` contains duplicate fields: '{clause}'")));
        }
        orders.push(RegistryOrder { key, ascending });
    }
    Ok(orders)
}

/// Whether a filter asks about prompts (then it, not the default, decides whether prompts show).
pub fn mentions_prompt_tag(clauses: &[RegistryClause]) -> bool {
    clauses.iter().any(|c| matches!(c, RegistryClause::Tag { key, .. } if key == PROMPT_TAG))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_default_filters_parse() {
        let clauses =
            parse_registry_filter("tag.`mlflow.prompt.is_prompt` != 'true'", RegistryEntity::RegisteredModels).unwrap();
        assert!(mentions_prompt_tag(&clauses));
        let clauses = parse_registry_filter(
            "name LIKE 'boston%' AND version_number >= 2 AND run_id IN ('a', 'b') AND tags.t = 'x'",
            RegistryEntity::ModelVersions,
        )
        .unwrap();
        assert_eq!(clauses[1], RegistryClause::VersionNumber { op: NumberOp::Ge, value: 2 });
    }

    #[test]
    fn model_searches_take_fewer_keys() {
        for bad in ["run_id = 'x'", "version_number = 1", "metrics.a > 1", "tags.a IN ('x')"] {
            assert!(parse_registry_filter(bad, RegistryEntity::RegisteredModels).is_err(), "{bad}");
        }
        assert_eq!(
            parse_registry_filter("version_number >= '6'", RegistryEntity::ModelVersions).unwrap(),
            [RegistryClause::VersionNumber { op: NumberOp::Ge, value: 6 }]
        );
        assert!(parse_registry_filter("version_number = 'one'", RegistryEntity::ModelVersions).is_err());
        assert!(parse_registry_filter("version_number = 1.5", RegistryEntity::ModelVersions).is_err());
        assert!(parse_registry_order_by(&["creation_timestamp".into()], RegistryEntity::RegisteredModels).is_err());
        assert_eq!(
            parse_registry_order_by(&["timestamp DESC".into()], RegistryEntity::RegisteredModels).unwrap(),
            [RegistryOrder { key: RegistryOrderKey::LastUpdatedTimestamp, ascending: false }]
        );
        assert!(parse_registry_order_by(&["name".into(), "name DESC".into()], RegistryEntity::ModelVersions).is_err());
    }
}
