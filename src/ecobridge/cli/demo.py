"""`ecobridge demo` (filled by the demo work)."""
