"""How long a program waited for a processor: the part of a wait a busy machine took.

Theory of operation
-------------------
A step's deadline ("an echo within 2 s") gives the program 2 s to do
something.  On a machine busier than it has processors (a class batch, a CI
runner shared with other jobs), part of those 2 s the program was ready to run
and no processor ran it.  Linux counts that time for every thread: the second
field of ``/proc/PID/task/TID/schedstat`` ("run_delay", in nanoseconds) is
the time the thread spent runnable on a run queue, not running.

:class:`CpuWait` reads it for every thread of a test's programs (their process
trees) when a wait starts, and again when the wait's deadline passes.  The
deadline is then moved on by what the most delayed thread waited meanwhile
(see :meth:`grader.deadline.Deadline.stretched_by`), so a verdict says what the
program did with the time it was given, not how busy the machine was:

* a program asleep (in accept(), in recv(), in sleep()) is not on a run queue,
  so its waits are never stretched: evidence and deadlines end them as before;
* a program that computes, starts a JVM, or is slow to be woken on a loaded
  machine gets its deadline moved on by the time it was kept waiting, up to
  :data:`MOST` times the deadline's own length.

The largest delay of one thread is taken, not their sum: two threads kept
waiting at the same time lost that time once.  And only what *others* took
counts: a program whose own threads fill the processors (children spinning in a
loop, a fork bomb) delays itself.  So the time is at most what the processors
it may run on (its affinity) had left over after the program's own use: a
program that used them all was not kept from anything.  A thread that started during
the wait counts all its delay; one that ended during it counts none (its time
is not known any more).  A thread at idle priority (a proven spinner, see
:mod:`grader.spin`) waits by design and is not counted.

The kernel adds a wait to run_delay only once the thread gets a processor, so a
thread woken near the end (a parent woken by SIGCHLD to reap a child, a server
woken by the client's bytes) and still waiting shows nothing yet.  So when a
deadline passes while a thread of the programs is runnable, it moves on by
:data:`RUNNABLE_STEP` more; and again at the next end for as long as that
thread is still runnable and has not run since (always within :data:`MOST`, and
not when the programs' own threads kept their processors busy).
A thread that runs meanwhile and is runnable again is computing: its time is
judged by run_delay as above.

The test's own limit (``limits.test``) moves on the same way when it passes
(:func:`waited_in_test`): by what the test's programs and the grader's thread that
drives its steps were kept waiting since the test began, within what others took
(a hundred connections one after another, each a little slower on a loaded
machine, used up a 10 s limit without any one step running late).  A wait that
the test's limit had cut short follows the limit when it moves on, up to the
length it asked for (:meth:`grader.deadline.Deadline.sooner`).  Where schedstat
cannot be read (another system, a process the grader may not inspect) nothing
is stretched.
"""

from __future__ import annotations

import os
import time
from typing import Iterable, Iterator

from .netinfo import descendants

# A deadline moves on by at most this many times its own length (2 s -> at most 6 s).
MOST = 2.0
# A meter's first reading serves the meters made this soon after it (s): a wait may be
# credited with up to this much delay from just before it began.
REUSE = 0.05
# A deadline that ends while a thread of the programs waits for a processor moves on by
# this much (again while that thread has not run since).
RUNNABLE_STEP = 0.05
# ... unless the programs' own threads left less than this share of their processors
# (they kept them busy themselves).
SELF_BUSY = 0.1


def _threads(pids: Iterable[int], *names: str) -> Iterator[tuple[int, list[bytes]]]:
    """(tid, contents of /proc/PID/task/TID/``name`` for each of ``names``) of every
    thread of ``pids`` and their descendants, each once (gone meanwhile: left out)."""
    seen: set[int] = set()
    for root in pids:
        for pid in descendants(root):
            if pid in seen:
                continue
            seen.add(pid)
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    read = []
                    for name in names:
                        with open(f"/proc/{pid}/task/{tid}/{name}", "rb") as f:
                            read.append(f.read())
                except OSError:
                    continue
                yield int(tid), read


def _schedstats(pids: Iterable[int], runnable: set[int] | None = None,
                ) -> dict[int, tuple[int, int]]:
    """(ns on a processor, ns waiting on a run queue) of every thread of ``pids`` and
    their descendants; with ``runnable``, also adds to it the threads runnable now
    (state R: running, or waiting for a processor), read in the same walk."""
    found: dict[int, tuple[int, int]] = {}
    names = ("schedstat",) if runnable is None else ("schedstat", "stat")
    for tid, data in _threads(pids, *names):
        try:
            fields = data[0].split()
            found[tid] = (int(fields[0]), int(fields[1]))
        except (IndexError, ValueError):
            continue
        if runnable is not None:
            end = data[1].rfind(b")")
            if data[1][end + 2:end + 3] == b"R":
                runnable.add(tid)
    return found


def _idle(tid: int) -> bool:
    """A thread put at idle priority (a proven spinner, grader.spin): it waits for a
    processor by design, and can never act anyway."""
    try:
        return os.sched_getscheduler(tid) == os.SCHED_IDLE
    except (OSError, AttributeError):
        return False


def _processors(pids: list[int]) -> int:
    for pid in pids:
        try:
            return len(os.sched_getaffinity(pid))
        except OSError:
            continue
    return os.cpu_count() or 1


def thread_delay(tid: int) -> float:
    """How long thread ``tid`` of this process has waited for a processor in all (s)."""
    try:
        with open(f"/proc/self/task/{tid}/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def waited_in_test(pids: list[int], since: float, also: float = 0.0) -> float:
    """For a whole test that began at ``since`` (time.monotonic) and whose programs
    ``pids`` all started within it: the longest time one of their threads waited for a
    processor, plus ``also`` (the grader's own wait), but no more than their processors
    had left over after the programs' own use (s)."""
    stats = _schedstats(pids)
    ran = sum(run for run, _delay in stats.values()) / 1e9
    delay = max((d for tid, (_r, d) in stats.items() if not _idle(tid)), default=0) / 1e9
    left_over = _processors(pids) * (time.monotonic() - since) - ran
    return max(0.0, min(delay + also, left_over))


class CpuWait:
    """Since its making, how long others kept the programs of ``pids`` from a processor.

    ``since``: another meter of the same programs made at most :data:`REUSE` ago,
    whose first reading this one shares (a test makes a deadline for every step, and
    most end at once: reading every thread for each would cost more than the waits).
    """

    def __init__(self, pids: list[int], since: "CpuWait | None" = None) -> None:
        self.pids = pids
        if since is not None and since.pids == pids and time.monotonic() - since._t0 <= REUSE:
            self._t0, self._start = since._t0, since._start
        else:
            self._t0, self._start = time.monotonic(), _schedstats(pids)
        self._given = 0.0                           # the most it answered so far
        self._waiting: dict[int, int] | None = None  # runnable at the last answer: tid -> run

    def seconds(self) -> float:
        """The longest time one thread waited for a processor since the making, but no more
        than the processors had left after the programs' own use (s); a little more while
        a thread is runnable and has not run since the last answer (see the docstring)."""
        pids = self.pids
        running: set[int] = set()
        now = _schedstats(pids, running)
        wall = time.monotonic() - self._t0
        ran = waited = 0
        for tid, (run, delay) in now.items():
            run0, delay0 = self._start.get(tid, (0, 0))
            ran += run - run0
            if not _idle(tid):
                waited = max(waited, delay - delay0)
        capacity = _processors(pids) * wall
        left_over = capacity - ran / 1e9
        seconds = max(0.0, min(waited / 1e9, left_over))
        # Runnable now, and (after the first end) not run since the last one: waiting for
        # a processor right now, which run_delay does not show yet.  Not when the
        # programs' own threads kept the processors busy (spinning children).
        runnable = {tid: now[tid][0] for tid in running if not _idle(tid)}
        if runnable and left_over > SELF_BUSY * capacity and (self._waiting is None or any(
                self._waiting.get(tid) == run for tid, run in runnable.items())):
            seconds = max(seconds, self._given + RUNNABLE_STEP)
        self._waiting = runnable
        self._given = max(self._given, seconds)
        return seconds
