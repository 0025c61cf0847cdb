/* Key-value store server: one process, poll() over all clients, so every
 * client sees the same store.
 *
 * Each client has an input buffer (commands may arrive several at once or in
 * pieces: only complete lines are executed) and an output buffer of replies
 * not yet sent.  While a client has many replies pending (it sends commands
 * but does not read), we stop reading its commands until it catches up. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXCLIENTS 256
#define MAXKEY 250
#define MAXVALUE 65536
#define INMAX (4 + MAXKEY + 1 + MAXVALUE + 2)    /* "SET " key " " value "\r\n" */
#define OUTHIGH (1 << 20)                          /* stop reading above this much unsent */
#define NBUCKETS 4096

/* ---- the store: a hash table of binary keys and values ---- */

struct entry {
    struct entry *next;
    size_t klen, vlen;
    char key[MAXKEY];
    char *value;
};

static struct entry *bucket[NBUCKETS];

static struct entry **find(const char *key, size_t klen)
{
    unsigned long h = 5381;
    struct entry **e;
    size_t i;

    for (i = 0; i < klen; i++)
        h = h * 33 + (unsigned char)key[i];
    for (e = &bucket[h % NBUCKETS]; *e; e = &(*e)->next)
        if ((*e)->klen == klen && memcmp((*e)->key, key, klen) == 0)
            break;
    return e;           /* where the entry is, or where it would go */
}

static int set(const char *key, size_t klen, const char *value, size_t vlen)
{
    struct entry **pe = find(key, klen), *e = *pe;
    char *v = malloc(vlen ? vlen : 1);

    if (v == NULL)
        return -1;
    if (e == NULL) {
        e = calloc(1, sizeof *e);
        if (e == NULL) {
            free(v);
            return -1;
        }
        memcpy(e->key, key, klen);
        e->klen = klen;
        *pe = e;
    }
    free(e->value);
    memcpy(v, value, vlen);
    e->value = v;
    e->vlen = vlen;
    return 0;
}

static int del(const char *key, size_t klen)
{
    struct entry **pe = find(key, klen), *e = *pe;

    if (e == NULL)
        return 0;
    *pe = e->next;
    free(e->value);
    free(e);
    return 1;
}

/* ---- clients ---- */

struct client {
    int fd;             /* -1: free slot */
    int eof;            /* the client has finished sending: close once the replies are out */
    char *in;
    size_t inlen;
    char *out;
    size_t outlen, outoff, outcap;
};

static struct pollfd pfd[MAXCLIENTS + 1];     /* slot 0: the listening socket */
static struct client cl[MAXCLIENTS + 1];

static int reply(struct client *c, const char *a, size_t alen, const char *b, size_t blen)
{
    size_t need = c->outlen + alen + blen + 1;

    if (need > c->outcap) {
        size_t cap = c->outcap ? c->outcap : 4096;
        char *p;
        while (cap < need)
            cap *= 2;
        if ((p = realloc(c->out, cap)) == NULL)
            return -1;
        c->out = p;
        c->outcap = cap;
    }
    memcpy(c->out + c->outlen, a, alen);
    memcpy(c->out + c->outlen + alen, b, blen);
    c->out[need - 1] = '\n';
    c->outlen = need;
    return 0;
}

static int say(struct client *c, const char *s)
{
    return reply(c, s, strlen(s), "", 0);
}

/* Malformed commands are skipped. */
static int execute(struct client *c, char *line, size_t len)
{
    char *key, *value = NULL, *sp;
    size_t cmdlen, klen, vlen = 0;
    struct entry *e;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    sp = memchr(line, ' ', len);
    cmdlen = sp ? (size_t)(sp - line) : len;
    if (cmdlen != 3 || (memcmp(line, "SET", 3) != 0 && memcmp(line, "GET", 3) != 0 &&
                        memcmp(line, "DEL", 3) != 0))
        return 0;
    if (sp == NULL)
        return 0;
    key = sp + 1;
    klen = len - cmdlen - 1;
    sp = memchr(key, ' ', klen);
    if (line[0] == 'S') {
        if (sp == NULL)
            return 0;
        value = sp + 1;
        vlen = klen - (size_t)(sp - key) - 1;
        klen = (size_t)(sp - key);
    } else if (sp != NULL) {
        return 0;
    }
    if (klen == 0)
        return 0;
    if (klen > MAXKEY)
        return 0;
    if (vlen > MAXVALUE)
        return 0;

    switch (line[0]) {
    case 'S':
        return set(key, klen, value, vlen) < 0 ? say(c, "ERROR out of memory") : say(c, "OK");
    case 'G':
        e = *find(key, klen);
        return e ? reply(c, "VALUE ", 6, e->value, e->vlen) : say(c, "NOT_FOUND");
    default:
        return say(c, del(key, klen) ? "OK" : "NOT_FOUND");
    }
}

static void drop(int i)
{
    close(cl[i].fd);
    free(cl[i].in);
    free(cl[i].out);
    memset(&cl[i], 0, sizeof cl[i]);
    cl[i].fd = pfd[i].fd = -1;
}

/* Returns -1 on a reset or error: the connection must be dropped. */
static int readable(struct client *c)
{
    size_t start = 0, k;
    ssize_t n;

    n = recv(c->fd, c->in + c->inlen, INMAX - c->inlen, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n < 0)
        return -1;
    if (n == 0) {
        c->eof = 1;                     /* an unterminated last line is ignored */
        return 0;
    }
    for (k = c->inlen; k < c->inlen + (size_t)n; k++)
        if (c->in[k] == '\n') {
            if (execute(c, c->in + start, k - start) < 0)
                return -1;
            start = k + 1;
        }
    c->inlen += (size_t)n;
    if (start == 0 && c->inlen == INMAX) {
        c->eof = 1;                     /* answer, then hang up */
        return 0;
    }
    memmove(c->in, c->in + start, c->inlen - start);
    c->inlen -= start;
    return 0;
}

static int writable(struct client *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->outoff += (size_t)n;
    }
    c->outoff = c->outlen = 0;
    return 0;
}

static void accept_client(int lfd)
{
    int fd, i;

    fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return;
    for (i = 1; i <= MAXCLIENTS && cl[i].fd >= 0; i++)
        ;
    if (i > MAXCLIENTS || (cl[i].in = malloc(INMAX)) == NULL) {
        close(fd);              /* full: turn the client away */
        return;
    }
    cl[i].fd = pfd[i].fd = fd;
}

int main(int argc, char *argv[])
{
    struct sockaddr_in addr;
    int lfd, i, one = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

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
        for (i = 1; i <= MAXCLIENTS; i++) {
            pfd[i].events = !cl[i].eof && cl[i].outlen - cl[i].outoff < OUTHIGH ? POLLIN : 0;
            if (cl[i].outlen > cl[i].outoff)
                pfd[i].events |= POLLOUT;
        }
        if (poll(pfd, MAXCLIENTS + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            return 1;
        }
        if (pfd[0].revents & POLLIN)
            accept_client(lfd);
        for (i = 1; i <= MAXCLIENTS; i++) {
            if (cl[i].fd < 0 || !pfd[i].revents)
                continue;
            if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && !cl[i].eof &&
                readable(&cl[i]) < 0) {
                drop(i);
                continue;
            }
            if (writable(&cl[i]) < 0 || (cl[i].eof && cl[i].outlen == 0))
                drop(i);
        }
    }
}
