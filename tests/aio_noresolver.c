/* tests/aio_noresolver.c - aio_stream.h built with AIOS_NO_RESOLVER: numeric
 * addresses connect and listen as usual, a host name is refused at once with
 * AIOS_ENOTNUMERIC (no stream, no callback, nothing started), and the build
 * needs no -lpthread. */
#define AIOS_NO_RESOLVER
#include "aio_common.h"

static aios_ctx ctx;
static aios_server srv;
static aios_stream *accepted;

static void keep_conn(aios_server *s, aios_stream *c, const struct sockaddr *peer, void *ud)
{
    (void)s; (void)peer; (void)ud;
    accepted = c;
}

static void test_numeric_ipv4_connects_and_echoes(void)
{
    aios_stream *c = NULL;
    t_rec conn = {0}, line = {0};
    aios_ctx_init(&ctx);
    T_REQUIRE(aios_server_init(&srv, &ctx, NULL, keep_conn, NULL) == 0);
    T_REQUIRE(aios_server_listen_tcp(&srv, "127.0.0.1", 0) == 0);
    T_CHECK(aios_server_port(&srv) > 0);
    T_EQ(aios_tcp_connect(&c, &ctx, "127.0.0.1", aios_server_port(&srv), NULL, t_rec_cb, &conn), 0);
    T_CHECK(t_spin(&ctx, &conn.calls, 1));
    T_EQ(conn.status, 0);
    T_EQ(aios_write_copy(c, "hi\n", 3, NULL, NULL), 0);
    while (!accepted && aios_run_once(&ctx, AIOS_MS(100)) > 0) {}
    T_REQUIRE(accepted != NULL);
    T_EQ(aios_read_until(accepted, "\n", 1, 64, t_line_cb, &line), 0);
    T_CHECK(t_spin(&ctx, &line.calls, 1));
    T_EQ(line.status, 3);
    T_STREQ(line.data, "hi\n");
    aios_ctx_close(&ctx);
    accepted = NULL;
}

static void test_numeric_ipv6_listens_and_connects(void)
{
    aios_stream *c = NULL;
    t_rec conn = {0};
    int r;
    aios_ctx_init(&ctx);
    T_REQUIRE(aios_server_init(&srv, &ctx, NULL, keep_conn, NULL) == 0);
    r = aios_server_listen_tcp(&srv, "::1", 0);
    if (r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL) { aios_ctx_close(&ctx); return; }  /* no IPv6 here */
    T_EQ(r, 0);
    T_EQ(aios_tcp_connect(&c, &ctx, "[::1]", aios_server_port(&srv), NULL, t_rec_cb, &conn), 0);
    T_CHECK(t_spin(&ctx, &conn.calls, 1));
    T_EQ(conn.status, 0);
    aios_ctx_close(&ctx);
    accepted = NULL;
}

static void test_host_name_is_refused_at_once(void)
{
    aios_stream *c = (aios_stream *)&ctx;  /* anything but NULL */
    t_rec conn = {0};
    aios_ctx_init(&ctx);
    T_EQ(aios_tcp_connect(&c, &ctx, "localhost", 80, NULL, t_rec_cb, &conn), AIOS_ENOTNUMERIC);
    T_CHECK(c == NULL);
    T_EQ(aios_tcp_connect(&c, &ctx, "example.invalid", 80, NULL, t_rec_cb, &conn), AIOS_ENOTNUMERIC);
    T_EQ(ctx.nstreams, 0);                  /* nothing was left behind */
    T_EQ(aios_run_once(&ctx, 0), 0);        /* nothing pending */
    T_EQ(conn.calls, 0);                    /* and no callback */
    T_REQUIRE(aios_server_init(&srv, &ctx, NULL, keep_conn, NULL) == 0);
    T_EQ(aios_server_listen_tcp(&srv, "localhost", 0), AIOS_ENOTNUMERIC);
    T_EQ(srv.nlis, 0);
    T_EQ(aios_server_listen_tcp(&srv, "127.0.0.1", 0), 0);  /* the server is still usable */
    T_CHECK(strstr(aios_strerror(AIOS_ENOTNUMERIC), "AIOS_NO_RESOLVER") != NULL);
    aios_ctx_close(&ctx);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    t_suite("aio_noresolver");
    T_RUN(test_numeric_ipv4_connects_and_echoes);
    T_RUN(test_numeric_ipv6_listens_and_connects);
    T_RUN(test_host_name_is_refused_at_once);
    return t_done();
}
