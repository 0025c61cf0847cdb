"""JUnit XML, the safe subset every CI reader takes (shared/notes/platform-formats.md).

``<testsuites>`` holds one ``<testsuite name tests failures errors skipped time>``
per submission (its name is the student's folder name), and each spec test is a
``<testcase classname name time>`` with at most one ``<failure>``, ``<error>`` or
``<skipped>`` and the test's text in ``<system-out>``.  A testsuite has no other
children (no ``<properties>``, no suite-level output): strict readers such as
CodeGrade read every child of a testsuite as a testcase.

What each outcome becomes, so that a JUnit pass rate means what the score means:

- passed: no child;
- failed, or not run because the submission failed (did not build, ran out of
  time): ``<failure>``, the student lost these points; its ``message`` is the
  failed step's spec line, what did not hold and the first likely cause (from
  the test's structured failure), its text the whole feedback;
- error (the grader could not run the test), or not run because the grader
  crashed: ``<error>``, not the student's fault;
- not run on purpose (a hidden test in a student's self-check, a test left out
  by ``--test``): ``<skipped>``, so readers that score passed/(tests - skipped)
  give the visible-test score;
- not applicable (the test cannot act on the submission's language, e.g. a
  libc shim on Go): ``<skipped message="not applicable to Go: ...">``.

Where: ``OUT/junit.xml``, one file for the whole run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from junit_xml import TestCase, TestSuite, to_xml_report_string

from ..results import SubmissionResult, SubmissionStatus, TestStatus
from ..spec import Spec
from .jsonfmt import atomic_write
from .views import TestView, every_test, feedback_text, first_line

FILENAME = "junit.xml"


def test_case(v: TestView, r: SubmissionResult, spec: Spec, context: str) -> TestCase:
    """One ``<testcase>``; ``context`` (e.g. the build output) is added to its failure text."""
    t = v.result
    case = TestCase(t.name, classname=f"{spec.assignment}.{r.student}",
                    elapsed_sec=t.duration, stdout=feedback_text(t) or None)
    body = "\n\n".join(part for part in (t.feedback, context) if part)
    message = failure_message(t) or first_line(t.feedback)
    if t.status is TestStatus.PASSED:
        pass
    elif t.status is TestStatus.ERROR or (not v.ran and r.status is SubmissionStatus.CRASHED):
        case.add_error_info(message=message, output=body, error_type="error")
    elif not v.ran or t.status is TestStatus.NOT_APPLICABLE:
        case.add_skipped_info(message=message)
    else:       # failed, or skipped by the engine because the submission failed
        case.add_failure_info(message=message, output=body, failure_type="failure")
    return case


def failure_message(t) -> str:
    """A failed test's message attribute, from its structured failure: what did not hold, at
    which spec line, and the first likely cause (CI pages show only this attribute)."""
    f = t.failure
    if f is None:
        return ""
    where = f"step '{f.step}' (spec line {f.spec_line}): " if f.step is not None else ""
    cause = next((c.text for c in f.causes if c.text), "")
    return where + f.message + (f"; likely cause: {cause}" if cause else "")


def test_suite(r: SubmissionResult, spec: Spec) -> TestSuite:
    """One submission as a ``<testsuite>``; the submission's message goes to its first
    test that lost points because of it (a build failure's compiler output, once)."""
    cases = []
    context = r.message if r.status is not SubmissionStatus.GRADED else ""
    for v in every_test(r, spec):
        takes_context = context and not v.result.passed and (
            v.result.status is TestStatus.SKIPPED or not v.ran)
        cases.append(test_case(v, r, spec, context if takes_context else ""))
        if takes_context:
            context = ""
    return TestSuite(r.student, cases)


def render(results: Sequence[SubmissionResult], spec: Spec) -> str:
    return to_xml_report_string([test_suite(r, spec) for r in results], prettyprint=True)


def write(results: Sequence[SubmissionResult], spec: Spec, out_dir: Path) -> list[Path]:
    path = out_dir / FILENAME
    atomic_write(path, render(results, spec))
    return [path]
