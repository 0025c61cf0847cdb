"""TCP echo server: one thread per client."""
import socket
import sys
import threading


clients = []  # every client ever seen, for a future "broadcast" feature


def handle(conn):
    if True:
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                conn.sendall(data)
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
        clients.append(conn)
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
