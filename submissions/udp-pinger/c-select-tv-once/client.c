/* UDPPinger client - Lab 2
 * usage: ./client <server ip> <port>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define NUM_PINGS 10
#define BUFSIZE 1024

int main(int argc, char *argv[])
{
    int sockfd;
    struct sockaddr_in servaddr;
    char buffer[BUFSIZE];
    char message[BUFSIZE];
    struct timeval start, end;
    struct timeval tv;
    fd_set readfds;
    double rtt, min = 0, max = 0, total = 0;
    int received = 0, lost = 0;
    int i, n;

    if (argc < 3) {
        printf("usage: %s <server ip> <port>\n", argv[0]);
        exit(1);
    }

    sockfd = socket(AF_INET, SOCK_DGRAM, 0);
    if (sockfd < 0) {
        perror("socket");
        exit(1);
    }

    memset(&servaddr, 0, sizeof(servaddr));
    servaddr.sin_family = AF_INET;
    servaddr.sin_port = htons(atoi(argv[2]));
    servaddr.sin_addr.s_addr = inet_addr(argv[1]);

    /* wait at most 1 second for each reply */
    tv.tv_sec = 1;
    tv.tv_usec = 0;

    for (i = 1; i <= NUM_PINGS; i++) {
        time_t now = time(NULL);
        sprintf(message, "Ping %d %s", i, ctime(&now));

        gettimeofday(&start, NULL);
        sendto(sockfd, message, strlen(message), 0,
               (struct sockaddr *)&servaddr, sizeof(servaddr));

        FD_ZERO(&readfds);
        FD_SET(sockfd, &readfds);
        n = select(sockfd + 1, &readfds, NULL, NULL, &tv);
        if (n <= 0) {
            printf("Ping %d: Request timed out\n", i);
            lost++;
            continue;
        }

        n = recvfrom(sockfd, buffer, BUFSIZE - 1, 0, NULL, NULL);
        gettimeofday(&end, NULL);
        buffer[n] = '\0';

        rtt = (end.tv_sec - start.tv_sec) * 1000.0 + (end.tv_usec - start.tv_usec) / 1000.0;
        printf("Ping %d: rtt = %.3f ms\n", i, rtt);

        if (rtt < min) min = rtt;
        if (rtt > max) max = rtt;
        total += rtt;
        received++;
    }

    if (received > 0)
        printf("rtt min/avg/max = %.3f/%.3f/%.3f ms\n", min, total / received, max);
    printf("loss = %d%%\n", lost * 100 / NUM_PINGS);

    close(sockfd);
    return 0;
}
