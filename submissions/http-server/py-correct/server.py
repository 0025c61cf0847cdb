"""Web server: python3 server.py PORT serves the files of the current folder.

socketserver gives one thread per connection; the request head is read line by
line from a buffered file (rfile), so it does not matter in how many segments
it arrives.  HTTP/1.1 connections stay open until "Connection: close".
"""
import mimetypes
import os
import socketserver
import sys
import urllib.parse

ROOT = os.path.realpath(".")


class Handler(socketserver.StreamRequestHandler):
    def reply(self, status, body, ctype="text/html", close=False):
        lines = [f"HTTP/1.1 {status}", f"Content-Type: {ctype}", f"Content-Length: {len(body)}"]
        if close:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        self.wfile.flush()

    def one_request(self):
        line = self.rfile.readline(8192)
        if not line:
            return False
        headers = {}
        while True:
            h = self.rfile.readline(8192)
            if not h:
                return False
            if h in (b"\r\n", b"\n"):
                break
            if b":" not in h:
                self.reply("400 Bad Request", b"bad header\n", close=True)
                return False
            k, v = h.split(b":", 1)
            headers[k.strip().lower()] = v.strip().lower()
        parts = line.rstrip(b"\r\n").split(b" ")
        if len(parts) != 3 or parts[2] not in (b"HTTP/1.0", b"HTTP/1.1") or not parts[1].startswith(b"/"):
            self.reply("400 Bad Request", b"bad request\n", close=True)
            return False
        keep = parts[2] == b"HTTP/1.1"
        if headers.get(b"connection") == b"close":
            keep = False
        elif headers.get(b"connection") == b"keep-alive":
            keep = True
        if parts[0] != b"GET":
            self.reply("501 Not Implemented", b"GET only\n", close=not keep)
            return keep
        name = urllib.parse.unquote(parts[1].decode("latin-1").split("?")[0])
        path = os.path.realpath(os.path.join(ROOT, name.lstrip("/") or "index.html"))
        if not path.startswith(ROOT + os.sep):
            self.reply("403 Forbidden", b"forbidden\n", close=not keep)
            return keep
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            self.reply("404 Not Found", b"not found\n", close=not keep)
            return keep
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        self.reply("200 OK", data, ctype, close=not keep)
        return keep

    def handle(self):
        try:
            while self.one_request():
                pass
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    try:
        server = Server(("", int(sys.argv[1])), Handler)
    except OSError as e:
        sys.exit(f"server: cannot listen on port {sys.argv[1]}: {e.strerror}")
    server.serve_forever()
