"""A running program that can no longer act: a thread looping on recv() == 0.

Theory of operation
-------------------
:mod:`grader.stuck` judges sleeping threads from /proc.  A thread that keeps
running cannot be judged that way: the kernel shows no system call for a
running thread.  One kind is common in students' servers and always a bug: a
loop that calls ``recv()`` (or ``read()``) on a connection the client closed,
gets 0 (end of stream), and calls it again, forever, at full speed.  Such a
thread will never send anything, accept anything or exit: it waits for input
that cannot come, like a sleeping one, only noisily.

:class:`SpinCheck` tells it by looking: it attaches ``strace`` to the running
threads for :data:`WINDOW` (``strace -p``: the program keeps running, slower;
it is detached again) and counts their calls.  A thread is *spinning at end of
stream* when, in that window, it made at least :data:`MIN_CALLS` calls (the
window ends as soon as every watched thread has), every
one of them a ``recv``/``recvfrom``/``recvmsg``/``read`` that returned 0, all
on TCP sockets that are at end of stream now (a ``MSG_PEEK`` of a duplicate
taken with ``pidfd_getfd`` returns 0 bytes).  Anything else (another call, an
error, data, a thread that made no call, strace refused, as under a replay
that already traces the program) means "may still act".

A look costs up to :data:`WINDOW` plus strace's start, and slows the program
while it lasts, so it is taken only of threads that have kept running for
:data:`EVERY`, in processes that hold a connection at end of stream (a program
at work on a large echo is never traced), at most every :data:`EVERY` seconds;
a thread is judged spinning only when two looks in a row, :data:`EVERY` apart,
saw it so: a wait on a spinner ends after about half a second instead of its
deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from . import trace
from .deadline import Deadline, poll_until
from .netinfo import _socket_fds

WINDOW = 0.2         # how long the calls of the running threads are watched, at most
MIN_CALLS = 5        # a loop, not a call or two (two looks EVERY apart must both see it)
EVERY = 0.25         # at most one look this often
ATTACH_WAIT = 0.5    # strace's start and attach, at most (the grader's own deadline)
RECEIVES = {"recv", "recvfrom", "recvmsg", "read"}


class SpinCheck:
    """``check(threads)``: for [(pid, tid)] running, the spinning ones' evidence (one
    :class:`~grader.stuck.Blocked` each), or None if any of them may still act.

    A thread counts as spinning only once two looks at least :data:`EVERY` apart
    both saw it (a loop that gives up after some calls and closes is not judged on
    one look); between looks the last answer for the same threads stands."""

    def __init__(self) -> None:
        self._key: frozenset | None = None
        self._last = 0.0
        self._seen = 0                  # looks in a row that saw these threads spinning
        self._answer: list | None = None

    def __call__(self, threads: list[tuple[int, int]]) -> list | None:
        key = frozenset(threads)
        now = time.monotonic()
        if key != self._key:            # the first look only once they have run EVERY
            self._key, self._seen, self._answer, self._last = key, 0, None, now
        if now - self._last >= EVERY and trace.available():
            self._last = now
            # Only a process that holds a connection at end of stream is looked at: a
            # program at work (an echo of a large payload) is never slowed by a tracer.
            if not all(_holds_eof(pid) for pid in {pid for pid, _ in threads}):
                self._seen, self._answer = 0, None
                return None
            seen = spinning_at_eof(threads)
            if seen is NOT_SPINNING:
                self._seen, self._answer = 0, None
            elif seen is not None:           # None: this look could not tell (a slow attach)
                self._seen, self._answer = self._seen + 1, seen
                if self._seen == 2:
                    _to_idle(threads)
        return self._answer if self._seen >= 2 else None


def _to_idle(threads: list[tuple[int, int]]) -> None:
    """Proven spinners run from now on only on a processor nobody else wants
    (SCHED_IDLE): they can never act, and at full speed they would slow the rest of
    the grading (and the other gradings of a batch) for nothing."""
    for _, tid in threads:
        try:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        except (OSError, AttributeError):
            pass


NOT_SPINNING: list = []


def spinning_at_eof(threads: list[tuple[int, int]]) -> list | None:
    """Evidence that every thread of ``threads`` is spinning at end of stream; or
    :data:`NOT_SPINNING` when a call says one is not; or None when this look could not
    tell (strace did not attach in time, too few calls watched)."""
    from .stuck import Blocked
    fd, path = tempfile.mkstemp(prefix="socket-grader-spin-")
    os.close(fd)
    out = Path(path)
    try:
        calls = _watch([tid for _, tid in threads], out)
    finally:
        out.unlink(missing_ok=True)
    if calls is None:
        return None
    found = []
    unsure = False
    for pid, tid in threads:
        # (a call cut by the detach has no result: it says nothing)
        mine = [c for c in calls if c.pid == tid and c.result is not None]
        if any(c.name not in RECEIVES or c.result != 0 or c.fd is None for c in mine):
            return NOT_SPINNING
        ports = [_at_eof(pid, f) for f in sorted({c.fd for c in mine})]
        if any(p is None for p in ports):
            return NOT_SPINNING
        if len(mine) < MIN_CALLS:
            unsure = True
            continue
        found.append(Blocked(pid, "recv() == 0 loop", False, ports[0], tuple(mine[:3])))
    return None if unsure else found


def _watch(tids: list[int], out: Path) -> list | None:
    """The calls of ``tids`` during WINDOW (None: strace could not attach to all of them)."""
    argv = [trace.STRACE, "-qq", "-f", "-s", "0", "-e", "signal=none", "-o", str(out)]
    for tid in tids:
        argv += ["-p", str(tid)]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
    except OSError:
        return None
    try:
        started = poll_until(lambda: _size(out) > 0 or proc.poll() is not None,
                             Deadline.after(ATTACH_WAIT, "strace to attach"))
        if not started or proc.poll() is not None:
            return None
        # Until every thread made enough calls to judge, or the window ends.
        poll_until(lambda: _enough(out, tids), Deadline.after(WINDOW, "the calls to be watched"))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)        # strace detaches and exits
        try:
            proc.wait(ATTACH_WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    if proc.returncode not in (0, 130, -signal.SIGINT):
        return None
    return trace.parse(out)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _enough(path: Path, tids: list[int]) -> bool:
    """Every thread has a line for at least MIN_CALLS calls so far (counted, not parsed:
    this is asked while the trace grows)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return False
    return all(sum(1 for line in lines if line.startswith(f"{tid} ")) >= MIN_CALLS for tid in tids)


def _holds_eof(pid: int) -> bool:
    """``pid`` holds a TCP connection at end of stream (the peer closed; nothing to read)."""
    try:
        fds = [fd for fd, _inode in _socket_fds(pid)]
    except OSError:
        return False
    return any(_at_eof(pid, fd) is not None for fd in fds)


def _at_eof(pid: int, fd: int) -> int | None:
    """The port of ``pid``'s TCP socket ``fd`` if it is at end of stream now, else None."""
    from .stuck import _dup_socket
    try:
        pidfd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None
    try:
        s = _dup_socket(pidfd, fd)
    finally:
        os.close(pidfd)
    if s is None:
        return None
    with s:
        if s.type != socket.SOCK_STREAM:
            return None
        try:
            if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b"":
                return None
            return s.getsockname()[1] if s.family in (socket.AF_INET, socket.AF_INET6) else 0
        except OSError:
            return None        # nothing to read yet (not at end of stream), or an error


__all__ = ["SpinCheck", "spinning_at_eof"]
