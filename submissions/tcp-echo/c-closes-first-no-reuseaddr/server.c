/*
 * CS lab 3 - TCP echo server
 * usage: ./server <port>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define MAXLINE 1024

int main(int argc, char *argv[])
{
    int listenfd, connfd, n;
    struct sockaddr_in servaddr, cliaddr;
    socklen_t clilen;
    char buffer[MAXLINE];

    if (argc < 2) {
        printf("usage: %s <port>\n", argv[0]);
        exit(1);
    }

    // create the socket
    listenfd = socket(AF_INET, SOCK_STREAM, 0);
    if (listenfd < 0) {
        perror("socket");
        exit(1);
    }

    bzero(&servaddr, sizeof(servaddr));
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_ANY);
    servaddr.sin_port = htons(atoi(argv[1]));

    if (bind(listenfd, (struct sockaddr *)&servaddr, sizeof(servaddr)) < 0) {
        perror("bind");
        exit(1);
    }
    listen(listenfd, 5);
    printf("Server listening on port %s...\n", argv[1]);

    while (1) {
        clilen = sizeof(cliaddr);
        connfd = accept(listenfd, (struct sockaddr *)&cliaddr, &clilen);
        if (connfd < 0) {
            perror("accept");
            continue;
        }
        printf("Connection from %s:%d\n", inet_ntoa(cliaddr.sin_addr), ntohs(cliaddr.sin_port));

        // read the message and send it back
        bzero(buffer, MAXLINE);
        n = read(connfd, buffer, MAXLINE);
        if (n < 0) {
            perror("read");
        } else {
            printf("Received %d bytes\n", n);
            write(connfd, buffer, n);
        }
        close(connfd);   // done with this client
    }

    close(listenfd);
    return 0;
}
