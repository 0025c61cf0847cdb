"""``grader init-ci``: the workflow it writes, run step by step in a scratch assignment
repo as GitHub Actions would run it: every ``run:`` step in order with bash -e, the
``uses:`` actions skipped (checkout: the repo is the working folder; setup-python: a
clean virtual environment first on PATH, as setup-python puts its Python there), with
GITHUB_ACTIONS=true and GITHUB_STEP_SUMMARY pointing at a file.  The install step
installs the wheel that init-ci committed beside the workflow, its dependencies from a
local wheelhouse with --no-index (nothing can come from a package index)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml

from grader import __version__
from installs import artifacts, make_venv, pip_env
from runs import ECHO, VISIBILITY_SPEC, copy_submission, grader

pytestmark = pytest.mark.timeout(300)

WORKFLOW = Path(".github/workflows/socket-grader.yml")
WHEEL = Path(f".github/socket-grader/socket_grader-{__version__}-py3-none-any.whl")


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """A clean Python (as actions/setup-python gives) and the wheelhouse: (bin, wheelhouse)."""
    built = artifacts(tmp_path_factory)
    base = tmp_path_factory.mktemp("runner")
    yield make_venv(base / "python"), built.wheelhouse
    shutil.rmtree(base, ignore_errors=True)


def scratch_repo(tmp_path: Path, sample: str) -> Path:
    repo = copy_submission(ECHO / sample, tmp_path / "assignment")
    for extra in ("README.md",):
        (repo / extra).unlink(missing_ok=True)
    return repo


def run_workflow(repo: Path, runner: tuple[Path, Path], tmp_path: Path, *,
                 step_env: dict[str, dict[str, str]] | None = None,
                 **env_overrides: str) -> tuple[dict[str, subprocess.CompletedProcess], Path]:
    """Run the workflow's ``run:`` steps until one fails; returns {step name: process}
    and the step summary file.  ``step_env`` overrides one step's own env."""
    python_bin, wheelhouse = runner
    workflow = yaml.safe_load((repo / WORKFLOW).read_text())
    job = workflow["jobs"]["grade"]
    summary = tmp_path / "step-summary.md"
    summary.touch()
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    env = pip_env(wheelhouse, GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary),
                  GITHUB_WORKSPACE=str(repo), RUNNER_TEMP=str(runner_temp), CI="true",
                  PATH=f"{python_bin}{os.pathsep}{os.environ['PATH']}")
    env.update({k: str(v) for k, v in job["env"].items()})
    env.update(env_overrides)
    done = {}
    for step in job["steps"]:
        if "uses" in step:
            continue
        assert "run" in step, step
        this = {**env, **{k: str(v) for k, v in step.get("env", {}).items()},
                **(step_env or {}).get(step["name"], {})}
        p = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=this,
                           capture_output=True, text=True, timeout=250)
        done[step["name"]] = p
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
    assert f"python -m pip install '{WHEEL.as_posix()}'" in install["run"]
    assert (repo / WHEEL).is_file() and f"wrote {repo / WHEEL}" in p.stdout
    assert "socket-grader==" not in (repo / WORKFLOW).read_text()
    userns = next(s for s in job["steps"] if s.get("id") == "userns")
    assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in userns["run"]
    keep = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert keep["if"] == "always()" and keep["with"]["path"] == "grader-results/"
    # the spec lies outside the repo: copied in, and the workflow reads the copy
    assert job["env"]["SPEC"] == ".github/socket-grader/tcp-echo-visibility.yaml"
    assert (repo / job["env"]["SPEC"]).read_text() == VISIBILITY_SPEC.read_text()
    assert job["env"]["SUBMISSION"] == "."


def test_full_marks_on_visible_tests_passes_despite_hidden_tests(runner, tmp_path):
    repo = scratch_repo(tmp_path, "c-correct-fork")
    assert grader("init-ci", VISIBILITY_SPEC, "--dir", repo).returncode == 0
    steps, summary = run_workflow(repo, runner, tmp_path)
    assert list(steps) == ["Install socket-grader", "Let the sandbox use user namespaces", "Grade"]
    install, userns, p = steps.values()
    assert install.returncode == 0, install.stdout + install.stderr
    assert "socket-grader" in install.stdout and userns.returncode == 0
    assert "sudo" not in userns.stdout + userns.stderr       # not restricted here: left alone
    assert "tier" in userns.stdout                           # grader doctor, from the install
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3 hidden tests not run" in p.stdout            # check's own exit status was 1
    assert "full marks on the 3 tests run here" in p.stdout
    assert "::error" not in p.stdout
    assert "| 1 | listens | 2/2 | ✅ passed |" in summary.read_text()
    suite = list(JUnitXml.fromfile(str(repo / "grader-results" / "junit.xml")))[0]
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (6, 0, 0, 3)
    assert (repo / "grader-results" / "results.json").exists()
    # the grader that graded is the one installed from the committed wheel
    where = subprocess.run([runner[0] / "python", "-c", "import grader; print(grader.__file__)"],
                           capture_output=True, text=True, timeout=60, env=pip_env(runner[1]),
                           cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(runner[0].parent), where.stdout


def test_below_full_marks_fails_the_job_with_annotations(runner, tmp_path):
    repo = scratch_repo(tmp_path, "c-loopback-only")
    assert grader("init-ci", VISIBILITY_SPEC, "--dir", repo).returncode == 0
    steps, summary = run_workflow(repo, runner, tmp_path)
    p = steps["Grade"]
    assert p.returncode == 1
    assert "::error title=1. listens (0/2)::" in p.stdout
    assert "below full marks (graded): listens" in p.stderr
    assert "<details><summary>1. listens: 0/2</summary>" in summary.read_text()
    suite = list(JUnitXml.fromfile(str(repo / "grader-results" / "junit.xml")))[0]
    assert suite.failures == 1


def test_a_grader_that_cannot_run_fails_as_such(runner, tmp_path):
    repo = scratch_repo(tmp_path, "c-correct-fork")
    assert grader("init-ci", VISIBILITY_SPEC, "--dir", repo).returncode == 0
    steps, _ = run_workflow(repo, runner, tmp_path, SPEC="no/such/spec.yaml")
    p = steps["Grade"]
    assert p.returncode == 2 and "no such spec file" in p.stderr


def test_a_runner_that_restricts_user_namespaces_gets_them_back_with_sudo(runner, tmp_path):
    """Ubuntu 24.04 images: the AppArmor sysctl reads 1; the step lifts it with sudo."""
    repo = scratch_repo(tmp_path, "c-correct-fork")
    assert grader("init-ci", VISIBILITY_SPEC, "--dir", repo).returncode == 0
    restrict = tmp_path / "apparmor_restrict_unprivileged_userns"
    restrict.write_text("1\n")
    shims = tmp_path / "shims"
    shims.mkdir()
    calls = tmp_path / "sudo-calls"
    (shims / "sudo").write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\n')
    (shims / "sudo").chmod(0o755)
    name = "Let the sandbox use user namespaces"
    python_bin, house = runner
    steps, _ = run_workflow(repo, (python_bin, house), tmp_path,
                            step_env={name: {"RESTRICT": str(restrict),
                                             "PATH": f"{shims}{os.pathsep}{python_bin}{os.pathsep}"
                                                     f"{os.environ['PATH']}"}})
    assert steps[name].returncode == 0, steps[name].stderr
    assert calls.read_text() == "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\n"
    assert steps["Grade"].returncode == 0


def test_install_from_a_git_url_writes_no_wheel(tmp_path):
    repo = scratch_repo(tmp_path, "c-correct-fork")
    url = "git+https://example.invalid/course/socket-grader@v1"
    p = grader("init-ci", VISIBILITY_SPEC, "--dir", repo, "--install", url)
    assert p.returncode == 0, p.stderr
    assert f"the workflow installs socket-grader with: pip install {url}" in p.stdout
    job = yaml.safe_load((repo / WORKFLOW).read_text())["jobs"]["grade"]
    install = next(s for s in job["steps"] if s.get("id") == "install")
    assert f"python -m pip install '{url}'" in install["run"]
    assert not list((repo / ".github").rglob("*.whl"))


def test_a_new_version_replaces_the_old_wheel(tmp_path):
    repo = scratch_repo(tmp_path, "c-correct-fork")
    old = repo / ".github" / "socket-grader" / "socket_grader-0.0.1-py3-none-any.whl"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old")
    p = grader("init-ci", VISIBILITY_SPEC, "--dir", repo)
    assert p.returncode == 0, p.stderr
    assert not old.exists() and f"removed {old}" in p.stdout
    assert (repo / WHEEL).is_file()


def test_spec_in_the_repo_is_used_in_place_and_nothing_is_overwritten(tmp_path):
    repo = scratch_repo(tmp_path, "c-correct-fork")
    (repo / "specs").mkdir()
    (repo / "specs" / "echo.yaml").write_text(VISIBILITY_SPEC.read_text())
    p = grader("init-ci", "specs/echo.yaml", "--submission", ".", cwd=repo)
    assert p.returncode == 0, p.stderr
    job = yaml.safe_load((repo / WORKFLOW).read_text())["jobs"]["grade"]
    assert job["env"]["SPEC"] == "specs/echo.yaml"
    assert [p.name for p in (repo / ".github" / "socket-grader").iterdir()] == [WHEEL.name]
    again = grader("init-ci", "specs/echo.yaml", cwd=repo)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert grader("init-ci", "specs/echo.yaml", "--force", cwd=repo).returncode == 0
    outside = grader("init-ci", "specs/echo.yaml", "--submission", "../elsewhere", cwd=repo, )
    assert outside.returncode == 2 and "inside the repo" in outside.stderr
