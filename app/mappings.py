"""Saved column mappings, kept as TOML files under ``$GAPDESK_HOME/mappings`` for reuse."""

from __future__ import annotations

import re
from pathlib import Path

from app.errors import UserError
from app.settings import get_settings
from app.sources.mapping import SnapshotMapping, dump_mapping, load_mapping
from review_queue.permissions import ADMIN_ONLY, Actor, require_role

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def mappings_dir() -> Path:
    """Where saved mappings live."""
    return get_settings().home.resolve() / "mappings"


def save_mapping(*, actor: Actor, name: str, mapping: SnapshotMapping) -> Path:
    """Save (or replace) a named mapping (admins only); the name becomes its file name."""
    require_role(actor, ADMIN_ONLY, "saving mappings")
    if not _NAME.match(name):
        raise UserError(
            f"mapping name {name!r}: use 1-64 letters, digits, '-' or '_', starting with a "
            "letter or digit"
        )
    folder = mappings_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.toml"
    tmp = folder / f".{name}.toml.partial"
    tmp.write_text(dump_mapping(mapping), encoding="utf-8")
    load_mapping(tmp)  # what we save must read back
    tmp.replace(target)
    return target


def saved_mappings() -> dict[str, Path]:
    """Name → file of every saved mapping."""
    folder = mappings_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}
