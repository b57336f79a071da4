"""Saved column mappings, kept as TOML files under ``$GAPDESK_HOME/mappings`` for reuse."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from app.core.errors import UserError
from app.core.files import private_dir, private_file
from app.core.settings import get_settings
from app.sources.mapping import SnapshotMapping, dump_mapping, parse_mapping
from review_queue.permissions import ADMIN_ONLY, Actor, require_role

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def mappings_dir() -> Path:
    """Where saved mappings live."""
    return get_settings().home.resolve() / "mappings"


def save_mapping(*, actor: Actor, name: str, mapping: SnapshotMapping) -> Path:
    """Save (or replace) a named mapping (admins only); the name becomes its file name."""
    require_role(actor, ADMIN_ONLY, "saving mappings")
    if not _NAME.fullmatch(name):
        raise UserError(
            f"mapping name {name!r}: use 1-64 letters, digits, '-' or '_', starting with a "
            "letter or digit"
        )
    text = dump_mapping(mapping)
    try:  # what we save must read back as it is, before anything is written
        back = parse_mapping(tomllib.loads(text), origin=f"mapping {name}")
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"mapping {name} cannot be written as TOML: {exc}") from None
    if dump_mapping(back) != text:
        raise UserError(f"mapping {name} would not read back as it is; nothing was saved")
    folder = private_dir(mappings_dir())
    target = folder / f"{name}.toml"
    tmp = folder / f".{name}.toml.partial"
    try:
        tmp.write_text(text, encoding="utf-8")
        private_file(tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def saved_mappings() -> dict[str, Path]:
    """Name → file of every saved mapping."""
    folder = mappings_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}
