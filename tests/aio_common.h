/* tests/aio_common.h - helpers shared by the aio_stream.h test programs. */
#ifndef AIO_COMMON_H
#define AIO_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#if defined(__GNUC__)
#define T_UNUSED __attribute__((unused))
#else
#define T_UNUSED
#endif

/* Counts and the last status of a callback. */
typedef struct {
    int calls, status;
    size_t len;
    char data[256];
} t_rec;

T_UNUSED static void t_rec_cb(aios_stream *s, int status, void *ud)
{
    t_rec *r = (t_rec *)ud;
    r->calls++;
    r->status = status;
    r->len = aios_result_len(s);
}

/* A line callback: records and copies the line, then consumes it. */
T_UNUSED static void t_line_cb(aios_stream *s, int status, void *ud)
{
    t_rec *r = (t_rec *)ud;
    r->calls++;
    r->status = status;
    if (status > 0) {
        size_t n;
        const char *p = aios_data(s, &n);
        size_t take = (size_t)status < sizeof r->data - 1 ? (size_t)status : sizeof r->data - 1;
        memcpy(r->data, p, take);
        r->data[take] = 0;
        r->len = (size_t)status;
        aios_consume(s, (size_t)status);
    }
}

/* Runs the loop until *flag reaches want or a generous guard expires. */
T_UNUSED static int t_spin(aios_ctx *ctx, const int *flag, int want)
{
    int64_t give_up = aios_now_ns() + (int64_t)20 * 1000000000;
    while (*flag < want && aios_now_ns() < give_up)
        if (aios_run_once(ctx, AIOS_MS(50)) < 0) return -1;
    return *flag >= want;
}

T_UNUSED static void t_spin_ms(aios_ctx *ctx, int ms)
{
    int64_t end = aios_now_ns() + (int64_t)ms * 1000000;
    do aios_run_once(ctx, AIOS_MS(10)); while (aios_now_ns() < end);   /* at least one iteration */
}

/* A connected socket pair: a stream on one end, a raw descriptor on the other. */
T_UNUSED static int t_pair(aios_ctx *ctx, aios_stream **s, int *peer)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return -1;
    if (aios_stream_open(s, ctx, sv[0], 0) < 0) return -1;
    *peer = sv[1];
    return 0;
}

T_UNUSED static void t_write_full(int fd, const void *p, size_t n)
{
    const char *c = (const char *)p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) { if (w < 0 && errno == EINTR) continue; return; }
        c += w;
        n -= (size_t)w;
    }
}

T_UNUSED static uint32_t t_hash(uint32_t h, const void *p, size_t n)
{
    const unsigned char *c = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ c[i]) * 16777619u;
    return h;
}

#endif
