"""The command line: exit statuses, one-line errors, the report a student reads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT, SPECS, SUBMISSIONS

pytestmark = pytest.mark.timeout(120)

ECHO = SPECS / "tcp-echo.yaml"


def test_full_marks_exit_zero_and_report(run_cli):
    code, out, _ = run_cli("check", ECHO, SUBMISSIONS / "tcp-echo" / "c-correct-poll")
    assert code == 0
    assert "score: 35/35" in out
    assert "spec " in out and "seed " in out


def test_not_full_marks_exit_one_with_feedback(run_cli):
    code, out, _ = run_cli("check", ECHO, SUBMISSIONS / "tcp-echo" / "c-loopback-only", "--test", "listens")
    assert code == 1
    assert "FAIL" in out and "INADDR_ANY" in out


def test_replaying_chosen_tests_exits_zero_when_they_pass(run_cli):
    """`--test NAME` replays one test: its own verdict is the exit status."""
    code, out, _ = run_cli("check", ECHO, SUBMISSIONS / "tcp-echo" / "c-loopback-only", "--test", "echo-line")
    assert code == 0 and "score: 3/3" in out


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


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_module_entry_point_runs(flag):
    done = subprocess.run([sys.executable, "-m", "grader", flag], capture_output=True,
                          text=True, cwd=ROOT, timeout=30)
    assert done.returncode == 0 and done.stdout.startswith("socket-grader ")


def test_a_shipped_spec_by_its_bare_name(run_cli, tmp_path):
    code, out, err = run_cli("check", "udp-echo", SUBMISSIONS / "udp-echo" / "c-correct",
                             "--test", "bound")
    assert code == 0, err            # the one test chosen ran, and passed
    assert "udp-echo" in out and "PASS" in out and "FAIL" not in out
    code, out, err = run_cli("check", "no-such-assignment", SUBMISSIONS / "udp-echo" / "c-correct")
    assert code == 2 and "no such spec file (or name a shipped spec: chat, " in err


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_result_files_follow_the_umask(tmp_path, umask):
    """Like any tool's output: 0644 under umask 022 (the atomic write's temp file is 0600)."""
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(SPECS / "udp-echo.yaml"),
                           str(SUBMISSIONS / "udp-echo" / "c-correct"), "--test", "bound",
                           "--format", "json,junit,csv,markdown,html", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          preexec_fn=lambda: os.umask(umask))
    assert done.returncode == 0, done.stderr        # the one test chosen passed
    root = tmp_path / "class"
    root.mkdir()
    (root / "alice").symlink_to(SUBMISSIONS / "udp-echo" / "c-correct", target_is_directory=True)
    batch = subprocess.run([sys.executable, "-m", "grader", "batch", str(SPECS / "udp-echo.yaml"),
                            str(root), "--test", "bound", "--out", str(out / "batch")],
                           capture_output=True, text=True, cwd=ROOT, timeout=60,
                           preexec_fn=lambda: os.umask(umask))
    assert batch.returncode == 0, batch.stderr
    files = [p for p in out.rglob("*") if p.is_file() and p.name != ".batch.lock"]
    assert len(files) >= 8
    modes = {p.relative_to(out).as_posix(): oct(p.stat().st_mode & 0o777) for p in files}
    assert set(modes.values()) == {oct(0o666 & ~umask)}, modes


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
