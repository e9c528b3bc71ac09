"""Monitoring: the SensorThings model, ingest, units and quality control."""
