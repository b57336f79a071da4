"""Suggested mappings: which contract column each source column probably is, and why.

The Data page shows these guesses for a person to check. Samples come from uploads, so every
check here is linear in the text and looks at capped lengths (security issue 15, item 7).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import pandas as pd

from app.sources.contract import FALSE_WORDS, TABLES, TRUE_WORDS, Column
from app.sources.text_shapes import capped_samples, email_share

# Longer column names are cut before comparing (name likeness is quadratic in length).
MAX_NAME = 100


@dataclass(frozen=True)
class Suggestion:
    """A proposed source column → contract column match, how sure, and why."""

    source: str
    target: str
    score: float
    reason: str


# Words real exports use for contract columns (compared after normalising names).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "person_id": ("employeeid", "employeenumber", "empid", "hrid", "workerid", "staffid"),
    "user_id": ("userid", "username", "login", "lmsuserid", "learnerid", "accountid"),
    "course_id": ("courseid", "coursecode", "shortname", "courseshortname", "offeringid"),
    "email": ("email", "emailaddress", "mail", "workemail", "useremail"),
    "full_name": ("fullname", "name", "employeename", "displayname"),
    "department": ("department", "dept", "division", "orgunit", "costcentre", "team"),
    "job_title": ("jobtitle", "title", "position", "role", "jobname"),
    "manager_person_id": ("managerid", "manageremployeeid", "supervisorid", "reportsto"),
    "employment_status": ("employmentstatus", "status", "workerstatus", "empstatus"),
    "hire_date": ("hiredate", "startdate", "dateofhire", "joined", "joindate"),
    "termination_date": ("terminationdate", "enddate", "leavingdate", "leftdate"),
    "enrolled_at": ("enrolledat", "enrolmentdate", "enrollmentdate", "enrolled", "startdate"),
    "completed_at": ("completedat", "completiondate", "completed", "datecompleted"),
    "due_at": ("dueat", "duedate", "deadline"),
    "progress_pct": ("progress", "progresspct", "percentcomplete", "completionpercent"),
    "enrollment_id": ("enrollmentid", "enrolmentid", "registrationid"),
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name[:MAX_NAME].lower())


def _name_score(source: str, target: str) -> float:
    s = _norm(source)
    if not s:
        return 0.0
    candidates = {_norm(target), *SYNONYMS.get(target, ())}
    if s in candidates:
        return 1.0
    return max(SequenceMatcher(None, s, c).ratio() for c in candidates)


def _value_score(samples: Sequence[str], column: Column) -> float | None:
    """How well sample values fit ``column`` (0-1), or None when the samples say nothing."""
    values = capped_samples(samples)
    if not values:
        return None
    series = pd.Series(values, dtype="str")
    if column.enum is not None:
        return float(series.str.lower().isin(column.enum).mean())
    if column.type in ("timestamp", "date"):
        parsed = pd.to_datetime(series, errors="coerce", format="mixed")
        return float(parsed.notna().mean())
    if column.type == "bool":
        return float(series.str.lower().isin(TRUE_WORDS + FALSE_WORDS).mean())
    if column.type in ("int", "float"):
        return float(pd.to_numeric(series, errors="coerce").notna().mean())
    if column.name == "email":
        return email_share(series)
    return None


def suggest_mapping(
    columns: Sequence[str],
    sample_values: Mapping[str, Sequence[str]],
    table: str,
    *,
    threshold: float = 0.55,
) -> dict[str, Suggestion]:
    """Best guess of a contract column for each source column of ``table`` (source → Suggestion).

    A score mixes name similarity (with common export synonyms) and how well sample values fit
    the contract column's type or enum; each contract column is used at most once, best first.
    """
    contract = TABLES[table]
    scored: list[Suggestion] = []
    for source in columns:
        samples = sample_values.get(source, ())
        for col in contract.columns:
            by_name = _name_score(source, col.name)
            by_value = _value_score(samples, col)
            if by_value is None:
                score, why = by_name, f"name {by_name:.0%} alike"
            else:
                score = 0.6 * by_name + 0.4 * by_value
                why = f"name {by_name:.0%} alike, {by_value:.0%} of samples fit {col.type}"
                if col.enum is not None:
                    why = f"name {by_name:.0%} alike, {by_value:.0%} of samples are known values"
                if by_value == 0 and (col.type != "str" or col.enum is not None):
                    score = min(score, by_name * 0.5)  # values that cannot fit veto the name
            scored.append(Suggestion(source, col.name, round(score, 3), why))
    scored.sort(key=lambda s: (-s.score, s.source, s.target))
    chosen: dict[str, Suggestion] = {}
    used: set[str] = set()
    for suggestion in scored:
        if suggestion.score < threshold:
            break
        if suggestion.source in chosen or suggestion.target in used:
            continue
        chosen[suggestion.source] = suggestion
        used.add(suggestion.target)
    return {c: chosen[c] for c in columns if c in chosen}
