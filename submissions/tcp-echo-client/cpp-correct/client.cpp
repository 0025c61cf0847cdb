// TCP echo client in C++: a std::thread copies the server's bytes to stdout while main
// sends stdin, then shutdown(SHUT_WR) (half-close) and waits for the server to close.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

static bool write_all(int fd, const char *buf, size_t len, bool sock)
{
    while (len > 0) {
        ssize_t n = sock ? send(fd, buf, len, 0) : write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        buf += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " HOST PORT\n";
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    int err = getaddrinfo(argv[1], argv[2], &hints, &res);
    if (err != 0) {
        std::cerr << "getaddrinfo: " << gai_strerror(err) << "\n";
        return 1;
    }
    int s = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (s < 0 || connect(s, res->ai_addr, res->ai_addrlen) < 0) {
        std::perror("connect");
        return 1;
    }
    freeaddrinfo(res);
    bool failed = false;
    std::thread reader([&] {
        char buf[65536];
        ssize_t n;
        while ((n = recv(s, buf, sizeof buf, 0)) > 0)
            if (!write_all(1, buf, static_cast<size_t>(n), false))
                break;
        if (n < 0)
            failed = true;
    });
    char buf[65536];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0)
        if (!write_all(s, buf, static_cast<size_t>(n), true)) {
            std::perror("send");
            failed = true;
            break;
        }
    shutdown(s, SHUT_WR);
    reader.join();
    close(s);
    return failed ? 1 : 0;
}
