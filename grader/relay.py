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

The relay runs in a thread for the length of one test; its socket lives in the
box's network (made by ``box.socket``), like every other probe socket.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import select
import socket
import threading
import time
from dataclasses import dataclass, field


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

    def summary(self) -> str:
        return (f"the network carried {self.forwarded} datagrams to the receiver and "
                f"{self.returned} back, dropped {self.dropped} and duplicated {self.duplicated}")


@dataclass(order=True)
class _Pending:
    due: float
    order: int
    data: bytes = field(compare=False)
    to: tuple = field(compare=False)


class Relay:
    """Forwards datagrams between a sender (whoever writes to it) and ``target``."""

    def __init__(self, sock: socket.socket, target: tuple, impair: Impairments, seed: int) -> None:
        self.sock = sock
        self.sock.setblocking(False)
        self.target = target
        self.impair = impair
        self.seed = seed
        self._seen: dict[tuple[str, bytes], int] = {}
        self.stats = RelayStats()
        self.sender: tuple | None = None
        self._queue: list[_Pending] = []
        self._order = 0
        self._stop = threading.Event()
        self._armed = False           # a targeted loss is waiting for its reply
        self._targeted_done = False
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()

    # -- the loop: wait for a datagram or the next due delivery, whichever is first
    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            while self._queue and self._queue[0].due <= now:
                p = heapq.heappop(self._queue)
                try:
                    self.sock.sendto(p.data, p.to)
                except OSError:
                    pass       # the program is gone or not yet listening: like a lost datagram
            wait = 0.05 if not self._queue else max(0.0, self._queue[0].due - now)
            ready, _, _ = select.select([self.sock], [], [], min(wait, 0.05))
            if ready:
                self._receive()

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
        else:
            self.sender = addr
            to, direction = self.target, "forth"
            self.stats.forwarded += 1
            prefix = self.impair.lose_first_reply_to
            if prefix and not self._targeted_done and data.startswith(prefix):
                self._armed = True
        self._schedule(data, to, direction)

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
