"""Stop-and-wait receiver: python3 receiver.py PORT > file"""
import socket
import struct
import sys
import time

LINGER = 0.5  # keep answering repeated FINs this long after the last one


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PORT")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("", int(sys.argv[1])))
    out = sys.stdout.buffer

    expected = 0
    done_at = None  # when to exit, once the FIN has arrived
    while True:
        if done_at is not None:
            left = done_at - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
        try:
            packet, addr = sock.recvfrom(2048)
        except socket.timeout:
            break
        if len(packet) < 5:
            continue  # malformed
        kind = packet[0:1]
        seq = struct.unpack("!I", packet[1:5])[0]
        ack = b"A" + struct.pack("!I", seq)

        if kind == b"D" and len(packet) <= 1005:
            if seq > expected:
                continue  # not the one we wait for: drop it, no ACK
            if seq == expected:
                out.write(packet[5:])
                expected += 1
            sock.sendto(ack, addr)  # new or duplicate: ACK it (our ACK may have been lost)
        elif kind == b"F" and len(packet) == 5 and seq == expected:
            sock.sendto(ack, addr)
            done_at = time.monotonic() + LINGER

    out.flush()


if __name__ == "__main__":
    main()
