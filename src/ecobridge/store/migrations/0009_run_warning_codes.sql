-- An archive import's warnings as codes and parameters (monitoring/reasons.py), beside their
-- English text in `message`, so the ingest report shows them in the reader's language. Runs
-- from before keep their text only.
ALTER TABLE ingest_runs ADD COLUMN warning_codes JSON;
