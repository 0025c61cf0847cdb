# Echo server (Python). Run it, then type the port.
from socket import *
import threading

def serve(c):
    while True:
        data = c.recv(4096)
        if not data:
            break
        c.sendall(data)
    c.close()

port = int(input("Port: "))
s = socket(AF_INET, SOCK_STREAM)
s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
s.bind(("", port))
s.listen(5)
print("listening on", port)
while True:
    c, a = s.accept()
    threading.Thread(target=serve, args=(c,)).start()
