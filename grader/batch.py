"""Grading many submissions in parallel.

Each submission is graded in a worker process (started with ``spawn``, so a
worker begins clean and a crash in one grading cannot corrupt the grader),
each in its own box.  Results come back as plain dicts in completion order;
a worker that dies is replaced and its submission reported as crashed, so one
bad submission never stalls or fails the batch.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator

from . import __version__
from .engine import GradeOptions, grade
from .results import SubmissionResult, SubmissionStatus
from .spec import load_spec


def default_jobs() -> int:
    """Waiting on sockets is cheap: twice the cores, at least 2, at most 16."""
    return max(2, min(16, 2 * (os.cpu_count() or 1)))


def find_submissions(root: Path) -> list[Path]:
    """The submission folders under ``root``: its visible subfolders, sorted by name."""
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _grade_one(spec_path: str, folder: str, options: dict) -> dict:
    spec = load_spec(spec_path)
    try:
        return grade(spec, folder, GradeOptions(**options)).to_dict()
    except Exception as e:     # the grader failed on this one: report, never stall the batch
        return crashed(spec, Path(folder), f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}").to_dict()


def crashed(spec, folder: Path, why: str) -> SubmissionResult:
    return SubmissionResult(
        student=folder.name, submission=str(folder), assignment=spec.assignment,
        spec_hash=spec.hash, tier="unknown", status=SubmissionStatus.CRASHED, score=0.0,
        max_score=spec.total_points, tests=[], message=f"the grader failed on this submission: {why}",
        grader_version=__version__)


def grade_many(spec_path: Path, folders: list[Path], *, jobs: int, options: GradeOptions,
               ) -> Iterator[SubmissionResult]:
    """Grade ``folders`` with ``jobs`` workers; yield each result as it is finished."""
    opts = {k: v for k, v in asdict(options).items() if k not in ("on_test", "student")}
    spec = load_spec(spec_path)
    todo = list(folders)
    ctx = multiprocessing.get_context("spawn")
    while todo:
        pool = ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo))), mp_context=ctx)
        futures: dict[Future, Path] = {}
        try:
            for f in todo:
                futures[pool.submit(_grade_one, str(spec_path), str(f), opts)] = f
            todo = []
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    folder = futures[fut]
                    try:
                        yield SubmissionResult.from_dict(fut.result())
                    except BrokenProcessPool:
                        # A worker died (killed, out of memory): report the ones that
                        # cannot be told apart as crashed only if they fail again alone.
                        todo.append(folder)
            if todo and len(todo) == 1:
                folder = todo.pop()
                yield crashed(spec, folder, "its worker process died")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


ProgressFn = Callable[[SubmissionResult, int, int], None]
