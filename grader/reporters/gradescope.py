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
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .. import __version__
from ..results import SubmissionResult, SubmissionStatus, TestResult
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


def test_entry(t: TestResult) -> dict[str, Any]:
    """One entry of ``tests[]``."""
    return {
        "name": t.name,
        "number": t.number,
        "score": t.points,
        "max_score": t.max_points,
        # Gradescope knows only passed/failed: an error (the grader's fault) or a test
        # that was not run cost the student the points, so they show as failed.
        "status": "passed" if t.passed else "failed",
        "output": clip(feedback_text(t), TEST_OUTPUT_LIMIT),
        "output_format": OUTPUT_FORMAT,
        # The diagnosis codes ("htons", "sigpipe") let an instructor filter by cause.
        "tags": list(t.diagnoses),
        "visibility": VISIBILITY[t.visibility],
    }


def document(r: SubmissionResult, spec: Spec) -> dict[str, Any]:
    """The results.json of one submission."""
    tests = [test_entry(v.result) for v in every_test(r, spec)]
    any_hidden = any(t["visibility"] != "visible" for t in tests)
    return {
        "score": r.score,
        "execution_time": round(r.duration, 3),
        # The top-level output is visible at once: with hidden tests, a total in it
        # would give their results away (Gradescope hides its own total then too).
        "output": clip(overview(r, spec, with_score=not any_hidden), OUTPUT_LIMIT),
        "output_format": OUTPUT_FORMAT,
        "visibility": "visible",
        # The grader's stdout is the full terminal report, hidden tests included.
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write(results: Sequence[SubmissionResult], spec: Spec, out_dir: Path) -> list[Path]:
    return write_each(results, spec, out_dir, "gradescope", document)


FALLBACK_MESSAGE = ("The autograder failed before it could grade this submission "
                    "(exit status {status}). This is not your program's fault: please tell "
                    "your instructor. The end of the grader's log:\n{log}")


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
        message=FALLBACK_MESSAGE.format(status=status, log=log or "(empty)"),
        grader_version=__version__)
    path = Path(results_file)
    atomic_write(path, json.dumps(document(r, spec), indent=2) + "\n")
    return path
