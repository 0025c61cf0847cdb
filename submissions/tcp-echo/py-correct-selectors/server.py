"""TCP echo server: single thread, non-blocking sockets and the selectors module."""
import selectors
import socket
import sys

sel = selectors.DefaultSelector()


def accept(srv):
    try:
        conn, _ = srv.accept()
    except OSError:  # client gave up before we got to it
        return
    conn.setblocking(False)
    sel.register(conn, selectors.EVENT_READ, bytearray())  # data = unsent bytes


def close(conn):
    sel.unregister(conn)
    conn.close()


def service(conn, pending):
    try:
        if not pending:
            data = conn.recv(4096)
            if not data:
                close(conn)
                return
            pending += data
        sent = conn.send(pending)
        del pending[:sent]
    except BlockingIOError:
        pass
    except OSError:  # e.g. connection reset by the client
        close(conn)
        return
    # while echo data is pending, wait until we can write instead of reading more
    sel.modify(conn, selectors.EVENT_WRITE if pending else selectors.EVENT_READ, pending)


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
    srv.setblocking(False)
    sel.register(srv, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is srv:
                accept(srv)
            else:
                service(key.fileobj, key.data)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
