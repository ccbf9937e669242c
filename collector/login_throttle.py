"""UI login throttling: after 10 failed attempts for one account or one IP within 15
minutes, further attempts get 429 until the window has passed."""

from __future__ import annotations

import time
from collections import deque

WINDOW_SECONDS = 15 * 60
MAX_FAILURES = 10


class LoginThrottle:
    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > WINDOW_SECONDS:
            times.popleft()
        return times

    def wait(self, account: str, ip: str, now: float | None = None) -> float:
        """Seconds until another attempt is allowed (0: go ahead)."""
        now = time.monotonic() if now is None else now
        waits = [
            WINDOW_SECONDS - (now - times[0])
            for key in (f"a:{account}", f"i:{ip}")
            if len(times := self._recent(key, now)) >= MAX_FAILURES
        ]
        return max(waits, default=0.0)

    def failed(self, account: str, ip: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in (f"a:{account}", f"i:{ip}"):
            self._recent(key, now).append(now)
        if len(self._failures) > 100_000:
            self._failures.clear()

    def succeeded(self, account: str) -> None:
        self._failures.pop(f"a:{account}", None)
