/* bench/udp_echo_aios.c - the UDP benchmark's echo server on aio_stream.h:
 * one socket on 127.0.0.1, every datagram sent back to its sender, as
 * examples/udp_echo.c does but without its dual-stack socket, multicast or
 * messages, so that the benchmark measures the library.
 *
 *   cc -std=c99 -O2 -I. -o build/bench/udp_echo_aios bench/udp_echo_aios.c
 *   cc -std=c99 -O2 -I. -DASYNCKIT_POLL -o build/bench/udp_echo_aios_poll bench/udp_echo_aios.c
 *
 * Usage: udp_echo_aios PORT   (prints "listening on PORT"; 0 picks a port)
 * SIGINT or SIGTERM (through the loop) ends it with status 0 after the line
 * "echoed N dropped M" on stderr (dropped: the send queue was full).
 */
#define AIOS_NO_RESOLVER
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static aios_ctx ctx;
static char buf[2048];
static long echoed, dropped;

static void on_datagram(aios_dgram *d, int status, void *ud)
{
    (void)ud;
    if (status == -ECANCELED) return;   /* closing */
    if (status >= 0) {
        if (aios_send(d, buf, (size_t)status, aios_recv_from(d), NULL, NULL) == 0) echoed++;
        else dropped++;
    }   /* other errors (a cut datagram, an ICMP report) are skipped */
    if (aios_recv(d, buf, sizeof buf, on_datagram, NULL) < 0) aios_stop(&ctx);
}

static void on_signal(aios_signal *sig, const aios_siginfo *info, void *ud)
{
    (void)sig; (void)info; (void)ud;
    aios_stop(&ctx);
}

int main(int argc, char **argv)
{
    aios_signal sigint, sigterm;
    aios_dgram *sock;
    int r;
    if (argc != 2) { fprintf(stderr, "usage: %s PORT\n", argv[0]); return 2; }
    if ((r = aios_ctx_init(&ctx)) < 0) { fprintf(stderr, "udp_echo_aios: %s\n", aios_strerror(r)); return 1; }
    aios_signal_init(&sigint, on_signal, NULL);
    aios_signal_init(&sigterm, on_signal, NULL);
    if ((r = aios_signal_start(&sigint, &ctx, SIGINT)) < 0 || (r = aios_signal_start(&sigterm, &ctx, SIGTERM)) < 0 ||
        (r = aios_udp_open(&sock, &ctx, "127.0.0.1", atoi(argv[1]), NULL)) < 0 ||
        (r = aios_recv(sock, buf, sizeof buf, on_datagram, NULL)) < 0) {
        fprintf(stderr, "udp_echo_aios: %s\n", aios_strerror(r));
        aios_ctx_close(&ctx);
        return 1;
    }
    printf("listening on %d\n", aios_dgram_port(sock));
    fflush(stdout);
    r = aios_run(&ctx);
    aios_ctx_close(&ctx);
    fprintf(stderr, "echoed %ld dropped %ld\n", echoed, dropped);
    return r < 0;
}
