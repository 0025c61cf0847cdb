"""Causes from what the program actually did: its own system calls as evidence.

Theory of operation
-------------------
The grader's verdict on a test always comes from the untraced run.  When a
test fails, :func:`explain` replays it once under strace (the same seed, so
the same data and timing schedule: see :mod:`grader.trace`) and reads what
the student's program asked the kernel for.  A replay is evidence only: it
never changes the verdict, and if it does not fail too (it passes, or the
grader could not run it) its calls are not used at all and the result says so.

From the calls, :data:`RULES` (a table: each rule a function from the
:class:`Story` of the calls to :class:`Finding` s) derive causes, several per
test when there are several, each with the excerpt of calls that shows it.
A finding may also *rule out* causes and hints the outside evidence
suggested (a correct send loop rules out "check send()'s return value"); a
ruled-out cause or hint is not shown.

Where tracing is not possible (no strace, ptrace refused in a container) the
outside evidence stands alone, and the failure says which evidence it used
(``evidence``: ``calls`` or ``outside``, with ``evidence_note`` saying why).

Why replay rather than trace every test: measured in
benchmarks/trace_cost.py (RESULTS.md, "evidence"): tracing every test of a
correct C submission costs more than the 20% budget, and a traced run could
give another verdict (a busy loop traced is a slow loop); a replay costs
nothing on passing tests.  ``SOCKET_GRADER_EVIDENCE`` = ``replay`` (default),
``every`` (trace every test: the verdict is then the traced run's) or
``off``.
"""

from __future__ import annotations

import codecs
import os
import re
import threading
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from . import trace
from .payload import show
from .shims import partial_write_size
from .spec import Conversation
from .trace import Call

MODE = os.environ.get("SOCKET_GRADER_EVIDENCE", "replay")
TRACE_EVERY_TEST = MODE == "every"
# A replay is for the calls, not the verdict: a wait that timed out has shown its calls
# long before, so the failed step of a replay waits at most this (the steps before it
# wait as in the graded run; see steps.Context._capped).
REPLAY_WAIT = 0.5
# At most this many lines of calls in one cause's excerpt.
EXCERPT_LINES = 6


@dataclass
class Finding:
    """A cause shown by the calls (``text`` in C terms; idioms.SAID restates it per language)."""

    code: str
    text: str
    calls: list[Call] = field(default_factory=list)
    rules_out: tuple[str, ...] = ()      # cause/hint codes this evidence contradicts

    def excerpt(self) -> list[str]:
        lines = [_shorten_strings(c.line) for c in self.calls]
        if len(lines) > EXCERPT_LINES:
            lines = lines[:EXCERPT_LINES - 1] + [f"... ({len(lines) - EXCERPT_LINES + 1} more)"]
        return lines


# ------------------------------------------------------------------ strace's text

_LONG_STRING = re.compile(r'"((?:[^"\\]|\\.){%d})(?:[^"\\]|\\.)+"(\.\.\.)?' % 40)


def _shorten_strings(line: str) -> str:
    """An excerpt line with each long buffer cut to its first 40 characters ("..."...)."""
    return _LONG_STRING.sub(lambda m: f'"{m[1]}"...', line)


# What split_args looks at: a whole string (or one strace cut at the end of the line),
# an opening or closing bracket, a comma.  Everything else is copied as it is.
_ARG_MARKS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?$)|[{\[(]|[}\])]|,', re.DOTALL)


def split_args(args: str) -> list[str]:
    """strace's argument list split at top-level commas (strings, {...}, [...] kept whole)."""
    out: list[str] = []
    depth = start = 0
    for m in _ARG_MARKS.finditer(args):
        mark = m.group()
        if mark[0] == '"':
            continue
        if mark in "{[(":
            depth += 1
        elif mark in "}])":
            depth -= 1
        elif depth == 0:
            out.append(args[start:m.start()].strip())
            start = m.end()
    if start < len(args) or out:
        out.append(args[start:].strip())
    return out


# A strace string: its body (escapes and all), then "..." when strace cut it.
_STRING = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"(\.\.\.)?', re.DOTALL)


def string_arg(tok: str) -> tuple[bytes, bool] | None:
    """The bytes of a strace string argument, and whether strace cut it ("..."...).

    strace writes the bytes as C escapes (\\n, \\t, \\x41, \\101, \\\\, \\"), the ones
    Python's own escape decoder reads."""
    if not tok.startswith('"'):
        return None
    m = _STRING.match(tok)
    if m is None:                       # no closing quote: the line itself was cut
        return _unescape(tok[1:]), True
    return _unescape(m[1]), m[2] is not None


def _unescape(body: str) -> bytes:
    if "\\" not in body:
        return body.encode("latin-1", "replace")
    tail = b""
    if (len(body) - len(body.rstrip("\\"))) % 2:
        body, tail = body[:-1], b"\\"    # a lone backslash where the line was cut
    try:
        return codecs.escape_decode(body.encode("latin-1", "replace"))[0] + tail
    except ValueError:                  # an escape cut in the middle (\\x4): drop it
        return _unescape(body[:body.rindex("\\")])


def _int(tok: str) -> int | None:
    try:
        return int(tok, 0)
    except ValueError:
        return None


# ------------------------------------------------------------------ the story of the calls

RECV = {"recvfrom", "recv", "read", "recvmsg"}
SEND = {"sendto", "send", "write", "sendmsg", "writev"}
MULTIPLEX = {"poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait", "epoll_pwait2"}


@dataclass
class Io:
    """One transfer on a socket: which way, the size asked, what came back."""

    call: Call
    out: bool                 # sent (else received)
    asked: int | None         # the size given (the buffer's size for a receive)
    result: int | None        # bytes moved (None: never returned; negative: failed)
    data: bytes               # the bytes strace showed (sent: what was given; received: what came)
    cut: bool                 # strace showed only the beginning


@dataclass
class Sock:
    """One socket as the program's calls show it (a connection, a listener, a UDP socket)."""

    kind: str                           # "stream", "dgram", "conn" (accepted), "other"
    fd: int
    opened_by: int
    calls: list[Call] = field(default_factory=list)
    io: list[Io] = field(default_factory=list)
    closed_by: set[int] = field(default_factory=set)
    holders: set[int] = field(default_factory=set)      # processes that have a copy


@dataclass
class Story:
    """The program's calls, sorted into sockets and processes."""

    calls: list[Call]
    # The assignment's protocol: which rules can apply (an echo's sends answer its receives).
    conversation: Conversation = Conversation()
    socks: list[Sock] = field(default_factory=list)
    children: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    threads: set[int] = field(default_factory=set)
    # Each thread's process (its thread group's leader): threads share one fd table, so a
    # socket is held and closed by processes, whichever of their threads made the call.
    process: dict[int, int] = field(default_factory=dict)
    main: int | None = None
    # The test's partial-writes shim cut every send on a stream socket to half of what the
    # program asked (at most 1000 bytes) before strace saw it: a send's length is then not
    # the program's (see grader/shims/partial_writes.c).
    sends_halved: bool = False

    @property
    def conns(self) -> list[Sock]:
        return [s for s in self.socks if s.kind == "conn" or (s.kind == "stream" and s.io)]

    @property
    def dgrams(self) -> list[Sock]:
        return [s for s in self.socks if s.kind == "dgram"]

    def by_pid(self, pid: int) -> list[Call]:
        return [c for c in self.calls if c.pid == pid]

    def by_process(self, proc: int) -> list[Call]:
        """The calls of all the threads of process ``proc``."""
        return [c for c in self.calls if self.process.get(c.pid, c.pid) == proc]


def story(calls: list[Call], conversation: Conversation = Conversation(),
          sends_halved: bool = False) -> Story:
    """Follow the calls: which fd is which socket in which process (fork copies the table,
    a thread shares it)."""
    st = Story(calls, conversation, sends_halved=sends_halved)
    tables: dict[int, dict[int, Sock]] = {}
    st.main = calls[0].pid if calls else None

    def table(pid: int) -> dict[int, Sock]:
        return tables.setdefault(pid, {})

    for c in calls:
        t = table(c.pid)
        proc = st.process.get(c.pid, c.pid)
        if c.name == "socket" and c.result is not None and c.result >= 0:
            kind = "stream" if "SOCK_STREAM" in c.args else "dgram" if "SOCK_DGRAM" in c.args else "other"
            s = Sock(kind, c.result, proc, [c], holders={proc})
            st.socks.append(s)
            t[c.result] = s
        elif c.name in ("accept", "accept4") and c.result is not None and c.result >= 0:
            s = Sock("conn", c.result, proc, [c], holders={proc})
            st.socks.append(s)
            t[c.result] = s
        elif c.name in ("clone", "clone3", "fork", "vfork") and c.result is not None and c.result > 0:
            if "CLONE_THREAD" in c.args:
                st.threads.add(c.result)
                st.process[c.result] = proc
                tables[c.result] = t                     # threads share the fd table
            else:
                st.children[proc].append(c.result)
                tables[c.result] = dict(t)
                for s in t.values():
                    s.holders.add(c.result)
        elif c.name == "close" and c.fd is not None:
            s = t.pop(c.fd, None)
            if s is not None:
                s.calls.append(c)
                s.closed_by.add(proc)
                s.holders.discard(proc)
        elif c.fd is not None and c.fd in t:
            s = t[c.fd]
            s.calls.append(c)
            args = split_args(c.args) if c.name in RECV | SEND else []
            if len(args) >= 2:
                out = c.name in SEND
                shown = string_arg(args[1]) or (b"", True)
                asked = _int(args[2]) if len(args) > 2 else None
                s.io.append(Io(c, out, asked, c.result, shown[0], shown[1]))
    return st


# ------------------------------------------------------------------ rules

def _pairs(s: Sock) -> Iterable[tuple[Io, Io]]:
    """Each datagram received and the reply sent right after it on the same socket."""
    last: Io | None = None
    for io in s.io:
        if not io.out and io.result is not None and io.result >= 0:
            last = io
        elif io.out and last is not None:
            yield last, io
            last = None


def rule_udp_reply_size(st: Story) -> list[Finding]:
    """A reply's size against the datagram it answers (in an echo only), and a datagram
    cut to the receive buffer's size (in any protocol)."""
    found: dict[str, Finding] = {}
    for s in st.dgrams:
        for got, sent in _pairs(s) if st.conversation.echo else ():
            n, m, size = got.result, sent.asked, got.asked
            if m is None or n is None or m == n:
                continue
            nul = got.data.find(b"\0") if not got.cut or b"\0" in got.data else -1
            if size is not None and m == size and m > n:
                found.setdefault("udp-sizeof-reply", Finding(
                    "udp-sizeof-reply",
                    f"your server received {n} bytes (recvfrom returned {n}) and sent {m} (sendto "
                    f"was given the size of the buffer, {size}): send the number of bytes received",
                    [got.call, sent.call], ("extra", "stale-buffer")))
            elif m == n + 1 and (nul < 0 or nul >= n):
                found.setdefault("strlen-plus-one", Finding(
                    "strlen-plus-one",
                    f"your server received {n} bytes and sent {m}: one more, the NUL that "
                    "strlen()+1 counts; a datagram is not a C string: send the number of bytes "
                    "recvfrom() returned",
                    [got.call, sent.call], ("extra",)))
            elif 0 <= nul < n and m == nul + 1:
                found.setdefault("strlen-plus-one-binary", Finding(
                    "nul-truncation",
                    f"your server received {n} bytes with a 0 byte at offset {nul} and sent {m}: "
                    "strlen()+1 stops at the first 0 byte; send the number of bytes recvfrom() "
                    "returned", [got.call, sent.call], ("udp-truncated",)))
            elif 0 <= nul < n and m == nul:
                found.setdefault("strlen", Finding(
                    "nul-truncation",
                    f"your server received {n} bytes with a 0 byte at offset {nul} and sent only "
                    f"{m}: strlen() stops at the first 0 byte; send the number of bytes "
                    "recvfrom() returned", [got.call, sent.call], ("udp-truncated",)))
        for io in s.io:
            if not io.out and io.asked and io.result == io.asked:
                found.setdefault("udp-truncated", Finding(
                    "udp-truncated",
                    f"recvfrom() filled the whole {io.asked}-byte buffer: the receive buffer is "
                    "smaller than the datagram, and the rest of it was discarded; receive into a "
                    "buffer of 65535 bytes (a UDP datagram can be up to 65507)", [io.call]))
                break
    return list(found.values())


def _groups(s: Sock) -> list[tuple[Io, list[Io]]]:
    """Each receive of data on a connection with the sends that followed it, until the next receive."""
    groups: list[tuple[Io, list[Io]]] = []
    for io in s.io:
        if not io.out and io.result is not None and io.result > 0:
            groups.append((io, []))
        elif io.out and groups and io.result is not None:
            groups[-1][1].append(io)
    return groups


def _resends(r: Io, sends: list[Io]) -> bool:
    """The sends after receive ``r`` begin with the bytes it returned (as far as strace
    showed both): an echo of them, not bytes made anew (text decoded and encoded again)."""
    sent = b"".join(x.data for x in sends)
    k = min(len(r.data), len(sent), r.result or 0)
    return k > 0 and sent[:k] == r.data[:k]


def rule_stream_echo(st: Story) -> list[Finding]:
    """Each receive against the sends that answered it: cut at a NUL (strlen()), a short
    send ignored, whole lines only, or a send loop that works.  Only in an echo: elsewhere
    what a server sends on a connection (another client's message, a file) is not an
    answer to what it received there."""
    out: dict[str, Finding] = {}
    if not st.conversation.echo:
        return []
    looped = False
    for s in st.conns:
        if s.kind != "conn":
            continue                 # a client's sends answer its input, not what it received
        got = sent = 0
        lines_only = None            # every answer so far ended at a newline
        first_short: tuple[Io, list[Io]] | None = None
        for r, sends in _groups(s):
            if any(x.result is not None and x.result < 0 for x in sends):
                continue             # a send that failed (the client reset): not a short send
            n = r.result or 0
            t = sum(x.result for x in sends if x.result and x.result > 0)
            got, sent = got + n, sent + t
            if sent > got and t > n and "stale-buffer" not in out and _resends(r, sends):
                # More went out than ever came in, starting with the bytes just received:
                # the rest was the buffer's, whichever recv() first came back shorter.
                out["stale-buffer"] = Finding(
                    "stale-buffer",
                    "the server sent more bytes than it had received on this connection: after "
                    "a recv() that returned fewer bytes than an earlier one, send() was given a "
                    "longer length, so bytes left in the buffer from an earlier, longer message "
                    "went too; send exactly the count that this recv() returned",
                    [r.call] + [x.call for x in sends[:1]], ("extra", "mismatch"))
            looped |= len(sends) >= 2 and t == n
            if sends and not any(x.cut for x in sends):
                ends = b"".join(x.data[:x.result] for x in sends).endswith(b"\n")
                lines_only = ends if lines_only is None else lines_only and ends
            if t >= n or not sends:
                continue
            nul = r.data.find(b"\0")
            # Under the partial-writes shim a send of half the bytes received is the shim's
            # cut, whatever the buffer holds there: not a strlen().
            halved = st.sends_halved and nul == partial_write_size(n)
            if 0 <= nul < n and (t == nul or sends[0].asked == nul) and not halved:
                out.setdefault("nul-truncation", Finding(
                    "nul-truncation",
                    f"recv() returned {n} bytes with a 0 byte at offset {nul}, and send() was given "
                    f"only the {nul} before it: strlen() stops at the first 0 byte; send the count "
                    "recv() returned", [r.call, sends[0].call], ("short", "lost-bytes", "mismatch")))
            elif len(sends) == 1 and not (r.cut and nul < 0 and t >= len(r.data)) and first_short is None:
                first_short = (r, sends)
        if got > sent and lines_only and "line-echo" not in out:
            ins = [io for io in s.io if not io.out and io.result and io.result > 0]
            outs = [io for io in s.io if io.out and io.result and io.result > 0]
            out["line-echo"] = Finding(
                "line-echo",
                f"your server sent back only whole lines: of {got} bytes received on this "
                f"connection it sent {sent}, each answer ending with a newline; the bytes after "
                "the last newline were never sent (fgets()/getline()/readline() wait for a "
                "newline that never comes): echo what recv() returns, as it comes",
                [ins[-1].call] + [io.call for io in outs[-1:]],
                ("short", "ignores-partial-send", "lost-bytes", "first-recv-only", "hangs"))
        elif first_short is not None and got > sent and "ignores-partial-send" not in out:
            r, sends = first_short
            t = sends[0].result
            out["ignores-partial-send"] = Finding(
                "ignores-partial-send",
                f"recv() returned {r.result} bytes and the one send() that followed sent {t} of "
                f"them; the program went on without sending the other {r.result - t}: send() may "
                "send fewer bytes than asked: check its return value and send the rest in a loop",
                [r.call] + [x.call for x in sends[:1]], ("short",))
    if looped and "ignores-partial-send" not in out:
        # It sent the rest after a short send(): advice to check send()'s return is contradicted.
        out["send-loop-ok"] = Finding("", "", [], ("ignores-partial-send", "lost-bytes"))
    return list(out.values())


def rule_relayed_lines(st: Story) -> list[Finding]:
    """What one recv() returned, sent on to another connection as one message (with a
    prefix, "alice: "): several lines at once, or part of a line.  Only where the
    protocol relays whole lines (a chat): a proxy passes bytes on as they come."""
    if st.conversation.lines != "relayed":
        return []
    where = {id(io.call): (s, io) for s in st.conns if s.kind == "conn" for io in s.io}
    last: dict[int, tuple[Sock, Io]] = {}       # each process's last receive with data
    for c in st.calls:
        found = where.get(id(c))
        if found is None:
            continue
        s, io = found
        proc = st.process.get(c.pid, c.pid)
        if not io.out:
            if io.result and io.result > 0 and not io.cut:
                last[proc] = (s, io)
            continue
        if proc not in last or io.cut or not io.result or io.result <= 0:
            continue
        src, r = last[proc]
        got, sent = r.data[:r.result], io.data[:io.result]
        # Sent on as it came, or with a newline of the program's own after it.
        if src is s or not got or not (sent.endswith(got) or sent.endswith(got + b"\n")):
            continue
        if b"\n" in got[:-1]:
            return [Finding(
                "no-line-buffer",
                f"one recv() returned {show(got)}, more than one line, and the program "
                f"sent it on as one message ({show(sent)}): the lines after the first "
                "went without their prefix. One recv() may hold several lines: keep each "
                "client's bytes in a buffer and send on each complete line by itself",
                [r.call, io.call], ("mismatch", "short"))]
        if not got.endswith(b"\n"):
            return [Finding(
                "no-line-buffer",
                f"recv() returned {show(got)}, part of a line (no newline at its end), and "
                f"the program sent it on at once ({show(sent)}); the rest of the line then "
                "went as a message of its own. Lines arrive in pieces: keep each client's bytes "
                "until the newline, then send on the whole line",
                [r.call, io.call], ("mismatch", "short"))]
    return []


def rule_answered_piece(st: Story) -> list[Finding]:
    """A send on a connection after part of a line came (a receive with no newline in it)
    and no whole line since the last send: the piece was answered, taken for a whole
    command.  (A reply queued for earlier lines and sent after a piece came has a whole
    line before it.)  Only where each line is answered on its connection: a server that
    relays lines sends on a connection whatever the others say, and an echo answers
    pieces by design."""
    if st.conversation.lines != "answered":
        return []
    for s in st.conns:
        if s.kind != "conn":
            continue
        piece: Io | None = None          # since the last send: the last receive of a piece,
        line = False                     # and whether a whole line came
        for io in s.io:
            if io.result is None or io.result <= 0:
                continue
            if not io.out:
                got = io.data[:io.result]
                if io.cut or b"\n" in got:
                    line = True          # (cut: what it held is not known)
                else:
                    piece = io
                continue
            if piece is not None and not line:
                return [Finding(
                    "no-line-buffer",
                    f"recv() returned {show(piece.data[:piece.result])}, part of a line (no "
                    f"newline in it), and the program answered it at once "
                    f"({show(io.data[:io.result])}): it took the piece for a whole command. A "
                    "command may arrive in several pieces: keep the bytes until the newline "
                    "comes, then handle the whole line",
                    [piece.call, io.call], ("mismatch", "short"))]
            piece, line = None, False
    return []


def rule_fork_keeps_fd(st: Story) -> list[Finding]:
    for s in st.conns:
        kids = [k for k in st.children.get(s.opened_by, []) if k in s.holders or k in s.closed_by]
        if s.kind == "conn" and kids and s.opened_by in s.holders and s.closed_by - {s.opened_by}:
            accepts = [c for c in st.by_process(s.opened_by) if c.name in ("accept", "accept4")
                       and c.result is not None and c.result >= 0]
            forks = [c for c in st.by_process(s.opened_by) if c.name in ("clone", "fork", "vfork")][:1]
            child_close = [c for c in s.calls if c.name == "close"][:1]
            fds = ", ".join(str(c.result) for c in accepts[:4])
            return [Finding(
                "fork-parent-keeps-fd",
                f"after fork() the parent never closes its copy of the connected socket (accept() "
                f"returned {fds}{', ...' if len(accepts) > 4 else ''} in the parent, which closed "
                "none of them): the child's close() does not end the connection while the parent "
                "holds a copy; close(connfd) in the parent right after fork()",
                accepts[:2] + forks + child_close, ("no-close", "recv-zero-spin"))]
    return []


def recv_zero_spin(calls: list[Call]) -> Finding:
    # (How many calls were seen depends on timing: not said, so the feedback is the same
    # every run.)
    return Finding(
        "recv-zero-spin",
        "recv() returned 0 and was not treated as end of stream: the program called it again "
        "and again, getting 0 each time; 0 means the client closed: close() the socket then",
        calls[:3])


def rule_recv_zero(st: Story) -> list[Finding]:
    for s in st.conns:
        zeros = [io for io in s.io if not io.out and io.result == 0]
        if len(zeros) >= 3:
            return [recv_zero_spin([z.call for z in zeros])]
        if zeros and s.closed_by and s.kind == "conn":
            return [Finding("", "", [], ("no-close",))]        # it closed after recv() == 0
    return []


def rule_unchecked_bind(st: Story) -> list[Finding]:
    for s in st.socks:
        binds = [c for c in s.calls if c.name == "bind"]
        if binds and binds[0].failed:
            after = [c for c in s.calls[s.calls.index(binds[0]) + 1:]
                     if c.name in ("listen", "accept", "accept4", "recvfrom", "recv", "read")][:1]
            if after:
                port = re.search(r"htons\((\d+)\)", binds[0].args)
                return [Finding(
                    "unchecked-bind",
                    f"bind() to port {port[1] if port else '?'} failed ({binds[0].errno}) and the "
                    f"program went on to {after[0].name}() on the same socket"
                    + (" (listen() then bound a random free port)" if after[0].name == "listen" else "")
                    + ": check bind()'s result, say what failed on stderr and exit non-zero",
                    [binds[0], after[0]], ("wrong-port", "hangs"))]
    return []


def rule_port_from_stdin(st: Story) -> list[Finding]:
    if st.main is None:
        return []
    reads = []
    mine = st.by_pid(st.main)
    if any(c.name == "connect" for c in mine):
        return []                  # a client: its standard input is its data
    for c in mine:
        if c.name == "read" and c.fd == 0:
            reads.append(c)
        if c.name == "+++ exit" and reads and c.result and not any(x.name == "bind" for x in mine):
            prompt = [p for p in mine if p.name == "write" and p.fd == 1][:1]
            return [Finding(
                "port-from-stdin",
                "the program read its standard input (read(0, ...) returned "
                f"{reads[0].result}: there is none) and ended before bind(): the port is on the "
                "command line (argv[1]), not typed in at a prompt", prompt + reads[:1] + [c],
                ("exited-early",))]
        if c.name in ("bind", "listen"):
            if reads:
                prompt = [p for p in st.by_pid(st.main) if p.name == "write" and p.fd == 1][:1]
                return [Finding(
                    "port-from-stdin",
                    "the program read its standard input before bind() (read(0, ...) returned "
                    f"{reads[0].result}): the port is on the command line (argv[1]), not typed in "
                    "at a prompt", prompt + reads[:1] + [c], ("wrong-port",))]
            return []
    return []


def rule_clone_fails(st: Story) -> list[Finding]:
    for c in st.calls:
        if c.name in ("clone", "clone3", "fork", "vfork") and c.failed:
            made = len(st.threads) if "CLONE_THREAD" in c.args or c.name == "clone3" else sum(
                len(v) for v in st.children.values())
            if "CLONE_THREAD" in c.args or (c.name == "clone3" and st.threads):
                return [Finding(
                    "thread-create-fails",
                    f"creating a thread failed ({c.name}() = -1 {c.errno}) after {made} threads: "
                    "threads that are never joined nor detached keep their resources; "
                    "pthread_detach() each one (or join it), and check pthread_create()'s result "
                    "(it returns the error number, never a negative value)", [c])]
            kids = {k for v in st.children.values() for k in v}
            ended = {x.pid for x in st.calls if x.name == "+++ exit" and x.pid in kids
                     and st.calls.index(x) < st.calls.index(c)}
            if len(ended) * 2 >= len(kids):
                why = ("children that are never reaped stay as zombies and count against the "
                       "process limit; waitpid() for them")
            else:
                why = (f"{len(kids) - len(ended)} of them were still running: a child that "
                       "never ends (its client long gone) keeps its place in the process limit; "
                       "each child must exit when its client is done (recv() returning 0)")
            return [Finding("fork-fails",
                            f"fork() failed ({c.name}() = -1 {c.errno}) after {made} children: {why}",
                            [c])]
    return []


def _waits_without_wnohang(st: Story, c: Call) -> bool:
    """Wait call ``c`` blocks (no WNOHANG).  A call that never returned shows only the
    arguments strace prints on entry (``wait4(-1, <unfinished ...>``: the options come
    after the status it fills in), so then its process's calls that did return must
    show how it waits, and all of them without WNOHANG: a loop of waitpid(WNOHANG)
    killed in one of its instantaneous calls is not a blocking wait."""
    args = split_args(c.args)
    if len(args) >= 3:
        return "WNOHANG" not in args[2]
    done = [split_args(x.args) for x in st.by_pid(c.pid) if x.name == "wait4" and x.result is not None]
    done = [a for a in done if len(a) >= 3]
    return bool(done) and all("WNOHANG" not in a[2] for a in done)


def rule_blocking_waitpid(st: Story) -> list[Finding]:
    for c in st.calls:
        if c.name == "wait4" and c.result is None and _waits_without_wnohang(st, c) and \
                any(x.name.startswith("accept") for x in st.by_pid(c.pid)):
            sig = [x for x in st.by_pid(c.pid) if x.name == "--- signal" and x.args == "SIGCHLD"][:1]
            return [Finding(
                "sigchld-blocking-wait",
                "the server sat in waitpid() without WNOHANG until it was stopped (in its SIGCHLD "
                "handler): after reaping the child that ended it waits for the next one, which is "
                "still serving its client, and accepts no one meanwhile; loop "
                "while (waitpid(-1, NULL, WNOHANG) > 0)", sig + [c], ("iterative",))]
    return []


def rule_sigpipe(st: Story) -> list[Finding]:
    for i, c in enumerate(st.calls):
        if c.name == "+++ exit" and c.args == "SIGPIPE":
            before = [x for x in st.calls[:i] if x.pid == c.pid and x.name in SEND][-1:]
            return [Finding(
                "sigpipe",
                "the program was killed by SIGPIPE in a send() to a connection the client had "
                "reset: ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or pass MSG_NOSIGNAL to send()",
                before + [c])]
    return []


_FD_SET = re.compile(r"^\s*\d+,\s*\[([\d ]*)\]")


def rule_select_closed_fd(st: Story) -> list[Finding]:
    """select() failing with EBADF on a socket the process had closed: close() without
    FD_CLR(), the tutorials' select() loop with one line missing.  The server then
    usually exits (perror("select"); exit(...)) when its first client leaves."""
    closed: dict[int, dict[int, Call]] = defaultdict(dict)     # process -> fd -> its close()
    for c in st.calls:
        proc = st.process.get(c.pid, c.pid)
        if c.name == "close" and c.result == 0 and c.fd is not None:
            closed[proc][c.fd] = c
        elif c.name in ("accept", "accept4", "socket") and c.result is not None and c.result >= 0:
            closed[proc].pop(c.result, None)        # the number is in use again
        elif c.name in ("select", "pselect6") and c.errno == "EBADF":
            m = _FD_SET.match(c.args)
            bad = [int(x) for x in m.group(1).split()] if m else []
            gone = [fd for fd in bad if fd in closed[proc]]
            if not gone:
                continue
            fd = gone[0]
            end = [x for x in st.calls if x.pid == c.pid and x.name == "+++ exit"][:1]
            return [Finding(
                "select-closed-fd",
                f"select() failed with EBADF (Bad file descriptor): socket {fd} was closed but "
                "was still in the fd_set given to select(); when a client's connection ends, "
                "remove it from the set (FD_CLR) as you close() it",
                [closed[proc][fd], c] + end)]
    return []


def _all_input_sent(mine: list[Call], at: Call) -> bool:
    """Before call ``at``, standard input had ended or every byte read from it was sent: a
    0-byte send then is meant as the end of the stream.  (One in the middle is strlen() of
    a line that starts with a 0 byte, and whether a run reached one is timing.)"""
    i = mine.index(at) if at in mine else len(mine)
    read = sent = 0
    for c in mine[:i]:
        if c.name == "read" and c.fd == 0:
            if c.result == 0:
                return True
            read += max(c.result or 0, 0)
        elif c.name in SEND and c.result:
            sent += max(c.result, 0)
    return sent >= read


def rule_client_end(st: Story) -> list[Finding]:
    """Client role: lock-step, a 0-byte send for the end, close() instead of shutdown()."""
    found: list[Finding] = []
    conns = [s for s in st.socks if s.kind == "stream" and any(c.name == "connect" and not c.failed
                                                                for c in s.calls)]
    if not conns or st.main is None:
        return found
    s = conns[0]
    main = st.by_pid(st.main)
    # A receive the main thread made after poll()/select() said what was ready (since its
    # last receive), or one that does not wait, is not a wait for the reply: a poll() loop
    # interleaves its sends and receives as the data comes, and how they fell is timing,
    # not lock-step.
    polled: set[int] = set()
    looked = False
    for c in main:
        looked |= c.name in MULTIPLEX
        if c.name in RECV and c.fd == s.fd:
            if looked:
                polled.add(id(c))
            looked = False
    mine = [c for c in main if (c.name == "read" and c.fd == 0) or c in s.calls]
    # A receive on the socket before standard input has ended, with more input or more
    # sends after it: it waits for each reply before going on with its input.
    stdin_done = False
    for i, c in enumerate(mine):
        if c.name == "read" and c.fd == 0 and c.result == 0:
            stdin_done = True
        if (c.name in RECV and c.fd == s.fd and not stdin_done and i > 0
                and id(c) not in polled and "MSG_DONTWAIT" not in c.args):
            sent = [x for x in mine[:i] if x.name in SEND]
            later = [x for x in mine[i + 1:] if x.name in SEND or (x.name == "read" and x.fd == 0)]
            if sent and (later or c.result is None):
                found.append(Finding(
                    "lockstep",
                    "the client waits for a reply before it has sent all its input (send() → "
                    "recv() → more input): a server that answers only at the end of the stream, "
                    "or a slow one, then waits for the client while the client waits for it; "
                    "send all the input (then shutdown(SHUT_WR)) while reading replies "
                    "(poll()/select() or a second thread)",
                    [sent[-1], c] + later[:1],
                    ("first-recv-only", "ignores-partial-send", "lost-bytes", "short", "closed-early")))
                break
    zero = [io for io in s.io if io.out and io.asked == 0 and _all_input_sent(mine, io.call)]
    if zero:
        found.append(Finding(
            "zero-send",
            "a send() of 0 bytes does not end the stream (the server sees nothing): call "
            "shutdown(fd, SHUT_WR)", [zero[0].call]))
    shut = [c for c in s.calls if c.name == "shutdown"]
    close = [c for c in s.calls if c.name == "close"]
    exit_ok = any(c.name == "+++ exit" and c.result == 0 for c in st.by_pid(st.main))
    if close and not shut and exit_ok:
        i = s.calls.index(close[0])
        if i > 0 and s.calls[i - 1].name in SEND:
            found.append(Finding(
                "close-not-shutdown",
                "the client called close() right after sending, before reading the reply: "
                "shutdown(fd, SHUT_WR) ends the sending side only; then keep calling recv() "
                "until it returns 0", [s.calls[i - 1], close[0]],
                ("first-recv-only", "no-shutdown")))
    return found


def rule_closes_first(st: Story) -> list[Finding]:
    """Server role: a connection closed by the server before the client ended it (where the
    client ends connections: a file server closes after its reply, by design)."""
    if st.conversation.ends != "client":
        return []
    for s in st.conns:
        if s.kind != "conn" or not s.closed_by or s.holders:
            continue                 # still open in some process (a fork parent's close is not the end)
        ins = [io for io in s.io if not io.out]
        if ins and all(io.result for io in ins) and any(io.result and io.result > 0 for io in ins):
            close = [c for c in s.calls if c.name == "close"][-1:]
            n = len([io for io in ins if io.result and io.result > 0])
            return [Finding(
                "closes-first",
                f"the server closed the connection after one reply: it called recv() "
                f"{'once' if n == 1 else f'{n} times'}, sent what it got and closed the connection "
                "without waiting for the client's end (recv() returning 0); a TCP stream is not "
                "one message: keep calling recv() until it returns 0, then close()", [ins[0].call] + [io.call for io in s.io if io.out][:1] + close,
                ("closed-early", "reset", "short", "first-recv-only"))]
    return []


_ERRORISH = re.compile(rb"(?i)error|fail|cannot|can't|unable|refused|usage|in use|denied")


def rule_error_on_stdout(st: Story) -> list[Finding]:
    if st.main is None:
        return []
    for c in st.calls:
        if c.name == "write" and c.fd == 1:
            parts = split_args(c.args)
            data = string_arg(parts[1]) if len(parts) > 1 else None
            if data and _ERRORISH.search(data[0]):
                end = [x for x in st.calls if x.name in ("exit_group", "+++ exit")][:1]
                to_stderr = [x for x in st.calls if x.name == "write" and x.fd == 2]
                if not to_stderr:
                    return [Finding(
                        "error-on-stdout",
                        "the error message went to standard output, not standard error "
                        "(write(1, ...)): print errors on stderr, e.g. perror(\"bind\") or "
                        "fprintf(stderr, ...)", [c] + end)]
    return []


_TRACEBACK = re.compile(rb"UnicodeDecodeError|UnicodeEncodeError")


def rule_python_decode(st: Story) -> list[Finding]:
    for c in st.calls:
        if c.name == "write" and c.fd == 2:
            parts = split_args(c.args)
            data = string_arg(parts[1]) if len(parts) > 1 else None
            if data and _TRACEBACK.search(data[0]):
                reads = [x for x in st.calls if x.pid == c.pid and x.name in RECV and x.result
                         and x.fd == 0][-1:]
                if reads:
                    return [Finding(
                        "text-mode-stdio",
                        "standard input was read as text and binary input could not be decoded "
                        "(the traceback on stderr): read sys.stdin.buffer and write "
                        "sys.stdout.buffer, which carry bytes", reads + [c],
                        ("closed-early", "short", "first-recv-only"))]
                got = [x for x in st.calls if x.pid == c.pid and x.name in RECV and x.result
                       and x.fd not in (0, None)][-1:]
                return [Finding(
                    "decode-binary",
                    "the program died decoding received bytes as text (recv().decode(): the "
                    "traceback on stderr); bytes such as 0xFF are not UTF-8: send back the bytes "
                    "received, without decode()/encode()", got + [c], ("short", "closed-early"))]
    return []


RULES: list[Callable[[Story], list[Finding]]] = [
    rule_unchecked_bind, rule_port_from_stdin, rule_udp_reply_size, rule_python_decode,
    rule_stream_echo, rule_relayed_lines, rule_answered_piece, rule_fork_keeps_fd,
    rule_recv_zero, rule_blocking_waitpid, rule_clone_fails, rule_sigpipe, rule_client_end,
    rule_closes_first, rule_error_on_stdout, rule_select_closed_fd,
]


def findings(calls: list[Call], conversation: Conversation = Conversation(),
             sends_halved: bool = False) -> list[Finding]:
    """What one launch's calls show, in a protocol whose connections look so (and whose
    sends the partial-writes shim halved, when ``sends_halved``)."""
    st = story(calls, conversation, sends_halved)
    out: list[Finding] = []
    for rule in RULES:
        out += rule(st)
    return out


def findings_of(traces: list[list[Call]], conversation: Conversation = Conversation(),
                sends_halved: bool = False) -> list[Finding]:
    """What the test's launches show, the last launch first (it is the one the failure is
    about), each cause once."""
    out: list[Finding] = []
    codes: set[str] = set()
    for calls in reversed(traces):
        for x in findings(calls, conversation, sends_halved):
            if not x.code or x.code not in codes:
                out.append(x)
                codes.add(x.code)
    return out


def _traces_of(scope) -> list[list[Call]]:
    traces = getattr(scope, "traces", None)
    return traces if traces is not None else list(scope.calls.values())


# ------------------------------------------------------------------ the replay

_TRACING: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()


def tracing_refused(prepared) -> str:
    """Why the box cannot trace ('' when it can): strace missing, or ptrace refused."""
    if not trace.available():
        return "strace is not installed"
    box = prepared.box
    try:
        return _TRACING[box]
    except (KeyError, TypeError):
        pass
    from .deadline import Deadline
    why = ""
    world = box.open_world()
    try:
        out = prepared.workdir.path / ".socket-grader-trace-probe"
        proc = world.spawn(trace.wrap(["/bin/true"], out), cwd=prepared.workdir.path,
                           env=prepared.env, limits=prepared.limits)
        status = proc.wait(Deadline.after(5, "the strace probe"))
        if status != 0:
            err = proc.stderr.data.decode(errors="replace").strip().splitlines()
            why = "strace could not trace here" + (f" ({err[-1]})" if err else "")
        proc.kill()
        out.unlink(missing_ok=True)
    finally:
        world.close()
    try:
        _TRACING[box] = why
    except TypeError:
        pass
    return why


def _same_verdict(a, b) -> bool:
    """The replay failed too (the verdict is pass or fail; where a timing-bound bug makes
    the failure show at another step, the calls are still this program's in this test)."""
    return not b.error and b.failure is not None and a.failure is not None


def _replay(prepared, test, seed: int, total, out) -> tuple[list | None, Any, str, Any]:
    """The failed test run again under trace: its calls, its scope and '', or None, None and
    why they are not evidence; and the replay's own outcome (None if it could not run)."""
    from .scope import TestScope
    try:
        with TestScope(prepared, test, seed, total, trace=True,
                       wait_cap=REPLAY_WAIT, replay_of=out.failure) as replay:
            again = replay.run()
    except Exception as e:        # evidence is a bonus: never fail the test over it
        return None, None, f"the replay under trace failed: {e}", None
    if not _same_verdict(out, again):
        return None, None, ("replayed under trace, the test "
                            + ("passed" if again.failure is None and not again.error
                               else "could not be run")
                            + ", so its calls are not used as evidence"), again
    return _traces_of(replay), replay, "", again


class _Shared:
    """One replay several tests wait for (the first to ask runs it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.result: tuple | None = None


_SHARING = threading.Lock()


def _replay_start(prepared, test, seed: int, total, out) -> tuple[list | None, Any, str, Any]:
    """The replay of a server that never became ready, shared by every test of the
    submission that failed the same way before its first step and starts the program the
    same way (the same shims, no files of its own, the same limits): such a replay ends
    where the start did, with the same calls whichever test runs it.  A program that never
    listens fails all of a spec's tests there; one replay instead of one per test.

    A test whose shared replay did not fail as it did (it became ready, or failed
    otherwise) is replayed on its own, as any other failed test.  Returns as
    :func:`_replay` does."""
    from .steps import uses_reference
    f = out.failure
    if test.files:
        return _replay(prepared, test, seed, total, out)
    key = (tuple(test.shims), tuple(sorted(test.network.items())), uses_reference(test.steps),
           test.timeout, f.message)
    with _SHARING:
        shared = prepared.shared_replays.setdefault(key, _Shared())
    with shared.lock:
        if shared.result is None:
            shared.result = _replay(prepared, test, seed, total, out)
        again = shared.result[3]
    if again is None or (again.failure is not None and again.failure.at_start
                         and again.failure.message == f.message):
        return shared.result
    return _replay(prepared, test, seed, total, out)


def explain(prepared, test, seed: int, total, out, scope=None):
    """Evidence for a failed test: its replay under trace (or the run's own calls, when
    ``scope`` traced it), turned into causes on ``out.failure``.  Returns ``out``."""
    f = out.failure
    if f is None or out.error or MODE == "off":
        return out
    f.evidence, f.evidence_note = "outside", ""
    traces: list[list[Call]] | None = None
    spun = _spin_seen(f)
    if spun:
        # The look that proved the spin watched the calls: they are the evidence, and a
        # replay (a spinning loop under strace, for every failed test) would cost seconds.
        f.evidence = "calls"
        apply(f, [recv_zero_spin(spun)], stderr=out.stderr_tail, stdout=out.stdout_tail)
        return out
    if scope is not None and getattr(scope, "trace", False):
        traces = _traces_of(scope)
    else:
        why = tracing_refused(prepared)
        if why:
            f.evidence_note = why
        elif total.expired:
            f.evidence_note = "no time was left to replay the test under trace"
        else:
            replay = _replay_start if f.at_start else _replay
            traces, scope, f.evidence_note, _ = replay(prepared, test, seed, total, out)
    if traces is not None and getattr(scope, "traces_cut", 0):
        # Its last calls are missing: a rule that reads "it never called recv() again"
        # from a trace cut short would name a wrong cause.
        f.evidence_note = (f"strace had not written all the program's calls {trace.FLUSH_WAIT:g} s "
                           "after the test ended, so they are not used as evidence")
        traces = None
    if traces is None:
        apply(f, [], stderr=out.stderr_tail, stdout=out.stdout_tail)
        return out
    f.evidence = "calls"
    apply(f, findings_of(traces, prepared.spec.conversation, "partial-writes" in test.shims),
          stderr=out.stderr_tail, stdout=out.stdout_tail)
    return out


def _spin_seen(f) -> list[Call]:
    """The calls of a proven recv() == 0 spinner, when that evidence ended the failed wait
    and explains its step (a wait for the end of the stream, a client's run, resources)."""
    step = getattr(f, "step", None)
    if step is None or step.action not in RELEVANT["recv-zero-spin"]:
        return []
    for b in f.stuck or []:
        if b.call == "recv() == 0 loop" and b.calls:
            return list(b.calls)
    return []


# Which failures each finding can explain, by the failed step's action (a finding about
# another part of the test is true but not why this step failed: it is left out).
# In RELEVANT: wherever the failure's causes say the program exited (not a step's name).
EXITED = "<exited>"
_DATA = {"expect", "expect_stdout", "run_client", "expect_eof", "echo_back", "send", "shutdown", "close"}
_START = {None, "launch", "expect_listening", "expect_exit", "expect_stderr", "connect", "accept"}
_SERVE = {"connect", "expect", "send", "expect_eof", "run_client", "expect_resources", "expect_open"}
RELEVANT: dict[str, set[str | None]] = {
    "udp-sizeof-reply": _DATA, "strlen-plus-one": _DATA, "nul-truncation": _DATA,
    "udp-truncated": _DATA, "ignores-partial-send": _DATA, "line-echo": _DATA, "stale-buffer": _DATA,
    "no-line-buffer": _DATA,
    "decode-binary": _DATA | _SERVE, "text-mode-stdio": _DATA | {"expect_exit"},
    "fork-parent-keeps-fd": {"expect_eof", "echo_back", "run_client", "expect_resources", "expect_stdout"},
    "recv-zero-spin": {"expect_eof", "run_client", "expect_resources"},
    "close-not-shutdown": _DATA, "zero-send": _DATA | {"expect_exit"},
    "lockstep": _DATA | {"accept", "expect_exit"},
    "closes-first": _DATA | {"expect_open"},
    "unchecked-bind": _START | {"restart"}, "port-from-stdin": _START,
    "error-on-stdout": {"expect_exit", "expect_stderr"},
    "sigpipe": _DATA | _SERVE | {"expect_running", "expect_exit"},
    "thread-create-fails": _SERVE, "fork-fails": _SERVE, "sigchld-blocking-wait": _SERVE,
    # Wherever the failure is the server's exit, at whichever step it was found (a connect
    # refused, or accepted just before the exit and then closed, is timing); not a data
    # test's own failure, whose run may also end in that select() once its client left.
    "select-closed-fd": {EXITED},
}


def relevant(x: Finding, action: str | None, exited: bool = False) -> bool:
    """Whether finding ``x`` explains a failure at a step ``action`` (``exited``: the
    failure's causes say the program exited)."""
    if x.code not in RELEVANT:
        return True
    return action in RELEVANT[x.code] or (exited and EXITED in RELEVANT[x.code])


def apply(f, found: list[Finding], *, stderr: str = "", stdout: str = "") -> None:
    """Put the findings first among ``f``'s causes and drop what they rule out.  What the
    graded run's own output shows is added where the calls did not show the same cause
    (the calls come from a replay, whose run can differ from the graded one)."""
    have_codes = {x.code for x in found}
    found = found + [x for x in outside_findings(stderr, stdout) if x.code not in have_codes]
    step = getattr(f, "step", None)
    exited = any(code == "exited" for _, code in f.causes)
    found = [x for x in found if relevant(x, step.action if step is not None else None, exited)]
    ruled_out = {code for x in found for code in x.rules_out}
    shown = [x for x in found if x.code]
    have = {x.code for x in shown}
    kept = []
    for text, code in f.causes:
        if code in ruled_out or code in have:
            continue
        if code == "hint" and _hint_code(f, text) in ruled_out:
            continue
        kept.append((text, code))
    # A hint's own cause code follows it as ("", code): drop it with its hint.
    f.causes = [(x.text, x.code) for x in shown] + _drop_orphan_codes(kept, ruled_out)
    f.findings = shown
    f.ruled_out = sorted(ruled_out)


def _drop_orphan_codes(causes: list[tuple[str, str]], ruled_out: set[str]) -> list[tuple[str, str]]:
    return [(t, c) for t, c in causes if t or c not in ruled_out]


# Spec hints without a cause code, recognised by what they advise (so that the
# evidence can rule them out): the topic's cause code.
HINT_TOPICS = [
    (re.compile(r"send\(\) may write fewer|check its return value"), "ignores-partial-send"),
    (re.compile(r"until recv\(\) returns 0"), "first-recv-only"),
]


def hint_code(text: str, code: str | None = None) -> str | None:
    if code:
        return code
    for pattern, topic in HINT_TOPICS:
        if pattern.search(text):
            return topic
    return None


def _hint_code(f, text: str) -> str | None:
    step = getattr(f, "step", None)
    return hint_code(text, getattr(step, "cause", None) if step is not None and step.hint == text else None)


_FORK_FAILED = re.compile(r"(?im)^.*\bfork\b.*(resource temporarily unavailable|errno 11\b|EAGAIN).*$")


def outside_findings(stderr: str, stdout: str) -> list[Finding]:
    """What the program's own output shows (a traceback, fork()'s error on stderr)."""
    out = []
    fork = _FORK_FAILED.search(stderr)
    if fork:
        out.append(Finding("fork-fails",
                           f"fork() failed for lack of processes (its stderr: "
                           f"\"{fork.group(0).strip()[:80]}\"): the process limit was reached by "
                           "children that never end or are never reaped (zombies); each child "
                           "must exit when its client is done, and the parent must waitpid() "
                           "for it"))
    if "UnicodeDecodeError" in stderr:
        if "stdin" in stderr:
            out.append(Finding("text-mode-stdio",
                               "standard input was read as text and binary input could not be "
                               "decoded (the traceback on stderr): read sys.stdin.buffer and "
                               "write sys.stdout.buffer, which carry bytes"))
        else:
            out.append(Finding("decode-binary",
                               "the program died decoding received bytes as text (the "
                               "traceback on stderr); bytes such as 0xFF are not UTF-8: send "
                               "back the bytes received, without decode()/encode()"))
    return out
