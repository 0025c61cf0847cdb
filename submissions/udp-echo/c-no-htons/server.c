/* UDP echo server: every datagram goes back, whole, to whoever sent it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char *argv[])
{
    static char buf[65536]; /* largest possible UDP payload fits */
    struct sockaddr_in addr, peer;
    socklen_t plen;
    ssize_t n;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 1;
    }

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = atoi(argv[1]);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("bind");
        return 1;
    }

    for (;;) {
        plen = sizeof peer;
        n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &plen);
        if (n < 0) {
            if (errno != EINTR)
                perror("recvfrom");
            continue;
        }
        if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen) < 0)
            perror("sendto");
    }
}
