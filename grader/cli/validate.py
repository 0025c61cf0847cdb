"""grader validate SPEC: the spec against its reference implementation must score 100%."""

from __future__ import annotations

import argparse
import sys

from ..engine import GradeOptions, grade_reference
from ..reporters.terminal import report_one
from . import EXIT_NOT_FULL, EXIT_OK
from .common import TIERS, add_spec, spec_from


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p)
    p.add_argument("--tier", choices=TIERS, default="auto")
    p.add_argument("--seed", type=int, default=None)


def run(args: argparse.Namespace) -> int:
    spec = spec_from(args)
    result = grade_reference(spec, GradeOptions(tier=args.tier, seed=args.seed))
    report_one(result, spec, sys.stdout)
    if result.full_marks:
        print(f"{spec.path}: valid, the reference scores 100%")
        return EXIT_OK
    print(f"{spec.path}: the reference scores {result.score:g}/{result.max_score:g}: "
          "fix the spec or the reference", file=sys.stderr)
    return EXIT_NOT_FULL
