"""Student mode: ``grader check`` runs the visible tests only, says how many are hidden,
shows the spec hash, and its results are exactly the instructor's for those tests."""

from __future__ import annotations

import json

import pytest

from grader.spec import load_spec
from runs import ECHO, VISIBILITY_SPEC, copy_submission, grader

pytestmark = pytest.mark.timeout(120)

VIS = load_spec(VISIBILITY_SPEC)
VISIBLE = [t.name for t in VIS.tests if t.visibility == "visible"]
# What must be equal between a student's check and the instructor's batch.
SAME = ("name", "number", "description", "points", "max_points", "status", "feedback",
        "visibility", "seed", "diagnoses")
# Samples that fail visible tests the same way on every run (a nondeterministic
# verdict would make this test flaky without saying anything about parity).
SAMPLES = ["c-loopback-only", "c-no-htons"]


def submissions_of(path) -> list[dict]:
    return json.loads(path.read_text())["submissions"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    student, full, stdout = {}, {}, {}
    for name in SAMPLES:
        p = grader("check", VISIBILITY_SPEC, ECHO / name, "--format", "json", "--out", root / name)
        assert p.returncode == 1, p.stderr
        student[name] = submissions_of(root / name / "results.json")[0]
        stdout[name] = p.stdout
        p = grader("check", VISIBILITY_SPEC, ECHO / name, "--all", "--format", "json",
                   "--out", root / f"{name}-all")
        full[name] = submissions_of(root / f"{name}-all" / "results.json")[0]
    for name in SAMPLES:
        copy_submission(ECHO / name, root / "class" / name)
    p = grader("batch", VISIBILITY_SPEC, root / "class", "--jobs", "2", "--format", "json",
               "--out", root / "batch")
    assert p.returncode == 0, p.stderr
    batch = {s["student"]: s for s in submissions_of(root / "batch" / "results.json")}
    return student, full, batch, stdout


def test_check_runs_visible_tests_only_and_says_how_many_are_hidden(runs):
    student, _, _, stdout = runs
    for name in SAMPLES:
        assert [t["name"] for t in student[name]["tests"]] == VISIBLE
        assert student[name]["hidden_not_run"] == 3
        assert student[name]["max_score"] == VIS.total_points
        assert "3 hidden tests not run" in stdout[name]
        assert f"spec {VIS.hash}" in stdout[name]


def test_check_all_runs_every_test(runs):
    _, full, _, _ = runs
    for name in SAMPLES:
        assert [t["name"] for t in full[name]["tests"]] == [t.name for t in VIS.tests]
        assert full[name]["hidden_not_run"] == 0


@pytest.mark.parametrize("name", SAMPLES)
def test_visible_results_equal_the_instructors_batch(runs, name):
    student, full, batch, _ = runs
    instructor = {t["name"]: t for t in batch[name]["tests"]}
    assert len(instructor) == len(VIS.tests)          # batch always runs every test
    for mine in student[name]["tests"]:
        theirs = instructor[mine["name"]]
        assert {k: mine[k] for k in SAME} == {k: theirs[k] for k in SAME}
    for key in ("spec_hash", "seed", "tier", "assignment"):
        assert student[name][key] == batch[name][key] == full[name][key]
    # and the visible part of the instructor's one-submission view is the same too
    all_view = {t["name"]: t for t in full[name]["tests"]}
    for mine in student[name]["tests"]:
        assert {k: mine[k] for k in SAME} == {k: all_view[mine["name"]][k] for k in SAME}
    assert any(t["status"] == "failed" for t in student[name]["tests"])   # a real difference
