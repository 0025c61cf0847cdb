"""A Markdown summary for GitHub Actions (and anyone reading Markdown).

``OUT/summary.md`` holds a table (one row per test for one submission, one row
per submission for a batch) and each failing test's feedback in a
``<details>`` block.  On GitHub Actions two more things happen, both read from
the environment the writer is given:

- ``$GITHUB_STEP_SUMMARY`` set: the same Markdown is appended to that file,
  which GitHub shows on the run's page;
- ``GITHUB_ACTIONS=true``: one ``::error title=...::message`` line per failing
  test goes to stdout, which GitHub turns into annotations.  GitHub shows at
  most 10 error annotations per step, so at most :data:`MAX_ANNOTATIONS` are
  printed, the last one saying how many more failed.

Everything a student controls (folder names, their program's output inside the
feedback) is escaped: HTML-escaped in text and ``<summary>``, and put in code
fences longer than any run of backticks it holds.
"""

from __future__ import annotations

import html
import os
import re
import sys
from pathlib import Path
from typing import Mapping, Sequence, TextIO

from ..results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
from ..spec import Spec
from .jsonfmt import atomic_write
from .terminal import header
from .views import failing, feedback_text, first_line, points, score_line

FILENAME = "summary.md"
MAX_ANNOTATIONS = 10
# GitHub accepts at most 1 MiB of step summary per step; stay clearly below it.
SIZE_BUDGET = 900_000

RESULT_WORDS = {TestStatus.PASSED: "✅ passed", TestStatus.FAILED: "❌ failed",
                TestStatus.ERROR: "⚠️ grader error", TestStatus.SKIPPED: "⏭️ not run",
                TestStatus.NOT_APPLICABLE: "➖ not applicable"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


# ------------------------------------------------------------------ escaping

def md_text(text: str) -> str:
    """Inline text (a table cell, a heading): no HTML, no Markdown syntax, one line."""
    one_line = " ".join(text.split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def code_block(text: str, lang: str = "text") -> str:
    """``text`` verbatim in a fence longer than any backtick run inside it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def details(summary: str, body: str) -> str:
    """A collapsed block; ``summary`` is plain text (escaped here), ``body`` Markdown."""
    return f"<details><summary>{html.escape(summary)}</summary>\n\n{body}\n\n</details>"


# GitHub workflow commands: https://docs.github.com -> "Workflow commands for GitHub Actions".
def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


# ------------------------------------------------------------------ Markdown

def test_table(r: SubmissionResult) -> str:
    lines = ["| # | Test | Points | Result |", "|---:|---|---:|---|"]
    for t in r.tests:
        lines.append(f"| {t.number} | {md_text(t.name)} | {points(t.points)}/{points(t.max_points)} "
                     f"| {RESULT_WORDS[t.status]} |")
    return "\n".join(lines)


def test_details(t: TestResult, prefix: str = "") -> str:
    summary = f"{prefix}{t.number}. {t.name}: {points(t.points)}/{points(t.max_points)}"
    return details(summary, code_block(feedback_text(t)))


def submission_problem(r: SubmissionResult) -> str:
    """The submission-level message (build output, time limit) as a collapsed block."""
    if r.status is SubmissionStatus.GRADED or not r.message:
        return ""
    return details(f"{r.student}: {first_line(r.message)}", code_block(r.message))


def one_submission(r: SubmissionResult, spec: Spec) -> str:
    parts = [f"## {md_text(spec.title)}: {md_text(score_line(r))}",
             f"{md_text(header(spec, r))}  \nstatus: **{md_text(r.status.value)}**"]
    problem = submission_problem(r)
    if problem:
        parts.append(problem)
    parts.append(test_table(r))
    # After a build failure every test says "not run": the build output above is the story.
    if r.status is SubmissionStatus.GRADED or r.status is SubmissionStatus.TIMED_OUT:
        parts += [test_details(t) for t in failing(r) if t.status is not TestStatus.SKIPPED]
    return "\n\n".join(parts) + "\n"


def class_table(results: Sequence[SubmissionResult]) -> str:
    lines = ["| Student | Score | Status | Failing tests |", "|---|---:|---|---|"]
    for r in results:
        names = ", ".join(t.name for t in failing(r))
        lines.append(f"| {md_text(r.student)} | {points(r.score)}/{points(r.max_score)} "
                     f"| {md_text(r.status.value)} | {md_text(names)} |")
    return "\n".join(lines)


def many_submissions(results: Sequence[SubmissionResult], spec: Spec) -> str:
    full = sum(1 for r in results if r.full_marks)
    parts = [f"## {md_text(spec.title)}: {len(results)} submissions, {full} with full marks",
             f"spec `{spec.hash}`", class_table(results)]
    size = sum(len(p) for p in parts)
    cut = 0
    for r in results:
        blocks = [b for b in [submission_problem(r)] if b]
        if r.status in (SubmissionStatus.GRADED, SubmissionStatus.TIMED_OUT):
            blocks += [test_details(t, f"{r.student}: ") for t in failing(r)
                       if t.status is not TestStatus.SKIPPED]
        if not blocks:
            continue
        section = f"### {md_text(r.student)}\n\n" + "\n\n".join(blocks)
        if size + len(section) > SIZE_BUDGET:
            cut += 1
            continue
        parts.append(section)
        size += len(section)
    if cut:
        parts.append(f"_Feedback of {cut} more submissions left out to stay within GitHub's "
                     "size limit: see the HTML report._")
    return "\n\n".join(parts) + "\n"


def render(results: Sequence[SubmissionResult], spec: Spec) -> str:
    if len(results) == 1:
        return one_submission(results[0], spec)
    return many_submissions(results, spec)


# ------------------------------------------------------------------ annotations

def annotations(results: Sequence[SubmissionResult], spec: Spec) -> list[str]:
    """``::error`` lines: one per submission that failed as a whole, one per failing test."""
    prefix_students = len(results) > 1
    found: list[tuple[str, str]] = []
    for r in results:
        who = f"{r.student}: " if prefix_students else ""
        if r.status is not SubmissionStatus.GRADED and r.message:
            found.append((f"{who}{spec.assignment}: {r.status.value}", r.message))
        for t in r.tests:
            if t.status in (TestStatus.FAILED, TestStatus.ERROR):
                title = f"{who}{t.number}. {t.name} ({points(t.points)}/{points(t.max_points)})"
                found.append((title, feedback_text(t)))
    if len(found) > MAX_ANNOTATIONS:
        more = len(found) - (MAX_ANNOTATIONS - 1)
        found = found[:MAX_ANNOTATIONS - 1] + [
            (f"{more} more failures", "see the job summary for all of them")]
    return [f"::error title={escape_property(title)}::{escape_data(message)}"
            for title, message in found]


# ------------------------------------------------------------------ writing

def write(results: Sequence[SubmissionResult], spec: Spec, out_dir: Path, *,
          env: Mapping[str, str] | None = None, stream: TextIO | None = None) -> list[Path]:
    """Write ``OUT/summary.md``; on GitHub Actions also the step summary and annotations.

    ``env`` and ``stream`` default to the process's environment and stdout.
    """
    env = os.environ if env is None else env
    stream = sys.stdout if stream is None else stream
    text = render(results, spec)
    path = out_dir / FILENAME
    atomic_write(path, text)
    written = [path]
    step_summary = env.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        # Appended, not replaced: earlier steps' summaries share the file.
        with open(step_summary, "a", encoding="utf-8") as f:
            f.write(text + "\n")
        written.append(Path(step_summary))
    if env.get("GITHUB_ACTIONS") == "true":
        for line in annotations(results, spec):
            print(line, file=stream)
        stream.flush()
    return written
