/* TCP echo server - asks for the port number */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <pthread.h>

void *client_thread(void *arg)
{
    int fd = *(int *)arg;
    char buf[2048];
    int n;
    free(arg);
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
        int sent = 0;
        while (sent < n) {
            int k = send(fd, buf + sent, n - sent, 0);
            if (k <= 0) break;
            sent += k;
        }
    }
    close(fd);
    return NULL;
}

int main(void)
{
    int port = 8080;    /* default */
    int sockfd, yes = 1;
    struct sockaddr_in serv;

    printf("Enter port number: ");
    fflush(stdout);
    scanf("%d", &port);

    signal(SIGPIPE, SIG_IGN);
    sockfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(sockfd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    memset(&serv, 0, sizeof serv);
    serv.sin_family = AF_INET;
    serv.sin_addr.s_addr = INADDR_ANY;
    serv.sin_port = htons(port);
    if (bind(sockfd, (struct sockaddr *)&serv, sizeof serv) < 0) {
        perror("bind");
        return 1;
    }
    listen(sockfd, 10);
    printf("Listening on port %d\n", port);
    fflush(stdout);
    for (;;) {
        int *fd = malloc(sizeof(int));
        *fd = accept(sockfd, NULL, NULL);
        pthread_t t;
        pthread_create(&t, NULL, client_thread, fd);
        pthread_detach(t);
    }
}
