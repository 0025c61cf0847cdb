#!/usr/bin/env python3
"""Reference tcp-echo client: python3 tcp_echo_client.py HOST PORT

Sends all of standard input to the server, half-closes, writes everything the
server sends back to standard output until the server closes, exits 0.
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
        pass


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: tcp_echo_client.py HOST PORT", file=sys.stderr)
        return 2
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        sock = socket.create_connection((host, port), timeout=10)
    except OSError as e:
        print(f"tcp_echo_client: connect to {host} port {port}: {e.strerror or e}", file=sys.stderr)
        return 1
    sock.settimeout(None)
    threading.Thread(target=pump_stdin, args=(sock,), daemon=True).start()
    out = sys.stdout.buffer
    status = 0
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            out.write(data)
    except OSError as e:
        print(f"tcp_echo_client: receiving from {host} port {port}: {e.strerror or e}",
              file=sys.stderr)
        status = 1
    out.flush()
    sock.close()
    return status


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The stdin thread may still be blocked reading: end here, without the
    # interpreter's shutdown (which aborts on a daemon thread holding stdin's lock).
    os._exit(code)
