"""The shapes a Moodle Logs export arrives in, brought to the one :mod:`app.sources.moodle` reads.

* **Language.** The download's headers and event names follow the downloading user's language.
  Spanish headers (``Hora, Nombre completo del usuario, …``) and the Spanish event names seen in
  real downloads are translated to Moodle's English ones; other names stay as they are and are
  counted as unknown.
* **Moodle 2.x.** Before 2.7 the log had ``Course, Time, IP address, User full name, Action,
  Information`` (re-headed by some as ``id,course,datetime,action,information,anoname,
  ip_address``) with actions such as ``course view (url)``. Actions become the equivalent
  modern event names; every row names its course.
* **Excel.** A download as ``.xlsx`` is read cell by cell; times written as Excel day numbers are
  turned back into text.

Event names that are not learner activity (reports, teachers editing, mail errors) are
:data:`IGNORED_EVENTS`: left out of ``activity`` by design. Any other unmapped name is unknown:
the conversion counts it as dropped, so a log in a language Gapdesk cannot read fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from app.sources.moodle_columns import distinct

SPANISH_HEADERS = {
    "hora": "Time",
    "nombre completo del usuario": "User full name",
    "usuario afectado": "Affected user",
    "contexto del evento": "Event context",
    "componente": "Component",
    "nombre evento": "Event name",
    "nombre del evento": "Event name",
    "descripción": "Description",
    "origen": "Origin",
    "dirección ip": "IP address",
}
ENGLISH_HEADERS = {
    name.lower(): name
    for name in (
        "Time", "User full name", "Affected user", "Event context", "Component", "Event name",
        "Description", "Origin", "IP address",
    )
}  # fmt: skip
SPANISH_EVENTS = {
    "curso visto": "Course viewed",
    "módulo de curso visto": "Course module viewed",
    "tema visto": "Discussion viewed",
    "informe de registros visto": "Log report viewed",
    "informe de actividad visto": "Activity report viewed",
    "el usuario ha iniciado sesión": "User has logged in",
}
SPANISH_CONTEXT = (("Curso:", "Course:"),)

# Seen in real logs, and not learner activity (or no contract verb says what they are).
IGNORED_EVENTS = frozenset(
    {
        "user list viewed", "course user report viewed", "grade user report viewed",
        "grade overview report viewed", "user profile viewed", "course searched",
        "log report viewed", "activity report viewed", "recent activity viewed",
        "grading table viewed", "role assigned", "role unassigned", "enrolment instance updated",
        "calendar event updated", "course module updated", "course module created",
        "wiki page locks deleted", "wiki page updated", "wiki history viewed",
        "wiki page map viewed", "wiki page version viewed", "wiki diff viewed", "step shown",
        "tour started", "tour ended", "a file has been uploaded", "comments viewed",
        "comment created", "some content has been posted", "discussion created", "post updated",
        "post created", "user enrolled in course", "user unenrolled from course",
    }
)  # fmt: skip
IGNORED_WHY = (
    "not learner activity (reports, editing, tours, posts and comments have no contract verb)"
)

LEGACY_HEADERS = {
    # the re-headed form published with real 2.x data
    "datetime": "Time", "anoname": "User full name", "action": "Action",
    "information": "Information", "course": "Course", "ip_address": "IP address",
    # Moodle 2.x's own download
    "time": "Time", "user full name": "User full name", "ip address": "IP address",
}  # fmt: skip
_LEGACY_VIEWS = {
    "course view": "Course viewed",
    "course view section": "Course viewed",
    "user login": "User has logged in",
    "assign submit": "A submission has been submitted.",
    "assign submission statement accepted": (
        "The user has accepted the statement of the submission."
    ),
    "assign upload": "Submission updated.",
    "assign view submit assignment form": "Submission form viewed.",
    "quiz attempt": "Quiz attempt started",
    "quiz continue attempt": "Quiz attempt viewed",
    "quiz close attempt": "Quiz attempt submitted",
    "quiz review": "Quiz attempt reviewed",
    "quiz view summary": "Quiz attempt summary viewed",
    "forum view discussion": "Discussion viewed",
    "forum view forums": "Course module instance list viewed",
}
_MODULES = frozenset(
    {
        "assign", "assignment", "book", "chat", "choice", "data", "feedback", "folder", "forum",
        "glossary", "imscp", "label", "lesson", "lti", "page", "quiz", "resource", "scorm",
        "survey", "turnitintool", "url", "wiki", "workshop", "attforblock",
    }
)  # fmt: skip
_NOT_LEARNER = re.compile(
    r"\b(add|update|delete|mail|report|enrol|unenrol|sessions|taken|tracking|mark|search|recent|"
    r"grading|grade|editsection|move|startcomplete|logout)\b"
)


def is_legacy_header(header: Sequence[str]) -> bool:
    """Whether a header is Moodle 2.x's log (``action`` and ``information`` columns)."""
    names = {h.strip().lower() for h in header}
    return {"action", "information"} <= names and bool({"datetime", "time"} & names)


def is_modern_header(header: Sequence[str]) -> bool:
    """Whether a header is a Moodle (2.7+) Logs report's, in English or Spanish."""
    names = {
        ENGLISH_HEADERS.get(n, SPANISH_HEADERS.get(n, n))
        for n in (h.strip().lower() for h in header)
    }
    return {"Time", "Event name", "Event context"} <= names


def is_spanish(header: Sequence[str]) -> bool:
    """Whether the header is the Spanish one."""
    return any(h.strip().lower() in SPANISH_HEADERS for h in header)


def legacy_event(action: str) -> tuple[str, str]:
    """(event name, ``mapped``/``ignored``/``unknown``) for a 2.x action like ``resource view (…)``.

    A mapped action gets the equivalent modern event name; the others keep their own words.
    """
    words = re.sub(r"\s*\(.*$", "", action.strip()).strip().lower()
    if words in _LEGACY_VIEWS:
        return _LEGACY_VIEWS[words], "mapped"
    parts = words.split()
    if _NOT_LEARNER.search(words) or (parts and parts[0] == "user"):
        return words, "ignored"
    if len(parts) >= 2 and parts[0] in _MODULES and parts[1] == "view":
        listed = parts[2:] == ["all"]
        return ("Course module instance list viewed" if listed else "Course module viewed"), (
            "mapped"
        )
    return words, "unknown"


def english_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, set[str]]:
    """A Moodle log (modern or 2.x, any language Gapdesk knows) with English names.

    Returns the frame and the event names it carries that are known not to be learner
    activity (left out by design, as opposed to unknown).
    """
    if is_legacy_header(list(frame.columns)):
        return _from_legacy(frame)
    renamed = {
        c: ENGLISH_HEADERS.get(c.strip().lower(), SPANISH_HEADERS.get(c.strip().lower(), c))
        for c in frame.columns
    }
    out = frame.rename(columns=renamed)
    if is_spanish(list(frame.columns)):
        names = out["Event name"].astype("str").str.strip()
        translated = names.str.lower().str.rstrip(".").map(SPANISH_EVENTS)
        out["Event name"] = translated.fillna(out["Event name"])
        context = out["Event context"].astype("str")
        for spanish, english in SPANISH_CONTEXT:
            context = context.str.replace(f"^{spanish}", english, regex=True)
        out["Event context"] = context.where(out["Event context"].notna())
    out["Time"] = excel_days_as_text(out["Time"])
    return out, set(IGNORED_EVENTS)


def _from_legacy(frame: pd.DataFrame) -> tuple[pd.DataFrame, set[str]]:
    cols = {c: LEGACY_HEADERS.get(c.strip().lower(), c) for c in frame.columns}
    old = frame.rename(columns=cols)
    actions = old["Action"].fillna("").astype("str")
    translated = actions.map(legacy_event)
    names = translated.str[0]
    ignored = set(names[translated.str[1] == "ignored"].str.lower())
    course = old.get("Course", pd.Series(pd.NA, index=old.index))
    out = pd.DataFrame(
        {
            "Time": old["Time"],
            "User full name": old.get("User full name", pd.Series(pd.NA, index=old.index)),
            "Event context": "Course: " + course.fillna("").astype("str"),
            "Component": actions.str.split().str[0],
            "Event name": names,
            "Description": old["Information"],
            "IP address": old.get("IP address", pd.Series(pd.NA, index=old.index)),
            "Origin": "web",
        }
    )
    out.loc[course.isna(), "Event context"] = pd.NA
    return out, ignored | set(IGNORED_EVENTS)


def legacy_course_titles(frame: pd.DataFrame) -> dict[str, str]:
    """Course short name → full name, from the 2.x log's ``course view`` rows."""
    cols = {c: LEGACY_HEADERS.get(c.strip().lower(), c) for c in frame.columns}
    old = frame.rename(columns=cols)
    if not {"Course", "Action", "Information"} <= set(old.columns):
        return {}
    views = old[old["Action"].fillna("").str.match(r"^course view(\s|\(|$)")]
    titles = views.dropna(subset=["Course", "Information"]).groupby("Course")["Information"]
    return {str(k): str(v.mode().iloc[0]) for k, v in titles}


def excel_days_as_text(times: pd.Series) -> pd.Series:
    """Times that Excel stored as day numbers (``44258.59``) as ``dd/mm/YYYY, HH:MM`` text."""
    if not times.dropna().head(50).astype("str").str.fullmatch(r"\d+(\.\d+)?").any():
        return times  # text times, as Moodle writes them: nothing to turn back
    numbers = pd.to_numeric(times, errors="coerce")
    serial = numbers.between(20_000, 80_000)  # 1954..2118: no other number is a log time
    if not serial.any():
        return times
    stamps = pd.Timestamp("1899-12-30") + pd.to_timedelta(numbers[serial], unit="D")
    out = times.astype("object").copy()
    out[serial] = stamps.dt.round("min").dt.strftime("%d/%m/%Y, %H:%M")
    return out


def infer_day_first(times: pd.Series) -> bool | None:
    """True/False when numeric dates prove day-first or month-first, None when they cannot."""
    _, values = distinct(times, ordered=False)  # minutes repeat: far fewer
    distinct_times = values.dropna().astype("str").reset_index(drop=True)
    parts = distinct_times.str.extract(r"^\s*(\d{1,2})[/.](\d{1,2})[/.]\d{2,4}")
    parts = parts.dropna().astype(int)
    if parts.empty:
        return None
    if (parts[0] > 12).any():
        return True
    if (parts[1] > 12).any():
        return False
    return None
