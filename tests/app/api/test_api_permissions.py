"""The permission matrix over HTTP: every API route by role by token scope, and no token or a
revoked one, against the status it must answer; refused calls change nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.api.app import create_app
from app.core.db import build_engine
from review_queue.tables import Role
from tests.app.api.conftest import ApiWorld
from tests.app.auth.permission_policy import ADMIN, ADMIN_INSTRUCTOR, ADMIN_MANAGER, EVERYONE
from tests.app.auth.test_permission_matrix import _fingerprint

NAMES = {Role.admin: "ada", Role.instructor: "ivy", Role.manager: "max"}


@dataclass(frozen=True)
class Route:
    """One API route, who may call it, and one call of it that succeeds for them."""

    method: str
    path: str  # as the app declares it
    allowed: tuple[Role, ...]
    url: Callable[[ApiWorld], str]
    body: Callable[[ApiWorld], dict[str, Any] | None] = lambda aw: None
    ok: int = 200

    @property
    def writes(self) -> bool:
        return self.method != "GET"


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/findings", ADMIN, lambda aw: "/api/findings"),
    Route("GET", "/api/findings/{finding_id}", ADMIN,
          lambda aw: f"/api/findings/{aw.world.new_id}"),
    Route("POST", "/api/findings/{finding_id}/decisions", ADMIN,
          lambda aw: f"/api/findings/{aw.world.new_id}/decisions",
          lambda aw: {"action": "confirm"}),
    Route("GET", "/api/findings/{finding_id}/comments", ADMIN_INSTRUCTOR,
          lambda aw: f"/api/findings/{aw.world.report_id}/comments"),
    Route("POST", "/api/findings/{finding_id}/comments", ADMIN_INSTRUCTOR,
          lambda aw: f"/api/findings/{aw.world.report_id}/comments",
          lambda aw: {"body": "Checked with the learner."}, ok=201),
    Route("GET", "/api/reports", ADMIN_INSTRUCTOR, lambda aw: "/api/reports"),
    Route("POST", "/api/reports", ADMIN_INSTRUCTOR, lambda aw: "/api/reports",
          lambda aw: {"learner_user_id": aw.learner_id, "course_id": aw.course_id,
                      "what_happened": "The quiz does not open.", "urgency": "high"}, ok=201),
    Route("GET", "/api/feedback-log", ADMIN_MANAGER, lambda aw: "/api/feedback-log"),
    Route("GET", "/api/feedback-log/verify", ADMIN_MANAGER,
          lambda aw: "/api/feedback-log/verify"),
    Route("GET", "/api/exports/findings", ADMIN_MANAGER, lambda aw: "/api/exports/findings"),
    Route("GET", "/api/exports/decisions", ADMIN_MANAGER, lambda aw: "/api/exports/decisions"),
    Route("GET", "/api/detection-runs", ADMIN, lambda aw: "/api/detection-runs"),
    Route("GET", "/api/detection-runs/{run_id}", ADMIN,
          lambda aw: f"/api/detection-runs/{aw.world.run_id}"),
    Route("POST", "/api/detection-runs", ADMIN, lambda aw: "/api/detection-runs",
          lambda aw: {}, ok=201),
    Route("GET", "/api/me/notifications", EVERYONE, lambda aw: "/api/me/notifications"),
    Route("PUT", "/api/me/notifications/{kind}", EVERYONE,
          lambda aw: "/api/me/notifications/report_status", lambda aw: {"enabled": False}),
)  # fmt: skip

# Routes that need no token, and why.
OPEN_ROUTES = {("GET", "/api/health"): "a monitor's liveness check; tells nothing"}


def test_the_matrix_lists_every_route_of_the_app() -> None:
    api = create_app(build_engine("sqlite://"))
    declared = {
        (method.upper(), path)
        for path, operations in api.openapi()["paths"].items()
        for method in operations
    }
    assert declared == {(r.method, r.path) for r in ROUTES} | set(OPEN_ROUTES)


def _expected(route: Route, role: Role | None, scope: str) -> int:
    if role is None or scope == "revoked":
        return 401
    if route.writes and scope == "read":
        return 403
    return route.ok if role in route.allowed else 403


def _call(aw: ApiWorld, route: Route, person: str | None, scope: str) -> Any:
    with aw.client(person, scope) as client:
        return client.request(route.method, route.url(aw), json=route.body(aw))


def _without_tokens(fingerprint: tuple[Any, ...]) -> tuple[Any, ...]:
    # A call with a live token records the token's last use, refused or not.
    rows, files = fingerprint
    return tuple(t for t in rows if t[0] != "api_tokens"), files


def test_every_route_by_role_and_scope(api_world: ApiWorld) -> None:
    """Refused calls first (the database must be unchanged after them), then the allowed ones."""
    cases = [(route, role, scope) for route in ROUTES for role in (None, *NAMES)
             for scope in ("read", "write", "revoked")
             if not (scope == "revoked" and role not in (Role.admin,))]  # fmt: skip
    refused = [c for c in cases if _expected(*c) >= 400]
    allowed = [c for c in cases if _expected(*c) < 400]
    wrong: list[str] = []
    before = _without_tokens(_fingerprint(api_world.world.engine, api_world.world.home))
    for route, role, scope in refused + allowed:
        if role is None:
            person, scope_used = None, "write"
        else:
            person, scope_used = NAMES[role], scope
        answer = _call(api_world, route, person, scope_used)
        want = _expected(route, role, scope)
        label = f"{route.method} {route.path} as {person or 'nobody'} ({scope})"
        if answer.status_code != want:
            wrong.append(f"{label}: {answer.status_code} {answer.text[:200]}, expected {want}")
        elif want >= 400 and not answer.json().get("detail"):
            wrong.append(f"{label}: {want} without a message")
        if (route, role, scope) == refused[-1]:
            after = _without_tokens(_fingerprint(api_world.world.engine, api_world.world.home))
            if after != before:
                wrong.append("a refused call changed the database or GAPDESK_HOME")
    assert wrong == []
    assert len(allowed) == sum(2 * len(r.allowed) if not r.writes else len(r.allowed)
                               for r in ROUTES)  # fmt: skip
