"""The grader as an SMTP server (RFC 5321 subset) for a student's mail client.

``smtp_session`` plays the whole dialogue on one accepted connection: the 220
greeting (optionally late, or in several lines), the replies to HELO/EHLO,
MAIL FROM, RCPT TO, DATA (the mail itself, up to the line "."), and QUIT, each
reply written whole, line by line or in small slices with gaps.  It checks the
order of the commands, the addresses, CR LF line ends, dot-stuffing and the end
of the mail, and that the client waits for each reply (all of it) before it
speaks again, and stops when a reply refuses.
"""

from __future__ import annotations

import re

from ..payload import show
from ..spec_schema import CONN, PAYLOAD, WITHIN, obj
from .common import core, fail, program_gone, tcp

EHLO_REPLY = ["250-grader.test greets you", "250-8BITMIME", "250-SIZE 1000000", "250 HELP"]
GREETING = ["220 grader.test ESMTP socket-grader"]
COMMANDS = {
    "helo": (re.compile(r"(HELO|EHLO) \S.*", re.I), "HELO <name> (or EHLO <name>)"),
    "mail": (re.compile(r"MAIL FROM: ?<(.*)>", re.I), "MAIL FROM:<{sender}>"),
    "rcpt": (re.compile(r"RCPT TO: ?<(.*)>", re.I), "RCPT TO:<{recipient}>"),
    "data": (re.compile(r"DATA", re.I), "DATA"),
    "quit": (re.compile(r"QUIT", re.I), "QUIT"),
}
REPLIES = {"mail": ["250 2.1.0 sender ok"], "rcpt": ["250 2.1.5 recipient ok"],
           "data": ["354 end the mail with <CR><LF>.<CR><LF>"], "quit": ["221 2.0.0 bye"]}
SEQUENCE = ["helo", "mail", "rcpt", "data", "quit"]


class Session:
    def __init__(self, ctx, step) -> None:
        self.ctx, self.args = ctx, step.args
        self.sock = tcp(ctx, self.args.get("from"), "smtp_session")
        self.d = ctx.step_deadline(self.args, "the mail dialogue")
        self.strict = self.args.get("strict_crlf", False)
        self.said: list[bytes] = []           # what the client sent, line by line, for feedback

    # ------------------------------------------------------------ the server's side

    def reply(self, lines: list[str], what: str) -> None:
        """Write one reply; with ``segments``, in pieces, and the client must not speak before the end."""
        data = "".join(line + "\r\n" for line in lines).encode()
        seg = self.args.get("segments", "whole")
        if seg == "whole":
            pieces = [data]
        elif seg == "lines":
            pieces = [line.encode() + b"\r\n" for line in lines]
        else:
            pieces = [data[i:i + seg["size"]] for i in range(0, len(data), seg["size"])]
        gap = self.args.get("gap", 0.02)
        for i, piece in enumerate(pieces):
            self.sock.queue(piece, message=False)
            core()._flush(self.ctx, self.sock, self.d)
            if i + 1 < len(pieces):
                self.ctx.net.idle(self.ctx.deadline.sooner(gap))
                if self.sock.inbuf:
                    self._spoke_early(what, data, b"".join(pieces[:i + 1]))

    def _spoke_early(self, what: str, whole: bytes, sent: bytes) -> None:
        multi = whole.count(b"\r\n") > 1
        cause = ((f"a multi-line reply ends only at the line whose code is followed by a space "
                  f"(\"250 \", not \"250-\"): read line by line until then, whatever recv() returns",
                  "smtp-multiline") if multi and sent.endswith(b"\r\n") else
                 ("a reply can arrive in several pieces: read until its line ends with \\r\\n "
                  "(one recv() is not one reply)", "smtp-partial-reply"))
        raise fail(f"the client sent {show(bytes(self.sock.inbuf))} before the {what} was complete",
                   [cause], [f"the {what}: {show(whole)}", f"sent so far: {show(sent)}"])

    # ------------------------------------------------------------ the client's side

    def line(self, expecting: str) -> bytes | None:
        """The client's next line (its CR LF or LF kept), or None at its end of stream."""
        sock = self.sock
        self.ctx.net.pump(self.d, lambda: b"\n" in sock.inbuf or sock.eof)
        if b"\n" not in sock.inbuf:
            if sock.eof:
                return None
            raise fail(f"waited {self.d.describe()} for the client's {expecting}",
                       program_gone(self.ctx), self._transcript(bytes(sock.inbuf)))
        end = sock.inbuf.index(b"\n") + 1
        raw = bytes(sock.inbuf[:end])
        del sock.inbuf[:end]
        self.said.append(raw)
        if self.strict and not raw.endswith(b"\r\n"):
            raise fail(f"the client's line {show(raw)} ends with \\n alone",
                       [("SMTP lines end with \\r\\n (CR LF): send \"\\r\\n\", not \"\\n\"",
                         "smtp-bare-lf")], self._transcript())
        return raw

    def _transcript(self, partial: bytes = b"") -> list[str]:
        said = [show(s) for s in self.said[-6:]]
        if partial:
            said.append(show(partial) + " (no line end yet)")
        return ["the client said: " + (", ".join(said) if said else "(nothing)")]

    def command(self, state: str) -> None:
        pattern, form = COMMANDS[state]
        want = form.format(sender=self.args["sender"], recipient=self.args["recipient"])
        raw = self.line(want)
        if raw is None:
            raise fail(f"the client closed the connection; expected {want}",
                       program_gone(self.ctx) + ([] if state != "quit" else [
                           ("end the dialogue with QUIT and wait for the 221 reply before "
                            "closing", "smtp-no-quit")]), self._transcript())
        text = raw.rstrip(b"\r\n").decode("latin-1")
        m = pattern.fullmatch(text)
        if not m:
            self.sock.queue(b"503 5.5.1 bad sequence of commands\r\n")
            raise fail(f"expected {want}, the client sent {show(raw)}", [
                ("send the commands in this order, each after the reply to the one before: "
                 "HELO/EHLO, MAIL FROM, RCPT TO, DATA, the mail, QUIT", "smtp-order")],
                self._transcript())
        if state in ("mail", "rcpt"):
            addr = self.args["sender" if state == "mail" else "recipient"]
            if m.group(1) != addr:
                raise fail(f"expected {want}, the client sent {show(raw)}",
                           [("use the address the program was given, in angle brackets",
                             "smtp-wrong-address")], self._transcript())
        self.verb = text.split()[0].upper()

    def mail(self) -> None:
        """The mail after 354, up to the line "."; compared with what the client was given."""
        sock = self.sock
        ends = (b"\r\n.\r\n", b"\n.\n", b"\n.\r\n") if not self.strict else (b"\r\n.\r\n",)

        def ended() -> bool:
            data = b"\r\n" + bytes(sock.inbuf)
            return any(e in data for e in ends) or sock.eof
        self.ctx.net.pump(self.d, ended)
        data = b"\r\n" + bytes(sock.inbuf)
        found = [(data.index(e), e) for e in ends if e in data]
        if not found:
            got = bytes(sock.inbuf)
            raise fail(f"waited {self.d.describe()} for the end of the mail (a line with a single "
                       "\".\")", program_gone(self.ctx) + [
                           ("end the mail with \"\\r\\n.\\r\\n\": the line \".\" alone",
                            "smtp-no-end")], [f"the mail so far: {show(got)}"])
        at, end = min(found)
        raw = data[2:at + end.index(b".")]     # the mail's lines, each with its line end
        del sock.inbuf[:at + len(end) - 2]
        self.said.append(raw + b".\r\n")
        expected = self.args.get("mail")
        want = core()._make(self.ctx, expected) if expected is not None else self.ctx.stdin
        self._check_mail(raw, want)

    def _check_mail(self, raw: bytes, want: bytes) -> None:
        lines = want.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        wire = b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n" for ln in lines)
        if self.strict and re.search(rb"(?<!\r)\n", raw):
            raise fail("the mail's lines end with \\n alone", [
                ("every line of the mail ends with \\r\\n (CR LF), the end too: \"\\r\\n.\\r\\n\"",
                 "smtp-bare-lf")], [f"the mail as sent: {show(raw)}"])
        norm = raw.replace(b"\r\n", b"\n").rstrip(b"\n")
        if norm == wire.replace(b"\r\n", b"\n").rstrip(b"\n"):
            return
        unstuffed = b"\n".join(lines).rstrip(b"\n")
        details = [f"expected on the wire: {show(wire + b'.' + bytes([13, 10]))}",
                   f"got:                  {show(raw + b'.' + bytes([13, 10]))}"]
        if any(ln.startswith(b".") for ln in lines) and (
                norm == unstuffed or unstuffed.startswith(norm)):
            raise fail("the lines of the mail that begin with \".\" were not dot-stuffed", [
                ("a line of the mail that begins with \".\" is sent with one more \".\" in front "
                 "(\"..\"), or the server takes a lone \".\" for the end of the mail (RFC 5321 "
                 "4.5.2)", "smtp-dot-stuffing")], details)
        raise fail("the mail that came is not the standard input the client was given", [
            ("send standard input as the mail, line by line, after DATA's 354 reply",
             "smtp-wrong-mail")], details)

    # ------------------------------------------------------------ the dialogue

    def run(self) -> None:
        delay = self.args.get("greeting_delay")
        if delay:
            self.ctx.net.pump(self.ctx.deadline.sooner(delay), lambda: bool(self.sock.inbuf))
            if self.sock.inbuf:
                raise fail(f"the client sent {show(bytes(self.sock.inbuf))} before the server's "
                           "220 greeting", [("wait for the server's 220 greeting before sending "
                                             "HELO: the server speaks first in SMTP",
                                             "smtp-no-greeting-wait")])
        self.reply(self.args.get("greeting") or GREETING, "greeting")
        reject = self.args.get("reject") or {}
        for state in SEQUENCE:
            self.command(state)
            if state in reject:
                self.reply([reject[state]], f"reply to {self.verb}")
                self._after_refusal(state, reject[state])
                return
            if state == "helo":
                self.reply(EHLO_REPLY if self.verb == "EHLO" else ["250 grader.test"],
                           f"reply to {self.verb}")
                continue
            self.reply(REPLIES[state], f"reply to {self.verb}")
            if state == "data":
                self.mail()
                self.reply(["250 2.0.0 queued"], "reply to the mail")
        core()._flush(self.ctx, self.sock, self.d)
        self.sock.close()

    def _after_refusal(self, state: str, refusal: str) -> None:
        """After a 4xx/5xx the client may say QUIT or just close; anything else ignores the code."""
        raw = self.line("QUIT (or the end of the connection)")
        if raw is None:
            return
        if raw.rstrip(b"\r\n").upper() == b"QUIT":
            self.reply(REPLIES["quit"], "reply to QUIT")
            core()._flush(self.ctx, self.sock, self.d)
            self.sock.close()
            return
        raise fail(f"after the reply {show(refusal.encode())} to {COMMANDS[state][1].split(':')[0]}, "
                   f"the client went on with {show(raw)}",
                   [(f"check each reply's code: {refusal[:3]} refuses, so stop (send QUIT), print "
                     "the server's reply on stderr and exit with a non-zero status",
                     "smtp-ignores-reply-code")], self._transcript())


def do_smtp_session(ctx, step) -> None:
    Session(ctx, step).run()


STEPS = {
    "smtp_session": (obj({
        "from": CONN,
        "sender": {"type": "string", "description": "the address MAIL FROM must name"},
        "recipient": {"type": "string", "description": "the address RCPT TO must name"},
        "mail": {**PAYLOAD, "description": "the mail's lines (default: the client's standard input)"},
        "greeting": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                     "description": "the 220 greeting's lines"},
        "greeting_delay": {"type": "number", "exclusiveMinimum": 0, "maximum": 2,
                           "description": "the server greets this late; the client must not speak first"},
        "segments": {"oneOf": [{"enum": ["whole", "lines"]},
                               obj({"size": {"type": "integer", "minimum": 1}}, ["size"])],
                     "description": "each reply in one write, line by line, or in slices of size bytes"},
        "gap": {"type": "number", "minimum": 0, "maximum": 1, "description": "seconds between the pieces of a reply"},
        "strict_crlf": {"type": "boolean", "description": "lines ending in \\n alone fail (default: accepted)"},
        "reject": obj({k: {"type": "string", "pattern": "^[45][0-9][0-9] "} for k in ("helo", "mail", "rcpt", "data")},
                      description="this reply (4xx/5xx) in place of the normal one; the client must stop"),
        "within": WITHIN,
    }, ["sender", "recipient"], description="the grader plays an SMTP server for one mail"),
        do_smtp_session),
}
