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
 * only its idle deadline (none with --idle-timeout 0).  SIGTERM and SIGINT
 * come through the loop (aios_signal): the program installs no handler.
 */
#define _GNU_SOURCE 1
#define AIOS_NO_RESOLVER   /* it listens on numeric addresses: no resolver threads */
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static aios_ctx ctx;
static aios_server server;
static aios_signal sigterm, sigint;
static int shutting_down;
static int idle_s = 60;

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
    if (status < 0) {  /* end of stream (AIOS_EINCOMPLETE), idle timeout, error or shutdown */
        if (aios_close_graceful(s, AIOS_SEC(1), NULL, NULL) < 0) aios_close(s, NULL, NULL);
        return;
    }
    /* aios_result_len() of the peek is the byte count; the write keeps it for on_written */
    if (aios_write(s, data, n, on_written, NULL) < 0) aios_close(s, NULL, NULL);
}

static void on_conn(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud)
{
    (void)srv; (void)peer; (void)ud;
    /* every peek waits at most idle_s; its -ETIMEDOUT closes the connection */
    if ((idle_s > 0 && aios_set_timeouts(s, AIOS_SEC(idle_s), 0) < 0) || aios_peek(s, 1, on_peek, NULL) < 0)
        aios_close(s, NULL, NULL);
}

static void on_shutdown_done(aios_server *srv, int forced, void *ud)
{
    (void)srv; (void)ud;
    if (forced > 0) fprintf(stderr, "echo_server: closed %d connection(s) by force\n", forced);
    /* the watchers kept the loop running: without them it ends when idle */
    aios_signal_stop(&sigterm, &ctx);
    aios_signal_stop(&sigint, &ctx);
}

/* The first SIGTERM or SIGINT starts the shutdown; more of them change nothing. */
static void on_signal(aios_signal *sig, const aios_siginfo *info, void *ud)
{
    int r;
    (void)sig; (void)info; (void)ud;
    if (shutting_down++) return;
    if ((r = aios_server_shutdown(&server, AIOS_SEC(10), on_shutdown_done, NULL)) < 0) {
        fprintf(stderr, "echo_server: shutdown: %s\n", aios_strerror(r));
        aios_stop(&ctx);
    }
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
    if (why) fprintf(stderr, "echo_server: %s%s\n", why, what);
    fprintf(stderr, "usage: echo_server [--max-conns N] [--idle-timeout SECONDS] PORT\n");
    return 2;
}

/* SIGTERM and SIGINT are blocked and read by the loop, so the shutdown
 * starts from the loop like any other event (blocked signals are queued even
 * where the shell set them to be ignored). */
static int watch_signals(void)
{
    int r;
    aios_signal_init(&sigterm, on_signal, NULL);
    aios_signal_init(&sigint, on_signal, NULL);
    if ((r = aios_signal_start(&sigterm, &ctx, SIGTERM)) < 0) return r;
    return aios_signal_start(&sigint, &ctx, SIGINT);
}

/* Listens on 127.0.0.1, then on ::1 at the same port (where IPv6 is off,
 * on IPv4 alone). */
static int listen_loopback(long port)
{
    int r = aios_server_listen_tcp(&server, "127.0.0.1", (int)port);
    if (r < 0) {
        fprintf(stderr, "echo_server: 127.0.0.1: %s\n", aios_strerror(r));
        return r;
    }
    r = aios_server_listen_tcp(&server, "::1", aios_server_port(&server));
    if (r < 0 && r != -EAFNOSUPPORT && r != -EADDRNOTAVAIL)
        fprintf(stderr, "echo_server: ::1: %s (serving IPv4 only)\n", aios_strerror(r));
    return 0;
}

int main(int argc, char **argv)
{
    aios_server_config cfg;
    struct rlimit lim;
    long port = -1, max_conns = -1, v;
    int r, i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max-conns") == 0 || strcmp(argv[i], "--idle-timeout") == 0) {
            int is_max = argv[i][2] == 'm';
            if (i + 1 >= argc) return usage("missing value after ", argv[i]);
            v = number(argv[i + 1], is_max ? 1000000000L : 86400L);
            if (v < 0 || (is_max && v == 0)) return usage("bad number: ", argv[i + 1]);
            if (is_max) max_conns = v; else idle_s = (int)v;
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

    if ((r = aios_ctx_init(&ctx)) < 0) {
        fprintf(stderr, "echo_server: %s\n", aios_strerror(r));
        return 1;
    }
    aios_server_config_init(&cfg);
    cfg.backlog = 4096;
    cfg.max_conns = (int)max_conns;
    cfg.evict_idle = 1;
    if ((r = aios_server_init(&server, &ctx, &cfg, on_conn, NULL)) < 0)
        fprintf(stderr, "echo_server: %s\n", aios_strerror(r));
    if (r == 0) r = listen_loopback(port);
    if (r == 0 && (r = watch_signals()) < 0) fprintf(stderr, "echo_server: signals: %s\n", aios_strerror(r));
    if (r == 0) {
        printf("listening on %d\n", aios_server_port(&server));   /* scripts wait for this line */
        fflush(stdout);
        if ((r = aios_run(&ctx)) < 0) fprintf(stderr, "echo_server: %s\n", aios_strerror(r));
    }
    aios_ctx_close(&ctx);
    return r < 0 ? 1 : 0;
}
