/* TCP echo client: stdin -> server, server -> stdout, using poll() so that
 * sending and receiving overlap (no deadlock on large inputs). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
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

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints, *res, *ai;
    int fd = -1, err;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    err = getaddrinfo(host, port, &hints, &res);
    if (err != 0) {
        fprintf(stderr, "%s: %s\n", host, gai_strerror(err));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno;
        close(fd);
        errno = err;
        fd = -1;
    }
    if (fd < 0)
        perror("connect");
    freeaddrinfo(res);
    return fd;
}

int main(int argc, char *argv[])
{
    char in[4096], out[4096];
    size_t len = 0, off = 0;
    struct pollfd pfd[2];
    ssize_t n;
    int fd, eof = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 1;
    }
    while ((fd = connect_to(argv[1], argv[2])) < 0)
        sleep(1); /* the server may not be up yet: try again */

    for (;;) {
        /* read stdin only once the previous chunk has been sent */
        pfd[0].fd = (!eof && off == len) ? 0 : -1;
        pfd[0].events = POLLIN;
        pfd[1].fd = fd;
        pfd[1].events = off < len ? POLLIN | POLLOUT : POLLIN;
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            return 1;
        }
        if (pfd[0].revents) {
            n = read(0, in, sizeof in);
            if (n < 0) {
                perror("read");
                return 1;
            }
            if (n == 0) {
                eof = 1;
                shutdown(fd, SHUT_WR); /* tell the server we are done */
            } else {
                len = (size_t)n;
                off = 0;
            }
        }
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(fd, out, sizeof out, 0);
            if (n < 0) {
                perror("recv");
                return 1;
            }
            if (n == 0)
                break; /* server closed: all echoed data received */
            if (write_all(1, out, (size_t)n) < 0) {
                perror("write");
                return 1;
            }
        }
        if (pfd[1].revents & POLLOUT) {
            n = send(fd, in + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN) {
                perror("send");
                return 1;
            }
            if (n > 0)
                off += (size_t)n;
        }
    }
    close(fd);
    return 0;
}
