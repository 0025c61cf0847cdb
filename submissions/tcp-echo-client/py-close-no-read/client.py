# echo client for lab 2
# usage: python3 client.py HOST PORT  (sends stdin to the echo server)
import socket
import sys

host = sys.argv[1]
port = int(sys.argv[2])

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect((host, port))

data = sys.stdin.buffer.read()
s.sendall(data)          # sendall loops until everything is sent
s.close()                # done sending
