# UDP Echo Server
import socket
import sys

PORT = int(sys.argv[1])

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(('', PORT))
print("UDP server listening on port", PORT)

client = None
while True:
    data, addr = sock.recvfrom(1024)
    if client is None:
        client = addr  # remember who we are talking to
        print("client is", client)
    message = data.decode('utf-8')
    print("received message:", message)
    sock.sendto(message.encode('utf-8'), client)
