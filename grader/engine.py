"""The engine: spec + submission -> build -> launch -> steps -> scores.

It knows nothing of terminals, files or pytest.  ``grade`` returns a plain
:class:`~grader.results.SubmissionResult`; front ends (CLI, pytest plugin,
batch, reporters) only read it.

Per test: a fresh socket set, a fresh launch of the program (unless the spec
says the server lives for the whole run), a deadline for the test and one for
every step, and at the end everything the test started is stopped.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import __version__, netinfo
from .box import Box, Limits
from .build import Workdir, build, detect_language, expected_files
from .deadline import Deadline
from .errors import SubmissionError
from .payload import make_payload, uses_randomness
from .program import Program, SettledWrong, base_env, render_argv
from .relay import Impairments, Relay
from .results import (BuildResult, SubmissionResult, SubmissionStatus, TestResult,
                      TestStatus)
from .shims import shim_path
from .spec import Language, Spec, TestSpec
from .steps import Context, ReferenceFailed, StepFailed, run_step, uses_reference

HOST = "127.0.0.1"
# This many zombie children is evidence worth naming in any failure.
ZOMBIE_EVIDENCE = 5


@dataclass
class GradeOptions:
    tier: str = "auto"                    # sandbox tier: auto, root, userns, none
    seed: int | None = None               # replay seed; default: the spec's
    visible_only: bool = False            # student self-check: skip hidden tests
    only: list[str] | None = None         # run only these tests (by name)
    on_test: Callable[[TestResult], None] | None = None   # called as each test ends
    student: str | None = None            # the name shown in gradebooks (default: folder name)


def _open_box(tier: str) -> Box:
    from .sandbox import open_box     # picks the best tier this machine allows (see grader doctor)
    return open_box(tier)


def _limits(spec: Spec) -> Limits:
    L = spec.limits
    return Limits(cpu_seconds=int(L["cpu_seconds"]), memory_bytes=int(L["memory_mb"]) << 20,
                  processes=int(L["processes"]), file_size=int(L["file_size_mb"]) << 20,
                  open_files=int(L["open_files"]), output_bytes=int(L["output_kb"]) << 10)


def test_seed(base: int, test: TestSpec) -> int:
    digest = hashlib.sha256(f"{base}:{test.name}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def selected_tests(spec: Spec, options: GradeOptions) -> tuple[list[TestSpec], int]:
    """The tests to run, and how many were left out because they are hidden."""
    tests = list(spec.tests)
    if options.only:
        tests = [t for t in tests if t.name in options.only]
    hidden = 0
    if options.visible_only:
        hidden = sum(1 for t in tests if t.visibility != "visible")
        tests = [t for t in tests if t.visibility == "visible"]
    return tests, hidden


def grade(spec: Spec, submission: str | Path, options: GradeOptions | None = None) -> SubmissionResult:
    """Grade one submission folder against ``spec``."""
    options = options or GradeOptions()
    folder = Path(submission)
    if not folder.exists():
        raise SubmissionError(f"{folder}: no such submission folder")
    if not folder.is_dir():
        raise SubmissionError(f"{folder}: is a file; give the folder that holds the submission")
    lang = detect_language(spec, folder)
    return _Run(spec, folder, lang, options).run()


def grade_reference(spec: Spec, options: GradeOptions | None = None) -> SubmissionResult:
    """Run ``spec`` against its own reference implementation (should be 100%)."""
    options = options or GradeOptions()
    lang = Language("reference", (), (), None, spec.reference_run, spec.reference_sender)
    options.student = options.student or "reference"
    return _Run(spec, spec.reference_dir, lang, options, reference=True).run()


class Session:
    """One submission made ready once (copied, boxed, built), then graded test by test.

    ``grade()`` is a session over every selected test; the pytest plugin keeps
    one session open and runs one test per pytest item::

        with Session(spec, folder) as session:
            result = session.grade(["echo-line"])
    """

    def __init__(self, spec: Spec, submission: str | Path, options: GradeOptions | None = None) -> None:
        self.options = options or GradeOptions()
        folder = Path(submission)
        if not folder.exists():
            raise SubmissionError(f"{folder}: no such submission folder")
        if not folder.is_dir():
            raise SubmissionError(f"{folder}: is a file; give the folder that holds the submission")
        self._run = _Run(spec, folder, detect_language(spec, folder), self.options)

    def __enter__(self) -> "Session":
        self._run.open()
        return self

    def __exit__(self, *exc) -> None:
        self._run.close()

    @property
    def build(self) -> BuildResult | None:
        return self._run.built

    @property
    def tier(self) -> str:
        return self._run.box.tier if self._run.box is not None else "none"

    def grade(self, only: list[str] | None = None) -> SubmissionResult:
        opts = GradeOptions(**{**self.options.__dict__, "only": only or self.options.only})
        return self._run.grade_selected(opts)


class _Run:
    """One grading run of one submission: one work dir, one box."""

    def __init__(self, spec: Spec, folder: Path, lang: Language | None, options: GradeOptions,
                 reference: bool = False) -> None:
        self.spec = spec
        self.folder = folder
        self.lang = lang
        self.options = options
        self.reference = reference
        self.seed = options.seed if options.seed is not None else spec.seed
        self.limits = _limits(spec)
        self.timings: dict[str, float] = {"build": 0.0, "launch": 0.0, "tests": 0.0, "teardown": 0.0}
        self._refdir: Workdir | None = None     # a copy of reference/ inside the box, made on first use
        self.shared: Program | None = None      # lifetime: per-run: the program serving every test
        self.settled_wrong: SettledWrong = set()  # wrong ports a launch already waited out (program.py)

    def result(self, status: SubmissionStatus, tests: list[TestResult], *, tier: str,
               message: str = "", build: BuildResult | None = None, hidden: int = 0,
               started: float) -> SubmissionResult:
        return SubmissionResult(
            student=self.options.student or self.folder.resolve().name,
            submission=str(self.folder), assignment=self.spec.assignment,
            spec_hash=self.spec.hash, tier=tier, status=status,
            score=round(sum(t.points for t in tests), 6), max_score=self.spec.total_points,
            tests=tests, build=build, message=message,
            duration=round(time.monotonic() - started, 4),
            timings={k: round(v, 4) for k, v in self.timings.items()},
            hidden_not_run=hidden, seed=self.seed, grader_version=__version__)

    def skipped(self, tests: list[TestSpec], why: str) -> list[TestResult]:
        return [TestResult(t.name, t.number, t.description, 0.0, t.points, TestStatus.SKIPPED,
                           why, visibility=t.visibility) for t in tests]

    def run(self) -> SubmissionResult:
        self.open()
        try:
            return self.grade_selected(self.options)
        finally:
            self.close()

    def open(self) -> None:
        """Copy the submission, open its box and build it (once, for every test run after)."""
        self.started = time.monotonic()
        self.box: Box | None = None
        self.workdir: Workdir | None = None
        self.built: BuildResult | None = None
        self.not_gradable = ""
        if self.lang is None:
            found = sorted(p.name for p in self.folder.iterdir())[:10]
            self.not_gradable = (f"no {expected_files(self.spec)} found in {self.folder}"
                                 + (f" (it holds: {', '.join(found)})" if found else " (it is empty)"))
            return
        self.workdir = Workdir(self.folder)
        try:
            self.box = _open_box(self.options.tier)
            self.box.prepare_workdir(self.workdir.path)
            self.env = base_env(self.workdir.path)
            t = time.monotonic()
            try:
                self.built = build(self.box, self.lang, self.workdir.path,
                                   seconds=self.spec.limits["build"], env=self.env, limits=self.limits)
            except OSError as e:
                self.built = BuildResult(False, self.lang.name, [], f"could not run the build: {e}")
            self.timings["build"] = time.monotonic() - t
        except BaseException:
            self.close()
            raise

    def grade_selected(self, options: GradeOptions) -> SubmissionResult:
        """Run the tests ``options`` select (the build was done by open())."""
        started = time.monotonic() if self.built is None or self.timings["tests"] else self.started
        tests, hidden = selected_tests(self.spec, options)
        if self.not_gradable:
            return self.result(SubmissionStatus.NOT_GRADABLE, self.skipped(tests, self.not_gradable),
                               tier="none", message=self.not_gradable, hidden=hidden, started=started)
        assert self.box is not None and self.workdir is not None and self.built is not None
        if not self.built.ok:
            msg = "the submission did not build:\n" + self.built.output
            return self.result(SubmissionStatus.BUILD_FAILED,
                               self.skipped(tests, "not run: the submission did not build"),
                               tier=self.box.tier, message=msg, build=self.built, hidden=hidden,
                               started=started)
        results, status, message = self.run_tests(self.box, self.workdir.path, self.env, tests)
        return self.result(status, results, tier=self.box.tier, message=message, build=self.built,
                           hidden=hidden, started=started)

    def close(self) -> None:
        t = time.monotonic()
        if self.shared is not None:
            self.shared.stop()
            self.shared = None
        try:
            if getattr(self, "box", None) is not None:
                self.box.close()
                self.box = None
        finally:
            if getattr(self, "workdir", None) is not None:
                self.workdir.remove()
                self.workdir = None
            if self._refdir is not None:
                self._refdir.remove()
                self._refdir = None
            self.timings["teardown"] += time.monotonic() - t

    # -------------------------------------------------------------- tests

    def run_tests(self, box: Box, workdir: Path, env: dict[str, str],
                  tests: list[TestSpec]) -> tuple[list[TestResult], SubmissionStatus, str]:
        total = Deadline.after(self.spec.limits["total"], "the whole run")
        results: list[TestResult] = []
        status, message = SubmissionStatus.GRADED, ""
        for test in tests:
            if total.expired:
                why = f"not run: the whole run's time limit ({self.spec.limits['total']:g} s) was reached"
                results += self.skipped(tests[len(results):], why)
                status, message = SubmissionStatus.TIMED_OUT, why
                break
            t = time.monotonic()
            res = self.run_test(box, workdir, env, test, total)
            self.timings["tests"] += time.monotonic() - t
            results.append(res)
            if self.options.on_test:
                self.options.on_test(res)
        return results, status, message

    def run_test(self, box: Box, workdir: Path, env: dict[str, str], test: TestSpec,
                 total: Deadline) -> TestResult:
        started = time.monotonic()
        deadline = total.sooner(test.timeout, f"test {test.name}")
        seed = test_seed(self.seed, test)
        rng = random.Random(seed)
        shared = self.shared if self.shared and self.shared.exit_status() is None else None
        port = shared.port if shared else box.choose_port(self.spec.port)
        run_env = dict(env)
        for shim in test.shims:
            run_env["LD_PRELOAD"] = str(self.install_shim(workdir, shim))
        ctx = Context(spec=self.spec, test=test, deadline=deadline, rng=rng, host=HOST, port=port,
                      launch=lambda hold: self.launch(box, workdir, run_env, ctx, hold))
        if test.files:
            ctx.files = {name: make_payload(p, rng) for name, p in test.files.items()}
            if any(uses_randomness(p) for p in test.files.values()):
                ctx.used_randomness = True
            written = self.write_files(workdir, ctx.files)
        failure: StepFailed | None = None
        error: str | None = None
        ctx.reference = lambda argv, stdin=None: self.run_reference(box, env, ctx, argv, stdin)
        try:
            if self.spec.role == "server" and uses_reference(test.steps):
                ctx.shadow = self.start_shadow(box, self.reference_dir(box), env, ctx)
            if self.spec.role == "client":
                self.start_client(box, workdir, run_env, ctx, test)
            elif self.spec.role == "pair":
                self.start_pair(box, workdir, run_env, ctx, test, seed)
            elif test.start and shared is not None and not test.shims:
                ctx.program = shared          # lifetime: per-run, and it is still serving
            elif test.start:
                ctx.program = ctx.launch(None)
                if self.spec.lifetime == "per-run" and not test.shims:
                    self.shared = ctx.program
                r = ctx.program.readiness
                if r is not None and not r.ok:
                    raise StepFailed(f"the server did not start listening on port {port}",
                                     ctx.program.explain_not_ready(r, self.spec.limits["ready"]))
            for step in test.steps:
                if deadline.expired:
                    raise StepFailed(f"the test's time limit ({test.timeout:g} s) was reached "
                                     f"before step '{step.action}' (line {step.line})")
                run_step(ctx, step)
        except StepFailed as f:
            failure = f
            failure.causes = self.extra_evidence(ctx) + failure.causes
        except ReferenceFailed as e:
            error = (f"the reference implementation failed this test, so the spec or the reference "
                     f"is wrong (not the submission): {e}")
        except Exception as e:     # a bug of the grader: say so, keep grading the others
            error = "".join(traceback.format_exception_only(type(e), e)).strip()
            error += "\n" + "".join(traceback.format_tb(e.__traceback__)[-3:])
        finally:
            t = time.monotonic()
            prog = ctx.program
            keep = (prog is not None and prog is self.shared and failure is None and error is None
                    and not prog.expected_exit and prog.exit_status() is None)
            if prog is self.shared and not keep:
                self.shared = None        # it failed, exited or was signalled: start afresh
            # Stop the program first, then reset the grader's connections: a reset
            # (not a FIN) leaves no TIME_WAIT behind on the program's port, so the
            # next test in the same box starts with the port as free as the first.
            if prog and prog.proc and not keep:
                prog.stop()
            ctx.net.close_all(reset=True)
            if ctx.listener:
                ctx.listener.close()
            for s in ctx.held:
                s.close()
            if test.files:
                self.remove_files(workdir, written)
            if ctx.shadow is not None:
                if ctx.shadow.program:
                    ctx.shadow.program.stop()
                ctx.shadow.net.close_all(reset=True)
            for helper in [*ctx.helpers, *ctx.programs.values()]:
                helper.stop()
            if ctx.relay is not None:
                ctx.relay.stop()
            if self._refdir is not None and ctx.files:
                self.remove_files(self._refdir.path, [self._refdir.path / n for n in ctx.files])
            self.timings["teardown"] += time.monotonic() - t
        duration = round(time.monotonic() - started, 4)
        stdout_tail = prog.proc.stdout.tail() if prog and prog.proc else ""
        stderr_tail = prog.proc.stderr.tail() if prog and prog.proc else ""
        used_seed = seed if ctx.used_randomness else None
        common = dict(name=test.name, number=test.number, description=test.description,
                      max_points=test.points, duration=duration, visibility=test.visibility,
                      seed=self.seed if used_seed is not None else None,
                      stdout_tail=stdout_tail, stderr_tail=stderr_tail)
        if error:
            return TestResult(points=0.0, status=TestStatus.ERROR,
                              feedback="the grader failed while running this test (not your "
                                       "program's fault; please report it):\n" + error, **common)
        if failure is None:
            return TestResult(points=test.points, status=TestStatus.PASSED, feedback="", **common)
        return TestResult(points=0.0, status=TestStatus.FAILED,
                          feedback=self.feedback(test, failure, stderr_tail, used_seed),
                          diagnoses=sorted({code for _, code in failure.causes if code != "hint"}),
                          **common)

    def extra_evidence(self, ctx: Context) -> list[tuple[str, str]]:
        """Causes worth naming whatever step failed (seen on the live program)."""
        prog = ctx.program
        if not prog or not prog.proc or prog.exit_status() is not None:
            return []
        zombies = netinfo.zombie_children(prog.proc.pid)
        if len(zombies) >= ZOMBIE_EVIDENCE:
            return [(f"it has {len(zombies)} zombie children: it does not waitpid() for the "
                     "children it forks, and they use up its process limit (fork() then fails)",
                     "zombies")]
        return []

    def feedback(self, test: TestSpec, f: StepFailed, stderr_tail: str, used_seed: int | None) -> str:
        lines = []
        step = getattr(f, "step", None)
        if step is not None:
            lines.append(f"step '{step.action}' (spec line {step.line}): {f.message}")
        else:
            lines.append(f.message)
        lines += [f"  {d}" for d in f.details]
        causes = [c for c, code in f.causes if code != "hint" and c]
        hints = [c for c, code in f.causes if code == "hint"]
        for c in dict.fromkeys(causes):
            lines.append(f"likely cause: {c}")
        for h in hints:
            lines.append(f"hint: {h}")
        if stderr_tail.strip():
            lines.append("the program's stderr (last lines):")
            lines += [f"  | {ln}" for ln in stderr_tail.splitlines()]
        if used_seed is not None:
            lines.append(f"random data and timing used seed {self.seed}: "
                         f"`grader check --seed {self.seed}` replays it exactly")
        return "\n".join(lines)

    # -------------------------------------------------------------- launching

    def reference_dir(self, box: Box) -> Path:
        """A copy of reference/ the box can see (the program's own view never includes it)."""
        if self._refdir is None:
            self._refdir = Workdir(self.spec.reference_dir)
            box.prepare_workdir(self._refdir.path)
        return self._refdir.path

    def run_reference(self, box: Box, env: dict[str, str], ctx: Context, argv_template,
                      stdin: bytes | None) -> Program:
        """Start one of the spec's interop programs (reference server or client) in the box."""
        refdir = self.reference_dir(box)
        if ctx.files:
            self.write_files(refdir, ctx.files)
        argv = render_argv(argv_template, port=ctx.port, host=HOST, reference=refdir,
                           python="python3")
        prog = Program(box, argv, cwd=refdir, env=env, limits=self.limits, port=ctx.port,
                       protocol=self.spec.protocol)
        prog.start(stdin=stdin)
        ctx.helpers.append(prog)
        return prog

    def start_shadow(self, box: Box, refdir: Path, env: dict[str, str], ctx: Context) -> Context:
        """The reference, run beside the program, for steps that say ``expect: {reference: true}``.

        It gets the same files and the same random stream (its generator starts
        from the same state), and every socket step is done to it first, so its
        replies are known before the program's are checked.
        """
        box.prepare_workdir(refdir)
        if ctx.files:
            self.write_files(refdir, ctx.files)
        rng = random.Random()
        rng.setstate(ctx.rng.getstate())
        port = box.choose_port(self.spec.port + 1)
        shadow = Context(spec=self.spec, test=ctx.test, deadline=ctx.deadline, rng=rng, host=HOST,
                         port=port, launch=lambda hold: None, files=ctx.files, is_shadow=True)  # type: ignore[arg-type, return-value]
        argv = render_argv(self.spec.reference_run, port=port, host=HOST, reference=refdir,
                           python="python3")
        prog = Program(box, argv, cwd=refdir, env=env, limits=self.limits, port=port,
                       protocol=self.spec.protocol)
        prog.start()
        shadow.program = prog
        if not prog.wait_ready(ctx.deadline.sooner(self.spec.limits["ready"])).ok:
            raise ReferenceFailed(f"the reference did not start listening on port {port}: "
                                  f"{prog.proc.stderr.tail() if prog.proc else ''}")
        return shadow

    def write_files(self, workdir: Path, files: dict[str, bytes]) -> list[Path]:
        """The test's files, written into the program's work dir (readable by it)."""
        written = []
        for name, data in files.items():
            path = workdir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            path.chmod(0o644)
            written.append(path)
        return written

    def remove_files(self, workdir: Path, written: list[Path]) -> None:
        for path in written:
            try:
                path.unlink()
            except OSError:
                pass

    def install_shim(self, workdir: Path, name: str) -> Path:
        """Put the shim where the program can load it: in its own work dir (the box shows it)."""
        target = workdir / f".socket-grader-{name}.so"
        if not target.exists():
            shutil.copyfile(shim_path(name), target)
            target.chmod(0o755)
        return target

    def argv(self, port: int, workdir: Path) -> list[str]:
        assert self.lang
        reference = workdir if self.reference else self.spec.reference_dir
        return render_argv(self.lang.run, port=port, host=HOST, reference=reference,
                           python="python3")

    def launch(self, box: Box, workdir: Path, env: dict[str, str], ctx: Context,
               hold: str | None) -> Program:
        """Start the server for ``ctx`` (holding its port first if asked) and wait until ready."""
        t = time.monotonic()
        if hold:
            kind = socket.SOCK_STREAM if hold == "tcp" else socket.SOCK_DGRAM
            s = box.socket(socket.AF_INET, kind)
            if kind == socket.SOCK_STREAM:
                # A listening socket blocks every other bind() to the port, with or
                # without SO_REUSEADDR; ours lets it ignore an earlier test's TIME_WAIT.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", ctx.port))
            if kind == socket.SOCK_STREAM:
                s.listen(16)
            ctx.held.append(s)
        prog = Program(box, self.argv(ctx.port, workdir), cwd=workdir, env=env,
                       limits=self.limits, port=ctx.port, protocol=self.spec.protocol)
        try:
            prog.start()
        except OSError as e:
            raise StepFailed(f"could not start {' '.join(prog.argv)}: {e.strerror or e}",
                             [("the build did not produce the program the spec runs", "not-built")])
        if not hold:
            prog.wait_ready(ctx.deadline.sooner(self.spec.limits["ready"], "listening"),
                            self.settled_wrong)
        self.timings["launch"] += time.monotonic() - t
        return prog

    def start_pair(self, box: Box, workdir: Path, env: dict[str, str], ctx: Context,
                   test: TestSpec, seed: int) -> None:
        """Receiver first (on its port), then the grader's network, then the sender talking to it."""
        assert self.lang and self.lang.run_sender
        receiver = Program(box, self.argv(ctx.port, workdir), cwd=workdir, env=env,
                           limits=self.limits, port=ctx.port, protocol="udp")
        try:
            receiver.start()
        except OSError as e:
            raise StepFailed(f"could not start {' '.join(receiver.argv)}: {e.strerror or e}",
                             [("the build did not produce the program the spec runs", "not-built")])
        ctx.programs["receiver"] = ctx.program = receiver
        r = receiver.wait_ready(ctx.deadline.sooner(self.spec.limits["ready"], "the receiver"),
                                self.settled_wrong)
        if not r.ok:
            raise StepFailed(f"the receiver is not receiving on port {ctx.port}",
                             receiver.explain_not_ready(r, self.spec.limits["ready"]))
        relay_port = box.choose_port(self.spec.port + 1)
        sock = box.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, relay_port))
        ctx.relay = Relay(sock, (HOST, ctx.port), Impairments.from_spec(test.network), seed)
        ctx.relay.start()
        if test.network.keys() - {"lose_first_reply_to"}:
            ctx.used_randomness = True
        ctx.stdin = make_payload(test.stdin, ctx.rng, ctx.files) if test.stdin is not None else b""
        argv = render_argv(self.lang.run_sender, port=relay_port, host=HOST,
                           reference=workdir if self.reference else self.spec.reference_dir,
                           python="python3")
        sender = Program(box, argv, cwd=workdir, env=env, limits=self.limits, port=relay_port,
                         protocol="udp")
        sender.start(stdin=ctx.stdin)
        ctx.programs["sender"] = sender

    def start_client(self, box: Box, workdir: Path, env: dict[str, str], ctx: Context,
                     test: TestSpec) -> None:
        if test.peer == "reference":
            server = ctx.reference(self.spec.interop["server"])
            if not server.wait_ready(ctx.deadline.sooner(self.spec.limits["ready"])).ok:
                raise ReferenceFailed("the reference server did not start listening: "
                                      + (server.proc.stderr.tail() if server.proc else ""))
        if test.peer == "listen":
            ls = box.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((HOST, ctx.port))
            ls.listen(16)
            ctx.listener = ls
        ctx.stdin = make_payload(test.stdin, ctx.rng, ctx.files) if test.stdin is not None else b""
        prog = Program(box, self.argv(ctx.port, workdir), cwd=workdir, env=env,
                       limits=self.limits, port=ctx.port, protocol=self.spec.protocol)
        try:
            prog.start(stdin=ctx.stdin)
        except OSError as e:
            raise StepFailed(f"could not start {' '.join(prog.argv)}: {e.strerror or e}",
                             [("the build did not produce the program the spec runs", "not-built")])
        ctx.program = prog


__all__ = ["GradeOptions", "Session", "grade", "grade_reference", "selected_tests"]
