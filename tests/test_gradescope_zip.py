"""``grader gradescope``: the autograder zip, and its run_autograder run in a scratch
/autograder layout, including when grading fails (results.json must still appear)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.spec import load_spec
from runs import ECHO, VISIBILITY_SPEC, copy_submission, env_with, grader

pytestmark = pytest.mark.timeout(120)

VIS = load_spec(VISIBILITY_SPEC)
GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "visibility",
                  "stdout_visibility", "tests"}


@pytest.fixture
def autograder(tmp_path) -> Path:
    """The zip unpacked where Gradescope puts it, with a submission beside it."""
    zip_path = tmp_path / "autograder.zip"
    p = grader("gradescope", VISIBILITY_SPEC, "--out", zip_path)
    assert p.returncode == 0, p.stderr
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
    for script in ("run_autograder", "setup.sh"):
        (root / "source" / script).chmod(0o755)
    copy_submission(ECHO / "c-correct-fork", root / "submission")
    return root


def run_autograder(root: Path, tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    defaults = {"AUTOGRADER_ROOT": str(root), "SOCKET_GRADER": f"{sys.executable} -m grader",
                "SOCKET_GRADER_PYTHON": sys.executable, "TMPDIR": str(tmp)}
    p = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True,
                       text=True, timeout=100, env=env_with(**{**defaults, **env}))
    assert not any(tmp.iterdir()), "run_autograder left temp files"
    return p, json.loads((root / "results" / "results.json").read_text())


def test_zip_contents(tmp_path):
    out = tmp_path / "a.zip"
    assert grader("gradescope", VISIBILITY_SPEC, "--out", out).returncode == 0
    with zipfile.ZipFile(out) as z:
        infos = {i.filename: i for i in z.infolist()}
        names = set(infos)
        for script in ("setup.sh", "run_autograder"):
            assert infos[script].external_attr >> 16 == 0o100755
            text = z.read(script).decode()
            assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
        run = z.read("run_autograder").decode()
        assert '$GRADER check --all --format gradescope --out "$RESULTS"' in run
        assert 'GRADER="${SOCKET_GRADER:-$VENV/bin/grader}"' in run
        assert z.read("spec/tcp-echo-visibility.yaml") == VISIBILITY_SPEC.read_bytes()
    assert {"socket-grader/pyproject.toml", "socket-grader/grader/reporters/gradescope.py",
            "socket-grader/grader/shims/partial_writes.c"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    again = tmp_path / "b.zip"
    assert grader("gradescope", VISIBILITY_SPEC, "--out", again).returncode == 0
    assert out.read_bytes() == again.read_bytes()             # reproducible


def test_run_autograder_writes_results(autograder, tmp_path):
    p, doc = run_autograder(autograder, tmp_path)
    assert p.returncode == 0, p.stderr
    assert GRADESCOPE_TOP <= set(doc)
    assert doc["score"] == VIS.total_points == sum(t["max_score"] for t in doc["tests"])
    assert all(t["status"] == "passed" for t in doc["tests"])     # --all: hidden ones ran too


def test_run_autograder_writes_results_when_grading_crashes(autograder, tmp_path):
    (autograder / "results").mkdir()
    (autograder / "results" / "results.json").write_text('{"stale": true}')
    p, doc = run_autograder(autograder, tmp_path, SOCKET_GRADER="false")
    assert "grading failed" in p.stderr
    assert GRADESCOPE_TOP <= set(doc) and doc["score"] == 0
    assert "not your program's fault" in doc["output"]
    assert sum(t["max_score"] for t in doc["tests"]) == VIS.total_points
    assert all(t["status"] == "failed" and "not run" in t["output"] for t in doc["tests"])


def test_run_autograder_last_resort_without_python(autograder, tmp_path):
    p, doc = run_autograder(autograder, tmp_path, SOCKET_GRADER="false", SOCKET_GRADER_PYTHON="false")
    assert doc["score"] == 0 and "not your program's fault" in doc["output"]
    assert doc["tests"] == []
