"""Each API route over real HTTP on both backends: what a caller gets back, the refusals in the
service's own words, and a decision logged under the token's user as a page decision is."""

from __future__ import annotations

import httpx

from tests.app.api.conftest import ApiWorld
from tests.helpers.api_server import serving


def test_a_decision_is_logged_under_the_tokens_user(api_world: ApiWorld) -> None:
    w = api_world.world
    with api_world.client("ada") as ada:
        seen = ada.get(f"/api/findings/{w.new_id}").json()
        done = ada.post(
            f"/api/findings/{w.new_id}/decisions",
            json={"action": "confirm", "expected_row_version": seen["row_version"],
                  "comment": "seen in the LMS"},
        )  # fmt: skip
        assert done.status_code == 200, done.text
        assert (done.json()["actor"], done.json()["finding"]["status"]) == ("ada", "confirmed")
        log = ada.get("/api/feedback-log", params={"finding_id": w.new_id}).json()
        newest = log["events"][0]
        assert (newest["actor"], newest["action"], newest["comment"]) == (
            "ada", "confirm", "seen in the LMS"
        )  # fmt: skip
        assert newest["id"] == done.json()["event_id"]
        assert ada.get("/api/feedback-log/verify").json()["ok"] is True
        exported = ada.get("/api/exports/decisions").json()
        assert exported[-1]["actor"] == "ada" and exported[-1]["finding_id"] == w.new_id
    # Another admin, on what they saw before ada's decision: 409 in the queue's words.
    with api_world.client("bo") as bo:
        late = bo.post(
            f"/api/findings/{w.new_id}/decisions",
            json={"action": "confirm", "expected_row_version": seen["row_version"]},
        )
        assert late.status_code == 409
        assert "already confirmed by ada" in late.json()["detail"]
        # A dismissal without a reason, and an action that is none: refused, nothing written.
        no_reason = bo.post(f"/api/findings/{w.claimed_id}/decisions", json={"action": "dismiss"})
        assert no_reason.status_code == 409
        assert "a dismissal needs a reason" in no_reason.json()["detail"]
        bogus = bo.post(f"/api/findings/{w.claimed_id}/decisions", json={"action": "frobnicate"})
        assert bogus.status_code == 422 and "frobnicate" in bogus.json()["detail"]
        missing = bo.post("/api/findings/999999/decisions", json={"action": "confirm"})
        assert missing.status_code == 404 and "999999" in missing.json()["detail"]
        bad_body = bo.post(f"/api/findings/{w.claimed_id}/decisions", json={})
        assert bad_body.status_code == 422 and "action" in bad_body.json()["detail"]
        log = bo.get("/api/feedback-log", params={"actor": "bo"}).json()
        assert log["total"] == 0


def test_the_list_filters_and_pages_like_the_queue(api_world: ApiWorld) -> None:
    with api_world.client("ada", "read") as ada:
        everything = ada.get("/api/findings", params={"include_total": "true"}).json()
        ids = [f["id"] for f in everything["findings"]]
        assert everything["total"] == len(ids) >= 3
        priorities = [f["priority"] for f in everything["findings"]]
        assert priorities == sorted(priorities, reverse=True)
        first = ada.get("/api/findings", params={"page_size": 1, "page": 0}).json()
        second = ada.get("/api/findings", params={"page_size": 1, "page": 1}).json()
        assert [f["id"] for f in first["findings"] + second["findings"]] == ids[:2]
        assert first["total"] is None  # counted only when asked
        counted = ada.get("/api/findings", params={"page_size": 1, "include_total": "true"})
        assert counted.json()["total"] == everything["total"]
        confirmed = ada.get("/api/findings", params={"status": "confirmed"}).json()
        assert [f["id"] for f in confirmed["findings"]] == [api_world.world.confirmed_id]
        assert all(f["status"] == "confirmed" for f in confirmed["findings"])
        mine = ada.get("/api/findings", params={"assignee": "unassigned"}).json()
        assert api_world.world.new_id in [f["id"] for f in mine["findings"]]
        too_big = ada.get("/api/findings", params={"page_size": 5000})
        assert too_big.status_code == 422 and "page_size" in too_big.json()["detail"]
        one = ada.get(f"/api/findings/{api_world.world.claimed_id}").json()
        assert one["evidence"] is not None and "features" not in one
        assert [h["action"] for h in one["history"]] == ["claim"]
        assert ada.get("/api/findings/424242").status_code == 404


def test_comments_and_a_learner_report_with_its_status(api_world: ApiWorld) -> None:
    w = api_world.world
    with api_world.client("ivy") as ivy:
        filed = ivy.post(
            "/api/reports",
            json={"learner_user_id": api_world.learner_id, "course_id": api_world.course_id,
                  "what_happened": "Cannot submit the assignment.", "urgency": "high"},
        )  # fmt: skip
        assert filed.status_code == 201, filed.text
        report_id = filed.json()["finding_id"]
        mine = ivy.get("/api/reports").json()
        assert [r["finding_id"] for r in mine][:1] == [report_id]
        assert mine[0]["status"] == "new" and mine[0]["course"] == api_world.course_id
        elsewhere = ivy.post(
            "/api/reports",
            json={"learner_user_id": "U1", "course_id": "C-NOT-HERS",
                  "what_happened": "x", "urgency": "high"},
        )  # fmt: skip
        assert elsewhere.status_code == 403 and "C-NOT-HERS" in elsewhere.json()["detail"]
        said = ivy.post(f"/api/findings/{report_id}/comments", json={"body": "Still broken."})
        assert said.status_code == 201 and said.json()["author"] == "ivy"
        empty = ivy.post(f"/api/findings/{report_id}/comments", json={"body": "  "})
        assert empty.status_code == 409 and "empty" in empty.json()["detail"]
        not_hers = ivy.post(f"/api/findings/{w.new_id}/comments", json={"body": "Hello"})
        assert not_hers.status_code == 403
    with api_world.client("ada") as ada:
        dismissed = ada.post(
            f"/api/findings/{report_id}/decisions",
            json={"action": "dismiss", "reason": "expected", "comment": "planned downtime"},
        )
        assert dismissed.status_code == 200, dismissed.text
        thread = ada.get(f"/api/findings/{report_id}/comments").json()
        assert [(c["author"], c["body"]) for c in thread] == [("ivy", "Still broken.")]
    with api_world.client("ivy", "read") as ivy:
        assert ivy.get("/api/reports").json()[0]["status"] == "dismissed"


def test_a_detection_run_is_started_and_read(api_world: ApiWorld) -> None:
    with api_world.client("ada") as ada:
        started = ada.post("/api/detection-runs", json={})
        assert started.status_code == 201, started.text
        run = started.json()
        assert run["status"] == "done" and run["started_by"] == "ada"
        assert run["stats"]["detectors"]
        read = ada.get(f"/api/detection-runs/{run['id']}").json()
        assert (read["status"], read["stats"]) == ("done", run["stats"])
        assert ada.get("/api/detection-runs").json()[0]["id"] == run["id"]
        assert ada.get("/api/detection-runs/987654").status_code == 404
        unknown = ada.post("/api/detection-runs", json={"snapshot_id": "no-such-snapshot"})
        assert unknown.status_code in (404, 422) and "no-such-snapshot" in unknown.text
        findings = ada.get("/api/exports/findings").json()
        assert len(findings) > 3


def test_tokens_are_checked_and_rate_limited(api_world: ApiWorld) -> None:
    with api_world.client(None) as nobody:
        answer = nobody.get("/api/findings")
        assert answer.status_code == 401 and "Bearer" in answer.json()["detail"]
        assert answer.headers["www-authenticate"] == "Bearer"
        forged = nobody.get("/api/findings", headers={"Authorization": "Bearer gdk_forged"})
        assert forged.status_code == 401
        assert nobody.get("/api/health").json() == {"ok": True}
        docs = nobody.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        assert "/api/findings/{finding_id}/decisions" in nobody.get("/openapi.json").json()["paths"]
    with api_world.client("ada", "read") as reader:
        refused = reader.post(f"/api/findings/{api_world.world.new_id}/decisions",
                              json={"action": "confirm"})  # fmt: skip
        assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    with serving(api_world.world.engine, rate_per_minute=3) as url:
        token = api_world.tokens[("max", "read")]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
            assert [c.get("/api/feedback-log").status_code for _ in range(3)] == [200] * 3
            over = c.get("/api/feedback-log")
            assert over.status_code == 429 and "3 calls a minute" in over.json()["detail"]
            assert 1 <= int(over.headers["retry-after"]) <= 60
        # Another token of the same person has its own count.
        other = api_world.tokens[("max", "write")]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {other}"}) as c:
            assert c.get("/api/feedback-log").status_code == 200


def test_each_person_turns_their_own_emails_off_through_the_api(api_world: ApiWorld) -> None:
    with api_world.client("max") as max_:
        assert max_.get("/api/me/notifications").json() == [
            {"kind": "weekly_digest", "description": "the weekly Trends digest (managers)",
             "enabled": True}
        ]  # fmt: skip
        off = max_.put("/api/me/notifications/weekly_digest", json={"enabled": False})
        assert off.status_code == 200 and off.json()["enabled"] is False
        assert max_.get("/api/me/notifications").json()[0]["enabled"] is False
        bad = max_.put("/api/me/notifications/sms", json={"enabled": False})
        assert bad.status_code == 422 and "no e-mail kind 'sms'" in bad.json()["detail"]
    # ada's choices are her own: max's change did not touch them.
    with api_world.client("ada") as ada:
        assert all(c["enabled"] for c in ada.get("/api/me/notifications").json())
    with api_world.client("max", "read") as reader:
        refused = reader.put("/api/me/notifications/weekly_digest", json={"enabled": True})
        assert refused.status_code == 403
