"""Whether the programs of a test can still act before the grader does: kernel evidence.

Theory of operation
-------------------
A wait for the program (bytes, an end of stream, an exit) ends at its
deadline, or as soon as the kernel shows that what it waits for cannot come:
the programs are *stuck*.  They are stuck when every thread of every process
is asleep in a call that only input can end, and no such input is there:

* ``accept``/``accept4`` on a listening TCP socket with no connection queued
  (and none half-way: no SYN_RECV in the program's network);
* ``read``/``recvfrom``/``recvmsg`` on a TCP socket with nothing to read (no
  data, no end of stream, no error);
* ``futex`` waits with no timeout: a thread waiting for another thread of the
  program (a queue's get, a join, a lock); only a thread of the programs can
  wake it, and all of them are blocked for good too;
* ``waitpid``/``wait4``/``waitid`` without WNOHANG: a process waiting for a
  child to end (a SIGCHLD handler that blocks); its children are the
  programs' processes too, all blocked for good;
* ``pause``/``rt_sigsuspend``: a process waiting for a signal (``for (;;)
  pause();`` after the threads are started), when the kernel will send it
  none by itself: no POSIX timer, no fd in signal-driven mode (O_ASYNC), and
  no alarm()/setitimer() timer on the machine (/proc/timer_list) that fires
  before the caller stops waiting; any other signal only the programs (all
  blocked) or the grader (the caller's stimulus) could send;
* ``poll``/``ppoll``/``select``/``pselect6`` with no timeout, on TCP sockets
  none of which is ready for what is asked (the fd set is read from the
  program's memory), or ``epoll_wait`` with no timeout on an epoll fd that is
  not ready (it is readable exactly when a watched fd is);

no signal is pending that a thread would take, and nothing in flight can wake a
thread.  Bytes (or a FIN) in flight are those a socket has sent and not yet
had acknowledged (SIOCOUTQ): the programs' own, and the grader's (the caller
names the programs' connections those go to).  Each must go to a connection
of the programs that no thread waits to read (a thread that died holding it,
a server asleep in accept() while a client's bytes fill another connection),
from one no thread waits for room on; anything else in flight (to the grader,
to a connection a thread reads, from one a thread waits to write) means "may
still act".  A thread may also wait for a datagram (``recvfrom`` on a UDP
socket, or one in a poll set): a datagram in flight is not accounted on any
connection, but on loopback it is only ever in a processor's receive backlog
(softnet_stat's backlog length), so a wait for one counts only when every
backlog is empty.  A socket with SO_RCVTIMEO makes a plain call a timed wait
(blocked only if it ends after the caller stops waiting, as a timed futex
wait).  And programs that have all ended, leaving no process in the test's own
network, can send nothing more once what they sent is all in (the caller
knows its connections; datagrams: the backlogs again).  Whether the socket has
input is asked of the socket itself: a duplicate taken with ``pidfd_getfd`` is
polled (the same check the kernel makes to wake the sleeper).  Anything else (a thread running or runnable, a sleep, a timed wait, poll/select/epoll,
a pipe, a read from a terminal, a call this table does not know, a
process this grader may not inspect) means "may still act": the caller then
waits for its deadline as before.  So evidence never cuts short a wait the
program could still have answered; it only ends waits whose answer was
already "no".

The look reads one thread after another, so it ends by reading each sleeper's
context switch counts again: a thread that ran at all since it was first read
(woken by what a later read showed: a child read as a zombie has already sent
its parent SIGCHLD) makes the look "may still act".

A thread that keeps running is judged by a short look at its calls when the
caller asks (:mod:`grader.spin`): one that only calls recv() and gets 0 on a
connection at end of stream can never act either.

Not seen, except by a thread in pause(): a timer armed with alarm()/setitimer()
whose signal would end another blocking call (the kernel shows POSIX timers
per process, not these; /proc/timer_list shows them, root only, with no owner);
a program that used one to end an accept() of a few seconds would be judged
stuck too early.  Socket servers do not do that.

The caller must make sure the grader itself is not about to give input (no
stimulus pending) and name where its own unsent bytes go.  :func:`stuck` is cheap (a few
/proc reads per thread) and is polled while a wait lasts.
"""

from __future__ import annotations

import ctypes
import fcntl
import ipaddress
import os
import platform
import re
import select
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from .netinfo import _SYS_PIDFD_GETFD, _socket_fds, descendants, task_state

_libc = ctypes.CDLL(None, use_errno=True)

# System call numbers of the blocking calls understood, by machine.
BLOCKING: dict[str, dict[int, str]] = {
    "x86_64": {0: "read", 43: "accept", 288: "accept4", 45: "recvfrom", 47: "recvmsg",
               7: "poll", 271: "ppoll", 23: "select", 270: "pselect6",
               232: "epoll_wait", 281: "epoll_pwait", 202: "futex", 61: "waitpid", 247: "waitid",
               34: "pause", 130: "sigsuspend"},
    "aarch64": {63: "read", 202: "accept", 242: "accept4", 207: "recvfrom", 212: "recvmsg",
                73: "ppoll", 72: "pselect6", 22: "epoll_pwait", 98: "futex", 260: "waitpid",
                95: "waitid", 133: "sigsuspend"},
}
WNOHANG = 1
# futex operations that wait (the command, without the private and clock flags).
FUTEX_CMD_MASK = 0x7F
FUTEX_WAITS = {0, 9}          # FUTEX_WAIT, FUTEX_WAIT_BITSET
POLLIN, POLLPRI, POLLOUT, POLLRDHUP = 0x1, 0x2, 0x4, 0x2000
INFINITE = 0xFFFFFFFF          # a timeout of -1 (an int: its low 32 bits)
CALLS = BLOCKING.get(platform.machine(), {})
SIOCOUTQ = 0x5411          # TIOCOUTQ: unacknowledged bytes of a TCP socket
SIOCINQ = 0x541B           # FIONREAD: unread bytes of a TCP socket


# A TCP connection as seen from one end: (its own address, its peer's), each (host, port).
Key = tuple


@dataclass(frozen=True)
class Blocked:
    """One thread asleep for good: in ``call`` on a socket that has no input."""

    pid: int
    call: str          # "accept()", "recv()"
    listening: bool    # accept on a listening socket (else a read on a connection)
    port: int          # the socket's own port
    # A spinner's calls as the look saw them (grader.trace.Call): evidence in themselves.
    calls: tuple = field(default=(), compare=False)
    # The connections (socket_key) the thread waits on for input, and for room to send;
    # None: not known (any byte in flight may wake it).
    reads: frozenset | None = field(default=None, compare=False)
    writes: frozenset | None = field(default=None, compare=False)
    # It waits for a datagram (on a UDP socket): one on its way would wake it.
    datagram: bool = field(default=False, compare=False)

    def words(self) -> str:
        if self.call == "recv() == 0 loop":
            return (f"recv() called again and again on a connection the client closed (port "
                    f"{self.port}), returning 0 each time: it loops forever at end of stream")
        if self.call == "futex()":
            return "a thread waiting for another thread (a queue, a lock, a join) with no time limit"
        if self.call == "futex() timed":
            return "a thread asleep until after the test's time limit (a timed wait)"
        if self.call in ("pause()", "sigsuspend()"):
            return (f"{self.call} waiting for a signal that nothing will send (no timer, no "
                    "signal-driven input)")
        if self.call == "waitpid()":
            return "waitpid() for a child process that is itself blocked"
        if self.call == "ended":
            return "the program has ended, and none of its processes is left"
        if self.listening:
            return f"accept() on port {self.port} with no client waiting"
        if self.datagram and self.port:
            return f"{self.call} on UDP port {self.port} with no datagram waiting"
        if self.call == "recv()" or self.call.startswith(("read", "recv")):
            return "recv() on a connection with nothing to read"
        return f"{self.call} on sockets none of which is ready"


def stuck(roots: Iterable[int], spinning: Callable[[list[tuple[int, int]]], list[Blocked] | None]
          | None = None, box: Callable[[], list[int]] | None = None,
          in_flight: Iterable[Key] = (), horizon: float | None = None,
          world: str | None = None) -> list[Blocked] | None:
    """Every thread of ``roots`` and their descendants blocked for good (how), else None.

    ``spinning([(pid, tid)])`` judges the threads that are running (see
    :mod:`grader.spin`); without it a running thread means "may act".  ``box()``:
    every process of the sandbox the programs run in, where the processes of their
    network are looked for (else among all the machine's).  ``in_flight``: the
    programs' connections (:func:`socket_key`) the grader's sent bytes or FIN are
    still on their way to.  ``horizon``: when the caller stops waiting whatever happens
    (``time.monotonic``); a thread in a timed wait that ends later counts as blocked.
    ``world``: the test's own network (as :func:`_netns` names it), whose processes are
    the programs' too; with it, programs that have all ended (``roots`` empty: their exits
    already seen by the caller) and left no process in it are stuck for good too."""
    if not CALLS:
        return None
    found: list[Blocked] = []
    marks: list[tuple[int, int, tuple[int, int]]] = []    # (pid, tid, _asleep_since)
    running: list[tuple[int, int]] = []
    any_thread = False
    roots = list(roots)
    if any(task_state(root, root) in ("Z", "X") for root in roots):
        # A program the caller still counts as live has ended: its exit is on its way to
        # the caller (a wait for it must not end on "nothing can come").
        return None
    # A zombie (or a process gone meanwhile) holds nothing and does nothing.
    pids = [pid for pid in _processes(roots, box, world) if task_state(pid, pid) not in ("Z", "X")]
    if not roots and not pids:
        if world is None or box is None or world == _netns(os.getpid()) or \
                not _no_datagram_on_its_way():
            return None
        # Nothing is left in the test's network to send.  What was sent before the exits
        # is in the grader's sockets, on its way in a backlog (just asked), or, on a TCP
        # connection, still in the closed socket's send queue: the caller makes sure each
        # of its connections has seen its end.  (Orphans left in the network are judged
        # as the programs' processes, below.)
        return Evidence([Blocked(0, "ended", False, 0, reads=frozenset(), writes=frozenset())],
                        Sockets({}, {}))
    nets = {}
    for pid in pids:
        nets.setdefault(_netns(pid), pid)       # one look at each network's connections
    tables = {}
    for net, pid in nets.items():
        tables[net] = _network(pid)
        if tables[net] is None:
            return None                 # a connection half-way into an accept queue
    for pid in pids:
        threads = _threads_of(pid)
        if threads is None:
            return None
        for tid in threads:
            state = task_state(pid, tid)
            if state is None:
                return None
            if state in ("Z", "X"):
                continue                # a dead thread or zombie cannot act
            any_thread = True
            if state == "R" and spinning is not None:
                running.append((pid, tid))
                continue
            mark = _asleep_since(pid, tid)
            blocked = _blocked(pid, tid, horizon) if mark is not None else None
            if blocked is None:
                return None
            found.append(blocked)
            marks.append((pid, tid, mark))
    socks = _sockets(pids)
    if socks is None:
        return None
    # In the grader's own network (no box of its own) the table holds every program's
    # connections on the machine: only those to the programs' are theirs to judge.
    own = _netns(os.getpid())
    closed_flights = [flight for net, table in tables.items() for flight in table
                      if net != own or flight[1] in socks.conns]
    if not _nothing_in_flight(socks, found, list(in_flight), unknown=bool(running),
                              closed=closed_flights):
        return None
    if any(b.datagram for b in found) and not _no_datagram_on_its_way():
        return None
    if running:
        spinners = spinning(running)
        if spinners is None:
            return None
        found += spinners
    # The look is not one instant: a thread read as asleep early in it may have been
    # woken since, by what a later read showed (a child read as a zombie has sent its
    # parent SIGCHLD; a process read as blocked had written to it first).  A thread
    # that has not run since its first read has the same context switch counts now.
    if any(_asleep_since(pid, tid) != mark for pid, tid, mark in marks):
        return None
    return Evidence(found, socks) if any_thread else None


class Evidence(list):
    """The blocked threads (a list of :class:`Blocked`), and what sits unread meanwhile:
    ``unread``, (the program's port, connections, bytes) of input no thread reads;
    ``queued``, (port, clients) of accept queues no thread accepts from."""

    def __init__(self, blocked: list[Blocked], socks: "Sockets") -> None:
        super().__init__(blocked)
        reads = _waited_on(blocked, "reads")
        by_port: dict[int, list[int]] = {}
        for key, (_unsent, waiting) in sorted(socks.conns.items()):
            if waiting and reads is not None and key not in reads:
                by_port.setdefault(key[0][1], []).append(waiting)
        self.unread = [(port, len(n), sum(n)) for port, n in sorted(by_port.items())]
        self.queued = sorted((port, n) for port, n in socks.queued.items() if n)


# Other calls a thread may be seen in, named only to say what it was doing (never evidence).
NAMED: dict[str, dict[int, str]] = {
    "x86_64": {35: "nanosleep", 230: "clock_nanosleep", 1: "write", 44: "sendto", 46: "sendmsg",
               42: "connect", 56: "clone", 57: "fork", 435: "clone3"},
    "aarch64": {101: "nanosleep", 115: "clock_nanosleep",
                64: "write", 206: "sendto", 211: "sendmsg", 203: "connect",
                220: "clone", 435: "clone3"},
}.get(platform.machine(), {})
_STATES = {"R": "running or waiting for a processor", "D": "in a disk wait", "T": "stopped",
           "t": "stopped by a tracer", "Z": "ended (a zombie)", "X": "gone"}


def doing(pid: int) -> str:
    """What each thread of ``pid`` is doing now, in words (for feedback: "in waitpid()")."""
    said = []
    for tid in _threads_of(pid) or []:
        state = task_state(pid, tid) or "?"
        what = _STATES.get(state)
        if what is None:
            try:
                with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                    nr = f.read().split()[0]
            except (OSError, IndexError):
                nr = ""
            name = CALLS.get(int(nr)) or NAMED.get(int(nr)) if nr.isdigit() else None
            what = f"in {name}()" if name else "asleep"
        said.append(what)
    if not said:
        return "gone"
    counts = {w: said.count(w) for w in said}
    return ", ".join(w if n == 1 else f"{n} threads {w}" for w, n in counts.items())


def describe(blocked: list[Blocked], reference: int | None = None) -> str:
    """The evidence in words, the same whatever the order threads were read in;
    ``reference``: the pid of a reference program beside the student's, told apart."""
    if [b.call for b in blocked] == ["ended"]:
        return f"{blocked[0].words()}, so nothing can send any more"
    # What waits on sockets first; threads that wait for threads (a runtime's) after.
    order = lambda words: (words.startswith("a thread"), words)   # noqa: E731
    kinds = sorted({b.words() for b in blocked if b.pid != reference}, key=order)
    theirs = sorted({b.words() for b in blocked if b.pid == reference}, key=order)
    who = "of the program and of the reference client" if theirs and kinds else \
        "of the reference client" if theirs else "of the program"
    said = "; ".join(kinds) + ("; the reference client: " if kinds and theirs else "") + \
        "; ".join(theirs)
    meanwhile = [f"{n} byte{'s' * (n != 1)} wait{'s' * (n == 1)} unread in "
                 f"{'a connection' if c == 1 else f'{c} connections'} on port {port} that no "
                 "thread reads" for port, c, n in getattr(blocked, "unread", ())]
    meanwhile += [f"{n} client{'s wait' if n != 1 else ' waits'} in port {port}'s accept queue, "
                  "and no thread accepts" for port, n in getattr(blocked, "queued", ())]
    return f"every thread {who} is blocked, waiting for input that is not there: {said}" + \
        ("; meanwhile " + "; ".join(meanwhile) if meanwhile else "")


# ------------------------------------------------------------------ /proc

def _processes(roots: Iterable[int], box: Callable[[], list[int]] | None = None,
               world: str | None = None) -> list[int]:
    """The programs' processes: their trees, and when they have a network of their own
    (a test's world; ``world`` names it too), every process in it: among ``box()`` if
    given, else among all the machine's.  A process whose parent exited (a daemon's
    double fork) is no longer in its tree; it is still in the network."""
    found: list[int] = []
    for root in roots:
        for pid in descendants(root):
            if pid not in found:
                found.append(pid)
    own = _netns(os.getpid())
    nets = {n for n in [*(_netns(r) for r in roots), world] if n is not None and n != own}
    if nets:
        candidates = box() if box is not None else \
            [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
        for pid in candidates:
            if pid not in found and _netns(pid) in nets:
                found.append(pid)
    tracers = _our_tracers(found)
    return [pid for pid in found if pid not in tracers]


def _our_tracers(pids: list[int]) -> set[int]:
    """Of ``pids``, the grader's strace tracing others of them (a replay for evidence):
    it is the grader's instrument, in the programs' network but not theirs, and acts only
    when its tracees do."""
    from .trace import STRACE
    tracers = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                tracer = next((int(x.split()[1]) for x in f if x.startswith("TracerPid:")), 0)
        except (OSError, ValueError, IndexError):
            continue
        if tracer and tracer in pids and tracer not in tracers:
            try:
                if os.path.realpath(f"/proc/{tracer}/exe") == os.path.realpath(STRACE):
                    tracers.add(tracer)
            except OSError:
                pass
    return tracers


def _netns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _threads_of(pid: int) -> list[int] | None:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return []                       # gone meanwhile: it acts no more
    except OSError:
        return None


def _asleep_since(pid: int, tid: int) -> tuple[int, int] | None:
    """A thread asleep (state S) with no signal on its way to it: its (voluntary,
    involuntary) context switch counts, which change if it runs at all; else None."""
    fields: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if not fields["State"].startswith("S"):
            return None
        pending = (int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)) & ~int(fields["SigBlk"], 16)
        switches = (int(fields["voluntary_ctxt_switches"]), int(fields["nonvoluntary_ctxt_switches"]))
    except (OSError, KeyError, ValueError):
        return None
    return None if pending else switches


def _blocked(pid: int, tid: int, horizon: float | None = None) -> Blocked | None:
    """What thread ``tid`` waits for, if it waits for good (the caller has seen it asleep,
    state S, with no signal pending: :func:`_asleep_since`; running, runnable, stopped or
    in a disk wait, it may act)."""
    try:
        with open(f"/proc/{pid}/task/{tid}/syscall") as f:
            fields = f.read().split()
    except OSError:
        return None                     # not allowed to look, or gone: unknown
    if len(fields) < 2 or not fields[0].isdigit():
        return None                     # "running", or not in a system call
    call = CALLS.get(int(fields[0]))
    if call is None:
        return None
    args = [int(a, 16) for a in fields[1:7]]
    if call == "futex":
        # Waiting, with no timeout, for another thread of the program to wake it (a
        # queue, a join, a lock): only a thread of the programs can, and stuck() counts
        # the state as stuck only when every one of them is blocked for good too.
        if args[1] & FUTEX_CMD_MASK not in FUTEX_WAITS:
            return None
        if args[3] == 0:
            return Blocked(pid, "futex()", False, 0, reads=frozenset(), writes=frozenset())
        # A timed wait (the Go runtime's monitor thread sleeps 60 s when all is idle) that
        # ends only after the caller has stopped waiting: blocked, as far as it can tell.
        ends = _futex_ends(pid, tid, args)
        if ends is None or horizon is None or ends < horizon + CLOCK_SLACK:
            return None
        return Blocked(pid, "futex() timed", False, 0, reads=frozenset(), writes=frozenset())
    if call in ("waitpid", "waitid"):
        # Asleep until a child ends (or stops): the children are the program's processes
        # too, so stuck() counts this only when every one of them is blocked for good.
        # (Asleep in it means there are children, and none has ended: no WNOHANG.)
        options = args[2] if call == "waitpid" else args[3]
        return None if options & WNOHANG else Blocked(pid, "waitpid()", False, 0,
                                                      reads=frozenset(), writes=frozenset())
    if call in ("pause", "sigsuspend"):
        # Asleep until a signal comes.  Only the programs' own processes could send one
        # (stuck() counts this only when every one of them is blocked for good; a child's
        # exit is one of them), unless the kernel sends it by itself: a timer (alarm(),
        # setitimer(), timer_create()) or signal-driven input (O_ASYNC: SIGIO).
        if not _no_signal_of_its_own(pid, horizon):
            return None
        return Blocked(pid, f"{call}()", False, 0, reads=frozenset(), writes=frozenset())
    if call in MULTIPLEXERS:
        return MULTIPLEXERS[call](pid, args)
    info = _poll_fd(pid, args[0])
    if info is None:
        return None
    readable, listening, port, kind, _, key, rcvtimeo = info
    if readable or listening != call.startswith("accept"):
        return None
    if rcvtimeo:
        # SO_RCVTIMEO: the call returns EAGAIN by itself once that time has passed since
        # the thread went to sleep in it.
        slept_at = _slept_at(pid, tid)
        if slept_at is None or horizon is None or slept_at + rcvtimeo < horizon + CLOCK_SLACK:
            return None
    if kind == socket.SOCK_DGRAM and not listening:
        # A datagram is never in flight on a connection: stuck() asks the kernel's
        # receive backlog instead.
        return Blocked(pid, f"{call}()", False, port, datagram=True, reads=frozenset(),
                       writes=frozenset())
    if kind != socket.SOCK_STREAM:
        return None
    # A connection comes as a SYN (stuck() looks for those), never as bytes in flight.
    reads = frozenset() if listening else frozenset([key]) if key else None
    return Blocked(pid, f"{call}()", listening, port, reads=reads, writes=frozenset())


# ------------------------------------------------------------------ poll, select, epoll

def _waits_on(pid: int, call: str, wanted: list[tuple[int, bool, bool]]) -> Blocked | None:
    """Blocked for good in ``call`` waiting for (fd, input?, output?) of ``wanted``: every one a
    TCP socket that is not ready for it (an fd of another kind: unknown)."""
    if not wanted:
        return None
    reads: set[Key] = set()
    writes: set[Key] = set()
    datagram = False
    for fd, want_in, want_out in wanted:
        info = _poll_fd(pid, fd, want_out=want_out)
        if info is None:
            return None
        readable, listening, _port, kind, writable, key, _ = info
        if (want_in and readable) or (want_out and writable):
            return None
        if kind == socket.SOCK_DGRAM and not want_out:
            datagram = True             # see _blocked
            continue
        if kind != socket.SOCK_STREAM or not listening and key is None:
            return None
        if want_in and not listening:
            reads.add(key)
        if want_out and not listening:
            writes.add(key)
    return Blocked(pid, f"{call}()", False, 0, datagram=datagram, reads=frozenset(reads),
                   writes=frozenset(writes))


O_ASYNC = 0o20000
TIMER_LIST = "/proc/timer_list"
# An armed alarm()/setitimer(ITIMER_REAL) timer, and when it fires (ns from the read).
_REAL_TIMER = re.compile(r", it_real_fn, S:\w+\n # expires at \d+-\d+ nsecs \[in (-?\d+) to ")


def _no_signal_of_its_own(pid: int, horizon: float | None) -> bool:
    """No signal can reach process ``pid`` unless a process sends it: it has no POSIX
    timer, no fd in signal-driven mode (O_ASYNC), and no alarm()/setitimer() timer fires
    before ``horizon`` (``time.monotonic``).  Those timers are not shown per process:
    every one armed on the machine is read from /proc/timer_list (root only), so
    another program's alarm only keeps this one's deadline."""
    try:
        with open(f"/proc/{pid}/timers") as f:
            if f.read().strip():
                return False
        for fd in os.listdir(f"/proc/{pid}/fdinfo"):
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                flags = next((line.split()[1] for line in f if line.startswith("flags:")), None)
            if flags is None or int(flags, 8) & O_ASYNC:
                return False
        with open(TIMER_LIST) as f:
            timers = f.read()
    except (OSError, ValueError, IndexError):
        return False
    fires = [int(m.group(1)) / 1e9 for m in _REAL_TIMER.finditer(timers)]
    if len(fires) != timers.count("it_real_fn"):
        return False                    # a format this reading does not know
    now = time.monotonic()
    return not fires or horizon is not None and \
        all(now + f >= horizon + CLOCK_SLACK for f in fires)


# How far a thread's own clock reading (the scheduler's) may be off time.monotonic().
CLOCK_SLACK = 1.0
FUTEX_CLOCK_REALTIME = 256
FUTEX_WAIT_BITSET = 9


def _futex_ends(pid: int, tid: int, args: list[int]) -> float | None:
    """When (``time.monotonic``) a timed futex wait of thread ``tid`` ends by itself; None
    if it cannot be told.  FUTEX_WAIT's timeout counts from the call, which is when the
    thread last ran (the scheduler's ``se.exec_start``: it has slept since; a signal
    would have restarted the call as restart_syscall); FUTEX_WAIT_BITSET's is absolute."""
    raw = _read_mem(pid, args[3], 16)
    if raw is None:
        return None
    sec, nsec = struct.unpack("qq", raw)
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        return None
    timeout = sec + nsec / 1e9
    if args[1] & FUTEX_CMD_MASK == FUTEX_WAIT_BITSET:
        if args[1] & FUTEX_CLOCK_REALTIME:
            return timeout - time.time() + time.monotonic()
        return timeout
    slept_at = _slept_at(pid, tid)
    return None if slept_at is None else slept_at + timeout


def _slept_at(pid: int, tid: int) -> float | None:
    """When (``time.monotonic``) sleeping thread ``tid`` last ran: when it went to sleep
    in the call it is in (a signal would have restarted the call as restart_syscall);
    None if it cannot be told (a kernel without CONFIG_SCHED_DEBUG)."""
    slept_at = _last_ran(f"/proc/{pid}/task/{tid}/sched")
    # The scheduler's clock, in time.monotonic's: this thread runs now, so it last ran
    # (was last accounted) a moment ago, at most a tick.
    own = _last_ran("/proc/thread-self/sched")
    if slept_at is None or own is None:
        return None
    return slept_at + time.monotonic() - own


def _last_ran(path: str) -> float | None:
    """A thread's ``se.exec_start`` (s, the scheduler's clock): when it last ran."""
    try:
        with open(path) as f:
            m = re.search(r"^se\.exec_start\s*:\s*([\d.]+)", f.read(), re.MULTILINE)
    except OSError:
        return None
    return float(m.group(1)) / 1000 if m else None


def _read_mem(pid: int, addr: int, size: int) -> bytes | None:
    if not addr or size <= 0 or size > 1 << 16:
        return None
    try:
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as f:
            f.seek(addr)
            data = f.read(size)
    except (OSError, ValueError, OverflowError):
        return None
    return data if len(data) == size else None


def _poll(pid: int, args: list[int], timed: bool) -> Blocked | None:
    ufds, nfds = args[0], args[1]
    if timed or nfds > 4096:
        return None
    raw = _read_mem(pid, ufds, nfds * 8)
    if raw is None:
        return None
    wanted = []
    for i in range(nfds):
        fd, events, _revents = struct.unpack_from("ihh", raw, i * 8)
        if fd < 0:
            continue
        wanted.append((fd, bool(events & (POLLIN | POLLPRI | POLLRDHUP)), bool(events & POLLOUT)))
    return _waits_on(pid, "poll", wanted)


def _select(pid: int, args: list[int], timed: bool) -> Blocked | None:
    nfds = args[0]
    if timed or nfds > 4096:
        return None
    size = (nfds + 63) // 64 * 8
    sets = []
    for ptr in args[1:4]:
        if not ptr:
            sets.append(0)
            continue
        raw = _read_mem(pid, ptr, size)
        if raw is None:
            return None
        sets.append(int.from_bytes(raw, "little"))
    reads, writes, excepts = sets
    wanted = [(fd, bool(reads >> fd & 1 or excepts >> fd & 1), bool(writes >> fd & 1))
              for fd in range(nfds) if (reads | writes | excepts) >> fd & 1]
    return _waits_on(pid, "select", wanted)


def _epoll(pid: int, args: list[int]) -> Blocked | None:
    if args[3] & INFINITE != INFINITE:
        return None                     # a timed wait: it ends by itself
    info = _poll_fd(pid, args[0], socket_only=False)
    if info is None or info[0]:
        return None                     # an epoll fd is readable when a watched fd is ready
    unknown = Blocked(pid, "epoll_wait()", False, 0)        # what it waits on: not known
    watched = _epoll_watches(pid, args[0])
    if watched is None:
        return unknown
    reads: set[Key] = set()
    writes: set[Key] = set()
    for fd, events, is_socket in watched:
        if not is_socket:
            continue                    # a pipe, an eventfd (the Go runtime's wake-up pipe)
        info = _poll_fd(pid, fd)
        if info is None:
            return unknown
        if info[1]:
            continue                    # listening: a connection comes as a SYN (seen apart)
        if info[5] is None:
            return unknown
        if events & (POLLIN | POLLPRI | POLLRDHUP):
            reads.add(info[5])
        if events & POLLOUT:
            writes.add(info[5])
    return Blocked(pid, "epoll_wait()", False, 0, reads=frozenset(reads), writes=frozenset(writes))


# A watched file in an epoll fd's fdinfo: "tfd: 3 events: 8000201d data: ... ino:b695d ...".
_TFD = re.compile(r"^tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)\s.*?\bino:([0-9a-f]+)", re.MULTILINE)


def _epoll_watches(pid: int, epfd: int) -> list[tuple[int, int, bool]] | None:
    """(fd, events, is a socket) of every file epoll fd ``epfd`` of ``pid`` watches; None
    if unknown (a watched fd closed or reused since: epoll names it by the number it had
    when added)."""
    try:
        with open(f"/proc/{pid}/fdinfo/{epfd}") as f:
            text = f.read()
    except OSError:
        return None
    found = []
    for fd, events, inode in _TFD.findall(text):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            return None
        if not link.endswith(f":[{int(inode, 16)}]"):
            return None
        found.append((int(fd), int(events, 16), link.startswith("socket:[")))
    return found


MULTIPLEXERS = {
    "poll": lambda pid, a: _poll(pid, a, timed=a[2] & INFINITE != INFINITE),
    "ppoll": lambda pid, a: _poll(pid, a, timed=a[2] != 0),          # NULL timespec: forever
    "select": lambda pid, a: _select(pid, a, timed=a[4] != 0),
    "pselect6": lambda pid, a: _select(pid, a, timed=a[4] != 0),
    "epoll_wait": _epoll,
    "epoll_pwait": _epoll,
}


def _network(pid: int) -> list[tuple[Key, Key]] | None:
    """One look at the TCP table of ``pid``'s network: None when a connection is half-way
    into an accept queue (SYN_RECV), else the (sender, to) of every socket with bytes or
    a FIN not yet acknowledged, or a SYN not yet answered.  Its sockets include those no
    process holds any more: one closed while what was written to it is still on its way
    (the grader's ``close`` of a connection whose peer's window is full, a program that
    wrote and exited), which the programs' and the grader's open sockets do not show."""
    flights = []
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                text = f.read()
        except OSError:
            continue
        for local, remote, state, tx_queue in _TCP_LINE.findall(text):
            if state == "03":
                return None
            if state not in ("0A", "06", "07") and (int(tx_queue, 16) or state == "02"):
                sender = (_hex_address(local), _hex_address(remote))
                flights.append((sender, (sender[1], sender[0])))
    return flights


# A line of /proc/net/tcp{,6}: its local and remote addresses, its state, its tx_queue.
_TCP_LINE = re.compile(r"^\s*\d+:\s+([0-9A-F]+:[0-9A-F]+)\s+([0-9A-F]+:[0-9A-F]+)\s+"
                       r"([0-9A-F]{2})\s+([0-9A-F]+):", re.MULTILINE)


def _hex_address(text: str) -> tuple[str, int]:
    """An address of /proc/net/tcp{,6} ("0100007F:1389": each 32-bit word in the
    machine's byte order), as :func:`socket_key` names it."""
    host, port = text.split(":")
    raw = b"".join(struct.pack("=I", int(host[i:i + 8], 16)) for i in range(0, len(host), 8))
    ip = ipaddress.ip_address(raw)
    mapped = getattr(ip, "ipv4_mapped", None)          # a dual-stack socket's IPv4 peer
    return str(mapped or ip), int(port, 16)


def socket_key(s: socket.socket) -> Key | None:
    """``s``'s connection seen from ``s`` (None if it has no peer); the other end of the
    connection has the same two addresses the other way round."""
    try:
        return _address(s.getsockname()), _address(s.getpeername())
    except (OSError, IndexError, TypeError):
        return None


def _address(a: tuple) -> tuple[str, int]:
    host = a[0]
    # A dual-stack socket names an IPv4 peer as ::ffff:a.b.c.d; the peer itself, a.b.c.d.
    return (host[7:] if host.startswith("::ffff:") else host), a[1]


def _waited_on(found: list[Blocked], how: str) -> frozenset | None:
    """The connections any of ``found`` waits on (``how``: "reads" or "writes"); None
    when one thread's are not known."""
    sets = [getattr(b, how) for b in found]
    return None if any(x is None for x in sets) else frozenset().union(*sets)


@dataclass(frozen=True)
class Sockets:
    """The programs' TCP sockets, one look."""
    conns: dict          # socket_key -> (bytes and FIN not yet acknowledged, bytes unread)
    queued: dict         # listening port -> connections waiting in its accept queue


def _nothing_in_flight(socks: Sockets, found: list[Blocked], grader: list[Key],
                       unknown: bool, closed: Iterable[tuple[Key, Key]] = ()) -> bool:
    """No byte (or FIN) on its way can wake a thread: each one in flight (the programs'
    unacknowledged, the grader's, ``grader``, and those of closed sockets, ``closed``:
    (sender, to) pairs) goes to a connection of the programs that no thread waits to
    read, from one that no thread waits for room on.  (A byte that arrives where
    nobody is listening changes nothing a program can see.)  ``unknown``: some
    thread's waits are not known yet.  False when anything cannot be told."""
    mine = socks.conns
    flights = [(key, (key[1], key[0])) for key, (unacked, _) in mine.items() if unacked]
    flights += [(None, to) for to in grader]
    flights += list(closed)
    if not flights:
        return True
    reads, writes = _waited_on(found, "reads"), _waited_on(found, "writes")
    if unknown or reads is None or writes is None:
        return False
    return all(to in mine and to not in reads and sender not in writes
               for sender, to in flights)


def _sockets(pids: list[int]) -> Sockets | None:
    """One look at the TCP sockets of ``pids`` (None when it cannot be told)."""
    conns: dict[Key, tuple[int, int]] = {}
    queued: dict[int, int] = {}
    for pid in pids:
        try:
            pidfd = os.pidfd_open(pid)
        except (OSError, AttributeError):
            return None
        try:
            for fd, _inode in _socket_fds(pid):
                s = _dup_socket(pidfd, fd)
                if s is None:
                    continue            # closed meanwhile
                with s:
                    if s.type != socket.SOCK_STREAM:
                        continue
                    inet = s.family in (socket.AF_INET, socket.AF_INET6)
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                        if inet:
                            queued[s.getsockname()[1]] = _accept_queue(s)
                        continue
                    if not inet:
                        if unsent(s):
                            return None     # a unix stream socket's bytes on their way
                        continue
                    unacked = unsent(s)
                    key = socket_key(s)
                    if key is None:
                        if unacked:
                            return None     # bytes on their way to nowhere we can name
                        continue
                    conns[key] = (unacked, _unread(s))
        except OSError:
            return None
        finally:
            os.close(pidfd)
    return Sockets(conns, queued)


SOFTNET_STAT = "/proc/net/softnet_stat"


def _no_datagram_on_its_way() -> bool:
    """No packet waits in any processor's receive backlog, where loopback traffic sits
    between a sendto() and the receiving socket's queue (the backlog's length is column
    12 of softnet_stat, since Linux 5.10).  False when it cannot be told."""
    try:
        with open(SOFTNET_STAT) as f:
            rows = [line.split() for line in f]
    except OSError:
        return False
    try:
        return bool(rows) and all(len(r) >= 13 and int(r[11], 16) == 0 for r in rows)
    except ValueError:
        return False


def _unread(s: socket.socket) -> int:
    """Bytes in TCP socket ``s``'s receive queue (SIOCINQ)."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), SIOCINQ, b"\0\0\0\0"))[0]


def _accept_queue(s: socket.socket) -> int:
    """Connections waiting in listening socket ``s``'s accept queue (TCP_INFO's
    tcpi_unacked, which a listening socket uses for it)."""
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, 24)[0] if len(info) >= 28 else 0


def _dup_socket(pidfd: int, fd: int) -> socket.socket | None:
    """The program's socket ``fd`` as a socket of ours (a duplicate), or None."""
    dup = _libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
    if dup < 0:
        return None
    try:
        return socket.socket(fileno=dup)
    except OSError:
        os.close(dup)                   # not a socket (a pipe, a terminal)
        return None


TCP_CLOSE = 7              # tcpi_state of a connection that is over (reset, or closed)


def unsent(s: socket.socket) -> int:
    """Bytes (and a FIN) sent on stream socket ``s`` and not yet acknowledged by its peer;
    0 once its TCP connection is over (a reset): the kernel still counts them, but they
    can no longer go anywhere."""
    buf = fcntl.ioctl(s.fileno(), SIOCOUTQ, b"\0\0\0\0")
    n = struct.unpack("i", buf)[0]
    if n and s.family in (socket.AF_INET, socket.AF_INET6):
        try:
            if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == TCP_CLOSE:
                return 0
        except OSError:
            pass
    return n


def _poll_fd(pid: int, fd: int, *, want_out: bool = False, socket_only: bool = True
             ) -> tuple[bool, bool, int, int, bool, Key | None, float] | None:
    """(has input, is listening, its port, its type, can take output, socket_key, its
    SO_RCVTIMEO in seconds or 0) for socket ``fd`` of ``pid`` (with ``socket_only=False``,
    any pollable fd: type 0); None if unknown."""
    try:
        pidfd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None
    try:
        if not socket_only:
            dup = _libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
            if dup < 0:
                return None
            try:
                return bool(select.select([dup], [], [], 0)[0]), False, 0, 0, False, None, 0.0
            except (OSError, ValueError):
                return None
            finally:
                os.close(dup)
        s = _dup_socket(pidfd, fd)
    finally:
        os.close(pidfd)
    if s is None:
        return None                     # gone, or not a socket: unknown
    try:
        r, w, _ = select.select([s], [s] if want_out else [], [], 0)
        readable, writable = bool(r), bool(w)
        listening = bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
        try:
            port = s.getsockname()[1] if s.family in (socket.AF_INET, socket.AF_INET6) else 0
        except OSError:
            port = 0
        sec, usec = struct.unpack("ll", s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16))
        return (readable, listening, port, s.type, writable,
                None if listening else socket_key(s), sec + usec / 1e6)
    except (OSError, struct.error):
        return None
    finally:
        s.close()
