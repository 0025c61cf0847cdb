"""The running grader as a wheel: what ``grader gradescope`` and ``grader init-ci`` bundle.

Theory of operation
-------------------
An autograder image and a CI runner must install *this* grader, and socket-grader
is not on the package index.  So the grader packs itself into a wheel, whichever
way it runs:

- from a source checkout (in place, or installed editable): the package's files,
  plus the checkout's ``reference/`` and ``specs/`` put where the wheel keeps them
  (``grader/_data/``, see :mod:`grader.resources`); the metadata comes from
  pyproject.toml;
- installed from a wheel: the installed package's files (``_data`` included) and
  the metadata of its installed distribution.

Either way the wheel holds the same files as the one ``pip wheel .`` builds
from the checkout (tests/test_installed_wheel.py compares them), and the same
grader gives the same bytes: entries are sorted and dated 1980-01-01.
No build backend and no network are needed.
"""

from __future__ import annotations

import base64
import io
import hashlib
import importlib.metadata
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .errors import UsageError
from .resources import DATA_FOLDERS, DATA_PACKAGE, PACKAGE_DIR, checkout_root, data_files

DIST_NAME = "socket-grader"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Package data besides *.py (keep in step with pyproject.toml's package-data).
PACKAGE_DATA = ("shims/*.c",)


def wheel_name(version: str = __version__) -> str:
    return f"socket_grader-{version}-py3-none-any.whl"


@dataclass(frozen=True)
class Metadata:
    metadata: str          # the METADATA file
    entry_points: str      # entry_points.txt


def package_files() -> list[tuple[str, Path]]:
    """(name in the wheel, file) for every file the wheel carries under ``grader/``."""
    files: dict[str, Path] = {}
    for path in sorted(PACKAGE_DIR.rglob("*")):
        rel = path.relative_to(PACKAGE_DIR)
        if not path.is_file() or "__pycache__" in rel.parts or rel.parts[0] == DATA_PACKAGE:
            continue
        in_package = (path.parent / "__init__.py").is_file()
        if (path.suffix == ".py" and in_package) or any(rel.match(p) for p in PACKAGE_DATA):
            files[f"grader/{rel.as_posix()}"] = path
    for name in DATA_FOLDERS:
        for path in data_files(name):
            files[f"grader/{DATA_PACKAGE}/{name}/{path.name}"] = path
    return sorted(files.items())


def _toml(path: Path) -> dict:
    try:
        import tomllib                      # Python 3.11+
    except ModuleNotFoundError:             # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib         # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise UsageError(f"{path}: reading it needs Python 3.11 or the tomli package",
                             hint="pip install tomli, or install socket-grader first") from None
    return tomllib.loads(path.read_text(encoding="utf-8"))


def metadata_from_pyproject(pyproject: Path) -> Metadata:
    """METADATA and entry_points.txt written from pyproject.toml's [project] table."""
    project = _toml(pyproject)["project"]
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {__version__}"]
    if project.get("description"):
        lines.append(f"Summary: {project['description']}")
    lic = project.get("license")
    if isinstance(lic, dict) and lic.get("text"):
        lines.append(f"License: {lic['text']}")
    elif isinstance(lic, str):
        lines.append(f"License-Expression: {lic}")
    lines += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]
    for extra, deps in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {d}; extra == "{extra}"' for d in deps]
    groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
    eps = "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()) + "\n"
                  for group, entries in groups.items() if entries)
    return Metadata("\n".join(lines) + "\n", eps)


def metadata_installed() -> Metadata:
    """METADATA and entry_points.txt of the installed distribution (a wheel install)."""
    try:
        dist = importlib.metadata.distribution(DIST_NAME)
    except importlib.metadata.PackageNotFoundError:
        raise UsageError("socket-grader runs neither from a checkout nor from an install, "
                         "so it cannot bundle itself",
                         hint="pip install socket-grader from its wheel or checkout") from None
    if dist.version != __version__:
        raise UsageError(f"the installed socket-grader metadata says {dist.version}, the "
                         f"package {__version__}", hint="reinstall socket-grader")
    return Metadata(dist.read_text("METADATA") or "", dist.read_text("entry_points.txt") or "")


def current_metadata() -> Metadata:
    """From pyproject.toml in a checkout (it may be newer than an editable install's
    metadata); from the installed distribution otherwise, or where pyproject.toml cannot
    be read (Python 3.10 without tomli, in an editable install)."""
    root = checkout_root()
    if root is None:
        return metadata_installed()
    try:
        return metadata_from_pyproject(root / "pyproject.toml")
    except UsageError:
        return metadata_installed()


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def wheel_bytes_entries() -> list[tuple[str, bytes]]:
    """Every entry of the wheel, RECORD last, as (name, bytes)."""
    meta = current_metadata()
    if not re.search(r"^Name: socket-grader$", meta.metadata, re.M):
        raise UsageError("socket-grader's metadata does not name the package",
                         hint="reinstall socket-grader")
    info = f"socket_grader-{__version__}.dist-info"
    entries = [(name, path.read_bytes()) for name, path in package_files()]
    entries += [(f"{info}/METADATA", meta.metadata.encode()),
                (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: socket-grader "
                 + __version__.encode() + b"\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
                (f"{info}/entry_points.txt", meta.entry_points.encode()),
                (f"{info}/top_level.txt", b"grader\n")]
    record = "".join(_record_line(n, d) + "\n" for n, d in entries) + f"{info}/RECORD,,\n"
    return entries + [(f"{info}/RECORD", record.encode())]


def build_wheel(out_dir: Path) -> Path:
    """Write the running grader's wheel into ``out_dir``; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / wheel_name()
    path.write_bytes(wheel_bytes())
    return path


def wheel_bytes() -> bytes:
    """The running grader's wheel, as bytes (the same grader always gives the same bytes)."""

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in wheel_bytes_entries():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()
