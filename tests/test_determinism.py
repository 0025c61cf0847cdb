"""Repeat run: every sample graded N times gets the same score and the same failed tests.

Outside the default suite (marked slow); run it with

    .venv/bin/python -m pytest -m slow tests/test_determinism.py

SOCKET_GRADER_REPEAT sets N (default 20); SOCKET_GRADER_JOBS the parallelism
(default 4: on 2 cores, parallel grading is also a load test of the deadlines);
SOCKET_GRADER_ASSIGNMENTS (comma-separated) limits it to some assignments.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

import pytest

from conftest import SPECS, sample_dirs
from grader.batch import grade_many
from grader.engine import GradeOptions

REPEAT = int(os.environ.get("SOCKET_GRADER_REPEAT", "20"))
JOBS = int(os.environ.get("SOCKET_GRADER_JOBS", "4"))
ONLY = [a for a in os.environ.get("SOCKET_GRADER_ASSIGNMENTS", "").split(",") if a]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(REPEAT * 400)]


def test_every_sample_gets_the_same_verdict_every_time():
    verdicts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    assignments = sorted({p.parent.name for p in sample_dirs()} & {p.stem for p in SPECS.glob("*.yaml")})
    if ONLY:
        assignments = [a for a in assignments if a in ONLY]
    for round_ in range(REPEAT):
        for assignment in assignments:
            for r in grade_many(SPECS / f"{assignment}.yaml", sample_dirs(assignment),
                                jobs=JOBS, options=GradeOptions()):
                failed = tuple(sorted(t.name for t in r.tests if not t.passed))
                verdicts[f"{assignment}/{Path(r.submission).name}"][(r.score, failed)] += 1
        unstable = sorted(k for k, v in verdicts.items() if len(v) > 1)
        print(f"round {round_ + 1}/{REPEAT}: {len(verdicts)} samples, unstable so far: {unstable}", flush=True)
    unstable = {k: dict(v) for k, v in verdicts.items() if len(v) > 1}
    print(f"\n{len(verdicts)} samples x {REPEAT} runs: {len(unstable)} unstable")
    assert not unstable
