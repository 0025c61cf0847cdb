"""Readiness: from the program's listen() to the grader knowing it is ready.

Usage:  python benchmarks/readiness.py [--runs 100] [--tiers root,none] [--write]

A tiny C server prints ``clock_gettime(CLOCK_MONOTONIC)`` right after its
listen() returns (the box shares the host's monotonic clock: no time
namespace).  For every launch the grader's own code path is timed:
``Program.start()`` then ``Program.wait_ready()`` (grader/program.py), then one
connect() from a box socket.  Reported, as medians and 90th percentiles:

* ``listen -> ready``    wait_ready returned minus the server's timestamp:
                         the readiness latency (target under 5 ms);
* ``listen -> connect``  the first successful connection after ready;
* ``spawn -> listen``    the program's own start-up (exec, libc, socket calls):
                         a floor no readiness check can beat.

All launches of a tier share one box; the server is stopped between launches.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, median, ms, pct, table, write_section

from grader.box import Limits
from grader.deadline import Deadline, poll_until
from grader.program import Program, base_env
from grader.sandbox import open_box

SERVER_C = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int port = atoi(argv[1]), one = 1;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 16) < 0) { perror("listen"); return 1; }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("%lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
    fflush(stdout);
    for (;;) { int c = accept(s, 0, 0); if (c >= 0) close(c); }
}
"""


def build(workdir: Path) -> None:
    (workdir / "server.c").write_text(SERVER_C)
    subprocess.run(["cc", "-O2", "-o", str(workdir / "server"), str(workdir / "server.c")],
                   check=True, timeout=60)


def one_launch(box, workdir: Path, port: int) -> tuple[float, float, float]:
    prog = Program(box, ["./server", str(port)], cwd=workdir, env=base_env(), limits=Limits(),
                   port=port, protocol="tcp")
    t_spawn = time.monotonic()
    prog.start()
    try:
        r = prog.wait_ready(Deadline.after(3.0, "listening"))
        t_ready = time.monotonic()
        if not r.ok:
            raise RuntimeError(f"not ready: {r.state} {prog.proc.stderr.tail()}")
        s = box.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.connect(("127.0.0.1", port))
            t_conn = time.monotonic()
        finally:
            s.close()
        line = poll_until(lambda: prog.proc.stdout.data.strip(), Deadline.after(2.0, "timestamp"))
        t_listen = float(line.decode())
        return t_ready - t_listen, t_conn - t_listen, t_listen - t_spawn
    finally:
        prog.stop()


def measure(tier: str, runs: int) -> dict[str, list[float]]:
    root = Path(tempfile.mkdtemp(prefix="readiness-"))
    workdir = root / "work"
    workdir.mkdir()
    root.chmod(0o755)
    build(workdir)
    box = open_box(tier)
    out: dict[str, list[float]] = {"ready": [], "connect": [], "startup": []}
    try:
        box.prepare_workdir(workdir)
        port = box.choose_port(5001)
        for _ in range(runs):
            ready, conn, startup = one_launch(box, workdir, port)
            out["ready"].append(ready)
            out["connect"].append(conn)
            out["startup"].append(startup)
        out["tier"] = [box.tier]          # type: ignore[list-item]
    finally:
        box.close()
        subprocess.run(["rm", "-rf", str(root)], check=False)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--tiers", default="root,none")
    ap.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = ap.parse_args()
    rows = []
    for tier in args.tiers.split(","):
        try:
            m = measure(tier, args.runs)
        except Exception as e:         # a tier this machine does not give
            print(f"# tier {tier}: {e}", file=sys.stderr)
            continue
        rows.append([m["tier"][0], args.runs,
                     f"{ms(median(m['ready']))} (p90 {ms(pct(m['ready'], 90))})",
                     f"{ms(median(m['connect']))} (p90 {ms(pct(m['connect'], 90))})",
                     f"{ms(median(m['startup']))}"])
    md = table(["tier", "launches", "listen -> ready", "listen -> first connect", "spawn -> listen"], rows)
    md = f"Machine: {machine()}\n\n" + md
    print(md)
    if args.write:
        write_section("readiness", md)


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
