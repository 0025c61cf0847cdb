/* HOSTILE SAMPLE (file-vandal): rewrites its own files and tries to write outside its work dir (only in a box)
 * See README.md. Written to test the grader's sandbox, not as a model. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

static void attempt(const char *what, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 04755);
    if (fd >= 0) {
        dprintf(fd, "vandalised\n");
        close(fd);
        fprintf(stderr, "file-vandal: WROTE %s (%s)\n", path, what);
    } else {
        fprintf(stderr, "file-vandal: could not write %s (%s): %s\n", path, what, strerror(errno));
    }
}

/* Safety: only attack outside the work dir inside a box: the grader's specs
 * are invisible and the only interface up is the loopback. Unsandboxed as
 * root these writes would succeed. */
static int in_a_box(void)
{
    struct ifaddrs *all, *i;
    int only = 1;

    if (access("/work/main/specs", F_OK) == 0 || getifaddrs(&all) < 0)
        return 0;
    for (i = all; i; i = i->ifa_next)
        if ((i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK))
            only = 0;
    freeifaddrs(all);
    return only;
}

int main(int argc, char **argv)
{
    int ls = listen_on(argc > 1 ? atoi(argv[1]) : 5001);
    char cwd[4096], up[4200];

    /* Its own work dir: allowed (it is a copy), but the grader must not care. */
    unlink("server.c");
    attempt("own work dir", "README.md");
    attempt("own work dir, setuid bit", "suid-file");
    if (!in_a_box()) {
        fprintf(stderr, "file-vandal: not in a box (the specs are visible or a non-loopback "
                        "interface is up): not writing outside the work dir\n");
        serve(ls);
        return 0;
    }
    /* Outside it: none of these may succeed in a box. */
    if (getcwd(cwd, sizeof cwd)) {
        snprintf(up, sizeof up, "%s/../escaped.txt", cwd);
        attempt("parent of the work dir", up);
    }
    attempt("the grader's specs", "/work/main/specs/tcp-echo.yaml");
    attempt("the reference", "/work/main/reference/tcp_echo_server.py");
    attempt("system file", "/etc/passwd");
    attempt("system dir", "/usr/bin/socket-grader-was-here");
    attempt("root's home", "/root/.bashrc");
    attempt("shared tmp", "/tmp/socket-grader-vandal.txt");
    attempt("shared memory", "/dev/shm/socket-grader-vandal");
    serve(ls);
    return 0;
}
