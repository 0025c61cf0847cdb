"""One static, self-contained HTML page per run: the submissions and their feedback.

No scripts, no external files (styles are inline, and a Content-Security-Policy
forbids loading anything); every piece of text is escaped, since folder names
and a program's output are chosen by students.  Failing tests' feedback is in
``<details>`` blocks; passing tests are one table row each.

Where: ``OUT/report.html``.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Sequence

from ..results import SubmissionResult, SubmissionStatus, TestStatus
from ..spec import Spec
from .jsonfmt import atomic_write
from .terminal import header
from .views import failing, feedback_text, points, score_line

FILENAME = "report.html"

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;vertical-align:top}
td.num{text-align:right}
.passed{color:#176b2c}.failed{color:#b00020}.error{color:#8a3ca0}.skipped{color:#8a6d00}.not.applicable{color:#555}
pre{background:#f5f5f5;padding:.6rem;overflow-x:auto;white-space:pre-wrap}
section{border-top:1px solid #ddd;margin-top:1.5rem}
.meta{color:#555;font-size:.9em}
"""

# No network, no scripts: even a missed escape could not load or run anything.
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def e(text: object) -> str:
    return escape(str(text), quote=True)


def anchor(i: int) -> str:
    """Ids come from positions, never from names a student chose."""
    return f"s{i}"


def class_table(results: Sequence[SubmissionResult]) -> str:
    rows = []
    for i, r in enumerate(results, 1):
        names = ", ".join(t.name for t in failing(r))
        rows.append(f'<tr><td><a href="#{anchor(i)}">{e(r.student)}</a></td>'
                    f'<td class="num">{e(points(r.score))}/{e(points(r.max_score))}</td>'
                    f"<td>{e(r.status.value)}</td><td>{e(names)}</td></tr>")
    return ("<table><thead><tr><th>Student</th><th>Score</th><th>Status</th>"
            "<th>Failing tests</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def test_table(r: SubmissionResult) -> str:
    rows = []
    for t in r.tests:
        rows.append(f'<tr><td class="num">{e(t.number)}</td><td>{e(t.name)}</td>'
                    f'<td class="num">{e(points(t.points))}/{e(points(t.max_points))}</td>'
                    f'<td class="{e(t.status.value)}">{e(t.status.value)}</td>'
                    f"<td>{e(t.description)}</td></tr>")
    return ("<table><thead><tr><th>#</th><th>Test</th><th>Points</th><th>Result</th>"
            "<th>What it checks</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def submission_section(i: int, r: SubmissionResult, spec: Spec) -> str:
    parts = [f'<section id="{anchor(i)}">',
             f"<h2>{e(r.student)}: {e(score_line(r))}</h2>",
             f'<p class="meta">{e(header(spec, r))}<br>submission: {e(r.submission)} · '
             f"status: {e(r.status.value)} · {r.duration:.2f} s</p>"]
    if r.message and r.status is not SubmissionStatus.GRADED:
        parts.append(f"<pre>{e(r.message)}</pre>")
    parts.append(test_table(r))
    for t in failing(r):
        if t.status is TestStatus.SKIPPED and r.status is not SubmissionStatus.GRADED:
            continue        # "not run: did not build" sixteen times says nothing new
        summary = f"{t.number}. {t.name}: {points(t.points)}/{points(t.max_points)} ({t.status.value})"
        parts.append(f"<details><summary>{e(summary)}</summary><pre>{e(feedback_text(t))}</pre></details>")
    parts.append("</section>")
    return "\n".join(parts)


def render(results: Sequence[SubmissionResult], spec: Spec) -> str:
    full = sum(1 for r in results if r.full_marks)
    version = results[0].grader_version if results else ""
    body = [f"<h1>{e(spec.title)}</h1>",
            f'<p class="meta">assignment {e(spec.assignment)} · spec {e(spec.hash)} · '
            f"{len(results)} submission{'s' if len(results) != 1 else ''}, {full} with full "
            f"marks · socket-grader {e(version)}</p>"]
    if len(results) > 1:
        body.append(class_table(results))
    body += [submission_section(i, r, spec) for i, r in enumerate(results, 1)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{e(spec.title)}: socket-grader report</title><style>{STYLE}</style></head>\n"
            "<body>\n" + "\n".join(body) + "\n</body></html>\n")


def write(results: Sequence[SubmissionResult], spec: Spec, out_dir: Path) -> list[Path]:
    path = out_dir / FILENAME
    atomic_write(path, render(results, spec))
    return [path]
