#!/usr/bin/env python3
"""Reference udp-echo server: python3 udp_echo_server.py PORT

Every datagram goes back whole, as one datagram, to the address that sent it.
"""
import signal
import socket
import sys


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: udp_echo_server.py PORT", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("0.0.0.0", port))
    except OSError as e:
        print(f"udp_echo_server: bind to port {port}: {e.strerror}", file=sys.stderr)
        return 1
    while True:
        data, addr = s.recvfrom(65536)
        s.sendto(data, addr)


if __name__ == "__main__":
    sys.exit(main())
