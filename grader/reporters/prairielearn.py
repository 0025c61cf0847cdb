"""PrairieLearn external-grader ``results.json`` (field list: shared/notes/platform-formats.md).

``gradable: false`` tells PrairieLearn the submission is invalid and costs the
student no attempt.  It is used where the spec's ``not_gradable`` list asks:

- ``build_failed``: the submission did not build, or holds no source the spec
  knows (status "build failed" or "not gradable");
- ``never_started``: every test failed because the program never served at
  all: each failed test carries a diagnosis in :data:`NEVER_STARTED` (it exited
  before listening, never listened, bound without listening, or could not be
  started).  A program that listens on the wrong port *did* start, and one
  killed by a signal may have been serving: both are graded (with feedback
  naming htons or the signal).

A submission the grader itself failed on ("crashed") is always ``gradable:
false``: its score says nothing about the student's work.

Where: ``OUT/results.json`` for one submission (``--out /grade/results`` gives
PrairieLearn's path); ``OUT/prairielearn/<student>/results.json`` for a batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
from ..spec import Spec
from .jsonfmt import write_each
from .views import clip, every_test, feedback_text, first_line, overview, score_line

# Diagnosis codes meaning "the program never got to serving" (grader.program, grader.engine).
NEVER_STARTED = frozenset({"exited-early", "not-listening", "no-listen", "not-built"})

# PrairieLearn refuses results over 1 MB: keep each test's output well below that.
TEST_OUTPUT_LIMIT = 8_000
OUTPUT_LIMIT = 100_000


def never_started(r: SubmissionResult) -> bool:
    """Every test ran and failed, each because the program never started serving."""
    return (r.status is SubmissionStatus.GRADED and bool(r.tests)
            and all(t.status is TestStatus.FAILED and NEVER_STARTED & set(t.diagnoses)
                    for t in r.tests))


def gradable(r: SubmissionResult, spec: Spec) -> bool:
    if r.status is SubmissionStatus.CRASHED:
        return False
    if "build_failed" in spec.not_gradable and r.status in (SubmissionStatus.BUILD_FAILED,
                                                            SubmissionStatus.NOT_GRADABLE):
        return False
    if "never_started" in spec.not_gradable and never_started(r):
        return False
    return True


def test_entry(t: TestResult) -> dict[str, Any]:
    """One entry of ``tests[]``: ``message`` is the feedback's first line, ``output`` all of it."""
    return {
        "name": t.name,
        "description": t.description,
        "points": t.points,
        "max_points": t.max_points,
        "message": "" if t.passed else first_line(t.feedback),
        "output": clip(feedback_text(t), TEST_OUTPUT_LIMIT),
    }


def document(r: SubmissionResult, spec: Spec) -> dict[str, Any]:
    """The results.json of one submission."""
    ok = gradable(r, spec)
    # The score is out of the assignment's total: tests not run count 0.
    score = min(1.0, max(0.0, r.score / r.max_score)) if r.max_score > 0 else 0.0
    message = f"{spec.assignment}: {score_line(r)}"
    if r.message:
        message += f"\n{first_line(r.message)}"
    if not ok:
        message = (f"not graded: {first_line(r.message) or r.status.value} "
                   "(this submission does not count as an attempt)")
    return {
        "gradable": ok,
        "score": round(score, 6) if ok else 0.0,
        "message": message,
        "output": clip(overview(r, spec), OUTPUT_LIMIT),
        "tests": [test_entry(v.result) for v in every_test(r, spec)],
    }


def write(results: Sequence[SubmissionResult], spec: Spec, out_dir: Path) -> list[Path]:
    return write_each(results, spec, out_dir, "prairielearn", document)
