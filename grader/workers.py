"""A pool of grading worker processes that outlives any one of its workers.

Theory of operation
-------------------
Each worker is a process started with ``spawn`` (it begins clean: no inherited
threads, locks or sockets), then grades one submission at a time: the pool
sends ``(spec path, folder, student)`` on the worker's own pipe and the worker
answers with the result as a plain dict.  A worker loads each spec once; one
pool can grade the submissions of several assignments (``each``), so that its
workers stay busy to the end instead of idling at the end of each assignment.
Because the pool always knows which submission each worker holds:

* a worker that dies (killed, out of memory, a crash in C code) takes down only
  its own submission, reported as ``crashed`` with how it died, and is replaced;
* a grading that outlasts its watchdog (the spec's build and run limits plus a
  margin: the engine enforces those itself, so this only fires on a grader bug)
  is stopped and reported as ``timed out``; the batch goes on.  The watchdog
  runs from the moment the worker has started (it says ``ready`` first):
  starting a Python process that imports the grader takes seconds on a loaded
  machine, and that is not the grading's time.  A worker that is not ready
  within :data:`START_WAIT` counts as dead.

Stopping is cooperative first, forceful second.  A worker ignores SIGINT (the
terminal's Ctrl-C is the coordinator's business) and turns SIGTERM into
:class:`Cancelled`, an exception the engine does not catch, so its ``finally``
blocks run: the box is closed (killing the student's programs) and the work
dir removed.  A worker that has not exited ``STOP_GRACE`` seconds after
SIGTERM is killed.  ``PR_SET_PDEATHSIG`` sends a worker SIGTERM if the
coordinator dies.  While the pool runs, the coordinator is a child subreaper,
so whatever a killed worker left behind is re-parented to it and killed when
the pool shuts down (not the workers of another pool of the same process: the
sweep leaves every live ``multiprocessing`` child alone, and the subreaper
flag stays set while any pool runs).  Each worker makes its temporary files
(the engine's work dirs) in a folder of its own, which the coordinator removes
when the worker is gone: a killed worker leaves no files either.  A worker
whose coordinator died without cleaning up removes its own folder as it exits;
the worker makes the folder itself once it runs, so a coordinator killed while
a worker was still starting leaves none.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import secrets
import signal
import tempfile
import threading
import traceback
from collections import deque
from dataclasses import dataclass, field
from multiprocessing import connection as mp_connection
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil

from . import __version__
from .box import KILL_GRACE
from .build import remove_tree
from .deadline import Deadline
from .diagnose import signal_name
from .engine import GradeOptions, grade
from .results import SubmissionResult, SubmissionStatus
from .spec import Spec, load_spec

# A worker asked to stop gets this long to close its box before it is killed
# (closing a box waits up to KILL_GRACE for its programs to die).
STOP_GRACE = KILL_GRACE + 3.0
# Beyond the spec's own build and run limits: box start-up, copying, slack on a
# loaded machine.  Only a grader bug ever gets near it.
WATCHDOG_MARGIN = 30.0
# A new worker must have started (imported the grader, said READY) within this.
START_WAIT = 60.0
READY = "ready"
# How often the coordinator wakes when nothing happens (for watchdogs).
TICK = 0.5
# A worker is replaced after this many gradings, so that whatever a grading
# leaves in a worker's memory (caches, fragmentation) cannot add up over a class.
MAX_TASKS_PER_WORKER = 50

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 1, 36, 37

# (spec, folder, student, options) -> SubmissionResult.to_dict(); must be importable
# by name (the worker is spawned), so a module-level function.
GradeFn = Callable[[Spec, str, str, dict], dict]


class Cancelled(BaseException):
    """Raised in a worker by SIGTERM: unwind (running every ``finally``) and exit."""


def grade_to_dict(spec: Spec, folder: str, student: str, options: dict) -> dict:
    """The default grading function: the engine's ``grade``, as a dict."""
    return grade(spec, folder, GradeOptions(**options, student=student)).to_dict()


def watchdog_seconds(spec: Spec) -> float:
    """How long one grading may take before the pool stops it."""
    return float(spec.limits["build"]) + float(spec.limits["total"]) + WATCHDOG_MARGIN


def crashed(spec: Spec, folder: Path, student: str, why: str,
            status: SubmissionStatus = SubmissionStatus.CRASHED) -> SubmissionResult:
    """The result of a submission the grader could not finish (never the student's fault)."""
    return SubmissionResult(
        student=student, submission=str(folder), assignment=spec.assignment,
        spec_hash=spec.hash, tier="unknown", status=status, score=0.0,
        max_score=spec.total_points, tests=[], message=why, grader_version=__version__)


# ---------------------------------------------------------------- the worker side

def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _on_sigterm(_signum: int, _frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)    # one unwind; let the cleanup finish
    raise Cancelled()


def _worker_main(conn: Connection, options: dict, target: GradeFn,
                 coordinator: int, temp_dir: str) -> None:
    # The engine's work dirs go here.  Not through $TMPDIR: the students' programs
    # keep the environment they would get anyway.
    tempfile.tempdir = temp_dir
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    specs: dict[str, Spec] = {}
    try:
        if os.getppid() == coordinator:      # (else it died before PDEATHSIG was set)
            # Made here, not by the coordinator: a coordinator killed while this process
            # was still starting (before PDEATHSIG) leaves no folder behind.
            os.mkdir(temp_dir)
            os.chmod(temp_dir, 0o755)        # boxes' own uids must reach the work dirs inside
            conn.send(READY)
        while os.getppid() == coordinator:
            task = conn.recv()
            if task is None:
                return
            spec_path, folder, student = task
            try:
                if spec_path not in specs:
                    specs[spec_path] = load_spec(spec_path)
                spec = specs[spec_path]
                result = target(spec, folder, student, options)
            except Exception as e:      # the grader failed on this one: report it, go on
                detail = "".join(traceback.format_exception_only(type(e), e)).strip()
                if spec_path not in specs:
                    raise                # the pool loaded it first: this cannot be the spec
                result = crashed(specs[spec_path], Path(folder), student,
                                 f"the grader failed on this submission: {detail}").to_dict()
            conn.send(result)
    except (Cancelled, EOFError, BrokenPipeError, KeyboardInterrupt):
        return
    finally:
        # A coordinator killed outside Python's control (SIGKILL, a test runner's SIGTERM)
        # cannot remove this worker's temporary folder: the worker does, once its
        # gradings have unwound (PR_SET_PDEATHSIG brought it here), or at once if the
        # coordinator was gone before the worker started.
        if os.getppid() != coordinator:
            remove_tree(Path(temp_dir))


# ---------------------------------------------------------------- the coordinator side

@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    temp_dir: Path
    folder: Path | None = None
    student: str = ""
    spec: Spec | None = None             # the spec of the submission it holds
    watchdog: Deadline | None = None
    start_by: Deadline | None = None      # until it says READY
    kill_at: Deadline | None = None      # set once it was asked to stop
    tasks: int = 0                       # gradings given to it

    @property
    def busy(self) -> bool:
        return self.folder is not None and self.kill_at is None


@dataclass
class Outcome:
    """One finished submission: its folder and its result."""

    folder: Path
    result: SubmissionResult


class _Subreaper:
    """The process's child-subreaper flag, shared by the pools that run in it: set while
    any runs, and put back as it was found when the last one stops.  (The flag belongs to
    the process, so this count does too; one pool stopping must not unset it under
    another.)"""

    _lock = threading.Lock()
    _users = 0
    _was_set = False

    @classmethod
    def take(cls) -> None:
        with cls._lock:
            if cls._users == 0:
                flag = ctypes.c_int(0)
                try:
                    libc = ctypes.CDLL(None, use_errno=True)
                    libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)
                except (OSError, AttributeError):
                    pass
                cls._was_set = bool(flag.value)
                _prctl(PR_SET_CHILD_SUBREAPER, 1)
            cls._users += 1

    @classmethod
    def give_back(cls) -> None:
        with cls._lock:
            cls._users -= 1
            if cls._users == 0 and not cls._was_set:
                _prctl(PR_SET_CHILD_SUBREAPER, 0)


@dataclass
class _Reaper:
    """Makes the coordinator a child subreaper while the pool runs (see the docstring)."""

    before: set[int] = field(default_factory=set)
    taken: bool = False

    def start(self) -> None:
        self.before = {p.pid for p in psutil.Process().children()}
        _Subreaper.take()
        self.taken = True

    def sweep(self, keep: set[int]) -> None:
        """Kill and reap our children that are neither ``keep`` nor older than the pool."""
        deadline = Deadline.after(KILL_GRACE, "leftovers of killed workers to exit")
        while not deadline.expired:
            # Live multiprocessing children are workers (of this pool, still in ``keep``,
            # or of another pool of this process): not orphans.
            workers = {p.pid for p in multiprocessing.active_children()}
            orphans = [p for p in psutil.Process().children()
                       if p.pid not in self.before and p.pid not in keep | workers
                       and not _is_tracker(p)]
            if not orphans:
                return
            for p in orphans:
                for q in [p] + _descendants(p):
                    try:
                        q.kill()
                    except psutil.Error:
                        pass
            for p in orphans:
                try:
                    p.wait(timeout=deadline.remaining())
                except (psutil.Error, ChildProcessError):
                    pass

    def stop(self) -> None:
        if self.taken:
            self.taken = False
            _Subreaper.give_back()


def _descendants(p: psutil.Process) -> list[psutil.Process]:
    try:
        return p.children(recursive=True)
    except psutil.Error:
        return []


def _is_tracker(p: psutil.Process) -> bool:
    """multiprocessing's resource tracker: a child for the process's lifetime, by design."""
    try:
        return "multiprocessing.resource_tracker" in " ".join(p.cmdline())
    except psutil.Error:
        return False


def _how_it_died(process: BaseProcess) -> str:
    code = process.exitcode
    if code is None:
        return "its worker process stopped answering"
    if code < 0:
        sig = -code
        extra = " (out of memory?)" if sig == signal.SIGKILL else ""
        return f"its worker process was killed by {signal_name(sig)}{extra}"
    return f"its worker process exited with status {code}"


class WorkerPool:
    """Grade folders with ``jobs`` worker processes; use as a context manager.

    ``results(folders)`` yields an :class:`Outcome` per folder, in completion
    order.  Leaving the ``with`` block (normally, or by an exception such as
    KeyboardInterrupt) stops every worker and kills what they left behind;
    results that arrived while stopping are kept in ``late``.
    """

    def __init__(self, spec_path: Path, options: GradeOptions, *, jobs: int,
                 target: GradeFn = grade_to_dict, watchdog: float | None = None,
                 grace: float = STOP_GRACE, max_tasks: int = MAX_TASKS_PER_WORKER,
                 temp_root: Path | None = None) -> None:
        self.spec_path = Path(spec_path)
        self.spec = load_spec(self.spec_path)
        self._specs: dict[Path, Spec] = {self.spec_path: self.spec}
        self.options = {k: v for k, v in vars(options).items() if k not in ("on_test", "student")}
        self.jobs = max(1, jobs)
        self.target = target
        self.watchdog = watchdog              # None: each spec's own (watchdog_seconds)
        self.grace = grace
        self.max_tasks = max(1, max_tasks)
        self.temp_root = temp_root
        self.workers: list[_Worker] = []
        self.late: list[Outcome] = []
        self._ctx = multiprocessing.get_context("spawn")
        self._reaper = _Reaper()

    # -- lifecycle
    def __enter__(self) -> "WorkerPool":
        self._reaper.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _start_worker(self) -> _Worker:
        # The worker makes it once it runs (see _worker_main); the name is reserved here.
        temp_dir = Path(self.temp_root or tempfile.gettempdir()) / \
            f"socket-grader-worker-{secrets.token_hex(8)}"
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main, name="socket-grader worker", daemon=True,
            args=(child, self.options, self.target, os.getpid(),
                  str(temp_dir)))
        # Blocked across the start so that a Ctrl-C in that instant is neither lost
        # here nor delivered to the new worker before it ignores SIGINT.
        # (Known to the pool before a pending signal can interrupt: shutdown finds it.)
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            try:
                process.start()
            except BaseException:
                parent.close()
                remove_tree(temp_dir)
                raise
            w = _Worker(process, parent, temp_dir,
                        start_by=Deadline.after(START_WAIT, "a grading worker to start"))
            self.workers.append(w)
        finally:
            child.close()
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return w

    def _spec(self, path: Path) -> Spec:
        if path not in self._specs:
            self._specs[path] = load_spec(path)
        return self._specs[path]

    def _watchdog(self, spec: Spec) -> float:
        return self.watchdog if self.watchdog is not None else watchdog_seconds(spec)

    def _start_watchdog(self, w: _Worker) -> Deadline:
        assert w.spec is not None and w.folder is not None
        return Deadline.after(self._watchdog(w.spec), f"grading {w.folder.name}")

    def _assign(self, w: _Worker, spec_path: Path, folder: Path) -> None:
        w.folder, w.student, w.spec = folder, folder.name, self._spec(spec_path)
        w.tasks += 1
        w.watchdog = None if w.start_by else self._start_watchdog(w)
        w.conn.send((str(spec_path), str(folder), folder.name))

    def _retire(self, w: _Worker) -> None:
        """Forget a worker that has exited, and remove its temp folder."""
        w.process.join(0)
        w.conn.close()
        remove_tree(w.temp_dir)
        self.workers.remove(w)

    def _recycle(self, w: _Worker) -> None:
        """Let an idle worker exit (a new one takes its place when there is work)."""
        w.kill_at = Deadline.after(self.grace, f"worker {w.process.pid} to exit")
        try:
            w.conn.send(None)
        except (OSError, ValueError):
            pass

    def _stop(self, w: _Worker) -> None:
        """Ask a worker to unwind (SIGTERM); it is killed if still there after the grace."""
        if w.kill_at is None and w.process.is_alive():
            w.kill_at = Deadline.after(self.grace, f"worker {w.process.pid} to clean up")
            try:
                os.kill(w.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # -- the main loop
    def results(self, folders: list[Path]) -> Iterator[Outcome]:
        """Grade ``folders`` against the pool's spec."""
        return self.each([(self.spec_path, f) for f in folders])

    def each(self, tasks: list[tuple[Path, Path]]) -> Iterator[Outcome]:
        """Grade each ``(spec path, folder)``, in that order, whatever the assignment
        (a spec that does not load raises before any grading starts)."""
        tasks = [(Path(spec_path), folder) for spec_path, folder in tasks]
        for spec_path, _ in tasks:
            self._spec(spec_path)
        queue = deque(tasks)
        while queue or any(w.busy for w in self.workers):
            while queue:
                idle = next((w for w in self.workers if not w.busy and w.kill_at is None), None)
                if idle is None:
                    if sum(1 for w in self.workers if w.kill_at is None) >= self.jobs:
                        break
                    idle = self._start_worker()
                try:
                    self._assign(idle, *queue[0])
                except (OSError, ValueError):        # it died while idle: start another
                    self._retire_dead(idle)
                    continue
                queue.popleft()
            yield from self._wait_round()

    def _retire_dead(self, w: _Worker) -> None:
        w.process.join(KILL_GRACE)
        if w.process.is_alive():
            w.process.kill()
            w.process.join(KILL_GRACE)
        self._retire(w)

    def _wait_round(self) -> Iterator[Outcome]:
        timeouts = [w.watchdog.remaining() for w in self.workers if w.busy and w.watchdog]
        timeouts += [w.start_by.remaining() for w in self.workers if w.start_by]
        timeouts += [w.kill_at.remaining() for w in self.workers if w.kill_at]
        waitables: list[Any] = [w.conn for w in self.workers if w.busy]
        waitables += [w.process.sentinel for w in self.workers]
        mp_connection.wait(waitables, timeout=min([TICK] + timeouts))
        for w in list(self.workers):
            outcome = self._check(w)
            if outcome is not None:
                yield outcome

    def _check(self, w: _Worker) -> Outcome | None:
        if w.kill_at is not None:                 # stopping: gone, or past its grace
            if not w.process.is_alive():
                self._retire(w)
            elif w.kill_at.expired:
                w.process.kill()
                w.process.join(KILL_GRACE)
                self._retire(w)
            return None
        folder = w.folder
        spec = w.spec or self.spec
        if w.start_by is not None:                # starting
            if w.conn.poll():
                try:
                    said = w.conn.recv()
                except (EOFError, OSError):       # died first: seen below
                    said = None
                if said == READY:
                    w.start_by = None
                    if folder is not None:
                        w.watchdog = self._start_watchdog(w)
            elif w.start_by.expired and w.process.is_alive():
                self._stop(w)
                if folder is None:
                    return None
                return Outcome(folder, crashed(
                    spec, folder, w.student, "the grader failed on this submission: its worker "
                    f"process did not start within {START_WAIT:g} s (a machine out of memory "
                    "or processes?)"))
        if folder is None:                        # idle
            if not w.process.is_alive():
                self._retire(w)
            return None
        if w.start_by is None and w.conn.poll():
            try:
                doc = w.conn.recv()
                result = SubmissionResult.from_dict(doc)
            except (EOFError, OSError):
                return self._died(w, folder)
            except Exception as e:               # an unreadable answer: that grading crashed
                w.folder = None
                return Outcome(folder, crashed(spec, folder, w.student,
                                               f"the grader failed on this submission: {e}"))
            w.folder = None
            if w.tasks >= self.max_tasks:
                self._recycle(w)
            return Outcome(folder, result)
        if not w.process.is_alive():
            return self._died(w, folder)
        if w.watchdog and w.watchdog.expired:
            self._stop(w)
            why = (f"grading did not finish within {self._watchdog(spec):g} s (the spec allows "
                   f"{spec.limits['build']:g} s to build and {spec.limits['total']:g} s "
                   "for the tests) and was stopped; this is likely a grader problem, not the "
                   "program's")
            return Outcome(folder, crashed(spec, folder, w.student, why,
                                           SubmissionStatus.TIMED_OUT))
        return None

    def _died(self, w: _Worker, folder: Path) -> Outcome:
        w.process.join(KILL_GRACE)
        why = f"the grader failed on this submission: {_how_it_died(w.process)}"
        self._retire(w)
        return Outcome(folder, crashed(w.spec or self.spec, folder, w.student, why))

    # -- stopping
    def shutdown(self) -> None:
        """Stop every worker (busy ones by SIGTERM), collect late results, kill leftovers.

        Bounded: at most ``grace`` seconds for workers to clean up, then SIGKILL.
        A second Ctrl-C (or SIGTERM) while this runs is ignored: it would only leave
        things behind.
        """
        old: dict[int, Any] = {}
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                old[sig] = signal.signal(sig, signal.SIG_IGN)
        except ValueError:                        # not the main thread: nothing to protect
            pass
        try:
            for w in list(self.workers):
                if w.busy and w.conn.poll():     # finished just now: keep it
                    outcome = self._check(w)
                    if outcome is not None:
                        self.late.append(outcome)
            for w in self.workers:
                if w.busy:
                    self._stop(w)
                elif w.kill_at is None:
                    try:
                        w.conn.send(None)
                    except (OSError, ValueError):
                        pass
            deadline = Deadline.after(self.grace, "workers to exit")
            for w in list(self.workers):
                w.process.join(deadline.remaining())
                if w.process.is_alive():
                    w.process.kill()
                    w.process.join(KILL_GRACE)
                self._retire(w)
            self._reaper.sweep(keep=set())
        finally:
            self._reaper.stop()
            for sig, handler in old.items():
                signal.signal(sig, handler)
