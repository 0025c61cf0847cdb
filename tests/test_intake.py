"""LMS exports into ``grader batch``: Canvas and Moodle (loose files or per-student folders,
as a folder or a .zip), Gradescope's export folder; archives unpacked safely; and every
student either graded or listed as not gradable with the reason.

The exports are made here the way the platforms name their files (see grader/intake.py);
the end-to-end test grades them with the real grader (udp-echo, three quick tests)."""

from __future__ import annotations

import csv
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import SPECS, SUBMISSIONS
from grader import intake
from grader.intake import NotGradable, prepare
from runs import grader

pytestmark = pytest.mark.timeout(120)

EXPECTED = {"server.c", "server.py"}
GOOD_C = (SUBMISSIONS / "udp-echo" / "c-correct" / "server.c").read_bytes()
BAD_C = (SUBMISSIONS / "udp-echo" / "c-no-htons" / "server.c").read_bytes()


def make_zip(path: Path, members: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            z.writestr(info, target)
    return path


def make_tar(path: Path, members: dict[str, bytes], *, symlink: tuple[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink[0])
            info.type = tarfile.SYMTYPE
            info.linkname = symlink[1]
            t.addfile(info)
    return path


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def by_student(result: intake.Intake) -> tuple[dict[str, Path], dict[str, NotGradable]]:
    return ({f.name: f for f in result.folders}, {n.student: n for n in result.not_gradable})


def canvas_export(root: Path) -> Path:
    """Loose files as Canvas names them: NAME_[LATE_]USERID_SUBMISSIONID_FILE."""
    root.mkdir(parents=True)
    (root / "smithjane_1234_5678_server.c").write_bytes(GOOD_C)
    (root / "doejohn_LATE_2222_3333_server-1.c").write_bytes(BAD_C)     # renamed by Canvas
    make_zip(root / "leebob_4444_5555_project.zip", {"project/server.c": GOOD_C,
                                                   "__MACOSX/project/._server.c": b"junk"})
    make_zip(root / "evilmallory_6666_7777_sub.zip", {"../../escape.c": b"x"})
    (root / "rarfan_8888_9999_sub.rar").write_bytes(b"Rar!")
    (root / "server.c").write_bytes(GOOD_C)                              # names no student
    (root / "notes.txt").write_text("hello")
    return root


def test_canvas_loose_files_grouped_by_student(tmp_path):
    got = prepare(canvas_export(tmp_path / "export"), tmp_path / "out", expected_files=EXPECTED)
    assert got.kind == "canvas"
    folders, bad = by_student(got)
    assert set(folders) == {"smithjane_1234", "doejohn_2222", "leebob_4444"}
    assert files_of(folders["smithjane_1234"]) == {"server.c": GOOD_C}
    assert files_of(folders["doejohn_2222"]) == {"server.c": BAD_C}          # "-1" taken off
    assert files_of(folders["leebob_4444"]) == {"server.c": GOOD_C}          # lone folder, no litter
    assert all(f.is_relative_to(tmp_path / "out" / "intake") for f in folders.values())
    assert "path out of its folder" in bad["evilmallory_6666"].message
    assert ".rar archive" in bad["rarfan_8888"].message
    assert "names no student" in bad["server.c"].message
    assert set(bad) == {"evilmallory_6666", "rarfan_8888", "server.c"}
    assert got.ignored == ["notes.txt (a loose file that is not code and names no student)"]
    assert not (tmp_path / "escape.c").exists() and not (tmp_path / "out" / "escape.c").exists()


def test_moodle_folders_and_loose_files(tmp_path):
    root = tmp_path / "moodle"
    (root / "Jane Smith_101_assignsubmission_file_").mkdir(parents=True)
    (root / "Jane Smith_101_assignsubmission_file_" / "server.py").write_bytes(b"print(1)\n")
    (root / "Jane Smith_101_assignsubmission_onlinetext_").mkdir()
    (root / "Jane Smith_101_assignsubmission_onlinetext_" / "onlinetext.html").write_text("<p>hi</p>")
    (root / "Bob Lee_202_assignsubmission_file_server.c").write_bytes(GOOD_C)
    (root / "Ann Other_303_assignsubmission_onlinetext_onlinetext.html").write_text("only text")
    make_zip(tmp_path / "moodle.zip", {f"{p.relative_to(root).as_posix()}": p.read_bytes()
                                       for p in root.rglob("*") if p.is_file()})
    for source in (root, tmp_path / "moodle.zip"):
        got = prepare(source, tmp_path / "out", expected_files=EXPECTED)
        assert got.kind == "moodle"
        folders, bad = by_student(got)
        assert files_of(folders["Jane Smith_101"]) == {"server.py": b"print(1)\n"}
        assert files_of(folders["Bob Lee_202"]) == {"server.c": GOOD_C}
        assert bad["Ann Other_303"].message == "submitted no files"
        assert len(got.ignored) == 2 and all("onlinetext" in i for i in got.ignored)
    assert not (tmp_path / "out" / "intake" / ".export").exists()     # the unpacked zip is gone


def test_gradescope_export_named_by_its_metadata(tmp_path):
    root = tmp_path / "wrap" / "assignment_99_export"
    (root / "submission_1").mkdir(parents=True)
    (root / "submission_1" / "server.c").write_bytes(GOOD_C)
    (root / "submission_2").mkdir()
    make_tar(root / "submission_2" / "code.tar.gz", {"server.c": BAD_C})
    (root / "submission_9").mkdir()                           # not in the metadata: its own name
    (root / "submission_9" / "server.py").write_text("pass\n")
    (root / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Jane Smith\n    :sid: '101'\n"
        "    :email: jane@example.edu\n  :score: !ruby/object:BigDecimal 18:0.1E2\n"
        "submission_2:\n  :submitters:\n  - :name: Bob Lee\n    :sid: '202'\n"
        "  - :name: Ann Other\n    :sid: '303'\n"
        "submission_3:\n  :submitters:\n  - :name: Gone Away\n    :sid: '404'\n")
    got = prepare(tmp_path / "wrap", tmp_path / "out", expected_files=EXPECTED)
    assert got.kind == "gradescope"
    folders, bad = by_student(got)
    assert set(folders) == {"Jane Smith_101", "Bob Lee_202+Ann Other_303", "submission_9"}
    assert files_of(folders["Bob Lee_202+Ann Other_303"]) == {"server.c": BAD_C}
    assert "no such folder" in bad["Gone Away_404"].message


def test_plain_folders_are_graded_in_place_and_loose_archives_become_students(tmp_path):
    root = tmp_path / "class"
    (root / "alice").mkdir(parents=True)
    (root / "alice" / "server.c").write_bytes(GOOD_C)
    make_zip(root / "bob.zip", {"server.c": BAD_C})
    got = prepare(root, tmp_path / "out", expected_files=EXPECTED)
    folders, bad = by_student(got)
    assert got.kind == "folders" and not bad
    assert folders["alice"] == root / "alice"                  # in place, as before
    assert files_of(folders["bob"]) == {"server.c": BAD_C}


@pytest.mark.parametrize("case", ["symlink-zip", "symlink-tar", "absolute", "too-big", "too-many",
                                  "damaged", "encrypted-looking"])
def test_unsafe_student_archives_are_refused_with_a_reason(tmp_path, monkeypatch, case):
    root = tmp_path / "export"
    root.mkdir()
    archive = root / "mallory_1_2_sub.zip"
    if case == "symlink-zip":
        make_zip(archive, {"server.c": GOOD_C}, links={"link": "/etc/passwd"})
        why = "symbolic link"
    elif case == "symlink-tar":
        archive = make_tar(root / "mallory_1_2_sub.tar.gz", {"server.c": GOOD_C},
                           symlink=("evil", "/etc/passwd"))
        why = "holds a link"
    elif case == "absolute":
        make_zip(archive, {"/tmp/owned.c": b"x"})
        why = "absolute path"
    elif case == "too-big":
        monkeypatch.setattr(intake, "MAX_BYTES", 1000)
        make_zip(archive, {"server.c": b"\0" * 5000})          # compresses to almost nothing
        why = "unpacks to more than"
    elif case == "too-many":
        monkeypatch.setattr(intake, "MAX_MEMBERS", 10)
        make_zip(archive, {f"f{i}.c": b"x" for i in range(11)})
        why = "more than 10 entries"
    elif case == "damaged":
        archive.write_bytes(b"PK\x03\x04 this is not really a zip")
        why = "damaged archive"
    else:
        make_zip(archive, {"server.c": GOOD_C})
        data = bytearray(archive.read_bytes())
        data[6] |= 1                                           # the local header's encrypted bit
        cd = data.rfind(b"PK\x01\x02")
        data[cd + 8] |= 1                                      # and the central directory's
        archive.write_bytes(bytes(data))
        why = "encrypted"
    got = prepare(root, tmp_path / "out", expected_files=EXPECTED)
    folders, bad = by_student(got)
    assert not folders and list(bad) == ["mallory_1"]
    assert why in bad["mallory_1"].message, bad["mallory_1"].message
    assert not (tmp_path / "out" / "intake" / "mallory_1").exists()
    assert not Path("/tmp/owned.c").exists()


def test_a_zip_of_the_whole_class_that_escapes_is_refused(tmp_path):
    bad = make_zip(tmp_path / "export.zip", {"../outside.c": b"x"})
    p = grader("batch", SPECS / "udp-echo.yaml", bad, "--out", tmp_path / "out")
    assert p.returncode == 2 and "not unpacked" in p.stderr and "path out of its folder" in p.stderr
    assert not (tmp_path / "outside.c").exists()


@pytest.mark.timeout(300)
def test_batch_grades_a_canvas_zip_and_lists_everyone_it_could_not_grade(tmp_path):
    export = canvas_export(tmp_path / "export")
    with zipfile.ZipFile(tmp_path / "submissions.zip", "w") as z:
        for f in export.iterdir():
            z.write(f, f.name)
    out = tmp_path / "out"
    p = grader("batch", "udp-echo", tmp_path / "submissions.zip", "--out", out, "--jobs", "3",
               "--test", "bound", "--test", "binary-safe", "--format", "csv", timeout=250)
    assert p.returncode == 0, p.stderr
    assert "intake: canvas export: 3 submissions, 3 not gradable, 1 files left out" in p.stderr
    assert "not gradable: evilmallory_6666:" in p.stderr and "left out: notes.txt" in p.stderr
    results = {f.stem: json.loads(f.read_text()) for f in (out / "results").glob("*.json")}
    assert set(results) == {"smithjane_1234", "doejohn_2222", "leebob_4444",
                            "evilmallory_6666", "rarfan_8888", "server.c"}
    status = {s: (r["status"], r["score"]) for s, r in results.items()}
    for s in ("smithjane_1234", "leebob_4444"):              # correct: both tests passed
        assert results[s]["status"] == "graded"
        assert [t["status"] for t in results[s]["tests"]] == ["passed", "passed"], s
    assert [t["status"] for t in results["doejohn_2222"]["tests"]][0] == "failed"   # no htons
    for s in ("evilmallory_6666", "rarfan_8888", "server.c"):
        assert status[s] == ("not gradable", 0.0)
        assert results[s]["message"] and all(t["status"] == "skipped" for t in results[s]["tests"])
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert {r[next(iter(r))] for r in rows} == set(results)          # everyone is in the gradebook
    manifest = json.loads((out / "batch.json").read_text())
    assert sorted(manifest["students"]) == sorted(results)
