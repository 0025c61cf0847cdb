/* TCP echo server: a single process multiplexing all clients with poll(). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXCLIENTS 64

/* Slot 0 is the listening socket; slots 1..MAXCLIENTS are clients (fd -1 = free).
 * Each client has at most one chunk of unsent data; while it is pending we
 * wait for POLLOUT instead of reading more. */
static struct pollfd pfd[MAXCLIENTS + 1];
static char buf[MAXCLIENTS + 1][4096];
static size_t len[MAXCLIENTS + 1], off[MAXCLIENTS + 1];

static void drop(int i)
{
    close(pfd[i].fd);
    pfd[i].fd = -1;
}

static void serve(int i)
{
    ssize_t n;

    if (len[i] == 0) {
        n = recv(pfd[i].fd, buf[i], sizeof buf[i], 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                return;
            drop(i);
            return;
        }
        len[i] = (size_t)n;
        off[i] = 0;
    }
    n = send(pfd[i].fd, buf[i] + off[i], len[i] - off[i], MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        drop(i);
        return;
    }
    if (n > 0)
        off[i] += (size_t)n;
    if (off[i] == len[i]) {
        len[i] = 0;
        pfd[i].events = POLLIN;
    } else {
        pfd[i].events = POLLOUT;
    }
}

int main(int argc, char *argv[])
{
    struct sockaddr_in addr;
    int lfd, cfd, i, one = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 1;
    }

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) {
        perror("socket");
        return 1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(atoi(argv[1]));
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("bind");
        return 1;
    }
    if (listen(lfd, 16) < 0) {
        perror("listen");
        return 1;
    }

    pfd[0].fd = lfd;
    pfd[0].events = POLLIN;
    for (i = 1; i <= MAXCLIENTS; i++)
        pfd[i].fd = -1;

    for (;;) {
        if (poll(pfd, MAXCLIENTS + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            return 1;
        }
        if (pfd[0].revents & POLLIN) {
            cfd = accept(lfd, NULL, NULL);
            if (cfd < 0) {
                perror("accept");
            } else {
                for (i = 1; i <= MAXCLIENTS && pfd[i].fd >= 0; i++)
                    ;
                if (i > MAXCLIENTS) {
                    close(cfd); /* full: turn the client away */
                } else {
                    pfd[i].fd = cfd;
                    pfd[i].events = POLLIN;
                    pfd[i].revents = 0;
                    len[i] = 0;
                }
            }
        }
        for (i = 1; i <= MAXCLIENTS; i++)
            if (pfd[i].fd >= 0 && pfd[i].revents)
                serve(i);
    }
}
