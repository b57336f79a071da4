"""Password sign-in under back-off: per account, per client, a cap on checks, failures logged."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from app.auth.accounts import SignInFailed, create_user
from app.auth.throttle import (
    SignInBusy,
    SignInThrottled,
    ThrottlePolicy,
    password_check_slot,
    password_sign_in,
)
from app.core.records import SignInFailure
from review_queue.permissions import SYSTEM
from review_queue.types import utcnow

PASSWORD = "correct horse battery"
POLICY = ThrottlePolicy(free=5, client_free=8, base=timedelta(seconds=30))


@pytest.fixture
def people(db: Engine) -> Engine:
    with Session(db) as session:
        for name in ("alice", "bob"):
            create_user(
                session=session, actor=SYSTEM, name=name, email=f"{name}@example.org",
                role="manager", password=PASSWORD,
            )  # fmt: skip
        session.commit()
    return db


def _try(db: Engine, name: str, password: str, client: str, at: object = None) -> str:
    try:
        password_sign_in(
            engine=db, name=name, password=password, client=client, days=1, policy=POLICY,
            now=at,  # type: ignore[arg-type]
        )  # fmt: skip
    except SignInThrottled:
        return "throttled"
    except SignInFailed:
        return "wrong"
    return "signed in"


def test_thirty_wrong_passwords_lock_the_account_for_a_while(
    people: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    now = utcnow()
    with caplog.at_level(logging.WARNING, logger="gapdesk.auth"):
        outcomes = [_try(people, "alice", f"guess number {i}", "10.0.0.1", now) for i in range(30)]
    assert outcomes[:5] == ["wrong"] * 5 and set(outcomes[5:]) == {"throttled"}
    # The right password is refused too while the account backs off, from any client...
    assert _try(people, "alice", PASSWORD, "10.0.0.1", now) == "throttled"
    assert _try(people, "alice@example.org", PASSWORD, "10.9.9.9", now) == "throttled"
    # ...and accepted once the wait is over.
    assert _try(people, "alice", PASSWORD, "10.9.9.9", now + timedelta(seconds=31)) == "signed in"
    # Another account is not locked with it.
    assert _try(people, "bob", PASSWORD, "10.9.9.8", now) == "signed in"
    failed = [r.getMessage() for r in caplog.records if "failed for 'alice'" in r.getMessage()]
    assert len(failed) == 5 and all("10.0.0.1" in m for m in failed)
    assert all(PASSWORD not in r.getMessage() and "guess" not in r.getMessage()
               for r in caplog.records)  # fmt: skip


def test_the_wait_doubles_with_each_failure_past_the_free_ones(people: Engine) -> None:
    now = utcnow()
    for i in range(5):
        assert _try(people, "alice", f"wrong {i}", "10.0.0.1", now) == "wrong"
    later = now + timedelta(seconds=31)
    assert _try(people, "alice", "wrong again", "10.0.0.1", later) == "wrong"
    assert _try(people, "alice", PASSWORD, "10.0.0.1", later + timedelta(seconds=45)) == "throttled"
    assert _try(people, "alice", PASSWORD, "10.0.0.1", later + timedelta(seconds=61)) == "signed in"


def test_one_client_spraying_accounts_is_stopped_but_others_are_not(people: Engine) -> None:
    now = utcnow()
    names = [f"someone{i}" for i in range(8)]
    assert [_try(people, n, "wrong-password!", "10.6.6.6", now) for n in names] == ["wrong"] * 8
    # Past the per-client limit, the same client is refused even for an account with no failures.
    assert _try(people, "bob", PASSWORD, "10.6.6.6", now) == "throttled"
    # Another client signs in to it at once.
    assert _try(people, "bob", PASSWORD, "10.7.7.7", now) == "signed in"


def test_the_back_off_is_kept_in_the_database(people: Engine) -> None:
    now = utcnow()
    for i in range(3):
        _try(people, "alice", f"wrong {i}", "10.0.0.1", now)
    with Session(people) as session:
        assert session.exec(select(func.count()).select_from(SignInFailure)).one() == 3
    assert _try(people, "alice", PASSWORD, "10.0.0.1", now) == "signed in"
    with Session(people) as session:
        # A success forgets the account's failures (the client's count goes with them).
        assert session.exec(select(func.count()).select_from(SignInFailure)).one() == 0


def test_no_more_password_checks_at_once_than_the_cap(people: Engine) -> None:
    policy = ThrottlePolicy(max_checks=2, check_wait=timedelta(seconds=0.2))
    release = threading.Event()
    held = threading.Barrier(3)

    def hold() -> None:
        with password_check_slot(policy):
            held.wait()
            release.wait(10)

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    held.wait()
    try:
        with pytest.raises(SignInBusy, match="busy"):
            password_sign_in(
                engine=people, name="bob", password=PASSWORD, client="10.0.0.2", days=1,
                policy=policy,
            )  # fmt: skip
    finally:
        release.set()
        for t in threads:
            t.join()
    password_sign_in(
        engine=people, name="bob", password=PASSWORD, client="10.0.0.2", days=1, policy=policy
    )
