"""Deadlines on a busy machine (grader.cpuwait): a program kept from a processor gets
that time back, so a loaded machine does not move a verdict."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader import TestStatus, cpuwait, grade, load_spec
from grader.deadline import Deadline

pytestmark = [pytest.mark.timeout(120), pytest.mark.alone]   # durations and CPU time

needs_schedstat = pytest.mark.skipif(not os.path.exists("/proc/self/schedstat"),
                                     reason="no /proc/PID/schedstat (Linux only)")

HOG = "import os, time\nos.sched_setaffinity(0, {0})\nend = time.monotonic() + 60\nwhile time.monotonic() < end: pass"


@pytest.fixture
def hogs_on_cpu0():
    """Two busy loops pinned to processor 0 (each ends itself after a minute)."""
    procs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(2)]
    yield
    for p in procs:
        p.kill()
        p.wait()


def test_a_stretched_deadline_moves_on_by_the_time_waited_and_no_further():
    waited = [0.0]
    d = Deadline.after(0.05, "a reply").stretched_by(lambda: waited[0], most=0.3)
    waited[0] = 0.2
    time.sleep(0.06)
    assert d.remaining() > 0.1                 # moved on by 0.2 s
    assert d.moved == pytest.approx(0.2)
    waited[0] = 5.0                            # more than it may ever move
    time.sleep(d.remaining() + 0.01)
    assert d.remaining() > 0                   # moved on once more, to its cap
    assert d.moved == pytest.approx(0.3)
    time.sleep(d.remaining() + 0.01)
    assert d.expired and d.moved == pytest.approx(0.3)
    assert d.describe() == "0.05 s"            # messages keep the time the program was given


def test_a_deadline_with_nothing_waited_ends_on_time():
    also = Deadline.after(10, "the test")
    end = also.end
    d = Deadline.after(0.05, "a reply").stretched_by(lambda: 0.001, most=1, also=also)
    time.sleep(0.06)
    assert d.expired and d.moved == 0 and also.end == end


def test_a_wait_cut_short_by_the_tests_limit_follows_that_limit_when_it_moves_on():
    """A step's wait clipped by the test's limit gets its time back (up to what it asked
    for) when a busy machine moves that limit on."""
    waited = [0.0]
    test = Deadline.after(0.05, "the test").stretched_by(lambda: waited[0], most=1.0)
    step = test.sooner(0.3, "a reply")
    assert step.clipped and step.seconds <= 0.05
    waited[0] = 0.1
    time.sleep(0.06)
    assert step.remaining() > 0.05 and step.end == test.end     # followed the test's limit
    assert step.clipped                                          # still short of its 0.3 s
    waited[0] = 1.0
    time.sleep(step.remaining() + 0.01)
    assert step.remaining() > 0 and not step.clipped             # its whole 0.3 s now
    assert step.describe() == "0.3 s"
    time.sleep(step.remaining() + 0.01)
    assert step.expired and test.remaining() > 0                 # never past what it asked for


def _fake_stats(stats, runnable: set[int]):
    """A stand-in for cpuwait._schedstats: ``stats()``, and ``runnable`` as runnable now."""
    def fake(pids, found=None):
        if found is not None:
            found |= runnable
        return stats()
    return fake


def test_a_thread_runnable_at_the_end_gets_a_little_more_while_it_has_not_run(monkeypatch):
    """run_delay shows a wait only once the thread runs: a thread woken near the end and
    still waiting moves the deadline on in small steps, until it runs (then its run time
    changed) or the cap."""
    run = {7: 100}
    runnable = {7}
    monkeypatch.setattr(cpuwait, "_schedstats", _fake_stats(lambda: {7: (run[7], 0)}, runnable))
    monkeypatch.setattr(cpuwait, "_idle", lambda tid: False)
    meter = cpuwait.CpuWait([1])
    first = meter.seconds()
    assert first == pytest.approx(cpuwait.RUNNABLE_STEP)
    assert meter.seconds() == pytest.approx(2 * cpuwait.RUNNABLE_STEP)   # has not run since
    run[7] = 200                                                        # it ran: computing
    assert meter.seconds() <= 2 * cpuwait.RUNNABLE_STEP
    runnable.clear()
    assert cpuwait.CpuWait([1]).seconds() == 0                         # nothing runnable


def test_a_program_busy_with_its_own_threads_gets_nothing_for_being_runnable(monkeypatch):
    monkeypatch.setattr(cpuwait, "_idle", lambda tid: False)
    monkeypatch.setattr(cpuwait, "_processors", lambda pids: 1)
    monkeypatch.setattr(cpuwait, "_schedstats", _fake_stats(lambda: {7: (0, 0)}, {7}))
    meter = cpuwait.CpuWait([1])
    time.sleep(0.05)
    monkeypatch.setattr(cpuwait, "_schedstats",
                        _fake_stats(lambda: {7: (int(1e9), 0)}, {7}))          # ran all along
    assert meter.seconds() == 0


@needs_schedstat
def test_the_wait_of_a_runnable_program_is_counted_and_a_sleeping_ones_is_not(hogs_on_cpu0):
    busy = subprocess.Popen([sys.executable, "-c", HOG])
    asleep = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.3)                        # both started
        busy_wait, sleep_wait = cpuwait.CpuWait([busy.pid]), cpuwait.CpuWait([asleep.pid])
        time.sleep(1.0)
        # Three busy loops on one processor: each waits about 2/3 of the time.
        assert busy_wait.seconds() > 0.3
        assert sleep_wait.seconds() < 0.05
    finally:
        for p in (busy, asleep):
            p.kill()
            p.wait()


@needs_schedstat
def test_a_thread_at_idle_priority_is_not_counted(hogs_on_cpu0):
    """A proven spinner runs at idle priority (grader.spin): it waits by design."""
    spinner = subprocess.Popen([sys.executable, "-c", HOG])
    try:
        time.sleep(0.3)
        meter = cpuwait.CpuWait([spinner.pid])
        time.sleep(1.0)                        # kept waiting beside the hogs, at normal priority
        assert meter.seconds() > 0.3
        os.sched_setscheduler(spinner.pid, os.SCHED_IDLE, os.sched_param(0))
        assert meter.seconds() == 0
    finally:
        spinner.kill()
        spinner.wait()


@needs_schedstat
def test_a_program_that_keeps_itself_waiting_is_not_counted():
    """Four busy processes of one program on one processor wait 3/4 of the time, but for
    each other: the processor had nothing left over for anyone else."""
    forks = ("import os, time\nos.sched_setaffinity(0, {0})\n"
             "for _ in range(3):\n    if os.fork() == 0: break\n"
             "end = time.monotonic() + 60\nwhile time.monotonic() < end: pass")
    program = subprocess.Popen([sys.executable, "-c", forks], start_new_session=True)
    try:
        time.sleep(0.3)                        # all four running
        meter = cpuwait.CpuWait([program.pid])
        time.sleep(1.0)
        assert max(d for _, d in cpuwait._schedstats([program.pid]).values()) > 0.5e9
        assert meter.seconds() < 0.1
    finally:
        os.killpg(program.pid, 9)
        program.wait()


SPEC = textwrap.dedent("""\
    assignment: busy
    role: server
    protocol: tcp
    port: 5001
    limits: {ready: 3, step: 2, test: 20}
    languages:
      python:
        files: [server.py]
        run: [python3, server.py, "{port}"]
    reference:
      run: [python3, "{reference}/tcp_echo_server.py", "{port}"]
    tests:
      - name: echo
        points: 1
        steps:
          - connect: a
          - send: {to: a, text: "sum\\n"}
          - expect: {from: a, echo: true}
    """)

# Needs 1.4 s of processor time before it answers (within the 2 s step on an idle
# machine), on processor 0 only: beside two busy loops there, it gets a third to a half
# of it (its box is a cgroup of its own, weighed against theirs).
COMPUTES = """\
    import os, socket, sys, time
    os.sched_setaffinity(0, {0})
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    while True:
        c, _ = s.accept()
        data = c.recv(100)
        start = time.process_time()
        while time.process_time() - start < 1.4:
            pass
        c.sendall(data); c.close()
    """


def _grade(tmp_path: Path):
    (tmp_path / "busy.yaml").write_text(SPEC)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "server.py").write_text(textwrap.dedent(COMPUTES))
    r = grade(load_spec(tmp_path / "busy.yaml"), sub)
    assert len(r.tests) == 1
    return r.tests[0]


@needs_schedstat
def test_a_program_kept_from_the_processor_still_answers_within_its_time(tmp_path, hogs_on_cpu0):
    t = _grade(tmp_path)
    assert t.status is TestStatus.PASSED, t.feedback
    assert t.duration > 2.0, t.duration         # it did need more than the 2 s of the clock


@needs_schedstat
def test_without_the_stretch_the_busy_machine_would_fail_it(tmp_path, hogs_on_cpu0, monkeypatch):
    # What the stretch is for: the same program, the same load, deadlines on the clock.
    monkeypatch.setattr(cpuwait, "MOST", 0.0)
    t = _grade(tmp_path)
    assert t.status is TestStatus.FAILED
    assert "waited 2 s" in t.feedback and "0 bytes came" in t.feedback, t.feedback


def test_a_grader_that_ran_only_after_the_deadline_still_sees_what_came_in_time():
    """The grader is a process on the same busy machine: when its own thread gets a
    processor only after a wait's deadline, bytes that came in time sit in its socket,
    and the grader's own bytes wait to be written. Both count (seen in a 20-round
    repeat run under load: a correct server failed "could not send 3 bytes within 2 s",
    and a Java one "0 bytes came", while the grader itself waited for a processor)."""
    import socket

    from grader.conns import Net, TcpConn
    with socket.create_server(("127.0.0.1", 0)) as ls:
        mine = socket.create_connection(ls.getsockname())
        peer, _ = ls.accept()
    with mine, peer:
        mine.setblocking(False)
        net = Net()
        conn = TcpConn("a", mine)
        net.add(conn)
        peer.sendall(b"in time\n")                  # came before the deadline...
        late = Deadline.after(0.0, "the echo")      # ...which passed before the grader looked
        time.sleep(0.05)
        assert net.pump(late, lambda: b"\n" in conn.inbuf)
        assert conn.inbuf == b"in time\n"
        conn.queue(b"xyz")
        assert net.pump(Deadline.after(0.0, "sending"), lambda: not conn.outq)
        assert peer.recv(10) == b"xyz"
        # Nothing came: the deadline stands.
        assert not net.pump(Deadline.after(0.0, "more"), lambda: b"more" in conn.inbuf)
