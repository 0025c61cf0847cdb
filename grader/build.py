"""From a submission folder to something runnable: copy, detect the language, build.

The submission is copied into a fresh work directory first; nothing is ever
written to the folder the grader was given.  The build runs in the box like
the program itself (a Makefile is untrusted code too), with the spec's build
time limit, and a failed build is a result (with the compiler's message), not
an exception.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .box import Box, Limits
from .buildcache import BuildCache
from .deadline import Deadline
from .results import BuildResult
from .spec import Language, Spec

BUILD_OUTPUT_LINES = 40
BUILD_MEMORY = 2 << 30        # a build's memory cap (at least; the spec's if larger)
BUILD_PROCESSES = 256         # processes and threads (go build runs compilers in parallel)


def remove_tree(path: Path) -> None:
    """rm -rf ``path``, whatever modes a student's program left on the files and folders
    inside it.  Nothing outside the tree is touched: not the folder that holds it (the
    machine's /tmp), not what a symbolic link in it points to; a tree already gone is
    no error."""
    top = os.path.abspath(path)

    def unlock(func, p, exc) -> None:
        if isinstance(exc, FileNotFoundError):
            return                      # gone already (removed by another, or never made)
        try:
            parent = os.path.dirname(p)
            if p != top and (parent == top or parent.startswith(top + os.sep)):
                os.chmod(parent, stat.S_IRWXU)
            if not os.path.islink(p):   # (chmod follows a link: to anywhere)
                os.chmod(p, stat.S_IRWXU)
            func(p)
        except OSError:
            pass
    if sys.version_info >= (3, 12):
        shutil.rmtree(top, onexc=unlock)
    else:
        shutil.rmtree(top, onerror=lambda func, p, info: unlock(func, p, info[1]))


def _manifest(top: Path) -> dict[str, tuple[int, int, int, int]]:
    """Every entry under ``top`` (symlinks not followed): type, inode, size, ctime.

    ctime cannot be set by a program, so a file rewritten in place (even with
    its old size and mtime put back) shows as changed.
    """
    found = {}
    for dirpath, dirs, files, dirfd in os.fwalk(top, follow_symlinks=False):
        rel = os.path.relpath(dirpath, top)
        for name in dirs + files:
            try:
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            except OSError:
                continue
            found[os.path.normpath(os.path.join(rel, name))] = (
                stat.S_IFMT(st.st_mode), st.st_ino, st.st_size, st.st_ctime_ns)
    return found


class Workdir:
    """A private copy of the submission, removed afterwards whatever the program did to it.

    After the build, :meth:`snapshot` keeps a pristine copy of the work dir;
    :meth:`restore` puts it back after each test, so files a test's program
    wrote, changed or deleted (or the files a test gave it) are not there for
    the next test.  The folder itself is kept (the box has it bound in).
    """

    def __init__(self, source: Path | None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="socket-grader-"))
        self.path = self.root / "work"
        if source is not None:
            shutil.copytree(source, self.path, symlinks=True,
                            ignore=shutil.ignore_patterns(".git", "__pycache__"))
        else:
            self.path.mkdir()
        self.root.chmod(0o755)

    _pristine: Path | None = None
    _manifest: dict | None = None

    def snapshot(self) -> None:
        """Remember the work dir as it is now (call it once it is ready for tests)."""
        self._pristine = self.root / "pristine"
        if self._pristine.exists():
            remove_tree(self._pristine)
        shutil.copytree(self.path, self._pristine, symlinks=True)
        self._manifest = _manifest(self.path)

    def restore(self, prepare=None) -> bool:
        """Put the work dir back as :meth:`snapshot` left it; True if anything had changed.

        ``prepare(path)`` gives the restored files back to the box (its uid owns them).
        """
        assert self._pristine is not None, "snapshot() first"
        if _manifest(self.path) == self._manifest:
            return False
        for entry in os.listdir(self.path):
            target = self.path / entry
            if target.is_dir() and not target.is_symlink():
                remove_tree(target)
            else:
                try:
                    target.unlink()
                except OSError:
                    os.chmod(self.path, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
                    target.unlink()
        shutil.copytree(self._pristine, self.path, symlinks=True, dirs_exist_ok=True)
        shutil.copystat(self._pristine, self.path)
        if prepare is not None:
            prepare(self.path)
        self._manifest = _manifest(self.path)
        return True

    def clone(self) -> "Workdir":
        """Another work dir, as :meth:`snapshot` left this one, with its own snapshot
        (a lane of its own for tests run side by side: see :mod:`grader.lanes`)."""
        assert self._pristine is not None, "snapshot() first"
        other = Workdir(None)
        other.path.rmdir()
        shutil.copytree(self._pristine, other.path, symlinks=True)
        other.snapshot()
        return other

    def remove(self) -> None:
        remove_tree(self.root)

    def __enter__(self) -> "Workdir":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def detect_language(spec: Spec, folder: Path) -> Language | None:
    """The first language of the spec whose files are all in ``folder``."""
    for lang in spec.languages.values():
        if all((folder / f).is_file() for f in lang.files):
            return lang
    return None


def expected_files(spec: Spec) -> str:
    return " or ".join(", ".join(lang.files) for lang in spec.languages.values())


def build_limits(limits: Limits, seconds: float) -> Limits:
    """A build's own limits: compilers (javac's JVM, rustc's LLVM, go build's
    parallel compiles) need more memory, threads and CPU than the programs they build."""
    return replace(limits, memory_bytes=max(limits.memory_bytes, BUILD_MEMORY),
                   processes=max(limits.processes, BUILD_PROCESSES),
                   cpu_seconds=max(limits.cpu_seconds, int(seconds) + 1))


def toolchain_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus where a user-installed toolchain keeps itself.

    Programs get the work dir as HOME, so rustup's ``rustc`` (a proxy that looks
    for ``$HOME/.rustup``) would find no toolchain; its homes are passed on as
    the grader sees them.  In a sandboxed box they are not visible, and the
    system's compilers on PATH are used.
    """
    env = dict(env)
    home = Path(os.path.expanduser("~"))
    for var, default in (("RUSTUP_HOME", home / ".rustup"), ("CARGO_HOME", home / ".cargo")):
        where = os.environ.get(var) or (str(default) if default.is_dir() else None)
        if where and var not in env:
            env[var] = where
    return env


def build(box: Box, lang: Language, workdir: Path, *, seconds: float, env: dict[str, str],
          limits: Limits) -> BuildResult:
    """Run the language's build commands in the box (or reuse a kept build of the same content)."""
    has_makefile = any((workdir / m).is_file() for m in ("Makefile", "makefile", "GNUmakefile"))
    commands = lang.build_with_makefile if has_makefile and lang.build_with_makefile else lang.build
    shown = [" ".join(c) for c in commands]
    if not commands:
        return BuildResult(True, lang.name, [], "", 0.0)
    started = time.monotonic()
    cache = BuildCache.open()
    if cache is not None:
        key, sources = cache.key(workdir, lang.name, commands, env)
        kept = cache.lookup(key, workdir)
        if kept is not None:
            box.prepare_workdir(workdir)      # the box's uid owns the files it copied
            kept.duration = time.monotonic() - started
            return kept
    ok, keep, log = _run(box, commands, workdir, seconds=seconds, env=toolchain_env(env),
                         limits=build_limits(limits, seconds))
    result = BuildResult(ok, lang.name, shown, format_log(log, ok), time.monotonic() - started)
    if cache is not None and keep:
        cache.store(key, sources, workdir, result)
    return result


def _run(box: Box, commands, workdir: Path, *, seconds: float, env: dict[str, str],
         limits: Limits) -> tuple[bool, bool, list[str]]:
    """(built, worth keeping, log): a compile error is kept, a timeout or a missing tool is not."""
    deadline = Deadline.after(seconds, "the build")
    log: list[str] = []
    for cmd in commands:
        proc = box.spawn(list(cmd), cwd=workdir, env=env, limits=limits)
        status = proc.wait(deadline)
        proc.kill()
        output = (proc.stdout.data + proc.stderr.data).decode("utf-8", "replace").rstrip()
        log.append(f"$ {' '.join(cmd)}" + (f"\n{output}" if output else ""))
        if status is None:
            log.append(f"the build took longer than {seconds:g} s and was stopped")
            return False, False, log
        if status != 0:
            missing = status == 127 or (status == 2 and not output)
            if missing:
                log.append(f"(exit status {status}: is {cmd[0]} installed?)")
            elif status < 0:
                log.append(f"(the compiler was killed by signal {-status}: out of memory or CPU time?)")
            return False, not missing and status > 0, log
    return True, True, log


# A line that reports an error: "f.c:3:5: error: ...", "F.java:3: error: ...",
# "error[E0425]: ...", "collect2: error: ..."; or a located message with no
# "error" in it (Go: "./f.go:3:2: undefined: x"; ld: "f.c:(.text+0x1a): undefined reference").
_ERROR = re.compile(r"(^|:\s*)(fatal\s+)?error(\[\w+\])?:", re.IGNORECASE)
_LOCATED = re.compile(r"^\S+\.(go|c|cc|cpp|cxx|h|hpp|java|rs|py):(\d+|\(\.)|undefined reference")
_NOT_ERROR = re.compile(r"(^|:\s*)(warning|note|help)(\[\w+\])?:|aborting due to|^\$ ")
_RUST_LOCATION = re.compile(r"^\s*--> (\S+)")
MAX_ERROR_LINES = 10


def error_lines(output: str) -> list[str]:
    """The compiler's error lines (file:line first when it gives one), in order, without repeats."""
    lines = output.splitlines()
    found: list[str] = []
    for i, line in enumerate(lines):
        text = line.strip()
        if not (_ERROR.search(text) or _LOCATED.search(text)) or _NOT_ERROR.search(text):
            continue
        if not _LOCATED.search(text) and i + 1 < len(lines):
            where = _RUST_LOCATION.match(lines[i + 1])       # rustc puts the location under it
            if where:
                text = f"{where.group(1)}: {text}"
        if text not in found:
            found.append(text)
    return found


def format_log(log: list[str], ok: bool) -> str:
    """A failed build shows its error lines first (capped), then the compiler's output (its tail)."""
    text = "\n".join(log)
    if ok:
        return _tail(text)
    errors = error_lines(text)
    if not errors:
        return _tail(text)
    shown = errors[:MAX_ERROR_LINES]
    if len(errors) > MAX_ERROR_LINES:
        shown.append(f"... and {len(errors) - MAX_ERROR_LINES} more errors")
    return "\n".join(["errors:", *[f"  {e}" for e in shown], "", "the compiler's output:", _tail(text)])


def _tail(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= BUILD_OUTPUT_LINES:
        return text
    return "\n".join([f"[{len(lines) - BUILD_OUTPUT_LINES} earlier lines not shown]"] + lines[-BUILD_OUTPUT_LINES:])
