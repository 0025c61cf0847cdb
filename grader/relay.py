"""The grader as an unreliable network between two of the student's programs.

For `role: pair` specs (reliable-udp): the sender talks to the relay's port,
the relay forwards each datagram to the receiver and each reply back to the
sender, and on the way it drops, duplicates and delays them (a delay larger
than the next datagram's reorders them).

What happens to a datagram is decided by the test's seed and the datagram
itself: its direction, its bytes, and how many times the same bytes were seen
before. So "the first copy of DATA 5 is lost, its retransmission gets
through" holds in every run, however the programs' timers fall; a failure
replays with `grader check --seed S`, and a grade does not depend on timing.
A network with no impairments also does not deliver the sender's copy of the
datagram the receiver was last given, once the receiver has answered it or
for CLEAN_GRACE after it was given (:meth:`_Network._late_copy`): on a busy
machine a 50 ms retransmission timer can fire while the receiver is still
getting to the datagram or its answer is on its way, and a perfect network
must stay one.

Theory of operation
-------------------
The relay is a process of its own (:class:`Relay` is the grader's handle on
it), not a thread of the grader.  A thread would share the grader's
interpreter lock with the steps of the other tests running side by side: one
of them parsing a trace holds it for 5 ms at a time (Python's switch
interval), and a datagram waits for it on its way in and on its way out.
Measured (benchmarks/relay_latency.py, RESULTS.md): a round trip through a
relay thread took 0.26 ms (median) with the grader idle, 11 ms beside one busy
thread of the grader and 37 ms beside two (p95 86 ms; 63 of 200 round trips
took 50 ms or more), where a reliable-udp sender may retransmit after 50 ms:
then a datagram is sent twice on a clean network, and a receiver that writes
duplicates fails a test it passes on an idle machine.  Through a relay
process: at most 1.3 ms and 8 ms.  The network a test gives must not depend
on what the grader does meanwhile.

The socket is made by the grader in the test's network (``box.socket``),
bound before the process starts and handed to it (``pass_fds``): a datagram
that came before the process served would wait in the socket, not be lost.
None does: the process says it serves with one byte on its stdout, and the
grader starts the sender only then (waiting for that byte with a deadline).
The process keeps its counts in a small shared memory (:attr:`Relay.stats`
reads them, live), and ends when its stdin reaches end of file, which
:meth:`Relay.stop` causes, and the kernel too if the grader dies.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import mmap
import os
import random
import select
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .deadline import Deadline

# The relay process's start (an interpreter, a few imports): tens of ms; this is the
# grader's own deadline for it, far above that.
START_WAIT = 10.0
# How long a stopped relay may take to see its end of file and exit (it looks every
# LOOK_EVERY) before it is killed.
STOP_WAIT = 2.0
LOOK_EVERY = 0.05
# How long a clean network keeps the sender's copies of an unanswered datagram from the
# receiver (see _Network._late_copy): far longer than a busy machine keeps a receiver
# from answering, far shorter than a test.
CLEAN_GRACE = 1.0
_COUNTS = struct.Struct("<5q")      # forwarded, returned, dropped, duplicated, absorbed


@dataclass(frozen=True)
class Impairments:
    drop: float = 0.0          # probability that a datagram is lost
    duplicate: float = 0.0     # probability that it is delivered twice
    delay: float = 0.0         # each copy is held for a uniform 0..delay seconds
    # The first reply that follows a datagram starting with these bytes is lost:
    # a targeted loss, such as the ACK of the last packet (the classic hard case).
    lose_first_reply_to: bytes = b""

    @classmethod
    def from_spec(cls, d: dict | None) -> "Impairments":
        d = d or {}
        return cls(float(d.get("drop", 0.0)), float(d.get("duplicate", 0.0)), float(d.get("delay", 0.0)),
                   bytes.fromhex(d.get("lose_first_reply_to", "")))


@dataclass
class RelayStats:
    forwarded: int = 0
    returned: int = 0
    dropped: int = 0
    duplicated: int = 0
    absorbed: int = 0          # a clean network's late copies (see _Network._late_copy)

    def summary(self) -> str:
        said = (f"the network carried {self.forwarded} datagrams to the receiver and "
                f"{self.returned} back, dropped {self.dropped} and duplicated {self.duplicated}")
        if self.absorbed:
            said += (f"; the sender sent {self.absorbed} of them again before the receiver's "
                     "answer reached it, and those copies were not delivered (its timer fired "
                     "while the receiver was getting to the datagram or the answer was on its "
                     "way: a busy machine must not make a perfect network duplicate)")
        return said


class Relay:
    """The grader's handle on the relay process between a sender (whoever writes to
    ``sock``) and ``target``: :meth:`start`, :attr:`stats`, :meth:`stop`."""

    def __init__(self, sock: socket.socket, target: tuple, impair: Impairments, seed: int) -> None:
        self.sock = sock
        self.target = target
        self.impair = impair
        self.seed = seed
        self._counts: mmap.mmap | None = None           # shared with the process, from start()
        self._proc: subprocess.Popen | None = None

    def start(self, deadline: Deadline) -> None:
        """Start the relay process and wait until it serves (OSError if it cannot)."""
        memfd = os.memfd_create("socket-grader-relay", 0)
        try:
            os.ftruncate(memfd, _COUNTS.size)
            self._counts = mmap.mmap(memfd, _COUNTS.size)
            config = {"sock": self.sock.fileno(), "counts": memfd, "target": list(self.target),
                      "seed": self.seed, "drop": self.impair.drop, "duplicate": self.impair.duplicate,
                      "delay": self.impair.delay, "lose_first_reply_to": self.impair.lose_first_reply_to.hex()}
            package_root = str(Path(__file__).resolve().parent.parent)
            code = (f"import sys; sys.path.insert(0, {package_root!r}); "
                    "from grader.relay import _main; _main()")
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", code, json.dumps(config)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                pass_fds=(self.sock.fileno(), memfd))
        finally:
            os.close(memfd)
        ready, _, _ = select.select([self._proc.stdout], [], [], max(0.0, deadline.remaining()))
        if not ready or self._proc.stdout.read(1) != b"r":
            self.stop()
            raise OSError(f"the grader's network (the relay process) did not start within "
                          f"{deadline.describe()}")

    @property
    def stats(self) -> RelayStats:
        if self._counts is None:
            return RelayStats()
        return RelayStats(*_COUNTS.unpack_from(self._counts))

    def stop(self) -> None:
        """End the relay process (its stdin closes; killed if it does not exit in time)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.stdin.close()
        try:
            proc.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


# ---------------------------------------------------------------- the relay process

@dataclass(order=True)
class _Pending:
    due: float
    order: int
    data: bytes = field(compare=False)
    to: tuple = field(compare=False)


class _Network:
    """The relay's state: who the sender is, what each datagram's fate is, what is
    held back (a delay), and the counts."""

    def __init__(self, sock: socket.socket, target: tuple, impair: Impairments, seed: int,
                 counts: mmap.mmap) -> None:
        self.sock = sock
        self.target = target
        self.impair = impair
        self.seed = seed
        self.counts = counts
        self.stats = RelayStats()
        self.sender: tuple | None = None
        self._seen: dict[tuple[str, bytes], int] = {}
        self._queue: list[_Pending] = []
        self._order = 0
        self._armed = False           # a targeted loss is waiting for its reply
        self._targeted_done = False
        # A network that loses, duplicates and delays nothing: the last datagram it gave
        # the receiver, and whether the receiver has answered since.
        self._clean = impair == Impairments()
        self._last_given: bytes | None = None
        self._given_at = 0.0
        self._answered = False

    def serve(self, control) -> None:
        """Until ``control`` (the grader's end of a pipe) reaches end of file: deliver
        what is due, wait for a datagram or the next due delivery, whichever is first."""
        while True:
            now = time.monotonic()
            while self._queue and self._queue[0].due <= now:
                p = heapq.heappop(self._queue)
                try:
                    self.sock.sendto(p.data, p.to)
                except OSError:
                    pass       # the program is gone or not yet listening: like a lost datagram
            wait = LOOK_EVERY if not self._queue else max(0.0, self._queue[0].due - now)
            ready, _, _ = select.select([self.sock, control], [], [], min(wait, LOOK_EVERY))
            if control in ready and not os.read(control, 64):
                return
            if self.sock in ready:
                self._receive()
                _COUNTS.pack_into(self.counts, 0, self.stats.forwarded, self.stats.returned,
                                  self.stats.dropped, self.stats.duplicated, self.stats.absorbed)

    def _receive(self) -> None:
        try:
            data, addr = self.sock.recvfrom(1 << 17)
        except OSError:
            return
        if addr[1] == self.target[1]:
            if self.sender is None:
                return
            to, direction = self.sender, "back"
            self.stats.returned += 1
            if self._armed:
                self._armed, self._targeted_done = False, True
                self.stats.dropped += 1
                return
            self._answered = True
        else:
            self.sender = addr
            to, direction = self.target, "forth"
            if self._late_copy(data):
                self.stats.absorbed += 1
                return
            self._last_given, self._given_at, self._answered = data, time.monotonic(), False
            self.stats.forwarded += 1
            prefix = self.impair.lose_first_reply_to
            if prefix and not self._targeted_done and data.startswith(prefix):
                self._armed = True
        self._schedule(data, to, direction)

    def _late_copy(self, data: bytes) -> bool:
        """On a clean network, the sender's copy of the datagram the receiver was last
        given, once the receiver has answered it or while it was given less than
        CLEAN_GRACE ago: the sender's retransmission timer fired while the receiver was
        getting to the datagram or its answer was on its way.  On an idle machine a
        round trip takes well under a millisecond and a 50 ms timer never fires on a
        clean network; on a busy one it can (a receiver kept from its processor for
        50 ms answers late; a sender kept from it retransmits without reading the answer
        already in its socket), and a receiver that writes duplicates would then fail a
        perfect-network test only on a busy machine.  Such a copy is not delivered: the
        receiver already has the datagram in its socket, and the sender gets the answer.
        A receiver that has not answered after CLEAN_GRACE gets the copies (it may have
        lost the first one itself).  A network with impairments delivers every copy:
        there retransmissions are what is tested."""
        return (self._clean and data == self._last_given
                and (self._answered or time.monotonic() - self._given_at < CLEAN_GRACE))

    def _fate(self, data: bytes, direction: str) -> random.Random:
        """The random stream of this datagram: seed, direction, bytes and occurrence."""
        key = (direction, hashlib.sha256(data).digest())
        n = self._seen.get(key, 0)
        self._seen[key] = n + 1
        return random.Random(f"{self.seed}:{direction}:{key[1].hex()}:{n}")

    def _schedule(self, data: bytes, to: tuple, direction: str) -> None:
        r = self._fate(data, direction)
        if r.random() < self.impair.drop:
            self.stats.dropped += 1
            return
        copies = 2 if r.random() < self.impair.duplicate else 1
        self.stats.duplicated += copies - 1
        for _ in range(copies):
            delay = r.uniform(0, self.impair.delay) if self.impair.delay else 0.0
            self._order += 1
            heapq.heappush(self._queue, _Pending(time.monotonic() + delay, self._order, data, to))


def _main() -> None:
    """The relay process: ``argv[1]`` is its configuration (JSON), stdin the grader's
    pipe (end of file: stop), stdout says "r" once it serves."""
    config = json.loads(sys.argv[1])
    sock = socket.socket(fileno=config["sock"])
    sock.setblocking(False)
    counts = mmap.mmap(config["counts"], _COUNTS.size)
    impair = Impairments(config["drop"], config["duplicate"], config["delay"],
                         bytes.fromhex(config["lose_first_reply_to"]))
    net = _Network(sock, tuple(config["target"]), impair, config["seed"], counts)
    os.write(1, b"r")
    net.serve(0)


__all__ = ["Impairments", "Relay", "RelayStats"]
