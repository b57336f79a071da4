"""The live xAPI LRS client: GET ``{base}/xAPI/statements`` with Basic auth and
``X-Experience-API-Version``, optional ``since``, following ``more`` links.

Only the standard library (``urllib``). The credentials go to the LRS's own origin and nowhere
else: a ``more`` link must keep the base address's scheme, host and port (no https → http on
the same host), and redirects are never followed (urllib would forward the Authorization
header to wherever they point). Every failure (refused credentials, server error, garbage,
timeout, a redirect) is a one-line :class:`UserError`.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urljoin, urlsplit
from urllib.request import HTTPRedirectHandler, Request, build_opener

import pandas as pd

from app.core.errors import UserError
from app.sources.result import ImportResult
from app.sources.xapi import XAPI_VERSION, loads_statement_json, statements_to_activity


class _NoRedirects(HTTPRedirectHandler):
    """Refuse every redirect: the 3xx answer surfaces as an HTTPError instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = build_opener(_NoRedirects())


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _get_json(url: str, headers: dict[str, str], timeout: float) -> Any:
    """GET ``url`` and parse JSON; every failure becomes a one-line UserError."""
    shown = url.split("?", 1)[0]
    request = Request(url, headers=headers, method="GET")  # noqa: S310 (scheme checked)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read()
    except HTTPError as exc:
        if 300 <= exc.code < 400:
            target = (exc.headers.get("Location") or "").split("?", 1)[0]
            raise UserError(
                f"the LRS at {shown} redirected (HTTP {exc.code}) to {target or 'elsewhere'}; "
                "Gapdesk does not follow redirects with credentials: give the final address"
            ) from None
        if exc.code in (401, 403):
            raise UserError(
                f"the LRS at {shown} refused the credentials (HTTP {exc.code}); "
                "check the user name and password"
            ) from None
        detail = exc.read()[:200].decode("utf-8", "replace").strip()
        raise UserError(
            f"the LRS at {shown} answered HTTP {exc.code}" + (f": {detail}" if detail else "")
        ) from None
    except TimeoutError:
        raise UserError(f"the LRS at {shown} did not answer within {timeout:g} s") from None
    except URLError as exc:
        if isinstance(exc.reason, TimeoutError | socket.timeout):
            raise UserError(f"the LRS at {shown} did not answer within {timeout:g} s") from None
        raise UserError(f"cannot reach the LRS at {shown}: {exc.reason}") from None
    except (ConnectionError, OSError) as exc:
        raise UserError(f"the connection to the LRS at {shown} failed: {exc}") from None
    try:
        return loads_statement_json(body, f"the answer of the LRS at {shown}")
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        excerpt = body[:80].decode("utf-8", "replace")
        raise UserError(
            f"the LRS at {shown} answered something that is not JSON: {excerpt!r}"
        ) from None


def fetch_lrs_statements(
    base_url: str,
    *,
    username: str,
    password: str,
    since: datetime | str | None = None,
    limit: int = 500,
    timeout: float = 30.0,
    max_pages: int = 100_000,
) -> Iterator[dict[str, Any]]:
    """Statements from an xAPI LRS, page by page, following ``more`` links on its origin.

    ``base_url`` is the LRS root (``https://lrs.example.org``); ``since`` keeps statements
    stored after that moment (a timestamp without offset is UTC).
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"LRS address {base_url!r} must be an http:// or https:// URL")
    query: dict[str, str] = {"limit": str(limit)}
    if since is not None:
        stamp = pd.Timestamp(since)
        if pd.isna(stamp):
            raise UserError(f"since={since!r} is not a timestamp")
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        query["since"] = stamp.isoformat()
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    headers = {
        "Authorization": f"Basic {token}",
        "X-Experience-API-Version": XAPI_VERSION,
        "Accept": "application/json",
    }
    root = base_url.rstrip("/") + "/"
    url: str | None = urljoin(root, "xAPI/statements") + "?" + urlencode(query)
    seen: set[str] = set()
    for _ in range(max_pages):
        assert url is not None
        seen.add(url)
        page = _get_json(url, headers, timeout)
        if not isinstance(page, dict) or not isinstance(page.get("statements"), list):
            raise UserError(
                f"the LRS at {url.split('?', 1)[0]} answered JSON that is not an xAPI "
                "StatementResult (no 'statements' list)"
            )
        yield from page["statements"]
        more = page.get("more")
        if not more:
            return
        url = urljoin(root, str(more))
        if _origin(url) != _origin(base_url) or url in seen:
            raise UserError(
                f"the LRS's 'more' link {str(more)[:200]!r} leaves the LRS ({parts.scheme}://"
                f"{parts.netloc}) or repeats itself; not followed"
            )
    raise UserError(f"the LRS returned more than {max_pages} pages; stopped")


def import_xapi_lrs(
    base_url: str,
    *,
    username: str,
    password: str,
    since: datetime | str | None = None,
    limit: int = 500,
    timeout: float = 30.0,
    how: str = "account_name",
) -> ImportResult:
    """``activity`` from a live xAPI LRS (see :func:`fetch_lrs_statements`)."""
    statements = list(
        fetch_lrs_statements(
            base_url,
            username=username,
            password=password,
            since=since,
            limit=limit,
            timeout=timeout,
        )
    )
    result = statements_to_activity(statements, source=base_url, how=how)
    if since is not None:
        result.report.notes.append(f"statements since {since}")
    return result
