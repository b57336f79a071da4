"""After the many-browsers benchmark: the feedback log checked against what the screens
confirmed, and the distinct exceptions in the server's log.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select

from app.core.db import open_engine, session_scope
from review_queue.feedback_log import verify_chain
from review_queue.tables import FeedbackEvent, ModelVersion
from tests.bench.load_site import ACTIONS, SessionLog


def check_database(url: str, logs: list[SessionLog]) -> tuple[list[str], int, int]:
    """Problems found in the database, the log's row count and the promoted retrains."""
    problems: list[str] = []
    names = [log.reviewer for log in logs]
    engine = open_engine(url, migrate=False)
    try:
        with session_scope(engine) as session:
            events = list(
                session.exec(
                    select(FeedbackEvent).where(
                        col(FeedbackEvent.actor).in_(names),
                        col(FeedbackEvent.action).in_(ACTIONS),
                    )
                )
            )
            chain = verify_chain(session=session)
            models = len(session.exec(select(ModelVersion.id)).all())
    finally:
        engine.dispose()
    logged: dict[tuple[str, int, str], list[FeedbackEvent]] = {}
    for e in events:
        logged.setdefault((e.actor, e.finding_id, e.action), []).append(e)
    seen = set()
    for log in logs:
        for d in log.decisions:
            if d.outcome not in ("ok", "repeat"):
                continue
            key = (d.reviewer, d.finding_id, d.action)
            seen.add(key)
            rows = logged.get(key, [])
            if len(rows) != 1:
                problems.append(f"{d.reviewer}'s {d.action} of #{d.finding_id} is in the log "
                                f"{len(rows)} times, not once")  # fmt: skip
            elif d.reason is not None and rows[0].reason != d.reason:
                problems.append(f"{d.reviewer}'s dismissal of #{d.finding_id} was logged with "
                                f"reason {rows[0].reason!r}, not {d.reason!r}")  # fmt: skip
    for key in set(logged) - seen:
        problems.append(f"{key[0]}'s {key[2]} of #{key[1]} is in the log but was never "
                        "confirmed on screen")  # fmt: skip
    if not chain.ok:
        problems.append(f"the feedback log's chain breaks at row {chain.first_broken_id}: "
                        f"{chain.problem}")  # fmt: skip
    return problems, chain.rows, models


def server_tracebacks(home: Path) -> list[str]:
    """Each distinct exception in the server's log, with where it was raised and how often."""
    found: dict[str, int] = {}
    for path in home.glob("streamlit-*.log"):
        lines = path.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("Traceback (most recent call last)"):
                continue
            j = i + 1
            while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
                j += 1
            where = next((x.strip() for x in reversed(lines[i:j]) if x.strip().startswith("File")),
                         "")  # fmt: skip
            what = lines[j] if j < len(lines) else "?"
            key = f"{what[:300]} ({where})"
            found[key] = found.get(key, 0) + 1
    return [f"{n} x {key}" for key, n in sorted(found.items(), key=lambda kv: -kv[1])]
