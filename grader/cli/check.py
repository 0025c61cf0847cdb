"""grader check SPEC SUBMISSION: grade one submission with full feedback."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine import GradeOptions, grade
from ..reporters import parse_formats, write_reports
from ..reporters.platforms import check_combination
from ..reporters.terminal import report_one
from ..results import SubmissionStatus
from . import EXIT_NOT_FULL, EXIT_OK
from .common import add_run_options, add_spec, existing_dir, spec_from


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p)
    p.add_argument("submission", metavar="SUBMISSION", help="the folder holding the submission")
    p.add_argument("--all", action="store_true",
                   help="also run hidden and after-due-date tests (the instructor's view)")
    p.add_argument("--test", action="append", metavar="NAME", help="run only this test (repeatable)")
    add_run_options(p)


def run(args: argparse.Namespace) -> int:
    spec = spec_from(args)
    folder = existing_dir(args.submission, "submission folder")
    formats = parse_formats(args.format)
    check_combination(formats, 1)
    if args.test:
        unknown = [n for n in args.test if n not in {t.name for t in spec.tests}]
        if unknown:
            from ..errors import UsageError
            raise UsageError(f"{spec.path}: no test named {', '.join(unknown)} "
                             f"(tests: {', '.join(t.name for t in spec.tests)})")
    options = GradeOptions(tier=args.tier, seed=args.seed, visible_only=not args.all, only=args.test,
                           tests_at_once=args.tests_at_once)
    result = grade(spec, folder, options)
    report_one(result, spec, sys.stdout)
    if formats:
        out = args.out or Path("grader-results")
        for path in write_reports(formats, [result], spec, out):
            print(f"wrote {path}")
    if "autolab" in formats:          # Autolab reads the last line of stdout: print it last
        from ..reporters.autolab import scores_line
        print(scores_line(result, spec))
    if args.test:        # a replay of chosen tests: they all passed, or not
        ran_all = result.status is SubmissionStatus.GRADED and result.tests
        return EXIT_OK if ran_all and all(t.passed for t in result.tests) else EXIT_NOT_FULL
    return EXIT_OK if result.full_marks else EXIT_NOT_FULL
