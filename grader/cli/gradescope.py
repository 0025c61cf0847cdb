"""grader gradescope SPEC: build the Gradescope autograder zip for an assignment.

The zip (upload it under "Configure Autograder" as a zip file) holds:

- ``socket_grader-<version>-py3-none-any.whl``: the grader that wrote the zip, as a
  wheel (:mod:`grader.wheel`: from a checkout, an editable install or a wheel
  install alike), so the image grades with exactly this grader; socket-grader is
  not on the package index;
- ``setup.sh``: run once by Gradescope, as root, while it builds the image: it
  installs Python, a C compiler and make, then the wheel into the virtual
  environment :data:`VENV` (its dependencies come from the package index, as pip
  fetches any dependency);
- ``run_autograder``: run for every submission: ``grader check --all --format
  gradescope`` on ``/autograder/submission``, writing
  ``/autograder/results/results.json``; if grading fails or is cut off before
  that file exists, its exit trap writes one that says so (first with
  socket-grader's own fallback writer, which still lists every test; if even
  Python fails, a minimal file with score 0 and a message);
- ``spec/<the spec's file name>``: the spec, as given;
- ``reference/``: the spec's own reference implementations, when it has some
  beside it (``specs/x.yaml`` with ``reference/``) other than the grader's own,
  which the wheel carries.

Both scripts take ``AUTOGRADER_ROOT`` (default ``/autograder``) and
``SOCKET_GRADER_VENV`` (default :data:`VENV`), so they can be tried outside
Gradescope; ``SOCKET_GRADER_SKIP_APT=1`` makes setup.sh leave the system
packages alone (tests/test_gradescope_zip.py runs both scripts that way).

The zip is reproducible: entries are sorted and dated 1980-01-01, so the same
spec and socket-grader give the same bytes.
"""

from __future__ import annotations

import argparse
import shlex
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import GraderError, UsageError
from ..resources import checkout_root, reference_dir
from ..spec import Spec
from ..wheel import wheel_bytes, wheel_name
from .common import add_spec, spec_from

VENV = "/opt/socket-grader"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Seconds the grader may take beyond the spec's build and whole-run limits before
# run_autograder stops it, so that the trap still writes results.json well before
# Gradescope's own time limit ends the container.
KILL_MARGIN = 60

SETUP_SH = """\
#!/usr/bin/env bash
# Written by `grader gradescope` (socket-grader {version}).
# Gradescope runs this once, as root, while it builds the autograder image.
set -euxo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"          # overridable to try this script locally
VENV="${{SOCKET_GRADER_VENV:-{venv}}}"
if [ -z "${{SOCKET_GRADER_SKIP_APT:-}}" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # Python for socket-grader; a C compiler and make to build students' C code.
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip build-essential
fi
python3 -m venv "$VENV"
# socket-grader from the wheel in this zip (it is not on the package index);
# its dependencies (PyYAML, pytest, psutil, jsonschema, ...) from the index as usual.
"$VENV/bin/python" -m pip install "$ROOT/source/{wheel}"
# Log which sandbox tier this image gives (it shows in the image build log).
"$VENV/bin/grader" doctor || true
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Written by `grader gradescope` (socket-grader {version}).
# Gradescope runs this for every submission: it grades /autograder/submission with
# every test of {spec_name} and writes /autograder/results/results.json, always:
# if grading fails, the exit trap writes a results file that says so.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"          # overridable to try this script locally
VENV="${{SOCKET_GRADER_VENV:-{venv}}}"
GRADER="${{SOCKET_GRADER:-$VENV/bin/grader}}"
PYTHON="${{SOCKET_GRADER_PYTHON:-$VENV/bin/python}}"
SPEC="$ROOT/source/spec/{spec_name}"
RESULTS="$ROOT/results"
ERRLOG="$(mktemp)"
mkdir -p "$RESULTS"
rm -f "$RESULTS/results.json"

write_fallback() {{
    status=$?
    cat "$ERRLOG" >&2                   # the grader's stderr, for the instructor's log
    if [ -s "$RESULTS/results.json" ]; then
        rm -f "$ERRLOG"
        return
    fi
    echo "run_autograder: grading failed (exit status $status); writing a results.json that says so" >&2
    $PYTHON -c 'import sys; from grader.reporters.gradescope import write_fallback; write_fallback(*sys.argv[1:])' \\
        "$SPEC" "$RESULTS/results.json" "$status" "$ERRLOG" \\
    || printf '%s\\n' '{fallback_json}' > "$RESULTS/results.json"
    rm -f "$ERRLOG"
}}
trap write_fallback EXIT
trap 'exit 143' TERM INT

cd "$ROOT/source"
# Exit status 1 only means "below full marks": the results file is what counts.
timeout --kill-after=10 {time_limit} $GRADER check --all --format gradescope --out "$RESULTS" \\
    "$SPEC" "$ROOT/submission" 2>"$ERRLOG"
"""

# The last resort, if socket-grader's own Python cannot even start.
FALLBACK_JSON = ('{"score": 0, "output": "The autograder failed before it could grade this '
                 'submission. This is not your program\'s fault: your instructor can see what '
                 'went wrong and will regrade it.", "stdout_visibility": "hidden", "tests": []}')


@dataclass(frozen=True)
class Entry:
    name: str
    data: bytes
    executable: bool = False


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p)
    p.add_argument("--out", type=Path, default=Path("autograder.zip"), metavar="ZIP",
                   help="the zip to write (default: ./autograder.zip)")


def reference_entries(spec: Spec) -> list[Entry]:
    """The spec's own reference folder (beside its folder), under reference/, unless it is
    the grader's own (the wheel carries that one)."""
    ref = spec.reference_dir.resolve()
    try:
        if ref == reference_dir().resolve():
            return []
    except GraderError:
        pass
    entries = []
    for path in sorted(ref.rglob("*")):
        rel = path.relative_to(ref)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
            entries.append(Entry(f"reference/{rel.as_posix()}", path.read_bytes(),
                                 executable=bool(path.stat().st_mode & 0o111)))
    return entries


def script_entries(spec: Spec) -> list[Entry]:
    """setup.sh and run_autograder."""
    limit = int(spec.limits["build"] + spec.limits["total"]) + KILL_MARGIN
    fields = dict(version=__version__, venv=VENV, wheel=wheel_name(), spec_name=spec.path.name,
                  time_limit=limit, fallback_json=FALLBACK_JSON.replace("'", "'\"'\"'"))
    return [Entry("setup.sh", SETUP_SH.format(**fields).encode(), executable=True),
            Entry("run_autograder", RUN_AUTOGRADER.format(**fields).encode(), executable=True)]


def build_zip(spec: Spec, out: Path) -> list[str]:
    """Write the autograder zip for ``spec`` to ``out``; returns the entry names."""
    entries = script_entries(spec) + [Entry(f"spec/{spec.path.name}", spec.path.read_bytes()),
                                      Entry(wheel_name(), wheel_bytes())]
    entries += reference_entries(spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for e in sorted(entries, key=lambda e: e.name):
                info = zipfile.ZipInfo(e.name, date_time=ZIP_DATE)
                info.external_attr = (0o100755 if e.executable else 0o100644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, e.data)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return sorted(e.name for e in entries)


def where_from() -> str:
    root = checkout_root()
    return f"the checkout {root}" if root else "the installed package"


def run(args: argparse.Namespace) -> int:
    spec = spec_from(args)
    if not spec.path.name or " " in spec.path.name or spec.path.name != shlex.quote(spec.path.name):
        raise UsageError(f"{spec.path}: rename the spec to a file name without spaces or quotes "
                         "(it is used in the run_autograder script)")
    names = build_zip(spec, args.out)
    hidden = sum(1 for t in spec.tests if t.visibility != "visible")
    refs = sum(1 for n in names if n.startswith("reference/"))
    print(f"wrote {args.out}: {len(names)} files, {spec.assignment} (spec {spec.hash}, "
          f"{len(spec.tests)} tests, {spec.total_points:g} points, {hidden} not visible at once)")
    print(f"socket-grader {__version__}: bundled as {wheel_name()} (this grader, built from "
          f"{where_from()}); setup.sh installs it with pip, its dependencies from the package index")
    if refs:
        print(f"the spec's own reference implementations: {refs} files under reference/")
    print("upload it in Gradescope under Configure Autograder > Zip file upload; "
          f"set the assignment's total to {spec.total_points:g} points")
    return 0
