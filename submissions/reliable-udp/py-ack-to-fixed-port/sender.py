"""Stop-and-wait sender: python3 sender.py HOST PORT < file"""
import socket
import struct
import sys
import time

CHUNK = 1000
TIMEOUT = 0.05
MAX_TRIES = 100


def send_reliably(sock, dest, packet, seq):
    """Send packet until ACK seq arrives. Returns False after MAX_TRIES sends."""
    for _ in range(MAX_TRIES):
        sock.sendto(packet, dest)
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break  # timeout: retransmit
            sock.settimeout(left)
            try:
                reply = sock.recv(64)
            except socket.timeout:
                break  # timeout: retransmit
            if len(reply) == 5 and reply[0:1] == b"A" and struct.unpack("!I", reply[1:5])[0] == seq:
                return True
            # an old duplicate ACK: ignore it and keep waiting
    return False


def main():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} HOST PORT")
    dest = (socket.gethostbyname(sys.argv[1]), int(sys.argv[2]))
    data = sys.stdin.buffer.read()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    seq = 0
    for start in range(0, len(data), CHUNK):
        packet = b"D" + struct.pack("!I", seq) + data[start:start + CHUNK]
        if not send_reliably(sock, dest, packet, seq):
            print(f"sender: no ACK for DATA {seq} after {MAX_TRIES} tries", file=sys.stderr)
            sys.exit(1)
        seq += 1

    fin = b"F" + struct.pack("!I", seq)  # seq is now the number of DATA packets
    if not send_reliably(sock, dest, fin, seq):
        print(f"sender: no ACK for FIN after {MAX_TRIES} tries", file=sys.stderr)
        sys.exit(1)
    sock.close()


if __name__ == "__main__":
    main()
