/* kv server -- lab 4
 * ./server <port>
 * commands: SET key value / GET key / DEL key, one per line
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define MAXKEYS 128
#define KEYLEN 64
#define VALLEN 256

struct entry {
    char key[KEYLEN];
    char value[VALLEN];
    int used;
};

struct entry store[MAXKEYS];

struct entry *find(char *key)
{
    int i;
    for (i = 0; i < MAXKEYS; i++)
        if (store[i].used && strcmp(store[i].key, key) == 0)
            return &store[i];
    return NULL;
}

void reply(int fd, char *s)
{
    send(fd, s, strlen(s), 0);
}

void command(int fd, char *line)
{
    char out[VALLEN + 16];
    char *cmd, *key, *val;
    struct entry *e;
    int i;

    cmd = strtok(line, " ");
    key = strtok(NULL, " ");
    if (cmd == NULL) {
        reply(fd, "ERROR empty command\n");
        return;
    }
    if (strcmp(cmd, "SET") == 0) {
        val = strtok(NULL, " ");
        if (key == NULL || val == NULL) {
            reply(fd, "ERROR usage: SET key value\n");
            return;
        }
        e = find(key);
        if (e == NULL) {
            for (i = 0; i < MAXKEYS && store[i].used; i++)
                ;
            if (i == MAXKEYS) {
                reply(fd, "ERROR store full\n");
                return;
            }
            e = &store[i];
            e->used = 1;
            strncpy(e->key, key, KEYLEN - 1);
        }
        strncpy(e->value, val, VALLEN - 1);
        reply(fd, "OK\n");
    } else if (strcmp(cmd, "GET") == 0) {
        if (key == NULL) {
            reply(fd, "ERROR usage: GET key\n");
            return;
        }
        e = find(key);
        if (e == NULL) {
            reply(fd, "NOT_FOUND\n");
        } else {
            sprintf(out, "VALUE %s\n", e->value);
            reply(fd, out);
        }
    } else if (strcmp(cmd, "DEL") == 0) {
        if (key == NULL) {
            reply(fd, "ERROR usage: DEL key\n");
            return;
        }
        e = find(key);
        if (e == NULL) {
            reply(fd, "NOT_FOUND\n");
        } else {
            e->used = 0;
            reply(fd, "OK\n");
        }
    } else {
        reply(fd, "ERROR unknown command\n");
    }
}

void client(int fd)
{
    char buf[1024];
    char *line, *save;
    int n;

    while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
        buf[n] = '\0';
        /* there can be more than one command in buf */
        for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
            command(fd, line);
    }
    close(fd);
}

int main(int argc, char *argv[])
{
    int lfd, cfd, opt = 1;
    struct sockaddr_in addr;

    if (argc != 2) {
        fprintf(stderr, "usage: %s port\n", argv[0]);
        return 1;
    }
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &opt, sizeof(opt));
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = INADDR_ANY;
    addr.sin_port = htons(atoi(argv[1]));
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        perror("bind");
        return 1;
    }
    if (listen(lfd, 10) < 0) {
        perror("listen");
        return 1;
    }
    while (1) {
        cfd = accept(lfd, NULL, NULL);
        if (cfd < 0) {
            perror("accept");
            continue;
        }
        if (fork() == 0) {
            close(lfd);
            client(cfd);
            exit(0);
        }
        close(cfd);
    }
}
