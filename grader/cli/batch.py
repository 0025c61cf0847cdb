"""grader batch SPEC DIR: grade every submission folder under DIR into a gradebook."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..batch import default_jobs, find_submissions, grade_many
from ..engine import GradeOptions
from ..errors import UsageError
from ..reporters import parse_formats, write_reports
from ..reporters.platforms import check_combination
from ..reporters.terminal import report_table
from . import EXIT_OK
from .common import add_run_options, add_spec, existing_dir, spec_from


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p)
    p.add_argument("root", metavar="DIR", help="a folder holding one folder per submission")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help=f"submissions graded at once (default: {default_jobs()} on this machine)")
    add_run_options(p)


def run(args: argparse.Namespace) -> int:
    spec = spec_from(args)
    root = existing_dir(args.root, "folder of submissions")
    formats = parse_formats(args.format)
    folders = find_submissions(root)
    if not folders:
        raise UsageError(f"{root}: holds no submission folders")
    check_combination(formats, len(folders))
    jobs = args.jobs or default_jobs()
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    options = GradeOptions(tier=args.tier, seed=args.seed, visible_only=False)
    results = []
    started = time.monotonic()
    for i, r in enumerate(grade_many(Path(args.spec), folders, jobs=jobs, options=options), 1):
        results.append(r)
        print(f"[{i}/{len(folders)}] {r.student}: {r.score:g}/{r.max_score:g} ({r.status.value})",
              file=sys.stderr, flush=True)
    results.sort(key=lambda r: r.student)
    print(file=sys.stderr)
    report_table(results, spec, sys.stdout)
    print(f"graded {len(results)} submissions in {time.monotonic() - started:.1f} s with {jobs} jobs",
          file=sys.stderr)
    if formats:
        out = args.out or Path("grader-results")
        for path in write_reports(formats, results, spec, out):
            print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK
