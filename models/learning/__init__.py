"""Learning from reviewers' decisions: active anomaly discovery, priority learning, rule ledger.

Pure like the rest of ``models/``: DataFrames and arrays in, models and tables out, no I/O.
"""
