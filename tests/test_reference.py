"""Every shipped spec scores 100% against the reference implementation."""

from __future__ import annotations

import pytest

from conftest import SPECS
from grader import GradeOptions, grade_reference, load_spec

pytestmark = pytest.mark.timeout(120)

SPEC_FILES = sorted(SPECS.glob("*.yaml"))


@pytest.mark.parametrize("spec_file", SPEC_FILES, ids=lambda p: p.stem)
def test_reference_scores_full_marks(spec_file):
    spec = load_spec(spec_file)
    result = grade_reference(spec, GradeOptions())
    failing = {t.name: t.feedback for t in result.tests if not t.passed}
    assert failing == {}
    assert result.score == result.max_score == spec.total_points > 0


def test_validate_command_reports_valid(run_cli):
    code, out, _ = run_cli("validate", SPECS / "udp-echo.yaml")
    assert code == 0
    assert "valid, the reference scores 100%" in out
