"""The class report: one static HTML page that shows a whole class at a glance.

What an instructor looks for, top to bottom: the score distribution (a
histogram drawn as inline SVG from the data), each test's pass rate, the most
common problems in plain words ("37 submissions forgot htons() on the port"),
a table of students, and each student's feedback further down (anchors in the
same page, so it is still one file to mail or upload).

Self-contained: no scripts, no external files, no web fonts; a
Content-Security-Policy forbids loading anything, and every piece of text is
escaped (folder names and program output are chosen by students).  Ids are made
from positions, never from names.

Where: ``OUT/class-report.html`` (``grader batch`` and ``grader merge`` write it;
``grader report DIR`` writes it again from stored results).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Sequence

from ..results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
from ..spec import Spec
from .jsonfmt import atomic_write

FILENAME = "class-report.html"

# Diagnosis code -> what the submissions did, completing "N submissions ...".
# Past tense so that one sentence fits one submission and many.
PROBLEMS: dict[str, str] = {
    "byte-order": "sent a number in the machine's byte order instead of big-endian (network order)",
    "echoes-sender": "sent chat lines back to their sender too",
    "file-truncated": "sent only the first part of a large file",
    "ignores-partial-send": "ignored send()'s return value, losing data when it wrote less",
    "keeps-cr": "kept the \\r of a CR LF line as part of the data",
    "length-prefix": "got the 8-byte length prefix wrong",
    "no-error-code": "closed without the error code when a file was missing",
    "no-error-reply": "gave no ERROR reply to malformed commands",
    "no-leave-notice": "did not tell the others when a client left",
    "no-line-buffer": "handled pieces of a line as if each were a whole line",
    "one-command-per-recv": "took one recv() for one command, so pipelined commands were lost",
    "path-traversal": "served files by names with '/' (a path traversal hole)",
    "store-per-connection": "kept a separate store per connection instead of one shared store",
    "value-first-word": "cut values at their first space",
    "value-truncated": "truncated large values (a small fixed buffer)",
    "rudp-duplicates": "wrote duplicated or retransmitted packets to the file again",
    "rudp-lost-data": "lost packets of the file (no retransmission, or stopped early)",
    "rudp-no-linger": "exited without waiting for a repeated FIN, so a lost final ACK stalled the sender",
    "rudp-no-replies": "sent acknowledgements that never reached the sender (wrong reply address)",
    "rudp-no-retransmit": "never retransmitted a packet whose ACK did not come",
    "rudp-no-seq-check": "wrote packets without checking their sequence number",
    "rudp-silent": "had a sender that never sent anything to the address it was given",
    "htons": "forgot htons() on the port (they listened on the port with its two bytes swapped)",
    "wrong-port": "listened on another port than the one they were given (a hard-coded port?)",
    "no-listen": "called bind() but never listen()",
    "not-any-address": "listened on 127.0.0.1 only, not on all addresses (INADDR_ANY)",
    "iterative": "served one client at a time: a second client waited until the first left",
    "stops-accepting": "stopped accepting new clients after the first one left",
    "exited": "exited while they should have kept running",
    "select-closed-fd": "closed a connection without FD_CLR(), so select() failed and the server exited",
    "sigpipe": "got killed by SIGPIPE when a client went away (SIGPIPE not ignored, no MSG_NOSIGNAL)",
    "segfault": "crashed with a segmentation fault",
    "nul-truncation": "lost the bytes after a NUL byte (strlen() or string functions on binary data)",
    "lost-bytes": "lost data when send() wrote less than asked (no loop around send())",
    "short": "sent back only the beginning of the data",
    "stale-buffer": "sent back leftovers of an earlier message (a reused buffer, or more bytes than "
                    "recv() returned)",
    "recv-zero-spin": "spun at full CPU when recv() returned 0 instead of closing the connection",
    "no-close": "never closed a connection after the client closed its side",
    "ignores-signal": "did not exit on SIGTERM or SIGINT",
    "no-reuseaddr": "could not restart on the same port right away (no SO_REUSEADDR)",
    "fd-leak": "leaked a file descriptor for every connection",
    "zombies": "left zombie children behind (no waitpid() for the children they forked)",
    "hangs": "kept running when they should have given up and exited",
    "udp-truncated": "cut long datagrams short (a receive buffer smaller than 65507 bytes)",
    "udp-wrong-client": "sent replies to the wrong client (one saved address instead of recvfrom()'s)",
    "udp-one-client": "served only the first UDP client (the socket was connect()ed to it)",
    "extra-datagram": "answered one datagram with more than one",
    "first-recv-only": "read only what the first recv() returned (one recv() is not one message)",
    "no-shutdown": "did not shutdown() their sending side, so the server never saw the end",
    "exit-zero-on-error": "exited with status 0 after an error",
    "silent-error": "failed without an error message on stderr",
    "text-decoding": "decoded binary data as text and mangled bytes that are not UTF-8",
    "exited-early": "exited before they were listening",
    "not-listening": "never listened on their port",
    "closed-early": "closed the connection before everything was sent",
    "reset": "reset connections (RST) instead of closing them",
    "refused": "stopped accepting connections (connect() was refused)",
    # Less common codes the engine also gives.
    "extra": "sent back more bytes than they received",
    "mismatch": "sent back different bytes than they received",
    "not-built": "built, but not the program the spec runs",
    "not-reading": "stopped reading while the grader was still sending",
    "no-connect": "never connected to the host and port they were given",
    "signal": "got killed by a signal",
    "abort": "aborted (a failed assert(), or a corrupted heap)",
    "sigfpe": "crashed with SIGFPE (a division by zero)",
    "cpu-limit": "used too much CPU time (a busy loop?)",
    "file-limit": "wrote too large a file",
    "killed": "got killed for running out of memory or time",
    "interop-hangs": "stopped answering the reference client",
    "process-limit": "used up the process limit, so not even the reference client could start",
}

# Whole-submission outcomes, completing "N submissions ..." in the same list.
STATUS_PROBLEMS = {
    SubmissionStatus.BUILD_FAILED: "did not build",
    SubmissionStatus.NOT_GRADABLE: "had no source file the spec knows",
    SubmissionStatus.TIMED_OUT: "ran out of the whole run's time limit",
    SubmissionStatus.CRASHED: "could not be graded: the grader failed on them (not the students' fault)",
}

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1d2329;line-height:1.4}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #e3e7eb;padding-bottom:.2rem}
.meta{color:#56606b;font-size:.92em}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #d9dee3;border-radius:6px;padding:.5rem .9rem;min-width:8rem}
.card b{display:block;font-size:1.5em}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%}
th,td{border-bottom:1px solid #e3e7eb;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f6f8}
td.num,th.num{text-align:right;white-space:nowrap}
table.students td:first-child{white-space:nowrap}
.meter{display:inline-block;width:10rem;height:.8rem;background:#f0d4d4;border-radius:3px;
vertical-align:middle;overflow:hidden}
.meter span{display:block;height:100%;background:#2f8a4c}
.full{color:#1d6b35;font-weight:600}.bad{color:#b00020}
svg.histogram{width:100%;max-width:56rem;height:auto}
svg text{font-family:system-ui,sans-serif;font-size:12px;fill:#33393f}
svg .bar{fill:#3b6ea8}svg .bar.top{fill:#2f8a4c}svg .axis{stroke:#8a949e}svg .grid{stroke:#e3e7eb}
pre{background:#f5f6f7;padding:.6rem;overflow-x:auto;white-space:pre-wrap;margin:.3rem 0}
section.student{border-top:1px solid #e3e7eb;margin-top:1.2rem}
details{margin:.3rem 0}summary{cursor:pointer}
a{color:#245b9a}
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'"

# Histogram geometry (SVG user units).
CHART_W, CHART_H = 720, 260
PAD_L, PAD_R, PAD_T, PAD_B = 44, 12, 22, 44
# Up to this many points, and whole-point scores: one bar per score.
ONE_BAR_PER_POINT = 40


def e(text: object) -> str:
    return escape(str(text), quote=True)


def points(x: float) -> str:
    """Points as people write them: 2, 0.5 (never 2.0)."""
    return f"{x:g}"


def failing(r: SubmissionResult) -> list[TestResult]:
    return [t for t in r.tests if not t.passed and t.applicable]


def feedback_of(t: TestResult) -> str:
    return "\n".join(part for part in (t.description, t.feedback) if part)


def plural(n: int, word: str = "submission") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def anchor(i: int) -> str:
    return f"student-{i}"


# ---------------------------------------------------------------- the numbers

@dataclass(frozen=True)
class Bin:
    label: str
    count: int
    top: bool          # the full-marks bin


def score_bins(results: Sequence[SubmissionResult], max_score: float) -> list[Bin]:
    """Histogram bins: one per score for small whole-point totals, else tenths plus full marks."""
    scores = [r.score for r in results]
    whole = all(abs(s - round(s)) < 1e-9 for s in scores) and abs(max_score - round(max_score)) < 1e-9
    if whole and 0 < max_score <= ONE_BAR_PER_POINT:
        counts = Counter(int(round(s)) for s in scores)
        top = int(round(max_score))
        return [Bin(str(v), counts.get(v, 0), v == top) for v in range(0, top + 1)]
    bins = [0] * 11
    for s in scores:
        frac = s / max_score if max_score else 0.0
        bins[10 if frac >= 1 - 1e-9 else min(9, max(0, int(frac * 10)))] += 1
    labels = [f"{10 * i}-{10 * i + 9}%" for i in range(10)] + ["100%"]
    return [Bin(labels[i], bins[i], i == 10) for i in range(11)]


@dataclass(frozen=True)
class PassRate:
    name: str
    number: str
    description: str
    points: float
    passed: int
    ran: int
    not_applicable: int = 0      # submissions in a language the test cannot act on


def pass_rates(results: Sequence[SubmissionResult], spec: Spec | None) -> list[PassRate]:
    """Pass counts per test, in the spec's order (tests only some results have come last)."""
    order: dict[str, PassRate] = {}
    if spec is not None:
        for t in spec.tests:
            order[t.name] = PassRate(t.name, t.number, t.description, t.points, 0, 0)
    passed: Counter[str] = Counter()
    ran: Counter[str] = Counter()
    not_applicable: Counter[str] = Counter()
    for r in results:
        for t in r.tests:
            if t.name not in order:
                order[t.name] = PassRate(t.name, t.number, t.description, t.max_points, 0, 0)
            if not t.applicable:
                not_applicable[t.name] += 1
                continue
            ran[t.name] += 1
            passed[t.name] += t.passed
    return [PassRate(t.name, t.number, t.description, t.points, passed[t.name], ran[t.name],
                     not_applicable[t.name]) for t in order.values()]


def problems(results: Sequence[SubmissionResult]) -> list[tuple[str, str, list[int]]]:
    """(code, sentence, indexes of the submissions) for every problem seen, most common first."""
    who: dict[str, list[int]] = {}
    for i, r in enumerate(results, 1):
        codes = {c for t in r.tests for c in t.diagnoses}
        for c in codes:
            who.setdefault(c, []).append(i)
        if r.status in STATUS_PROBLEMS:
            who.setdefault(f"status:{r.status.value}", []).append(i)
    out = []
    for code, idx in who.items():
        if code.startswith("status:"):
            sentence = STATUS_PROBLEMS[SubmissionStatus(code[len("status:"):])]
        else:
            sentence = PROBLEMS.get(code, f"showed the problem “{code.replace('-', ' ')}”")
        out.append((code, sentence, idx))
    out.sort(key=lambda p: (-len(p[2]), p[0]))
    return out


# ---------------------------------------------------------------- the pieces

def histogram_svg(bins: list[Bin], x_title: str) -> str:
    """A bar chart of ``bins`` as inline SVG, with axes, counts and tooltips."""
    plot_w, plot_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    peak = max([b.count for b in bins] + [1])
    step = max(1, -(-peak // 5))                  # about five grid lines
    y_max = step * -(-peak // step)
    slot = plot_w / len(bins)
    bar_w = max(2.0, slot * 0.8)
    label_every = max(1, int(len(bins) / (plot_w / 28)) + 1) if len(bins) > 12 else 1
    parts = [f'<svg class="histogram" role="img" aria-label="score distribution" '
             f'viewBox="0 0 {CHART_W} {CHART_H}" width="{CHART_W}" height="{CHART_H}" '
             f'preserveAspectRatio="xMinYMin meet" '
             f'xmlns="http://www.w3.org/2000/svg">']
    for v in range(0, y_max + 1, step):
        y = PAD_T + plot_h - plot_h * v / y_max
        parts.append(f'<line class="grid" x1="{PAD_L}" y1="{y:.1f}" x2="{PAD_L + plot_w}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{v}</text>')
    for i, b in enumerate(bins):
        x = PAD_L + i * slot + (slot - bar_w) / 2
        h = plot_h * b.count / y_max
        y = PAD_T + plot_h - h
        cls = "bar top" if b.top else "bar"
        parts.append(f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                     f"<title>{e(b.label)}: {plural(b.count)}</title></rect>")
        if b.count:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{b.count}</text>')
        if i % label_every == 0 or b.top:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{PAD_T + plot_h + 16}" '
                         f'text-anchor="middle">{e(b.label)}</text>')
    parts.append(f'<line class="axis" x1="{PAD_L}" y1="{PAD_T + plot_h}" x2="{PAD_L + plot_w}" '
                 f'y2="{PAD_T + plot_h}"/>')
    parts.append(f'<text x="{PAD_L + plot_w / 2}" y="{CHART_H - 6}" text-anchor="middle">{e(x_title)}</text>')
    parts.append(f'<text x="12" y="{PAD_T + plot_h / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {PAD_T + plot_h / 2})">submissions</text>')
    parts.append("</svg>")
    return "".join(parts)


def summary_cards(results: Sequence[SubmissionResult], max_score: float) -> str:
    scores = [r.score for r in results]
    full = sum(1 for r in results if r.full_marks)
    graded = sum(1 for r in results if r.status is SubmissionStatus.GRADED)
    cards = [("submissions", str(len(results))),
             ("full marks", f"{full}"),
             ("median", f"{points(round(statistics.median(scores), 2))}/{points(max_score)}" if scores else "-"),
             ("mean", f"{statistics.fmean(scores):.1f}/{points(max_score)}" if scores else "-"),
             ("graded", f"{graded}")]
    return ('<div class="cards">' + "".join(f'<div class="card"><b>{e(v)}</b>{e(k)}</div>'
                                             for k, v in cards) + "</div>")


def tests_table(rates: list[PassRate]) -> str:
    rows = []
    for t in rates:
        pct = 100.0 * t.passed / t.ran if t.ran else 0.0
        na = (f' <span class="na">(not applicable to {t.not_applicable} submission'
              f'{"s" if t.not_applicable != 1 else ""}: their language)</span>') if t.not_applicable else ""
        rows.append(f'<tr><td class="num">{e(t.number)}</td><td>{e(t.name)}</td>'
                    f'<td class="num">{e(points(t.points))}</td>'
                    f'<td><span class="meter" title="{pct:.0f}% passed"><span style="width:{pct:.1f}%">'
                    f'</span></span></td><td class="num">{t.passed}/{t.ran} ({pct:.0f}%)</td>'
                    f"<td>{e(t.description)}{na}</td></tr>")
    return ('<table class="tests"><thead><tr><th class="num">#</th><th>Test</th>'
            '<th class="num">Points</th><th>Pass rate</th><th class="num">Passed</th>'
            "<th>What it checks</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def problems_table(found: list[tuple[str, str, list[int]]], results: Sequence[SubmissionResult]) -> str:
    if not found:
        return "<p>No problems found: every submission passed every test.</p>"
    rows = []
    for code, sentence, idx in found:
        links = ", ".join(f'<a href="#{anchor(i)}">{e(results[i - 1].student)}</a>' for i in idx)
        shown = code if not code.startswith("status:") else code[len("status:"):]
        rows.append(f'<tr><td class="num">{len(idx)}</td><td><b>{plural(len(idx))}</b> '
                    f"{e(sentence)}<details><summary>which</summary>{links}</details></td>"
                    f"<td><code>{e(shown)}</code></td></tr>")
    return ('<table class="problems"><thead><tr><th class="num">Count</th><th>Problem</th>'
            "<th>Code</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def students_table(results: Sequence[SubmissionResult]) -> str:
    rows = []
    for i, r in enumerate(results, 1):
        cls = "full" if r.full_marks else ("bad" if r.status is not SubmissionStatus.GRADED else "")
        names = ", ".join(t.name for t in failing(r))
        rows.append(f'<tr><td><a href="#{anchor(i)}">{e(r.student)}</a></td>'
                    f'<td class="num {cls}">{e(points(r.score))}/{e(points(r.max_score))}</td>'
                    f"<td>{e(r.status.value)}</td><td>{e(names)}</td></tr>")
    return ('<table class="students"><thead><tr><th>Student</th><th class="num">Score</th>'
            "<th>Status</th><th>Lost points on</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def student_section(i: int, r: SubmissionResult) -> str:
    parts = [f'<section class="student" id="{anchor(i)}">',
             f"<h3>{e(r.student)}: {e(points(r.score))}/{e(points(r.max_score))} "
             f"({e(r.status.value)})</h3>"]
    if r.message and r.status is not SubmissionStatus.GRADED:
        parts.append(f"<pre>{e(r.message)}</pre>")
    lost = [t for t in failing(r)
            if not (t.status is TestStatus.SKIPPED and r.status is not SubmissionStatus.GRADED)]
    if not lost and r.status is SubmissionStatus.GRADED:
        parts.append("<p>Passed every test.</p>")
    for t in lost:
        summary = f"{t.number}. {t.name}: {points(t.points)}/{points(t.max_points)} ({t.status.value})"
        parts.append(f"<details><summary>{e(summary)}</summary><pre>{e(feedback_of(t))}</pre></details>")
    parts.append('<p class="meta"><a href="#students">back to the table</a></p></section>')
    return "".join(parts)


# ---------------------------------------------------------------- the page

def render(results: Sequence[SubmissionResult], spec: Spec | None = None) -> str:
    """The whole page for ``results`` (``spec`` gives the title and the tests' order)."""
    results = sorted(results, key=lambda r: r.student)
    max_score = spec.total_points if spec else max((r.max_score for r in results), default=0.0)
    title = spec.title if spec else (results[0].assignment if results else "class report")
    assignment = spec.assignment if spec else (results[0].assignment if results else "")
    hashes = sorted({r.spec_hash for r in results})
    version = results[0].grader_version if results else ""
    bins = score_bins(results, max_score)
    x_title = "score (points)" if len(bins) != 11 or bins[-1].label != "100%" else "score (% of the total)"
    body = [f"<h1>{e(title)}</h1>",
            f'<p class="meta">assignment {e(assignment)} · spec {e(", ".join(hashes) or "-")} · '
            f"out of {e(points(max_score))} points · socket-grader {e(version)}</p>",
            summary_cards(results, max_score),
            '<h2 id="distribution">Score distribution</h2>',
            histogram_svg(bins, x_title),
            '<p class="meta">Each bar counts the submissions with that score; the green bar is '
            "full marks. Lost points per test and per student are below.</p>",
            '<h2 id="tests">Tests</h2>', tests_table(pass_rates(results, spec)),
            '<h2 id="problems">Most common problems</h2>', problems_table(problems(results), results),
            '<h2 id="students">Students</h2>', students_table(results),
            '<h2 id="feedback">Feedback</h2>']
    body += [student_section(i, r) for i, r in enumerate(results, 1)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}: class report</title><style>{STYLE}</style></head>\n"
            "<body>\n" + "\n".join(body) + "\n</body></html>\n")


def write(results: Sequence[SubmissionResult], spec: Spec | None, out_dir: Path) -> list[Path]:
    """Write ``OUT/class-report.html`` (same signature as the ``--format`` writers)."""
    path = out_dir / FILENAME
    atomic_write(path, render(results, spec))
    return [path]
