/*
 * TCP echo client
 * usage: ./client <host> <port>
 * reads lines from stdin, sends them to the server and prints the echo
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define BUFSIZE 1024

int main(int argc, char *argv[])
{
    int sockfd, n;
    struct sockaddr_in serveraddr;
    struct hostent *server;
    char buf[BUFSIZE];
    char reply[BUFSIZE];

    if (argc != 3) {
        fprintf(stderr, "usage: %s <hostname> <port>\n", argv[0]);
        exit(1);
    }

    sockfd = socket(AF_INET, SOCK_STREAM, 0);
    if (sockfd < 0) {
        perror("ERROR opening socket");
        exit(1);
    }

    server = gethostbyname(argv[1]);
    if (server == NULL) {
        fprintf(stderr, "ERROR, no such host as %s\n", argv[1]);
        exit(1);
    }

    memset(&serveraddr, 0, sizeof(serveraddr));
    serveraddr.sin_family = AF_INET;
    memcpy(&serveraddr.sin_addr.s_addr, server->h_addr, server->h_length);
    serveraddr.sin_port = htons(atoi(argv[2]));

    if (connect(sockfd, (struct sockaddr *)&serveraddr, sizeof(serveraddr)) < 0) {
        perror("ERROR connecting");
        exit(1);
    }
    printf("Connected to %s:%s\n", argv[1], argv[2]);

    /* send each line and wait for the echo */
    while (fgets(buf, BUFSIZE, stdin) != NULL) {
        n = send(sockfd, buf, strlen(buf), 0);
        if (n < 0) {
            perror("ERROR writing to socket");
            break;
        }
        memset(reply, 0, BUFSIZE);
        n = recv(sockfd, reply, BUFSIZE - 1, 0);
        if (n <= 0)
            break;
        printf("%s", reply);
    }

    close(sockfd);
    return 0;
}
