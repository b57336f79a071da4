"""The FastAPI application: the routes, and every refusal as JSON ``{"detail": message}``.

A service's refusal keeps its own words: no role → 403, no such thing → 404, a decision or
report the queue refuses (someone else decided first, a missing reason) → 409, bad input → 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app.api.rate_limit import RateLimiter
from app.api.routes import detection, findings, log, notifications, reports
from app.core.db import DatabaseUnavailable
from app.core.errors import UserError
from app.core.settings import get_settings
from review_queue.decisions import DecisionRefused


def _json(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def _handlers(api: FastAPI) -> None:
    status_of: list[tuple[type[Exception], int]] = [
        (PermissionError, 403),
        (LookupError, 404),  # FindingNotFound and the other lookups
        (DecisionRefused, 409),
        (UserError, 422),
        (ValueError, 422),  # e.g. an action that is no action
        (DatabaseUnavailable, 503),
    ]
    for kind, status in status_of:

        def handler(_: Request, exc: Exception, status: int = status) -> JSONResponse:
            return _json(status, str(exc) or type(exc).__name__)

        api.add_exception_handler(kind, handler)

    def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _json(422, _validation_message(exc))

    api.add_exception_handler(RequestValidationError, invalid)

    def busy(_: Request, exc: Exception) -> JSONResponse:
        # SQLite's write lock still held by others after the 15 s busy timeout: say so and when
        # to retry, rather than a bare 500 (nothing was written: the unit of work rolled back).
        if "locked" in str(exc) or "busy" in str(exc):
            answer = _json(503, "the database is busy with other writes; retry in a few seconds")
            answer.headers["Retry-After"] = "2"
            return answer
        return _json(500, "the database failed; see the API's log")

    api.add_exception_handler(OperationalError, busy)


def create_app(engine: Engine, *, rate_per_minute: int | None = None) -> FastAPI:
    """The API over ``engine``; ``rate_per_minute`` defaults to GAPDESK_API_RATE_PER_MINUTE."""
    api = FastAPI(
        title="Gapdesk API",
        description=(
            "The review queue's services over HTTP, with the same permissions as the pages. "
            "Authenticate with a personal API token: `Authorization: Bearer gdk_...`."
        ),
        version="1",
    )
    api.state.engine = engine
    api.state.rate_limiter = RateLimiter(rate_per_minute or get_settings().api_rate_per_minute)
    for module in (findings, reports, log, detection, notifications):
        api.include_router(module.router)
    _handlers(api)

    @api.get("/api/health", tags=["health"])
    def health() -> dict[str, Any]:
        """Whether the API answers (no token needed)."""
        return {"ok": True}

    return api
