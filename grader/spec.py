"""Loading and checking assignment specs (YAML), and the spec model the engine runs.

A spec is validated in three passes, and the first problem found is reported
as one :class:`~grader.errors.SpecError` naming the file and the line:

1. YAML syntax (and duplicate keys, which PyYAML would silently merge);
2. the JSON Schema in :mod:`grader.spec_schema` (unknown keys, wrong types,
   missing fields);
3. meaning: unique test names, sockets used only after they are opened, steps
   that fit the role, placeholders that exist.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import protocols
from .errors import SpecError
from .resources import reference_dir as grader_reference_dir
from .resources import resolve_spec, shipped_specs
from .spec_schema import ACTION_KEYS, PAYLOAD_KEYS, SCHEMA, STEP_EXTRAS

PLACEHOLDERS = {"port", "host", "reference", "python"}

DEFAULT_LIMITS = {
    "ready": 3.0, "test": 10.0, "total": 180.0, "step": 2.0, "build": 60.0,
    "cpu_seconds": 30, "memory_mb": 512, "processes": 64, "open_files": 1024,
    "file_size_mb": 64, "output_kb": 8192,
}

SERVER_ONLY = {"connect", "udp", "launch", "expect_listening", "restart", "baseline", "run_client",
               "expect_resources", "expect_running", "suspend", "resume"}
CLIENT_ONLY = {"accept", "expect_stdout"}
PAIR_STEPS = {"expect_exit", "expect_stdout", "expect_stderr", "signal"}
SERVER_ONLY |= protocols.SERVER_ONLY
CLIENT_ONLY |= protocols.CLIENT_ONLY


@dataclass(frozen=True)
class Step:
    action: str
    args: Any                 # the action's value: a scalar shorthand or a mapping
    hint: str | None          # shown to the student when this step fails
    line: int | None          # line in the spec file, for error messages
    cause: str | None = None  # short code recorded with the hint (for class reports)


@dataclass(frozen=True)
class Language:
    name: str
    files: tuple[str, ...]
    build: tuple[tuple[str, ...], ...]
    build_with_makefile: tuple[tuple[str, ...], ...] | None
    run: tuple[str, ...]
    run_sender: tuple[str, ...] | None = None     # pair role: the second program
    libc: bool = True         # false: system calls bypass libc (Go), so LD_PRELOAD shims cannot act


@dataclass(frozen=True)
class Conversation:
    """What a connection of the assignment's protocol looks like, for the evidence rules
    that read the program's calls: whether the server sends back the bytes it receives
    (an echo: its sends can be compared with its receives), whether its messages are lines
    that it answers one by one (``lines: answered``, a command protocol) or passes on to
    other clients (``lines: relayed``, a chat), and who ends a connection
    (``client``: the server reads until recv() returns 0; ``server``: it closes after its
    reply, as a file server does)."""

    echo: bool = False
    ends: str = "client"
    # Messages are lines: "answered" one by one on their connection (a command protocol),
    # or "relayed" to other connections (a chat); None: not a line protocol.
    lines: str | None = None


@dataclass(frozen=True)
class TestSpec:
    __test__ = False   # not a pytest test class
    name: str
    number: str
    description: str
    points: float
    visibility: str
    timeout: float
    start: bool
    peer: str
    stdin: Any
    files: dict[str, Any]
    network: dict[str, float]
    shims: tuple[str, ...]
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Spec:
    path: Path
    assignment: str
    title: str
    role: str
    protocol: str
    port: int
    listen: str
    lifetime: str
    seed: int
    max_datagram: int
    languages: dict[str, Language]
    reference_run: tuple[str, ...]
    reference_sender: tuple[str, ...] | None
    interop: dict[str, tuple[str, ...]]
    limits: dict[str, float]
    not_gradable: tuple[str, ...]
    tests: tuple[TestSpec, ...]
    hash: str
    raw: dict[str, Any] = field(repr=False, compare=False)
    conversation: Conversation = Conversation()

    @property
    def reference_dir(self) -> Path:
        """reference/ beside the spec's folder (specs/x.yaml -> reference/), else the grader's
        own (:func:`grader.resources.reference_dir`: in the package when installed)."""
        beside = self.path.resolve().parent.parent / "reference"
        return beside if beside.is_dir() else grader_reference_dir()

    @property
    def total_points(self) -> float:
        return sum(t.points for t in self.tests)

    def test(self, name: str) -> TestSpec:
        for t in self.tests:
            if t.name == name:
                return t
        raise KeyError(name)


# ---------------------------------------------------------------- YAML + lines

class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise SpecError(loader.name, f"duplicate key {key!r} (first at line {seen[key]})",
                            line=key_node.start_mark.line + 1)
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(root: yaml.Node | None, path: list[Any]) -> int | None:
    """The line of the node at ``path`` (keys and indexes), or of its nearest parent."""
    node = root
    line = node.start_mark.line + 1 if node else None
    for part in path:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == part:
                    nxt = v if not isinstance(v, yaml.ScalarNode) else v
                    line = k.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return line


def _dotted(path: list[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _schema_message(err: jsonschema.ValidationError) -> tuple[list[Any], str]:
    path = list(err.absolute_path)
    where = _dotted(path)
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(err.schema.get("properties", {}))
        return path + extra[:1], f"{where}: unknown key {', '.join(map(repr, extra))} (allowed: {allowed})"
    if err.validator == "required":
        return path, f"{where}: {err.message}"
    if err.validator == "oneOf" and isinstance(err.instance, dict) and \
            (set(err.instance) & set(ACTION_KEYS)) | STEP_EXTRAS >= set(err.instance):
        actions = [k for k in err.instance if k in ACTION_KEYS]
        if len(actions) != 1:
            return path, (f"{where}: a step needs exactly one action, found "
                          f"{', '.join(actions) or 'none'} (actions: {', '.join(ACTION_KEYS)})")
    if err.context:
        # oneOf/anyOf: explain the branch that got furthest, not the type mismatch
        # of a branch that was never meant (a mapping is not "a string").
        best = max(err.context, key=lambda e: (len(list(e.absolute_path)), e.validator != "type",
                                               e.validator != "oneOf"))
        return _schema_message(best)
    return path, f"{where}: {err.message}"


# ---------------------------------------------------------------- loading

def load_spec(path: str | Path) -> Spec:
    """Load and check a spec: a file, or a shipped spec by its bare name (``tcp-echo``)."""
    path = resolve_spec(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        names = ", ".join(sorted(shipped_specs()))
        raise SpecError(str(path), "no such spec file",
                        hint=f"or name a shipped spec: {names}" if names else None) from None
    except IsADirectoryError:
        raise SpecError(str(path), "is a folder, not a spec file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(str(path), f"cannot read: {e}") from None
    return parse_spec(text, path)


def parse_spec(text: str, path: Path) -> Spec:
    name = str(path)
    try:
        loader = _Loader(text)
        loader.name = name
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise SpecError(name, f"not valid YAML: {e.problem or e.context}",
                        line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise SpecError(name, f"not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise SpecError(name, "a spec must be a YAML mapping (assignment:, role:, tests: ...)")

    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: (_line_of(root, list(e.absolute_path)) or 0))
    if errors:
        where, msg = _schema_message(errors[0])
        raise SpecError(name, msg, line=_line_of(root, where))

    return _build(data, root, path, text)


def _step_list(raw_steps: list, root, base_path: list, fail) -> tuple[Step, ...]:
    steps = []
    for i, raw in enumerate(raw_steps):
        action = next(k for k in raw if k not in STEP_EXTRAS)
        args = raw[action]
        if action == "repeat":
            args = {"times": args["times"],
                    "steps": _step_list(args["steps"], root, base_path + [i, "repeat", "steps"], fail)}
        steps.append(Step(action, args, raw.get("hint"), _line_of(root, base_path + [i]),
                          raw.get("cause")))
    return tuple(steps)


def _seed_from(assignment: str) -> int:
    return int.from_bytes(hashlib.sha256(assignment.encode()).digest()[:4], "big")


def _build(data: dict, root, path: Path, text: str) -> Spec:
    name = str(path)

    def fail(msg: str, where: list) -> SpecError:
        return SpecError(name, msg, line=_line_of(root, where))

    if data.get("lifetime") == "per-run":
        raise fail("lifetime: per-run is not supported since 0.2: every test starts the program "
                   "afresh in a network of its own, so no test's verdict depends on another's "
                   "(remove the line)", ["lifetime"])
    languages = {}
    for lang, ld in data["languages"].items():
        for cmd in [ld["run"], ld.get("run_sender", []), *ld.get("build", []), *ld.get("build_with_makefile", [])]:
            for part in cmd:
                for ph in re.findall(r"{(\w*)}", part):
                    if ph not in PLACEHOLDERS:
                        raise fail(f"languages.{lang}: unknown placeholder {{{ph}}} "
                                   f"(known: {', '.join('{%s}' % p for p in sorted(PLACEHOLDERS))})",
                                   ["languages", lang])
        languages[lang] = Language(
            lang, tuple(ld["files"]), tuple(tuple(c) for c in ld.get("build", [])),
            tuple(tuple(c) for c in ld["build_with_makefile"]) if "build_with_makefile" in ld else None,
            tuple(ld["run"]), tuple(ld["run_sender"]) if "run_sender" in ld else None,
            libc=ld.get("libc", True))
        if data["role"] == "pair" and "run_sender" not in ld:
            raise fail(f"languages.{lang}: a pair spec needs run_sender (run is the receiver)",
                       ["languages", lang])

    limits = {**DEFAULT_LIMITS, **data.get("limits", {})}
    role = data["role"]
    tests = []
    seen_names: set[str] = set()
    for i, td in enumerate(data["tests"]):
        where = ["tests", i]
        if td["name"] in seen_names:
            raise fail(f"tests[{i}]: test name {td['name']!r} is used twice", where + ["name"])
        seen_names.add(td["name"])
        steps = _step_list(td["steps"], root, where + ["steps"], fail)
        if td.get("peer") == "reference" and "server" not in data.get("interop", {}):
            raise fail(f"test {td['name']!r}: peer: reference needs interop.server in the spec",
                       where + ["peer"])
        if _uses(steps, "run_client") and "client" not in data.get("interop", {}):
            raise fail(f"test {td['name']!r}: run_client needs interop.client in the spec", where)
        _check_steps(steps, role, data["protocol"], td, lambda m, s: SpecError(name, f"test {td['name']!r}: {m}", line=s.line))
        tests.append(TestSpec(
            name=td["name"], number=str(i + 1), description=td.get("description", "").strip(),
            points=float(td["points"]), visibility=td.get("visibility", "visible"),
            timeout=float(td.get("timeout", limits["test"])), start=td.get("start", True),
            peer=td.get("peer", "listen"), stdin=td.get("stdin"), files=dict(td.get("files", {})),
            network=dict(td.get("network", {})),
            shims=tuple(td.get("shims", [])), steps=steps))

    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return Spec(
        path=path, assignment=data["assignment"], title=data.get("title", data["assignment"]),
        role=role, protocol=data["protocol"], port=data["port"],
        listen=data.get("listen", "any"), lifetime=data.get("lifetime", "per-test"),
        seed=data.get("seed", _seed_from(data["assignment"])),
        max_datagram=data.get("max_datagram", 65507),
        languages=languages, reference_run=tuple(data["reference"]["run"]), limits=limits,
        reference_sender=tuple(data["reference"]["run_sender"]) if "run_sender" in data["reference"] else None,
        interop={k: tuple(v) for k, v in data.get("interop", {}).items()},
        not_gradable=tuple(data.get("not_gradable", [])),
        conversation=Conversation(**data.get("conversation", {})),
        tests=tuple(tests), hash=hashlib.sha256(canonical.encode()).hexdigest()[:12], raw=data)


def _uses(steps, action: str) -> bool:
    return any(s.action == action or (s.action == "repeat" and _uses(s.args["steps"], action))
               for s in steps)


def _check_steps(steps, role: str, protocol: str, td: dict, err, opened: set[str] | None = None) -> set[str]:
    """Sockets must be opened before use; steps must fit the role."""
    opened = set() if opened is None else opened
    for step in steps:
        a, args = step.action, step.args
        if role == "client" and a in SERVER_ONLY:
            raise err(f"step {a!r} is for server specs (this spec's role is client)", step)
        if role == "pair" and a not in PAIR_STEPS:
            raise err(f"step {a!r} is not for pair specs (steps: {', '.join(sorted(PAIR_STEPS))})", step)
        if role == "server" and a in CLIENT_ONLY:
            raise err(f"step {a!r} is for client specs (this spec's role is server)", step)
        if a in ("connect", "udp", "accept"):
            opened.add(args if isinstance(args, str) else args["name"])
        elif a == "repeat":
            inner = _check_steps(args["steps"], role, protocol, td, err, set(opened))
            # Names opened inside stay open after it, one per round ("c{i}" -> c0, c1, ...).
            for name in inner - opened:
                opened.update(name.replace("{i}", str(i)) for i in range(args["times"]))
        elif a in ("send", "expect", "expect_eof", "expect_open", "shutdown", "close", "echo_back"):
            target = None
            if isinstance(args, str):
                target = args if a in ("expect_eof", "expect_open", "shutdown", "close", "echo_back") else None
            else:
                target = args.get("to") or args.get("from") or args.get("name") 
            if target and target != "*" and "{" not in target and target not in opened:
                raise err(f"step {a!r} uses socket {target!r} before any connect/udp/accept opens it", step)
            if isinstance(args, dict) and a == "send" and sum(k in args for k in PAYLOAD_KEYS + ["each", "together"]) != 1:
                raise err("send needs exactly one of text, hex, repeat, random, each, together", step)
    return opened
