"""The demo: a synthetic organisation with known gaps (``organisation``) and the set-up a
newcomer gets from ``gapdesk demo`` (``set_up``: accounts, ingest, replayed reviewing)."""
