"""Hostile submissions: the grader survives them, contains them, and grades the next one normally.

Each sample in submissions/hostile/ is graded (a few tests of the tcp-echo
spec, enough to run it) in every sandboxed tier this machine can show. For
each: the recorded verdict, within its deadline; no process of it survives;
the original folder is byte-for-byte unchanged; the next submission gets full
marks; and no namespace, mount, cgroup or box user is left behind.
"""

from __future__ import annotations

import glob
import os
import stat
import tempfile
import time

import psutil
import pytest

from conftest import SPECS, SUBMISSIONS, expected_of
from grader import GradeOptions, TestStatus, grade, load_spec
from grader.build import remove_tree
from grader.sandbox import UID_BASE, UID_SLOTS, detect_tier, open_box
from test_runner import tree_hash

# Alone: what a grading leaves behind is looked for machine-wide (processes, networks).
pytestmark = [pytest.mark.timeout(180), pytest.mark.alone]

HOSTILE = sorted(p.parent for p in (SUBMISSIONS / "hostile").glob("*/expected.yaml"))
# Enough to run it, plus the tests that reuse its port (a restart, a port held by the grader).
TESTS = ["listens", "echo-line", "sigterm", "restart", "port-in-use"]
SPEC = load_spec(SPECS / "tcp-echo.yaml")
CORRECT = SUBMISSIONS / "tcp-echo" / "c-correct-fork"


def _available(tier: str) -> str | None:
    try:
        open_box(tier).close()
        return None
    except Exception as e:        # noqa: BLE001 - the reason becomes the skip message
        return str(e)


TIERS = [pytest.param(t, marks=pytest.mark.skipif(bool(_available(t)), reason=f"tier {t}: {_available(t)}"))
         for t in ("root", "userns")]


def _in_live_box(proc: psutil.Process) -> bool:
    """Whether a process is inside a box that is still open (another grading's, in a busy run)."""
    try:
        return any("boxhelper" in " ".join(p.cmdline()) for p in [proc, *proc.parents()])
    except psutil.Error:
        return False


def machine_state() -> dict[str, set]:
    """What a grading run must not leave behind, outside boxes that are still open."""
    netns, box_users = set(), set()
    for p in psutil.process_iter(["uids"]):
        try:
            if _in_live_box(p):
                continue
            netns.add(os.readlink(f"/proc/{p.pid}/ns/net"))
            if UID_BASE <= p.info["uids"].real < UID_BASE + UID_SLOTS:
                box_users.add(p.pid)
        except (psutil.Error, OSError, TypeError):
            pass
    cgroups = set()
    for path in glob.glob("/sys/fs/cgroup/*/**/box-*", recursive=True):
        owner = os.path.basename(path).split("-")[1]     # box-<grader pid>-<uid>
        ours = owner == str(os.getpid())
        if ours or not (owner.isdigit() and psutil.pid_exists(int(owner))):
            cgroups.add(path)
    mounts = {ln.split(" - ")[0].split(" ", 4)[-1] for ln in open("/proc/self/mountinfo")}
    # The folder that holds the grader's work (the machine's /tmp): its mode too.
    tmp = tempfile.gettempdir()
    modes = {f"{tmp} {stat.filemode(os.stat(tmp).st_mode)}"}
    return {"netns": netns, "mounts": mounts, "cgroups": cgroups, "box processes": box_users,
            "modes": modes}


def left_behind(before: dict[str, set], seconds: float = 3.0) -> dict[str, set]:
    """What is there now and was not before, once the kernel has finished tearing down."""
    end = time.monotonic() + seconds
    while True:
        new = {k: v - before[k] for k, v in machine_state().items()}
        if not any(new.values()) or time.monotonic() > end:
            return {k: v for k, v in new.items() if v}
        time.sleep(0.05)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("sample", HOSTILE, ids=lambda p: p.name)
def test_hostile_sample_is_contained(tier, sample):
    exp = expected_of(sample)
    before_files = tree_hash(sample)
    before = machine_state()
    started = time.monotonic()
    r = grade(SPEC, sample, GradeOptions(tier=tier, only=TESTS))
    took = time.monotonic() - started
    assert r.tier == f"sandboxed-{tier}"
    assert took < sum(t.timeout for t in SPEC.tests if t.name in TESTS) + 5
    assert not [t.name for t in r.tests if t.status is TestStatus.ERROR], \
        "the grader must never fail because of the student"
    failed = sorted(t.name for t in r.tests if not t.passed)
    expected_failed = [] if exp["score"] == "full" else sorted(set(exp["failed"]) & set(TESTS))
    assert failed == expected_failed, {t.name: t.feedback for t in r.tests if not t.passed}
    for test, text in exp.get("feedback", {}).items():
        if test in TESTS:
            assert text in next(t for t in r.tests if t.name == test).feedback
    assert tree_hash(sample) == before_files, "the original submission was modified"
    assert left_behind(before) == {}
    nxt = grade(SPEC, CORRECT, GradeOptions(tier=tier, only=TESTS))
    assert nxt.score == nxt.run_max_score, [t.feedback for t in nxt.tests]


def test_endless_output_is_capped_and_said(tmp_path):
    """The printer starts after it listens: the test gives it half a second of a quiet
    connection (a loaded machine may not run it at all within a 20 ms test)."""
    sample = SUBMISSIONS / "hostile" / "endless-printer"
    text = (SPECS / "tcp-echo.yaml").read_text().replace("  total: 120\n", "  total: 120\n  output_kb: 4\n")
    text = text.replace("\ntests:\n", "\ntests:\n  - name: quiet-while\n    points: 1\n    steps:\n"
                        "      - connect: a\n      - expect: {from: a, nothing: 0.5}\n", 1)
    (tmp_path / "capped.yaml").write_text(text)
    spec = load_spec(tmp_path / "capped.yaml")
    assert spec.limits["output_kb"] == 4
    r = grade(spec, sample, GradeOptions(only=["quiet-while"]))
    assert r.score == r.run_max_score
    assert "output cut" in r.tests[0].stdout_tail


@pytest.mark.timeout(30)
def test_removing_a_work_dir_touches_nothing_outside_it(tmp_path):
    """What a program left (folders without permissions, a link to a file outside) is
    removed; the folder holding the work dir (the machine's /tmp) and the link's target
    keep their modes, also when the work dir is already gone (a second removal)."""
    holder = tmp_path / "holder"
    holder.mkdir(mode=0o755)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    outside.chmod(0o644)
    work = holder / "work"
    locked = work / "locked"
    locked.mkdir(parents=True)
    (locked / "file").write_text("x")
    (locked / "link").symlink_to(outside)
    (locked / "inner").mkdir()
    (locked / "inner").chmod(0)
    locked.chmod(0o500)
    remove_tree(work)
    assert not work.exists()
    remove_tree(work)                          # gone already
    remove_tree(holder / "never-made")
    assert stat.S_IMODE(holder.stat().st_mode) == 0o755
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644 and outside.read_text() == "keep"


def test_doctor_names_the_tier(run_cli):
    code, out, _ = run_cli("doctor")
    info = detect_tier()
    assert info.tier in out
    assert code == (0 if info.tier.startswith("sandboxed") else 1)
