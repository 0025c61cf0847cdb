/* Stop-and-wait receiver: ./receiver PORT > file */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 1000
#define LINGER_MS 500   /* keep answering repeated FINs this long after the last one */

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

int main(int argc, char *argv[])
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 1;
    }

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(atoi(argv[1]));
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("bind");
        return 1;
    }

    uint32_t expected = 0;
    long done_at = -1;              /* once the FIN has come: when to exit */
    for (;;) {
        int wait = -1;              /* block until the FIN has come */
        if (done_at >= 0) {
            wait = (int)(done_at - now_ms());
            if (wait <= 0)
                break;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, wait);
        if (r == 0)
            break;                  /* no FIN for LINGER_MS: the sender has its ACK */
        if (r < 0)
            continue;               /* interrupted */

        unsigned char pkt[2048];
        struct sockaddr_in from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&from, &fromlen);
        if (n < 5)
            continue;               /* error or malformed */
        uint32_t seq = get_u32(pkt + 1);
        unsigned char ack[5];
        ack[0] = 'A';
        put_u32(ack + 1, seq);

        if (pkt[0] == 'D' && n <= 5 + CHUNK) {
            if (seq > expected)
                continue;           /* not the one we wait for: drop it, no ACK */
            if (seq == expected) {
                fwrite(pkt + 5, 1, (size_t)(n - 5), stdout);
                expected++;
            }
            /* new or duplicate: ACK it (our earlier ACK may have been lost) */
            sendto(fd, ack, sizeof ack, 0, (struct sockaddr *)&from, fromlen);
        } else if (pkt[0] == 'F' && n == 5 && seq == expected) {
            sendto(fd, ack, sizeof ack, 0, (struct sockaddr *)&from, fromlen);
            break;                  /* the file is complete: done */
        }
    }

    fflush(stdout);
    close(fd);
    return 0;
}
