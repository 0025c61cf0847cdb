#!/usr/bin/env python3
"""Reference kv-store server: python3 kv_server.py PORT

A key-value store shared by all clients, one command per line ("\\n"; a
trailing "\\r" is stripped), one reply line per command, in order:

    SET <key> <value>  ->  OK
    GET <key>          ->  VALUE <value>   or  NOT_FOUND
    DEL <key>          ->  OK              or  NOT_FOUND
    anything else      ->  ERROR <message>

The key is the second space-separated word (1-250 bytes); the value is
everything after the single space that follows the key (up to 65536 bytes,
may contain spaces, may be empty).  Commands may be pipelined or split across
segments.  One thread per client; one lock around the store.  Standard library
only.
"""
import signal
import socket
import sys
import threading

MAX_KEY = 250
MAX_VALUE = 65536
MAX_LINE = 4 + MAX_KEY + 1 + MAX_VALUE + 1     # "SET " key " " value "\r"

store: dict[bytes, bytes] = {}
lock = threading.Lock()


def execute(line: bytes) -> bytes:
    if line.endswith(b"\r"):
        line = line[:-1]
    cmd, _, rest = line.partition(b" ")
    if cmd not in (b"SET", b"GET", b"DEL"):
        return b"ERROR unknown command\n"
    if cmd == b"SET":
        key, sp, value = rest.partition(b" ")
        if not sp:
            return b"ERROR usage: SET <key> <value>\n"
    else:
        key, value = rest, b""
        if b" " in key:
            return b"ERROR usage: " + cmd + b" <key>\n"
    if not key:
        return b"ERROR missing key\n"
    if len(key) > MAX_KEY:
        return b"ERROR key longer than 250 bytes\n"
    if len(value) > MAX_VALUE:
        return b"ERROR value longer than 65536 bytes\n"
    with lock:
        if cmd == b"SET":
            store[key] = value
            return b"OK\n"
        if cmd == b"GET":
            found = store.get(key)
            return b"NOT_FOUND\n" if found is None else b"VALUE " + found + b"\n"
        return b"OK\n" if store.pop(key, None) is not None else b"NOT_FOUND\n"


def serve(conn: socket.socket) -> None:
    with conn:
        buf = bytearray()
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break                           # an unterminated last line is ignored
                buf += data
                if b"\n" in data:
                    *lines, rest = bytes(buf).split(b"\n")
                    buf = bytearray(rest)
                    conn.sendall(b"".join(execute(line) for line in lines))
                if len(buf) > MAX_LINE:
                    conn.sendall(b"ERROR line too long\n")
                    break
        except OSError:
            pass                                    # reset by the client: nothing to do but close


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: kv_server.py PORT", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind(("0.0.0.0", port))
    except OSError as e:
        print(f"kv_server: bind to port {port}: {e.strerror}", file=sys.stderr)
        return 1
    ls.listen(128)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
