/* tests/aio_load.c - a load client for echo servers, built on aio_stream.h.
 *
 *   aio_load HOST PORT CONNS BYTES
 *
 * Opens CONNS connections at once; each sends BYTES bytes of its own pattern
 * (in one no-copy write the library splits as the kernel allows), half-closes,
 * and checks that exactly the same bytes come back, in order, followed by the
 * end of the stream.  Prints the usual harness closing line.
 */
#include "aio_common.h"

typedef struct {
    aios_stream *s;
    size_t offset;  /* where this connection's bytes start in the pattern */
    size_t got;
    uint32_t hash_sent, hash_got;
    int connected, mismatch, finished, status;
    char buf[16384];
} t_conn;

static aios_ctx ctx;
static char *pattern;
static size_t bytes;
static int finished, failures;

static void conn_end(t_conn *c, int status)
{
    c->finished = 1;
    c->status = status;
    finished++;
    aios_close(c->s, NULL, NULL);
}

static void on_echo(aios_stream *s, int status, void *ud)
{
    t_conn *c = (t_conn *)ud;
    if (status < 0) { conn_end(c, status); return; }
    if (status == 0) { conn_end(c, 0); return; }
    if (c->got + (size_t)status > bytes || memcmp(c->buf, pattern + c->offset + c->got, (size_t)status) != 0)
        c->mismatch = 1;
    c->hash_got = t_hash(c->hash_got, c->buf, (size_t)status);
    c->got += (size_t)status;
    aios_read(s, c->buf, sizeof c->buf, on_echo, c);
}

static void on_sent(aios_stream *s, int status, void *ud)
{
    t_conn *c = (t_conn *)ud;
    if (status < 0) { c->status = status; return; }
    aios_shutdown(s, NULL, NULL);
}

static void on_connected(aios_stream *s, int status, void *ud)
{
    t_conn *c = (t_conn *)ud;
    if (status < 0) { conn_end(c, status); return; }
    c->connected = 1;
    aios_write(s, pattern + c->offset, bytes, on_sent, c);
    aios_read(s, c->buf, sizeof c->buf, on_echo, c);
}

static const char *host;
static int port, nconns;

static void test_every_byte_comes_back_in_order(void)
{
    t_conn *conns = (t_conn *)calloc((size_t)nconns, sizeof *conns);
    size_t span = bytes + 65536, i;
    int k, bad = 0, connected = 0;
    aios_tcp_opts o;
    T_REQUIRE(conns != NULL);
    pattern = (char *)malloc(span);
    T_REQUIRE(pattern != NULL);
    for (i = 0; i < span; i++) pattern[i] = (char)((i * 2654435761u) >> 13);
    aios_ctx_init(&ctx);
    aios_tcp_opts_init(&o);
    o.timeout_ns = AIOS_MS(60000);
    for (k = 0; k < nconns; k++) {
        t_conn *c = &conns[k];
        c->offset = ((size_t)k * 7919) % 65536;
        c->hash_sent = t_hash(2166136261u, pattern + c->offset, bytes);
        c->hash_got = 2166136261u;
        T_EQ(aios_tcp_connect(&c->s, &ctx, host, port, &o, on_connected, c), 0);
    }
    T_CHECK(t_spin(&ctx, &finished, nconns));
    for (k = 0; k < nconns; k++) {
        t_conn *c = &conns[k];
        connected += c->connected;
        if (c->status != 0 || c->mismatch || c->got != bytes || c->hash_got != c->hash_sent) {
            if (bad++ < 5)
                printf("connection %d: status %s, %zu of %zu bytes, mismatch %d\n", k,
                       aios_strerror(c->status), c->got, bytes, c->mismatch);
        }
    }
    aios_ctx_close(&ctx);
    printf("load: %d connections (%d connected), %zu bytes each, %d bad\n", nconns, connected, bytes, bad);
    T_EQ(bad, 0);
    T_EQ(connected, nconns);
    free(conns);
    free(pattern);
    failures = bad;
}

int main(int argc, char **argv)
{
    if (argc != 5) { fprintf(stderr, "usage: %s HOST PORT CONNS BYTES\n", argv[0]); return 2; }
    host = argv[1];
    port = atoi(argv[2]);
    nconns = atoi(argv[3]);
    bytes = (size_t)strtoul(argv[4], NULL, 10);
    t_suite("aio_load");
    T_RUN(test_every_byte_comes_back_in_order);
    return t_done();
}
