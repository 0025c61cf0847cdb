"""Builds kept by their content, so javac, go build and rustc run once per submission.

A build's *key* is the SHA-256 of everything that decides its outcome: every
file of the submission (path, executable bit, content), the language, the
build commands, and the compilers they run (resolved path, size, mtime: an
upgraded toolchain is a new key).  An entry holds what the build made or
changed in the work dir and the build's result; a later grading of the same
content (the same batch, a re-run, ``grader check`` again) copies those files
into its fresh work dir instead of building.  A compile error is kept too; a
build that timed out, was killed or found no compiler is not (it may go
differently next time).

Where: ``$SOCKET_GRADER_CACHE`` if set (``off`` disables the cache), else
``$XDG_CACHE_HOME/socket-grader/builds`` (``~/.cache/...``).  The folder is
made private to the grader's user (0700), and one that is not its own or is
writable by others is not used, so nobody else can plant a build.  Size:
``$SOCKET_GRADER_CACHE_MB`` (default 512); the least recently used entries go
first.  Entries are written to a temporary folder and renamed into place, so
parallel workers never see half an entry; two workers building the same
content at once both build, and one entry is kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from .results import BuildResult

CACHE_ENV = "SOCKET_GRADER_CACHE"
SIZE_ENV = "SOCKET_GRADER_CACHE_MB"
DEFAULT_MB = 512
FORMAT = 1                       # bump when an entry's layout or the key's inputs change
MAX_ENTRY_BYTES = 64 << 20       # a build that makes more than this is not kept


def cache_dir() -> Path | None:
    """The cache folder, or None when disabled (``SOCKET_GRADER_CACHE=off``)."""
    where = os.environ.get(CACHE_ENV, "")
    if where.lower() in ("off", "0", "no", "false"):
        return None
    if where:
        return Path(where)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "socket-grader" / "builds"


def _usable(folder: Path) -> bool:
    """Make the folder (0700) if needed; refuse one that is not private to this user."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = folder.stat()
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _files(top: Path) -> dict[str, tuple[str, bytes]]:
    """relative path -> (kind, content): regular files ("x" executable, "f") and symlinks ("l")."""
    found = {}
    for dirpath, dirs, files, dirfd in os.fwalk(top, follow_symlinks=False):
        rel = os.path.relpath(dirpath, top)
        for name in sorted(dirs + files):
            path = os.path.normpath(os.path.join(rel, name))
            try:
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    found[path] = ("l", os.readlink(name, dir_fd=dirfd).encode())
                elif stat.S_ISREG(st.st_mode):
                    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dirfd)
                    with os.fdopen(fd, "rb") as f:
                        found[path] = ("x" if st.st_mode & 0o111 else "f", f.read())
            except OSError:
                continue
    return found


def _tool_fingerprints(commands: Sequence[Sequence[str]], path_env: str) -> list[list]:
    """Path, size and mtime of every program the commands name that is on PATH."""
    prints = []
    for word in sorted({w for cmd in commands for w in cmd}):
        if "/" in word or "=" in word or word.startswith("-"):
            continue
        found = shutil.which(word, path=path_env)
        if found:
            real = os.path.realpath(found)
            st = os.stat(real)
            prints.append([word, real, st.st_size, st.st_mtime_ns])
    return prints


class BuildCache:
    """One cache folder; ``lookup`` before a build, ``store`` after it."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    @classmethod
    def open(cls) -> "BuildCache | None":
        folder = cache_dir()
        if folder is None or not _usable(folder):
            return None
        try:
            mb = int(os.environ.get(SIZE_ENV, DEFAULT_MB))
        except ValueError:
            mb = DEFAULT_MB
        return cls(folder, mb << 20) if mb > 0 else None

    # -- keys
    @staticmethod
    def key(workdir: Path, language: str, commands: Sequence[Sequence[str]], env: dict[str, str]
            ) -> tuple[str, dict[str, tuple[str, bytes]]]:
        """The build's key, and the sources it was computed from (for :meth:`store`)."""
        sources = _files(workdir)
        h = hashlib.sha256(json.dumps({
            "format": FORMAT, "language": language, "commands": [list(c) for c in commands],
            "tools": _tool_fingerprints(commands, env.get("PATH", os.defpath)),
        }, sort_keys=True).encode())
        for path, (kind, content) in sorted(sources.items()):
            h.update(f"\0{path}\0{kind}\0{len(content)}\0".encode())
            h.update(content)
        return h.hexdigest(), sources

    # -- reading
    def lookup(self, key: str, workdir: Path) -> BuildResult | None:
        """The kept result, with its files copied into ``workdir``; None on a miss."""
        entry = self.folder / key
        try:
            meta = json.loads((entry / "result.json").read_text())
            files = entry / "files"
            if files.is_dir():
                shutil.copytree(files, workdir, symlinks=True, dirs_exist_ok=True)
            os.utime(entry)                   # recently used: evicted last
        except (OSError, ValueError):
            return None
        result = BuildResult.from_dict(meta)
        result.cached = True
        return result

    # -- writing
    def store(self, key: str, sources: dict[str, tuple[str, bytes]], workdir: Path,
              result: BuildResult) -> bool:
        """Keep what the build made or changed in ``workdir``, with ``result``."""
        made = {p: v for p, v in _files(workdir).items() if sources.get(p) != v}
        if sum(len(c) for _, c in made.values()) > MAX_ENTRY_BYTES:
            return False
        try:
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.folder))
        except OSError:
            return False
        try:
            for rel, (kind, content) in made.items():
                target = tmp / "files" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if kind == "l":
                    os.symlink(content.decode(), target)
                else:
                    target.write_bytes(content)
                    target.chmod(0o755 if kind == "x" else 0o644)
            (tmp / "result.json").write_text(json.dumps(asdict(result)))
            os.rename(tmp, self.folder / key)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)     # another worker kept the same build first
            return False
        self.evict()
        return True

    def evict(self) -> None:
        """Remove the least recently used entries until the cache fits its size."""
        entries = []
        for entry in self.folder.iterdir():
            try:
                size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file() and not f.is_symlink())
                entries.append((entry.stat().st_mtime, size, entry))
            except OSError:
                continue
        total = sum(size for _, size, _ in entries)
        for _, size, entry in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            shutil.rmtree(entry, ignore_errors=True)
            total -= size
