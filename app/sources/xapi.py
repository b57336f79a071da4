"""xAPI statements → ``activity``: from a JSON-lines file (gzipped or not) or a live LRS
(the client is ``xapi_lrs.py``).

Verbs are normalised onto the contract's verbs: ADL (``http://adlnet.gov/expapi/verbs/…``),
cmi5/ADL (``https://w3id.org/xapi/adl/verbs/…``), Tin Can (``http://id.tincanapi.com/verb/…``,
``http://activitystrea.ms/schema/1.0/…``) and the video profile
(``https://w3id.org/xapi/video/verbs/…``) by exact IRI, then any other IRI by its last path
segment (``…/completed`` → ``completed``). Statements with a verb that maps to nothing are kept out
of ``activity`` and counted per verb in the report.

Actors are identified by ``account`` (its ``name``; ``actor_id="home_page_and_name"`` keeps the
homePage too, for LRSs fed by several platforms), else ``mbox`` (the address, lower case),
``mbox_sha1sum`` (``sha1:<hex>``) or ``openid``. The course is the context activity (parent or
grouping) whose type is a course, else the first parent. Voided statements are removed.

JSON nested deeper than ``MAX_DEPTH`` levels (no real statement comes close) is refused with
one line instead of exhausting Python's stack.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from app.core.errors import UserError
from app.sources.files import GZIP_MAGIC
from app.sources.result import ImportReport, ImportResult, typed_events

XAPI_VERSION = "1.0.3"
MAX_DEPTH = 100  # levels of nested objects and arrays in one statement (xAPI needs under 10)
_ADL = "http://adlnet.gov/expapi/verbs/"
_ADL2 = "https://w3id.org/xapi/adl/verbs/"
_TINCAN = "http://id.tincanapi.com/verb/"
_AS = "http://activitystrea.ms/schema/1.0/"
_VIDEO = "https://w3id.org/xapi/video/verbs/"

# Exact IRIs. Video "played" is watching (viewed); "paused", "seeked" and "terminated" report how
# much of the video was watched, so they are progress events whose value is that share in %.
VERB_IRIS: dict[str, str] = {
    _ADL + "completed": "completed",
    _ADL + "passed": "passed",
    _ADL + "failed": "failed",
    _ADL + "launched": "launched",
    _ADL + "initialized": "launched",
    _ADL + "attempted": "launched",
    _ADL + "experienced": "viewed",
    _ADL + "attended": "viewed",
    _ADL + "progressed": "progressed",
    _ADL + "answered": "submitted",
    _ADL + "responded": "submitted",
    _ADL + "terminated": "progressed",
    _ADL2 + "satisfied": "completed",
    _ADL2 + "logged-in": "login",
    _TINCAN + "viewed": "viewed",
    _TINCAN + "downloaded": "viewed",
    _TINCAN + "launched": "launched",
    _TINCAN + "completed": "completed",
    _TINCAN + "submitted": "submitted",
    _AS + "complete": "completed",
    _AS + "start": "launched",
    _AS + "access": "viewed",
    _AS + "submit": "submitted",
    _VIDEO + "played": "viewed",
    _VIDEO + "paused": "progressed",
    _VIDEO + "seeked": "progressed",
}
# Fallback on the IRI's last path segment, for vocabularies not listed above.
VERB_WORDS: dict[str, str] = {
    "completed": "completed",
    "complete": "completed",
    "passed": "passed",
    "failed": "failed",
    "launched": "launched",
    "initialized": "launched",
    "started": "launched",
    "viewed": "viewed",
    "experienced": "viewed",
    "accessed": "viewed",
    "read": "viewed",
    "watched": "viewed",
    "played": "viewed",
    "progressed": "progressed",
    "submitted": "submitted",
    "answered": "submitted",
    "logged-in": "login",
    "loggedin": "login",
    "login": "login",
}
VOIDED = _ADL + "voided"
# Verbs whose statement is only an activity event when it carries a progress share.
NEEDS_PROGRESS = {_ADL + "terminated", _VIDEO + "seeked"}


def normalise_verb(iri: str) -> str | None:
    """The contract verb for an xAPI verb IRI, or None when it has none."""
    iri = iri.strip()
    if iri in VERB_IRIS:
        return VERB_IRIS[iri]
    last = iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1].lower()
    return VERB_WORDS.get(last)


def actor_id(actor: Any, *, how: str = "account_name") -> tuple[str | None, str]:
    """(user id, kind of identifier) for an xAPI actor; (None, reason) when it has none."""
    if not isinstance(actor, dict):
        return None, "no actor"
    if actor.get("objectType") == "Group" and not any(
        k in actor for k in ("account", "mbox", "mbox_sha1sum", "openid")
    ):
        return None, "anonymous group"
    account = actor.get("account")
    if isinstance(account, dict) and account.get("name"):
        name = str(account["name"])
        if how == "home_page_and_name" and account.get("homePage"):
            return f"{str(account['homePage']).rstrip('/')}/{name}", "account"
        return name, "account"
    if actor.get("mbox"):
        return str(actor["mbox"]).removeprefix("mailto:").strip().lower(), "mbox"
    if actor.get("mbox_sha1sum"):
        return "sha1:" + str(actor["mbox_sha1sum"]).lower(), "mbox_sha1sum"
    if actor.get("openid"):
        return str(actor["openid"]), "openid"
    return None, "no identifier"


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (statements from the wild lie)."""
    return value if isinstance(value, dict) else {}


def _course_of(statement: dict[str, Any]) -> str | None:
    activities = _obj(_obj(statement.get("context")).get("contextActivities"))
    candidates: list[Any] = []
    for key in ("parent", "grouping"):
        found = activities.get(key) or []
        candidates.extend(found if isinstance(found, list) else [found])
    for activity in candidates:
        if isinstance(activity, dict):
            kind = str(_obj(activity.get("definition")).get("type", ""))
            if kind.rstrip("/").endswith("/course") and activity.get("id"):
                return str(activity["id"])
    obj = _obj(statement.get("object"))
    if str(_obj(obj.get("definition")).get("type", "")).rstrip("/").endswith("/course"):
        return str(obj.get("id")) if obj.get("id") else None
    parents = activities.get("parent") or []
    if isinstance(parents, list) and parents and isinstance(parents[0], dict):
        return str(parents[0].get("id")) if parents[0].get("id") else None
    return None


def _value_of(statement: dict[str, Any], verb: str) -> float | None:
    result = _obj(statement.get("result"))
    if verb == "progressed":
        for key, value in _obj(result.get("extensions")).items():
            if str(key).rstrip("/").endswith("/progress") and isinstance(value, int | float):
                # The video profile gives a share 0-1; the contract wants percent.
                return float(value) * 100 if value <= 1 else float(value)
        return None
    score = _obj(result.get("score"))
    if isinstance(score.get("scaled"), int | float):
        return float(score["scaled"]) * 100
    if isinstance(score.get("raw"), int | float):
        return float(score["raw"])
    return None


def statements_to_activity(
    statements: Iterable[dict[str, Any]], *, source: str, how: str = "account_name"
) -> ImportResult:
    """Contract ``activity`` rows (plus a report) from xAPI statements."""
    report = ImportReport(source=source)
    rows: list[tuple[Any, ...]] = []
    unmapped: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    actor_kinds: Counter[str] = Counter()
    voided: set[str] = set()
    total = 0
    for statement in statements:
        total += 1
        if not isinstance(statement, dict):
            skipped["not a JSON object"] += 1
            continue
        verb_iri = str(_obj(statement.get("verb")).get("id", ""))
        if verb_iri == VOIDED:
            target = _obj(statement.get("object"))
            if target.get("objectType") == "StatementRef" and target.get("id"):
                voided.add(str(target["id"]))
            continue
        verb = normalise_verb(verb_iri)
        if verb is None:
            unmapped[verb_iri or "(no verb)"] += 1
            continue
        value = _value_of(statement, verb)
        if verb_iri in NEEDS_PROGRESS and value is None:
            skipped[f"{verb_iri.rsplit('/', 1)[-1]} without a progress share"] += 1
            continue
        user, kind = actor_id(statement.get("actor"), how=how)
        if user is None:
            skipped[f"actor: {kind}"] += 1
            continue
        actor_kinds[kind] += 1
        stamp = statement.get("timestamp") or statement.get("stored")
        if not stamp:
            skipped["no timestamp"] += 1
            continue
        event_id = (
            statement.get("id")
            or hashlib.sha1(
                json.dumps(statement, sort_keys=True).encode(), usedforsecurity=False
            ).hexdigest()
        )
        obj = _obj(statement.get("object"))
        rows.append(
            (
                str(event_id),
                user,
                _course_of(statement),
                verb,
                str(stamp),
                value,
                verb_iri,
                str(obj.get("id", "")) or None,
            )
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "event_id",
            "user_id",
            "course_id",
            "verb",
            "timestamp",
            "value",
            "verb_iri",
            "object_id",
        ],
    )
    frame, bad_time = typed_events(
        frame, ("event_id", "user_id", "course_id", "verb", "verb_iri", "object_id")
    )
    if bad_time:
        skipped["timestamp not ISO 8601"] += bad_time
    if voided:
        is_voided = frame["event_id"].isin(voided)
        report.counts["voided statements removed"] = int(is_voided.sum())
        frame = frame[~is_voided]
    duplicated = frame["event_id"].duplicated()
    if duplicated.any():
        report.warnings.append(f"{int(duplicated.sum())} statement(s) repeated an id; kept once")
        frame = frame[~duplicated]
    frame = frame.reset_index(drop=True)

    report.counts["statements read"] = total
    report.counts["activity rows"] = len(frame)
    report.counts["statements with an unmapped verb"] = sum(unmapped.values())
    for iri, count in unmapped.most_common():
        report.counts[f"unmapped verb: {iri}"] = count
    for why, count in skipped.most_common():
        report.counts[f"skipped: {why}"] = count
    for kind, count in actor_kinds.most_common():
        report.counts[f"actors by {kind}"] = count
    report.counts["distinct users"] = int(frame["user_id"].nunique())
    return ImportResult(tables={"activity": frame}, report=report)


# --------------------------------------------------------------------------- files


def nesting_depth(value: Any, *, stop_at: int = MAX_DEPTH + 1) -> int:
    """How deeply ``value`` nests objects and arrays (counted without recursion; stops early)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest >= stop_at:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def loads_statement_json(text: str | bytes, where: str) -> Any:
    """``json.loads`` that refuses JSON nested deeper than ``MAX_DEPTH`` with a one-line
    UserError naming ``where`` (Python's parser would raise RecursionError)."""
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
        too_deep = True
    else:
        too_deep = nesting_depth(value) > MAX_DEPTH
    if too_deep:
        raise UserError(f"{where} is nested more than {MAX_DEPTH} levels deep; not read")
    return value


def iter_jsonl_statements(path: Path, report: ImportReport) -> Iterator[dict[str, Any]]:
    """Statements from a JSON-lines file (gzip recognised by its first bytes) or a JSON array.

    Lines that are not JSON are skipped and counted; a file with no statement at all is a
    UserError.
    """
    try:
        with path.open("rb") as fh:
            magic = fh.read(2)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    if path.name.endswith(".gz") and magic != GZIP_MAGIC:
        raise UserError(f"{path.name} ends in .gz but is not gzip-compressed")
    opener = gzip.open if magic == GZIP_MAGIC else open
    bad_lines: list[int] = []
    good = 0
    try:
        with opener(path, "rt", encoding="utf-8") as text:
            first = text.read(1)
            while first and first.isspace():
                first = text.read(1)
            if first == "[":
                # A JSON array of statements (what an LRS POST body looks like).
                items = loads_statement_json(first + text.read(), path.name)
                good = len(items)
                yield from items
            else:
                for number, line in enumerate(_prefixed(first, text), start=1):
                    if not line.strip():
                        continue
                    try:
                        yield loads_statement_json(line, f"line {number} of {path.name}")
                        good += 1
                    except json.JSONDecodeError:
                        bad_lines.append(number)
    except UnicodeDecodeError:
        raise UserError(f"{path.name} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path.name} is not JSON: {exc}") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise UserError(f"{path.name} is a damaged gzip file ({exc or 'truncated'})") from None
    if bad_lines:
        report.warnings.append(
            f"{len(bad_lines)} line(s) of {path.name} are not JSON and were skipped "
            f"(first: line {bad_lines[0]})"
        )
    if good == 0:
        raise UserError(f"{path.name} holds no xAPI statements (no line is a JSON statement)")


def _prefixed(first: str, text: Any) -> Iterator[str]:
    rest = text.readline()
    yield first + rest
    yield from text


def import_xapi_file(path: Path | str, *, how: str = "account_name") -> ImportResult:
    """``activity`` from a JSON-lines file of xAPI statements (gzipped or not)."""
    path = Path(path)
    pre = ImportReport(source=path.name)
    statements = list(iter_jsonl_statements(path, pre))
    result = statements_to_activity(statements, source=path.name, how=how)
    result.report.warnings[:0] = pre.warnings
    return result
