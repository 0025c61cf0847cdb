"""Deadlines you can see.

Every wait in the grader takes its time from a :class:`Deadline` object that was
created by the caller and says what it is waiting for.  Nothing sleeps for a fixed
time: :func:`poll_until` checks a real condition at a short, growing interval
until it holds or the deadline passes.

A deadline on the program may be *stretched* (:meth:`Deadline.stretched_by`):
when it passes, it moves on by the time the program was kept waiting for a
processor meanwhile (:mod:`grader.cpuwait`), so a busy machine does not move a
verdict.  Its length in messages stays the one asked for: that is the time the
program was given to run.
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
# A stretched deadline moves on only by more than this (less is noise: nothing to wait for).
MIN_STRETCH = 0.005


@dataclass
class Deadline:
    """An absolute point in time (``time.monotonic``) and what it bounds."""

    end: float
    what: str = ""
    seconds: float = field(default=0.0)      # how long it allows, from its making
    asked: float | None = None               # what the caller asked for, when more than allowed
    moved: float = 0.0                       # how far it was stretched so far (s)
    _stretch: Callable[[], float] | None = field(default=None, repr=False, compare=False)
    _most: float = field(default=0.0, repr=False, compare=False)
    _also: "Deadline | None" = field(default=None, repr=False, compare=False)
    _cut_by: "Deadline | None" = field(default=None, repr=False, compare=False)   # see sooner()
    _made: float = field(default=0.0, repr=False, compare=False)

    @classmethod
    def after(cls, seconds: float, what: str = "") -> "Deadline":
        return cls(time.monotonic() + seconds, what, seconds)

    def stretched_by(self, waited: Callable[[], float], most: float,
                     also: "Deadline | None" = None) -> "Deadline":
        """When it passes, move it on by ``waited()``: how long the program was kept from
        a processor since now (at most ``most`` seconds in all).  ``also`` (the deadline
        it was cut from) moves on as much.  Returns itself."""
        self._stretch, self._most, self._also = waited, most, also
        return self

    def _move_on(self) -> bool:
        """At the end: moved on by the processor time the program was denied meanwhile,
        or because the deadline that cut it short moved on?"""
        if self._cut_by is not None:
            return self._follow()
        if self._stretch is None:
            return False
        waited = min(self._stretch(), self._most)
        if waited < self.moved + MIN_STRETCH:
            self._stretch = None            # it had its time
            return False
        if self._also is not None:
            self._also.end += waited - self.moved
        self.end += waited - self.moved
        self.moved = waited
        return True

    def _follow(self) -> bool:
        """A deadline cut short by another (the test's limit) moves on with it, up to
        the length it was asked for (and is no longer cut short if it gets it all)."""
        assert self._cut_by is not None and self.asked is not None
        self._cut_by.remaining()                 # (which may move it on)
        end = min(self._cut_by.end, self._made + self.asked)
        if end < self.end + MIN_STRETCH:
            return False
        self.end = end
        if end >= self._made + self.asked:
            self.seconds, self.asked, self._cut_by = self.asked, None, None
        else:
            self.seconds = end - self._made
        return True

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0 and self._move_on():
            left = self.end - time.monotonic()
        return max(0.0, left)

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def sooner(self, seconds: float, what: str = "") -> "Deadline":
        """A deadline ``seconds`` from now, but never later than this one.

        When this one ends first, the new one is *clipped*: ``seconds`` says
        what it really allows and ``asked`` what was asked for, so a message
        never claims a wait longer than the one that happened.  If this one
        moves on (it is stretched: a busy machine), the clipped one follows it,
        up to ``seconds`` from its making.
        """
        now = time.monotonic()
        if now + seconds <= self.end:
            return Deadline(now + seconds, what or self.what, seconds)
        return Deadline(self.end, what or self.what, max(0.0, self.end - now), asked=seconds,
                        _cut_by=self, _made=now)

    def begins_later(self, seconds: float) -> "Deadline":
        """Move the end on by ``seconds``: the wait it bounds begins that much after the
        deadline was made (the grader had its own work first).  Returns itself."""
        self.end += seconds
        return self

    def latest(self) -> float:
        """The latest this deadline can end (``time.monotonic``), moved on as far as it may."""
        if self._cut_by is not None:
            return min(self._cut_by.latest(), self._made + (self.asked or 0.0))
        if self._stretch is None:
            return self.end
        return self.end + max(0.0, self._most - self.moved)

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
