"""Issue 14's measures: a broken submission grades about as fast as a correct one.

Usage:  python benchmarks/fast_verdicts.py [--specs tcp-echo,udp-echo,...] [--skip-batch] [--write]

All in one run, one grading at a time, on an otherwise idle machine:

* per spec: the correct sample's time and the slowest buggy sample's, side by
  side (the default; median of 3) and one by one (``tests_at_once=1``, how the
  grader ran before; one grading); the slowest buggy sample is found side by
  side among every buggy sample of the spec;
* a correct C tcp-echo submission, build included (build cache off), full spec;
* the 1.5 s slow starter (tcp-echo/py-correct-slow-start), full spec;
* a batch of the shipped C and Python tcp-echo samples, three copies each,
  ``grader batch --jobs 8``, against benchmarks/naive.py (start, sleep 1 s,
  one line) over the same folders with 8 at once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import median

from common import ROOT, SPECS, SUBMISSIONS, machine, table, write_section

import yaml
from naive import naive_grade

from grader.engine import GradeOptions, grade
from grader.spec import load_spec


def timed(spec, folder: Path, at_once: int | None) -> tuple[float, float]:
    t = time.monotonic()
    r = grade(spec, folder, GradeOptions(visible_only=False, tests_at_once=at_once))
    return time.monotonic() - t, r.score


def samples(assignment: str) -> tuple[Path | None, list[Path]]:
    """(a correct C or Python sample, the buggy samples) of ``assignment``."""
    correct, buggy = None, []
    for exp in sorted((SUBMISSIONS / assignment).glob("*/expected.yaml")):
        data = yaml.safe_load(exp.read_text())
        if data.get("score") == "full" and data.get("status", "graded") == "graded":
            name = exp.parent.name
            if correct is None or (name.startswith("c-") and not correct.name.startswith("c-")):
                correct = exp.parent
        elif data.get("status", "graded") == "graded":
            buggy.append(exp.parent)
    return correct, buggy


def per_spec(names: list[str]) -> list[list]:
    rows = []
    for name in names:
        spec = load_spec(SPECS / f"{name}.yaml")
        correct, buggy = samples(name)
        if correct is None or not buggy:
            continue
        # The ratio divides by the correct sample's time, so both are medians of 3 (one
        # grading moves by a tenth of a second from run to run); the slowest buggy sample
        # is found by one grading of each, then graded twice more.
        c_new = median(timed(spec, correct, None)[0] for _ in range(3))
        first, worst = max((timed(spec, b, None)[0], b) for b in buggy)
        worst_new = median([first] + [timed(spec, worst, None)[0] for _ in range(2)])
        c_old, _ = timed(spec, correct, 1)
        worst_old, _ = timed(spec, worst, 1)
        rows.append([name, correct.name, f"{c_old:.2f} s", f"**{c_new:.2f} s**", worst.name,
                     f"{worst_old:.1f} s", f"**{worst_new:.1f} s**", f"{worst_new / c_new:.1f}x",
                     len(buggy)])
        print(rows[-1], flush=True)
    return rows


def correct_c_with_build() -> list:
    os.environ["SOCKET_GRADER_CACHE"] = "off"
    try:
        spec = load_spec(SPECS / "tcp-echo.yaml")
        folder = SUBMISSIONS / "tcp-echo" / "c-correct-fork"
        new = sorted(timed(spec, folder, None)[0] for _ in range(5))[2]
        old = sorted(timed(spec, folder, 1)[0] for _ in range(5))[2]
    finally:
        del os.environ["SOCKET_GRADER_CACHE"]
    return ["correct C tcp-echo, build included (median of 5)", f"{old:.2f} s", f"**{new:.2f} s**"]


def slow_starter() -> list:
    spec = load_spec(SPECS / "tcp-echo.yaml")
    folder = SUBMISSIONS / "tcp-echo" / "py-correct-slow-start"
    new, score = timed(spec, folder, None)
    old, _ = timed(spec, folder, 1)
    return [f"1.5 s slow starter, {len(spec.tests)} tests ({score:g} points)", f"{old:.1f} s",
            f"**{new:.1f} s**"]


def batch_against_naive() -> tuple[list, str]:
    folders = [p for p in sorted((SUBMISSIONS / "tcp-echo").iterdir())
               if (p / "server.c").exists() or (p / "server.py").exists()]
    with tempfile.TemporaryDirectory(prefix="fast-verdicts-") as tmp:
        cls = Path(tmp) / "class"
        for copy in range(3):
            for f in folders:
                shutil.copytree(f, cls / f"{f.name}-{copy}", ignore=shutil.ignore_patterns("expected.yaml"))
        t = time.monotonic()
        subprocess.run([sys.executable, "-m", "grader", "batch", str(SPECS / "tcp-echo.yaml"), str(cls),
                        "--jobs", "8", "--out", str(Path(tmp) / "out"), "--progress", "lines"],
                       cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ours = time.monotonic() - t
        t = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(naive_grade, sorted(cls.iterdir())))
        naive = time.monotonic() - t
    n = 3 * len(folders)
    return (["batch of the C and Python tcp-echo samples x3, --jobs 8 (naive: 8 at once)",
             f"naive {naive:.1f} s", f"**{ours:.1f} s** ({ours / naive:.2f} of naive)"],
            f"{n} submissions")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--specs", default="tcp-echo,tcp-echo-client,udp-echo,reliable-udp,http-server,"
                                        "web-proxy,udp-pinger,smtp-client,chat,kv-store,file-transfer")
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    names = [n for n in args.specs.split(",") if (SPECS / f"{n}.yaml").exists()]
    rows = per_spec(names)
    single = [correct_c_with_build(), slow_starter()]
    print(single, flush=True)
    note = ""
    if not args.skip_batch:
        row, note = batch_against_naive()
        single.append(row)
        print(row, flush=True)
    md = (machine() + "\n\nPer spec, one grading at a time (one by one = `tests_at_once=1`, as before "
          "issue 14; side by side = the default):\n\n"
          + table(["spec", "correct sample", "correct: one by one", "correct: side by side",
                   "slowest buggy sample", "buggy: one by one", "buggy: side by side",
                   "slowest buggy / correct", "buggy samples"], rows)
          + "\n\n" + table(["measure", "one by one (or naive)", "side by side (the grader now)"], single)
          + (f"\n\nBatch: {note}." if note else ""))
    print(md)
    if args.write:
        write_section("fast-verdicts", md)


if __name__ == "__main__":
    main()
