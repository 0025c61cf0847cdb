"""From what a learning platform exports to one folder per student: ``grader batch``'s intake.

Theory of operation
-------------------
``grader batch SPEC DIR`` takes DIR (or a ``.zip`` of it) in any of these shapes:

- **Folders**: one folder per submission (the grader's own layout; folders are
  graded in place, as before).
- **Canvas** ("Download Submissions"): loose files named
  ``NAME_USERID_SUBMISSIONID_FILE`` (``NAME_LATE_USERID_...`` when late;
  ``NAME_USERID_FILE`` is taken too), one per uploaded file; a file Canvas had
  to rename gets ``-1``, ``-2`` before its extension, which is taken off again
  when that gives one of the spec's file names.
- **Moodle** ("Download all submissions"): per-student folders
  ``Full Name_PARTICIPANTID_assignsubmission_file_/`` (with "download submissions
  in folders"), or loose files ``Full Name_PARTICIPANTID_assignsubmission_file_FILE``;
  ``..._assignsubmission_onlinetext_`` entries are not code and are left out
  (the student is still listed).
- **Gradescope** ("Export Submissions"): ``submission_metadata.yml`` beside one
  ``submission_ID/`` folder per submission; the metadata names the submitters.

A single folder wrapping it all (``assignment_123_export/``, or a zip's top
folder) is looked through.  Files are grouped by student; a student's archives
(``.zip``, ``.tar``, ``.tar.gz``, ``.tgz``) are unpacked in place, and a lone
top folder inside is looked through too (students zip their project folder).

Nobody is dropped silently: a student whose files cannot be taken (an unsafe or
oversized archive, an archive kind we do not read, no files at all) is listed in
:attr:`Intake.not_gradable` with the reason, and the batch writes a "not
gradable" result for them; a loose file that names no student is listed as
such; files that are clearly not submissions (``.DS_Store``, ``__MACOSX/``) are
left out, and any other file left out is listed in :attr:`Intake.ignored`.

Unpacking is safe: no absolute paths or ``..``, no links or device files, at
most :data:`MAX_MEMBERS` entries and :data:`MAX_BYTES` bytes per student
archive (counted while writing, not trusted from the header), and
:data:`MAX_EXPORT_MEMBERS` / :data:`MAX_EXPORT_BYTES` for a whole exported zip.
Students' folders are written under the batch's output folder
(``OUT/intake/<student>/``), so an instructor can look at what was graded and
run ``grader check`` on one of them.
"""

from __future__ import annotations

import re
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable

import yaml

from .errors import UsageError

# A student's archive: enough for any socket assignment, far below a zip bomb.
MAX_MEMBERS = 2_000
MAX_BYTES = 64 * 1024 * 1024
# A whole class exported as one zip.
MAX_EXPORT_MEMBERS = 200_000
MAX_EXPORT_BYTES = 8 * 1024 * 1024 * 1024

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
UNREADABLE_ARCHIVES = (".rar", ".7z", ".tar.xz", ".tar.bz2", ".gz", ".bz2", ".xz")
# Litter of file managers and archivers: never a submission, never listed.
LITTER_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX"}

CODE_SUFFIXES = {".c", ".h", ".cc", ".cpp", ".py"}

GRADESCOPE_METADATA = "submission_metadata.yml"
INTAKE_DIR = "intake"

CANVAS_FILE = re.compile(r"^(?P<name>[^_/]+)_(?:(?P<late>late)_)?(?P<uid>\d+)_(?:(?P<sub>\d+)_)?"
                         r"(?P<file>[^/]+)$", re.IGNORECASE)
MOODLE_ENTRY = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_"
                          r"(?P<file>.*)$")
RENAMED = re.compile(r"^(?P<base>.+)-(?P<n>\d+)(?P<ext>\.[^.]+)?$")


class UnsafeArchive(Exception):
    """An archive we refuse to unpack; the message says why, for the gradebook."""


@dataclass(frozen=True)
class NotGradable:
    """A student who is in the export but cannot be graded, and why."""

    student: str
    message: str
    source: str = ""          # what of the export it came from


@dataclass
class Intake:
    """What :func:`prepare` found: a folder per gradable student, and the rest, said."""

    kind: str                                   # folders | canvas | moodle | gradescope
    folders: list[Path] = field(default_factory=list)
    not_gradable: list[NotGradable] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.folders)} submissions"]
        if self.not_gradable:
            parts.append(f"{len(self.not_gradable)} not gradable")
        if self.ignored:
            parts.append(f"{len(self.ignored)} files left out")
        return f"{self.kind} export: " + ", ".join(parts) if self.kind != "folders" else ", ".join(parts)


@dataclass
class _Student:
    key: str
    files: list[tuple[str, Path]] = field(default_factory=list)    # (name in submission, file)
    dirs: list[Path] = field(default_factory=list)                 # folders whose contents count
    sources: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the entry point

def prepare(root: Path, out_dir: Path, *, expected_files: Iterable[str] = ()) -> Intake:
    """One folder per student from ``root`` (a folder or a .zip), see the module docstring.

    Folders of the grader's own layout are used in place; everything else is
    written under ``out_dir/intake/`` (replaced on every run).
    """
    expected = set(expected_files)
    work = out_dir / INTAKE_DIR
    if work.exists():
        shutil.rmtree(work)
    given_folder = root.is_dir()
    if root.is_file():
        if not root.name.lower().endswith(".zip"):
            raise UsageError(f"{root}: give a folder of submissions or a .zip of one")
        export = work / ".export"
        try:
            safe_extract(root, export, max_members=MAX_EXPORT_MEMBERS, max_bytes=MAX_EXPORT_BYTES)
        except UnsafeArchive as e:
            shutil.rmtree(work, ignore_errors=True)
            raise UsageError(f"{root}: not unpacked: {e}") from None
        root = export
    elif not root.is_dir():
        raise UsageError(f"{root}: no such folder of submissions")
    root = _unwrap(root)
    if (root / GRADESCOPE_METADATA).is_file():
        kind, students, intake = "gradescope", *_gradescope(root)
    else:
        kind, students, intake = _loose(root, expected)
    intake.kind = kind
    for student in students.values():
        _materialize(student, work, expected, intake, in_place_ok=given_folder)
    shutil.rmtree(work / ".export", ignore_errors=True)
    intake.folders.sort(key=lambda p: p.name)
    intake.not_gradable.sort(key=lambda n: n.student)
    return intake


def _visible(entries: Iterable[Path]) -> list[Path]:
    return sorted(p for p in entries if p.name not in LITTER_NAMES and not p.name.startswith("."))


def _unwrap(root: Path) -> Path:
    """Look through one folder wrapping the whole export (``assignment_123_export/``)."""
    entries = _visible(root.iterdir())
    if (len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink()
            and not (root / GRADESCOPE_METADATA).exists()
            and any(p.name == GRADESCOPE_METADATA or MOODLE_ENTRY.match(p.name)
                    for p in entries[0].iterdir())):
        return entries[0]
    return root


def student_key(*parts: str) -> str:
    """A student's name as one safe path component."""
    text = "_".join(p.strip() for p in parts if p and p.strip())
    text = "".join(c if c.isprintable() and c not in '/\\\0:' else "_" for c in text).strip(" .")
    return text or "unnamed"


# ---------------------------------------------------------------- the shapes

def looks_like_code(name: str, expected: set[str]) -> bool:
    """Whether a loose file is likely a student's work (then it must not go unmentioned)."""
    suffixes = {Path(f).suffix for f in expected if Path(f).suffix} | CODE_SUFFIXES
    return name in expected or Path(name).suffix.lower() in suffixes or name in ("Makefile", "makefile")


def _loose(root: Path, expected: set[str]) -> tuple[str, dict[str, _Student], Intake]:
    """Folders, Canvas and Moodle: sort the top-level entries of ``root`` into students."""
    intake = Intake("folders")
    students: dict[str, _Student] = {}
    kinds: set[str] = set()

    def student(key: str) -> _Student:
        return students.setdefault(key, _Student(key))

    for entry in _visible(root.iterdir()):
        m = MOODLE_ENTRY.match(entry.name)
        if m:
            kinds.add("moodle")
            s = student(student_key(m["name"], m["uid"]))
            s.sources.append(entry.name)
            if m["plugin"] != "file":                 # online text, comments: not code
                intake.ignored.append(f"{entry.name} (Moodle {m['plugin']}, not a file submission)")
            elif entry.is_dir() and not entry.is_symlink():
                s.dirs.append(entry)
            elif entry.is_file() and m["file"]:
                s.files.append((m["file"], entry))
            continue
        if entry.is_dir():
            s = student(student_key(entry.name))
            s.dirs.append(entry)
            s.sources.append(entry.name)
            continue
        if not entry.is_file():
            intake.ignored.append(f"{entry.name} (not a file or folder)")
            continue
        m = CANVAS_FILE.match(entry.name)
        if m:
            kinds.add("canvas")
            s = student(student_key(m["name"], m["uid"]))
            s.files.append((m["file"], entry))
            s.sources.append(entry.name)
        elif archive_kind(entry.name):
            s = student(student_key(archive_stem(entry.name)))
            s.files.append((entry.name, entry))
            s.sources.append(entry.name)
        elif unreadable_archive(entry.name):
            key = student_key(entry.name.split(".")[0])
            intake.not_gradable.append(NotGradable(
                key, f"{entry.name}: a {unreadable_archive(entry.name)} archive, which the grader "
                     f"does not unpack (submit a .zip or .tar.gz)", entry.name))
        elif looks_like_code(entry.name, expected):
            intake.not_gradable.append(NotGradable(
                student_key(entry.name), f"{entry.name}: a loose file that names no student "
                "(Canvas and Moodle name each file NAME_ID_..._FILE; put a student's files "
                "in a folder of their own)", entry.name))
        else:
            intake.ignored.append(f"{entry.name} (a loose file that is not code and names no student)")
    kind = "+".join(sorted(kinds)) if kinds else "folders"
    return kind, students, intake


def _gradescope(root: Path) -> tuple[dict[str, _Student], Intake]:
    """A Gradescope export: submission_metadata.yml names the submitters of each folder."""
    intake = Intake("gradescope")
    meta_path = root / GRADESCOPE_METADATA
    try:
        meta = yaml.load(meta_path.read_text(encoding="utf-8", errors="replace"), Loader=_TolerantLoader)
    except yaml.YAMLError as e:
        raise UsageError(f"{meta_path}: not readable YAML: {e}") from None
    meta = meta if isinstance(meta, dict) else {}
    students: dict[str, _Student] = {}
    listed = set()
    for folder_name, record in sorted(meta.items(), key=lambda kv: str(kv[0])):
        folder_name = str(folder_name)
        listed.add(folder_name)
        key = _gradescope_key(folder_name, record)
        folder = root / folder_name
        if not folder.is_dir() or folder.is_symlink():
            intake.not_gradable.append(NotGradable(
                key, f"listed in {GRADESCOPE_METADATA} as {folder_name}, but the export has no "
                     "such folder", folder_name))
            continue
        s = students.setdefault(key, _Student(key))
        s.dirs.append(folder)
        s.sources.append(folder_name)
    for entry in _visible(root.iterdir()):
        if entry.name in listed or entry.name == GRADESCOPE_METADATA:
            continue
        if entry.is_dir() and not entry.is_symlink():
            s = students.setdefault(student_key(entry.name), _Student(student_key(entry.name)))
            s.dirs.append(entry)
            s.sources.append(entry.name)
        else:
            intake.ignored.append(f"{entry.name} (not a submission folder of the export)")
    return students, intake


def _gradescope_key(folder: str, record: object) -> str:
    submitters = []
    if isinstance(record, dict):
        for sub in record.get(":submitters") or record.get("submitters") or []:
            if isinstance(sub, dict):
                name = str(sub.get(":name") or sub.get("name") or "").strip()
                sid = str(sub.get(":sid") or sub.get("sid") or "").strip()
                submitters.append(student_key(name, sid) if (name or sid) else "")
    submitters = [s for s in submitters if s]
    return "+".join(submitters) if submitters else student_key(folder)


class _TolerantLoader(yaml.SafeLoader):
    """Safe YAML that reads Ruby-tagged values (``!ruby/object:BigDecimal``) as plain data."""


def _untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_TolerantLoader.add_multi_constructor("!", _untagged)
_TolerantLoader.add_multi_constructor("tag:yaml.org,2002:", _untagged)


# ---------------------------------------------------------------- a student's folder

def _materialize(s: _Student, work: Path, expected: set[str], intake: Intake, *,
                 in_place_ok: bool) -> None:
    """Use the student's folder in place, or build it under ``work``; or say why not."""
    source = ", ".join(s.sources)
    in_place = (in_place_ok and len(s.dirs) == 1 and not s.files and intake.kind == "folders"
                and not any(archive_kind(p.name) or unreadable_archive(p.name)
                            for p in s.dirs[0].iterdir()))
    if in_place:
        intake.folders.append(s.dirs[0])
        return
    dest = work / s.key
    try:
        dest.mkdir(parents=True)
        for folder in s.dirs:
            _copy_tree(folder, dest)
        for name, path in s.files:
            target = dest / _restore_name(name, expected)
            if target.exists():
                target = dest / name
            shutil.copyfile(path, target)
        _unpack_archives(dest)
        _look_through_lone_folder(dest)
    except (UnsafeArchive, OSError) as e:
        shutil.rmtree(dest, ignore_errors=True)
        intake.not_gradable.append(NotGradable(s.key, str(e), source))
        return
    if not any(dest.rglob("*")):
        shutil.rmtree(dest, ignore_errors=True)
        intake.not_gradable.append(NotGradable(s.key, "submitted no files", source))
        return
    intake.folders.append(dest)


def _restore_name(name: str, expected: set[str]) -> str:
    """``server-1.c`` back to ``server.c`` when that is a file the spec asks for."""
    m = RENAMED.match(name)
    if m and name not in expected:
        original = m["base"] + (m["ext"] or "")
        if original in expected:
            return original
    return name


def _copy_tree(src: Path, dest: Path) -> None:
    """Copy a submission folder's regular files and folders (links and devices left out)."""
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part in LITTER_NAMES for part in rel.parts):
            continue
        st = path.lstat()
        if stat.S_ISDIR(st.st_mode):
            (dest / rel).mkdir(parents=True, exist_ok=True)
        elif stat.S_ISREG(st.st_mode):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / rel)


def _unpack_archives(dest: Path) -> None:
    """Unpack the archives at the top of a student's folder, each into that folder."""
    for path in sorted(dest.iterdir()):
        if not path.is_file():
            continue
        if unreadable_archive(path.name):
            raise UnsafeArchive(f"{path.name}: a {unreadable_archive(path.name)} archive, which "
                                "the grader does not unpack (submit a .zip or .tar.gz)")
        if archive_kind(path.name):
            safe_extract(path, dest, max_members=MAX_MEMBERS, max_bytes=MAX_BYTES)
            path.unlink()


def _look_through_lone_folder(dest: Path) -> None:
    """A student who zipped their project folder: its contents become the submission."""
    entries = _visible(dest.iterdir())
    if len(entries) != 1 or not entries[0].is_dir():
        return
    inner = entries[0]
    rest = {p.name for p in dest.iterdir()} - {inner.name}
    if rest & {p.name for p in inner.iterdir()}:
        return                   # a name clash: leave the layout as the student made it
    tmp = dest.with_name(dest.name + ".inner")
    inner.rename(tmp)
    for child in list(tmp.iterdir()):
        child.rename(dest / child.name)
    tmp.rmdir()


# ---------------------------------------------------------------- archives

def archive_kind(name: str) -> str | None:
    low = name.lower()
    if low.endswith(".zip"):
        return "zip"
    if low.endswith((".tar", ".tar.gz", ".tgz")):
        return "tar"
    return None


def archive_stem(name: str) -> str:
    low = name.lower()
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip"):
        if low.endswith(suffix):
            return name[: -len(suffix)]
    return name


def unreadable_archive(name: str) -> str | None:
    low = name.lower()
    if archive_kind(name):
        return None
    for suffix in UNREADABLE_ARCHIVES:
        if low.endswith(suffix):
            return suffix
    return None


def _member_path(name: str, archive: str) -> PurePosixPath | None:
    """The member's path, checked: relative, no ``..``; None for litter (``__MACOSX/``)."""
    clean = name.replace("\\", "/")
    path = PurePosixPath(clean)
    if clean.startswith("/") or path.is_absolute() or re.match(r"^[A-Za-z]:", clean):
        raise UnsafeArchive(f"{archive}: holds an absolute path ({name}); not unpacked")
    if ".." in path.parts:
        raise UnsafeArchive(f"{archive}: holds a path out of its folder ({name}); not unpacked")
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts or any(p in LITTER_NAMES for p in parts):
        return None
    return PurePosixPath(*parts)


class _Budget:
    def __init__(self, archive: str, max_members: int, max_bytes: int) -> None:
        self.archive, self.max_members, self.max_bytes = archive, max_members, max_bytes
        self.members = 0
        self.bytes = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise UnsafeArchive(f"{self.archive}: more than {self.max_members} entries; not unpacked")

    def add(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.max_bytes:
            raise UnsafeArchive(f"{self.archive}: unpacks to more than "
                                f"{self.max_bytes // (1024 * 1024)} MiB; not unpacked")


def _copy_limited(src, dest: Path, budget: _Budget) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as f:
        while chunk := src.read(1 << 16):
            budget.add(len(chunk))
            f.write(chunk)


def safe_extract(archive: Path, dest: Path, *, max_members: int, max_bytes: int) -> None:
    """Unpack ``archive`` (zip or tar) into ``dest``, refusing anything unsafe.

    On refusal nothing of the archive is left in ``dest`` that was not there before
    (the caller throws the student's folder away anyway; an export is unpacked
    into a fresh folder)."""
    kind = archive_kind(archive.name)
    budget = _Budget(archive.name, max_members, max_bytes)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "zip":
            _extract_zip(archive, dest, budget)
        elif kind == "tar":
            _extract_tar(archive, dest, budget)
        else:
            raise UnsafeArchive(f"{archive.name}: not an archive the grader reads")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise UnsafeArchive(f"{archive.name}: a damaged archive ({e}); not unpacked") from None


def _extract_zip(archive: Path, dest: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as z:
        infos = z.infolist()
        plan = []
        for info in infos:                          # check everything before writing anything
            budget.member()
            rel = _member_path(info.filename, archive.name)
            if rel is None:
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchive(f"{archive.name}: holds a symbolic link ({info.filename}); "
                                    "not unpacked")
            if info.flag_bits & 0x1:
                raise UnsafeArchive(f"{archive.name}: is encrypted; not unpacked")
            plan.append((info, rel))
        if sum(i.file_size for i, _ in plan) > budget.max_bytes:
            raise UnsafeArchive(f"{archive.name}: unpacks to more than "
                                f"{budget.max_bytes // (1024 * 1024)} MiB; not unpacked")
        for info, rel in plan:
            target = dest.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            with z.open(info) as src:
                _copy_limited(src, target, budget)
            if (info.external_attr >> 16) & 0o111:
                target.chmod(0o755)


def _extract_tar(archive: Path, dest: Path, budget: _Budget) -> None:
    with tarfile.open(archive) as t:
        members = []
        for m in t:                                 # streams: checks as it reads the index
            budget.member()
            rel = _member_path(m.name, archive.name)
            if rel is None:
                continue
            if m.issym() or m.islnk():
                raise UnsafeArchive(f"{archive.name}: holds a link ({m.name}); not unpacked")
            if not (m.isfile() or m.isdir()):
                raise UnsafeArchive(f"{archive.name}: holds a device or other special file "
                                    f"({m.name}); not unpacked")
            members.append((m, rel))
        if sum(m.size for m, _ in members) > budget.max_bytes:
            raise UnsafeArchive(f"{archive.name}: unpacks to more than "
                                f"{budget.max_bytes // (1024 * 1024)} MiB; not unpacked")
        for m, rel in members:
            target = dest.joinpath(*rel.parts)
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            src = t.extractfile(m)
            if src is None:
                continue
            with src:
                _copy_limited(src, target, budget)
            if m.mode & 0o111:
                target.chmod(0o755)


# ---------------------------------------------------------------- for the gradebook

def not_gradable_result(spec, entry: NotGradable):
    """The gradebook's record of a student the intake could not take: every test not run."""
    from . import __version__
    from .results import SubmissionResult, SubmissionStatus, TestResult, TestStatus
    tests = [TestResult(name=t.name, number=t.number, description=t.description, points=0.0,
                        max_points=t.points, status=TestStatus.SKIPPED,
                        feedback=f"not run: {entry.message}", visibility=t.visibility)
             for t in spec.tests]
    return SubmissionResult(
        student=entry.student, submission=entry.source, assignment=spec.assignment,
        spec_hash=spec.hash, tier="none", status=SubmissionStatus.NOT_GRADABLE, score=0.0,
        max_score=spec.total_points, tests=tests, message=entry.message,
        grader_version=__version__)
