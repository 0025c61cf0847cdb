#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define MAXBUF 512

void error(char *msg)
{
    perror(msg);
    exit(0);
}

int main(int argc, char **argv)
{
    int sd, n;
    struct sockaddr_in server, client;
    socklen_t clen;
    char msg[MAXBUF];

    if (argc != 2) {
        fprintf(stderr, "usage: %s port\n", argv[0]);
        exit(1);
    }

    sd = socket(AF_INET, SOCK_DGRAM, 0);
    if (sd < 0)
        error("socket");

    bzero((char *)&server, sizeof(server));
    server.sin_family = AF_INET;
    server.sin_addr.s_addr = htonl(INADDR_ANY);
    server.sin_port = htons((unsigned short)atoi(argv[1]));
    if (bind(sd, (struct sockaddr *)&server, sizeof(server)) < 0)
        error("bind");

    while (1) {
        clen = sizeof(client);
        bzero(msg, MAXBUF);
        n = recvfrom(sd, msg, MAXBUF - 1, 0, (struct sockaddr *)&client, &clen);
        if (n < 0)
            error("recvfrom");
        printf("server received %d bytes: %s\n", n, msg);
        /* +1 so the client gets the terminating null too */
        n = sendto(sd, msg, strlen(msg) + 1, 0, (struct sockaddr *)&client, clen);
        if (n < 0)
            error("sendto");
    }
}
