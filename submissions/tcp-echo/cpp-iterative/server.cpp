// Bug: serves one client at a time: accept, echo until it leaves, then the next.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>

int main(int argc, char **argv)
{
    std::signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(argc > 1 ? argv[1] : "5001")));
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(ls, reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0 || listen(ls, 64) < 0) {
        std::perror("bind");
        return 1;
    }
    for (;;) {
        int c = accept(ls, nullptr, nullptr);
        if (c < 0)
            continue;
        char buf[8192];
        ssize_t n;
        while ((n = recv(c, buf, sizeof buf, 0)) > 0) {
            for (ssize_t sent = 0; sent < n;) {
                ssize_t k = send(c, buf + sent, static_cast<size_t>(n - sent), 0);
                if (k < 0)
                    break;
                sent += k;
            }
        }
        close(c);
    }
}
