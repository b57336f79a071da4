"""The API served by uvicorn on a free loopback port, over each backend's real database, with a
populated Gapdesk (the permission matrix's World plus a stored snapshot) and tokens for each
person and scope."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.auth.api_tokens import create_api_token, revoke_api_token
from app.sources import store as snapshots
from app.sources.load import LoadResult
from review_queue.permissions import SYSTEM
from review_queue.tables import User
from tests.app.auth.permission_policy import World
from tests.app.auth.test_permission_matrix import _build_world
from tests.helpers.api_server import serving


@dataclass
class ApiWorld:
    """The world, the server's URL, and a token per (person, scope); "revoked" is ada's."""

    world: World
    url: str
    tokens: dict[tuple[str, str], str]
    course_id: str  # a course ivy owns in the stored snapshot
    learner_id: str  # a learner enrolled in it

    def client(self, person: str | None, scope: str = "write") -> httpx.Client:
        """An HTTP client sending that person's token (None: no token)."""
        headers = {}
        if person is not None:
            headers["Authorization"] = f"Bearer {self.tokens[(person, scope)]}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def validated_demo(demo_folder: Path) -> LoadResult:
    """The demo organisation validated once (validation writes nothing)."""
    return snapshots.validate_snapshot(actor=SYSTEM, path=demo_folder)


def _make_ivy_an_owner(engine: Engine, folder: Path) -> tuple[str, str]:
    # ivy becomes the owner of an active demo course (the roster matches owners by e-mail).
    courses = pd.read_csv(folder / "courses.csv", dtype=str)
    users = pd.read_csv(folder / "lms_users.csv", dtype=str)
    enrolments = pd.read_csv(folder / "enrollments.csv", dtype=str)
    active = courses[(courses["status"] == "active") & courses["owner_user_id"].notna()]
    enrolled = active[active["course_id"].isin(set(enrolments["course_id"]))]
    course = enrolled.iloc[0]
    email = users.loc[users["user_id"] == course["owner_user_id"], "email"].iloc[0]
    learner = enrolments.loc[enrolments["course_id"] == course["course_id"], "user_id"].iloc[0]
    with Session(engine) as s:
        ivy = s.exec(select(User).where(col(User.name) == "ivy")).one()
        ivy.email = email
        s.add(ivy)
        s.commit()
    return str(course["course_id"]), str(learner)


@pytest.fixture
def api_world(
    db: Engine, gapdesk_home: Path, demo_folder: Path, validated_demo: LoadResult
) -> Iterator[ApiWorld]:
    """A populated Gapdesk with a stored snapshot, tokens, and the API serving it."""
    world = _build_world(db, gapdesk_home, demo_folder, frozenset({"snapshot"}), validated_demo)
    course_id, learner_id = _make_ivy_an_owner(db, demo_folder)
    tokens: dict[tuple[str, str], str] = {}
    with Session(db, expire_on_commit=False) as s:
        for name in ("ada", "bo", "ivy", "max"):
            for scope in ("read", "write"):
                _, tokens[(name, scope)] = create_api_token(
                    session=s, actor=world.people[name], name=f"{scope} token", scope=scope
                )
        view, tokens[("ada", "revoked")] = create_api_token(
            session=s, actor=world.people["ada"], name="old", scope="write"
        )
        revoke_api_token(session=s, actor=world.people["ada"], token_id=view.id)
        s.commit()
    with serving(db) as url:
        yield ApiWorld(world, url, tokens, course_id, learner_id)
