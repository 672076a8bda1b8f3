/* bench/echo_min.c - the smallest echo server aio_stream.h makes, for the
 * size row of the benchmark: numeric addresses only (no resolver, no
 * threads), the poll backend, no stdio.  It serves like bench/aio_echo.c.
 *
 *   musl-gcc -std=c99 -Os -static -I. -DASYNCKIT_POLL -o build/bench/echo_min bench/echo_min.c
 *
 * Usage: echo_min PORT   (prints "listening on PORT"; listens on 127.0.0.1)
 */
#define AIOS_NO_RESOLVER
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"
#include <string.h>
#include <unistd.h>

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
    static aios_ctx ctx;
    static aios_server srv;
    char num[8], *p = num + sizeof num - 1;
    int port = 0;
    const char *a = argc == 2 ? argv[1] : "";
    while (*a >= '0' && *a <= '9' && port < 65536) port = port * 10 + (*a++ - '0');
    if (argc != 2 || *a || port > 65535) return 2;
    if (aios_ctx_init(&ctx) < 0 || aios_server_init(&srv, &ctx, NULL, on_conn, NULL) < 0 ||
        aios_server_listen_tcp(&srv, "127.0.0.1", port) < 0) return 1;
    port = aios_server_port(&srv);
    *p = '\n';
    do *--p = (char)('0' + port % 10); while ((port /= 10) != 0);
    if (write(1, "listening on ", 13) < 0 || write(1, p, (size_t)(num + sizeof num - p)) < 0) return 1;
    return aios_run(&ctx) < 0;
}
