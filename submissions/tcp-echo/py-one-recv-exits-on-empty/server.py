import socket
import sys

port = int(sys.argv[1])

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    server.bind(('', port))
except:
    print("bind failed")
server.listen(1)
print("Listening on port " + str(port))

while True:
    conn, addr = server.accept()
    print("Got connection from", addr)
    data = conn.recv(1024)
    if not data:
        print("client sent nothing, bye")
        break
    conn.sendall(data)
    conn.close()

server.close()
