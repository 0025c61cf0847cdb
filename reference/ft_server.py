#!/usr/bin/env python3
"""Reference file-transfer server: python3 ft_server.py PORT

Serves files from its current working directory.  A client sends one line
"GET <name>\\n"; the answer is the file's size as an 8-byte big-endian unsigned
integer followed by exactly that many bytes, then the connection is closed.
When the name contains "/" or starts with ".", or the file does not exist or
is not a regular file, the answer is the 8 bytes FF FF FF FF FF FF FF FF and
nothing more.  One thread per client; the file goes out with sendfile().
Standard library only.
"""
import os
import signal
import socket
import stat
import struct
import sys
import threading

NOT_FOUND = b"\xff" * 8
MAX_REQUEST = 4096


def read_request(conn: socket.socket) -> bytes | None:
    """The bytes of the request line without its "\\n", or None if it never came whole."""
    buf = b""
    while b"\n" not in buf:
        if len(buf) > MAX_REQUEST:
            return b""                              # nonsense: answered as not found
        data = conn.recv(4096)
        if not data:
            return None
        buf += data
    return buf.split(b"\n", 1)[0]


def open_file(request: bytes) -> int | None:
    """An fd of the regular file the request names, or None."""
    if not request.startswith(b"GET "):
        return None
    name = request[4:]
    if not name or b"/" in name or name.startswith(b".") or b"\0" in name:
        return None
    try:
        # O_NONBLOCK: opening a FIFO must not hang; it has no effect on regular files.
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            request = read_request(conn)
            if request is None:
                return
            fd = open_file(request)
            if fd is None:
                conn.sendall(NOT_FOUND)
            else:
                with open(fd, "rb") as f:
                    size = os.fstat(fd).st_size
                    conn.sendall(struct.pack("!Q", size))
                    if size:
                        conn.sendfile(f, 0, size)
            # Close gently: say we are done, then wait (briefly) for the client to
            # close, so that stray bytes it sent cannot turn our close into a reset
            # that destroys the end of the file before it reads it.
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(2)
            while conn.recv(4096):
                pass
        except OSError:
            pass                                    # reset or timeout: nothing to do but close


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: ft_server.py PORT", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind(("0.0.0.0", port))
    except OSError as e:
        print(f"ft_server: bind to port {port}: {e.strerror}", file=sys.stderr)
        return 1
    ls.listen(128)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
