"""Gradescope autograder ``results.json`` (field list: shared/notes/platform-formats.md).

It expects a full run (``grader check --all``, as ``run_autograder`` does):
Gradescope runs every test and rejects a results file whose ``max_score``
values do not add up to the assignment's total.  So every spec test is listed,
and a test this run did not include is written as failed with 0 points and a
"not run" line; the sum of ``max_score`` is then always the spec's total.

Where: ``OUT/results.json`` for one submission (``--out /autograder/results``
gives Gradescope's path); ``OUT/gradescope/<student>/results.json`` for a batch.

:func:`write_fallback` is for ``run_autograder`` (grader/cli/gradescope.py): when
grading failed before a results file was written, it writes one that says so,
still listing every test, so a student never sees Gradescope's generic error.

A grader failure (a test in ERROR, a crashed run) is not the student's doing,
and its traceback is for the instructor: the student-visible text says "not
your program's fault" and no more; the details go where only instructors look:
the autograder's stdout (``stdout_visibility: hidden``; ``grader check`` prints
the full report there, and ``run_autograder`` the grader's log) and
``extra_data.grader_errors``, which Gradescope keeps with the results and never
shows to students.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from .. import __version__
from ..results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
from ..spec import Spec, load_spec
from .jsonfmt import atomic_write, write_each
from .views import clip, every_test, feedback_text, overview

# Our visibility levels are Gradescope's own names; the table keeps that a decision.
VISIBILITY = {"visible": "visible", "hidden": "hidden", "after_due_date": "after_due_date"}

# Plain text keeps the feedback's indentation and the program's output as they are
# ("simple_format" would turn newlines into <br> and "md" would read `*` and `_`).
OUTPUT_FORMAT = "text"

# Long compiler output or stderr tails must not make the page unusable.
TEST_OUTPUT_LIMIT = 16_000
OUTPUT_LIMIT = 64_000


# What a student reads about a test the grader failed on (the details are instructor-only).
NOT_YOUR_FAULT = ("This is not your program's fault: your instructor can see what went wrong "
                  "and will regrade it.")
GRADER_ERROR_TEXT = "The grader failed while running this test. " + NOT_YOUR_FAULT


def student_text(t: TestResult) -> str:
    """A test's student-visible text: the feedback, or only "not your fault" for an ERROR."""
    if t.status is TestStatus.ERROR:
        return "\n".join(part for part in (t.description, GRADER_ERROR_TEXT) if part)
    return feedback_text(t)


def test_entry(t: TestResult) -> dict[str, Any]:
    """One entry of ``tests[]``; a test not applicable to the language is worth 0 of 0 and has
    no status (Gradescope knows only passed and failed), its output says why."""
    entry = {
        "name": t.name,
        "number": t.number,
        "score": t.points,
        "max_score": t.max_points,
        # Gradescope knows only passed/failed: an error (the grader's fault) or a test
        # that was not run cost the student the points, so they show as failed.
        "status": "passed" if t.passed else "failed",
        "output": clip(student_text(t), TEST_OUTPUT_LIMIT),
        "output_format": OUTPUT_FORMAT,
        # The diagnosis codes ("htons", "sigpipe") let an instructor filter by cause.
        "tags": list(t.diagnoses),
        "visibility": VISIBILITY[t.visibility],
    }
    if not t.applicable:
        del entry["status"]
    return entry


def document(r: SubmissionResult, spec: Spec) -> dict[str, Any]:
    """The results.json of one submission."""
    views = every_test(r, spec)
    tests = [test_entry(v.result) for v in views]
    any_hidden = any(t["visibility"] != "visible" for t in tests)
    errors = {v.result.name: v.result.feedback for v in views
              if v.result.status is TestStatus.ERROR}
    output = student_overview(r, spec, with_score=not any_hidden)
    if errors:
        output += (f"\n\n{len(errors)} test{'s' if len(errors) != 1 else ''} could not be run "
                   "because the grader failed. " + NOT_YOUR_FAULT)
    doc = {
        "score": r.score,
        "execution_time": round(r.duration, 3),
        # The top-level output is visible at once: with hidden tests, a total in it
        # would give their results away (Gradescope hides its own total then too).
        "output": clip(output, OUTPUT_LIMIT),
        "output_format": OUTPUT_FORMAT,
        "visibility": "visible",
        # The grader's stdout is the full terminal report, hidden tests included.
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    extra = {"grader_version": __version__, "spec_hash": spec.hash, "tier": r.tier}
    if errors or r.status is SubmissionStatus.CRASHED:
        extra["grader_errors"] = {**errors, **({"submission": r.message} if r.message and
                                               r.status is SubmissionStatus.CRASHED else {})}
    doc["extra_data"] = extra
    return doc


CRASHED_TEXT = "The grader failed on this submission. " + NOT_YOUR_FAULT


def student_overview(r: SubmissionResult, spec: Spec, *, with_score: bool,
                     message: str | None = None) -> str:
    """The overview a student may read: a crash's details (a traceback) stay hidden."""
    if message is None and r.status is SubmissionStatus.CRASHED:
        message = CRASHED_TEXT
    return overview(replace(r, message=message) if message is not None else r, spec,
                    with_score=with_score)


def write(results: Sequence[SubmissionResult], spec: Spec, out_dir: Path) -> list[Path]:
    return write_each(results, spec, out_dir, "gradescope", document)


FALLBACK_MESSAGE = ("The autograder failed before it could grade this submission "
                    "(exit status {status}). " + NOT_YOUR_FAULT)


def write_fallback(spec_path: str, results_file: str, status: str, log_file: str = "") -> Path:
    """Write a results.json for a run that crashed: 0 points, every test "not run", and why."""
    spec = load_spec(spec_path)
    try:
        log = "\n".join(Path(log_file).read_text(errors="replace").splitlines()[-20:]) if log_file else ""
    except OSError:
        log = ""
    r = SubmissionResult(
        student="submission", submission="", assignment=spec.assignment, spec_hash=spec.hash,
        tier="unknown", status=SubmissionStatus.CRASHED, score=0.0, max_score=spec.total_points,
        message=f"the autograder exited with status {status}; the end of its log:\n"
                + (log or "(empty)"),
        grader_version=__version__)
    doc = document(r, spec)
    doc["output"] = clip(student_overview(r, spec, with_score=True,
                                          message=FALLBACK_MESSAGE.format(status=status)),
                         OUTPUT_LIMIT)
    path = Path(results_file)
    atomic_write(path, json.dumps(doc, indent=2) + "\n")
    return path
