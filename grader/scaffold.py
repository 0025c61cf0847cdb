"""`grader new`: the files a new assignment starts from.

A spec whose tests compare with the reference (`expect: {reference: true}`),
a working reference stub of the right role and protocol (an echo, to be
changed into the assignment's protocol), and a sample folder.  `grader
validate` then tells the author what the reference still gets wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

SERVER_SPEC = """\
# {name}: the student writes a {protocol_upper} server.
# Contract: describe what the server must do here (it is shown to students).
format: socket-grader/1
assignment: {name}
title: {title}
role: server
protocol: {protocol}
port: {port}

languages:
  c:
    files: [server.c]
    build: [[cc, -O2, -Wall, -o, server, server.c]]
    build_with_makefile: [[make]]
    run: [./server, "{{port}}"]
  python:
    files: [server.py]
    run: [python3, server.py, "{{port}}"]

reference:
  run: [python3, "{{reference}}/{module}.py", "{{port}}"]

tests:
  - name: listens
    description: Listens on the port it was given, on all addresses.
    points: 1
    steps:
      - expect_listening: {{address: any}}

  - name: first-exchange
    description: Answers a first message as the reference does.
    points: 2
    steps:
      - {open}: a
      - send: {{to: a, text: "hello\\n"}}
      - expect: {{from: a, reference: true}}
        hint: "say here what a student usually gets wrong"
"""

CLIENT_SPEC = """\
# {name}: the student writes a {protocol_upper} client; the grader plays the server.
format: socket-grader/1
assignment: {name}
title: {title}
role: client
protocol: {protocol}
port: {port}

languages:
  c:
    files: [client.c]
    build: [[cc, -O2, -Wall, -o, client, client.c]]
    build_with_makefile: [[make]]
    run: [./client, "{{host}}", "{{port}}"]
  python:
    files: [client.py]
    run: [python3, client.py, "{{host}}", "{{port}}"]

reference:
  run: [python3, "{{reference}}/{module}.py", "{{host}}", "{{port}}"]

tests:
  - name: sends-input
    description: Sends its input to the server and prints the reply.
    points: 2
    stdin: "hello\\n"
    steps:
      - accept: s
      - expect: {{from: s, text: "hello\\n"}}
      - expect_eof: s
      - send: {{to: s, text: "hello\\n"}}
      - close: s
      - expect_exit: {{status: 0}}
      - expect_stdout: {{text: "hello\\n"}}
"""

TCP_SERVER = '''#!/usr/bin/env python3
"""Reference {name} server: python3 {module}.py PORT  (a stub: echoes; make it the protocol)."""
import signal
import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)          # TODO: the assignment's protocol
        except OSError:
            pass


def main() -> int:
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind(("0.0.0.0", port))
    except OSError as e:
        print(f"bind: {{e.strerror}}", file=sys.stderr)
        return 1
    ls.listen(128)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
'''

UDP_SERVER = '''#!/usr/bin/env python3
"""Reference {name} server: python3 {module}.py PORT  (a stub: echoes; make it the protocol)."""
import signal
import socket
import sys


def main() -> int:
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("0.0.0.0", port))
    except OSError as e:
        print(f"bind: {{e.strerror}}", file=sys.stderr)
        return 1
    while True:
        data, addr = s.recvfrom(65536)
        s.sendto(data, addr)                # TODO: the assignment's protocol


if __name__ == "__main__":
    sys.exit(main())
'''

TCP_CLIENT = '''#!/usr/bin/env python3
"""Reference {name} client: python3 {module}.py HOST PORT  (a stub: sends stdin, prints replies)."""
import socket
import sys


def main() -> int:
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        sock = socket.create_connection((host, port), timeout=10)
    except OSError as e:
        print(f"connect: {{e}}", file=sys.stderr)
        return 1
    sock.sendall(sys.stdin.buffer.read())
    sock.shutdown(socket.SHUT_WR)
    while data := sock.recv(65536):
        sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


@dataclass(frozen=True)
class Scaffold:
    spec: Path
    reference: Path
    sample: Path


def new_assignment(root: Path, name: str, role: str, protocol: str, port: int = 6000) -> Scaffold:
    """Write the spec, reference stub and sample for ``name`` under ``root``; never overwrite."""
    if not name.replace("-", "").isalnum() or not name[0].isalpha() or name.lower() != name:
        raise UsageError(f"{name!r}: an assignment name is lower-case letters, digits and dashes")
    if role == "client" and protocol == "udp":
        raise UsageError("client scaffolds are TCP only for now (write a UDP client spec by hand)")
    module = name.replace("-", "_") + ("_server" if role == "server" else "_client")
    out = Scaffold(root / "specs" / f"{name}.yaml", root / "reference" / f"{module}.py",
                   root / "submissions" / name / "py-reference-copy")
    for path in (out.spec, out.reference, out.sample):
        if path.exists():
            raise UsageError(f"{path}: already exists; not overwriting it")
    fields = dict(name=name, module=module, protocol=protocol, protocol_upper=protocol.upper(),
                  title=name.replace("-", " ").capitalize(), port=port,
                  open="connect" if protocol == "tcp" else "udp")
    spec_text = (SERVER_SPEC if role == "server" else CLIENT_SPEC).format(**fields)
    code = (TCP_CLIENT if role == "client" else TCP_SERVER if protocol == "tcp" else UDP_SERVER).format(**fields)
    out.spec.parent.mkdir(parents=True, exist_ok=True)
    out.reference.parent.mkdir(parents=True, exist_ok=True)
    out.sample.mkdir(parents=True)
    out.spec.write_text(spec_text)
    out.reference.write_text(code)
    (out.sample / ("server.py" if role == "server" else "client.py")).write_text(code)
    (out.sample / "expected.yaml").write_text(
        "# A copy of the reference must get full marks.\nstatus: graded\nscore: full\n")
    return out
