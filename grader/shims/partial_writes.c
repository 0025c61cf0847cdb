/*
 * socket-grader's partial-write shim, loaded with LD_PRELOAD into a student's
 * program for tests that list `shims: [partial-writes]`.
 *
 * On Linux loopback a blocking send() almost never writes less than asked, so
 * a program that ignores send()'s return value looks correct.  Real networks
 * do write less.  This shim makes every send()/write()/sendto() on a *socket*
 * accept at most half of what it was asked (at least 1 byte, at most 1000),
 * exactly as the kernel is allowed to.  Files, pipes and terminals are not
 * touched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* grader/shims/__init__.py's partial_write_size() mirrors this (the evidence reads it). */
static size_t shorten(int fd, size_t len) {
    struct stat st;
    if (len <= 1 || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return len;
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM)
        return len;                     /* datagrams are all or nothing */
    size_t n = (len + 1) / 2;
    return n > 1000 ? 1000 : n;
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
    static ssize_t (*real)(int, const void *, size_t, int);
    if (!real) real = (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
    return real(fd, buf, shorten(fd, len), flags);
}

ssize_t write(int fd, const void *buf, size_t len) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    return real(fd, buf, shorten(fd, len));
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags,
               const struct sockaddr *addr, socklen_t alen) {
    static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    if (!real) real = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *, socklen_t))
                   dlsym(RTLD_NEXT, "sendto");
    return real(fd, buf, shorten(fd, len), flags, addr, alen);
}
