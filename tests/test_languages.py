"""Every language students write sockets in: limits their runtimes survive, builds kept by
content, compile errors first, probes that know where they apply, advice in each language's terms.

The samples' verdicts (a correct program per language per assignment at full marks, the
classic buggy ones) are checked by test_samples.py; here: what makes them possible.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import SPECS, SUBMISSIONS
from grader import GradeOptions, grade, load_spec
from grader.build import error_lines, format_log
from grader.buildcache import BuildCache
from grader.idioms import advice, applicable_total, not_applicable
from grader.results import TestStatus
from test_hostile import TIERS as BOX_TIERS   # root and userns, skipped where unavailable

TCP_ECHO = load_spec(SPECS / "tcp-echo.yaml")


TIERS = BOX_TIERS + ["none"]


def _needs(tool: str):
    return pytest.mark.skipif(shutil.which(tool, path="/usr/bin:/bin") is None,
                              reason=f"{tool} is not installed (scripts/setup.sh installs it)")


# ------------------------------------------------------------------ limits

@pytest.mark.timeout(240)
@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("lang", [pytest.param("java", marks=_needs("javac")),
                                  pytest.param("go", marks=_needs("go"))])
def test_runtimes_start_under_the_memory_limit_in_every_tier(tier, lang):
    """The JVM and the Go runtime reserve gigabytes of address space: the memory limit
    (cgroup, else RLIMIT_DATA; never RLIMIT_AS) lets them start and move 1 MiB."""
    r = grade(TCP_ECHO, SUBMISSIONS / "tcp-echo" / f"{lang}-correct",
              GradeOptions(tier=tier, only=["echo-line", "large-payload"]))
    assert r.build is not None and r.build.ok, r.message
    assert [t.status for t in r.tests] == [TestStatus.PASSED] * 2, [t.feedback for t in r.tests]


@pytest.mark.timeout(120)
def test_memory_hog_is_stopped_unsandboxed():
    """Without a box (no cgroup), RLIMIT_DATA stops the hog at the spec's limit; the server lives."""
    r = grade(TCP_ECHO, SUBMISSIONS / "hostile" / "memory-hog",
              GradeOptions(tier="none", only=["listens", "echo-line"]))
    assert [t.status for t in r.tests] == [TestStatus.PASSED] * 2, [t.feedback for t in r.tests]


# ------------------------------------------------------------------ compile errors

C_OUTPUT = """$ cc -O2 -Wall -o server server.c
server.c: In function 'main':
server.c:4:14: error: expected ';' before 'return'
    4 |   printf("x")
server.c:3:7: warning: unused variable 'unused' [-Wunused-variable]"""
JAVA_OUTPUT = """$ javac -d . Server.java
Server.java:3: error: incompatible types: String cannot be converted to int
    int x = "s";
Server.java:4: error: cannot find symbol
2 errors"""
GO_OUTPUT = """$ go build -o server server.go
# command-line-arguments
./server.go:2:8: imported and not used: "fmt"
./server.go:5:2: undefined: foo"""
RUST_OUTPUT = """$ rustc -O -o server server.rs
warning: unused variable: `z`
 --> server.rs:1:5
error[E0425]: cannot find value `y` in this scope
 --> server.rs:3:20
  |
error: aborting due to previous error"""
LD_OUTPUT = """$ g++ -o server server.cpp
/usr/bin/ld: /tmp/ccX.o: in function `main':
server.cpp:(.text+0x1a): undefined reference to `serve()'
collect2: error: ld returned 1 exit status"""


@pytest.mark.parametrize("output, errors", [
    (C_OUTPUT, ["server.c:4:14: error: expected ';' before 'return'"]),
    (JAVA_OUTPUT, ["Server.java:3: error: incompatible types: String cannot be converted to int",
                   "Server.java:4: error: cannot find symbol"]),
    (GO_OUTPUT, ['./server.go:2:8: imported and not used: "fmt"', "./server.go:5:2: undefined: foo"]),
    (RUST_OUTPUT, ["server.rs:3:20: error[E0425]: cannot find value `y` in this scope"]),
    (LD_OUTPUT, ["server.cpp:(.text+0x1a): undefined reference to `serve()'",
                 "collect2: error: ld returned 1 exit status"]),
], ids=["c", "java", "go", "rust", "ld"])
def test_error_lines_are_found_for_each_compiler(output, errors):
    assert error_lines(output) == errors


def test_a_failed_build_shows_its_errors_first_and_caps_them():
    log = ["$ cc x.c"] + [f"x.c:{i}:1: error: bad {i}" for i in range(1, 30)]
    text = format_log(log, ok=False)
    assert text.startswith("errors:\n  x.c:1:1: error: bad 1\n")
    assert "... and 19 more errors" in text and "the compiler's output:" in text
    assert "x.c:29:1: error: bad 29" in text.split("the compiler's output:")[1]
    assert format_log(["$ cc x.c", "x.c:1:1: warning: w"], ok=True) == "$ cc x.c\nx.c:1:1: warning: w"


# ------------------------------------------------------------------ the build cache

@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    where = tmp_path / "cache"
    monkeypatch.setenv("SOCKET_GRADER_CACHE", str(where))
    return where


@pytest.mark.timeout(120)
def test_a_build_is_kept_by_content_and_reused(cache_dir, tmp_path):
    sub = tmp_path / "sub"
    shutil.copytree(SUBMISSIONS / "tcp-echo" / "c-correct-fork", sub)
    opts = GradeOptions(tier="none", only=["echo-line"])
    first = grade(TCP_ECHO, sub, opts)
    again = grade(TCP_ECHO, sub, opts)
    assert first.build.ok and not first.build.cached
    assert again.build.ok and again.build.cached and again.tests[0].passed
    assert len(list(cache_dir.iterdir())) == 1
    (sub / "server.c").write_text((sub / "server.c").read_text() + "\n/* changed */\n")
    changed = grade(TCP_ECHO, sub, opts)
    assert changed.build.ok and not changed.build.cached
    assert len(list(cache_dir.iterdir())) == 2


@pytest.mark.timeout(120)
def test_a_compile_error_is_kept_too(cache_dir, tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "server.c").write_text("int main(void) { return y; }\n")
    opts = GradeOptions(tier="none")
    first = grade(TCP_ECHO, sub, opts)
    again = grade(TCP_ECHO, sub, opts)
    assert not first.build.ok and again.build.cached
    assert again.message == first.message and "server.c:1:" in again.message.splitlines()[2]


def test_the_cache_refuses_a_folder_others_can_write(cache_dir):
    cache_dir.mkdir(mode=0o700)
    assert BuildCache.open() is not None
    cache_dir.chmod(0o777)
    assert BuildCache.open() is None


def test_the_cache_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("SOCKET_GRADER_CACHE", "off")
    assert BuildCache.open() is None


def test_least_recently_used_entries_go_first(cache_dir):
    cache_dir.mkdir(mode=0o700)
    cache = BuildCache(cache_dir, max_bytes=2500)
    for i, name in enumerate(["old", "mid", "new"]):
        entry = cache_dir / name
        (entry / "files").mkdir(parents=True)
        (entry / "files" / "blob").write_bytes(b"x" * 1000)
        os.utime(entry, (1000 + i, 1000 + i))
    cache.evict()
    assert sorted(p.name for p in cache_dir.iterdir()) == ["mid", "new"]


# ------------------------------------------------------------------ applicability, advice

def test_a_shim_test_does_not_apply_to_a_language_without_libc():
    go, java = TCP_ECHO.languages["go"], TCP_ECHO.languages["java"]
    shimmed = TCP_ECHO.test("partial-writes")
    assert not_applicable(shimmed, go).startswith("not applicable to Go: ")
    assert not_applicable(shimmed, java) is None          # the JVM writes through libc
    assert not_applicable(TCP_ECHO.test("echo-line"), go) is None
    assert applicable_total(TCP_ECHO, go) == TCP_ECHO.total_points - shimmed.points
    assert applicable_total(TCP_ECHO, java) == TCP_ECHO.total_points


def test_advice_is_in_the_language_s_own_terms():
    langs = TCP_ECHO.languages
    assert advice(["no-reuseaddr"], langs["java"]) == [
        "in Java: " + advice(["no-reuseaddr"], langs["java"])[0][len("in Java: "):]]
    assert "setReuseAddress(true)" in advice(["no-reuseaddr"], langs["java"])[0]
    assert "write_all()" in advice(["lost-bytes"], langs["rust"])[0]
    assert "conn.SetDeadline" in advice(["no-close"], langs["go"])[0]
    assert advice(["lost-bytes"], langs["c"]) == []        # the causes are in C's terms already
    assert advice(["fd-leak", "fd-leak"], langs["go"]) == advice(["fd-leak"], langs["go"])


def test_every_language_of_the_basic_specs_is_named():
    from grader.idioms import NAMES
    for name in ("tcp-echo", "udp-echo", "tcp-echo-client"):
        assert set(load_spec(SPECS / f"{name}.yaml").languages) == set(NAMES)


def test_doctor_lists_the_toolchains(run_cli):
    code, out, _ = run_cli("doctor")
    assert "toolchains" in out
    for lang in ("C (cc)", "C++ (g++)", "Java (javac)", "Go (go)", "Rust (rustc)", "Python (python3)"):
        assert lang in out


# ------------------------------------------------------------------ slow samples

SLOW_SAMPLES = sorted(p.parent for p in SUBMISSIONS.glob("*/*/expected-slow.yaml"))


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_slow_samples_get_their_recorded_verdict():
    """Samples whose bug makes nearly every test wait out its deadline (a PrintWriter never
    flushed, goroutines that never Close: about 30 s each), kept out of the default suite."""
    import yaml
    from grader.batch import grade_many
    for sample in SLOW_SAMPLES:
        exp = yaml.safe_load((sample / "expected-slow.yaml").read_text())
        [r] = grade_many(SPECS / f"{sample.parent.name}.yaml", [sample], jobs=1, options=GradeOptions())
        assert r.status.value == exp["status"], r.message
        assert sorted(t.name for t in r.tests if not t.applicable) == sorted(exp.get("not_applicable", []))
        assert sorted(t.name for t in r.tests if not t.passed and t.applicable) == sorted(exp["failed"])
        assert r.score == exp["score"]
        by_name = {t.name: t for t in r.tests}
        for test, codes in exp.get("diagnoses", {}).items():
            assert set(codes) <= set(by_name[test].diagnoses), by_name[test].feedback
        for test, text in exp.get("feedback", {}).items():
            assert text in by_name[test].feedback, by_name[test].feedback
