// UDP echo server in C++: recvfrom a 64 KiB buffer, sendto the sender.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " PORT\n";
        return 2;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(argv[1])));
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, reinterpret_cast<sockaddr *>(&addr), sizeof addr) < 0) {
        std::perror("bind");
        return 1;
    }
    std::vector<char> buf(65535);
    for (;;) {
        sockaddr_storage from{};
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&from), &len);
        if (n >= 0)
            sendto(s, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr *>(&from), len);
    }
}
