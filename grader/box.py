"""Where a student's program runs: the box interface, and the unsandboxed box.

A *box* holds one grading run of one submission.  The engine only ever talks
to a box through this interface, so the same probes run in every tier:

* ``box.socket(family, type)`` gives a socket that lives in the same network
  as the student's program (for a namespaced box, inside its namespace);
* ``box.spawn(argv, ...)`` starts a program and returns a :class:`Proc`;
* ``box.choose_port(wanted)`` says which port to give the program;
* ``box.open_world()`` gives a test its own network (see :class:`World`);
* ``box.close()`` kills everything that was started in the box.

A *world* is what one test may change and the next must not see: its
network.  In a namespaced box every world is a fresh network namespace with
its own 127.0.0.1 and every port free, so a TIME_WAIT, a port still bound or
a program still listening cannot reach the next test.  Programs of a test are
spawned and probe sockets made through its world.

This module implements tier 3, ``unsandboxed``: the program runs as a plain
subprocess in its own session with rlimits, on a free port the grader picks,
and is found again for killing by a marker in its environment (a program that
calls setsid() leaves the process group, but keeps its environment unless it
scrubs it).  The namespaced tiers live in :mod:`grader.sandbox`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
import resource
import select
import signal
import socket
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence


from .deadline import Deadline, poll_until
from .netinfo import descendants

TIER_UNSANDBOXED = "unsandboxed"

# How long a killed program may take to disappear before we call it a leak.
KILL_GRACE = 2.0
MARKER_ENV = "SOCKET_GRADER_RUN"


@dataclass(frozen=True)
class Limits:
    """Resource limits for one program run (rlimits; cgroups where the box has them).

    ``memory_bytes`` means memory, not address space: where the box has a memory
    cgroup it caps what the whole box really uses; elsewhere it is each
    process's RLIMIT_DATA (see :func:`rlimit_pairs`).  RLIMIT_AS is never set:
    the JVM and the Go runtime reserve gigabytes of address space they never
    use, and would not start under it.
    """

    cpu_seconds: int = 60
    memory_bytes: int = 1 << 30
    processes: int = 64
    file_size: int = 64 << 20
    open_files: int = 1024
    output_bytes: int = 8 << 20   # per stream, kept by the grader; the rest is drained


def swap16(port: int) -> int:
    return ((port & 0xFF) << 8) | (port >> 8)


class OutputCapture:
    """Drains one pipe continuously in a thread, keeping at most ``cap`` bytes.

    A program that floods its output can neither block on a full pipe nor fill
    the grader's memory: past the cap, bytes are read and counted, not kept.

    Every read of the pipe happens under the lock and never blocks (the thread
    waits in poll(), not in read()), so :meth:`settle` can take what the program
    has written so far without reordering it: a tail read just after the program
    exited holds its last words even when the thread has not run yet.
    """

    SETTLE_READS = 64          # settle() takes at most this many 64 KiB reads

    def __init__(self, pipe, cap: int) -> None:
        self._pipe = pipe
        self._cap = cap
        self._buf = bytearray()
        self.dropped = 0
        self._eof = False
        self._lock = threading.Lock()
        os.set_blocking(pipe.fileno(), False)
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _read_some(self) -> bool:
        """One non-blocking read, kept; the caller holds the lock.  False: nothing
        is there now, or the pipe is at its end."""
        if self._eof:
            return False
        try:
            chunk = os.read(self._pipe.fileno(), 65536)
        except BlockingIOError:
            return False
        except (OSError, ValueError):         # closed under us: nothing more will come
            chunk = b""
        if not chunk:
            self._eof = True
            return False
        room = self._cap - len(self._buf)
        if room > 0:
            self._buf += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))
        return True

    def _drain(self) -> None:
        poller = select.poll()
        poller.register(self._pipe.fileno(), select.POLLIN)
        try:
            while True:
                poller.poll()                 # no deadline: the pipe's end ends it
                with self._lock:
                    while self._read_some():
                        pass
                    if self._eof:
                        break
        except OSError:
            pass
        finally:
            with self._lock:
                self._eof = True
                try:
                    self._pipe.close()
                except OSError:
                    pass

    def settle(self) -> None:
        """Take now what the program has written so far (never waits for more)."""
        with self._lock:
            for _ in range(self.SETTLE_READS):
                if not self._read_some():
                    break

    def join(self, deadline: Deadline) -> bool:
        self._thread.join(deadline.remaining())
        return not self._thread.is_alive()

    @property
    def data(self) -> bytes:
        """What was kept of the output, up to what the program has written by now."""
        self.settle()
        with self._lock:
            return bytes(self._buf)

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    def tail(self, lines: int = 12, chars: int = 2000) -> str:
        text = self.data.decode("utf-8", "replace")
        kept = text.splitlines()[-lines:]
        out = "\n".join(kept)[-chars:]
        if self.truncated:
            out += f"\n[output cut: {self.dropped} more bytes were not kept]"
        return out


class Proc(Protocol):
    """A running student program, as the engine sees it."""

    pid: int                      # host pid (usable with psutil and /proc)
    argv: Sequence[str]
    stdout: OutputCapture
    stderr: OutputCapture

    def poll(self) -> int | None: ...            # like Popen.returncode: -N = killed by signal N
    def wait(self, deadline: Deadline) -> int | None: ...
    def send_signal(self, sig: int) -> None: ...
    def tree_pids(self) -> list[int]: ...        # the program and every descendant still alive
    def kill(self) -> None: ...                  # the program and everything it started


class World(Protocol):
    """One test's network: ports, probe sockets and programs that live in it."""

    def choose_port(self, wanted: int) -> int: ...
    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> socket.socket: ...
    def spawn(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None,
              stdin: bytes | None = None, limits: Limits = Limits()) -> Proc: ...
    def close(self) -> None: ...


class Box(Protocol):
    tier: str
    host: str

    def choose_port(self, wanted: int) -> int: ...
    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> socket.socket: ...
    def prepare_workdir(self, workdir: Path) -> None: ...
    def spawn(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None,
              stdin: bytes | None = None, limits: Limits = Limits()) -> Proc: ...
    def open_world(self) -> World: ...
    def close(self) -> None: ...


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def rlimit_pairs(limits: Limits, *, memory_cgroup: bool = False) -> list[tuple[int, int]]:
    """The rlimits of one program: (resource, value), soft = hard.

    Memory: RLIMIT_DATA (private writable mappings: the heap, anonymous mmap,
    thread stacks) when no memory cgroup caps the box (``memory_cgroup``), so
    a runtime's address-space reservations (PROT_NONE: the JVM's heap range,
    Go's arenas) cost nothing while memory it can write to is capped.  With a
    memory cgroup the cgroup alone caps what is really used, box-wide.
    """
    pairs = [(resource.RLIMIT_CPU, limits.cpu_seconds), (resource.RLIMIT_NPROC, limits.processes),
             (resource.RLIMIT_FSIZE, limits.file_size), (resource.RLIMIT_NOFILE, limits.open_files),
             (resource.RLIMIT_CORE, 0)]
    if not memory_cgroup:
        pairs.append((resource.RLIMIT_DATA, limits.memory_bytes))
    return pairs


# Set back to their default action in a program started as a plain subprocess (what
# grader.boxhelper's reset_signals does in a box).
RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGCHLD, signal.SIGTERM,
                 signal.SIGHUP, signal.SIGQUIT)


def _rlimits(limits: Limits):
    def apply() -> None:
        for res, value in rlimit_pairs(limits):
            try:
                resource.setrlimit(res, (value, value))
            except (ValueError, OSError):
                pass
        # The program gets the signals a shell would give it.  The grader ignores
        # SIGPIPE (Python does), so a missing signal(SIGPIPE, SIG_IGN) would not show;
        # a batch worker ignores SIGINT (Ctrl-C is the coordinator's), and an ignored
        # signal stays ignored across exec: the sigint test would fail every program.
        # Through libc: Python's signal.signal() is for the main thread only.
        for sig in RESET_SIGNALS:
            _libc.signal(sig, None)           # SIG_DFL
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        # If the grader itself is killed (SIGKILL, OOM), take the program with it:
        # without a box there is no pid namespace to do that for us.
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:          # the grader died before the prctl took effect
            os._exit(125)
    return apply


def _feed_stdin(pipe, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            n = os.write(pipe.fileno(), view[:65536])
            view = view[n:]
    except OSError:
        pass   # the program closed its stdin or exited: what it read is what it gets
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def marked_pids(marker: str) -> list[int]:
    """Every process whose environment carries ``MARKER_ENV=marker``."""
    needle = f"{MARKER_ENV}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


class LocalProc:
    """A program started as a plain subprocess (tier 3)."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str],
                 stdin: bytes | None, limits: Limits, preexec=None) -> None:
        self.argv = list(argv)
        self.marker = uuid.uuid4().hex
        env = dict(env)
        env[MARKER_ENV] = self.marker
        self._popen = subprocess.Popen(
            self.argv, cwd=str(cwd), env=env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=preexec or _rlimits(limits),
            close_fds=True,
        )
        self.pid = self._popen.pid
        self.stdout = OutputCapture(self._popen.stdout, limits.output_bytes)
        self.stderr = OutputCapture(self._popen.stderr, limits.output_bytes)
        if stdin is not None:
            threading.Thread(target=_feed_stdin, args=(self._popen.stdin, stdin),
                             daemon=True).start()

    def poll(self) -> int | None:
        return self._popen.poll()

    def wait(self, deadline: Deadline) -> int | None:
        while True:
            try:
                return self._popen.wait(timeout=deadline.remaining())
            except subprocess.TimeoutExpired:
                if deadline.remaining() <= 0:      # (a stretched deadline may have moved on)
                    return None

    def send_signal(self, sig: int) -> None:
        if self._popen.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def tree_pids(self) -> list[int]:
        pids = descendants(self.pid) if self._popen.poll() is None else []
        for pid in marked_pids(self.marker):
            if pid not in pids:
                pids.append(pid)
        return pids

    def kill(self) -> None:
        """SIGKILL the group, the tree and every marked process until none is left."""
        def sweep() -> bool:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self._popen.poll()
            left = [p for p in self.tree_pids() if p != self.pid or self._popen.returncode is None]
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self._popen.poll()
            return not left and self._popen.returncode is not None
        poll_until(sweep, Deadline.after(KILL_GRACE, "the program's processes to die"))
        self.stdout.join(Deadline.after(0.5))
        self.stderr.join(Deadline.after(0.5))


def port_is_free(port: int) -> bool:
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            try:
                with socket.socket(family, kind) as s:
                    if family == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((addr, port))
            except OSError as e:
                if e.errno == errno.EAFNOSUPPORT:
                    continue
                return False
    return True


class LocalBox:
    """Tier 3: no namespaces; the grader picks a free port for each program run."""

    tier = TIER_UNSANDBOXED
    host = "127.0.0.1"

    def __init__(self) -> None:
        self._procs: list[LocalProc] = []
        self._rng = random.Random()

    def choose_port(self, wanted: int) -> int:
        """A free port whose byte swap differs from it and is also free.

        In a shared network the spec's port may be taken, so any port will do; the
        byte-swap rule keeps the htons() diagnosis possible.
        """
        for _ in range(200):
            port = self._rng.randrange(10000, 32000)
            swapped = swap16(port)
            if swapped == port or swapped < 1024:
                continue
            if port_is_free(port) and port_is_free(swapped):
                return port
        raise OSError("no free port found for the program")

    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> socket.socket:
        return socket.socket(family, type)

    def prepare_workdir(self, workdir: Path) -> None:
        pass

    def spawn(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None,
              stdin: bytes | None = None, limits: Limits = Limits()) -> LocalProc:
        proc = LocalProc(argv, cwd=cwd, env=env if env is not None else dict(os.environ),
                         stdin=stdin, limits=limits)
        self._procs.append(proc)
        return proc

    def open_world(self) -> "LocalWorld":
        return LocalWorld(self)

    def close(self) -> None:
        for proc in self._procs:
            proc.kill()
        self._procs.clear()

    def __enter__(self) -> "LocalBox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalWorld:
    """Tier 3 has one network, the machine's: a test's world is fresh free ports.

    Each port is chosen free (with its byte swap free too) when the test asks,
    so an earlier test's TIME_WAIT or a server that outlived it sits on another
    port.  The rest of the machine's network is shared: that is why this tier
    is a last resort (see docs/security.md).
    """

    def __init__(self, box: LocalBox) -> None:
        self._box = box

    def choose_port(self, wanted: int) -> int:
        return self._box.choose_port(wanted)

    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> socket.socket:
        return socket.socket(family, type)

    def spawn(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None,
              stdin: bytes | None = None, limits: Limits = Limits()) -> LocalProc:
        return self._box.spawn(argv, cwd=cwd, env=env, stdin=stdin, limits=limits)

    def close(self) -> None:
        pass
