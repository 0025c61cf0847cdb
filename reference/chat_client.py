#!/usr/bin/env python3
"""Reference chat client: python3 chat_client.py HOST PORT NAME

Connects, sends "NICK NAME\\n", then copies standard input to the server line by
line while printing everything the server sends.  At the end of standard input
it half-closes (shutdown for writing) and keeps printing until the server
closes, then exits 0.  A failed connect prints an error on stderr and exits 1.
"""
import os
import socket
import sys
import threading


def pump_stdin(sock: socket.socket) -> None:
    try:
        while True:
            line = sys.stdin.buffer.readline()      # one line (or the unterminated rest)
            if not line:
                break
            sock.sendall(line)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass                                        # the server is gone: main() sees it


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: chat_client.py HOST PORT NAME", file=sys.stderr)
        return 2
    host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        sock = socket.create_connection((host, port), timeout=10)
    except OSError as e:
        print(f"chat_client: connect to {host} port {port}: {e.strerror or e}", file=sys.stderr)
        return 1
    sock.settimeout(None)
    out = sys.stdout.buffer
    try:
        sock.sendall(b"NICK " + os.fsencode(name) + b"\n")
        threading.Thread(target=pump_stdin, args=(sock,), daemon=True).start()
        while True:
            data = sock.recv(65536)
            if not data:
                break
            out.write(data)
            out.flush()                             # a chat is read as it happens
    except OSError as e:
        print(f"chat_client: connection lost: {e.strerror or e}", file=sys.stderr)
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
