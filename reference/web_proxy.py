#!/usr/bin/env python3
"""Reference caching web proxy (CMU proxylab, Kurose & Ross proxy lab):
python3 web_proxy.py PORT

One thread per browser connection.  Reads the request head up to "\r\n\r\n",
accepts "GET http://host[:port]/path HTTP/1.x", connects to host:port and sends
"GET /path HTTP/1.0" with a Host field (the browser's, else host:port), the
browser's other fields, and "Connection: close" / "Proxy-Connection: close";
relays the origin's reply byte for byte until the origin closes, then closes
the browser's connection.  Replies of at most 100 KiB (MAX_OBJECT_SIZE) are
cached by URI, in at most 1 MiB (MAX_CACHE_SIZE) in all, least recently used
first out; a cached URI is answered without the origin.  A malformed request
gets 400, another method 501, an unreachable origin 502.  Standard library only.
"""
import re
import signal
import socket
import sys
import threading
from collections import OrderedDict

MAX_OBJECT_SIZE = 102400
MAX_CACHE_SIZE = 1048576
URI = re.compile(rb"http://([^/:\s]+)(?::(\d+))?(/\S*)?", re.I)
HOP = {b"host", b"connection", b"proxy-connection", b"keep-alive"}


class Cache:
    def __init__(self) -> None:
        self.items: OrderedDict[bytes, bytes] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: bytes, value: bytes) -> None:
        with self.lock:
            if key in self.items:
                self.size -= len(self.items.pop(key))
            while self.size + len(value) > MAX_CACHE_SIZE and self.items:
                self.size -= len(self.items.popitem(last=False)[1])
            self.items[key] = value
            self.size += len(value)


CACHE = Cache()


def error(browser: socket.socket, code: int, reason: str) -> None:
    body = f"<html><body>{code} {reason}</body></html>\n".encode()
    browser.sendall(f"HTTP/1.0 {code} {reason}\r\nContent-Type: text/html\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)


def read_head(sock: socket.socket) -> bytes | None:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data or len(buf) > 65536:
            return None
        buf += data
    return buf.split(b"\r\n\r\n", 1)[0]


def serve(browser: socket.socket) -> None:
    with browser:
        try:
            head = read_head(browser)
            if head is None:
                return
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            m = URI.fullmatch(parts[1]) if len(parts) == 3 else None
            if not m or not parts[2].startswith(b"HTTP/1."):
                return error(browser, 400, "Bad Request")
            if parts[0] != b"GET":
                return error(browser, 501, "Not Implemented")
            uri = parts[1]
            cached = CACHE.get(uri)
            if cached is not None:
                browser.sendall(cached)
                return
            host, port, path = m.group(1), int(m.group(2) or 80), m.group(3) or b"/"
            fields = [b"GET " + path + b" HTTP/1.0"]
            given_host = None
            for line in lines[1:]:
                name = line.split(b":", 1)[0].strip().lower()
                if name == b"host":
                    given_host = line
                elif name not in HOP:
                    fields.append(line)
            fields.insert(1, given_host or b"Host: " + host + (b":%d" % port if m.group(2) else b""))
            fields += [b"Connection: close", b"Proxy-Connection: close"]
            try:
                origin = socket.create_connection((host.decode(), port), timeout=30)
            except OSError:
                return error(browser, 502, "Bad Gateway")
            with origin:
                origin.sendall(b"\r\n".join(fields) + b"\r\n\r\n")
                kept, size = [], 0
                while True:
                    data = origin.recv(65536)
                    if not data:
                        break
                    browser.sendall(data)
                    size += len(data)
                    if size <= MAX_OBJECT_SIZE:
                        kept.append(data)
            if 0 < size <= MAX_OBJECT_SIZE:
                CACHE.put(uri, b"".join(kept))
        except OSError:
            pass          # the browser or the origin left: only this request ends


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: web_proxy.py PORT", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind(("0.0.0.0", port))
    except OSError as e:
        print(f"web_proxy: bind to port {port}: {e.strerror}", file=sys.stderr)
        return 1
    ls.listen(128)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
