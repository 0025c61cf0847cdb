"""The engine: spec + submission -> build -> launch -> steps -> scores.

It knows nothing of terminals, files or pytest.  ``grade`` returns a plain
:class:`~grader.results.SubmissionResult`; front ends (CLI, pytest plugin,
batch, reporters) only read it.

Per test: a scope of its own (:mod:`grader.scope`): a fresh network, a fresh
launch of the program, one deadline for the test that every step's wait takes
its time from, and at the end everything the test started is stopped and the
work dir is put back as the build left it.  A test's verdict depends on what
the program does in that test alone.  That is what lets a submission's tests
run side by side, each on a lane of its own (:mod:`grader.lanes`), with the
verdicts they would get one by one.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from . import __version__, evidence, idioms, verdict
from .box import TIER_UNSANDBOXED, Box, Limits
from .build import Workdir, build, detect_language, expected_files
from .deadline import Deadline
from .errors import SubmissionError
from .lanes import Lane, MachineSlots, Plan, default_limit, first_slot, run_side_by_side
from .program import base_env
from .results import (BuildResult, SubmissionResult, SubmissionStatus, TestResult,
                      TestStatus)
from .scope import Outcome, Prepared, TestScope
from .spec import Language, Spec, TestSpec


@dataclass
class GradeOptions:
    tier: str = "auto"                    # sandbox tier: auto, root, userns, none
    seed: int | None = None               # replay seed; default: the spec's
    visible_only: bool = False            # student self-check: skip hidden tests
    only: list[str] | None = None         # run only these tests (by name)
    on_test: Callable[[TestResult], None] | None = None   # called as each test ends
    student: str | None = None            # the name shown in gradebooks (default: folder name)
    tests_at_once: int | None = None      # this machine's limit on tests at once (all graders
                                          # together; default lanes.default_limit()); 1: one by one


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


def launches(test: TestSpec) -> int:
    """How many times ``test`` starts the program (a start while its port is held first
    shows it starts with the port free): a guess of its length for the lanes."""
    n = 1 if test.start else 0
    for step in test.steps:
        if step.action == "restart":
            n += 1
        elif step.action == "launch":
            n += 2 if isinstance(step.args, dict) and step.args.get("hold_port") else 1
    return n


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
        self.timings: dict[str, float] = {"build": 0.0, "setup": 0.0, "launch": 0.0, "tests": 0.0,
                                          "teardown": 0.0}
        self.prepared: Prepared | None = None   # what every test starts from, once built

    def result(self, status: SubmissionStatus, tests: list[TestResult], *, tier: str,
               message: str = "", build: BuildResult | None = None, hidden: int = 0,
               started: float) -> SubmissionResult:
        return SubmissionResult(
            student=self.options.student or self.folder.resolve().name,
            submission=str(self.folder), assignment=self.spec.assignment,
            spec_hash=self.spec.hash, tier=tier, status=status,
            score=round(sum(t.points for t in tests), 6),
            max_score=idioms.applicable_total(self.spec, self.lang),
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
            if self.built.ok:
                self.workdir.snapshot()      # every test starts from the work dir as built
                self.prepared = Prepared(
                    spec=self.spec, box=self.box, workdir=self.workdir, env=self.env,
                    limits=self.limits, run=self.lang.run, run_sender=self.lang.run_sender,
                    reference=self.workdir.path if self.reference else self.spec.reference_dir,
                    timings=self.timings)
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
        assert self.prepared is not None
        results, status, message = self.run_tests(self.prepared, tests)
        return self.result(status, results, tier=self.box.tier, message=message, build=self.built,
                           hidden=hidden, started=started)

    def close(self) -> None:
        t = time.monotonic()
        try:
            if getattr(self, "box", None) is not None:
                self.box.close()
                self.box = None
        finally:
            if getattr(self, "workdir", None) is not None:
                self.workdir.remove()
                self.workdir = None
            if self.prepared is not None:
                self.prepared.close()
                self.prepared = None
            self.timings["teardown"] += time.monotonic() - t

    # -------------------------------------------------------------- tests

    def run_tests(self, prepared: Prepared, tests: list[TestSpec]
                  ) -> tuple[list[TestResult], SubmissionStatus, str]:
        """The tests, side by side where that helps (see :mod:`grader.lanes`); results in
        the spec's order, and ``on_test`` called in that order."""
        limit = self.options.tests_at_once or default_limit()
        assert self.box is not None
        side_by_side = limit > 1 and len(tests) > 1 and self.box.tier != TIER_UNSANDBOXED
        slots = MachineSlots(limit)
        first = Lane(prepared, close=self.box.close, slot=first_slot(slots))
        t = time.monotonic()
        total = Deadline.after(self.spec.limits["total"], "the whole run")
        try:
            found, not_started = run_side_by_side(Plan(
                tests=tests, first=first, open_lane=self._open_lane if side_by_side else None,
                run_one=lambda lane, test: self.run_test(lane.context, test, total),
                total=total, on_result=self.options.on_test, slots=slots, cost=launches))
        finally:
            if first.slot is not None:
                first.slot.release()
        self.timings["tests"] += time.monotonic() - t
        results = [r for r in found if r is not None]
        if not not_started:
            return results, SubmissionStatus.GRADED, ""
        why = f"not run: the whole run's time limit ({self.spec.limits['total']:g} s) was reached"
        results = [r if r is not None else self.skipped([test], why)[0]
                   for r, test in zip(found, tests)]
        return results, SubmissionStatus.TIMED_OUT, why

    def _open_lane(self) -> Lane:
        """One more lane: a box of the run's tier and a copy of the built work dir."""
        from .sandbox import option_of
        assert self.box is not None and self.workdir is not None and self.prepared is not None
        first = self.prepared
        workdir = self.workdir.clone()
        box: Box | None = None
        try:
            box = _open_box(option_of(self.box.tier))
            box.prepare_workdir(workdir.path)
            lane = replace(first, box=box, workdir=workdir, env=base_env(workdir.path),
                           reference=workdir.path if self.reference else first.reference,
                           timings={}, _refdir=None)
        except BaseException:
            if box is not None:
                box.close()
            workdir.remove()
            raise

        def close() -> None:
            try:
                box.close()
            finally:
                lane.close()
                workdir.remove()
                for what, seconds in lane.timings.items():
                    self.timings[what] = self.timings.get(what, 0.0) + seconds
        return Lane(lane, close=close)

    def run_test(self, prepared: Prepared, test: TestSpec, total: Deadline) -> TestResult:
        """One test in a scope of its own (see :mod:`grader.scope`)."""
        why = idioms.not_applicable(test, self.lang)
        if why:
            return TestResult(test.name, test.number, test.description, 0.0, 0.0,
                              TestStatus.NOT_APPLICABLE, why, visibility=test.visibility)
        started = time.monotonic()
        try:
            with TestScope(prepared, test, test_seed(self.seed, test), total,
                           trace=evidence.TRACE_EVERY_TEST) as scope:
                out = scope.run()
        except Exception as e:       # the scope itself failed (the box): the grader's fault
            out = Outcome(error="".join(traceback.format_exception_only(type(e), e)).strip()
                          + "\n" + "".join(traceback.format_tb(e.__traceback__)[-3:]))
        else:
            try:
                out = evidence.explain(prepared, test, test_seed(self.seed, test), total, out, scope)
            except Exception as e:   # evidence adds causes: it never makes a verdict of its own
                if out.failure is not None:
                    out.failure.evidence = "outside"
                    out.failure.evidence_note = f"the calls could not be read as evidence: {e}"
        duration = round(time.monotonic() - started, 4)
        used_seed = self.seed if out.used_randomness else None
        common = dict(name=test.name, number=test.number, description=test.description,
                      max_points=test.points, duration=duration, visibility=test.visibility,
                      seed=used_seed, stdout_tail=out.stdout_tail, stderr_tail=out.stderr_tail)
        if out.error:
            return TestResult(points=0.0, status=TestStatus.ERROR,
                              feedback="the grader failed while running this test (not your "
                                       "program's fault; please report it):\n" + out.error, **common)
        if out.failure is None:
            return TestResult(points=test.points, status=TestStatus.PASSED, feedback="", **common)
        failure = verdict.structured(out.failure, self.lang)
        return TestResult(points=0.0, status=TestStatus.FAILED, failure=failure,
                          feedback=verdict.feedback_text(failure, out.stderr_tail, used_seed, self.lang),
                          diagnoses=verdict.diagnoses(failure), **common)


__all__ = ["GradeOptions", "Session", "grade", "grade_reference", "selected_tests"]
