"""Getting LMS data in: the snapshot contract, loading and validation, importers and mappings.

Entry points:

* :func:`app.sources.load.load_snapshot` — a snapshot folder → ``LoadResult`` (typed
  ``models.snapshot.Snapshot`` when accepted, the ``ValidationReport``, quarantined rows per
  table, and ``content_hash`` of the accepted data). ``result.raise_if_rejected()`` turns a
  rejection into a UserError whose message is the rendered report.
* :func:`app.sources.validate.validate_tables` — the same checks on in-memory frames (importer
  output, a single table while a mapping is being built); it types each column
  (:func:`app.sources.coercion.coerce_column`), checks each table
  (:func:`app.sources.table_checks.check_table`), then the references between tables.
* :class:`app.sources.validation_report.ValidationReport` — every
  :class:`~app.sources.validation_report.Problem` found, each naming its file, row, column and rule
  (``RULES``); ``render()`` is what a person reads.
* Importers, real exports → contract tables + ``ImportReport``:
  :func:`app.sources.moodle.import_moodle_log`,
  :func:`app.sources.xapi.import_xapi_file`, :func:`app.sources.xapi_lrs.import_xapi_lrs`,
  :func:`app.sources.canvas.import_canvas_enrollments`,
  :func:`app.sources.mapping.import_mapped_csv`.
* :func:`app.sources.result.merge_tables` and :func:`app.sources.load.write_snapshot` — combine
  importer output with other exports and write a folder ``load_snapshot`` reads.
* :func:`app.sources.mapping.suggest_mapping`, :func:`app.sources.mapping.preview_mapping`,
  :func:`app.sources.mapping.dump_mapping` and :mod:`app.sources.mapping_builder` — the Data
  page's mapping builder (the mapping file format is in the README's "Mapping files").
* :func:`app.core.safe_csv.neutralise_csv_cell` / ``write_safe_csv`` — defuse formula-like cells
  when tables leave Gapdesk as CSV.

Typed form of accepted tables: ids and text as pandas ``str``; timestamps ``datetime64[us, UTC]``;
dates also ``datetime64[us, UTC]`` at midnight (so detectors compare them with ``as_of`` directly);
required booleans ``bool``, required integers ``int64``, nullable integers ``Int64``; floats
``float64``; enum values trimmed and lower-cased; extra columns kept as text. A nullable column
the source left out is absent from the typed frame as well (contract version 2: absent is not
empty; ask ``Snapshot.has_column``), and from the stored Parquet files.
"""
