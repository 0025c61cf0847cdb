"""The naive way people grade servers today, for comparison.

Build it, start it, sleep 1 s, send one message, compare the reply, kill it:
one test, no sandbox, no diagnosis.  ``naive_grade`` does exactly that for
one tcp-echo submission folder; ``throughput.py`` runs it over the same class
as ``grader batch`` with the same parallelism.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MESSAGE = b"hello, server\n"
SLEEP = 1.0


@dataclass
class NaiveResult:
    ok: bool
    seconds: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def naive_grade(folder: Path) -> NaiveResult:
    """One test the naive way; never raises."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="naive-"))
    proc = None
    try:
        for f in folder.resolve().iterdir():
            if f.is_file():
                shutil.copy(f, work / f.name)
        port = free_port()
        if (work / "server.c").exists():
            build = ["make"] if (work / "Makefile").exists() else ["cc", "-O2", "-o", "server", "server.c"]
            if subprocess.run(build, cwd=work, capture_output=True, timeout=60).returncode != 0:
                return NaiveResult(False, time.monotonic() - started)
            argv = ["./server", str(port)]
        else:
            argv = ["python3", "server.py", str(port)]
        proc = subprocess.Popen(argv, cwd=work, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(SLEEP)                               # "give it a second to start"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
                s.sendall(MESSAGE)
                got = b""
                while len(got) < len(MESSAGE):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            ok = got == MESSAGE
        except OSError:
            ok = False
        return NaiveResult(ok, time.monotonic() - started)
    finally:
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Time the naive test alone on each correct sample (median of --runs), for RESULTS.md."""
    import argparse
    import statistics

    from common import SUBMISSIONS, machine, table, write_section

    ap = argparse.ArgumentParser(description="the naive single test, per correct sample")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = ap.parse_args()
    rows = []
    for name in ("c-correct-fork", "c-correct-poll", "c-correct-make", "py-correct-selectors",
                 "py-correct-threads"):
        runs = [naive_grade(SUBMISSIONS / "tcp-echo" / name) for _ in range(args.runs)]
        rows.append([name, f"{statistics.median(r.seconds for r in runs):.2f} s",
                     "passed" if all(r.ok for r in runs) else "FAILED"])
        print(rows[-1], flush=True)
    md = (f"Machine: {machine()}\n\nThe naive test alone on each correct sample "
          f"(median of {args.runs}):\n\n" + table(["sample", "naive: wall", "verdict"], rows))
    print(md)
    if args.write:
        write_section("naive-per-sample", md)


if __name__ == "__main__":
    main()
