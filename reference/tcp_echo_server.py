#!/usr/bin/env python3
"""Reference tcp-echo server: python3 tcp_echo_server.py PORT

Listens on PORT on all addresses and echoes every byte of each connection back
to it until the client closes; one thread per client.  Standard library only.
"""
import signal
import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass          # reset by the client: nothing to do but close


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: tcp_echo_server.py PORT", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind(("0.0.0.0", port))
    except OSError as e:
        print(f"tcp_echo_server: bind to port {port}: {e.strerror}", file=sys.stderr)
        return 1
    ls.listen(128)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
