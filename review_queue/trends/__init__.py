"""Trend metrics for managers: are the programme's gaps being found, owned and closed?

Every metric is aggregated in the database (GROUP BY a local day, a category, a department ...)
and only the small per-day results reach pandas, which rolls days up into ISO weeks (Monday
start) of the reporting time zone.

Import each name from the module that defines it; this package re-exports nothing.

- ``filters``: ``TrendFilters`` (range, reporting time zone, departments, categories),
  ``trend_filter_options`` for the filter widgets, ``trends_data_version`` for the cache key,
  ``TRENDS_ROLES``.
- ``report``: ``trend_report``, every metric below for one set of filters, in the page's order.
- ``results``: what comes back, ``TrendMetric`` (one chart) and ``TrendReport`` (all of them).
- one module per metric: ``flow`` (``gap_flow``), ``backlog`` (``open_backlog``,
  ``compliance_exposure``, ``DEFAULT_SLA_DAYS``), ``cycle_times``, ``precision``
  (``detector_precision``), ``locations`` (``gap_locations``).
- ``takeaways``: the one-line plain-language summary under each chart.
- ``query``: the SQL they share, and which statuses count as open, decided or undone.
- ``sql_time`` and ``weeks``: local days of the reporting time zone in SQL (SQLite and
  PostgreSQL), and ISO weeks in pandas.

Conventions, for everyone who reads a chart:
- a gap is *open* (unresolved) until it is dismissed or resolved; snoozed gaps stay open;
- a decision that was undone is taken back in the week of the undo;
- a finding's department is its ``department`` column (else ``evidence["department"]``, else
  ``features["department"]``, else ``unknown``); its course is its ``course_id`` column, else
  the ``course=`` part of its entity key.
"""
