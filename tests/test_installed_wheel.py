"""What users install is what is tested: the wheel built from this checkout, installed
(not editable) in a clean virtual environment outside the checkout, grades a correct
sample of every shipped spec at full marks, naming each spec by its bare name (the
specs and the reference implementations come from the wheel, nowhere else).

The wheel is built once per session (tests/installs.py); dependencies are installed
from a wheelhouse with --no-index, so nothing can come from a package index."""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SPECS, expected_of, sample_dirs
from installs import artifacts, make_venv, pip_env, run
from runs import copy_submission

DIST_INFO = ".dist-info/"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin folder of a clean venv with the wheel installed, the artifacts, install seconds)."""
    built = artifacts(tmp_path_factory)
    base = tmp_path_factory.mktemp("installed")
    started = time.monotonic()
    bin_dir = make_venv(base / "venv")
    run([bin_dir / "python", "-m", "pip", "install", built.wheel], timeout=300,
        env=pip_env(built.wheelhouse), cwd=base)
    yield bin_dir, built, time.monotonic() - started
    shutil.rmtree(base, ignore_errors=True)


def correct_sample(assignment: str) -> Path:
    """A sample of ``assignment`` that must get full marks (C first: the common case)."""
    for sample in sample_dirs(assignment):
        exp = expected_of(sample)
        if exp.get("status") == "graded" and exp.get("score") == "full":
            return sample
    raise AssertionError(f"submissions/{assignment}: no sample with score: full")


def wheel_names(data: bytes) -> set[str]:
    return {n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if DIST_INFO not in n}


def test_the_wheel_carries_what_the_grader_needs_at_run_time(tmp_path_factory):
    built = artifacts(tmp_path_factory)
    names = wheel_names(built.wheel.read_bytes())
    assert {f"grader/_data/reference/{p.name}" for p in (ROOT / "reference").glob("*.py")} <= names
    assert {f"grader/_data/specs/{p.name}" for p in SPECS.glob("*.yaml")} <= names
    assert "grader/shims/partial_writes.c" in names and "grader/boxhelper.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith(("submissions/", "tests/")) for n in names)
    # The wheel the grader packs of itself (for Gradescope and CI) holds the same files.
    from grader.wheel import wheel_bytes
    assert wheel_names(wheel_bytes()) == names


@pytest.mark.timeout(900)
def test_installed_wheel_grades_every_spec_from_outside_the_checkout(installed, tmp_path):
    bin_dir, built, install_seconds = installed
    env = pip_env(built.wheelhouse)
    where = run([bin_dir / "python", "-c", "import grader, grader.resources as r; "
                 "print(grader.__file__); print(r.reference_dir()); print(r.data_dir('specs'))"],
                timeout=60, env=env, cwd=tmp_path).stdout.split()
    site = (bin_dir.parent / "lib").resolve()
    for path in where:          # the package and its data: in the venv, not the checkout
        assert Path(path).resolve().is_relative_to(site), where
    assert run([bin_dir / "grader", "-V"], timeout=30, env=env).stdout.startswith("socket-grader ")
    specs = sorted(SPECS.glob("*.yaml"))
    assert len(specs) >= 7
    timings = {}
    for spec in specs:
        name = spec.stem
        sub = copy_submission(correct_sample(name), tmp_path / "subs" / name)
        out = tmp_path / "out" / name
        started = time.monotonic()
        p = run_check(bin_dir, name, sub, out, env, tmp_path)
        timings[name] = round(time.monotonic() - started, 2)
        assert p.returncode == 0, f"{name}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
        result = json.loads((out / "results.json").read_text())["submissions"][0]
        assert result["status"] == "graded" and result["score"] == result["max_score"], p.stdout
        assert not [t for t in result["tests"] if t["status"] != "passed"], p.stdout
        assert result["tests"] and len(result["tests"]) == len(yaml.safe_load(spec.read_text())["tests"])
    print(f"\nwheel {built.wheel.stat().st_size} bytes, built in {built.build_seconds:.1f} s; "
          f"venv + install {install_seconds:.1f} s; grades: {timings}")


def run_check(bin_dir: Path, spec: str, sub: Path, out: Path, env: dict, cwd: Path):
    import subprocess
    return subprocess.run([str(bin_dir / "grader"), "check", spec, str(sub), "--all",
                           "--format", "json", "--out", str(out)],
                          capture_output=True, text=True, timeout=400, env=env, cwd=cwd)


def test_installed_grader_bundles_itself_for_gradescope(installed, tmp_path):
    """Run from the wheel install (no checkout anywhere), `grader gradescope` still puts
    the grader in the zip as a wheel, holding the same files as the one built with pip."""
    bin_dir, built, _ = installed
    p = run([bin_dir / "grader", "gradescope", "tcp-echo", "--out", tmp_path / "a.zip"],
            timeout=60, env=pip_env(built.wheelhouse), cwd=tmp_path)
    assert "bundled as socket_grader-" in p.stdout and "the installed package" in p.stdout
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        wheel, = [n for n in z.namelist() if n.endswith(".whl")]
        inner = z.read(wheel)
        assert z.read("spec/tcp-echo.yaml") == (SPECS / "tcp-echo.yaml").read_bytes()
        assert not any(n.startswith("reference/") for n in z.namelist())
    assert wheel == built.wheel.name
    assert wheel_names(inner) == wheel_names(built.wheel.read_bytes())
    meta = zipfile.ZipFile(io.BytesIO(inner)).read(wheel.split("-py3")[0] + ".dist-info/METADATA")
    assert b"Requires-Dist: pyyaml" in meta.replace(b"PyYAML", b"pyyaml")

