#!/usr/bin/env python3
"""Reference reliable-udp sender: python3 rudp_sender.py HOST PORT < FILE

Stop-and-wait over UDP.  Standard input is cut into DATA packets of at most
1000 bytes ('D', 4-byte big-endian sequence number 0, 1, 2, ..., payload);
each is sent and sent again every 50 ms until its ACK ('A', same number)
comes back, and only then is the next one sent.  ACKs of other numbers are
late duplicates and are ignored.  Then FIN ('F', number of DATA packets) is
sent the same way.  Exit 0 once FIN is acknowledged; exit 1 when one packet
got no acknowledgement after 100 tries.
"""
import socket
import struct
import sys
import time

PAYLOAD = 1000      # bytes of file per DATA packet
TIMEOUT = 0.05      # seconds to wait for an ACK before sending again
TRIES = 100         # sends of one packet before giving up


def packet(kind: bytes, seq: int, payload: bytes = b"") -> bytes:
    return kind + struct.pack("!I", seq) + payload


def deliver(sock: socket.socket, dest: tuple, pkt: bytes, seq: int) -> bool:
    """Send pkt until ACK seq comes back; False after TRIES sends without it."""
    want = packet(b"A", seq)
    for _ in range(TRIES):
        sock.sendto(pkt, dest)
        deadline = time.monotonic() + TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                reply = sock.recv(2048)
            except TimeoutError:
                break                      # no ACK in time: send again
            if reply == want:
                return True
            # anything else (an ACK of an earlier packet, garbage): keep waiting
    return False


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: rudp_sender.py HOST PORT < FILE", file=sys.stderr)
        return 2
    try:
        dest = (socket.gethostbyname(sys.argv[1]), int(sys.argv[2]))
    except (OSError, ValueError) as e:
        print(f"rudp_sender: {sys.argv[1]} {sys.argv[2]}: {e}", file=sys.stderr)
        return 1
    data = sys.stdin.buffer.read()
    chunks = [data[i:i + PAYLOAD] for i in range(0, len(data), PAYLOAD)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        packets = [packet(b"D", seq, chunk) for seq, chunk in enumerate(chunks)]
        packets.append(packet(b"F", len(chunks)))          # FIN: number of DATA packets
        for seq, pkt in enumerate(packets):
            if not deliver(sock, dest, pkt, seq):
                what = "FIN" if pkt[:1] == b"F" else "DATA"
                print(f"rudp_sender: {what} {seq} was not acknowledged after {TRIES} tries",
                      file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
