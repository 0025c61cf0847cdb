"""Batch throughput over a class of replicated samples, and the naive way side by side.

Usage:  python benchmarks/throughput.py [--size 200] [--jobs 1,2,4,8] [--repeats 3]
                                        [--memory-sizes 50,100,200,400] [--no-naive] [--write]

The class is the tcp-echo samples replicated by symlinks in a temp folder,
weighted like a real class: 80% correct (C and Python), 18% with a typical
bug (each costs one to four seconds: iterative servers, strlen, SIGPIPE, ...),
2% with a bug that waits out the spec's deadlines (no htons(), never exits:
about five to eight seconds each).  The order is shuffled with a fixed seed.

For every ``--jobs`` value it runs ``python -m grader batch`` ``--repeats`` times
(each into a fresh output folder: nothing resumed), keeps the run with the
median rate, and records submissions per second, the median
per-submission time, and peak memory sampled every 0.25 s: the coordinator's
RSS, and coordinator plus workers (student programs, compilers and box
helpers not counted).  Then the naive grader (benchmarks/naive.py: build,
start, sleep 1 s, one message, kill) runs once over the same class with the
same parallelism (its time is its sleep: it hardly varies).  It also records
the CPU seconds the batch used per submission (its whole process tree) and how
many cores *other* work on the machine kept busy meanwhile (the machine may be
shared: those cores were not ours).
``--memory-sizes`` re-runs the batch at the best ``--jobs`` with
classes of several sizes: the coordinator's peak should not grow with them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from common import ROOT, SPECS, SUBMISSIONS, machine, median, table, write_section
from naive import naive_grade

CORRECT = {"c-correct-fork": 48, "c-correct-poll": 32, "c-correct-make": 16,
           "py-correct-selectors": 32, "py-correct-threads": 32}
TYPICAL_BUGS = ["c-loopback-only", "c-sigpipe", "c-no-reuseaddr", "c-zombies",
                "c-ignores-partial-send", "c-stale-buffer", "c-first-recv-only",
                "c-exits-after-one", "c-iterative", "py-iterative", "c-strlen", "py-no-reuseaddr"]
SLOW_BUGS = ["c-no-htons", "c-no-sigterm", "c-port-in-use-hangs", "c-no-listen"]
SPEC = SPECS / "tcp-echo.yaml"


def mix(size: int) -> list[str]:
    """Sample names for a class of ``size``: 80% correct, 18% typical bugs, 2% slow bugs
    (exactly, for multiples of 200), in a fixed shuffled order."""
    per200 = [name for name, n in CORRECT.items() for _ in range(n)]
    per200 += [name for name in TYPICAL_BUGS for _ in range(3)]
    per200 += SLOW_BUGS
    assert len(per200) == 200
    rng = random.Random(0)
    names = per200 * (size // 200) + rng.sample(per200, size % 200)
    rng.shuffle(names)
    return names


def composition(names: list[str]) -> str:
    correct = sum(1 for n in names if n in CORRECT)
    slow = sum(1 for n in names if n in SLOW_BUGS)
    return (f"{correct} correct (C and Python), {len(names) - correct - slow} with a typical bug, "
            f"{slow} with a bug that waits out deadlines")


def make_class(root: Path, size: int) -> Path:
    cls = root / f"class-{size}"
    cls.mkdir()
    for i, sample in enumerate(mix(size)):
        (cls / f"{i:04d}-{sample}").symlink_to(SUBMISSIONS / "tcp-echo" / sample, target_is_directory=True)
    return cls


class MemorySampler(threading.Thread):
    """Peak RSS of a process (the coordinator) and of it plus its worker children."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak_coordinator = 0
        self.peak_grader = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            try:
                own = self.proc.memory_info().rss
                workers = 0
                for c in self.proc.children():
                    try:
                        if "spawn_main" in " ".join(c.cmdline()):
                            workers += c.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            self.peak_coordinator = max(self.peak_coordinator, own)
            self.peak_grader = max(self.peak_grader, own + workers)


def children_cpu() -> float:
    """CPU seconds of every descendant waited for so far (the batch and all it started)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_batch(cls: Path, out: Path, jobs: int) -> dict:
    cpu0, busy0 = children_cpu(), machine_busy()
    t = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(SPEC), str(cls),
                             "--jobs", str(jobs), "--out", str(out), "--progress", "lines"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    _, err = proc.communicate(timeout=3600)
    wall = time.monotonic() - t
    ours, busy = children_cpu() - cpu0, machine_busy() - busy0
    sampler.stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(err[-3000:])
    docs = [json.loads(p.read_text()) for p in (out / "results").glob("*.json")]
    n = len(list(cls.iterdir()))
    assert len(docs) == n, (len(docs), n)
    correct = [d["duration"] for d in docs if "correct" in d["student"]]
    crashed = sum(1 for d in docs if d["status"] == "crashed")
    return {"wall": wall, "rate": n / wall, "median_correct": median(correct),
            "median_all": median([d["duration"] for d in docs]),
            "coordinator_mb": sampler.peak_coordinator / 2**20,
            "grader_mb": sampler.peak_grader / 2**20, "crashed": crashed,
            "full": sum(1 for d in docs if d["score"] == d["max_score"]),
            "cpu_per_sub": ours / n,
            "others_load": max(0.0, busy - ours) / wall}


def run_naive(cls: Path, jobs: int) -> dict:
    folders = sorted(cls.iterdir())
    t = time.monotonic()
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(naive_grade, folders))
    wall = time.monotonic() - t
    correct = [r.seconds for f, r in zip(folders, results) if "correct" in f.name]
    return {"wall": wall, "rate": len(folders) / wall, "median_correct": median(correct),
            "passed": sum(r.ok for r in results)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--jobs", default="1,2,4,8")
    ap.add_argument("--repeats", type=int, default=3, help="batch runs per --jobs (the median is kept)")
    ap.add_argument("--memory-sizes", default="50,100,200,400")
    ap.add_argument("--no-naive", action="store_true")
    ap.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="throughput-"))
    try:
        cls = make_class(tmp, args.size)
        rows, best = [], (0.0, 1)
        for jobs in [int(j) for j in args.jobs.split(",")]:
            runs = sorted((run_batch(cls, tmp / f"out-{jobs}-{i}", jobs) for i in range(args.repeats)),
                          key=lambda r: r["rate"])
            ours = runs[len(runs) // 2]
            best = max(best, (ours["rate"], jobs))
            naive = None if args.no_naive else run_naive(cls, jobs)
            rows.append([jobs, f"{ours['wall']:.1f} s", f"**{ours['rate']:.2f}/s**",
                         f"{runs[0]['rate']:.2f}–{runs[-1]['rate']:.2f}/s",
                         f"{ours['median_correct']:.2f} s", f"{ours['cpu_per_sub']:.2f} s",
                         f"{ours['others_load']:.2f}", f"{ours['coordinator_mb']:.0f} MB",
                         f"{ours['grader_mb']:.0f} MB", ours["full"], ours["crashed"],
                         f"{naive['wall']:.1f} s" if naive else "-",
                         f"{naive['rate']:.2f}/s" if naive else "-",
                         f"{naive['median_correct']:.2f} s" if naive else "-",
                         naive["passed"] if naive else "-"])
            print(rows[-1], flush=True)
        md = (f"Machine: {machine()}\n\nClass: {args.size} tcp-echo submissions (symlinked samples: "
              f"{composition(mix(args.size))}), full spec, fresh output folder (nothing resumed); "
              f"the batch's figures are from the median of {args.repeats} runs at each --jobs, "
              "the naive grader's from one.\n\n"
              + table(["--jobs", "wall", "submissions/s", f"range over {args.repeats} runs",
                       "median per correct submission",
                       "CPU per submission", "other load (cores)", "peak RSS coordinator", "peak RSS coordinator+workers", "full marks",
                       "crashed", "naive: wall", "naive: submissions/s",
                       "naive: median per correct submission", "naive: passed"], rows))
        sizes = [int(s) for s in args.memory_sizes.split(",") if s]
        if sizes:
            mem_rows = []
            for size in sizes:
                c = cls if size == args.size else make_class(tmp, size)
                m = run_batch(c, tmp / f"mem-{size}", best[1])
                mem_rows.append([size, best[1], f"{m['wall']:.1f} s", f"{m['rate']:.2f}/s",
                                 f"{m['others_load']:.2f}",
                                 f"{m['coordinator_mb']:.0f} MB", f"{m['grader_mb']:.0f} MB"])
                print(mem_rows[-1], flush=True)
            md += ("\n\nMemory against class size (at the best --jobs):\n\n"
                   + table(["submissions", "--jobs", "wall", "submissions/s", "other load (cores)",
                            "peak RSS coordinator",
                            "peak RSS coordinator+workers"], mem_rows))
        print(md)
        if args.write:
            write_section("throughput", md)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
