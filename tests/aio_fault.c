/* tests/aio_fault.c - the aio_stream.h fault-injection sweep.
 *
 * Every system call and allocation of aio_stream.h goes through its hooks
 * (AIOS_SYS_READ, _WRITEV, _SENDMSG, _ACCEPT, _SOCKET, _CONNECT, _CLOSE,
 * _POLL, _GETADDRINFO, AIOS_MALLOC / AIOS_REALLOC).  Four scenarios run on
 * one context:
 *   echo      an aios client sends lines to an aios echo server (one of
 *             6000 bytes), says quit, reads the goodbye and the close;
 *   http      an aios client GETs a chunked response from an aios server,
 *             parses it with examples/http_resp.h and copies the body into
 *             a pipe, as http_get does to its stdout; a reader drains it;
 *   shutdown  two clients connected, the server shuts down gracefully: one
 *             client finishes its conversation, the other hangs up;
 *   resolve   a client connects to a name through the resolver thread (two
 *             addresses: the first refuses) and does one echo.
 * Each first runs without faults, which gives its transcript (what every
 * party received and how each ended) and how many calls of each kind it
 * makes.  Then for every kind, every call index k and every error that
 * call can really return, the scenario runs again with its k-th call of
 * that kind failing, and each time:
 *  - it ends (no hang, no crash), every operation that started calls back
 *    exactly once and never inside the call that started it, and after
 *    aios_ctx_close every descriptor it opened is closed (and the ASan and
 *    valgrind builds of t_unit see no leak);
 *  - a transient failure (EAGAIN, EINTR, a failed close, an accept that
 *    found the connection gone or ran out of descriptors, a poll without
 *    memory) changes nothing: the same transcript and no error anywhere,
 *    except that an accept out of descriptors is counted in
 *    stats.fd_exhausted and a poll out of memory comes back, once, from
 *    aios_run_once;
 *  - a hard failure reaches the application as its code: the stream whose
 *    read or send failed gets the error in a callback; a failed socket,
 *    connect or name lookup reaches the connect callback (or the call that
 *    listened or connected); a failed allocation comes back as -ENOMEM from
 *    a call or in a callback, or as a rejected connection.  Only where
 *    the library may absorb it (another address of the name, a buffer that
 *    did not need to grow) may the transcript stay unchanged instead;
 *  - a bystander connection, opened on the same context before the fault
 *    and idle through it, still completes its conversation afterwards, and
 *    so does a new connection.
 * T_VERBOSE=1 prints every run; T_ONE="SCENARIO KIND INDEX ERRNO" (numbers)
 * runs just that case and shows its transcript next to the reference.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* ==== the hooks: count calls, fail the chosen one ==== */

enum { K_READ, K_WRITEV, K_SENDMSG, K_ACCEPT, K_SOCKET, K_CONNECT, K_CLOSE, K_POLL, K_GAI, K_ALLOC, K_COUNT };
static const char *const k_name[K_COUNT] = {"read", "writev", "sendmsg", "accept", "socket",
                                            "connect", "close", "poll", "getaddrinfo", "alloc"};

static int fi_armed;             /* counting (and failing) only while set */
static long fi_calls[K_COUNT];   /* calls made while armed */
static int fi_kind = -1;         /* the call to fail: its kind, index (from 1) and error */
static long fi_at;
static int fi_err;
static int fi_hit, fi_hit_fd;    /* it happened, on this descriptor (-1: none) */
static void (*fi_on_hit)(int fd); /* notes whose descriptor it was, at once */

/* getaddrinfo runs in the resolver thread, hence the atomics. */
static int fi_fail(int kind, int fd)
{
    long n;
    if (!__atomic_load_n(&fi_armed, __ATOMIC_SEQ_CST)) return 0;
    n = __atomic_add_fetch(&fi_calls[kind], 1, __ATOMIC_SEQ_CST);
    if (kind != fi_kind || n != fi_at) return 0;
    __atomic_store_n(&fi_hit_fd, fd, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fi_hit, 1, __ATOMIC_SEQ_CST);
    if (fd >= 0 && fi_on_hit) fi_on_hit(fd);
    return 1;
}

static ssize_t h_read(int fd, void *b, size_t n)
{
    if (fi_fail(K_READ, fd)) { errno = fi_err; return -1; }
    return read(fd, b, n);
}

static ssize_t h_writev(int fd, const struct iovec *iov, int k)
{
    if (fi_fail(K_WRITEV, fd)) { errno = fi_err; return -1; }
    return writev(fd, iov, k);
}

static ssize_t h_sendmsg(int fd, const struct msghdr *m, int flags)
{
    if (fi_fail(K_SENDMSG, fd)) { errno = fi_err; return -1; }
    return sendmsg(fd, m, flags);
}

static int h_accept(int fd, struct sockaddr *a, socklen_t *len)
{
    if (fi_fail(K_ACCEPT, fd)) { errno = fi_err; return -1; }
    return accept4(fd, a, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

static int h_socket(int dom, int type, int proto)
{
    if (fi_fail(K_SOCKET, -1)) { errno = fi_err; return -1; }
    return socket(dom, type, proto);
}

/* EINTR is what a connect says when a signal came while it went on by itself
 * (POSIX): the connection is really started, and only then is it faked. */
static int h_connect(int fd, const struct sockaddr *a, socklen_t len)
{
    int r;
    if (fi_fail(K_CONNECT, fd)) {
        if (fi_err != EINTR) { errno = fi_err; return -1; }
        r = connect(fd, a, len);
        if (r < 0 && errno == EINPROGRESS) { errno = EINTR; return -1; }
        __atomic_store_n(&fi_hit, 0, __ATOMIC_SEQ_CST);  /* done at once: nothing to interrupt */
        return r;
    }
    return connect(fd, a, len);
}

/* Linux releases the descriptor even when close reports an error. */
static int h_close(int fd)
{
    if (fi_fail(K_CLOSE, fd)) { close(fd); errno = fi_err; return -1; }
    return close(fd);
}

/* The loop's wait, on either backend. */
static int h_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const void *sig)
{
    (void)sig;
    if (fi_fail(K_POLL, -1)) { errno = fi_err; return -1; }
    return ppoll(fds, n, ts, NULL);
}

#if !defined(ASYNCKIT_POLL)
#include <sys/epoll.h>
static int h_epoll_wait(int epfd, struct epoll_event *ev, int n, int ms)
{
    if (fi_fail(K_POLL, -1)) { errno = fi_err; return -1; }
    return epoll_wait(epfd, ev, n, ms);
}
#define AKC_SYS_EPOLL_WAIT(e, ev, n, ms) h_epoll_wait((e), (ev), (n), (ms))
#define AKC_NO_PWAIT2 1
#endif

static void *h_malloc(size_t n) { return fi_fail(K_ALLOC, -1) ? NULL : malloc(n); }
static void *h_realloc(void *p, size_t n) { return fi_fail(K_ALLOC, -1) ? NULL : realloc(p, n); }

/* "dual.test" has two addresses: 127.0.0.2 (nobody listens: refused) first,
 * then 127.0.0.1.  Failures: the EAI code in fi_err (EAI_SYSTEM with EMFILE). */
static const char fake_mark[] = "aio_fault";
static int h_getaddrinfo(const char *host, const char *serv, const struct addrinfo *hints, struct addrinfo **res)
{
    static const char *const ip[2] = {"127.0.0.2", "127.0.0.1"};
    struct addrinfo *list = NULL;
    int i;
    if (fi_fail(K_GAI, -1)) {
        if (fi_err == EAI_SYSTEM) errno = EMFILE;
        return fi_err;
    }
    if (!host || strcmp(host, "dual.test") != 0) return getaddrinfo(host, serv, hints, res);
    for (i = 1; i >= 0; i--) {
        struct fake { struct addrinfo ai; struct sockaddr_in sa; } *n = (struct fake *)calloc(1, sizeof *n);
        if (!n) return EAI_MEMORY;
        n->sa.sin_family = AF_INET;
        n->sa.sin_port = htons((uint16_t)atoi(serv ? serv : "0"));
        inet_pton(AF_INET, ip[i], &n->sa.sin_addr);
        n->ai.ai_family = AF_INET;
        n->ai.ai_socktype = SOCK_STREAM;
        n->ai.ai_protocol = IPPROTO_TCP;
        n->ai.ai_addr = (struct sockaddr *)&n->sa;
        n->ai.ai_addrlen = sizeof n->sa;
        n->ai.ai_canonname = (char *)fake_mark;
        n->ai.ai_next = list;
        list = &n->ai;
    }
    *res = list;
    return 0;
}

static void h_freeaddrinfo(struct addrinfo *a)
{
    if (a && a->ai_canonname == fake_mark) {
        while (a) { struct addrinfo *next = a->ai_next; free(a); a = next; }
        return;
    }
    freeaddrinfo(a);
}

#define AIOS_SYS_READ(fd, b, n) h_read((fd), (b), (n))
#define AIOS_SYS_WRITEV(fd, iov, k) h_writev((fd), (iov), (k))
#define AIOS_SYS_SENDMSG(fd, m, f) h_sendmsg((fd), (m), (f))
#define AIOS_SYS_ACCEPT(fd, a, l) h_accept((fd), (a), (l))
#define AIOS_SYS_SOCKET(d, t, p) h_socket((d), (t), (p))
#define AIOS_SYS_CONNECT(fd, a, l) h_connect((fd), (a), (l))
#define AIOS_SYS_CLOSE(fd) h_close(fd)
#define AKC_SYS_PPOLL(f, n, ts, sig) h_ppoll((f), (n), (ts), (sig))
#define AIOS_SYS_GETADDRINFO(h, s, hi, r) h_getaddrinfo((h), (s), (hi), (r))
#define AIOS_SYS_FREEADDRINFO(a) h_freeaddrinfo(a)
#define AIOS_MALLOC(n) h_malloc(n)
#define AIOS_REALLOC(p, n) h_realloc((p), (n))
#define AIOS_FREE(p) free(p)
#include "aio_common.h"
#include "examples/http_resp.h"

/* The errors each kind of call can really return, and which of them a
 * program never notices (the library retries, or nothing was lost). */
typedef struct fi_error { int err, transient; } fi_error;
static const fi_error k_errors[K_COUNT][5] = {
    /* read */    {{EIO, 0}, {ECONNRESET, 0}, {EAGAIN, 1}, {EINTR, 1}},
    /* writev */  {{EIO, 0}, {EPIPE, 0}, {EAGAIN, 1}, {EINTR, 1}},
    /* sendmsg */ {{ECONNRESET, 0}, {ENOBUFS, 0}, {EAGAIN, 1}, {EINTR, 1}},
    /* accept */  {{EMFILE, 1}, {ENOMEM, 1}, {ECONNABORTED, 1}, {EAGAIN, 1}, {EINTR, 1}},
    /* socket */  {{EMFILE, 0}, {ENOMEM, 0}},
    /* connect */ {{ECONNREFUSED, 0}, {ENETUNREACH, 0}, {EINTR, 1}},
    /* close */   {{EIO, 1}, {EINTR, 1}},
    /* poll */    {{EINTR, 1}, {ENOMEM, 1}},
    /* getaddrinfo */ {{EAI_AGAIN, 0}, {EAI_MEMORY, 0}, {EAI_SYSTEM, 0}, {EAI_NONAME, 0}},
    /* alloc */   {{ENOMEM, 0}}
};

static int n_errors(int kind)
{
    int n = 0;
    while (n < 5 && k_errors[kind][n].err) n++;
    return n;
}

/* The code a hard failure must reach the program as. */
static int expected_code(int kind, int err)
{
    if (kind == K_GAI) {
        switch (err) {
        case EAI_AGAIN: return AIOS_ERESOLVE;
        case EAI_MEMORY: return -ENOMEM;
        case EAI_SYSTEM: return -EMFILE;
        default: return AIOS_ENOTFOUND;
        }
    }
    if (kind == K_ALLOC) return -ENOMEM;
    return -err;
}

/* ==== operations and the parties of a conversation ==== */

enum { OP_CONNECT = 1, OP_READ, OP_WRITE, OP_CLOSE, OP_SHUTDOWN };
enum { ROLE_ECHO_SRV = 1, ROLE_ECHO_CLI, ROLE_HTTP_SRV, ROLE_HTTP_CLI, ROLE_PIPE_OUT, ROLE_PIPE_IN };

typedef struct actor actor;
typedef struct op { actor *a; int kind, calls, status, unstarted; } op;

#define MAX_OPS 4096
#define MAX_ACTORS 16
#define MAX_CODES 64

struct actor {
    int used, role, bystander, closing, closed;
    aios_stream *s;
    char name[8];
    char tr[256];                 /* transcript */
    int codes[16], ncodes;        /* negative statuses its callbacks got */
    const char *const *script;    /* echo client: lines to send, NULL-terminated */
    int line, hold_at, held;
    char buf[8192];
    http_resp hr;                 /* http client */
    size_t body_len;
    uint32_t hash;
    actor *out, *peer;            /* http client: the pipe its body goes to, and back */
    int response_done;
};

static op ops[MAX_OPS];
static int nops, ops_overflow;
static actor actors[MAX_ACTORS];
static int in_api, cb_inside_call, cb_twice;
static int hit_actor = -1;      /* the party whose descriptor the fault hit */
/* what a scenario showed, from arming to the end of the scenario */
static int observing;
static int cb_codes[MAX_CODES], n_cb_codes, sync_codes[MAX_CODES], n_sync_codes, run_codes[MAX_CODES], n_run_codes;

static aios_ctx ctx;

static void add_code(int *list, int *n, int code)
{
    if (observing && *n < MAX_CODES) list[(*n)++] = code;
}

static int has_code(const int *list, int n, int code)
{
    int i;
    for (i = 0; i < n; i++) if (list[i] == code) return 1;
    return 0;
}

static op *op_new(actor *a, int kind)
{
    op *o;
    if (nops >= MAX_OPS) { ops_overflow = 1; nops = 0; }
    o = &ops[nops++];
    memset(o, 0, sizeof *o);
    o->a = a;
    o->kind = kind;
    return o;
}

/* An operation whose call failed never calls back. */
static int started(op *o, int r)
{
    if (r < 0) o->unstarted = 1;
    return r;
}

static void op_done(op *o, int status)
{
    if (in_api) cb_inside_call++;
    if (++o->calls > 1) cb_twice++;
    o->status = status;
    if (status < 0) {
        if (o->a->ncodes < 16) o->a->codes[o->a->ncodes++] = status;
        add_code(cb_codes, &n_cb_codes, status);
    }
}

static int api_done(int r)
{
    in_api--;
    if (r < 0) add_code(sync_codes, &n_sync_codes, r);
    return r;
}
/* every call into the library: callbacks must not run inside it */
#define API(expr) (in_api++, api_done(expr))

static void tr_add(actor *a, const char *fmt, ...)
{
    size_t n = strlen(a->tr);
    va_list ap;
    va_start(ap, fmt);
    if (n < sizeof a->tr) vsnprintf(a->tr + n, sizeof a->tr - n, fmt, ap);
    va_end(ap);
}

static actor *actor_new(int role, int bystander, const char *name)
{
    int i;
    for (i = 0; i < MAX_ACTORS; i++) {
        actor *a = &actors[i];
        if (a->used) continue;
        memset(a, 0, sizeof *a);
        a->used = 1;
        a->role = role;
        a->bystander = bystander;
        snprintf(a->name, sizeof a->name, "%s", name);
        http_resp_init(&a->hr);
        return a;
    }
    return NULL;
}

static void on_closed(aios_stream *s, int status, void *ud)
{
    op *o = (op *)ud;
    (void)s;
    op_done(o, status);
    tr_add(o->a, "x%d", status);
    o->a->closed = 1;
    o->a->s = NULL;
}

static void out_close(actor *out, int graceful);

/* Closes a's stream; AIOS_ECLOSED means the library is closing it already
 * (a server's forced shutdown, aios_ctx_close): it is gone once the callback
 * that brought the news returns.  An http client's pipe goes with it: flushed
 * after a whole response, cut after a failure. */
static void actor_close(actor *a)
{
    op *o;
    int r;
    if (a->out) {
        actor *out = a->out;
        a->out = NULL;
        out_close(out, a->response_done);
    }
    if (a->closing || !a->s) return;
    a->closing = 1;
    o = op_new(a, OP_CLOSE);
    r = started(o, API(aios_close(a->s, on_closed, o)));
    if (r == AIOS_ECLOSED) {
        tr_add(a, "gone");
        a->closed = 1;
        a->s = NULL;
    } else if (r < 0) {
        a->closing = 0;
    }
}

static void on_write(aios_stream *s, int status, void *ud)
{
    op *o = (op *)ud;
    (void)s;
    op_done(o, status);
    if (status < 0) { tr_add(o->a, "w%d ", status); actor_close(o->a); }
}

static int write_op(actor *a, const char *p, size_t n, int copy)
{
    op *o = op_new(a, OP_WRITE);
    return started(o, API(copy ? aios_write_copy(a->s, p, n, on_write, o) : aios_write(a->s, p, n, on_write, o)));
}

static uint32_t hash_of(uint32_t h, const char *p, size_t n) { return t_hash(h, p, n); }

/* ---- the echo server's side of a connection ---- */

static void srv_read_next(actor *a);

static void srv_on_line(aios_stream *s, int status, void *ud)
{
    op *o = (op *)ud;
    actor *a = o->a;
    size_t n;
    const char *p;
    op_done(o, status);
    if (status <= 0) { tr_add(a, "r%d ", status); actor_close(a); return; }
    p = aios_data(s, &n);
    tr_add(a, "L%d:%08x ", status, (unsigned)hash_of(2166136261u, p, (size_t)status));
    if (status == 5 && memcmp(p, "quit\n", 5) == 0) {
        op *g;
        aios_consume(s, (size_t)status);
        if (write_op(a, "bye\n", 4, 1) < 0) { actor_close(a); return; }
        g = op_new(a, OP_CLOSE);
        a->closing = 1;
        if (started(g, API(aios_close_graceful(s, AIOS_MS(5000), on_closed, g))) < 0) { a->closing = 0; actor_close(a); }
        return;
    }
    if (write_op(a, p, (size_t)status, 1) < 0) { actor_close(a); return; }
    aios_consume(s, (size_t)status);
    srv_read_next(a);
}

static void srv_read_next(actor *a)
{
    op *o = op_new(a, OP_READ);
    if (started(o, API(aios_read_until(a->s, "\n", 1, 65536, srv_on_line, o))) < 0) actor_close(a);
}

/* ---- the echo client ---- */

static void cli_send(actor *a);

static void cli_on_eof(aios_stream *s, int status, void *ud)
{
    op *o = (op *)ud;
    (void)s;
    op_done(o, status);
    tr_add(o->a, "e%d ", status);
    actor_close(o->a);
}

static void cli_on_line(aios_stream *s, int status, void *ud)
{
    op *o = (op *)ud;
    actor *a = o->a;
    size_t n;
    const char *p;
    op_done(o, status);
    if (status <= 0) { tr_add(a, "r%d ", status); actor_close(a); return; }
    p = aios_data(s, &n);
    tr_add(a, "L%d:%08x ", status, (unsigned)hash_of(2166136261u, p, (size_t)status));
    aios_consume(s, (size_t)status);
    a->line++;
    if (a->line == a->hold_at) { a->held = 1; return; }  /* the driver goes on */
    cli_send(a);
}

static void cli_send(actor *a)
{
    const char *line = a->script[a->line];
    op *o;
    if (!line) {  /* said everything: the server closes */
        o = op_new(a, OP_READ);
        if (started(o, API(aios_read(a->s, a->buf, sizeof a->buf, cli_on_eof, o))) < 0) actor_close(a);
        return;
    }
    if (write_op(a, line, strlen(line), 0) < 0) { actor_close(a); return; }
    o = op_new(a, OP_READ);
    if (started(o, API(aios_read_until(a->s, "\n", 1, 65536, cli_on_line, o))) < 0) actor_close(a);
}

/* ---- the http client (what http_get does) and server ---- */

static void http_next(actor *a);

static void http_on_out_written(aios_stream *s, int status, void *ud)
{
    op *o = (op *)ud;
    actor *out = o->a, *a = out->peer;
    (void)s;
    op_done(o, status);
    if (status < 0) {
        tr_add(out, "w%d ", status);
        if (a) actor_close(a);
        actor_close(out);
        return;
    }
    if (a) http_next(a);
}

static void out_close(actor *out, int graceful)
{
    op *o;
    out->peer = NULL;
    if (!graceful) { actor_close(out); return; }
    if (out->closing || !out->s) return;
    o = op_new(out, OP_CLOSE);
    out->closing = 1;
    if (started(o, API(aios_close_graceful(out->s, AIOS_MS(5000), on_closed, o))) < 0) { out->closing = 0; actor_close(out); }
}

/* The pipe's reading end: everything until the end of the stream. */
static void pipe_on_read(aios_stream *s, int status, void *ud)
{
    op *o = (op *)ud;
    actor *a = o->a;
    op_done(o, status);
    if (status <= 0) {
        tr_add(a, "%d %lu:%08x ", status, (unsigned long)a->body_len, (unsigned)a->hash);
        actor_close(a);
        return;
    }
    a->hash = hash_of(a->hash, a->buf, (size_t)status);
    a->body_len += (size_t)status;
    o = op_new(a, OP_READ);
    if (started(o, API(aios_read(s, a->buf, sizeof a->buf, pipe_on_read, o))) < 0) actor_close(a);
}

static void http_on_line(aios_stream *s, int status, void *ud)
{
    op *o = (op *)ud;
    actor *a = o->a;
    size_t n;
    const char *p;
    op_done(o, status);
    if (status < 0) { tr_add(a, "line%d ", status); actor_close(a); return; }
    p = aios_data(s, &n);
    (void)http_resp_line(&a->hr, p, (size_t)status);
    aios_consume(s, (size_t)status);
    http_next(a);
}

static void http_on_body(aios_stream *s, int status, void *ud)
{
    op *o = (op *)ud;
    actor *a = o->a;
    (void)s;
    op_done(o, status);
    if (status < 0) { tr_add(a, "body%d ", status); actor_close(a); return; }
    if (status == 0) {
        (void)http_resp_eof(&a->hr);
    } else {
        a->hash = hash_of(a->hash, a->buf, (size_t)status);
        a->body_len += (size_t)status;
        (void)http_resp_body(&a->hr, (size_t)status);
        if (a->out) {  /* the body goes to the pipe; the next read waits for it, as in http_get */
            op *w = op_new(a->out, OP_WRITE);
            if (started(w, API(aios_write(a->out->s, a->buf, (size_t)status, http_on_out_written, w))) < 0) actor_close(a);
            return;
        }
        tr_add(a, "no pipe ");
        actor_close(a);
        return;
    }
    http_next(a);
}

static void http_next(actor *a)
{
    size_t max;
    int w = http_resp_want(&a->hr, &max);
    op *o;
    if (w == HTTP_RESP_LINE) {
        o = op_new(a, OP_READ);
        if (started(o, API(aios_read_until(a->s, "\n", 1, HTTP_RESP_LINE_MAX, http_on_line, o))) < 0) actor_close(a);
    } else if (w == HTTP_RESP_BODY) {
        o = op_new(a, OP_READ);
        if (started(o, API(aios_read(a->s, a->buf, max < sizeof a->buf ? max : sizeof a->buf, http_on_body, o))) < 0)
            actor_close(a);
    } else {
        tr_add(a, "%s %d body %lu:%08x ", w == HTTP_RESP_DONE ? "done" : a->hr.error, a->hr.status,
               (unsigned long)a->body_len, (unsigned)a->hash);
        a->response_done = w == HTTP_RESP_DONE;
        actor_close(a);
    }
}

static const char http_request[] = "GET /file HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
static const char http_head[] = "HTTP/1.1 200 OK\r\nServer: aio_fault\r\nTransfer-Encoding: chunked\r\n\r\n";
static char http_body[16384];
static size_t http_body_len;

static void http_build_body(void)
{
    static const size_t sizes[3] = {7000, 5000, 3};
    size_t i, k, at = 0;
    for (i = 0; i < 3; i++) {
        at += (size_t)sprintf(http_body + at, "%zx;n=%zu\r\n", sizes[i], i);
        for (k = 0; k < sizes[i]; k++) http_body[at++] = (char)('a' + (k * 7 + i) % 26);
        memcpy(http_body + at, "\r\n", 2);
        at += 2;
    }
    memcpy(http_body + at, "0\r\nX-Sum: 12003\r\n\r\n", 19);
    http_body_len = at + 19;
}

static void http_srv_on_request(aios_stream *s, int status, void *ud)
{
    op *o = (op *)ud;
    actor *a = o->a;
    size_t n;
    op_done(o, status);
    if (status <= 0) { tr_add(a, "r%d ", status); actor_close(a); return; }
    tr_add(a, "req %d:%08x ", status, (unsigned)hash_of(2166136261u, aios_data(s, &n), (size_t)status));
    aios_consume(s, (size_t)status);
    if (write_op(a, http_head, sizeof http_head - 1, 1) < 0 || write_op(a, http_body, http_body_len, 0) < 0) {
        actor_close(a);
        return;
    }
    o = op_new(a, OP_CLOSE);
    a->closing = 1;
    if (started(o, API(aios_close_graceful(s, AIOS_MS(5000), on_closed, o))) < 0) { a->closing = 0; actor_close(a); }
}

/* ---- servers ---- */

typedef struct server {
    aios_server srv;
    int role, bystander, up;
    const char *conn_name;
    op *shut;
} server;

static void on_conn(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud)
{
    server *sv = (server *)ud;
    actor *a = actor_new(sv->role == ROLE_HTTP_SRV ? ROLE_HTTP_SRV : ROLE_ECHO_SRV, sv->bystander, sv->conn_name);
    (void)srv; (void)peer;
    if (in_api) cb_inside_call++;
    if (!a) { aios_close(s, NULL, NULL); return; }
    a->s = s;
    if (a->role == ROLE_HTTP_SRV) {
        op *o = op_new(a, OP_READ);
        if (started(o, API(aios_read_until(s, "\r\n\r\n", 4, 8192, http_srv_on_request, o))) < 0) actor_close(a);
    } else {
        srv_read_next(a);
    }
}

static int server_start(server *sv, int role, int bystander, const char *conn_name)
{
    aios_server_config cfg;
    int r;
    memset(sv, 0, sizeof *sv);
    sv->role = role;
    sv->bystander = bystander;
    sv->conn_name = conn_name;
    aios_server_config_init(&cfg);
    cfg.retry_ns = AIOS_MS(5);
    if (API(aios_server_init(&sv->srv, &ctx, &cfg, on_conn, sv)) < 0) return -1;
    r = API(aios_server_listen_tcp(&sv->srv, "127.0.0.1", 0));
    sv->up = r == 0;
    return r;
}

static void on_shut(aios_server *srv, int forced, void *ud)
{
    op *o = (op *)ud;
    (void)srv;
    op_done(o, 0);
    tr_add(o->a, "shut forced %d ", forced);
}

/* ---- starting clients ---- */

static void cli_on_connect(aios_stream *s, int status, void *ud)
{
    op *o = (op *)ud;
    actor *a = o->a;
    (void)s;
    op_done(o, status);
    tr_add(a, "c%d ", status);
    if (status < 0) { actor_close(a); return; }
    if (a->role == ROLE_HTTP_CLI) {
        if (write_op(a, http_request, sizeof http_request - 1, 1) < 0) { actor_close(a); return; }
        http_next(a);
    } else {
        cli_send(a);
    }
}

static actor *client_start(int role, int bystander, const char *name, const char *host, int port,
                           const char *const *script, int hold_at)
{
    actor *a = actor_new(role, bystander, name);
    op *o;
    aios_tcp_opts opt;
    int r;
    if (!a) return NULL;
    a->script = script;
    a->hold_at = hold_at;
    a->hash = 2166136261u;
    aios_tcp_opts_init(&opt);
    o = op_new(a, OP_CONNECT);
    r = started(o, API(aios_tcp_connect(&a->s, &ctx, host, port, &opt, cli_on_connect, o)));
    if (r < 0) {
        tr_add(a, "connect %d ", r);
        a->s = NULL;
        a->closed = 1;
    }
    return a;
}

/* ==== the scenarios ==== */

static char big_line[6001];
static const char *const echo_script[] = {"hello\n", big_line, "x\n", "quit\n", NULL};
static const char *const held_quit_script[] = {"hello\n", "quit\n", NULL};
static const char *const hello_script[] = {"hello\n", NULL};
static const char *const bystander_script[] = {"ping\n", "again\n", "quit\n", NULL};
static const char *const newcomer_script[] = {"new\n", "quit\n", NULL};

enum { SC_ECHO, SC_HTTP, SC_SHUTDOWN, SC_RESOLVE, SC_COUNT };
static const char *const sc_name[SC_COUNT] = {"echo", "http", "shutdown", "resolve"};

static server sc_srv, by_srv;
static actor *sc_cli[2], *shut_actor;
static int sc_phase, sc_aborted;

static void scenario_start(int sc)
{
    sc_phase = 0;
    sc_aborted = 0;
    sc_cli[0] = sc_cli[1] = NULL;
    shut_actor = NULL;
    if (server_start(&sc_srv, sc == SC_HTTP ? ROLE_HTTP_SRV : ROLE_ECHO_SRV, 0, "S") < 0) { sc_aborted = 1; return; }
    switch (sc) {
    case SC_ECHO:
        sc_cli[0] = client_start(ROLE_ECHO_CLI, 0, "C", "127.0.0.1", aios_server_port(&sc_srv.srv), echo_script, -1);
        break;
    case SC_HTTP: {
        int p[2];
        actor *out = actor_new(ROLE_PIPE_OUT, 0, "O"), *in = actor_new(ROLE_PIPE_IN, 0, "P");
        out->closed = in->closed = 1;
        if (pipe2(p, O_CLOEXEC) == 0) {
            if (API(aios_stream_open(&out->s, &ctx, p[1], 0)) == 0) out->closed = 0; else close(p[1]);
            if (API(aios_stream_open(&in->s, &ctx, p[0], 0)) == 0) in->closed = 0; else close(p[0]);
        }
        in->hash = 2166136261u;
        if (!in->closed) {
            op *o = op_new(in, OP_READ);
            if (started(o, API(aios_read(in->s, in->buf, sizeof in->buf, pipe_on_read, o))) < 0) actor_close(in);
        }
        sc_cli[0] = client_start(ROLE_HTTP_CLI, 0, "C", "127.0.0.1", aios_server_port(&sc_srv.srv), NULL, -1);
        if (sc_cli[0] && !sc_cli[0]->closed && !out->closed) { sc_cli[0]->out = out; out->peer = sc_cli[0]; }
        else if (!out->closed) actor_close(out);
        break;
    }
    case SC_SHUTDOWN:
        sc_cli[0] = client_start(ROLE_ECHO_CLI, 0, "C1", "127.0.0.1", aios_server_port(&sc_srv.srv), held_quit_script, 1);
        sc_cli[1] = client_start(ROLE_ECHO_CLI, 0, "C2", "127.0.0.1", aios_server_port(&sc_srv.srv), hello_script, 1);
        break;
    default:
        sc_cli[0] = client_start(ROLE_ECHO_CLI, 0, "C", "dual.test", aios_server_port(&sc_srv.srv), held_quit_script, -1);
        break;
    }
}

static int settled(const actor *a) { return !a || a->closed || a->held; }

/* Moves the scenario on between loop iterations; 1 when it is over. */
static int scenario_step(int sc)
{
    int i;
    if (sc == SC_SHUTDOWN && sc_phase == 0 && !sc_aborted && settled(sc_cli[0]) && settled(sc_cli[1])) {
        /* both clients had their first answer (or failed): shut down with them connected */
        sc_phase = 1;
        shut_actor = actor_new(0, 0, "G");
        shut_actor->closed = 1;
        sc_srv.shut = op_new(shut_actor, OP_SHUTDOWN);
        if (started(sc_srv.shut, API(aios_server_shutdown(&sc_srv.srv, AIOS_MS(5000), on_shut, sc_srv.shut))) < 0)
            tr_add(shut_actor, "shutdown refused ");
        if (sc_cli[0] && sc_cli[0]->held) { sc_cli[0]->held = 0; sc_cli[0]->hold_at = -1; cli_send(sc_cli[0]); }
        if (sc_cli[1] && sc_cli[1]->held) { sc_cli[1]->held = 0; actor_close(sc_cli[1]); }
    }
    if (sc == SC_SHUTDOWN && !sc_aborted && (sc_phase == 0 || (sc_srv.shut && !sc_srv.shut->unstarted && !sc_srv.shut->calls)))
        return 0;
    for (i = 0; i < MAX_ACTORS; i++)
        if (actors[i].used && !actors[i].bystander && !actors[i].closed) return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Every party's transcript, in a stable order. */
static void transcript(int bystander, char *out, size_t cap)
{
    const char *list[MAX_ACTORS];
    char tmp[MAX_ACTORS][300];
    int i, n = 0;
    size_t at = 0;
    for (i = 0; i < MAX_ACTORS; i++) {
        if (!actors[i].used || actors[i].bystander != bystander) continue;
        snprintf(tmp[n], sizeof tmp[n], "%s[%s]", actors[i].name, actors[i].tr);
        list[n] = tmp[n];
        n++;
    }
    qsort(list, (size_t)n, sizeof list[0], cmp_str);
    out[0] = 0;
    for (i = 0; i < n && at < cap; i++) at += (size_t)snprintf(out + at, cap - at, "%s ", list[i]);
}

/* Runs the loop until done() or a generous guard (a hang, not a timing check). */
static int spin(int (*done)(int), int arg)
{
    int64_t give_up = aios_now_ns() + (int64_t)20 * 1000000000;
    while (!done(arg)) {
        int r;
        if (aios_now_ns() > give_up) return 0;
        r = aios_run_once(&ctx, AIOS_MS(50));
        if (r < 0) add_code(run_codes, &n_run_codes, r);
    }
    return 1;
}

static actor *by_cli, *by_new;
static int by_ready(int unused) { (void)unused; return settled(by_cli); }
static int by_done(int unused) { (void)unused; return by_cli->closed && (!by_new || by_new->closed); }

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* ==== one run ==== */

typedef struct result {
    char tr[2048], by_tr[1024];
    int hang, by_hang, by_broken, leaked_fds, ops_unfinished, inside, twice;
    int hit, hit_fd;
    int fd_exhausted, rejected;
} result;

static void run_one(int sc, int kind, long at, int err, result *res)
{
    int fds_before = count_fds(), i;
    memset(res, 0, sizeof *res);
    memset(actors, 0, sizeof actors);
    nops = 0;
    ops_overflow = cb_inside_call = cb_twice = 0;
    n_cb_codes = n_sync_codes = n_run_codes = 0;
    observing = 0;
    aios_ctx_init(&ctx);

    /* the bystander: connected and answered once before the fault */
    by_new = NULL;
    if (server_start(&by_srv, ROLE_ECHO_SRV, 1, "BS") < 0) { res->by_broken = 1; aios_ctx_close(&ctx); return; }
    by_cli = client_start(ROLE_ECHO_CLI, 1, "BC", "127.0.0.1", aios_server_port(&by_srv.srv), bystander_script, 1);
    if (!spin(by_ready, 0) || !by_cli->held) res->by_broken = 1;

    memset(fi_calls, 0, sizeof fi_calls);
    fi_kind = kind;
    fi_at = at;
    fi_err = err;
    fi_hit = 0;
    fi_hit_fd = -1;
    hit_actor = -1;
    observing = 1;
    __atomic_store_n(&fi_armed, 1, __ATOMIC_SEQ_CST);
    scenario_start(sc);
    if (!spin(scenario_step, sc)) res->hang = 1;
    __atomic_store_n(&fi_armed, 0, __ATOMIC_SEQ_CST);
    observing = 0;
    res->hit = __atomic_load_n(&fi_hit, __ATOMIC_SEQ_CST);
    res->hit_fd = __atomic_load_n(&fi_hit_fd, __ATOMIC_SEQ_CST);
    res->fd_exhausted = (int)sc_srv.srv.stats.fd_exhausted;
    res->rejected = (int)sc_srv.srv.stats.rejected;
    transcript(0, res->tr, sizeof res->tr);

    /* afterwards: the bystander goes on, and a newcomer is served */
    if (!res->by_broken) {
        by_cli->held = 0;
        by_cli->hold_at = -1;
        cli_send(by_cli);
        by_new = client_start(ROLE_ECHO_CLI, 1, "BN", "127.0.0.1", aios_server_port(&by_srv.srv), newcomer_script, -1);
        if (!spin(by_done, 0)) res->by_hang = 1;
    }
    transcript(1, res->by_tr, sizeof res->by_tr);

    aios_ctx_close(&ctx);
    for (i = 0; i < nops; i++)
        if (!ops[i].unstarted && ops[i].calls != 1) res->ops_unfinished++;
    if (ops_overflow) res->ops_unfinished++;
    res->inside = cb_inside_call;
    res->twice = cb_twice;
    res->leaked_fds = count_fds() - fds_before;
}

/* The party whose stream had the descriptor that failed, noted by the hook. */
static void note_hit_actor(int fd)
{
    int i;
    for (i = 0; i < MAX_ACTORS; i++)
        if (actors[i].used && actors[i].s && aios_stream_fd(actors[i].s) == fd) { hit_actor = i; return; }
}

static int hit_actor_got(int code)
{
    int k;
    if (hit_actor < 0) return 0;
    for (k = 0; k < actors[hit_actor].ncodes; k++)
        if (actors[hit_actor].codes[k] == code) return 1;
    return 0;
}

/* ==== the sweep ==== */

static result ref[SC_COUNT];
static long ref_calls[SC_COUNT][K_COUNT];
static int verbose, runs_total, runs_hit, problems;

static int check_run(int sc, int kind, int err, int transient, const result *r, char *why, size_t cap)
{
    const result *g = &ref[sc];
    int code = expected_code(kind, err), seen;
    why[0] = 0;
    if (r->hang) { snprintf(why, cap, "the scenario never ended"); return 0; }
    if (r->by_broken || r->by_hang || strcmp(r->by_tr, g->by_tr) != 0) {
        snprintf(why, cap, "the bystander was not served: %s", r->by_tr);
        return 0;
    }
    if (r->ops_unfinished) { snprintf(why, cap, "%d operations did not call back exactly once", r->ops_unfinished); return 0; }
    if (r->twice) { snprintf(why, cap, "a callback ran twice"); return 0; }
    if (r->inside) { snprintf(why, cap, "a callback ran inside the call that started it"); return 0; }
    if (r->leaked_fds) { snprintf(why, cap, "%d descriptors left open", r->leaked_fds); return 0; }
    if (!r->hit || transient) {
        int poll_nomem = r->hit && kind == K_POLL && err == ENOMEM;
        if (strcmp(r->tr, g->tr) != 0) { snprintf(why, cap, "the transcript changed: %s", r->tr); return 0; }
        if (n_sync_codes) { snprintf(why, cap, "a call failed with %d", sync_codes[0]); return 0; }
        if (poll_nomem ? !(n_run_codes == 1 && run_codes[0] == -ENOMEM) : n_run_codes != 0) {
            snprintf(why, cap, "aios_run_once returned %d errors (first %d)", n_run_codes, n_run_codes ? run_codes[0] : 0);
            return 0;
        }
        if (r->hit && kind == K_ACCEPT && (err == EMFILE || err == ENOMEM) && r->fd_exhausted != 1) {
            snprintf(why, cap, "stats.fd_exhausted is %d", r->fd_exhausted);
            return 0;
        }
        return 1;
    }
    /* a hard failure */
    seen = has_code(cb_codes, n_cb_codes, code) || has_code(sync_codes, n_sync_codes, code) ||
           has_code(run_codes, n_run_codes, code);
    if (kind == K_ALLOC && r->rejected > 0) seen = 1;
    if ((kind == K_READ || kind == K_SENDMSG || kind == K_WRITEV) && !hit_actor_got(code)) {
        snprintf(why, cap, "the stream whose call failed (%s) did not get %d in a callback: %s",
                 hit_actor >= 0 ? actors[hit_actor].name : "none", code, r->tr);
        return 0;
    }
    if (!seen && strcmp(r->tr, g->tr) != 0) {
        snprintf(why, cap, "%d reached nobody, yet the transcript changed: %s", code, r->tr);
        return 0;
    }
    if (!seen && (kind == K_SOCKET || kind == K_CONNECT) && sc != SC_RESOLVE) {
        snprintf(why, cap, "%d reached nobody", code);
        return 0;
    }
    if (!seen && kind == K_GAI) { snprintf(why, cap, "%d reached nobody", code); return 0; }
    return 1;
}

static void reference_runs(void)
{
    int sc, k, i;
    for (sc = 0; sc < SC_COUNT; sc++) {
        for (i = 0; i < 3; i++) {
            result r;
            run_one(sc, -1, 0, 0, &r);
            if (i == 0) ref[sc] = r;
            for (k = 0; k < K_COUNT; k++) if (fi_calls[k] > ref_calls[sc][k]) ref_calls[sc][k] = fi_calls[k];
            if (strcmp(r.tr, ref[sc].tr) != 0 || strcmp(r.by_tr, ref[sc].by_tr) != 0) {
                printf("FAIL aio_fault/%s: the fault-free transcript differs between runs:\n  %s\n  %s\n", sc_name[sc], ref[sc].tr, r.tr);
                problems++;
            }
        }
        if (verbose) printf("%s reference: %s | %s\n", sc_name[sc], ref[sc].tr, ref[sc].by_tr);
    }
}

static void sweep(int sc)
{
    int kind, e, sites = 0, runs = 0;
    long at;
    char why[4096];
    printf("aio_fault: %s: calls", sc_name[sc]);
    for (kind = 0; kind < K_COUNT; kind++) printf(" %s %ld", k_name[kind], ref_calls[sc][kind]);
    printf("\n");
    for (kind = 0; kind < K_COUNT; kind++) {
        for (at = 1; at <= ref_calls[sc][kind]; at++) {
            sites++;
            for (e = 0; e < n_errors(kind); e++) {
                result r;
                int ok;
                run_one(sc, kind, at, k_errors[kind][e].err, &r);
                runs++;
                runs_total++;
                runs_hit += r.hit;
                ok = check_run(sc, kind, k_errors[kind][e].err, k_errors[kind][e].transient, &r, why, sizeof why);
                if (!ok) {
                    problems++;
                    printf("FAIL aio_fault/%s: %s call %ld failing with %d: %s\n", sc_name[sc], k_name[kind], at,
                           k_errors[kind][e].err, why);
                } else if (verbose) {
                    printf("ok   %s: %s call %ld error %d%s\n", sc_name[sc], k_name[kind], at, k_errors[kind][e].err,
                           r.hit ? "" : " (not reached)");
                }
            }
        }
    }
    printf("aio_fault: %s: %d call sites, %d runs\n", sc_name[sc], sites, runs);
}

/* ==== tests ==== */

static void test_fault_free_runs_are_repeatable_and_complete(void)
{
    int sc;
    problems = 0;
    reference_runs();
    T_EQ(problems, 0);
    for (sc = 0; sc < SC_COUNT; sc++) {
        T_CHECK(!ref[sc].hang && !ref[sc].by_hang && !ref[sc].by_broken);
        T_EQ(ref[sc].ops_unfinished, 0);
        T_EQ(ref[sc].leaked_fds, 0);
        T_CHECK(strstr(ref[sc].tr, "x-") == NULL);  /* nobody ended with an error */
    }
    /* the transcripts say what each conversation is */
    T_CHECK(strstr(ref[SC_ECHO].tr, "C[c0 L6:") == ref[SC_ECHO].tr && strstr(ref[SC_ECHO].tr, "L6000:") && strstr(ref[SC_ECHO].tr, "e0 x0"));
    T_CHECK(strstr(ref[SC_HTTP].tr, "done 200 body 12003:") != NULL);
    T_CHECK(strstr(ref[SC_HTTP].tr, "P[0 12003:") != NULL);  /* the whole body came out of the pipe */
    T_CHECK(ref_calls[SC_HTTP][K_WRITEV] > 0);
    T_CHECK(strstr(ref[SC_SHUTDOWN].tr, "G[shut forced 0 ]") != NULL);
    T_CHECK(strstr(ref[SC_RESOLVE].tr, "C[c0 L6:") != NULL);
    T_EQ(ref_calls[SC_RESOLVE][K_GAI], 1);
    T_CHECK(ref_calls[SC_RESOLVE][K_CONNECT] >= 2);  /* the refused address, then the good one */
}

/* The checks can fail: a fault the program must see is seen. */
static void test_a_failed_read_is_seen_by_the_checks(void)
{
    result r;
    char why[4096];
    run_one(SC_ECHO, K_READ, 1, EIO, &r);
    T_CHECK(r.hit);
    T_CHECK(strcmp(r.tr, ref[SC_ECHO].tr) != 0);
    T_CHECK(has_code(cb_codes, n_cb_codes, -EIO));
    T_CHECK(check_run(SC_ECHO, K_READ, EIO, 0, &r, why, sizeof why));
    T_CHECK(!check_run(SC_ECHO, K_READ, EIO, 1, &r, why, sizeof why));  /* not a transient one */
}

static void test_sweep_echo(void) { problems = 0; sweep(SC_ECHO); T_EQ(problems, 0); }
static void test_sweep_http(void) { problems = 0; sweep(SC_HTTP); T_EQ(problems, 0); }
static void test_sweep_server_shutdown(void) { problems = 0; sweep(SC_SHUTDOWN); T_EQ(problems, 0); }
static void test_sweep_resolve(void) { problems = 0; sweep(SC_RESOLVE); T_EQ(problems, 0); }

/* T_ONE: one case, shown (see the top). */
static int run_just_one(const char *spec)
{
    int sc, kind, err, ok;
    long at;
    result r;
    char why[4096];
    if (sscanf(spec, "%d %d %ld %d", &sc, &kind, &at, &err) != 4 || sc < 0 || sc >= SC_COUNT || kind < 0 || kind >= K_COUNT) return 2;
    reference_runs();
    run_one(sc, kind, at, err, &r);
    ok = check_run(sc, kind, err, 0, &r, why, sizeof why);
    printf("reference: %s\nthis run:  %s\nbystander: %s\nhit %d fd %d actor %s, hang %d, unfinished %d, fds %d\n", ref[sc].tr, r.tr,
           r.by_tr, r.hit, r.hit_fd, hit_actor >= 0 ? actors[hit_actor].name : "-", r.hang, r.ops_unfinished, r.leaked_fds);
    printf("as a hard failure: %s\n", ok ? "ok" : why);
    ok = check_run(sc, kind, err, 1, &r, why, sizeof why);
    printf("as a transient one: %s\n", ok ? "ok" : why);
    return 0;
}

int main(void)
{
    size_t i;
    fi_on_hit = note_hit_actor;
    verbose = getenv("T_VERBOSE") != NULL;
    for (i = 0; i < sizeof big_line - 2; i++) big_line[i] = (char)('A' + i % 23);
    big_line[sizeof big_line - 2] = '\n';
    http_build_body();
    if (getenv("T_ONE")) return run_just_one(getenv("T_ONE"));
    t_suite("aio_fault");
    T_RUN(test_fault_free_runs_are_repeatable_and_complete);
    T_RUN(test_a_failed_read_is_seen_by_the_checks);
    T_RUN(test_sweep_echo);
    T_RUN(test_sweep_http);
    T_RUN(test_sweep_server_shutdown);
    T_RUN(test_sweep_resolve);
    printf("aio_fault: %d runs, %d reached their failing call\n", runs_total, runs_hit);
    return t_done();
}
