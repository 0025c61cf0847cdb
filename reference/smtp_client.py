#!/usr/bin/env python3
"""Reference SMTP client (Kurose & Ross mail client lab):
python3 smtp_client.py HOST PORT FROM TO < mail

Sends its standard input as one mail from FROM to TO through the SMTP server
at HOST:PORT (RFC 5321 subset): waits for the 220 greeting, then EHLO, MAIL
FROM, RCPT TO, DATA, the mail (lines ending in CR LF, lines that begin with "."
dot-stuffed, ended by "."), QUIT.  Each reply is read line by line up to its
last line ("250 ", not "250-"), however it is split into segments.  A reply
with an unexpected code is printed on stderr; the client then says QUIT and
exits 1.  Standard library only.
"""
import socket
import sys


class Refused(Exception):
    pass


def reply(f, want: str) -> str:
    """Read one (possibly multi-line) reply; raise Refused unless its code is ``want``."""
    lines = []
    while True:
        line = f.readline()
        if not line.endswith(b"\n"):
            raise Refused("the server closed the connection")
        text = line.decode("latin-1").rstrip("\r\n")
        lines.append(text)
        if len(text) < 4 or text[3] != "-":
            break
    if not lines[-1].startswith(want):
        raise Refused("\n".join(lines))
    return lines[-1]


def main() -> int:
    if len(sys.argv) != 5:
        print("usage: smtp_client.py HOST PORT FROM TO < mail", file=sys.stderr)
        return 2
    host, port, sender, recipient = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    mail = sys.stdin.buffer.read()
    try:
        s = socket.create_connection((host, port), timeout=10)
    except OSError as e:
        print(f"smtp_client: cannot connect to {host}:{port}: {e.strerror or e}", file=sys.stderr)
        return 1
    f = s.makefile("rb")
    try:
        reply(f, "220")
        for command, code in ((b"EHLO client.test", "250"),
                              (b"MAIL FROM:<" + sender.encode() + b">", "250"),
                              (b"RCPT TO:<" + recipient.encode() + b">", "250"),
                              (b"DATA", "354")):
            s.sendall(command + b"\r\n")
            reply(f, code)
        lines = mail.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        body = b"".join((b"." if ln.startswith(b".") else b"") + ln.rstrip(b"\r") + b"\r\n"
                        for ln in lines)
        s.sendall(body + b".\r\n")
        reply(f, "250")
        s.sendall(b"QUIT\r\n")
        reply(f, "221")
    except Refused as e:
        print(f"smtp_client: the server refused: {e}", file=sys.stderr)
        try:
            s.sendall(b"QUIT\r\n")
            reply(f, "221")
        except (OSError, Refused):
            pass
        return 1
    except OSError as e:
        print(f"smtp_client: {e.strerror or e}", file=sys.stderr)
        return 1
    finally:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
