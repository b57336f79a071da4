"""Drawing an audit sample on a stored snapshot, both databases, and `gapdesk audit` for cron."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.errors import UserError
from app.detection.audits import draw_audit_sample
from app.detection.run import run_detection
from app.sources.store import ingest
from models.detectors.population import checked_population
from models.learning.audit_stats import sample_size
from review_queue.audits import DISMISSAL, UNFLAGGED, audit_items, decide_audit
from review_queue.decisions import decide
from review_queue.tables import AuditItem, AuditSample, Finding
from tests.app.cli.test_cli import run
from tests.helpers.queue_fixtures import add_people


def test_a_sample_draws_dismissals_and_unflagged_entities_per_category(
    db: Engine, gapdesk_home: Path, demo_folder: Path
) -> None:
    with Session(db, expire_on_commit=False) as s:
        people = add_people(s)
    stored = ingest(engine=db, actor=people["ada"], path=demo_folder)
    run_detection(engine=db, actor=people["ada"])
    with Session(db, expire_on_commit=False) as s:
        findings = list(s.exec(select(Finding).where(Finding.category == "orphan_account")))
        for f in findings[:3]:
            decide(session=s, actor=people["ada"], finding_id=f.id or 0, action="dismiss",
                   reason="expected")  # fmt: skip
        s.commit()
    with pytest.raises(PermissionError):
        draw_audit_sample(engine=db, actor=people["max"])
    summary = draw_audit_sample(engine=db, actor=people["ada"], seed=5)
    assert summary.dismissals == 3 and summary.unflagged > 0
    snapshot = stored.result.snapshot
    assert snapshot is not None
    with Session(db) as s:
        sample = s.exec(select(AuditSample)).one()
        items = list(s.exec(select(AuditItem)))
        flagged = {(f.category, f.entity_key) for f in s.exec(select(Finding))}
        for category, streams in sample.plan.items():
            if UNFLAGGED in streams:
                population = len(checked_population(snapshot, category))
                flagged_here = sum(1 for c, _ in flagged if c == category)
                assert streams[UNFLAGGED]["population"] == population - flagged_here
                assert streams[UNFLAGGED]["sampled"] == sample_size(population - flagged_here, 0.3)
        unflagged = [i for i in items if i.stream == UNFLAGGED]
        assert not {(i.category, i.entity_key) for i in unflagged} & flagged
        assert {i.category for i in items if i.stream == DISMISSAL} == {"orphan_account"}
        # ada dismissed them: bo audits them, blind.
        bo_items = audit_items(session=s, actor=people["bo"], limit=10_000)
    blind = [v for v in bo_items if v.stream == DISMISSAL]
    assert len(blind) == 3 and all(v.first_decision is None for v in blind)
    with Session(db) as s:
        view = decide_audit(session=s, actor=people["bo"], item_id=blind[0].id,
                            verdict="dismissed")  # fmt: skip
        s.commit()
    assert view.first_decision == "dismissed by ada (expected)"
    with pytest.raises(UserError, match="--period-days must be 1 to 366, not 0"):
        draw_audit_sample(engine=db, actor=people["ada"], period_days=0)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"GAPDESK_HOME": str(tmp_path / "home"), "GAPDESK_DATABASE_URL": ""}


def test_gapdesk_audit_sample_for_cron(env: dict[str, str], demo_folder: Path) -> None:
    missing = run("audit", "sample", env=env)
    assert missing.returncode == 1 and "no snapshot has been ingested" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = run("audit", "sample", "--width", "2", env=env)
    assert bad.returncode == 2 and "--width" in bad.stderr
    assert run("ingest", str(demo_folder), env=env).returncode == 0
    assert run("detect", env=env).returncode == 0
    drawn = run("audit", "sample", "--period-days", "14", "--seed", "3", env=env)
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout.startswith("audit sample #1: 0 dismissals and ")
    figures = run("audit", "figures", env=env)
    assert figures.returncode == 0 and "waiting" in figures.stdout
