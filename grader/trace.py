"""The program's own system calls, as evidence (strace).

A test can run the student's programs under ``strace -f`` (see
:class:`grader.scope.TestScope` ``trace=True``): :func:`wrap` turns a
program's argv into the traced one, writing the trace to a file in the work
dir, and :func:`parse` reads that file back into :class:`Call` records once
the program has stopped.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

STRACE = shutil.which("strace") or "/usr/bin/strace"
# The calls worth recording: sockets, their data, process and thread creation, signals, exit.
TRACED = ("socket,bind,listen,accept,accept4,connect,recvfrom,recvmsg,recv,sendto,sendmsg,send,"
          "read,write,close,shutdown,setsockopt,clone,clone3,fork,vfork,wait4,waitid,"
          "rt_sigaction,exit_group")

_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<name>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>-?\d+|\?|0x[0-9a-f]+)"
                   r"(?:\s+(?P<errno>E[A-Z0-9]+))?")


@dataclass(frozen=True)
class Call:
    pid: int
    name: str
    args: str          # as strace printed them
    result: int | None
    errno: str | None
    line: str          # the whole line, for the evidence excerpt


def available() -> bool:
    return Path(STRACE).exists()


def wrap(argv: list[str], out: Path) -> list[str]:
    """argv run under strace, following threads and children, writing to ``out``."""
    return [STRACE, "-f", "-qq", "--seccomp-bpf", "-e", f"trace={TRACED}", "-s", "64",
            "-o", str(out), "--", *argv]


def parse(path: Path) -> list[Call]:
    """The finished calls in a trace file (missing file: none)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    calls = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        ret = m["ret"]
        result = None if ret == "?" else int(ret, 16) if ret.startswith("0x") else int(ret)
        calls.append(Call(int(m["pid"]), m["name"], m["args"], result, m["errno"], line))
    return calls
