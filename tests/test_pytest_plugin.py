"""The pytest plugin, run as a user runs it: pytest in a scratch folder, grading real
submissions, its JUnit read back with junitparser.

Each run sets PYTEST_DISABLE_PLUGIN_AUTOLOAD and loads the plugin by module name,
so it tests the same code whether or not socket-grader is pip-installed here
(installed, the entry point would load it as well, under another name)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml, Skipped

from grader.spec import load_spec
from runs import BROKEN_C, ECHO, VISIBILITY_SPEC, env_with, grader, write_submission

pytestmark = pytest.mark.timeout(120)

VIS = load_spec(VISIBILITY_SPEC)
LOAD = ["-p", "grader.pytest_plugin", "-p", "timeout"]


def run_pytest(cwd: Path, *args: object, load: list[str] = LOAD) -> subprocess.CompletedProcess:
    if not (cwd / "pytest.ini").exists():
        (cwd / "pytest.ini").write_text("[pytest]\n")      # keeps rootdir and ini here
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *load, *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=100,
                          env=env_with(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"))


def spec_args(submission: Path) -> list[object]:
    """``--opt=value``: pytest takes a separate value that names a path for a test path
    when it looks for the rootdir and ini file (then ours in ``cwd`` would be ignored)."""
    return [f"--grader-spec={VISIBILITY_SPEC}", f"--grader-submission={submission}"]


def block_of(text: str, test: str) -> list[str]:
    """The lines ``grader check`` prints for one failing test, without the duration."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if re.search(rf"\bFAIL +\d+\. {test}\b", ln))
    end = start + 1
    while end < len(lines) and lines[end].startswith("        "):
        end += 1
    first = re.sub(r"\s+[\d.]+s$", "", lines[start])
    return [first] + lines[start + 1:end]


def test_items_junit_and_the_same_feedback_as_grader_check(tmp_path):
    sub = ECHO / "c-loopback-only"
    p = run_pytest(tmp_path, *spec_args(sub), "--junitxml", tmp_path / "j.xml", "-rN")
    assert p.returncode == 1, p.stdout + p.stderr
    suite = list(JUnitXml.fromfile(str(tmp_path / "j.xml")))[0]
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (6, 1, 0, 3)
    results = {c.name: (c.result[0] if c.result else None) for c in suite}
    assert isinstance(results["listens"], Failure)
    assert all(isinstance(results[t.name], Skipped) for t in VIS.tests if t.visibility != "visible")
    assert results["echo-line"] is None and results["client-reset"] is None
    check = grader("check", VISIBILITY_SPEC, sub)
    assert block_of(p.stdout, "listens") == block_of(check.stdout, "listens")
    assert "INADDR_ANY" in block_of(p.stdout, "listens")[-1]
    # the header names the spec and the tier; the summary the points of what ran
    assert re.search(rf"socket-grader \S+: spec .*tcp-echo-visibility\.yaml "
                     rf"\(tcp-echo-visibility, hash {VIS.hash}, 6 tests, 12 points\)", p.stdout)
    assert re.search(r"socket-grader: submission .*c-loopback-only, tier \S+", p.stdout)
    assert "visible tests only (3 hidden skipped" in p.stdout
    assert "socket-grader: 5/7 points from 3 tests (the assignment is out of 12)" in p.stdout


def test_k_selects_and_only_the_selected_test_is_graded(tmp_path):
    p = run_pytest(tmp_path, *spec_args(ECHO / "c-correct-fork"), "-k", "listens")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 passed, 5 deselected" in p.stdout
    assert "socket-grader: 2/2 points from 1 tests" in p.stdout


def test_grader_all_runs_hidden_tests(tmp_path):
    p = run_pytest(tmp_path, *spec_args(ECHO / "c-correct-fork"), "--grader-all",
                   "-k", "binary or sigterm or half")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3 passed, 3 deselected" in p.stdout


def test_conftest_one_liner_and_ini_options(tmp_path):
    """An assignment repo: the spec and the student's code in it, settings in pytest.ini."""
    repo = tmp_path / "repo"
    (repo / "spec").mkdir(parents=True)
    (repo / "spec" / "echo.yaml").write_text(VISIBILITY_SPEC.read_text())
    (repo / "server.c").write_text((ECHO / "c-loopback-only" / "server.c").read_text())
    (repo / "conftest.py").write_text('pytest_plugins = ["grader.pytest_plugin"]\n')
    (repo / "pytest.ini").write_text("[pytest]\ngrader_spec = spec/echo.yaml\n"
                                     "grader_submission = .\ngrader_all = true\n")
    p = run_pytest(repo, "-p", "timeout", load=[])
    assert p.returncode == 1, p.stdout + p.stderr
    assert "1 failed, 5 passed" in p.stdout
    assert "INADDR_ANY" in p.stdout and "FAIL  1. listens" in p.stdout


def test_each_item_has_its_own_timeout(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "def pytest_collection_finish(session):\n"
        "    for item in session.items:\n"
        "        print('TIMEOUT', item.name, item.get_closest_marker('timeout').args[0])\n")
    p = run_pytest(tmp_path, *spec_args(ECHO / "c-correct-fork"), "--collect-only", "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    found = dict(re.findall(r"^TIMEOUT (\S+) ([\d.]+)$", p.stdout, re.M))
    build = VIS.limits["build"]
    assert {n: float(s) for n, s in found.items()} == {
        t.name: t.timeout + build + 10.0 for t in VIS.tests}


@pytest.mark.parametrize("ini,args,words", [
    ("", ["--grader-seed=abc"], "--grader-seed: 'abc' is not a whole number"),
    ("grader_tier = maybe\n", [], "ini option grader_tier: unknown tier 'maybe'"),
    ("", ["--grader-submission=nowhere"], "no such submission folder"),
])
def test_bad_settings_say_where_they_came_from(tmp_path, ini, args, words):
    (tmp_path / "pytest.ini").write_text("[pytest]\n" + ini)
    p = run_pytest(tmp_path, f"--grader-spec={VISIBILITY_SPEC}", *args)
    assert p.returncode == 4                          # pytest's usage error
    assert words in p.stderr


def test_build_failure_shows_the_compiler_output(tmp_path):
    sub = write_submission(tmp_path / "broken", "server.c", BROKEN_C)
    p = run_pytest(tmp_path, *spec_args(sub), "-k", "listens")
    assert p.returncode == 1
    assert "the submission did not build" in p.stdout and "error" in p.stdout
    assert "SKIP  1. listens" in p.stdout


def test_idle_without_a_spec(tmp_path):
    (tmp_path / "test_plain.py").write_text("def test_one():\n    assert True\n")
    p = run_pytest(tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    # No header, no items: pytest's own "plugins: socket-grader-X" line is all there is
    # (it is there when socket-grader is pip-installed, as in CI).
    assert "1 passed" in p.stdout and "socket-grader: submission" not in p.stdout
    assert ": spec " not in p.stdout


def test_grader_spec_on_the_command_line_runs_only_the_specs_items(tmp_path):
    """A project with tests of its own (testpaths): `pytest --grader-spec S --grader-submission D`
    runs the spec's items alone; naming a test path runs that too."""
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_own.py").write_text("def test_own():\n    assert False\n")
    sub = ECHO / "c-correct-fork"
    only = run_pytest(tmp_path, *spec_args(sub), "--co", "-q")
    assert only.returncode == 0, only.stdout + only.stderr
    assert "test_own" not in only.stdout
    assert f"{len(VIS.tests)} tests collected" in only.stdout
    both = run_pytest(tmp_path, "tests", *spec_args(sub), "--co", "-q")
    assert "tests/test_own.py::test_own" in both.stdout
    assert f"{len(VIS.tests) + 1} tests collected" in both.stdout
    alone = run_pytest(tmp_path, "--co", "-q")                  # no spec: the project's own
    assert "tests/test_own.py::test_own" in alone.stdout and "1 test collected" in alone.stdout


def test_a_shipped_spec_by_its_bare_name(tmp_path):
    p = run_pytest(tmp_path, "--grader-spec=udp-echo",
                   f"--grader-submission={ECHO.parent / 'udp-echo' / 'c-correct'}", "--co", "-q")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "udp-echo.yaml::bound" in p.stdout
