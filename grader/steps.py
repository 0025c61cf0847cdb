"""What each step of a test does, and how it fails.

Theory of operation: a test is a list of steps (see docs/specs.md).  Each step
kind is one function in ``ACTIONS``, called with the test's :class:`Context`.
A step either returns (it held) or raises :class:`StepFailed` with what was
sent, what was expected, what came back, and the likely causes.  Every wait in
a step has a deadline: the step's ``within`` (or the spec's default step time),
never later than the test's own deadline.
"""

from __future__ import annotations

import re
import select
import signal
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from . import diagnose, netinfo
from .conns import GIVE_UP_TICK, Net, TcpConn, UdpSock
from .deadline import Deadline, poll_until
from .diagnose import Diagnosis
from .payload import PAYLOAD_KEYS, SHOW_LIMIT, make_payload, plural, show, uses_randomness
from .program import Program
from .spec import Spec, Step, TestSpec
from .stuck import unsent


class ReferenceFailed(Exception):
    """The reference implementation did not do what the spec says: the spec is at fault."""


class StepFailed(Exception):
    def __init__(self, message: str, causes: list[Diagnosis] | None = None,
                 details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.causes = causes or []
        self.details = details or []
        self.stuck: list | None = None     # set by the scope: the evidence that ended the wait
        self.test_step: Any = None         # set by the scope: the test's step it failed in
        self.at_start = False              # the server never became ready (no step ran)


class World(Protocol):
    """What the steps may ask of the test that runs them (a :class:`grader.scope.TestScope`)."""

    def launch(self, hold: str | None) -> Program: ...          # start the program (holding its port first?)
    def socket(self, family: int, kind: int) -> socket.socket: ...   # a probe socket in the test's network
    def run_reference(self, argv: Any, stdin: bytes | None = None) -> Program: ...   # an interop program
    def stuck(self, in_flight: list) -> list | None: ...   # no program can act (grader.stuck)
    def stretch(self, d: Deadline) -> Deadline: ...   # d, moved on by the CPU time a busy machine denied
    def time_spent(self) -> str: ...   # where the test's time went so far, in words


@dataclass
class Context:
    """What one test's steps share: the conversation so far.  One per test (and one
    for the reference beside it); everything it starts belongs to ``world``."""

    spec: Spec
    test: TestSpec
    deadline: Deadline
    rng: Any
    host: str
    port: int
    world: World
    program: Program | None = None
    programs: dict[str, Program] = field(default_factory=dict)   # pair role: sender, receiver
    net: Net = field(default_factory=Net)
    listener: socket.socket | None = None
    relay: Any = None                     # pair role: the grader's network between them
    stdin: bytes = b""
    files: dict[str, bytes] = field(default_factory=dict)    # the test's files, by name
    fd_baseline: int | None = None
    signalled: str | None = None
    used_randomness: bool = False
    stuck: list | None = None             # evidence that ended the last wait early (grader.stuck)
    wait_cap: float | None = None         # a replay for evidence: its capped waits last at most this
    replay_of: Any = None                 # a replay: the graded run's StepFailed (.test_step, .stuck)
    step: Any = None                      # the test's step being run (a repeat, not its steps)
    shadow: "Context | None" = None       # the reference, mirrored (expect: reference)
    is_shadow: bool = False
    replies: dict[str, list[bytes]] = field(default_factory=dict)   # the reference's replies, by socket

    def step_deadline(self, args: Any, what: str) -> Deadline:
        within = args.get("within") if isinstance(args, dict) else None
        seconds = within or self.spec.limits["step"]
        if self.wait_cap is not None and self._capped():
            seconds = min(seconds, self.wait_cap)
            return self.deadline.sooner(seconds, what)   # a replay: evidence, not a verdict
        return self.world.stretch(self.deadline.sooner(seconds, what))

    def _capped(self) -> bool:
        """In a replay, whether this step's waits are capped (``wait_cap``).  Steps before
        the one the graded run failed at passed there: they wait as they did, or strace's
        cost could fail one early and the calls would tell of another failure.  The failed
        step is capped (its calls show within the cap) unless kernel evidence ended its
        wait: then the replay waits for that evidence again, and the calls show the program
        in the same state."""
        failed = getattr(self.replay_of, "test_step", None)
        at, fail_at = _position(self.test.steps, self.step), _position(self.test.steps, failed)
        if at is None or fail_at is None:
            return True
        if at < fail_at:
            return False
        return not (at == fail_at and getattr(self.replay_of, "stuck", None))

    def family(self) -> int:
        if self.program and self.program.readiness and self.program.readiness.ok:
            return self.program.readiness.family
        return socket.AF_INET

    def connect_host(self, family: int) -> str:
        return "::1" if family == socket.AF_INET6 else self.host


def _position(steps: Any, step: Any) -> int | None:
    return next((i for i, s in enumerate(steps) if s is step), None) if step is not None else None


NO_SHUTDOWN: Diagnosis = (
    "the client did not shut down its sending side after sending all its input: call "
    "shutdown(fd, SHUT_WR) so the server sees the end", "no-shutdown")


def _within(d: Deadline) -> str:
    return d.describe()


# ------------------------------------------------------------------ helpers

# Evidence that a wait cannot end must hold this long, unchanged, before it ends the wait.
STUCK_CONFIRM = 0.02


def _evidence(ctx: Context, record: bool = True) -> Callable[[], bool] | None:
    """The early end of a wait on the program: True once the kernel shows that nothing
    the wait is for can come (every thread blocked for input the grader is not sending;
    see :mod:`grader.stuck`).  The evidence is kept in ``ctx.stuck`` for the message
    (unless not ``record``: a wait that is not the failed step's own leaves it as it is).

    Not for the pair role (the grader's network may still deliver a delayed datagram)
    nor for the reference beside the program.
    """
    if record:
        ctx.stuck = None
    if ctx.relay is not None or ctx.is_shadow:
        return None

    seen: dict[str, Any] = {}

    def cannot_come() -> bool:
        # Twice, the same, STUCK_CONFIRM apart: a state read while it changes (a child
        # being forked, a wake-up on its way) does not last.
        going = ctx.net.in_flight()
        blocked = ctx.world.stuck(going) if going is not None else None
        now = time.monotonic()
        key = sorted((b.pid, b.call, b.port) for b in blocked) if blocked is not None else None
        if key is None or key != seen.get("key"):
            seen.update(key=key, since=now)
            if record:
                ctx.stuck = None
            return False
        if now - seen["since"] < STUCK_CONFIRM:
            return False
        if record:
            ctx.stuck = blocked
        return True
    return cannot_come


def cannot_act(ctx: Context) -> Callable[[], bool] | None:
    """The same evidence for a wait that is not a step's (a launch's settle time): True
    once no program of the test can act before the grader does.  ``ctx.stuck`` is left
    as it is."""
    return _evidence(ctx, record=False)


# A check that a connection is still open reads what the program sent first.  A close
# already on its way (a program that closes right after its reply) arrives within this,
# unless the kernel shows sooner that the program waits for input and so is not closing.
OPEN_SETTLE = 0.5


def settle_open(ctx: Context, sock: TcpConn) -> None:
    """Read what came on ``sock`` until its end arrives, the program is seen waiting for
    input, or OPEN_SETTLE passes: whether the program closed after its reply is then the
    same every run, not a race between its close and the grader's look."""
    give_up = _evidence(ctx)
    wait = OPEN_SETTLE if give_up is not None else 0
    ctx.net.pump(ctx.deadline.sooner(wait), lambda: sock.eof, give_up=give_up)
    ctx.stuck = None                 # evidence of a healthy wait, not of a failure


def _wait_exit(ctx: Context, prog: Program, d: Deadline) -> int | None:
    """The program's exit status, once it exits within ``d``; None if it does not (or the
    kernel shows it cannot: every thread blocked for input that is not coming)."""
    assert prog.proc is not None
    give_up = _evidence(ctx)
    if give_up is None:
        return prog.proc.wait(d)
    poll_until(lambda: prog.proc.poll() is not None or give_up(), d)
    return prog.proc.poll()


def _stuck_detail(ctx: Context, reference: Program | None = None) -> list[str]:
    from .stuck import describe
    ref = reference.proc.pid if reference is not None and reference.proc is not None else None
    return [f"it cannot come: {describe(ctx.stuck, ref)}"] if ctx.stuck else []


def _waited(ctx: Context, d: Deadline, what: str) -> str:
    """How a wait (``what``: "on a for 12 bytes") on the program ended: after its whole
    time, or early on evidence."""
    return f"waited {what}, but nothing can come any more" if ctx.stuck else \
        f"waited {_within(d)} {what}"


def _payload(ctx: Context, args: dict) -> bytes:
    for key in PAYLOAD_KEYS:
        if key in args:
            return _make(ctx, {key: args[key]})
    raise StepFailed("internal: no payload")


def _make(ctx: Context, spec: Any) -> bytes:
    if uses_randomness(spec):
        ctx.used_randomness = True
    return make_payload(spec, ctx.rng, ctx.files)


# When a step fails, a program that is on its way out gets this long to finish
# exiting, so the feedback can name the exit instead of its symptom.  A program that the
# kernel shows asleep for input that is not coming is not on its way out: no wait.
EXIT_EVIDENCE_WAIT = 0.25


def _program_gone(ctx: Context, wait: float | None = None) -> list[Diagnosis]:
    """If the program died during the test (and the grader did not stop it), say how.

    A step that failed may be the first sign of a crash whose exit is not yet
    visible: ``wait`` (default :data:`EXIT_EVIDENCE_WAIT`) is how long to give that
    exit to show, unless the kernel shows sooner that no exit is on its way (a caller
    that has just watched the program for a while passes 0).
    """
    if not ctx.program or ctx.program.expected_exit:
        return []
    prog = ctx.program
    wait = EXIT_EVIDENCE_WAIT if wait is None else wait
    if wait > 0 and prog.exit_status() is None:
        _wait_exit_or_stuck(ctx, prog, ctx.deadline.sooner(wait))
    status = prog.exit_status()
    if status is None:
        return []
    said, code = diagnose.describe_exit(status)
    if ctx.spec.role == "server" and status >= 0:
        return [(f"the server {said} in the middle of the test: a server keeps serving "
                 "clients until it is stopped", code)]
    return [(f"the program {said}", code)]


def _wait_exit_or_stuck(ctx: Context, prog: Program, d: Deadline) -> None:
    """Wait until ``prog`` has exited, or the kernel shows it cannot (every thread asleep
    for input that is not coming: an exit needs a thread that runs), or ``d`` passes.

    The failure being explained keeps its own evidence: ``ctx.stuck`` is what ended the
    step's wait, whatever this look finds."""
    cannot_exit = cannot_act(ctx)
    poll_until(lambda: prog.exit_status() is not None
               or (cannot_exit is not None and cannot_exit()), d)


def _name(args: Any) -> str:
    return args if isinstance(args, str) else args["name"]


# ------------------------------------------------------------------ sockets

def do_connect(ctx: Context, step: Step) -> None:
    args = step.args if isinstance(step.args, dict) else {"name": step.args}
    family = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}.get(args.get("family"), ctx.family())
    host = ctx.connect_host(family)
    # The grader's socket first (a request to the box, which may wait behind the other
    # tests' requests on a busy machine), then the program's time: the wait for the
    # socket is the grader's, and it once used up a connect's whole 2 s.
    s = ctx.world.socket(family, socket.SOCK_STREAM)
    if args.get("nodelay", True):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    d = ctx.step_deadline(args, "connect")
    left = d.remaining()
    if left <= 0:      # (a timeout of 0 would make a non-blocking connect: EINPROGRESS)
        s.close()
        raise StepFailed(f"the test's time limit ({ctx.deadline.describe()}) was reached "
                         f"before connecting to {host} port {ctx.port}",
                         details=[ctx.world.time_spent()])
    s.settimeout(left)
    try:
        s.connect((host, ctx.port))
    except OSError as e:
        s.close()
        causes = _program_gone(ctx)
        raise StepFailed(f"could not connect to {host} port {ctx.port}: {e.strerror or e}",
                         causes or [("nothing accepts connections on that port any more", "refused")])
    s.setblocking(False)
    ctx.net.add(TcpConn(args["name"], s))


def do_udp(ctx: Context, step: Step) -> None:
    args = step.args if isinstance(step.args, dict) else {"name": step.args}
    family = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}.get(args.get("family"), ctx.family())
    s = ctx.world.socket(family, socket.SOCK_DGRAM)
    host = ctx.connect_host(family)
    s.bind((host, 0))
    s.setblocking(False)
    ctx.net.add(UdpSock(args["name"], s, (host, ctx.port)))


def do_accept(ctx: Context, step: Step) -> None:
    args = step.args if isinstance(step.args, dict) else {"name": step.args}
    d = ctx.step_deadline(args, "accept")
    assert ctx.listener is not None, "accept needs peer: listen"

    def ready() -> bool:
        r, _, _ = select.select([ctx.listener], [], [], 0)
        return bool(r) or (ctx.program is not None and ctx.program.exit_status() is not None)

    poll_until(ready, d)
    try:
        ctx.listener.setblocking(False)
        s, _ = ctx.listener.accept()
    except (BlockingIOError, OSError):
        causes = _program_gone(ctx)
        raise StepFailed(f"the client did not connect within {_within(d)}",
                         causes or [("it never called connect() to the host and port it was given", "no-connect")])
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ctx.net.add(TcpConn(args["name"], s))


def do_send(ctx: Context, step: Step) -> None:
    args = step.args if isinstance(step.args, dict) else {"text": step.args}
    sock = ctx.net.get(args.get("to"))
    if "each" in args or "together" in args:
        msgs = [_make(ctx, m) for m in args.get("each") or args.get("together")]
    else:
        msgs = [_payload(ctx, args)]
    if isinstance(sock, UdpSock):
        for m in msgs:
            try:
                sock.send(m)
            except OSError as e:
                raise StepFailed(f"could not send a {len(m)}-byte datagram on {sock.name}: {e.strerror or e}")
        return
    if args.get("delay"):
        # Stimulus timing (like a split's gap): the bytes go out this much later,
        # so that what the program was sent earlier has surely been handled.
        ctx.net.idle(ctx.deadline.sooner(args["delay"]))
    d = ctx.step_deadline(args, "send")
    if "together" in args:
        msgs = [b"".join(msgs)]
    split = args.get("split")
    for m in msgs:
        if not split:
            sock.queue(m)
            _flush(ctx, sock, d)
            continue
        size, gap = split.get("size", 1), split.get("gap", 0.002)
        if split.get("random"):
            ctx.used_randomness = True
        i = 0
        while i < len(m):
            n = ctx.rng.randint(1, size) if split.get("random") else size
            sock.queue(m[i:i + n], message=False)
            i += n
            _flush(ctx, sock, d)
            if gap and i < len(m):
                # The gap is the stimulus itself (slices must not be coalesced by the
                # kernel); the pump keeps reading replies meanwhile.
                ctx.net.idle(ctx.deadline.sooner(gap))
        sock.history.append(m)      # the whole message, for stale-byte detection


def _flush(ctx: Context, sock: TcpConn, d: Deadline) -> None:
    if not ctx.net.pump(d, lambda: not sock.outq or sock.write_error is not None or sock.closed):
        causes = _program_gone(ctx) or [
            ("the program stopped reading: it does not recv() on this connection while it "
             "sends, or it serves another connection", "not-reading")]
        raise StepFailed(f"could not send on {sock.name} within {_within(d)}: "
                         f"{plural(len(sock.outq), 'byte')} still not accepted", causes)
    if sock.write_error:
        raise StepFailed(f"sending on {sock.name} failed: {sock.write_error}",
                         _stream_ended(ctx, "sending"))


def _stream_ended(ctx: Context, grader_was: str = "receiving") -> list[Diagnosis]:
    """Why the program ended a connection the grader was using: its exit, or else its
    close.  Whether the close came as a FIN or a reset (bytes the grader sent still unread
    in the program's socket) depends on timing, so the cause is the same either way; and an
    exit is named as the cause, whichever of its symptoms the grader met first: a crash, a
    failing exit, or a server's exit (a client that exits with status 0 has just ended its
    connection the usual way, too soon: what that means is the cause)."""
    gone = _program_gone(ctx)
    if gone and ctx.spec.role != "server" and ctx.program and ctx.program.exit_status() == 0:
        gone = []
    return gone or [_closed_early(ctx, grader_was)]


def _closed_early(ctx: Context, grader_was: str = "sending") -> Diagnosis:
    """The program ended the stream too soon; what that means depends on who was talking."""
    if ctx.spec.role == "client" and grader_was == "sending":
        return ("the client closed the connection while the server was still sending: keep "
                "calling recv() until it returns 0 (one recv() is not one message)", "first-recv-only")
    if ctx.spec.role == "client":
        return ("the client ended its stream before sending everything it should have",
                "closed-early")
    return ("the server closed the connection before sending everything it should have",
            "closed-early")


# ------------------------------------------------------------------ expectations

# How many bytes from the first difference on a failed expectation waits for (or for the
# end of the stream, or evidence that no more can come): what diagnose.compare_bytes and
# the feedback's "got from offset" line read.  At most DIFF_WAIT (moved on while the
# program waits for a processor): a program in a timed wait (Python's socketserver polls
# every 0.5 s) gives no evidence, and the step has failed already.
DIFF_CONTEXT = 16
DIFF_WAIT = 0.5


def first_difference(a: bytes, b: bytes) -> int:
    """The first offset where ``a`` and ``b`` differ (their common prefix's length),
    found by halving: each comparison is one memcmp, not a Python loop."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def do_expect(ctx: Context, step: Step) -> None:
    args = step.args if isinstance(step.args, dict) else {"text": step.args}
    sock = ctx.net.get(args.get("from"))
    d = ctx.step_deadline(args, "expect")
    if args.get("reference"):
        if ctx.is_shadow:
            return _collect_reference_reply(ctx, sock, args, d)
        assert ctx.shadow is not None
        queue = ctx.shadow.replies.get(sock.name) or []
        if not queue:
            raise ReferenceFailed(f"no reply of the reference on {sock.name} to compare with")
        args = {k: v for k, v in args.items() if k != "reference"}
        args["hex"] = queue.pop(0).hex()
    if isinstance(sock, UdpSock):
        return _expect_udp(ctx, sock, args, d)
    if "nothing" in args:
        quiet = ctx.deadline.sooner(args["nothing"])
        ctx.net.pump(quiet, lambda: bool(sock.inbuf))
        if sock.inbuf:
            raise StepFailed(f"expected no data on {sock.name} for {args['nothing']:g} s, got {show(bytes(sock.inbuf))}")
        return
    if "line" in args or "regex" in args:
        return _expect_line(ctx, sock, args, d)
    if "length" in args:
        want_len = args["length"]
        expected = None
    else:
        expected = bytes(sock.unexpected) if args.get("echo") else _payload(ctx, args)
        want_len = len(expected)
    differs_at: int | None = None
    rest: Deadline | None = None    # the wait for DIFF_CONTEXT, from the difference on

    def settled() -> bool:
        nonlocal differs_at, rest
        if len(sock.inbuf) >= want_len or sock.eof:
            return True
        # Bytes that already differ from the expected ones will not become right; the
        # diagnosis reads DIFF_CONTEXT bytes from the first difference on (a number with
        # its bytes reversed, what came instead), so those come first, whenever the
        # difference showed: else the causes depend on how the bytes were read.
        n = len(sock.inbuf)
        if expected is None or n == 0:
            return False
        if differs_at is None or rest is None:
            if sock.inbuf[:n] == expected[:n]:
                return False
            differs_at = first_difference(bytes(sock.inbuf[:n]), expected[:n])
            rest = ctx.world.stretch(d.sooner(DIFF_WAIT))
        return n >= min(want_len, differs_at + DIFF_CONTEXT) or rest.expired

    ok = ctx.net.pump(d, settled, tick=GIVE_UP_TICK, give_up=_evidence(ctx))
    got = bytes(sock.inbuf[:want_len])
    if args.get("echo"):
        sock.unexpected = b""
    if len(got) == want_len and (expected is None or got == expected):
        del sock.inbuf[:want_len]
        return
    del sock.inbuf[:len(got)]
    what = (f"{plural(want_len, 'byte')}" if expected is None or len(expected) > SHOW_LIMIT
            else show(expected))
    details = []
    if expected is not None:
        details = [f"expected: {show(expected)}", f"got:      {show(got) if got else '(nothing)'}"]
    causes: list[Diagnosis] = []
    if expected is not None:
        causes += [c for c in diagnose.compare_bytes(expected, got, eof=sock.eof) if c[1] != "mismatch"]
    if sock.eof:
        # How many bytes came before the end depends on timing: "short" is not a cause of
        # its own here, the end is.
        causes = _stream_ended(ctx) + [c for c in causes if c[1] != "short"]
    else:
        causes = _program_gone(ctx) + causes
    diverged = expected is not None and got != expected[:len(got)]
    if diverged:
        # How many bytes came before the difference showed depends on timing: say
        # only what does not (where they differ), so feedback is the same every run.
        at = first_difference(got, expected)
        msg = f"on {sock.name}: expected {what}, but the bytes that came differ from offset {at}"
        if len(expected) > SHOW_LIMIT:
            details = [f"expected from offset {at}: {show(expected[at:at + 16])}",
                       f"got from offset {at}:      {show(got[at:at + 16])}"]
    elif not ok and not sock.eof:
        msg = f"{_waited(ctx, d, f'on {sock.name} for {what}')}; {len(got)} bytes came"
        details = _stuck_detail(ctx) + details
    elif sock.eof:
        msg = (f"on {sock.name}: expected {what}; the stream ended after "
               f"{plural(len(got), 'byte')}")
    else:
        msg = f"on {sock.name}: expected {what}"
    raise StepFailed(msg, causes, details)


# The reference's reply to a message is what it sends until it closes, or until
# it has been quiet this long after its first byte.
REFERENCE_QUIET = 0.1


def _collect_reference_reply(ctx: Context, sock: TcpConn | UdpSock, args: dict, d: Deadline) -> None:
    if isinstance(sock, UdpSock):
        if not ctx.net.pump(d, lambda: bool(sock.datagrams)):
            raise ReferenceFailed(f"the reference sent no datagram on {sock.name} within {_within(d)}")
        data = sock.datagrams.pop(0)[0]
        sock.awaiting.clear()
    else:
        state = {"n": -1, "quiet": None}

        def settled() -> bool:
            if sock.eof:
                return True
            if len(sock.inbuf) != state["n"]:
                state["n"] = len(sock.inbuf)
                state["quiet"] = Deadline.after(REFERENCE_QUIET)
                return False
            return bool(sock.inbuf) and state["quiet"].expired

        ctx.net.pump(d, settled, tick=REFERENCE_QUIET / 4)
        if not sock.inbuf and not sock.eof:
            raise ReferenceFailed(f"the reference sent nothing on {sock.name} within {_within(d)}")
        data = bytes(sock.inbuf)
        sock.inbuf.clear()
        sock.unexpected = b""
    ctx.replies.setdefault(sock.name, []).append(data)


def uses_reference(steps) -> bool:
    for step in steps:
        if step.action == "expect" and isinstance(step.args, dict) and step.args.get("reference"):
            return True
        if step.action == "repeat" and uses_reference(step.args["steps"]):
            return True
    return False


def _expect_line(ctx: Context, sock: TcpConn, args: dict, d: Deadline) -> None:
    ok = ctx.net.pump(d, lambda: b"\n" in sock.inbuf or sock.eof, give_up=_evidence(ctx))
    if not ok or b"\n" not in sock.inbuf:
        got = bytes(sock.inbuf)
        nl = b"\n"
        want = (f"a line {show((args.get('line') or '').encode() + nl)}" if "line" in args
                else f"a line matching /{args['regex']}/")
        raise StepFailed(_waited(ctx, d, f"on {sock.name} for {want}"),
                         _stream_ended(ctx) if sock.eof else _program_gone(ctx),
                         [f"got: {show(got) if got else '(nothing)'}"] + _stuck_detail(ctx))
    idx = sock.inbuf.index(b"\n")
    raw = bytes(sock.inbuf[:idx + 1])
    del sock.inbuf[:idx + 1]
    line = raw[:-1].rstrip(b"\r").decode("utf-8", "replace")
    if "line" in args and line != args["line"]:
        raise StepFailed(f"on {sock.name}: expected the line {show(args['line'].encode())}",
                         diagnose.compare_bytes(args["line"].encode(), line.encode(), eof=False),
                         [f"got the line: {show(raw)}"])
    if "regex" in args and not re.fullmatch(args["regex"], line):
        raise StepFailed(f"on {sock.name}: expected a line matching /{args['regex']}/",
                         details=[f"got the line: {show(raw)}"])


def _expect_udp(ctx: Context, sock: UdpSock, args: dict, d: Deadline) -> None:
    if "nothing" in args:
        quiet = ctx.deadline.sooner(args["nothing"])
        ctx.net.pump(quiet, lambda: bool(sock.datagrams))
        if sock.datagrams:
            data, _ = sock.datagrams[0]
            raise StepFailed(f"expected no more datagrams on {sock.name} for {args['nothing']:g} s, "
                             f"but one came: {show(data)}",
                             [("each datagram must be answered by exactly one datagram", "extra-datagram")])
        return
    if args.get("echo"):
        wanted = list(sock.awaiting)
        sock.awaiting.clear()
    elif "length" in args:
        wanted = [None]
    else:
        wanted = [_payload(ctx, args)]
    for expected in wanted:
        ok = ctx.net.pump(d, lambda: bool(sock.datagrams), give_up=_evidence(ctx))
        if not ok:
            causes = _program_gone(ctx)
            for other in ctx.net.socks.values():
                if other is not sock and isinstance(other, UdpSock) and any(
                        dg == expected for dg, _ in other.datagrams):
                    causes.append((f"the reply meant for {sock.name} was sent to {other.name}: reply to "
                                   "the address recvfrom() returned for each datagram, not to one "
                                   "saved client", "udp-wrong-client"))
            when = "and none can come any more" if ctx.stuck else f"within {_within(d)}"
            raise StepFailed(f"no datagram came back on {sock.name} {when}"
                             + (f" (expected {show(expected)})" if expected is not None else ""),
                             causes, _stuck_detail(ctx))
        data, addr = sock.datagrams.pop(0)
        if expected is None:
            if len(data) != args["length"]:
                raise StepFailed(f"expected a datagram of {args['length']} bytes, got {len(data)}")
            continue
        if addr[1] != sock.target[1]:
            raise StepFailed(f"the reply came from port {addr[1]}, not from the server's port {sock.target[1]}")
        if data != expected:
            causes = []
            if expected.startswith(data) and data and len(data) < len(expected):
                nul = expected.find(b"\0")
                if nul == len(data):
                    causes = diagnose.compare_bytes(expected, data, eof=False)
                else:
                    causes = [(f"the datagram was cut to {len(data)} of {len(expected)} bytes: the "
                               "receive buffer is smaller than the datagram (a UDP datagram can be "
                               "up to 65507 bytes)", "udp-truncated")]
            else:
                causes = diagnose.compare_bytes(expected, data, eof=False)
            raise StepFailed(f"on {sock.name}: the reply datagram differs from the one expected",
                             causes, [f"expected: {show(expected)}", f"got:      {show(data)}"])


def do_expect_eof(ctx: Context, step: Step) -> None:
    args = step.args if isinstance(step.args, dict) else {"from": step.args}
    sock = ctx.net.get(args.get("from"))
    d = ctx.step_deadline(args, "end of stream")
    if not isinstance(sock, TcpConn):
        raise StepFailed("expect_eof needs a TCP connection")
    cpu_before = ctx.program.cpu_time() if ctx.program and ctx.spec.role == "server" else 0.0
    started = time.monotonic()
    ctx.net.pump(d, lambda: sock.eof or bool(sock.inbuf), give_up=_evidence(ctx))
    if sock.inbuf:
        extra = bytes(sock.inbuf)
        causes = [c for c in [diagnose.stale_bytes(extra, sock.history)] if c]
        raise StepFailed(f"expected the end of the stream on {sock.name}, but "
                         f"{plural(len(extra), 'more byte')} came: {show(extra)}",
                         causes or [("it sent more than it should have", "extra")])
    if sock.eof:
        return
    causes = _program_gone(ctx)
    if ctx.spec.role == "server" and ctx.program and not causes:
        spent = ctx.program.cpu_time() - cpu_before
        wall = time.monotonic() - started
        if (wall > 0 and spent / wall > 0.5) or ctx.program.spinning():
            causes.append((f"the server kept running while the client waited (it used {spent:.1f} s "
                           f"of CPU in {wall:.1f} s): recv() returned 0 and was not treated as end "
                           "of stream (it loops forever)", "recv-zero-spin"))
        else:
            causes.append(("the server never closed its side of the connection after the client "
                           "closed its own: when recv() returns 0, close() the socket", "no-close"))
    elif ctx.spec.role == "client" and not causes:
        causes.append(NO_SHUTDOWN)
    raise StepFailed(_waited(ctx, d, f"on {sock.name} for the end of the stream (the peer "
                                     "closing or shutting down)"), causes, _stuck_detail(ctx))


def do_expect_open(ctx: Context, step: Step) -> None:
    """A precondition of the test: the program still holds this connection open.

    Whatever the program sent on it so far is read first (a FIN or RST it sent
    before its later replies is therefore seen), and a close on its way is given
    time to arrive (:func:`settle_open`).
    """
    name = _name(step.args)
    sock = ctx.net.get(name)
    if not isinstance(sock, TcpConn):
        raise StepFailed("expect_open needs a TCP connection")
    settle_open(ctx, sock)
    if not sock.eof:
        return
    # (Closed, whether its close came as a FIN or a reset: that depends on timing.)
    raise StepFailed(f"the program closed {name} while the test still needed it open, so "
                     "the test cannot show what it checks",
                     _program_gone(ctx) + [("the server closed the connection after one reply "
                                            "instead of serving the client until it closes",
                                            "closes-first")])


def do_echo_back(ctx: Context, step: Step) -> None:
    """The grader plays an echo server on one connection until the peer's end of stream."""
    args = step.args if isinstance(step.args, dict) else {"from": step.args}
    sock = ctx.net.get(args.get("from"))
    if not isinstance(sock, TcpConn):
        raise StepFailed("echo_back needs a TCP connection")
    d = ctx.step_deadline(args, "echo")
    give_up = _evidence(ctx)
    while not sock.eof:
        if not ctx.net.pump(d, lambda: bool(sock.inbuf) or sock.eof, give_up=give_up):
            causes = _program_gone(ctx) or [NO_SHUTDOWN]
            raise StepFailed(f"echoed {plural(sock.sent_total, 'byte')} on {sock.name}, then "
                             + _waited(ctx, d, "for more or for the end of the stream"), causes,
                             _stuck_detail(ctx))
        if sock.inbuf:
            sock.queue(bytes(sock.inbuf))
            sock.inbuf.clear()
    _flush(ctx, sock, d)


def do_shutdown(ctx: Context, step: Step) -> None:
    sock = ctx.net.get(step.args)
    if isinstance(sock, TcpConn):
        sock.shutdown_write()
        _flush(ctx, sock, ctx.step_deadline({}, "shutdown"))


def do_close(ctx: Context, step: Step) -> None:
    args = step.args if isinstance(step.args, dict) else {"name": step.args}
    if args["name"] == "*":
        for s in list(ctx.net.socks.values()):
            s.close(reset=args.get("reset", False))
        return
    sock = ctx.net.get(args["name"])
    if isinstance(sock, TcpConn) and sock.outq and not args.get("reset"):
        _flush(ctx, sock, ctx.step_deadline({}, "close"))
    if isinstance(sock, TcpConn) and args.get("reset"):
        # An abortive close must reach the peer after the bytes (and the FIN) the spec
        # sent first.  A reset drops what the kernel has not transmitted yet (on a loaded
        # machine, bytes sent just before may still sit in the grader's socket); and what
        # it has transmitted may still wait in a processor's loopback backlog, which a
        # reset sent from another processor overtakes (the peer then sees the reset
        # first: ECONNRESET instead of EPIPE, and the data never).  Only the peer's
        # acknowledgement says its kernel has them all, in order.  Bounded: a peer whose
        # window is full takes no more anyway.
        poll_until(lambda: _unacknowledged(sock) == 0,
                   ctx.deadline.sooner(RESET_AFTER_SENT, "the peer to acknowledge what came first"))
    sock.close(reset=args.get("reset", False))


# How long an abortive close waits for the peer to acknowledge the bytes sent before it.
RESET_AFTER_SENT = 1.0


def _unacknowledged(sock: TcpConn) -> int:
    """Bytes (and a FIN) of the grader's connection its peer has not acknowledged yet
    (0 once the connection is over: the peer reset it, and will acknowledge nothing)."""
    try:
        return unsent(sock.sock)
    except OSError:
        return 0


# ------------------------------------------------------------------ the program

def _need_program(ctx: Context, what: str, args: Any = None) -> Program:
    """The program a step is about: ``program: sender`` picks one of a pair."""
    name = args.get("program") if isinstance(args, dict) else None
    prog = ctx.programs.get(name) if name else ctx.program
    if not prog or not prog.proc:
        raise StepFailed(f"{what}: the program was not started (add a launch step)")
    return prog


def _who(args: Any) -> str:
    name = args.get("program") if isinstance(args, dict) else None
    return f"the {name}" if name else "the program"


def do_launch(ctx: Context, step: Step) -> None:
    ctx.program = ctx.world.launch(step.args.get("hold_port"))


def do_expect_listening(ctx: Context, step: Step) -> None:
    prog = _need_program(ctx, "expect_listening")
    want = step.args.get("address", ctx.spec.listen)
    d = ctx.step_deadline(step.args, "listening")
    r = prog.readiness if prog.readiness and prog.readiness.ok else prog.wait_ready(d)
    if not r.ok:
        raise StepFailed(f"the program is not listening on port {prog.port}",
                         prog.explain_not_ready(r, d.seconds))
    kind = socket.SOCK_STREAM if ctx.spec.protocol == "tcp" else socket.SOCK_DGRAM
    own = [s for s in prog.sockets_now() if s.kind == kind and s.port == prog.port]
    if want == "any" and own and not any(s.all_addresses for s in own):
        addrs = ", ".join(sorted({s.address for s in own}))
        raise StepFailed(f"listening on port {prog.port} only on {addrs}, not on all addresses",
                         [(f"bind to INADDR_ANY (0.0.0.0) so other machines can connect, not to {addrs}",
                           "not-any-address")])


def do_expect_running(ctx: Context, step: Step) -> None:
    prog = _need_program(ctx, "expect_running")
    # Give a dying program the chance to show it is dying: wait until it has
    # exited, or until it has done all it could with what it was given (every
    # thread blocked for input: it can no longer die of it), or for the window.
    # A loaded machine may take long to run it: ending on evidence, not on a
    # short window, keeps the verdict the same there.
    d = ctx.step_deadline(step.args if isinstance(step.args, dict) else {}, "still running")
    give_up = _evidence(ctx)
    poll_until(lambda: prog.exit_status() is not None or (give_up is not None and give_up()), d)
    causes = _program_gone(ctx, wait=0)     # the window above was the wait
    if causes:
        raise StepFailed("the program is no longer running", causes)


def do_suspend(ctx: Context, step: Step) -> None:
    """Stop every process of the program (SIGSTOP), so the next steps happen while it is frozen.

    This makes races deterministic: e.g. a client can send, half-close and reset
    while the server is stopped, so that when it runs again its next send() is
    certain to meet a connection the peer has reset.
    """
    prog = _need_program(ctx, "suspend")
    prog.signal_tree(signal.SIGSTOP)


def do_resume(ctx: Context, step: Step) -> None:
    prog = _need_program(ctx, "resume")
    prog.signal_tree(signal.SIGCONT)


def _need_running(ctx: Context, prog: Program, before: str) -> None:
    """A precondition: the program is still running (a program that already died
    cannot show how it takes a signal or a restart, and must not pass for it)."""
    if prog.exit_status() is not None:
        raise StepFailed(f"the program had already ended before {before}, so this test cannot "
                         "show how it handles that", _program_gone(ctx, wait=0))


def do_signal(ctx: Context, step: Step) -> None:
    prog = _need_program(ctx, "signal")
    assert prog.proc
    _need_running(ctx, prog, f"it was sent {step.args}")
    prog.expected_exit = True
    ctx.signalled = step.args
    prog.proc.send_signal(getattr(signal, step.args))


def _status_ok(status: int, want: Any) -> bool:
    if want in (None, "zero"):
        return status == 0
    if want == "nonzero":
        return status != 0
    if isinstance(want, int):
        return status == want
    return status in want


def _show_status(status: int) -> str:
    if status < 0:
        return f"killed by {diagnose.signal_name(-status)}"
    return f"exit status {status}"


def do_expect_exit(ctx: Context, step: Step) -> None:
    prog = _need_program(ctx, "expect_exit", step.args)
    assert prog.proc
    prog.expected_exit = True
    d = ctx.step_deadline(step.args, "exit")
    want = step.args.get("status", "zero")
    status = _wait_exit(ctx, prog, d)
    if status is None:
        if ctx.signalled:
            after = "" if ctx.stuck else f" {_within(d)}"
            cause = (f"still running{after} after {ctx.signalled}: does it ignore or block "
                     f"{ctx.signalled}? (the default action ends the program)", "ignores-signal")
        elif ctx.spec.role == "client":
            cause = ("still running: a client must exit once the server has closed the "
                     "connection (recv() returned 0) or when connect() fails", "hangs")
        else:
            cause = ("still running: it should have given up and exited", "hangs")
        causes = [cause]
        if ctx.spec.role == "server":
            kind = socket.SOCK_STREAM if ctx.spec.protocol == "tcp" else socket.SOCK_DGRAM
            for s in prog.sockets_now():
                if s.kind == kind and s.port and s.port != prog.port and (s.listening or kind == socket.SOCK_DGRAM):
                    causes.insert(0, diagnose.wrong_port(prog.port, s.port, ctx.spec.protocol))
                    break
        when = "and cannot any more" if ctx.stuck else f"within {_within(d)}"
        raise StepFailed(f"{_who(step.args)} did not exit {when}",
                         _network_causes(ctx) + causes, _network_details(ctx) + _stuck_detail(ctx))
    if not _status_ok(status, want):
        if want in ("zero", None):
            wanted = "exit status 0"
        elif want == "nonzero":
            wanted = "a non-zero exit status"
        elif isinstance(want, int):
            wanted = _show_status(want)
        else:
            wanted = "one of " + ", ".join(_show_status(s) for s in want)
        causes = []
        if status < 0 and -status in diagnose.SIGNAL_CAUSES:
            causes.append(diagnose.describe_exit(status))
        if want == "nonzero" and status == 0:
            causes.append(("it exited with status 0 after a failure: exit with a non-zero status "
                           "(e.g. exit(1)) when something goes wrong", "exit-zero-on-error"))
        raise StepFailed(f"{_who(step.args)} ended with {_show_status(status)}, expected {wanted}",
                         _network_causes(ctx) + causes, _network_details(ctx))
    if step.args.get("stderr") == "nonempty":
        prog.proc.stderr.join(ctx.deadline.sooner(0.5))
        if not prog.proc.stderr.data.strip():
            raise StepFailed("the program exited without an error message on stderr",
                             [("print what went wrong (e.g. perror(\"bind\")) before exiting", "silent-error")])


def _network_causes(ctx: Context) -> list[Diagnosis]:
    """Pair role: what the grader's network saw says who stopped talking."""
    stats = ctx.relay.stats if ctx.relay is not None else None
    if stats is None:
        return []
    if stats.forwarded and not stats.returned:
        return [("no reply of the receiver ever reached the sender: the receiver must answer "
                 "to the address recvfrom() returned for the packet", "rudp-no-replies")]
    if not stats.forwarded:
        return [("the sender never sent a datagram to the host and port it was given", "rudp-silent")]
    return []


def _network_details(ctx: Context) -> list[str]:
    return [ctx.relay.stats.summary()] if ctx.relay is not None else []


def do_restart(ctx: Context, step: Step) -> None:
    prog = _need_program(ctx, "restart")
    assert prog.proc
    _need_running(ctx, prog, "it was stopped for the restart")
    sig = getattr(signal, step.args.get("signal", "SIGKILL"))
    prog.expected_exit = True
    prog.proc.send_signal(sig)
    if prog.proc.wait(ctx.step_deadline(step.args, "exit before restart")) is None:
        prog.proc.kill()
    prog.stop()        # and anything it left behind (a traced one: after strace wrote all)
    ctx.program = new = ctx.world.launch(None)
    r = new.readiness
    if r and not r.ok:
        stderr = new.proc.stderr.data if new.proc else b""
        causes = new.explain_not_ready(r, ctx.spec.limits["ready"])
        if b"in use" in stderr.lower() or r.state != "ready":
            causes.append(("after a restart, the old connection keeps the port in TIME_WAIT: set "
                           "SO_REUSEADDR on the listening socket before bind()", "no-reuseaddr"))
        raise StepFailed(f"after being stopped with a connection open, the program could not "
                         f"listen on port {new.port} again at once", causes)


def do_baseline(ctx: Context, step: Step) -> None:
    prog = _need_program(ctx, "baseline")
    assert prog.proc
    ctx.fd_baseline = netinfo.fd_count(prog.proc.pid)


def do_expect_resources(ctx: Context, step: Step) -> None:
    prog = _need_program(ctx, "expect_resources")
    assert prog.proc
    pid = prog.proc.pid
    growth = step.args.get("fd_growth")
    max_zombies = step.args.get("zombies")
    d = ctx.step_deadline(step.args, "resources")
    state: dict[str, Any] = {}

    def fine() -> bool:
        state["fds"] = netinfo.fd_count(pid)
        state["zombies"] = netinfo.zombie_children(pid)
        ok = True
        if growth is not None and ctx.fd_baseline is not None and state["fds"] is not None:
            ok &= state["fds"] - ctx.fd_baseline <= growth
        if max_zombies is not None:
            ok &= len(state["zombies"]) <= max_zombies
        return ok

    # A program that can no longer act (every thread blocked for input) will not close
    # or reap anything more either: that ends the wait too.
    give_up = _evidence(ctx)

    def ended() -> str | None:
        if fine():
            return "released"
        return "stuck" if give_up is not None and give_up() else None

    # One look that finds everything released is the verdict.  (Looking again could
    # see the child of the last connection that has just exited, a zombie for the
    # moment its parent takes to reap it.)
    if poll_until(ended, d) == "released":
        return
    causes = _program_gone(ctx)
    if causes:
        raise StepFailed("the program died", causes)
    if growth is not None and ctx.fd_baseline is not None and state["fds"] is not None \
            and state["fds"] - ctx.fd_baseline > growth:
        causes.append((f"it holds {state['fds']} open file descriptors, {state['fds'] - ctx.fd_baseline} "
                       f"more than the {ctx.fd_baseline} it had before these connections: close() every "
                       "accepted socket when its client is done (in a fork server the parent must "
                       "close its copy too)", "fd-leak"))
    details = _stuck_detail(ctx)
    if max_zombies is not None and len(state["zombies"]) > max_zombies:
        causes.append((f"{plural(len(state['zombies']), 'zombie child')} left: call waitpid() for "
                       "every child (loop waitpid(-1, &status, WNOHANG) in a SIGCHLD handler, or "
                       "set SIGCHLD to SIG_IGN)", "zombies"))
        from .stuck import doing
        details.append(f"the program meanwhile: {doing(pid)}")
    when = "and cannot be any more" if ctx.stuck else f"within {_within(d)}"
    raise StepFailed(f"resources were not released {when}", causes, details)


def do_expect_stdout(ctx: Context, step: Step) -> None:
    prog = _need_program(ctx, "expect_stdout", step.args)
    assert prog.proc
    d = ctx.step_deadline(step.args, "stdout")
    if _wait_exit(ctx, prog, d) is None:
        when = "and cannot exit any more" if ctx.stuck else f"after {_within(d)}"
        raise StepFailed(f"the client was still running {when}, so its output is not complete",
                         [("a client must exit once the server has closed the connection", "hangs")],
                         _stuck_detail(ctx))
    prog.proc.stdout.join(ctx.deadline.sooner(1.0))
    out = prog.proc.stdout.data
    args = step.args
    if "contains" in args:
        if args["contains"].encode() not in out:
            raise StepFailed(f"the output does not contain {show(args['contains'].encode())}",
                             details=[f"output: {show(out)}"])
        return
    expected = ctx.stdin if args.get("stdin") else _payload(ctx, args)
    if out != expected and ctx.spec.role == "pair":
        causes = [c for c in diagnose.compare_bytes(expected, out, eof=True) if c[1] != "mismatch"]
        if len(out) > len(expected):
            causes.append(("the receiver wrote more than was sent: a duplicated or retransmitted "
                           "packet was written again (check its sequence number first)", "rudp-duplicates"))
        elif len(out) < len(expected):
            causes.append(("the receiver wrote less than was sent: a lost packet was never "
                           "retransmitted, or the receiver stopped early", "rudp-lost-data"))
        details = [f"expected: {show(expected)}", f"got:      {show(out) if out else '(nothing)'}"]
        if ctx.relay is not None:
            details.append(ctx.relay.stats.summary())
        raise StepFailed("the receiver's output is not the file the sender was given", causes, details)
    if out != expected:
        causes = diagnose.compare_bytes(expected, out, eof=True)
        if expected.startswith(out) and out and b"\0" not in expected[len(out):len(out) + 1]:
            causes = [("only the beginning of what the server sent was written to standard "
                       "output: keep calling recv() until it returns 0 (one recv() is not one "
                       "message)", "first-recv-only")]
        raise StepFailed("standard output is not what the server sent", causes,
                         [f"expected: {show(expected)}", f"got:      {show(out) if out else '(nothing)'}"])


def do_expect_stderr(ctx: Context, step: Step) -> None:
    prog = _need_program(ctx, "expect_stderr", step.args)
    assert prog.proc
    prog.proc.stderr.join(ctx.deadline.sooner(1.0))
    err = prog.proc.stderr.data
    if step.args.get("nonempty") and not err.strip():
        raise StepFailed("nothing was written to standard error",
                         [("print a message saying what went wrong (e.g. perror(\"connect\"))", "silent-error")])
    if "contains" in step.args and step.args["contains"].encode() not in err:
        raise StepFailed(f"standard error does not contain {show(step.args['contains'].encode())}")


def do_run_client(ctx: Context, step: Step) -> None:
    """Interop: the reference client talks to the student's server; its output is checked."""
    args = step.args
    interop = ctx.spec.interop.get("client")
    assert interop, "run_client needs interop.client in the spec"
    stdin = _make(ctx, args["stdin"]) if "stdin" in args else b""
    try:
        client = ctx.world.run_reference(list(interop) + list(args.get("args", [])), stdin)
    except BlockingIOError:
        # EAGAIN from fork(): the client shares the test's process limit with the server,
        # whose processes have used it up (the evidence names how).  Had the server left
        # one or two, the client would start and fail to make its threads instead.
        raise StepFailed("the reference client could not be started: the server's processes "
                         "use up the process limit of the test",
                         _program_gone(ctx) or [("the server makes processes without end (or never "
                                                 "reaps them): fork() fails for everyone else",
                                                 "process-limit")]) from None
    d = ctx.step_deadline(args, "the reference client")
    status = _wait_exit(ctx, client, d)
    if status is None:
        when = "and cannot any more" if ctx.stuck else f"within {_within(d)}"
        raise StepFailed(f"the reference client did not finish {when} talking to the "
                         "server", _program_gone(ctx) or [
                             ("the server stopped answering the reference client", "interop-hangs")],
                         _stuck_detail(ctx, client))
    client.proc.stdout.join(ctx.deadline.sooner(1.0))
    out = client.proc.stdout.data
    want_status = args.get("status", 0)
    if status != want_status:
        raise StepFailed(f"the reference client ended with {_show_status(status)} talking to the "
                         f"server, expected {_show_status(want_status)}", _program_gone(ctx),
                         [f"its stderr: {client.proc.stderr.tail(4)}"])
    if "expect_stdout" in args:
        expected = _make(ctx, args["expect_stdout"])
        if out != expected:
            raise StepFailed("the reference client's output, talking to the server, is not what "
                             "it should be", diagnose.compare_bytes(expected, out, eof=True),
                             [f"expected: {show(expected)}", f"got:      {show(out) if out else '(nothing)'}"])


def do_repeat(ctx: Context, step: Step) -> None:
    for i in range(step.args["times"]):
        for sub in step.args["steps"]:
            run_step(ctx, _with_index(sub, i))


def _with_index(step: Step, i: int) -> Step:
    def sub(v: Any) -> Any:
        if isinstance(v, str):
            return v.replace("{i}", str(i))
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        return v
    return Step(step.action, sub(step.args), step.hint, step.line, step.cause)


ACTIONS: dict[str, Callable[[Context, Step], None]] = {
    "connect": do_connect, "udp": do_udp, "accept": do_accept,
    "send": do_send, "expect": do_expect, "expect_eof": do_expect_eof,
    "shutdown": do_shutdown, "close": do_close, "echo_back": do_echo_back,
    "expect_open": do_expect_open,
    "launch": do_launch, "expect_listening": do_expect_listening,
    "expect_running": do_expect_running, "expect_exit": do_expect_exit,
    "signal": do_signal, "restart": do_restart, "suspend": do_suspend, "resume": do_resume,
    "baseline": do_baseline, "expect_resources": do_expect_resources,
    "expect_stdout": do_expect_stdout, "expect_stderr": do_expect_stderr,
    "repeat": do_repeat, "run_client": do_run_client,
}

# The textbook labs' steps (HTTP, origin servers, SMTP, UDP pinger): grader/protocols/.
from .protocols import step_runners  # noqa: E402  (they use the names above)

ACTIONS.update(step_runners())


# Steps done to the reference too, when a test compares with it.
MIRRORED = {"connect", "udp", "send", "expect", "expect_eof", "shutdown", "close"}


def run_step(ctx: Context, step: Step) -> None:
    if ctx.shadow is not None and step.action in MIRRORED:
        try:
            ACTIONS[step.action](ctx.shadow, step)
        except StepFailed as f:
            raise ReferenceFailed(f"step '{step.action}' (spec line {step.line}): {f.message}; "
                                  + "; ".join(c for c, _ in f.causes if c)) from None
    try:
        ACTIONS[step.action](ctx, step)
    except StepFailed as f:
        if step.hint and not getattr(f, "hinted", False):
            f.causes.append((step.hint, "hint"))
            if step.cause:
                f.causes.append(("", step.cause))
            f.hinted = True  # type: ignore[attr-defined]
        if not hasattr(f, "step"):
            f.step = step  # type: ignore[attr-defined]
            f.sent = _last_sent(ctx, step)  # type: ignore[attr-defined]
        raise


def _last_sent(ctx: Context, step: Step) -> str | None:
    """What the grader last sent on the socket a failed step was about (for the verdict's data)."""
    args = step.args if isinstance(step.args, dict) else {"name": step.args}
    name = next((args[k] for k in ("from", "to", "name") if isinstance(args.get(k), str)), None)
    sock = ctx.net.socks.get(name or ctx.net.current or "")
    history = getattr(sock, "history", None)
    return show(history[-1]) if history else None
