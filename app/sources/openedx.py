"""Open edX tracking logs → ``activity`` (per object), plus the ``lms_users`` and ``courses`` seen.

A tracking log is one JSON event a line (``tracking.log``, rotated as ``tracking.log-20161116.gz``;
lines written through syslog may carry a prefix before the JSON). What becomes what:

* **activity.** ``event_id`` is a hash of the line; ``user_id`` the ``username``; ``course_id``
  the event's ``context.course_id``; ``object_id`` the usage key of the video, problem, sequence
  or assessment acted on (block ids in browser events and courseware URLs are turned into full
  usage keys, so one object has one id whichever event names it); ``timestamp`` the ``time``.
  Verbs: a page of courseware, a video loaded or played, a problem or answer shown, a sequence
  tab chosen → ``viewed``; a survey or poll answered, an open response handed in →
  ``submitted``; a graded problem check → ``passed``/``failed`` with the score in % as
  ``value``; a course grade passed or failed → ``passed``/``failed``; a video watched to the end
  → ``completed``.
* **lms_users.** One per username, with Open edX's numeric ``context.user_id`` kept as
  ``openedx_user_id``; status ``active`` (a log cannot say otherwise). No e-mail, name,
  creation or last login date: the log does not carry them, so those columns are absent.
* **courses.** One per ``course_id`` seen; the title is the course id (the log has no title).

Left out, and why, each counted in the report (:data:`LEFT_OUT`): xblock handler calls (the
requests behind an explicit event, which is counted instead), the browser's copy of a graded
check, video controls (pause, seek, speed: no progress share to carry), Studio previews (authors,
not learners), site pages outside courses, static assets, catalogue pages, forum posts (no
contract verb), enrolment events (they cover only the log's days; use an enrolment export) and
events of no one signed in. Unreadable lines and events without a time are dropped.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from app.core.errors import UserError
from app.sources.files import GZIP_MAGIC
from app.sources.result import ImportReport, ImportResult, typed_events

VIEW_EVENTS = {
    # event type → the kind of block its bare id names ("" when the id is already a usage key)
    "load_video": "video", "play_video": "video", "edx.video.loaded": "video",
    "edx.video.played": "video", "seq_goto": "", "seq_next": "", "seq_prev": "",
    "edx.ui.lms.sequence.next_selected": "", "edx.ui.lms.sequence.previous_selected": "",
    "edx.ui.lms.sequence.tab_selected": "", "edx.ui.lms.outline.selected": "",
    "problem_show": "problem", "showanswer": "problem",
    "edx.problem.hint.demandhint_displayed": "problem",
    "openassessmentblock.get_peer_submission": "", "xblock.survey.view_results": "",
    "xblock.poll.view_results": "", "edx.forum.thread.viewed": "",
}  # fmt: skip
SUBMIT_EVENTS = frozenset(
    {"xblock.survey.submitted", "xblock.poll.submitted", "openassessmentblock.create_submission"}
)
COMPLETE_EVENTS = frozenset({"complete_video", "edx.video.completed"})
COURSE_GRADE = {
    "edx.course.grade.passed.first_time": "passed",
    "edx.course.grade.now_passed": "passed",
    "edx.course.grade.now_failed": "failed",
}
LEFT_OUT = {
    "handler": "xblock handler calls (the requests behind an explicit event)",
    "browser_check": "the browser's copy of a problem check (the server's is used)",
    "video_control": "video controls (pause, seek, speed, captions): no progress share",
    "preview": "Studio previews of course content (authors, not learners)",
    "site": "site pages outside any course (dashboard, catalogue, settings)",
    "asset": "static files the pages loaded",
    "about": "a course's catalogue page (seen before enrolling)",
    "staff": "instructor and staff pages",
    "forum_post": "forum posts and votes (the contract has no verb for posting)",
    "enrolment": "enrolment events (they cover only the log's days; use an enrolment export)",
    "login_request": "sign-in requests (the log says neither who nor whether it succeeded)",
    "page_close": "pages closed in the browser (the page view is counted when it opened)",
    "anonymous": "events of no one signed in",
    "platform": "grades and progress the platform computed (not learner actions)",
    "assess": "assessing a peer's or one's own response, or saving a draft (no contract verb)",
    "other": "event types with no contract verb",
}
_VIDEO_CONTROLS = re.compile(
    r"^(pause|seek|stop|speed_change)_video$|^edx\.video\.|_transcript$|cc_menu"
)
_ASSET = re.compile(r"\.(js|css|png|jpe?g|gif|svg|ico|woff2?|map)/?$")
_LOGIN_PATH = re.compile(r"^/(user_api/v1/account/login_session|login_ajax|login)/?$")


def _obj(value: Any) -> dict[str, Any]:
    if isinstance(value, str) and value.startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def usage_key(course_id: str, block: str, kind: str) -> str:
    """The full usage key of a block given by its bare id (as browser events and URLs give it)."""
    if not block or ":" in block or not kind:
        return block
    if course_id.startswith("course-v1:"):
        return f"block-v1:{course_id.removeprefix('course-v1:')}+type@{kind}+block@{block}"
    if course_id.count("/") == 2:  # old-style Org/Course/Run ids
        org, course, _ = course_id.split("/")
        return f"i4x://{org}/{course}/{kind}/{block}"
    return block


def _implicit(path: str, course: str) -> tuple[str | None, str | None, str]:
    """(verb, object id, why left out) of a server event named by the URL it served."""
    if path.startswith("/preview/"):
        return None, None, "preview"
    if _LOGIN_PATH.match(path):
        return None, None, "login_request"
    prefix = f"/courses/{course}/" if course else ""
    if not prefix or not (path + "/").startswith(prefix):
        return None, None, "asset" if _ASSET.search(path) else "site"
    rest = path[len(prefix) :].strip("/").split("/") if len(path) > len(prefix) else [""]
    first = rest[0]
    if first == "xblock":
        return None, None, "handler"
    if first == "about":
        return None, None, "about"
    if first in ("instructor", "instructor_dashboard", "staff_grading", "legacy_instructor_dash"):
        return None, None, "staff"
    if _ASSET.search(path):
        return None, None, "asset"
    if first == "courseware":
        kinds = ("chapter", "sequential")
        blocks = [b for b in rest[1:3] if b]
        if not blocks:
            return "viewed", None, ""
        return "viewed", usage_key(course, blocks[-1], kinds[len(blocks) - 1]), ""
    if first == "jump_to" and len(rest) > 1:
        return "viewed", "/".join(rest[1:]), ""
    if first in ("", "info", "course"):
        return "viewed", None, ""
    return "viewed", f"{course}/{first}", ""


def classify_event(
    event: dict[str, Any], context: dict[str, Any] | None = None
) -> tuple[str | None, str | None, float | None, str]:
    """(verb, object id, value, why left out) for one tracking-log event (``context``: its
    ``context`` already read, when the caller has it)."""
    kind = str(event.get("event_type") or "")
    if context is None:
        context = _obj(event.get("context"))
    course = str(context.get("course_id") or "")
    data = _obj(event.get("event"))
    module = str(_obj(context.get("module")).get("usage_key") or "")
    if kind.startswith("/"):
        verb, obj, why = _implicit(kind.split("?", 1)[0], course)
        return verb, obj, None, why
    if kind in VIEW_EVENTS:
        block = str(data.get("id") or data.get("problem_id") or data.get("problem")
                    or data.get("item_id") or data.get("target_id") or module)  # fmt: skip
        return "viewed", usage_key(course, block, VIEW_EVENTS[kind]) or None, None, ""
    if kind in ("problem_check", "edx.grades.problem.submitted"):
        if event.get("event_source") != "server" or kind != "problem_check" or not data:
            return None, None, None, "browser_check"
        grade, top = data.get("grade"), data.get("max_grade")
        value = float(grade) / float(top) * 100 if isinstance(grade, int | float) and top else None
        verb = "passed" if data.get("success") == "correct" else "failed"
        return verb, str(data.get("problem_id") or module) or None, value, ""
    if kind == "problem_graded":
        return None, None, None, "browser_check"
    if kind in SUBMIT_EVENTS:
        return "submitted", module or str(data.get("item_id") or "") or None, None, ""
    if kind in COMPLETE_EVENTS:
        return "completed", usage_key(course, str(data.get("id") or ""), "video") or None, None, ""
    if kind in COURSE_GRADE:
        return COURSE_GRADE[kind], None, None, ""
    if _VIDEO_CONTROLS.search(kind):
        return None, None, None, "video_control"
    for start, why in (
        ("edx.forum.", "forum_post"), ("edx.course.enrollment.", "enrolment"),
        ("edx.grades.", "platform"), ("edx.bi.", "platform"),
    ):  # fmt: skip
        if kind.startswith(start):
            return None, None, None, why
    if kind.startswith("openassessmentblock.") and kind.endswith(("_assess", "save_submission")):
        return None, None, None, "assess"
    if kind == "page_close":
        return None, None, None, "page_close"
    if kind == "progress":
        return None, None, None, "platform"
    return None, None, None, "other"


def iter_tracking_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a tracking log, plain or gzipped (told by its first bytes)."""
    with path.open("rb") as fh:
        magic = fh.read(2)
    opener: Any = gzip.open if magic == GZIP_MAGIC else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="strict") as text:
            for number, line in enumerate(text, start=1):
                if line.strip():
                    yield number, line
    except UnicodeDecodeError:
        raise UserError(f"{path.name} is not UTF-8 text, as tracking logs are") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise UserError(f"{path.name} is a damaged gzip file ({exc or 'truncated'})") from None


def _parse(line: str) -> dict[str, Any] | None:
    start = line.find("{")
    if start < 0:
        return None
    try:
        event = json.loads(line[start:])  # syslog may have put a prefix before the JSON
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and "event_type" in event else None


def import_openedx_logs(paths: Iterable[Path | str], *, source: str | None = None) -> ImportResult:
    """Read Open edX tracking logs (plain or gzipped, any number) into contract tables."""
    files = [Path(p) for p in paths]
    report = ImportReport(source=source or ", ".join(p.name for p in files))
    rows: list[tuple[Any, ...]] = []
    why_out: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    type_out: Counter[str] = Counter()
    numbers: dict[str, Any] = {}
    courses: set[str] = set()
    digests: Counter[str] = Counter()
    read = 0
    for path in files:
        for _, line in iter_tracking_lines(path):
            read += 1
            event = _parse(line)
            if event is None:
                dropped["lines that are not a JSON tracking event"] += 1
                continue
            context = _obj(event.get("context"))
            user = str(event.get("username") or "").strip()
            course = str(context.get("course_id") or "").strip()
            if not user:
                why_out["anonymous"] += 1
                continue
            numbers.setdefault(user, context.get("user_id"))
            verb, obj, value, why = classify_event(event, context)
            if verb is None:
                why_out[why] += 1
                if why == "other":
                    type_out[str(event.get("event_type"))[:80]] += 1
                continue
            if course:
                courses.add(course)
            digest = hashlib.sha1(line.strip().encode(), usedforsecurity=False).hexdigest()[:24]
            digests[digest] += 1
            event_id = f"openedx-{digest}-{digests[digest] - 1}"
            kind, where = str(event.get("event_type"))[:200], str(event.get("event_source") or "")
            rows.append(
                (event_id, user, course or None, obj, verb, event.get("time"), value, kind, where)
            )
    activity = pd.DataFrame(
        rows,
        columns=[
            "event_id",
            "user_id",
            "course_id",
            "object_id",
            "verb",
            "timestamp",
            "value",
            "event_type",
            "event_source",
        ],
    )
    activity, no_time = typed_events(
        activity, ("event_id", "user_id", "course_id", "object_id", "verb", "event_type")
    )
    if no_time:
        dropped["events without a readable time"] += no_time

    seen = sorted(set(activity["user_id"]) | {u for u in numbers if u})
    lms_users = pd.DataFrame({"user_id": pd.Series(seen, dtype="str")})
    lms_users["status"] = "active"
    lms_users["openedx_user_id"] = (
        lms_users["user_id"].map(lambda u: numbers.get(u)).map(
            lambda n: str(n) if n not in (None, "") else pd.NA
        ).astype("str")
    )  # fmt: skip
    course_ids = sorted(courses)
    course_frame = pd.DataFrame(
        {
            "course_id": pd.Series(course_ids, dtype="str"),
            "title": pd.Series(course_ids, dtype="str"),
            "is_compliance": False,
            "status": "active",
        }
    )
    report.counts["events read"] = read
    report.counts["activity rows"] = len(activity)
    report.counts["lms_users rows"] = len(lms_users)
    report.counts["courses rows"] = len(course_frame)
    for why, count in why_out.most_common():
        report.counts[f"left out: {LEFT_OUT[why]}"] = count
    for name, count in type_out.most_common(10):
        report.counts[f"  event type without a verb: {name}"] = count
    for why, count in dropped.most_common():
        report.counts[f"dropped: {why}"] = count
    report.notes.append(
        "lms_users from a tracking log carry no e-mail, name, creation or last login date "
        "(absent, not empty); status is taken as active; course titles are the course ids."
    )
    return ImportResult(
        tables={"activity": activity, "lms_users": lms_users, "courses": course_frame},
        report=report,
    )
