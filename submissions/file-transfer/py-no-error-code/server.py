"""File-transfer server: one thread per client, files from the current directory.

Request "GET <name>\\n"; answer: 8-byte big-endian length and the file's bytes,
or 8 bytes 0xFF when the name is not allowed or not a regular file.
"""
import os
import socket
import struct
import sys
import threading

NOT_FOUND = b"\xff" * 8


def read_line(conn):
    buf = b""
    while b"\n" not in buf:
        data = conn.recv(1024)
        if not data or len(buf) > 4096:
            return None
        buf += data
    return buf.split(b"\n", 1)[0]


def handle(conn):
    with conn:
        try:
            line = read_line(conn)
            if line is None:
                return
            if not line.startswith(b"GET "):
                conn.sendall(NOT_FOUND)
                return
            name = line[4:]
            if not name or b"/" in name or name.startswith(b".") or not os.path.isfile(name):
                return                    # nothing to send: just hang up
            try:
                f = open(name, "rb")
            except OSError:               # e.g. no permission to read it
                return
            with f:
                size = os.fstat(f.fileno()).st_size
                conn.sendall(struct.pack("!Q", size))
                while True:
                    chunk = f.read(65536)
                    if not chunk:
                        break
                    conn.sendall(chunk)
        except (OSError, ValueError):
            pass  # client reset, or a name Python cannot open (NUL byte)


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PORT")
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        srv.bind(("", int(sys.argv[1])))
    except OSError as e:
        sys.exit(f"bind: {e}")
    srv.listen()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
