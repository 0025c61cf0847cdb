"""The Dockerfile: the image builds (the grader installed from its wheel) and grades a
correct sample at full marks and a broken one below, the way a student on macOS or
Windows runs it (docs/install.md).  Skipped, with the reason, where no Docker daemon
answers (as on the project's own CI machines)."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from conftest import ROOT, SUBMISSIONS
from runs import copy_submission

pytestmark = pytest.mark.timeout(1200)


def docker_daemon() -> str | None:
    """None if a Docker daemon answers, else why not."""
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    try:
        p = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                           capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "the Docker daemon did not answer within 30 s"
    if p.returncode != 0:
        return "no Docker daemon answers: " + (p.stderr.strip().splitlines() or ["?"])[-1]
    return None


@pytest.fixture(scope="module")
def image():
    why = docker_daemon()
    if why:
        pytest.skip(why)
    tag = f"socket-grader-test:{uuid.uuid4().hex[:12]}"
    p = subprocess.run(["docker", "build", "-t", tag, str(ROOT)], capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    yield tag
    subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, timeout=120)


def docker_run(tag: str, work, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", "-v", f"{work}:/work", tag, *args],
                          capture_output=True, text=True, timeout=600)


def test_the_container_grades_as_the_docs_say(image, tmp_path):
    good = copy_submission(SUBMISSIONS / "udp-echo" / "c-correct", tmp_path / "good")
    p = docker_run(image, good, "check", "udp-echo", "/work", "--all")
    assert p.returncode == 0, p.stdout + p.stderr
    bad = copy_submission(SUBMISSIONS / "udp-echo" / "c-no-htons", tmp_path / "bad")
    p = docker_run(image, bad, "check", "udp-echo", "/work", "--all")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "htons" in p.stdout
    doctor = docker_run(image, tmp_path, "doctor")
    assert "tier" in doctor.stdout + doctor.stderr
    assert docker_run(image, tmp_path, "-V").stdout.startswith("socket-grader ")

