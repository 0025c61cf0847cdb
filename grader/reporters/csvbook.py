"""The CSV gradebook: one row per submission, one column per test.

Columns: ``student`` (the submission folder's name), ``total``, ``max`` (the
assignment's total), ``status`` (graded, build failed, timed out, crashed, not
gradable), then one column per spec test, in spec order, holding its points.
A test the run did not include (a student's self-check skips hidden tests)
has an empty cell, so "not run" and "0 points" stay apart; a test that does
not apply to the submission's language (not in its ``max``) holds ``n/a``.

Text cells that a spreadsheet would read as a formula (``=``, ``+``, ``-``,
``@`` first) get a leading ``'``: a folder name is chosen by a student.

Where: ``OUT/grades.csv``, one file for the whole run.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

from ..results import SubmissionResult
from ..spec import Spec
from .jsonfmt import atomic_write
from .views import every_test, points

FILENAME = "grades.csv"
FIXED_COLUMNS = ("student", "total", "max", "status")


def safe_text(value: str) -> str:
    """A text cell no spreadsheet runs as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def columns(spec: Spec) -> list[str]:
    """The header row; a test named like a fixed column is told apart by a suffix."""
    return list(FIXED_COLUMNS) + [
        f"{t.name} (test)" if t.name in FIXED_COLUMNS else t.name for t in spec.tests]


def row(r: SubmissionResult, spec: Spec) -> list[str]:
    by_name = {v.result.name: v for v in every_test(r, spec)}
    cells = [safe_text(r.student), points(r.score), points(r.max_score), r.status.value]
    for t in spec.tests:
        v = by_name[t.name]
        if not v.result.applicable:
            cells.append("n/a")
        else:
            cells.append(points(v.result.points) if v.ran else "")
    return cells


def render(results: Sequence[SubmissionResult], spec: Spec) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([safe_text(c) for c in columns(spec)])
    for r in results:
        w.writerow(row(r, spec))
    return buf.getvalue()


def write(results: Sequence[SubmissionResult], spec: Spec, out_dir: Path) -> list[Path]:
    path = out_dir / FILENAME
    atomic_write(path, render(results, spec))
    return [path]
