"""Compliance: published-output check, diffs and redlines, provenance stamps and verify."""
