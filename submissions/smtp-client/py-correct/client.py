"""SMTP client: python3 client.py HOST PORT FROM TO < mail

Keeps what recv() returns in a buffer and takes whole lines out of it, so a
reply split into pieces or spread over several "250-" lines is read whole.
"""
import socket
import sys


class Server:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def expect(self, code):
        line = self.line()
        while line[3:4] == "-":
            line = self.line()
        if not line.startswith(code):
            raise RuntimeError(f"expected {code}, the server said: {line}")

    def send(self, text, code):
        self.sock.sendall(text.encode() + b"\r\n")
        self.expect(code)


def main():
    host, port, sender, rcpt = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    text = sys.stdin.read()
    try:
        server = Server(host, port)
    except OSError as e:
        print(f"client: cannot connect: {e}", file=sys.stderr)
        return 1
    try:
        server.expect("220")
        server.send("EHLO student.example", "250")
        server.send(f"MAIL FROM:<{sender}>", "250")
        server.send(f"RCPT TO:<{rcpt}>", "250")
        server.send("DATA", "354")
        lines = text.splitlines()
        body = "".join(("." + l if l.startswith(".") else l) + "\r\n" for l in lines)
        server.sock.sendall(body.encode() + b".\r\n")
        server.expect("250")
        server.send("QUIT", "221")
    except (RuntimeError, OSError) as e:
        print(f"client: {e}", file=sys.stderr)
        try:
            server.send("QUIT", "221")
        except (RuntimeError, OSError):
            pass
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
