"""The command line: exit statuses, one-line errors, the report a student reads."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT, SPECS, SUBMISSIONS

pytestmark = pytest.mark.timeout(120)

ECHO = SPECS / "tcp-echo.yaml"


def test_full_marks_exit_zero_and_report(run_cli):
    code, out, _ = run_cli("check", ECHO, SUBMISSIONS / "tcp-echo" / "c-correct-poll")
    assert code == 0
    assert "score: 33/33" in out
    assert "spec " in out and "seed " in out


def test_not_full_marks_exit_one_with_feedback(run_cli):
    code, out, _ = run_cli("check", ECHO, SUBMISSIONS / "tcp-echo" / "c-loopback-only", "--test", "listens")
    assert code == 1
    assert "FAIL" in out and "INADDR_ANY" in out


@pytest.mark.parametrize("args,words", [
    (["check", ECHO, SUBMISSIONS / "nope"], "no such submission folder"),
    (["check", ECHO, ECHO], "is a file, not a submission folder"),
    (["check", SPECS / "nope.yaml", SUBMISSIONS], "no such spec file"),
    (["check", ECHO, SUBMISSIONS / "tcp-echo" / "c-correct-fork", "--tier", "maybe"], "invalid choice"),
    (["check", ECHO, SUBMISSIONS / "tcp-echo" / "c-correct-fork", "--test", "nosuch"], "no test named nosuch"),
    (["check", ECHO, SUBMISSIONS / "tcp-echo" / "c-correct-fork", "--format", "pdf"], "unknown format 'pdf'"),
    (["check", ECHO], "the following arguments are required: SUBMISSION"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["batch", ECHO, SUBMISSIONS / "tcp-echo" / "c-correct-fork"], "holds no submission folders"),
])
def test_bad_input_is_one_line_exit_two(run_cli, args, words):
    code, out, err = run_cli(*args)
    assert code == 2
    assert words in err
    assert err.startswith("grader: error: ") and err.count("\n") == 1
    assert "Traceback" not in err + out


def test_module_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "grader", "--version"], capture_output=True,
                          text=True, cwd=ROOT, timeout=30)
    assert done.returncode == 0 and done.stdout.startswith("socket-grader ")


def test_batch_prints_gradebook(run_cli, tmp_path):
    root = tmp_path / "class"
    root.mkdir()
    for name in ("py-correct", "c-small-buffer"):
        (root / name).symlink_to(SUBMISSIONS / "udp-echo" / name, target_is_directory=True)
    code, out, err = run_cli("batch", SPECS / "udp-echo.yaml", root, "--jobs", "2", "--out", tmp_path / "out")
    assert code == 0
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.split() and ln.split()[0] in ("py-correct", "c-small-buffer")}
    assert "20/20" in lines["py-correct"]
    assert "17/20" in lines["c-small-buffer"] and "large-datagrams" in lines["c-small-buffer"]
    assert "1 of 2 with full marks" in out
