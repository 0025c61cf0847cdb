#!/usr/bin/env python3
"""Reference UDP pinger client (Kurose & Ross pinger lab): python3 udp_pinger_client.py HOST PORT

Sends 10 pings "Ping N TIME" (N from 1) to HOST:PORT over UDP, one after the
other; waits at most 1 s for each one's reply (a reply whose sequence number is
not N, such as a late reply to an earlier ping, is ignored and the wait goes
on); prints "Ping N: rtt = R ms" or "Ping N: Request timed out", then
"rtt min/avg/max = A/B/C ms" over the replies and "loss = L%".  Standard library only.
"""
import socket
import sys
import time

COUNT = 10
TIMEOUT = 1.0


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: udp_pinger_client.py HOST PORT", file=sys.stderr)
        return 2
    server = (sys.argv[1], int(sys.argv[2]))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtts = []
    for seq in range(1, COUNT + 1):
        sent = time.monotonic()
        s.sendto(f"Ping {seq} {time.time():.6f}".encode(), server)
        rtt = None
        while rtt is None:
            left = sent + TIMEOUT - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                break
            except OSError:
                continue          # an ICMP error: keep waiting out the second
            words = data.split()
            if len(words) >= 2 and words[1] == str(seq).encode():
                rtt = (time.monotonic() - sent) * 1000
        if rtt is None:
            print(f"Ping {seq}: Request timed out", flush=True)
        else:
            rtts.append(rtt)
            print(f"Ping {seq}: rtt = {rtt:.3f} ms", flush=True)
    if rtts:
        print(f"rtt min/avg/max = {min(rtts):.3f}/{sum(rtts) / len(rtts):.3f}/{max(rtts):.3f} ms")
    print(f"loss = {100 * (COUNT - len(rtts)) / COUNT:g}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
