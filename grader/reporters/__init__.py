"""Reporters: each turns plain result objects into one output format.

A reporter only reads :class:`~grader.results.SubmissionResult` objects; it never
runs anything.  ``FORMATS`` maps a ``--format`` name to a writer
``write(results, spec, out_dir) -> list[Path]`` (the files it wrote).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from ..errors import UsageError
from ..results import SubmissionResult
from ..spec import Spec

Writer = Callable[[Sequence[SubmissionResult], Spec, Path], list[Path]]


def _formats() -> dict[str, Writer]:
    from . import jsonfmt
    formats: dict[str, Writer] = {"json": jsonfmt.write}
    try:
        from . import platforms     # gradescope, prairielearn, junit, csv, markdown, html, autolab
        formats.update(platforms.WRITERS)
    except ImportError:
        pass
    return formats


def parse_formats(value: str | None) -> list[str]:
    if not value:
        return []
    names = [v.strip() for v in value.split(",") if v.strip()]
    known = _formats()
    for n in names:
        if n not in known:
            raise UsageError(f"unknown format {n!r} (choose from: {', '.join(known)})")
    return names


def write_reports(names: Sequence[str], results: Sequence[SubmissionResult], spec: Spec,
                  out_dir: Path) -> list[Path]:
    known = _formats()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for n in names:
        written += known[n](results, spec, out_dir)
    return written
