#!/usr/bin/env python3
"""Reference file-transfer client: python3 ft_client.py HOST PORT NAME

Sends "GET NAME\\n", reads the 8-byte big-endian length and then exactly that
many bytes, which it writes to standard output; exits 0.  When the answer is
the 8 bytes FF FF FF FF FF FF FF FF it prints "NAME: not found" on stderr and
exits 2.  A connection that ends before the whole file (or the whole length)
has come: an error on stderr, exit 1.  A failed connect: an error, exit 1.
"""
import os
import socket
import struct
import sys

NOT_FOUND = b"\xff" * 8


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            break
        buf += data
    return bytes(buf)


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: ft_client.py HOST PORT NAME", file=sys.stderr)
        return 2
    host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        sock = socket.create_connection((host, port), timeout=10)
    except OSError as e:
        print(f"ft_client: connect to {host} port {port}: {e.strerror or e}", file=sys.stderr)
        return 1
    sock.settimeout(None)
    out = sys.stdout.buffer
    with sock:
        try:
            sock.sendall(b"GET " + os.fsencode(name) + b"\n")
            header = recv_exactly(sock, 8)
            if len(header) < 8:
                print(f"ft_client: {name}: the server closed the connection before the length "
                      f"({len(header)} of 8 bytes)", file=sys.stderr)
                return 1
            if header == NOT_FOUND:
                print(f"{name}: not found", file=sys.stderr)
                return 2
            (size,) = struct.unpack("!Q", header)
            left = size
            while left:
                data = sock.recv(min(left, 1 << 20))
                if not data:
                    break
                out.write(data)
                left -= len(data)
            out.flush()
        except OSError as e:
            print(f"ft_client: {name}: {e.strerror or e}", file=sys.stderr)
            return 1
    if left:
        print(f"ft_client: {name}: transfer cut short: got {size - left} of {size} bytes",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
