"""Where the grader's own files are: reference implementations and the shipped specs.

Theory of operation
-------------------
The repository keeps ``reference/`` and ``specs/`` at its top level (beside
``grader/``), where authors edit them.  A built wheel carries them *inside* the
package, as ``grader/_data/reference/`` and ``grader/_data/specs/``
(pyproject.toml maps the two folders there with ``package-dir``, and
:mod:`grader.wheel` does the same when the grader bundles itself).  So there are
two layouts, and one resolver for both:

- installed from a wheel: ``<site-packages>/grader/_data/<name>``;
- a checkout, run in place or installed editable: ``<repo>/<name>``.

Every part of the grader that needs one of these folders asks :func:`data_dir`
(or :func:`reference_dir`, :func:`shipped_spec`); nothing else computes such
paths.  Shims (``grader/shims/*.c``) are ordinary package data beside their
module and need no resolver.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

PACKAGE_DIR = Path(__file__).resolve().parent
# The subpackage a wheel carries the data folders in (see pyproject.toml).
DATA_PACKAGE = "_data"


@dataclass(frozen=True)
class DataFolder:
    """A top-level folder of the repository that the wheel carries inside the package."""

    name: str                   # the folder in the repository, and under grader/_data/
    patterns: tuple[str, ...]   # the files of it that ship (glob patterns, one level)


# Keep in step with [tool.setuptools] package-dir / package-data in pyproject.toml;
# tests/test_installed_wheel.py checks that both wheels hold the same files.
DATA_FOLDERS = {
    "reference": DataFolder("reference", ("*.py",)),
    "specs": DataFolder("specs", ("*.yaml",)),
}


def checkout_root() -> Path | None:
    """The source checkout this grader runs from (holding pyproject.toml of socket-grader), if any."""
    root = PACKAGE_DIR.parent
    pyproject = root / "pyproject.toml"
    try:
        if pyproject.is_file() and 'name = "socket-grader"' in pyproject.read_text(errors="replace"):
            return root
    except OSError:
        pass
    return None


def data_dir(name: str) -> Path:
    """The folder ``name`` ("reference" or "specs") of the grader that runs.

    The installed copy inside the package wins; a checkout's top-level folder is
    the other place.  Raises a :class:`~grader.errors.UsageError` naming both places
    where neither exists (a broken install).
    """
    folder = DATA_FOLDERS[name]
    packaged = PACKAGE_DIR / DATA_PACKAGE / folder.name
    if packaged.is_dir():
        return packaged
    root = checkout_root()
    if root is not None and (root / folder.name).is_dir():
        return root / folder.name
    raise UsageError(f"socket-grader's {folder.name}/ folder is missing: looked in {packaged}"
                     + (f" and {root / folder.name}" if root else ""),
                     hint="reinstall socket-grader (pip install --force-reinstall socket_grader-*.whl)")


def reference_dir() -> Path:
    """The reference implementations of the shipped assignments."""
    return data_dir("reference")


def data_files(name: str) -> list[Path]:
    """The files of data folder ``name`` that a wheel carries, sorted."""
    base = data_dir(name)
    found: set[Path] = set()
    for pattern in DATA_FOLDERS[name].patterns:
        found.update(p for p in base.glob(pattern) if p.is_file())
    return sorted(found)


def shipped_specs() -> dict[str, Path]:
    """The shipped specs by their bare name: ``{"tcp-echo": .../specs/tcp-echo.yaml, ...}``."""
    try:
        return {p.stem: p for p in data_files("specs")}
    except UsageError:
        return {}


def shipped_spec(name: str) -> Path | None:
    """The shipped spec a bare name means (``tcp-echo`` or ``tcp-echo.yaml``), or None."""
    if "/" in name or "\\" in name:
        return None
    stem = name[:-5] if name.endswith(".yaml") else name
    return shipped_specs().get(stem)


def resolve_spec(arg: str | Path) -> Path:
    """What a SPEC argument names: an existing file as given, else a shipped spec by its
    bare name (``grader check tcp-echo DIR``), else the path as given (loading it then
    says that no such file exists)."""
    path = Path(arg)
    if path.exists():
        return path
    shipped = shipped_spec(str(arg))
    return shipped if shipped is not None else path
