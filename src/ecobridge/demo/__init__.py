"""Builds the demo deployment: `build_demo(store, progress=None) -> counts`."""

from ecobridge.demo.build import build_demo, demo_counts, demo_state

__all__ = ["build_demo", "demo_counts", "demo_state"]
