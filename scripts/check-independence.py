#!/usr/bin/env python3
"""Check that every test's verdict depends only on that test.

For each sample folder under submissions/ (every assignment that has a spec,
submissions/hostile/ left out), grade it once in full, then grade each of its
tests alone, and report every test whose status differs between the two.
Hidden tests are included.

    .venv/bin/python scripts/check-independence.py [--assignment NAME ...] [--jobs N] [SAMPLE ...]

Exit status: 0 when every test agrees, 1 when any differs.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:           # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

from grader.engine import GradeOptions, grade   # noqa: E402
from grader.spec import load_spec               # noqa: E402

SPECS = ROOT / "specs"
SUBMISSIONS = ROOT / "submissions"
SKIP = {"hostile"}


def sample_folders(assignments: list[str]) -> list[Path]:
    """Every sample folder of the chosen assignments (all of them when none are chosen)."""
    names = assignments or sorted(p.name for p in SUBMISSIONS.iterdir()
                                  if p.is_dir() and p.name not in SKIP and (SPECS / f"{p.name}.yaml").exists())
    folders = []
    for name in names:
        if not (SPECS / f"{name}.yaml").exists():
            sys.exit(f"check-independence: no spec for assignment {name!r} (specs/{name}.yaml)")
        folders += sorted(p for p in (SUBMISSIONS / name).iterdir() if p.is_dir())
    return folders


def statuses(spec_path: Path, folder: Path, only: list[str] | None = None) -> dict[str, str]:
    """Test name -> status ("passed", "failed", ...) of one grading run."""
    result = grade(load_spec(spec_path), folder, GradeOptions(visible_only=False, only=only))
    return {t.name: t.status.value for t in result.tests}


def check_sample(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """Grade ``folder`` in full and each test alone; the tests whose status differs.

    A grading that raises is reported as one difference named "(grading)".
    """
    try:
        return _check_sample(folder)
    except Exception as e:      # noqa: BLE001 - one broken sample must not hide the others
        return f"{folder.parent.name}/{folder.name}", [("(grading)", "ran", f"raised {type(e).__name__}: {e}")]


def _check_sample(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    spec_path = SPECS / f"{folder.parent.name}.yaml"
    full = statuses(spec_path, folder)
    differences = []
    for name in [t.name for t in load_spec(spec_path).tests]:
        alone = statuses(spec_path, folder, only=[name]).get(name, "missing")
        in_full = full.get(name, "missing")
        if alone != in_full:
            differences.append((name, in_full, alone))
    return f"{folder.parent.name}/{folder.name}", differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", action="append", default=[], metavar="NAME",
                        help="only this assignment's samples (repeatable; default: all)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N",
                        help="samples checked at once, each in its own process (default 2)")
    parser.add_argument("samples", nargs="*", type=Path, metavar="SAMPLE",
                        help="only these sample folders (submissions/ASSIGNMENT/NAME)")
    args = parser.parse_args(argv)

    folders = [p.resolve() for p in args.samples] or sample_folders(args.assignment)
    differing = samples_differing = 0
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for sample, differences in pool.map(check_sample, folders):
            if not differences:
                print(f"ok    {sample}")
                continue
            differing += len(differences)
            samples_differing += 1
            print(f"DIFF  {sample}")
            for name, in_full, alone in differences:
                print(f"        {name}: {in_full} in the full run, {alone} alone")
    print(f"{len(folders)} samples checked: {differing} test verdicts in {samples_differing} samples "
          "differ between the full run and the test run alone")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
