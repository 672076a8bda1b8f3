/* udp_echo.c - sends every UDP datagram back to where it came from.
 *
 *   cc -std=c99 -O2 -I. -o build/udp_echo examples/udp_echo.c
 *
 * Usage: build/udp_echo [--join GROUP] PORT
 *   PORT          0 picks a free port; one socket takes IPv6 and IPv4
 *   --join GROUP  also answers what is sent to a multicast group on that
 *                 port, as a discovery responder does: 239.255.255.250
 *                 (SSDP), ff02::fb%eth0 (mDNS on eth0); a % names the
 *                 interface, else the system picks one
 * The first line on stdout is "listening on PORT".  A datagram longer than
 * 2048 bytes is not echoed: "udp_echo: N-byte datagram from ADDR cut, not
 * echoed" goes to stderr.  SIGINT or SIGTERM ends the program with status 0
 * after the line "echoed N datagrams".  Datagrams keep their boundaries:
 * each one comes back whole or not at all.
 */
#define AIOS_NO_RESOLVER   /* numeric addresses only: no resolver thread */
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static aios_ctx ctx;
static aios_dgram *sock;
static aios_signal sigint, sigterm;
static char buf[2048];
static long echoed;

static void on_datagram(aios_dgram *d, int status, void *ud);

static void receive_next(void)
{
    int r = aios_recv(sock, buf, sizeof buf, on_datagram, NULL);
    if (r < 0) {
        fprintf(stderr, "udp_echo: receive: %s\n", aios_strerror(r));
        aios_stop(&ctx);
    }
}

static void on_datagram(aios_dgram *d, int status, void *ud)
{
    char from[80];
    int r;
    (void)ud;
    if (status == -ECANCELED) return;   /* the socket is closing */
    aios_format_addr(aios_addr_sa(aios_recv_from(d)), from, sizeof from);
    if (status == -EMSGSIZE) {
        fprintf(stderr, "udp_echo: %zu-byte datagram from %s cut, not echoed\n", aios_recv_size(d), from);
    } else if (status < 0) {
        fprintf(stderr, "udp_echo: receive: %s\n", aios_strerror(status));   /* e.g. an ICMP error */
    } else if ((r = aios_send(d, buf, (size_t)status, aios_recv_from(d), NULL, NULL)) == 0) {
        echoed++;   /* queued; a datagram the network drops is not reported to UDP senders anyway */
    } else {
        fprintf(stderr, "udp_echo: answer to %s: %s\n", from, aios_strerror(r));   /* -EAGAIN: queue full */
    }
    receive_next();
}

static void on_signal(aios_signal *sig, const aios_siginfo *info, void *ud)
{
    (void)sig; (void)info; (void)ud;
    aios_stop(&ctx);
}

/* A port from 0 to 65535, decimal digits only; -1 for anything else. */
static long port_number(const char *text)
{
    char *end;
    long v;
    if (*text < '0' || *text > '9') return -1;
    v = strtol(text, &end, 10);
    return *end || v > 65535 ? -1 : v;
}

static int usage(void)
{
    fprintf(stderr, "usage: udp_echo [--join GROUP] PORT\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *group = NULL;
    char name[64], *iface = NULL;
    long port;
    int r;
    if (argc == 4 && strcmp(argv[1], "--join") == 0) group = argv[2];
    else if (argc != 2) return usage();
    if ((port = port_number(argv[argc - 1])) < 0) return usage();
    if ((r = aios_ctx_init(&ctx)) < 0) {
        fprintf(stderr, "udp_echo: %s\n", aios_strerror(r));
        return 1;
    }
    aios_signal_init(&sigint, on_signal, NULL);
    aios_signal_init(&sigterm, on_signal, NULL);
    if ((r = aios_signal_start(&sigint, &ctx, SIGINT)) < 0 || (r = aios_signal_start(&sigterm, &ctx, SIGTERM)) < 0 ||
        (r = aios_udp_open(&sock, &ctx, NULL, (int)port, NULL)) < 0) {
        fprintf(stderr, "udp_echo: %s\n", aios_strerror(r));
        aios_ctx_close(&ctx);
        return 1;
    }
    if (group) {   /* "ff02::fb%eth0": the group, then the interface after the % */
        snprintf(name, sizeof name, "%s", group);
        if ((iface = strchr(name, '%')) != NULL) *iface++ = 0;
        if ((r = aios_dgram_join(sock, name, iface)) < 0) {
            fprintf(stderr, "udp_echo: join %s: %s\n", group, aios_strerror(r));
            aios_ctx_close(&ctx);
            return 1;
        }
    }
    printf("listening on %d\n", aios_dgram_port(sock));
    fflush(stdout);
    receive_next();
    r = aios_run(&ctx);   /* until a signal stops it */
    aios_ctx_close(&ctx);
    if (r < 0) {
        fprintf(stderr, "udp_echo: %s\n", aios_strerror(r));
        return 1;
    }
    printf("echoed %ld datagrams\n", echoed);
    return 0;
}
