/* echo_server.c - echoes every byte back to each client, on 127.0.0.1 and ::1.
 *
 *   cc -std=c99 -O2 -I. -o build/echo_server examples/echo_server.c -lpthread
 *
 * Usage: build/echo_server [--max-conns N] [--idle-timeout SECONDS] PORT
 *   PORT              0 picks a free port
 *   --max-conns N     connections at once (default: the descriptor limit,
 *                     RLIMIT_NOFILE, less 16); at the cap a new connection
 *                     takes the place of the one idle longest, so peers that
 *                     hold connections and trickle bytes cannot lock new
 *                     clients out
 *   --idle-timeout S  a connection that sends nothing for S seconds is
 *                     closed (default 60; 0: never)
 * Numbers are decimal digits only; anything else prints the usage line and
 * exits with status 2.  The first line on stdout is "listening on PORT".
 * SIGTERM or SIGINT starts a graceful shutdown: no new connections, open
 * ones get up to 10 seconds to finish, then the program exits with status 0.
 *
 * Each connection echoes straight out of its stream's read buffer: peek at
 * whatever arrived, write those bytes without copying, and drop them from the
 * buffer once the kernel has taken them.  Besides the stream, a client costs
 * only its idle deadline (none with --idle-timeout 0).
 *
 * Kept small (issue 3: under 16 KiB of added text, static against musl): the
 * addresses are numeric, so AIOS_NO_RESOLVER leaves getaddrinfo out; no stdio,
 * strtol or strerror (errors print as codes: aios_strerror(code) names them).
 * SIGTERM and SIGINT come through the loop (aios_signal): no handler.
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
#include <sys/resource.h>

static aios_ctx ctx;
static aios_server server;
static aios_signal sigterm, sigint;
static int idle_ms = 60000;

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
        aios_close_graceful(s, AIOS_MS(1000), NULL, NULL);
        return;
    }
    /* aios_result_len() of the peek is the byte count; the write keeps it for on_written */
    if (aios_write(s, data, n, on_written, NULL) < 0) aios_close(s, NULL, NULL);
}

static void on_conn(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud)
{
    (void)srv; (void)peer; (void)ud;
    /* every peek waits at most idle_ms; its -ETIMEDOUT closes the connection */
    if ((idle_ms > 0 && aios_set_timeouts(s, AIOS_MS(idle_ms), 0) < 0) || aios_peek(s, 1, on_peek, NULL) < 0)
        aios_close(s, NULL, NULL);
}

static void on_shutdown_done(aios_server *srv, int forced, void *ud)
{
    char num[24];
    (void)srv; (void)ud;
    if (forced > 0) put(2, "echo_server: closed ", decimal(forced, num), " connection(s) by force\n");
    /* the watchers kept the loop running: without them it ends when idle */
    aios_signal_stop(&sigterm, &ctx);
    aios_signal_stop(&sigint, &ctx);
}

/* The first SIGTERM or SIGINT starts the shutdown; more of them change nothing. */
static void on_signal(aios_signal *sig, const aios_siginfo *info, void *ud)
{
    (void)sig; (void)info; (void)ud;
    aios_server_shutdown(&server, AIOS_MS(10000), on_shutdown_done, NULL);
}

/* A decimal number from 0 to max, digits only; -1 for anything else. */
static long number(const char *text, long max)
{
    long v = 0;
    const char *d;
    for (d = text; *d >= '0' && *d <= '9'; d++)
        if ((v = v * 10 + (*d - '0')) > max) return -1;
    return (*text && !*d) ? v : -1;
}

static int usage(const char *why, const char *what)
{
    if (why) put(2, "echo_server: ", why, what);
    if (why) put(2, "\n", NULL, NULL);
    put(2, "usage: echo_server [--max-conns N] [--idle-timeout SECONDS] PORT\n", NULL, NULL);
    return 2;
}

int main(int argc, char **argv)
{
    aios_server_config cfg;
    struct rlimit lim;
    char num[24];
    long port = -1, max_conns = -1, v;
    int r, i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max-conns") == 0 || strcmp(argv[i], "--idle-timeout") == 0) {
            if (i + 1 >= argc) return usage("missing value after ", argv[i]);
            v = number(argv[i + 1], argv[i][2] == 'm' ? 1000000000L : 86400L);
            if (v < 0 || (argv[i][2] == 'm' && v == 0)) return usage("bad number: ", argv[i + 1]);
            if (argv[i][2] == 'm') max_conns = v; else idle_ms = (int)v * 1000;
            i++;
        } else if (port < 0 && argv[i][0] != '-') {
            if ((port = number(argv[i], 65535)) < 0) return usage("bad port: ", argv[i]);
        } else {
            return usage("unexpected argument: ", argv[i]);
        }
    }
    if (port < 0) return usage(NULL, NULL);
    /* the default cap leaves descriptors for the listeners, the signals and stdio */
    if (max_conns < 0)
        max_conns = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur > 32
                    ? (long)lim.rlim_cur - 16 : 1000000000L;

    aios_ctx_init(&ctx);
    aios_server_config_init(&cfg);
    cfg.backlog = 4096;
    cfg.max_conns = (int)max_conns;
    cfg.evict_idle = 1;
    aios_server_init(&server, &ctx, &cfg, on_conn, NULL);
    r = aios_server_listen_tcp(&server, "127.0.0.1", (int)port);
    if (r < 0) { put(2, "echo_server: 127.0.0.1: error ", decimal(r, num), "\n"); return 1; }
    r = aios_server_listen_tcp(&server, "::1", aios_server_port(&server));
    if (r < 0 && r != -EAFNOSUPPORT && r != -EADDRNOTAVAIL)
        put(2, "echo_server: ::1: error ", decimal(r, num), " (serving IPv4 only)\n");

    /* SIGTERM and SIGINT are blocked and read by the loop, so the shutdown
     * starts from the loop like any other event (blocked signals are
     * queued even where the shell set them to be ignored). */
    aios_signal_init(&sigterm, on_signal, NULL);
    aios_signal_init(&sigint, on_signal, NULL);
    r = aios_signal_start(&sigterm, &ctx, SIGTERM);
    if (r == 0) r = aios_signal_start(&sigint, &ctx, SIGINT);
    if (r < 0) { put(2, "echo_server: signals: error ", decimal(r, num), "\n"); return 1; }

    /* other tools read this line: keep it exactly so */
    put(1, "listening on ", decimal(aios_server_port(&server), num), "\n");

    r = aios_run(&ctx);
    aios_ctx_close(&ctx);
    return r < 0 ? 1 : 0;
}
