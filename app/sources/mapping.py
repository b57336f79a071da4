"""Bring any CSV into contract shape with a TOML mapping file, and suggest such mappings.

A mapping file says, per contract table, which file to read and how (delimiter, encoding, a
column list for a file without a header row, null tokens), which rows to keep (filters), which
source column feeds which contract column, templates that join columns (``"{module}-{pres}"``),
dates counted in days from an anchor, enum spellings, strptime formats and constants. The
README's "Mapping files" section documents every key with examples. The work is split by concern:

* :mod:`app.sources.mapping_format` — the format: :class:`TableMapping`, parsing, dumping;
* :mod:`app.sources.mapping_parts` — templates, filters, null tokens, day offsets;
* :mod:`app.sources.mapping_apply` — a mapping applied to one file (with warnings, problems);
* :mod:`app.sources.mapping_files` — a mapping's files stay in the folder and are never quoted;
* :mod:`app.sources.mapping_suggest` — suggested column matches for the Data page;
* :mod:`app.sources.mapping_builder` — the Data page's mapping builder, without widgets.

This module gathers their public names, so callers import from one place.
"""

from __future__ import annotations

from app.sources.mapping_apply import (
    MappedTable,
    apply_table_mapping,
    import_mapped_csv,
    map_table,
    preview_mapping,
    read_mapped_file,
)
from app.sources.mapping_format import (
    INVALID_ROWS,
    SnapshotMapping,
    TableMapping,
    dump_mapping,
    load_mapping,
    parse_mapping,
)
from app.sources.mapping_parts import DayOffset, RowFilter, Template
from app.sources.mapping_suggest import SYNONYMS, Suggestion, suggest_mapping

__all__ = [
    "INVALID_ROWS",
    "SYNONYMS",
    "DayOffset",
    "MappedTable",
    "RowFilter",
    "SnapshotMapping",
    "Suggestion",
    "TableMapping",
    "Template",
    "apply_table_mapping",
    "dump_mapping",
    "import_mapped_csv",
    "load_mapping",
    "map_table",
    "parse_mapping",
    "preview_mapping",
    "read_mapped_file",
    "suggest_mapping",
]
