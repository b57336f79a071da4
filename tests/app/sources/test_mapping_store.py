"""Saved column mappings and uploaded samples: safe names, round trip, clear refusals (uploads
staged for ingest: tests/app/sources/test_upload_limits.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import UserError
from app.sources.mapping import SnapshotMapping, TableMapping, load_mapping
from app.sources.mapping_store import save_mapping, saved_mappings
from app.sources.uploads import read_sample
from review_queue.permissions import SYSTEM, Actor
from review_queue.tables import Role


class _Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def test_a_saved_mapping_reads_back_and_is_listed(gapdesk_home: Path) -> None:
    mapping = SnapshotMapping(
        tables={"people": TableMapping(table="people", columns={"Employee ID": "person_id"})}
    )
    path = save_mapping(actor=SYSTEM, name="workday-hr", mapping=mapping)
    assert saved_mappings() == {"workday-hr": path}
    assert load_mapping(path).tables["people"].columns == {"Employee ID": "person_id"}
    for bad in ("../escape", "", "a b", "x" * 70):
        with pytest.raises(UserError, match="mapping name"):
            save_mapping(actor=SYSTEM, name=bad, mapping=mapping)
    with pytest.raises(PermissionError):
        save_mapping(actor=Actor(id=5, name="m", role=Role.manager), name="x", mapping=mapping)


def test_a_sample_that_is_not_utf8_csv_is_refused_clearly() -> None:
    assert list(read_sample(b"Employee ID,Name\n007,Ada\n")["Employee ID"]) == ["007"]
    with pytest.raises(UserError, match="not UTF-8"):
        read_sample("Name\nJosé\n".encode("latin-1"))
    with pytest.raises(UserError, match="empty"):
        read_sample(b"")
