"""Getting LMS data in: the snapshot contract, loading and validation, importers and mappings.

Entry points:

* :func:`app.sources.load.load_snapshot` — a snapshot folder → ``LoadResult`` (typed
  ``models.snapshot.Snapshot``, report, quarantine, content hash).
* Importers, real exports → contract tables + report:
  :func:`app.sources.moodle.import_moodle_log`,
  :func:`app.sources.xapi.import_xapi_file`, :func:`app.sources.xapi.import_xapi_lrs`,
  :func:`app.sources.canvas.import_canvas_enrollments`,
  :func:`app.sources.mapping.import_mapped_csv`.
* :func:`app.sources.mapping.suggest_mapping` — guesses for the Data page's mapping editor.
* :func:`app.sources.export.neutralise_csv_cell` — defuse formula-like cells in CSV exports.
"""
