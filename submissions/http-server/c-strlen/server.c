/* Web server (HTTP/1.0 and 1.1): ./server PORT serves the files of its working
 * directory.  One child process per connection (fork), SIGCHLD ignored so the
 * children are reaped, SIGPIPE ignored so a client that leaves costs only its
 * connection.  BUG: a file's length is strlen() of its content.  Each request head is read up to the empty line "\r\n\r\n", however
 * many recv() calls that takes. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_MAX 8192

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

static const char *content_type(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot) return "application/octet-stream";
    if (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm")) return "text/html";
    if (!strcasecmp(dot, ".txt")) return "text/plain";
    if (!strcasecmp(dot, ".png")) return "image/png";
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")) return "image/jpeg";
    return "application/octet-stream";
}

static int send_error(int fd, int code, const char *reason, int close_after) {
    char body[128], head[256];
    int blen = snprintf(body, sizeof body, "<html><body><h1>%d %s</h1></body></html>\n", code, reason);
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 %d %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\n%s\r\n",
                        code, reason, blen, close_after ? "Connection: close\r\n" : "");
    if (send_all(fd, head, (size_t)hlen) < 0) return -1;
    return send_all(fd, body, (size_t)blen);
}

/* %xx -> byte, in place. */
static void url_decode(char *s) {
    char *out = s;
    for (; *s; s++) {
        if (*s == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            char hex[3] = {s[1], s[2], 0};
            *out++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *out++ = *s;
        }
    }
    *out = 0;
}

static int has_dotdot(const char *path) {
    const char *p = path;
    while ((p = strstr(p, "..")) != NULL) {
        int start = (p == path || p[-1] == '/');
        int end = (p[2] == 0 || p[2] == '/');
        if (start && end) return 1;
        p += 2;
    }
    return 0;
}

static int send_file(int fd, const char *path, int close_after) {
    int f = open(path, O_RDONLY);
    struct stat st;
    if (f < 0 || fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (f >= 0) close(f);
        return send_error(fd, 404, "Not Found", close_after);
    }
    char *data = calloc(1, (size_t)st.st_size + 1);
    size_t got = 0;
    ssize_t n;
    while (got < (size_t)st.st_size && (n = read(f, data + got, (size_t)st.st_size - got)) > 0)
        got += (size_t)n;
    close(f);
    size_t len = strlen(data);       /* BUG: stops at the first NUL byte of binary files */
    char head[512];
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
                        content_type(path), len, close_after ? "Connection: close\r\n" : "");
    int rc = send_all(fd, head, (size_t)hlen) < 0 || send_all(fd, data, len) < 0 ? -1 : 0;
    free(data);
    return rc;
}

/* Answer one request head; returns 1 to keep the connection, 0 to close it. */
static int handle(int fd, char *head) {
    char method[16], target[2048];
    int minor = -1;
    char *eol = strstr(head, "\r\n");
    if (eol) *eol = 0;
    char extra;
    if (sscanf(head, "%15s %2047s HTTP/1.%d%c", method, target, &minor, &extra) != 3 ||
        (minor != 0 && minor != 1) || target[0] != '/') {
        send_error(fd, 400, "Bad Request", 1);
        return 0;
    }
    int keep = (minor == 1);
    for (char *line = eol ? eol + 2 : NULL; line && *line; ) {
        char *next = strstr(line, "\r\n");
        if (next) *next = 0;
        char *colon = strchr(line, ':');
        if (!colon) { send_error(fd, 400, "Bad Request", 1); return 0; }
        *colon = 0;
        char *value = colon + 1;
        while (*value == ' ') value++;
        if (!strcasecmp(line, "Connection")) {
            if (!strcasecmp(value, "close")) keep = 0;
            if (!strcasecmp(value, "keep-alive")) keep = 1;
        }
        line = next ? next + 2 : NULL;
    }
    if (strcmp(method, "GET") != 0)
        return send_error(fd, 501, "Not Implemented", !keep) < 0 ? 0 : keep;
    char *q = strchr(target, '?');
    if (q) *q = 0;
    url_decode(target);
    if (has_dotdot(target))
        return send_error(fd, 403, "Forbidden", !keep) < 0 ? 0 : keep;
    char path[2100];
    snprintf(path, sizeof path, "%s%s", target + 1,
             target[strlen(target) - 1] == '/' ? "index.html" : "");
    return send_file(fd, path, !keep) < 0 ? 0 : keep;
}

static void serve(int fd) {
    char buf[HEAD_MAX + 1];
    size_t have = 0;
    for (;;) {
        char *end;
        buf[have] = 0;
        while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
            if (have == HEAD_MAX) { send_error(fd, 400, "Bad Request", 1); return; }
            ssize_t n = recv(fd, buf + have, HEAD_MAX - have, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;
            have += (size_t)n;
            buf[have] = 0;
            if (memchr(buf, 0, have)) { send_error(fd, 400, "Bad Request", 1); return; }
        }
        size_t used = (size_t)(end - buf) + 4;
        char head[HEAD_MAX + 1];
        memcpy(head, buf, used - 2);
        head[used - 2] = 0;
        memmove(buf, buf + used, have - used);
        have -= used;
        if (!handle(fd, head)) return;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("bind");
        return 1;
    }
    if (listen(ls, 64) < 0) {
        perror("listen");
        return 1;
    }
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        pid_t pid = fork();
        if (pid == 0) {
            close(ls);
            serve(fd);
            close(fd);
            _exit(0);
        }
        close(fd);
    }
}
