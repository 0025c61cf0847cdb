"""Read-only views over results that several platform writers share.

Every platform needs the same few things from a :class:`SubmissionResult`:
the spec's tests in order (including the ones this run did not include, so
that totals add up), one test's text for a student, one submission's overview,
a file name made from a student's folder name, and text clipped to a size a
platform accepts.  They live here once so that the formats cannot drift apart.
Nothing here writes a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
from ..spec import Spec
from .terminal import header

# Why a spec test has no result in this run, in the student's terms.
NOT_RUN_CRASHED = "not run: the grader failed on this submission (not your program's fault)"
NOT_RUN_HIDDEN = ("not run here: {visibility} tests run when the instructor grades "
                  "(grader check --all runs them)")
NOT_RUN_UNSELECTED = "not run: this run was limited to other tests (grader check --test)"


@dataclass(frozen=True)
class TestView:
    """One spec test as a report shows it: its result, or a stand-in if it was not run."""

    __test__ = False   # not a pytest test class
    result: TestResult
    ran: bool


def points(x: float) -> str:
    """Points as people write them: 2, 0.5, 1.25 (never 2.0)."""
    return f"{x:g}"


def not_run(r: SubmissionResult, spec: Spec) -> list[TestResult]:
    """Stand-ins (0 points, SKIPPED) for the spec tests that ``r`` has no result for."""
    ran = {t.name for t in r.tests}
    out = []
    for t in spec.tests:
        if t.name in ran:
            continue
        if r.status is SubmissionStatus.CRASHED:
            why = NOT_RUN_CRASHED
        elif r.hidden_not_run and t.visibility != "visible":
            why = NOT_RUN_HIDDEN.format(visibility=t.visibility.replace("_", " "))
        else:
            why = NOT_RUN_UNSELECTED
        out.append(TestResult(name=t.name, number=t.number, description=t.description,
                              points=0.0, max_points=t.points, status=TestStatus.SKIPPED,
                              feedback=why, visibility=t.visibility))
    return out


def every_test(r: SubmissionResult, spec: Spec) -> list[TestView]:
    """All of the spec's tests in spec order; the ones ``r`` did not run as stand-ins.

    Platforms that check totals (Gradescope) or map names to columns (Autolab,
    CSV) need every test, not only the ones this run included.
    """
    by_name = {t.name: TestView(t, True) for t in r.tests}
    by_name.update({t.name: TestView(t, False) for t in not_run(r, spec)})
    ordered = [by_name.pop(t.name) for t in spec.tests if t.name in by_name]
    return ordered + list(by_name.values())     # results the spec does not know: keep them last


def feedback_text(t: TestResult) -> str:
    """What a student reads about one test: its description, then the feedback if any."""
    return "\n".join(part for part in (t.description, t.feedback) if part)


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def failing(r: SubmissionResult) -> list[TestResult]:
    """The tests of ``r`` that lost points (failed, errored, or not run after a failure);
    not the tests that do not apply to its language."""
    return [t for t in r.tests if not t.passed and t.applicable]


def score_line(r: SubmissionResult) -> str:
    """``22/32 points`` out of the tests that ran, as the terminal report counts, with
    the assignment's total alongside when some tests did not run."""
    if not r.tests:         # nothing ran (the grader crashed): out of the whole assignment
        return f"{points(r.score)}/{points(r.max_score)} points"
    line = f"{points(r.score)}/{points(r.run_max_score)} points"
    notes = []
    if r.hidden_not_run:
        n = r.hidden_not_run
        notes.append(f"{n} hidden test{'s' if n != 1 else ''} not run")
    if abs(r.run_max_score - r.max_score) > 1e-9:
        notes.append(f"the assignment is out of {points(r.max_score)}")
    return line + (f" ({'; '.join(notes)})" if notes else "")


def overview(r: SubmissionResult, spec: Spec, *, with_score: bool = True) -> str:
    """One submission in a few lines: the terminal's header, the score, what went wrong.

    ``with_score=False`` leaves the score out, for places students see before
    hidden tests are released (a total would give the hidden results away).
    """
    lines = [header(spec, r)]
    if with_score:
        lines.append(f"score: {score_line(r)} [{r.status.value}]")
    else:
        lines.append(f"status: {r.status.value}")
    if r.message:
        lines += ["", r.message]
    return "\n".join(lines)


def file_stem(student: str) -> str:
    """A student's name made safe as one path component (it names a folder on disk already,
    but ``student`` can also be set by an API caller)."""
    stem = "".join(c if c.isprintable() and c not in '/\\\0' else "_" for c in student).strip()
    return stem if stem not in ("", ".", "..") else f"_{stem}"


def submission_path(out_dir: Path, fmt: str, r: SubmissionResult, filename: str, *,
                    single: bool) -> Path:
    """Where a one-file-per-submission format writes ``r``.

    A run of one submission (``grader check``): ``out_dir/<filename>``, the path the
    platform's runner reads (Gradescope, PrairieLearn, Autolab grade one at a time).
    Several (``grader batch``): ``out_dir/<fmt>/<student>/<filename>``.
    """
    if single:
        return out_dir / filename
    return out_dir / fmt / file_stem(r.student) / filename


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most about ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return text[:limit] + f"\n... ({cut} more characters cut)"
