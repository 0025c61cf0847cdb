# Lab 2 echo client: sends each line of input to the server and prints the echo.
# usage: python3 client.py HOST PORT
import socket
import sys

s = socket.create_connection((sys.argv[1], int(sys.argv[2])))

for line in sys.stdin.buffer:      # one line at a time
    s.sendall(line)
    reply = s.recv(4096)           # wait for the echo of this line
    sys.stdout.buffer.write(reply)

s.close()
