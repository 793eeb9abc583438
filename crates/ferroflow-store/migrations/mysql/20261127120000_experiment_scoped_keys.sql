-- Latest metrics, params and run tags carry their run's experiment (a run never changes experiment),
-- so a search filter on a key reads only the index entries of the searched experiments: its cost no
-- longer grows with the runs of every other experiment that logged the same key.
ALTER TABLE latest_metrics ADD COLUMN experiment_id BIGINT;
UPDATE latest_metrics m JOIN runs r ON r.run_id = m.run_id SET m.experiment_id = r.experiment_id;
ALTER TABLE latest_metrics MODIFY experiment_id BIGINT NOT NULL;
DROP INDEX latest_metrics_by_key ON latest_metrics;
CREATE INDEX latest_metrics_by_key ON latest_metrics (experiment_id, `key`, is_nan, value, run_id);

ALTER TABLE params ADD COLUMN experiment_id BIGINT;
UPDATE params p JOIN runs r ON r.run_id = p.run_id SET p.experiment_id = r.experiment_id;
ALTER TABLE params MODIFY experiment_id BIGINT NOT NULL;
DROP INDEX params_by_key ON params;
CREATE INDEX params_by_key ON params (experiment_id, `key`, run_id);

ALTER TABLE run_tags ADD COLUMN experiment_id BIGINT;
UPDATE run_tags t JOIN runs r ON r.run_id = t.run_id SET t.experiment_id = r.experiment_id;
ALTER TABLE run_tags MODIFY experiment_id BIGINT NOT NULL;
DROP INDEX run_tags_by_key ON run_tags;
CREATE INDEX run_tags_by_key ON run_tags (experiment_id, `key`, run_id);
