"""The grader's network between a sender and a receiver (grader/relay.py): its
latency does not depend on what the grader does meanwhile, and it leaves no
process behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from grader.deadline import Deadline, poll_until
from grader.relay import CLEAN_GRACE, Impairments, Relay, RelayStats

pytestmark = pytest.mark.timeout(60)

# A sender and a receiver in another process (as the students' programs are): each
# datagram goes through the relay, and the process prints how long each one took.
THROUGH = textwrap.dedent("""\
    import json, socket, sys, time
    relay, receiver = int(sys.argv[1]), socket.socket(fileno=int(sys.argv[2]))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.settimeout(10)
    took = []
    for i in range(10):
        t = time.monotonic()
        sender.sendto(b"DATA %d" % i, ("127.0.0.1", relay))
        assert receiver.recv(100) == b"DATA %d" % i
        took.append(time.monotonic() - t)
        time.sleep(0.1)
    print(json.dumps(took))
""")


def _relay(sock: socket.socket, receiver: socket.socket, **impair) -> Relay:
    relay = Relay(sock, receiver.getsockname(), Impairments(**impair), seed=1)
    relay.start(Deadline.after(10, "the relay to start"))
    return relay


def test_a_busy_grader_does_not_slow_the_network():
    """While the grader's interpreter is held by other work (the steps of the tests
    beside this one: parsing a trace, judging evidence) in 0.5 s slices, every datagram
    still crosses the relay in milliseconds.  A relay in a thread of the grader waited
    for the interpreter on its way (up to a slice: a sender's retransmission timer then
    fired on a clean network)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    relay = _relay(sock, receiver)
    done = threading.Event()
    old = sys.getswitchinterval()

    def busy() -> None:
        # Pure Python, which holds the interpreter, until the datagrams have crossed
        # (at most 20 s: the test's own safety net).
        until = time.monotonic() + 20
        while not done.is_set() and time.monotonic() < until:
            pass

    try:
        sys.setswitchinterval(0.5)
        worker = threading.Thread(target=busy, daemon=True)
        worker.start()
        out = subprocess.run([sys.executable, "-c", THROUGH, str(sock.getsockname()[1]),
                              str(receiver.fileno())], pass_fds=(receiver.fileno(),),
                             capture_output=True, timeout=30, check=True).stdout
        done.set()
        worker.join()
    finally:
        done.set()
        sys.setswitchinterval(old)
        relay.stop()
        sock.close()
        receiver.close()
    took = json.loads(out)
    assert len(took) == 10
    assert max(took) < 0.2, f"a datagram took {max(took):.3f} s to cross the relay: {took}"
    assert relay.stats.forwarded == 10 and relay.stats.dropped == 0


def test_the_counts_are_live_and_the_fate_is_the_seeds():
    """The grader reads the relay's counts while it runs, and the same datagrams meet
    the same fate under the same seed."""
    def run() -> tuple[list[bytes], tuple]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        relay = _relay(sock, receiver, drop=0.5)
        got = []
        try:
            for i in range(20):
                sender.sendto(b"DATA %d" % i, sock.getsockname())
            assert poll_until(lambda: relay.stats.forwarded == 20, Deadline.after(10, "the counts"))
            while True:
                try:
                    got.append(receiver.recv(100))
                except BlockingIOError:
                    break
            s = relay.stats
            return got, (s.forwarded, s.dropped)
        finally:
            relay.stop()
            for s in (sock, receiver, sender):
                s.close()

    first, counts = run()
    assert counts[0] == 20 and 0 < counts[1] < 20
    again, counts_again = run()
    assert counts_again == counts
    assert sorted(again) == sorted(first) and len(first) == 20 - counts[1]


def _exchange(**impair) -> tuple[list[bytes], RelayStats]:
    """Through a relay: DATA 0, its copy before the answer, the answer, a copy after the
    answer, then DATA 1; later DATA 2, no answer, and its copy after CLEAN_GRACE.  What
    the receiver was given, and the counts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.settimeout(10)
    relay = _relay(sock, receiver, **impair)
    given = []

    def rest() -> None:
        receiver.settimeout(0.3)
        try:
            while True:
                given.append(receiver.recvfrom(100))
        except socket.timeout:
            receiver.settimeout(10)
    try:
        relay_at = sock.getsockname()
        sender.sendto(b"DATA 0", relay_at)
        given.append(receiver.recvfrom(100))
        sender.sendto(b"DATA 0", relay_at)        # before the answer: the receiver is slow
        rest()
        receiver.sendto(b"ACK 0", given[0][1])
        assert sender.recv(100) == b"ACK 0"
        sender.sendto(b"DATA 0", relay_at)        # after it: a late timer's copy
        sender.sendto(b"DATA 1", relay_at)
        given.append(receiver.recvfrom(100))
        rest()
        sender.sendto(b"DATA 2", relay_at)
        given.append(receiver.recvfrom(100))
        # No answer for longer than the grace: the receiver may have lost it itself.
        time.sleep(CLEAN_GRACE + 0.1)
        sender.sendto(b"DATA 2", relay_at)
        given.append(receiver.recvfrom(100))
        rest()
        return [data for data, _ in given], relay.stats
    finally:
        relay.stop()
        for s in (sock, receiver, sender):
            s.close()


def test_a_clean_network_does_not_deliver_a_late_copy():
    """On a network without impairments, a datagram the sender sends again before the
    receiver's answer reached it (its timer fired while a busy machine kept the receiver
    or the sender from the processor) is not delivered; a copy sent when the receiver
    has not answered for CLEAN_GRACE is. With impairments every copy is delivered."""
    given, stats = _exchange()
    assert given == [b"DATA 0", b"DATA 1", b"DATA 2", b"DATA 2"]
    assert (stats.forwarded, stats.returned, stats.absorbed) == (4, 1, 2)
    assert "the sender sent 2 of them again before the receiver's answer" in stats.summary()
    given, stats = _exchange(lose_first_reply_to=b"no such prefix")   # impaired, in name
    assert given == [b"DATA 0", b"DATA 0", b"DATA 0", b"DATA 1", b"DATA 2", b"DATA 2"]
    assert (stats.forwarded, stats.absorbed) == (6, 0)
    assert "again" not in stats.summary()


def test_the_relay_ends_with_the_grader():
    """A grader killed outright (SIGKILL: no stop()) leaves no relay behind: its
    process sees the end of its stdin and exits."""
    code = textwrap.dedent("""\
        import socket, sys, time
        sys.path.insert(0, sys.argv[1])
        from grader.deadline import Deadline
        from grader.relay import Impairments, Relay
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        relay = Relay(sock, ("127.0.0.1", 9), Impairments(), 1)
        relay.start(Deadline.after(10))
        print(relay._proc.pid, flush=True)
        time.sleep(60)
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    grader = subprocess.Popen([sys.executable, "-c", code, root], stdout=subprocess.PIPE)
    try:
        pid = int(grader.stdout.readline())
        assert _alive(pid)
    finally:
        grader.kill()
        grader.wait()
        grader.stdout.close()
    assert poll_until(lambda: not _alive(pid), Deadline.after(5, "the relay to exit")), \
        "the relay process outlived the grader"


def _alive(pid: int) -> bool:
    """``pid`` runs (not a zombie: an orphan is reaped by init, which may be slow)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_stop_ends_the_process():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    relay = Relay(sock, ("127.0.0.1", 9), Impairments(), 1)
    relay.start(Deadline.after(10, "the relay to start"))
    proc = relay._proc
    relay.stop()
    sock.close()
    assert proc.returncode == 0
    relay.stop()                       # twice is harmless
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, signal.SIGCONT)
