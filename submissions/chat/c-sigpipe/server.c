/* Chat server: one process, poll() over all clients.
 *
 * Every client has an input buffer (the unfinished line) and an output buffer
 * (what could not be sent yet).  Sends never block: what the kernel does not
 * take now waits in the output buffer until poll() says POLLOUT.  A client
 * whose send or recv fails is only marked; it is removed (and "left" is
 * announced) after the current event, so removing never happens in the middle
 * of a loop over the clients. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXCLIENTS 256
#define LINEMAX 4096            /* longer lines are cut into pieces of this size */
#define OUTMAX (4 << 20)        /* a client with this much unsent output is not reading: drop it */

struct client {
    int fd;                     /* -1: free slot */
    int dead;
    char name[33];              /* "" until NICK */
    char in[LINEMAX];
    size_t inlen;
    char *out;
    size_t outlen, outoff, outcap;
};

static struct pollfd pfd[MAXCLIENTS + 1];     /* slot 0: the listening socket */
static struct client cl[MAXCLIENTS + 1];

static void flush(struct client *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->dead = 1;
            break;
        }
        c->outoff += (size_t)n;
    }
    if (c->outoff == c->outlen)
        c->outoff = c->outlen = 0;
}

static void queue(struct client *c, const char *data, size_t len)
{
    if (c->dead)
        return;
    if (c->outoff > 0 && c->outoff == c->outlen)
        c->outoff = c->outlen = 0;
    if (c->outlen + len > c->outcap) {
        size_t cap = c->outcap ? c->outcap : 4096;
        char *p;
        while (cap < c->outlen + len)
            cap *= 2;
        if (c->outlen + len > OUTMAX || (p = realloc(c->out, cap)) == NULL) {
            c->dead = 1;
            return;
        }
        c->out = p;
        c->outcap = cap;
    }
    memcpy(c->out + c->outlen, data, len);
    c->outlen += len;
    flush(c);
}

/* Send to every named client except the sender. */
static void broadcast(int from, const char *data, size_t len)
{
    int i;

    for (i = 1; i <= MAXCLIENTS; i++)
        if (i != from && cl[i].fd >= 0 && cl[i].name[0])
            queue(&cl[i], data, len);
}

static int valid_name(const char *s, size_t len)
{
    size_t i;

    if (len < 1 || len > 32)
        return 0;
    for (i = 0; i < len; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
            !(s[i] >= '0' && s[i] <= '9') && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

static void line(int i, const char *s, size_t len)
{
    static char msg[LINEMAX + 64];
    struct client *c = &cl[i];
    int n;

    if (!c->name[0]) {
        if (len > 5 && memcmp(s, "NICK ", 5) == 0 && valid_name(s + 5, len - 5)) {
            memcpy(c->name, s + 5, len - 5);
            c->name[len - 5] = '\0';
            n = snprintf(msg, sizeof msg, "* %s joined\n", c->name);
            broadcast(i, msg, (size_t)n);
        }
        return;                 /* lines before NICK are ignored */
    }
    n = snprintf(msg, sizeof msg, "%s: ", c->name);
    memcpy(msg + n, s, len);    /* the text may contain any byte but '\n' */
    msg[n + len] = '\n';
    broadcast(i, msg, (size_t)n + len + 1);
}

static void readable(int i)
{
    struct client *c = &cl[i];
    size_t start, k;
    ssize_t n;

    n = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {               /* EOF or reset: the client is gone */
        flush(c);
        c->dead = 1;
        return;
    }
    c->inlen += (size_t)n;
    start = 0;
    for (k = 0; k < c->inlen; k++)
        if (c->in[k] == '\n') {
            line(i, c->in + start, k - start);
            start = k + 1;
        }
    if (start == 0 && c->inlen == sizeof c->in) {
        line(i, c->in, c->inlen);       /* a line too long for the buffer: cut */
        start = c->inlen;
    }
    memmove(c->in, c->in + start, c->inlen - start);
    c->inlen -= start;
}

/* Remove the clients marked dead; announcing a departure may kill more. */
static void reap(void)
{
    static char msg[64];
    int i, again = 1, n;

    while (again) {
        again = 0;
        for (i = 1; i <= MAXCLIENTS; i++)
            if (cl[i].fd >= 0 && cl[i].dead) {
                close(cl[i].fd);
                cl[i].fd = -1;
                pfd[i].fd = -1;
                free(cl[i].out);
                cl[i].out = NULL;
                if (cl[i].name[0]) {
                    n = snprintf(msg, sizeof msg, "* %s left\n", cl[i].name);
                    broadcast(i, msg, (size_t)n);
                    again = 1;
                }
            }
    }
}

static void accept_client(int lfd)
{
    int fd, i;

    fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return;                 /* e.g. the client already reset */
    for (i = 1; i <= MAXCLIENTS && cl[i].fd >= 0; i++)
        ;
    if (i > MAXCLIENTS) {
        close(fd);              /* full: turn the client away */
        return;
    }
    memset(&cl[i], 0, sizeof cl[i]);
    cl[i].fd = fd;
    pfd[i].fd = fd;
}

int main(int argc, char *argv[])
{
    struct sockaddr_in addr;
    int lfd, i, one = 1;

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
    if (listen(lfd, 64) < 0) {
        perror("listen");
        return 1;
    }

    pfd[0].fd = lfd;
    pfd[0].events = POLLIN;
    for (i = 1; i <= MAXCLIENTS; i++)
        cl[i].fd = pfd[i].fd = -1;

    for (;;) {
        for (i = 1; i <= MAXCLIENTS; i++)
            pfd[i].events = cl[i].outlen > cl[i].outoff ? POLLIN | POLLOUT : POLLIN;
        if (poll(pfd, MAXCLIENTS + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            return 1;
        }
        if (pfd[0].revents & POLLIN)
            accept_client(lfd);
        for (i = 1; i <= MAXCLIENTS; i++) {
            if (cl[i].fd < 0 || pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            if (pfd[i].revents & POLLOUT)
                flush(&cl[i]);
            if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && !cl[i].dead)
                readable(i);
            reap();
        }
    }
}
