"""What a box costs per submission run, per tier (median of N runs).

Usage:  python benchmarks/box_cost.py [--runs 30] [--spawns 6] [--sockets 20] [--json]

For every tier this machine allows it measures, N times each:

* ``open+close``    an empty box: open_box(tier) then close();
* ``run``           a submission-shaped run: open, prepare_workdir (a copy of
                    a small submission), ``--spawns`` programs (/bin/true: a
                    build and the test launches), ``--sockets`` box.socket()
                    calls, close;
* ``spawn``         one spawn + wait of /bin/true inside an open box;
* ``socket``        one box.socket() inside an open box;
* ``world``         one test's world: open_world() (a fresh network namespace
                    with lo up, in the namespaced tiers) and its close();
* ``restore``       the work dir put back after a test (grader.build.Workdir):
                    ``restore=`` when the test changed nothing (a walk of the
                    tree), ``restore+`` when it wrote a file (clear and copy).

A test's fixed cost of independence is ``world`` + ``restore=``.

The cost a tier *adds* to a submission run is its ``run`` median minus the
``run`` median of the unsandboxed tier (which also spawns and opens sockets).
Runs alternate between tiers so a change in machine load hits all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.build import Workdir              # noqa: E402
from grader.deadline import Deadline          # noqa: E402
from grader.errors import GraderError         # noqa: E402
from grader.sandbox import open_box           # noqa: E402

TIERS = ("none", "root", "userns")


def available_tiers() -> list[str]:
    found = []
    for tier in TIERS:
        try:
            open_box(tier).close()
            found.append(tier)
        except GraderError as e:
            print(f"# tier {tier}: not available ({e})", file=sys.stderr)
    return found


def make_submission(parent: Path) -> Path:
    parent.chmod(0o755)           # as the engine's Workdir: the box's uid must reach work/
    work = parent / "work"
    work.mkdir()
    (work / "server.c").write_text("int main(void) { return 0; }\n" * 50)
    (work / "Makefile").write_text("all:\n\tcc -o server server.c\n")
    (work / "README.md").write_text("a submission\n")
    return work


def one_run(tier: str, spawns: int, sockets: int) -> None:
    parent = Path(tempfile.mkdtemp(prefix="sg-bench-"))
    try:
        work = make_submission(parent)
        box = open_box(tier)
        try:
            box.prepare_workdir(work)
            for _ in range(spawns):
                box.spawn(["/bin/true"], cwd=work).wait(Deadline.after(10, "/bin/true"))
            for _ in range(sockets):
                box.socket().close()
        finally:
            box.close()
    finally:
        shutil.rmtree(parent)


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def inside_box(tier: str, runs: int) -> dict[str, list[float]]:
    """Per-operation times in one open box."""
    parent = Path(tempfile.mkdtemp(prefix="sg-bench-"))
    box = open_box(tier)
    try:
        work = make_submission(parent)
        box.prepare_workdir(work)
        spawn = [timed(lambda: box.spawn(["/bin/true"], cwd=work).wait(Deadline.after(10)))
                 for _ in range(runs)]
        sock = [timed(lambda: box.socket().close()) for _ in range(runs)]
        world = [timed(lambda: box.open_world().close()) for _ in range(runs)]
        wd = Workdir(work)
        try:
            box.prepare_workdir(wd.path)
            wd.snapshot()
            same = [timed(lambda: wd.restore(box.prepare_workdir)) for _ in range(runs)]

            def dirty() -> float:
                (wd.path / "out.txt").write_text("written by a test\n")
                return timed(lambda: wd.restore(box.prepare_workdir))
            changed = [dirty() for _ in range(runs)]
        finally:
            wd.remove()
    finally:
        box.close()
        shutil.rmtree(parent)
    return {"spawn": spawn, "socket": sock, "world": world, "restore=": same, "restore+": changed}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 2),
            "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
            "min": round(ordered[0], 2), "n": len(ordered)}


def measure(tiers: list[str], runs: int, spawns: int, sockets: int) -> dict:
    samples: dict[str, dict[str, list[float]]] = {t: {"open+close": [], "run": []} for t in tiers}
    for _ in range(runs):                  # interleaved: load changes hit every tier alike
        for tier in tiers:
            samples[tier]["open+close"].append(timed(lambda: open_box(tier).close()))
            samples[tier]["run"].append(timed(lambda: one_run(tier, spawns, sockets)))
    for tier in tiers:
        samples[tier].update(inside_box(tier, runs))
    result = {t: {k: summary(v) for k, v in s.items()} for t, s in samples.items()}
    if "none" in result:
        base = result["none"]["run"]["median"]
        for tier in tiers:
            result[tier]["added_per_run_ms"] = round(result[tier]["run"]["median"] - base, 2)
    return result


def print_table(result: dict, spawns: int, sockets: int) -> None:
    print(f"# load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cpus; "
          f"run = open + prepare_workdir + {spawns} spawns + {sockets} sockets + close")
    print(f"{'tier':8} {'open+close':>14} {'run':>14} {'added/run':>10} {'spawn':>12} {'socket':>12} "
          f"{'world':>12} {'restore=':>12} {'restore+':>12}")
    for tier, r in result.items():
        cell = lambda k: f"{r[k]['median']:6.2f} ({r[k]['p90']:.1f})"   # noqa: E731
        print(f"{tier:8} {cell('open+close'):>14} {cell('run'):>14} "
              f"{r.get('added_per_run_ms', 0):10.2f} {cell('spawn'):>12} {cell('socket'):>12} "
              f"{cell('world'):>12} {cell('restore='):>12} {cell('restore+'):>12}")
    print("# milliseconds: median (p90)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--spawns", type=int, default=6)
    parser.add_argument("--sockets", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tiers = available_tiers()
    result = measure(tiers, args.runs, args.spawns, args.sockets)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result, args.spawns, args.sockets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
