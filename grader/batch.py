"""Grading a class: which submissions, which of them need grading, and grading them.

Theory of operation
-------------------
``run_batch`` grades the submission folders it is given into an output folder
(:mod:`grader.resultstore`): first it decides, per submission, whether its
stored result can be kept (same files, same spec, same grader, same options:
the *resume key*) or it must be graded; then a :class:`~grader.workers.WorkerPool`
grades the rest in parallel, and each result is written to its own file the
moment it arrives.  The gradebook is gathered from all of them at the end.

A class too large for one machine is split with ``--shard K/N``: a submission
belongs to shard ``sha256(folder name) mod N``, so every machine computes the
same split without talking to the others, and adding a submission never moves
another one to a different shard.  ``grader merge`` joins the shards' folders.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from .engine import GradeOptions
from .errors import UsageError
from .resultstore import (Manifest, OutputLock, ResultStore, copy_spec, resume_key,
                          submission_hash, write_manifest)
from .results import SubmissionResult, SubmissionStatus
from .spec import Spec, load_spec
from .workers import GradeFn, WorkerPool, crashed, grade_to_dict

# Results that say the *grader* failed are never kept: a re-run grades them again.
NOT_KEPT = (SubmissionStatus.CRASHED,)
# Waiting on sockets is cheap; building and starting boxes is not.  Measured on
# 2 cores (benchmarks/RESULTS.md): throughput rises up to about 4 jobs per core.
JOBS_PER_CORE = 4
MAX_DEFAULT_JOBS = 32


def default_jobs() -> int:
    """A sensible number of gradings at once for this machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(2, min(MAX_DEFAULT_JOBS, JOBS_PER_CORE * cores))


def find_submissions(root: Path) -> list[Path]:
    """The submission folders under ``root``: its visible subfolders, sorted by name."""
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


# ---------------------------------------------------------------- shards

@dataclass(frozen=True)
class Shard:
    """Shard ``k`` of ``n`` (1-based, as job arrays number them)."""

    k: int
    n: int

    WHOLE_TEXT = "1/1"

    @classmethod
    def parse(cls, text: str) -> "Shard":
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not m:
            raise UsageError(f"--shard {text!r}: expected K/N, e.g. 2/8 (shard 2 of 8)")
        k, n = int(m.group(1)), int(m.group(2))
        if n < 1 or not 1 <= k <= n:
            raise UsageError(f"--shard {text}: K must be between 1 and N (N at least 1)")
        return cls(k, n)

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"

    def holds(self, student: str) -> bool:
        return shard_index(student, self.n) == self.k - 1


def shard_index(student: str, n: int) -> int:
    """The 0-based shard of a submission folder name: stable, and the same on every machine."""
    digest = hashlib.sha256(student.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % n


# ---------------------------------------------------------------- planning

@dataclass
class Plan:
    """Which submissions to grade (with their keys) and which stored results to keep."""

    todo: list[tuple[Path, str]] = field(default_factory=list)
    kept: list[SubmissionResult] = field(default_factory=list)


def key_options(options: GradeOptions) -> dict:
    """The options that change a result, as they enter the resume key."""
    return {"seed": options.seed, "only": sorted(options.only) if options.only else None,
            "tier": options.tier, "visible_only": options.visible_only}


def plan(store: ResultStore, spec: Spec, folders: Sequence[Path], options: GradeOptions,
         *, force: bool) -> Plan:
    """Split ``folders`` into stored results that still hold and submissions to grade.

    Those to grade are ordered longest-first by their previous duration where one
    is known (a slow submission started last would finish the batch late).
    """
    p = Plan()
    opts = key_options(options)
    previous: dict[Path, float] = {}
    for folder in folders:
        key = resume_key(submission_hash(folder), spec.hash, opts)
        stored = store.load(folder.name)
        if stored is not None:
            if (not force and stored.key == key and stored.result.status not in NOT_KEPT
                    and stored.result.student == folder.name):
                p.kept.append(stored.result)
                continue
            previous[folder] = stored.result.duration
        p.todo.append((folder, key))
    p.todo.sort(key=lambda fk: -previous.get(fk[0], 0.0))
    return p


# ---------------------------------------------------------------- running

class Events(Protocol):
    """What a front end is told while a batch runs (see grader.progress)."""

    def start(self, total: int, kept: int, jobs: int) -> None: ...
    def result(self, r: SubmissionResult) -> None: ...


class _Quiet:
    def start(self, total: int, kept: int, jobs: int) -> None:
        pass

    def result(self, r: SubmissionResult) -> None:
        pass


@dataclass
class BatchResult:
    """A finished batch: every submission's result (kept and new), sorted by student."""

    results: list[SubmissionResult]
    graded: int
    kept: int


def run_batch(spec_path: Path, folders: Sequence[Path], out_dir: Path, *, jobs: int,
              options: GradeOptions, force: bool = False, shard: Shard | None = None,
              events: Events | None = None, target: GradeFn = grade_to_dict,
              watchdog: float | None = None,
              ungraded: Sequence[SubmissionResult] = ()) -> BatchResult:
    """Grade ``folders`` into ``out_dir``, keeping stored results that still hold.

    ``ungraded``: results made without grading (students of an LMS export that
    could not be taken, see grader.intake); stored and listed with the rest.

    On KeyboardInterrupt the running gradings are stopped and every finished
    result is on disk before the exception propagates.
    """
    events = events or _Quiet()
    spec = load_spec(spec_path)
    store = ResultStore(out_dir)
    manifest = Manifest(spec.assignment, spec.hash, str(shard or Shard.WHOLE_TEXT),
                        [f.name for f in folders] + [r.student for r in ungraded])
    with OutputLock(out_dir):
        store.remove_stale_temp_files()
        copy_spec(out_dir, Path(spec_path))
        write_manifest(out_dir, manifest)
        work = plan(store, spec, folders, options, force=force)
        keys = {folder: key for folder, key in work.todo}
        results = list(work.kept)
        for r in ungraded:
            store.save(r, "not-gradable")
            results.append(r)
        events.start(len(folders), len(work.kept), jobs)
        pool = WorkerPool(Path(spec_path), options, jobs=jobs, target=target, watchdog=watchdog)
        try:
            with pool:
                for outcome in pool.results([f for f, _ in work.todo]):
                    store.save(outcome.result, keys[outcome.folder])
                    results.append(outcome.result)
                    events.result(outcome.result)
        except BaseException:
            for outcome in pool.late:
                store.save(outcome.result, keys[outcome.folder])
                events.result(outcome.result)
            raise
        manifest.complete = True
        write_manifest(out_dir, manifest)
    results.sort(key=lambda r: r.student)
    return BatchResult(results, graded=len(work.todo), kept=len(work.kept))


def grade_many(spec_path: Path, folders: list[Path], *, jobs: int, options: GradeOptions,
               target: GradeFn = grade_to_dict, watchdog: float | None = None,
               ) -> Iterator[SubmissionResult]:
    """Grade ``folders`` with ``jobs`` workers, writing nothing; yield each result as it finishes."""
    return grade_each([(Path(spec_path), f) for f in folders], jobs=jobs, options=options,
                      target=target, watchdog=watchdog)


def grade_each(tasks: Sequence[tuple[Path, Path]], *, jobs: int, options: GradeOptions,
               target: GradeFn = grade_to_dict, watchdog: float | None = None,
               ) -> Iterator[SubmissionResult]:
    """Grade each ``(spec path, folder)`` with ``jobs`` workers shared by all the
    assignments, writing nothing; yield each result as it finishes (its ``assignment``
    says which spec it was graded against)."""
    if not tasks:
        return
    with WorkerPool(Path(tasks[0][0]), options, jobs=jobs, target=target,
                    watchdog=watchdog) as pool:
        for outcome in pool.each(list(tasks)):
            yield outcome.result


__all__ = ["BatchResult", "Plan", "Shard", "crashed", "default_jobs", "find_submissions",
           "grade_each", "grade_many", "plan", "run_batch", "shard_index"]
