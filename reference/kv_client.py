#!/usr/bin/env python3
"""Reference kv-store client: python3 kv_client.py HOST PORT

Sends standard input (commands, one per line) to the server, half-closes
(shutdown for writing), writes every reply to standard output until the server
closes, exits 0.  A failed connect prints an error on stderr and exits 1.
Sending and receiving run at the same time, so a long pipelined input cannot
deadlock against the replies.
"""
import os
import socket
import sys
import threading


def pump_stdin(sock: socket.socket) -> None:
    try:
        while True:
            chunk = sys.stdin.buffer.read1(65536)
            if not chunk:
                break
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass                                        # the server is gone: main() sees it


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: kv_client.py HOST PORT", file=sys.stderr)
        return 2
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        sock = socket.create_connection((host, port), timeout=10)
    except OSError as e:
        print(f"kv_client: connect to {host} port {port}: {e.strerror or e}", file=sys.stderr)
        return 1
    sock.settimeout(None)
    threading.Thread(target=pump_stdin, args=(sock,), daemon=True).start()
    out = sys.stdout.buffer
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            out.write(data)
            out.flush()
    except OSError as e:
        print(f"kv_client: connection lost: {e.strerror or e}", file=sys.stderr)
        return 1
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The stdin thread may still be blocked reading: end here, without the
    # interpreter's shutdown (which aborts on a daemon thread holding stdin's lock).
    os._exit(code)
