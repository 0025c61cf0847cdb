#!/usr/bin/env python3
"""Threaded TCP echo server.

Usage: python3 server.py <port>
"""
import socket
import sys
import threading


def handle_client(conn, addr):
    print(f"[NEW CONNECTION] {addr} connected.")
    while True:
        msg = conn.recv(1024).decode()
        if not msg:
            break
        print(f"[{addr}] {msg!r}")
        conn.send(msg.encode())
    print(f"[DISCONNECTED] {addr}")
    conn.close()


def main():
    port = int(sys.argv[1])
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("", port))
    server.listen()
    print(f"[LISTENING] Server is listening on port {port}")
    while True:
        conn, addr = server.accept()
        thread = threading.Thread(target=handle_client, args=(conn, addr))
        thread.start()
        print(f"[ACTIVE CONNECTIONS] {threading.active_count() - 1}")


if __name__ == "__main__":
    main()
