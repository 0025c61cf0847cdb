"""socket-grader as a pytest plugin: each test of a spec becomes a pytest item.

    pytest --grader-spec specs/tcp-echo.yaml --grader-submission path/to/submission

or, in an assignment repo, the ini options ``grader_spec`` / ``grader_submission``
(see docs/ci.md).  The plugin is registered by the ``socket_grader`` pytest11
entry point, so installing socket-grader is enough; without a spec it does nothing.

Theory of operation
-------------------
- Collection: after pytest has collected its own tests, one collector for the
  spec file adds one item per spec test (``specs/tcp-echo.yaml::echo-line``).
  This happens before ``-k``/``-m`` deselection, so every pytest selection works.
- Running: each item grades its own test (``GradeOptions(only=[name])``), the
  same engine, seed and sandbox as ``grader check``; a failing item shows the
  same lines as ``grader check``.  Each item is independent, so ``-x``, ``--lf``,
  ``-k`` and ``--junitxml`` behave as pytest users expect, and a hang is
  reported against the test that hung.  The price: each item builds the
  submission again (about 0.07 s for a small C program), until the engine
  offers a build-once session (see :class:`Grading`).
- Timeouts: every item gets a ``pytest.mark.timeout`` (pytest-timeout) of the
  test's own time limit plus the build limit plus :data:`TIMEOUT_MARGIN`; the
  engine's own deadlines fire first, pytest-timeout is the safety net.
- Hidden and after-due-date tests are skipped (with a reason) unless
  ``--grader-all``, as ``grader check`` runs visible tests only.
- ``--grader-spec`` on the command line with no test paths makes the run the
  spec's alone: pytest's own collection (``testpaths``, the current folder) is
  skipped, so ``pytest --grader-spec SPEC --grader-submission DIR`` in a project
  with tests of its own runs only the spec's items.  Name test paths as well to
  run both; a spec set in the ini file (``grader_spec``) adds its items to the
  project's tests, as a CI configuration wants.

Settings are resolved once (command line over ini file) into :class:`Settings`
and kept in ``config.stash``; nothing is kept in module globals.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple

import pytest

if TYPE_CHECKING:
    from .results import SubmissionResult, TestResult
    from .spec import Spec, TestSpec

# Each help text serves the command-line flag and the ini option alike.
HELP_SPEC = "socket-grader: the assignment spec (YAML); each of its tests becomes a pytest item"
HELP_SUBMISSION = ("socket-grader: the folder holding the submission to grade "
                   "(default: the rootdir, e.g. the assignment repo)")
HELP_ALL = ("socket-grader: also run hidden and after-due-date tests "
            "(the instructor's view; as grader check --all)")
HELP_TIER = "socket-grader: sandbox tier: auto (default), root, userns or none"
HELP_SEED = "socket-grader: seed for random data and timing (default: the spec's)"

TIERS = ("auto", "root", "userns", "none")
# Seconds on top of a test's own limit and the build limit: opening and closing
# the box, readiness, stopping the program.
TIMEOUT_MARGIN = 10.0


class Settings(NamedTuple):
    spec: Path
    submission: Path
    all_tests: bool
    tier: str
    seed: int | None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("socket-grader", "socket-grader: grade a socket program")
    group.addoption("--grader-spec", dest="grader_spec", metavar="SPEC", help=HELP_SPEC)
    group.addoption("--grader-submission", dest="grader_submission", metavar="DIR",
                    help=HELP_SUBMISSION)
    group.addoption("--grader-all", dest="grader_all", action="store_true", default=None,
                    help=HELP_ALL)
    group.addoption("--grader-tier", dest="grader_tier", metavar="TIER", help=HELP_TIER)
    group.addoption("--grader-seed", dest="grader_seed", metavar="N", help=HELP_SEED)
    parser.addini("grader_spec", HELP_SPEC)
    parser.addini("grader_submission", HELP_SUBMISSION)
    parser.addini("grader_all", HELP_ALL, type="bool", default=False)
    parser.addini("grader_tier", HELP_TIER)
    parser.addini("grader_seed", HELP_SEED)


# ------------------------------------------------------------------ settings

def _ini_base(config: pytest.Config) -> Path:
    """Paths in an ini file are relative to that file's folder."""
    return config.inipath.parent if config.inipath else config.rootpath


def _path(config: pytest.Config, name: str) -> tuple[Path | None, str]:
    """An option's path and where it came from (for error messages)."""
    cli = config.getoption(name)
    if cli:
        return Path(cli).resolve(), f"--{name.replace('_', '-')}"
    ini = config.getini(name)
    if ini:
        where = f"ini option {name} ({config.inipath})" if config.inipath else f"ini option {name}"
        return (_ini_base(config) / ini).resolve(), where
    return None, ""


def _value(config: pytest.Config, name: str) -> tuple[str | None, str]:
    cli = config.getoption(name)
    if cli is not None:
        return str(cli), f"--{name.replace('_', '-')}"
    ini = config.getini(name)
    return (str(ini), f"ini option {name}") if ini else (None, "")


def resolve_settings(config: pytest.Config) -> Settings | None:
    """Command line over ini file; ``None`` when no spec is configured (plugin idle)."""
    spec, spec_from = _path(config, "grader_spec")
    if spec is None:
        return None
    if not spec.is_file():          # a shipped spec by its bare name (grader_spec = tcp-echo)?
        from .resources import shipped_spec
        raw = config.getoption("grader_spec") or config.getini("grader_spec")
        spec = shipped_spec(str(raw)) or spec
    if not spec.is_file():
        raise pytest.UsageError(f"{spec_from}: {spec}: no such spec file")
    submission, sub_from = _path(config, "grader_submission")
    if submission is None:
        submission, sub_from = config.rootpath, "the rootdir"
    if not submission.is_dir():
        raise pytest.UsageError(f"{sub_from}: {submission}: no such submission folder")
    tier, tier_from = _value(config, "grader_tier")
    if tier is not None and tier not in TIERS:
        raise pytest.UsageError(f"{tier_from}: unknown tier {tier!r} (choose from: {', '.join(TIERS)})")
    seed_text, seed_from = _value(config, "grader_seed")
    try:
        seed = int(seed_text) if seed_text is not None else None
    except ValueError:
        raise pytest.UsageError(f"{seed_from}: {seed_text!r} is not a whole number") from None
    all_cli = config.getoption("grader_all")
    all_tests = bool(all_cli) if all_cli is not None else bool(config.getini("grader_all"))
    return Settings(spec, submission, all_tests, tier or "auto", seed)


# ------------------------------------------------------------------ grading

@dataclass
class Grading:
    """Grades one submission's tests one at a time, and keeps what it found.

    The submission is copied, boxed and built once, on the first item that
    runs (an engine :class:`~grader.engine.Session`); each item then runs just
    its own test in it.  The session is closed when pytest finishes.
    """

    settings: Settings
    spec: "Spec"
    results: dict[str, "SubmissionResult"] = field(default_factory=dict)
    session: Any = None

    def run(self, name: str, config: pytest.Config) -> "SubmissionResult":
        if self.session is None:
            from .engine import GradeOptions, Session
            options = GradeOptions(tier=self.settings.tier, seed=self.settings.seed)
            session = Session(self.spec, self.settings.submission, options)
            session.__enter__()
            config.add_cleanup(lambda: session.__exit__(None, None, None))
            self.session = session
        result = self.session.grade([name])
        self.results[name] = result
        return result

    def skips(self, test: "TestSpec") -> bool:
        """Student mode skips hidden and after-due-date tests (as ``grader check`` does)."""
        return not self.settings.all_tests and test.visibility != "visible"


GRADING = pytest.StashKey[Grading]()


def pytest_configure(config: pytest.Config) -> None:
    settings = resolve_settings(config)
    if settings is None:
        return
    from .errors import GraderError
    from .spec import load_spec
    try:
        spec = load_spec(settings.spec)
    except GraderError as e:
        raise pytest.UsageError(f"socket-grader: {e}") from None
    config.stash[GRADING] = Grading(settings, spec)
    config.addinivalue_line("markers", "socket_grader: a test of a socket-grader spec")


def _tier_in_force(tier: str) -> str:
    """The tier ``auto`` gives on this machine (opening a box takes about 20 ms)."""
    if tier != "auto":
        return tier
    try:
        from .sandbox import detect_tier
        return f"{detect_tier().tier} (auto)"
    except Exception:       # the report header must never stop a test run
        return "auto"


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    grading = config.stash.get(GRADING, None)
    if grading is None:
        return None
    from . import __version__
    spec, s = grading.spec, grading.settings
    hidden = sum(1 for t in spec.tests if t.visibility != "visible")
    mode = ("all tests (--grader-all)" if s.all_tests or not hidden else
            f"visible tests only ({hidden} hidden skipped; --grader-all runs them)")
    lines = [f"socket-grader {__version__}: spec {s.spec} ({spec.assignment}, hash {spec.hash}, "
             f"{len(spec.tests)} tests, {spec.total_points:g} points)",
             f"socket-grader: submission {s.submission}, tier {_tier_in_force(s.tier)}, {mode}"]
    if not config.pluginmanager.hasplugin("timeout"):
        lines.append("socket-grader: pytest-timeout is not active: only the engine's own "
                     "deadlines limit each test")
    return lines


# ------------------------------------------------------------------ collection

def spec_only(config: pytest.Config) -> bool:
    """``--grader-spec`` given on the command line and no test paths: the spec's items only."""
    if not config.getoption("grader_spec"):
        return False
    source = getattr(config, "args_source", None)          # pytest 7.2+
    return source is not None and source is not pytest.Config.ArgsSource.ARGS


@pytest.hookimpl(tryfirst=True)
def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.stash.get(GRADING, None) is not None and spec_only(config):
        return True
    return None


@pytest.hookimpl(tryfirst=True)     # before -k / -m deselection and --lf reordering
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    grading = config.stash.get(GRADING, None)
    if grading is None:
        return
    spec_path = grading.settings.spec
    # The node id is the spec's path from the rootdir ("specs/tcp-echo.yaml::echo-line"),
    # also for a spec outside it (pytest would otherwise start the id with "::").
    nodeid = Path(os.path.relpath(spec_path, config.rootpath)).as_posix()
    spec_file = SpecFile.from_parent(session, path=spec_path, nodeid=nodeid)
    found = list(spec_file.collect())
    # Report them as collected, so that pytest's "collected N items / M deselected" counts them.
    config.hook.pytest_collectreport(
        report=pytest.CollectReport(spec_file.nodeid, "passed", None, found))
    items.extend(found)


def item_timeout(spec: "Spec", test: "TestSpec") -> float:
    """pytest-timeout's limit for one item: the test's, the build's, and a margin."""
    return test.timeout + float(spec.limits["build"]) + TIMEOUT_MARGIN


class SpecFile(pytest.File):
    """The spec file as a pytest collector: one :class:`GraderItem` per test."""

    def collect(self) -> Iterator[pytest.Item]:
        grading = self.config.stash[GRADING]
        for test in grading.spec.tests:
            item = GraderItem.from_parent(self, name=test.name, test=test)
            item.add_marker(pytest.mark.socket_grader)
            if self.config.pluginmanager.hasplugin("timeout"):   # else the mark is unknown
                item.add_marker(pytest.mark.timeout(item_timeout(grading.spec, test)))
            if grading.skips(test):
                item.add_marker(pytest.mark.skip(
                    reason=f"{test.visibility.replace('_', ' ')} test: runs when the instructor "
                           "grades (--grader-all runs it here)"))
            yield item


class GradedFailure(Exception):
    """A test that lost points; carries the text ``grader check`` would print."""


class GraderItem(pytest.Item):
    def __init__(self, *, test: "TestSpec", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test = test

    def runtest(self) -> None:
        from .errors import GraderError
        grading = self.config.stash[GRADING]
        try:
            result = grading.run(self.test.name, self.config)
        except GraderError as e:      # e.g. a tier this machine does not give: one line
            raise GradedFailure(f"socket-grader: {e}") from None
        tests = [t for t in result.tests if t.name == self.test.name]
        if tests and tests[0].passed:
            return
        raise GradedFailure(failure_text(result, tests[0] if tests else None))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, GradedFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the test is: the spec file, at its first step (0-based, as pytest wants;
        skip reports need a line)."""
        first = self.test.steps[0].line if self.test.steps and self.test.steps[0].line else 1
        return self.path, first - 1, f"{self.config.stash[GRADING].spec.assignment}: {self.name}"


def failure_text(result: "SubmissionResult", t: "TestResult | None") -> str:
    """What ``grader check`` prints for this test: its line, the description, the feedback
    (and first, when the whole submission failed, why: e.g. the compiler's output)."""
    from .reporters.terminal import test_line
    from .results import SubmissionStatus
    lines = []
    if result.message and result.status is not SubmissionStatus.GRADED:
        lines += [result.message, ""]
    if t is not None:
        lines.append(test_line(t, False))
        if t.description:
            lines.append(f"        {t.description}")
        lines += [f"        {ln}" for ln in t.feedback.splitlines()]
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    grading = config.stash.get(GRADING, None)
    if grading is None or not grading.results:
        return
    tests = [t for r in grading.results.values() for t in r.tests]
    score, ran_max = sum(t.points for t in tests), sum(t.max_points for t in tests)
    tiers = sorted({r.tier for r in grading.results.values()})
    total = grading.spec.total_points
    line = (f"socket-grader: {score:g}/{ran_max:g} points from {len(tests)} tests"
            + (f" (the assignment is out of {total:g})" if abs(ran_max - total) > 1e-9 else "")
            + f"; spec {grading.spec.hash}, tier {', '.join(tiers)}")
    terminalreporter.write_sep("-", "socket-grader")
    terminalreporter.write_line(line)
