-- An ingest whose alerts are written just after its rows commit (alerts.overlap, the "commit"
-- path) stays marked until they are: a process stopped in between, or an evaluation that
-- failed, leaves it marked, and alerts.evaluate.evaluate_pending evaluates it again.
ALTER TABLE ingest_runs ADD COLUMN alerts_pending BOOLEAN DEFAULT false;
ALTER TABLE ingest_runs ADD COLUMN alerts_error VARCHAR;
