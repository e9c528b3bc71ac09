-- Rejection reasons as a stable code and its parameters beside the English text, so pages can
-- show a reject in the reader's language (monitoring/reasons.py). Rows from before stay
-- without them and are shown with their stored text.
ALTER TABLE quarantine ADD COLUMN reason_code VARCHAR;
ALTER TABLE quarantine ADD COLUMN reason_params JSON;
