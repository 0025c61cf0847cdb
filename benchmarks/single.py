"""One correct C tcp-echo submission, the full spec, build included.

Usage:  python benchmarks/single.py [--runs 10] [--sample c-correct-fork] [--write]

Grades the sample in-process with the engine's ``grade()`` (what one batch
worker does per submission) ``--runs`` times and reports medians of:

* ``total``      SubmissionResult.duration (target: under 1.5 s);
* ``box open``   opening the box (timed by wrapping the engine's box opener);
* ``build``      timings["build"] (cc -O2 in the box);
* ``launch``     timings["launch"]: every launch of the program until ready;
* ``probes``     the tests minus launches and per-test stops: the grader's
                 own connects, sends, receives and deliberate waits;
* ``teardown``   timings["teardown"]: stopping the program after each test;
* ``other``      the rest of ``total`` (copying the submission, making results);
* ``box close``  closing the box and removing the work dir: after the result is
                 made, so outside ``total`` (but inside a batch's wall time).

It also lists the slowest tests with what they wait for, and the CPU time the
whole grading used (grader + box + compiler + the student's program).
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import defaultdict

from common import SPECS, SUBMISSIONS, machine, median, table, write_section

from grader import engine
from grader.engine import GradeOptions, grade
from grader.spec import load_spec


class Timed:
    """Wraps the engine's box opener to time opening and closing the box."""

    def __init__(self) -> None:
        self.opened: list[float] = []
        self.closed: list[float] = []
        self._orig = engine._open_box

    def __enter__(self) -> "Timed":
        def opener(tier: str):
            t = time.monotonic()
            box = self._orig(tier)
            self.opened.append(time.monotonic() - t)
            close = box.close

            def timed_close() -> None:
                t0 = time.monotonic()
                close()
                self.closed.append(time.monotonic() - t0)
            box.close = timed_close
            return box
        engine._open_box = opener
        return self

    def __exit__(self, *exc: object) -> None:
        engine._open_box = self._orig


def cpu_now() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--sample", default="c-correct-fork")
    ap.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = ap.parse_args()
    spec = load_spec(SPECS / "tcp-echo.yaml")
    folder = SUBMISSIONS / "tcp-echo" / args.sample
    grade(spec, folder)                       # warm: page cache, compiler, Python imports
    parts: dict[str, list[float]] = defaultdict(list)
    per_test: dict[str, list[float]] = defaultdict(list)
    with Timed() as timed:
        for _ in range(args.runs):
            c0 = cpu_now()
            r = grade(spec, folder, GradeOptions())
            parts["cpu"].append(cpu_now() - c0)
            assert r.full_marks, [(t.name, t.feedback) for t in r.tests if not t.passed]
            tm = r.timings
            box_open, box_close = timed.opened[-1], timed.closed[-1]
            # The engine builds the result before its finally closes the box: the
            # close is in neither r.duration nor r.timings (it is timed here).
            per_test_stop = tm["teardown"]
            parts["total"].append(r.duration)
            parts["box open"].append(box_open)
            parts["build"].append(tm["build"])
            parts["launch"].append(tm["launch"])
            parts["probes"].append(tm["tests"] - tm["launch"] - per_test_stop)
            parts["teardown"].append(tm["teardown"])
            parts["other"].append(r.duration - box_open - tm["build"] - tm["tests"])
            parts["box close"].append(box_close)
            for t in r.tests:
                per_test[t.name].append(t.duration)
    order = ["total", "box open", "build", "launch", "probes", "teardown", "other", "box close",
             "cpu"]
    rows = [[k, f"{median(parts[k]):.3f} s"] for k in order]
    slow = sorted(per_test.items(), key=lambda kv: -median(kv[1]))[:5]
    md = (f"Machine: {machine()}\n\nSample `tcp-echo/{args.sample}`, {len(spec.tests)} tests, "
          f"{args.runs} runs (medians; `cpu` is all processes' CPU time per grading)\n\n"
          + table(["part", "median"], rows)
          + "\n\nSlowest tests (median, launch and stop included):\n\n"
          + table(["test", "median"], [[n, f"{median(v):.3f} s"] for n, v in slow]))
    print(md)
    if args.write:
        write_section(f"single-{args.sample}", md)


if __name__ == "__main__":
    main()
