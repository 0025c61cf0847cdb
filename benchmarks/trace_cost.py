"""The cost of evidence from the program's calls: trace every test, or replay failures.

Usage:  python benchmarks/trace_cost.py [--runs 7] [--sample c-correct-fork]
                                        [--buggy c-fork-parent-keeps-fd,...] [--write]

Grades a correct C tcp-echo submission (full spec, build cached after the
warm-up) ``--runs`` times in each mode, interleaved (off, every, replay, off,
...), and reports the median total time and CPU time per grading:

* ``off``     no evidence from calls (the grader before issue 13);
* ``every``   every test runs under strace (the verdict is the traced run's);
* ``replay``  tests run untraced; a failed test is replayed once under strace
              (the default: on a correct submission nothing is replayed).

Then, for the ``--buggy`` samples, the same three modes once each: the time a
replay adds on failing tests, and whether the traced run's verdict (``every``)
differs from the untraced one (a verdict must not depend on being traced).
"""

from __future__ import annotations

import argparse
import resource
from collections import defaultdict

from common import SPECS, SUBMISSIONS, machine, median, table, write_section

from grader import evidence
from grader.engine import GradeOptions, grade
from grader.spec import load_spec

MODES = ("off", "every", "replay")


def cpu_now() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def set_mode(mode: str) -> None:
    evidence.MODE = mode
    evidence.TRACE_EVERY_TEST = mode == "every"


def graded(spec, folder, mode: str):
    set_mode(mode)
    c0 = cpu_now()
    r = grade(spec, folder, GradeOptions())
    return r, cpu_now() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--sample", default="c-correct-fork")
    ap.add_argument("--buggy", default="c-fork-parent-keeps-fd,c-fd-leak,c-no-eof-check,py-decode-send-threads")
    ap.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = ap.parse_args()
    spec = load_spec(SPECS / "tcp-echo.yaml")
    folder = SUBMISSIONS / "tcp-echo" / args.sample
    graded(spec, folder, "off")                   # warm: build cache, page cache, imports
    total: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.runs):
        for mode in MODES:
            r, c = graded(spec, folder, mode)
            assert r.full_marks, (mode, [(t.name, t.feedback) for t in r.tests if not t.passed])
            total[mode].append(r.duration)
            cpu[mode].append(c)
    base, base_cpu = median(total["off"]), median(cpu["off"])
    rows = [[m, f"{median(total[m]):.3f} s", f"{(median(total[m]) / base - 1) * 100:+.0f}%",
             f"{median(cpu[m]):.3f} s", f"{(median(cpu[m]) / base_cpu - 1) * 100:+.0f}%"] for m in MODES]
    md = (f"Machine: {machine()}\n\nCorrect sample `tcp-echo/{args.sample}`, {len(spec.tests)} tests, "
          f"{args.runs} runs per mode, interleaved (medians; cpu: all processes' CPU time)\n\n"
          + table(["mode", "total", "vs off", "cpu", "vs off"], rows))
    brows = []
    for name in [b for b in args.buggy.split(",") if b]:
        res = {m: graded(spec, SUBMISSIONS / "tcp-echo" / name, m) for m in MODES}
        failed = {m: tuple(sorted(t.name for t in r.tests if not t.passed)) for m, (r, _) in res.items()}
        used = sum(1 for t in res["replay"][0].tests if t.failure and t.failure.evidence == "calls")
        brows.append([name, len(failed["off"]),
                      " / ".join(f"{res[m][0].duration:.2f}" for m in MODES),
                      f"{used}/{len(failed['replay'])}",
                      "same" if failed["every"] == failed["off"] else
                      f"differs: {sorted(set(failed['every']) ^ set(failed['off']))}"])
    md += ("\n\nBuggy samples, one run per mode (seconds off / every / replay; the replay's calls "
           "are used only where it failed the same way):\n\n"
           + table(["sample", "failed", "total s (off / every / replay)", "replays used",
                    "verdict traced vs untraced"], brows))
    print(md)
    if args.write:
        write_section("evidence", md)


if __name__ == "__main__":
    main()
