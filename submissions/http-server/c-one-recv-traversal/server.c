/*
 * CS networks - programming assignment 1: web server
 * compile: gcc -o server server.c
 * run:     ./server 6789
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define BUF 1024

void send_error(int client, int code, const char *msg)
{
    char resp[256];
    sprintf(resp, "HTTP/1.1 %d %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s",
            code, msg, (int)strlen(msg), msg);
    send(client, resp, strlen(resp), 0);
}

void handle(int client)
{
    char buf[BUF];
    char method[16], path[512], version[16];
    char header[256];
    FILE *fp;
    long size;
    char *body;
    int n;

    memset(buf, 0, BUF);
    n = recv(client, buf, BUF - 1, 0);
    if (n <= 0)
        return;
    printf("request:\n%s\n", buf);

    if (sscanf(buf, "%15s %511s %15s", method, path, version) != 3) {
        send_error(client, 400, "Bad Request");
        return;
    }
    if (strcmp(method, "GET") != 0) {
        send_error(client, 400, "Bad Request");
        return;
    }

    /* skip the leading '/' */
    fp = fopen(path + 1, "rb");
    if (fp == NULL) {
        send_error(client, 404, "Not Found");
        return;
    }
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    body = malloc(size);
    fread(body, 1, size, fp);
    fclose(fp);

    sprintf(header, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %ld\r\n\r\n", size);
    send(client, header, strlen(header), 0);
    send(client, body, size, 0);
    free(body);
}

int main(int argc, char **argv)
{
    int server, client;
    struct sockaddr_in addr;

    if (argc < 2) {
        printf("usage: %s port\n", argv[0]);
        return 1;
    }
    server = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = INADDR_ANY;
    addr.sin_port = htons(atoi(argv[1]));
    if (bind(server, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        perror("bind failed");
        return 1;
    }
    listen(server, 5);
    printf("listening on port %s\n", argv[1]);

    while (1) {
        client = accept(server, NULL, NULL);
        if (client < 0)
            continue;
        handle(client);
        close(client);
    }
}
