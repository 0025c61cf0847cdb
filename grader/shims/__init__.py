"""LD_PRELOAD shims the grader compiles from its own C sources, once per process."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from ..errors import GraderError

SOURCES = {"partial-writes": Path(__file__).with_name("partial_writes.c")}
# partial_writes.c's shorten(): a send on a stream socket accepts at most half of what it
# was asked, and at most this many bytes.
PARTIAL_WRITE_MOST = 1000


def partial_write_size(asked: int) -> int:
    """What the partial-writes shim lets a send of ``asked`` bytes on a TCP socket pass
    (the length strace then shows), as partial_writes.c computes it."""
    return asked if asked <= 1 else min(PARTIAL_WRITE_MOST, (asked + 1) // 2)
_built: dict[str, Path] = {}
_lock = threading.Lock()
_dir: Path | None = None


def shim_path(name: str) -> Path:
    """The compiled shared object for ``name`` (compiled on first use).

    Kept beside the build cache (``.../socket-grader/shims``), named by the
    source's hash, so a grader killed without running its exit handlers leaves
    no folder behind; with the cache off, in a temporary folder removed at exit.
    """
    with _lock:
        if name not in _built:
            _built[name] = _compile(name)
        return _built[name]


def _folder() -> Path:
    global _dir
    from ..buildcache import cache_dir
    cache = cache_dir()
    if cache is not None:
        folder = cache.parent / "shims"
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            return folder
        except OSError:
            pass
    if _dir is None:
        _dir = Path(tempfile.mkdtemp(prefix="socket-grader-shims-"))
        atexit.register(shutil.rmtree, _dir, True)
    return _dir


def _compile(name: str) -> Path:
    source = SOURCES[name]
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    folder = _folder()
    out = folder / f"{name}-{digest}.so"
    if out.exists():
        return out
    tmp = folder / f".{out.name}.{os.getpid()}.{threading.get_ident()}"
    cmd = ["cc", "-O2", "-shared", "-fPIC", "-o", str(tmp), str(source), "-ldl"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise GraderError(f"could not compile the grader's {name} shim: {e}",
                          hint="is a C compiler (cc) installed?") from None
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise GraderError(f"could not compile the grader's {name} shim: {done.stderr.strip()}",
                          hint="is a C compiler (cc) installed?")
    tmp.chmod(0o755)
    os.replace(tmp, out)          # atomic: graders compiling it at once agree on one file
    return out
