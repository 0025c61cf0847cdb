/* Stop-and-wait sender: ./sender HOST PORT < file */
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 1000
#define TIMEOUT_MS 50
#define MAX_TRIES 100

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Sends pkt until ACK seq comes back: 0, or -1 after MAX_TRIES sends without it. */
static int send_reliably(int fd, const struct sockaddr *dest, socklen_t destlen,
                         const unsigned char *pkt, size_t len, uint32_t seq)
{
    for (int tries = 0; tries < MAX_TRIES; tries++) {
        if (sendto(fd, pkt, len, 0, dest, destlen) < 0)
            perror("sendto");
        long deadline = now_ms() + TIMEOUT_MS;
        long left;
        while ((left = deadline - now_ms()) > 0) {
            struct pollfd p = { .fd = fd, .events = POLLIN };
            if (poll(&p, 1, (int)left) <= 0)
                break;                      /* timeout: retransmit */
            unsigned char reply[64];
            ssize_t n = recv(fd, reply, sizeof reply, 0);
            if (n == 5 && reply[0] == 'A' && get_u32(reply + 1) == seq)
                return 0;
            /* an old duplicate ACK (or garbage): ignore it, keep waiting */
        }
    }
    return -1;
}

int main(int argc, char *argv[])
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 1;
    }

    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    int rc = getaddrinfo(argv[1], argv[2], &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "sender: %s: %s\n", argv[1], gai_strerror(rc));
        return 1;
    }
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0) {
        perror("socket");
        return 1;
    }

    unsigned char pkt[5 + CHUNK];
    uint32_t seq = 0;
    size_t n;
    while ((n = fread(pkt + 5, 1, CHUNK, stdin)) > 0) {
        pkt[0] = 'D';
        put_u32(pkt + 1, seq);
        if (send_reliably(fd, res->ai_addr, res->ai_addrlen, pkt, 5 + n, seq) < 0) {
            fprintf(stderr, "sender: no ACK for DATA %u after %d tries\n", (unsigned)seq, MAX_TRIES);
            return 1;
        }
        seq++;
    }
    if (ferror(stdin)) {
        perror("sender: reading standard input");
        return 1;
    }

    pkt[0] = 'F';                   /* seq is now the number of DATA packets */
    put_u32(pkt + 1, seq);
    if (send_reliably(fd, res->ai_addr, res->ai_addrlen, pkt, 5, seq) < 0) {
        fprintf(stderr, "sender: no ACK for FIN after %d tries\n", MAX_TRIES);
        return 1;
    }
    freeaddrinfo(res);
    close(fd);
    return 0;
}
