"""Builds the demo deployment."""
