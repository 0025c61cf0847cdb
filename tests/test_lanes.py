"""A submission's tests side by side (grader/lanes.py): same verdicts as one by one,
results and progress in the spec's order, the machine-wide limit on tests at once."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from conftest import SPECS, SUBMISSIONS
from grader import lanes
from grader.deadline import Deadline, poll_until
from grader.engine import GradeOptions, grade
from grader.lanes import SLOT_NAME, MachineSlots
from grader.spec import load_spec

pytestmark = [pytest.mark.timeout(300), pytest.mark.alone]   # machine-wide slots, durations

# Two multi-bug samples (each fails several tests for several reasons) and a fork bomb
# (a lane's process cap must not take the processes of the test beside it): their
# verdicts side by side and one by one.
# (tests/test_independence.py compares every multi-bug sample side by side with each
# test alone; these are the quicker ones, one by one being slow by nature.)
SAMPLES = [("tcp-echo", "c-threads-strlen-sigpipe"), ("udp-echo", "c-unchecked-bind-1k-buffer"),
           ("hostile", "fork-bomb")]


def _spec_of(assignment: str):
    return load_spec(SPECS / ("tcp-echo.yaml" if assignment == "hostile" else f"{assignment}.yaml"))


@pytest.mark.parametrize("assignment,name", SAMPLES, ids=[f"{a}/{n}" for a, n in SAMPLES])
def test_side_by_side_gives_the_verdicts_of_one_by_one(assignment, name):
    folder = SUBMISSIONS / assignment / name
    if not folder.is_dir():
        pytest.fail(f"sample {assignment}/{name} is gone: pick another multi-bug sample")
    spec = _spec_of(assignment)
    one = grade(spec, folder, GradeOptions(visible_only=False, tests_at_once=1))
    many = grade(spec, folder, GradeOptions(visible_only=False, tests_at_once=8))
    assert [t.name for t in many.tests] == [t.name for t in one.tests]
    differ = [(a.name, a.status.value, b.status.value, a.feedback if not a.passed else b.feedback)
              for a, b in zip(one.tests, many.tests) if a.status != b.status]
    assert not differ, f"(test, one by one, side by side, feedback): {differ}"
    # (an error is the grader's: e.g. the fork bomb's reference client that could not start)
    errors = [(t.name, t.feedback) for t in one.tests + many.tests if t.status.value == "error"]
    assert not errors
    assert many.score == one.score
    assert one.score < one.max_score          # a broken sample: the comparison means something


@pytest.fixture
def idle_machine(monkeypatch):
    """Lanes open whatever else runs on the machine (a loaded machine keeps a run on
    fewer lanes, by design: see test_a_busy_machine_is_seen_as_busy)."""
    monkeypatch.setattr(lanes.MachineLoad, "busy", property(lambda self: False))


def test_tests_overlap_and_come_back_in_the_specs_order(idle_machine):
    """A slow starter (1.5 s before it listens) on four tests: side by side they take
    about one start in wall time; the results and the progress calls keep the spec's order."""
    spec = load_spec(SPECS / "tcp-echo.yaml")
    names = ["echo-line", "half-close", "two-clients", "sequential-clients"]
    seen: list[str] = []
    r = grade(spec, SUBMISSIONS / "tcp-echo" / "py-correct-slow-start",
              GradeOptions(only=names, tests_at_once=8, on_test=lambda t: seen.append(t.name)))
    assert [t.name for t in r.tests] == [t.name for t in spec.tests if t.name in names]
    assert seen == [t.name for t in r.tests]
    assert all(t.passed for t in r.tests), [t.feedback for t in r.tests if not t.passed]
    assert all(t.duration >= 1.5 for t in r.tests)
    # one by one this would take at least the sum; side by side well under it
    assert r.timings["tests"] < 0.75 * sum(t.duration for t in r.tests), r.timings


def test_one_at_a_time_runs_tests_one_after_another():
    spec = load_spec(SPECS / "tcp-echo.yaml")
    names = ["echo-line", "half-close"]
    r = grade(spec, SUBMISSIONS / "tcp-echo" / "py-correct-slow-start",
              GradeOptions(only=names, tests_at_once=1))
    assert all(t.passed for t in r.tests)
    assert r.timings["tests"] >= sum(t.duration for t in r.tests)


def test_slots_are_a_limit_and_a_dead_holder_frees_its_slot():
    slots = MachineSlots(2)
    # The test's own slots must not collide with a grader running beside the suite:
    # take what is free, and check the limit on what this test holds.
    a, b = slots.try_take(), slots.try_take()
    if a is None or b is None:
        pytest.skip("another grader on this machine holds the first test slots")
    try:
        assert slots.try_take() is None
        assert slots.take(Deadline.after(0.1)) is None
    finally:
        b.release()
    c = slots.take(Deadline.after(1.0))
    assert c is not None and c.number == b.number
    c.release()
    a.release()
    # A process that holds slot 0 and is killed frees it: nothing goes stale.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import socket,sys,time\n"
         f"s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind({SLOT_NAME.format(0)!r})\n"
         "print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        one = MachineSlots(1)
        assert one.try_take() is None
        holder.kill()
        holder.wait(10)
        got = one.take(Deadline.after(2.0))
        assert got is not None
        got.release()
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdout.close()


def test_a_run_waits_for_a_free_slot():
    """Tests at once are limited for every grader together: while another holds the
    only slot, a run waits, and goes on as soon as the slot is free."""
    one = MachineSlots(1)
    held = one.take(Deadline.after(5.0))
    assert held is not None
    spec = load_spec(SPECS / "tcp-echo.yaml")
    done = threading.Event()
    out = {}

    def run() -> None:
        out["r"] = grade(spec, SUBMISSIONS / "tcp-echo" / "c-correct-fork",
                         GradeOptions(only=["echo-line"], tests_at_once=1))
        done.set()
    t = threading.Thread(target=run)
    t.start()
    try:
        assert not done.wait(1.0), "the run did not wait for the slot"
    finally:
        held.release()
    t.join(60)
    assert done.is_set() and [t.status.value for t in out["r"].tests] == ["passed"]


def test_a_busy_machine_is_seen_as_busy():
    """Three busy loops per processor: the processors are all busy, and no lane would open."""
    n = 3 * lanes.cpus()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        load = lanes.MachineLoad()
        seen: list[bool] = []

        def busy_thrice() -> bool:
            load.look()
            seen.append(load.busy)
            return sum(seen) >= 3
        assert poll_until(busy_thrice, Deadline.after(5.0), interval=lanes.TICK), seen
    finally:
        for h in hogs:
            h.kill()
            h.wait()
