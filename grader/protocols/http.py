"""HTTP steps: the grader as a browser (send a request, check the response).

``http_request`` sends one request (any payload form, optionally in slices),
watching whether the program answers before the request is complete: the
classic "one recv() is one request" bug of the web-server lab.
``expect_http`` parses the response (status line, header fields, a body of
Content-Length bytes) and checks the status, fields, body and what the
connection does next.  ``{o1}`` in a request stands for the address
``127.0.0.1:PORT`` of the grader's origin server ``o1`` (see :mod:`.origin`).
"""

from __future__ import annotations

import re
from typing import Any

from .. import diagnose
from ..payload import PAYLOAD_KEYS, show
from ..spec_schema import CONN, PAYLOAD, PAYLOAD_FIELDS, SPLIT, WITHIN, obj
from .common import (HEAD_END, core, fail, head_not_ended, header, program_gone, split_head,
                     state, tcp, wait_head)

STATUS = {"oneOf": [{"type": "integer", "minimum": 100, "maximum": 599},
                    {"type": "string", "pattern": "^[1-5]xx$"}]}
NO_BODY = {204, 304}


def origin_address(ctx, name: str) -> str | None:
    port = state(ctx, "origin").get("ports", {}).get(name)
    return f"127.0.0.1:{port}" if port else None


def with_origins(ctx, value: Any) -> Any:
    """``{o1}`` in the texts of a payload -> the address of origin o1."""
    if isinstance(value, str):
        return re.sub(r"{([A-Za-z0-9_-]+)}",
                      lambda m: origin_address(ctx, m.group(1)) or m.group(0), value)
    if isinstance(value, dict):
        return {k: with_origins(ctx, v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_origins(ctx, v) for v in value]
    return value


def request_bytes(ctx, args: dict) -> bytes:
    key = next(k for k in PAYLOAD_KEYS if k in args)
    return core()._make(ctx, with_origins(ctx, {key: args[key]}))


# ------------------------------------------------------------------ http_request

def _request_state(ctx, sock) -> dict:
    """The request being sent on ``sock``: bytes sent, slices, and whether an answer came
    before its end (reset by the expect_http that reads its response)."""
    reqs = state(ctx, "http").setdefault("requests", {})
    if sock.name not in reqs:
        reqs[sock.name] = {"sent": 0, "length": 0, "slices": 0, "early": None,
                           "base": sock.received_total, "eof": sock.eof}
    return reqs[sock.name]


def _answered(sock, req: dict) -> bool:
    return sock.received_total > req["base"] or (sock.eof and not req["eof"])


def do_http_request(ctx, step) -> None:
    args = step.args
    sock = tcp(ctx, args.get("to"), "http_request")
    data = request_bytes(ctx, args)
    req = _request_state(ctx, sock)
    if args.get("delay"):
        # Stimulus timing: the rest of a request comes this much later.
        ctx.net.idle(ctx.deadline.sooner(args["delay"]))
    d = ctx.step_deadline(args, "sending the request")
    split = args.get("split") or {}
    size, gap = split.get("size") or max(1, len(data)), split.get("gap", 0.003)
    if split.get("random"):
        ctx.used_randomness = True
    req["length"] += len(data)
    req["slices"] += -(-len(data) // size) if not split.get("random") else 2
    i = 0
    while i < len(data):
        n = ctx.rng.randint(1, size) if split.get("random") else size
        if req["early"] is None and _answered(sock, req):
            req["early"] = req["sent"]
        sock.queue(data[i:i + n], message=False)
        i += n
        req["sent"] += len(data[i - n:i])
        ctx.net.pump(d, lambda: not sock.outq or sock.write_error is not None or sock.closed)
        if sock.write_error or sock.eof:
            break           # the program hung up: expect_http says what that means
        if split and gap and i < len(data):
            ctx.net.idle(ctx.deadline.sooner(gap))
    if req["early"] is None and _answered(sock, req) and i < len(data):
        req["early"] = req["sent"]
    sock.history.append(data)


# ------------------------------------------------------------------ expect_http

def _status_ok(code: int, want: Any) -> bool:
    wants = want if isinstance(want, list) else [want]
    return any(code == w if isinstance(w, int) else str(code)[0] == w[0] for w in wants)


def _show_want(want: Any) -> str:
    wants = want if isinstance(want, list) else [want]
    return " or ".join(str(w) for w in wants)


def _early_cause(req: dict | None) -> list:
    if not req or req["early"] is None:
        return []
    pieces = f" was sent in {req['slices']} segments" if req["slices"] > 1 else " came in pieces"
    return [(f"the request{pieces} (as TCP may deliver it) and the server answered after the "
             f"first {req['early']} of its {req['length']} bytes: one recv() is not one request; keep "
             "reading until the empty line \"\\r\\n\\r\\n\" that ends the head",
             "http-one-recv")]


def do_expect_http(ctx, step) -> None:
    args = step.args
    sock = tcp(ctx, args.get("from"), "expect_http")
    d = ctx.step_deadline(args, "the response")
    req = state(ctx, "http").setdefault("requests", {}).pop(sock.name, None)
    early = _early_cause(req)
    if not wait_head(ctx, sock, d):
        if sock.eof and not sock.inbuf and state(ctx, "http").get("kept_open", {}).get(sock.name):
            raise _not_kept_alive(ctx, sock)
        err = head_not_ended(ctx, sock, d, "response")
        err.causes = early + err.causes
        raise err
    end = sock.inbuf.index(HEAD_END)
    head = bytes(sock.inbuf[:end])
    del sock.inbuf[:end + 4]
    status_line, fields = split_head(head)
    details = [f"status line: {show(status_line.encode('latin-1'))}"]
    m = re.fullmatch(r"HTTP/1\.[01] (\d{3})(?: (.*))?", status_line)
    if not m:
        raise fail(f"on {sock.name}: the response does not start with a status line such as "
                   "\"HTTP/1.1 200 OK\"", early + [
                       ("a response starts with \"HTTP/1.1 <code> <reason>\\r\\n\", then header "
                        "lines, then an empty line", "http-bad-status-line")], details)
    code = int(m.group(1))
    body = _read_body(ctx, sock, args, code, fields, d, details)
    want_status = args.get("status", 200)
    if not _status_ok(code, want_status):
        raise fail(f"on {sock.name}: expected status {_show_want(want_status)}, got "
                   f"{show(status_line.encode('latin-1'))}", early,
                   details + [f"body: {show(body[:60]) if body else '(none)'}"])
    if early and args.get("whole_request", True):
        raise fail(f"on {sock.name}: the response came before the whole request was sent",
                   early, details)
    for name, want in (args.get("headers") or {}).items():
        got = header(fields, name)
        if got is None or not got.lower().startswith(want.lower()):
            raise fail(f"on {sock.name}: expected the header field \"{name}: {want}\", got "
                       + (f"\"{name}: {got}\"" if got is not None else "none"),
                       [(f"send \"{name}: {want}\" in the response head", "http-header")], details)
    if "body" in args:
        _check_body(ctx, sock, args, fields, body, details)
    then = args.get("then")
    if then == "close":
        _expect_closed(ctx, sock, args, fields)
    elif then == "open":
        _expect_still_open(ctx, sock, fields)


def _read_body(ctx, sock, args: dict, code: int, fields, d, details: list[str]) -> bytes:
    length = header(fields, "Content-Length")
    if code in NO_BODY or 100 <= code < 200:
        return b""
    if length is None:
        if args.get("length") == "required" or (args.get("length") != "optional" and "body" in args):
            raise fail(f"on {sock.name}: the response has no Content-Length header field",
                       [("send \"Content-Length: <size of the body in bytes>\" so the client knows "
                         "where the body ends (a persistent connection cannot signal it by "
                         "closing)", "http-no-content-length")], details)
        # Without a length the body lasts until the server closes.
        ctx.net.pump(d, lambda: sock.eof, give_up=core()._evidence(ctx))
        if not sock.eof:
            open_for = "and cannot end any more" if ctx.stuck else f"for {d.describe()}"
            raise fail(f"on {sock.name}: a response without Content-Length must end with the "
                       f"connection, but it stayed open {open_for}",
                       [("send Content-Length, or close the connection after the body",
                         "http-no-content-length")], details + core()._stuck_detail(ctx))
        body = bytes(sock.inbuf)
        sock.inbuf.clear()
        return body
    if not length.isdigit():
        raise fail(f"on {sock.name}: Content-Length is not a number: {show(length.encode())}",
                   [("Content-Length is the body's size in bytes, in decimal", "http-bad-length")],
                   details)
    n = int(length)
    ctx.net.pump(d, lambda: len(sock.inbuf) >= n or sock.eof, give_up=core()._evidence(ctx))
    body = bytes(sock.inbuf[:n])
    del sock.inbuf[:n]
    if len(body) < n:
        causes = program_gone(ctx)
        want = args.get("body")
        if want is not None and len(core()._make(ctx, want)) == len(body):
            causes.append((f"Content-Length says {n} but the body has {len(body)} bytes",
                           "http-wrong-length"))
        raise fail(f"on {sock.name}: Content-Length announced {n} bytes, "
                   + ("the stream ended" if sock.eof else "no more can come" if ctx.stuck
                      else f"waited {d.describe()}")
                   + f" after {len(body)}", causes, details + core()._stuck_detail(ctx))
    return body


def _check_body(ctx, sock, args: dict, fields, body: bytes, details: list[str]) -> None:
    expected = core()._make(ctx, args["body"])
    if body == expected:
        return
    causes = [c for c in diagnose.compare_bytes(expected, body, eof=False) if c[1] != "mismatch"]
    length = header(fields, "Content-Length")
    if length is not None and int(length) != len(expected):
        causes.insert(0, (f"Content-Length says {length}, but the file has {len(expected)} bytes: "
                          "use the file's size (stat() or the count read), not strlen() of binary "
                          "data", "http-wrong-length"))
    raise fail(f"on {sock.name}: the body is not the file's content", causes,
               details + [f"expected body: {show(expected)}", f"got body:      {show(body)}"])


def _expect_closed(ctx, sock, args: dict, fields) -> None:
    d = ctx.deadline.sooner(args.get("within") or ctx.spec.limits["step"], "the close")
    ctx.net.pump(d, lambda: sock.eof or bool(sock.inbuf))
    if sock.inbuf:
        raise fail(f"on {sock.name}: more bytes came after the response's body: "
                   f"{show(bytes(sock.inbuf))}",
                   [("the body is exactly Content-Length bytes; nothing may follow it",
                     "http-extra-bytes")])
    if not sock.eof:
        conn = header(fields, "Connection") or ""
        raise fail(f"on {sock.name}: the server did not close the connection within "
                   f"{d.describe()} after the response",
                   program_gone(ctx) + [(
                       "the request asked to close (HTTP/1.0 without keep-alive, or "
                       "\"Connection: close\"): close the connection after the response"
                       + (" (it even said \"Connection: close\")" if conn.lower() == "close" else ""),
                       "http-no-close")])


def _expect_still_open(ctx, sock, fields) -> None:
    core().settle_open(ctx, sock)
    kept = state(ctx, "http").setdefault("kept_open", {})
    kept[sock.name] = kept.get(sock.name, 0) + 1       # responses after which it was to stay open
    if sock.eof:
        raise _not_kept_alive(ctx, sock)


def _not_kept_alive(ctx, sock) -> Exception:
    """The server closed a connection that should have stayed open for more requests,
    whether the grader saw the close right after the response or only when it waited for
    the next one (a close that came late): the same failure either way."""
    n = state(ctx, "http")["kept_open"][sock.name]
    return fail(f"on {sock.name}: the server closed the connection after "
                f"{'one response' if n == 1 else f'{n} responses'}",
                program_gone(ctx) + [(
                    "an HTTP/1.1 connection is persistent unless the request says "
                    "\"Connection: close\": keep reading requests on it until the client "
                    "closes", "http-no-keep-alive")])


STEPS = {
    "http_request": (obj({
        "to": CONN, **PAYLOAD_FIELDS, "split": SPLIT,
        "delay": {"type": "number", "exclusiveMinimum": 0, "maximum": 5,
                  "description": "send this many seconds later (replies keep flowing meanwhile)"},
        "within": WITHIN,
    }, description="send an HTTP request ({o1}: an origin's address), watching for an answer "
                   "that comes before the request is complete"), do_http_request),
    "expect_http": (obj({
        "from": CONN,
        "status": {"oneOf": [STATUS, {"type": "array", "items": STATUS, "minItems": 1}]},
        "headers": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "header fields whose values must start with these"},
        "body": PAYLOAD,
        "length": {"enum": ["required", "optional"],
                   "description": "Content-Length (default: required when a body is expected)"},
        "whole_request": {"type": "boolean",
                          "description": "fail an answer that came before the request was complete (default true)"},
        "then": {"enum": ["close", "open"], "description": "the server then closes, or keeps the connection"},
        "within": WITHIN,
    }, description="one HTTP response: status line, header fields, body"), do_expect_http),
}
