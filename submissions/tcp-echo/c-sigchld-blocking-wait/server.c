/* echo server, fork() per client - lab 3 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

/* reap dead children so they don't become zombies */
void sigchld_handler(int sig)
{
    int status;
    while (waitpid(-1, &status, 0) > 0)
        ;
}

void handle_client(int fd)
{
    char buf[1024];
    int n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        int off = 0;
        while (off < n) {
            int w = write(fd, buf + off, n - off);
            if (w < 0) return;
            off += w;
        }
    }
}

int main(int argc, char **argv)
{
    int listenfd, connfd, opt = 1;
    struct sockaddr_in addr;

    if (argc != 2) {
        fprintf(stderr, "usage: %s port\n", argv[0]);
        exit(1);
    }
    signal(SIGCHLD, sigchld_handler);
    signal(SIGPIPE, SIG_IGN);

    listenfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listenfd, SOL_SOCKET, SO_REUSEADDR, &opt, sizeof(opt));
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(atoi(argv[1]));
    if (bind(listenfd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        perror("bind");
        exit(1);
    }
    listen(listenfd, 10);

    for (;;) {
        connfd = accept(listenfd, NULL, NULL);
        if (connfd < 0) {
            if (errno == EINTR) continue;
            perror("accept");
            continue;
        }
        if (fork() == 0) {
            close(listenfd);
            handle_client(connfd);
            close(connfd);
            exit(0);
        }
        close(connfd);
    }
}
