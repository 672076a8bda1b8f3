/* ==== asynckit aio-sched bridge begin ==== */
/* sched.h tasks await aio_stream.h's operations.  sched.h and aio_stream.h
 * both carry this block (stamped from core/bridge_aio.h by
 * tools/stamp_core.sh); whichever of the two comes second in a file
 * compiles it.  Its functions are static, so every file that includes
 * both headers has them, whichever file compiled the implementations.
 *
 * After each await SCHD_STATUS(t) holds what the operation's callback
 * would have received: bytes for reads, 0 for the others, or a negative
 * code.  schd_task_timeout(t, ns) before an await bounds it (-ETIMEDOUT),
 * and schd_task_cancel ends it (-ECANCELED); either way the operation is
 * taken back and the stream stays usable: bytes a read had taken are back
 * in the stream's buffer, a write that had not started is dropped, one
 * that had started finishes from a copy, a connect is abandoned (the
 * stream stays, without a descriptor; close it).
 *
 * Datagrams the same way: AIOS_AWAIT_RECV(t, d, buf, cap) gives the
 * datagram's length (or -EMSGSIZE for one cut to cap; aios_recv_from(d)
 * names its sender), AIOS_AWAIT_SEND(t, d, data, n, to) 0 or why the
 * datagram failed.  Taken back, a receive has taken no datagram and a
 * send not yet gone never goes. */
#if defined(SCHD_H_INCLUDED) && defined(AIO_STREAM_H) && !defined(AKC_BRIDGE_AIO)
#define AKC_BRIDGE_AIO 1
#include <errno.h>

#define AIOS_AWAIT_CONNECT(t, sp, ctx, host, port, opts) \
    SCHD_AWAIT_(t, aios__await_connect((t), (sp), (ctx), (host), (port), (opts)))
#define AIOS_AWAIT_UNIX_CONNECT(t, sp, ctx, path) SCHD_AWAIT_(t, aios__await_unix_connect((t), (sp), (ctx), (path)))
#define AIOS_AWAIT_READ(t, s, buf, cap)           SCHD_AWAIT_(t, aios__await_read((t), (s), AIOS__AW_SOME, (buf), (cap), NULL, 0))
#define AIOS_AWAIT_READ_EXACTLY(t, s, buf, n)     SCHD_AWAIT_(t, aios__await_read((t), (s), AIOS__AW_EXACT, (buf), (n), NULL, 0))
#define AIOS_AWAIT_READ_UNTIL(t, s, delim, dlen, max) \
    SCHD_AWAIT_(t, aios__await_read((t), (s), AIOS__AW_UNTIL, NULL, (max), (delim), (dlen)))
#define AIOS_AWAIT_PEEK(t, s, n)                  SCHD_AWAIT_(t, aios__await_read((t), (s), AIOS__AW_PEEK, NULL, (n), NULL, 0))
#define AIOS_AWAIT_WRITE(t, s, data, n)           SCHD_AWAIT_(t, aios__await_write((t), (s), (data), (n)))
#define AIOS_AWAIT_DRAIN(t, s, low_water)         SCHD_AWAIT_(t, aios__await_drain((t), (s), (low_water)))
#define AIOS_AWAIT_SHUTDOWN(t, s)                 SCHD_AWAIT_(t, aios__await_shutdown((t), (s)))
#define AIOS_AWAIT_SERVER_SHUTDOWN(t, srv, timeout_ns) \
    SCHD_AWAIT_(t, aios__await_server_shutdown((t), (srv), (timeout_ns)))
#define AIOS_AWAIT_RECV(t, d, buf, cap)           SCHD_AWAIT_(t, aios__await_recv((t), (d), (buf), (cap)))
#define AIOS_AWAIT_SEND(t, d, data, n, to)        SCHD_AWAIT_(t, aios__await_send((t), (d), (data), (n), (to)))

enum { AIOS__AW_SOME, AIOS__AW_EXACT, AIOS__AW_UNTIL, AIOS__AW_PEEK };

#ifdef __cplusplus
extern "C" {
#endif

/* The stream's callback: the operation is over. */
static void aios__await_done(aios_stream *s, int status, void *ud)
{
    schd_task_op_end((schd_task *)ud, s, status);
}

/* Takes the task's operation back from the stream (the await ended first). */
static void aios__await_withdraw(schd_task *t, void *op, int what)
{
    aios__withdraw((aios_stream *)op, what, aios__await_done, t);
}
static void aios__await_withdraw_read(schd_task *t, void *op) { aios__await_withdraw(t, op, AIOS__WD_READ); }
static void aios__await_withdraw_write(schd_task *t, void *op) { aios__await_withdraw(t, op, AIOS__WD_WRITE); }
static void aios__await_withdraw_drain(schd_task *t, void *op) { aios__await_withdraw(t, op, AIOS__WD_DRAIN); }
static void aios__await_withdraw_shutdown(schd_task *t, void *op) { aios__await_withdraw(t, op, AIOS__WD_SHUTDOWN); }
static void aios__await_withdraw_connect(schd_task *t, void *op) { aios__await_withdraw(t, op, AIOS__WD_CONNECT); }

#if defined(__GNUC__)
#define AIOS__BRIDGE static __attribute__((unused))
#else
#define AIOS__BRIDGE static
#endif

AIOS__BRIDGE int aios__await_read(schd_task *t, aios_stream *s, int kind, void *buf, size_t n,
                                  const void *delim, size_t dlen)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    switch (kind) {
    case AIOS__AW_SOME: r = aios_read(s, buf, n, aios__await_done, t); break;
    case AIOS__AW_EXACT: r = aios_read_exactly(s, buf, n, aios__await_done, t); break;
    case AIOS__AW_UNTIL: r = aios_read_until(s, delim, dlen, n, aios__await_done, t); break;
    default: r = aios_peek(s, n, aios__await_done, t); break;
    }
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, s, aios__await_withdraw_read);
}

/* A write is found by its callback and user pointer (the task). */
AIOS__BRIDGE int aios__await_write(schd_task *t, aios_stream *s, const void *data, size_t n)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = aios_write(s, data, n, aios__await_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, s, aios__await_withdraw_write);
}

AIOS__BRIDGE int aios__await_drain(schd_task *t, aios_stream *s, size_t low_water)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = aios_drain(s, low_water, aios__await_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, s, aios__await_withdraw_drain);
}

AIOS__BRIDGE int aios__await_shutdown(schd_task *t, aios_stream *s)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = aios_shutdown(s, aios__await_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, s, aios__await_withdraw_shutdown);
}

AIOS__BRIDGE int aios__await_connect(schd_task *t, aios_stream **sp, aios_ctx *ctx, const char *host, int port,
                                     const aios_tcp_opts *opts)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = aios_tcp_connect(sp, ctx, host, port, opts, aios__await_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, *sp, aios__await_withdraw_connect);
}

AIOS__BRIDGE int aios__await_unix_connect(schd_task *t, aios_stream **sp, aios_ctx *ctx, const char *path)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = aios_unix_connect(sp, ctx, path, aios__await_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, *sp, aios__await_withdraw_connect);
}

static void aios__await_server_done(aios_server *srv, int status, void *ud)
{
    schd_task_op_end((schd_task *)ud, srv, status);
}

static void aios__await_withdraw_server(schd_task *t, void *op)
{
    (void)t;
    aios__server_withdraw((aios_server *)op);
}

AIOS__BRIDGE int aios__await_server_shutdown(schd_task *t, aios_server *srv, int64_t timeout_ns)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = aios_server_shutdown(srv, timeout_ns, aios__await_server_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, srv, aios__await_withdraw_server);
}

static void aios__await_dgram_done(aios_dgram *d, int status, void *ud)
{
    schd_task_op_end((schd_task *)ud, d, status);
}

static void aios__await_withdraw_recv(schd_task *t, void *op)
{
    aios__dgram_withdraw((aios_dgram *)op, AIOS__WD_RECV, aios__await_dgram_done, t);
}

static void aios__await_withdraw_send(schd_task *t, void *op)
{
    aios__dgram_withdraw((aios_dgram *)op, AIOS__WD_SEND, aios__await_dgram_done, t);
}

AIOS__BRIDGE int aios__await_recv(schd_task *t, aios_dgram *d, void *buf, size_t cap)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = aios_recv(d, buf, cap, aios__await_dgram_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, d, aios__await_withdraw_recv);
}

AIOS__BRIDGE int aios__await_send(schd_task *t, aios_dgram *d, const void *data, size_t n, const aios_addr *to)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = aios_send(d, data, n, to, aios__await_dgram_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, d, aios__await_withdraw_send);
}

/* A context as a source of a schd_loop: schd_source_add with
 * aios_prepare and aios_dispatch. */
AIOS__BRIDGE int aios_attach(aios_ctx *ctx, schd_loop *loop, schd_source *src)
{
    if (!ctx || !loop || !src) return -EINVAL;
    return schd_source_add(src, loop, aios_prepare, aios_dispatch, ctx);
}

#ifdef __cplusplus
}
#endif
#endif /* AKC_BRIDGE_AIO */
/* ==== asynckit aio-sched bridge end ==== */
