/* Lab 2 -- echo server, select() version
 * usage: ./server <port>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/select.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define BUFSIZE 256

int main(int argc, char *argv[])
{
    fd_set master, read_fds;
    int listener, newfd, fdmax, i;
    struct sockaddr_in addr, cli;
    socklen_t clilen;
    char buf[BUFSIZE];
    int nbytes;

    if (argc != 2) {
        fprintf(stderr, "usage: %s <port>\n", argv[0]);
        exit(1);
    }

    listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) {
        perror("socket");
        exit(1);
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = INADDR_ANY;
    addr.sin_port = htons(atoi(argv[1]));
    if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        perror("bind");
        exit(1);
    }
    if (listen(listener, 10) < 0) {
        perror("listen");
        exit(1);
    }
    printf("server listening on port %s\n", argv[1]);

    FD_ZERO(&master);
    FD_ZERO(&read_fds);
    FD_SET(listener, &master);
    fdmax = listener;

    for (;;) {
        read_fds = master;
        if (select(fdmax + 1, &read_fds, NULL, NULL, NULL) == -1) {
            perror("select");
            exit(4);
        }
        for (i = 0; i <= fdmax; i++) {
            if (!FD_ISSET(i, &read_fds))
                continue;
            if (i == listener) {
                clilen = sizeof(cli);
                newfd = accept(listener, (struct sockaddr *)&cli, &clilen);
                if (newfd == -1) {
                    perror("accept");
                } else {
                    FD_SET(newfd, &master);
                    if (newfd > fdmax)
                        fdmax = newfd;
                    printf("new connection from %s on socket %d\n", inet_ntoa(cli.sin_addr), newfd);
                }
            } else {
                nbytes = recv(i, buf, sizeof(buf), 0);
                if (nbytes <= 0) {
                    if (nbytes == 0)
                        printf("socket %d hung up\n", i);
                    else
                        perror("recv");
                    close(i);
                } else {
                    send(i, buf, nbytes, 0);
                }
            }
        }
    }
    return 0;
}
