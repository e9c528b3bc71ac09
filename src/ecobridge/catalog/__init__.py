"""Datasets, licences and multilingual metadata."""
