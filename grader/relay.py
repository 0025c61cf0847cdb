"""The grader as an unreliable network between two of the student's programs.

For `role: pair` specs (reliable-udp): the sender talks to the relay's port,
the relay forwards each datagram to the receiver and each reply back to the
sender, and on the way it drops, duplicates and delays them (a delay larger
than the next datagram's reorders them). Every decision is drawn from one
random generator seeded from the test's seed, in the order datagrams arrive,
so a failure replays exactly with `grader check --seed S`.

The relay runs in a thread for the length of one test; its socket lives in the
box's network (made by ``box.socket``), like every other probe socket.
"""

from __future__ import annotations

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

    @classmethod
    def from_spec(cls, d: dict | None) -> "Impairments":
        d = d or {}
        return cls(float(d.get("drop", 0.0)), float(d.get("duplicate", 0.0)), float(d.get("delay", 0.0)))


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
        self.rng = random.Random(seed)
        self.stats = RelayStats()
        self.sender: tuple | None = None
        self._queue: list[_Pending] = []
        self._order = 0
        self._stop = threading.Event()
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
            to = self.sender
            self.stats.returned += 1
        else:
            self.sender = addr
            to = self.target
            self.stats.forwarded += 1
        self._schedule(data, to)

    def _schedule(self, data: bytes, to: tuple) -> None:
        r = self.rng
        if r.random() < self.impair.drop:
            self.stats.dropped += 1
            return
        copies = 2 if r.random() < self.impair.duplicate else 1
        self.stats.duplicated += copies - 1
        for _ in range(copies):
            delay = r.uniform(0, self.impair.delay) if self.impair.delay else 0.0
            self._order += 1
            heapq.heappush(self._queue, _Pending(time.monotonic() + delay, self._order, data, to))
