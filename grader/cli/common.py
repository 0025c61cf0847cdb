"""Options shared by several commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from ..spec import Spec, load_spec

TIERS = ["auto", "root", "userns", "none"]


def add_spec(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC",
                   help="the assignment spec (YAML), e.g. specs/tcp-echo.yaml, or the bare name of "
                        "a shipped spec, e.g. tcp-echo (grader --help lists them)")


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tier", choices=TIERS, default="auto",
                   help="sandbox tier (default: the best this machine allows; see grader doctor)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed for random data and timing (default: the spec's); replays a failure")
    p.add_argument("--tests-at-once", type=_positive, default=None, metavar="N",
                   help="at most N tests on this machine at once, for every grader running here "
                        "together (default: $SOCKET_GRADER_TESTS_AT_ONCE, else 12 per processor, at least 16; "
                        "1 runs a submission's tests one by one)")
    p.add_argument("--format", default=None, metavar="FMT[,FMT...]",
                   help="also write these formats: json, gradescope, prairielearn, junit, csv, "
                        "markdown, html, autolab")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="folder for the --format files (default: ./grader-results)")


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def spec_from(args: argparse.Namespace) -> Spec:
    """The spec SPEC names; ``args.spec`` becomes its path (a bare name resolved), for
    commands that hand the path on (batch workers load it again)."""
    spec = load_spec(args.spec)
    args.spec = str(spec.path)
    return spec


def existing_dir(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{p}: no such {what}")
    if not p.is_dir():
        raise UsageError(f"{p}: is a file, not a {what}")
    return p
