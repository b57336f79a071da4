"""Hostile mapping files, property-tested: parsed, loaded, saved and applied to a CSV.

Any mapping file ends in a SnapshotMapping or in a UserError naming it; a saved mapping reads back
as it was saved, a refused one leaves no file behind.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.core.errors import UserError
from app.sources.contract import TABLES
from app.sources.mapping import (
    SnapshotMapping,
    TableMapping,
    dump_mapping,
    import_mapped_csv,
    load_mapping,
    parse_mapping,
)
from app.sources.mapping_store import mappings_dir, save_mapping, saved_mappings
from review_queue.permissions import SYSTEM
from tests.helpers.hostile import (
    counted,
    csv_bytes,
    expect_clear,
    file_text,
    fuzz,
    hostile_text,
    store_files,
    to_bytes,
    toml_key,
    toml_value,
    wrong_type,
)

section = st.dictionaries(
    st.sampled_from(["columns", "values", "formats", "constants", "file", "delimiter",
                     "encoding", "other"]),
    st.one_of(wrong_type, file_text,
              st.dictionaries(file_text, st.one_of(file_text, wrong_type), max_size=3)),
    max_size=5,
)  # fmt: skip

mapping_data = st.dictionaries(
    st.one_of(st.sampled_from([*TABLES, "invalid_rows"]), file_text),
    st.one_of(section, wrong_type, file_text),
    max_size=4,
)


@fuzz(50)
@given(mapping_data, st.one_of(st.none(), st.binary(max_size=200), file_text))
@counted
def test_mapping_files(data: dict[str, Any], raw: bytes | str | None) -> None:
    """Parsed or raw, a mapping file ends in a SnapshotMapping or a UserError naming it."""
    try:
        parsed = parse_mapping(data, origin="hostile.toml")
    except UserError as exc:
        assert "hostile.toml" in str(exc), str(exc)[:200]
    else:
        assert set(parsed.tables) <= set(TABLES)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hostile.toml"
        if raw is None:
            lines = [f"{toml_key(k)} = {t}" for k, v in data.items() if (t := toml_value(v))]
            path.write_bytes(to_bytes("\n".join(lines)))
        else:
            path.write_bytes(raw if isinstance(raw, bytes) else to_bytes(raw))
        try:
            load_mapping(path)
        except UserError as exc:
            assert "hostile.toml" in str(exc), str(exc)[:200]


table_mapping = st.builds(
    TableMapping,
    table=st.sampled_from(list(TABLES)),
    columns=st.dictionaries(hostile_text, st.one_of(hostile_text, st.sampled_from(
        ["person_id", "email", "full_name", "user_id", "course_id", "title"])), max_size=3),
    values=st.dictionaries(st.sampled_from(["status", "employment_status", "full_name"]),
                           st.dictionaries(hostile_text, hostile_text, max_size=2), max_size=2),
    formats=st.dictionaries(st.sampled_from(["hire_date", "created_at"]), hostile_text,
                            max_size=1),
    constants=st.dictionaries(st.sampled_from(["department", "status"]), hostile_text,
                              max_size=1),
    file=st.one_of(st.none(), hostile_text),
    delimiter=st.one_of(st.just(","), st.sampled_from([";", "\t", "|", "\x00", '"'])),
    encoding=st.one_of(st.just("utf-8"),
                       st.sampled_from(["latin-1", "utf-16", "bogus", "", "rot13", "hex"])),
)  # fmt: skip

mapping_name = st.one_of(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True),
                         hostile_text, st.just("ok\n"), st.just("../escape"))  # fmt: skip


@fuzz(60)
@given(mapping_name, table_mapping, st.sampled_from(["reject", "quarantine"]))
@counted
def test_saving_a_mapping(gapdesk_home: Path, name: str, tm: TableMapping, rows: str) -> None:
    """A saved mapping reads back as it was saved; a refused one leaves no file behind."""
    mapping = SnapshotMapping(tables={tm.table: tm}, invalid_rows=rows)
    before = store_files(mappings_dir())
    try:
        path = save_mapping(actor=SYSTEM, name=name, mapping=mapping)
    except UserError as exc:
        assert str(exc).strip()
        assert store_files(mappings_dir()) == before, "a refused mapping left files behind"
        return
    assert path.parent == mappings_dir() and path.name == f"{name}.toml"
    assert saved_mappings()[name] == path
    assert dump_mapping(load_mapping(path)) == dump_mapping(mapping)
    assert [f for f in store_files(mappings_dir()) if f.startswith(".")] == []


@fuzz(50)
@given(table_mapping, st.lists(st.lists(file_text, min_size=3, max_size=3), max_size=4),
       st.booleans())  # fmt: skip
@counted
def test_a_mapping_applied_to_a_csv(tm: TableMapping, rows: list[list[str]], bom: bool) -> None:
    """A CSV read through any mapping: contract-named columns, or a UserError naming the file."""
    header = [*list(tm.columns)[:2], "extra"][:3]
    header += [f"c{i}" for i in range(3 - len(header))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        path.write_bytes(csv_bytes(header, rows, bom=bom))
        spec = Path(tmp) / "map.toml"
        try:
            mapping = parse_mapping(
                {"invalid_rows": "reject", tm.table: _as_section(tm)}, origin="map.toml"
            )
        except UserError as exc:
            assert "map.toml" in str(exc)
            mapping = SnapshotMapping(tables={tm.table: TableMapping(table=tm.table)})
        try:
            spec.write_text(dump_mapping(mapping), encoding="utf-8")
        except UserError as exc:
            assert "lone surrogate" in str(exc)  # TOML cannot hold one: nothing to apply
            return
        result = expect_clear(lambda: import_mapped_csv(path, spec), "export.csv")
        if result is not None and tm.encoding == "utf-8":  # other encodings misread rows
            [frame] = result.tables.values()
            assert len(frame) == len(rows)


def _as_section(tm: TableMapping) -> dict[str, Any]:
    section: dict[str, Any] = {
        "columns": tm.columns, "values": tm.values, "formats": tm.formats,
        "constants": tm.constants, "delimiter": tm.delimiter, "encoding": tm.encoding,
    }  # fmt: skip
    if tm.file is not None:
        section["file"] = tm.file
    return section
