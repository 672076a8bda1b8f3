/* bench/aio_echo_epoll.c - a bare epoll echo server written by hand: the
 * ceiling for one thread on this machine.  Level-triggered, one read and one
 * write per ready connection, a 64 KiB buffer on the stack; a write that
 * cannot take everything waits for POLLOUT before the connection reads again.
 *
 *   cc -O2 -o build/bench/aio_echo_epoll bench/aio_echo_epoll.c
 *
 * Usage: aio_echo_epoll PORT   (prints "listening on PORT"; listens on 127.0.0.1)
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn { int fd; size_t off, len; char *pend; } conn;

static int ep;

static void drop(conn *c)
{
    close(c->fd);
    free(c->pend);
    free(c);
}

static void want(conn *c, unsigned ev)
{
    struct epoll_event e;
    e.events = ev;
    e.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void serve(conn *c, unsigned ev)
{
    char buf[65536];
    ssize_t n, w;
    if (c->pend) {                       /* finish the write we owe first */
        w = send(c->fd, c->pend + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) { drop(c); return; }
        if (w > 0) c->off += (size_t)w;
        if (c->off < c->len) return;
        free(c->pend);
        c->pend = NULL;
        want(c, EPOLLIN);
        return;
    }
    (void)ev;
    n = recv(c->fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN)) { drop(c); return; }
    if (n < 0) return;
    w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) { drop(c); return; }
    if (w < 0) w = 0;
    if (w < n) {
        c->len = (size_t)(n - w);
        c->off = 0;
        c->pend = malloc(c->len);
        if (!c->pend) { drop(c); return; }
        memcpy(c->pend, buf + w, c->len);
        want(c, EPOLLOUT);
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    struct epoll_event e, evs[256];
    int lfd, one = 1, i, n;
    conn listener;
    if (argc != 2) { fprintf(stderr, "usage: %s PORT\n", argv[0]); return 2; }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0) { perror("listen"); return 1; }
    getsockname(lfd, (struct sockaddr *)&a, &len);
    printf("listening on %d\n", ntohs(a.sin_port));
    fflush(stdout);
    ep = epoll_create1(EPOLL_CLOEXEC);
    listener.fd = lfd;
    e.events = EPOLLIN;
    e.data.ptr = &listener;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
    for (;;) {
        n = epoll_wait(ep, evs, 256, -1);
        for (i = 0; i < n; i++) {
            conn *c = (conn *)evs[i].data.ptr;
            if (c != &listener) { serve(c, evs[i].events); continue; }
            for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c = calloc(1, sizeof *c);
                if (!c) { close(fd); continue; }
                c->fd = fd;
                e.events = EPOLLIN;
                e.data.ptr = c;
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
            }
        }
    }
}
