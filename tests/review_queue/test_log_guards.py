"""The feedback log cannot be erased or rewritten unnoticed (issue 15.6), on both databases.

The database refuses TRUNCATE, a replacing INSERT and any reset of the chain's head; an attacker
who gets past the guards (SQLite: drops the triggers; PostgreSQL: a superuser turning triggers
off) and recomputes the chain without the key is caught by ``verify_chain``; one who empties the
log is caught by the latest anchor.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from review_queue.decisions import decide
from review_queue.feedback_log import GENESIS, verify_chain
from review_queue.log_anchor import append_anchor, check_anchors, read_anchors, take_anchor
from review_queue.tables import FeedbackEvent, Finding
from tests.conftest import BACKENDS
from tests.helpers.queue_fixtures import add_finding, add_people


def _decided_log(db: Engine, n: int = 4) -> None:
    with Session(db, expire_on_commit=False) as s:
        ada = add_people(s)["ada"]
        for i in range(n):
            finding = add_finding(s, i)
            decide(session=s, actor=ada, finding_id=finding.id or 0, action="confirm",
                   expected_row_version=finding.row_version)  # fmt: skip
            s.commit()


def _refused(db: Engine, statement: str, values: dict[str, object] | None = None) -> str:
    with pytest.raises(DBAPIError) as caught, db.begin() as conn:
        conn.execute(text(statement), values or {})
    return str(caught.value.orig)


def _bypass_guards(conn: Connection) -> None:
    """What an attacker with write access to the database does first."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        return
    names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                              "AND tbl_name LIKE 'feedback_log%'")).scalars().all()  # fmt: skip
    for name in names:
        conn.execute(text(f'DROP TRIGGER "{name}"'))


def test_truncate_is_refused_on_postgresql(db: Engine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    _decided_log(db)
    assert "TRUNCATE refused" in _refused(db, "TRUNCATE feedback_log CASCADE")
    assert "TRUNCATE refused" in _refused(db, "TRUNCATE findings CASCADE")
    assert "TRUNCATE refused" in _refused(db, "TRUNCATE feedback_log_head")
    with Session(db) as s:
        assert verify_chain(session=s).rows == 4


def test_the_head_cannot_be_reset(db: Engine) -> None:
    _decided_log(db)
    assert "cannot be reset" in _refused(db, "DELETE FROM feedback_log_head")
    genesis = "UPDATE feedback_log_head SET last_event_id = NULL, last_hash = :g"
    assert "only moves forward" in _refused(db, genesis, {"g": GENESIS})
    back = "UPDATE feedback_log_head SET last_event_id = 2, last_hash = " \
        "(SELECT row_hash FROM feedback_log WHERE id = 2)"  # fmt: skip
    assert "only moves forward" in _refused(db, back)
    with Session(db) as s:
        check = verify_chain(session=s)
    assert check.ok and check.rows == 4


def test_insert_or_replace_cannot_rewrite_a_row_on_sqlite(db: Engine) -> None:
    if db.dialect.name != "sqlite":
        pytest.skip("REPLACE is SQLite's")
    _decided_log(db)
    with db.connect() as conn:
        row = conn.execute(text("SELECT * FROM feedback_log WHERE id = 2")).mappings().one()
    values = {**row, "comment": "rewritten"}
    names = ", ".join(values)
    marks = ", ".join(f":{k}" for k in values)
    replace = "INSERT OR REPLACE INTO feedback_log (" + names + ") VALUES (" + marks + ")"  # noqa: S608
    assert "append-only" in _refused(db, replace, values)
    # A fresh id that reuses a row's hash would make REPLACE delete that row instead.
    assert "append-only" in _refused(db, replace, {**values, "id": 99})
    head = "INSERT OR REPLACE INTO feedback_log_head VALUES (1, NULL, :g)"
    assert "cannot be reset" in _refused(db, head, {"g": GENESIS})
    with Session(db) as s:
        assert s.get(FeedbackEvent, 2).comment is None  # type: ignore[union-attr]
        assert verify_chain(session=s).ok


def _unkeyed_hash(row: FeedbackEvent, prev: str) -> str:
    # What an attacker without the key can compute: the chain's content, hashed as version 1.
    content = {
        "finding_id": row.finding_id, "at": row.at.isoformat(timespec="microseconds"),
        "actor_id": row.actor_id, "actor": row.actor, "action": row.action,
        "from_status": row.from_status, "to_status": row.to_status, "reason": row.reason,
        "comment": row.comment, "model_version": row.model_version,
        "priority_at_decision": row.priority_at_decision, "undoes_event_id": row.undoes_event_id,
    }  # fmt: skip
    payload = prev + json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


@pytest.mark.parametrize("as_version", [1, 2])
def test_a_tail_rewritten_without_the_key_is_caught(db: Engine, as_version: int) -> None:
    _decided_log(db)
    with Session(db) as s:
        rows = list(s.exec(select(FeedbackEvent).order_by(col(FeedbackEvent.id))))
    with db.begin() as conn:
        _bypass_guards(conn)
        prev = rows[1].row_hash
        for row in rows[2:]:
            row.comment = "never happened"
            row.prev_hash = prev
            row.row_hash = _unkeyed_hash(row, prev)
            conn.execute(text("UPDATE feedback_log SET comment = :c, prev_hash = :p, "
                              "row_hash = :h, chain_version = :v WHERE id = :id"),
                         {"c": row.comment, "p": row.prev_hash, "h": row.row_hash,
                          "v": as_version, "id": row.id})  # fmt: skip
            prev = row.row_hash
        conn.execute(text("UPDATE feedback_log_head SET last_hash = :h"), {"h": prev})
    with Session(db) as s:
        check = verify_chain(session=s)
    assert not check.ok and check.first_broken_id == rows[2].id
    expected = "unkeyed row follows keyed" if as_version == 1 else "does not match its hash"
    assert expected in (check.problem or "")


def test_an_emptied_log_is_caught_by_its_anchor(db: Engine, tmp_path: Path) -> None:
    _decided_log(db)
    anchors = tmp_path / "anchors.jsonl"
    with Session(db) as s:
        append_anchor(anchors, take_anchor(session=s))
    assert anchors.stat().st_mode & 0o777 == 0o600
    with db.begin() as conn:
        _bypass_guards(conn)
        conn.execute(text("DELETE FROM feedback_log"))
        conn.execute(text("UPDATE feedback_log_head SET last_event_id = NULL, last_hash = :g"),
                     {"g": GENESIS})  # fmt: skip
    with Session(db) as s:
        assert verify_chain(session=s).ok  # what the issue found: "intact: 0 rows"
        problem = check_anchors(session=s, anchors=read_anchors(anchors))
    assert problem is not None and "counted 4 rows, the log has 0" in problem


def test_anchors_pass_on_a_growing_log_and_catch_a_rewrite_before_them(
    db: Engine, tmp_path: Path
) -> None:
    _decided_log(db, n=2)
    anchors = tmp_path / "anchors.jsonl"
    with Session(db) as s:
        append_anchor(anchors, take_anchor(session=s))
    _decided_log_more(db)
    with Session(db) as s:
        append_anchor(anchors, take_anchor(session=s))
        assert check_anchors(session=s, anchors=read_anchors(anchors)) is None
        rows = list(s.exec(select(FeedbackEvent).order_by(col(FeedbackEvent.id))))
    # Even with the key, rewriting the anchored past shows: the anchored hash is gone.
    with db.begin() as conn:
        _bypass_guards(conn)
        conn.execute(text("UPDATE feedback_log SET row_hash = :h WHERE id = :id"),
                     {"h": "f" * 64, "id": rows[1].id})  # fmt: skip
    with Session(db) as s:
        problem = check_anchors(session=s, anchors=read_anchors(anchors))
    assert problem is not None and f"row #{rows[1].id} is not the row anchored" in problem


def _decided_log_more(db: Engine) -> None:
    with Session(db, expire_on_commit=False) as s:
        from review_queue.permissions import Actor
        from review_queue.tables import User

        ada = Actor.of(s.exec(select(User).where(col(User.name) == "ada")).one())
        finding = add_finding(s, 100)
        decide(session=s, actor=ada, finding_id=finding.id or 0, action="dismiss",
               reason="expected", expected_row_version=finding.row_version)  # fmt: skip
        s.commit()


def test_an_edited_anchor_line_is_refused(db: Engine, tmp_path: Path) -> None:
    from review_queue.log_anchor import AnchorError

    _decided_log(db, n=1)
    anchors = tmp_path / "anchors.jsonl"
    with Session(db) as s:
        append_anchor(anchors, take_anchor(session=s))
    record = json.loads(anchors.read_text())
    record["rows"] = 0
    anchors.write_text(json.dumps(record) + "\n")
    with pytest.raises(AnchorError, match="line 1: its signature does not match"):
        read_anchors(anchors)


@pytest.mark.parametrize("fresh_db_url", BACKENDS, indirect=True)
def test_an_unkeyed_chain_from_before_0009_still_verifies_and_grows_keyed(
    fresh_db_url: str,
) -> None:
    from alembic import command

    from app.core.db import alembic_config, build_engine, upgrade

    engine = build_engine(fresh_db_url)
    try:
        command.upgrade(alembic_config(engine), "0008")
        with Session(engine, expire_on_commit=False) as s:
            ada = add_people(s)["ada"]
            finding = add_finding(s, 1)
        prev = GENESIS
        with engine.begin() as conn:
            for n in range(3):
                old = FeedbackEvent(finding_id=finding.id or 0, actor_id=ada.id, actor="ada",
                                    action="comment", from_status="new", to_status="new",
                                    at=datetime(2026, 11, 1, 9, n, tzinfo=UTC),
                                    prev_hash=prev, row_hash="", chain_version=1)  # fmt: skip
                old.row_hash = _unkeyed_hash(old, prev)
                conn.execute(text("INSERT INTO feedback_log (finding_id, at, actor_id, actor, "
                                  "action, from_status, to_status, prev_hash, row_hash) VALUES "
                                  "(:f, :at, :a, 'ada', 'comment', 'new', 'new', :p, :h)"),
                             {"f": old.finding_id, "at": old.at.replace(tzinfo=None),
                              "a": ada.id, "p": prev, "h": old.row_hash})  # fmt: skip
                prev = old.row_hash
            conn.execute(text("UPDATE feedback_log_head SET last_event_id = 3, last_hash = :h"),
                         {"h": prev})  # fmt: skip
        upgrade(engine)
        with Session(engine) as s:
            check = verify_chain(session=s)
            assert check.ok and check.rows == 3, check
            decide(session=s, actor=ada, finding_id=finding.id or 0, action="confirm",
                   expected_row_version=s.get(Finding, finding.id).row_version)  # type: ignore[union-attr]  # fmt: skip
            s.commit()
            versions = s.exec(select(FeedbackEvent.chain_version).order_by(col(FeedbackEvent.id)))
            assert list(versions) == [1, 1, 1, 2]
            assert verify_chain(session=s).ok
    finally:
        engine.dispose()


def test_the_key_file_is_made_once_private_and_a_wrong_key_fails_the_chain(
    db: Engine, gapdesk_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core import keys
    from app.core.settings import get_settings

    monkeypatch.delenv("GAPDESK_LOG_KEY")
    get_settings.cache_clear()
    monkeypatch.setattr(keys, "_cache", {})
    _decided_log(db, n=2)
    key_file = gapdesk_home / keys.KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert gapdesk_home.stat().st_mode & 0o777 == 0o700
    with Session(db) as s:
        assert verify_chain(session=s).ok
    key_file.write_text("another-key-" + "0" * 40 + "\n")  # someone swaps the key
    monkeypatch.setattr(keys, "_cache", {})
    with Session(db) as s:
        check = verify_chain(session=s)
    assert not check.ok and "does not match its hash" in (check.problem or "")
