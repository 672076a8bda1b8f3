/* bench/aio_echo_uv.c - echo server on libuv, for comparison with examples/echo_server.c.
 *
 *   cc -O2 -o build/aio_echo_uv bench/aio_echo_uv.c -luv
 *
 * Usage: aio_echo_uv PORT   (prints "listening on PORT"; listens on 127.0.0.1)
 * Same back-pressure as ours: a connection stops reading while its echo is
 * being written, and its 64 KiB buffer is allocated on the first read.
 */
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uv_tcp_t tcp;
    uv_write_t req;
    char *buf;
} conn_t;

static uv_loop_t *loop;
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void on_closed(uv_handle_t *h)
{
    conn_t *c = (conn_t *)h;
    free(c->buf);
    free(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    conn_t *c = (conn_t *)h;
    (void)hint;
    if (!c->buf) c->buf = malloc(65536);
    *b = uv_buf_init(c->buf, c->buf ? 65536 : 0);
}

static void on_written(uv_write_t *req, int status)
{
    conn_t *c = (conn_t *)req->handle;
    if (status < 0) { uv_close((uv_handle_t *)&c->tcp, on_closed); return; }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    conn_t *c = (conn_t *)s;
    uv_buf_t out;
    int w;
    if (n < 0) { uv_close((uv_handle_t *)s, on_closed); return; }
    if (n == 0) return;
    w = uv_try_write(s, &(uv_buf_t){b->base, (size_t)n}, 1);
    if (w == n) return;
    if (w < 0 && w != UV_EAGAIN) { uv_close((uv_handle_t *)s, on_closed); return; }
    if (w < 0) w = 0;
    uv_read_stop(s);
    out = uv_buf_init(b->base + w, (unsigned)(n - w));
    uv_write(&c->req, s, &out, 1, on_written);
}

static void on_conn(uv_stream_t *server, int status)
{
    conn_t *c;
    if (status < 0) return;
    c = calloc(1, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0) {
        uv_tcp_nodelay(&c->tcp, 1);
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    } else {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
    }
}

int main(int argc, char **argv)
{
    uv_tcp_t server;
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof bound;
    if (argc != 2) return 2;
    loop = uv_default_loop();
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &addr);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) || uv_listen((uv_stream_t *)&server, 4096, on_conn)) return 1;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
    printf("listening on %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
