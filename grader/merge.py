"""Joining the output folders of ``grader batch --shard K/N`` runs into one class.

Each shard's folder says (``batch.json``) which spec it graded against and
which submissions it is responsible for.  Merging checks that they fit
together before it trusts them: one spec, one N, every shard present once,
every listed submission with a result, no submission twice.  Anything else is
an error that names the folder and what to do (``--partial`` merges what is
there anyway, e.g. to look at a class report while a shard is still running).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .errors import UsageError
from .resultstore import SPEC_COPY, Manifest, ResultStore, Stored, read_manifest
from .results import SubmissionResult


@dataclass
class Gathered:
    """The results of several batch folders, checked to belong together."""

    manifest: Manifest
    stored: list[Stored]
    spec_copy: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def results(self) -> list[SubmissionResult]:
        return [s.result for s in self.stored]


def _shard_of(m: Manifest) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d+)/(\d+)", m.shard)
    return (int(match.group(1)), int(match.group(2))) if match else None


def gather(dirs: Sequence[Path], *, partial: bool = False) -> Gathered:
    """Read and cross-check the batch folders ``dirs``; see the module docstring."""
    if not dirs:
        raise UsageError("give at least one batch output folder")
    manifests = [(d, read_manifest(d)) for d in dirs]
    first_dir, first = manifests[0]
    problems: list[str] = []
    for d, m in manifests[1:]:
        if m.spec_hash != first.spec_hash:
            raise UsageError(f"{d}: graded against spec {m.spec_hash}, but {first_dir} against "
                             f"{first.spec_hash}", hint="grade every shard with the same spec")
    shards = [(d, _shard_of(m)) for d, m in manifests]
    ns = {s[1] for _, s in shards if s}
    if len(ns) > 1:
        raise UsageError(f"the folders are shards of different splits ({', '.join(f'N={n}' for n in sorted(ns))})")
    if ns:
        n = ns.pop()
        seen: dict[int, Path] = {}
        for d, s in shards:
            if s is None:
                continue
            if s[0] in seen:
                raise UsageError(f"{d}: shard {s[0]}/{n} is also in {seen[s[0]]}")
            seen[s[0]] = d
        missing = [k for k in range(1, n + 1) if k not in seen]
        if missing:
            problems.append(f"shard{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(f'{k}/{n}' for k in missing)} not given")
    results: list[Stored] = []
    owner: dict[str, Path] = {}
    for d, m in manifests:
        store = ResultStore(d)
        absent = []
        for student in m.students:
            if student in owner:
                raise UsageError(f"{d}: submission {student!r} is also in {owner[student]}",
                                 hint="each submission must be graded by one shard only")
            owner[student] = d
            stored = store.load(student)
            if stored is None or stored.result.spec_hash != m.spec_hash:   # none, or a stale one
                absent.append(student)
            else:
                results.append(stored)
        if absent:
            problems.append(f"{d} has no result for {len(absent)} of its {len(m.students)} "
                            f"submissions (e.g. {absent[0]!r}); run that shard again (it resumes)")
    if problems and not partial:
        raise UsageError("; ".join(problems), hint="--partial merges what is there")
    results.sort(key=lambda s: s.result.student)
    merged = Manifest(first.assignment, first.spec_hash, "merged", [s.result.student for s in results],
                      grader_version=first.grader_version, complete=not problems)
    return Gathered(merged, results, first_dir / SPEC_COPY, problems)
