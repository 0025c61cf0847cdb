"""Caching web proxy: python3 proxy.py PORT

socketserver threads; the browser's head is read line by line (rfile), so it
may arrive in any pieces.  The request is forwarded as GET /path HTTP/1.0 with
Host and Connection: close; the reply is relayed as bytes.  Objects up to
100 KiB are cached by URI (1 MiB in all, the oldest dropped first).
"""
import socket
import socketserver
import sys
import threading
from urllib.parse import urlsplit

MAX_OBJECT_SIZE = 100 * 1024
MAX_CACHE_SIZE = 1024 * 1024
cache = {}              # uri -> bytes, in insertion order
cache_lock = threading.Lock()


def remember(uri, data):
    with cache_lock:
        cache[uri] = data
        while sum(len(v) for v in cache.values()) > MAX_CACHE_SIZE:
            del cache[next(iter(cache))]


class Proxy(socketserver.StreamRequestHandler):
    def fail(self, status):
        body = status.encode() + b"\n"
        self.wfile.write(b"HTTP/1.0 %s\r\nContent-Length: %d\r\n\r\n%s" % (status.encode(), len(body), body))

    def handle(self):
        try:
            self.relay()
        except OSError:
            pass

    def relay(self):
        first = self.rfile.readline(8192).rstrip(b"\r\n")
        fields = []
        while True:
            line = self.rfile.readline(8192)
            if line in (b"\r\n", b"\n", b""):
                break
            fields.append(line.rstrip(b"\r\n"))
        words = first.split()
        if len(words) != 3 or not words[1].lower().startswith(b"http://") or not words[2].startswith(b"HTTP/"):
            return self.fail("400 Bad Request")
        if words[0] != b"GET":
            return self.fail("501 Not Implemented")
        uri = words[1].decode("latin-1")
        with cache_lock:
            hit = cache.get(uri)
        if hit is not None:
            self.wfile.write(hit)
            return
        url = urlsplit(uri)
        port = url.port or 80
        keep = [f for f in fields if f.split(b":")[0].strip().lower()
                not in (b"host", b"connection", b"proxy-connection")]
        request = [b"GET " + (url.path or "/").encode() + (b"?" + url.query.encode() if url.query else b"")
                   + b" HTTP/1.0", b"Host: " + url.netloc.encode()] + keep + [
                       b"Connection: close", b"Proxy-Connection: close", b"", b""]
        try:
            origin = socket.create_connection((url.hostname, port))
        except OSError:
            return self.fail("502 Bad Gateway")
        with origin:
            origin.sendall(b"\r\n".join(request))
            got = bytearray()
            while True:
                chunk = origin.recv(65536)
                if not chunk:
                    break
                self.wfile.write(chunk)
                got += chunk
        if 0 < len(got) <= MAX_OBJECT_SIZE:
            remember(uri, bytes(got))


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    try:
        server = Server(("", int(sys.argv[1])), Proxy)
    except OSError as e:
        sys.exit(f"proxy: port {sys.argv[1]}: {e.strerror}")
    server.serve_forever()
