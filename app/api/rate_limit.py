"""Calls per token in a sliding minute, counted in this process (one `gapdesk api` process).

Several API processes would each count their own calls: run one, or divide the limit by them.
"""

from __future__ import annotations

import threading
import time
from collections import deque

WINDOW_S = 60.0


class RateLimiter:
    """At most ``per_minute`` calls per key in any 60 seconds."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._calls: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_for(self, key: int, now: float | None = None) -> float:
        """Record a call for ``key`` and return 0, or the seconds to wait if it is over the limit
        (a refused call is not counted)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - WINDOW_S:
                calls.popleft()
            if len(calls) >= self.per_minute:
                return max(0.001, calls[0] + WINDOW_S - now)
            calls.append(now)
            return 0.0
