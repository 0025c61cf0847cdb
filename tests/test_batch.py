"""Batch grading at class scale: resume, atomic result files, bad submissions, shards, Ctrl-C.

Small and fast on purpose (the udp-echo samples grade in about half a second,
and ``--test`` narrows a spec further); the throughput figures live in
benchmarks/, not here.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from conftest import ROOT, SPECS, SUBMISSIONS
from grader.batch import Shard, shard_index
from grader.engine import GradeOptions
from grader.resultstore import ResultStore, read_result_file, submission_hash
from grader.results import SubmissionResult, SubmissionStatus
from grader.spec import Spec, load_spec
from grader.workers import WorkerPool, grade_to_dict
from runs import BROKEN_C, env_with, grader

pytestmark = pytest.mark.timeout(90)

UDP = SPECS / "udp-echo.yaml"
UDP_SUBS = SUBMISSIONS / "udp-echo"
QUICK_TESTS = ("--test", "bound", "--test", "binary-safe", "--test", "large-datagrams")


def link_class(root: Path, names: dict[str, Path]) -> Path:
    """A class folder of symlinks: ``{student: sample folder}``."""
    root.mkdir(parents=True, exist_ok=True)
    for student, sample in names.items():
        (root / student).symlink_to(sample, target_is_directory=True)
    return root


def copy_class(root: Path, names: dict[str, Path]) -> Path:
    """A class folder of real copies (their files can be edited)."""
    for student, sample in names.items():
        (root / student).mkdir(parents=True)
        for f in sample.iterdir():
            if f.is_file() and f.name not in ("expected.yaml", "README.md"):
                (root / student / f.name).write_bytes(f.read_bytes())
    return root


def stored(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))}


def verdicts(results) -> dict[str, tuple]:
    """What must agree between two runs: score, status and each test's verdict and causes."""
    out = {}
    for r in results:
        r = r if isinstance(r, dict) else r.to_dict()
        out[r["student"]] = (r["score"], r["status"],
                             tuple((t["name"], t["status"], tuple(t["diagnoses"])) for t in r["tests"]))
    return out


# ---------------------------------------------------------------- shards

def test_shards_split_every_class_deterministically_and_stably():
    names = [f"student-{i:04d}" for i in range(400)]
    for n in (1, 2, 3, 8):
        shards = [[s for s in names if Shard(k, n).holds(s)] for k in range(1, n + 1)]
        assert sorted(sum(shards, [])) == names                       # every one, once
        assert all(len(s) > 400 / n * 0.7 for s in shards)            # roughly even
        # adding submissions never moves an existing one to another shard
        assert [shard_index(s, n) for s in names] == [shard_index(s, n) for s in names + ["new"]][:-1]
    assert Shard.parse("2/8") == Shard(2, 8) and str(Shard(2, 8)) == "2/8"
    for bad in ("0/3", "4/3", "1/0", "x", "1-3"):
        with pytest.raises(Exception, match="--shard"):
            Shard.parse(bad)


# ---------------------------------------------------------------- result files

def test_submission_hash_sees_content_names_modes_and_links_not_git(tmp_path):
    sub = tmp_path / "s"
    sub.mkdir()
    (sub / "server.c").write_text("int main(){}\n")
    h0 = submission_hash(sub)
    (sub / ".git").mkdir()
    (sub / ".git" / "HEAD").write_text("ref")
    assert submission_hash(sub) == h0
    (sub / "server.c").write_text("int main(){return 0;}\n")
    h1 = submission_hash(sub)
    assert h1 != h0
    (sub / "server.c").chmod(0o755)
    assert submission_hash(sub) != h1
    (sub / "server.c").chmod(0o644)
    (sub / "link").symlink_to("server.c")
    assert submission_hash(sub) != h1
    (tmp_path / "alias").symlink_to(sub, target_is_directory=True)
    assert submission_hash(tmp_path / "alias") == submission_hash(sub)


def fake_result(student: str, score: float = 1.0) -> SubmissionResult:
    return SubmissionResult(student=student, submission=f"/x/{student}", assignment="a",
                            spec_hash="h", tier="none", status=SubmissionStatus.GRADED,
                            score=score, max_score=2.0)


def test_result_files_are_atomic_and_a_broken_one_is_regraded(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    path = store.save(fake_result("ann", 1.0), "key1")
    assert read_result_file(path).key == "key1"

    def crash(*_a):            # the writer dies between writing and renaming
        raise OSError("simulated crash")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.save(fake_result("ann", 2.0), "key2")
    monkeypatch.undo()
    again = store.load("ann")
    assert again.result.score == 1.0 and again.key == "key1"        # the old file, whole
    assert [p.name for p in store.dir.iterdir()] == ["ann.json"]     # and nothing else

    # A writer SIGKILLed mid-write leaves only a hidden temp file: never read, removed next run.
    (store.dir / ".bob.json.x1y2").write_text('{"student": "bo')
    (store.dir / "cid.json").write_text('{"student": "ci')            # torn by hand or a disk
    assert [s.result.student for s in store] == ["ann"]
    assert store.load("cid") is None                                 # -> graded again
    assert store.remove_stale_temp_files() == 1
    assert sorted(p.name for p in store.dir.iterdir()) == ["ann.json", "cid.json"]


# ---------------------------------------------------------------- resume

def test_rerun_keeps_unchanged_results_force_and_changes_regrade(tmp_path):
    root = copy_class(tmp_path / "class", {"alice": UDP_SUBS / "c-correct",
                                           "bob": UDP_SUBS / "c-small-buffer"})
    out = tmp_path / "out"

    def batch(spec: Path = UDP, *extra: str) -> str:
        p = grader("batch", spec, root, "--jobs", "2", "--out", out, *QUICK_TESTS, *extra)
        assert p.returncode == 0, p.stderr
        return p.stderr

    err = batch()
    assert "2 graded, 0 kept" in err
    first = stored(out)
    assert set(first) == {"alice", "bob"} and first["bob"]["score"] < first["alice"]["score"]
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()}

    assert "0 graded, 2 kept" in batch()
    assert {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()} == mtimes

    (root / "bob" / "server.c").write_text((UDP_SUBS / "c-correct" / "server.c").read_text())
    assert "1 graded, 1 kept" in batch()                 # bob fixed his buffer
    assert stored(out)["bob"]["score"] == first["alice"]["score"]

    assert "2 graded, 0 kept" in batch(UDP, "--force")

    spec2 = tmp_path / "udp-echo.yaml"                   # one test's points changed
    spec2.write_text(UDP.read_text().replace("points: 2", "points: 3", 1))
    assert "2 graded, 0 kept" in batch(spec2)
    assert "2 graded, 0 kept" in batch(spec2, "--test", "echo-datagram")   # another subset


# ---------------------------------------------------------------- bad submissions

def _graded(spec: Spec, folder: str, student: str) -> dict:
    return SubmissionResult(student=student, submission=folder, assignment=spec.assignment,
                            spec_hash=spec.hash, tier="none", status=SubmissionStatus.GRADED,
                            score=spec.total_points, max_score=spec.total_points).to_dict()


def misbehaving_target(spec: Spec, folder: str, student: str, options: dict) -> dict:
    """A grading function that fails the ways a grader can: dies, hangs, will not stop."""
    if student.startswith("dies"):
        os.kill(os.getpid(), signal.SIGKILL)
    if student.startswith("hangs"):
        time.sleep(3600)
    if student.startswith("stubborn"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(3600)
    if student.startswith("raises"):
        raise RuntimeError("a bug in the grader")
    return _graded(spec, folder, student)


def test_a_dying_or_hanging_grading_takes_down_only_its_own_submission(tmp_path):
    names = ["ok-1", "dies", "hangs", "stubborn", "raises", "ok-2", "ok-3"]
    folders = []
    for n in names:
        (tmp_path / n).mkdir()
        folders.append(tmp_path / n)
    started = time.monotonic()
    # The watchdog leaves a freshly started worker time to import the grader on a busy
    # machine (the well-behaved gradings must never be taken for hung ones).
    with WorkerPool(UDP, GradeOptions(), jobs=2, target=misbehaving_target,
                    watchdog=4.0, grace=1.0, max_tasks=2) as pool:     # and workers recycled
        got = {o.result.student: o.result for o in pool.results(folders)}
    assert time.monotonic() - started < 40
    assert sorted(got) == sorted(names)
    for n in ("ok-1", "ok-2", "ok-3"):
        assert got[n].status is SubmissionStatus.GRADED
    assert got["dies"].status is SubmissionStatus.CRASHED
    assert "killed by SIGKILL" in got["dies"].message
    assert got["raises"].status is SubmissionStatus.CRASHED and "a bug in the grader" in got["raises"].message
    for n in ("hangs", "stubborn"):
        assert got[n].status is SubmissionStatus.TIMED_OUT and "did not finish within 4 s" in got[n].message


def waits_for_its_file(spec: Spec, folder: str, student: str, options: dict) -> dict:
    """A grading that lasts until its folder holds a file named "go" (or 20 s)."""
    deadline = time.monotonic() + 20
    while not (Path(folder) / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return _graded(spec, folder, student)


def test_two_pools_in_one_process_leave_each_others_workers_alone(tmp_path):
    """A pool that ends kills what killed workers left behind: never the live workers of
    another pool of the same process (a library user may run two batches at once), nor
    does it take the subreaper flag from under it."""
    slow = tmp_path / "slow"
    slow.mkdir()
    quick = tmp_path / "quick"
    quick.mkdir()
    (quick / "go").touch()
    first = WorkerPool(SPECS / "tcp-echo.yaml", GradeOptions(), jobs=1, target=waits_for_its_file)
    second = WorkerPool(UDP, GradeOptions(), jobs=1, target=waits_for_its_file)
    got: list = []
    grading = threading.Thread(target=lambda: got.extend(second.results([slow])))
    first.__enter__()
    try:
        with second:
            grading.start()                     # the second pool's worker starts after the first
            try:
                assert _poll(lambda: any(w.busy for w in second.workers), 20)
                worker = second.workers[0].process.pid
                [done] = list(first.results([quick]))
                assert done.result.status is SubmissionStatus.GRADED
                first.__exit__(None, None, None)    # the first ends while the second works
                assert psutil.pid_exists(worker), "the first pool killed the second's worker"
                assert psutil.Process(worker).status() != psutil.STATUS_ZOMBIE
                assert _subreaper() == 1
            finally:
                (slow / "go").touch()
                grading.join(30)
    finally:
        first.__exit__(None, None, None)        # (again, if an assertion failed: harmless)
    assert [(o.result.assignment, o.result.status) for o in got] == [("udp-echo", SubmissionStatus.GRADED)]
    assert _subreaper() == 0


def _subreaper() -> int:
    flag = ctypes.c_int(-1)
    ctypes.CDLL(None, use_errno=True).prctl(37, ctypes.byref(flag), 0, 0, 0)  # PR_GET_CHILD_SUBREAPER
    return flag.value


KILLED_COORDINATOR = """\
import sys, time
from pathlib import Path
from grader.engine import GradeOptions
from grader.workers import WorkerPool

def forever(spec, folder, student, options):
    time.sleep(3600)

if __name__ == "__main__":
    with WorkerPool(Path(sys.argv[1]), GradeOptions(), jobs=2, target=forever,
                    temp_root=Path(sys.argv[2])) as pool:
        list(pool.results([Path(sys.argv[3]), Path(sys.argv[4])]))
"""


def test_workers_of_a_killed_coordinator_remove_their_folders_and_exit(tmp_path, subreaper):
    """A coordinator killed outright (SIGKILL; pytest's own on SIGTERM) runs no clean-up:
    its workers, told by PR_SET_PDEATHSIG, remove their temporary folders themselves."""
    script = tmp_path / "coordinator.py"
    script.write_text(KILLED_COORDINATOR)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    coordinator = subprocess.Popen([sys.executable, str(script), str(UDP), str(tmp),
                                    str(tmp_path / "a"), str(tmp_path / "b")], cwd=ROOT)
    try:
        assert _poll(lambda: len(list(tmp.iterdir())) == 2 and len(
            psutil.Process(coordinator.pid).children()) >= 2, 30), list(tmp.iterdir())
        workers = [p for p in psutil.Process(coordinator.pid).children()
                   if "resource_tracker" not in " ".join(p.cmdline())]
        coordinator.kill()
        coordinator.wait(10)
        assert _poll(lambda: not list(tmp.iterdir()), 15), list(tmp.iterdir())
        assert _poll(lambda: not [w for w in workers if _running(w)], 15)
    finally:
        coordinator.kill()
        coordinator.wait(10)
        for p in _living_descendants():
            p.kill()
        _living_descendants()            # reaps what we adopted


def _running(p: psutil.Process) -> bool:
    try:
        if p.status() == psutil.STATUS_ZOMBIE:
            os.waitpid(p.pid, os.WNOHANG)     # adopted by us (the subreaper): reap it
            return False
        return True
    except (psutil.Error, ChildProcessError):
        return False


def test_one_pool_grades_the_submissions_of_several_assignments(tmp_path):
    """Each submission is graded against its own spec (its assignment, its points)."""
    tasks = [(SPECS / "tcp-echo.yaml", tmp_path / "a"), (UDP, tmp_path / "b"),
             (SPECS / "tcp-echo.yaml", tmp_path / "c")]
    for _, folder in tasks:
        folder.mkdir()
        (folder / "go").touch()
    with WorkerPool(UDP, GradeOptions(), jobs=2, target=waits_for_its_file) as pool:
        got = {Path(o.result.submission).name: o.result for o in pool.each(tasks)}
    assert {n: r.assignment for n, r in got.items()} == {"a": "tcp-echo", "b": "udp-echo",
                                                       "c": "tcp-echo"}
    assert got["a"].max_score == load_spec(SPECS / "tcp-echo.yaml").total_points
    assert got["b"].max_score == load_spec(UDP).total_points


def _poll(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def kill_me_once_the_program_runs() -> None:
    """SIGKILL this worker (as the OOM killer would) as soon as the student's server runs
    under it: then the grading is surely in the middle, however fast it is."""
    from grader.netinfo import descendants

    def running() -> bool:
        for pid in descendants(os.getpid())[1:]:
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"./server\0"):
                    return True
            except OSError:
                pass
        return False

    deadline = time.monotonic() + 10
    while not running() and time.monotonic() < deadline:
        time.sleep(0.001)
    os.kill(os.getpid(), signal.SIGKILL)


def killed_midway(spec: Spec, folder: str, student: str, options: dict) -> dict:
    """Real grading, but the worker is SIGKILLed while the student's program runs."""
    if student.startswith("killed"):
        threading.Thread(target=kill_me_once_the_program_runs, daemon=True).start()
    return grade_to_dict(spec, folder, student, options)


@pytest.mark.parametrize("tier", ["auto", "none"])
def test_a_worker_killed_mid_grading_leaves_nothing_behind(tmp_path, tier):
    """The box of a SIGKILLed worker dies with it (sandboxed tiers) or is killed when the
    pool ends (unsandboxed: its programs were re-parented to the pool); the autouse
    fixture of conftest checks that no process is left."""
    root = link_class(tmp_path / "class", {"killed": UDP_SUBS / "c-no-htons",
                                           "fine": UDP_SUBS / "c-correct"})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    options = GradeOptions(tier=tier, only=["bound", "echo-datagram", "binary-safe", "boundaries",
                                            "sigterm"])
    with WorkerPool(UDP, options, jobs=2, target=killed_midway, temp_root=tmp) as pool:
        got = {o.result.student: o.result for o in pool.results(sorted(root.iterdir()))}
    assert list(tmp.iterdir()) == []                 # its work dir went with its temp folder
    assert got["killed"].status is SubmissionStatus.CRASHED
    assert "killed by SIGKILL" in got["killed"].message
    assert got["fine"].status is SubmissionStatus.GRADED


@pytest.mark.parametrize("tier", ["auto", "none"])
def test_a_batch_workers_programs_take_the_signals_a_shell_gives(tmp_path, tier):
    """A worker ignores SIGINT (Ctrl-C is the coordinator's) and an ignored signal stays
    ignored across exec: unsandboxed, every program once failed sigint in a batch."""
    tcp = SUBMISSIONS / "tcp-echo"
    root = link_class(tmp_path / "class", {"c": tcp / "c-correct-fork", "py": tcp / "py-correct-threads"})
    options = GradeOptions(tier=tier, only=["sigint", "sigterm"])
    with WorkerPool(SPECS / "tcp-echo.yaml", options, jobs=2) as pool:
        got = {o.result.student: o.result for o in pool.results(sorted(root.iterdir()))}
    for student, result in got.items():
        assert {t.name: t.status.value for t in result.tests} == {"sigint": "passed", "sigterm": "passed"}, \
            (student, [t.feedback for t in result.tests])


def test_submissions_that_do_not_build_or_hold_nothing_are_in_the_gradebook(tmp_path):
    root = link_class(tmp_path / "class", {"good": UDP_SUBS / "py-correct"})
    (root / "broken").mkdir()
    (root / "broken" / "server.c").write_text(BROKEN_C)
    (root / "empty").mkdir()
    out = tmp_path / "out"
    p = grader("batch", UDP, root, "--jobs", "3", "--out", out, *QUICK_TESTS, "--format", "csv")
    assert p.returncode == 0, p.stderr
    status = {name: doc["status"] for name, doc in stored(out).items()}
    assert status == {"good": "graded", "broken": "build failed", "empty": "not gradable"}
    table = {ln.split()[0]: ln for ln in p.stdout.splitlines() if ln.strip()}
    assert "build failed" in table["broken"] and "not gradable" in table["empty"]
    assert "[3/3]" in p.stderr                       # plain progress lines: not a terminal
    assert (out / "grades.csv").is_file() and (out / "class-report.html").is_file()


# ---------------------------------------------------------------- shards + merge

def test_shards_run_as_processes_then_merged_equal_one_run(tmp_path):
    samples = ["c-correct", "c-small-buffer", "c-strlen", "c-double-reply", "py-correct",
               "py-small-buffer"]
    root = link_class(tmp_path / "class", {f"s-{n}": UDP_SUBS / n for n in samples})
    n = 3
    shards = [subprocess.Popen([sys.executable, "-m", "grader", "batch", str(UDP), str(root),
                                "--jobs", "2", "--shard", f"{k}/{n}", "--out", str(tmp_path / f"shard{k}")],
                               env=env_with(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for k in range(1, n + 1)]
    for p in shards:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    single = grader("batch", UDP, root, "--jobs", "4", "--out", tmp_path / "single", "--format", "json")
    assert single.returncode == 0, single.stderr

    dirs = [tmp_path / f"shard{k}" for k in range(1, n + 1)]
    held = [json.loads((d / "batch.json").read_text())["students"] for d in dirs]
    assert sorted(sum(held, [])) == sorted(p.name for p in root.iterdir())
    merged = grader("merge", *dirs, "--out", tmp_path / "merged", "--format", "json,csv")
    assert merged.returncode == 0, merged.stderr
    one = json.loads((tmp_path / "single" / "results.json").read_text())["submissions"]
    joined = json.loads((tmp_path / "merged" / "results.json").read_text())["submissions"]
    assert verdicts(joined) == verdicts(one)
    assert (tmp_path / "merged" / "grades.csv").is_file()
    assert (tmp_path / "merged" / "class-report.html").is_file()

    missing = grader("merge", dirs[0], dirs[2], "--out", tmp_path / "m2")
    assert missing.returncode == 2 and "shard 2/3 not given" in missing.stderr
    assert "--partial" in missing.stderr
    partial = grader("merge", dirs[0], dirs[2], "--out", tmp_path / "m2", "--partial")
    assert partial.returncode == 0 and "warning" in partial.stderr
    twice = grader("merge", dirs[0], dirs[0], "--out", tmp_path / "m3")
    assert twice.returncode == 2 and "also in" in twice.stderr


# ---------------------------------------------------------------- Ctrl-C

PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture
def subreaper():
    """Orphans of the child under test come to us (not init), so leftovers can be seen."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1), 0, 0, 0)
    yield
    libc.prctl(PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(0), 0, 0, 0)


def _living_descendants() -> list[psutil.Process]:
    alive = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(p.pid, os.WNOHANG)           # an orphan we adopted: reap it
            elif "resource_tracker" not in " ".join(p.cmdline()):
                alive.append(p)
        except (psutil.Error, ChildProcessError):
            pass
    return alive


def _as_in_a_terminal() -> None:
    """SIGINT at its default, as for a command typed at a terminal.  (A suite run in the
    background by a shell without job control inherits SIGINT ignored, and an ignored
    SIGINT stays ignored across exec: the grader would rightly never see the Ctrl-C.)"""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


SILENT_UDP_SERVER = """\
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[1])))
while True:
    s.recvfrom(65536)
"""


@pytest.mark.parametrize("to_group", [False, True], ids=["to-the-grader", "to-its-process-group"])
def test_ctrl_c_stops_cleanly_keeps_finished_results_leaves_nothing(tmp_path, subreaper, to_group):
    """SIGINT to the grader alone (kill -INT), or to its whole process group as a
    terminal's Ctrl-C sends it (the workers get it too, and must leave it to the grader)."""
    # A server that never answers makes every echo test wait out its deadline: slow.
    silent = tmp_path / "silent"
    silent.mkdir()
    (silent / "server.py").write_text(SILENT_UDP_SERVER)
    root = link_class(tmp_path / "class", {
        "fast-1": UDP_SUBS / "c-correct", "fast-2": UDP_SUBS / "c-small-buffer",
        "slow-1": silent, "slow-2": silent})
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(UDP), str(root),
                             "--jobs", "4", "--out", str(out)],
                            env=env_with(TMPDIR=str(tmp)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=to_group,
                            preexec_fn=_as_in_a_terminal)
    try:
        deadline = time.monotonic() + 30
        while len(list((out / "results").glob("fast-*.json"))) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the fast submissions never finished"
            time.sleep(0.05)
        assert not list((out / "results").glob("slow-*.json"))    # still grading
        if to_group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    kept = stored(out)
    assert {"fast-1", "fast-2"} <= set(kept) and kept["fast-1"]["score"] == kept["fast-1"]["max_score"]
    assert not [p for p in (out / "results").iterdir() if p.name.startswith(".")]
    deadline = time.monotonic() + 5
    while (left := _living_descendants()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, [p.cmdline() for p in left]
    assert list(tmp.iterdir()) == []                                 # no work dirs left
    rerun = grader("batch", UDP, root, "--jobs", "4", "--out", out, "--test", "bound",
                   env=env_with(TMPDIR=str(tmp)))
    assert rerun.returncode == 0 and "4 graded, 0 kept" in rerun.stderr
