/* Pre-forked echo server: two worker processes share the listening socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 2

static void serve(int lfd)
{
    char buf[4096];
    for (;;) {
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0)
            continue;
        ssize_t n;
        while ((n = recv(cfd, buf, sizeof buf, 0)) > 0) {
            ssize_t off = 0;
            while (off < n) {
                ssize_t w = send(cfd, buf + off, n - off, 0);
                if (w <= 0)
                    break;
                off += w;
            }
            if (off < n)
                break;
        }
        close(cfd);
    }
}

int main(int argc, char *argv[])
{
    struct sockaddr_in addr;
    int lfd, one = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
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
    for (int i = 0; i < WORKERS; i++)
        if (fork() == 0)
            serve(lfd);
    while (wait(NULL) > 0)
        ;
    return 0;
}
