"""UDP echo server: every datagram goes back, whole, to whoever sent it."""
import socket
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PORT")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("", int(sys.argv[1])))
    except OSError as e:
        sys.exit(f"bind: {e}")
    data, addr = sock.recvfrom(65536)
    sock.connect(addr)  # from now on, talk to this client only
    sock.send(data)
    while True:
        data = sock.recv(65536)
        sock.send(data)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
