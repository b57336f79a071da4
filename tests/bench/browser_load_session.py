"""One reviewer's browser session in the many-browsers benchmark: the scripts it installs in the
page, each step (sign in, take the next finding, decide), and what the session saw.

A decision's latency is measured inside the page, from the pointerdown/keydown of the decision to
the moment its confirmation is in the DOM, and so is taking the next finding, from the N key (or
the click on Next) to the moment the claimed finding's heading is on screen; a refusal (another
reviewer took the finding first) is counted apart from an error.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

from tests.bench.load_site import PASSWORD, REASONS, Decided, SessionLog, plan
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS

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
    if (gd.targets.next) {  // taking the next finding: its heading, claimed by this reviewer
      const heading = [...document.querySelectorAll('h4')].find(h => /^#\\d+ /.test(h.textContent));
      if (!heading) return;
      const id = parseInt(heading.textContent.slice(1), 10);
      if (gd.targets.decided.includes(id)) return;
      if (!document.body.textContent.includes('claimed by you')) return;
      gd.t1 = performance.now(); gd.outcome = 'ok'; gd.detail = String(id);
      return;
    }
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

# The claimed finding is on screen once the run has ended and the open finding is one this
# reviewer has not decided yet and holds the claim on ("claimed by you"): a claim is the only way
# to get there. The finding shown just before (the one just decided, or the one the page opened
# by itself, unclaimed) fails one of the two tests, so a stale screen is never taken for the
# claim. -1: the queue is empty; -2: the run raised an exception.
_CLAIMED = """
([decided, exceptionsBefore]) => {
  if (window.__gd.exceptions.length > exceptionsBefore) return -2;
  if (window.__gd.run.state !== 'notRunning') return null;
  for (const el of document.querySelectorAll('[data-testid="stToast"]')) {
    if (el.textContent.includes('Nothing unclaimed is waiting')) return -1;
  }
  const heading = [...document.querySelectorAll('h4')].find(h => /^#\\d+ /.test(h.textContent));
  if (!heading) return null;
  const id = parseInt(heading.textContent.slice(1), 10);
  if (decided.includes(id)) return null;
  return document.body.textContent.includes('claimed by you') ? id : null;
}
"""

# Arm the clock for taking the next finding; returns how many exception boxes were seen so far.
_ARM_NEXT = """
(decided) => {
  const gd = window.__gd;
  Object.assign(gd, {targets: {next: true, decided}, t0: null, t1: null, outcome: null,
                     detail: null, exceptionsBefore: gd.exceptions.length});
  return gd.exceptions.length;
}
"""

# The run has ended (the page may still settle).
_RUN_OVER = "() => window.__gd.run.state === 'notRunning'"

# The page has settled: no run for 300 ms.
_IDLE = """
() => { const r = window.__gd.run;
  return r.state === 'notRunning' && performance.now() - r.since > 300; }
"""


class StepFailed(Exception):
    """A step of a session went wrong; the message says which and how."""


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
    # The accessible name of a button with a shortcut ends in "Shortcut <key>".
    name = re.compile(rf"^{re.escape(button)}( Shortcut \S+)?$")
    target = page.get_by_role("button", name=name).first
    await expect(target).to_be_enabled(timeout=timeout_ms)
    if by_key:
        await page.keyboard.press(key)
    else:
        await target.click()


async def _focus_page(page: Page) -> None:
    """Give the page (not an input) the focus, so a shortcut key reaches the app."""
    await page.get_by_role("heading", name="Review queue").click()


async def _take_next(
    page: Page, decided: list[int], *, by_key: bool, timeout_ms: float
) -> tuple[int, float]:
    """Claim the next finding; returns its id once its detail is on screen, and the time from
    the key press (or click) to its heading on screen."""
    if by_key:
        await _focus_page(page)  # before arming: this click must not start the clock
    before = await page.evaluate(_ARM_NEXT, decided)
    await _press_or_click(page, "Next", "n", by_key=by_key, timeout_ms=timeout_ms)
    handle = await page.wait_for_function(
        _CLAIMED, arg=[decided, before], polling=100, timeout=timeout_ms
    )
    finding_id = int(await handle.json_value())
    if finding_id == -1:
        raise StepFailed("the queue ran dry: nothing unclaimed is waiting")
    if finding_id == -2:
        text = await page.evaluate(f"() => window.__gd.exceptions[{before}]")
        raise StepFailed(f"'Next' raised an exception on the page: {text}")
    seen = await page.evaluate("() => [window.__gd.outcome, window.__gd.t1 - window.__gd.t0]")
    return finding_id, float(seen[1]) if seen[0] == "ok" else float("nan")


async def _decide(
    page: Page, reviewer: str, finding_id: int, action: str, reason: str | None, *,
    by_key: bool, timeout_ms: float,
) -> Decided:  # fmt: skip
    """Make one decision on the open finding and time it to its confirmation on screen."""
    if action == "dismiss":  # D opens the reason prompt; the reason's key is the decision
        assert reason is not None
        if by_key:
            await _focus_page(page)
        await page.evaluate("() => { window.__gd.targets = null; }")
        await _press_or_click(page, "Dismiss", "d", by_key=by_key, timeout_ms=timeout_ms)
        await expect(page.get_by_text(f"Why dismiss #{finding_id}?")).to_be_visible(
            timeout=timeout_ms
        )
        await _wait_idle(page, timeout_ms)
        if reason == "other":
            await page.get_by_label("Comment (required for 'other')").fill("load test")
            await _focus_page(page)  # commits the comment (a rerun) before the reason key
            await _wait_idle(page, timeout_ms)
    label = {"expected": "expected", "data_error": "data_error", "other": "other"}.get(
        reason or "", ""
    )
    button, key = {"confirm": ("Confirm", "y"), "dismiss": (label, REASONS.get(reason or "", "")),
                   "snooze": ("Snooze", "s")}[action]  # fmt: skip
    if by_key:
        await _focus_page(page)  # before arming: this click must not start the clock
    # What the page says once the decision has landed (pages/queue.py's flash message).
    targets = [f"#{finding_id}: {action}.", f"#{finding_id}: {action} (already recorded)."]
    if not await page.evaluate(_ARM, targets):
        raise StepFailed(f"an error box was already on screen before deciding #{finding_id}")
    if action == "dismiss":  # the reason buttons read "<reason>: <what it means>"
        target = page.get_by_role("button", name=re.compile(rf"^{button}: ")).first
        await expect(target).to_be_enabled(timeout=timeout_ms)
        await (page.keyboard.press(key) if by_key else target.click())
    else:
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
    return Decided(reviewer, finding_id, action, reason, kind, float(latency), detail or "", by_key)


async def _screen_state(page: Page) -> str:
    """The finding heading and the messages on screen, to explain a failed step."""
    try:
        heading = await page.locator("h3").filter(has_text="#").all_inner_texts()
        alerts = await page.get_by_test_id("stAlert").all_inner_texts()
        run = await page.evaluate("() => window.__gd && window.__gd.run.state")
    except PlaywrightError as exc:
        return f"(page unreadable: {exc})"
    return f"(run {run}; open: {heading[:1]}; messages: {[a[:200] for a in alerts]})"


async def _sign_in(page: Page, reviewer: str, timeout_ms: float) -> None:
    """Press Sign in until the home page greets the reviewer: with 20 people signing in at once
    on a loaded machine, the server refuses a sign-in while all its password checks are busy
    ("try again in a moment"), and a person would press the button again."""
    hello = page.get_by_role("heading", name=f"Hello, {reviewer}")
    busy = page.get_by_text("the server is busy checking other sign-ins")
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        await page.get_by_role("button", name="Sign in").click()  # the form keeps its fields
        await page.wait_for_timeout(500)
        await page.wait_for_function(
            "() => document.querySelector('[data-testid=\"stApp\"]')"
            ".getAttribute('data-test-script-state') === 'notRunning'",
            polling=100, timeout=timeout_ms,
        )  # fmt: skip
        await expect(hello.or_(busy).first).to_be_visible(timeout=timeout_ms)
        if await hello.count():
            return
        if time.monotonic() > deadline:
            raise StepFailed("every sign-in was refused: the server stayed busy")
        await page.wait_for_timeout(1000)


async def _session(
    browser: Browser, base: str, reviewer: str, index: int, args: argparse.Namespace,
    start: asyncio.Barrier, ignored: list[str],
) -> SessionLog:  # fmt: skip
    log = SessionLog(reviewer)
    timeout_ms = args.timeout * 1000
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(timeout_ms)
    try:
        page = await context.new_page()
        page.on("pageerror", lambda exc: log.errors.append(f"page error: {exc}"))
        page.on("console", _console_listener(log, base, ignored))  # type: ignore[arg-type]
        began = time.perf_counter()
        await page.goto(base)
        await page.get_by_label("User name or email").fill(reviewer)
        await page.get_by_role("textbox", name="Password").fill(PASSWORD)
        await _sign_in(page, reviewer, timeout_ms)
        log.sign_in_s = time.perf_counter() - began
        nav = page.get_by_test_id("stSidebarNav")
        opened = time.perf_counter()
        await nav.get_by_role("link", name="Review queue", exact=True).click()
        await expect(page.get_by_role("heading", name="Review queue")).to_be_visible(
            timeout=timeout_ms
        )
        await expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=timeout_ms)
        await page.evaluate(_WATCH)
        await page.wait_for_function(_RUN_OVER, polling=20, timeout=timeout_ms)
        log.queue_open_s = time.perf_counter() - opened
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
            action, reason, by_key = plan(index, k)
            step = f"{reviewer}, decision {k + 1} (next finding)"
            finding_id, next_ms = await _take_next(
                page, decided, by_key=by_key, timeout_ms=timeout_ms
            )
            log.next_ms.append((by_key, next_ms))
            if args.think:  # the reviewer reads the finding before deciding
                await page.wait_for_timeout(args.think * 1000)
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


async def run_sessions(
    base: str, names: list[str], args: argparse.Namespace, ignored: list[str],
    cpu: Callable[[], float],
) -> tuple[list[SessionLog], float, float]:  # fmt: skip
    """All sessions at once; returns their logs, the wall time of the working phase and the
    server's CPU seconds in it (``cpu`` reads the server's CPU time so far)."""
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
        began, cpu_before = time.perf_counter(), cpu()
        logs = await asyncio.gather(*tasks)
        wall, cpu_s = time.perf_counter() - began, cpu() - cpu_before
        await browser.close()
    return list(logs), wall, cpu_s
