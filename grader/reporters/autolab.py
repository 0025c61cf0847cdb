"""Autolab: the line ``{"scores": {"<test name>": points, ...}}``.

Autolab reads the *last line of stdout* of the grading job, and its problem
names must match the assessment's exactly: name the assessment's problems after
the spec's tests.  Every spec test is in ``scores`` (a test the run did not
include scores 0, and so does a test that does not apply to the submission's
language: Autolab has no "not applicable", so give such a problem 0 points or
grade that language with a spec without the test), so no problem is ever missing.  Run it as the instructor's
view, ``grader check --all``.

The writer stores the line in ``OUT/autolab.json`` (a batch: one
``OUT/autolab/<student>/autolab.json`` each).  Printing it last is the CLI's
job: ``grader check --format autolab`` prints :func:`scores_line` after
everything else, so nothing the writers print can come after it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..results import SubmissionResult
from ..spec import Spec
from .jsonfmt import atomic_write
from .views import every_test, submission_path


def scores(r: SubmissionResult, spec: Spec) -> dict[str, float]:
    return {v.result.name: v.result.points for v in every_test(r, spec)}


def scores_line(r: SubmissionResult, spec: Spec) -> str:
    """The one line Autolab parses (compact, one line whatever the test names hold)."""
    return json.dumps({"scores": scores(r, spec)}, separators=(", ", ": "), ensure_ascii=True)


def write(results: Sequence[SubmissionResult], spec: Spec, out_dir: Path) -> list[Path]:
    single = len(results) == 1
    written = []
    for r in results:
        path = submission_path(out_dir, "autolab", r, "autolab.json", single=single)
        atomic_write(path, scores_line(r, spec) + "\n")
        written.append(path)
    return written
