"""Hostile text on its way out, property-tested: every CSV that leaves Gapdesk (findings and
decisions exports, snapshot tables, trend tables) defuses formula cells, and a NUL in free text
is refused clearly on both databases.
"""

from __future__ import annotations

import csv
import io
import itertools
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.safe_csv import write_rows, write_safe_csv
from app.web.trend_charts import table_csv
from review_queue.decisions import decide
from review_queue.exports import DECISION_COLUMNS, FINDING_COLUMNS, decision_rows, finding_rows
from review_queue.permissions import Actor
from review_queue.tables import User
from tests.helpers.hostile import INJECTIONS, assert_defused, counted, file_text, fuzz
from tests.helpers.queue_fixtures import add_finding, add_people


def _for_db(text: str, engine: Engine) -> str:
    # PostgreSQL text cannot hold NUL; the services refuse it
    # (see test_a_nul_in_free_text_is_refused_clearly).
    return text.replace("\x00", "") if engine.dialect.name == "postgresql" else text


def _csv_cells(text: str) -> list[dict[str, str]]:
    """The rows of an exported CSV, read the way a spreadsheet would (huge cells allowed)."""
    limit = csv.field_size_limit(1 << 30)
    try:
        return list(csv.DictReader(io.StringIO(text, newline="")))
    finally:
        csv.field_size_limit(limit)


@fuzz(30)
@given(
    titles=st.lists(st.one_of(st.sampled_from(INJECTIONS), file_text), min_size=1, max_size=3),
    comment=st.one_of(st.sampled_from(INJECTIONS), file_text),
)
@counted
def test_every_export_defuses_formula_cells(db: Engine, titles: list[str], comment: str) -> None:
    """Findings and decisions exports, snapshot tables and trend tables, as CSV."""
    titles = [_for_db(t, db) or "x" for t in titles]
    comment = comment.replace("\x00", "").strip() or "=1+1"  # a NUL is refused (test below)
    with Session(db, expire_on_commit=False) as session:
        people = _people(session)
        made = [add_finding(session, next(SERIAL), title=t[:500]) for t in titles]
        decide(session=session, actor=people["ada"], finding_id=made[0].id or 0,
               action="dismiss", reason="other", comment=comment[:4000])  # fmt: skip
        session.commit()
        manager = people["max"]
        findings = _export(finding_rows(session=session, actor=manager), FINDING_COLUMNS)
        decisions = _export(decision_rows(session=session, actor=manager), DECISION_COLUMNS)
    by_id = {f.id: f.title for f in made}
    for row in (r for r in findings if int(r["finding_id"]) in by_id):
        assert_defused(row["title"], by_id[int(row["finding_id"])])
    [dismissal] = [
        r for r in decisions if r["action"] == "dismiss" and int(r["finding_id"]) == made[0].id
    ]
    assert_defused(dismissal["comment"], comment[:4000].strip())

    frame = pd.DataFrame({"department": titles, "n": range(len(titles))})
    for text in (_safe_csv(frame), table_csv(frame)):
        for row, original in zip(_csv_cells(text), titles, strict=True):
            assert_defused(row["department"], original)


SERIAL = itertools.count(10_000)


def _people(session: Session) -> dict[str, Actor]:
    """The people of queue_fixtures, made once per database (examples share it)."""
    users = {u.name: u for u in session.exec(select(User))}
    if "ada" in users:
        return {name: Actor.of(u) for name, u in users.items()}
    return add_people(session)


def _export(rows: Any, columns: tuple[str, ...]) -> list[dict[str, str]]:
    out = io.StringIO(newline="")
    write_rows(rows, columns, out, "csv")
    return _csv_cells(out.getvalue())


def _safe_csv(frame: pd.DataFrame) -> str:
    out = io.StringIO(newline="")
    write_safe_csv(frame, out)
    return out.getvalue()


@pytest.mark.parametrize("where", ["comment", "dismissal", "suppression", "report"])
def test_a_nul_in_free_text_is_refused_clearly(session: Session, where: str) -> None:
    """PostgreSQL cannot store NUL: both databases refuse it with a message, and keep nothing."""
    from datetime import UTC, datetime, timedelta

    from review_queue.comments import add_comment
    from review_queue.decisions import DecisionRefused
    from review_queue.learner_reports import file_learner_report
    from review_queue.suppressions import create_suppression
    from review_queue.tables import Comment, FeedbackEvent, Finding, Suppression

    people = add_people(session)
    finding = add_finding(session, 1)
    fid, ada = finding.id or 0, people["ada"]
    if where == "suppression":
        decide(session=session, actor=ada, finding_id=fid, action="confirm")
        session.commit()
    counts = {t: len(session.exec(select(t)).all()) for t in (Comment, FeedbackEvent,
                                                             Finding, Suppression)}  # fmt: skip
    text = "before\x00after"
    with pytest.raises(DecisionRefused, match="NUL"):
        if where == "comment":
            add_comment(session=session, actor=ada, finding_id=fid, body=text)
        elif where == "dismissal":
            decide(session=session, actor=ada, finding_id=fid, action="dismiss",
                   reason="other", comment=text)  # fmt: skip
        elif where == "suppression":
            create_suppression(session=session, actor=ada, finding_id=fid, reason=text,
                               until=datetime.now(UTC) + timedelta(days=3))  # fmt: skip
        else:
            file_learner_report(session=session, actor=ada, learner_user_id="u1",
                                course_id="C1", what_happened=text, urgency="low",
                                allowed_courses=None)  # fmt: skip
    session.rollback()
    assert counts == {t: len(session.exec(select(t)).all()) for t in counts}
