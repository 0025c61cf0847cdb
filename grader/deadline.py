"""Deadlines you can see.

Every wait in the grader takes its time from a :class:`Deadline` object that was
created by the caller and says what it is waiting for.  Nothing sleeps for a fixed
time: :func:`poll_until` checks a real condition at a short, growing interval
until it holds or the deadline passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

T = TypeVar("T")

# Readiness polling starts fast (a correct server is usually listening within a
# few milliseconds of its start) and backs off so a slow one does not burn CPU.
FIRST_POLL_INTERVAL = 0.0005
MAX_POLL_INTERVAL = 0.02


@dataclass
class Deadline:
    """An absolute point in time (``time.monotonic``) and what it bounds."""

    end: float
    what: str = ""
    seconds: float = field(default=0.0)      # how long it allows, from its making
    asked: float | None = None               # what the caller asked for, when more than allowed

    @classmethod
    def after(cls, seconds: float, what: str = "") -> "Deadline":
        return cls(time.monotonic() + seconds, what, seconds)

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def sooner(self, seconds: float, what: str = "") -> "Deadline":
        """A deadline ``seconds`` from now, but never later than this one.

        When this one ends first, the new one is *clipped*: ``seconds`` says
        what it really allows and ``asked`` what was asked for, so a message
        never claims a wait longer than the one that happened.
        """
        now = time.monotonic()
        if now + seconds <= self.end:
            return Deadline(now + seconds, what or self.what, seconds)
        return Deadline(self.end, what or self.what, max(0.0, self.end - now), asked=seconds)

    @property
    def clipped(self) -> bool:
        return self.asked is not None

    def describe(self) -> str:
        """How long this wait was, in words: "2 s", or "0.37 s (cut short: ...)"."""
        if not self.clipped:
            return f"{self.seconds:g} s"
        return (f"{self.seconds:.2f} s (the test's time limit cut short the {self.asked:g} s "
                "this wait would have had)")


def poll_until(check: Callable[[], T], deadline: Deadline,
               interval: float = FIRST_POLL_INTERVAL) -> T | None:
    """Call ``check`` until it returns something truthy or ``deadline`` passes.

    Returns the first truthy value, or ``None`` when the deadline passed.  The
    condition is checked once more at the deadline, so a slow poll never turns a
    success into a timeout.
    """
    while True:
        value = check()
        if value:
            return value
        left = deadline.remaining()
        if left <= 0:
            return None
        time.sleep(min(interval, left))
        interval = min(interval * 2, MAX_POLL_INTERVAL)
