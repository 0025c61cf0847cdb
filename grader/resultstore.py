"""Where a batch keeps its results: one file per submission, written as each finishes.

Theory of operation
-------------------
A batch's output folder (``--out``, default ``grader-results/``) holds:

``results/<student>.json``  one submission's result (``SubmissionResult.to_dict``)
                            plus a ``batch`` object with its resume key.  Each is
                            written atomically (temp file, fsync, rename) the moment
                            the submission is graded, so a crash or a kill loses at
                            most the gradings that were running, never a finished
                            one, and never leaves a half-written file.
``batch.json``              the manifest: the spec's hash, the shard, and which
                            submissions this output is responsible for.  ``grader
                            merge`` and ``grader report`` read it.
``spec.yaml``               a copy of the spec, so the folder is self-contained
                            (merge on another machine, report later).
``.batch.lock``             held (flock) while a batch writes here: one writer.

Resume: a stored result is reused when its *resume key* equals the key the
submission would get now.  The key hashes the submission's files, the spec's
hash, the grader's version and the options that change results (seed, test
subset, tier), so editing one file, one test, or upgrading the grader regrades.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from . import __version__
from .errors import UsageError
from .reporters.jsonfmt import atomic_write
from .results import SubmissionResult

RESULTS_SUBDIR = "results"
MANIFEST = "batch.json"
SPEC_COPY = "spec.yaml"
LOCK = ".batch.lock"
BATCH_KEY = "batch"             # the extra object in each per-submission file
MANIFEST_VERSION = 1
# Folders a submission's hash leaves out (the work dir copy leaves them out too).
IGNORED_NAMES = frozenset({".git", "__pycache__"})
_CHUNK = 1 << 20


def file_stem(student: str) -> str:
    """A submission's name as one safe path component (it names a folder already, but
    an API caller may set any name)."""
    stem = "".join(c if c.isprintable() and c not in '/\\\0' else "_" for c in student).strip()
    return stem if stem not in ("", ".", "..") and not stem.startswith(".") else f"_{stem}"


def submission_hash(folder: Path) -> str:
    """A hash of everything in ``folder`` that grading sees: paths, contents, links, modes.

    ``folder`` itself may be a symlink (a class folder of links); links inside
    it are hashed as links, the way the grader copies them.
    """
    h = hashlib.sha256()
    root = folder.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_NAMES)
        rel_dir = Path(dirpath).relative_to(root)
        for name in sorted(filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]):
            if name in IGNORED_NAMES:
                continue
            path = Path(dirpath) / name
            rel = (rel_dir / name).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                h.update(f"L\0{rel}\0{os.readlink(path)}\0".encode())
            elif stat.S_ISREG(st.st_mode):
                h.update(f"F\0{rel}\0{st.st_mode & 0o111:o}\0{st.st_size}\0".encode())
                with open(path, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        h.update(chunk)
    return h.hexdigest()[:16]


def resume_key(files_hash: str, spec_hash: str, options: dict[str, Any]) -> str:
    """The key under which a result may be reused (see the module docstring)."""
    material = json.dumps({"files": files_hash, "spec": spec_hash, "grader": __version__,
                           "options": options}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Stored:
    """A result read back from a batch folder, with the key it was stored under."""

    result: SubmissionResult
    key: str


class ResultStore:
    """The per-submission result files of one output folder."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.dir = out_dir / RESULTS_SUBDIR

    def path_for(self, student: str) -> Path:
        return self.dir / f"{file_stem(student)}.json"

    def save(self, result: SubmissionResult, key: str) -> Path:
        """Write one result atomically; returns its path."""
        doc = result.to_dict()
        doc[BATCH_KEY] = {"key": key}
        path = self.path_for(result.student)
        atomic_write(path, json.dumps(doc, indent=1) + "\n")
        return path

    def load(self, student: str) -> Stored | None:
        """The stored result of ``student``, or None if there is none usable."""
        return read_result_file(self.path_for(student))

    def remove_stale_temp_files(self) -> int:
        """Remove temp files a killed writer left (call only while holding the lock)."""
        removed = 0
        if self.dir.is_dir():
            for p in self.dir.glob(".*.json.*"):
                try:
                    p.unlink()
                    removed += 1
                except OSError:
                    pass
        return removed

    def __iter__(self) -> Iterator[Stored]:
        if not self.dir.is_dir():
            return
        for p in sorted(self.dir.glob("*.json")):
            stored = read_result_file(p)
            if stored is not None:
                yield stored


def read_result_file(path: Path) -> Stored | None:
    """One per-submission file; None if missing or unreadable (it is then regraded)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        batch = doc.pop(BATCH_KEY, None) or {}
        return Stored(SubmissionResult.from_dict(doc), str(batch.get("key", "")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError):
        return None


# ---------------------------------------------------------------- the manifest

@dataclass
class Manifest:
    """What one output folder holds: which submissions, graded against which spec."""

    assignment: str
    spec_hash: str
    shard: str                     # "K/N", "1/1" for a whole batch, "merged" after merge
    students: list[str]
    grader_version: str = __version__
    complete: bool = False         # every listed submission has a result here

    def to_dict(self) -> dict[str, Any]:
        return {"manifest_version": MANIFEST_VERSION, "assignment": self.assignment,
                "spec_hash": self.spec_hash, "shard": self.shard, "students": self.students,
                "grader_version": self.grader_version, "complete": self.complete}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Manifest":
        return cls(assignment=d["assignment"], spec_hash=d["spec_hash"], shard=d["shard"],
                   students=list(d["students"]), grader_version=d.get("grader_version", ""),
                   complete=bool(d.get("complete", False)))


def write_manifest(out_dir: Path, manifest: Manifest) -> Path:
    path = out_dir / MANIFEST
    atomic_write(path, json.dumps(manifest.to_dict(), indent=1) + "\n")
    return path


def read_manifest(out_dir: Path) -> Manifest:
    path = out_dir / MANIFEST
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise UsageError(f"{out_dir}: not a grader batch output folder (it has no {MANIFEST})",
                         hint="give the --out folder of a `grader batch` run") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path}: cannot read the batch manifest: {e}") from None


def copy_spec(out_dir: Path, spec_path: Path) -> Path:
    path = out_dir / SPEC_COPY
    atomic_write(path, spec_path.read_text(encoding="utf-8"))
    return path


# ---------------------------------------------------------------- one writer

class OutputLock:
    """An exclusive lock on an output folder for as long as a batch writes to it."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / LOCK
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise UsageError(f"{self.path.parent}: another grader batch is writing there",
                                 hint="wait for it, or give this run another --out") from None
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
