"""E-mail to a real SMTP server (aiosmtpd) on loopback: to the assignee, to the reporter when
their report changes status, the managers' weekly digest; over STARTTLS and SSL with a
self-signed certificate and a login; each person can turn each kind off."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.errors import UserError
from app.core.settings import Settings
from app.notify.deliver import deliver_due
from app.notify.digest import queue_weekly_digest
from app.notify.preferences import notification_settings, set_notification
from review_queue.decisions import decide
from review_queue.learner_reports import file_learner_report
from review_queue.permissions import SYSTEM, Actor
from review_queue.tables import OutboxDelivery
from review_queue.types import utcnow
from tests.helpers.receivers import MailServer, self_signed_certificate, smtp_server

BASE = "https://gapdesk.example.org"


def _settings(server: MailServer, **kw: object) -> Settings:
    return Settings(
        smtp_host=server.host, smtp_port=server.port, smtp_tls=kw.pop("tls", "none"),
        smtp_from="gapdesk@example.org", base_url=BASE, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _assign(db: Engine, by: Actor, to: Actor, finding_id: int) -> None:
    with Session(db) as s:
        decide(session=s, actor=by, finding_id=finding_id, action="assign", assignee_id=to.id,
               comment="Can you check the HR feed?")  # fmt: skip
        s.commit()


def test_the_assignee_gets_an_email_with_a_link_unless_they_turned_it_off(
    db: Engine, people: dict[str, Actor], finding_ids: list[int]
) -> None:
    ada, bo = people["ada"], people["bo"]
    with smtp_server() as server:
        _assign(db, ada, bo, finding_ids[0])
        assert deliver_due(engine=db, settings=_settings(server)).delivered == 1
        [mail] = server.to("bo@example.org")
        assert mail["Subject"] == f"Gapdesk: finding #{finding_ids[0]} is assigned to you"
        text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
        assert "ada assigned a finding to you" in text and f"{BASE}/queue" in text
        assert "Can you check the HR feed?" in text

        with Session(db) as s:
            set_notification(session=s, actor=bo, kind="assigned", enabled=False)
            s.commit()
        _assign(db, ada, bo, finding_ids[1])
        deliver_due(engine=db, settings=_settings(server))
        assert len(server.to("bo@example.org")) == 1
        # Assigning to oneself sends nothing either.
        _assign(db, ada, ada, finding_ids[2])
        deliver_due(engine=db, settings=_settings(server))
        assert server.to("ada@example.org") == []


def test_the_reporter_hears_of_decisions_on_their_report_not_of_claims(
    db: Engine, people: dict[str, Actor]
) -> None:
    ada, ivy = people["ada"], people["ivy"]
    with Session(db) as s:
        report = file_learner_report(
            session=s, actor=ivy, learner_user_id="U42", course_id="C1",
            what_happened="Cannot open the final quiz.", urgency="high",
            allowed_courses={"C1": {"U42"}},
        )  # fmt: skip
        s.commit()
        report_id = report.id
    assert report_id is not None
    with smtp_server() as server:
        with Session(db) as s:
            decide(session=s, actor=ada, finding_id=report_id, action="claim")
            decide(session=s, actor=ada, finding_id=report_id, action="confirm")
            s.commit()
        deliver_due(engine=db, settings=_settings(server))
        [mail] = server.to("ivy@example.org")
        assert mail["Subject"] == f"Gapdesk: your report #{report_id}: Admins confirmed the problem"
        text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
        assert f"{BASE}/report" in text and "Notifications page" in text


def test_managers_get_the_weekly_digest_with_the_trends_takeaways(
    db: Engine, people: dict[str, Actor], finding_ids: list[int]
) -> None:
    with Session(db) as s:
        decide(session=s, actor=people["ada"], finding_id=finding_ids[0], action="confirm")
        queued = queue_weekly_digest(session=s, actor=SYSTEM)
        s.commit()
    assert queued.recipients == ("max",) and queued.takeaways > 0
    with smtp_server() as server:
        done = deliver_due(engine=db, settings=_settings(server))
        with Session(db) as s:
            errors = s.exec(select(col(OutboxDelivery.last_error))).all()
        assert done.delivered == 1, errors
        [mail] = server.messages
        assert mail["To"] == "max@example.org"
        assert mail["Subject"] == f"Gapdesk weekly digest: {queued.period}"
        text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
        assert f"{BASE}/trends" in text and text.count("\n- ") == queued.takeaways
    with Session(db) as s:
        set_notification(session=s, actor=people["max"], kind="weekly_digest", enabled=False)
        assert queue_weekly_digest(session=s, actor=SYSTEM).recipients == ()
        choices = notification_settings(session=s, actor=people["max"])
    assert [(c.kind, c.enabled) for c in choices] == [("weekly_digest", False)]


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_mail_goes_over_tls_with_a_login_checked_against_a_self_signed_certificate(
    db: Engine, people: dict[str, Actor], finding_ids: list[int], tmp_path: Path, tls: str
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    with smtp_server(tls, (cert, key), login=("gapdesk", "s3cret")) as server:
        _assign(db, people["ada"], people["bo"], finding_ids[0])
        # Not trusting the certificate: the attempt fails and waits for a retry.
        untrusted = deliver_due(engine=db, settings=_settings(server, tls=tls, smtp_user="gapdesk",
                                smtp_password="s3cret"))  # fmt: skip
        assert untrusted.retrying == 1 and server.messages == []
        with Session(db) as s:
            delivery = s.exec(select(OutboxDelivery)).one()
            assert "CERTIFICATE_VERIFY_FAILED" in (delivery.last_error or "")
        trusted = _settings(server, tls=tls, smtp_user="gapdesk", smtp_password="s3cret",
                            smtp_ca_file=cert)  # fmt: skip
        later = utcnow() + timedelta(minutes=5)
        done = deliver_due(engine=db, now=later, settings=trusted)
        with Session(db) as s:
            errors = s.exec(select(col(OutboxDelivery.last_error))).all()
        assert done.delivered == 1, errors
        assert server.logins == [("gapdesk", "s3cret")]
        assert len(server.to("bo@example.org")) == 1


def test_without_an_smtp_host_mails_wait_and_nothing_is_lost(
    db: Engine, people: dict[str, Actor], finding_ids: list[int]
) -> None:
    _assign(db, people["ada"], people["bo"], finding_ids[0])
    waiting = deliver_due(engine=db, settings=Settings(smtp_host=""))
    assert waiting.waiting_for_smtp == 1 and waiting.delivered == 0
    with Session(db) as s:
        assert s.exec(select(col(OutboxDelivery.status))).all() == ["pending"]
    with smtp_server() as server:
        assert deliver_due(engine=db, settings=_settings(server)).delivered == 1
        assert len(server.to("bo@example.org")) == 1


def test_an_unknown_kind_of_email_is_refused_and_each_role_sees_its_own_kinds(
    db: Engine, people: dict[str, Actor]
) -> None:
    with Session(db) as s, pytest.raises(UserError, match="no e-mail kind 'sms'; use one of"):
        set_notification(session=s, actor=people["ivy"], kind="sms", enabled=False)
    with Session(db) as s:
        kinds = {n: [c.kind for c in notification_settings(session=s, actor=people[n])]
                 for n in ("ada", "ivy", "max")}  # fmt: skip
    assert kinds == {"ada": ["assigned", "report_status"], "ivy": ["report_status"],
                     "max": ["weekly_digest"]}  # fmt: skip
