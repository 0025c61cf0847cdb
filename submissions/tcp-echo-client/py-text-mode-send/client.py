import socket
import sys

host = sys.argv[1]
port = int(sys.argv[2])

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.connect((host, port))
except Exception as e:
    print("Could not connect to server:", e)
    sys.exit(1)

# send everything we read from stdin
message = sys.stdin.read()
s.send(message.encode())
s.shutdown(socket.SHUT_WR)

# print what comes back until the server closes
while True:
    data = s.recv(4096)
    if not data:
        break
    print(data.decode(), end="")

s.close()
