"""A JSON answer written straight from plain data (dicts, lists, datetimes), without FastAPI's
per-value ``jsonable_encoder`` walk, which cost more than the query for a page of 50 findings."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import Enum
from typing import Any

from fastapi.responses import Response


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def json_answer(body: Any, status_code: int = 200) -> Response:
    """``body`` as an application/json response (the same JSON jsonable_encoder would give)."""
    text = json.dumps(body, default=_default, allow_nan=False, separators=(",", ":"))
    return Response(text.encode(), status_code=status_code, media_type="application/json")
