/* udp echo server - lab 4 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define BUF_SIZE 2048

int main(int argc, char *argv[])
{
    int sock;
    struct sockaddr_in server_addr, client_addr;
    socklen_t addr_len = sizeof(client_addr);
    char buf[BUF_SIZE];
    int port;

    if (argc < 2) {
        printf("Usage: %s port\n", argv[0]);
        return 1;
    }
    port = atoi(argv[1]);

    sock = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock < 0) {
        printf("Error creating socket\n");
        return 1;
    }

    memset(&server_addr, 0, sizeof(server_addr));
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons(port);
    server_addr.sin_addr.s_addr = htonl(INADDR_ANY);

    if (bind(sock, (struct sockaddr *)&server_addr, sizeof(server_addr)) < 0) {
        printf("Error: bind failed\n");
        return 1;
    }
    printf("Waiting for messages on port %d\n", port);

    for (;;) {
        memset(buf, 0, BUF_SIZE);
        int n = recvfrom(sock, buf, BUF_SIZE, 0, (struct sockaddr *)&client_addr, &addr_len);
        if (n < 0) {
            printf("Error receiving\n");
            continue;
        }
        printf("Received %d bytes from %s\n", n, inet_ntoa(client_addr.sin_addr));
        /* send the message back */
        sendto(sock, buf, sizeof(buf), 0, (struct sockaddr *)&client_addr, addr_len);
    }
    close(sock);
    return 0;
}
