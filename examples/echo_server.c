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
 */
#define _GNU_SOURCE 1
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

static int signal_pipe[2] = {-1, -1};
static aios_ctx ctx;
static aios_server server;
static aios_stream *signals;
static char signal_byte;

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

static void handle_signal(int sig)
{
    char c = (char)sig;
    int saved = errno;
    if (write(signal_pipe[1], &c, 1) < 0) { /* the pipe is full: a shutdown is already on its way */ }
    errno = saved;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    aios_server_config cfg;
    char *end;
    long port;
    int r;

    if (argc != 2) { put(2, "usage: ", argv[0], " PORT\n"); return 2; }
    port = strtol(argv[1], &end, 10);
    if (!*argv[1] || *end || port < 0 || port > 65535) { put(2, "echo_server: bad port ", argv[1], "\n"); return 2; }

    aios_ctx_init(&ctx);
    aios_server_config_init(&cfg);
    cfg.backlog = 4096;
    aios_server_init(&server, &ctx, &cfg, on_conn, NULL);
    r = aios_server_listen_tcp(&server, "127.0.0.1", (int)port);
    if (r < 0) { put(2, "echo_server: 127.0.0.1: ", aios_strerror(r), "\n"); return 1; }
    r = aios_server_listen_tcp(&server, "::1", aios_server_port(&server));
    if (r < 0 && r != -EAFNOSUPPORT && r != -EADDRNOTAVAIL)
        put(2, "echo_server: ::1: ", aios_strerror(r), " (serving IPv4 only)\n");

    if (pipe(signal_pipe) < 0) { put(2, "echo_server: pipe: ", aios_strerror(-errno), "\n"); return 1; }
    fcntl(signal_pipe[1], F_SETFL, O_NONBLOCK);
    aios_stream_open(&ctx, &signals, signal_pipe[0], 0);
    aios_read(signals, &signal_byte, 1, on_signal, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handle_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    {   /* other tools read this line: keep it exactly so */
        char num[24];
        put(1, "listening on ", decimal(aios_server_port(&server), num), "\n");
    }

    r = aios_run(&ctx);
    aios_ctx_close(&ctx);
    close(signal_pipe[1]);
    return r < 0 ? 1 : 0;
}
