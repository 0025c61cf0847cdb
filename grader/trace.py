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
# The calls worth recording: sockets, their data, process and thread creation, signals,
# exit, and the waits for readiness (a receive that poll() announced is not a blind wait).
TRACED = ("socket,bind,listen,accept,accept4,connect,recvfrom,recvmsg,recv,sendto,sendmsg,send,"
          "read,write,writev,close,shutdown,setsockopt,clone,clone3,fork,vfork,wait4,waitid,"
          "rt_sigaction,exit_group,poll,ppoll,select,pselect6,epoll_wait,epoll_pwait")
# Bytes of each buffer strace shows: enough to find the first 0 byte of a typical
# receive buffer (strlen()), the end of a line, a prompt; excerpts show less.
STRING_LIMIT = 1024
# How long a killed tracee's strace may take to write its last lines and exit (it takes
# milliseconds; the wait ends as soon as the trace is complete).  A trace that is still
# not complete then (strace itself killed, or a tracee that would not die) lacks the
# last calls of some process, the ones that say what it did last: it is not used as
# evidence (grader.evidence).
FLUSH_WAIT = 5.0

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


def stop(prog, out: Path, then: Callable[[], None],
         box_pids: Callable[[], list[int]] | None = None) -> None:
    """Stop a traced program so that its trace is complete, then as usual (``then``).

    The program's processes are killed first (not strace: it is no
    descendant of the program with ``-D``); strace then writes what they were
    blocked in and their end, and exits.  Processes the trace saw that are no
    longer the program's descendants (a forked child whose parent died: the
    restart test kills the server, not its children) are found among the box's
    processes (``box_pids``) by their pid in the box.  The box's kill of
    everything comes after the trace is complete, or after :data:`FLUSH_WAIT`.
    """
    proc = getattr(prog, "proc", None)
    if proc is None:
        then()
        return
    if proc.poll() is None:
        _kill(netinfo.descendants(proc.pid))

    def written() -> bool:
        text = _text(out)
        if text is None or _complete(text):
            return True
        if box_pids is not None:
            _kill(_in_box(_ends(text)[0], box_pids()))
        return False
    poll_until(written, Deadline.after(FLUSH_WAIT, "strace to write its last lines"))
    then()


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _in_box(nspids: set[int], candidates: list[int]) -> list[int]:
    """Of ``candidates`` (host pids), those whose pid in their own namespace is in ``nspids``
    (strace in the box prints the box's pids)."""
    found = []
    for pid in candidates:
        try:
            with open(f"/proc/{pid}/status") as f:
                line = next((x for x in f if x.startswith("NSpid:")), "")
        except OSError:
            continue
        own = line.split()[-1:] if line else [str(pid)]
        if own and own[0].isdigit() and int(own[0]) in nspids:
            found.append(pid)
    return found


def _text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None            # no trace was written (strace could not start)


def _ends(text: str) -> tuple[set[int], set[int]]:
    """The processes (and threads) the trace saw without their ``+++`` end line, and those with."""
    seen, ended = set(), set()
    for line in text.splitlines():
        pid, _, rest = line.partition(" ")
        if pid.isdigit():
            (ended if rest.lstrip().startswith("+++") else seen).add(int(pid))
    return seen - ended, ended


def _complete(text: str) -> bool:
    unended, ended = _ends(text)
    return bool(ended) and not unended


def complete(path: Path) -> bool:
    """Every process (and thread) the trace saw has its ``+++`` end line: strace has written all."""
    text = _text(path)
    return text is None or _complete(text)      # no trace at all: nothing to wait for


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
