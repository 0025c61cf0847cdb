"""The student's program as a process: start it, know when it is ready, stop it.

Readiness is decided by the kernel, not by a sleep: the grader polls the
sockets the program's own processes hold (see :mod:`grader.netinfo`) until one
is listening on the port it was given (TCP) or bound to it (UDP).  The answer
is one of three states, each with its evidence:

* ``READY``      -- listening on the port;
* ``EXITED``     -- the program exited before it listened (status, stderr);
* ``NOT_READY``  -- still running at the deadline, and what it listens on instead.

A program that visibly serves the wrong port (no htons(), a fixed port) gets
:data:`SETTLE_TIME` to correct itself, and more while one of its threads is
running, waiting for a processor or in a disk wait (a program between its
bind() and its listen() on a loaded machine is still on its way); it is
judged at once when
the kernel shows it cannot act (asleep in accept() on the wrong port).  A
run launches the program once per test: once a launch has waited
that out and the program still held exactly the same wrong sockets, later
launches that show them again need not wait it out (the caller keeps that
memory, a :class:`SettledWrong`, for one run).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import psutil

from . import netinfo
from .box import Limits, Proc, World
from .deadline import Deadline, poll_until
from .diagnose import Diagnosis, describe_exit, wrong_port
from .stuck import _threads_of

READY, EXITED, NOT_READY = "ready", "exited", "not ready"

# How long a program that visibly serves the wrong socket (another port, or
# bound without listen()) may take to correct itself before that is the verdict.
SETTLE_TIME = 0.3
# How long SIGSTOP may take to take effect on every thread of the program (the wait
# ends as soon as all have stopped; a thread in an uninterruptible wait may take long).
STOP_WAIT = 3.0


# What a program listened on instead of its port: (type, port, listening) of each
# bound, unconnected socket on another port.
WrongSockets = frozenset[tuple[int, int, bool]]
SettledWrong = set[WrongSockets]


@dataclass
class Readiness:
    state: str
    sockets: list[netinfo.SockInfo] = field(default_factory=list)
    status: int | None = None
    family: int = socket.AF_INET
    # A wait that ended without the program serving: how long it really lasted, how far
    # a busy machine moved it on (grader.cpuwait), and the CPU the program used meanwhile.
    lasted: float = 0.0
    moved: float = 0.0
    cpu: float | None = None

    @property
    def ok(self) -> bool:
        return self.state == READY


def render_argv(template: Sequence[str], **values: object) -> list[str]:
    return [part.format(**values) for part in template]


class Program:
    """One launch of the student's program in a test's world (server or client role)."""

    def __init__(self, world: World, argv: Sequence[str], *, cwd: Path, env: dict[str, str],
                 limits: Limits, port: int, protocol: str) -> None:
        self.world = world
        self.argv = list(argv)
        self.cwd = cwd
        self.env = env
        self.limits = limits
        self.port = port
        self.protocol = protocol
        self.proc: Proc | None = None
        self.readiness: Readiness | None = None
        self.expected_exit = False     # set when the grader itself asked it to stop

    def start(self, stdin: bytes | None = None) -> Proc:
        self.proc = self.world.spawn(self.argv, cwd=self.cwd, env=self.env, stdin=stdin,
                                   limits=self.limits)
        self.expected_exit = False
        return self.proc

    # ------------------------------------------------------------ readiness

    def _own_sockets(self) -> list[netinfo.SockInfo]:
        assert self.proc
        return netinfo.sockets_of(self._tree())

    def _tree(self) -> list[int]:
        """The program and its descendants, from /proc/PID/task/*/children (no scan of
        every process on the machine, as psutil's children() does: this runs at
        every readiness poll)."""
        assert self.proc
        return netinfo.descendants(self.proc.pid)

    def _serving(self, s: netinfo.SockInfo) -> bool:
        if self.protocol == "tcp":
            return s.kind == socket.SOCK_STREAM and s.listening and s.port == self.port
        return s.kind == socket.SOCK_DGRAM and s.port == self.port and not s.connected

    def wait_ready(self, deadline: Deadline, settled: SettledWrong | None = None,
                   cannot_act: Callable[[], bool] | None = None) -> Readiness:
        """Poll until the program serves its port, exits, or ``deadline`` passes.

        ``settled``: wrong sockets that an earlier launch of this program in the
        same run held for a whole :data:`SETTLE_TIME`; seeing them again is the
        verdict at once.  A new one is added when it outlasts the settle time.
        ``cannot_act``: kernel evidence that the program can do nothing before the
        grader does (:mod:`grader.stuck`): it ends the settle time at once.
        """
        assert self.proc
        settled = set() if settled is None else settled
        last: list[netinfo.SockInfo] = []
        settle: Deadline | None = None
        quiet = 0                      # looks in a row past the settle time, nothing running

        def check() -> Readiness | None:
            nonlocal last, settle, quiet
            status = self.proc.poll()
            if status is not None:
                return Readiness(EXITED, last, status)
            last = self._own_sockets()
            for s in last:
                if self._serving(s):
                    return Readiness(READY, last, family=s.family)
            # Listening on another port, or bound without listening: that is the
            # program's answer.  Give it a short moment to change its mind (a
            # second socket, listen() after bind()), not the whole deadline.
            if settle is None and self._conclusive(last):
                settle = deadline.sooner(0 if self._wrong(last) in settled else SETTLE_TIME)
            if settle is not None and settle.expired:
                # Not while a thread is on a processor or waiting for one, or in a disk
                # wait (a page of the interpreter read back in); seen twice in a row.
                quiet = 0 if self._running(("R", "D")) else quiet + 1
            if settle is not None and (cannot_act is not None and cannot_act() or quiet >= 2):
                wrong = self._wrong(last)
                if wrong:
                    settled.add(wrong)
                return Readiness(NOT_READY, last)
            # A UDP socket connect()ed to a client still shows the bound port.
            if self.protocol == "udp":
                for s in last:
                    if s.kind == socket.SOCK_DGRAM and s.port == self.port:
                        return Readiness(READY, last, family=s.family)
            return None

        began = time.monotonic()
        result = poll_until(check, deadline)
        if result is None:
            # Still on the wrong sockets when the deadline passed (busy all along): they
            # have outlasted the settle time too.
            if settle is not None and self._wrong(last):
                settled.add(self._wrong(last))
            result = Readiness(NOT_READY, last)
        if result.state == NOT_READY:
            result.lasted, result.moved = time.monotonic() - began, deadline.moved
            result.cpu = self.cpu_time()
        self.readiness = result
        return result

    def _running(self, states: tuple[str, ...] = ("R",)) -> bool:
        """A thread of the program is running or waiting for a processor (state R; or in
        another of ``states``)."""
        return any(netinfo.task_state(pid, tid) in states for pid in self._tree()
                   for tid in _threads_of(pid) or [])

    def _wrong(self, socks: list[netinfo.SockInfo]) -> WrongSockets:
        return frozenset((s.kind, s.port, s.listening) for s in socks
                         if s.port and s.port != self.port and not s.connected)

    def _conclusive(self, socks: list[netinfo.SockInfo]) -> bool:
        if self.protocol == "tcp":
            return any(s.kind == socket.SOCK_STREAM and not s.connected and s.port
                       and (s.listening or s.port == self.port) for s in socks)
        return any(s.kind == socket.SOCK_DGRAM and s.port and s.port != self.port for s in socks)

    def sockets_now(self) -> list[netinfo.SockInfo]:
        return self._own_sockets() if self.proc else []

    # ------------------------------------------------------------ evidence

    def explain_not_ready(self, r: Readiness, waited: float) -> list[Diagnosis]:
        """Why the program is not serving its port, in the student's terms."""
        if r.state == EXITED:
            said, code = describe_exit(r.status if r.status is not None else 0)
            return [(f"the program {said} before it was listening on port {self.port}",
                     "exited-early" if code == "exited" else code)]
        kind = socket.SOCK_STREAM if self.protocol == "tcp" else socket.SOCK_DGRAM
        own = [s for s in r.sockets if s.kind == kind]
        listening = [s for s in own if s.listening or self.protocol == "udp"]
        for s in listening:
            if s.port != self.port and s.port:
                return [wrong_port(self.port, s.port, self.protocol)]
        for s in own:
            if self.protocol == "tcp" and s.port == self.port and not s.listening and not s.connected:
                return [(f"a socket is bound to port {self.port} but not listening: bind() "
                         "without listen()", "no-listen")]
        if self.protocol == "tcp" and any(not s.listening and not s.connected and s.port for s in own):
            s = next(s for s in own if not s.listening and s.port)
            return [(f"a socket is bound to port {s.port} but not listening: bind() without "
                     "listen()", "no-listen")]
        # How the wait went, for a slow start on a busy machine (a JVM beside a class batch):
        # whether the machine or the program took the time.
        how = [f"it holds no {'listening TCP' if self.protocol == 'tcp' else 'UDP'} socket"]
        if r.moved >= 0.05:
            how.append(f"the wait lasted {r.lasted:.1f} s: a busy machine kept the program from "
                       f"a processor, and it was given {r.moved:.1f} s more for that")
        if r.cpu is not None:
            how.append(f"it used {r.cpu:.2f} s of CPU time meanwhile")
        return [(f"the program was still not listening on port {self.port} after {waited:g} s "
                 f"({'; '.join(how)})", "not-listening")]

    def spinning(self, looks: int = 5) -> bool:
        """Does a thread of the program keep running (state R, on a processor or waiting
        for one) in most of ``looks`` looks a few ms apart?  Unlike its share of CPU
        time, this does not fall when a loaded machine runs it less often."""
        seen: list[bool] = []

        def look() -> bool:
            seen.append(self._running())
            return len(seen) >= looks
        poll_until(look, Deadline.after(0.2, "looks at the program's threads"), interval=0.004)
        return sum(seen) * 2 > len(seen)

    def cpu_time(self) -> float:
        total = 0.0
        for pid in self._tree():
            try:
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def signal_tree(self, sig: int) -> None:
        pids = self._tree()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        if sig == signal.SIGSTOP:
            # A stop is delivered asynchronously: wait until every process really is
            # stopped, or the race the caller wants to exclude is still open.
            poll_until(lambda: all(_stopped_or_gone(pid) for pid in pids),
                       Deadline.after(STOP_WAIT, "the program to stop"))

    def exit_status(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()


def _stopped_or_gone(pid: int) -> bool:
    """Every thread of ``pid`` has stopped (or the process is gone).

    The leader's own state is not enough: a group stop reaches each thread when that
    thread next runs, so the leader can show "T" while a thread woken by the same
    signal is still copying bytes out of its socket, the very race a suspend excludes."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return True
    # (a thread that cannot be read has just ended)
    return all(netinfo.task_state(pid, int(tid)) in (None, "t", "T", "Z", "X") for tid in tids)


def base_env(workdir: Path | None = None) -> dict[str, str]:
    """A small, predictable environment for student programs (nothing of the grader's)."""
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL") if k in os.environ}
    keep.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    keep["TMPDIR"] = "/tmp"
    if workdir is not None:
        keep["HOME"] = str(workdir)
    keep["PYTHONUNBUFFERED"] = "1"
    keep["PYTHONDONTWRITEBYTECODE"] = "1"
    return keep
