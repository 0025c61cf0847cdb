"""socket-grader's own JSON result format (schema in docs/results.md)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Sequence

from ..results import RESULT_SCHEMA_VERSION, SubmissionResult
from ..spec import Spec


def current_umask() -> int:
    """The process's umask, read without changing it (os.umask sets it: not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half.

    The file gets the mode any new file gets (0666 less the umask), not the temp
    file's private 0600, so TAs in the course's group can read the results."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_each(results: Sequence[SubmissionResult], spec: Spec, out_dir: Path, fmt: str,
               document_of) -> list[Path]:
    """One ``results.json`` per submission (Gradescope, PrairieLearn): where
    :func:`~grader.reporters.views.submission_path` says, written atomically."""
    from .views import submission_path
    single = len(results) == 1
    written = []
    for r in results:
        path = submission_path(out_dir, fmt, r, "results.json", single=single)
        atomic_write(path, json.dumps(document_of(r, spec), indent=2) + "\n")
        written.append(path)
    return written


def document(results: Sequence[SubmissionResult], spec: Spec) -> dict:
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "assignment": spec.assignment,
        "spec_hash": spec.hash,
        "max_score": spec.total_points,
        "submissions": [r.to_dict() for r in results],
    }


def write(results: Sequence[SubmissionResult], spec: Spec, out_dir: Path) -> list[Path]:
    path = out_dir / "results.json"
    atomic_write(path, json.dumps(document(results, spec), indent=2) + "\n")
    return [path]
