"""grader merge DIR...: join the output folders of sharded batch runs into one gradebook.

Each DIR is the ``--out`` folder of one ``grader batch --shard K/N`` run.  The
merged folder looks like one batch's output (results/, batch.json, spec.yaml,
class-report.html), so ``grader report`` reads it, and ``grader batch --out``
it resumes from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UsageError
from ..merge import gather
from ..reporters import classreport, parse_formats, write_reports
from ..reporters.terminal import report_table
from ..resources import resolve_spec
from ..resultstore import (RESULTS_SUBDIR, OutputLock, ResultStore, copy_spec,
                           write_manifest)
from ..spec import load_spec
from . import EXIT_OK
from .common import existing_dir

DEFAULT_OUT = Path("grader-results")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", metavar="DIR", nargs="+", help="the --out folders of the shard runs")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                   help="folder for the merged results and formats (default: ./grader-results)")
    p.add_argument("--format", default="json", metavar="FMT[,FMT...]",
                   help="formats to write, as for grader batch (default: json)")
    p.add_argument("--spec", default=None, metavar="SPEC",
                   help="the spec (default: the copy the first shard kept); must be the same spec")
    p.add_argument("--partial", action="store_true",
                   help="merge even if shards are missing or incomplete (for a look; not for grades)")


def run(args: argparse.Namespace) -> int:
    dirs = [existing_dir(d, "batch output folder") for d in args.dirs]
    out: Path = args.out
    if any(out.resolve() == d.resolve() for d in dirs):
        raise UsageError(f"--out {out} is one of the folders being merged",
                         hint="merge into a new folder")
    formats = parse_formats(args.format)
    got = gather(dirs, partial=args.partial)
    spec_path = resolve_spec(args.spec) if args.spec else got.spec_copy
    spec = load_spec(spec_path)
    if spec.hash != got.manifest.spec_hash:
        raise UsageError(f"{spec_path}: is spec {spec.hash}, but the shards were graded "
                         f"against {got.manifest.spec_hash}")
    for w in got.warnings:
        print(f"grader: warning: {w}", file=sys.stderr)
    store = ResultStore(out)
    with OutputLock(out):
        store.remove_stale_temp_files()
        for s in got.stored:
            store.save(s.result, s.key)
        copy_spec(out, spec_path)
        write_manifest(out, got.manifest)
    results = got.results
    report_table(results, spec, sys.stdout)
    print(f"merged {len(results)} results from {len(dirs)} folders into {out / RESULTS_SUBDIR}",
          file=sys.stderr)
    for path in classreport.write(results, spec, out) + write_reports(formats, results, spec, out):
        print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK
