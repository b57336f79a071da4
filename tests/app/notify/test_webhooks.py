"""Signed webhooks to a real HTTP receiver on loopback: the signature verifies, a replay is
rejected, a 500 is retried with back-off, a delivery can be re-sent; events are written in the
change's own transaction; URLs that are not http(s) or point inside are refused."""

from __future__ import annotations

import http.client
import json
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.errors import UserError
from app.core.settings import Settings
from app.detection.run import run_detection
from app.notify.deliver import deliver_due
from app.notify.webhooks import (
    delivery_attempts,
    list_deliveries,
    register_endpoint,
    resend_delivery,
    send_test,
    set_endpoint_active,
)
from models.detectors.base import Detector, Proposal
from review_queue.decisions import decide
from review_queue.outbox import record_event
from review_queue.permissions import Actor
from review_queue.propose import propose_findings
from review_queue.tables import OutboxDelivery, OutboxEvent
from review_queue.types import utcnow
from tests.helpers.detector_snapshots import course, person, snap, user
from tests.helpers.receivers import WebhookReceiver, webhook_receiver

ALL = ["finding.opened", "finding.assigned", "finding.decided", "learner_report.status_changed"]
QUICK = Settings(notify_retry_seconds=30, notify_max_attempts=3)


def _register(db: Engine, actor: Actor, receiver: WebhookReceiver, **kw: object) -> int:
    with Session(db) as s:
        view, secret = register_endpoint(
            session=s,
            actor=actor,
            url=receiver.url,
            events=kw.pop("events", ALL),
            **kw,  # type: ignore[arg-type]
        )
        s.commit()
    receiver.secret = secret
    return view.id


def _decide(db: Engine, actor: Actor, finding_id: int, action: str, **kw: object) -> None:
    with Session(db) as s:
        decide(session=s, actor=actor, finding_id=finding_id, action=action, **kw)  # type: ignore[arg-type]
        s.commit()


def test_a_decision_reaches_the_receiver_signed_and_a_replay_is_rejected(
    db: Engine, people: dict[str, Actor], finding_ids: list[int], loopback_allowed: None
) -> None:
    ada = people["ada"]
    with webhook_receiver() as receiver:
        _register(db, ada, receiver)
        _decide(db, ada, finding_ids[0], "confirm")
        done = deliver_due(engine=db, settings=QUICK)
        assert done.delivered == 1
        [got] = receiver.accepted()
        body = json.loads(got.body)
        assert body["type"] == "finding.decided"
        assert body["data"]["finding"]["id"] == finding_ids[0]
        assert body["data"]["to_status"] == "confirmed" and body["data"]["actor"] == "ada"
        assert got.headers["Gapdesk-Event"] == "finding.decided"
        assert got.headers["Gapdesk-Signature"].startswith("t=")

        # The same request again, six minutes later: the receiver's check refuses it.
        receiver.clock_offset = 360
        conn = http.client.HTTPConnection("127.0.0.1", int(receiver.url.split(":")[2][:5]))
        conn.request("POST", "/hooks/gapdesk", body=got.body,
                     headers={"Gapdesk-Signature": got.headers["Gapdesk-Signature"]})  # fmt: skip
        answer = conn.getresponse()
        assert answer.status == 400 and b"replay" in answer.read()
        # A forged body with the captured signature: refused too.
        receiver.clock_offset = 0
        conn.request("POST", "/hooks/gapdesk", body=got.body.replace(b"ada", b"eve"),
                     headers={"Gapdesk-Signature": got.headers["Gapdesk-Signature"]})  # fmt: skip
        answer = conn.getresponse()
        assert answer.status == 400 and b"does not match" in answer.read()
        conn.close()
    with Session(db) as s:
        [view] = list_deliveries(session=s, actor=ada)
    assert view.status == "delivered" and view.last_status_code == 200
    assert view.last_response == "ok, ticket created" and view.last_duration_ms is not None


def test_a_500_is_retried_with_back_off_then_delivered_and_can_be_resent(
    db: Engine, people: dict[str, Actor], finding_ids: list[int], loopback_allowed: None
) -> None:
    ada = people["ada"]
    with webhook_receiver() as receiver:
        _register(db, ada, receiver, events=["finding.decided"])
        _decide(db, ada, finding_ids[1], "dismiss", reason="expected")
        receiver.fail_next = 2
        t0 = utcnow()
        first = deliver_due(engine=db, now=t0, settings=QUICK)
        assert (first.delivered, first.retrying) == (0, 1)
        # Not yet due: 30 s after the first failure.
        assert deliver_due(engine=db, now=t0 + timedelta(seconds=20), settings=QUICK).retrying == 0
        assert deliver_due(engine=db, now=t0 + timedelta(seconds=31), settings=QUICK).retrying == 1
        # The second wait is twice the first (60 s).
        assert deliver_due(engine=db, now=t0 + timedelta(seconds=80), settings=QUICK).retrying == 0
        third = deliver_due(engine=db, now=t0 + timedelta(seconds=95), settings=QUICK)
        assert third.delivered == 1
        assert [r.answered for r in receiver.requests] == [500, 500, 200]
        with Session(db) as s:
            [view] = list_deliveries(session=s, actor=ada)
            attempts = delivery_attempts(session=s, actor=ada, delivery_id=view.id)
        assert [a.status_code for a in attempts] == [500, 500, 200]
        assert attempts[0].response_excerpt == "receiver down for maintenance"
        assert view.attempts == 3 and view.status == "delivered"

        with Session(db) as s:
            again = resend_delivery(session=s, actor=ada, delivery_id=view.id)
            s.commit()
        assert deliver_due(engine=db, settings=QUICK).delivered == 1
        first_body, resent = receiver.accepted()[0], receiver.accepted()[1]
        assert json.loads(resent.body)["id"] == json.loads(first_body.body)["id"]
        assert resent.headers["Gapdesk-Delivery"] == str(again)


def test_attempts_run_out_and_the_delivery_is_marked_failed(
    db: Engine, people: dict[str, Actor], finding_ids: list[int], loopback_allowed: None
) -> None:
    ada = people["ada"]
    with webhook_receiver() as receiver:
        endpoint = _register(db, ada, receiver)
        with Session(db) as s:
            send_test(session=s, actor=ada, endpoint_id=endpoint)
            s.commit()
        receiver.fail_next = 10
        t0 = utcnow()
        for minutes in (0, 1, 3):
            deliver_due(engine=db, now=t0 + timedelta(minutes=minutes), settings=QUICK)
        assert len(receiver.requests) == 3
        assert json.loads(receiver.requests[0].body)["type"] == "ping"
        with Session(db) as s:
            [view] = list_deliveries(session=s, actor=ada)
        assert view.status == "failed" and view.last_status_code == 500
        assert deliver_due(engine=db, now=t0 + timedelta(hours=1), settings=QUICK).retrying == 0
        assert len(receiver.requests) == 3


def test_opened_findings_go_only_to_endpoints_wanting_that_severity(
    db: Engine, people: dict[str, Actor], loopback_allowed: None
) -> None:
    ada = people["ada"]
    with webhook_receiver() as receiver:
        _register(db, ada, receiver, events=["finding.opened"], min_severity="high")
        proposals = [
            Proposal(category="compliance_overdue", entity_key=f"enrollment=E{n}",
                     title=f"E{n} overdue", detector="compliance_overdue", detector_version="1",
                     score=0.7, severity=severity, evidence={}, features={}, explanation="")
            for n, severity in ((1, "low"), (2, "critical"), (3, "medium"), (4, "high"))
        ]  # fmt: skip
        with Session(db) as s:
            propose_findings(session=s, proposals=proposals)
            s.commit()
        deliver_due(engine=db, settings=QUICK)
        titles = sorted(json.loads(r.body)["data"]["finding"]["title"] for r in receiver.accepted())
        assert titles == ["E2 overdue", "E4 overdue"]


def test_a_rolled_back_decision_leaves_no_event_and_a_paused_endpoint_gets_nothing(
    db: Engine, people: dict[str, Actor], finding_ids: list[int], loopback_allowed: None
) -> None:
    ada = people["ada"]
    with webhook_receiver() as receiver:
        endpoint = _register(db, ada, receiver)
        with Session(db) as s:
            decide(session=s, actor=ada, finding_id=finding_ids[0], action="confirm")
            assert s.exec(select(OutboxEvent)).all()  # written in the decision's transaction
            s.rollback()
        with Session(db) as s:
            assert s.exec(select(OutboxEvent)).all() == []
            set_endpoint_active(session=s, actor=ada, endpoint_id=endpoint, active=False)
            s.commit()
        _decide(db, ada, finding_ids[0], "confirm")
        assert deliver_due(engine=db, settings=QUICK).delivered == 0
        with Session(db) as s:
            assert s.exec(select(OutboxDelivery)).all() == []
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.org/hook", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("https://user:pw@example.org/hook", "leave credentials out"),
        ("http://127.0.0.1:9/hook", "private, loopback or link-local"),
        ("http://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("http://[::1]/hook", "private, loopback or link-local"),
        ("http://10.1.2.3/hook", "private, loopback or link-local"),
        ("https:///nohost", "names no host"),
    ],
)
def test_urls_that_are_not_http_or_point_inside_are_refused(
    db: Engine, people: dict[str, Actor], url: str, words: str
) -> None:
    with Session(db) as s:
        with pytest.raises(UserError, match=words):
            register_endpoint(session=s, actor=people["ada"], url=url, events=["finding.decided"])
        assert s.exec(select(col(OutboxEvent.id))).all() == []


def test_loopback_is_refused_at_delivery_when_private_addresses_are_not_allowed(
    db: Engine, people: dict[str, Actor], finding_ids: list[int], loopback_allowed: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from app.core.settings import get_settings

    ada = people["ada"]
    with webhook_receiver() as receiver:
        _register(db, ada, receiver)
        _decide(db, ada, finding_ids[0], "confirm")
        monkeypatch.setenv("GAPDESK_WEBHOOK_ALLOW_PRIVATE", "false")
        get_settings.cache_clear()
        assert deliver_due(engine=db, settings=QUICK).retrying == 1
    assert receiver.requests == []
    with Session(db) as s:
        [view] = list_deliveries(session=s, actor=ada)
    assert "private, loopback or link-local" in (view.last_error or "")


class _Exploding(Detector):
    name = "exploding"
    version = "1"
    categories = ("compliance_overdue",)
    requires = ("people",)

    def __init__(self, max_evidence_rows: int = 10) -> None:
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: object) -> list[Proposal]:
        raise RuntimeError("boom in the middle of a run")


def test_a_failed_detection_run_and_a_data_quality_ticket_reach_their_subscribers(
    db: Engine, people: dict[str, Actor], loopback_allowed: None
) -> None:
    ada = people["ada"]
    snapshot = snap(people=[person("P1")], lms_users=[user("U1", "P1")], courses=[course("C1")])
    with webhook_receiver() as receiver:
        _register(db, ada, receiver, events=["detection_run.failed", "data_quality.ticket"])
        with pytest.raises(UserError, match="queue is unchanged"):
            run_detection(engine=db, actor=ada, snapshot=snapshot, detectors=[_Exploding()])
        # Another room records its own event in its own transaction (the routing branch's
        # data-quality tickets call exactly this).
        with Session(db) as s:
            record_event(
                session=s,
                kind="data_quality.ticket",
                payload={"ticket_id": 7, "source": "hr", "problem": "no e-mail column"},
            )
            s.commit()  # fmt: skip
        assert deliver_due(engine=db, settings=QUICK).delivered == 2
        kinds = {
            json.loads(r.body)["type"]: json.loads(r.body)["data"] for r in receiver.accepted()
        }
        assert "boom" in kinds["detection_run.failed"]["error"]
        assert kinds["detection_run.failed"]["started_by"] == "ada"
        assert kinds["data_quality.ticket"]["ticket_id"] == 7
