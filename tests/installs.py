"""Helpers for the tests that install socket-grader as its users do: a wheel built once
per test session with the standard build backend, a wheelhouse of its dependencies (so
every later install runs with ``--no-index``: nothing of the grader can come from a
package index), and clean virtual environments outside the checkout.

The wheelhouse is filled by ``pip download`` once per session (from pip's cache when
it holds the dependencies, else from the package index).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

from conftest import ROOT

# What a source distribution of socket-grader holds (the wheel is built from a copy of it,
# so a build never writes build/ or *.egg-info into the shared checkout).
SOURCE_ITEMS = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "grader", "reference", "specs")


@dataclass(frozen=True)
class Artifacts:
    wheel: Path          # socket_grader-*.whl, built by `pip wheel` from the checkout's files
    wheelhouse: Path     # the wheel and every dependency's wheel: pip --no-index --find-links
    build_seconds: float


_CACHE: dict[str, Artifacts] = {}


def pip_env(wheelhouse: Path, **extra: str) -> dict[str, str]:
    """An environment whose pip installs only from ``wheelhouse`` (never an index), and
    that cannot import the checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "PYTHON", "PIP_", "VIRTUAL_ENV")) and k != "PYTEST_ADDOPTS"}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1")
    env.update(extra)
    return env


def run(cmd: list, *, timeout: float, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def artifacts(tmp_path_factory) -> Artifacts:
    """The wheel and the wheelhouse, built on first use and kept for the session."""
    if "it" not in _CACHE:
        import time
        started = time.monotonic()
        base = tmp_path_factory.mktemp("wheel")
        src = base / "src"
        src.mkdir()
        for item in SOURCE_ITEMS:
            path = ROOT / item
            if path.is_dir():
                shutil.copytree(path, src / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif path.exists():
                shutil.copy(path, src / item)
        dist = base / "dist"
        run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", dist, src],
            timeout=300)
        wheel, = dist.glob("socket_grader-*.whl")
        house = base / "wheelhouse"
        run([sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", house, wheel],
            timeout=300)
        shutil.rmtree(src)
        _CACHE["it"] = Artifacts(wheel, house, time.monotonic() - started)
    return _CACHE["it"]


def make_venv(path: Path) -> Path:
    """A clean virtual environment (no system site-packages); returns its bin folder."""
    venv.EnvBuilder(with_pip=True, clear=True, system_site_packages=False).create(path)
    return path / "bin"
