"""``grader init-ci``: the workflow it writes, run step by step in a scratch repo as
GitHub Actions would run it (every ``run:`` step but the install, with bash -e,
GITHUB_ACTIONS=true and GITHUB_STEP_SUMMARY pointing at a file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml

from grader import __version__
from runs import ECHO, VISIBILITY_SPEC, copy_submission, env_with, grader

pytestmark = pytest.mark.timeout(120)

WORKFLOW = Path(".github/workflows/socket-grader.yml")


def scratch_repo(tmp_path: Path, sample: str) -> Path:
    repo = copy_submission(ECHO / sample, tmp_path / "assignment")
    for extra in ("README.md",):
        (repo / extra).unlink(missing_ok=True)
    return repo


def command_shims(tmp_path: Path) -> Path:
    """``grader`` and ``python`` as the install step and setup-python would provide them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "grader").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m grader "$@"\n')
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return bin_dir


def run_workflow(repo: Path, tmp_path: Path, **env_overrides: str) -> tuple[list, Path]:
    """Run the workflow's steps until one fails; returns [(step name, process)] and the
    step summary file."""
    workflow = yaml.safe_load((repo / WORKFLOW).read_text())
    job = workflow["jobs"]["grade"]
    summary = tmp_path / "step-summary.md"
    env = env_with(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary),
                   PATH=f"{command_shims(tmp_path)}{os.pathsep}{os.environ['PATH']}")
    env.update({k: str(v) for k, v in job["env"].items()})
    env.update(env_overrides)
    done = []
    for step in job["steps"]:
        if "run" not in step or step.get("id") == "install":
            continue
        p = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=env,
                           capture_output=True, text=True, timeout=100)
        done.append((step["name"], p))
        if p.returncode != 0:
            break
    return done, summary


def test_workflow_shape(tmp_path):
    repo = scratch_repo(tmp_path, "c-correct-fork")
    p = grader("init-ci", VISIBILITY_SPEC, "--dir", repo)
    assert p.returncode == 0, p.stderr
    workflow = yaml.safe_load((repo / WORKFLOW).read_text())
    assert set(workflow[True]) == {"push", "pull_request", "workflow_dispatch"}   # YAML's `on`
    job = workflow["jobs"]["grade"]
    uses = [s.get("uses", "") for s in job["steps"]]
    assert uses[0].startswith("actions/checkout@") and uses[1].startswith("actions/setup-python@")
    install = next(s for s in job["steps"] if s.get("id") == "install")
    assert f"pip install 'socket-grader=={__version__}'" in install["run"]
    keep = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert keep["if"] == "always()" and keep["with"]["path"] == "grader-results/"
    # the spec lies outside the repo: copied in, and the workflow reads the copy
    assert job["env"]["SPEC"] == ".github/socket-grader/tcp-echo-visibility.yaml"
    assert (repo / job["env"]["SPEC"]).read_text() == VISIBILITY_SPEC.read_text()
    assert job["env"]["SUBMISSION"] == "."


def test_full_marks_on_visible_tests_passes_despite_hidden_tests(tmp_path):
    repo = scratch_repo(tmp_path, "c-correct-fork")
    assert grader("init-ci", VISIBILITY_SPEC, "--dir", repo).returncode == 0
    steps, summary = run_workflow(repo, tmp_path)
    (name, p), = steps
    assert name == "Grade" and p.returncode == 0, p.stdout + p.stderr
    assert "3 hidden tests not run" in p.stdout            # check's own exit status was 1
    assert "full marks on the 3 tests run here" in p.stdout
    assert "::error" not in p.stdout
    assert "| 1 | listens | 2/2 | ✅ passed |" in summary.read_text()
    suite = list(JUnitXml.fromfile(str(repo / "grader-results" / "junit.xml")))[0]
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (6, 0, 0, 3)
    assert (repo / "grader-results" / "results.json").exists()


def test_below_full_marks_fails_the_job_with_annotations(tmp_path):
    repo = scratch_repo(tmp_path, "c-loopback-only")
    assert grader("init-ci", VISIBILITY_SPEC, "--dir", repo).returncode == 0
    steps, summary = run_workflow(repo, tmp_path)
    (name, p), = steps
    assert p.returncode == 1
    assert "::error title=1. listens (0/2)::" in p.stdout
    assert "below full marks (graded): listens" in p.stderr
    assert "<details><summary>1. listens: 0/2</summary>" in summary.read_text()
    suite = list(JUnitXml.fromfile(str(repo / "grader-results" / "junit.xml")))[0]
    assert suite.failures == 1


def test_a_grader_that_cannot_run_fails_as_such(tmp_path):
    repo = scratch_repo(tmp_path, "c-correct-fork")
    assert grader("init-ci", VISIBILITY_SPEC, "--dir", repo).returncode == 0
    steps, _ = run_workflow(repo, tmp_path, SPEC="no/such/spec.yaml")
    (name, p), = steps
    assert p.returncode == 2 and "no such spec file" in p.stderr


def test_spec_in_the_repo_is_used_in_place_and_nothing_is_overwritten(tmp_path):
    repo = scratch_repo(tmp_path, "c-correct-fork")
    (repo / "specs").mkdir()
    (repo / "specs" / "echo.yaml").write_text(VISIBILITY_SPEC.read_text())
    p = grader("init-ci", "specs/echo.yaml", "--submission", ".", cwd=repo)
    assert p.returncode == 0, p.stderr
    job = yaml.safe_load((repo / WORKFLOW).read_text())["jobs"]["grade"]
    assert job["env"]["SPEC"] == "specs/echo.yaml"
    assert not (repo / ".github" / "socket-grader").exists()
    again = grader("init-ci", "specs/echo.yaml", cwd=repo)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert grader("init-ci", "specs/echo.yaml", "--force", cwd=repo).returncode == 0
    outside = grader("init-ci", "specs/echo.yaml", "--submission", "../elsewhere", cwd=repo, )
    assert outside.returncode == 2 and "inside the repo" in outside.stderr
