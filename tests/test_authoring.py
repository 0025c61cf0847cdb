"""Spec authoring: `grader new` scaffolds, `expect: {reference: true}`, the shipped schema."""

from __future__ import annotations

import json
import textwrap

import pytest

from conftest import ROOT, SPECS, SUBMISSIONS
from grader import TestStatus, grade, grade_reference, load_spec
from grader.spec_schema import SCHEMA

pytestmark = pytest.mark.timeout(120)

LIKE_REFERENCE = textwrap.dedent("""\
    assignment: like-reference
    role: server
    protocol: tcp
    port: 5001
    languages:
      c:
        files: [server.c]
        build: [[cc, -O2, -Wall, -o, server, server.c]]
        run: [./server, "{port}"]
    reference:
      run: [python3, "{reference}/tcp_echo_server.py", "{port}"]
    tests:
      - name: as-the-reference
        points: 1
        files: {data.bin: {random: {size: 3000}}}
        steps:
          - connect: a
          - send: {to: a, text: "hello\\n"}
          - expect: {from: a, reference: true}
          - send: {to: a, file: data.bin}
          - expect: {from: a, reference: true}
          - shutdown: a
          - expect_eof: a
    """)


def write_spec(tmp_path, text: str):
    (tmp_path / "specs").mkdir(exist_ok=True)
    path = tmp_path / "specs" / "s.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("role,protocol", [("server", "tcp"), ("server", "udp"), ("client", "tcp")])
def test_new_scaffold_validates_and_its_sample_gets_full_marks(tmp_path, run_cli, role, protocol):
    code, out, _ = run_cli("new", "demo-thing", "--role", role, "--protocol", protocol, "--dir", tmp_path)
    assert code == 0 and "grader validate" in out
    spec = load_spec(tmp_path / "specs" / "demo-thing.yaml")
    assert spec.reference_dir == tmp_path / "reference"
    assert grade_reference(spec).full_marks
    sample = tmp_path / "submissions" / "demo-thing" / "py-reference-copy"
    r = grade(spec, sample)
    assert r.score == r.max_score > 0
    code, _, err = run_cli("new", "demo-thing", "--dir", tmp_path)
    assert code == 2 and "already exists" in err


def test_expect_reference_compares_with_what_the_reference_replies(tmp_path):
    spec = load_spec(write_spec(tmp_path, LIKE_REFERENCE))
    good = grade(spec, SUBMISSIONS / "tcp-echo" / "c-correct-poll")
    assert good.full_marks, good.tests[0].feedback
    bad = grade(spec, SUBMISSIONS / "tcp-echo" / "c-strlen")
    assert bad.tests[0].status is TestStatus.FAILED
    assert "nul-truncation" in bad.tests[0].diagnoses


def test_a_reference_that_fails_the_spec_is_the_specs_fault(tmp_path):
    text = LIKE_REFERENCE.replace('      - shutdown: a\n', '      - expect: {from: a, text: "no such reply"}\n      - shutdown: a\n')
    spec = load_spec(write_spec(tmp_path, text))
    r = grade(spec, SUBMISSIONS / "tcp-echo" / "c-correct-poll")
    assert r.tests[0].status is TestStatus.ERROR
    assert "the spec or the reference is wrong" in r.tests[0].feedback


def test_interop_needs_the_other_roles_reference(tmp_path):
    from grader import SpecError
    text = LIKE_REFERENCE.replace("      - connect: a\n", "      - run_client: {}\n      - connect: a\n")
    with pytest.raises(SpecError, match="run_client needs interop.client"):
        load_spec(write_spec(tmp_path, text))


def test_shipped_schema_file_matches_the_code():
    shipped = json.loads((ROOT / "docs" / "spec.schema.json").read_text())
    assert shipped == json.loads(json.dumps(SCHEMA))


@pytest.mark.parametrize("spec_file", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_specs_are_valid_against_the_schema_alone(spec_file):
    import jsonschema
    import yaml
    jsonschema.Draft202012Validator(SCHEMA).validate(yaml.safe_load(spec_file.read_text()))
