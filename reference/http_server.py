#!/usr/bin/env python3
"""Reference web server (Kurose & Ross web server lab): python3 http_server.py PORT

Serves the files of its working directory over HTTP/1.0 and HTTP/1.1, one
thread per connection.  Reads each request head up to the empty line that ends
it (a request may come in many segments), answers GET with the file and its
Content-Length, 404 for a missing file, 400 for a malformed request, 501 for
another method, 403 for a path that would leave the served folder (also when
written with %2e%2e).  HTTP/1.1 connections stay open until the client closes
or asks "Connection: close"; HTTP/1.0 ones close after the response unless the
client asks "Connection: keep-alive".  Standard library only.
"""
import os
import re
import signal
import socket
import sys
import threading
from urllib.parse import unquote

ROOT = os.path.realpath(os.getcwd())
TYPES = {".html": "text/html", ".htm": "text/html", ".txt": "text/plain", ".css": "text/css",
         ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
REQUEST_LINE = re.compile(rb"([A-Z]+) (/\S*) HTTP/1\.([01])")
HEAD_LIMIT = 65536
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           501: "Not Implemented"}


def respond(conn: socket.socket, code: int, body: bytes, ctype: str, close: bool) -> None:
    head = (f"HTTP/1.1 {code} {REASONS[code]}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n" + ("Connection: close\r\n" if close else "")
            + "\r\n")
    conn.sendall(head.encode("ascii") + body)


def error(conn: socket.socket, code: int, close: bool) -> None:
    body = f"<html><body><h1>{code} {REASONS[code]}</h1></body></html>\n".encode()
    respond(conn, code, body, "text/html", close)


def handle(conn: socket.socket, head: bytes) -> bool:
    """Answer one request head; True when the connection stays open."""
    lines = head.split(b"\r\n")
    m = REQUEST_LINE.fullmatch(lines[0])
    fields = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            m = None
            break
        fields[name.strip().lower()] = value.strip().lower()
    if not m:
        error(conn, 400, close=True)
        return False
    method, target, minor = m.group(1), m.group(2), m.group(3)
    connection = fields.get(b"connection", b"")
    keep = connection != b"close" if minor == b"1" else connection == b"keep-alive"
    if method != b"GET":
        error(conn, 501, close=not keep)
        return keep
    path = unquote(target.split(b"?", 1)[0].decode("latin-1"))
    if path.endswith("/"):
        path += "index.html"
    full = os.path.realpath(os.path.join(ROOT, path.lstrip("/")))
    if os.path.commonpath([ROOT, full]) != ROOT:
        error(conn, 403, close=not keep)
        return keep
    try:
        with open(full, "rb") as f:
            body = f.read()
    except OSError:
        error(conn, 404, close=not keep)
        return keep
    ctype = TYPES.get(os.path.splitext(full)[1].lower(), "application/octet-stream")
    respond(conn, 200, body, ctype, close=not keep)
    return keep


def serve(conn: socket.socket) -> None:
    buf = b""
    with conn:
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                    if len(buf) > HEAD_LIMIT:
                        error(conn, 400, close=True)
                        return
                head, buf = buf.split(b"\r\n\r\n", 1)
                if not handle(conn, head):
                    return
        except OSError:
            pass          # the client left: only this connection ends


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: http_server.py PORT", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind(("0.0.0.0", port))
    except OSError as e:
        print(f"http_server: bind to port {port}: {e.strerror}", file=sys.stderr)
        return 1
    ls.listen(128)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
