/* HOSTILE SAMPLE (connects-outside): tries to reach a non-loopback address (only when it is in a box)
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
#include <sys/select.h>
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

/* TEST-NET-1 (RFC 5737): reserved for documentation, never routed. */
#define OUTSIDE "192.0.2.1"

/* Safety: only try when the only interface that is up is the loopback, i.e.
 * when we are in a sandbox's network namespace. Unsandboxed, no packet leaves. */
static int only_loopback(void)
{
    struct ifaddrs *all, *i;
    int only = 1;

    if (getifaddrs(&all) < 0)
        return 0;
    for (i = all; i; i = i->ifa_next)
        if ((i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK))
            only = 0;
    freeifaddrs(all);
    return only;
}

static void try_outside(void)
{
    struct sockaddr_in a;
    int s = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(80);
    inet_pton(AF_INET, OUTSIDE, &a.sin_addr);
    fcntl(s, F_SETFL, O_NONBLOCK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) == 0 || errno == EINPROGRESS)
        fprintf(stderr, "connects-outside: a connection to %s is under way (NOT isolated)\n", OUTSIDE);
    else
        fprintf(stderr, "connects-outside: connect to %s failed at once: %s\n", OUTSIDE, strerror(errno));
    close(s);
}

int main(int argc, char **argv)
{
    int ls = listen_on(argc > 1 ? atoi(argv[1]) : 5001);

    if (only_loopback())
        try_outside();
    else
        fprintf(stderr, "connects-outside: not in a box (a non-loopback interface is up): not trying\n");
    serve(ls);
    return 0;
}
