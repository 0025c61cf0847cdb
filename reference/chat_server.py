#!/usr/bin/env python3
"""Reference chat server: python3 chat_server.py PORT

Each client first sends "NICK <name>\\n" (name: 1-32 of [A-Za-z0-9_-]); the
others (those that have a nick) then get "* <name> joined\\n".  Every later line
"<text>\\n" goes to all the other named clients as "<name>: <text>\\n", in the
order received; never back to the sender.  When a named client goes (EOF or
reset), the others get "* <name> left\\n".  Lines before a valid NICK are
ignored.

One thread, non-blocking sockets and the selectors module: a client that sends
half a line, stops reading or vanishes costs only its own connection.
Standard library only.
"""
import re
import selectors
import signal
import socket
import sys

NICK = re.compile(rb"NICK ([A-Za-z0-9_-]{1,32})")
MAX_PARTIAL = 65536        # an unterminated line longer than this: drop the client
MAX_PENDING = 4 << 20      # unsent output beyond this: the client is not reading, drop it


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = b""
        self.out = bytearray()
        self.name: bytes | None = None
        self.dead = False
        self.waiting = False       # registered for EVENT_WRITE


class Server:
    def __init__(self, ls: socket.socket) -> None:
        self.ls = ls
        self.sel = selectors.DefaultSelector()
        self.sel.register(ls, selectors.EVENT_READ, None)
        self.clients: dict[socket.socket, Client] = {}
        self.doomed: list[Client] = []

    # -- output ---------------------------------------------------------------
    def queue(self, c: Client, data: bytes) -> None:
        if c.dead:
            return
        c.out += data
        self.flush(c)
        if len(c.out) > MAX_PENDING:
            self.kill(c)

    def flush(self, c: Client) -> None:
        try:
            while c.out:
                n = c.sock.send(c.out)
                del c.out[:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.kill(c)
            return
        if c.waiting != bool(c.out):                # wait for POLLOUT only while output is queued
            c.waiting = bool(c.out)
            self.sel.modify(c.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if c.waiting else 0), c)

    def broadcast(self, sender: Client, data: bytes) -> None:
        for c in list(self.clients.values()):
            if c is not sender and c.name is not None:
                self.queue(c, data)

    # -- leaving --------------------------------------------------------------
    def kill(self, c: Client) -> None:
        """Mark a client gone; reap() removes it once the current event is handled."""
        if not c.dead:
            c.dead = True
            self.doomed.append(c)

    def reap(self) -> None:
        while self.doomed:
            c = self.doomed.pop(0)
            self.sel.unregister(c.sock)
            del self.clients[c.sock]
            c.sock.close()
            if c.name is not None:
                self.broadcast(c, b"* " + c.name + b" left\n")   # may doom others: loop

    # -- input ----------------------------------------------------------------
    def on_line(self, c: Client, line: bytes) -> None:
        if c.name is None:
            m = NICK.fullmatch(line)
            if m:
                c.name = m.group(1)
                self.broadcast(c, b"* " + c.name + b" joined\n")
            return                                  # lines before NICK are ignored
        self.broadcast(c, c.name + b": " + line + b"\n")

    def on_readable(self, c: Client) -> None:
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""                              # reset: same as leaving
        if not data:
            self.flush(c)                           # last chance for what is queued to it
            self.kill(c)
            return
        c.inbuf += data
        *lines, c.inbuf = c.inbuf.split(b"\n")
        for line in lines:
            if c.dead:
                return
            self.on_line(c, line)
        if len(c.inbuf) > MAX_PARTIAL:
            self.kill(c)

    def accept(self) -> None:
        try:
            sock, _ = self.ls.accept()
        except OSError:
            return                                  # e.g. reset before accept, EMFILE
        sock.setblocking(False)
        c = Client(sock)
        self.clients[sock] = c
        self.sel.register(sock, selectors.EVENT_READ, c)

    def run(self) -> None:
        while True:
            for key, events in self.sel.select():
                c = key.data
                if c is None:
                    self.accept()
                    continue
                if c.dead:
                    continue
                if events & selectors.EVENT_WRITE:
                    self.flush(c)
                if events & selectors.EVENT_READ and not c.dead:
                    self.on_readable(c)
                self.reap()
            self.reap()


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: chat_server.py PORT", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)      # Python does this already; be explicit
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind(("0.0.0.0", port))
    except OSError as e:
        print(f"chat_server: bind to port {port}: {e.strerror}", file=sys.stderr)
        return 1
    ls.listen(128)
    ls.setblocking(False)
    Server(ls).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
