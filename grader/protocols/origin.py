"""The grader as the origin servers of a web proxy (proxylab, Kurose's proxy lab).

``origin: o1`` listens on a free 127.0.0.1 port of the test's own network;
``{o1}`` in a request (see :mod:`.http`) is its address ``127.0.0.1:PORT``.
``origin_serve`` waits for the proxy to connect to it, reads the request the
proxy forwards and checks it (origin-form ``GET /path``, a Host field naming
the origin, ``Connection: close``, the browser's other fields passed on), then
sends a scripted reply and closes, or holds the connection without a word (an
origin that never answers).  ``origin_close`` makes the origin go away, so a
later answer can only come from the proxy's cache.
"""

from __future__ import annotations

import re
import select
import socket

from ..conns import TcpConn
from ..deadline import poll_until
from ..payload import show
from ..spec_schema import NAME, PAYLOAD, WITHIN, obj
from .common import HEAD_END, core, fail, head_not_ended, header, program_gone, split_head, state, wait_head


def _origins(ctx) -> dict:
    return state(ctx, "origin")


def do_origin(ctx, step) -> None:
    name = step.args if isinstance(step.args, str) else step.args["name"]
    s = ctx.world.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    st = _origins(ctx)
    st.setdefault("ports", {})[name] = s.getsockname()[1]
    st.setdefault("listeners", {})[name] = s
    st.setdefault("served", {})[name] = 0


def _listener(ctx, name: str) -> socket.socket:
    ls = _origins(ctx).get("listeners", {}).get(name)
    if ls is None:
        raise fail(f"internal: no origin named {name!r} (add an origin step)")
    return ls


def do_origin_serve(ctx, step) -> None:
    args = step.args
    name = args["origin"]
    ls = _listener(ctx, name)
    st = _origins(ctx)
    d = ctx.step_deadline(args, "the proxy's request to the origin")
    port = st["ports"][name]

    def ready() -> bool:
        ctx.net.pump(ctx.deadline.sooner(0), lambda: False)     # the browser's bytes keep moving
        return bool(select.select([ls], [], [], 0)[0]) or ctx.program.exit_status() is not None

    give_up = core()._evidence(ctx)
    poll_until(lambda: ready() or (give_up is not None and give_up()), d)
    if not select.select([ls], [], [], 0)[0]:
        when = "and cannot any more" if ctx.stuck else f"within {d.describe()}"
        raise fail(f"the proxy did not connect to the origin server 127.0.0.1:{port} ({name}) "
                   f"{when}", program_gone(ctx) + [
                       ("connect to the host and port named in the request's URI "
                        f"(http://127.0.0.1:{port}/...) and forward the request there",
                        "proxy-no-forward")], core()._stuck_detail(ctx))
    s, _ = ls.accept()
    s.setblocking(False)
    st["served"][name] += 1
    conn = TcpConn(f"{name}#{st['served'][name]}", s)
    current = ctx.net.current
    ctx.net.add(conn)
    ctx.net.current = current
    if not wait_head(ctx, conn, d):
        raise head_not_ended(ctx, conn, d, "forwarded request")
    end = conn.inbuf.index(HEAD_END)
    head = bytes(conn.inbuf[:end])
    del conn.inbuf[:end + 4]
    _check_forwarded(args, head, port)
    if args.get("hold"):
        return                       # an origin that never answers
    conn.queue(core()._make(ctx, args["reply"]))
    # A proxy may hang up early (its browser left): that is not the origin's failure.
    ctx.net.pump(d, lambda: not conn.outq or conn.write_error is not None)
    conn.close()


def _check_forwarded(args: dict, head: bytes, port: int) -> None:
    line, fields = split_head(head)
    details = [f"the proxy sent the origin: {show(head + HEAD_END)}"]
    m = re.fullmatch(r"GET (\S+) HTTP/1\.[01]", line)
    if not m:
        causes = []
        if line.startswith("GET http"):
            causes.append(("the request line sent to the origin has the browser's absolute URI: "
                           "send the origin-form, only the path (\"GET /home.html HTTP/1.0\")",
                           "proxy-absolute-uri"))
        raise fail(f"the request line sent to the origin is {show(line.encode('latin-1'))}, "
                   f"expected \"GET {args['path']} HTTP/1.0\" (or HTTP/1.1)",
                   causes or [("forward \"GET <path> HTTP/1.0\\r\\n\"", "proxy-bad-request-line")],
                   details)
    if m.group(1) != args["path"]:
        raise fail(f"the proxy asked the origin for {show(m.group(1).encode('latin-1'))}, "
                   f"expected {args['path']}", [("the path is the part of the URI after "
                                                 "host:port", "proxy-wrong-path")], details)
    host = header(fields, "Host")
    if host != f"127.0.0.1:{port}":
        raise fail("the forwarded request has " + (f"\"Host: {host}\"" if host else "no Host field")
                   + f", expected \"Host: 127.0.0.1:{port}\"",
                   [("send a Host field naming the origin (host:port from the URI), also when "
                     "the browser sent none", "proxy-host")], details)
    if (header(fields, "Connection") or "").lower() != "close":
        raise fail("the forwarded request does not say \"Connection: close\"",
                   [("send \"Connection: close\" (the proxy reads the reply until the origin "
                     "closes), in place of the browser's Connection field", "proxy-connection-close")],
                   details)
    for fname, want in (args.get("headers") or {}).items():
        if header(fields, fname) != want:
            raise fail(f"the browser's \"{fname}: {want}\" was not passed on to the origin",
                       [("forward the browser's other header fields unchanged", "proxy-drops-headers")],
                       details)


def do_origin_close(ctx, step) -> None:
    name = step.args if isinstance(step.args, str) else step.args["name"]
    ls = _listener(ctx, name)
    ls.close()


STEPS = {
    "origin": ({"oneOf": [NAME, obj({"name": NAME})],
                "description": "a grader origin server on a free 127.0.0.1 port; {name} in requests is its host:port"},
               do_origin),
    "origin_serve": (obj({
        "origin": NAME,
        "path": {"type": "string", "pattern": "^/", "description": "the path the forwarded request must ask for"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "browser header fields the proxy must pass on"},
        "reply": PAYLOAD,
        "hold": {"type": "boolean", "description": "accept and read the request, never answer"},
        "within": WITHIN,
    }, ["origin", "path"], description="wait for the proxy's request at an origin, check it, reply and close"),
        do_origin_serve),
    "origin_close": ({"oneOf": [NAME, obj({"name": NAME})],
                      "description": "the origin goes away (its listener closes)"}, do_origin_close),
}
