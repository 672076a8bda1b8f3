/* bench/aio_echo_event.c - echo server on libevent bufferevents, for comparison.
 *
 *   cc -O2 -o build/aio_echo_event bench/aio_echo_event.c -levent
 *
 * Usage: aio_echo_event PORT   (prints "listening on PORT"; listens on 127.0.0.1)
 * The output buffer's high-water mark pauses reading, like ours.
 */
#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/listener.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_read(struct bufferevent *bev, void *ud)
{
    (void)ud;
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 65536) bufferevent_disable(bev, EV_READ);
}

static void on_write(struct bufferevent *bev, void *ud)
{
    (void)ud;
    bufferevent_enable(bev, EV_READ);
}

static void on_event(struct bufferevent *bev, short what, void *ud)
{
    (void)ud;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *ud)
{
    struct bufferevent *bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    int one = 1;
    (void)sa; (void)len; (void)ud;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent_setcb(bev, on_read, on_write, on_event, NULL);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int main(int argc, char **argv)
{
    struct event_base *base = event_base_new();
    struct sockaddr_in a;
    struct sockaddr_in bound;
    socklen_t len = sizeof bound;
    struct evconnlistener *l;
    if (argc != 2) return 2;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l = evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 4096,
                                (struct sockaddr *)&a, sizeof a);
    if (!l) return 1;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &len);
    printf("listening on %d\n", ntohs(bound.sin_port));
    fflush(stdout);
    return event_base_dispatch(base);
}
