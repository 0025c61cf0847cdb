"""One submission's tests side by side: lanes, and the machine's limit on tests at once.

Theory of operation
-------------------
Every test runs in a world of its own and starts from the work dir as the
build left it (:mod:`grader.scope`), so the order in which tests run, and
what runs beside them, cannot change a verdict.  That makes it safe to run a
submission's tests at the same time, and worth it: a broken program waits out
its deadlines in every test, and a slow starter (a JVM, a server that sets up
for 1.5 s) pays its start in every test.

A **lane** runs one test at a time.  It is a box of its own (its own uid,
cgroup, /tmp and process cap in a namespaced tier, so a fork bomb in one test
cannot take the processes of the test beside it) and a copy of the built work
dir.  The run's first lane is the box the submission was built in; more lanes
are opened while the run goes, by :func:`run_side_by_side`, when

* tests are waiting, every lane is busy, and one of their tests has run for
  at least :data:`GROW_AFTER` (a fast submission finishes on one lane and pays
  for no more boxes);
* the machine's processors are not all busy (``procs_running`` in
  /proc/stat, the instantaneous count ``make -l`` approximates with the load
  average): tests that compute, such as JVMs starting, are not piled onto a
  machine that cannot run them, while tests that wait, such as slow starters
  and deadlines, run side by side;
* a **slot** is free: the machine-wide limit on tests at once
  (:class:`MachineSlots`), shared by every grader on the machine (the workers of
  a batch, several graders started by hand) through abstract unix socket
  names, which the kernel frees when their holder dies.  A lane gives its slot
  back as soon as no test is left for it.  A run's first lane takes its slot
  before the run's time starts (:func:`first_slot`): waiting for the machine is
  not the submission's time.

Results come back in the spec's order, whatever order the tests ended in, and
``on_result`` is called in that order too (a progress line for test 3 never
comes before test 2's).  The unsandboxed tier has one network, the machine's,
so its tests run one at a time (the first lane only).
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Generic, Sequence, TypeVar

from .deadline import Deadline, poll_until

T = TypeVar("T")          # a test
R = TypeVar("R")          # its result

# A lane is opened only when a test has run at least this long: a box costs 30-40 ms
# to open and close, so a program whose tests all end sooner (one that never listens:
# 0.03 s a test) finishes on one lane; a correct one's tests take 0.03 to 0.13 s, and a
# second lane halves the run (c-correct-fork: 0.57 -> 0.48 s).  In a batch that keeps
# every processor busy no lane is added whatever this is (the busy check below).
GROW_AFTER = 0.05
# How often the scheduler looks at its lanes when nothing ends.
TICK = 0.01
# The machine counts as busy when more than this many runnable tasks per processor
# were seen in each of the last BUSY_SAMPLES looks (a single look is noisy).
BUSY_PER_CPU = 1.0
BUSY_SAMPLES = 3
# How long a lane's test may go on after the run was cancelled before it is left behind
# (its box is closed first, which kills its programs, so its waits end quickly).
CANCEL_GRACE = 3.0
# How long a run waits for its first slot before it goes on without one (a batch's
# watchdog allows its workers 30 s beyond the spec's own limits).
FIRST_SLOT_WAIT = 20.0
SLOT_NAME = "\0socket-grader/test-slot/{}"
ENV_LIMIT = "SOCKET_GRADER_TESTS_AT_ONCE"


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_limit() -> int:
    """Tests at once on this machine, for all graders together: ``$SOCKET_GRADER_TESTS_AT_ONCE``,
    else 12 per processor and at least 16 (most of a test is waiting: a spec's tests fit at
    once; the busy check keeps tests that compute apart)."""
    raw = os.environ.get(ENV_LIMIT, "")
    if raw.strip().isdigit() and int(raw) >= 1:
        return int(raw)
    return max(16, 12 * cpus())


class Slot:
    """One of the machine's test slots, held until :meth:`release` (or the holder's death)."""

    def __init__(self, number: int, sock: socket.socket) -> None:
        self.number = number
        self._sock = sock

    def release(self) -> None:
        self._sock.close()


class MachineSlots:
    """The machine-wide limit on tests at once: slot k is the abstract socket name
    ``socket-grader/test-slot/k``; whoever has it bound holds the slot."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)

    def try_take(self) -> Slot | None:
        for k in range(self.limit):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                sock.bind(SLOT_NAME.format(k))
            except OSError:
                sock.close()
                continue
            return Slot(k, sock)
        return None

    def take(self, deadline: Deadline) -> Slot | None:
        """A slot, waiting for one until ``deadline`` (None if none came free)."""
        return poll_until(self.try_take, deadline, interval=0.02)


class MachineLoad:
    """Is every processor busy?  Looks at ``procs_running`` of /proc/stat."""

    def __init__(self) -> None:
        self.cpus = cpus()
        self._recent: deque[tuple[float, int]] = deque(maxlen=BUSY_SAMPLES)

    def look(self) -> None:
        try:
            with open("/proc/stat", "rb") as f:
                for line in f:
                    if line.startswith(b"procs_running "):
                        # the scheduler itself is running while it looks: not a test's load
                        self._recent.append((time.monotonic(), int(line.split()[1]) - 1))
                        return
        except (OSError, ValueError):
            pass

    @property
    def busy(self) -> bool:
        recent = [n for t, n in self._recent if time.monotonic() - t < BUSY_SAMPLES * 2 * TICK]
        if not recent:
            return False         # nothing known (no /proc/stat): the slots alone limit
        return min(recent) > BUSY_PER_CPU * self.cpus


@dataclass
class Lane:
    """Where one test at a time runs: what the caller's ``run_one`` needs, and how to close it."""

    context: object                                  # the caller's (the engine's Prepared)
    close: Callable[[], None] = lambda: None
    slot: Slot | None = None
    busy_since: float = 0.0
    test: int | None = None                          # index of the test it runs


@dataclass
class Plan(Generic[T, R]):
    """What :func:`run_side_by_side` needs from the engine."""

    tests: Sequence[T]
    first: Lane
    open_lane: Callable[[], Lane] | None          # None: one lane only
    run_one: Callable[[Lane, T], R]               # never raises for the program's doing
    total: Deadline                               # the whole run's limit: no test starts after it
    on_result: Callable[[R], None] | None = None
    slots: MachineSlots = field(default_factory=lambda: MachineSlots(default_limit()))
    max_lanes: int = 0                            # 0: as many as there are tests
    cost: Callable[[T], int] = lambda test: 0     # a guess of a test's length (larger first)


def first_slot(slots: MachineSlots) -> Slot | None:
    """The slot of a run's first lane, taken before the run's own time starts (waiting
    for the machine is not the submission's time).  None after :data:`FIRST_SLOT_WAIT`:
    the run then goes on without one, one test over the limit rather than starved."""
    return slots.take(Deadline.after(FIRST_SLOT_WAIT, "a free test slot on this machine"))


def run_side_by_side(plan: Plan) -> tuple[list, int]:
    """Run ``plan.tests`` on as many lanes as help (``plan.first`` comes with its slot,
    from :func:`first_slot`); returns (results in the tests' order, how many tests were
    not started because ``plan.total`` ran out).  The results of tests not started are None."""
    tests = list(plan.tests)
    results: list = [None] * len(tests)
    if not tests:
        return results, 0
    events: queue.Queue = queue.Queue()
    load = MachineLoad()
    # The longest tests first (a test that launches the program twice takes two starts),
    # so that they do not start last, when the lanes are opened; ties in the spec's order.
    todo = deque(sorted(range(len(tests)), key=lambda i: -plan.cost(tests[i])))
    lanes: list[Lane] = [plan.first]
    idle: list[Lane] = []
    running: dict[int, tuple[Lane, threading.Thread]] = {}
    opening: list[threading.Thread] = []
    reported = 0
    max_lanes = min(plan.max_lanes or len(tests), len(tests))
    if plan.open_lane is None:
        max_lanes = 1

    def work(lane: Lane, index: int) -> None:
        try:
            events.put(("done", lane, index, plan.run_one(lane, tests[index]), None))
        except BaseException as e:        # noqa: BLE001 - handed to the scheduler to raise
            events.put(("done", lane, index, None, e))

    def open_one(slot: Slot) -> None:
        try:
            lane = plan.open_lane()       # type: ignore[misc]
        except BaseException as e:        # noqa: BLE001 - a lane that did not open: fewer lanes
            slot.release()
            events.put(("unopened", None, -1, None, e))
            return
        lane.slot = slot
        events.put(("opened", lane, -1, None, None))

    def start(lane: Lane, index: int) -> None:
        lane.test, lane.busy_since = index, time.monotonic()
        t = threading.Thread(target=work, args=(lane, index), daemon=True,
                             name=f"socket-grader test {index}")
        running[index] = (lane, t)
        t.start()

    def may_grow() -> bool:
        if not todo or idle or opening or len(lanes) >= max_lanes or plan.total.expired:
            return False
        now = time.monotonic()
        if not any(now - lane.busy_since >= GROW_AFTER for lane, _ in running.values()):
            return False               # every test so far is quick: a lane would cost more
        load.look()
        return not load.busy

    idle.append(plan.first)
    failure: BaseException | None = None
    try:
        while running or opening or (todo and not plan.total.expired):
            while todo and idle and not plan.total.expired and failure is None:
                start(idle.pop(), todo.popleft())
            if failure is None and may_grow():
                slot = plan.slots.try_take()
                if slot is not None:
                    t = threading.Thread(target=open_one, args=(slot,), daemon=True,
                                         name="socket-grader lane")
                    opening.append(t)
                    t.start()
            try:
                kind, lane, index, result, error = events.get(timeout=TICK)
            except queue.Empty:
                continue
            if kind == "opened":
                opening.pop()
                lanes.append(lane)
                idle.append(lane)
            elif kind == "unopened":
                opening.pop()
                max_lanes = len(lanes)      # this machine gives no more boxes now: go on with these
            else:
                running.pop(index)
                lane.test = None
                if lane is not plan.first and not todo and error is None:
                    lanes.remove(lane)          # nothing left for it: its slot goes back now
                    _release(lane)
                else:
                    idle.append(lane)
                if error is not None:
                    failure = failure or error
                    todo.clear()
                    continue
                results[index] = result
                while reported < len(tests) and results[reported] is not None:
                    if plan.on_result:
                        plan.on_result(results[reported])
                    reported += 1
        if failure is not None:
            raise failure
        if plan.on_result:                  # after a test that never started (time ran out)
            for result in results[reported:]:
                if result is not None:
                    plan.on_result(result)
    finally:
        _close_lanes(lanes, running, opening, events)
    return results, len(todo)


def _close_lanes(lanes: list[Lane], running: dict, opening: list[threading.Thread],
                 events: queue.Queue) -> None:
    """Close every lane but the first (the caller's: it closes it and releases its slot).
    When cancelled, every busy lane is closed first, the first one too (closing a box
    twice is harmless): that kills its programs, so its test ends soon."""
    grace = Deadline.after(CANCEL_GRACE, "tests of a cancelled run to end")
    for lane in lanes:                   # only when cancelled is a lane still busy here
        if lane.test is not None:
            _quietly(lane.close)
    for _, t in list(running.values()) + [(None, t) for t in opening]:
        t.join(max(grace.remaining(), 0))
    while True:                          # lanes that opened after all
        try:
            kind, lane, *_ = events.get_nowait()
        except queue.Empty:
            break
        if kind == "opened":
            lanes.append(lane)
    for lane in lanes[1:]:
        if lane.test is None:
            _quietly(lane.close)
        if lane.slot is not None:
            lane.slot.release()


def _release(lane: Lane) -> None:
    _quietly(lane.close)
    if lane.slot is not None:
        lane.slot.release()
        lane.slot = None


def _quietly(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:          # noqa: BLE001 - closing what may already be gone
        pass


__all__ = ["Lane", "MachineSlots", "Plan", "default_limit", "first_slot", "run_side_by_side"]
