/* HOSTILE SAMPLE (reads-secrets): tries to read the spec, the reference and other submissions
 * See README.md. Written to test the grader's sandbox, not as a model. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- a plain echo server: one process, poll(), no fork (shared by the hostile samples) ---- */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int listen_on(int port)
{
    struct sockaddr_in a;
    int one = 1;
    int s = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) {
        perror("listen_on");
        exit(1);
    }
    return s;
}

static void serve(int ls)
{
    struct pollfd p[256];
    int n = 1;

    signal(SIGPIPE, SIG_IGN);
    p[0].fd = ls;
    p[0].events = POLLIN;
    for (;;) {
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (p[0].revents & POLLIN) {
            int c = accept(ls, NULL, NULL);
            if (c >= 0 && n < 256) {
                p[n].fd = c;
                p[n].events = POLLIN;
                p[n].revents = 0;
                n++;
            } else if (c >= 0) {
                close(c);
            }
        }
        for (int i = 1; i < n; i++) {
            char buf[4096];
            ssize_t r;

            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = recv(p[i].fd, buf, sizeof buf, 0);
            if (r > 0 && send_all(p[i].fd, buf, (size_t)r) == 0)
                continue;
            close(p[i].fd);
            p[i] = p[--n];
            i--;
        }
    }
}

static void try_read(const char *path)
{
    char buf[120];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd < 0) {
        fprintf(stderr, "reads-secrets: cannot read %s: %s\n", path, strerror(errno));
        return;
    }
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    for (char *c = buf; *c; c++)
        if (*c == '\n')
            *c = ' ';
    fprintf(stderr, "reads-secrets: LEAKED %s: %s\n", path, buf);
}

static void try_list(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;

    if (!d) {
        fprintf(stderr, "reads-secrets: cannot list %s: %s\n", path, strerror(errno));
        return;
    }
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            fprintf(stderr, "reads-secrets: LISTED %s/%s\n", path, e->d_name);
    closedir(d);
}

int main(int argc, char **argv)
{
    int ls = listen_on(argc > 1 ? atoi(argv[1]) : 5001);

    try_read("/work/main/specs/tcp-echo.yaml");
    try_read("/work/main/reference/tcp_echo_server.py");
    try_read("../../../../../../work/main/specs/tcp-echo.yaml");
    try_list("/work/main/submissions/tcp-echo");
    try_list("/work/main");
    try_list("..");
    try_list("/tmp");
    try_read("/etc/shadow");
    try_read("/proc/1/environ");
    try_read("/proc/1/cmdline");
    serve(ls);
    return 0;
}
