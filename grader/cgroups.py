"""Per-box cgroups (v1): a memory and a process-count cap for everything in a box.

Theory of operation
-------------------
Only the root tier uses cgroups, and only v1 hierarchies (this is what the
grading hosts have; see docs/security.md for v2).  For each controller in
:data:`CONTROLLERS` the box gets a group

    <mount>/<the grader's own group>/socket-grader/box-<grader pid>-<uid>

nested under the grader's *own* group, so limits an outer supervisor put on
the grader still apply to the students' programs.  The box helper is moved
into these groups once, as it starts, and every program it spawns inherits
them by fork, so the caps cover the program, its children and a setsid daemon
alike.  (A v1 migration waits for an RCU grace period, 8-24 ms here, when none
happened lately; moving each program would pay that per spawn, moving the
helper pays it once, while its Python starts.)  The helper itself counts:
:data:`HELPER_PROCESSES` processes and up to :data:`HELPER_MEMORY` bytes are
added to the caps.  :meth:`BoxCgroup.remove` deletes the groups once
the box is empty, and the shared ``socket-grader`` parent when it is the last
one.  Groups left by a grader that was SIGKILLed are removed by the next
:func:`BoxCgroup.create` (their owner pid is gone and they hold no process).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from .box import Limits
from .deadline import Deadline, poll_until

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids")
PARENT_NAME = "socket-grader"
HELPER_PROCESSES = 2              # the box helper: outer process and init
HELPER_MEMORY = 32 << 20          # its Python (about 10 MB resident), with room


@dataclass(frozen=True)
class CgroupSupport:
    """Whether boxes can have cgroups here, and where (controller -> own group dir)."""

    available: bool
    reason: str
    bases: tuple[tuple[str, Path], ...] = ()


def _own_groups(proc_cgroup: str) -> dict[str, str]:
    """controller -> path of this process's group, from /proc/self/cgroup (v1 lines)."""
    groups: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[1]:
            continue
        for controller in parts[1].split(","):
            groups[controller] = parts[2]
    return groups


def probe(root: Path = CGROUP_ROOT) -> CgroupSupport:
    """Can this process create v1 memory and pids groups under its own?"""
    if os.geteuid() != 0:
        return CgroupSupport(False, "not root: no cgroups (rlimits still apply)")
    try:
        own = _own_groups(Path("/proc/self/cgroup").read_text())
    except OSError as e:
        return CgroupSupport(False, f"cannot read /proc/self/cgroup: {e}")
    bases = []
    for controller in CONTROLLERS:
        mount = root / controller
        if controller not in own or not (mount / "cgroup.procs").exists():
            return CgroupSupport(False, f"no cgroup v1 '{controller}' hierarchy at {mount} "
                                        "(cgroup v2 only?): memory and process caps are rlimits only")
        base = mount / own[controller].lstrip("/")
        if not os.access(base, os.W_OK):
            return CgroupSupport(False, f"{base} is not writable (read-only cgroupfs in a container?)")
        bases.append((controller, base))
    return CgroupSupport(True, "cgroup v1 memory and pids", tuple(bases))


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
        return True
    except OSError:
        return False


def _rmdir(path: Path) -> bool:
    """True once ``path`` is gone; False while the kernel still says busy."""
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError as e:
        if e.errno in (errno.EBUSY, errno.ENOTEMPTY):
            return False
        raise
    return True


def _stale(group: Path) -> bool:
    """A ``box-<pid>-<uid>`` group whose grader is gone and that holds no process."""
    parts = group.name.split("-")
    if len(parts) != 3 or parts[0] != "box" or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
        return False
    except ProcessLookupError:
        pass
    except PermissionError:
        return False
    try:
        return not (group / "cgroup.procs").read_text().strip()
    except OSError:
        return False


class BoxCgroup:
    """The groups of one box, one per controller."""

    def __init__(self, dirs: dict[str, Path]) -> None:
        self.dirs = dirs

    @classmethod
    def create(cls, support: CgroupSupport, uid: int) -> "BoxCgroup":
        name = f"box-{os.getpid()}-{uid}"
        dirs: dict[str, Path] = {}
        try:
            for controller, base in support.bases:
                parent = base / PARENT_NAME
                parent.mkdir(exist_ok=True)
                for old in parent.iterdir():
                    if old.is_dir() and _stale(old):
                        _rmdir(old)
                group = parent / name
                group.mkdir(exist_ok=True)
                dirs[controller] = group
        except OSError:
            cls(dirs).remove(Deadline.after(1.0, "a half-made box cgroup to go"))
            raise
        return cls(dirs)

    def add(self, pid: int) -> None:
        """Move process ``pid`` (the box helper, before it forks) into the groups."""
        for group in self.dirs.values():
            (group / "cgroup.procs").write_text(str(pid))

    def set_limits(self, limits: Limits) -> None:
        """Caps for the whole box: ``limits.memory_bytes`` and ``limits.processes``."""
        mem = self.dirs.get("memory")
        if mem is not None:
            value = str(limits.memory_bytes + HELPER_MEMORY)
            ram, swap = mem / "memory.limit_in_bytes", mem / "memory.memsw.limit_in_bytes"
            # memsw (RAM + swap) must stay >= the RAM limit: raising RAM above
            # the old memsw fails, so then memsw goes first.
            if _write(ram, value):
                _write(swap, value)
            else:
                _write(swap, value)
                _write(ram, value)
        pids = self.dirs.get("pids")
        if pids is not None:
            _write(pids / "pids.max", str(limits.processes + HELPER_PROCESSES))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for group in self.dirs.values():
            try:
                found.update(int(x) for x in (group / "cgroup.procs").read_text().split())
            except OSError:
                continue
        return found

    def memory_failures(self) -> int:
        """How often the memory cap was hit (memory.failcnt), 0 without one."""
        mem = self.dirs.get("memory")
        try:
            return int((mem / "memory.failcnt").read_text()) if mem else 0
        except (OSError, ValueError):
            return 0

    def remove(self, deadline: Deadline) -> bool:
        """Delete the box's groups (they must be empty), then the parent if unused."""
        gone = True
        for group in self.dirs.values():
            gone = bool(poll_until(lambda g=group: _rmdir(g), deadline)) and gone
            try:
                group.parent.rmdir()
            except OSError:
                pass          # another box still uses the parent
        return gone
