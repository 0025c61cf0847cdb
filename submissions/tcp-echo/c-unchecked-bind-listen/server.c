/* echo server with fork */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>

int main(int argc, char *argv[])
{
    int sockfd, newfd, n;
    char buffer[1024];
    struct sockaddr_in serv_addr;

    if (argc < 2) {
        fprintf(stderr, "ERROR, no port provided\n");
        exit(1);
    }
    signal(SIGCHLD, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sockfd = socket(AF_INET, SOCK_STREAM, 0);
    bzero((char *)&serv_addr, sizeof(serv_addr));
    serv_addr.sin_family = AF_INET;
    serv_addr.sin_addr.s_addr = INADDR_ANY;
    serv_addr.sin_port = htons(atoi(argv[1]));
    bind(sockfd, (struct sockaddr *)&serv_addr, sizeof(serv_addr));
    listen(sockfd, 5);
    while (1) {
        newfd = accept(sockfd, NULL, NULL);
        if (newfd < 0)
            continue;
        if (fork() == 0) {
            close(sockfd);
            while ((n = read(newfd, buffer, sizeof(buffer))) > 0) {
                int done = 0;
                while (done < n) {
                    int w = write(newfd, buffer + done, n - done);
                    if (w < 0)
                        break;
                    done += w;
                }
            }
            close(newfd);
            exit(0);
        }
        close(newfd);
    }
    return 0;
}
