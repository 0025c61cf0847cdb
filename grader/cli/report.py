"""grader report RESULTS: write the class report (one static HTML page) from stored results.

RESULTS is the ``--out`` folder of ``grader batch`` or ``grader merge``, or a
``results.json`` gradebook (``--format json``).  The page goes to
RESULTS/class-report.html (or next to the results.json), or to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import SpecError, UsageError
from ..reporters.classreport import FILENAME, render
from ..reporters.jsonfmt import atomic_write
from ..resources import resolve_spec
from ..resultstore import MANIFEST, SPEC_COPY, ResultStore, read_manifest
from ..results import SubmissionResult
from ..spec import Spec, load_spec
from . import EXIT_OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", metavar="RESULTS",
                   help="a grader batch/merge output folder, or a results.json gradebook")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help=f"where to write the page (default: {FILENAME} in that folder)")
    p.add_argument("--spec", default=None, metavar="SPEC",
                   help="the spec, for the title and test order (default: the folder's copy)")


def from_folder(folder: Path) -> tuple[list[SubmissionResult], Path | None]:
    """The results a batch folder is responsible for, and its spec copy."""
    manifest = read_manifest(folder)
    store = ResultStore(folder)
    results = []
    for student in manifest.students:
        stored = store.load(student)
        if stored is not None and stored.result.spec_hash == manifest.spec_hash:
            results.append(stored.result)
    missing = len(manifest.students) - len(results)
    if missing:
        print(f"grader: warning: {missing} of {len(manifest.students)} submissions have no "
              "result yet; the report shows the others", file=sys.stderr)
    spec = folder / SPEC_COPY
    return results, spec if spec.is_file() else None


def from_gradebook(path: Path) -> list[SubmissionResult]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return [SubmissionResult.from_dict(d) for d in doc["submissions"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path}: not a socket-grader results.json ({e})") from None


def run(args: argparse.Namespace) -> int:
    src = Path(args.results)
    spec_path: Path | None = resolve_spec(args.spec) if args.spec else None
    if src.is_dir() and (src / MANIFEST).is_file():
        results, copy = from_folder(src)
        spec_path = spec_path or copy
        default_out = src / FILENAME
    elif src.is_file():
        results = from_gradebook(src)
        default_out = src.parent / FILENAME
    elif src.is_dir() and (src / "results.json").is_file():
        results = from_gradebook(src / "results.json")
        default_out = src / FILENAME
    else:
        raise UsageError(f"{src}: no batch results there (no {MANIFEST} and no results.json)",
                         hint="give the --out folder of grader batch or grader merge")
    spec: Spec | None = None
    if spec_path is not None:
        try:
            spec = load_spec(spec_path)
        except SpecError:
            if args.spec:
                raise
    out: Path = args.out or default_out
    atomic_write(out, render(results, spec))
    print(f"wrote {out} ({len(results)} submissions)", file=sys.stderr)
    return EXIT_OK
