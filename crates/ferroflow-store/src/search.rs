//! `runs/search` and `experiments/search`: typed filters from `ferroflow_core::search` become SQL.

use ferroflow_core::model::{Experiment, Page, Run, ViewType};
use ferroflow_core::search::{
    DatasetField, ExperimentClause, ExperimentOrder, ExperimentOrderKey, ExperimentTimeAttribute, KeyCondition,
    NumberOp, RunClause, RunNumberAttribute, RunOrder, RunOrderKey, RunStringAttribute, StringMatch,
};
use ferroflow_core::tags;

use crate::rows::{
    self, paginate, split_page, ExperimentRow, EXPERIMENT_FIELDS, EXPERIMENT_SELECT, RUN_COLUMNS, RUN_SELECT,
};
use crate::sql::{Dialect, Sql};
use crate::{Result, SqlStore};

/// A validated runs/search request.
#[derive(Debug, Clone)]
pub struct RunSearch {
    /// Experiments to search in.
    pub experiment_ids: Vec<i64>,
    /// Clauses, all of which must hold.
    pub filter: Vec<RunClause>,
    /// Lifecycle stages to include.
    pub view: ViewType,
    /// Page size.
    pub max_results: i64,
    /// Ordering, before the default tie-breaks.
    pub order_by: Vec<RunOrder>,
    /// Rows to skip (from the page token).
    pub offset: u64,
}

/// A validated experiments/search request.
#[derive(Debug, Clone)]
pub struct ExperimentSearch {
    /// Clauses, all of which must hold.
    pub filter: Vec<ExperimentClause>,
    /// Lifecycle stages to include.
    pub view: ViewType,
    /// Page size.
    pub max_results: i64,
    /// Ordering, before the default tie-breaks.
    pub order_by: Vec<ExperimentOrder>,
    /// Rows to skip (from the page token).
    pub offset: u64,
    /// The experiments the caller may read.
    pub visible: ferroflow_auth::Visible,
}

impl SqlStore {
    /// Runs a run search and loads the full runs of the page.
    ///
    /// # Errors
    /// `Database` only: the request was validated when it was built.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn search_runs(&self, search: &RunSearch) -> Result<Page<Run>> {
        if search.experiment_ids.is_empty() {
            return Ok(Page { items: Vec::new(), next_page_token: None });
        }
        // MariaDB's optimizer, given the filters as EXISTS, reads each run (and may join the order-by
        // metric) before testing the other filters: about 1,000 lookups each for a filter matching
        // half of 2,000 runs. On MySQL the search is therefore led by one row filter, a metric's if
        // there is one (its index holds the value): the runs come from that filter's matching rows, the
        // other filters are tested on those rows' run ids, and only then are the runs read.
        let lead = match self.dialect {
            Dialect::MySql => {
                search.filter.iter().position(|clause| row_filter(clause).is_some_and(|f| f.metric())).or_else(|| {
                    search.filter.iter().position(|clause| row_filter(clause).is_some_and(|f| !f.tests_absence()))
                })
            }
            Dialect::Sqlite | Dialect::Postgres => None,
        };
        let (mut sql, run_id) = match lead.and_then(|i| row_filter(&search.filter[i])) {
            Some(filter) => (
                self.sql(&format!(
                    "SELECT STRAIGHT_JOIN {RUN_COLUMNS} FROM {} f JOIN runs r ON r.run_id = f.run_id",
                    filter.table
                )),
                "f.run_id",
            ),
            None => (self.sql(RUN_SELECT), "r.run_id"),
        };
        let order_by = run_order_joins(&mut sql, &search.order_by);
        sql.push(" WHERE ").in_ints("r.experiment_id", &search.experiment_ids).push(" AND ");
        sql.in_list("r.lifecycle_stage", &search.view.stages().iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        for (i, clause) in search.filter.iter().enumerate() {
            sql.push(" AND ");
            match row_filter(clause) {
                Some(filter) if lead == Some(i) => {
                    filter.push_test(&mut sql, self.dialect, "f", &search.experiment_ids);
                }
                _ => run_clause_sql(&mut sql, self.dialect, &search.experiment_ids, run_id, clause),
            }
        }
        sql.push(" ORDER BY ").push(&order_by);
        paginate(&mut sql, search.max_results, search.offset);
        let runs = self.load_runs(&sql).await?;
        let (runs, next_page_token) = split_page(runs, search.max_results, search.offset);
        Ok(Page { items: runs, next_page_token })
    }

    /// Runs an experiment search.
    ///
    /// # Errors
    /// `Database` only: the request was validated when it was built.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn search_experiments(&self, search: &ExperimentSearch) -> Result<Page<Experiment>> {
        let mut sql = self.sql(&format!("{EXPERIMENT_SELECT} WHERE "));
        sql.in_list("e.lifecycle_stage", &search.view.stages().iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        for clause in &search.filter {
            sql.push(" AND ");
            experiment_clause_sql(&mut sql, self.dialect, clause);
        }
        sql.and_visible("e.experiment_id", &search.visible, true);
        sql.push(" ORDER BY ").push(&experiment_order(&search.order_by));
        paginate(&mut sql, search.max_results, search.offset);
        let rows: Vec<ExperimentRow> = self.read_rows(EXPERIMENT_FIELDS, &sql).await?;
        let experiments = rows.into_iter().map(rows::experiment).collect();
        let (mut experiments, next_page_token) = split_page(experiments, search.max_results, search.offset);
        self.experiment_tags_for(&mut experiments).await?;
        Ok(Page { items: experiments, next_page_token })
    }
}

pub(crate) fn direction(ascending: bool) -> &'static str {
    if ascending {
        "ASC"
    } else {
        "DESC"
    }
}

/// Adds the joins that orderings by metric, param or tag need and returns the ORDER BY list, with
/// MLflow's tie-breaks (`start_time DESC`, then `run_id ASC`) appended. Missing values sort last.
fn run_order_joins(sql: &mut Sql, orders: &[RunOrder]) -> String {
    let mut terms: Vec<String> = Vec::new();
    let mut has_start_time = false;
    let mut has_run_id = false;
    for (i, order) in orders.iter().enumerate() {
        let dir = direction(order.ascending);
        let alias = format!("o{i}");
        let join = |sql: &mut Sql, table: &str, key: &str| {
            sql.push(&format!(" LEFT JOIN {table} {alias} ON {alias}.run_id = r.run_id AND {alias}.key = ")).arg(key);
        };
        match &order.key {
            RunOrderKey::Metric(key) => {
                join(sql, "latest_metrics", key);
                terms.push(format!("({alias}.value IS NULL), {alias}.is_nan, {alias}.value {dir}"));
            }
            RunOrderKey::Param(key) => {
                join(sql, "params", key);
                terms.push(format!("({alias}.value IS NULL), {alias}.value {dir}"));
            }
            RunOrderKey::Tag(key) => {
                join(sql, "run_tags", key);
                terms.push(format!("({alias}.value IS NULL), {alias}.value {dir}"));
            }
            RunOrderKey::StringAttribute(attribute) => {
                has_run_id |= *attribute == RunStringAttribute::RunId;
                terms.push(format!("{} {dir}", run_string_column(*attribute)));
            }
            RunOrderKey::NumberAttribute(attribute) => {
                has_start_time |= *attribute == RunNumberAttribute::StartTime;
                let column = run_number_column(*attribute);
                terms.push(format!("({column} IS NULL), {column} {dir}"));
            }
        }
    }
    if !has_start_time {
        terms.push("r.start_time DESC".to_owned());
    }
    if !has_run_id {
        terms.push("r.run_id ASC".to_owned());
    }
    terms.join(", ")
}

fn run_string_column(attribute: RunStringAttribute) -> &'static str {
    match attribute {
        RunStringAttribute::RunId => "r.run_id",
        RunStringAttribute::RunName => "r.name",
        RunStringAttribute::Status => "r.status",
        RunStringAttribute::UserId => "r.user_id",
        RunStringAttribute::ArtifactUri => "r.artifact_uri",
    }
}

fn run_number_column(attribute: RunNumberAttribute) -> &'static str {
    match attribute {
        RunNumberAttribute::StartTime => "r.start_time",
        RunNumberAttribute::EndTime => "r.end_time",
    }
}

/// A filter on a run's rows with `key` in `table` (a latest metric, a param or a tag): the run passes
/// when one of them passes `test`, or for [`RowTest::Absent`], when it has none.
struct RowFilter<'a> {
    table: &'static str,
    key: &'a str,
    test: RowTest<'a>,
}

enum RowTest<'a> {
    Number(NumberOp, f64),
    Text(&'a StringMatch),
    Present,
    Absent,
}

/// The filter of a metric, param or tag clause; `None` for the other clauses.
fn row_filter(clause: &RunClause) -> Option<RowFilter<'_>> {
    let (table, key, test) = match clause {
        RunClause::Metric { key, op, value } => ("latest_metrics", key, RowTest::Number(*op, *value)),
        RunClause::Param { key, condition } => ("params", key, RowTest::for_key(condition)),
        RunClause::Tag { key, condition } => ("run_tags", key, RowTest::for_key(condition)),
        _ => return None,
    };
    Some(RowFilter { table, key, test })
}

impl<'a> RowTest<'a> {
    fn for_key(condition: &'a KeyCondition) -> Self {
        match condition {
            KeyCondition::Matches(matcher) => Self::Text(matcher),
            KeyCondition::IsNotNull => Self::Present,
            KeyCondition::IsNull => Self::Absent,
        }
    }
}

impl RowFilter<'_> {
    fn metric(&self) -> bool {
        matches!(self.test, RowTest::Number(..))
    }

    /// Whether the runs that pass are those without a row (`IS NULL`), rather than those with one.
    fn tests_absence(&self) -> bool {
        matches!(self.test, RowTest::Absent)
    }

    /// Appends the test that a row `alias` of the filter's table passes. It names the searched
    /// experiments, which these rows carry, so that only their entries of the key's index are read.
    fn push_test(&self, sql: &mut Sql, dialect: Dialect, alias: &str, experiment_ids: &[i64]) {
        sql.in_ints(&format!("{alias}.experiment_id"), experiment_ids);
        sql.push(&format!(" AND {alias}.key = ")).arg(self.key);
        match &self.test {
            // A NaN latest value satisfies only `!=`.
            RowTest::Number(NumberOp::Ne, value) => {
                sql.push(&format!(" AND ({alias}.is_nan = 1 OR {alias}.value <> ")).arg(*value).push(")");
            }
            RowTest::Number(op, value) => {
                sql.push(&format!(" AND {alias}.is_nan = 0 AND {alias}.value {} ", op.sql())).arg(*value);
            }
            RowTest::Text(matcher) => {
                sql.push(" AND ");
                string_condition(sql, dialect, &format!("{alias}.value"), matcher);
            }
            RowTest::Present | RowTest::Absent => {}
        }
    }
}

/// Appends one run filter, for the run whose id is the expression `run_id`.
fn run_clause_sql(sql: &mut Sql, dialect: Dialect, experiment_ids: &[i64], run_id: &str, clause: &RunClause) {
    if let Some(filter) = row_filter(clause) {
        let exists = if filter.tests_absence() { "NOT EXISTS" } else { "EXISTS" };
        sql.push(&format!("{exists} (SELECT 1 FROM {} k WHERE k.run_id = {run_id} AND ", filter.table));
        filter.push_test(sql, dialect, "k", experiment_ids);
        sql.push(")");
        return;
    }
    match clause {
        RunClause::Metric { .. } | RunClause::Param { .. } | RunClause::Tag { .. } => {} // row filters, above
        RunClause::StringAttribute { attribute, condition } => {
            string_condition(sql, dialect, run_string_column(*attribute), condition);
        }
        RunClause::NumberAttribute { attribute, op, value } => {
            sql.push(&format!("{} {} ", run_number_column(*attribute), op.sql())).arg(*value);
        }
        RunClause::Dataset { field: DatasetField::Context, condition } => {
            sql.push(&format!("EXISTS (SELECT 1 FROM run_input_tags t WHERE t.run_id = {run_id} AND t.key = "));
            sql.arg(tags::DATASET_CONTEXT).push(" AND ");
            string_condition(sql, dialect, "t.value", condition);
            sql.push(")");
        }
        RunClause::Dataset { field, condition } => {
            let column = if *field == DatasetField::Name { "d.name" } else { "d.digest" };
            sql.push(&format!(
                "EXISTS (SELECT 1 FROM run_dataset_inputs i JOIN datasets d ON d.dataset_id = i.dataset_id \
                 WHERE i.run_id = {run_id} AND "
            ));
            string_condition(sql, dialect, column, condition);
            sql.push(")");
        }
    }
}

/// A condition on a keyed child table (params, tags), whose `owner` is (its column, the outer column
/// it must equal). Entities lacking the key match only `IS NULL`.
fn keyed_condition(
    sql: &mut Sql,
    dialect: Dialect,
    table: &str,
    (owner_column, owner): (&str, &str),
    key: &str,
    condition: &KeyCondition,
) {
    let exists = if *condition == KeyCondition::IsNull { "NOT EXISTS" } else { "EXISTS" };
    sql.push(&format!("{exists} (SELECT 1 FROM {table} k WHERE k.{owner_column} = {owner} AND k.key = ")).arg(key);
    if let KeyCondition::Matches(matcher) = condition {
        sql.push(" AND ");
        string_condition(sql, dialect, "k.value", matcher);
    }
    sql.push(")");
}

pub(crate) fn string_condition(sql: &mut Sql, dialect: Dialect, column: &str, condition: &StringMatch) {
    match condition {
        StringMatch::Eq(v) => {
            sql.push(&format!("{column} = ")).arg(v.as_str());
        }
        StringMatch::Ne(v) => {
            sql.push(&format!("{column} <> ")).arg(v.as_str());
        }
        StringMatch::Like(pattern) => match dialect {
            // SQLite's LIKE ignores ASCII case; GLOB respects it, so translate the pattern.
            Dialect::Sqlite => {
                sql.push(&format!("{column} GLOB ")).arg(like_to_glob(pattern));
            }
            // PostgreSQL's LIKE is case-sensitive; on MySQL the columns use a binary collation, so
            // LIKE is too. Neither treats the pattern's backslashes specially here.
            Dialect::Postgres | Dialect::MySql => {
                sql.push(&format!("{column} LIKE ")).arg(pattern.as_str()).push(" ESCAPE ''");
            }
        },
        StringMatch::ILike(pattern) => {
            sql.push(&format!("LOWER({column}) LIKE LOWER(")).arg(pattern.as_str()).push(")");
        }
        StringMatch::In(values) => {
            sql.in_list(column, values);
        }
        StringMatch::NotIn(values) => {
            sql.not_in_list(column, values);
        }
    }
}

/// Translates a SQL LIKE pattern into an equivalent GLOB pattern.
fn like_to_glob(pattern: &str) -> String {
    let mut glob = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '%' => glob.push('*'),
            '_' => glob.push('?'),
            '*' | '?' | '[' => {
                glob.push('[');
                glob.push(c);
                glob.push(']');
            }
            other => glob.push(other),
        }
    }
    glob
}

fn experiment_clause_sql(sql: &mut Sql, dialect: Dialect, clause: &ExperimentClause) {
    match clause {
        ExperimentClause::Name(condition) => string_condition(sql, dialect, "e.name", condition),
        ExperimentClause::Id { negated, ids } => {
            if *negated {
                sql.not_in_ints("e.experiment_id", ids);
            } else {
                sql.in_ints("e.experiment_id", ids);
            }
        }
        ExperimentClause::Time { attribute, op, value } => {
            let column = match attribute {
                ExperimentTimeAttribute::CreationTime => "e.creation_time",
                ExperimentTimeAttribute::LastUpdateTime => "e.last_update_time",
            };
            sql.push(&format!("{column} {} ", op.sql())).arg(*value);
        }
        ExperimentClause::Tag { key, condition } => {
            keyed_condition(sql, dialect, "experiment_tags", ("experiment_id", "e.experiment_id"), key, condition);
        }
    }
}

fn experiment_order(orders: &[ExperimentOrder]) -> String {
    if orders.is_empty() {
        return "e.creation_time DESC, e.experiment_id ASC".to_owned();
    }
    let mut terms: Vec<String> = orders
        .iter()
        .map(|order| {
            let column = match order.key {
                ExperimentOrderKey::Name => "e.name",
                ExperimentOrderKey::ExperimentId => "e.experiment_id",
                ExperimentOrderKey::CreationTime => "e.creation_time",
                ExperimentOrderKey::LastUpdateTime => "e.last_update_time",
            };
            format!("{column} {}", direction(order.ascending))
        })
        .collect();
    if !orders.iter().any(|o| o.key == ExperimentOrderKey::ExperimentId) {
        terms.push("e.experiment_id DESC".to_owned());
    }
    terms.join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_become_case_sensitive_globs() {
        assert_eq!(super::like_to_glob("a%b_c"), "a*b?c");
        assert_eq!(super::like_to_glob("x*y?[z"), "x[*]y[?][[]z");
    }
}
