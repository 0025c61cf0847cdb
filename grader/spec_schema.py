"""The JSON Schema of the spec format (socket-grader/1).

It is the single source of truth for what a spec may contain: the loader
validates against it, and ``grader schema`` prints it so that editors with a
YAML language server complete and check specs (see docs/specs.md).
"""

from __future__ import annotations

from typing import Any

NUM = {"type": "number", "exclusiveMinimum": 0}
NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_.{}*-]+$"}
ARGV = {"type": "array", "items": {"type": "string"}, "minItems": 1}


def obj(props: dict[str, Any], required: list[str] | None = None, **extra) -> dict[str, Any]:
    d: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        d["required"] = required
    d.update(extra)
    return d


# Bytes, written one of several ways.  A bare string is text.
PAYLOAD_FIELDS: dict[str, Any] = {
    "text": {"type": "string", "description": "UTF-8 text; YAML escapes such as \\n and \\0 work in double quotes"},
    "hex": {"type": "string", "pattern": r"^[0-9A-Fa-f\s]*$", "description": "bytes as hex digits"},
    "repeat": obj({"text": {"type": "string"}, "hex": {"type": "string"},
                   "count": {"type": "integer", "minimum": 1}}, ["count"],
                  description="a text or hex pattern repeated count times"),
    "random": obj({"size": {"type": "integer", "minimum": 0}, "seed": {"type": "integer"}},
                  ["size"], description="seeded random bytes (all 256 values)"),
}
PAYLOAD_FIELDS["file"] = {"type": "string", "description": "the content of one of the test's files"}
PAYLOAD_FIELDS["framed"] = {
    "type": "object", "description": "a big-endian length prefix of `prefix` bytes, then the payload",
    "properties": {"prefix": {"type": "integer", "minimum": 1, "maximum": 8},
                   **{k: v for k, v in PAYLOAD_FIELDS.items()}},
    "additionalProperties": False, "minProperties": 1, "maxProperties": 2}
PAYLOAD_FIELDS["parts"] = {"type": "array", "items": {"$ref": "#/$defs/payload"}, "minItems": 1,
                           "description": "payloads one after the other"}
PAYLOAD_KEYS = list(PAYLOAD_FIELDS)
PAYLOAD = {"$ref": "#/$defs/payload"}
PAYLOAD_DEF = {"oneOf": [{"type": "string"},
                         obj(PAYLOAD_FIELDS, minProperties=1, maxProperties=1)]}

SPLIT = obj({
    "size": {"type": "integer", "minimum": 1, "description": "bytes per write"},
    "random": {"type": "boolean", "description": "random slice sizes from 1 to size (seeded)"},
    "gap": {"type": "number", "minimum": 0, "description": "seconds between writes (TCP_NODELAY is on)"},
})

PROGRAM = {"enum": ["sender", "receiver"], "description": "pair role: which program"}
CONN = {"type": "string", "description": "a socket name given by connect/udp/accept"}
WITHIN = {"type": "number", "exclusiveMinimum": 0, "description": "seconds to wait at most"}

# Each step is a mapping with exactly one action key; ``hint`` is added to the
# feedback when that step fails.
ACTIONS: dict[str, Any] = {
    "connect": {"oneOf": [NAME, obj({"name": NAME, "family": {"enum": ["ipv4", "ipv6"]},
                                     "nodelay": {"type": "boolean"}, "within": WITHIN})]},
    "udp": {"oneOf": [NAME, obj({"name": NAME, "family": {"enum": ["ipv4", "ipv6"]}})]},
    "accept": {"oneOf": [NAME, obj({"name": NAME, "within": WITHIN})]},
    "send": {"oneOf": [{"type": "string"}, obj({
        "to": CONN, **PAYLOAD_FIELDS, "split": SPLIT,
        "each": {"type": "array", "items": PAYLOAD, "minItems": 1,
                 "description": "several messages, each its own write (TCP) or datagram (UDP)"},
        "together": {"type": "array", "items": PAYLOAD, "minItems": 1,
                     "description": "several messages coalesced into one write"},
        "delay": {"type": "number", "exclusiveMinimum": 0, "maximum": 5,
                  "description": "send this many seconds later (replies keep flowing meanwhile)"},
        "within": WITHIN,
    })]},
    "expect": {"oneOf": [{"type": "string"}, obj({
        "from": CONN, **PAYLOAD_FIELDS,
        "echo": {"type": "boolean", "description": "exactly the bytes sent on this socket since the last expect"},
        "line": {"type": "string", "description": "one line, without its newline"},
        "regex": {"type": "string", "description": "one line matching this regular expression"},
        "length": {"type": "integer", "minimum": 1, "description": "this many bytes, any content"},
        "nothing": {"type": "number", "exclusiveMinimum": 0, "description": "no data at all for this many seconds"},
        "reference": {"const": True, "description": "whatever the reference replies to the same input"},
        "within": WITHIN,
    })]},
    "expect_eof": {"oneOf": [CONN, obj({"from": CONN, "within": WITHIN})]},
    "expect_open": {"oneOf": [CONN, obj({"name": CONN})],
                    "description": "a precondition: the program has not closed or reset this connection"},
    "shutdown": CONN,
    "echo_back": {"oneOf": [CONN, obj({"from": CONN, "within": WITHIN})],
                  "description": "the grader echoes everything it receives on a connection until its end of stream"},
    "close": {"oneOf": [CONN, obj({"name": CONN, "reset": {"type": "boolean"}})]},
    "launch": obj({"hold_port": {"enum": ["tcp", "udp"]}}),
    "expect_listening": obj({"address": {"enum": ["any", "loopback"]}, "within": WITHIN}),
    "expect_running": obj({"within": WITHIN}),
    "expect_exit": obj({"program": PROGRAM,
                        "status": {"oneOf": [{"type": "integer"},
                                             {"type": "array", "items": {"type": "integer"}},
                                             {"enum": ["zero", "nonzero"]}]},
                        "stderr": {"enum": ["nonempty", "any"]},
                        "within": WITHIN}),
    "signal": {"enum": ["SIGTERM", "SIGINT", "SIGHUP", "SIGKILL", "SIGUSR1"]},
    "suspend": obj({}, description="stop every process of the program (SIGSTOP) until resume"),
    "resume": obj({}, description="let the program run again (SIGCONT)"),
    "restart": obj({"signal": {"enum": ["SIGTERM", "SIGINT", "SIGKILL"]}, "within": WITHIN}),
    "expect_stdout": obj({**PAYLOAD_FIELDS, "program": PROGRAM,
                          "stdin": {"type": "boolean", "description": "the program's standard input, byte for byte"},
                          "contains": {"type": "string"}, "within": WITHIN}),
    "expect_stderr": obj({"program": PROGRAM, "nonempty": {"type": "boolean"},
                          "contains": {"type": "string"}}),
    "baseline": obj({}, description="record the program's open fds now, for expect_resources"),
    "expect_resources": obj({"fd_growth": {"type": "integer", "minimum": 0},
                             "zombies": {"type": "integer", "minimum": 0},
                             "within": WITHIN}),
    "run_client": obj({"args": {"type": "array", "items": {"type": "string"}},
                       "stdin": PAYLOAD, "expect_stdout": PAYLOAD,
                       "status": {"type": "integer"}, "within": WITHIN},
                      description="interop: run the spec's reference client against the program"),
    "repeat": obj({"times": {"type": "integer", "minimum": 1, "maximum": 10000},
                   "steps": {"$ref": "#/$defs/steps"}}, ["times", "steps"]),
}
# The textbook labs' steps (HTTP, origin servers, SMTP, UDP pinger): grader/protocols/.
from .protocols import step_schemas  # noqa: E402  (they use the helpers above)

ACTIONS.update(step_schemas())
ACTION_KEYS = list(ACTIONS)
STEP_EXTRAS = {"hint", "cause"}

STEP = {
    "type": "object",
    "properties": {**ACTIONS,
                   "hint": {"type": "string", "description": "shown to the student when this step fails"},
                   "cause": {"type": "string", "pattern": r"^[a-z0-9-]+$",
                             "description": "a short code for the hint's cause, counted in class reports"}},
    "additionalProperties": False,
    "oneOf": [{"required": [k]} for k in ACTION_KEYS],
}

LANGUAGE = obj({
    "files": {"type": "array", "items": {"type": "string"}, "minItems": 1,
              "description": "the submission is in this language when all these files exist"},
    "build": {"type": "array", "items": ARGV, "description": "commands run in order in the work dir"},
    "build_with_makefile": {"type": "array", "items": ARGV,
                            "description": "used instead of build when the submission has a Makefile"},
    "run": ARGV,
    "run_sender": {**ARGV, "description": "pair role: the sender ({host} {port} are the grader's relay); run is the receiver"},
    "libc": {"type": "boolean",
             "description": "false when the program makes system calls without libc (Go): "
                            "LD_PRELOAD shims cannot act on it, so tests with shims are not applicable"},
}, ["files", "run"])

LIMITS = obj({
    "ready": NUM, "test": NUM, "total": NUM, "step": NUM, "build": NUM,
    "cpu_seconds": {"type": "integer", "minimum": 1},
    "memory_mb": {"type": "integer", "minimum": 16},
    "processes": {"type": "integer", "minimum": 1},
    "open_files": {"type": "integer", "minimum": 16},
    "file_size_mb": {"type": "integer", "minimum": 1},
    "output_kb": {"type": "integer", "minimum": 1},
})

TEST = obj({
    "name": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]*$"},
    "description": {"type": "string"},
    "points": {"type": "number", "minimum": 0},
    "visibility": {"enum": ["visible", "hidden", "after_due_date"]},
    "timeout": NUM,
    "start": {"type": "boolean", "description": "start the program before the steps (default true)"},
    "peer": {"enum": ["listen", "none", "reference"],
             "description": "client role: the grader listens (default), nothing listens, or the reference server (interop)"},
    "stdin": PAYLOAD,
    "files": {"type": "object", "additionalProperties": PAYLOAD,
              "propertyNames": {"pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$"},
              "description": "files created in the program's work dir before it starts (name: payload)"},
    "shims": {"type": "array", "items": {"enum": ["partial-writes"]}},
    "network": obj({"drop": {"type": "number", "minimum": 0, "maximum": 0.9},
                    "duplicate": {"type": "number", "minimum": 0, "maximum": 0.9},
                    "delay": {"type": "number", "minimum": 0, "maximum": 2},
                    "lose_first_reply_to": {"type": "string", "pattern": r"^([0-9A-Fa-f]{2})+$",
                                            "description": "hex prefix: the first reply after such a datagram is lost"}},
                   description="pair role: what the grader's network does to each datagram (seeded)"),
    "steps": {"$ref": "#/$defs/steps"},
}, ["name", "points", "steps"])

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://socket-grader.invalid/spec.schema.json",
    "title": "socket-grader assignment spec",
    "$defs": {"steps": {"type": "array", "items": STEP, "minItems": 1}, "payload": PAYLOAD_DEF},
    **obj({
        "format": {"const": "socket-grader/1"},
        "assignment": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]*$"},
        "title": {"type": "string"},
        "role": {"enum": ["server", "client", "pair"],
                 "description": "pair: the student writes a sender and a receiver; the grader is the network between them"},
        "protocol": {"enum": ["tcp", "udp"]},
        "port": {"type": "integer", "minimum": 1024, "maximum": 65535},
        "listen": {"enum": ["any", "loopback"]},
        "lifetime": {"enum": ["per-test", "per-run"],
                     "description": "per-test (the only one supported): a fresh program and network for every test"},
        "seed": {"type": "integer"},
        "max_datagram": {"type": "integer", "minimum": 1, "maximum": 65507},
        "languages": {"type": "object", "additionalProperties": LANGUAGE, "minProperties": 1},
        "reference": obj({"run": ARGV, "run_sender": ARGV}, ["run"]),
        "interop": obj({"server": ARGV, "client": ARGV},
                       description="reference programs of the other role, for interop tests"),
        "limits": LIMITS,
        "not_gradable": {"type": "array", "items": {"enum": ["build_failed", "never_started"]}},
        "conversation": obj({
            "echo": {"type": "boolean",
                     "description": "the server sends back the bytes it receives (default false)"},
            "lines": {"enum": ["answered", "relayed"],
                      "description": "messages are lines: the server answers each whole line on "
                                     "its connection (answered: a command protocol), or passes it "
                                     "on to other clients (relayed: a chat)"},
            "ends": {"enum": ["client", "server"],
                     "description": "who ends a connection: client (the server reads until "
                                    "recv() returns 0; the default) or server (it closes after its reply)"},
        }, description="what a connection looks like, for the causes read from the program's calls"),
        "tests": {"type": "array", "items": TEST, "minItems": 1},
    }, ["assignment", "role", "protocol", "port", "languages", "reference", "tests"]),
}
