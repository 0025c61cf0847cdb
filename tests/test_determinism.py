"""Repeat run: every sample graded N times gets the same score, the same failed tests,
and the same causes for each (the diagnoses' codes).

Outside the default suite (marked slow); run it with

    .venv/bin/python -m pytest -m slow tests/test_determinism.py

SOCKET_GRADER_REPEAT sets N (default 20); SOCKET_GRADER_JOBS the parallelism
(default 4: on 2 cores, parallel grading is also a load test of the deadlines);
SOCKET_GRADER_ASSIGNMENTS (comma-separated) limits it to some assignments;
SOCKET_GRADER_PREFIXES (comma-separated) keeps the samples whose names start so;
SOCKET_GRADER_HOGS starts that many CPU hogs (busy loops) beside the grading
for the whole run, so deadlines meet a machine busier than it has cores.
Under load:

    SOCKET_GRADER_JOBS=8 SOCKET_GRADER_HOGS=2 .venv/bin/python -m pytest -m slow tests/test_determinism.py
"""

from __future__ import annotations

import collections
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SPECS, sample_dirs, with_evidence
from grader.batch import grade_each
from grader.engine import GradeOptions

REPEAT = int(os.environ.get("SOCKET_GRADER_REPEAT", "20"))
JOBS = int(os.environ.get("SOCKET_GRADER_JOBS", "4"))
ONLY = [a for a in os.environ.get("SOCKET_GRADER_ASSIGNMENTS", "").split(",") if a]
HOGS = int(os.environ.get("SOCKET_GRADER_HOGS", "0"))
# Comma-separated name prefixes of the samples to repeat (e.g. "c-,py-"); default: all.
PREFIXES = tuple(p for p in os.environ.get("SOCKET_GRADER_PREFIXES", "").split(",") if p)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(REPEAT * 400)]


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)      # PR_SET_PDEATHSIG


@pytest.fixture
def cpu_hogs():
    """HOGS busy loops for the length of the test (each also ends itself after 2 hours,
    or when pytest is killed)."""
    hogs = [subprocess.Popen([sys.executable, "-c",
                              "import time\nend = time.monotonic() + 7200\n"
                              "while time.monotonic() < end: pass"], preexec_fn=_die_with_parent)
            for _ in range(HOGS)]
    yield
    for h in hogs:
        h.kill()
        h.wait()


def test_every_sample_gets_the_same_verdict_every_time(cpu_hogs):
    verdicts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    # The causes named for each failed test, by sample: a cause that comes and goes
    # (evidence a busy machine kept from being used) is a flake of the feedback.
    causes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    cause_said: dict[tuple[str, tuple], dict[str, str]] = {}
    said: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
    assignments = sorted({p.parent.name for p in sample_dirs()} & {p.stem for p in SPECS.glob("*.yaml")})
    if ONLY:
        assignments = [a for a in assignments if a in ONLY]
    samples = {a: [p for p in sample_dirs(a) if not PREFIXES or p.name.startswith(PREFIXES)]
               for a in assignments}                      # the same samples every round
    for round_ in range(REPEAT):
        tasks = [(SPECS / f"{a}.yaml", sample) for a in assignments for sample in samples[a]]
        for r in grade_each(tasks, jobs=JOBS, options=GradeOptions()):
            failed = tuple(sorted(t.name for t in r.tests if not t.passed))
            key = f"{r.assignment}/{Path(r.submission).name}"
            verdicts[key][(r.score, failed)] += 1
            named = tuple((t.name, tuple(sorted(t.diagnoses))) for t in r.tests if not t.passed)
            causes[key][named] += 1
            cause_said.setdefault((key, named), {t.name: with_evidence(t) for t in r.tests
                                                 if not t.passed})
            if len(causes[key]) > 1 and causes[key][named] == 1 and len(verdicts[key]) == 1:
                print(f"round {round_ + 1}: {key} named other causes: {named}", flush=True)
            # What a failed test said, the first time each verdict was seen: a flip is
            # then reported with its feedback, so its cause can be found.
            said.setdefault((key, failed), {t.name: t.feedback for t in r.tests if not t.passed})
            if len(verdicts[key]) > 1 and verdicts[key][(r.score, failed)] == 1:
                print(f"round {round_ + 1}: {key} flipped to {r.score} {failed}:", flush=True)
                for name, feedback in said[(key, failed)].items():
                    print(f"  {name}: {feedback}", flush=True)
        unstable = sorted(k for k, v in verdicts.items() if len(v) > 1)
        wavering = sorted(k for k, v in causes.items() if len(v) > 1 and k not in unstable)
        print(f"round {round_ + 1}/{REPEAT}: {len(verdicts)} samples, unstable so far: {unstable}"
              f", other causes so far: {wavering}", flush=True)
    unstable = {k: dict(v) for k, v in verdicts.items() if len(v) > 1}
    wavering = {k: dict(v) for k, v in causes.items() if len(v) > 1 and k not in unstable}
    print(f"\n{len(verdicts)} samples x {REPEAT} runs (--jobs {JOBS}, {HOGS} CPU hogs): "
          f"{len(unstable)} unstable, {len(wavering)} more with causes that changed")
    for key, seen in wavering.items():
        for named, times in seen.items():
            print(f"--- {key}: causes {named} in {times} of {REPEAT} runs")
            for name, text in cause_said[(key, named)].items():
                print(f"  {name}: {text}")
    for key, seen in unstable.items():
        always = set.intersection(*(set(failed) for _, failed in seen))
        for (_score, failed), times in seen.items():      # the tests that flipped, as they failed
            for name, feedback in said.get((key, failed), {}).items():
                if name not in always:
                    print(f"--- {key}: {name} failed in {times} of {REPEAT} runs:\n{feedback}")
    assert not unstable
    assert not wavering
