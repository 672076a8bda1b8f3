/* bench/aio_echo.c - the benchmark's echo server on aio_stream.h: the same
 * echo as examples/echo_server.c (peek, write from the read buffer, consume)
 * without its limits, signals or IPv6 listener, so that a benchmark measures
 * the library and not the example's policy.
 *
 *   cc -std=c99 -O2 -I. -o build/bench/aio_echo bench/aio_echo.c
 *   cc -std=c99 -O2 -I. -DASYNCKIT_POLL -o build/bench/aio_echo_poll bench/aio_echo.c
 *
 * Usage: aio_echo PORT   (prints "listening on PORT"; listens on 127.0.0.1)
 */
#define AIOS_NO_RESOLVER
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"
#include <stdio.h>
#include <stdlib.h>

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
    if (status < 0 || aios_write(s, data, n, on_written, NULL) < 0) aios_close(s, NULL, NULL);
}

static void on_conn(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud)
{
    (void)srv; (void)peer; (void)ud;
    if (aios_peek(s, 1, on_peek, NULL) < 0) aios_close(s, NULL, NULL);
}

int main(int argc, char **argv)
{
    aios_ctx ctx;
    aios_server srv;
    aios_server_config cfg;
    int r;
    if (argc != 2) { fprintf(stderr, "usage: %s PORT\n", argv[0]); return 2; }
    if ((r = aios_ctx_init(&ctx)) < 0) { fprintf(stderr, "aio_echo: %s\n", aios_strerror(r)); return 1; }
    aios_server_config_init(&cfg);
    cfg.backlog = 4096;
    aios_server_init(&srv, &ctx, &cfg, on_conn, NULL);
    if ((r = aios_server_listen_tcp(&srv, "127.0.0.1", atoi(argv[1]))) < 0) {
        fprintf(stderr, "aio_echo: listen: %s\n", aios_strerror(r));
        return 1;
    }
    printf("listening on %d\n", aios_server_port(&srv));
    fflush(stdout);
    r = aios_run(&ctx);
    aios_ctx_close(&ctx);
    return r < 0;
}
