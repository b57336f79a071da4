"""Many reviewers at once in real browsers: N Chromium contexts work the demo queue together.

    .venv/bin/python -m tests.bench.bench_browser_load [--sessions 20] [--decisions 10]
        [--people 2000] [--days 120] [--database sqlite|postgres] [--think SECONDS]

One ``streamlit run`` server and one Chromium (Debian's, many browser contexts) on a demo
organisation that was ingested and run through detection. N admin accounts are made through the
account service; every context signs in with its own, opens the Review queue from the sidebar
and, all at the same time (asyncio Playwright), repeats M times: take the next finding (the
"Next finding" button or the N key: an atomic claim), then confirm it, dismiss it with a reason
or snooze it (by click or by its Y/S shortcut; a dismissal is D, then the reason's key 1-5, timed
from the reason). The latency is measured inside the page, from the pointerdown/keydown of the
decision to the moment the page's confirmation ("#id: confirm.") is in the DOM, and from N (or the
click on Next) to the claimed finding's heading; each is printed by key press and by click.
``--sessions 1`` gives the figures for one person alone; ``--think 3`` has each reviewer read
the open finding for 3 s before deciding (a person's pace; the default 0 is the worst case).
The site (demo, accounts, server, database) is tests/bench/load_site.py's, shared with
bench_protocol_load, which loads the same server without browsers.

Also printed: the server's CPU seconds per decision over the working phase (user + system time
of the ``streamlit run`` process, each decision with its N and any reason prompt, learning
threads included), which does not depend on what else shares the machine, with the 1-minute
load average before and after; and the first render of the queue after sign-in (the click on
"Review queue" in the sidebar to its list on screen and the run ended).

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
import shutil
from pathlib import Path

from tests.bench.browser_load_checks import check_database, server_tracebacks
from tests.bench.browser_load_session import run_sessions
from tests.bench.load_site import (
    add_site_arguments,
    check_site_arguments,
    demo_site,
    fail_on_problems,
    print_figures,
    serve,
)
from tests.helpers.browser import CHROMIUM, server_cpu_seconds


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the figures; assert no errors and a consistent log."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_browser_load")
    add_site_arguments(parser)
    parser.add_argument("--shots", help="folder for a screenshot of each session that fails")
    args = parser.parse_args(argv)
    check_site_arguments(parser, args)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is not installed (scripts/setup.sh --dev installs it)")
    ignored: list[str] = []
    with demo_site(args, "gapdesk-bench-browser-") as site:
        with serve(site) as base:
            before = os.getloadavg()[0]
            logs, wall, cpu_s = asyncio.run(
                run_sessions(base, site.names, args, ignored, lambda: server_cpu_seconds(base))
            )
            load = (before, os.getloadavg()[0])  # 1-minute load average before and after
        problems, log_rows, models = check_database(site.url, logs)
        tracebacks = server_tracebacks(site.home)
        if args.shots and tracebacks:
            for path in site.home.glob("streamlit-*.log"):
                shutil.copy(path, Path(args.shots) / path.name)
    print_figures(logs, args, wall=wall, cpu_s=cpu_s, load=load)
    print(
        f"feedback log: {log_rows} rows, chain {'verifies' if not problems else 'checked'}; "
        f"{models} model versions trained by the app during the run"
    )
    if ignored:
        print(f"ignored {len(ignored)} console errors for resources outside the app "
              f"(offline machine), e.g. {ignored[0]}")  # fmt: skip
    errors = [e for log in logs for e in log.errors]
    fail_on_problems(errors, problems, tracebacks, "the browser sessions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
