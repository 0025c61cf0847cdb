"""The program's own system calls, as evidence (strace).

Theory of operation
-------------------
A test can run the student's programs under strace (see
:class:`grader.scope.TestScope` ``trace=True``; the engine does so only to
replay a failed test, see :mod:`grader.evidence`).  Three things matter:

* **The program keeps its pid.**  ``strace -D`` runs the tracer as a detached
  grandchild, so the process the box spawned *is* the program: signals, fd
  counts, CPU time, zombie children and the exit status are the program's, not
  strace's.  (Plain ``strace -- argv`` makes strace the spawned process, and a
  verdict under trace could then differ from one without.)
* **The trace is complete.**  strace writes each call when it returns; a call
  the program is blocked in (accept, a waitpid in a signal handler) is written
  only when it ends.  So a traced program is stopped tracee first
  (:func:`stop`): its processes are killed, strace writes their pending calls
  as ``<unfinished ...>`` and their ``+++ killed +++`` lines and exits, and
  only then (or after :data:`FLUSH_WAIT`, the visible deadline) does the box's
  kill of everything run.
* **The cost stays on the traced calls.**  ``--seccomp-bpf`` stops the
  program only at the calls in :data:`TRACED`.

:func:`parse` reads a trace file back into :class:`Call` records (an
unfinished call and its resumption joined into one).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import netinfo
from .deadline import Deadline, poll_until

STRACE = shutil.which("strace") or "/usr/bin/strace"
# The calls worth recording: sockets, their data, process and thread creation, signals, exit.
TRACED = ("socket,bind,listen,accept,accept4,connect,recvfrom,recvmsg,recv,sendto,sendmsg,send,"
          "read,write,writev,close,shutdown,setsockopt,clone,clone3,fork,vfork,wait4,waitid,"
          "rt_sigaction,exit_group")
# Bytes of each buffer strace shows: enough to find the first 0 byte of a typical
# receive buffer (strlen()), the end of a line, a prompt; excerpts show less.
STRING_LIMIT = 1024
# How long a killed tracee's strace may take to write its last lines and exit.
FLUSH_WAIT = 1.0

_CALL = re.compile(r"^(?P<pid>\d+)\s+(?P<name>\w+)\((?P<rest>.*)$")
_RESULT = re.compile(r"\)\s+=\s+(?P<ret>-?\d+|\?|0x[0-9a-f]+)(?:\s+(?P<errno>E[A-Z0-9]+))?[^=]*$")
_RESUMED = re.compile(r"^(?P<pid>\d+)\s+<\.\.\. (?P<name>\w+) resumed>(?P<rest>.*)$")
_SIGNAL = re.compile(r"^(?P<pid>\d+)\s+--- (?P<sig>SIG\w+) ")
_EXIT = re.compile(r"^(?P<pid>\d+)\s+\+\+\+ (?:exited with (?P<status>\d+)|killed by (?P<sig>SIG\w+))")


@dataclass(frozen=True)
class Call:
    """One line of the program's story: a system call, a signal it got, or its end.

    ``name`` is the call's name, ``"--- signal"`` for a signal delivered
    (``args`` = its name), or ``"+++ exit"`` (``result`` = the status, or
    ``args`` = the signal that killed it).  ``result`` is None for a call
    that never returned (the program was killed in it).
    """

    pid: int
    name: str
    args: str          # as strace printed them
    result: int | None
    errno: str | None
    line: str          # the whole line (pid left out), for the evidence excerpt

    @property
    def fd(self) -> int | None:
        """The first argument, when it is a file descriptor."""
        head = self.args.split(",", 1)[0].strip()
        return int(head) if head.isdigit() else None

    @property
    def failed(self) -> bool:
        return self.result is not None and self.result < 0


def available() -> bool:
    return Path(STRACE).exists()


def wrap(argv: list[str], out: Path) -> list[str]:
    """argv run under strace (the tracer detached: the program keeps its pid), following
    threads and children, writing to ``out``."""
    return [STRACE, "-D", "-f", "-q", "--seccomp-bpf", "-e", f"trace={TRACED}",
            "-s", str(STRING_LIMIT), "-o", str(out), "--", *argv]


def stop(prog, out: Path, then: Callable[[], None]) -> None:
    """Stop a traced program so that its trace is complete, then as usual (``then``).

    The program's processes are killed first (not strace: it is no
    descendant of the program with ``-D``); strace then writes what they were
    blocked in and their end, and exits.  The box's kill of everything comes
    after the trace is complete, or after :data:`FLUSH_WAIT` at most.
    """
    proc = getattr(prog, "proc", None)
    if proc is not None and proc.poll() is None:
        for pid in netinfo.descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    if proc is not None:
        poll_until(lambda: complete(out), Deadline.after(FLUSH_WAIT, "strace to write its last lines"))
    then()


def complete(path: Path) -> bool:
    """Every process (and thread) the trace saw has its ``+++`` end line: strace has written all."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return True            # no trace was written (strace could not start): nothing to wait for
    seen, ended = set(), set()
    for line in text.splitlines():
        pid, _, rest = line.partition(" ")
        if pid.isdigit():
            (ended if rest.lstrip().startswith("+++") else seen).add(pid)
    return bool(ended) and seen <= ended


def parse(path: Path) -> list[Call]:
    """The calls in a trace file, in order (missing file: none)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return parse_text(text)


def parse_text(text: str) -> list[Call]:
    calls: list[Call] = []
    pending: dict[int, tuple[str, str]] = {}      # pid -> (name, args so far) of an unfinished call
    for line in text.splitlines():
        m = _RESUMED.match(line)
        if m:
            pid = int(m["pid"])
            name, head = pending.pop(pid, (m["name"], ""))
            calls.append(_finished(pid, name, head.rstrip() + m["rest"]))
            continue
        m = _SIGNAL.match(line)
        if m:
            calls.append(Call(int(m["pid"]), "--- signal", m["sig"], None, None, line.split(None, 1)[1]))
            continue
        m = _EXIT.match(line)
        if m:
            pid = int(m["pid"])
            if pid in pending:                     # killed while blocked in a call
                name, head = pending.pop(pid)
                calls.append(Call(pid, name, head.rstrip(" ,"), None, None,
                                  f"{name}({head.rstrip()} <unfinished: never returned>"))
            status = int(m["status"]) if m["status"] is not None else None
            calls.append(Call(pid, "+++ exit", m["sig"] or "", status, None, line.split(None, 1)[1]))
            continue
        m = _CALL.match(line)
        if not m:
            continue
        pid = int(m["pid"])
        if m["rest"].endswith("<unfinished ...>"):
            pending[pid] = (m["name"], m["rest"][:-len("<unfinished ...>")])
            continue
        calls.append(_finished(pid, m["name"], m["rest"]))
    for pid, (name, head) in pending.items():      # the trace ended while they were blocked
        calls.append(Call(pid, name, head.rstrip(" ,"), None, None,
                          f"{name}({head.rstrip()} <unfinished: never returned>"))
    return calls


def _finished(pid: int, name: str, rest: str) -> Call:
    r = _RESULT.search(rest)
    if not r:
        return Call(pid, name, rest.rstrip(), None, None, f"{name}({rest.strip()}")
    args = rest[:r.start()]
    ret = r["ret"]
    result = None if ret == "?" else int(ret, 16) if ret.startswith("0x") else int(ret)
    return Call(pid, name, args, result, r["errno"], f"{name}({args}) = {ret}"
                + (f" {r['errno']}" if r["errno"] else ""))
