/* bench/aio_echo_block.c - the ceiling: blocking sockets, one thread per connection.
 *
 *   cc -O2 -o build/aio_echo_block bench/aio_echo_block.c -lpthread
 *
 * Usage: aio_echo_block PORT   (prints "listening on PORT"; listens on 127.0.0.1)
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg)
{
    int fd = (int)(long)arg;
    char *buf = malloc(65536);
    for (;;) {
        ssize_t n = read(fd, buf, 65536), off = 0;
        if (n <= 0) break;
        while (off < n) {
            ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w <= 0) goto out;
            off += w;
        }
    }
out:
    free(buf);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
    pthread_attr_t attr;
    if (argc != 2) return 2;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4096)) return 1;
    getsockname(lfd, (struct sockaddr *)&a, &len);
    printf("listening on %d\n", ntohs(a.sin_port));
    fflush(stdout);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 262144);
    for (;;) {
        pthread_t t;
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (pthread_create(&t, &attr, serve, (void *)(long)fd) != 0) close(fd);
    }
}
