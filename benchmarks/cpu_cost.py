"""CPU time one grading costs, by sample and by who spends it.

Usage:  python benchmarks/cpu_cost.py [--runs 3] [--write]

Grades each sample of the throughput mix alone, in-process, ``--runs`` times
and reports the median wall time and CPU seconds, split into the grader's own
process and everything it waits for (the box helper, the compiler, the
student's program, the reference client of the interop test).  On a machine
with C cores, a class whose gradings cost X CPU seconds each cannot go faster
than C / X submissions per second, however many jobs run: that is the CPU
ceiling the throughput benchmark is compared with.
"""

from __future__ import annotations

import argparse
import resource
import time

from common import SPECS, SUBMISSIONS, machine, median, table, write_section
from throughput import CORRECT, SLOW_BUGS, TYPICAL_BUGS

from grader.engine import grade
from grader.spec import load_spec


def cpu() -> tuple[float, float]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = ap.parse_args()
    spec = load_spec(SPECS / "tcp-echo.yaml")
    weights = dict(CORRECT)
    weights.update({n: 3 for n in TYPICAL_BUGS})
    weights.update({n: 1 for n in SLOW_BUGS})
    rows, total_w, total_cpu, total_wall = [], 0, 0.0, 0.0
    grade(spec, SUBMISSIONS / "tcp-echo" / "c-correct-fork")          # warm up
    for name, w in weights.items():
        walls, own, others = [], [], []
        for _ in range(args.runs):
            c0, t0 = cpu(), time.monotonic()
            grade(spec, SUBMISSIONS / "tcp-echo" / name)
            c1 = cpu()
            walls.append(time.monotonic() - t0)
            own.append(c1[0] - c0[0])
            others.append(c1[1] - c0[1])
        c = median(own) + median(others)
        rows.append([name, w, f"{median(walls):.2f} s", f"{median(own):.3f} s",
                     f"{median(others):.3f} s", f"{c:.3f} s"])
        total_w += w
        total_cpu += w * c
        total_wall += w * median(walls)
        print(rows[-1], flush=True)
    mean_cpu = total_cpu / total_w
    md = (f"Machine: {machine()}\n\nEach sample graded alone, in-process, median of {args.runs}; "
          "weight = copies in the 200-submission throughput class.\n\n"
          + table(["sample", "weight", "wall", "CPU grader", "CPU box, compiler, programs", "CPU total"],
                  rows)
          + f"\n\nWeighted mean over the class: **{mean_cpu:.3f} CPU-s** and "
          f"{total_wall / total_w:.2f} s wall per submission. CPU ceiling on "
          f"{_cores()} cores: **{_cores() / mean_cpu:.1f} submissions/s**.")
    print(md)
    if args.write:
        write_section("cpu-cost", md)


def _cores() -> int:
    import os
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
