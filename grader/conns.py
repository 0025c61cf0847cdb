"""The grader's side of the conversation: named TCP connections and UDP sockets.

All sockets are non-blocking.  Whenever a step waits for anything, ``Net.pump``
moves bytes in both directions on *every* socket of the test: queued outgoing
data keeps flowing while the grader waits for a reply, so a large echo can never
deadlock with both sides blocked in send(), and replies that arrive on another
connection are kept for that connection's later steps.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import select
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Callable

from .deadline import Deadline
from .stuck import SIOCINQ, socket_key, unsent

RECV_CHUNK = 1 << 16
# While a wait that can end on evidence lasts, the evidence is asked for this often
# when nothing moves (it costs a few /proc reads per thread of the program).
GIVE_UP_TICK = 0.02
# Once a wait's deadline has passed, how many more looks that do not wait it takes while
# bytes still move (each reads up to RECV_CHUNK per connection).
LAST_LOOKS = 64
INBUF_CAP = 64 << 20        # past this much unread data a connection stops reading


@dataclass
class TcpConn:
    name: str
    sock: socket.socket
    inbuf: bytearray = field(default_factory=bytearray)
    outq: bytearray = field(default_factory=bytearray)
    eof: bool = False
    reset: bool = False
    shut_wr: bool = False
    pending_shutdown: bool = False
    closed: bool = False
    unexpected: bytes = b""        # bytes still owed by echo expectations
    history: list[bytes] = field(default_factory=list)
    sent_total: int = 0
    received_total: int = 0
    write_error: str | None = None

    kind = "tcp"

    def queue(self, data: bytes, *, message: bool = True) -> None:
        """Send ``data``; ``message`` says it is a whole message (kept for stale-byte checks),
        not one slice of a message sent in pieces."""
        self.outq += data
        self.unexpected += data
        if message:
            self.history.append(bytes(data))
        self.sent_total += len(data)

    def can_read(self) -> bool:
        return not (self.eof or self.closed) and len(self.inbuf) < INBUF_CAP

    def on_readable(self) -> None:
        try:
            chunk = self.sock.recv(RECV_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionResetError:
            self.eof = self.reset = True
            return
        except OSError:
            self.eof = True
            return
        if not chunk:
            self.eof = True
        else:
            self.inbuf += chunk
            self.received_total += len(chunk)

    def on_writable(self) -> None:
        try:
            n = self.sock.send(self.outq[:RECV_CHUNK])
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.write_error = e.strerror or str(e)
            self.outq.clear()
            return
        del self.outq[:n]
        if not self.outq and self.pending_shutdown:
            self._do_shutdown()

    def shutdown_write(self) -> None:
        if self.outq:
            self.pending_shutdown = True
        else:
            self._do_shutdown()

    def _do_shutdown(self) -> None:
        self.pending_shutdown = False
        self.shut_wr = True
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self, reset: bool = False) -> None:
        if self.closed:
            return
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            _disconnect(self.sock)
        else:
            _end_now(self.sock)
        self.sock.close()
        self.closed = True


_libc = ctypes.CDLL(None, use_errno=True)
_UNSPEC = (ctypes.c_char * 16)()        # a sockaddr whose family is AF_UNSPEC (0)


def _disconnect(sock: socket.socket) -> None:
    """Reset ``sock``'s connection now: connect() to AF_UNSPEC, which sends the peer a
    reset at once (tcp_disconnect), whoever else holds the socket.

    A close() with SO_LINGER 0 resets only when the socket's last reference goes, and a
    process the grader forks meanwhile (a box for the next lane, the relay, strace) holds
    a copy of every descriptor until its exec: the reset then came late, after a server
    resumed by the next step had read the bytes and the FIN and closed cleanly, and a
    server that dies of SIGPIPE on a reset connection passed client-reset."""
    _libc.connect(sock.fileno(), _UNSPEC, len(_UNSPEC))


def _end_now(sock: socket.socket) -> None:
    """What close() tells the peer, now, whoever else holds the socket: a reset if bytes
    sit unread in it (Linux's close() resets then), else the end of the stream (FIN).  A
    FIN that waited for a forked process's copy to go made a server look idle in recv()
    on a connection the grader had closed."""
    try:
        unread = struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCINQ, b"\0\0\0\0"))[0]
        if unread:
            _disconnect(sock)
        else:
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass                    # not connected (any more): close() has nothing to say either


@dataclass
class UdpSock:
    name: str
    sock: socket.socket
    target: tuple
    datagrams: list[tuple[bytes, tuple]] = field(default_factory=list)
    awaiting: list[bytes] = field(default_factory=list)    # sent, not yet matched by an echo
    history: list[bytes] = field(default_factory=list)
    closed: bool = False
    eof = False
    inbuf = b""

    kind = "udp"

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)
        self.awaiting.append(data)
        self.history.append(data)

    def can_read(self) -> bool:
        return not self.closed

    def on_readable(self) -> None:
        try:
            data, addr = self.sock.recvfrom(1 << 17)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            # ECONNREFUSED from an ICMP port unreachable: nobody bound the port.
            return
        self.datagrams.append((data, addr))

    def close(self, reset: bool = False) -> None:
        if not self.closed:
            self.sock.close()
            self.closed = True


class Net:
    """The named sockets of one test, and the one loop that moves their bytes."""

    def __init__(self) -> None:
        self.socks: dict[str, TcpConn | UdpSock] = {}
        self.current: str | None = None

    def add(self, s: TcpConn | UdpSock) -> None:
        old = self.socks.get(s.name)
        if old:
            old.close()
        self.socks[s.name] = s
        self.current = s.name

    def get(self, name: str | None) -> TcpConn | UdpSock:
        key = name or self.current
        if key is None or key not in self.socks:
            raise KeyError(name or "(no socket open yet)")
        self.current = key
        return self.socks[key]

    def pump(self, deadline: Deadline, until: Callable[[], bool], tick: float | None = None,
             give_up: Callable[[], bool] | None = None) -> bool:
        """Move bytes until ``until()`` holds (True) or the deadline passes (False).

        ``until`` is checked whenever bytes moved; give ``tick`` when it also
        depends on time passing (it is then checked at least that often).
        ``give_up`` is evidence that ``until`` cannot hold any more (see
        :mod:`grader.stuck`): asked whenever nothing moved for
        :data:`GIVE_UP_TICK`, it ends the wait early (False) when it says so.
        """
        last_looks = LAST_LOOKS
        while True:
            if until():
                return True
            left = deadline.remaining()
            if left <= 0:
                # The deadline has passed, but the grader may not have run for a while
                # itself (a loaded machine): what came, or could go, in time and is only
                # waiting in the kernel's queues still counts.  A few looks that do not
                # wait, while bytes move.
                if last_looks == 0:
                    return False
                last_looks -= 1
            readers = [s for s in self.socks.values() if s.can_read()]
            writers = [s for s in self.socks.values()
                       if isinstance(s, TcpConn) and s.outq and not s.closed]
            if not readers and not writers:
                # Nothing can change any more: no point in waiting out the deadline.
                return until()
            timeout = min(left, tick) if tick else left
            if give_up is not None:
                timeout = min(timeout, GIVE_UP_TICK)
            try:
                r, w, _ = select.select([s.sock for s in readers], [s.sock for s in writers], [],
                                        timeout)
            except (OSError, ValueError) as e:
                if getattr(e, "errno", None) == errno.EINTR:
                    continue
                return until()
            if left <= 0 and not r and not w:
                return until()              # nothing more came: the deadline stands
            if give_up is not None and not r and not w and not until() \
                    and give_up() and not self._ready_now():
                return False
            by_sock = {id(s.sock): s for s in self.socks.values()}
            for sk in r:
                by_sock[id(sk)].on_readable()
            for sk in w:
                conn = by_sock[id(sk)]
                assert isinstance(conn, TcpConn)
                conn.on_writable()

    def in_flight(self) -> list[tuple] | None:
        """The peers' ends (:func:`grader.stuck.socket_key`) of the grader's TCP connections
        whose bytes or FIN have not all reached the peer's socket (queued here, or not yet
        acknowledged); None when one of those cannot be named."""
        going = []
        for s in self.socks.values():
            if isinstance(s, TcpConn) and not s.closed:
                try:
                    if not s.outq and not unsent(s.sock):
                        continue
                except OSError:
                    continue
                key = socket_key(s.sock)
                if key is None:
                    return None
                going.append((key[1], key[0]))
        return going

    def may_still_receive(self) -> bool:
        """A TCP connection of the grader's that has not seen its end: the peer's closed
        socket may still be sending what its program wrote."""
        return any(isinstance(s, TcpConn) and not (s.eof or s.closed) for s in self.socks.values())

    def _ready_now(self) -> bool:
        """Something came meanwhile (after the wait's last look): not the time to give up."""
        readers = [s.sock for s in self.socks.values() if s.can_read()]
        try:
            return bool(readers and select.select(readers, [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def idle(self, deadline: Deadline) -> None:
        """Let ``deadline`` pass (a deliberate gap between writes), moving bytes meanwhile."""
        self.pump(deadline, lambda: False)
        left = deadline.remaining()
        if left > 0:
            # Nothing to read or write: the gap itself is the stimulus, so wait it out.
            time.sleep(left)

    def close_all(self, reset: bool = False) -> None:
        for s in self.socks.values():
            s.close(reset=reset)
        self.socks.clear()
