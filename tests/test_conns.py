"""The grader's side of a connection (grader/conns.py): what closing it tells the peer,
and that the peer is told at once, even while a process the grader forked holds a
copy of the socket (another lane's box, the relay, strace being started)."""

from __future__ import annotations

import os
import socket
import time

import pytest

from grader.conns import TcpConn
from grader.deadline import Deadline, poll_until

pytestmark = pytest.mark.timeout(30)

TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8
HOLD = 2.0          # how long the forked child holds every descriptor


def _pair() -> tuple[TcpConn, socket.socket]:
    """The grader's end (a TcpConn) and the program's end of a loopback connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    ours = socket.create_connection(listener.getsockname())
    theirs, _ = listener.accept()
    listener.close()
    return TcpConn("a", ours), theirs


def _state(s: socket.socket) -> int:
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


def _close_while_held(conn: TcpConn, reset: bool) -> int:
    pid = os.fork()
    if pid == 0:
        time.sleep(HOLD)
        os._exit(0)
    conn.close(reset=reset)
    return pid


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_the_peer_is_told_at_once(reset):
    conn, theirs = _pair()
    pid = _close_while_held(conn, reset)
    try:
        want = TCP_CLOSE if reset else TCP_CLOSE_WAIT
        assert poll_until(lambda: _state(theirs) == want, Deadline.after(HOLD / 2, "the peer")), \
            f"the peer is in state {_state(theirs)}, not {want}, while the copy is held"
        if reset:
            with pytest.raises(ConnectionResetError):
                theirs.recv(10)
        else:
            assert theirs.recv(10) == b""          # the end of the stream
    finally:
        os.waitpid(pid, 0)
        theirs.close()


def test_a_close_with_bytes_unread_resets_as_close_does():
    """Linux's close() resets a connection whose received bytes were not read; so does the
    grader's close, at once."""
    conn, theirs = _pair()
    theirs.sendall(b"never read")
    assert poll_until(lambda: conn.sock.recv(1, socket.MSG_PEEK) == b"n", Deadline.after(5, "the bytes"))
    pid = _close_while_held(conn, reset=False)
    try:
        assert poll_until(lambda: _state(theirs) == TCP_CLOSE, Deadline.after(HOLD / 2, "the reset"))
        with pytest.raises(ConnectionResetError):
            theirs.recv(10)
    finally:
        os.waitpid(pid, 0)
        theirs.close()
