"""Plain result objects: what the engine produces and every front end reads.

Reporters (terminal, JSON, Gradescope, JUnit, ...) only read these; they never
run anything.  ``to_dict`` / ``from_dict`` give the stable JSON form documented
in docs/results.md (bump ``RESULT_SCHEMA_VERSION`` on any incompatible change).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

RESULT_SCHEMA_VERSION = 3   # 2: the test status "not applicable"; 3: a failed test's ``failure``


class TestStatus(str, enum.Enum):
    __test__ = False   # not a pytest test class
    PASSED = "passed"
    FAILED = "failed"      # the student's program did not do what the test expects
    ERROR = "error"        # the grader could not run the test (its own fault or the box's)
    SKIPPED = "skipped"    # not run: build failed, or an earlier failure made it moot
    # Cannot act on the submission's language (a libc shim on Go): not run, worth 0 of 0,
    # left out of the submission's max_score.
    NOT_APPLICABLE = "not applicable"


class SubmissionStatus(str, enum.Enum):
    GRADED = "graded"
    BUILD_FAILED = "build failed"
    TIMED_OUT = "timed out"          # the whole-run time limit was reached
    CRASHED = "crashed"              # the grader itself failed on this submission
    NOT_GRADABLE = "not gradable"    # no recognised source, empty folder


@dataclass
class Cause:
    """One cause of a failure: a short code, the sentence for the student, and what shows it."""

    __test__ = False
    code: str                    # "htons", "udp-sizeof-reply", ... (the class report counts these)
    text: str                    # in the student's terms (and the submission's language)
    evidence: list[str] = field(default_factory=list)   # the program's own calls that show it
    advice: str = ""             # what to do about it in the submission's language

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Cause":
        return cls(**d)


@dataclass
class Failure:
    """A failed test as data: where it failed, the exchange, and why (reporters render it)."""

    message: str                         # what did not hold, one sentence
    step: str | None = None              # the step's action ("expect", ...); None: before the steps
    spec_line: int | None = None         # the step's line in the spec
    sent: str | None = None              # what the grader last sent on that socket (shown, capped)
    expected: str | None = None
    got: str | None = None
    details: list[str] = field(default_factory=list)    # other lines of context
    causes: list[Cause] = field(default_factory=list)   # most specific first
    hints: list[str] = field(default_factory=list)      # the spec's hints the evidence leaves standing
    # Which evidence the causes rest on: "calls" (the program's own system calls, from a
    # replay under strace) or "outside" (what the grader saw from outside the program).
    evidence: str = "outside"
    evidence_note: str = ""              # why not "calls", when not
    ruled_out: list[str] = field(default_factory=list)  # cause codes the calls contradict (not shown)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Failure":
        d = dict(d)
        d["causes"] = [Cause.from_dict(c) for c in d.get("causes", [])]
        return cls(**d)


@dataclass
class TestResult:
    __test__ = False   # not a pytest test class
    name: str
    number: str
    description: str
    points: float
    max_points: float
    status: TestStatus
    feedback: str = ""
    duration: float = 0.0
    visibility: str = "visible"
    seed: int | None = None
    # Machine-readable causes ("htons", "sigpipe", ...) for the class report.
    diagnoses: list[str] = field(default_factory=list)
    stdout_tail: str = ""
    stderr_tail: str = ""
    failure: Failure | None = None     # a failed test's verdict as data (schema 3)

    @property
    def passed(self) -> bool:
        return self.status is TestStatus.PASSED

    @property
    def applicable(self) -> bool:
        """False for a test that cannot act on the submission's language (not in its total)."""
        return self.status is not TestStatus.NOT_APPLICABLE

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TestResult":
        d = dict(d)
        d["status"] = TestStatus(d["status"])
        if d.get("failure") is not None:
            d["failure"] = Failure.from_dict(d["failure"])
        return cls(**d)


@dataclass
class BuildResult:
    ok: bool
    language: str
    commands: list[str] = field(default_factory=list)
    output: str = ""
    duration: float = 0.0
    cached: bool = False         # reused from the build cache (same sources, commands, compilers)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BuildResult":
        return cls(**d)


@dataclass
class SubmissionResult:
    student: str                 # the submission folder's name
    submission: str              # the path that was graded
    assignment: str
    spec_hash: str
    tier: str                    # sandbox tier the program ran in
    status: SubmissionStatus
    score: float
    max_score: float             # the assignment's total (all tests, run or not)
    tests: list[TestResult] = field(default_factory=list)
    build: BuildResult | None = None
    message: str = ""            # one student-facing summary line where something went wrong
    duration: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    hidden_not_run: int = 0      # tests not run in student mode (hidden / after due date)
    seed: int | None = None
    grader_version: str = ""

    @property
    def full_marks(self) -> bool:
        return (self.status is SubmissionStatus.GRADED and not self.hidden_not_run
                and abs(self.score - self.max_score) < 1e-9)

    @property
    def run_max_score(self) -> float:
        """The points available among the tests that were actually run."""
        return sum(t.max_points for t in self.tests)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "student": self.student,
            "submission": self.submission,
            "assignment": self.assignment,
            "spec_hash": self.spec_hash,
            "tier": self.tier,
            "status": self.status.value,
            "score": self.score,
            "max_score": self.max_score,
            "tests": [t.to_dict() for t in self.tests],
            "build": self.build.to_dict() if self.build else None,
            "message": self.message,
            "duration": self.duration,
            "timings": dict(self.timings),
            "hidden_not_run": self.hidden_not_run,
            "seed": self.seed,
            "grader_version": self.grader_version,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SubmissionResult":
        d = dict(d)
        d.pop("schema_version", None)
        d["status"] = SubmissionStatus(d["status"])
        d["tests"] = [TestResult.from_dict(t) for t in d.get("tests", [])]
        d["build"] = BuildResult.from_dict(d["build"]) if d.get("build") else None
        return cls(**d)
