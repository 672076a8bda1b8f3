/* bench/udp_echo_uv.c - UDP echo server on libuv's uv_udp, for comparison
 * with bench/udp_echo_aios.c.
 *
 *   cc -O2 -o build/bench/udp_echo_uv bench/udp_echo_uv.c -luv
 *
 * Usage: udp_echo_uv PORT [mmsg]   (prints "listening on PORT"; 0 picks a port)
 * One socket on 127.0.0.1; every datagram goes back to its sender with
 * uv_udp_try_send, the fastest path libuv has, and through a queued
 * uv_udp_send (a copy) when the socket buffer is full.  "mmsg" asks libuv
 * to receive with recvmmsg (UV_UDP_RECVMMSG, 20 datagrams per call), which
 * it then does into one buffer of 20 x 64 KiB.  SIGINT or SIGTERM ends it
 * with status 0 after the line "echoed N dropped M" on stderr.
 */
#define _POSIX_C_SOURCE 200809L   /* uv.h needs pthread_rwlock_t, also under -std=c99 */
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 65536
#define CHUNKS 20

struct send_req {
    uv_udp_send_t req;
    char data[];
};

static uv_loop_t *loop;
static uv_udp_t sock;
static uv_signal_t sigint, sigterm;
static char *rbuf;
static size_t rbuf_size;
static long echoed, dropped;

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h; (void)hint;
    *b = uv_buf_init(rbuf, (unsigned)rbuf_size);
}

static void on_sent(uv_udp_send_t *req, int status)
{
    if (status < 0) dropped++;
    free(req);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from, unsigned flags)
{
    uv_buf_t out;
    struct send_req *s;
    int r;
    (void)flags;
    if (n < 0 || !from) return;   /* an error, nothing more to read, or the end of a recvmmsg batch */
    out = uv_buf_init(b->base, (unsigned)n);
    r = uv_udp_try_send(h, &out, 1, from);
    if (r == n) { echoed++; return; }
    if (r != UV_EAGAIN || !(s = malloc(sizeof *s + (size_t)n))) { dropped++; return; }
    memcpy(s->data, b->base, (size_t)n);
    out = uv_buf_init(s->data, (unsigned)n);
    if (uv_udp_send(&s->req, h, &out, 1, from, on_sent) < 0) { dropped++; free(s); return; }
    echoed++;
}

static void on_signal(uv_signal_t *sig, int signo)
{
    (void)sig; (void)signo;
    uv_stop(loop);
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof bound, mmsg, r;
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "mmsg") != 0)) {
        fprintf(stderr, "usage: %s PORT [mmsg]\n", argv[0]);
        return 2;
    }
    mmsg = argc == 3;
    rbuf_size = mmsg ? (size_t)CHUNK * CHUNKS : CHUNK;
    if (!(rbuf = malloc(rbuf_size))) return 1;
    loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &addr);
    if ((r = uv_udp_init_ex(loop, &sock, AF_INET | (mmsg ? UV_UDP_RECVMMSG : 0))) < 0 ||
        (r = uv_udp_bind(&sock, (const struct sockaddr *)&addr, 0)) < 0 ||
        (r = uv_udp_recv_start(&sock, on_alloc, on_recv)) < 0 ||
        (r = uv_signal_init(loop, &sigint)) < 0 || (r = uv_signal_start(&sigint, on_signal, SIGINT)) < 0 ||
        (r = uv_signal_init(loop, &sigterm)) < 0 || (r = uv_signal_start(&sigterm, on_signal, SIGTERM)) < 0) {
        fprintf(stderr, "udp_echo_uv: %s\n", uv_strerror(r));
        return 1;
    }
    if (mmsg && !uv_udp_using_recvmmsg(&sock)) fprintf(stderr, "udp_echo_uv: recvmmsg not available\n");
    uv_udp_getsockname(&sock, (struct sockaddr *)&bound, &len);
    printf("listening on %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    r = uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&sock, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_run(loop, UV_RUN_DEFAULT);   /* the closes complete, queued sends are cancelled */
    uv_loop_close(loop);
    free(rbuf);
    fprintf(stderr, "echoed %ld dropped %ld\n", echoed, dropped);
    return 0;
}
