"""One virtual reviewer in the protocol benchmark: signs in through the form, redeems the session
cookie's ticket as the page's script does, opens the Review queue from the navigation and works
it with the page's own buttons (the N, Y, D, S and reason keys press them), over Streamlit's
websocket protocol (tests/bench/protocol_client.py).

A decision's latency is from sending the press to the arrival of the delta that carries its
confirmation ("#id: confirm."); N's is from sending the press of Next to the arrival of the
claimed finding's heading and its "claimed by you" line. A page does nothing between those
two moments but draw, so this is the browser's figure less its rendering.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections.abc import Callable

from streamlit.proto.Alert_pb2 import Alert

from tests.bench.load_site import PASSWORD, Decided, SessionLog, plan
from tests.bench.protocol_client import Element, ProtocolError, Tab, describe

REFUSED = re.compile(r"already \w+ by ")
BUSY = "the server is busy checking other sign-ins"
HEADING = re.compile(r"^#### #(\d+) ")


async def sign_in(tab: Tab, reviewer: str, timeout: float) -> None:
    """Fill in the form and press Sign in until the home page greets the reviewer (a person
    presses again when the server is busy checking other sign-ins), then redeem the cookie."""
    deadline = time.monotonic() + timeout
    while True:
        tab.set_text(tab.find("text_input", "User name or email")[0], reviewer)
        tab.set_text(tab.find("text_input", "Password")[0], PASSWORD)
        seq, _ = await tab.press(tab.button("Sign in"))
        await tab.until_idle(seq)
        if tab.find("heading", f"Hello, {reviewer}", since=seq):
            # The home page's run after the sign-in carries the cookie script.
            await tab.redeem_cookie_ticket(seq)
            return
        said = [e.text for e in tab.find("alert", since=seq)]
        if not any(BUSY in s for s in said) or time.monotonic() > deadline:
            raise ProtocolError(f"not signed in: {said or describe(tab)}")
        await asyncio.sleep(1.0)


async def open_queue(tab: Tab) -> None:
    """The Review queue from the navigation, until its list is drawn and the run is over."""
    seq = await tab.go_to("Review queue")
    await tab.until(lambda: tab.find("dataframe", since=seq))
    await tab.until_idle(seq)
    if not tab.find("heading", "Review queue"):
        raise ProtocolError(f"the Review queue did not open: {describe(tab)}")


def _claimed(tab: Tab, seq: int, decided: list[int], exceptions: int) -> Callable[[], object]:
    """The test for N's outcome: the id of a claimed finding newly on screen, -1 for an empty
    queue, -2 for an exception."""

    def test() -> object:
        if len(tab.exceptions) > exceptions:
            return -2
        if any(s > seq and "Nothing unclaimed is waiting" in t for s, t in tab.toasts):
            return -1
        for e in tab.find("markdown", lambda t: bool(HEADING.match(t)), since=seq):
            found = HEADING.match(e.text)
            assert found is not None
            fid = int(found.group(1))
            if fid not in decided and tab.find("markdown", lambda t: "claimed by you" in t,
                                               since=seq):  # fmt: skip
                return fid
        return None

    return test


async def take_next(tab: Tab, decided: list[int]) -> tuple[int, float]:
    """Press N; returns the finding claimed and the milliseconds to its heading on screen."""
    exceptions = len(tab.exceptions)
    seq, began = await tab.press(tab.button("Next"))
    found = await tab.until(_claimed(tab, seq, decided, exceptions))
    took = (time.perf_counter() - began) * 1000
    await tab.until_idle(seq)
    if found == -1:
        raise ProtocolError("the queue ran dry: nothing unclaimed is waiting")
    if found == -2:
        raise ProtocolError(f"'Next' raised an exception: {tab.exceptions[exceptions]}")
    return int(found), took


def _control(tab: Tab, label: str | Callable[[str], bool], finding_id: int, key: str) -> Element:
    """The enabled control for the open finding (its widget key ends with the finding's id)."""
    for e in tab.find("button", label):
        if e.widget_id.endswith(f"-{key}-{finding_id}") and not e.proto.disabled:
            return e
    raise ProtocolError(f"no enabled {key!r} control for #{finding_id}: {describe(tab)}")


def _outcome(tab: Tab, seq: int, targets: tuple[str, str], exceptions: int) -> Callable[[], object]:
    def test() -> object:
        for e in tab.find("alert", since=seq):
            if e.proto.format == Alert.SUCCESS and targets[0] in e.text:
                return ("ok", e.text)
            if e.proto.format == Alert.SUCCESS and targets[1] in e.text:
                return ("repeat", e.text)
            if e.proto.format == Alert.ERROR:
                return ("refused" if REFUSED.search(e.text) else "error", e.text)
        if len(tab.exceptions) > exceptions:
            return ("error", f"exception: {tab.exceptions[exceptions]}")
        return None

    return test


async def decide(
    tab: Tab, reviewer: str, finding_id: int, action: str, reason: str | None
) -> Decided:
    """Make one decision on the open finding, timed from the press to its confirmation."""
    if action == "dismiss":  # D opens the reason prompt; the reason's key is the decision
        assert reason is not None
        seq, _ = await tab.press(_control(tab, "Dismiss", finding_id, "dismiss"))
        await tab.until(lambda: tab.find("markdown", lambda t: t.startswith(
            f"**Why dismiss #{finding_id}?**"), since=seq))  # fmt: skip
        await tab.until_idle(seq)
        if reason == "other":  # the comment is committed (a fragment run) before the key
            box = tab.find("text_input", "Comment (required for 'other')")[0]
            tab.set_text(box, "load test")
            await tab.until_idle(await tab.rerun(fragment_id=box.fragment_id))
        label = f"{reason}: "
        button = _control(tab, lambda t: t.startswith(label), finding_id, f"reason-{reason}")
    else:
        button = _control(tab, action.capitalize(), finding_id, action)
    exceptions = len(tab.exceptions)
    targets = (f"#{finding_id}: {action}.", f"#{finding_id}: {action} (already recorded).")
    seq, began = await tab.press(button)
    kind, detail = await tab.until(_outcome(tab, seq, targets, exceptions))
    took = (time.perf_counter() - began) * 1000
    await tab.until_idle(seq)
    return Decided(reviewer, finding_id, action, reason, kind, took, detail, by_key=True)


async def session(
    base: str, reviewer: str, index: int, args: argparse.Namespace, start: asyncio.Barrier
) -> SessionLog:
    """Sign in, open the queue, wait for the others, then take and decide findings."""
    log = SessionLog(reviewer)
    tab = Tab(base, timeout=args.timeout)
    try:
        began = time.perf_counter()
        await tab.open()
        await sign_in(tab, reviewer, args.timeout)
        log.sign_in_s = time.perf_counter() - began
        opened = time.perf_counter()
        await open_queue(tab)
        log.queue_open_s = time.perf_counter() - opened
    except (ProtocolError, OSError) as exc:
        log.errors.append(f"{reviewer} could not sign in and open the queue: {exc}")
        await start.wait()
        await tab.close()
        return log
    await start.wait()
    decided: list[int] = []
    step = f"{reviewer}, start"
    try:
        for k in range(args.decisions):
            action, reason, _ = plan(index, k)
            step = f"{reviewer}, decision {k + 1} (next finding)"
            finding_id, next_ms = await take_next(tab, decided)
            log.next_ms.append((True, next_ms))
            if args.think:  # the reviewer reads the finding before deciding
                await asyncio.sleep(args.think)
            step = f"{reviewer}, decision {k + 1} ({action} #{finding_id})"
            done = await decide(tab, reviewer, finding_id, action, reason)
            decided.append(finding_id)
            log.decisions.append(done)
            if done.outcome == "error":
                log.errors.append(f"{step}: {done.detail}")
        counted = sum(1 for d in log.decisions if d.outcome == "error")
        if len(tab.exceptions) > counted:
            log.errors.append(f"{reviewer}: {len(tab.exceptions) - counted} more exception boxes, "
                              f"e.g. {tab.exceptions[-1]}")  # fmt: skip
    except (ProtocolError, OSError) as exc:
        log.errors.append(f"{step}: {exc} {describe(tab)}")
    finally:
        await tab.close()
    return log


async def run_sessions(
    base: str, names: list[str], args: argparse.Namespace, cpu: Callable[[], float],
    on_start: Callable[[], object] = lambda: None,
) -> tuple[list[SessionLog], float, float, float]:  # fmt: skip
    """All reviewers at once; returns their logs, the wall time of the working phase, the
    server's CPU seconds in it (``cpu`` reads the server's CPU time so far) and this process's
    own (the virtual reviewers'). ``on_start`` is called as the working phase begins."""
    start = asyncio.Barrier(len(names) + 1)
    tasks = [
        asyncio.create_task(session(base, name, i, args, start)) for i, name in enumerate(names)
    ]
    await start.wait()
    on_start()
    began, cpu_before, mine = time.perf_counter(), cpu(), time.process_time()
    logs = await asyncio.gather(*tasks)
    return (list(logs), time.perf_counter() - began, cpu() - cpu_before,
            time.process_time() - mine)  # fmt: skip
