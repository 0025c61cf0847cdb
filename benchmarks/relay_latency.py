"""The grader's network (grader/relay.py): a datagram's round trip through the relay,
with the grader idle and with the grader's interpreter busy.

Usage:  python benchmarks/relay_latency.py [--rounds N] [--write]

A sender and an echoing receiver run in one process of their own (as the
students' programs do); each datagram goes sender -> relay -> receiver ->
relay -> sender, 200 of them 5 ms apart.  Beside the relay, the grader's
process runs 0, 1 or 2 threads of pure Python (what the steps of the tests
beside this one do when they parse a trace or judge evidence), at the default
switch interval (5 ms).  A relay that shares the grader's interpreter waits for
it twice per round trip; reliable-udp senders retransmit after as little as
50 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import textwrap
import threading

from common import machine, median, pct, table, write_section

from grader.deadline import Deadline
from grader.relay import Impairments, Relay

ENDS = textwrap.dedent("""\
    import json, socket, sys, threading, time
    relay, receiver = int(sys.argv[1]), socket.socket(fileno=int(sys.argv[2]))
    rounds = int(sys.argv[3])
    def echo():
        while True:
            data, addr = receiver.recvfrom(100)
            if data == b"stop":
                return
            receiver.sendto(data, addr)
    threading.Thread(target=echo, daemon=True).start()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    took = []
    for i in range(rounds):
        t = time.monotonic()
        sender.sendto(b"DATA %d" % i, ("127.0.0.1", relay))
        sender.recv(100)
        took.append((time.monotonic() - t) * 1000)
        time.sleep(0.005)
    receiver.sendto(b"stop", receiver.getsockname())
    print(json.dumps(took))
""")


def burn(stop: threading.Event) -> None:
    """Pure-Python work, like matching a trace's lines."""
    line = re.compile(r"^(\d+)\s+(\w+)\((.*)$")
    lines = [f"{i} recvfrom(4, \"abc\", 4096, 0, NULL, NULL) = 3" for i in range(2000)]
    while not stop.is_set():
        for text in lines:
            m = line.match(text)
            if m:
                m.group(2).upper()


def round_trips(busy: int, rounds: int) -> list[float]:
    relay_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    relay_sock.bind(("127.0.0.1", 0))
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    relay = Relay(relay_sock, receiver.getsockname(), Impairments(), seed=1)
    relay.start(Deadline.after(10, "the relay to start"))
    stop = threading.Event()
    burners = [threading.Thread(target=burn, args=(stop,), daemon=True) for _ in range(busy)]
    for t in burners:
        t.start()
    try:
        out = subprocess.run([sys.executable, "-c", ENDS, str(relay_sock.getsockname()[1]),
                              str(receiver.fileno()), str(rounds)], pass_fds=(receiver.fileno(),),
                             capture_output=True, timeout=300, check=True).stdout
    finally:
        stop.set()
        for t in burners:
            t.join()
        relay.stop()
        relay_sock.close()
        receiver.close()
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--write", action="store_true", help="replace this section of RESULTS.md")
    args = ap.parse_args()
    rows = []
    for busy in (0, 1, 2):
        took = round_trips(busy, args.rounds)
        rows.append([busy, f"{median(took):.2f} ms", f"{pct(took, 95):.2f} ms", f"{max(took):.2f} ms",
                     sum(1 for t in took if t >= 50)])
    md = (machine() + "\n\n"
          f"Round trip sender -> relay -> receiver -> relay -> sender, {args.rounds} datagrams:\n\n"
          + table(["busy grader threads", "median", "p95", "max", "at least 50 ms"], rows))
    print(md)
    if args.write:
        write_section("relay-latency", md)


if __name__ == "__main__":
    main()
