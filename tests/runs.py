"""Helpers for the tests of result formats, the pytest plugin and the CI template:
run the real ``grader`` command, and make small submissions in a temp folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SUBMISSIONS

VISIBILITY_SPEC = ROOT / "tests" / "specs" / "tcp-echo-visibility.yaml"
ECHO = SUBMISSIONS / "tcp-echo"

BROKEN_C = "#include <stdio.h>\nint main(void) { this is not C; }\n"
EXITS_AT_ONCE_PY = "import sys\nprint('bye', file=sys.stderr)\nsys.exit(3)\n"


def env_with(**extra: str) -> dict[str, str]:
    """This environment, with the checkout importable, no GitHub variables unless given."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GITHUB_") and k != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def grader(*args: object, env: dict[str, str] | None = None, cwd: Path | None = None,
           timeout: float = 90) -> subprocess.CompletedProcess:
    """``python -m grader ARGS`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True,
                          text=True, env=env or env_with(), cwd=cwd, timeout=timeout)


def copy_submission(src: Path, dst: Path) -> Path:
    """A copy of a sample's source (not its expected.yaml) at ``dst``."""
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and f.name != "expected.yaml":
            shutil.copy(f, dst / f.name)
    return dst


def write_submission(dst: Path, name: str, text: str) -> Path:
    dst.mkdir(parents=True)
    (dst / name).write_text(text)
    return dst
