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
waiting at the same time lost that time once.  A thread that started during
the wait counts all its delay; one that ended during it counts none (its time
is not known any more).  Where schedstat cannot be read (another system, a
process the grader may not inspect) nothing is stretched.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable

from .netinfo import descendants

# A deadline moves on by at most this many times its own length (2 s -> at most 6 s).
MOST = 2.0


def _run_delays(pids: Iterable[int]) -> dict[int, int]:
    """Nanoseconds each thread of ``pids`` (and their descendants) has waited on a run queue."""
    found: dict[int, int] = {}
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
                    with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                        fields = f.read().split()
                    found[int(tid)] = int(fields[1])
                except (OSError, IndexError, ValueError):
                    continue
    return found


class CpuWait:
    """Since its making, how long the programs of ``pids()`` were kept from a processor."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self._pids = pids
        self._start = _run_delays(pids())

    def seconds(self) -> float:
        """The longest time one thread waited for a processor since the making (s)."""
        now = _run_delays(self._pids())
        most = max((delay - self._start.get(tid, 0) for tid, delay in now.items()), default=0)
        return max(0, most) / 1e9
