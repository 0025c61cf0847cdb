"""Spec loading: a malformed spec gets one message naming the file and the line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, SPECS
from grader import SpecError, load_spec

pytestmark = pytest.mark.timeout(30)

GOOD = textwrap.dedent("""\
    assignment: demo
    role: server
    protocol: tcp
    port: 5001
    languages:
      python:
        files: [server.py]
        run: [python3, server.py, "{port}"]
    reference:
      run: [python3, "{reference}/tcp_echo_server.py", "{port}"]
    tests:
      - name: echo
        points: 1
        steps:
          - connect: a
          - send: {to: a, text: "hi"}
          - expect: {from: a, echo: true}
    """)


def load_text(tmp_path: Path, text: str):
    path = tmp_path / "demo.yaml"
    path.write_text(text)
    return load_spec(path), path


def error_of(tmp_path: Path, text: str) -> SpecError:
    with pytest.raises(SpecError) as e:
        load_text(tmp_path, text)
    return e.value


def test_good_spec_loads(tmp_path):
    spec, _ = load_text(tmp_path, GOOD)
    assert spec.assignment == "demo" and spec.total_points == 1
    assert [s.action for s in spec.tests[0].steps] == ["connect", "send", "expect"]


@pytest.mark.parametrize("spec_file", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_specs_load(spec_file):
    spec = load_spec(spec_file)
    assert spec.tests and len(spec.hash) == 12


@pytest.mark.parametrize("old,new,line,words", [
    ("    points: 1\n", "    points: 1\n    pionts: 2\n", 14, ["unknown key 'pionts'", "allowed:"]),
    ("    points: 1\n", "    points: lots\n", 13, ["tests[0].points", "not of type 'number'"]),
    ("protocol: tcp\n", "", 1, ["'protocol' is a required property"]),
    ("port: 5001\n", "port: 80\n", 4, ["port", "less than the minimum of 1024"]),
    ("      - connect: a\n", "      - connect: a\n        close: a\n", 15, ["exactly one action", "connect, close"]),
    ("      - connect: a\n", "      - conect: a\n", 15, ["unknown key 'conect'"]),
    ("      - send: {to: a,", "      - send: {to: b,", 16, ["socket 'b' before any connect"]),
    ("[python3, server.py, \"{port}\"]", "[python3, server.py, \"{prot}\"]", 6, ["unknown placeholder {prot}"]),
    ("role: server\n", "role: server\nrole: client\n", 3, ["duplicate key 'role'", "first at line 2"]),
    ("    points: 1\n", "    points: 1\n   steps: [\n", 14, ["not valid YAML"]),
])
def test_malformed_spec_names_file_and_line(tmp_path, old, new, line, words):
    assert old in GOOD
    err = error_of(tmp_path, GOOD.replace(old, new, 1))
    assert err.path.endswith("demo.yaml")
    assert err.line == line, str(err)
    for w in words:
        assert w in str(err), str(err)


def test_duplicate_test_names(tmp_path):
    text = GOOD + GOOD[GOOD.index("  - name: echo"):]
    err = error_of(tmp_path, text)
    assert "test name 'echo' is used twice" in str(err)


def test_client_step_in_server_spec(tmp_path):
    err = error_of(tmp_path, GOOD.replace("      - connect: a\n", "      - accept: a\n"))
    assert "'accept' is for client specs" in str(err)


def test_missing_and_wrong_files(tmp_path):
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="is a folder"):
        load_spec(tmp_path)
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(SpecError, match="must be a YAML mapping"):
        load_spec(tmp_path / "list.yaml")


def test_cli_bad_spec_is_one_line_without_traceback(tmp_path, run_cli):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("    points: 1\n", "    points: 1\n    pionts: 2\n"))
    code, out, err = run_cli("check", bad, ROOT / "submissions" / "tcp-echo" / "c-correct-fork")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{bad}:14:" in err


def test_spec_hash_ignores_comments_and_layout(tmp_path):
    a, _ = load_text(tmp_path, GOOD)
    b, _ = load_text(tmp_path, "# a comment\n" + GOOD.replace("[server.py]", "[ server.py ]"))
    c, _ = load_text(tmp_path, GOOD.replace("points: 1", "points: 2"))
    assert a.hash == b.hash != c.hash


def test_schema_command_prints_json_schema(run_cli):
    import json
    code, out, _ = run_cli("schema")
    schema = json.loads(out)
    assert code == 0 and schema["title"] == "socket-grader assignment spec"
    assert "connect" in schema["$defs"]["steps"]["items"]["properties"]
