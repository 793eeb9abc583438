-- Metric filters test the NaN flag with the value (`metrics.x > v` never matches a NaN), so the index
-- holds both and a filter is answered from index entries alone, without reading each row.
DROP INDEX latest_metrics_by_key;
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, is_nan, value);
