"""socket-grader: grade students' TCP/UDP socket programs over real sockets.

The public API is small: load a spec, grade a submission, read the result.

    >>> from grader import load_spec, grade
    >>> result = grade(load_spec("specs/tcp-echo.yaml"), "submissions/tcp-echo/c-correct-fork")
    >>> result.score, result.max_score

Names are imported on first use, so that importing the package (as pytest does
for the plugin in every run where socket-grader is installed) costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "GradeOptions": "engine", "Session": "engine", "grade": "engine", "grade_reference": "engine",
    "load_spec": "spec", "Spec": "spec",
    "SubmissionResult": "results", "SubmissionStatus": "results", "TestResult": "results",
    "TestStatus": "results",
    "GraderError": "errors", "SpecError": "errors", "SubmissionError": "errors", "UsageError": "errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'grader' has no attribute {name!r}")
