"""Turning evidence into causes a student recognises.

Each function here looks at what the grader saw (bytes, exit statuses, ports,
CPU time) and returns ``(sentence, code)`` pairs: the sentence goes into the
feedback, the short code into results for the class report ("37 submissions
forgot htons()").  Nothing here touches a socket or a process.
"""

from __future__ import annotations

import signal

from .box import swap16
from .payload import plural, show

Diagnosis = tuple[str, str]   # (sentence for the student, short code)

SIGNAL_CAUSES = {
    signal.SIGPIPE: ("was killed by SIGPIPE: it wrote to a connection the client had already "
                     "closed; ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or pass MSG_NOSIGNAL to send()",
                     "sigpipe"),
    signal.SIGSEGV: ("crashed with a segmentation fault (SIGSEGV): a bad pointer, or a buffer "
                     "overflow", "segfault"),
    signal.SIGABRT: ("aborted (SIGABRT): an assert() failed, or the heap was corrupted", "abort"),
    signal.SIGBUS: ("crashed with SIGBUS: a bad memory access", "segfault"),
    signal.SIGFPE: ("crashed with SIGFPE: a division by zero", "sigfpe"),
    signal.SIGXCPU: ("was stopped for using too much CPU time (SIGXCPU): a busy loop?", "cpu-limit"),
    signal.SIGXFSZ: ("was stopped for writing too large a file (SIGXFSZ)", "file-limit"),
    signal.SIGKILL: ("was killed (SIGKILL): it ran out of memory or time", "killed"),
}


def signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def describe_exit(status: int) -> Diagnosis:
    """What an exit status means: 'exited with status 1' or the signal's cause."""
    if status < 0:
        sig = -status
        if sig in SIGNAL_CAUSES:
            return SIGNAL_CAUSES[sig]
        return f"was killed by {signal_name(sig)}", "signal"
    return f"exited with status {status}", "exited"


def compare_bytes(expected: bytes, got: bytes, *, eof: bool) -> list[Diagnosis]:
    """Why ``got`` is not ``expected``: truncation at NUL, a short echo, a wrong byte."""
    out: list[Diagnosis] = []
    if got == expected:
        return out
    if expected.startswith(got):
        nul = expected.find(b"\0")
        if got and nul == len(got) or (nul == 0 and not got):
            out.append(("bytes after the first NUL byte were lost: strlen() or %s was used on "
                        "binary data; use the byte count that recv() returned", "nul-truncation"))
        elif got:
            out.append(("only the beginning of the expected data came back"
                        + (" before the connection closed" if eof else ""), "short"))
        return out
    if got.startswith(expected):
        out.append((f"{plural(len(got) - len(expected), 'byte')} too many after the expected data", "extra"))
        return out
    as_text = expected.decode("utf-8", "replace").encode("utf-8")
    if got in (expected.decode("utf-8", "ignore").encode("utf-8"), as_text) and got != expected:
        out.append(("bytes that are not valid UTF-8 (such as 0xFF) were dropped or replaced: the "
                    "data was decoded as text; pass the bytes through unchanged", "text-decoding"))
        return out
    at = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
    for n in (8, 4, 2):
        want, have = expected[at - at % n:at - at % n + n], got[at - at % n:at - at % n + n]
        if len(want) == n and want != have and want[::-1] == have:
            out.append((f"{'an' if n == 8 else 'a'} {n}-byte number arrived with its bytes reversed: it was sent in the "
                        "machine's byte order, not in network byte order (big-endian): use "
                        "htonl()/htons()/htobe64() or build it byte by byte", "byte-order"))
            return out
    probe = got[at:at + 16]
    skip = expected.find(probe, at + 1) if len(probe) >= 8 else -1
    if skip > at and expected[at] == 0:
        out.append(("the bytes from a NUL (0x00) byte on were lost: strlen() or %s was used on "
                    "binary data; use the byte count that recv() returned", "nul-truncation"))
        return out
    if skip > at:
        out.append((f"bytes from offset {at} on are missing and what follows "
                    "came early: part of the data was never sent (send() wrote less than asked "
                    "and the rest was dropped)", "lost-bytes"))
        return out
    out.append((f"the bytes differ from offset {at}: expected {show(expected[at:at + 16])}, "
                f"got {show(got[at:at + 16])}", "mismatch"))
    return out


def stale_bytes(extra: bytes, history: list[bytes]) -> Diagnosis | None:
    """Extra bytes that repeat part of an earlier message: a buffer not reset."""
    if len(extra) < 2:
        return None
    for earlier in history:
        if extra in earlier:
            return ("they repeat part of an earlier, longer message: the buffer was not cleared, "
                    "or more bytes were sent than recv() returned", "stale-buffer")
    return None


def wrong_port(expected: int, actual: int, proto: str) -> Diagnosis:
    if actual == swap16(expected):
        return (f"listening on {actual}, which is {expected} with its two bytes swapped: the "
                f"port was not converted with htons()", "htons")
    return (f"listening on {actual} instead of {expected}: the port argument is ignored or "
            f"parsed wrongly (is the port hard-coded?)", "wrong-port")
