/*
 * echo server - lab 2
 * prethreaded: NTHREADS worker threads all block in accept() on the same
 * listening socket, the main thread just waits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define NTHREADS 4
#define BUFSIZE 2048

int listenfd;

void *worker(void *arg)
{
    long id = (long)arg;
    char buf[BUFSIZE];
    struct sockaddr_in cli;
    socklen_t len;
    int connfd, n;

    while (1) {
        len = sizeof(cli);
        connfd = accept(listenfd, (struct sockaddr *)&cli, &len);
        if (connfd < 0) {
            perror("accept");
            continue;
        }
        printf("thread %ld: client %s:%d\n", id, inet_ntoa(cli.sin_addr), ntohs(cli.sin_port));
        fflush(stdout);

        while ((n = recv(connfd, buf, BUFSIZE, 0)) > 0) {
            send(connfd, buf, n, 0);
        }
        close(connfd);
        printf("thread %ld: client left\n", id);
        fflush(stdout);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in servaddr;
    pthread_t tid[NTHREADS];
    long i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s <port>\n", argv[0]);
        exit(1);
    }

    listenfd = socket(AF_INET, SOCK_STREAM, 0);
    if (listenfd < 0) {
        perror("socket");
        exit(1);
    }

    memset(&servaddr, 0, sizeof(servaddr));
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_ANY);
    servaddr.sin_port = htons(atoi(argv[1]));

    if (bind(listenfd, (struct sockaddr *)&servaddr, sizeof(servaddr)) < 0) {
        perror("bind");
        exit(1);
    }
    if (listen(listenfd, 10) < 0) {
        perror("listen");
        exit(1);
    }
    printf("listening on port %s\n", argv[1]);
    fflush(stdout);

    for (i = 0; i < NTHREADS; i++)
        pthread_create(&tid[i], NULL, worker, (void *)i);

    /* workers do everything, main thread sleeps forever */
    for (;;)
        pause();

    return 0;
}
