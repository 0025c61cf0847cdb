"""``grader gradescope``: the autograder zip, and its scripts run in a scratch /autograder
layout (AUTOGRADER_ROOT) as Gradescope runs them: setup.sh installs the grader from the
wheel in the zip into a fresh virtual environment (dependencies from a local wheelhouse,
with --no-index: nothing can come from a package index), then run_autograder grades a
correct and a broken submission with that install; and when grading fails, results.json
must still appear, with the details where only the instructor sees them."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import SPECS, SUBMISSIONS
from grader import __version__
from grader.spec import load_spec
from installs import artifacts, pip_env
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
        setup = z.read("setup.sh").decode()
        wheel = z.read(f"socket_grader-{__version__}-py3-none-any.whl")
    # the grader is bundled as a wheel, and setup.sh installs that (never from an index)
    assert f'pip install "$ROOT/source/socket_grader-{__version__}-py3-none-any.whl"' in setup
    assert "socket-grader==" not in setup
    inner = zipfile.ZipFile(io.BytesIO(wheel)).namelist()
    assert {"grader/reporters/gradescope.py", "grader/shims/partial_writes.c",
            "grader/_data/reference/tcp_echo_server.py", "grader/_data/specs/tcp-echo.yaml"} <= set(inner)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names | set(inner))
    assert names == {"setup.sh", "run_autograder", "spec/tcp-echo-visibility.yaml",
                     f"socket_grader-{__version__}-py3-none-any.whl"}
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
    check_gradescope_results(doc, VIS.total_points)
    assert "not your program's fault" in doc["output"]
    assert "exited with status 1" in doc["extra_data"]["grader_errors"]["submission"]
    assert sum(t["max_score"] for t in doc["tests"]) == VIS.total_points
    assert all(t["status"] == "failed" and "not run" in t["output"] for t in doc["tests"])


def test_run_autograder_last_resort_without_python(autograder, tmp_path):
    p, doc = run_autograder(autograder, tmp_path, SOCKET_GRADER="false", SOCKET_GRADER_PYTHON="false")
    assert doc["score"] == 0 and "not your program's fault" in doc["output"]
    assert doc["tests"] == []


# ------------------------------------------------------------ Gradescope's documented fields

TOP_FIELDS = {"score": (int, float), "execution_time": (int, float), "output": str,
              "output_format": str, "test_output_format": str, "test_name_format": str,
              "visibility": str, "stdout_visibility": str, "extra_data": dict, "tests": list,
              "leaderboard": list}
TEST_FIELDS = {"score": (int, float), "max_score": (int, float), "status": str, "name": str,
               "name_format": str, "number": str, "output": str, "output_format": str,
               "tags": list, "visibility": str, "extra_data": dict}
FORMATS = {"text", "simple_format", "html", "md", "ansi"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def check_gradescope_results(doc: dict, total: float) -> None:
    """results.json against the fields Gradescope documents (shared/notes/platform-formats.md)."""
    assert set(doc) <= set(TOP_FIELDS), set(doc) - set(TOP_FIELDS)
    for key, value in doc.items():
        assert isinstance(value, TOP_FIELDS[key]) and not isinstance(value, bool), (key, value)
    assert {"score", "output", "tests"} <= set(doc)
    for key in ("output_format", "test_output_format", "test_name_format"):
        assert doc.get(key, "text") in FORMATS
    for key in ("visibility", "stdout_visibility"):
        assert doc.get(key, "visible") in VISIBILITIES
    for t in doc["tests"]:
        assert set(t) <= set(TEST_FIELDS), set(t) - set(TEST_FIELDS)
        for key, value in t.items():
            assert isinstance(value, TEST_FIELDS[key]) and not isinstance(value, bool), (key, value)
        assert t.get("status", "passed") in ("passed", "failed")
        assert t.get("visibility", "visible") in VISIBILITIES
        assert t.get("output_format", "text") in FORMATS
        assert all(isinstance(tag, str) for tag in t.get("tags", []))
        assert 0 <= t["score"] <= t["max_score"]
    if doc["tests"]:          # max_score values must add up to the assignment's total
        assert sum(t["max_score"] for t in doc["tests"]) == total
        assert doc["score"] == sum(t["score"] for t in doc["tests"])


# ------------------------------------------------------------ as Gradescope runs it

KV = SUBMISSIONS / "kv-store"
SHIPPED = load_spec(SPECS / "kv-store.yaml")


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The zip of the shipped kv-store spec (named by its bare name), unpacked in a
    scratch /autograder, with setup.sh run: returns (root, environment for the scripts)."""
    built = artifacts(tmp_path_factory)
    base = tmp_path_factory.mktemp("gradescope")
    zip_path = base / "autograder.zip"
    p = grader("gradescope", "kv-store", "--out", zip_path, cwd=base)
    assert p.returncode == 0, p.stderr
    assert "bundled as socket_grader-" in p.stdout
    root = base / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
    for script in ("run_autograder", "setup.sh"):
        (root / "source" / script).chmod(0o755)
    tmp = base / "tmp"
    tmp.mkdir()
    env = pip_env(built.wheelhouse, AUTOGRADER_ROOT=str(root), TMPDIR=str(tmp),
                  SOCKET_GRADER_VENV=str(base / "venv"), SOCKET_GRADER_SKIP_APT="1")
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], capture_output=True,
                           text=True, timeout=300, env=env, cwd=root / "source")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "tier" in setup.stdout + setup.stderr          # grader doctor ran from the install
    yield root, env
    shutil.rmtree(base, ignore_errors=True)


def installed_reference(env: dict) -> Path:
    """The reference folder inside the grader that setup.sh installed."""
    found = list((Path(env["SOCKET_GRADER_VENV"]) / "lib").glob(
        "python3*/site-packages/grader/_data/reference"))
    assert len(found) == 1, found
    return found[0]


def autograde(root: Path, env: dict, sample: Path) -> tuple[subprocess.CompletedProcess, dict]:
    shutil.rmtree(root / "submission", ignore_errors=True)
    copy_submission(sample, root / "submission")
    p = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True,
                       text=True, timeout=300, env=env)
    assert not any(Path(env["TMPDIR"]).iterdir()), "run_autograder left temp files"
    doc = json.loads((root / "results" / "results.json").read_text())
    check_gradescope_results(doc, SHIPPED.total_points)
    return p, doc


def student_visible(doc: dict) -> str:
    """Everything of results.json a student can read."""
    return doc["output"] + "\n".join(t["output"] for t in doc["tests"])


@pytest.mark.timeout(600)
def test_installed_from_the_zip_a_correct_submission_gets_full_marks(image):
    root, env = image
    p, doc = autograde(root, env, KV / "c-correct")
    assert p.returncode == 0, p.stderr
    assert doc["score"] == SHIPPED.total_points, doc["output"]
    assert all(t["status"] == "passed" for t in doc["tests"]), [t for t in doc["tests"]
                                                                 if t["status"] != "passed"]
    assert "grader_errors" not in doc["extra_data"]
    # the grader that ran is the one setup.sh installed from the wheel, with its references
    assert doc["extra_data"]["grader_version"] == __version__
    assert (installed_reference(env) / "kv_server.py").is_file()


@pytest.mark.timeout(600)
def test_installed_from_the_zip_a_broken_submission_loses_points(image):
    root, env = image
    p, doc = autograde(root, env, KV / "c-no-error")
    by = {t["name"]: t for t in doc["tests"]}
    assert by["errors"]["status"] == "failed" and by["errors"]["score"] == 0
    assert doc["score"] == SHIPPED.total_points - by["errors"]["max_score"]
    assert [n for n, t in by.items() if t["status"] != "passed"] == ["errors"]


@pytest.mark.timeout(600)
def test_a_test_the_grader_fails_is_not_the_students_fault_and_the_details_are_instructor_only(image):
    """The installed reference server is broken (it exits at once): the test that compares
    with it is the grader's failure (ERROR), and says so to the student, no more."""
    root, env = image
    ref = installed_reference(env) / "kv_server.py"
    good = ref.read_bytes()
    ref.write_text("import sys\nsys.exit(3)\n")
    try:
        p, doc = autograde(root, env, KV / "c-correct")
    finally:
        ref.write_bytes(good)
    by = {t["name"]: t for t in doc["tests"]}
    broken = by["like-the-reference"]
    assert broken["status"] == "failed" and broken["score"] == 0
    assert "not your program's fault" in broken["output"]
    assert "1 test could not be run because the grader failed" in doc["output"]
    for leak in ("did not start", "exit status 3", "spec or the reference is wrong"):
        assert leak not in student_visible(doc), leak
    # the instructor sees why: in the hidden stdout and in extra_data
    assert doc["stdout_visibility"] == "hidden"
    assert "the reference implementation failed this test" in p.stdout
    assert "the reference implementation failed" in doc["extra_data"]["grader_errors"]["like-the-reference"]
    assert all(t["status"] == "passed" for n, t in by.items() if n != "like-the-reference")


@pytest.mark.timeout(600)
def test_a_grader_that_fails_outright_leaves_the_student_a_results_file_without_the_log(image):
    """The installed grader has lost its reference folder (as a non-editable install once
    did): grading stops with an error; run_autograder's trap writes results.json."""
    root, env = image
    ref = installed_reference(env)
    away = ref.with_name("reference-moved-away")
    ref.rename(away)
    try:
        p, doc = autograde(root, env, KV / "c-correct")
    finally:
        away.rename(ref)
    assert doc["score"] == 0 and "not your program's fault" in doc["output"]
    assert all(t["status"] == "failed" and "not run" in t["output"] for t in doc["tests"])
    assert "reference/ folder is missing" not in student_visible(doc)
    assert "site-packages" not in student_visible(doc)
    assert "reference/ folder is missing" in p.stderr                  # the hidden log
    assert "reference/ folder is missing" in doc["extra_data"]["grader_errors"]["submission"]


def test_a_traceback_in_a_test_never_reaches_the_student():
    """The reporter alone, with an ERROR as the engine words one (traceback included)."""
    from grader.reporters.gradescope import document
    from grader.results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
    tests = [TestResult(name=t.name, number=t.number, description=t.description,
                        points=t.points, max_points=t.points, status=TestStatus.PASSED,
                        visibility=t.visibility) for t in SHIPPED.tests]
    traceback = ("the grader failed while running this test (not your program's fault; please "
                 "report it):\nKeyError: 'x'\n  File \"/opt/grader/steps.py\", line 9, in run\n")
    tests[1] = TestResult(name=tests[1].name, number=tests[1].number, description="d",
                          points=0, max_points=tests[1].max_points, status=TestStatus.ERROR,
                          feedback=traceback)
    r = SubmissionResult(student="s", submission="s", assignment=SHIPPED.assignment,
                         spec_hash=SHIPPED.hash, tier="none", status=SubmissionStatus.GRADED,
                         score=sum(t.points for t in tests), max_score=SHIPPED.total_points,
                         tests=tests, duration=1.0)
    doc = document(r, SHIPPED)
    check_gradescope_results(doc, SHIPPED.total_points)
    assert "KeyError" not in student_visible(doc) and "steps.py" not in student_visible(doc)
    assert doc["tests"][1]["output"].startswith("d\nThe grader failed while running this test.")
    assert doc["extra_data"]["grader_errors"] == {tests[1].name: traceback}
