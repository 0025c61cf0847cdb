#!/usr/bin/env python3
"""Reference reliable-udp receiver: python3 rudp_receiver.py PORT > FILE

Receives one file sent stop-and-wait over UDP and writes it to standard
output.  `expected` is the next sequence number to write:

  DATA seq == expected   write the payload, expected += 1, ACK seq
  DATA seq <  expected   a duplicate or a retransmission: ACK seq again, write nothing
  DATA seq >  expected   drop, no ACK
  FIN  seq == expected   ACK it, then linger: ACK every repeated FIN until
                         500 ms have passed since the last one; then exit 0

Every ACK goes to the address the packet came from.  Malformed packets are
ignored.  Nothing but the file is written to standard output.
"""
import socket
import struct
import sys
import time

PAYLOAD = 1000      # most bytes of file in one DATA packet
LINGER = 0.5        # seconds to keep answering FIN after the last one


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: rudp_receiver.py PORT > FILE", file=sys.stderr)
        return 2
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("0.0.0.0", int(sys.argv[1])))
    except (OSError, ValueError) as e:
        print(f"rudp_receiver: bind to port {sys.argv[1]}: {e}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    expected = 0
    linger_until = None                 # set when FIN has come: the time to stop
    while True:
        if linger_until is not None:
            left = linger_until - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
        try:
            pkt, addr = sock.recvfrom(2048)
        except TimeoutError:
            break                       # no FIN for 500 ms: the sender has its ACK
        if len(pkt) < 5:
            continue
        kind, seq = pkt[:1], struct.unpack("!I", pkt[1:5])[0]
        ack = b"A" + pkt[1:5]
        if kind == b"D" and len(pkt) <= 5 + PAYLOAD:
            if seq > expected:
                continue                # from the future: drop, no ACK
            if seq == expected:
                out.write(pkt[5:])
                expected += 1
            sock.sendto(ack, addr)
        elif kind == b"F" and len(pkt) == 5 and seq == expected:
            sock.sendto(ack, addr)
            linger_until = time.monotonic() + LINGER
    out.flush()
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
