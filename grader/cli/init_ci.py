"""grader init-ci SPEC [--dir REPO]: give an assignment repo a GitHub Actions workflow.

It writes ``REPO/.github/workflows/socket-grader.yml``, which on every push
installs socket-grader, lets the sandbox use user namespaces where the runner
restricts them, runs ``grader check`` (the student's self-check: visible tests
only) on the repo, shows the Markdown summary on the run's page with an
annotation per failing test, keeps the JUnit file and the JSON results as an
artifact, and fails the job below full marks on the tests it ran.

socket-grader is not on the package index, so the workflow installs it from
something that exists: by default the running grader as a wheel
(:mod:`grader.wheel`), written to ``REPO/.github/socket-grader/`` to be committed
with the workflow; or whatever ``--install`` names (a ``git+https://`` URL of the
course's copy, say), with no wheel written.  The output says which.

A spec outside REPO is copied to ``REPO/.github/socket-grader/<name>`` so the
workflow can read it.  docs/ci.md explains the workflow step by step.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

from .. import __version__
from ..errors import GraderError, UsageError
from ..resources import reference_dir
from ..spec import Spec
from ..wheel import build_wheel, wheel_name
from .common import add_spec, spec_from

WORKFLOW_PATH = Path(".github/workflows/socket-grader.yml")
COPIED_SPEC_DIR = Path(".github/socket-grader")
RESULTS_DIR = "grader-results"
PYTHON_VERSION = "3.11"
# Minutes for installing Python and socket-grader, on top of the spec's own limits.
INSTALL_MINUTES = 5

WORKFLOW = """\
# Written by `grader init-ci` (socket-grader {version}); docs/ci.md explains it.
# On every push it grades this repository against {spec_shown} with the
# student's self-check (visible tests only): the feedback shows on the run's page
# (step summary and annotations), the JUnit file and the JSON results are kept as
# an artifact, and the job fails below full marks on the tests it ran.
name: socket-grader

on:
  push:
  pull_request:
  workflow_dispatch:

permissions:
  contents: read

jobs:
  grade:
    runs-on: ubuntu-latest
    timeout-minutes: {minutes}
    env:
      SPEC: {spec}
      SUBMISSION: {submission}
      RESULTS: {results}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "{python}"
      - name: Install socket-grader
        id: install
        run: |
          python -m pip install {install}
      - name: Let the sandbox use user namespaces
        id: userns
        # Ubuntu 24.04 runner images restrict unprivileged user namespaces through
        # AppArmor; the grader's sandbox needs them, and runners have passwordless sudo.
        env:
          RESTRICT: /proc/sys/kernel/apparmor_restrict_unprivileged_userns
        run: |
          if [ "$(cat "$RESTRICT" 2>/dev/null)" = 1 ]; then
            sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0
          fi
          grader doctor || true
      - name: Grade
        id: grade
        run: |
          set +e
          grader check "$SPEC" "$SUBMISSION" --format markdown,junit,json --out "$RESULTS"
          status=$?
          set -e
          # 2 or more: the grader could not run (a bad spec path, say): fail as it said.
          if [ "$status" -ge 2 ]; then exit "$status"; fi
          # 1 means below full marks -- or only that hidden tests are not run here,
          # so the results decide: every test that ran must have passed.
          python - "$RESULTS/results.json" <<'EOF'
          import json, sys
          result = json.load(open(sys.argv[1]))["submissions"][0]
          lost = [t["name"] for t in result["tests"] if t["status"] != "passed"]
          if result["status"] != "graded" or lost:
              sys.exit(f"socket-grader: below full marks ({{result['status']}}): "
                       + (", ".join(lost) or "no test ran"))
          print(f"socket-grader: full marks on the {{len(result['tests'])}} tests run here")
          EOF
      - name: Keep the results
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: {results}
          path: {results}/
          if-no-files-found: ignore
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p)
    p.add_argument("--dir", type=Path, default=Path("."), metavar="REPO",
                   help="the assignment repository (default: the current folder)")
    p.add_argument("--submission", default=".", metavar="PATH",
                   help="the folder in REPO holding the student's code (default: REPO itself)")
    p.add_argument("--install", default=None, metavar="REQUIREMENT",
                   help="what the workflow gives to pip install instead of the bundled wheel, "
                        "e.g. git+https://github.com/COURSE/socket-grader@v0.1.0 (default: this "
                        f"grader as a wheel, written to {COPIED_SPEC_DIR}/{wheel_name()} to be "
                        "committed with the workflow)")
    p.add_argument("--force", action="store_true", help="replace an existing workflow file")


def _yaml_str(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value)


def _shell_word(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def spec_in_repo(spec: Spec, repo: Path, force: bool) -> tuple[str, Path | None]:
    """The spec's path relative to ``repo``, copying it into the repo when it lies outside.

    Returns the relative path and the copy written (``None`` if none was needed).
    """
    source = spec.path.resolve()
    try:
        return source.relative_to(repo.resolve()).as_posix(), None
    except ValueError:
        pass
    target = repo / COPIED_SPEC_DIR / source.name
    if target.exists() and target.read_bytes() != source.read_bytes() and not force:
        raise UsageError(f"{target}: exists and differs from {spec.path}",
                         hint="use --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return (COPIED_SPEC_DIR / source.name).as_posix(), target


def workflow_text(spec: Spec, spec_rel: str, submission: str, install: str) -> str:
    minutes = INSTALL_MINUTES + math.ceil((spec.limits["build"] + spec.limits["total"]) / 60)
    return WORKFLOW.format(version=__version__, spec_shown=spec_rel, minutes=minutes,
                           spec=_yaml_str(spec_rel), submission=_yaml_str(submission),
                           results=RESULTS_DIR, python=PYTHON_VERSION,
                           install=_shell_word(install))


def run(args: argparse.Namespace) -> int:
    spec = spec_from(args)
    repo: Path = args.dir
    if not repo.is_dir():
        raise UsageError(f"{repo}: no such folder (give the assignment repo with --dir)")
    if Path(args.submission).is_absolute() or ".." in Path(args.submission).parts:
        raise UsageError(f"--submission {args.submission}: give a folder inside the repo, "
                         "relative to it")
    target = repo / WORKFLOW_PATH
    if target.exists() and not args.force:
        raise UsageError(f"{target}: exists already", hint="use --force to replace it")
    spec_rel, copied = spec_in_repo(spec, repo, args.force)
    wheel = None
    if args.install is None:
        wheel, removed = bundle_wheel(repo)
        install = (COPIED_SPEC_DIR / wheel.name).as_posix()
    else:
        install, removed = args.install, []
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(workflow_text(spec, spec_rel, args.submission, install), encoding="utf-8")
    written = [target]
    if copied:
        print(f"wrote {copied} (a copy of {spec.path})")
        written.append(copied)
    for old in removed:
        print(f"removed {old} (an older socket-grader wheel)")
    if wheel is not None:
        print(f"wrote {wheel}: socket-grader {__version__} as a wheel "
              f"({wheel.stat().st_size // 1024} KiB); the workflow installs it with pip "
              "(its dependencies come from the package index)")
        written.append(wheel)
    else:
        print(f"the workflow installs socket-grader with: pip install {install}")
    print(f"wrote {target}: grades {args.submission!r} against {spec_rel} on every push")
    if own_reference(spec):
        print(f"note: {spec.path} has its own reference implementations ({spec.reference_dir}); "
              "they are not copied into the repo (they would give the solution away), so its "
              "tests that run them end in ERR there", file=sys.stderr)
    print("commit " + " ".join(str(p.relative_to(repo)) for p in written)
          + "; the run's page shows the summary, and the job fails below full marks")
    return 0


def bundle_wheel(repo: Path) -> tuple[Path, list[Path]]:
    """Write this grader's wheel beside the copied spec; remove other versions' wheels there."""
    folder = repo / COPIED_SPEC_DIR
    removed = [p for p in sorted(folder.glob("socket_grader-*.whl")) if p.name != wheel_name()]
    for old in removed:
        old.unlink()
    return build_wheel(folder), removed


def own_reference(spec: Spec) -> bool:
    """Whether the spec uses reference implementations other than the grader's own."""
    try:
        return spec.reference_dir.resolve() != reference_dir().resolve()
    except GraderError:
        return False
