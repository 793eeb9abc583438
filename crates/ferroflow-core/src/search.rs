//! The search-filter and order-by grammar of `runs/search` and `experiments/search`.
//!
//! A filter is `clause (AND clause)*` where a clause is `identifier comparator value` or
//! `identifier IS [NOT] NULL`. An identifier is `[entity.]key`; either part may be quoted with backticks
//! or double quotes, and an unquoted identifier splits at its first dot (`tags.mlflow.runName`). String
//! values take single or double quotes, numbers are bare, `IN` takes a parenthesised list. See
//! <https://mlflow.org/docs/latest/search-runs.html> and §3 of the project's API spec.
//!
//! Parsing yields untyped [`Comparison`]s; [`parse_run_filter`] and [`parse_experiment_filter`] then check
//! them against what each search accepts and return typed clauses the store turns into SQL.

use crate::error::{invalid, Result};

mod grammar;
mod logged_models;
mod registry;

pub use grammar::{Comparator, Comparison, Identifier, Operand, MAX_FILTER_CLAUSES};
pub use logged_models::{
    parse_logged_model_filter, parse_logged_model_order, LoggedModelClause, LoggedModelNumberAttribute,
    LoggedModelOrder, LoggedModelOrderKey, LoggedModelStringAttribute,
};
pub use registry::{
    mentions_prompt_tag, parse_registry_filter, parse_registry_order_by, RegistryClause, RegistryEntity, RegistryOrder,
    RegistryOrderKey, RegistryStringAttribute, PROMPT_TAG,
};

/// A numeric comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl NumberOp {
    /// The SQL spelling of the operator.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        }
    }
}

/// A string condition. `=`, `!=` and `LIKE` are case-sensitive, `ILIKE` is not.
#[derive(Debug, Clone, PartialEq)]
pub enum StringMatch {
    /// `= 'v'`
    Eq(String),
    /// `!= 'v'`
    Ne(String),
    /// `LIKE 'pattern'` (`%` any run of characters, `_` one character)
    Like(String),
    /// `ILIKE 'pattern'`
    ILike(String),
    /// `IN ('a', 'b')`
    In(Vec<String>),
    /// `NOT IN ('a', 'b')`
    NotIn(Vec<String>),
}

/// A condition on a keyed value (param or tag) that may be absent.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyCondition {
    /// The key exists and its value matches.
    Matches(StringMatch),
    /// The key is absent.
    IsNull,
    /// The key is present.
    IsNotNull,
}

/// String attributes of a run that filters and orderings can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStringAttribute {
    /// `run_id`
    RunId,
    /// `run_name` (read from the `mlflow.runName` tag)
    RunName,
    /// `status`
    Status,
    /// `user_id`
    UserId,
    /// `artifact_uri`
    ArtifactUri,
}

/// Numeric attributes of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNumberAttribute {
    /// `start_time` (alias `created`)
    StartTime,
    /// `end_time`
    EndTime,
}

/// Dataset fields a run filter can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetField {
    /// `dataset.name`
    Name,
    /// `dataset.digest`
    Digest,
    /// `dataset.context` (the input tag `mlflow.data.context`)
    Context,
}

/// One validated clause of a run filter.
#[derive(Debug, Clone, PartialEq)]
pub enum RunClause {
    /// Compares the latest value of a metric.
    Metric { key: String, op: NumberOp, value: f64 },
    /// A condition on a param.
    Param { key: String, condition: KeyCondition },
    /// A condition on a tag.
    Tag { key: String, condition: KeyCondition },
    /// A condition on a string attribute.
    StringAttribute { attribute: RunStringAttribute, condition: StringMatch },
    /// A condition on a numeric attribute.
    NumberAttribute { attribute: RunNumberAttribute, op: NumberOp, value: f64 },
    /// A condition on the datasets the run used.
    Dataset { field: DatasetField, condition: StringMatch },
}

/// What a run ordering sorts by.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOrderKey {
    /// Latest value of a metric.
    Metric(String),
    /// A param value.
    Param(String),
    /// A tag value.
    Tag(String),
    /// A string attribute.
    StringAttribute(RunStringAttribute),
    /// A numeric attribute.
    NumberAttribute(RunNumberAttribute),
}

/// One key of a run ordering.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOrder {
    /// What to sort by.
    pub key: RunOrderKey,
    /// Ascending (the default) or descending.
    pub ascending: bool,
}

/// Numeric attributes of an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentTimeAttribute {
    /// `creation_time`
    CreationTime,
    /// `last_update_time`
    LastUpdateTime,
}

/// One validated clause of an experiment filter.
#[derive(Debug, Clone, PartialEq)]
pub enum ExperimentClause {
    /// A condition on the name.
    Name(StringMatch),
    /// `experiment_id = / != / IN / NOT IN`.
    Id { negated: bool, ids: Vec<i64> },
    /// A comparison of a timestamp attribute.
    Time { attribute: ExperimentTimeAttribute, op: NumberOp, value: i64 },
    /// A condition on a tag.
    Tag { key: String, condition: KeyCondition },
}

/// What an experiment ordering sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentOrderKey {
    /// `name`
    Name,
    /// `experiment_id`
    ExperimentId,
    /// `creation_time`
    CreationTime,
    /// `last_update_time`
    LastUpdateTime,
}

/// One key of an experiment ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExperimentOrder {
    /// What to sort by.
    pub key: ExperimentOrderKey,
    /// Ascending (the default) or descending.
    pub ascending: bool,
}

enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

fn entity_of(identifier: &Identifier) -> Result<Entity> {
    let Some(entity) = identifier.entity.as_deref() else {
        return Ok(Entity::Attribute);
    };
    Ok(match entity.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => Entity::Metric,
        "param" | "params" | "parameter" | "parameters" => Entity::Param,
        "tag" | "tags" => Entity::Tag,
        "attribute" | "attributes" | "attr" | "run" => Entity::Attribute,
        "dataset" | "datasets" => Entity::Dataset,
        other => {
            return Err(invalid(format!(
            "Invalid entity type '{other}'. Valid values are ['metrics', 'params', 'tags', 'attributes', 'datasets']"
        )))
        }
    })
}

fn run_string_attribute(key: &str) -> Option<RunStringAttribute> {
    Some(match key {
        "run_id" => RunStringAttribute::RunId,
        "run_name" | "run name" | "Run name" | "Run Name" => RunStringAttribute::RunName,
        "status" => RunStringAttribute::Status,
        "user_id" => RunStringAttribute::UserId,
        "artifact_uri" => RunStringAttribute::ArtifactUri,
        _ => return None,
    })
}

fn run_number_attribute(key: &str) -> Option<RunNumberAttribute> {
    Some(match key {
        "start_time" | "created" | "Created" => RunNumberAttribute::StartTime,
        "end_time" => RunNumberAttribute::EndTime,
        _ => return None,
    })
}

const RUN_ATTRIBUTE_KEYS: &str =
    "['run_id', 'run_name', 'status', 'user_id', 'artifact_uri', 'start_time', 'end_time', 'created']";

/// Parses and checks the filter of a `runs/search` request.
///
/// # Errors
/// `InvalidParameterValue` naming the offending part when the filter does not parse or uses a
/// comparator or value that the clause's entity does not accept.
pub fn parse_run_filter(filter: &str) -> Result<Vec<RunClause>> {
    grammar::parse_filter(filter)?.into_iter().map(run_clause).collect()
}

fn run_clause(c: Comparison) -> Result<RunClause> {
    let key = c.identifier.key.clone();
    Ok(match entity_of(&c.identifier)? {
        Entity::Metric => {
            let (op, value) = number_condition(&c, "metric")?;
            RunClause::Metric { key, op, value }
        }
        Entity::Param => RunClause::Param { key, condition: key_condition(&c, "param")? },
        Entity::Tag => RunClause::Tag { key, condition: key_condition(&c, "tag")? },
        Entity::Attribute => {
            if let Some(attribute) = run_string_attribute(&key) {
                let allow_lists = attribute == RunStringAttribute::RunId;
                let condition = string_match(&c, allow_lists, "attribute")?;
                RunClause::StringAttribute { attribute, condition }
            } else if let Some(attribute) = run_number_attribute(&key) {
                let (op, value) = number_condition(&c, "attribute")?;
                RunClause::NumberAttribute { attribute, op, value }
            } else {
                return Err(invalid(format!(
                    "Invalid attribute key '{key}' specified. Valid keys are {RUN_ATTRIBUTE_KEYS}"
                )));
            }
        }
        Entity::Dataset => {
            let field = match key.as_str() {
                "name" => DatasetField::Name,
                "digest" => DatasetField::Digest,
                "context" => DatasetField::Context,
                _ => {
                    return Err(invalid(format!(
                        "Invalid dataset key '{key}' specified. Valid keys are ['name', 'digest', 'context']"
                    )))
                }
            };
            RunClause::Dataset { field, condition: string_match(&c, true, "dataset")? }
        }
    })
}

fn number_condition(c: &Comparison, what: &str) -> Result<(NumberOp, f64)> {
    let op = match c.comparator {
        Comparator::Eq => NumberOp::Eq,
        Comparator::Ne => NumberOp::Ne,
        Comparator::Gt => NumberOp::Gt,
        Comparator::Ge => NumberOp::Ge,
        Comparator::Lt => NumberOp::Lt,
        Comparator::Le => NumberOp::Le,
        other => {
            return Err(invalid(format!(
                "Invalid comparator '{}' for {what} '{}'. Valid comparators are ['=', '!=', '>', '>=', '<', '<=']",
                other.as_str(),
                c.identifier.key
            )))
        }
    };
    match &c.operand {
        Operand::Number(value) => Ok((op, *value)),
        other => Err(invalid(format!(
            "Expected a numeric value for {what} '{}', found {}",
            c.identifier.key,
            other.describe()
        ))),
    }
}

fn key_condition(c: &Comparison, what: &str) -> Result<KeyCondition> {
    match c.comparator {
        Comparator::IsNull => Ok(KeyCondition::IsNull),
        Comparator::IsNotNull => Ok(KeyCondition::IsNotNull),
        _ => string_match(c, false, what).map(KeyCondition::Matches),
    }
}

fn string_match(c: &Comparison, allow_lists: bool, what: &str) -> Result<StringMatch> {
    let key = &c.identifier.key;
    let text = || match &c.operand {
        Operand::Text(s) => Ok(s.clone()),
        other => Err(invalid(format!(
            "Expected a quoted string value for {what} '{key}', found {}. Quote strings with single or double quotes.",
            other.describe()
        ))),
    };
    let list = || match &c.operand {
        Operand::List(items) => Ok(items.clone()),
        other => Err(invalid(format!(
            "Expected a parenthesised list of quoted strings for {what} '{key}', found {}",
            other.describe()
        ))),
    };
    Ok(match c.comparator {
        Comparator::Eq => StringMatch::Eq(text()?),
        Comparator::Ne => StringMatch::Ne(text()?),
        Comparator::Like => StringMatch::Like(text()?),
        Comparator::ILike => StringMatch::ILike(text()?),
        Comparator::In if allow_lists => StringMatch::In(list()?),
        Comparator::NotIn if allow_lists => StringMatch::NotIn(list()?),
        other => {
            let valid = if allow_lists {
                "['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN']"
            } else {
                "['=', '!=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL']"
            };
            return Err(invalid(format!(
                "Invalid comparator '{}' for {what} '{key}'. Valid comparators are {valid}",
                other.as_str()
            )));
        }
    })
}

/// Most keys one `order_by` may have (each metric, param or tag key is a join).
pub const MAX_ORDER_BY_KEYS: usize = 20;

/// Parses the `order_by` list of a `runs/search` request.
///
/// # Errors
/// `InvalidParameterValue` for an unknown key, a malformed clause or a key given twice.
pub fn parse_run_order_by(clauses: &[String]) -> Result<Vec<RunOrder>> {
    if clauses.len() > MAX_ORDER_BY_KEYS {
        return Err(invalid(format!("`order_by` can have at most {MAX_ORDER_BY_KEYS} keys, got {}", clauses.len())));
    }
    let mut orders: Vec<RunOrder> = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let (identifier, ascending) = grammar::parse_order_clause(clause)?;
        let key = identifier.key.clone();
        let key = match entity_of(&identifier)? {
            Entity::Metric => RunOrderKey::Metric(key),
            Entity::Param => RunOrderKey::Param(key),
            Entity::Tag => RunOrderKey::Tag(key),
            Entity::Attribute => {
                if let Some(attribute) = run_string_attribute(&key) {
                    RunOrderKey::StringAttribute(attribute)
                } else if let Some(attribute) = run_number_attribute(&key) {
                    RunOrderKey::NumberAttribute(attribute)
                } else {
                    return Err(invalid(format!(
                        "Invalid order_by key '{key}'. Valid attribute keys are {RUN_ATTRIBUTE_KEYS}"
                    )));
                }
            }
            Entity::Dataset => {
                return Err(invalid(format!("Invalid order_by clause '{clause}': datasets cannot be ordered by")))
            }
        };
        if orders.iter().any(|o| o.key == key) {
            return Err(invalid(format!("`order_by` contains duplicate fields: '{clause}'")));
        }
        orders.push(RunOrder { key, ascending });
    }
    Ok(orders)
}

/// Parses and checks the filter of an `experiments/search` request.
///
/// # Errors
/// `InvalidParameterValue` when the filter does not parse or names something experiments lack.
pub fn parse_experiment_filter(filter: &str) -> Result<Vec<ExperimentClause>> {
    grammar::parse_filter(filter)?.into_iter().map(experiment_clause).collect()
}

fn experiment_clause(c: Comparison) -> Result<ExperimentClause> {
    let key = c.identifier.key.clone();
    match c.identifier.entity.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("attribute") | Some("attributes") => {}
        Some("tag") | Some("tags") => return Ok(ExperimentClause::Tag { key, condition: key_condition(&c, "tag")? }),
        Some(other) => {
            return Err(invalid(format!(
                "Invalid entity type '{other}' in experiment filter. Valid values are ['attribute', 'tag', 'tags']"
            )))
        }
    }
    match key.as_str() {
        "name" => Ok(ExperimentClause::Name(string_match(&c, false, "attribute")?)),
        "experiment_id" => experiment_id_clause(&c),
        "creation_time" | "last_update_time" => {
            let attribute = if key == "creation_time" {
                ExperimentTimeAttribute::CreationTime
            } else {
                ExperimentTimeAttribute::LastUpdateTime
            };
            let (op, value) = number_condition(&c, "attribute")?;
            if value.fract() != 0.0 || !value.is_finite() {
                return Err(invalid(format!("Expected an integer value for attribute '{key}', found {value}")));
            }
            Ok(ExperimentClause::Time { attribute, op, value: value as i64 })
        }
        _ => Err(invalid(format!(
            "Invalid attribute key '{key}' specified. Valid keys are ['name', 'experiment_id', 'creation_time', 'last_update_time']"
        ))),
    }
}

fn experiment_id_clause(c: &Comparison) -> Result<ExperimentClause> {
    let as_id = |text: &str| {
        crate::validation::parse_experiment_id(text)
            .map_err(|_| invalid(format!("Invalid experiment id '{text}' in filter: experiment ids are integers")))
    };
    let single = || match &c.operand {
        Operand::Text(s) => as_id(s),
        Operand::Number(n) if n.fract() == 0.0 && *n >= 0.0 => Ok(*n as i64),
        other => Err(invalid(format!("Expected an experiment id, found {}", other.describe()))),
    };
    let list = || match &c.operand {
        Operand::List(items) => items.iter().map(|s| as_id(s)).collect::<Result<Vec<_>>>(),
        other => Err(invalid(format!("Expected a parenthesised list of experiment ids, found {}", other.describe()))),
    };
    let (negated, ids) = match c.comparator {
        Comparator::Eq => (false, vec![single()?]),
        Comparator::Ne => (true, vec![single()?]),
        Comparator::In => (false, list()?),
        Comparator::NotIn => (true, list()?),
        other => {
            return Err(invalid(format!(
            "Invalid comparator '{}' for attribute 'experiment_id'. Valid comparators are ['=', '!=', 'IN', 'NOT IN']",
            other.as_str()
        )))
        }
    };
    Ok(ExperimentClause::Id { negated, ids })
}

/// Parses the `order_by` list of an `experiments/search` request.
///
/// # Errors
/// `InvalidParameterValue` for an unknown key, a malformed clause or a key given twice.
pub fn parse_experiment_order_by(clauses: &[String]) -> Result<Vec<ExperimentOrder>> {
    let mut orders: Vec<ExperimentOrder> = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let (identifier, ascending) = grammar::parse_order_clause(clause)?;
        if let Some(entity) = identifier.entity.as_deref() {
            if !matches!(entity.to_ascii_lowercase().as_str(), "attribute" | "attributes") {
                return Err(invalid(format!(
                    "Invalid order_by entity '{entity}' for experiments: only attributes can be ordered by"
                )));
            }
        }
        let key = match identifier.key.as_str() {
            "name" => ExperimentOrderKey::Name,
            "experiment_id" => ExperimentOrderKey::ExperimentId,
            "creation_time" => ExperimentOrderKey::CreationTime,
            "last_update_time" => ExperimentOrderKey::LastUpdateTime,
            other => {
                return Err(invalid(format!(
                    "Invalid order_by key '{other}'. Valid keys are ['name', 'experiment_id', 'creation_time', 'last_update_time']"
                )))
            }
        };
        if orders.iter().any(|o| o.key == key) {
            return Err(invalid(format!("`order_by` contains duplicate fields: '{clause}'")));
        }
        orders.push(ExperimentOrder { key, ascending });
    }
    Ok(orders)
}

#[cfg(test)]
mod tests;
