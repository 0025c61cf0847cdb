"""The grader as the UDP pinger server of Kurose & Ross's pinger lab.

``ping_server`` serves on the program's port on 127.0.0.1 (bound by the
launcher before the client runs, so its first ping cannot fall on a closed
port), answers each ping
"Ping N TIME" with the same text in upper case after a seeded delay, or drops
it, or answers it too late (after the client's 1 s timeout, while it waits for
the next ping's reply).  Because the grader decides every reply, it knows what
the client's output must say: each ping's line (its RTT within a tolerance, or
"Request timed out"), and the statistics.
"""

from __future__ import annotations

import re
import select
import socket
import time

from ..payload import show
from ..spec_schema import WITHIN, obj
from .common import fail, program_gone

TIMEOUT = 1.0          # the client's wait per ping (the contract)
LATE = 1.25            # a late reply comes this long after its ping
AFTER_LATE = 0.45      # the next ping's reply comes this late, so the late one arrives first
PING = re.compile(rb"ping (\d+) (\S.*)", re.I | re.S)
LINE = re.compile(r"ping (\d+): (?:rtt = (\d+(?:\.\d*)?) ms|(request timed out))", re.I)
STATS = re.compile(r"rtt min/avg/max = (\d+(?:\.\d*)?)/(\d+(?:\.\d*)?)/(\d+(?:\.\d*)?) ms", re.I)
LOSS = re.compile(r"loss = (\d+(?:\.\d*)?) ?%", re.I)


def _server_socket(ctx) -> socket.socket:
    """The UDP socket the launcher bound on the program's port before the client started
    (a client-role test's ``peer: listen``), so the first ping cannot meet a closed port."""
    sock = ctx.listener
    if sock is None or sock.type != socket.SOCK_DGRAM:
        raise AssertionError("ping_server needs a udp spec and peer: listen (the default)")
    sock.setblocking(False)
    return sock


class Pinger:
    def __init__(self, ctx, step) -> None:
        self.ctx, self.args = ctx, step.args
        self.count = self.args.get("pings", 10)
        # A printed RTT is never below the grader's delay; above it, a loaded machine may
        # take long to run the client, so anything under its 1 s timeout is accepted.
        self.tolerance = self.args.get("tolerance", 0.9)
        rng = ctx.rng
        ctx.used_randomness = True
        middle = list(range(2, self.count))
        self.drop = set(rng.sample(middle, self.args.get("drop", 0)))
        rest = [k for k in middle if k not in self.drop and k + 1 not in self.drop and k + 1 < self.count]
        self.late = set(rng.sample(rest, self.args.get("late", 0)))
        self.delay = {k: round(rng.uniform(0.0, 0.03), 4) for k in range(1, self.count + 1)}
        for k in self.late:
            self.delay[k] = LATE
            self.delay[k + 1] = AFTER_LATE
        self.arrived: dict[int, float] = {}
        self.printed: dict[int, str] = {}        # the RTTs as the client wrote them
        self.outbox: list[tuple[float, bytes, tuple]] = []

    def schedule(self) -> str:
        parts = []
        for k in range(1, self.count + 1):
            what = ("dropped" if k in self.drop else "late (1.25 s)" if k in self.late
                    else f"{self.delay[k] * 1000:.0f} ms")
            parts.append(f"{k}: {what}")
        return "the grader's replies: " + ", ".join(parts)

    # ------------------------------------------------------------ the server

    def serve(self, sock: socket.socket) -> None:
        prog = self.ctx.program
        d = self.ctx.step_deadline(self.args, "the pings")
        while True:
            now = time.monotonic()
            for item in [o for o in self.outbox if o[0] <= now]:
                self.outbox.remove(item)
                try:
                    sock.sendto(item[1], item[2])
                except OSError:
                    pass
            done = len(self.arrived) == self.count and not self.outbox
            if done or prog.exit_status() is not None and not self.outbox:
                return
            self._check_pace(now)
            if d.expired:
                raise fail(f"waited {d.describe()} for the pings", program_gone(self.ctx),
                           [self.schedule()])
            wake = min([o[0] for o in self.outbox] + [now + 0.05, d.end])
            r, _, _ = select.select([sock], [], [], max(0.0, wake - time.monotonic()))
            if r:
                self._receive(sock)

    def _receive(self, sock: socket.socket) -> None:
        try:
            data, addr = sock.recvfrom(65536)
        except OSError:
            return
        now = time.monotonic()
        m = PING.fullmatch(data.strip())
        k = len(self.arrived) + 1
        if not m:
            raise fail(f"ping {k} is not \"Ping {k} TIME\": got {show(data)}",
                       [("send the text \"Ping <sequence number> <time>\", numbers from 1",
                         "ping-format")])
        if int(m.group(1)) != k or k > self.count:
            raise fail(f"expected ping {k}" if k <= self.count else
                       f"expected {self.count} pings, got one more", [
                           (f"send {self.count} pings numbered 1 to {self.count}, one after "
                            "the other", "ping-sequence")], [f"got {show(data)}"])
        self.arrived[k] = now
        if k not in self.drop:
            self.outbox.append((now + self.delay[k], data.upper(), addr))

    def _check_pace(self, now: float) -> None:
        """After an unanswered ping, the next must come about 1 s later: not at once, not never."""
        k = len(self.arrived)
        if not k or k >= self.count or (k not in self.drop and k not in self.late):
            return
        waited = now - self.arrived[k]
        if waited > TIMEOUT + 1.0:
            raise fail(f"ping {k} got no reply in time, and {waited:.1f} s later ping {k + 1} "
                       "had still not come", program_gone(self.ctx) or [
                           ("the client waits for a reply forever: set a 1 s timeout on the "
                            "socket (settimeout(1) in Python, SO_RCVTIMEO or poll()/select() "
                            "in C) and go on with the next ping when it expires",
                            "ping-no-timeout")], [self.schedule()])

    def check_pace_after(self) -> None:
        for k in sorted(self.drop | self.late):
            if k + 1 in self.arrived and self.arrived[k + 1] - self.arrived[k] < TIMEOUT - 0.1:
                gap = self.arrived[k + 1] - self.arrived[k]
                raise fail(f"ping {k} got no reply, and ping {k + 1} came {gap * 1000:.0f} ms "
                           "later", [("the client waited less than the 1 s the contract gives "
                                      "each reply", "ping-timeout-short")], [self.schedule()])

    # ------------------------------------------------------------ the output

    def check_output(self, out: str) -> None:
        lines = {}
        for line in out.splitlines():
            m = LINE.fullmatch(line.strip())
            if m and int(m.group(1)) not in lines:
                lines[int(m.group(1))] = m
        details = [self.schedule(), f"output: {show(out.encode())}"]
        rtts = {}
        for k in range(1, self.count + 1):
            m = lines.get(k)
            if m is None:
                raise fail(f"no line \"Ping {k}: rtt = R ms\" or \"Ping {k}: Request timed out\" "
                           "in the output", [("print one line per ping, in the contract's form",
                                             "ping-output")], details)
            lost = k in self.drop or k in self.late
            if lost:
                if not m.group(3):
                    raise fail(f"ping {k} got no reply within 1 s, but the output says "
                               f"{show(m.group(0).encode())}",
                               [("a ping without a reply within 1 s is \"Request timed out\"",
                                 "ping-timeout-long")], details)
                continue
            want = self.delay[k] * 1000
            if m.group(3):
                raise fail(f"ping {k} was answered after {want:.0f} ms, but the output says it "
                           "timed out", [("the client gave up before the reply came: wait 1 s "
                                          "for each reply", "ping-timeout-short")], details)
            got = float(m.group(2))
            rtts[k] = got
            self.printed[k] = m.group(2)
            if want - 2 <= got <= want + self.tolerance * 1000:
                continue
            causes = []
            if want - 2 <= got * 1000 <= want + self.tolerance * 1000:
                causes.append(("the RTT was printed in seconds: the contract wants milliseconds",
                               "ping-rtt-units"))
            elif k - 1 in self.late and got < want - 2:
                causes.append((f"ping {k - 1}'s late reply was taken for ping {k}'s: check the "
                               "sequence number in each reply and keep waiting (within the 1 s) "
                               "when it is not the ping's own", "ping-wrong-reply"))
            raise fail(f"ping {k}'s reply was sent {want:.0f} ms after the ping came, but the "
                       f"output says rtt = {m.group(2)} ms", causes, details)
        if self.args.get("stats", True):
            self._check_stats(out, rtts, details)

    def _check_stats(self, out: str, rtts: dict[int, float], details: list[str]) -> None:
        m = STATS.search(out)
        if not m:
            raise fail("no line \"rtt min/avg/max = A/B/C ms\" in the output",
                       [("print the minimum, average and maximum RTT of the pings that got a "
                         "reply", "ping-no-stats")], details)
        values = sorted(rtts.values())
        want = (values[0], sum(values) / len(values), values[-1])
        # As exact as the client's own printing allows (RTTs printed as whole ms: 0.6 ms).
        places = min(len(v.partition(".")[2]) for v in list(self.printed.values()) + list(m.groups()))
        tol = 0.6 * 10 ** -places + 0.01
        for name, got, w in zip(("min", "avg", "max"), m.groups(), want):
            if abs(float(got) - w) > tol:
                causes = []
                if name == "avg" and abs(float(got) - sum(values) / self.count) <= tol:
                    causes.append(("the average was divided by all the pings; average over the "
                                   "replies only", "ping-avg-over-all"))
                raise fail(f"the output says {name} = {got} ms, but its own RTT lines give "
                           f"{w:.3f} ms", causes or [("compute min, avg and max over the RTTs "
                                                       "of the pings that got a reply",
                                                       "ping-wrong-stats")], details)
        loss = LOSS.search(out)
        lost = 100.0 * (self.count - len(rtts)) / self.count
        if not loss or abs(float(loss.group(1)) - lost) > 0.5:
            raise fail(f"expected \"loss = {lost:g}%\" ({self.count - len(rtts)} of {self.count} "
                       "pings without a reply)" + (f", the output says {show(loss.group(0).encode())}"
                                                   if loss else ""),
                       [("the loss rate is the share of pings without a reply, in percent",
                         "ping-wrong-loss")], details)


def do_ping_server(ctx, step) -> None:
    p = Pinger(ctx, step)
    sock = _server_socket(ctx)
    p.serve(sock)
    prog = ctx.program
    d = ctx.step_deadline(step.args, "the client's exit")
    status = prog.proc.wait(d)
    p.check_pace_after()
    if status is None:
        raise fail(f"the client did not exit within {d.describe()} after its last ping",
                   [("after the last ping's reply (or its 1 s timeout), print the statistics "
                     "and exit", "hangs")], [p.schedule()])
    prog.proc.stdout.join(ctx.deadline.sooner(1.0))
    if len(p.arrived) < p.count:
        raise fail(f"the client sent {len(p.arrived)} pings and exited ({status}); expected "
                   f"{p.count}", program_gone(ctx) or [
                       (f"send {p.count} pings, going on after a timeout", "ping-sequence")],
                   [p.schedule()])
    p.check_output(prog.proc.stdout.data.decode("utf-8", "replace"))


STEPS = {
    "ping_server": (obj({
        "pings": {"type": "integer", "minimum": 2, "maximum": 50, "description": "pings expected (default 10)"},
        "drop": {"type": "integer", "minimum": 0, "maximum": 5, "description": "replies dropped (seeded positions)"},
        "late": {"type": "integer", "minimum": 0, "maximum": 3,
                 "description": "replies sent 1.25 s late, while the client waits for the next ping's"},
        "tolerance": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                      "description": "seconds a printed RTT may exceed the grader's delay (default 0.9: a loaded machine runs the client late)"},
        "stats": {"type": "boolean", "description": "check the min/avg/max and loss lines (default true)"},
        "within": WITHIN,
    }, description="the grader is the UDP pinger server: seeded drops and delays, then the client's output"),
        do_ping_server),
}

