"""grader init-ci SPEC [--dir REPO]: give an assignment repo a GitHub Actions workflow.

It writes ``REPO/.github/workflows/socket-grader.yml``, which on every push
installs socket-grader, runs ``grader check`` (the student's self-check: visible
tests only) on the repo, shows the Markdown summary on the run's page with an
annotation per failing test, keeps the JUnit file and the JSON results as an
artifact, and fails the job below full marks on the tests it ran.

A spec outside REPO is copied to ``REPO/.github/socket-grader/<name>`` so the
workflow can read it.  docs/ci.md explains the workflow step by step.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

from .. import __version__
from ..errors import UsageError
from ..spec import Spec
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
    p.add_argument("--install", default=f"socket-grader=={__version__}", metavar="REQUIREMENT",
                   help="what the workflow gives to pip install (default: this version, "
                        f"socket-grader=={__version__}; e.g. a git+https:// URL)")
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
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(workflow_text(spec, spec_rel, args.submission, args.install), encoding="utf-8")
    if copied:
        print(f"wrote {copied} (a copy of {spec.path})")
    print(f"wrote {target}: grades {args.submission!r} against {spec_rel} on every push")
    print("commit both; the run's page shows the summary, and the job fails below full marks")
    return 0
