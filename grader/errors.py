"""Errors the grader reports to a person.

Two sides, as in h11's Local/RemoteProtocolError:

* ``GraderError`` and its subclasses mean *the input to the grader is wrong*
  (a malformed spec, a missing path, a bad option).  The CLI prints them as one
  line, names the file, and exits non-zero, without a traceback.
* The student's program being wrong is never an exception: it is a verdict in a
  :class:`grader.results.TestResult`.

Anything else that escapes is a bug of the grader itself.
"""

from __future__ import annotations


class GraderError(Exception):
    """A problem with what the grader was given; shown to the user as one line."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class SpecError(GraderError):
    """The spec file is malformed: names the file and, where known, the line."""

    def __init__(self, path: str, message: str, *, line: int | None = None,
                 hint: str | None = None) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = str(path)
        self.line = line


class UsageError(GraderError):
    """A wrong path or option on the command line."""


class SubmissionError(GraderError):
    """The submission folder cannot be graded at all (missing, or no known source)."""
