"""The integrity key, kept outside the database: it keys the feedback log's hash chain, signs
its anchors and signs model files, so whoever can write the database alone cannot forge them.

The key is ``GAPDESK_LOG_KEY`` when set, else the file ``<GAPDESK_HOME>/integrity.key`` (32
random bytes, hex, mode 0600), created on first use. Each use gets its own derived key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from app.core.errors import UserError
from app.core.files import private_dir
from app.core.settings import get_settings

KEY_FILE = "integrity.key"
_cache: dict[str, bytes] = {}


class KeyUnavailable(UserError):
    """The integrity key file cannot be read or created."""


def _read_or_create(path: Path) -> bytes:
    if not path.exists():
        private_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # atomic: two first users end up with the same key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyUnavailable(f"cannot read the integrity key {path}: {exc}") from None
    if len(text) < 32:
        raise KeyUnavailable(f"the integrity key {path} is too short (at least 32 characters)")
    return text.encode()


def integrity_key() -> bytes:
    """The master key: GAPDESK_LOG_KEY, or the key file under GAPDESK_HOME (made if absent)."""
    settings = get_settings()
    if settings.log_key is not None:
        return settings.log_key.get_secret_value().encode()
    path = (settings.home / KEY_FILE).resolve()
    found = _cache.get(str(path))
    if found is None:
        found = _cache[str(path)] = _read_or_create(path)
    return found


def derived_key(purpose: str) -> bytes:
    """A key for one purpose ('feedback-log', 'log-anchor', 'model-file'), never the master."""
    return hmac.new(integrity_key(), f"gapdesk {purpose}".encode(), hashlib.sha256).digest()
