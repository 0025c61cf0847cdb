/*
 * Concurrent echo server using fork()
 * Networks assignment 1
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define BUFSIZE 4096

void echo(int sockfd)
{
    char buf[BUFSIZE];
    int n;

    while ((n = read(sockfd, buf, BUFSIZE)) > 0) {
        write(sockfd, buf, n);
    }
    if (n < 0)
        perror("read");
}

int main(int argc, char **argv)
{
    int sockfd, newsockfd, portno, pid;
    socklen_t clilen;
    struct sockaddr_in serv_addr, cli_addr;
    int yes = 1;

    if (argc < 2) {
        fprintf(stderr, "ERROR, no port provided\n");
        exit(1);
    }
    sockfd = socket(AF_INET, SOCK_STREAM, 0);
    if (sockfd < 0) {
        perror("ERROR opening socket");
        exit(1);
    }
    setsockopt(sockfd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));

    memset(&serv_addr, 0, sizeof(serv_addr));
    portno = atoi(argv[1]);
    serv_addr.sin_family = AF_INET;
    serv_addr.sin_addr.s_addr = INADDR_ANY;
    serv_addr.sin_port = htons(portno);
    if (bind(sockfd, (struct sockaddr *)&serv_addr, sizeof(serv_addr)) < 0) {
        perror("ERROR on binding");
        exit(1);
    }
    listen(sockfd, 5);
    printf("echo server running on port %d\n", portno);

    clilen = sizeof(cli_addr);
    while (1) {
        newsockfd = accept(sockfd, (struct sockaddr *)&cli_addr, &clilen);
        if (newsockfd < 0) {
            perror("ERROR on accept");
            continue;
        }
        pid = fork();
        if (pid < 0) {
            perror("ERROR on fork");
            continue;
        }
        if (pid == 0) {
            /* child: serve this client */
            echo(newsockfd);
            close(newsockfd);
            exit(0);
        }
        /* parent goes back to accept the next client */
        printf("forked child %d\n", pid);
    }
    close(sockfd);
    return 0;
}
