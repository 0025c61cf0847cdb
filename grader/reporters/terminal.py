"""The human report on a terminal: one submission in full, or a class as a table."""

from __future__ import annotations

import os
import sys
from typing import Sequence, TextIO

from ..results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
from ..spec import Spec

MARKS = {TestStatus.PASSED: ("PASS", "32"), TestStatus.FAILED: ("FAIL", "31"),
         TestStatus.ERROR: ("ERR ", "35"), TestStatus.SKIPPED: ("SKIP", "33"),
         TestStatus.NOT_APPLICABLE: ("N/A ", "36")}


def use_color(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _c(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def _points(x: float) -> str:
    return f"{x:g}"


def header(spec: Spec, r: SubmissionResult) -> str:
    return (f"{spec.assignment} · spec {spec.hash} · {r.tier} · seed {r.seed} · "
            f"socket-grader {r.grader_version}")


def test_line(t: TestResult, color: bool) -> str:
    mark, code = MARKS[t.status]
    pts = f"{_points(t.points)}/{_points(t.max_points)}"
    vis = "" if t.visibility == "visible" else f" [{t.visibility}]"
    return f"  {_c(mark, code, color)} {t.number:>2}. {t.name:<24} {pts:>7}  {t.duration:5.2f}s{vis}"


def report_one(r: SubmissionResult, spec: Spec, stream: TextIO = sys.stdout) -> None:
    color = use_color(stream)
    w = stream.write
    w(header(spec, r) + "\n")
    w(f"submission: {r.submission}")
    if r.build and r.build.commands:
        reused = ", the same build as before (build cache)" if r.build.cached else ""
        w(f"  (built as {r.build.language} in {r.build.duration:.2f} s{reused})")
    elif r.build:
        w(f"  ({r.build.language})")
    w("\n\n")
    if r.message and r.status is not SubmissionStatus.GRADED:
        w(_c(r.message, "31", color) + "\n\n")
    seen: dict[str, TestResult] = {}
    for t in r.tests:
        w(test_line(t, color) + "\n")
        if t.status in (TestStatus.FAILED, TestStatus.ERROR) and t.feedback:
            if t.feedback in seen:
                first = seen[t.feedback]
                w(f"        (the same failure as test {first.number}, {first.name})\n")
                continue
            seen[t.feedback] = t
            if t.description:
                w(f"        {t.description}\n")
            for line in t.feedback.splitlines():
                w(f"        {line}\n")
        elif t.status is TestStatus.NOT_APPLICABLE:
            w(f"        {t.feedback}\n")
    w("\n")
    total = f"score: {_points(r.score)}/{_points(r.run_max_score)}"
    if r.hidden_not_run:
        total += (f"  ({r.hidden_not_run} hidden test{'s' if r.hidden_not_run != 1 else ''} "
                  f"not run; the assignment is out of {_points(r.max_score)})")
    w(_c(total, "1", color) + f"   [{r.status.value}, {r.duration:.2f} s]\n")


def report_table(results: Sequence[SubmissionResult], spec: Spec, stream: TextIO = sys.stdout) -> None:
    color = use_color(stream)
    w = stream.write
    names = [t.name for t in spec.tests]
    width = max([len(r.student) for r in results] + [10])
    w(f"{spec.assignment} · spec {spec.hash} · {len(results)} submissions\n\n")
    w(f"{'student':<{width}}  {'score':>9}  {'status':<13} failed tests\n")
    for r in results:
        failed = [t.name for t in r.tests if t.status is not TestStatus.PASSED and t.applicable]
        score = f"{_points(r.score)}/{_points(r.max_score)}"
        st = r.status.value
        line = f"{r.student:<{width}}  {score:>9}  {st:<13} {', '.join(failed) if len(failed) < len(names) else 'all'}"
        w((_c(line, "32", color) if r.full_marks else line) + "\n")
    full = sum(1 for r in results if r.full_marks)
    w(f"\n{full} of {len(results)} with full marks\n")
