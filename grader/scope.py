"""One test, start to end: the scope that owns everything the test makes.

Theory of operation
-------------------
A test's verdict must depend on what the program does in that test alone.  So
each test runs in a :class:`TestScope`, in the style of trio's cancel scopes:

* it owns a **world** of its own (:meth:`grader.box.Box.open_world`): in a
  namespaced box a fresh network namespace, so nothing an earlier test left in
  the network (a TIME_WAIT of a server that closed first, a port still bound,
  a server that would not die) can reach it, and the grader's own sockets (the
  port holder, probes, relays, the reference) cannot collide with the
  program's;
* it owns **one deadline**, the test's, that every wait on the program takes
  its time from (each step's wait is ``deadline.sooner(...)``, and a wait the
  test's limit cut short says how long it really was).  The grader's own
  machinery keeps deadlines of its own, visible where they are made: a box
  request (``sandbox.REQUEST_TIMEOUT``) and killing what the test started at
  its end (``box.KILL_GRACE``) bound the grader, not the program, and teardown
  must happen even after the test's time is up;
* it owns every **resource** the test starts (programs, sockets, the relay,
  the reference beside it, the test's files) through one exit stack, undone in
  reverse order when the scope ends, whatever happened; the work dir is put
  back as the build left it;
* the spec's **role** picks a launcher from :data:`LAUNCHERS` (a table, not an
  if/elif): what has to run before the steps.

The scope is also the ``world`` the steps see (:class:`grader.steps.World`):
``launch``, ``socket`` and ``run_reference`` are its methods.

How a scope ends is one of three outcomes: the steps held (passed), a step
failed (:class:`~grader.steps.StepFailed`: the program's fault, with causes),
or the grader or the spec failed (an error: never the student's fault).
"""

from __future__ import annotations

import fcntl
import functools
import os
import random
import select
import shutil
import socket
import struct
import threading
import time
import traceback
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from . import netinfo
from .box import Box, Limits, World
from .build import Workdir
from .deadline import Deadline, poll_until
from .diagnose import describe_exit
from .payload import make_payload, uses_randomness
from .program import Program, SettledWrong, render_argv
from .relay import START_WAIT as RELAY_START_WAIT, Impairments, Relay
from .shims import shim_path
from .spec import Spec, TestSpec
from .steps import Context, ReferenceFailed, StepFailed, cannot_act, run_step, uses_reference

HOST = "127.0.0.1"
SIOCGSKNS = 0x894C          # a socket's network namespace, as a new fd
# This many zombie children is evidence worth naming in any failure.
ZOMBIE_EVIDENCE = 5


@dataclass
class Prepared:
    """A submission made ready once (copied, boxed, built): what every test starts from."""

    spec: Spec
    box: Box
    workdir: Workdir
    env: dict[str, str]
    limits: Limits
    run: Sequence[str]                    # the program's argv template
    run_sender: Sequence[str] | None      # pair role: the sender's
    reference: Path                       # {reference} in argv templates
    settled_wrong: SettledWrong = field(default_factory=set)   # see program.py
    # Replays under trace that tests share: the start of a server that never became ready
    # (grader.evidence._replay_start); every lane's copy holds the same dict.
    shared_replays: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    _refdir: Workdir | None = None        # a copy of reference/ the box can see, made on first use

    def reference_workdir(self) -> Workdir:
        """A copy of reference/ the box can see (the program's own view never includes it)."""
        if self._refdir is None:
            self._refdir = Workdir(self.spec.reference_dir)
            self.box.prepare_workdir(self._refdir.path)
            self._refdir.snapshot()
        return self._refdir

    def close(self) -> None:
        if self._refdir is not None:
            self._refdir.remove()
            self._refdir = None

    def add_time(self, what: str, since: float) -> None:
        self.timings[what] = self.timings.get(what, 0.0) + time.monotonic() - since


@dataclass
class Outcome:
    """How a test ended, before it is turned into a :class:`~grader.results.TestResult`."""

    failure: StepFailed | None = None
    error: str | None = None          # the grader's or the spec's fault (never the student's)
    used_randomness: bool = False
    stdout_tail: str = ""
    stderr_tail: str = ""


class TestScope:
    """Everything one test owns; ``with TestScope(...) as scope: outcome = scope.run()``."""

    def __init__(self, prepared: Prepared, test: TestSpec, seed: int, total: Deadline, *,
                 trace: bool = False, wait_cap: float | None = None,
                 replay_of: StepFailed | None = None) -> None:
        self.p = prepared
        # Evidence: with ``trace``, every program of the test runs under strace
        # (grader.trace); its calls are in ``self.calls`` once the scope has ended.
        self.trace = trace
        self.wait_cap = wait_cap                # a replay: its capped waits last at most this
        self.replay_of = replay_of              # ... and the graded run's failure it replays
        self.calls: dict[str, list] = {}        # argv[0] of each traced program -> its calls
        self._traces: list[tuple[str, Path]] = []
        self.traces: list[list] = []            # each traced launch's calls, once the scope has ended
        self.traces_cut = 0                     # of them, how many strace had not finished writing
        self.spec = prepared.spec
        self.test = test
        self.seed = seed
        self.deadline = total.sooner(test.timeout, f"test {test.name}")
        # When the test began (its limit moves on by the waits since), and where its time
        # goes, for a message that says its limit was reached.
        self._made, self._limit_end = time.monotonic(), self.deadline.end
        self._ready_at: float | None = None     # when the world was made
        self._launching = 0.0                   # start to listening, all launches
        if wait_cap is None and not self.deadline.clipped:
            # The test's own limit moves on, when it passes, by the time a busy machine
            # kept this test from a processor: the grader's thread that drives its steps,
            # and its programs (all started within the test).  A hundred connections one
            # after another otherwise ran out of the test's time on a loaded machine.
            from .cpuwait import MOST, thread_delay
            self._thread = threading.get_native_id()
            self._thread_delay0 = thread_delay(self._thread)
            self.deadline.stretched_by(self._test_waited, MOST * self.deadline.seconds)
        self._stack = ExitStack()
        self._sockets: list[socket.socket] = []
        self._programs: list[Program] = []         # every program the test started
        self.world: World | None = None
        self.env = dict(prepared.env)
        self.ctx: Context | None = None
        from .spin import SpinCheck
        self._spin = SpinCheck()                # looks at running threads' calls, now and then
        self._cpu_wait = None                   # the last deadline's meter (grader.cpuwait)
        self._net_name: str | None = None       # see _world_net

    # ------------------------------------------------------------ the scope

    def __enter__(self) -> "TestScope":
        t = time.monotonic()
        try:
            # Registered first, undone last: the work dir goes back as the build left it.
            self._stack.callback(self._restore_workdirs)
            self._stack.callback(self._read_traces)      # after the programs stopped
            self.world = self.p.box.open_world()
            self._stack.callback(self.world.close)
            self._stack.callback(self._close_sockets)
            rng = random.Random(self.seed)
            port = self.world.choose_port(self.spec.port)
            self.ctx = Context(spec=self.spec, test=self.test, deadline=self.deadline, rng=rng,
                               host=HOST, port=port, world=self, wait_cap=self.wait_cap,
                               replay_of=self.replay_of)
            self._stack.callback(self.ctx.net.close_all, reset=True)
        except BaseException:
            self._stack.close()
            raise
        finally:
            self.p.add_time("setup", t)
        self._ready_at = time.monotonic()
        return self

    def __exit__(self, *exc: Any) -> None:
        t = time.monotonic()
        try:
            self._stack.close()
        finally:
            self.p.add_time("teardown", t)

    def _read_traces(self) -> None:
        from . import trace
        for name, path in self._traces:
            calls = trace.parse(path)
            if not trace.complete(path):
                self.traces_cut += 1           # its last calls are missing (see trace.stop)
            self.calls.setdefault(name, []).extend(calls)
            self.traces.append(calls)          # one list per launch, in launch order

    def _close_sockets(self) -> None:
        """The grader's own sockets, after the connections made of them were reset."""
        for s in self._sockets:
            s.close()

    def _restore_workdirs(self) -> None:
        self.p.workdir.restore(self.p.box.prepare_workdir)
        if self.p._refdir is not None:
            self.p._refdir.restore(self.p.box.prepare_workdir)

    def _live_pids(self) -> list[int]:
        return [p.proc.pid for p in self._programs if p.proc is not None and p.exit_status() is None]

    def stuck(self, in_flight: list) -> list | None:
        """Kernel evidence that no program of the test can act before the grader does
        (see :mod:`grader.stuck`; ``in_flight``: the programs' connections the grader's
        bytes are on their way to), or None when one may (or nothing can be told)."""
        if not self._programs:
            return None                 # nothing started yet
        live = self._live_pids()
        if not live and self.ctx is not None and self.ctx.net.may_still_receive():
            # A program that wrote and ended: its closed socket sends the rest (a full
            # window waits for the grader to read), and only then the end of the stream.
            return None
        from .stuck import stuck
        # Live programs name their network themselves; only when all have ended is it read
        # from the grader's side (a request to the box, once per test).
        return stuck(live, self._spin, getattr(self.p.box, "box_pids", None), in_flight,
                     horizon=self.deadline.latest(), world=None if live else self._world_net())

    def _world_net(self) -> str | None:
        """The test's network namespace, as /proc names it ("net:[4026532288]"), read
        once from a socket made in it; None if it cannot be told."""
        if self._net_name is None and self.world is not None:
            self._net_name = ""
            try:
                with self.world.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    fd = fcntl.ioctl(s.fileno(), SIOCGSKNS)
                    try:
                        self._net_name = os.readlink(f"/proc/self/fd/{fd}")
                    finally:
                        os.close(fd)
            except OSError:
                pass
        return self._net_name or None

    def stretch(self, d: Deadline) -> Deadline:
        """``d``, to be moved on by the time the test's live programs wait for a processor
        from now on (see :mod:`grader.cpuwait`), and the test's own limit with it.  A
        deadline that limit cut short stays as it is: the limit is the test's."""
        if d.clipped:
            return d
        began = time.monotonic()
        live = self._live_pids()
        if not live:
            return d
        from .cpuwait import MOST, CpuWait
        self._cpu_wait = meter = CpuWait(live, since=self._cpu_wait)
        # The program's time starts once the grader has read where its threads are.  That
        # reading (every thread of a JVM's, by a grader whose other tests' threads want its
        # interpreter too) was all that came between a connect's deadline and its first
        # look, and on a busy machine 2 s passed there: the connect failed before it began.
        return d.begins_later(time.monotonic() - began).stretched_by(
            meter.seconds, MOST * d.seconds, also=self.deadline)

    def time_spent(self) -> str:
        """Where the test's time went so far, in words (beside "its time limit was reached")."""
        now = time.monotonic()
        setup = (self._ready_at or now) - self._made
        rest = max(0.0, now - self._made - setup - self._launching)
        words = (f"the test ran {now - self._made:.1f} s: {setup:.2f} s making its network, "
                 f"{self._launching:.2f} s from the program's start until it was ready, "
                 f"{rest:.2f} s in its steps")
        moved = self.deadline.end - self._limit_end
        if moved >= 0.05:
            words += f"; its limit was moved on by {moved:.1f} s for a busy machine"
        return words

    def _test_waited(self) -> float:
        """How long a busy machine kept this test from a processor so far (see
        grader.cpuwait.waited_in_test): what others took, not what its programs did."""
        from .cpuwait import waited_in_test, thread_delay
        own = max(0.0, thread_delay(self._thread) - self._thread_delay0)
        return waited_in_test(self._live_pids(), self._made, also=own)

    def _own(self, prog: Program) -> Program:
        """The scope stops ``prog`` when it ends (before the sockets are reset: a reset
        after the program is gone leaves no TIME_WAIT, though the world is fresh anyway)."""
        self._stack.callback(prog.stop)
        self._programs.append(prog)
        return prog

    # ------------------------------------------------------------ running

    def run(self) -> Outcome:
        """Launch what the role needs, run the steps; never raises for the student's doing."""
        ctx = self.ctx
        assert ctx is not None
        out = Outcome()
        try:
            if self.test.files:
                ctx.files = {name: make_payload(p, ctx.rng) for name, p in self.test.files.items()}
                if any(uses_randomness(p) for p in self.test.files.values()):
                    ctx.used_randomness = True
                _write_files(self.p.workdir.path, ctx.files)
            for shim in self.test.shims:
                self.env["LD_PRELOAD"] = str(self._install_shim(shim))
            if self.spec.role == "server" and uses_reference(self.test.steps):
                ctx.shadow = self._start_shadow()
            LAUNCHERS[self.spec.role](self)
            for step in self.test.steps:
                if self.deadline.expired:
                    raise StepFailed(f"the test's time limit ({self.deadline.describe()}) was reached "
                                     f"before step '{step.action}' (line {step.line})",
                                     details=[self.time_spent()])
                ctx.step = step
                run_step(ctx, step)
        except StepFailed as f:
            out.failure = f
            f.test_step = ctx.step
            f.stuck = ctx.stuck         # the kernel evidence that ended its wait, if any
            f.causes = self._extra_evidence() + f.causes
        except ReferenceFailed as e:
            out.error = (f"the reference implementation failed this test, so the spec or the "
                         f"reference is wrong (not the submission): {e}")
        except Exception as e:     # a bug of the grader: say so, keep grading the others
            out.error = "".join(traceback.format_exception_only(type(e), e)).strip()
            out.error += "\n" + "".join(traceback.format_tb(e.__traceback__)[-3:])
        out.used_randomness = ctx.used_randomness
        prog = ctx.program
        if prog is not None and prog.proc is not None:
            # A path in the work dir (a Python traceback's) as the student knows it: the
            # copy's own folder differs from run to run.
            work = f"{self.p.workdir.path}{os.sep}"
            out.stdout_tail = prog.proc.stdout.tail().replace(work, "")
            out.stderr_tail = prog.proc.stderr.tail().replace(work, "")
        return out

    def _extra_evidence(self) -> list[tuple[str, str]]:
        """Causes worth naming whatever step failed (seen on the live program)."""
        prog = self.ctx.program if self.ctx else None
        if not prog or not prog.proc or prog.exit_status() is not None:
            return []
        zombies = netinfo.zombie_children(prog.proc.pid)
        if len(zombies) >= ZOMBIE_EVIDENCE:
            return [(f"it has {len(zombies)} zombie children: it does not waitpid() for the "
                     "children it forks, and they use up its process limit (fork() then fails)",
                     "zombies")]
        return []

    # ------------------------------------------------------------ the steps' world

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A probe socket in the test's network (closed by the scope if the test does not)."""
        assert self.world is not None
        s = self.world.socket(family, kind)
        self._sockets.append(s)
        return s

    def program(self, argv: Sequence[str], *, cwd: Path, port: int, protocol: str) -> Program:
        assert self.world is not None
        out = None
        if self.trace and cwd == self.p.workdir.path:      # the student's programs, not the reference's
            from . import trace
            out = cwd / f".socket-grader-trace-{len(self._traces)}"
            self._traces.append((Path(argv[0]).name, out))
            argv = trace.wrap(list(argv), out)
        prog = Program(self.world, argv, cwd=cwd, env=self.env, limits=self.p.limits,
                       port=port, protocol=protocol)
        if out is not None:       # stopped tracee first, so that its trace is complete
            prog.stop = functools.partial(trace.stop, prog, out, prog.stop,  # type: ignore[method-assign]
                                          getattr(self.p.box, "box_pids", None))
        return self._own(prog)

    def argv(self, template: Sequence[str], port: int, reference: Path | None = None) -> list[str]:
        return render_argv(template, port=port, host=HOST, reference=reference or self.p.reference,
                           python="python3")

    def launch(self, hold: str | None) -> Program:
        """Start the server (after taking its port, if ``hold``) and wait until it is ready."""
        ctx = self.ctx
        assert ctx is not None
        t = time.monotonic()
        if hold:
            self._show_it_starts()
            kind = socket.SOCK_STREAM if hold == "tcp" else socket.SOCK_DGRAM
            s = self.socket(socket.AF_INET, kind)
            s.bind(("0.0.0.0", ctx.port))
            if kind == socket.SOCK_STREAM:
                s.listen(16)
        prog = self.program(self.argv(self.p.run, ctx.port), cwd=self.p.workdir.path,
                            port=ctx.port, protocol=self.spec.protocol)
        _start(prog)
        if not hold:
            prog.wait_ready(self.stretch(self.deadline.sooner(self.spec.limits["ready"], "listening")),
                            self.p.settled_wrong, cannot_act(ctx))
        self.p.add_time("launch", t)
        self._launching += time.monotonic() - t
        return prog

    def _show_it_starts(self) -> None:
        """Precondition of a test that takes the program's port first: with the port
        free, the program starts and serves it (else a program that cannot start at
        all would pass "exits when its port is taken" by crashing)."""
        ctx = self.ctx
        assert ctx is not None
        prog = self.program(self.argv(self.p.run, ctx.port), cwd=self.p.workdir.path,
                            port=ctx.port, protocol=self.spec.protocol)
        _start(prog)
        r = prog.wait_ready(self.stretch(self.deadline.sooner(self.spec.limits["ready"], "listening")),
                            self.p.settled_wrong, cannot_act(self.ctx))
        prog.stop()
        if not r.ok:
            causes = prog.explain_not_ready(r, self.spec.limits["ready"])
            raise StepFailed(f"with port {ctx.port} free, the program did not start serving it, so "
                             "this test cannot show what it does when the port is taken", causes)

    def _show_client_connects(self) -> None:
        """Precondition of a test with nothing listening: with a server there, the client
        connects (else a client that cannot run at all, a crash or a syntax error, would
        pass "prints an error and exits non-zero when the connection is refused")."""
        ctx = self.ctx
        assert ctx is not None
        ls = self.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind((HOST, ctx.port))
        ls.listen(4)
        prog = self.program(self.argv(self.p.run, ctx.port), cwd=self.p.workdir.path,
                            port=ctx.port, protocol=self.spec.protocol)
        _start(prog, stdin=b"")
        d = self.deadline.sooner(self.spec.limits["ready"], "the client to connect")
        poll_until(lambda: bool(select.select([ls], [], [], 0)[0])
                               or prog.exit_status() is not None, d)
        readable = bool(select.select([ls], [], [], 0)[0])
        status = prog.exit_status()
        if readable:
            conn, _ = ls.accept()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        prog.stop()
        ls.close()
        if readable:
            return
        if status is not None:
            said, code = describe_exit(status)
            causes = [(f"the client {said} without connecting, with a server listening", code)]
        else:
            causes = [(f"the client did not connect within {d.describe()} to a server listening "
                       f"on {HOST} port {ctx.port}", "no-connect")]
        raise StepFailed("with a server listening, the client did not connect, so this test "
                         "cannot show what it does when the connection is refused", causes)

    def run_reference(self, argv_template: Any, stdin: bytes | None = None) -> Program:
        """Start one of the spec's interop programs (reference server or client)."""
        ctx = self.ctx
        assert ctx is not None
        refdir = self.p.reference_workdir().path
        if ctx.files:
            _write_files(refdir, ctx.files)
        argv = _reference_argv(self.argv(argv_template, ctx.port, refdir), refdir)
        prog = self.program(argv, cwd=refdir, port=ctx.port, protocol=self.spec.protocol)
        prog.start(stdin=stdin)
        return prog

    def _start_shadow(self) -> Context:
        """The reference, run beside the program, for steps that say ``expect: {reference: true}``.

        It gets the same files and the same random stream (its generator starts
        from the same state), and every socket step is done to it first, so its
        replies are known before the program's are checked.
        """
        ctx = self.ctx
        assert ctx is not None and self.world is not None
        refdir = self.p.reference_workdir().path
        if ctx.files:
            _write_files(refdir, ctx.files)
        rng = random.Random()
        rng.setstate(ctx.rng.getstate())
        port = self.world.choose_port(self.spec.port + 1)
        shadow = Context(spec=self.spec, test=self.test, deadline=self.deadline, rng=rng, host=HOST,
                         port=port, world=self, files=ctx.files, is_shadow=True)
        self._stack.callback(shadow.net.close_all, reset=True)
        prog = self.program(_reference_argv(self.argv(self.spec.reference_run, port, refdir), refdir),
                            cwd=refdir, port=port, protocol=self.spec.protocol)
        prog.start()
        shadow.program = prog
        if not prog.wait_ready(self.deadline.sooner(self.spec.limits["ready"])).ok:
            raise ReferenceFailed(f"the reference did not start listening on port {port}: "
                                  f"{prog.proc.stderr.tail() if prog.proc else ''}")
        return shadow

    def _install_shim(self, name: str) -> Path:
        """Put the shim where the program can load it: in its own work dir (the box shows it;
        the work dir is restored after the test, which removes it again)."""
        target = self.p.workdir.path / f".socket-grader-{name}.so"
        if not target.exists():
            shutil.copyfile(shim_path(name), target)
            target.chmod(0o755)
        return target


# ------------------------------------------------------------------ launchers by role

def _launch_server(scope: TestScope) -> None:
    """Server role: the program is started and listening before the first step
    (unless the test says ``start: false`` and launches it itself)."""
    ctx = scope.ctx
    assert ctx is not None
    if not scope.test.start:
        return
    ctx.program = scope.launch(None)
    r = ctx.program.readiness
    if r is not None and not r.ok:
        failed = StepFailed(f"the server did not start listening on port {ctx.port}",
                            ctx.program.explain_not_ready(r, scope.spec.limits["ready"]))
        failed.at_start = True
        raise failed


def _launch_client(scope: TestScope) -> None:
    """Client role: the grader's side first (the reference server, or the grader's
    own listener), then the program, with the test's standard input."""
    ctx, test, spec = scope.ctx, scope.test, scope.spec
    assert ctx is not None
    if test.peer == "none":
        scope._show_client_connects()
    if test.peer == "reference":
        server = scope.run_reference(spec.interop["server"])
        if not server.wait_ready(scope.deadline.sooner(spec.limits["ready"])).ok:
            raise ReferenceFailed("the reference server did not start listening: "
                                  + (server.proc.stderr.tail() if server.proc else ""))
    if test.peer == "listen":          # the grader is the server: its socket is bound first
        kind = socket.SOCK_STREAM if spec.protocol == "tcp" else socket.SOCK_DGRAM
        ls = scope.socket(socket.AF_INET, kind)
        ls.bind((HOST, ctx.port))
        if kind == socket.SOCK_STREAM:
            ls.listen(16)
        ctx.listener = ls
    ctx.stdin = make_payload(test.stdin, ctx.rng, ctx.files) if test.stdin is not None else b""
    prog = scope.program(scope.argv(scope.p.run, ctx.port), cwd=scope.p.workdir.path,
                         port=ctx.port, protocol=spec.protocol)
    _start(prog, stdin=ctx.stdin)
    ctx.program = prog


def _launch_pair(scope: TestScope) -> None:
    """Pair role: the receiver first (on its port), then the grader's lossy network,
    then the sender talking to it."""
    ctx, test, spec = scope.ctx, scope.test, scope.spec
    assert ctx is not None and scope.world is not None and scope.p.run_sender
    receiver = scope.program(scope.argv(scope.p.run, ctx.port), cwd=scope.p.workdir.path,
                             port=ctx.port, protocol="udp")
    _start(receiver)
    ctx.programs["receiver"] = ctx.program = receiver
    r = receiver.wait_ready(scope.stretch(scope.deadline.sooner(spec.limits["ready"], "the receiver")),
                            scope.p.settled_wrong, cannot_act(ctx))
    if not r.ok:
        raise StepFailed(f"the receiver is not receiving on port {ctx.port}",
                         receiver.explain_not_ready(r, spec.limits["ready"]))
    relay_port = scope.world.choose_port(spec.port + 1)
    sock = scope.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, relay_port))
    ctx.relay = Relay(sock, (HOST, ctx.port), Impairments.from_spec(test.network), scope.seed)
    scope._stack.callback(ctx.relay.stop)
    ctx.relay.start(scope.deadline.sooner(RELAY_START_WAIT, "the grader's network to start"))
    if test.network.keys() - {"lose_first_reply_to"}:
        ctx.used_randomness = True
    ctx.stdin = make_payload(test.stdin, ctx.rng, ctx.files) if test.stdin is not None else b""
    sender = scope.program(scope.argv(scope.p.run_sender, relay_port), cwd=scope.p.workdir.path,
                           port=relay_port, protocol="udp")
    _start(sender, stdin=ctx.stdin)
    ctx.programs["sender"] = sender


LAUNCHERS: dict[str, Callable[[TestScope], None]] = {
    "server": _launch_server, "client": _launch_client, "pair": _launch_pair,
}


def _start(prog: Program, stdin: bytes | None = None) -> None:
    try:
        prog.start(stdin=stdin)
    except OSError as e:
        raise StepFailed(f"could not start {' '.join(prog.argv)}: {e.strerror or e}",
                         [("the build did not produce the program the spec runs", "not-built")])


def _reference_argv(argv: list[str], refdir: Path) -> list[str]:
    """``argv`` of a reference program, once its files are known to be there (a missing
    one is the spec's or the installation's fault, never the student's)."""
    for arg in argv:
        if arg.startswith(str(refdir)) and not Path(arg).exists():
            raise ReferenceFailed(f"{Path(arg).name} is not in the reference folder "
                                  f"({Path(arg).parent}): the spec names a file the reference lacks")
    return argv


def _write_files(workdir: Path, files: dict[str, bytes]) -> None:
    """The test's files, written into a work dir (readable by the program); the
    scope's work-dir restore removes them after the test."""
    for name, data in files.items():
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)
