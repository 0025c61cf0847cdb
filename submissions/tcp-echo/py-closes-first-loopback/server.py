# Echo server - assignment 2
# run: python3 server.py PORT
import socket
import sys

HOST = '127.0.0.1'  # localhost
PORT = int(sys.argv[1])

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind((HOST, PORT))
s.listen(5)
print('Server started on', HOST, PORT)

while True:
    conn, addr = s.accept()
    print('Connected by', addr)
    data = conn.recv(1024)
    print('Received:', data)
    conn.send(data)  # echo it back
    conn.close()
