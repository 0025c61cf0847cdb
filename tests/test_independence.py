"""Each test's verdict depends only on what the program does in that test.

For the multi-bug samples (``multi_bug: true`` in expected.yaml: real first
attempts that carry several bugs at once), every test's status in the full run
must equal its status when the test runs alone. A test that leaves something
behind (TIME_WAIT on the port, a dead server, leaked children) must not change
another test's verdict. scripts/check-independence.py checks every sample.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import SPECS, expected_of, sample_dirs
from grader import evidence
from grader.engine import GradeOptions, grade
from grader.spec import load_spec

MULTI_BUG = [p for p in sample_dirs() if (SPECS / f"{p.parent.name}.yaml").exists()
             and expected_of(p).get("multi_bug")]


@pytest.fixture
def no_replays(monkeypatch):
    """Statuses are what is compared: the replay under trace of failed tests (evidence for
    their causes, never their status) is not needed here."""
    monkeypatch.setattr(evidence, "MODE", "off")


def _alone(spec, sample: Path, name: str) -> str:
    r = grade(spec, sample, GradeOptions(visible_only=False, only=[name]))
    return next(t.status.value for t in r.tests if t.name == name)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sample", MULTI_BUG, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_full_run_agrees_with_each_test_alone(sample: Path, no_replays):
    spec = load_spec(SPECS / f"{sample.parent.name}.yaml")
    full = {t.name: t.status.value for t in grade(spec, sample, GradeOptions(visible_only=False)).tests}
    # Each test alone is a grading of its own (its own box and build): three at a time.
    with ThreadPoolExecutor(3) as pool:
        alone = dict(zip([t.name for t in spec.tests],
                         pool.map(lambda t: _alone(spec, sample, t.name), spec.tests)))
    differ = {name: f"{full.get(name)} in the full run, {alone[name]} alone"
              for name in alone if full.get(name) != alone[name]}
    assert not differ, differ


def test_there_are_multi_bug_samples():
    assert len(MULTI_BUG) >= 12, [str(p) for p in MULTI_BUG]
