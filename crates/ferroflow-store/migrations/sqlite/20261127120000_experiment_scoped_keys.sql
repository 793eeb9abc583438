-- Latest metrics, params and run tags carry their run's experiment (a run never changes experiment),
-- so a search filter on a key reads only the index entries of the searched experiments: its cost no
-- longer grows with the runs of every other experiment that logged the same key. SQLite cannot make
-- an added column NOT NULL without rebuilding the table; the store always writes it.
ALTER TABLE latest_metrics ADD COLUMN experiment_id INTEGER;
UPDATE latest_metrics SET experiment_id = (SELECT r.experiment_id FROM runs r WHERE r.run_id = latest_metrics.run_id);
DROP INDEX latest_metrics_by_key;
CREATE INDEX latest_metrics_by_key ON latest_metrics (experiment_id, key, is_nan, value);

ALTER TABLE params ADD COLUMN experiment_id INTEGER;
UPDATE params SET experiment_id = (SELECT r.experiment_id FROM runs r WHERE r.run_id = params.run_id);
DROP INDEX params_by_key;
CREATE INDEX params_by_key ON params (experiment_id, key, value);

ALTER TABLE run_tags ADD COLUMN experiment_id INTEGER;
UPDATE run_tags SET experiment_id = (SELECT r.experiment_id FROM runs r WHERE r.run_id = run_tags.run_id);
DROP INDEX run_tags_by_key;
CREATE INDEX run_tags_by_key ON run_tags (experiment_id, key, value);
