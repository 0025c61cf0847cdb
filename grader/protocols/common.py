"""What the lab modules share: the core's step machinery (imported lazily, so
that the spec loader can read the labs' schemas without it), a per-test state
for the labs' own bookkeeping, and reading an HTTP message head off a connection."""

from __future__ import annotations

import re
from typing import Any

from ..conns import TcpConn
from ..deadline import Deadline
from ..payload import show

HEAD_END = b"\r\n\r\n"
HEAD_LIMIT = 64 << 10


def core():
    """grader.steps (StepFailed, _program_gone, _make, _flush, ...), imported on first use."""
    from .. import steps
    return steps


def fail(message: str, causes: list | None = None, details: list[str] | None = None) -> Exception:
    return core().StepFailed(message, causes, details)


def program_gone(ctx) -> list:
    return core()._program_gone(ctx)


def state(ctx, lab: str) -> dict[str, Any]:
    """This test's bookkeeping of one lab (origins, early answers, ...): kept on the Context."""
    labs = ctx.__dict__.setdefault("protocol_state", {})
    return labs.setdefault(lab, {})


def tcp(ctx, name: str | None, step: str) -> TcpConn:
    sock = ctx.net.get(name)
    if not isinstance(sock, TcpConn):
        raise fail(f"{step} needs a TCP connection")
    return sock


def wait_head(ctx, sock: TcpConn, d: Deadline) -> bool:
    """Move bytes until ``sock`` holds a whole message head (or ended); True if it does.
    The wait ends early when the kernel shows no more can come (``ctx.stuck``)."""
    ctx.net.pump(d, lambda: HEAD_END in sock.inbuf or sock.eof or len(sock.inbuf) > HEAD_LIMIT,
                 give_up=core()._evidence(ctx))
    return HEAD_END in sock.inbuf


def split_head(raw: bytes) -> tuple[str, list[tuple[str, str]]]:
    """A head (without its blank line) as its first line and its header fields, in order."""
    lines = raw.decode("latin-1").split("\r\n")
    fields = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields.append((name.strip(), value.strip()))
    return lines[0], fields


def header(fields: list[tuple[str, str]], name: str) -> str | None:
    for k, v in fields:
        if k.lower() == name.lower():
            return v
    return None


def bare_lf_head(data: bytes) -> bool:
    """The head ended with a blank line of bare LFs ("\\n\\n"): the CRs are missing."""
    return HEAD_END not in data and bool(re.search(rb"\n\r?\n", data))


def head_not_ended(ctx, sock: TcpConn, d: Deadline, who: str) -> Exception:
    """Why no complete head came: nothing, a head with bare LFs, or a stream that ended."""
    got = bytes(sock.inbuf)
    details = [f"got: {show(got) if got else '(nothing)'}"]
    if bare_lf_head(got):
        return fail(f"the {who}'s head does not end with an empty line \"\\r\\n\\r\\n\"",
                    [("HTTP lines end with \\r\\n (CR LF), not \\n alone; the head ends with "
                      "an empty line, so \"\\r\\n\\r\\n\"", "http-bare-lf")], details)
    causes = program_gone(ctx)
    if sock.eof and not got:
        causes.append((f"the connection was closed without a {who}",
                       "http-no-response" if who == "response" else "closed-early"))
        return fail(f"on {sock.name}: the stream ended before any {who} came", causes, details)
    if sock.eof:
        return fail(f"on {sock.name}: the stream ended in the middle of the {who}'s head",
                    causes, details)
    return fail(core()._waited(ctx, d, f"on {sock.name} for a {who} head (ending with an empty "
                                       "line)"), causes, details + core()._stuck_detail(ctx))
