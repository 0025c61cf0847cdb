"""socket-grader: grade students' TCP/UDP socket programs over real sockets.

The public API is small: load a spec, grade a submission, read the result.

    >>> from grader import load_spec, grade
    >>> result = grade(load_spec("specs/tcp-echo.yaml"), "submissions/tcp-echo/c-correct-fork")
    >>> result.score, result.max_score
"""

__version__ = "0.1.0"

from .engine import GradeOptions, grade, grade_reference  # noqa: E402
from .errors import GraderError, SpecError, SubmissionError, UsageError  # noqa: E402
from .results import (SubmissionResult, SubmissionStatus, TestResult,  # noqa: E402
                      TestStatus)
from .spec import Spec, load_spec  # noqa: E402

__all__ = [
    "GradeOptions", "grade", "grade_reference", "load_spec", "Spec",
    "SubmissionResult", "SubmissionStatus", "TestResult", "TestStatus",
    "GraderError", "SpecError", "SubmissionError", "UsageError", "__version__",
]
