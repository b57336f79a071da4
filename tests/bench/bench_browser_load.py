"""Many reviewers at once in real browsers: N Chromium contexts work the demo queue together.

    .venv/bin/python -m tests.bench.bench_browser_load [--sessions 20] [--decisions 10]
        [--people 2000] [--days 120] [--database sqlite|postgres]

One ``streamlit run`` server and one Chromium (Debian's, many browser contexts) on a demo
organisation that was ingested and run through detection. N admin accounts are made through the
account service; every context signs in with its own, opens the Review queue from the sidebar
and, all at the same time (asyncio Playwright), repeats M times: take the next finding (the
"Next finding" button or the N key: an atomic claim), then confirm it, dismiss it with a reason
or snooze it (by click or by its Y/D/S shortcut). The latency is measured inside the page, from
the pointerdown/keydown of the decision to the moment the page's confirmation ("#id: confirm.")
is in the DOM.

Errors: a Streamlit exception box, an error message other than a refusal, a page error, a
console error from the app's own origin, a lost websocket, a step that times out. A decision the
UI refuses because another reviewer took the finding first is a refusal, counted apart. After
the run the database is checked: every decision confirmed on screen is in the feedback log
exactly once (with its reason), no reviewer decision is there that the screen did not confirm,
and the hash chain verifies. Errors or a failed check fail the run (an AssertionError).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect
from playwright.async_api import Error as PlaywrightError
from sqlmodel import col, select

from app.auth.accounts import create_user
from app.core.db import open_engine, session_scope
from app.core.settings import get_settings
from app.demo.organisation import generate_demo_org
from app.detection.run import run_detection
from app.sources.store import ingest
from review_queue.feedback_log import verify_chain
from review_queue.permissions import SYSTEM
from review_queue.states import Status
from review_queue.tables import FeedbackEvent, Finding, ModelVersion, Role
from tests.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server

PASSWORD = "load-test-password"  # throwaway accounts in a throwaway database
ACTIONS = ("confirm", "dismiss", "snooze")
# What is typed into the "Dismiss because" box to pick each reason (the options read
# "reason: help"; "other" alone would also match the help text of "duplicate").
REASONS = {"expected": "expected", "data_error": "data_error", "other": "something else"}
REFUSED = re.compile(r"already \w+ by ")

# Installed once per page: follows Streamlit's run state (the stApp attribute its own e2e tests
# wait on), notes every exception box that ever appears, and, for an armed decision, stamps the
# pointerdown/keydown and the moment its confirmation (or an error box) is in the DOM.
_WATCH = """
() => {
  if (window.__gd) return;
  const app = document.querySelector('[data-testid="stApp"]');
  const run = {state: app.getAttribute('data-test-script-state'), since: performance.now()};
  const gd = window.__gd = {run, targets: null, t0: null, t1: null, outcome: null,
                            detail: null, exceptions: [], exceptionsBefore: 0};
  const seenExceptions = new WeakSet();
  new MutationObserver(() => {
    run.state = app.getAttribute('data-test-script-state');
    run.since = performance.now();
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  const mark = () => { if (gd.targets !== null && gd.t0 === null) gd.t0 = performance.now(); };
  document.addEventListener('pointerdown', mark, true);
  document.addEventListener('keydown', mark, true);
  const check = () => {
    for (const exc of document.querySelectorAll('[data-testid="stException"]')) {
      if (!seenExceptions.has(exc)) {
        seenExceptions.add(exc); gd.exceptions.push(exc.textContent.slice(0, 600));
      }
    }
    if (gd.targets === null || gd.t0 === null || gd.outcome !== null) return;
    const done = (outcome, detail) => {
      gd.t1 = performance.now(); gd.outcome = outcome; gd.detail = detail;
    };
    for (const el of document.querySelectorAll('[data-testid="stAlertContentSuccess"]')) {
      const text = el.textContent;
      if (text.includes(gd.targets[0])) return done('ok', text);
      if (text.includes(gd.targets[1])) return done('repeat', text);
    }
    const bad = document.querySelector('[data-testid="stAlertContentError"]');
    if (bad) return done('error box', bad.textContent);
    if (gd.exceptions.length > gd.exceptionsBefore) {
      return done('exception', gd.exceptions[gd.exceptionsBefore]);
    }
  };
  new MutationObserver(check).observe(document.body,
    {childList: true, subtree: true, characterData: true});
}
"""
# Arm the clock for one decision; refuses while an old error box is still on screen.
_ARM = """
(targets) => {
  const gd = window.__gd;
  if (document.querySelector('[data-testid="stAlertContentError"]')) return false;
  Object.assign(gd, {targets, t0: null, t1: null, outcome: null, detail: null,
                     exceptionsBefore: gd.exceptions.length});
  return true;
}
"""
# The claimed finding is on screen when the run has ended and the open finding is one this
# reviewer has not decided yet and whose last event is theirs (so "Undo my last decision" is
# enabled): a claim is the only way to get there. The finding shown just before (the one just
# decided, or the one the page opened by itself) fails one of the two tests, so a stale screen
# is never taken for the claim. -1: the queue is empty; -2: the run raised an exception.
_CLAIMED = """
([decided, exceptionsBefore]) => {
  if (window.__gd.exceptions.length > exceptionsBefore) return -2;
  if (window.__gd.run.state !== 'notRunning') return null;
  for (const el of document.querySelectorAll('[data-testid="stToast"]')) {
    if (el.textContent.includes('Nothing unclaimed is waiting')) return -1;
  }
  const heading = [...document.querySelectorAll('h3')].find(h => /^#\\d+ /.test(h.textContent));
  if (!heading) return null;
  const id = parseInt(heading.textContent.slice(1), 10);
  if (decided.includes(id)) return null;
  const undo = [...document.querySelectorAll('button')]
    .find(b => b.textContent.includes('Undo my last decision'));
  return undo && !undo.disabled ? id : null;
}
"""
# The page has settled: no run for 300 ms.
_IDLE = """
() => { const r = window.__gd.run;
  return r.state === 'notRunning' && performance.now() - r.since > 300; }
"""


class StepFailed(Exception):
    """A step of a session went wrong; the message says which and how."""


@dataclass
class Decided:
    """One decision as the browser saw it."""

    reviewer: str
    finding_id: int
    action: str
    reason: str | None
    outcome: str  # ok | refused | error
    latency_ms: float
    detail: str = ""


@dataclass
class SessionLog:
    """What one browser session did and what went wrong in it."""

    reviewer: str
    decisions: list[Decided] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sign_in_s: float = 0.0


@contextmanager
def _gapdesk_home(home: Path) -> Iterator[None]:
    """Point this process's settings at ``home`` (ingest stores snapshots there)."""
    before = os.environ.get("GAPDESK_HOME")
    os.environ["GAPDESK_HOME"] = str(home)
    get_settings.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("GAPDESK_HOME", None)
        else:
            os.environ["GAPDESK_HOME"] = before
        get_settings.cache_clear()


def _prepare(url: str, folder: Path, args: argparse.Namespace) -> tuple[list[str], int]:
    """Demo organisation ingested and detected, plus the reviewers; returns their names and how
    many findings wait in the queue."""
    generate_demo_org(folder, seed=args.seed, people=args.people, days=args.days)
    engine = open_engine(url)
    try:
        outcome = ingest(engine=engine, actor=SYSTEM, path=folder)
        run_detection(engine=engine, actor=SYSTEM, snapshot_id=outcome.record.id)
        names = [f"reviewer{i:02d}" for i in range(args.sessions)]
        with session_scope(engine) as session:
            for name in names:
                create_user(
                    session=session, actor=SYSTEM, name=name, email=f"{name}@load.example.org",
                    role=Role.admin, password=PASSWORD,
                )  # fmt: skip
            waiting = len(
                session.exec(select(Finding.id).where(col(Finding.status) == Status.new)).all()
            )
    finally:
        engine.dispose()
    return names, waiting


def _console_listener(log: SessionLog, base: str, ignored: list[str]) -> object:
    host = urlparse(base).netloc

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        where = str(msg.location.get("url") or "")
        # Resources from the internet (icon fonts) cannot load on an offline machine; that is
        # the machine, not the app.
        if where.startswith("http") and urlparse(where).netloc != host:
            ignored.append(f"{msg.text} ({where})")
            return
        log.errors.append(f"console error: {msg.text} ({where})")

    return on_console


async def _wait_idle(page: Page, timeout_ms: float) -> None:
    """Wait until the run the last click started has finished and the page has settled."""
    await page.wait_for_function(_IDLE, polling=100, timeout=timeout_ms)
    state = await page.get_by_test_id("stApp").get_attribute("data-test-connection-state")
    if state != "CONNECTED":
        raise StepFailed(f"the app's websocket is {state}")


async def _press_or_click(
    page: Page, button: str, key: str, *, by_key: bool, timeout_ms: float
) -> None:
    """Use a button by its shortcut or by a click, once it is on screen and enabled."""
    target = page.get_by_role("button", name=button).first
    await expect(target).to_be_enabled(timeout=timeout_ms)
    if by_key:
        await page.keyboard.press(key)
    else:
        await target.click()


async def _focus_page(page: Page) -> None:
    """Give the page (not an input) the focus, so a shortcut key reaches the app."""
    await page.get_by_role("heading", name="Review queue").click()


async def _take_next(page: Page, decided: list[int], *, by_key: bool, timeout_ms: float) -> int:
    """Claim the next finding; returns its id once its detail is on screen."""
    if by_key:
        await _focus_page(page)
    before = await page.evaluate("() => { window.__gd.targets = null; "
                                 "return window.__gd.exceptions.length; }")  # fmt: skip
    await _press_or_click(page, "Next finding", "n", by_key=by_key, timeout_ms=timeout_ms)
    handle = await page.wait_for_function(
        _CLAIMED, arg=[decided, before], polling=100, timeout=timeout_ms
    )
    finding_id = int(await handle.json_value())
    if finding_id == -1:
        raise StepFailed("the queue ran dry: nothing unclaimed is waiting")
    if finding_id == -2:
        text = await page.evaluate(f"() => window.__gd.exceptions[{before}]")
        raise StepFailed(f"'Next finding' raised an exception on the page: {text}")
    return finding_id


async def _decide(
    page: Page, reviewer: str, finding_id: int, action: str, reason: str | None, *,
    by_key: bool, timeout_ms: float,
) -> Decided:  # fmt: skip
    """Make one decision on the open finding and time it to its confirmation on screen."""
    if action == "dismiss":
        assert reason is not None
        box = page.get_by_test_id("stSelectbox").filter(has_text="Dismiss because").first
        await box.locator("input").click()
        await page.keyboard.type(REASONS[reason])
        await page.keyboard.press("Enter")
        await expect(box.locator("input")).to_have_value(
            re.compile(f"^{reason}:"), timeout=timeout_ms
        )
        if reason == "other":
            await page.get_by_label("Comment (required for 'other')").fill("load test")
    button, key = {"confirm": ("Confirm", "y"), "dismiss": ("Dismiss", "d"),
                   "snooze": ("Snooze", "s")}[action]  # fmt: skip
    if by_key:
        await _focus_page(page)  # before arming: this click must not start the clock
    # What the page says once the decision has landed (pages/queue.py's flash message).
    targets = [f"#{finding_id}: {action}.", f"#{finding_id}: {action} (already recorded)."]
    if not await page.evaluate(_ARM, targets):
        raise StepFailed(f"an error box was already on screen before deciding #{finding_id}")
    await _press_or_click(page, button, key, by_key=by_key, timeout_ms=timeout_ms)
    await page.wait_for_function(
        "() => window.__gd.outcome !== null", polling=100, timeout=timeout_ms
    )
    seen = await page.evaluate("() => [window.__gd.outcome, window.__gd.t1 - window.__gd.t0, "
                               "window.__gd.detail]")  # fmt: skip
    outcome, latency, detail = seen
    if outcome in ("ok", "repeat"):
        kind = outcome
    elif outcome == "error box" and REFUSED.search(detail or ""):
        kind = "refused"
    else:
        kind = "error"
        detail = f"{outcome}: {detail}"
    return Decided(reviewer, finding_id, action, reason, kind, float(latency), detail or "")


async def _screen_state(page: Page) -> str:
    """The finding heading and the messages on screen, to explain a failed step."""
    try:
        heading = await page.locator("h3").filter(has_text="#").all_inner_texts()
        alerts = await page.get_by_test_id("stAlert").all_inner_texts()
        run = await page.evaluate("() => window.__gd && window.__gd.run.state")
    except PlaywrightError as exc:
        return f"(page unreadable: {exc})"
    return f"(run {run}; open: {heading[:1]}; messages: {[a[:200] for a in alerts]})"


async def _session(
    browser: Browser, base: str, reviewer: str, index: int, args: argparse.Namespace,
    start: asyncio.Barrier, ignored: list[str],
) -> SessionLog:  # fmt: skip
    log = SessionLog(reviewer)
    timeout_ms = args.timeout * 1000
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(timeout_ms)
    try:
        page = await context.new_page()
        page.on("pageerror", lambda exc: log.errors.append(f"page error: {exc}"))
        page.on("console", _console_listener(log, base, ignored))  # type: ignore[arg-type]
        began = time.perf_counter()
        await page.goto(base)
        await page.get_by_label("User name or email").fill(reviewer)
        await page.get_by_role("textbox", name="Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name=f"Hello, {reviewer}")).to_be_visible(
            timeout=timeout_ms
        )
        log.sign_in_s = time.perf_counter() - began
        nav = page.get_by_test_id("stSidebarNav")
        await nav.get_by_role("link", name="Review queue", exact=True).click()
        await expect(page.get_by_role("heading", name="Review queue")).to_be_visible(
            timeout=timeout_ms
        )
        await page.evaluate(_WATCH)
        await _wait_idle(page, timeout_ms)
    except (PlaywrightError, StepFailed, AssertionError) as exc:
        log.errors.append(f"{reviewer} could not sign in and open the queue: {_first_line(exc)}")
        await start.wait()
        await context.close()
        return log
    await start.wait()
    decided: list[int] = []
    try:
        for k in range(args.decisions):
            action = ACTIONS[(index + k) % len(ACTIONS)]
            reason = list(REASONS)[(index + k) % len(REASONS)] if action == "dismiss" else None
            by_key = (index + k) % 2 == 1
            step = f"{reviewer}, decision {k + 1} (next finding)"
            finding_id = await _take_next(page, decided, by_key=by_key, timeout_ms=timeout_ms)
            step = f"{reviewer}, decision {k + 1} ({action} #{finding_id})"
            done = await _decide(
                page, reviewer, finding_id, action, reason, by_key=by_key, timeout_ms=timeout_ms
            )
            decided.append(finding_id)
            log.decisions.append(done)
            if done.outcome == "error":
                log.errors.append(f"{step}: {done.detail}")
            step = f"{reviewer}, after decision {k + 1}"
            await _wait_idle(page, timeout_ms)
        exceptions = await page.evaluate("() => window.__gd.exceptions")
        # An exception raised by a decision's own run was already counted with the decision.
        counted = sum(1 for d in log.decisions if d.outcome == "error")
        if len(exceptions) > counted:
            log.errors.append(f"{reviewer}: {len(exceptions) - counted} more exception boxes "
                              f"appeared on the page, e.g. {exceptions[-1]}")  # fmt: skip
    except (PlaywrightError, StepFailed, AssertionError) as exc:
        log.errors.append(f"{step}: {_first_line(exc)} {await _screen_state(page)}")
        if args.shots:
            await page.screenshot(path=Path(args.shots) / f"{reviewer}.png", full_page=True)
    finally:
        await context.close()
    return log


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


async def _work(
    base: str, names: list[str], args: argparse.Namespace, ignored: list[str]
) -> tuple[list[SessionLog], float]:
    """All sessions at once; returns their logs and the wall time of the working phase."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        start = asyncio.Barrier(len(names) + 1)
        tasks = [
            asyncio.create_task(_session(browser, base, name, i, args, start, ignored))
            for i, name in enumerate(names)
        ]
        await start.wait()
        began = time.perf_counter()
        logs = await asyncio.gather(*tasks)
        wall = time.perf_counter() - began
        await browser.close()
    return list(logs), wall


def _check_database(url: str, logs: list[SessionLog]) -> tuple[list[str], int, int]:
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


def _server_tracebacks(home: Path) -> list[str]:
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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the figures; assert no errors and a consistent log."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_browser_load")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--decisions", type=int, default=10, help="per session")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per browser step")
    parser.add_argument("--shots", help="folder for a screenshot of each session that fails")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.decisions < 1:
        parser.error("--sessions and --decisions must be at least 1")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is not installed (scripts/setup.sh --dev installs it)")
    with tempfile.TemporaryDirectory(prefix="gapdesk-bench-browser-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        url = (
            f"sqlite:///{home / 'gapdesk.db'}"
            if args.database == "sqlite"
            else create_pg_database(PG_ADMIN_URL)
        )
        try:
            return _run(url, home, args)
        finally:
            if args.database == "postgres":
                drop_pg_database(PG_ADMIN_URL, url)


def _run(url: str, home: Path, args: argparse.Namespace) -> int:
    began = time.perf_counter()
    with _gapdesk_home(home):
        names, waiting = _prepare(url, home / "demo-org", args)
    needed = args.sessions * args.decisions
    if waiting < needed:
        raise SystemExit(
            f"the demo organisation ({args.people} people) has {waiting} findings waiting; "
            f"{args.sessions} sessions x {args.decisions} decisions need {needed}: "
            "use more --people"
        )
    setup_s = time.perf_counter() - began
    print(
        f"demo organisation (seed {args.seed}, {args.people} people, {args.days} days) on "
        f"{args.database}: {waiting} findings waiting; set up in {setup_s:.1f} s"
    )
    ignored: list[str] = []
    with streamlit_server({"GAPDESK_HOME": str(home), "GAPDESK_DATABASE_URL": url}) as base:
        logs, wall = asyncio.run(_work(base, names, args, ignored))
    problems, log_rows, models = _check_database(url, logs)
    tracebacks = _server_tracebacks(home)
    if args.shots and tracebacks:
        for path in home.glob("streamlit-*.log"):
            shutil.copy(path, Path(args.shots) / path.name)

    decided = [d for log in logs for d in log.decisions]
    ok = [d.latency_ms for d in decided if d.outcome in ("ok", "repeat")]
    repeats = sum(1 for d in decided if d.outcome == "repeat")
    refusals = [d for d in decided if d.outcome == "refused"]
    errors = [e for log in logs for e in log.errors]
    per_action = {a: sum(1 for d in decided if d.outcome in ("ok", "repeat") and d.action == a)
                  for a in ACTIONS}  # fmt: skip
    sign_ins = [log.sign_in_s for log in logs if log.sign_in_s]
    print(
        f"sessions {args.sessions} · decisions {len(ok)} confirmed on screen of "
        f"{needed} planned ({', '.join(f'{n} {a}' for a, n in per_action.items())}) · "
        f"errors {len(errors)} · refusals {len(refusals)}"
    )
    if repeats:
        print(f"{repeats} of them were answered 'already recorded' (a submission that reached "
              "the server twice; one decision is logged)")  # fmt: skip
    if ok:
        print(
            f"decision click to confirmation on screen: p50 {statistics.median(ok):.0f} ms · "
            f"p95 {_percentile(ok, 0.95):.0f} ms · max {max(ok):.0f} ms · "
            f"{len(ok) / wall:.2f} decisions/s over {wall:.1f} s of work"
        )
    if sign_ins:
        print(f"sign-in to the home page: p50 {statistics.median(sign_ins):.1f} s, "
              f"max {max(sign_ins):.1f} s")  # fmt: skip
    print(
        f"feedback log: {log_rows} rows, chain {'verifies' if not problems else 'checked'}; "
        f"{models} model versions trained by the app during the run"
    )
    for d in refusals:
        print(f"refusal: {d.reviewer}, #{d.finding_id} {d.action}: {d.detail}")
    if ignored:
        print(f"ignored {len(ignored)} console errors for resources outside the app "
              f"(offline machine), e.g. {ignored[0]}")  # fmt: skip
    for e in errors[:20]:
        print(f"error: {e}")
    for p in problems[:20]:
        print(f"database: {p}")
    for t in tracebacks[:10]:
        print(f"server traceback: {t}")
    assert not errors, f"{len(errors)} errors in the browser sessions, first: {errors[0]}"
    assert not problems, f"{len(problems)} database problems, first: {problems[0]}"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
