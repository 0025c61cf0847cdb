"""Waits that end on evidence (grader.stuck): early when nothing can come, never while
the program could still answer."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader import TestStatus, grade, load_spec

pytestmark = [pytest.mark.timeout(120), pytest.mark.alone]   # durations and CPU time

SPEC = textwrap.dedent("""\
    assignment: waits
    role: server
    protocol: tcp
    port: 5001
    limits: {ready: 3, step: 2, test: 10}
    languages:
      python:
        files: [server.py]
        run: [python3, server.py, "{port}"]
    reference:
      run: [python3, "{reference}/tcp_echo_server.py", "{port}"]
    tests:
      - name: echo-then-eof
        points: 1
        steps:
          - connect: a
          - send: {to: a, text: "late\\n"}
          - shutdown: a
          - expect: {from: a, echo: true}
          - expect_eof: a
    """)

# Answers after 1.5 s (a sleep: it can still act), then closes: within the 2 s step.
LATE = """\
    import socket, sys, time
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    while True:
        c, _ = s.accept()
        data = c.recv(100)
        time.sleep(1.5)
        c.sendall(data); c.close()
    """

# Answers after 1.5 s from another thread, while the main thread blocks in accept():
# the thread that sleeps could still act.
LATE_THREAD = """\
    import socket, sys, threading, time
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    def serve(c):
        data = c.recv(100)
        time.sleep(1.5)
        c.sendall(data); c.close()
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,)).start()
    """

# A fork server whose parent waits for each child before it accepts again (waitpid()
# without WNOHANG); CHILD is what the child does with its connection ``c``.
FORKS_AND_WAITS = """\
    import os, socket, sys, threading, time
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    while True:
        c, _ = s.accept()
        if os.fork() == 0:
            CHILD
            os._exit(0)
        c.close()
        os.waitpid(-1, 0)
    """
# The child answers after 1.5 s: the child that sleeps could still act.
LATE_CHILD = FORKS_AND_WAITS.replace(
    "CHILD", "data = c.recv(100); time.sleep(1.5); c.sendall(data); c.close()")
# The child echoes, then waits for good (an event no one sets) with the connection
# open: the parent's waitpid() cannot end, nor the stream.
CHILD_NEVER_ENDS = FORKS_AND_WAITS.replace("CHILD", "c.sendall(c.recv(100)); threading.Event().wait()")

# Answers after a thread's timed wait of 1.5 s (a timed futex wait that ends within the step).
LATE_TIMED_WAIT = """\
    import socket, sys, threading
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    def serve(c):
        data = c.recv(100)
        threading.Event().wait(1.5)
        c.sendall(data); c.close()
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,)).start()
    """

# Echoes, then keeps the connection open and waits in accept(): the end of the stream
# cannot come (the classic fork server whose parent keeps the connected socket).
KEEPS_IT_OPEN = """\
    import socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    kept = []
    while True:
        c, _ = s.accept()
        c.sendall(c.recv(100))
        kept.append(c)
    """
# The same, beside a thread in a timed wait that ends long after the test's time limit
# (the Go runtime's monitor sleeps 60 s when all is idle).
KEEPS_IT_OPEN_TIMER = KEEPS_IT_OPEN.replace(
    "kept = []", "kept = []; threading.Thread(target=threading.Event().wait, args=(60,)).start()"
).replace("import socket, sys", "import socket, sys, threading")

# Go: answers 1.5 s late from a goroutine (a timer: the runtime's epoll_pwait is timed).
GO_LATE = """\
    package main

    import ("net"; "os"; "time")

    func main() {
        ln, _ := net.Listen("tcp", ":"+os.Args[1])
        for {
            c, _ := ln.Accept()
            go func(c net.Conn) {
                buf := make([]byte, 100)
                n, _ := c.Read(buf)
                time.Sleep(1500 * time.Millisecond)
                c.Write(buf[:n]); c.Close()
            }(c)
        }
    }
    """
# Go: echoes once and keeps the connection open (every goroutine parked, no timer).
GO_KEEPS_IT_OPEN = GO_LATE.replace("time.Sleep(1500 * time.Millisecond)", "").replace(
    "c.Write(buf[:n]); c.Close()", "c.Write(buf[:n]); kept = append(kept, c)").replace(
    '"time")', ')\n\nvar kept []net.Conn')
GO_SPEC = SPEC.replace(
    '  python:\n    files: [server.py]\n    run: [python3, server.py, "{port}"]\n',
    '  go:\n    files: [server.go]\n    libc: false\n'
    '    build: [[env, GO111MODULE=off, GOCACHE=/tmp/go-build, GOTMPDIR=/tmp, go, build, -o, server,'
    ' server.go]]\n    run: [./server, "{port}"]\n')
assert GO_SPEC != SPEC


UDP_SPEC = SPEC.replace("protocol: tcp", "protocol: udp").replace(
    "tcp_echo_server.py", "udp_echo_server.py").replace(
    """      - connect: a
      - send: {to: a, text: "late\\n"}
      - shutdown: a
      - expect: {from: a, echo: true}
      - expect_eof: a
""", """      - udp: a
      - send: {to: a, text: "late\\n"}
      - expect: {from: a, echo: true}
""")
assert "udp: a" in UDP_SPEC and "udp_echo_server" in UDP_SPEC

# Answers once its recvfrom() has timed out (SO_RCVTIMEO, 1 s: a timed wait that a
# plain blocking call hides in the socket).
UDP_LATE_TIMEOUT = """\
    import socket, struct, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("", int(sys.argv[1])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 1, 0))
    last = None
    while True:
        try:
            last = s.recvfrom(100)
        except BlockingIOError:
            if last:
                s.sendto(*last); last = None
    """
# Reads each datagram and never answers: asleep in recvfrom() with nothing to read.
UDP_SILENT = """\
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("", int(sys.argv[1])))
    while True:
        s.recvfrom(100)
    """
# The same, asleep in select() (no timeout) on its socket.
UDP_SILENT_SELECT = UDP_SILENT.replace(
    "import socket, sys", "import select, socket, sys").replace(
    "        s.recvfrom(100)", "        select.select([s], [], []); s.recvfrom(100)")
# Reads one datagram and exits: nothing is left to answer.
UDP_EXITS = UDP_SILENT.replace("while True:\n        s.recvfrom(100)", "s.recvfrom(100)")
assert UDP_EXITS != UDP_SILENT


@pytest.fixture
def no_replays(monkeypatch):
    """What is timed is the wait, not the replay under strace that adds evidence to a
    failed test's causes (capped per step, and slow on a loaded machine)."""
    from grader import evidence
    monkeypatch.setattr(evidence, "MODE", "off")


def _grade(tmp_path: Path, code: str, spec: str = SPEC):
    (tmp_path / "waits.yaml").write_text(spec)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / ("server.go" if spec is GO_SPEC else "server.py")).write_text(textwrap.dedent(code))
    r = grade(load_spec(tmp_path / "waits.yaml"), sub)
    assert len(r.tests) == 1
    return r.tests[0]


@pytest.mark.parametrize("code", [LATE, LATE_THREAD, LATE_CHILD, LATE_TIMED_WAIT, GO_LATE],
                         ids=["sleeps", "a-thread-sleeps", "a-child-sleeps",
                              "a-thread-in-a-timed-wait", "go-sleeps"])
def test_a_late_answer_within_the_deadline_still_passes(tmp_path, code):
    t = _grade(tmp_path, code, GO_SPEC if code is GO_LATE else SPEC)
    assert t.status is TestStatus.PASSED, t.feedback
    assert t.duration > 1.4            # the wait was not cut short


@pytest.mark.parametrize("code", [KEEPS_IT_OPEN_TIMER, GO_KEEPS_IT_OPEN],
                         ids=["python-thread-waits-60-s", "go"])
def test_a_timed_wait_past_the_test_limit_does_not_keep_the_deadline(tmp_path, no_replays, code):
    t = _grade(tmp_path, code, GO_SPEC if code is GO_KEEPS_IT_OPEN else SPEC)
    assert t.status is TestStatus.FAILED
    assert "nothing can come any more" in t.feedback, t.feedback
    assert "a thread asleep until after the test's time limit (a timed wait)" in t.feedback
    assert "no-close" in t.diagnoses
    assert t.duration < 1.5, t.duration         # not the step's 2 s


def test_a_datagram_answered_when_a_receive_timeout_ends_still_passes(tmp_path):
    t = _grade(tmp_path, UDP_LATE_TIMEOUT, UDP_SPEC)
    assert t.status is TestStatus.PASSED, t.feedback
    assert t.duration > 0.9            # the wait was not cut short


@pytest.mark.parametrize("code, said", [
    (UDP_SILENT, "recvfrom() on UDP port 5001 with no datagram waiting"),
    (UDP_SILENT_SELECT, "select() on sockets none of which is ready"),
    (UDP_EXITS, "the program has ended, and none of its processes is left, so nothing can "
                "send any more"),
], ids=["recvfrom", "select", "exited"])
def test_a_datagram_that_cannot_come_ends_the_wait_at_once(tmp_path, no_replays, code, said):
    t = _grade(tmp_path, code, UDP_SPEC)
    assert t.status is TestStatus.FAILED
    assert "no datagram came back on a and none can come any more" in t.feedback, t.feedback
    assert said in t.feedback, t.feedback
    assert t.duration < 1.5, t.duration         # not the step's 2 s


def test_a_datagram_in_a_receive_backlog_may_still_come(tmp_path, monkeypatch):
    from grader import stuck
    stat = tmp_path / "softnet_stat"
    monkeypatch.setattr(stuck, "SOFTNET_STAT", str(stat))
    row = "003d02a5 00000000 00000002" + " 00000000" * 8 + " {} 00000000 {} 00000000\n"
    stat.write_text(row.format("00000000", "00000000") * 2)
    assert stuck._no_datagram_on_its_way()
    stat.write_text(row.format("00000000", "00000000") + row.format("00000001", "00000001"))
    assert not stuck._no_datagram_on_its_way()
    stat.write_text("003d02a5 00000000 00000002\n")        # a kernel before 5.10: not told
    assert not stuck._no_datagram_on_its_way()


def test_an_end_of_stream_that_cannot_come_ends_the_wait_at_once(tmp_path, no_replays):
    t = _grade(tmp_path, KEEPS_IT_OPEN)
    assert t.status is TestStatus.FAILED
    # (one sentence: what was waited for, then that it cannot come)
    assert "waited on a for the end of the stream (the peer closing or shutting down), but " \
        "nothing can come any more" in t.feedback, t.feedback
    assert "accept() on port 5001 with no client waiting" in t.feedback
    assert "no-close" in t.diagnoses             # the same cause as after the whole wait
    assert t.duration < 1.5, t.duration         # not the step's 2 s


# Reads the request and closes the connection without an answer, then serves on.
CLOSES_UNANSWERED = """\
    import socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    while True:
        c, _ = s.accept()
        c.recv(100)
        c.close()
    """
# The same, but on its way out: it exits 0.3 s after that close (a sleep: it can act).
CLOSES_THEN_EXITS = CLOSES_UNANSWERED.replace(
    "        c.close()", "        c.close(); time.sleep(0.3); sys.exit(3)").replace(
    "import socket, sys", "import socket, sys, time")
assert CLOSES_THEN_EXITS != CLOSES_UNANSWERED


def test_a_failed_step_waits_for_no_exit_that_cannot_come(tmp_path, no_replays, monkeypatch):
    """A failed step gives a program on its way out time to exit, so that the exit is
    named (EXIT_EVIDENCE_WAIT); a program asleep in accept() is not on its way out."""
    from grader import steps
    monkeypatch.setattr(steps, "EXIT_EVIDENCE_WAIT", 5.0)
    t = _grade(tmp_path, CLOSES_UNANSWERED)
    assert t.status is TestStatus.FAILED
    assert "the stream ended after 0 bytes" in t.feedback, t.feedback
    assert "closed-early" in t.diagnoses, t.diagnoses
    assert t.duration < 3.0, t.duration         # not the 5 s given to an exit


def test_a_program_on_its_way_out_still_has_its_exit_named(tmp_path, no_replays, monkeypatch):
    from grader import steps
    monkeypatch.setattr(steps, "EXIT_EVIDENCE_WAIT", 5.0)
    t = _grade(tmp_path, CLOSES_THEN_EXITS)
    assert t.status is TestStatus.FAILED
    assert "exited with status 3" in t.feedback, t.feedback
    assert "closed-early" not in t.diagnoses, t.diagnoses


def test_bytes_sent_into_a_reset_connection_are_not_in_flight():
    """The kernel still counts what the grader sent into a connection its peer has reset
    (SIOCOUTQ), but none of it can go anywhere: no wait may be kept for it."""
    import socket
    from grader import stuck as st
    from grader.deadline import Deadline, poll_until
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        with socket.create_connection(srv.getsockname()) as cli:
            conn, _ = srv.accept()
            conn.close()                        # a FIN; bytes sent to it now get a reset
            assert cli.recv(10) == b""
            cli.send(b"hi\n")
            assert poll_until(lambda: cli.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
                              == st.TCP_CLOSE, Deadline.after(5, "the reset"))
            import fcntl
            import struct
            raw = struct.unpack("i", fcntl.ioctl(cli.fileno(), st.SIOCOUTQ, b"\0" * 4))[0]
            assert raw == 3                     # what the kernel still counts ...
            assert st.unsent(cli) == 0          # ... and what can still go


# Threads serve; the main thread waits in pause() for a signal nothing sends.  The
# serving thread echoes and keeps the connection: the end of the stream cannot come.
PAUSES = """\
    import signal, socket, sys, threading
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    kept = []
    def serve():
        while True:
            c, _ = s.accept()
            c.sendall(c.recv(100))
            kept.append(c)
    threading.Thread(target=serve, daemon=True).start()
    while True:
        signal.pause()
    """
# Answers once alarm(1) has ended its pause(): a timer the kernel fires by itself.
ALARM_THEN_ANSWERS = """\
    import signal, socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    signal.signal(signal.SIGALRM, lambda *_: None)
    while True:
        c, _ = s.accept()
        data = c.recv(100)
        signal.alarm(1)
        signal.pause()
        c.sendall(data); c.close()
    """


def _alarm_due_within(seconds: float) -> bool:
    """Another program on this machine has an alarm()/setitimer() timer due within
    ``seconds`` (its owner is not shown, so it keeps every pause()'s deadline)."""
    from grader import stuck
    try:
        text = Path(stuck.TIMER_LIST).read_text()
    except OSError:
        return True
    return any(int(m.group(1)) / 1e9 < seconds for m in stuck._REAL_TIMER.finditer(text))


def test_a_thread_in_pause_that_nothing_will_signal_cannot_act(tmp_path, no_replays):
    if _alarm_due_within(15):
        pytest.skip("/proc/timer_list is not readable, or another program's alarm is due soon")
    t = _grade(tmp_path, PAUSES)
    assert t.status is TestStatus.FAILED
    assert "nothing can come any more" in t.feedback, t.feedback
    assert "pause() waiting for a signal that nothing will send" in t.feedback
    assert "no-close" in t.diagnoses
    assert t.duration < 1.5, t.duration         # not the step's 2 s


def test_a_pause_that_an_alarm_ends_within_the_deadline_still_passes(tmp_path):
    t = _grade(tmp_path, ALARM_THEN_ANSWERS)
    assert t.status is TestStatus.PASSED, t.feedback
    assert t.duration > 0.9            # the wait was not cut short


def _syscall_number(path):
    """The call a thread is in, from /proc/PID/syscall; None while it runs ("running")."""
    first = path.read_text().split()[0]
    return int(first) if first.lstrip("-").isdigit() else None


@pytest.mark.parametrize("setup, horizon, blocked", [
    ("", 5, True),
    ("signal.setitimer(signal.ITIMER_REAL, 100)", 5, True),    # fires after the wait
    ("signal.setitimer(signal.ITIMER_REAL, 100)", None, False),
    ("signal.setitimer(signal.ITIMER_REAL, 1)", 5, False),     # fires within it
    ("a = socket.socket(); fcntl.fcntl(a, fcntl.F_SETOWN, os.getpid()); "
     "fcntl.fcntl(a, fcntl.F_SETFL, os.O_ASYNC)", 5, False),   # SIGIO on input
], ids=["nothing", "alarm-after", "alarm-no-horizon", "alarm-within", "o-async"])
def test_what_can_signal_a_process_in_pause(setup, horizon, blocked):
    import os
    import subprocess
    import sys
    import time

    from grader import stuck
    if not os.access(stuck.TIMER_LIST, os.R_OK):
        pytest.skip("/proc/timer_list is readable by root only")
    code = ("import fcntl, os, signal, socket\n"
            "signal.signal(signal.SIGALRM, lambda *_: None)\n"
            f"{setup}\nprint(flush=True)\nsignal.pause()\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        child.stdout.readline()
        end = time.monotonic() + 10
        syscall = Path(f"/proc/{child.pid}/syscall")
        # /proc/PID/syscall says "running" while the child has not yet reached pause().
        while time.monotonic() < end and stuck.CALLS.get(
                _syscall_number(syscall)) not in ("pause", "sigsuspend"):
            time.sleep(0.01)
        assert stuck.CALLS.get(_syscall_number(syscall)) in ("pause", "sigsuspend"), \
            syscall.read_text()
        if blocked and _alarm_due_within(horizon + stuck.CLOCK_SLACK + 1):
            pytest.skip("another program on this machine has an alarm due within the wait")
        b = stuck._blocked(child.pid, child.pid, None if horizon is None else time.monotonic() + horizon)
        assert (b is not None) is blocked, b
        if blocked:
            assert b.call == "pause()" and "waiting for a signal" in b.words()
    finally:
        child.kill()
        child.wait()


def test_a_parent_in_waitpid_for_a_blocked_child_cannot_act(tmp_path, no_replays):
    t = _grade(tmp_path, CHILD_NEVER_ENDS)
    assert t.status is TestStatus.FAILED
    assert "nothing can come any more" in t.feedback, t.feedback
    assert "waitpid() for a child process that is itself blocked" in t.feedback
    assert t.duration < 1.5, t.duration         # not the step's 2 s


# 1 MiB to echo within 5 s: more than the two sockets' buffers hold, so the grader's
# bytes wait in its own socket until the server reads.
BIG_SPEC = SPEC.split("tests:")[0] + textwrap.dedent("""\
    tests:
      - name: large
        points: 1
        steps:
          - connect: a
          - send: {to: a, random: {size: 1048576}}
          - expect: {from: a, echo: true, within: 5}
    """)

# Each client's thread reads once, echoes, and ends, keeping the connection open (the
# thread that died on a decode error): the main thread waits in accept() while the
# client's bytes pile up in a connection no thread reads.
STOPS_READING = """\
    import socket, sys, threading
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    kept = []
    def serve(c):
        kept.append(c)
        c.sendall(c.recv(1000))
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,)).start()
    """

# Reads 64 KiB at a time with a pause between, and echoes it all after about 1.6 s.
READS_SLOWLY = """\
    import socket, sys, time
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    c, _ = s.accept()
    got = 0
    while got < 1 << 20:
        data = c.recv(65536)
        got += len(data)
        c.sendall(data)
        time.sleep(0.1)
    s.accept()
    """


def test_bytes_piling_up_where_no_thread_reads_end_the_wait(tmp_path, no_replays):
    t = _grade(tmp_path, STOPS_READING, BIG_SPEC)
    assert t.status is TestStatus.FAILED
    assert "nothing can come any more" in t.feedback, t.feedback
    assert "accept() on port 5001 with no client waiting; meanwhile " in t.feedback
    assert "bytes wait unread in a connection on port 5001 that no thread reads" in t.feedback
    assert t.duration < 3, t.duration           # not the step's 5 s


def test_a_slow_reader_of_bytes_in_flight_keeps_its_time(tmp_path):
    t = _grade(tmp_path, READS_SLOWLY, BIG_SPEC)
    assert t.status is TestStatus.PASSED, t.feedback
    assert t.duration > 1.5


def test_which_bytes_in_flight_can_wake_a_thread():
    """Bytes on their way matter only where a thread waits for them (to read them, or for
    the room they take): judged from each thread's sockets."""
    from grader import stuck as st
    server, client, grader_end = ("127.0.0.1", 5001), ("127.0.0.1", 40000), ("127.0.0.1", 40001)
    conn = (server, client)             # the server's end of the client's connection
    other = (server, grader_end)        # the server's end of the grader's connection
    in_accept = st.Blocked(1, "accept()", True, 5001, reads=frozenset(), writes=frozenset())
    reads_conn = st.Blocked(1, "recv()", False, 5001, reads=frozenset([conn]), writes=frozenset())
    polls_out = st.Blocked(2, "poll()", False, 0, reads=frozenset(),     # the client's end
                           writes=frozenset([(client, server)]))
    unknown = st.Blocked(1, "epoll_wait()", False, 0)

    def judge(found, queued=0, grader=(), running=False):
        socks = st.Sockets({conn: (queued, 0), other: (0, 0)}, {5001: 0})
        return st._nothing_in_flight(socks, found, list(grader), unknown=running)

    assert judge([in_accept])                                  # nothing on its way
    assert judge([in_accept], grader=[conn])                   # to a connection no one reads
    assert not judge([reads_conn], grader=[conn])              # to one a thread reads
    assert judge([reads_conn], grader=[other])
    assert not judge([in_accept], grader=[(server, ("127.0.0.1", 9))])   # to no known socket
    assert not judge([in_accept], queued=5)                    # the server's own, to the grader
    assert not judge([unknown], grader=[conn])                 # waits not known
    assert not judge([in_accept], grader=[conn], running=True)
    both_ends = st.Sockets({conn: (0, 0), (client, server): (7, 0)}, {})
    assert st._nothing_in_flight(both_ends, [in_accept], [], unknown=False)    # client to server
    assert not st._nothing_in_flight(both_ends, [in_accept, polls_out], [], unknown=False)
    assert not st._nothing_in_flight(both_ends, [reads_conn], [], unknown=False)


def test_bytes_a_closed_socket_still_sends_are_in_flight():
    """A connection closed while what was written to it cannot all go yet (the peer's
    window is full) leaves the rest in a socket no process holds: the network's TCP table
    still shows it on its way, and it can wake a thread that reads that connection.  (A
    repeat run under load saw a client judged stuck in poll() while the grader's closed
    connection still sent it the end of its echo.)"""
    import os
    import socket
    from grader import stuck as st
    with socket.socket() as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        cli = socket.create_connection(srv.getsockname())
        conn, _ = srv.accept()
        with conn:
            cli.setblocking(False)
            try:
                while True:
                    cli.send(b"x" * 65536)
            except BlockingIOError:
                pass
            key = st.socket_key(conn)           # the reader's end
            cli.close()                         # the rest is still to go
            flights = [f for f in st._network(os.getpid()) if f[1] == key]
            assert flights == [((key[1], key[0]), key)]
            socks = st.Sockets({key: (0, 4096)}, {})
            reads_it = st.Blocked(1, "recv()", False, key[0][1], reads=frozenset([key]),
                                  writes=frozenset())
            in_accept = st.Blocked(1, "accept()", True, key[0][1], reads=frozenset(),
                                   writes=frozenset())
            assert not st._nothing_in_flight(socks, [reads_it], [], unknown=False, closed=flights)
            assert st._nothing_in_flight(socks, [in_accept], [], unknown=False, closed=flights)


def test_what_sits_unread_is_said_beside_the_blocked_threads():
    """The issue's example: a server asleep in accept() while a client's bytes sit unread
    in another connection; and one serving one client while another waits to be accepted."""
    from grader import stuck as st
    server, client, other = ("127.0.0.1", 5001), ("127.0.0.1", 40000), ("127.0.0.1", 40001)
    in_accept = st.Blocked(1, "accept()", True, 5001, reads=frozenset(), writes=frozenset())
    said = st.describe(st.Evidence([in_accept], st.Sockets({(server, client): (0, 12)}, {5001: 0})))
    assert said == ("every thread of the program is blocked, waiting for input that is not "
                    "there: accept() on port 5001 with no client waiting; meanwhile 12 bytes "
                    "wait unread in a connection on port 5001 that no thread reads"), said
    reads = st.Blocked(1, "recv()", False, 5001, reads=frozenset([(server, client)]),
                       writes=frozenset())
    said = st.describe(st.Evidence([reads], st.Sockets(
        {(server, client): (0, 0), (server, other): (0, 3)}, {5001: 1})))
    assert said.endswith("recv() on a connection with nothing to read; meanwhile 3 bytes wait "
                         "unread in a connection on port 5001 that no thread reads; 1 client "
                         "waits in port 5001's accept queue, and no thread accepts"), said
    # A thread whose reads are not known (epoll, unread by the watch list): nothing is said.
    unknown = st.Blocked(1, "epoll_wait()", False, 0)
    assert "meanwhile" not in st.describe(st.Evidence(
        [unknown], st.Sockets({(server, client): (0, 12)}, {})))


# After the echo, calls recv() again and again though it returns b"" (end of stream):
# the end of the stream cannot come from it.
SPINS = """\
    import socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    c, _ = s.accept()
    c.sendall(c.recv(100))
    while True:
        c.recv(100)
    """

# The same loop for a tenth of a second, then it closes: within the step's 2 s.
SPINS_THEN_CLOSES = """\
    import socket, sys, time
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    c, _ = s.accept()
    c.sendall(c.recv(100))
    end = time.monotonic() + 0.1
    while time.monotonic() < end:
        c.recv(100)
    c.close()
    s.accept()
    """

# Computes after the echo (no system calls at all) and never closes: a running
# program that may still act, as far as the kernel can tell.
COMPUTES = """\
    import socket, sys
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sys.argv[1]))); s.listen()
    c, _ = s.accept()
    c.sendall(c.recv(100))
    n = 0
    while True:
        n += 1
    """


def test_a_loop_on_recv_returning_zero_ends_the_wait_early(tmp_path, no_replays):
    t = _grade(tmp_path, SPINS)
    assert t.status is TestStatus.FAILED
    assert "nothing can come any more" in t.feedback
    assert "returning 0 each time: it loops forever at end of stream" in t.feedback
    assert "recv-zero-spin" in t.diagnoses
    assert t.duration < 1.5, t.duration         # not the step's 2 s


def test_a_proven_spin_is_its_own_call_evidence_without_a_replay(tmp_path, monkeypatch):
    """The look that proved the loop watched its calls: they are shown as the cause, and
    the test is not replayed under strace (a spinning loop traced costs seconds a test)."""
    from grader import scope
    replays = []
    real = scope.TestScope.__init__

    def counting(self, *args, **kwargs):
        if kwargs.get("trace"):
            replays.append(args)
        real(self, *args, **kwargs)
    monkeypatch.setattr(scope.TestScope, "__init__", counting)
    t = _grade(tmp_path, SPINS)
    assert t.status is TestStatus.FAILED
    assert t.failure.evidence == "calls" and t.diagnoses[0] == "recv-zero-spin", t.feedback
    assert "the program called it again and again, getting 0 each time" in t.feedback
    assert '"", 100, 0, NULL, NULL) = 0' in t.feedback, t.feedback     # its own calls
    assert replays == []


def test_a_short_loop_on_recv_zero_that_then_closes_still_passes(tmp_path):
    t = _grade(tmp_path, SPINS_THEN_CLOSES)
    assert t.status is TestStatus.PASSED, t.feedback


def test_a_program_that_computes_keeps_the_deadline(tmp_path):
    t = _grade(tmp_path, COMPUTES)
    assert t.status is TestStatus.FAILED
    assert "nothing can come any more" not in t.feedback
    assert t.duration > 1.9, t.duration


def test_a_proven_spinner_runs_only_on_an_idle_processor():
    """Two looks saw it loop on recv() == 0: it can never act, so it no longer takes a
    processor from the rest of the grading (SCHED_IDLE)."""
    import os
    import socket
    import subprocess
    import sys
    import time

    from grader.spin import EVERY, SpinCheck
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen()
    spinner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""\
        import socket
        c = socket.create_connection(("127.0.0.1", {ls.getsockname()[1]}))
        while True:
            c.recv(100)
        """)])
    try:
        peer, _ = ls.accept()
        peer.close()                                   # end of stream: recv() returns 0 from now on
        threads = [(spinner.pid, spinner.pid)]
        check = SpinCheck()
        assert check(threads) is None                  # the first look only once it has run EVERY
        seen = None
        end = time.monotonic() + 10
        while seen is None and time.monotonic() < end:
            time.sleep(EVERY)
            seen = check(threads)
        assert seen and seen[0].call == "recv() == 0 loop"
        assert os.sched_getscheduler(spinner.pid) == os.SCHED_IDLE
    finally:
        spinner.kill()
        spinner.wait()
        ls.close()


def test_a_program_that_has_ended_but_is_not_yet_reported_is_not_stuck():
    """A wait for a client's exit, beside a server blocked in accept(): once the client
    has ended, its exit is on its way to the grader, so the wait must not end on "nothing
    can come" (seen under load: a correct kv-store server was said to hang the reference
    client that had in fact finished)."""
    import socket as sk
    import subprocess
    import sys
    from grader.deadline import Deadline, poll_until
    from grader.stuck import stuck
    with sk.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""\
        import socket
        s = socket.socket(); s.bind(("127.0.0.1", {port})); s.listen()
        s.accept()
        """)])
    ended = subprocess.Popen(["true"])
    try:
        assert poll_until(lambda: stuck([server.pid]), Deadline.after(10, "the server in accept()"))
        state = lambda: open(f"/proc/{ended.pid}/stat").read().rsplit(")", 1)[1].split()[0]
        assert poll_until(lambda: state() == "Z", Deadline.after(10, "true to end"))
        assert stuck([server.pid, ended.pid]) is None      # not reaped: not reported yet
    finally:
        server.kill()
        server.wait()
        ended.wait()


def test_a_thread_that_ran_during_the_look_is_not_stuck(monkeypatch):
    """The look reads thread after thread: a server read as asleep in accept() may be
    woken before the look ends (as a SIGCHLD handler is by a child read later as a
    zombie) and be back in accept() by the end.  It ran: that is not evidence."""
    import socket as sk
    import subprocess
    import sys
    from grader import stuck as stuck_module
    from grader.deadline import Deadline, poll_until
    with sk.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""\
        import socket
        s = socket.socket(); s.bind(("127.0.0.1", {port})); s.listen()
        while True:
            s.accept()[0].close()
        """)])
    real = stuck_module._sockets

    def served_meanwhile(pids):
        with sk.create_connection(("127.0.0.1", port)) as c:
            c.settimeout(10)
            assert c.recv(1) == b""              # accepted and closed: it ran
        assert poll_until(lambda: stuck_module._blocked(server.pid, server.pid),
                          Deadline.after(10, "the server back in accept()"))
        return real(pids)

    try:
        assert poll_until(lambda: stuck_module.stuck([server.pid]),
                          Deadline.after(10, "the server in accept()"))
        monkeypatch.setattr(stuck_module, "_sockets", served_meanwhile)
        assert stuck_module.stuck([server.pid]) is None
    finally:
        server.kill()
        server.wait()


def test_what_a_program_is_doing_in_words():
    """Said beside a resource that was not released (a zombie left: is the server in
    waitpid(), in accept(), running?)."""
    import subprocess
    import sys
    from grader.deadline import Deadline, poll_until
    from grader.stuck import doing
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert poll_until(lambda: doing(sleeper.pid) == "in clock_nanosleep()",
                          Deadline.after(10, "python to sleep")), doing(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert doing(sleeper.pid) == "gone"


@pytest.mark.parametrize("sample, test, said", [
    # Blocked in recv() on a client that sent half a request, while another waits.
    ("http-server/c-iterative", "concurrent-clients",
     "waited on busy for a response head (ending with an empty line), but nothing can come "
     "any more"),
    ("http-server/c-iterative", "concurrent-clients",
     "recv() on a connection with nothing to read; meanwhile 1 client waits in port 6789's "
     "accept queue, and no thread accepts"),
    # Go: every goroutine parked (the runtime idle), the message read once and the rest dropped.
    ("tcp-echo/go-one-read", "echo-line", "nothing can come any more"),
    # Four threads each in recv(), the main thread in pause(), a fifth client queued.
    ("tcp-echo/c-prethreaded-pause", "five-clients",
     "pause() waiting for a signal that nothing will send (no timer, no signal-driven input); "
     "recv() on a connection with nothing to read; meanwhile 1 client waits in port 5001's "
     "accept queue, and no thread accepts"),
], ids=["http-iterative", "http-iterative-queue", "go-one-read", "prethreaded-pause"])
def test_shipped_samples_that_cannot_answer_fail_at_once(sample, test, said, no_replays):
    from grader.engine import GradeOptions
    root = Path(__file__).resolve().parent.parent
    spec = load_spec(root / "specs" / f"{sample.split('/')[0]}.yaml")
    r = grade(spec, root / "submissions" / sample, GradeOptions(only=[test]))
    (t,) = [t for t in r.tests if t.name == test]
    assert t.status is TestStatus.FAILED
    assert said in t.feedback, t.feedback
    assert t.duration < 1.5, t.duration         # not the step's 2 s
