"""The isolation tiers: namespaced boxes, and how to choose one.

Theory of operation
-------------------
A box (see :mod:`grader.box` for the interface) holds one grading run of one
submission.  Three tiers implement it:

``sandboxed-root``    the grader is root.  Each box is a new network, pid,
                      mount, IPC and UTS namespace with a helper as its pid 1
                      (:mod:`grader.boxhelper`).  Programs run as the box's own
                      host uid (``uid_base + slot``, no /etc/passwd entry),
                      see an allow-listed read-only file system plus their
                      workdir, and share a cgroup v1 memory and pids cap.
``sandboxed-userns``  the grader is not root but may create user namespaces:
                      the same box inside a user namespace; programs run in a
                      nested one as an ordinary uid; no cgroups.
``unsandboxed``       :class:`grader.box.LocalBox`: plain subprocesses.

The grader talks to a box's helper over a private socket pair (one request,
one reply).  Sockets for probing come from the helper, so they live in the
box's network namespace: every box has its own 127.0.0.1, and the spec's port
is used as is.  ``Proc.pid`` is the program's *host* pid: the helper's child
sends one message just before exec, and SO_PASSCRED makes the kernel stamp it
with that pid as the grader's pid namespace numbers it.  The exit status comes
back from the helper (it is the parent) on the same per-program channel.

Nothing here is global: a box owns its helper, its uid slot (an abstract unix
socket name held for the box's life, so concurrent graders never share a uid),
its cgroups and its programs; ``close()`` releases all of them.
"""

from __future__ import annotations

import os
import platform
import pwd
import select
import signal
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import psutil

from . import boxhelper
from .box import (KILL_GRACE, MARKER_ENV, TIER_UNSANDBOXED, Limits, LocalBox, OutputCapture,
                  _feed_stdin, rlimit_pairs)
from .cgroups import BoxCgroup, CgroupSupport, probe as probe_cgroups
from .deadline import Deadline, poll_until
from .errors import GraderError
from .netinfo import descendants, task_state

TIER_ROOT = "sandboxed-root"
TIER_USERNS = "sandboxed-userns"
TIERS = (TIER_ROOT, TIER_USERNS, TIER_UNSANDBOXED)
# --tier option value -> tier name.
TIER_OPTIONS = {"root": TIER_ROOT, "userns": TIER_USERNS, "none": TIER_UNSANDBOXED}

HELPER_PATH = Path(boxhelper.__file__).resolve()
# Starts the helper from its cached bytecode (__pycache__, checked against the source by
# Python's own loader, and compiled there if stale): a file given to python as a script
# is compiled at every start, 5.7 ms of each box's.  argv: [path, control fd].
HELPER_START = """\
import sys
from importlib.machinery import SourceFileLoader
sys.argv = sys.argv[1:]
code = SourceFileLoader("__main__", sys.argv[0]).get_code("__main__")
exec(code, {"__name__": "__main__", "__file__": sys.argv[0], "__builtins__": __builtins__})
"""
BOX_START_TIMEOUT = 10.0      # a loaded CI machine can take seconds to start Python
REQUEST_TIMEOUT = 10.0
# Host uids for boxes: below systemd's DynamicUser range (61184-65519), inside
# Debian's "allocated on demand" 60000-64999; a uid with a passwd entry is skipped.
UID_BASE = 61000
UID_SLOTS = 180
# Read-only in every box (symlinks such as /bin -> usr/bin are copied as links).
READONLY_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

APPARMOR_SYSCTL = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
USERNS_CLONE_SYSCTL = "/proc/sys/kernel/unprivileged_userns_clone"
MAX_USERNS_SYSCTL = "/proc/sys/user/max_user_namespaces"


class BoxError(RuntimeError):
    """The box itself failed (not the student's program): the test is an ERROR."""


@dataclass(frozen=True)
class BoxOptions:
    """Knobs of a namespaced box; the defaults suit the grading hosts."""

    uid_base: int = UID_BASE
    uid_slots: int = UID_SLOTS
    tmp_size: str = "256m"          # the box's /tmp (tmpfs)
    shm_size: str = "64m"           # the box's /dev/shm (tmpfs)
    extra_readonly: tuple[str, ...] = ()
    python: str = sys.executable or "/usr/bin/python3"   # runs the box helper
    cgroups: bool = True            # root tier: cap memory and pids per box


@dataclass(frozen=True)
class TierInfo:
    """Which tier this machine gets, why, and what would give a better one."""

    tier: str
    option: str
    reason: str
    advice: str = ""
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------ uid slots --

def _id_mapped(table: str, ident: int) -> bool:
    """Is ``ident`` a valid uid/gid in this process's user namespace?"""
    try:
        lines = Path(f"/proc/self/{table}").read_text().splitlines()
    except OSError:
        return True
    for line in lines:
        inside, _, count = (int(x) for x in line.split())
        if inside <= ident < inside + count:
            return True
    return False


class UidSlot:
    """A host uid held for one box: an abstract unix socket name is the lock.

    The kernel frees the name when the socket closes, also when the grader is
    SIGKILLed, so no lock file can go stale.
    """

    def __init__(self, uid: int, lock: socket.socket) -> None:
        self.uid = uid
        self._lock = lock

    @classmethod
    def acquire(cls, base: int, slots: int) -> "UidSlot":
        if not (_id_mapped("uid_map", base) and _id_mapped("gid_map", base)):
            raise BoxError(f"uid {base} is not mapped in this user namespace (a rootless "
                           "container?): map uids from it, or set BoxOptions.uid_base")
        for uid in range(base, base + slots):
            try:
                pwd.getpwuid(uid)
                continue            # a real account: never reuse it
            except KeyError:
                pass
            lock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                lock.bind(f"\0socket-grader/uid/{uid}")
            except OSError:
                lock.close()
                continue
            return cls(uid, lock)
        raise BoxError(f"all {slots} box uids from {base} are in use")

    def release(self) -> None:
        self._lock.close()


# ------------------------------------------------------------------ the link --

def _recv(sock: socket.socket, deadline: Deadline):
    """One helper message, or BoxError if none comes before ``deadline``."""
    ready, _, _ = select.select([sock], [], [], deadline.remaining())
    if not ready:
        raise BoxError(f"timed out after {deadline.seconds:g}s waiting for {deadline.what}")
    return boxhelper.recv(sock)


def _failure(reply: dict) -> Exception:
    """A failed helper reply as the exception subprocess would raise."""
    stage = reply.get("stage") or "box"
    if reply.get("errno"):
        return OSError(reply["errno"], f"{reply.get('strerror')} (in the box, at {stage})",
                       reply.get("filename"))
    return BoxError(f"box {stage} failed: {reply.get('strerror')}")


class HelperLink:
    """The grader's end of one box: the helper processes and the control socket."""

    def __init__(self, outer: subprocess.Popen, sock: socket.socket, init_pid: int,
                 stderr: OutputCapture, ready: dict) -> None:
        self.outer = outer
        self.sock = sock
        self.init_pid = init_pid
        self.stderr = stderr
        self.ready = ready
        self._lock = threading.Lock()

    @classmethod
    def start(cls, config: dict, python: str, deadline: Deadline,
              cgroup: BoxCgroup | None = None) -> "HelperLink":
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        mine.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        try:
            outer = subprocess.Popen(
                [python, "-I", "-S", "-c", HELPER_START, str(HELPER_PATH), str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        except OSError:
            mine.close()
            raise
        finally:
            theirs.close()
        stderr = OutputCapture(outer.stderr, 64 * 1024)
        try:
            if cgroup is not None:      # before the config: init is forked after it
                cgroup.add(outer.pid)
            boxhelper.send(mine, config)
            msg, _, creds = _recv(mine, deadline)
        except (OSError, BoxError):
            msg, creds = None, None
        if msg is None or msg.get("op") != "ready" or creds is None:
            cls._abandon(outer, mine, stderr)
            raise cls._start_error(msg, stderr)
        return cls(outer, mine, creds[0], stderr, msg)

    @staticmethod
    def _abandon(outer: subprocess.Popen, sock: socket.socket, stderr: OutputCapture) -> None:
        sock.close()
        try:
            outer.wait(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            outer.kill()
            outer.wait(timeout=KILL_GRACE)
        stderr.join(Deadline.after(1.0, "the box helper's stderr"))

    @staticmethod
    def _start_error(msg: dict | None, stderr: OutputCapture) -> BoxError:
        if msg and msg.get("op") == "error":
            err = BoxError(f"the box could not be made: {msg.get('stage')}: {msg.get('strerror')}")
            err.stage, err.errno = msg.get("stage"), msg.get("errno")   # type: ignore[attr-defined]
            return err
        tail = stderr.tail(5)
        return BoxError("the box helper did not start" + (f": {tail}" if tail else ""))

    def request(self, msg: dict, fds: Sequence[int] = (), what: str = "") -> tuple[dict, list[int]]:
        deadline = Deadline.after(REQUEST_TIMEOUT, what or f"the box to {msg.get('op')}")
        with self._lock:
            try:
                boxhelper.send(self.sock, msg, fds)
                reply, out_fds, _ = _recv(self.sock, deadline)
            except OSError as e:
                raise BoxError(f"the box helper is gone ({e})") from e
        if reply is None:
            raise BoxError("the box helper is gone" + self._stderr_tail())
        return reply, out_fds

    def _stderr_tail(self) -> str:
        tail = self.stderr.tail(5)
        return f": {tail}" if tail else ""

    def close(self, deadline: Deadline) -> bool:
        """Ask init to empty the box and exit; SIGKILL the helper if it does not."""
        clean = False
        try:
            reply, _ = self.request({"op": "shutdown"}, what="the box to shut down")
            clean = bool(reply.get("clean"))
        except BoxError:
            pass
        self.sock.close()
        try:
            self.outer.wait(timeout=deadline.remaining())
        except subprocess.TimeoutExpired:
            clean = False
            self.outer.kill()       # PDEATHSIG takes init, and with it the namespace
            self.outer.wait(timeout=KILL_GRACE)
            # ... but not at once: init is not our child, so nothing above waited for it.
            # Its end is the box's (the kernel empties the pid namespace before init
            # becomes a zombie), so close() returns only once every process is gone.
            poll_until(lambda: task_state(self.init_pid) in (None, "Z", "X"),
                       Deadline.after(KILL_GRACE, "the box's init to end"))
        self.stderr.join(Deadline.after(1.0, "the box helper's stderr"))
        return clean


# ------------------------------------------------------------------ programs --

class NsProc:
    """A program running in a namespaced box (the box helper is its parent)."""

    def __init__(self, box: "NsBox", argv: Sequence[str], pid: int, nspid: int,
                 chan: socket.socket, marker: str, stdout: OutputCapture,
                 stderr: OutputCapture) -> None:
        self.argv = list(argv)
        self.pid = pid
        self.nspid = nspid
        self.marker = marker
        self.stdout = stdout
        self.stderr = stderr
        self._box = box
        self._chan: socket.socket | None = chan
        self._returncode: int | None = None
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except OSError:
            self._pidfd = None           # already gone: the exit message tells how

    # -- exit status
    def _read_exit(self, deadline: Deadline) -> None:
        while self._chan is not None and self._returncode is None:
            ready, _, _ = select.select([self._chan], [], [], deadline.remaining())
            if not ready:
                if deadline.remaining() <= 0:      # (a stretched deadline may have moved on)
                    return
                continue
            try:
                msg, fds, _ = boxhelper.recv(self._chan)
            except OSError:
                msg, fds = None, []
            for fd in fds:
                os.close(fd)
            if msg is None:             # the helper died without reporting: the
                self._set_exit(-signal.SIGKILL)   # kernel killed the whole box
            elif msg.get("op") == "exit":
                self._set_exit(os.waitstatus_to_exitcode(msg["status"]))

    def _set_exit(self, code: int) -> None:
        self._returncode = code
        if self._chan is not None:
            self._chan.close()
            self._chan = None
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def _dead(self) -> bool:
        """The kernel says the program has exited (its pidfd is readable)."""
        if self._pidfd is None:
            return True
        ready, _, _ = select.select([self._pidfd], [], [], 0)
        return bool(ready)

    def poll(self) -> int | None:
        if self._returncode is None:
            self._read_exit(Deadline.after(0))
        if self._returncode is None and self._dead():
            # Exited but not yet reaped and reported by the helper: that takes
            # microseconds, so poll() agrees with psutil and /proc.
            self._read_exit(Deadline.after(1.0, "the box helper to report an exit"))
        return self._returncode

    def wait(self, deadline: Deadline) -> int | None:
        self._read_exit(deadline)
        return self._returncode

    # -- signals and killing
    def send_signal(self, sig: int) -> None:
        if self.poll() is None and self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, sig)
            except ProcessLookupError:
                pass

    def tree_pids(self) -> list[int]:
        """Host pids of the program, its descendants, and box processes with its marker."""
        pids = descendants(self.pid) if self.poll() is None else []
        for pid in self._box.marked_pids(self.marker):
            if pid not in pids:
                pids.append(pid)
        return pids

    def kill(self) -> None:
        """SIGKILL the program and what it started.

        If no other program of the box is running, that is everything in the
        box but the helper (kill(-1) from pid 1), which also takes daemons
        that scrubbed their environment; otherwise the program's descendants
        and every process carrying its marker.
        """
        self._box.kill_program(self)
        self.wait(Deadline.after(KILL_GRACE, "a killed program to be reported"))
        self.stdout.join(Deadline.after(0.5, "the program's stdout to close"))
        self.stderr.join(Deadline.after(0.5, "the program's stderr to close"))

    def _box_closed(self) -> None:
        self._read_exit(Deadline.after(KILL_GRACE, "the exit of a program of a closed box"))
        if self._returncode is None:
            self._set_exit(-signal.SIGKILL)
        self.stdout.join(Deadline.after(0.5, "the program's stdout to close"))
        self.stderr.join(Deadline.after(0.5, "the program's stderr to close"))


# ------------------------------------------------------------------ the box --

def _readonly_paths(options: BoxOptions) -> list[str]:
    """The allow-list, plus the grader's Python (it may live in /root or a venv)."""
    paths = list(READONLY_DIRS)
    for extra in (sys.base_prefix, sys.prefix, *options.extra_readonly):
        real = os.path.realpath(extra)
        covered = any(real == p or real.startswith(p.rstrip("/") + "/") for p in paths)
        if real != "/" and not covered:
            paths.append(real)
    return paths


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    """chown -R without following symlinks, safe against symlink swaps (fwalk)."""
    for _, dirs, files, dirfd in os.fwalk(top, follow_symlinks=False):
        os.chown(dirfd, uid, gid)
        for name in dirs + files:
            os.chown(name, uid, gid, dir_fd=dirfd, follow_symlinks=False)


def _under(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


class NsBox:
    """A namespaced box (tiers ``sandboxed-root`` and ``sandboxed-userns``)."""

    host = "127.0.0.1"

    def __init__(self, tier: str, options: BoxOptions = BoxOptions()) -> None:
        if tier not in (TIER_ROOT, TIER_USERNS):
            raise ValueError(f"not a namespaced tier: {tier}")
        self.tier = tier
        self.options = options
        self.notes: list[str] = []
        self._procs: list[NsProc] = []
        self._workdirs: list[Path] = []
        self._slot: UidSlot | None = None
        self._cgroup: BoxCgroup | None = None
        self._link: HelperLink | None = None
        self._closed = False
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # -- opening
    def _open(self) -> None:
        root = os.geteuid() == 0
        if self.tier == TIER_ROOT and not root:
            raise BoxError("the grader is not running as root")
        if root:
            self._slot = UidSlot.acquire(self.options.uid_base, self.options.uid_slots)
        if self.tier == TIER_ROOT and self.options.cgroups:
            self._cgroup = self._make_cgroup(probe_cgroups())
        self._link = HelperLink.start(self._config(), self.options.python,
                                      Deadline.after(BOX_START_TIMEOUT, "the box helper to start"),
                                      self._cgroup)
        if self._link.ready.get("proc") != "own":
            self.notes.append("the box shows the host's /proc (a fresh one was refused)")

    def _make_cgroup(self, support: CgroupSupport) -> BoxCgroup | None:
        assert self._slot is not None
        if not support.available:
            self.notes.append(support.reason)
            return None
        cgroup = BoxCgroup.create(support, self._slot.uid)
        cgroup.set_limits(Limits())
        return cgroup

    def _config(self) -> dict:
        uid = self._slot.uid if self._slot else None
        return {"userns": self.tier == TIER_USERNS,
                "drop_to": uid if self.tier == TIER_USERNS else None,
                "readonly": _readonly_paths(self.options),
                "tmp_size": self.options.tmp_size, "shm_size": self.options.shm_size}

    @property
    def memory_cgroup(self) -> bool:
        """Does a memory cgroup cap this box (then no per-process memory rlimit is set)?"""
        return self._cgroup is not None and "memory" in self._cgroup.dirs

    @property
    def uid(self) -> int:
        """The host uid programs of this box run as."""
        return self._slot.uid if self._slot else os.getuid()

    @property
    def init_pid(self) -> int:
        """Host pid of the box's pid 1 (the helper)."""
        return self._require_link().init_pid

    def _require_link(self) -> HelperLink:
        if self._closed or self._link is None:
            raise BoxError("the box is closed")
        return self._link

    # -- the Box interface
    def choose_port(self, wanted: int) -> int:
        return wanted               # the box has its own network: the port is free

    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM,
               net: int | None = None) -> socket.socket:
        reply, fds = self._require_link().request({"op": "socket", "family": int(family),
                                                    "type": int(type), "net": net})
        if not reply.get("ok"):
            raise _failure(reply)
        return socket.socket(fileno=fds[0])

    def close_net(self, net: int) -> None:
        if self._closed or self._link is None:
            return
        try:
            self._link.request({"op": "net_close", "net": net}, what="the box to drop a network")
        except BoxError:
            pass                     # the helper is gone, and its networks with it

    def prepare_workdir(self, workdir: Path) -> None:
        """Let the box's uid own ``workdir`` and bind it read-write into the box.

        Call it for every directory programs may use before spawning there; a
        directory inside one already prepared needs no call of its own.
        """
        path = Path(workdir).resolve(strict=True)
        if not path.is_dir():
            raise NotADirectoryError(str(path))
        if self._slot is not None:
            _chown_tree(path, self._slot.uid, self._slot.uid)
        if _under(path, self._workdirs):
            return
        reply, _ = self._require_link().request({"op": "expose", "path": str(path),
                                                  "writable": True})
        if not reply.get("ok"):
            error = _failure(reply)
            if isinstance(error, PermissionError) and self.tier == TIER_USERNS:
                raise PermissionError(error.errno, f"the box (uid {self.uid}) cannot reach {path}: "
                                      "make its parent directories searchable (chmod o+x)") from error
            raise error
        self._workdirs.append(path)

    def open_world(self) -> "NsWorld":
        """A fresh network namespace in this box (about 1 ms; see benchmarks/RESULTS.md)."""
        reply, _ = self._require_link().request({"op": "net_open"}, what="the box to make a network")
        if not reply.get("ok"):
            raise _failure(reply)
        return NsWorld(self, reply["net"])

    def spawn(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None,
              stdin: bytes | None = None, limits: Limits = Limits(), net: int | None = None) -> NsProc:
        link = self._require_link()
        cwd_path = Path(cwd).resolve()
        if not _under(cwd_path, self._workdirs):
            raise ValueError(f"{cwd_path} is not inside a workdir of this box: "
                             "call box.prepare_workdir() on it (or a parent) first")
        if self._cgroup is not None:
            self._cgroup.set_limits(limits)
        marker = uuid.uuid4().hex
        request = self._spawn_request([os.fspath(a) for a in argv], cwd_path, env, limits, marker)
        request["net"] = net
        return _Spawner(self, link, request, stdin, limits).run()

    def _spawn_request(self, argv: list[str], cwd: Path, env: dict[str, str] | None,
                       limits: Limits, marker: str) -> dict:
        env = dict(env) if env is not None else {
            "PATH": DEFAULT_PATH, "LANG": "C.UTF-8", "HOME": str(cwd), "TMPDIR": "/tmp"}
        env[MARKER_ENV] = marker
        # Root tier: the child switches to the box's host uid.  Userns tier: it
        # enters a nested user namespace, showing itself as that same number.
        own = self.tier == TIER_ROOT
        gid = self._slot.uid if self._slot else os.getgid()
        return {"op": "spawn", "argv": argv, "cwd": str(cwd), "env": env, "marker": marker,
                "rlimits": rlimit_pairs(limits, memory_cgroup=self.memory_cgroup),
                "uid": self.uid if own else None, "gid": gid if own else None,
                "inner_uid": self.uid, "inner_gid": gid}

    # -- used by NsProc
    def kill_program(self, proc: NsProc) -> None:
        if self._closed or self._link is None:
            return
        try:
            self._link.request({"op": "kill", "nspid": proc.nspid, "marker": proc.marker})
        except BoxError:
            pass                     # the helper is gone, and so is everything in the box

    def box_pids(self) -> list[int]:
        """Host pids of every process in the box except the helper."""
        if self._closed or self._link is None:
            return []
        return descendants(self._link.init_pid)[1:]

    def marked_pids(self, marker: str) -> list[int]:
        found = []
        for pid in self.box_pids():
            try:
                if psutil.Process(pid).environ().get(MARKER_ENV) == marker:
                    found.append(pid)
            except psutil.Error:
                continue
        return found

    # -- closing
    def close(self) -> None:
        """Kill everything, wait for the helper, remove the cgroups, free the uid."""
        if self._closed:
            return
        self._closed = True
        if self._link is not None:
            # init takes up to its own KILL_GRACE to empty the box before it replies,
            # then exits: the helper gets that much again before it is killed.
            clean = self._link.close(Deadline.after(2 * KILL_GRACE, "the box helper to exit"))
            if not clean:
                self.notes.append("the box had to be killed from outside")
        for proc in self._procs:
            proc._box_closed()
        if self._cgroup is not None:
            self._cgroup.remove(Deadline.after(KILL_GRACE, "the box cgroups to empty"))
        if self._slot is not None:
            self._slot.release()

    def __enter__(self) -> "NsBox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class NsWorld:
    """One test's network namespace in a box: every port free, its own 127.0.0.1."""

    def __init__(self, box: NsBox, net: int) -> None:
        self._box = box
        self.net = net

    def choose_port(self, wanted: int) -> int:
        return wanted               # a fresh network: the port is free

    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> socket.socket:
        return self._box.socket(family, type, net=self.net)

    def spawn(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None,
              stdin: bytes | None = None, limits: Limits = Limits()) -> NsProc:
        return self._box.spawn(argv, cwd=cwd, env=env, stdin=stdin, limits=limits, net=self.net)

    def close(self) -> None:
        self._box.close_net(self.net)


class _Spawner:
    """One spawn: the pipes and the channel, the request, the hello, the Proc."""

    def __init__(self, box: NsBox, link: HelperLink, request: dict, stdin: bytes | None,
                 limits: Limits) -> None:
        self.box, self.link, self.request = box, link, request
        self.stdin, self.limits = stdin, limits

    def run(self) -> NsProc:
        in_r, in_w = os.pipe() if self.stdin is not None else (os.open(os.devnull, os.O_RDONLY), -1)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        chan, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        chan.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        mine = [fd for fd in (in_w, out_r, err_r) if fd >= 0]
        try:
            reply, _ = self.link.request(self.request, [in_r, out_w, err_w, theirs.fileno()],
                                         what=f"the box to start {self.request['argv'][0]}")
        except BaseException:
            self._close(mine, chan)
            raise
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
            theirs.close()
        if not reply.get("ok"):
            self._close(mine, chan)
            raise _failure(reply)
        return self._proc(reply["nspid"], chan, in_w, out_r, err_r)

    @staticmethod
    def _close(fds: list[int], chan: socket.socket) -> None:
        for fd in fds:
            os.close(fd)
        chan.close()

    def _proc(self, nspid: int, chan: socket.socket, in_w: int, out_r: int, err_r: int) -> NsProc:
        msg, fds, creds = _recv(chan, Deadline.after(REQUEST_TIMEOUT, "the program's hello"))
        if msg is None or creds is None:
            self._close([in_w, out_r, err_r], chan)
            raise BoxError("the box started a program but did not report its pid")
        cap = self.limits.output_bytes
        proc = NsProc(self.box, self.request["argv"], creds[0], nspid, chan,
                      self.request["marker"], OutputCapture(os.fdopen(out_r, "rb", 0), cap),
                      OutputCapture(os.fdopen(err_r, "rb", 0), cap))
        self.box._procs.append(proc)
        if in_w >= 0:
            threading.Thread(target=_feed_stdin, args=(os.fdopen(in_w, "wb", 0), self.stdin),
                             daemon=True).start()
        return proc


# ------------------------------------------------------------------ choosing --

def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def userns_advice() -> str:
    """What would let an unprivileged user create user namespaces here."""
    if _read_int(APPARMOR_SYSCTL) == 1:
        return ("AppArmor blocks unprivileged user namespaces (Ubuntu 23.10+, GitHub's "
                "ubuntu-24.04 runners): sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, "
                "or run the grader as root")
    if _read_int(USERNS_CLONE_SYSCTL) == 0:
        return "sudo sysctl -w kernel.unprivileged_userns_clone=1, or run the grader as root"
    if _read_int(MAX_USERNS_SYSCTL) == 0:
        return "sudo sysctl -w user.max_user_namespaces=15000, or run the grader as root"
    return ("unshare(2) or mount(2) is refused: in a container, run it with "
            "--security-opt seccomp=unconfined --security-opt apparmor=unconfined "
            "(or --privileged), or run the grader as root on the host")


def _try_tier(tier: str, options: BoxOptions) -> tuple[NsBox | None, str]:
    try:
        return NsBox(tier, options), ""
    except (BoxError, OSError) as e:
        return None, str(e)


def _attempts(options: BoxOptions) -> list[str]:
    if not sys.platform.startswith("linux"):
        return []
    return [TIER_ROOT, TIER_USERNS] if os.geteuid() == 0 else [TIER_USERNS]


def detect_tier(options: BoxOptions = BoxOptions()) -> TierInfo:
    """The best tier this machine allows, found by opening (and closing) a box."""
    if not sys.platform.startswith("linux"):
        return TierInfo(TIER_UNSANDBOXED, "none",
                        f"{platform.system()} has no Linux namespaces: programs run unsandboxed",
                        "grade on Linux (a VM, a container, or CI) for the sandboxed tiers")
    failures = []
    for tier in _attempts(options):
        box, error = _try_tier(tier, options)
        if box is not None:
            notes = tuple(box.notes)
            box.close()
            return TierInfo(tier, option_of(tier), _why(tier), _advice_after(tier, failures),
                            notes + tuple(failures))
        failures.append(f"{tier}: {error}")
    return TierInfo(TIER_UNSANDBOXED, "none", "no namespaced box could be made here",
                    userns_advice(), tuple(failures))


def option_of(tier: str) -> str:
    """The --tier value that opens ``tier`` (e.g. "root" for sandboxed-root)."""
    return {v: k for k, v in TIER_OPTIONS.items()}[tier]


def _why(tier: str) -> str:
    if tier == TIER_ROOT:
        return "running as root: network, pid and mount namespaces, own uid, cgroups"
    return "not root, but user namespaces work: network, pid and mount namespaces, no cgroups"


def _advice_after(tier: str, failures: list[str]) -> str:
    if tier == TIER_USERNS and not failures:
        return "run as root for per-box uids and cgroup memory/process caps"
    if failures:
        return "the root tier failed (see notes): in a container, add --cap-add SYS_ADMIN or --privileged"
    return ""


def open_box(tier: str = "auto", options: BoxOptions = BoxOptions()) -> NsBox | LocalBox:
    """A box of the given tier: ``auto`` (best available), ``root``, ``userns``, ``none``.

    ``auto`` tries the tiers in order by opening a box; resolve it once with
    :func:`detect_tier` and pass ``info.option`` to skip failing attempts.
    Forcing a tier this machine does not allow raises :class:`GraderError`.
    """
    if tier == "none":
        return LocalBox()
    if tier == "auto":
        for name in _attempts(options):
            box, _ = _try_tier(name, options)
            if box is not None:
                return box
        return LocalBox()
    if tier not in TIER_OPTIONS:
        raise GraderError(f"unknown tier {tier!r}",
                          hint="use one of: auto, " + ", ".join(TIER_OPTIONS))
    box, error = _try_tier(TIER_OPTIONS[tier], options)
    if box is None:
        hint = "run the grader as root (sudo)" if tier == "root" else userns_advice()
        raise GraderError(f"tier {tier!r} is not available here: {error}", hint=hint)
    return box
