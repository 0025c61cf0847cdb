/* File-transfer server: fork() per client, files from the current directory.
 *
 * Request:  "GET <name>\n"
 * Answer:   8-byte big-endian length, then the file's bytes; or, when the
 *           name is not allowed or not a regular file, 8 bytes 0xFF. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void reap(int sig)
{
    int saved = errno;

    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = saved;
}

static int send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read the request line (without '\n') into line; -1 if it never comes whole. */
static int read_request(int fd, char *line, size_t size)
{
    size_t len = 0;
    char *nl;
    ssize_t n;

    for (;;) {
        n = recv(fd, line + len, size - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        len += (size_t)n;
        line[len] = '\0';
        nl = memchr(line, '\n', len);
        if (nl != NULL) {
            *nl = '\0';
            return 0;
        }
        if (len == size - 1)
            return -1;
    }
}

static void put_be64(unsigned char *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static void serve(int cfd)
{
    static const unsigned char not_found[8] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
    };
    static char buf[65536];
    char line[1024];
    unsigned char hdr[8];
    const char *name;
    struct stat st;
    FILE *f;
    int fd;

    if (read_request(cfd, line, sizeof line) < 0)
        return;
    if (strncmp(line, "GET ", 4) != 0) {
        send_all(cfd, not_found, 8);
        return;
    }
    name = line + 4;
    /* only plain names in this directory: no "/", no ".", "..", dot files */
    if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL) {
        send_all(cfd, not_found, 8);
        return;
    }
    /* O_NONBLOCK: opening a FIFO must not hang (no effect on regular files) */
    fd = open(name, O_RDONLY | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (f = fdopen(fd, "rb")) == NULL) {
        if (fd >= 0)
            close(fd);
        send_all(cfd, not_found, 8);
        return;
    }
    put_be64(hdr, (uint64_t)st.st_size);
    if (send_all(cfd, hdr, 8) == 0) {
        while (fgets(buf, sizeof buf, f) != NULL)
            if (send_all(cfd, buf, strlen(buf)) < 0)
                break;
    }
    fclose(f);
}

int main(int argc, char *argv[])
{
    struct sockaddr_in addr;
    struct sigaction sa;
    int lfd, cfd, one = 1;
    pid_t pid;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reap;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);

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

    for (;;) {
        cfd = accept(lfd, NULL, NULL);
        if (cfd < 0) {
            if (errno != EINTR)
                perror("accept");
            continue;
        }
        pid = fork();
        if (pid < 0) {
            perror("fork");
        } else if (pid == 0) {
            close(lfd);
            serve(cfd);
            close(cfd);
            _exit(0);
        }
        close(cfd);
    }
}
