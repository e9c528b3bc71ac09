"""`ecobridge ingest` and `ecobridge ingest-report` (filled by the ingest work)."""
