/* echo client: send everything from stdin to the server */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>

int main(int argc, char *argv[])
{
    struct addrinfo hints, *res;
    char *data = NULL;
    size_t len = 0, cap = 0;
    ssize_t n;
    int fd;

    if (argc != 3) {
        fprintf(stderr, "usage: %s host port\n", argv[0]);
        return 1;
    }
    /* read all of stdin first */
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            data = realloc(data, cap);
        }
        n = read(0, data + len, cap - len);
        if (n <= 0)
            break;
        len += n;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(argv[1], argv[2], &hints, &res) != 0) {
        fprintf(stderr, "unknown host %s\n", argv[1]);
        return 1;
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        perror("connect");
        return 1;
    }
    size_t off = 0;
    while (off < len) {
        n = send(fd, data + off, len - off, 0);
        if (n < 0) {
            perror("send");
            return 1;
        }
        off += n;
    }
    close(fd);      /* done sending */
    free(data);
    return 0;
}
