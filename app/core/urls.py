"""The one place that shows a database URL to a person: never with its password in it.

Used for every message about a URL (settings, the engine, the Moodle import), including URLs
that do not parse: a password may hold '/', '@' or ':' written raw, so nothing between the
scheme and the last '@' is ever echoed, whatever SQLAlchemy would make of it.
"""

from __future__ import annotations

import contextlib
import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

MASK = "***"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)(.*)$", re.DOTALL)
_QUERY_SECRET = re.compile(r"(?i)([?&](?:password|passwd|pwd|sslpassword)=)[^&#]*")
_PLAIN_USER = re.compile(r"^[A-Za-z0-9._%+\-]*$")


def mask_url_password(url: str | URL) -> str:
    """``url`` with its password (and any ``password=`` query value) shown as ``***``."""
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
    text = _QUERY_SECRET.sub(rf"\g<1>{MASK}", text.strip())
    match = _SCHEME.match(text)
    scheme, rest = (match.group(1), match.group(2)) if match else ("", text)
    if "@" not in rest:
        return scheme + rest
    userinfo, host = rest.rsplit("@", 1)
    user, has_password, _ = userinfo.partition(":")
    if not _PLAIN_USER.fullmatch(user):
        return f"{scheme}{MASK}@{host}"
    return f"{scheme}{user}:{MASK}@{host}" if has_password else f"{scheme}{user}@{host}"


def raw_password(url: str) -> str | None:
    """The password as written in ``url``: everything between the user's ':' and the last '@'."""
    match = _SCHEME.match(url.strip())
    rest = match.group(2) if match else url
    if "@" not in rest:
        return None
    _user, has_password, password = rest.rsplit("@", 1)[0].partition(":")
    return password if has_password else None


def ambiguous_password(url: str) -> bool:
    """Whether the password as written holds an unencoded '@', '/', '?' or '#': SQLAlchemy and
    the driver would then read part of it as the host or the database."""
    written = raw_password(url)
    return written is not None and any(c in written for c in "@/?#")


def scrub(message: str, url: str | URL) -> str:
    """The first line of a driver's message about ``url``, with its password taken out."""
    line = (str(message).strip().splitlines() or [""])[0]
    secrets = {raw_password(url) if isinstance(url, str) else None}
    with contextlib.suppress(ArgumentError, ValueError):
        secrets.add(make_url(url).password if isinstance(url, str) else url.password)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        line = line.replace(str(secret), MASK)
    return line
