/* SMTP client: ./client HOST PORT FROM TO < mail
 * Sends standard input as one mail.  Replies are read line by line through a
 * buffer (a reply may come in pieces, or in several lines "250-..." ending with
 * "250 ..."); each reply's code is checked. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd;
static char inbuf[8192];
static size_t inlen;
static char last[1024];          /* the last line of the last reply */

static int send_all(const char *buf, size_t len) {
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

/* One line of the server's reply, without its CR LF; -1 at the end of the stream. */
static int read_line(char *line, size_t cap) {
    for (;;) {
        char *nl = memchr(inbuf, '\n', inlen);
        if (nl) {
            size_t n = (size_t)(nl - inbuf) + 1;
            size_t keep = n - 1 < cap - 1 ? n - 1 : cap - 1;
            memcpy(line, inbuf, keep);
            if (keep > 0 && line[keep - 1] == '\r') keep--;
            line[keep] = 0;
            memmove(inbuf, inbuf + n, inlen - n);
            inlen -= n;
            return 0;
        }
        if (inlen == sizeof inbuf) return -1;
        ssize_t r = recv(fd, inbuf + inlen, sizeof inbuf - inlen, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        inlen += (size_t)r;
    }
}

/* A whole reply (its last line is "CODE text"); 0 if its code is the one wanted. */
static int reply(const char *code) {
    do {
        if (read_line(last, sizeof last) < 0) {
            strcpy(last, "(the server closed the connection)");
            return -1;
        }
    } while (strlen(last) >= 4 && last[3] == '-');
    return strncmp(last, code, 3) == 0 ? 0 : -1;
}

static int command(const char *line, const char *code) {
    char buf[1100];
    int n = snprintf(buf, sizeof buf, "%s\n", line);     /* BUG: \n alone, not \r\n */
    if (send_all(buf, (size_t)n) < 0) return -1;
    return reply(code);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST PORT FROM TO < mail\n", argv[0]);
        return 2;
    }
    size_t cap = 65536, len = 0;
    char *mail = malloc(cap);
    size_t n;
    while ((n = fread(mail + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) mail = realloc(mail, cap *= 2);
    }
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "client: bad address %s\n", argv[1]);
        return 1;
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("connect");
        return 1;
    }
    char line[1100];
    int ok = reply("220") == 0 && command("HELO client.example", "250") == 0;
    if (ok) {
        snprintf(line, sizeof line, "MAIL FROM:<%s>", argv[3]);
        ok = command(line, "250") == 0;
    }
    if (ok) {
        snprintf(line, sizeof line, "RCPT TO:<%s>", argv[4]);
        ok = command(line, "250") == 0;
    }
    if (ok) ok = command("DATA", "354") == 0;
    if (ok) {
        /* The mail, line by line: CR LF ends, a leading "." doubled. */
        size_t start = 0;
        while (ok && start < len) {
            char *nl = memchr(mail + start, '\n', len - start);
            size_t end = nl ? (size_t)(nl - mail) : len;
            size_t stop = end > start && mail[end - 1] == '\r' ? end - 1 : end;
            if (mail[start] == '.' && send_all(".", 1) < 0) ok = 0;
            if (ok && (send_all(mail + start, stop - start) < 0 || send_all("\n", 1) < 0)) ok = 0;
            start = end + 1;
        }
        if (ok && send_all(".\n", 2) < 0) ok = 0;
        if (ok) ok = reply("250") == 0;
    }
    if (!ok) {
        fprintf(stderr, "client: the server refused: %s\n", last);
        command("QUIT", "221");
        close(fd);
        return 1;
    }
    if (command("QUIT", "221") < 0) {
        fprintf(stderr, "client: QUIT: %s\n", last);
        return 1;
    }
    close(fd);
    return 0;
}
