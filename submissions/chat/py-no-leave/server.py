"""Chat server: a reader thread and a writer thread per client.

Broadcasting only puts the message into each recipient's queue (under one lock,
so everybody gets the messages in the same order); each client's writer thread
sends its queue, so a slow or dead client never holds up the others.
"""
import queue
import re
import socket
import sys
import threading

NICK = re.compile(rb"NICK ([A-Za-z0-9_-]{1,32})")

lock = threading.Lock()
clients = {}            # socket -> its queue, for clients that have a nick


def broadcast(sender, data):
    for conn, q in clients.items():
        if conn is not sender:
            q.put(data)


def writer(conn, q):
    ok = True
    while True:
        data = q.get()
        if data is None:
            break
        if ok:
            try:
                conn.sendall(data)
            except OSError:
                ok = False      # the reader will see the end of the connection too
    conn.close()


def reader(conn):
    q = queue.Queue()
    threading.Thread(target=writer, args=(conn, q), daemon=True).start()
    name = None
    buf = b""
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                with lock:
                    if name is None:
                        m = NICK.fullmatch(line)
                        if m:
                            name = m.group(1)
                            broadcast(conn, b"* " + name + b" joined\n")
                            clients[conn] = q
                    else:
                        broadcast(conn, name + b": " + line + b"\n")
    except OSError:
        pass                    # reset: the client is gone all the same
    with lock:
        if name is not None:
            del clients[conn]
    q.put(None)                 # the writer sends what is queued, then closes


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
        threading.Thread(target=reader, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
