"""The class report: the numbers it shows, its safety, and how a real browser renders it.

The page is built from made-up results (no grading needed), then loaded in
headless Chromium: its DOM must hold the text and the chart's SVG elements,
and its screenshot (kept in the test's tmp_path) must show the bars.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from conftest import SPECS
from grader.reporters import classreport
from grader.reporters.classreport import PROBLEMS, problems, render, score_bins, pass_rates
from grader.resultstore import Manifest, ResultStore, copy_spec, write_manifest
from grader.results import (BuildResult, SubmissionResult, SubmissionStatus, TestResult,
                            TestStatus)
from grader.spec import load_spec
from runs import grader

pytestmark = pytest.mark.timeout(90)

SPEC = load_spec(SPECS / "tcp-echo.yaml")
HOSTILE = '<script>alert("x")</script>&\'"'
# The codes the issue names; each must read as a sentence, not as a code.
KNOWN_CODES = """htons wrong-port no-listen not-any-address iterative stops-accepting exited sigpipe
segfault nul-truncation lost-bytes short stale-buffer recv-zero-spin no-close ignores-signal
no-reuseaddr fd-leak zombies hangs udp-truncated udp-wrong-client udp-one-client extra-datagram
first-recv-only no-shutdown exit-zero-on-error silent-error text-decoding exited-early
not-listening closed-early reset refused""".split()


def result(student: str, failed: dict[str, list[str]] | None = None,
           status: SubmissionStatus = SubmissionStatus.GRADED) -> SubmissionResult:
    """A tcp-echo result that fails ``failed`` (test -> diagnosis codes) and passes the rest."""
    failed = failed or {}
    tests = []
    for t in SPEC.tests:
        if status is not SubmissionStatus.GRADED:
            tests.append(TestResult(t.name, t.number, t.description, 0.0, t.points,
                                    TestStatus.SKIPPED, "not run: the submission did not build"))
        elif t.name in failed:
            tests.append(TestResult(t.name, t.number, t.description, 0.0, t.points, TestStatus.FAILED,
                                    f"step 'expect' failed\nlikely cause: {t.name} went wrong <b>",
                                    diagnoses=failed[t.name]))
        else:
            tests.append(TestResult(t.name, t.number, t.description, t.points, t.points,
                                    TestStatus.PASSED))
    return SubmissionResult(
        student=student, submission=f"/class/{student}", assignment=SPEC.assignment,
        spec_hash=SPEC.hash, tier="sandboxed-root", status=status,
        score=sum(t.points for t in tests), max_score=SPEC.total_points, tests=tests,
        build=BuildResult(status is SubmissionStatus.GRADED, "c", ["make"], "server.c:1: error"),
        message="" if status is SubmissionStatus.GRADED else "the submission did not build:\nerror",
        grader_version="0.1.0")


def a_class() -> list[SubmissionResult]:
    return [
        result("alice"), result("bob"), result("carol"),
        result("dave", {t.name: ["htons"] for t in SPEC.tests}),
        result("erin", {t.name: ["htons"] for t in SPEC.tests}),
        result("frank", {"concurrent-clients": ["iterative"]}),
        result("grace", {"client-reset": ["sigpipe"], "no-fd-leak": ["fd-leak", "zombies"]}),
        result("heidi", status=SubmissionStatus.BUILD_FAILED),
        result(HOSTILE, {"restart": ["no-reuseaddr"]}),
    ]


# ---------------------------------------------------------------- the numbers

def test_every_known_diagnosis_reads_as_a_sentence():
    assert not [c for c in KNOWN_CODES if c not in PROBLEMS]
    assert PROBLEMS["htons"].startswith("forgot htons()")
    # one sentence must fit "1 submission ..." and "37 submissions ...": no is/are, was/were
    assert not [c for c, s in PROBLEMS.items() if s.split()[0] in ("is", "are", "was", "were", "has", "have")]


def test_the_page_counts_problems_tests_and_scores():
    results = a_class()
    found = {code: len(who) for code, _, who in problems(results)}
    assert found["htons"] == 2 and found["iterative"] == 1 and found["status:build failed"] == 1
    assert [c for c, _, _ in problems(results)][0] == "htons"        # most common first
    rates = {r.name: r for r in pass_rates(results, SPEC)}
    assert (rates["concurrent-clients"].passed, rates["concurrent-clients"].ran) == (5, 9)
    assert [r.name for r in pass_rates(results, SPEC)] == [t.name for t in SPEC.tests]
    bins = score_bins(results, SPEC.total_points)
    assert len(bins) == int(SPEC.total_points) + 1                 # one bar per point
    assert bins[0].count == 3 and bins[-1].count == 3 and bins[-1].top
    assert sum(b.count for b in bins) == len(results)
    tenths = score_bins([result("x")], 200.0)                         # large totals: tenths
    assert [b.label for b in tenths][-2:] == ["90-99%", "100%"]

    page = render(results, SPEC)
    assert "2 submissions</b> forgot htons()" in page
    assert "1 submission</b> did not build" in page
    assert "5/9 (56%)" in page
    assert page.count('<section class="student"') == len(results)


def test_the_page_is_self_contained_and_escapes_what_students_chose():
    page = render(a_class(), SPEC)
    assert "<script" not in page                                     # not even the student's
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "went wrong &lt;b&gt;" in page
    assert "default-src 'none'" in page
    external = re.findall(r'(?:src|href)="(?!#)[^"]*"', page) + re.findall(r"url\(", page)
    assert external == []
    assert re.findall(r"https?://[^\"]+", page) == ["http://www.w3.org/2000/svg"]   # a namespace


def test_grader_report_reads_a_batch_folder_and_a_gradebook(tmp_path):
    out = tmp_path / "batch"
    store = ResultStore(out)
    results = a_class()
    for r in results:
        store.save(r, "k")
    copy_spec(out, SPECS / "tcp-echo.yaml")
    write_manifest(out, Manifest(SPEC.assignment, SPEC.hash, "1/1", [r.student for r in results],
                                 complete=True))
    p = grader("report", out)
    assert p.returncode == 0, p.stderr
    page = (out / classreport.FILENAME).read_text()
    assert "TCP echo" in page and "forgot htons()" in page

    book = tmp_path / "results.json"
    book.write_text(json.dumps({"submissions": [r.to_dict() for r in results]}))
    p = grader("report", book, "--out", tmp_path / "page.html")
    assert p.returncode == 0, p.stderr
    assert "forgot htons()" in (tmp_path / "page.html").read_text()
    assert grader("report", tmp_path / "nothing").returncode == 2


# ---------------------------------------------------------------- a real browser

def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile, home = tmp_path / "chromium-profile", tmp_path / "home"
    profile.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    # Everything Chromium writes (profile, ~/.config, ~/.cache) stays in tmp_path.
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"))
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=60, env=env)


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) bytes of a non-interlaced 8-bit PNG (no Pillow here)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (2, 6)
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytes(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = rows[-1]
    return width, bpp, rows


@pytest.mark.skipif(chromium() is None,
                    reason="needs Debian's chromium for a real browser (apt-get install -y chromium)")
def test_a_real_browser_renders_the_report(tmp_path):
    results = a_class()
    classreport.write(results, SPEC, tmp_path)
    page = tmp_path / classreport.FILENAME

    dom = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "Score distribution" in html and "forgot htons()" in html
    svg = re.search(r'<svg class="histogram".*?</svg>', html, re.S)
    assert svg, "the histogram's SVG is not in the rendered DOM"
    bars = re.findall(r'<rect class="bar[^"]*" [^>]*height="([\d.]+)"', svg.group(0))
    assert len(bars) == len(score_bins(results, SPEC.total_points))
    assert sum(1 for h in bars if float(h) > 0) == len({r.score for r in results})
    assert html.count("<title>") >= len(bars)                         # one tooltip per bar
    assert HOSTILE not in html                                       # still escaped in the DOM

    shot = tmp_path / "class-report.png"
    done = run_chromium(tmp_path, "--window-size=1000,560", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0 and shot.stat().st_size > 10_000, done.stderr[-2000:]
    width, bpp, rows = png_pixels(shot)
    bar_blue, full_green = (0x3B, 0x6E, 0xA8), (0x2F, 0x8A, 0x4C)
    seen = {bar_blue: 0, full_green: 0}
    for row in rows:
        for x in range(0, width * bpp, bpp):
            px = tuple(row[x:x + 3])
            if px in seen:
                seen[px] += 1
    assert seen[bar_blue] > 500 and seen[full_green] > 200, seen     # the bars are drawn
