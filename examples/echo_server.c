/* echo_server.c - echoes every byte back to each client, on 127.0.0.1 and ::1.
 *
 *   cc -std=c99 -O2 -I. -o build/echo_server examples/echo_server.c -lpthread
 *
 * Usage: build/echo_server PORT      (PORT 0 picks a free port)
 * The first line on stdout is "listening on PORT".  SIGTERM or SIGINT starts a
 * graceful shutdown: no new connections, open ones get up to 10 seconds to
 * finish, then the program exits with status 0.
 *
 * Each connection echoes straight out of its stream's read buffer: peek at
 * whatever arrived, write those bytes without copying, and drop them from the
 * buffer once the kernel has taken them.  Nothing else is allocated per client.
 *
 * Kept small (issue 3: under 16 KiB of added text, static against musl): the
 * addresses are numeric, so AIOS_NO_RESOLVER leaves getaddrinfo out; no stdio,
 * strtol or strerror (errors print as codes: aios_strerror(code) names them); signals arrive through a signalfd read by the loop.
 */
#define _GNU_SOURCE 1
#ifndef AIOS_NO_RESOLVER
#define AIOS_NO_RESOLVER
#endif
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>

static aios_ctx ctx;
static aios_server server;
static aios_stream *signals;
static struct signalfd_siginfo signal_info;

/* Messages without stdio: printf alone would add more code than the server. */
static void put(int fd, const char *a, const char *b, const char *c)
{
    const char *part[3];
    int i;
    part[0] = a; part[1] = b; part[2] = c;
    for (i = 0; i < 3; i++)
        if (part[i] && write(fd, part[i], strlen(part[i])) < 0) return;
}

static const char *decimal(long v, char buf[24])
{
    char *p = buf + 23;
    int neg = v < 0;
    unsigned long u = neg ? 0UL - (unsigned long)v : (unsigned long)v;
    *p = 0;
    do *--p = (char)('0' + u % 10); while ((u /= 10) != 0);
    if (neg) *--p = '-';
    return p;
}


static void on_peek(aios_stream *s, int status, void *ud);

static void on_written(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status < 0) { aios_close(s, NULL, NULL); return; }
    aios_consume(s, aios_result_len(s));
    if (aios_peek(s, 1, on_peek, NULL) < 0) aios_close(s, NULL, NULL);
}

static void on_peek(aios_stream *s, int status, void *ud)
{
    size_t n;
    const char *data = aios_data(s, &n);
    (void)ud;
    if (status < 0) {  /* end of stream (AIOS_EINCOMPLETE), error or shutdown */
        aios_close_graceful(s, 1000, NULL, NULL);
        return;
    }
    /* aios_result_len() of the peek is the byte count; the write keeps it for on_written */
    if (aios_write(s, data, n, on_written, NULL) < 0) aios_close(s, NULL, NULL);
}

static void on_conn(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud)
{
    (void)srv; (void)peer; (void)ud;
    if (aios_peek(s, 1, on_peek, NULL) < 0) aios_close(s, NULL, NULL);
}

static void on_shutdown_done(aios_server *srv, int forced, void *ud)
{
    char num[24];
    (void)srv; (void)ud;
    if (forced > 0) put(2, "echo_server: closed ", decimal(forced, num), " connection(s) by force\n");
    aios_close(signals, NULL, NULL);
}

static void on_signal(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status <= 0) return;
    aios_server_shutdown(&server, 10000, on_shutdown_done, NULL);
}

int main(int argc, char **argv)
{
    sigset_t mask;
    aios_server_config cfg;
    char num[24];
    const char *d;
    long port = 0;
    int r, sfd;

    if (argc != 2) { put(2, "usage: ", argv[0], " PORT\n"); return 2; }
    for (d = argv[1]; *d >= '0' && *d <= '9' && port <= 65535; d++) port = port * 10 + (*d - '0');
    if (!*argv[1] || *d || port > 65535) { put(2, "echo_server: bad port ", argv[1], "\n"); return 2; }

    aios_ctx_init(&ctx);
    aios_server_config_init(&cfg);
    cfg.backlog = 4096;
    aios_server_init(&server, &ctx, &cfg, on_conn, NULL);
    r = aios_server_listen_tcp(&server, "127.0.0.1", (int)port);
    if (r < 0) { put(2, "echo_server: 127.0.0.1: error ", decimal(r, num), "\n"); return 1; }
    r = aios_server_listen_tcp(&server, "::1", aios_server_port(&server));
    if (r < 0 && r != -EAFNOSUPPORT && r != -EADDRNOTAVAIL)
        put(2, "echo_server: ::1: error ", decimal(r, num), " (serving IPv4 only)\n");

    /* SIGTERM and SIGINT stay blocked and are read from a descriptor, so the
     * shutdown starts from the loop like any other event (blocked signals are
     * queued even where the shell set them to be ignored). */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sfd = sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ? -1 : signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    r = sfd < 0 ? -errno : aios_stream_open(&ctx, &signals, sfd, 0);
    if (r == 0) r = aios_read_exactly(signals, &signal_info, sizeof signal_info, on_signal, NULL);
    if (r < 0) { put(2, "echo_server: signals: error ", decimal(r, num), "\n"); return 1; }

    /* other tools read this line: keep it exactly so */
    put(1, "listening on ", decimal(aios_server_port(&server), num), "\n");

    r = aios_run(&ctx);
    aios_ctx_close(&ctx);
    return r < 0 ? 1 : 0;
}
