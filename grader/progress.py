"""Progress of a batch on stderr: a live bar on a terminal, plain lines otherwise.

The bar shows done/total, the rate of this run's gradings, the time left at
that rate, and how many did not get full marks.  It is redrawn on every result
and twice a second in between (so the clock moves while a slow submission
runs).  Plain lines (one per graded submission) suit logs: CI, Slurm, kubectl.
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import TextIO

from .results import SubmissionResult

BAR_WIDTH = 24
REDRAW_EVERY = 0.5


def clock(seconds: float) -> str:
    """``1:05`` or ``1:02:03``."""
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Counts:
    """What the progress display knows; pure, so tests can drive it with a fake clock."""

    def __init__(self, now: float) -> None:
        self.total = 0
        self.kept = 0
        self.done = 0              # graded in this run
        self.not_full = 0
        self.problems = 0          # crashed, timed out, build failed, not gradable
        self.started = now

    @property
    def to_grade(self) -> int:
        return self.total - self.kept

    def rate(self, now: float) -> float:
        elapsed = now - self.started
        return self.done / elapsed if elapsed > 0 and self.done else 0.0

    def eta(self, now: float) -> float | None:
        r = self.rate(now)
        return (self.to_grade - self.done) / r if r else None

    def add(self, r: SubmissionResult) -> None:
        self.done += 1
        if not r.full_marks:
            self.not_full += 1
        if r.status.value != "graded":
            self.problems += 1

    def bar_line(self, now: float, width: int) -> str:
        n = max(self.to_grade, 1)
        filled = int(BAR_WIDTH * self.done / n)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        eta = self.eta(now)
        parts = [f"[{bar}] {self.done}/{self.to_grade}",
                 f"{self.rate(now):.1f}/s",
                 f"{clock(now - self.started)} elapsed",
                 f"{clock(eta)} left" if eta is not None else "-:-- left",
                 f"{self.not_full} not full marks"]
        if self.problems:
            parts.append(f"{self.problems} not graded")
        return "  ".join(parts)[:max(20, width - 1)]


class LineProgress:
    """One line per graded submission."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.counts = Counts(time.monotonic())

    def start(self, total: int, kept: int, jobs: int) -> None:
        self.counts = Counts(time.monotonic())
        self.counts.total, self.counts.kept = total, kept
        self.stream.write(start_line(total, kept, jobs) + "\n")
        self.stream.flush()

    def result(self, r: SubmissionResult) -> None:
        c = self.counts
        c.add(r)
        self.stream.write(f"[{c.done}/{c.to_grade}] {r.student}: {r.score:g}/{r.max_score:g} "
                          f"({r.status.value}, {r.duration:.1f} s)\n")
        self.stream.flush()

    def close(self) -> None:
        pass


class BarProgress:
    """A bar redrawn in place (terminals only)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.counts = Counts(time.monotonic())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, total: int, kept: int, jobs: int) -> None:
        self.counts = Counts(time.monotonic())
        self.counts.total, self.counts.kept = total, kept
        self.stream.write(start_line(total, kept, jobs) + "\n")
        self._draw()
        self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(REDRAW_EVERY):
            self._draw()

    def _draw(self) -> None:
        width = shutil.get_terminal_size((100, 24)).columns
        with self._lock:
            self.stream.write("\r\033[K" + self.counts.bar_line(time.monotonic(), width))
            self.stream.flush()

    def result(self, r: SubmissionResult) -> None:
        with self._lock:
            self.counts.add(r)
            if not r.full_marks:          # worth a line of its own above the bar
                self.stream.write(f"\r\033[K{r.student}: {r.score:g}/{r.max_score:g} "
                                  f"({r.status.value})\n")
        self._draw()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(REDRAW_EVERY * 4)
        with self._lock:
            self.stream.write("\n")
            self.stream.flush()


def start_line(total: int, kept: int, jobs: int) -> str:
    line = f"grading {total - kept} of {total} submissions with {jobs} jobs"
    if kept:
        line += (f" ({kept} unchanged since their stored result: kept; --force regrades "
                 "them)")
    return line


def make_progress(stream: TextIO, mode: str = "auto") -> LineProgress | BarProgress:
    """``bar`` on a terminal, ``lines`` otherwise (``mode`` forces one)."""
    if mode == "bar" or (mode == "auto" and stream.isatty()):
        return BarProgress(stream)
    return LineProgress(stream)
