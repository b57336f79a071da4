"""How the demo organisation spells its ids and the entity keys of its ground truth."""

from __future__ import annotations

import numpy as np

from app.demo.organisation.context import GenerationContext
from app.demo.organisation.csv_bytes import cell_text, encode_ids
from app.demo.organisation.timeline import DAY, iso_day


def text_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Identifier strings such as ``P000042`` for integer codes (vectorised)."""
    return cell_text(encode_ids(prefix, np.asarray(numbers), width))


def entity_key_list(name: str, values: np.ndarray) -> list[str]:
    """Entity keys with a single name, e.g. ``enrollment=E00000042``."""
    return [f"{name}={v}" for v in values]


def course_id_of(c: int | np.ndarray) -> str:
    """The id of course index ``c`` (``C00001`` is index 0)."""
    return str(text_ids("C", np.atleast_1d(np.asarray(c) + 1), 5)[0])


def user_id_of(u: int | np.integer) -> str:
    """The id of user number ``u``."""
    return f"U{int(u):07d}"


def enrollment_ids(i: np.ndarray) -> np.ndarray:
    """The ids of enrolment rows ``i`` (``E00000001`` is row 0)."""
    return text_ids("E", np.asarray(i) + 1, 8)


def window_day(ctx: GenerationContext, d: int | np.integer) -> str:
    """The date of window day ``d`` (0 = the window's first day)."""
    return iso_day(ctx.w0 + int(d) * DAY)
