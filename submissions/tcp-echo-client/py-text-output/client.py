"""TCP echo client: stdin -> server; a reader thread copies server -> stdout."""
import socket
import sys
import threading


def receive(sock, errors):
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            sys.stdout.write(data.decode("utf-8", errors="ignore"))
        sys.stdout.flush()
    except OSError as e:
        errors.append(e)


def main():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} HOST PORT")
    try:
        sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    except OSError as e:
        sys.exit(f"connect: {e}")
    errors = []
    reader = threading.Thread(target=receive, args=(sock, errors), daemon=True)
    reader.start()
    with sock:
        try:
            while chunk := sys.stdin.buffer.read1(65536):
                sock.sendall(chunk)
            sock.shutdown(socket.SHUT_WR)  # tell the server we are done
        except OSError as e:
            errors.append(e)
        reader.join()
    if errors:
        sys.exit(f"error: {errors[0]}")


if __name__ == "__main__":
    main()
