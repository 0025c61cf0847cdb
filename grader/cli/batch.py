"""grader batch SPEC DIR: grade every submission under DIR into a gradebook.

DIR is a folder of submission folders, or a Canvas, Moodle or Gradescope export
(a folder, or the .zip the platform gives): :mod:`grader.intake` makes one
folder per student (under OUT/intake/) and lists everyone it could not take,
who then appear in the gradebook as "not gradable" with the reason.

Each result is written to OUT/results/<student>.json as it finishes; a re-run
keeps the results whose submission and spec did not change (``--force``
regrades).  ``--shard K/N`` grades one deterministic share of the class for
``grader merge`` to join.  Ctrl-C (or SIGTERM, as Slurm and Kubernetes send)
stops the running gradings and keeps every finished result.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path
from typing import Iterator, TextIO

from ..batch import Shard, default_jobs, run_batch
from ..engine import GradeOptions
from ..errors import UsageError
from ..intake import Intake, not_gradable_result, prepare
from ..progress import make_progress
from ..reporters import parse_formats, write_reports
from ..reporters import classreport
from ..reporters.platforms import check_combination
from ..reporters.terminal import report_table
from ..resultstore import RESULTS_SUBDIR
from ..spec import Spec
from . import EXIT_INTERRUPTED, EXIT_OK
from .common import add_run_options, add_spec, spec_from

DEFAULT_OUT = Path("grader-results")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p)
    p.add_argument("root", metavar="DIR",
                   help="a folder holding one folder per submission, or a Canvas, Moodle or "
                        "Gradescope export of submissions (a folder or .zip)")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help=f"submissions graded at once (default: {default_jobs()} on this machine)")
    p.add_argument("--force", action="store_true",
                   help="grade every submission again, even those whose stored result still holds")
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="grade only shard K of N (a fixed share of the folders; join with grader merge)")
    p.add_argument("--test", action="append", metavar="NAME",
                   help="run only this test (repeatable); results then hold only these tests")
    p.add_argument("--progress", choices=["auto", "bar", "lines"], default="auto",
                   help="progress on stderr: a bar on a terminal, plain lines otherwise (default: auto)")
    add_run_options(p)
    for action in p._actions:          # the shared --out help speaks of formats only
        if action.dest == "out":
            action.help = ("folder for the results (DIR/results/<student>.json, kept between "
                           "runs), the class report and the --format files (default: ./grader-results)")


@contextlib.contextmanager
def sigterm_is_ctrl_c() -> Iterator[None]:
    """Schedulers stop jobs with SIGTERM: treat it as Ctrl-C (stop cleanly, keep results)."""
    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt
    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:            # not the main thread (an embedding caller): leave it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def tell_intake(intake: Intake, out: TextIO) -> None:
    """What the intake made of DIR, when it was more than plain folders: everyone accounted for."""
    if intake.kind != "folders" or intake.not_gradable or intake.ignored:
        print(f"intake: {intake.summary()}", file=out)
    for n in intake.not_gradable:
        print(f"  not gradable: {n.student}: {n.message}", file=out)
    for line in intake.ignored:
        print(f"  left out: {line}", file=out)


def check_tests(spec: Spec, names: list[str] | None) -> None:
    """Refuse --test names the spec does not have."""
    unknown = [n for n in names or [] if n not in {t.name for t in spec.tests}]
    if unknown:
        raise UsageError(f"{spec.path}: no test named {', '.join(unknown)} "
                         f"(tests: {', '.join(t.name for t in spec.tests)})")


def run(args: argparse.Namespace) -> int:
    spec = spec_from(args)
    root = Path(args.root)
    if not root.exists():
        raise UsageError(f"{root}: no such folder of submissions")
    formats = parse_formats(args.format)
    check_tests(spec, args.test)
    shard = Shard.parse(args.shard) if args.shard else None
    jobs = args.jobs or default_jobs()
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    out = args.out or DEFAULT_OUT
    intake = prepare(root, out, expected_files={f for lang in spec.languages.values()
                                                for f in lang.files})
    folders = intake.folders
    if not folders and (intake.kind == "folders" or not intake.not_gradable):
        raise UsageError(f"{root}: holds no submission folders",
                         hint="give the folder holding one folder per student, or an LMS export; "
                              "grade one submission with grader check")
    ungraded = [not_gradable_result(spec, n) for n in intake.not_gradable]
    if shard:
        folders = [f for f in folders if shard.holds(f.name)]
        ungraded = [r for r in ungraded if shard.holds(r.student)]
    tell_intake(intake, sys.stderr)
    check_combination(formats, len(folders) + len(ungraded))
    options = GradeOptions(tier=args.tier, seed=args.seed, visible_only=False, only=args.test,
                           tests_at_once=args.tests_at_once)
    progress = make_progress(sys.stderr, args.progress)
    try:
        with sigterm_is_ctrl_c():
            done = run_batch(Path(args.spec), folders, out, jobs=jobs, options=options,
                             force=args.force, shard=shard, events=progress, ungraded=ungraded)
    except KeyboardInterrupt:
        progress.close()
        print(f"grader: interrupted; the {progress.counts.done} submissions graded before it "
              f"are kept in {out / RESULTS_SUBDIR}; run the same command again to grade the rest",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    progress.close()
    results = done.results
    if results:
        report_table(results, spec, sys.stdout)
    else:
        print(f"shard {shard} holds none of the "
              f"{len(intake.folders) + len(intake.not_gradable)} submissions", file=sys.stderr)
    print(f"{done.graded} graded, {done.kept} kept from an earlier run; results in "
          f"{out / RESULTS_SUBDIR}", file=sys.stderr)
    for path in classreport.write(results, spec, out):
        print(f"wrote {path}", file=sys.stderr)
    if formats:
        for path in write_reports(formats, results, spec, out):
            print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK
