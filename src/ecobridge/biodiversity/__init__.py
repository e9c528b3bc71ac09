"""Biodiversity: taxa, occurrences (Darwin Core), camera traps (Camtrap DP)."""
