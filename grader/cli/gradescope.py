"""grader gradescope SPEC: build the Gradescope autograder zip for an assignment.

The zip (upload it under "Configure Autograder" as a zip file) holds:

- ``setup.sh``: run once by Gradescope, as root, while it builds the image: it
  installs Python, a C compiler and make, then socket-grader (from the copy of
  its source in the zip, so the image grades with exactly this version) into
  the virtual environment :data:`VENV`;
- ``run_autograder``: run for every submission: ``grader check --all --format
  gradescope`` on ``/autograder/submission``, writing
  ``/autograder/results/results.json``; if grading fails or is cut off before
  that file exists, its exit trap writes one that says so (first with
  socket-grader's own fallback writer, which still lists every test; if even
  Python fails, a minimal file with score 0 and a message);
- ``spec/<the spec's file name>``: the spec, as given;
- ``socket-grader/``: socket-grader's source (``grader/``, ``pyproject.toml``),
  when this grader runs from a source checkout; an installed socket-grader
  instead makes ``setup.sh`` install the same version from the package index.

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
from ..errors import UsageError
from ..spec import Spec
from .common import add_spec, spec_from

VENV = "/opt/socket-grader"
SOURCE = "/autograder/source"
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
export DEBIAN_FRONTEND=noninteractive
apt-get update
# Python for socket-grader; a C compiler and make to build students' C code.
apt-get install -y --no-install-recommends python3 python3-venv python3-pip build-essential
python3 -m venv {venv}
{venv}/bin/python -m pip install --upgrade pip
{venv}/bin/python -m pip install {install}
# Log which sandbox tier this image gives (it shows in the image build log).
{venv}/bin/grader doctor || true
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
                 'submission. This is not your program\'s fault: please tell your instructor.", '
                 '"stdout_visibility": "hidden", "tests": []}')


@dataclass(frozen=True)
class Entry:
    name: str
    data: bytes
    executable: bool = False


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_spec(p)
    p.add_argument("--out", type=Path, default=Path("autograder.zip"), metavar="ZIP",
                   help="the zip to write (default: ./autograder.zip)")


def source_checkout() -> Path | None:
    """socket-grader's source checkout (holding grader/ and pyproject.toml), if it runs from one."""
    root = Path(__file__).resolve().parent.parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "socket-grader"' in pyproject.read_text(errors="replace"):
        return root
    return None


def source_entries(root: Path) -> list[Entry]:
    """grader/ (without caches), pyproject.toml and README.md, under socket-grader/."""
    entries = [Entry("socket-grader/pyproject.toml", (root / "pyproject.toml").read_bytes())]
    if (root / "README.md").is_file():
        entries.append(Entry("socket-grader/README.md", (root / "README.md").read_bytes()))
    for path in sorted((root / "grader").rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix not in (".pyc", ".so"):
            entries.append(Entry(f"socket-grader/{rel.as_posix()}", path.read_bytes()))
    return entries


def script_entries(spec: Spec, install: str) -> list[Entry]:
    """setup.sh and run_autograder; ``install`` is what setup.sh gives to pip install."""
    limit = int(spec.limits["build"] + spec.limits["total"]) + KILL_MARGIN
    fields = dict(version=__version__, venv=VENV, install=install, spec_name=spec.path.name,
                  time_limit=limit, fallback_json=FALLBACK_JSON.replace("'", "'\"'\"'"))
    return [Entry("setup.sh", SETUP_SH.format(**fields).encode(), executable=True),
            Entry("run_autograder", RUN_AUTOGRADER.format(**fields).encode(), executable=True)]


def build_zip(spec: Spec, out: Path) -> list[str]:
    """Write the autograder zip for ``spec`` to ``out``; returns the entry names."""
    root = source_checkout()
    install = f"{SOURCE}/socket-grader" if root else shlex.quote(f"socket-grader=={__version__}")
    entries = script_entries(spec, install) + [Entry(f"spec/{spec.path.name}", spec.path.read_bytes())]
    if root:
        entries += source_entries(root)
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


def run(args: argparse.Namespace) -> int:
    spec = spec_from(args)
    if not spec.path.name or " " in spec.path.name or spec.path.name != shlex.quote(spec.path.name):
        raise UsageError(f"{spec.path}: rename the spec to a file name without spaces or quotes "
                         "(it is used in the run_autograder script)")
    names = build_zip(spec, args.out)
    hidden = sum(1 for t in spec.tests if t.visibility != "visible")
    bundled = any(n.startswith("socket-grader/") for n in names)
    print(f"wrote {args.out}: {len(names)} files, {spec.assignment} (spec {spec.hash}, "
          f"{len(spec.tests)} tests, {spec.total_points:g} points, {hidden} not visible at once)")
    print("socket-grader: " + ("its source is in the zip" if bundled else
                               f"setup.sh installs socket-grader=={__version__} from the package index"))
    print("upload it in Gradescope under Configure Autograder > Zip file upload; "
          f"set the assignment's total to {spec.total_points:g} points")
    return 0
