"""Trend metrics for managers (being split into modules; see backlog.py for now)."""
