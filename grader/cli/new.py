"""grader new NAME: scaffold a spec, a reference stub and a sample for a new assignment."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..scaffold import new_assignment


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="the assignment's short name, e.g. kv-store")
    p.add_argument("--role", choices=["server", "client"], default="server",
                   help="what the student writes (default: server)")
    p.add_argument("--protocol", choices=["tcp", "udp"], default="tcp")
    p.add_argument("--port", type=int, default=6000, help="the port the program is given")
    p.add_argument("--dir", type=Path, default=Path("."), help="the repository root (default: .)")


def run(args: argparse.Namespace) -> int:
    made = new_assignment(args.dir, args.name, args.role, args.protocol, args.port)
    print(f"wrote {made.spec}\nwrote {made.reference}\nwrote {made.sample}/")
    print(f"next: edit the reference and the spec's tests, then run: grader validate {made.spec}")
    return 0
