"""In Chromium, through st.login: single sign-on against a real OpenID provider on loopback.

The provider is oidc-provider-mock (a real OpenID Connect server built on Authlib), started by
the test on 127.0.0.1; Streamlit runs with an ``[auth]`` secrets file pointing at it. A verified
email from the allowed issuer signs in and binds the account to the provider's subject; after
that the subject, not the email, decides; an unverified email or another issuer is refused.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from app.auth.accounts import create_user, set_active
from app.core.db import build_engine, upgrade
from review_queue.permissions import SYSTEM
from review_queue.tables import User
from tests.helpers.browser import free_port, streamlit_server

pytestmark = pytest.mark.browser

oidc_provider_mock = pytest.importorskip("oidc_provider_mock")
werkzeug_serving = pytest.importorskip("werkzeug.serving")


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """A real OpenID provider on a free loopback port; yields its issuer URL."""
    server = werkzeug_serving.make_server(
        "127.0.0.1", free_port(), oidc_provider_mock.app(require_nonce=True), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def _provider_user(issuer: str, sub: str, claims: dict[str, object]) -> None:
    request = urllib.request.Request(  # noqa: S310  (loopback, the test's own provider)
        f"{issuer}/users/{sub}", data=json.dumps(claims).encode(), method="PUT",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status in (200, 204)


@pytest.fixture(scope="module")
def app_with_sso(
    provider: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """Gapdesk with single sign-on through ``provider``; yields its address and database file."""
    home = Path(tmp_path_factory.mktemp("sso-home"))
    db_file = home / "gapdesk.db"
    engine = build_engine(f"sqlite:///{db_file}")
    upgrade(engine)
    with Session(engine) as session:
        for name in ("max", "mia", "una"):
            create_user(
                session=session, actor=SYSTEM, name=name, email=f"{name}@example.org",
                role="manager", password=None,
            )  # fmt: skip
        session.commit()
    engine.dispose()
    port = free_port()
    secrets = home / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-of-enough-length"\n'
        'client_id = "gapdesk-test"\n'
        'client_secret = "gapdesk-test-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    env = {
        "GAPDESK_HOME": str(home),
        "GAPDESK_DATABASE_URL": f"sqlite:///{db_file}",
        "GAPDESK_OIDC_ISSUERS": provider,
    }
    with streamlit_server(env, port=port, extra_args=("--secrets.files", str(secrets))) as base:
        yield base, db_file


def _single_sign_on(page: Page, base: str, sub: str) -> None:
    page.context.clear_cookies()
    page.goto(base)
    page.get_by_role("button", name="Sign in with single sign-on").click()
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()


def _bound(db_file: Path, name: str) -> tuple[str | None, str | None]:
    engine = build_engine(f"sqlite:///{db_file}")
    try:
        with Session(engine) as session:
            user = session.exec(select(User).where(User.name == name)).one()
            return user.oidc_issuer, user.oidc_subject
    finally:
        engine.dispose()


def test_a_verified_email_signs_in_and_binds_the_subject(
    page: Page, provider: str, app_with_sso: tuple[str, Path]
) -> None:
    base, db_file = app_with_sso
    _provider_user(provider, "sub-max", {"email": "max@example.org", "email_verified": True})
    _single_sign_on(page, base, "sub-max")
    expect(page.get_by_role("heading", name="Hello, max")).to_be_visible(timeout=30_000)
    assert _bound(db_file, "max") == (provider, "sub-max")
    # The subject decides from now on: a new address at the provider keeps the same account...
    _provider_user(provider, "sub-max", {"email": "max.new@example.org", "email_verified": True})
    _single_sign_on(page, base, "sub-max")
    expect(page.get_by_role("heading", name="Hello, max")).to_be_visible(timeout=30_000)
    # ...and another subject claiming max's address does not get max's account.
    _provider_user(provider, "sub-evil", {"email": "max@example.org", "email_verified": True})
    _single_sign_on(page, base, "sub-evil")
    expect(page.get_by_text("belongs to another single-sign-on identity")).to_be_visible(
        timeout=30_000
    )
    expect(page.get_by_role("heading", name="Hello, max")).to_have_count(0)


def test_an_unverified_email_is_refused(
    page: Page, provider: str, app_with_sso: tuple[str, Path]
) -> None:
    base, db_file = app_with_sso
    _provider_user(provider, "sub-mia", {"email": "mia@example.org", "email_verified": False})
    _single_sign_on(page, base, "sub-mia")
    expect(page.get_by_text("has not verified mia@example.org")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Hello, mia")).to_have_count(0)
    assert _bound(db_file, "mia") == (None, None)


def test_a_deactivation_reaches_a_single_sign_on_tab_on_its_next_rerun(
    page: Page, provider: str, app_with_sso: tuple[str, Path]
) -> None:
    base, db_file = app_with_sso
    _provider_user(provider, "sub-una", {"email": "una@example.org", "email_verified": True})
    _single_sign_on(page, base, "sub-una")
    expect(page.get_by_role("heading", name="Hello, una")).to_be_visible(timeout=30_000)
    engine = build_engine(f"sqlite:///{db_file}")
    with Session(engine) as session:
        set_active(session=session, actor=SYSTEM, name="una", active=False)
        session.commit()
    engine.dispose()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Trends").click()
    expect(page.get_by_text("this Gapdesk account is deactivated")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Trends")).to_have_count(0)
