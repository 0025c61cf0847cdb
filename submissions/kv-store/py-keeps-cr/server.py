"""Key-value store server: one thread per client, one dict shared by all of
them behind a lock."""
import socket
import sys
import threading

store = {}
lock = threading.Lock()


def execute(line):
    parts = line.split(b" ", 2)      # command, key, value (the value may hold spaces)
    cmd = parts[0]
    if cmd not in (b"SET", b"GET", b"DEL"):
        return b"ERROR unknown command\n"
    if len(parts) < 2 or parts[1] == b"":
        return b"ERROR missing key\n"
    key = parts[1]
    if cmd == b"SET":
        if len(parts) < 3:
            return b"ERROR missing value\n"
        with lock:
            store[key] = parts[2]
        return b"OK\n"
    if len(parts) > 2:
        return b"ERROR too many words\n"
    with lock:
        if cmd == b"GET":
            value = store.get(key)
            return b"NOT_FOUND\n" if value is None else b"VALUE " + value + b"\n"
        return b"OK\n" if store.pop(key, None) is not None else b"NOT_FOUND\n"


def handle(conn):
    with conn:
        buf = b""
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                buf += data
                *lines, buf = buf.split(b"\n")
                replies = [execute(line) for line in lines]
                if replies:
                    conn.sendall(b"".join(replies))
        except OSError:
            pass  # client reset the connection


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PORT")
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        srv.bind(("", int(sys.argv[1])))
    except OSError as e:
        sys.exit(f"bind: {e}")
    srv.listen()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
