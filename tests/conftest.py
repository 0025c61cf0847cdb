"""Shared fixtures: the repo's paths, sample discovery, and a guard against leftovers.

Every test here runs the real grader on real programs over loopback only.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SUBMISSIONS = ROOT / "submissions"

if str(ROOT) not in sys.path:       # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """This run's temporary folders live in one folder of its own, removed when the run
    ends, passed or failed (pytest's default keeps the last three runs' in
    /tmp/pytest-of-USER).  With --basetemp DIR, DIR is the user's and is kept.
    Under pytest -n the workers get their folders inside the controller's."""
    if getattr(config, "workerinput", None) is None and config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="socket-grader-tests-")
        config._socket_grader_basetemp = config.option.basetemp


def pytest_unconfigure(config):
    made = getattr(config, "_socket_grader_basetemp", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)


def sample_dirs(assignment: str | None = None) -> list[Path]:
    """Every sample folder that records an expected verdict."""
    pattern = f"{assignment}/*/expected.yaml" if assignment else "*/*/expected.yaml"
    return sorted(p.parent for p in SUBMISSIONS.glob(pattern))


def expected_of(sample: Path) -> dict:
    return yaml.safe_load((sample / "expected.yaml").read_text())


def _descendants() -> set[int]:
    """Our live descendants, except multiprocessing's resource tracker (it lives as long as
    the test process, by design, once any worker pool has been used)."""
    found = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if "multiprocessing.resource_tracker" not in " ".join(p.cmdline()):
                found.add(p.pid)
        except psutil.Error:
            pass
    return found


@pytest.fixture(autouse=True)
def no_leftover_processes():
    """Every test must leave no process of its own behind (student programs included)."""
    before = _descendants()
    yield
    deadline = psutil.time.monotonic() + 3.0
    left: set[int] = set()
    while psutil.time.monotonic() < deadline:
        left = {pid for pid in _descendants() - before
                if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE}
        if not left:
            break
        psutil.time.sleep(0.02)
    assert not left, f"processes left behind: {[psutil.Process(p).cmdline() for p in left if psutil.pid_exists(p)]}"


@pytest.fixture
def run_cli(capsys):
    """Run the grader CLI in-process; returns (exit status, stdout, stderr)."""
    from grader.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture(scope="session", autouse=True)
def _environment(tmp_path_factory):
    os.environ.setdefault("NO_COLOR", "1")
    # Builds kept by content (grader.buildcache) live in this run's own folder, not the
    # user's ~/.cache: Java, Go and Rust samples graded twice build once per run.
    # In parallel (pytest -n), the workers share one, in the run's own temporary folder
    # (removed when the run ends: pytest_unconfigure): one worker cannot know when the
    # others are done with it.
    cache = None
    if "SOCKET_GRADER_CACHE" not in os.environ:
        if os.environ.get("PYTEST_XDIST_WORKER"):
            shared = tmp_path_factory.getbasetemp().parent / "build-cache"
            shared.mkdir(exist_ok=True)
            os.environ["SOCKET_GRADER_CACHE"] = str(shared)
        else:
            cache = tmp_path_factory.mktemp("build-cache")
            os.environ["SOCKET_GRADER_CACHE"] = str(cache)
    yield
    if cache is not None:
        del os.environ["SOCKET_GRADER_CACHE"]
        shutil.rmtree(cache, ignore_errors=True)


def pytest_collection_modifyitems(items):
    """The longest file first (test_samples grades every sample, about 2.5 minutes): run
    in parallel (pytest -n auto --dist loadfile), the other files fill the time beside it
    instead of waiting for it at the end."""
    items.sort(key=lambda item: item.path.name != "test_samples.py")


def with_evidence(t) -> str:
    """A test's feedback, and what its causes rested on (a cause missing: was it the calls?)."""
    f = t.failure
    return t.feedback + (f"\n[evidence: {f.evidence}; {f.evidence_note or 'no note'}]" if f else "")
