/* chat server for lab 3 -- select() version
 * usage: ./server <port>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define MAXCLIENTS 64
#define BUFLEN 512

char names[FD_SETSIZE][32];

/* send msg to every client that has a name, except 'except' */
void broadcast(fd_set *all, int maxfd, int listener, int except, char *msg)
{
    int j;
    for (j = 0; j <= maxfd; j++) {
        if (FD_ISSET(j, all) && j != listener && j != except && names[j][0] != '\0') {
            send(j, msg, strlen(msg), 0);
        }
    }
}

int main(int argc, char *argv[])
{
    int listener, newfd, maxfd, i, n;
    struct sockaddr_in addr, cliaddr;
    socklen_t addrlen;
    fd_set master, readfds;
    char buf[BUFLEN];
    char msg[BUFLEN + 64];

    if (argc != 2) {
        printf("usage: %s port\n", argv[0]);
        return 1;
    }

    listener = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = INADDR_ANY;
    addr.sin_port = htons(atoi(argv[1]));
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1) {
        perror("bind");
        exit(1);
    }
    listen(listener, 10);

    FD_ZERO(&master);
    FD_SET(listener, &master);
    maxfd = listener;
    printf("chat server on port %s\n", argv[1]);

    for (;;) {
        readfds = master;
        if (select(maxfd + 1, &readfds, NULL, NULL, NULL) == -1) {
            perror("select");
            exit(2);
        }
        for (i = 0; i <= maxfd; i++) {
            if (!FD_ISSET(i, &readfds))
                continue;
            if (i == listener) {
                addrlen = sizeof cliaddr;
                newfd = accept(listener, (struct sockaddr *)&cliaddr, &addrlen);
                if (newfd == -1) {
                    perror("accept");
                    continue;
                }
                FD_SET(newfd, &master);
                if (newfd > maxfd)
                    maxfd = newfd;
                names[newfd][0] = '\0';
                printf("new connection from %s on socket %d\n", inet_ntoa(cliaddr.sin_addr), newfd);
            } else {
                n = recv(i, buf, sizeof buf - 1, 0);
                if (n <= 0) {
                    if (n == 0)
                        printf("socket %d hung up\n", i);
                    else
                        perror("recv");
                    close(i);
                    FD_CLR(i, &master);
                    continue;
                }
                buf[n] = '\0';
                if (strncmp(buf, "NICK ", 5) == 0) {
                    strncpy(names[i], buf + 5, sizeof names[i] - 1);
                    names[i][strcspn(names[i], "\r\n")] = '\0';
                    sprintf(msg, "* %s joined\n", names[i]);
                    broadcast(&master, maxfd, listener, i, msg);
                } else {
                    sprintf(msg, "%s: %s", names[i], buf);
                    broadcast(&master, maxfd, listener, i, msg);
                }
            }
        }
    }
    return 0;
}
