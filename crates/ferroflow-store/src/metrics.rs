//! Metric history reads: paged full history and step-sampled bulk reads for charts.

use std::collections::BTreeSet;

use crate::rows::{self, paginate, split_page, MetricRow};
use crate::{Result, SqlStore};
use ferroflow_core::model::{Metric, Page};

/// A metrics/get-history request.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    /// The run.
    pub run_id: String,
    /// The metric.
    pub key: String,
    /// Page size; all points when absent.
    pub max_results: Option<i64>,
    /// Points to skip (from the page token).
    pub offset: u64,
}

/// A metrics/get-history-bulk-interval request.
#[derive(Debug, Clone)]
pub struct BulkIntervalQuery {
    /// The runs (at most 100).
    pub run_ids: Vec<String>,
    /// The metric.
    pub key: String,
    /// First and last step to include, when limited.
    pub steps: Option<(i64, i64)>,
    /// Points per run.
    pub max_results: usize,
}

impl SqlStore {
    /// Returns a page of a metric's history ordered by timestamp, step and value. An unknown run or
    /// metric has an empty history, as in MLflow.
    ///
    /// # Errors
    /// `Database` only.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %query.run_id))]
    pub async fn metric_history(&self, query: &HistoryQuery) -> Result<Page<Metric>> {
        let mut sql = self.sql(&format!("SELECT {} FROM metrics WHERE run_id = ", rows::METRIC_COLUMNS));
        sql.arg(query.run_id.as_str()).push(" AND key = ").arg(query.key.as_str());
        sql.push(" ORDER BY timestamp, step, value");
        if let Some(max_results) = query.max_results {
            paginate(&mut sql, max_results, query.offset);
        }
        let rows: Vec<MetricRow> = self.read_rows(rows::METRIC_FIELDS, &sql).await?;
        let points: Vec<Metric> = rows.into_iter().map(|row| rows::metric(row, false)).collect();
        let (points, next_page_token) = match query.max_results {
            Some(max_results) => split_page(points, max_results, query.offset),
            None => (points, None),
        };
        Ok(Page { items: points, next_page_token })
    }

    /// For each run, the points at up to `max_results` evenly spaced steps (always keeping the first and
    /// last), ordered by run, step and timestamp. Unknown runs contribute nothing.
    ///
    /// # Errors
    /// `Database` only.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn metric_history_bulk_interval(&self, query: &BulkIntervalQuery) -> Result<Vec<Metric>> {
        let mut out = Vec::new();
        let mut run_ids = query.run_ids.clone();
        run_ids.sort();
        run_ids.dedup();
        for run_id in &run_ids {
            let mut sql = self.sql(&format!("SELECT {} FROM metrics WHERE run_id = ", rows::METRIC_COLUMNS));
            sql.arg(run_id.as_str()).push(" AND key = ").arg(query.key.as_str());
            if let Some((start, end)) = query.steps {
                sql.push(" AND step >= ").arg(start).push(" AND step <= ").arg(end);
            }
            sql.push(" ORDER BY step, timestamp, value");
            let rows: Vec<MetricRow> = self.read_rows(rows::METRIC_FIELDS, &sql).await?;
            let steps: Vec<i64> = rows.iter().map(|r| r.5).collect::<BTreeSet<_>>().into_iter().collect();
            let keep = sample_steps(&steps, query.max_results);
            out.extend(rows.into_iter().filter(|r| keep.contains(&r.5)).map(|row| rows::metric(row, true)));
        }
        Ok(out)
    }
}

/// Picks at most `limit` of the sorted distinct `steps`, evenly spaced, first and last included.
fn sample_steps(steps: &[i64], limit: usize) -> BTreeSet<i64> {
    if steps.len() <= limit {
        return steps.iter().copied().collect();
    }
    if limit <= 1 {
        return steps.first().copied().into_iter().collect();
    }
    let last = steps.len() - 1;
    (0..limit).filter_map(|i| steps.get(i * last / (limit - 1)).copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::sample_steps;

    #[test]
    fn sampling_keeps_ends_and_spreads_evenly() {
        let steps: Vec<i64> = (0..=100).collect();
        let kept = sample_steps(&steps, 5);
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), vec![0, 25, 50, 75, 100]);
        assert_eq!(sample_steps(&[3, 7], 10).len(), 2);
    }
}
