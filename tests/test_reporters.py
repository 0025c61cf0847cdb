"""Every result format, produced by the real grader on real submissions through the
CLI, read back with a parser and checked against the documented field lists
(shared/notes/platform-formats.md, docs/results.md)."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from conftest import ROOT, SPECS
from grader.spec import load_spec
from runs import (BROKEN_C, ECHO, EXITS_AT_ONCE_PY, VISIBILITY_SPEC, copy_submission, env_with,
                  grader, write_submission)

pytestmark = pytest.mark.timeout(120)

GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "test_output_format",
                  "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
                  "leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output",
                   "output_format", "tags", "visibility", "extra_data"}
GRADESCOPE_REQUIRED_TOP = {"score", "execution_time", "output", "output_format", "visibility",
                           "stdout_visibility", "tests"}
GRADESCOPE_REQUIRED_TEST = {"name", "number", "score", "max_score", "status", "output",
                            "output_format", "tags", "visibility"}
PL_TOP = {"gradable", "score", "format_errors", "message", "output", "images", "tests"}
PL_TEST = {"name", "description", "points", "max_points", "message", "output", "images"}
PL_REQUIRED_TEST = {"name", "points", "max_points", "message", "output"}

VIS = load_spec(VISIBILITY_SPEC)
VIS_TOTAL = VIS.total_points                       # 12
VISIBLE = [t.name for t in VIS.tests if t.visibility == "visible"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, Path]:
    """c-loopback-only graded with every test (it fails listens only, the same way every
    time), in every format; one run per results.json format, the others with the JSON."""
    out = tmp_path_factory.mktemp("loopback")
    sub = ECHO / "c-loopback-only"
    runs = {"json": "json,junit,csv,markdown,html,autolab", "gradescope": "gradescope",
            "prairielearn": "prairielearn"}
    dirs = {}
    for name, formats in runs.items():
        dirs[name] = out / name
        p = grader("check", VISIBILITY_SPEC, sub, "--all", "--format", formats, "--out", dirs[name])
        assert p.returncode == 1, p.stderr          # graded, below full marks
        dirs[name + ":stdout"] = p.stdout
    return dirs


def our_json(dirs) -> dict:
    doc = json.loads((dirs["json"] / "results.json").read_text())
    return doc["submissions"][0]


def our_tags(dirs, test: str) -> list[str]:
    """The diagnosis codes our own JSON gives ``test``."""
    return next(t["diagnoses"] for t in our_json(dirs)["tests"] if t["name"] == test)


def test_the_sample_fails_listens_only(graded):
    sub = our_json(graded)
    assert sub["schema_version"] == 3 and sub["status"] == "graded"
    assert {t["name"]: t["status"] for t in sub["tests"]} == {
        "listens": "failed", "echo-line": "passed", "binary-safe": "passed",
        "client-reset": "passed", "half-close": "passed", "sigterm": "passed"}


def test_json_fields_are_the_documented_ones(graded):
    doc = json.loads((graded["json"] / "results.json").read_text())
    documented = (ROOT / "docs" / "results.md").read_text()
    fields = set(doc) | set(doc["submissions"][0]) | set(doc["submissions"][0]["tests"][0])
    for field in fields:
        assert f"`{field}`" in documented, f"{field} is not documented in docs/results.md"


def test_gradescope_fields(graded):
    doc = json.loads((graded["gradescope"] / "results.json").read_text())
    assert set(doc) <= GRADESCOPE_TOP and GRADESCOPE_REQUIRED_TOP <= set(doc)
    assert isinstance(doc["execution_time"], (int, float)) and doc["execution_time"] > 0
    assert doc["stdout_visibility"] == "hidden" and doc["visibility"] == "visible"
    assert doc["output_format"] == "text"
    # hidden tests exist: the visible-at-once output must not give the total away
    assert "/12" not in doc["output"] and VIS.hash in doc["output"]
    tests = doc["tests"]
    for t in tests:
        assert set(t) <= GRADESCOPE_TEST and GRADESCOPE_REQUIRED_TEST <= set(t), t
        assert t["status"] in ("passed", "failed") and isinstance(t["tags"], list)
        assert isinstance(t["number"], str)
    assert [t["name"] for t in tests] == [t.name for t in VIS.tests]
    assert sum(t["max_score"] for t in tests) == VIS_TOTAL
    assert doc["score"] == sum(t["score"] for t in tests) == 10
    by = {t["name"]: t for t in tests}
    assert by["listens"]["status"] == "failed" and by["listens"]["score"] == 0
    assert by["listens"]["tags"] == our_tags(graded, "listens") != []
    assert "INADDR_ANY" in by["listens"]["output"]
    assert {n: by[n]["visibility"] for n in by} == {t.name: t.visibility for t in VIS.tests}


def test_gradescope_student_mode_still_adds_up(tmp_path):
    """Without --all, hidden tests are listed as not run, so the total still matches."""
    p = grader("check", VISIBILITY_SPEC, ECHO / "c-correct-fork", "--format", "gradescope",
               "--out", tmp_path)
    assert p.returncode == 1, p.stderr             # hidden tests not run: not full marks
    tests = json.loads((tmp_path / "results.json").read_text())["tests"]
    assert sum(t["max_score"] for t in tests) == VIS_TOTAL
    hidden = [t for t in tests if t["visibility"] != "visible"]
    assert len(hidden) == 3
    assert all(t["status"] == "failed" and "not run" in t["output"] for t in hidden)


def test_prairielearn_fields(graded):
    doc = json.loads((graded["prairielearn"] / "results.json").read_text())
    assert set(doc) <= PL_TOP
    assert doc["gradable"] is True
    assert doc["score"] == pytest.approx(10 / 12)
    assert 0 <= doc["score"] <= 1
    assert "10/12" in doc["message"]
    for t in doc["tests"]:
        assert set(t) <= PL_TEST and PL_REQUIRED_TEST <= set(t), t
    by = {t["name"]: t for t in doc["tests"]}
    assert by["listens"]["points"] == 0 and by["listens"]["max_points"] == 2
    assert by["listens"]["message"].startswith("step 'expect_listening'")
    assert by["echo-line"]["message"] == "" and by["echo-line"]["points"] == 3
    assert len(json.dumps(doc)) < 1_000_000


@pytest.mark.parametrize("spec,make,gradable", [
    (VISIBILITY_SPEC, lambda d: write_submission(d, "server.c", BROKEN_C), False),
    (SPECS / "tcp-echo.yaml", lambda d: write_submission(d, "server.c", BROKEN_C), True),
    (VISIBILITY_SPEC, lambda d: write_submission(d, "server.py", EXITS_AT_ONCE_PY), False),
    (VISIBILITY_SPEC, lambda d: copy_submission(ECHO / "c-no-htons", d), True),
], ids=["build-failed", "build-failed-spec-allows", "never-started", "wrong-port-started"])
def test_prairielearn_gradable_follows_the_spec(tmp_path, spec, make, gradable):
    sub = make(tmp_path / "student")
    p = grader("check", spec, sub, "--all", "--test", "listens", "--test", "echo-line",
               "--format", "prairielearn", "--out", tmp_path / "out")
    assert p.returncode == 1, p.stderr
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["gradable"] is gradable, doc["message"]
    assert doc["score"] == 0
    if not gradable:
        assert doc["message"].startswith("not graded:")


def test_junit_parses_with_counts(graded):
    xml = JUnitXml.fromfile(str(graded["json"] / "junit.xml"))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert suite.name == "c-loopback-only"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (6, 1, 0, 0)
    cases = list(suite)
    assert [c.name for c in cases] == [t.name for t in VIS.tests]
    for c in cases:
        assert c.classname == "tcp-echo-visibility.c-loopback-only"
        assert c.time >= 0 and len(c.result) <= 1
    failed = next(c for c in cases if c.name == "listens")
    assert isinstance(failed.result[0], Failure)
    assert failed.result[0].message.startswith("step 'expect_listening'")
    assert "likely cause" in failed.system_out
    text = (graded["json"] / "junit.xml").read_text()
    assert "<properties" not in text


def test_junit_student_mode_skips_hidden_and_build_failure_fails(tmp_path):
    sub = write_submission(tmp_path / "broken", "server.c", BROKEN_C)
    p = grader("check", VISIBILITY_SPEC, sub, "--format", "junit", "--out", tmp_path / "out")
    assert p.returncode == 1
    suite = list(JUnitXml.fromfile(str(tmp_path / "out" / "junit.xml")))[0]
    # 3 visible tests not run because the build failed: failures; 3 hidden: skipped
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (6, 3, 0, 3)
    results = {c.name: c.result[0] for c in suite}
    assert all(isinstance(results[n], Failure) for n in VISIBLE)
    assert all(isinstance(results[t.name], Skipped) for t in VIS.tests if t.name not in VISIBLE)
    first = results[VISIBLE[0]]
    assert "did not build" in first.text and "error" in first.text     # the compiler's output
    assert not any(isinstance(r, Error) for r in results.values())


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory) -> Path:
    """A batch of three: full marks, a failure, a build failure; csv, junit, markdown, html."""
    root = tmp_path_factory.mktemp("batch")
    subs = root / "subs"
    copy_submission(ECHO / "c-correct-fork", subs / "alice")
    copy_submission(ECHO / "c-loopback-only", subs / "=bob")       # a formula-looking name
    write_submission(subs / "carol", "server.c", BROKEN_C)
    p = grader("batch", VISIBILITY_SPEC, subs, "--jobs", "2", "--format",
               "csv,junit,markdown,html,gradescope,autolab", "--out", root / "out")
    assert p.returncode == 0, p.stderr
    return root / "out"


def test_csv_gradebook(batch_run):
    with open(batch_run / "grades.csv", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header == ["student", "total", "max", "status"] + [t.name for t in VIS.tests]
    by = {r[0]: dict(zip(header, r)) for r in body}
    assert set(by) == {"alice", "'=bob", "carol"}
    assert by["alice"]["total"] == "12" and by["alice"]["max"] == "12"
    assert by["alice"]["status"] == "graded"
    assert by["'=bob"]["listens"] == "0" and by["'=bob"]["total"] == "10"
    assert by["carol"]["status"] == "build failed" and by["carol"]["total"] == "0"
    for r in by.values():
        assert sum(float(r[t.name]) for t in VIS.tests) == float(r["total"])


def test_batch_writes_one_platform_file_per_student(batch_run):
    for student in ("alice", "=bob", "carol"):
        doc = json.loads((batch_run / "gradescope" / student / "results.json").read_text())
        assert sum(t["max_score"] for t in doc["tests"]) == VIS_TOTAL
        line = (batch_run / "autolab" / student / "autolab.json").read_text()
        assert set(json.loads(line)["scores"]) == {t.name for t in VIS.tests}
    suites = {s.name: s for s in JUnitXml.fromfile(str(batch_run / "junit.xml"))}
    assert set(suites) == {"alice", "=bob", "carol"}
    assert (suites["alice"].failures, suites["=bob"].failures, suites["carol"].failures) == (0, 1, 6)


def test_batch_markdown_and_html_list_every_submission(batch_run):
    md = (batch_run / "summary.md").read_text()
    assert "3 submissions, 1 with full marks" in md
    assert "| alice | 12/12 | graded |  |" in md
    assert "| =bob | 10/12 | graded | listens |" in md
    assert "<details><summary>carol: the submission did not build:</summary>" in md
    parsed = _Collect()
    parsed.feed((batch_run / "report.html").read_text())
    links = [a["href"] for tag, a in parsed.tags if tag == "a"]
    ids = [a["id"] for tag, a in parsed.tags if tag == "section"]
    assert links == ["#" + i for i in ids] == ["#s1", "#s2", "#s3"]
    text = "".join(parsed.text)
    assert all(name in text for name in ("alice", "=bob", "carol", "did not build"))


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_and_escaped(tmp_path):
    evil = '<img src=x onerror=alert(1)>'
    sub = copy_submission(ECHO / "c-loopback-only", tmp_path / evil)
    p = grader("check", VISIBILITY_SPEC, sub, "--format", "html", "--out", tmp_path / "out")
    assert p.returncode == 1, p.stderr
    page = (tmp_path / "out" / "report.html").read_text()
    parsed = _Collect()
    parsed.feed(page)
    tags = {t for t, _ in parsed.tags}
    assert "script" not in tags and "img" not in tags and "link" not in tags
    for tag, attrs in parsed.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        assert "src" not in attrs
        assert attrs.get("href", "#").startswith("#")
    text = "".join(parsed.text)
    assert evil in text                                # shown as text, not markup
    assert "listens" in text and "INADDR_ANY" in text


def test_markdown_summary_annotations_and_step_summary(tmp_path):
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    env = env_with(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    p = grader("check", VISIBILITY_SPEC, ECHO / "c-loopback-only", "--all", "--format", "markdown",
               "--out", tmp_path / "out", env=env)
    assert p.returncode == 1, p.stderr
    errors = [ln for ln in p.stdout.splitlines() if ln.startswith("::error")]
    assert len(errors) == 1
    m = re.fullmatch(r"::error title=([^:]*)::(.*)", errors[0])
    assert m, errors[0]
    assert m.group(1) == "1. listens (0/2)"
    assert "%0A" in m.group(2) and "\r" not in m.group(2) and "INADDR_ANY" in m.group(2)
    md = (tmp_path / "out" / "summary.md").read_text()
    assert summary.read_text() == "earlier step\n" + md + "\n"
    assert "| 1 | listens | 0/2 | ❌ failed |" in md
    assert "<details><summary>1. listens: 0/2</summary>" in md
    assert "10/12 points" in md


def test_markdown_without_github_prints_no_annotations(tmp_path):
    p = grader("check", VISIBILITY_SPEC, ECHO / "c-loopback-only", "--test", "listens",
               "--format", "markdown", "--out", tmp_path)
    assert "::error" not in p.stdout
    assert (tmp_path / "summary.md").exists()


def test_annotation_escaping_follows_github_rules():
    from grader.reporters.markdown import escape_data, escape_property
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a: b, c\n") == "a%3A b%2C c%0A"


def test_markdown_escapes_what_students_control():
    from grader.reporters.markdown import code_block, details, md_text
    assert md_text("<b>|x|</b> *y*") == "&lt;b&gt;\\|x\\|&lt;/b&gt; \\*y\\*"
    block = code_block("print(```)\n````")
    assert block.startswith("`````text\n") and block.endswith("\n`````")
    assert details("<script>", "body").startswith("<details><summary>&lt;script&gt;</summary>")


def test_autolab_line_is_printed_last(graded):
    last = graded["json:stdout"].rstrip("\n").splitlines()[-1]
    scores = json.loads(last)["scores"]
    assert scores == {"listens": 0, "echo-line": 3, "binary-safe": 2, "client-reset": 2,
                      "half-close": 2, "sigterm": 1}
    assert (graded["json"] / "autolab.json").read_text().strip() == last


def test_results_json_formats_do_not_clash(tmp_path):
    p = grader("check", VISIBILITY_SPEC, ECHO / "c-correct-fork", "--format", "json,gradescope",
               "--out", tmp_path)
    assert p.returncode == 2
    assert "results.json" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
