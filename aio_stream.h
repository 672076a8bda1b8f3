/* aio_stream.h - v0.1 - buffered async streams, TCP client and server, Unix sockets, serial ports (Linux) - MIT or public domain, see the end of the file */
/*
# aio_stream.h

Low-level asynchronous streams for C99 on Linux, in one header, with no
dependency beyond libc (and a resolver thread for host names, which can be
switched off).  Buffered reads (`read some`, `read exactly`, `read until a
delimiter`, peek and consume), queued writes that complete when the kernel
has every byte, a TCP client with non-blocking name resolution and
Happy-Eyeballs style connection racing, a TCP / Unix-socket server with
bounded resources and graceful shutdown, and serial ports in raw mode.

## Using it

Define `AIOS_IMPLEMENTATION` in exactly one C file before including the
header, preferably before any system header (the implementation asks for
`_GNU_SOURCE`; if your file already included system headers in strict
`-std=c99` mode, compile it with `-D_GNU_SOURCE` instead):

    #define AIOS_IMPLEMENTATION
    #include "aio_stream.h"

Other files include it without the macro.  Build with one command, for
example `cc -std=c99 -O2 -o app app.c -lpthread`.

## Options (define before including the implementation)

- `AIOS_STATIC`: every public function becomes `static` (for a program of
  one file; define it together with `AIOS_IMPLEMENTATION`, which it does not
  imply).
- `AIOS_NO_THREADS`: no resolver thread; host names are resolved with a
  blocking `getaddrinfo` run from the loop's dispatch (numeric addresses never
  resolve at all).  Without this option link with `-lpthread` (glibc >= 2.34
  and musl need nothing extra).
- `AIOS_NO_RESOLVER`: numeric addresses only (`127.0.0.1`, `::1`, `[::1]`).
  `aios_tcp_connect` and `aios_server_listen_tcp` given a host name return
  `AIOS_ENOTNUMERIC` without starting anything; neither getaddrinfo nor the
  resolver thread is linked (implies `AIOS_NO_THREADS`, no `-lpthread`).
  For small static servers that listen on fixed addresses.
- `AIOS_MALLOC(n)`, `AIOS_REALLOC(p, n)`, `AIOS_FREE(p)`: allocator hooks
  (define all three; AIOS_REALLOC grows buffers and arrays.  Without the
  hooks they grow by malloc, copy and free, so realloc is not linked).
- `AIOS_SYS_READ`, `AIOS_SYS_WRITEV`, `AIOS_SYS_SENDMSG`, `AIOS_SYS_ACCEPT`,
  `AIOS_SYS_SOCKET`, `AIOS_SYS_CONNECT`, `AIOS_SYS_CLOSE`, `AIOS_SYS_POLL`,
  `AIOS_SYS_GETADDRINFO`, `AIOS_SYS_FREEADDRINFO`: the system calls, each a
  function-like macro with the libc signature (`AIOS_SYS_ACCEPT(fd, addr,
  len)` must return a non-blocking, close-on-exec descriptor; getaddrinfo
  runs in the resolver thread, and what it returns goes back through
  `AIOS_SYS_FREEADDRINFO`).  Replace them to inject faults or to feed the
  connector addresses of your own.
- `AIOS_API`: decoration of public functions (default `extern`).
- `AIOS_MAX_LISTENERS`: addresses one server may listen on (default 4).  It
  sizes `aios_server`, so give it the same value in every file.

`ASYNCKIT_IMPLEMENTATION` and `ASYNCKIT_STATIC` switch on the implementation
and the static option of every header of the family.

## Tour

    static void on_line(aios_stream *s, int status, void *ud)
    {
        size_t n;
        const char *line = aios_data(s, &n);
        if (status < 0) { aios_close(s, NULL, NULL); return; }
        aios_write_copy(s, line, (size_t)status, NULL, NULL);    // echo the line
        aios_consume(s, (size_t)status);
        aios_read_until(s, "\n", 1, 4096, on_line, ud);           // the continuation
    }
    static void on_conn(aios_server *srv, aios_stream *s, const struct sockaddr *peer, void *ud)
    {
        aios_read_until(s, "\n", 1, 4096, on_line, ud);
    }
    int main(void)
    {
        aios_ctx ctx; aios_server srv; aios_server_config cfg;
        aios_ctx_init(&ctx);
        aios_server_config_init(&cfg);
        aios_server_init(&srv, &ctx, &cfg, on_conn, NULL);
        aios_server_listen_tcp(&srv, "127.0.0.1", 7000);
        aios_run(&ctx);
        aios_ctx_close(&ctx);
    }

## Rules that every operation follows

- An operation that returns a negative code did not start, and its callback
  never runs.  An operation that returned 0 completes exactly once through its
  callback `(stream, status, user)`, always from the loop's dispatch, never
  inside the call that started it.  Success, error, timeout (`-ETIMEDOUT`),
  cancellation and close (`-ECANCELED`) all arrive through that one callback.
- A callback may start the next operation, or close the stream.  A stream's
  memory is released after its last callback (the close callback when one
  was given) has returned; do not touch it afterwards.
- One read operation at a time per stream (`AIOS_EBUSY` otherwise); writes
  queue without limit on their number and complete in order.
- One thread drives a context: every function, `aios_stop` included, is
  called from that thread (the resolver thread is the library's own and
  talks to the loop only through the context).
- The library never installs a signal handler and SIGPIPE never kills the
  process: socket writes use `MSG_NOSIGNAL`; writes to a pipe or terminal
  block SIGPIPE in the calling thread for the duration of the call and
  consume the one a gone reader raises, so the write fails with `-EPIPE`.

## API

### Context and loop

    int  aios_ctx_init(aios_ctx *ctx);           caller-owned storage (never on a live context:
                                                 its storage cannot tell, close it first)
    void aios_ctx_close(aios_ctx *ctx);          aborts everything, delivers every callback, frees all
                                                 (waits for a resolver thread still in getaddrinfo)
    int  aios_run_once(aios_ctx *ctx, int timeout_ms);  one poll (-1: no limit); returns 1 while
                                                 anything is pending, 0 when idle, <0 on error
    int  aios_run(aios_ctx *ctx);                until idle or aios_stop
    void aios_stop(aios_ctx *ctx);
    int  aios_prepare(void *ctx, struct pollfd *fds, int cap, int64_t *deadline_ns);
    void aios_dispatch(void *ctx, struct pollfd *fds, int n);
    int64_t aios_now_ns(void);                   CLOCK_MONOTONIC
    const char *aios_strerror(int code);         any code, also -errno

`aios_prepare` / `aios_dispatch` are the family's loop contract: prepare
writes at most `cap` entries and returns how many it needs, and lowers
`*deadline_ns` (absolute CLOCK_MONOTONIC ns, INT64_MAX for none) to its
earliest deadline; dispatch takes the same entries back with `revents`, and
must be called after every poll, even when nothing was ready.  With sched.h:
`schd_source_add(&loop, &src, aios_prepare, aios_dispatch, &ctx)`.
That is also how a context lives inside a loop of your own (poll, epoll,
GLib, libuv): call prepare, wait on its descriptors until the deadline, call
dispatch.  `aios_ctx_close` from inside a callback closes the context when the
dispatch running that callback returns (callbacks due in that dispatch
still run first); afterwards the context is closed and may be freed.

### Streams

    int  aios_stream_open(aios_ctx *ctx, aios_stream **out, int fd, unsigned flags);
         wraps any descriptor (made non-blocking); AIOS_NOCLOSE leaves it open at close;
         AIOS_EBUSY for a descriptor the context already holds (a stream not yet
         closed, a listener)
    int  aios_read(s, void *buf, size_t cap, cb, ud);        status: 1..cap bytes, 0 at end of stream
    int  aios_read_exactly(s, void *buf, size_t n, cb, ud);  status: n, or AIOS_EINCOMPLETE at end of
                                                             stream (aios_result_len: bytes that arrived);
                                                             n up to INT_MAX
    int  aios_read_until(s, delim, dlen, max, cb, ud);       status: length up to and including the
                                                             delimiter (1 to 8 bytes), which sits at aios_data();
                                                             AIOS_ETOOLONG when max bytes hold none,
                                                             AIOS_EINCOMPLETE at end of stream
    int  aios_peek(s, size_t n, cb, ud);                     status: bytes buffered (>= n), or
                                                             AIOS_EINCOMPLETE at end of stream
    const char *aios_data(s, size_t *len);                   the buffered bytes (valid until the next
                                                             read operation)
    void aios_consume(s, size_t n);                          drop n buffered bytes
    size_t aios_result_len(s);                               bytes moved by the last read operation
    int  aios_write(s, const void *p, size_t n, cb, ud);     no copy: keep p alive until cb; status 0
    int  aios_write_copy(s, const void *p, size_t n, cb, ud); copies what it cannot send at once;
                                                             AIOS_EFULL while the copies queued (each
                                                             with its request header) reach the write
                                                             high-water mark
    int  aios_drain(s, size_t low_water, cb, ud);            when unsent bytes <= low_water
    int  aios_shutdown(s, cb, ud);                           flush, then shut down the write side
    int  aios_close(s, cb, ud);                              abort: pending ops get -ECANCELED, then cb
                                                             (during a graceful close: cb NULL cuts it
                                                             short and its callback runs; else AIOS_EBUSY)
    int  aios_close_graceful(s, timeout_ms, cb, ud);         cancel the read, flush writes (or give up
                                                             after timeout_ms: -ETIMEDOUT), close, cb
    void aios_set_limits(s, size_t read_hwm, size_t write_hwm);   defaults 64 KiB and 1 MiB
    int  aios_set_timeouts(s, int read_ms, int write_ms);         per operation started later; 0: none
    int  aios_stream_fd(s); size_t aios_write_queued(s);
    void aios_stream_set_user(s, void *p); void *aios_stream_user(s);
    aios_server *aios_stream_server(s);                      the server that accepted s, or NULL

Reading is demand driven: the descriptor is polled for input only while a
read operation waits, and the read buffer never grows past the read
high-water mark (or the `max` of a pending `read_until`), so a slow consumer
stops reading from the kernel and memory stays bounded.  `read_until`
resumes its scan where it stopped.  `aios_read` and `aios_read_exactly`
read straight into the caller's buffer when nothing is buffered.  When a read
filled all the room it had, the next read operation tries the descriptor
before polling it; deferred completions run in up to 8 passes per loop
iteration, so a stream with input always waiting gets a handful of
callbacks per iteration and the loop still polls for everyone else.

### TCP and Unix clients

    void aios_tcp_opts_init(aios_tcp_opts *o);
    int  aios_tcp_connect(ctx, aios_stream **out, const char *host, int port, const aios_tcp_opts *o,
                          cb, ud);
    int  aios_unix_connect(ctx, aios_stream **out, const char *path, cb, ud);

The stream exists at once (reads and writes may be queued before the
connection is up); the callback reports the connection.  After a failed
connect the stream stays, with no descriptor, until you close it.  Host
names resolve in a resolver thread (IPv6 and IPv4 addresses are then tried
alternately, a new attempt starting every `attempt_delay_ms` while earlier
ones are pending; the first to connect wins).  `timeout_ms` bounds the whole
connect, resolution included.  A Unix connect to a listener whose backlog
is full is retried (2 ms growing to 100 ms apart, about 4.5 s in all) before
it fails with `-EAGAIN`.

### Servers

    void aios_server_config_init(aios_server_config *cfg);
    int  aios_server_init(aios_server *srv, aios_ctx *ctx, const aios_server_config *cfg,
                          aios_conn_cb on_conn, void *ud);
    int  aios_server_listen_tcp(srv, const char *host, int port);   NULL / "" / "*": dual stack
    int  aios_server_listen_unix(srv, const char *path);
    int  aios_server_port(const aios_server *srv);                  the bound port (port 0 asked)
    int  aios_server_shutdown(srv, int timeout_ms, aios_server_cb cb, void *ud);
    int  aios_format_addr(const struct sockaddr *sa, char *buf, size_t n);  "1.2.3.4:80", "[::1]:80"

`aios_server_init` on a server the context still holds (initialised and not
yet shut down, as in a retry after a failed listen) returns `AIOS_EBUSY` and
changes nothing; listen again on the same server instead.  After its
shutdown completed, the storage may be initialised anew.

A server may listen on up to AIOS_MAX_LISTENERS addresses.  It accepts at
most `accept_batch` connections per listener and loop iteration.  At
`max_conns` it either accepts and closes at once (`reject_over_max`, the
default, counted in `stats.rejected`) or stops accepting until a connection
ends.  When accept fails for lack of descriptors (EMFILE, ENFILE, ENOBUFS,
ENOMEM) the server pauses accepting for `retry_ms` or until one of its
connections closes, counts it in `stats.fd_exhausted`, and logs nothing.
With `evict_idle` set, a connection that arrives at `max_conns`, or finds
the process out of descriptors (EMFILE), takes the place of the connection
idle longest instead: the one whose last byte read or written is oldest
is closed at once (its pending operations complete with `-ECANCELED`, as
in a forced shutdown; counted in `stats.evicted`).  Peers that each hold a
connection and trickle a byte now and then can then no longer keep every
descriptor and lock new clients out.
Shutdown closes the listeners at once, lets connections end by themselves
within `timeout_ms`, closes the rest and reports through the callback how
many it closed by force; the server's storage may then be reused.  Without
memory for its timer it returns -ENOMEM and changes nothing.
A Unix-socket listen removes a socket file left by a server that is gone
(a probing connect is refused) but fails with `-EADDRINUSE` while a live
server listens on the path (which sees the probe as a connection that
closes at once); shutdown removes the socket file only if it is still the
one it bound.  Listening on a name with port 0 binds all of the name's
addresses to the one port that `aios_server_port` reports.

### Serial ports

    int aios_serial_open(ctx, aios_stream **out, const char *path, int baud);

Opens a terminal device in raw mode (8N1, no flow control, no echo) at the
given baud rate and returns it as a stream.  Flow control and input
processing the device had before (CRTSCTS, IXON/IXOFF/IXANY, IUCLC, INPCK)
are cleared, and the settings are read back: a port that does not keep
them gives `-EINVAL`.

## Error codes

Zero is success, negative is failure.  System errors are `-errno`
(`-ETIMEDOUT` for timeouts, `-ECANCELED` for cancellation and close,
`-EINVAL` for bad arguments, `-ENOMEM`, and what the socket calls report,
such as `-ECONNREFUSED` or `-EPIPE`); the header's own outcomes are in
`enum aios_error`.  `aios_strerror(code)` describes any code.

    AIOS_OK           0      success
    AIOS_EINCOMPLETE  -1001  end of stream before the requested bytes
                             (read_exactly, read_until, peek)
    AIOS_ETOOLONG     -1002  read_until: no delimiter within `max` bytes
    AIOS_EFULL        -1003  write_copy: the write queue is at its high-water mark
    AIOS_ECLOSED      -1004  the stream or server is closing
    AIOS_EBUSY        -1005  an operation of that kind is already pending (a
                             second read; run_once from inside dispatch); a
                             server or descriptor the context already holds
    AIOS_ENOTFOUND    -1006  host name not found
    AIOS_ERESOLVE     -1007  name resolution failed otherwise
    AIOS_ENOTNUMERIC  -1008  a host name given to a build with AIOS_NO_RESOLVER
*/
#ifndef AIO_STREAM_H
#define AIO_STREAM_H
#define AIOS_VERSION "0.1.0"

#if (defined(AIOS_IMPLEMENTATION) || defined(ASYNCKIT_IMPLEMENTATION)) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1
#endif
#if defined(ASYNCKIT_STATIC) && !defined(AIOS_STATIC)
#define AIOS_STATIC
#endif

#include <stddef.h>
#include <stdint.h>
#include <poll.h>

#ifndef AIOS_API
#if defined(AIOS_STATIC) && defined(__GNUC__)
#define AIOS_API static __attribute__((unused))
#elif defined(AIOS_STATIC)
#define AIOS_API static
#else
#define AIOS_API extern
#endif
#endif

#ifndef AIOS_MAX_LISTENERS
#define AIOS_MAX_LISTENERS 4
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct sockaddr;

enum aios_error {
    AIOS_OK = 0,
    AIOS_EINCOMPLETE = -1001, /* end of stream before the requested bytes */
    AIOS_ETOOLONG = -1002,    /* read_until: no delimiter within the maximum */
    AIOS_EFULL = -1003,       /* write queue at its high-water mark */
    AIOS_ECLOSED = -1004,     /* the stream or server is closing */
    AIOS_EBUSY = -1005,       /* an operation of that kind is already pending */
    AIOS_ENOTFOUND = -1006,   /* host name not found */
    AIOS_ERESOLVE = -1007,    /* name resolution failed */
    AIOS_ENOTNUMERIC = -1008  /* a host name, but built with AIOS_NO_RESOLVER */
};

enum { AIOS_NOCLOSE = 1u };

typedef struct aios_ctx aios_ctx;
typedef struct aios_stream aios_stream;
typedef struct aios_server aios_server;

typedef void (*aios_cb)(aios_stream *s, int status, void *ud);
typedef void (*aios_conn_cb)(aios_server *srv, aios_stream *conn, const struct sockaddr *peer, void *ud);
typedef void (*aios_server_cb)(aios_server *srv, int status, void *ud);

/* Internal bookkeeping, public only so that callers can own the storage. */
typedef struct aios__io {
    struct aios__io *prev, *next;
    int fd, slot;
    short events;
    unsigned char linked, kind;  /* kind picks the handler: stream, listener, ... */
} aios__io;

typedef struct aios__timer {
    int64_t when;
    uint64_t seq;
    void (*fire)(struct aios__timer *t);
    int idx;
} aios__timer;

typedef struct aios__defer {
    struct aios__defer *prev, *next;
    unsigned char queued, kind;  /* kind picks the handler: stream, connect, server */
} aios__defer;

struct aios_ctx {
    aios__io *ios;
    aios__io **watch;
    int nios, nwatch, watch_cap;
    aios__timer **heap;
    int nheap, heap_cap;
    uint64_t seq;
    aios__defer *dhead, *dtail;
    int ndefer, nstreams;
    aios_server *servers;
    struct pollfd *pfd;
    int pfd_cap, stop, in_dispatch, close_asked;
    void *resolvers;  /* resolver threads not yet joined */
    /* Parts a program pays for only once it uses them: the first connect
     * sets these, so a server-only program links no client code. */
    void (*connect_io)(aios__io *io, short revents);  /* attempts, resolver wake-ups */
    void (*connect_run)(aios__defer *d);             /* a connect's first step */
    void (*connect_free)(struct aios_stream *s);     /* abandons a pending connect */
};

typedef struct aios_tcp_opts {
    int timeout_ms;        /* whole connect, resolution included; 0: none */
    int attempt_delay_ms;  /* delay before racing the next address (250) */
    int family;            /* 0 any, 4 or 6 */
    int nodelay;           /* TCP_NODELAY (1) */
    int keepalive_s;       /* SO_KEEPALIVE with this idle time; 0: off */
    size_t read_hwm, write_hwm;  /* 0: defaults */
} aios_tcp_opts;

typedef struct aios_server_config {
    int backlog;           /* 511 */
    int max_conns;         /* 0: no limit */
    int reject_over_max;   /* 1: accept and close at once; 0: leave them queued */
    int accept_batch;      /* per listener and loop iteration (32) */
    int reuseaddr;         /* SO_REUSEADDR (1) */
    int reuseport;         /* SO_REUSEPORT (0) */
    int v6only;            /* IPV6_V6ONLY on IPv6 listeners (0) */
    int nodelay;           /* TCP_NODELAY on accepted connections (1) */
    int retry_ms;          /* pause after running out of descriptors (100) */
    int evict_idle;        /* at max_conns or out of descriptors, close the connection
                              idle longest for the new one (0) */
    size_t read_hwm, write_hwm;  /* for accepted streams; 0: defaults */
} aios_server_config;

typedef struct aios_server_stats {
    unsigned long accepted, rejected, fd_exhausted, forced, active, evicted;
} aios_server_stats;

typedef struct aios__listener {
    aios__io io;
    aios_server *srv;
} aios__listener;

struct aios_server {
    aios_ctx *ctx;
    aios_server *prev, *next;
    aios_server_config cfg;
    aios_conn_cb on_conn;
    void *ud;
    aios__listener lis[AIOS_MAX_LISTENERS];
    int nlis, port, paused, shutting, done;
    aios__timer retry, grace;
    aios__defer finish;
    aios_server_cb shut_cb;
    void *shut_ud;
    aios_server_stats stats;
    struct aios_stream *idle_head, *idle_tail;  /* connections, the one idle longest first */
    unsigned long evicting;                     /* evicted, not yet released */
    char unix_path[108];
    uint64_t unix_dev, unix_ino;  /* the socket file we bound, removed at shutdown only if still ours */
};

/* context and loop */
AIOS_API int aios_ctx_init(aios_ctx *ctx);
AIOS_API void aios_ctx_close(aios_ctx *ctx);
AIOS_API int aios_prepare(void *ctx, struct pollfd *fds, int cap, int64_t *deadline_ns);
AIOS_API void aios_dispatch(void *ctx, struct pollfd *fds, int n);
AIOS_API int aios_run_once(aios_ctx *ctx, int timeout_ms);
AIOS_API int aios_run(aios_ctx *ctx);
AIOS_API void aios_stop(aios_ctx *ctx);
AIOS_API int64_t aios_now_ns(void);
AIOS_API const char *aios_strerror(int code);

/* streams */
AIOS_API int aios_stream_open(aios_ctx *ctx, aios_stream **out, int fd, unsigned flags);
AIOS_API int aios_read(aios_stream *s, void *buf, size_t cap, aios_cb cb, void *ud);
AIOS_API int aios_read_exactly(aios_stream *s, void *buf, size_t n, aios_cb cb, void *ud);
AIOS_API int aios_read_until(aios_stream *s, const void *delim, size_t dlen, size_t max, aios_cb cb, void *ud);
AIOS_API int aios_peek(aios_stream *s, size_t n, aios_cb cb, void *ud);
AIOS_API const char *aios_data(const aios_stream *s, size_t *len);
AIOS_API void aios_consume(aios_stream *s, size_t n);
AIOS_API size_t aios_result_len(const aios_stream *s);
AIOS_API int aios_write(aios_stream *s, const void *data, size_t n, aios_cb cb, void *ud);
AIOS_API int aios_write_copy(aios_stream *s, const void *data, size_t n, aios_cb cb, void *ud);
AIOS_API int aios_drain(aios_stream *s, size_t low_water, aios_cb cb, void *ud);
AIOS_API int aios_shutdown(aios_stream *s, aios_cb cb, void *ud);
AIOS_API int aios_close(aios_stream *s, aios_cb cb, void *ud);
AIOS_API int aios_close_graceful(aios_stream *s, int timeout_ms, aios_cb cb, void *ud);
AIOS_API void aios_set_limits(aios_stream *s, size_t read_hwm, size_t write_hwm);
AIOS_API int aios_set_timeouts(aios_stream *s, int read_ms, int write_ms);
AIOS_API int aios_stream_fd(const aios_stream *s);
AIOS_API size_t aios_write_queued(const aios_stream *s);
AIOS_API void aios_stream_set_user(aios_stream *s, void *p);
AIOS_API void *aios_stream_user(const aios_stream *s);
AIOS_API aios_server *aios_stream_server(const aios_stream *s);

/* clients */
AIOS_API void aios_tcp_opts_init(aios_tcp_opts *o);
AIOS_API int aios_tcp_connect(aios_ctx *ctx, aios_stream **out, const char *host, int port,
                              const aios_tcp_opts *o, aios_cb cb, void *ud);
AIOS_API int aios_unix_connect(aios_ctx *ctx, aios_stream **out, const char *path, aios_cb cb, void *ud);

/* servers */
AIOS_API void aios_server_config_init(aios_server_config *cfg);
AIOS_API int aios_server_init(aios_server *srv, aios_ctx *ctx, const aios_server_config *cfg,
                              aios_conn_cb on_conn, void *ud);
AIOS_API int aios_server_listen_tcp(aios_server *srv, const char *host, int port);
AIOS_API int aios_server_listen_unix(aios_server *srv, const char *path);
AIOS_API int aios_server_port(const aios_server *srv);
AIOS_API int aios_server_shutdown(aios_server *srv, int timeout_ms, aios_server_cb cb, void *ud);
AIOS_API int aios_format_addr(const struct sockaddr *sa, char *buf, size_t n);

/* serial ports */
AIOS_API int aios_serial_open(aios_ctx *ctx, aios_stream **out, const char *path, int baud);

#ifdef __cplusplus
}
#endif
#endif /* AIO_STREAM_H */

/* ======================================================================= */
#if (defined(AIOS_IMPLEMENTATION) || defined(ASYNCKIT_IMPLEMENTATION)) && !defined(AIOS_IMPLEMENTATION_DONE)
#define AIOS_IMPLEMENTATION_DONE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(AIOS_NO_RESOLVER) && !defined(AIOS_NO_THREADS)
#define AIOS_NO_THREADS 1  /* the thread exists only to resolve names */
#endif
#ifndef AIOS_NO_RESOLVER
#include <netdb.h>
#endif
#include <termios.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <signal.h>
#ifndef AIOS_NO_THREADS
#include <pthread.h>
#include <sys/eventfd.h>
#endif

#if defined(__GLIBC__) && !defined(__USE_XOPEN2K)
#error "aio_stream.h: the implementation needs POSIX declarations; define AIOS_IMPLEMENTATION before any system header or compile with -D_GNU_SOURCE"
#endif

#ifndef AIOS_MALLOC
#define AIOS_MALLOC(n) malloc(n)
#define AIOS_FREE(p) free(p)
#define AIOS__GROW_BY_COPY 1
#endif

#if defined(__GLIBC__) && defined(__USE_GNU)
#define AIOS__HAVE_ACCEPT4 1
#else
#define AIOS__HAVE_ACCEPT4 0
#endif

#ifndef AIOS_SYS_READ
#define AIOS_SYS_READ(fd, buf, n) read((fd), (buf), (n))
#endif
#ifndef AIOS_SYS_WRITEV
#define AIOS_SYS_WRITEV(fd, iov, cnt) writev((fd), (iov), (cnt))
#endif
#ifndef AIOS_SYS_SENDMSG
#define AIOS_SYS_SENDMSG(fd, msg, flags) sendmsg((fd), (msg), (flags))
#endif
#ifndef AIOS_SYS_ACCEPT
#define AIOS_SYS_ACCEPT(fd, addr, len) aios__accept_nb((fd), (addr), (len))
#endif
#ifndef AIOS_SYS_SOCKET
#define AIOS_SYS_SOCKET(dom, type, proto) socket((dom), (type), (proto))
#endif
#ifndef AIOS_SYS_CONNECT
#define AIOS_SYS_CONNECT(fd, addr, len) connect((fd), (addr), (len))
#endif
#ifndef AIOS_SYS_CLOSE
#define AIOS_SYS_CLOSE(fd) close(fd)
#endif
#ifndef AIOS_SYS_POLL
#define AIOS_SYS_POLL(fds, n, ms) poll((fds), (n), (ms))
#endif
#ifndef AIOS_NO_RESOLVER
#ifndef AIOS_SYS_GETADDRINFO
#define AIOS_SYS_GETADDRINFO(host, serv, hints, res) getaddrinfo((host), (serv), (hints), (res))
#endif
#ifndef AIOS_SYS_FREEADDRINFO
#define AIOS_SYS_FREEADDRINFO(res) freeaddrinfo(res)
#endif
#endif

#if defined(__GNUC__)
#define AIOS_PRIVATE static __attribute__((unused))
#else
#define AIOS_PRIVATE static
#endif

/* Grows a block to n bytes keeping its first `keep`; NULL, the block intact,
 * without memory.  With libc's allocator: malloc, copy, free, which is what
 * realloc does for these growing buffers anyway, without linking realloc
 * (1.4 KiB of a static musl program).  With the hooks: AIOS_REALLOC. */
static void *aios__grow(void *p, size_t keep, size_t n)
{
#ifdef AIOS__GROW_BY_COPY
    void *q = malloc(n);
    if (q && p) {
        memcpy(q, p, keep);
        free(p);
    }
    return q;
#else
    (void)keep;
    return AIOS_REALLOC(p, n);
#endif
}

#define AIOS__CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define AIOS__READ_HWM ((size_t)64 * 1024)
#define AIOS__WRITE_HWM ((size_t)1024 * 1024)
#define AIOS__MAX_ADDRS 16
#define AIOS__MAX_ATTEMPTS 4
#define AIOS__IOV_MAX 32

/* ==== section: private types ==== */

enum {
    AIOS__F_SOCK = 1u << 0, AIOS__F_NOCLOSE = 1u << 1, AIOS__F_EOF = 1u << 2,
    AIOS__F_CLOSING = 1u << 3, AIOS__F_CONNECTING = 1u << 4, AIOS__F_CONN_DONE = 1u << 5,
    AIOS__F_SHUT_REQ = 1u << 6, AIOS__F_SHUT_DONE = 1u << 7, AIOS__F_GCLOSE = 1u << 8,
    AIOS__F_GROW = 1u << 9, AIOS__F_MORE = 1u << 10, AIOS__F_EVICTED = 1u << 11
};
enum { AIOS__R_NONE, AIOS__R_SOME, AIOS__R_EXACT, AIOS__R_UNTIL, AIOS__R_PEEK };

typedef struct aios__wreq {
    struct aios__wreq *next;
    const char *data;
    size_t len, off, copied;
    int64_t deadline;
    aios_cb cb;
    void *ud;
} aios__wreq;

struct aios__connector;

/* Deadlines and the operations most idle connections never have (drain,
 * shutdown, connect), allocated the first time a stream needs one of them. */
typedef struct aios__side {
    aios__timer r, w;
    struct aios_stream *s;
    int64_t rtimeout_ns, wtimeout_ns;
    aios_cb dcb, scb, ccb;
    void *dud, *sud, *cud;
    size_t dlow;
    int cstatus;
    struct aios__connector *conn;
} aios__side;

/* Kept small: an idle connection costs this struct and nothing else. */
struct aios_stream {
    aios_ctx *ctx;
    aios_server *server;
    aios__io io;                    /* stays linked from creation to release */
    aios__defer kick;
    aios__side *side;
    unsigned flags;
    int rerr, werr;
    short rforce, cancel_status;
    unsigned char rop, dlen;
    uint32_t wcopied;               /* heap of copied writes still queued, request headers included */
    /* read side */
    char *rbuf;
    uint32_t rcap, rstart, rend, rhwm, rscan, whwm;
    uint32_t rwant, rgot;           /* rgot is also what aios_result_len reports */
    union { void *dst; char delim[8]; } ru;  /* read some/exactly, or read until */
    aios_cb rcb;
    void *rud;
    /* write side */
    aios__wreq *whead, *wtail;
    size_t wunsent;
    aios_cb closecb;
    void *closeud;
    void *user;
    struct aios_stream *idle_prev, *idle_next;  /* a server's connections, by last activity */
};

/* ==== section: time and errors ==== */

AIOS_API int64_t aios_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t aios__after_ms(int ms)
{
    return ms > 0 ? aios_now_ns() + (int64_t)ms * 1000000 : INT64_MAX;
}

AIOS_API const char *aios_strerror(int code)
{
    switch (code) {
    case AIOS_OK: return "success";
    case AIOS_EINCOMPLETE: return "end of stream before the requested bytes arrived";
    case AIOS_ETOOLONG: return "no delimiter within the maximum length";
    case AIOS_EFULL: return "write queue is at its high-water mark";
    case AIOS_ECLOSED: return "stream or server is closing";
    case AIOS_EBUSY: return "an operation of that kind is already pending";
    case AIOS_ENOTFOUND: return "host name not found";
    case AIOS_ERESOLVE: return "host name resolution failed";
    case AIOS_ENOTNUMERIC: return "not a numeric address (built with AIOS_NO_RESOLVER)";
    default: break;
    }
    if (code < 0 && code > -4096) return strerror(-code);
    return "unknown error";
}

/* ==== section: timers ==== */

static int aios__timer_before(const aios__timer *a, const aios__timer *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void aios__heap_place(aios_ctx *c, int i, aios__timer *t)
{
    c->heap[i] = t;
    t->idx = i;
}

static void aios__heap_up(aios_ctx *c, int i)
{
    aios__timer *t = c->heap[i];
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!aios__timer_before(t, c->heap[parent])) break;
        aios__heap_place(c, i, c->heap[parent]);
        i = parent;
    }
    aios__heap_place(c, i, t);
}

static void aios__heap_down(aios_ctx *c, int i)
{
    aios__timer *t = c->heap[i];
    for (;;) {
        int child = 2 * i + 1;
        if (child >= c->nheap) break;
        if (child + 1 < c->nheap && aios__timer_before(c->heap[child + 1], c->heap[child])) child++;
        if (!aios__timer_before(c->heap[child], t)) break;
        aios__heap_place(c, i, c->heap[child]);
        i = child;
    }
    aios__heap_place(c, i, t);
}

static void aios__timer_init(aios__timer *t, void (*fire)(aios__timer *))
{
    t->when = INT64_MAX;
    t->seq = 0;
    t->fire = fire;
    t->idx = -1;
}

static void aios__timer_stop(aios_ctx *c, aios__timer *t)
{
    int i = t->idx;
    aios__timer *last;
    if (i < 0) return;
    t->idx = -1;
    last = c->heap[--c->nheap];
    if (last == t) return;
    aios__heap_place(c, i, last);
    aios__heap_up(c, i);
    aios__heap_down(c, last->idx);
}

static int aios__timer_start(aios_ctx *c, aios__timer *t, int64_t when)
{
    aios__timer_stop(c, t);
    if (when == INT64_MAX) return 0;
    if (c->nheap == c->heap_cap) {
        int cap = c->heap_cap ? c->heap_cap * 2 : 16;
        aios__timer **h = (aios__timer **)aios__grow(c->heap, (size_t)c->nheap * sizeof *h, (size_t)cap * sizeof *h);
        if (!h) return -ENOMEM;
        c->heap = h;
        c->heap_cap = cap;
    }
    t->when = when;
    t->seq = c->seq++;
    aios__heap_place(c, c->nheap++, t);
    aios__heap_up(c, t->idx);
    return 0;
}

static void aios__run_timers(aios_ctx *c, int64_t now)
{
    while (c->nheap > 0 && c->heap[0]->when <= now) {
        aios__timer *t = c->heap[0];
        aios__timer_stop(c, t);
        t->fire(t);
    }
}

/* ==== section: deferred work ==== */

enum { AIOS__DEFER_STREAM = 1, AIOS__DEFER_CONNECT, AIOS__DEFER_SERVER };

static void aios__defer_run(aios_ctx *c, aios__defer *d);

static void aios__defer_init(aios__defer *d, int kind)
{
    d->prev = d->next = NULL;
    d->kind = (unsigned char)kind;
    d->queued = 0;
}

static void aios__defer_queue(aios_ctx *c, aios__defer *d)
{
    if (d->queued) return;
    d->queued = 1;
    d->next = NULL;
    d->prev = c->dtail;
    if (c->dtail) c->dtail->next = d; else c->dhead = d;
    c->dtail = d;
    c->ndefer++;
}

static void aios__defer_cancel(aios_ctx *c, aios__defer *d)
{
    if (!d->queued) return;
    if (d->prev) d->prev->next = d->next; else c->dhead = d->next;
    if (d->next) d->next->prev = d->prev; else c->dtail = d->prev;
    d->prev = d->next = NULL;
    d->queued = 0;
    c->ndefer--;
}

/* Runs what was queued before each pass, for a bounded number of passes:
 * a continuation that finds its bytes already there completes without a
 * poll in between, yet a callback that keeps re-arming cannot starve the poll. */
#define AIOS__DEFER_PASSES 8
static void aios__run_defers(aios_ctx *c)
{
    int pass;
    for (pass = 0; pass < AIOS__DEFER_PASSES && c->ndefer > 0; pass++) {
        int n = c->ndefer;
        while (n-- > 0 && c->dhead) {
            aios__defer *d = c->dhead;
            aios__defer_cancel(c, d);
            aios__defer_run(c, d);
        }
    }
}

/* ==== section: descriptors and the loop contract ==== */

enum { AIOS__IO_STREAM = 1, AIOS__IO_LISTENER, AIOS__IO_ATTEMPT, AIOS__IO_RESOLVER };

static void aios__io_ready(aios_ctx *c, aios__io *io, short revents);

static void aios__io_init(aios__io *io, int fd, int kind)
{
    io->prev = io->next = NULL;
    io->kind = (unsigned char)kind;
    io->fd = fd;
    io->slot = -1;
    io->events = 0;
    io->linked = 0;
}

static int aios__io_add(aios_ctx *c, aios__io *io)
{
    if (io->linked) return 0;
    if (c->nios + 1 > c->watch_cap) {
        int cap = c->watch_cap ? c->watch_cap * 2 : 16;
        aios__io **w = (aios__io **)aios__grow(c->watch, (size_t)c->watch_cap * sizeof *w, (size_t)cap * sizeof *w);
        if (!w) return -ENOMEM;
        c->watch = w;
        c->watch_cap = cap;
    }
    io->prev = NULL;
    io->next = c->ios;
    if (c->ios) c->ios->prev = io;
    c->ios = io;
    io->linked = 1;
    io->slot = -1;
    c->nios++;
    return 0;
}

static void aios__io_del(aios_ctx *c, aios__io *io)
{
    if (!io->linked) return;
    if (io->slot >= 0 && io->slot < c->nwatch && c->watch[io->slot] == io) c->watch[io->slot] = NULL;
    if (io->prev) io->prev->next = io->next; else c->ios = io->next;
    if (io->next) io->next->prev = io->prev;
    io->prev = io->next = NULL;
    io->linked = 0;
    io->slot = -1;
    c->nios--;
}

AIOS_API int aios_ctx_init(aios_ctx *ctx)
{
    if (!ctx) return -EINVAL;
    memset(ctx, 0, sizeof *ctx);
    return 0;
}

AIOS_API int aios_prepare(void *vctx, struct pollfd *fds, int cap, int64_t *deadline_ns)
{
    aios_ctx *c = (aios_ctx *)vctx;
    aios__io *io;
    int n = 0;
    if (!c) return -EINVAL;
    for (io = c->ios; io; io = io->next) {
        io->slot = -1;
        if (!io->events) continue;
        if (n < cap && fds) {
            fds[n].fd = io->fd;
            fds[n].events = io->events;
            fds[n].revents = 0;
        }
        c->watch[n] = io;
        io->slot = n;
        n++;
    }
    c->nwatch = n < cap ? n : cap;
    if (deadline_ns) {
        int64_t due = INT64_MAX;
        if (c->ndefer > 0) due = aios_now_ns();
        else if (c->nheap > 0) due = c->heap[0]->when;
        if (due < *deadline_ns) *deadline_ns = due;
    }
    return n;
}

AIOS_API void aios_dispatch(void *vctx, struct pollfd *fds, int n)
{
    aios_ctx *c = (aios_ctx *)vctx;
    int i, count;
    if (!c || c->in_dispatch) return;
    c->in_dispatch = 1;
    count = n < c->nwatch ? n : c->nwatch;
    for (i = 0; i < count && fds; i++) {
        aios__io *io = c->watch[i];
        if (!io || !fds[i].revents || fds[i].fd != io->fd) continue;
        c->watch[i] = NULL;
        io->slot = -1;
        aios__io_ready(c, io, fds[i].revents);
    }
    c->nwatch = 0;
    aios__run_timers(c, aios_now_ns());
    aios__run_defers(c);
    c->in_dispatch = 0;
    if (c->close_asked) aios_ctx_close(c);  /* asked for from a callback */
}

static int aios__alive(aios_ctx *c)
{
    aios__io *io;
    if (c->ndefer > 0 || c->nheap > 0) return 1;
    for (io = c->ios; io; io = io->next)
        if (io->events) return 1;
    return 0;
}

AIOS_API int aios_run_once(aios_ctx *c, int timeout_ms)
{
    int64_t deadline, now;
    int n, ms, r;
    if (!c) return -EINVAL;
    if (c->in_dispatch) return AIOS_EBUSY;
    if (!aios__alive(c) && timeout_ms < 0) return 0;
    now = aios_now_ns();
    deadline = timeout_ms < 0 ? INT64_MAX : now + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t d = deadline;
        n = aios_prepare(c, c->pfd, c->pfd_cap, &d);
        if (n <= c->pfd_cap) { deadline = d; break; }
        {
            struct pollfd *p = (struct pollfd *)aios__grow(c->pfd, 0, (size_t)n * 2 * sizeof *p);  /* prepare refills it */
            if (!p) return -ENOMEM;
            c->pfd = p;
            c->pfd_cap = n * 2;
        }
    }
    if (deadline == INT64_MAX) ms = -1;
    else if (deadline <= now) ms = 0;
    else {
        int64_t wait = (deadline - now + 999999) / 1000000;
        ms = wait > INT_MAX ? INT_MAX : (int)wait;
    }
    r = AIOS_SYS_POLL(c->pfd, (nfds_t)n, ms);
    if (r < 0) {
        int i;
        if (errno != EINTR) return -errno;
        for (i = 0; i < n; i++) c->pfd[i].revents = 0;
    }
    aios_dispatch(c, c->pfd, n);
    return aios__alive(c);
}

AIOS_API int aios_run(aios_ctx *c)
{
    int r = 0;
    if (!c) return -EINVAL;
    /* an aios_stop made before this call counts, as in the other headers */
    while (!c->stop) {
        r = aios_run_once(c, -1);
        if (r <= 0) break;
    }
    c->stop = 0;
    return r < 0 ? r : 0;
}

AIOS_API void aios_stop(aios_ctx *c)
{
    if (c) c->stop = 1;
}

/* ==== section: streams, lifecycle ==== */

static void aios__stream_process(aios_stream *s);
static void aios__stream_update(aios_stream *s);
static void aios__server_conn_gone(aios_server *srv, aios_stream *s);
static void aios__server_touch(aios_stream *s);

static void aios__stream_read_io(aios_stream *s);

/* At most one read per pass without a poll (see aios__read_start), so a fast
 * peer cannot keep a stream's continuations running forever. */
static void aios__stream_kick_run(aios__defer *d)
{
    aios_stream *s = AIOS__CONTAINER(d, aios_stream, kick);
    if ((s->flags & AIOS__F_MORE) && s->rop && s->rend == s->rstart && s->rgot < s->rwant && !(s->flags & AIOS__F_CONNECTING))
        aios__stream_read_io(s);
    aios__stream_process(s);
}

static void aios__stream_kick(aios_stream *s)
{
    aios__defer_queue(s->ctx, &s->kick);
}

static void aios__stream_rtimer_fire(aios__timer *t)
{
    aios_stream *s = AIOS__CONTAINER(t, aios__side, r)->s;
    if (s->flags & AIOS__F_GCLOSE) {
        s->cancel_status = -ETIMEDOUT;
        s->flags |= AIOS__F_CLOSING;
    } else if (s->rop) {
        s->rforce = -ETIMEDOUT;
    }
    aios__stream_process(s);
}

static void aios__stream_wtimer_fire(aios__timer *t)
{
    aios_stream *s = AIOS__CONTAINER(t, aios__side, w)->s;
    if (!s->werr) s->werr = -ETIMEDOUT;
    aios__stream_process(s);
}

static aios__side *aios__stream_side(aios_stream *s)
{
    if (!s->side) {
        aios__side *side = (aios__side *)AIOS_MALLOC(sizeof *side);
        if (!side) return NULL;
        memset(side, 0, sizeof *side);
        aios__timer_init(&side->r, aios__stream_rtimer_fire);
        aios__timer_init(&side->w, aios__stream_wtimer_fire);
        side->s = s;
        s->side = side;
    }
    return s->side;
}

static void aios__stream_stop_rtimer(aios_stream *s)
{
    if (s->side) aios__timer_stop(s->ctx, &s->side->r);
}

static void aios__stream_stop_wtimer(aios_stream *s)
{
    if (s->side) aios__timer_stop(s->ctx, &s->side->w);
}

static struct aios__connector *aios__stream_connector(const aios_stream *s)
{
    return s->side ? s->side->conn : NULL;
}

static void aios__stream_ready(aios__io *io, short revents);

static aios_stream *aios__stream_new(aios_ctx *c, int fd)
{
    aios_stream *s = (aios_stream *)AIOS_MALLOC(sizeof *s);
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    s->ctx = c;
    aios__io_init(&s->io, fd, AIOS__IO_STREAM);
    aios__defer_init(&s->kick, AIOS__DEFER_STREAM);
    s->rhwm = (uint32_t)AIOS__READ_HWM;
    s->whwm = (uint32_t)AIOS__WRITE_HWM;
    if (aios__io_add(c, &s->io) < 0) {  /* linked even without a descriptor: the context finds its streams here */
        AIOS_FREE(s);
        return NULL;
    }
    c->nstreams++;
    return s;
}

/* FIONBIO and FIOCLEX work on every descriptor, in one call each, and keep
 * fcntl's varargs wrapper out of small static programs. */
static int aios__set_nonblock(int fd)
{
    int one = 1;
    return ioctl(fd, FIONBIO, &one) < 0 ? -errno : 0;
}

AIOS_PRIVATE int aios__accept_nb(int fd, struct sockaddr *addr, socklen_t *len)
{
#if AIOS__HAVE_ACCEPT4
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int c = accept(fd, addr, len);
    if (c >= 0) {
        if (aios__set_nonblock(c) < 0) { int e = errno; close(c); errno = e; return -1; }
        (void)ioctl(c, FIOCLEX);
    }
    return c;
#endif
}

/* Only a socket has a local address (fstat would cost more in static programs). */
static int aios__is_socket(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    return getsockname(fd, (struct sockaddr *)(void *)&ss, &len) == 0 || errno != ENOTSOCK;
}

AIOS_API int aios_stream_open(aios_ctx *ctx, aios_stream **out, int fd, unsigned flags)
{
    aios_stream *s;
    int r;
    aios__io *io;
    if (!ctx || !out || fd < 0) return -EINVAL;
    *out = NULL;
    /* a descriptor the context already watches (a stream not yet closed, a
     * listener) would get two owners reading from it and closing it */
    for (io = ctx->ios; io; io = io->next)
        if (io->fd == fd) return AIOS_EBUSY;
    if ((r = aios__set_nonblock(fd)) < 0) return r;
    s = aios__stream_new(ctx, fd);
    if (!s) return -ENOMEM;
    if (aios__is_socket(fd)) s->flags |= AIOS__F_SOCK;
    if (flags & AIOS_NOCLOSE) s->flags |= AIOS__F_NOCLOSE;
    *out = s;
    return 0;
}

static void aios__stream_drop_fd(aios_stream *s)
{
    aios_ctx *c = s->ctx;
    if (s->io.slot >= 0 && s->io.slot < c->nwatch && c->watch[s->io.slot] == &s->io) c->watch[s->io.slot] = NULL;
    if (s->io.fd >= 0 && !(s->flags & AIOS__F_NOCLOSE)) AIOS_SYS_CLOSE(s->io.fd);
    s->io.fd = -1;
    s->io.events = 0;
}

/* Abort: the descriptor goes at once, callbacks follow from dispatch. */
static void aios__hard_close(aios_stream *s, int why)
{
    s->flags |= AIOS__F_CLOSING;
    s->flags &= ~(unsigned)AIOS__F_GCLOSE;
    if (!s->cancel_status) s->cancel_status = (short)why;
    if (aios__stream_connector(s)) s->ctx->connect_free(s);
    aios__stream_drop_fd(s);
    aios__stream_stop_rtimer(s);
    aios__stream_stop_wtimer(s);
    aios__stream_kick(s);
}

static void aios__stream_free(aios_stream *s)
{
    aios_ctx *c = s->ctx;
    aios_server *srv = s->server;
    aios__defer_cancel(c, &s->kick);
    aios__stream_stop_rtimer(s);
    aios__stream_stop_wtimer(s);
    aios__io_del(c, &s->io);
    c->nstreams--;
    AIOS_FREE(s->side);
    AIOS_FREE(s->rbuf);
    if (srv) aios__server_conn_gone(srv, s);
    AIOS_FREE(s);
}

AIOS_API int aios_close(aios_stream *s, aios_cb cb, void *ud)
{
    if (!s) return -EINVAL;
    if (s->flags & AIOS__F_CLOSING) return AIOS_ECLOSED;
    /* a graceful close already owns the close callback; it may be cut short, not replaced */
    if (s->flags & AIOS__F_GCLOSE) {
        if (cb) return AIOS_EBUSY;
    } else {
        s->closecb = cb;
        s->closeud = ud;
    }
    aios__hard_close(s, -ECANCELED);
    return 0;
}

AIOS_API int aios_close_graceful(aios_stream *s, int timeout_ms, aios_cb cb, void *ud)
{
    if (!s) return -EINVAL;
    if (s->flags & AIOS__F_CLOSING) return AIOS_ECLOSED;
    if (s->flags & AIOS__F_GCLOSE) return AIOS_EBUSY;
    /* the read timer becomes the close timer: a read deadline must not end the close */
    aios__stream_stop_rtimer(s);
    if (timeout_ms >= 0 && (!aios__stream_side(s) ||
                            aios__timer_start(s->ctx, &s->side->r, aios_now_ns() + (int64_t)timeout_ms * 1000000) < 0))
        return aios_close(s, cb, ud);  /* no memory for the timer: close at once, same callback */
    s->closecb = cb;
    s->closeud = ud;
    s->flags |= AIOS__F_GCLOSE;
    if (s->rop) s->rforce = -ECANCELED;
    aios__stream_kick(s);
    return 0;
}

/* ==== section: streams, reading ==== */

static size_t aios__buffered(const aios_stream *s)
{
    return s->rend - s->rstart;
}

static int aios__clamp_status(size_t n)
{
    return n > (size_t)INT_MAX ? INT_MAX : (int)n;
}

/* Decides whether the pending read can complete; returns 1 and sets *status if so. */
static int aios__read_outcome(aios_stream *s, int *status)
{
    size_t have = aios__buffered(s);
    switch (s->rop) {
    case AIOS__R_SOME:
        if (have > 0 && s->rgot == 0) {
            size_t n = have < s->rwant ? have : s->rwant;
            memcpy(s->ru.dst, s->rbuf + s->rstart, n);
            aios_consume(s, n);
            s->rgot = (uint32_t)n;
        }
        if (s->rgot > 0) { *status = aios__clamp_status(s->rgot); return 1; }
        break;
    case AIOS__R_EXACT:
        if (have > 0 && s->rgot < s->rwant) {
            size_t n = have < s->rwant - s->rgot ? have : s->rwant - s->rgot;
            memcpy((char *)s->ru.dst + s->rgot, s->rbuf + s->rstart, n);
            aios_consume(s, n);
            s->rgot += (uint32_t)n;
        }
        if (s->rgot == s->rwant) { *status = aios__clamp_status(s->rgot); return 1; }
        if (s->flags & AIOS__F_EOF && !s->rforce && !s->rerr) { *status = AIOS_EINCOMPLETE; return 1; }
        break;
    case AIOS__R_UNTIL: {
        size_t limit = have < s->rwant ? have : s->rwant;  /* rwant holds the maximum */
        size_t dl = s->dlen;
        size_t i = s->rscan >= dl ? s->rscan - (dl - 1) : 0;
        const char *p = have ? s->rbuf + s->rstart : NULL;
        for (; p && i + dl <= limit; i++) {
            const char *hit = (const char *)memchr(p + i, s->ru.delim[0], limit - dl + 1 - i);
            if (!hit) { i = limit; break; }
            i = (size_t)(hit - p);
            if (memcmp(hit, s->ru.delim, dl) == 0) {
                s->rgot = (uint32_t)(i + dl);
                *status = aios__clamp_status(s->rgot);
                return 1;
            }
        }
        s->rscan = limit;
        s->rgot = (uint32_t)have;
        if (have >= s->rwant) { *status = AIOS_ETOOLONG; return 1; }
        if (s->flags & AIOS__F_EOF && !s->rforce && !s->rerr) { *status = AIOS_EINCOMPLETE; return 1; }
        break;
    }
    case AIOS__R_PEEK:
        s->rgot = (uint32_t)have;
        if (have >= s->rwant) { *status = aios__clamp_status(have); return 1; }
        if (s->flags & AIOS__F_EOF && !s->rforce && !s->rerr) { *status = AIOS_EINCOMPLETE; return 1; }
        break;
    default:
        return 0;
    }
    if (s->rforce) { *status = s->rforce; return 1; }
    if (s->rerr) { *status = s->rerr; return 1; }
    if (s->flags & AIOS__F_EOF) { *status = 0; return 1; }  /* read some at end of stream */
    return 0;
}

static void aios__read_finish(aios_stream *s, int status)
{
    aios_cb cb = s->rcb;
    void *ud = s->rud;
    s->rop = AIOS__R_NONE;
    s->rcb = NULL;
    s->rforce = 0;
    if (!(s->flags & AIOS__F_GCLOSE)) aios__stream_stop_rtimer(s);
    if (cb) cb(s, status, ud);
}

static int aios__read_buffer_room(aios_stream *s)
{
    size_t limit = s->rhwm;
    /* the last read filled the whole buffer: the peer sends faster, so grow */
    if ((s->flags & AIOS__F_GROW) && aios__buffered(s) == 0 && s->rcap < limit) {
        size_t cap = (size_t)s->rcap * 2 > limit ? limit : (size_t)s->rcap * 2;
        char *b = (char *)aios__grow(s->rbuf, 0, cap);  /* empty: nothing to keep */
        if (b) { s->rbuf = b; s->rcap = (uint32_t)cap; s->rstart = s->rend = 0; }
    }
    s->flags &= ~(unsigned)AIOS__F_GROW;
    if (s->rop == AIOS__R_UNTIL && s->rwant > limit) limit = s->rwant;
    if (s->rop == AIOS__R_PEEK && s->rwant > limit) limit = s->rwant;
    if (s->rstart > 0 && (s->rend == s->rcap || s->rstart >= s->rcap / 2)) {
        memmove(s->rbuf, s->rbuf + s->rstart, aios__buffered(s));
        s->rend -= s->rstart;
        s->rstart = 0;
    }
    if (s->rend < s->rcap) return 1;
    if (s->rcap >= limit) return 0;
    {
        size_t cap = s->rcap ? (size_t)s->rcap * 2 : 4096;
        char *b;
        if (cap > limit) cap = limit;
        b = (char *)aios__grow(s->rbuf, s->rend, cap);
        if (!b) { s->rerr = -ENOMEM; return 0; }
        s->rbuf = b;
        s->rcap = (uint32_t)cap;
    }
    return 1;
}

static void aios__note_read(aios_stream *s, long n)
{
    if (n == 0) s->flags |= AIOS__F_EOF;
    else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) s->rerr = -errno;
}

static void aios__stream_read_io(aios_stream *s)
{
    ssize_t n;
    if (!s->rop || s->io.fd < 0 || (s->flags & AIOS__F_EOF) || s->rerr || s->rforce) return;
    /* no room (an empty read_exactly): read() would return 0, which means end of stream */
    if ((s->rop == AIOS__R_SOME || s->rop == AIOS__R_EXACT) && s->rgot >= s->rwant) return;
    s->flags &= ~(unsigned)AIOS__F_MORE;
    if ((s->rop == AIOS__R_SOME || s->rop == AIOS__R_EXACT) && aios__buffered(s) == 0) {
        size_t room = s->rwant - s->rgot;
        n = AIOS_SYS_READ(s->io.fd, (char *)s->ru.dst + s->rgot, room);
        if (n > 0 && (size_t)n == room) s->flags |= AIOS__F_MORE;
        if (n > 0) { s->rgot += (uint32_t)n; aios__server_touch(s); }
        else aios__note_read(s, (long)n);
        return;
    }
    if (!aios__read_buffer_room(s)) return;
    n = AIOS_SYS_READ(s->io.fd, s->rbuf + s->rend, s->rcap - s->rend);
    if (n > 0 && (size_t)n == s->rcap - s->rend) s->flags |= AIOS__F_GROW | AIOS__F_MORE;
    if (n > 0) { s->rend += (size_t)n; aios__server_touch(s); }
    else aios__note_read(s, (long)n);
}

static int aios__read_start(aios_stream *s, int op, void *dst, size_t want, aios_cb cb, void *ud)
{
    if (!s) return -EINVAL;
    if (s->flags & (AIOS__F_CLOSING | AIOS__F_GCLOSE)) return AIOS_ECLOSED;
    if (s->rop) return AIOS_EBUSY;
    if (s->io.fd < 0 && !(s->flags & AIOS__F_CONNECTING)) return -ENOTCONN;
    s->rop = (unsigned char)op;
    s->ru.dst = dst;
    s->rwant = (uint32_t)want;  /* callers keep want within 32 bits */
    s->rgot = 0;
    s->rscan = 0;
    s->rcb = cb;
    s->rud = ud;
    s->rforce = 0;
    if (s->side && s->side->rtimeout_ns > 0 && aios__timer_start(s->ctx, &s->side->r, aios_now_ns() + s->side->rtimeout_ns) < 0) {
        s->rop = AIOS__R_NONE;
        return -ENOMEM;
    }
    /* Only buffered bytes, the end of the stream or an error can complete it
     * without new input; otherwise the descriptor is simply watched.  When the
     * last read filled all the room it had, the peer is sending faster than
     * we read, so the deferred pass tries the descriptor before any poll. */
    if (aios__buffered(s) > 0 || want == 0 || (s->flags & (AIOS__F_EOF | AIOS__F_MORE)) || s->rerr || s->kick.queued ||
        (s->flags & AIOS__F_CONNECTING))
        aios__stream_kick(s);
    else
        aios__stream_update(s);
    return 0;
}

AIOS_API int aios_read(aios_stream *s, void *buf, size_t cap, aios_cb cb, void *ud)
{
    if (!buf || cap == 0) return -EINVAL;
    if (cap > (size_t)UINT32_MAX) cap = UINT32_MAX;
    return aios__read_start(s, AIOS__R_SOME, buf, cap, cb, ud);
}

AIOS_API int aios_read_exactly(aios_stream *s, void *buf, size_t n, aios_cb cb, void *ud)
{
    if ((!buf && n) || n > (size_t)INT_MAX) return -EINVAL;  /* the status must be able to say n */
    return aios__read_start(s, AIOS__R_EXACT, buf, n, cb, ud);
}

AIOS_API int aios_read_until(aios_stream *s, const void *delim, size_t dlen, size_t max, aios_cb cb, void *ud)
{
    int r;
    if (!s || !delim || dlen == 0 || dlen > sizeof s->ru.delim || max < dlen) return -EINVAL;
    if (max > (size_t)UINT32_MAX) max = UINT32_MAX;
    r = aios__read_start(s, AIOS__R_UNTIL, NULL, max, cb, ud);
    if (r == 0) {
        memcpy(s->ru.delim, delim, dlen);
        s->dlen = (unsigned char)dlen;
    }
    return r;
}

AIOS_API int aios_peek(aios_stream *s, size_t n, aios_cb cb, void *ud)
{
    if (n == 0 || n > (size_t)UINT32_MAX) return -EINVAL;
    return aios__read_start(s, AIOS__R_PEEK, NULL, n, cb, ud);
}

AIOS_API const char *aios_data(const aios_stream *s, size_t *len)
{
    if (len) *len = s ? aios__buffered(s) : 0;
    return s && s->rbuf ? s->rbuf + s->rstart : "";
}

AIOS_API void aios_consume(aios_stream *s, size_t n)
{
    if (!s) return;
    if (n > aios__buffered(s)) n = aios__buffered(s);
    s->rstart += n;
    s->rscan = s->rscan > n ? s->rscan - n : 0;
    if (s->rstart == s->rend) s->rstart = s->rend = 0;
}

AIOS_API size_t aios_result_len(const aios_stream *s)
{
    return s ? s->rgot : 0;
}

/* ==== section: streams, writing ==== */

/* The first request with bytes still to send.  Requests before it are sent
 * and wait only for their callback, which the next process pass delivers, so
 * the walk is short; no pointer to it is kept, to keep streams small. */
static aios__wreq *aios__wsend(const aios_stream *s)
{
    aios__wreq *w = s->whead;
    while (w && w->off == w->len) w = w->next;
    return w;
}

/* Marks n bytes sent, from w on; returns the first request still unsent. */
static aios__wreq *aios__wreq_advance(aios_stream *s, aios__wreq *w, size_t n)
{
    for (; w && (n > 0 || w->off == w->len); w = w->next) {
        size_t take = w->len - w->off;
        if (take > n) take = n;
        w->off += take;
        n -= take;
        s->wunsent -= take;
        if (w->off < w->len) break;
    }
    return w;
}

/* writev on a pipe or terminal, which has no MSG_NOSIGNAL: SIGPIPE is blocked
 * around the call and one it raised is consumed, so a reader that went away
 * is -EPIPE, never the death of the process.  A SIGPIPE already pending is
 * left to its owner. */
static ssize_t aios__writev_nosigpipe(int fd, const struct iovec *iov, int k)
{
    sigset_t pipe_set, old, pending;
    int was_pending, e;
    ssize_t n;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
#ifndef AIOS_NO_THREADS
    (void)pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
#else
    (void)sigprocmask(SIG_BLOCK, &pipe_set, &old);
#endif
    sigemptyset(&pending);
    was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    n = AIOS_SYS_WRITEV(fd, iov, k);
    e = errno;
    if (n < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {}
    }
#ifndef AIOS_NO_THREADS
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
#else
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
#endif
    errno = e;
    return n;
}

static void aios__stream_flush(aios_stream *s)
{
    aios__wreq *first = aios__wsend(s);
    while (first && !s->werr && s->io.fd >= 0) {
        struct iovec iov[AIOS__IOV_MAX];
        aios__wreq *w;
        int k = 0;
        size_t total = 0;
        ssize_t n;
        for (w = first; w && k < AIOS__IOV_MAX; w = w->next) {
            if (w->off == w->len) continue;
            iov[k].iov_base = (void *)(w->data + w->off);
            iov[k].iov_len = w->len - w->off;
            total += iov[k].iov_len;
            k++;
        }
        if (k == 0) break;
        if (s->flags & AIOS__F_SOCK) {
            struct msghdr msg;
            memset(&msg, 0, sizeof msg);
            msg.msg_iov = iov;
            msg.msg_iovlen = (size_t)k;
            n = AIOS_SYS_SENDMSG(s->io.fd, &msg, MSG_NOSIGNAL);
        } else {
            n = aios__writev_nosigpipe(s->io.fd, iov, k);
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) s->werr = -errno;
            break;
        }
        if (n > 0) aios__server_touch(s);
        first = aios__wreq_advance(s, first, (size_t)n);
        if ((size_t)n < total) break;
    }
}

/* Sends what the kernel takes at once from an idle queue; returns the count. */
static size_t aios__write_direct(aios_stream *s, const void *data, size_t n)
{
    struct iovec one;
    ssize_t r;
    one.iov_base = (void *)data;
    one.iov_len = n;
    if (s->flags & AIOS__F_SOCK) {
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &one;
        msg.msg_iovlen = 1;
        do r = AIOS_SYS_SENDMSG(s->io.fd, &msg, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
    } else {
        do r = aios__writev_nosigpipe(s->io.fd, &one, 1); while (r < 0 && errno == EINTR);
    }
    if (r > 0) { aios__server_touch(s); return (size_t)r; }
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) s->werr = -errno;
    return 0;
}

static int aios__write_common(aios_stream *s, const void *data, size_t n, int copy, aios_cb cb, void *ud)
{
    aios__wreq *w;
    size_t sent = 0, keep;
    if (!s || (!data && n)) return -EINVAL;
    if (s->flags & (AIOS__F_CLOSING | AIOS__F_GCLOSE)) return AIOS_ECLOSED;
    if (s->flags & (AIOS__F_SHUT_REQ | AIOS__F_SHUT_DONE)) return -EPIPE;
    if (s->werr) return s->werr;
    if (s->io.fd < 0 && !(s->flags & AIOS__F_CONNECTING)) return -ENOTCONN;
    if (copy && s->wcopied > 0 && s->wcopied >= s->whwm) return AIOS_EFULL;
    if (copy && n > (size_t)UINT32_MAX) return -EINVAL;
    /* The request exists before any byte goes out: a write that returns
     * -ENOMEM has sent nothing, and one that sent something always completes
     * through its callback. */
    w = (aios__wreq *)AIOS_MALLOC(sizeof *w);
    if (!w) return -ENOMEM;
    /* An idle queue tries the kernel first, so a copy is made only of what it refused. */
    if (s->io.fd >= 0 && n > 0 && !aios__wsend(s)) sent = aios__write_direct(s, data, n);
    keep = copy && !s->werr ? n - sent : 0;
    if (keep > 0) {
        aios__wreq *bigger = (aios__wreq *)aios__grow(w, 0, sizeof *w + keep);  /* filled in below */
        if (bigger) {
            w = bigger;
        } else if (sent == 0) {
            AIOS_FREE(w);
            return -ENOMEM;
        } else {  /* part is on the wire and the rest cannot be kept: the write side is broken */
            keep = 0;
            s->werr = -ENOMEM;
        }
    }
    w->next = NULL;
    w->cb = cb;
    w->ud = ud;
    w->copied = keep > 0 ? sizeof *w + keep : 0;  /* the header counts: 1-byte copies are mostly header */
    w->deadline = s->side && s->side->wtimeout_ns > 0 ? aios_now_ns() + s->side->wtimeout_ns : INT64_MAX;
    if (copy) {
        if (keep > 0) memcpy((char *)(w + 1), (const char *)data + sent, keep);
        w->data = (const char *)(w + 1);
        w->len = n - sent;  /* more than keep only after a failure, and then never sent */
        w->off = 0;
    } else {
        w->data = (const char *)data;
        w->len = n;
        w->off = sent;
    }
    s->wcopied += w->copied;
    s->wunsent += w->len - w->off;
    if (s->wtail) s->wtail->next = w; else s->whead = w;
    s->wtail = w;
    if (w->deadline != INT64_MAX && !s->werr && aios__wsend(s) == w)
        (void)aios__timer_start(s->ctx, &s->side->w, w->deadline);
    aios__stream_kick(s);
    return 0;
}

AIOS_API int aios_write(aios_stream *s, const void *data, size_t n, aios_cb cb, void *ud)
{
    return aios__write_common(s, data, n, 0, cb, ud);
}

AIOS_API int aios_write_copy(aios_stream *s, const void *data, size_t n, aios_cb cb, void *ud)
{
    return aios__write_common(s, data, n, 1, cb, ud);
}

AIOS_API int aios_drain(aios_stream *s, size_t low_water, aios_cb cb, void *ud)
{
    if (!s) return -EINVAL;
    if (s->flags & AIOS__F_CLOSING) return AIOS_ECLOSED;
    if (s->side && s->side->dcb) return AIOS_EBUSY;
    if (!cb) return -EINVAL;
    if (!aios__stream_side(s)) return -ENOMEM;
    s->side->dlow = low_water;
    s->side->dcb = cb;
    s->side->dud = ud;
    aios__stream_kick(s);
    return 0;
}

AIOS_API int aios_shutdown(aios_stream *s, aios_cb cb, void *ud)
{
    if (!s) return -EINVAL;
    if (s->flags & (AIOS__F_CLOSING | AIOS__F_GCLOSE)) return AIOS_ECLOSED;
    if (s->flags & (AIOS__F_SHUT_REQ | AIOS__F_SHUT_DONE)) return AIOS_EBUSY;
    if (!(s->flags & AIOS__F_SOCK) && !(s->flags & AIOS__F_CONNECTING)) return -ENOTSOCK;
    if (!aios__stream_side(s)) return -ENOMEM;
    s->flags |= AIOS__F_SHUT_REQ;
    s->side->scb = cb;
    s->side->sud = ud;
    aios__stream_kick(s);
    return 0;
}

/* ==== section: streams, dispatch ==== */

static void aios__stream_ready(aios__io *io, short revents)
{
    aios_stream *s = AIOS__CONTAINER(io, aios_stream, io);
    if (revents & POLLNVAL) {
        if (!s->rerr) s->rerr = -EBADF;
        if (!s->werr) s->werr = -EBADF;
    }
    if (revents & (POLLOUT | POLLERR | POLLHUP)) aios__stream_flush(s);
    if (revents & (POLLIN | POLLERR | POLLHUP)) aios__stream_read_io(s);
    aios__stream_process(s);
}

static void aios__stream_update(aios_stream *s)
{
    aios__wreq *wsend;
    short ev = 0;
    if (s->io.fd < 0 || (s->flags & AIOS__F_CLOSING)) return;
    if (s->rop && !(s->flags & AIOS__F_EOF) && !s->rerr && !s->rforce) ev |= POLLIN;
    wsend = s->werr ? NULL : aios__wsend(s);
    if (wsend) ev |= POLLOUT;
    s->io.events = ev;
    if (!s->side) return;
    if (wsend && wsend->deadline != INT64_MAX) {
        if (s->side->w.idx < 0 || s->side->w.when != wsend->deadline)
            (void)aios__timer_start(s->ctx, &s->side->w, wsend->deadline);
    } else {
        aios__timer_stop(s->ctx, &s->side->w);
    }
}

static aios__wreq *aios__pop_write(aios_stream *s)
{
    aios__wreq *w = s->whead;
    s->whead = w->next;
    if (!s->whead) s->wtail = NULL;
    s->wunsent -= w->len - w->off;
    s->wcopied -= w->copied;
    return w;
}

static void aios__call(aios_cb cb, aios_stream *s, int status, void *ud)
{
    if (cb) cb(s, status, ud);
}

/* Delivers one pending callback of a closing stream; 0 when none is left. */
static int aios__deliver_cancel(aios_stream *s)
{
    int why = s->cancel_status;
    if (s->flags & (AIOS__F_CONNECTING | AIOS__F_CONN_DONE)) {  /* a connect always has s->side */
        int st = (s->flags & AIOS__F_CONN_DONE) ? s->side->cstatus : why;
        aios_cb cb = s->side->ccb;
        s->flags &= ~(unsigned)(AIOS__F_CONNECTING | AIOS__F_CONN_DONE);
        s->side->ccb = NULL;
        aios__call(cb, s, st, s->side->cud);
        return 1;
    }
    if (s->rop) {
        aios__read_finish(s, why);
        return 1;
    }
    if (s->whead) {
        aios__wreq *w = aios__pop_write(s);
        /* a write that already failed (a send inside aios_write) says why, not that it was cancelled */
        int st = w->off == w->len ? 0 : s->werr ? s->werr : why;
        aios__call(w->cb, s, st, w->ud);
        AIOS_FREE(w);
        return 1;
    }
    if (s->side && s->side->dcb) {
        aios_cb cb = s->side->dcb;
        s->side->dcb = NULL;
        cb(s, why, s->side->dud);
        return 1;
    }
    if (s->flags & AIOS__F_SHUT_REQ) {
        s->flags &= ~(unsigned)AIOS__F_SHUT_REQ;
        aios__call(s->side->scb, s, why, s->side->sud);
        return 1;
    }
    return 0;
}

/* Completions per process call: a callback that keeps re-arming something
 * that completes at once (a drain, a peek, an empty read_exactly) goes on in
 * the next deferred pass, whose number per dispatch is bounded. */
#define AIOS__PROCESS_MAX 64

/* The one place where a stream's callbacks run (besides the connect path). */
static void aios__stream_process(aios_stream *s)
{
    int st, budget = AIOS__PROCESS_MAX;
    for (;;) {
        if (s->flags & AIOS__F_CLOSING) {
            if (s->io.fd >= 0 || aios__stream_connector(s)) aios__hard_close(s, s->cancel_status ? s->cancel_status : -ECANCELED);
            if (aios__deliver_cancel(s)) continue;
            aios__call(s->closecb, s, 0, s->closeud);
            aios__stream_free(s);
            return;
        }
        if (budget-- <= 0) {
            aios__stream_kick(s);
            break;
        }
        if (s->flags & AIOS__F_CONN_DONE) {
            aios_cb cb = s->side->ccb;
            s->flags &= ~(unsigned)AIOS__F_CONN_DONE;
            s->side->ccb = NULL;
            aios__call(cb, s, s->side->cstatus, s->side->cud);
            continue;
        }
        if (s->rop && !(s->flags & AIOS__F_CONNECTING) && aios__read_outcome(s, &st)) {
            aios__read_finish(s, st);
            continue;
        }
        if (s->whead && (s->whead->off == s->whead->len || s->werr)) {
            aios__wreq *w = aios__pop_write(s);
            st = w->off == w->len ? 0 : s->werr;
            aios__call(w->cb, s, st, w->ud);
            AIOS_FREE(w);
            continue;
        }
        if (s->side && s->side->dcb && (s->wunsent <= s->side->dlow || s->werr)) {
            aios_cb cb = s->side->dcb;
            s->side->dcb = NULL;
            cb(s, s->wunsent <= s->side->dlow ? 0 : s->werr, s->side->dud);
            continue;
        }
        if ((s->flags & AIOS__F_SHUT_REQ) && !(s->flags & AIOS__F_CONNECTING) && (!s->whead || s->werr)) {
            st = s->werr;
            if (!st && s->io.fd >= 0 && shutdown(s->io.fd, SHUT_WR) < 0) st = -errno;
            if (s->io.fd < 0 && !st) st = -ENOTCONN;
            s->flags = (s->flags & ~(unsigned)AIOS__F_SHUT_REQ) | AIOS__F_SHUT_DONE;
            aios__call(s->side->scb, s, st, s->side->sud);
            continue;
        }
        if ((s->flags & AIOS__F_GCLOSE) && !s->rop && !s->whead && !(s->side && s->side->dcb) &&
            !(s->flags & (AIOS__F_SHUT_REQ | AIOS__F_CONNECTING))) {
            aios__stream_stop_rtimer(s);
            aios__hard_close(s, -ECANCELED);
            continue;
        }
        break;
    }
    aios__stream_update(s);
}

/* ==== section: streams, accessors ==== */

AIOS_API void aios_set_limits(aios_stream *s, size_t read_hwm, size_t write_hwm)
{
    if (!s) return;
    if (read_hwm) s->rhwm = read_hwm > UINT32_MAX ? UINT32_MAX : (uint32_t)read_hwm;
    if (write_hwm) s->whwm = write_hwm > UINT32_MAX ? UINT32_MAX : (uint32_t)write_hwm;
}

AIOS_API int aios_set_timeouts(aios_stream *s, int read_ms, int write_ms)
{
    if (!s) return -EINVAL;
    if (read_ms <= 0 && write_ms <= 0 && !s->side) return 0;
    if (!aios__stream_side(s)) return -ENOMEM;
    s->side->rtimeout_ns = read_ms > 0 ? (int64_t)read_ms * 1000000 : 0;
    s->side->wtimeout_ns = write_ms > 0 ? (int64_t)write_ms * 1000000 : 0;
    return 0;
}

AIOS_API int aios_stream_fd(const aios_stream *s) { return s ? s->io.fd : -1; }
AIOS_API size_t aios_write_queued(const aios_stream *s) { return s ? s->wunsent : 0; }
AIOS_API void aios_stream_set_user(aios_stream *s, void *p) { if (s) s->user = p; }
AIOS_API void *aios_stream_user(const aios_stream *s) { return s ? s->user : NULL; }
AIOS_API aios_server *aios_stream_server(const aios_stream *s) { return s ? s->server : NULL; }

/* ==== section: name resolution ==== */

#ifndef AIOS_NO_RESOLVER

/* A port as decimal text, without pulling printf into small static programs. */
static void aios__port_text(char out[8], int port)
{
    char digits[8];
    unsigned v = (unsigned)port;
    int k = 0, i = 0;
    do digits[k++] = (char)('0' + v % 10); while ((v /= 10) != 0 && k < 7);
    while (k > 0) out[i++] = digits[--k];
    out[i] = 0;
}

typedef struct aios__resolve {
    int refs, done, gai, err;  /* err: the resolving thread's errno for EAI_SYSTEM */
    int efd;
#ifndef AIOS_NO_THREADS
    pthread_t th;
    struct aios__resolve *next;  /* in the context's list until joined */
#endif
    struct addrinfo *res;
    int family;
    char port[8];
    char host[1];
} aios__resolve;

static void aios__resolve_unref(aios__resolve *r)
{
    if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (r->res) AIOS_SYS_FREEADDRINFO(r->res);
#ifndef AIOS_NO_THREADS
    if (r->efd >= 0) close(r->efd);
#endif
    AIOS_FREE(r);
}

static void aios__resolve_now(aios__resolve *r)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = r->family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    errno = 0;
    r->gai = AIOS_SYS_GETADDRINFO(r->host, r->port, &hints, &r->res);
    r->err = errno;
    if (r->gai != 0) r->res = NULL;
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
}

#ifndef AIOS_NO_THREADS
static void *aios__resolve_main(void *arg)
{
    aios__resolve *r = (aios__resolve *)arg;
    uint64_t one = 1;
    ssize_t n;
    aios__resolve_now(r);
    do n = write(r->efd, &one, sizeof one); while (n < 0 && errno == EINTR);
    return NULL;  /* the context joins the thread and drops its reference */
}

/* Joins the resolver threads that are done (all of them when wait is set,
 * which blocks until each getaddrinfo returns), so none outlives the context. */
static void aios__resolve_reap(aios_ctx *c, int wait)
{
    aios__resolve **pp = (aios__resolve **)&c->resolvers;
    while (*pp) {
        aios__resolve *r = *pp;
        if (!wait && !__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) { pp = &r->next; continue; }
        *pp = r->next;
        pthread_join(r->th, NULL);
        aios__resolve_unref(r);
    }
}

static int aios__resolve_spawn(aios_ctx *c, aios__resolve *r)
{
    sigset_t all, old;
    int e;
    aios__resolve_reap(c, 0);
    r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->efd < 0) return -errno;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);  /* signals stay with the loop thread */
    r->refs = 2;
    e = pthread_create(&r->th, NULL, aios__resolve_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) { r->refs = 1; return -e; }
    r->next = (aios__resolve *)c->resolvers;
    c->resolvers = r;
    return 0;
}
#endif

/* err: errno of the thread that called getaddrinfo, read right after it */
static int aios__gai_error(int gai, int err)
{
    switch (gai) {
    case 0: return 0;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
        return AIOS_ENOTFOUND;
    case EAI_MEMORY: return -ENOMEM;
#ifdef EAI_SYSTEM
    case EAI_SYSTEM: return err > 0 ? -err : AIOS_ERESOLVE;
#endif
    default: return AIOS_ERESOLVE;
    }
}
#endif /* AIOS_NO_RESOLVER */

/* ==== section: connecting ==== */

typedef struct aios__attempt {
    aios__io io;
    struct aios__connector *c;
} aios__attempt;

typedef struct aios__connector {
    aios_stream *s;
    aios__io rio;
#ifndef AIOS_NO_RESOLVER
    aios__resolve *res;
#endif
    aios__timer delay, deadline;
    aios__defer start;
    aios__attempt att[AIOS__MAX_ATTEMPTS];
    struct sockaddr_storage addrs[AIOS__MAX_ADDRS];
    socklen_t alen[AIOS__MAX_ADDRS];
    int naddr, next, active, last_err, delay_ms, nodelay, keepalive_s;
    int retries;  /* Unix connects retried while the listener's backlog is full */
} aios__connector;

static void aios__connector_free(aios_stream *s)
{
    aios__connector *c = aios__stream_connector(s);
    aios_ctx *ctx = s->ctx;
    int i;
    if (!c) return;
    for (i = 0; i < AIOS__MAX_ATTEMPTS; i++) {
        if (c->att[i].io.fd < 0) continue;
        aios__io_del(ctx, &c->att[i].io);
        AIOS_SYS_CLOSE(c->att[i].io.fd);
    }
    aios__io_del(ctx, &c->rio);
#ifndef AIOS_NO_RESOLVER
    if (c->res) aios__resolve_unref(c->res);
#endif
    aios__timer_stop(ctx, &c->delay);
    aios__timer_stop(ctx, &c->deadline);
    aios__defer_cancel(ctx, &c->start);
    AIOS_FREE(c);
    s->side->conn = NULL;
}

static void aios__connect_done(aios_stream *s, int status)
{
    s->flags &= ~(unsigned)AIOS__F_CONNECTING;
    s->flags |= AIOS__F_CONN_DONE;
    s->side->cstatus = status;
    aios__connector_free(s);
    if (status < 0) {
        s->rerr = s->rerr ? s->rerr : status;
        s->werr = s->werr ? s->werr : status;
    }
    aios__stream_process(s);
}

static void aios__tune_socket(int fd, int family, int nodelay, int keepalive_s)
{
    int one = 1;
    if (family != AF_INET && family != AF_INET6) return;
    if (nodelay) (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (keepalive_s > 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
#ifdef TCP_KEEPIDLE
        (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keepalive_s, sizeof keepalive_s);
#endif
    }
}

static void aios__connect_won(aios__connector *c, int slot)
{
    aios_stream *s = c->s;
    int fd = c->att[slot].io.fd;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    aios__io_del(s->ctx, &c->att[slot].io);
    c->att[slot].io.fd = -1;
    s->io.fd = fd;
    s->flags |= AIOS__F_SOCK;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        aios__tune_socket(fd, ss.ss_family, c->nodelay, c->keepalive_s);
    aios__connect_done(s, 0);
}

static void aios__attempt_failed(aios__connector *c, int slot, int err);

#define AIOS__UNIX_RETRIES 50

/* Starts the next address; returns 1 if an attempt (or a retry) is now pending, 0 if none could start. */
static int aios__attempt_next(aios__connector *c)
{
    while (c->next < c->naddr) {
        int i, slot = -1, fd, r;
        const struct sockaddr_storage *sa = &c->addrs[c->next];
        socklen_t len = c->alen[c->next];
        for (i = 0; i < AIOS__MAX_ATTEMPTS; i++)
            if (c->att[i].io.fd < 0) { slot = i; break; }
        if (slot < 0) return 1;
        c->next++;
        fd = AIOS_SYS_SOCKET(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) { c->last_err = -errno; continue; }
        r = AIOS_SYS_CONNECT(fd, (const struct sockaddr *)sa, len);
        if (r < 0 && errno == EAGAIN && sa->ss_family == AF_UNIX && c->retries < AIOS__UNIX_RETRIES) {
            /* the listener's backlog is full and nothing is pending: try
             * again after 2, 4, ... 64 ms, then every 100 ms (about 4.5 s in all) */
            int ms = c->retries < 6 ? 2 << c->retries : 100;
            AIOS_SYS_CLOSE(fd);
            c->last_err = -EAGAIN;
            c->retries++;
            c->next--;
            if (aios__timer_start(c->s->ctx, &c->delay, aios_now_ns() + (int64_t)ms * 1000000) == 0) return 1;
            c->next++;
            continue;
        }
        if (r < 0 && errno != EINPROGRESS && errno != EINTR) {
            c->last_err = -errno;
            AIOS_SYS_CLOSE(fd);
            continue;
        }
        aios__io_init(&c->att[slot].io, fd, AIOS__IO_ATTEMPT);
        c->att[slot].c = c;
        if (aios__io_add(c->s->ctx, &c->att[slot].io) < 0) {
            AIOS_SYS_CLOSE(fd);
            c->att[slot].io.fd = -1;
            c->last_err = -ENOMEM;
            continue;
        }
        c->att[slot].io.events = POLLOUT;
        c->active++;
        if (c->next < c->naddr && c->delay_ms > 0)
            (void)aios__timer_start(c->s->ctx, &c->delay, aios_now_ns() + (int64_t)c->delay_ms * 1000000);
        return 1;
    }
    return c->active > 0;
}

static void aios__attempt_failed(aios__connector *c, int slot, int err)
{
    aios__io_del(c->s->ctx, &c->att[slot].io);
    AIOS_SYS_CLOSE(c->att[slot].io.fd);
    c->att[slot].io.fd = -1;
    c->active--;
    c->last_err = err;
    if (!aios__attempt_next(c)) aios__connect_done(c->s, c->last_err ? c->last_err : -ECONNREFUSED);
}

static void aios__attempt_ready(aios__io *io, short revents)
{
    aios__attempt *a = AIOS__CONTAINER(io, aios__attempt, io);
    aios__connector *c = a->c;
    int slot = (int)(a - c->att);
    int err = 0;
    socklen_t len = sizeof err;
    (void)revents;
    if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0) aios__connect_won(c, slot);
    else aios__attempt_failed(c, slot, -err);
}

static void aios__connect_begin(aios__connector *c)
{
    if (c->naddr == 0) { aios__connect_done(c->s, c->last_err ? c->last_err : AIOS_ENOTFOUND); return; }
    if (!aios__attempt_next(c)) aios__connect_done(c->s, c->last_err ? c->last_err : -ECONNREFUSED);
}

static void aios__connect_delay_fire(aios__timer *t)
{
    aios__connector *c = AIOS__CONTAINER(t, aios__connector, delay);
    if (!aios__attempt_next(c)) aios__connect_done(c->s, c->last_err ? c->last_err : -ECONNREFUSED);
}

static void aios__connect_deadline_fire(aios__timer *t)
{
    aios__connector *c = AIOS__CONTAINER(t, aios__connector, deadline);
    aios__connect_done(c->s, -ETIMEDOUT);
}

#ifndef AIOS_NO_RESOLVER
/* Orders addresses the way RFC 8305 suggests: alternate families, first family first. */
static void aios__take_addrs(aios__connector *c, const struct addrinfo *list)
{
    const struct addrinfo *a;
    int fam[2] = {0, 0}, f;
    if (!list) return;
    fam[0] = list->ai_family;
    fam[1] = fam[0] == AF_INET6 ? AF_INET : AF_INET6;
    {
        const struct addrinfo *cur[2];
        cur[0] = cur[1] = list;
        for (f = 0; c->naddr < AIOS__MAX_ADDRS;) {
            int tries;
            for (tries = 0; tries < 2; tries++, f ^= 1) {
                for (a = cur[f]; a && a->ai_family != fam[f]; a = a->ai_next) {}
                if (a) break;
            }
            if (!a) break;
            if (a->ai_addrlen <= sizeof c->addrs[0]) {
                memcpy(&c->addrs[c->naddr], a->ai_addr, a->ai_addrlen);
                c->alen[c->naddr] = (socklen_t)a->ai_addrlen;
                c->naddr++;
            }
            cur[f] = a->ai_next;
            f ^= 1;
        }
    }
}

static void aios__resolved(aios__connector *c)
{
    aios__resolve *r = c->res;
    int err;
    aios__io_del(c->s->ctx, &c->rio);
    c->res = NULL;
    err = aios__gai_error(r->gai, r->err);
    aios__take_addrs(c, r->res);
    aios__resolve_unref(r);
#ifndef AIOS_NO_THREADS
    aios__resolve_reap(c->s->ctx, 0);
#endif
    if (err < 0 && c->naddr == 0) { aios__connect_done(c->s, err); return; }
    aios__connect_begin(c);
}
#endif /* AIOS_NO_RESOLVER */

/* The connect part's descriptors: racing attempts and the resolver's wake-up. */
static void aios__connect_io(aios__io *io, short revents)
{
#ifndef AIOS_NO_THREADS
    if (io->kind == AIOS__IO_RESOLVER) {
        aios__connector *c = AIOS__CONTAINER(io, aios__connector, rio);
        uint64_t v;
        if (read(io->fd, &v, sizeof v) < 0 && errno == EAGAIN) return;
        if (!__atomic_load_n(&c->res->done, __ATOMIC_ACQUIRE)) return;
        aios__resolved(c);
        return;
    }
#endif
    aios__attempt_ready(io, revents);
}

static void aios__connect_start_run(aios__defer *d)
{
    aios__connector *c = AIOS__CONTAINER(d, aios__connector, start);
#ifndef AIOS_NO_RESOLVER
    if (c->res) {  /* only without a resolver thread */
        aios__resolve_now(c->res);
        aios__resolved(c);
        return;
    }
#endif
    aios__connect_begin(c);
}

static int aios__parse_numeric(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)ss;
    char tmp[64];
    size_t n = strlen(host);
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
        return 1;
    }
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof tmp) {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = 0;
        host = tmp;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        return 1;
    }
    return 0;
}

static aios__connector *aios__connector_new(aios_stream *s)
{
    aios__connector *c = (aios__connector *)AIOS_MALLOC(sizeof *c);
    int i;
    if (!c) return NULL;
    if (!aios__stream_side(s)) { AIOS_FREE(c); return NULL; }
    memset(c, 0, sizeof *c);
    c->s = s;
    aios__io_init(&c->rio, -1, AIOS__IO_RESOLVER);
    for (i = 0; i < AIOS__MAX_ATTEMPTS; i++) aios__io_init(&c->att[i].io, -1, AIOS__IO_ATTEMPT);
    aios__timer_init(&c->delay, aios__connect_delay_fire);
    aios__timer_init(&c->deadline, aios__connect_deadline_fire);
    aios__defer_init(&c->start, AIOS__DEFER_CONNECT);
    s->ctx->connect_io = aios__connect_io;
    s->ctx->connect_run = aios__connect_start_run;
    s->ctx->connect_free = aios__connector_free;
    s->side->conn = c;
    s->flags |= AIOS__F_CONNECTING;
    return c;
}

AIOS_API void aios_tcp_opts_init(aios_tcp_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->attempt_delay_ms = 250;
    o->nodelay = 1;
}

static void aios__stream_discard(aios_stream *s)
{
    aios__connector_free(s);
    aios__stream_free(s);
}

AIOS_API int aios_tcp_connect(aios_ctx *ctx, aios_stream **out, const char *host, int port,
                              const aios_tcp_opts *o, aios_cb cb, void *ud)
{
    aios_tcp_opts defaults;
    aios_stream *s;
    aios__connector *c;
    if (!ctx || !out || !host || !*host || port <= 0 || port > 65535) return -EINVAL;
    *out = NULL;
    if (!o) { aios_tcp_opts_init(&defaults); o = &defaults; }
    s = aios__stream_new(ctx, -1);
    if (!s) return -ENOMEM;
    c = aios__connector_new(s);
    if (!c) { aios__stream_free(s); return -ENOMEM; }
    aios_set_limits(s, o->read_hwm, o->write_hwm);
    s->side->ccb = cb;
    s->side->cud = ud;
    c->delay_ms = o->attempt_delay_ms;
    c->nodelay = o->nodelay;
    c->keepalive_s = o->keepalive_s;
    if (aios__parse_numeric(host, port, &c->addrs[0], &c->alen[0])) {
        int fam = c->addrs[0].ss_family;
        if ((o->family == 4 && fam != AF_INET) || (o->family == 6 && fam != AF_INET6)) {
            aios__stream_discard(s);
            return -EAFNOSUPPORT;
        }
        c->naddr = 1;
    } else {
#ifdef AIOS_NO_RESOLVER
        aios__stream_discard(s);
        return AIOS_ENOTNUMERIC;
#else
        size_t hl = strlen(host);
        aios__resolve *r = (aios__resolve *)AIOS_MALLOC(sizeof *r + hl);
        if (!r) { aios__stream_discard(s); return -ENOMEM; }
        memset(r, 0, sizeof *r);
        memcpy(r->host, host, hl + 1);
        aios__port_text(r->port, port);
        r->family = o->family == 4 ? AF_INET : o->family == 6 ? AF_INET6 : AF_UNSPEC;
        r->refs = 1;
        r->efd = -1;
        c->res = r;
#ifndef AIOS_NO_THREADS
        {
            int e = aios__resolve_spawn(ctx, r);
            if (e < 0) { aios__stream_discard(s); return e; }
            aios__io_init(&c->rio, r->efd, AIOS__IO_RESOLVER);
            if (aios__io_add(ctx, &c->rio) < 0) { aios__stream_discard(s); return -ENOMEM; }
            c->rio.events = POLLIN;
        }
#endif
#endif /* AIOS_NO_RESOLVER */
    }
    if (o->timeout_ms > 0 && aios__timer_start(ctx, &c->deadline, aios__after_ms(o->timeout_ms)) < 0) {
        aios__stream_discard(s);
        return -ENOMEM;
    }
#ifndef AIOS_NO_THREADS
    if (!c->res)
#endif
        aios__defer_queue(ctx, &c->start);
    *out = s;
    return 0;
}

AIOS_API int aios_unix_connect(aios_ctx *ctx, aios_stream **out, const char *path, aios_cb cb, void *ud)
{
    struct sockaddr_un *un;
    aios_stream *s;
    aios__connector *c;
    size_t n;
    if (!ctx || !out || !path) return -EINVAL;
    *out = NULL;
    n = strlen(path);
    if (n == 0 || n >= sizeof un->sun_path) return -ENAMETOOLONG;
    s = aios__stream_new(ctx, -1);
    if (!s) return -ENOMEM;
    c = aios__connector_new(s);
    if (!c) { aios__stream_free(s); return -ENOMEM; }
    s->side->ccb = cb;
    s->side->cud = ud;
    un = (struct sockaddr_un *)(void *)&c->addrs[0];
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    c->alen[0] = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    c->naddr = 1;
    aios__defer_queue(ctx, &c->start);
    *out = s;
    return 0;
}

/* ==== section: servers ==== */

AIOS_API void aios_server_config_init(aios_server_config *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->backlog = 511;
    cfg->reject_over_max = 1;
    cfg->accept_batch = 32;
    cfg->reuseaddr = 1;
    cfg->nodelay = 1;
    cfg->retry_ms = 100;
}

static void aios__server_update(aios_server *srv)
{
    int i;
    short ev = (srv->paused || srv->shutting) ? 0 : POLLIN;
    for (i = 0; i < srv->nlis; i++) srv->lis[i].io.events = ev;
}

static void aios__server_retry_fire(aios__timer *t)
{
    aios_server *srv = AIOS__CONTAINER(t, aios_server, retry);
    srv->paused = 0;
    aios__server_update(srv);
}

static int aios__fd_shortage(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/* A server's connections in the order of their last activity (bytes read
 * or written), the one idle longest at the head: moving one to the tail
 * costs four pointers, so every read and write may do it. */
static void aios__idle_unlink(aios_server *srv, aios_stream *s)
{
    if (s->idle_prev) s->idle_prev->idle_next = s->idle_next; else srv->idle_head = s->idle_next;
    if (s->idle_next) s->idle_next->idle_prev = s->idle_prev; else srv->idle_tail = s->idle_prev;
    s->idle_prev = s->idle_next = NULL;
}

static void aios__idle_append(aios_server *srv, aios_stream *s)
{
    s->idle_prev = srv->idle_tail;
    s->idle_next = NULL;
    if (srv->idle_tail) srv->idle_tail->idle_next = s; else srv->idle_head = s;
    srv->idle_tail = s;
}

static void aios__server_touch(aios_stream *s)
{
    aios_server *srv = s->server;
    if (!srv || srv->idle_tail == s) return;
    aios__idle_unlink(srv, s);
    aios__idle_append(srv, s);
}

/* Closes the connection idle longest (its operations end with -ECANCELED,
 * as in a forced shutdown); its descriptor is free at once.  0 when every
 * connection is already closing. */
static int aios__server_evict(aios_server *srv)
{
    aios_stream *s;
    for (s = srv->idle_head; s; s = s->idle_next) {
        if (s->flags & AIOS__F_CLOSING) continue;
        s->flags |= AIOS__F_EVICTED;
        srv->evicting++;
        srv->stats.evicted++;
        aios__idle_unlink(srv, s);
        aios__hard_close(s, -ECANCELED);
        return 1;
    }
    return 0;
}

static void aios__listener_ready(aios__io *io, short revents)
{
    aios__listener *l = AIOS__CONTAINER(io, aios__listener, io);
    aios_server *srv = l->srv;
    int i;
    (void)revents;
    for (i = 0; i < srv->cfg.accept_batch && !srv->paused && !srv->shutting; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        aios_stream *s;
        int over = srv->cfg.max_conns > 0 &&
                   srv->stats.active - srv->evicting >= (unsigned long)srv->cfg.max_conns;
        int fd;
        if (over && !srv->cfg.reject_over_max && !srv->cfg.evict_idle) { srv->paused = 1; break; }
        ss.ss_family = AF_UNSPEC;
        fd = AIOS_SYS_ACCEPT(io->fd, (struct sockaddr *)&ss, &len);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            /* the descriptor of the connection idle longest, for the one waiting */
            if (errno == EMFILE && srv->cfg.evict_idle && aios__server_evict(srv)) continue;
            if (aios__fd_shortage(errno)) {
                srv->stats.fd_exhausted++;
                srv->paused = 2;
                (void)aios__timer_start(srv->ctx, &srv->retry, aios__after_ms(srv->cfg.retry_ms > 0 ? srv->cfg.retry_ms : 100));
            }
            break;
        }
        if (over && !(srv->cfg.evict_idle && aios__server_evict(srv))) {
            AIOS_SYS_CLOSE(fd);
            srv->stats.rejected++;
            continue;
        }
        if (ss.ss_family == AF_UNIX && len < sizeof ss) ((char *)&ss)[len] = 0;  /* unnamed peers */
        s = aios__stream_new(srv->ctx, fd);
        if (!s) { AIOS_SYS_CLOSE(fd); srv->stats.rejected++; continue; }
        s->flags |= AIOS__F_SOCK;
        s->server = srv;
        aios__idle_append(srv, s);
        aios_set_limits(s, srv->cfg.read_hwm, srv->cfg.write_hwm);
        aios__tune_socket(fd, ss.ss_family, srv->cfg.nodelay, 0);
        srv->stats.accepted++;
        srv->stats.active++;
        srv->on_conn(srv, s, (const struct sockaddr *)&ss, srv->ud);
    }
    aios__server_update(srv);
}

static void aios__server_finish_run(aios__defer *d)
{
    aios_server *srv = AIOS__CONTAINER(d, aios_server, finish);
    aios_ctx *c = srv->ctx;
    aios_server_cb cb = srv->shut_cb;
    void *ud = srv->shut_ud;
    aios__timer_stop(c, &srv->grace);
    aios__timer_stop(c, &srv->retry);
    if (srv->prev) srv->prev->next = srv->next; else c->servers = srv->next;
    if (srv->next) srv->next->prev = srv->prev;
    srv->prev = srv->next = NULL;
    srv->done = 1;
    if (cb) cb(srv, (int)srv->stats.forced, ud);
}

static void aios__server_conn_gone(aios_server *srv, aios_stream *s)
{
    if (s->flags & AIOS__F_EVICTED) srv->evicting--;
    else aios__idle_unlink(srv, s);
    srv->stats.active--;
    if (srv->paused) {
        srv->paused = 0;
        aios__timer_stop(srv->ctx, &srv->retry);
        aios__server_update(srv);
    }
    if (srv->shutting && srv->stats.active == 0) aios__defer_queue(srv->ctx, &srv->finish);
}

/* Every stream stays on the context's descriptor list while it exists. */
static aios_stream *aios__io_stream(aios__io *io)
{
    return io->kind == AIOS__IO_STREAM ? AIOS__CONTAINER(io, aios_stream, io) : NULL;
}

static void aios__server_force(aios_server *srv)
{
    aios__io *io;
    for (io = srv->ctx->ios; io; io = io->next) {
        aios_stream *s = aios__io_stream(io);
        if (!s || s->server != srv || (s->flags & AIOS__F_CLOSING)) continue;
        srv->stats.forced++;
        aios__hard_close(s, -ECANCELED);
    }
}

static void aios__server_grace_fire(aios__timer *t)
{
    aios__server_force(AIOS__CONTAINER(t, aios_server, grace));
}

AIOS_API int aios_server_init(aios_server *srv, aios_ctx *ctx, const aios_server_config *cfg,
                              aios_conn_cb on_conn, void *ud)
{
    aios_server *it;
    int i;
    if (!srv || !ctx || !on_conn) return -EINVAL;
    /* A server the context still holds (a retry after a failed listen) keeps
     * its place: clearing it would link it to itself.  Only the context's
     * list is read: srv may hold anything before its first init. */
    for (it = ctx->servers; it; it = it->next)
        if (it == srv) return AIOS_EBUSY;
    memset(srv, 0, sizeof *srv);
    if (cfg) srv->cfg = *cfg; else aios_server_config_init(&srv->cfg);
    if (srv->cfg.accept_batch <= 0) srv->cfg.accept_batch = 32;
    if (srv->cfg.backlog <= 0) srv->cfg.backlog = 511;
    srv->ctx = ctx;
    srv->on_conn = on_conn;
    srv->ud = ud;
    for (i = 0; i < AIOS_MAX_LISTENERS; i++) aios__io_init(&srv->lis[i].io, -1, AIOS__IO_LISTENER);
    aios__timer_init(&srv->retry, aios__server_retry_fire);
    aios__timer_init(&srv->grace, aios__server_grace_fire);
    aios__defer_init(&srv->finish, AIOS__DEFER_SERVER);
    srv->next = ctx->servers;
    if (ctx->servers) ctx->servers->prev = srv;
    ctx->servers = srv;
    return 0;
}

static int aios__listen_fd(aios_server *srv, int fd)
{
    aios__listener *l;
    if (listen(fd, srv->cfg.backlog) < 0) { int e = -errno; AIOS_SYS_CLOSE(fd); return e; }
    l = &srv->lis[srv->nlis];
    aios__io_init(&l->io, fd, AIOS__IO_LISTENER);
    l->srv = srv;
    if (aios__io_add(srv->ctx, &l->io) < 0) { AIOS_SYS_CLOSE(fd); return -ENOMEM; }
    srv->nlis++;
    aios__server_update(srv);
    return 0;
}

static int aios__bind_tcp(aios_server *srv, const struct sockaddr *sa, socklen_t len, int dual)
{
    int one = 1, fd;
    fd = AIOS_SYS_SOCKET(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (srv->cfg.reuseaddr) (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef SO_REUSEPORT
    if (srv->cfg.reuseport) (void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#endif
    if (sa->sa_family == AF_INET6) {
        int v6only = dual ? 0 : (srv->cfg.v6only ? 1 : 0);
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (bind(fd, sa, len) < 0) { int e = -errno; AIOS_SYS_CLOSE(fd); return e; }
    if (srv->port == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
            if (ss.ss_family == AF_INET) srv->port = ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
            else if (ss.ss_family == AF_INET6) srv->port = ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
        }
    }
    return aios__listen_fd(srv, fd);
}

AIOS_API int aios_server_listen_tcp(aios_server *srv, const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (!srv || port < 0 || port > 65535) return -EINVAL;
    if (srv->shutting || srv->done) return AIOS_ECLOSED;
    if (srv->nlis >= AIOS_MAX_LISTENERS) return -ENOSPC;
    if (!host || !*host || strcmp(host, "*") == 0) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)&ss;
        struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)&ss;
        int r;
        memset(&ss, 0, sizeof ss);
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_any;
        v6->sin6_port = htons((uint16_t)port);
        r = aios__bind_tcp(srv, (struct sockaddr *)v6, sizeof *v6, 1);
        if (r != -EAFNOSUPPORT) return r;
        memset(&ss, 0, sizeof ss);
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_ANY);
        v4->sin_port = htons((uint16_t)port);
        return aios__bind_tcp(srv, (struct sockaddr *)v4, sizeof *v4, 0);
    }
    if (aios__parse_numeric(host, port, &ss, &len)) return aios__bind_tcp(srv, (struct sockaddr *)&ss, len, 0);
#ifdef AIOS_NO_RESOLVER
    return AIOS_ENOTNUMERIC;
#else
    {
        /* A listening name is set-up work, so it resolves synchronously. */
        struct addrinfo hints, *res = NULL, *a;
        char ps[8];
        int e, r = AIOS_ENOTFOUND;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        aios__port_text(ps, port);
        errno = 0;
        e = AIOS_SYS_GETADDRINFO(host, ps, &hints, &res);
        if (e != 0) return aios__gai_error(e, errno);
        for (a = res; a && srv->nlis < AIOS_MAX_LISTENERS; a = a->ai_next) {
            struct sockaddr_storage one;  /* with port 0, every address gets the port the first one got */
            int rr;
            if (a->ai_addrlen > sizeof one) continue;
            memcpy(&one, a->ai_addr, a->ai_addrlen);
            if (one.ss_family == AF_INET) ((struct sockaddr_in *)(void *)&one)->sin_port = htons((uint16_t)port);
            else if (one.ss_family == AF_INET6) ((struct sockaddr_in6 *)(void *)&one)->sin6_port = htons((uint16_t)port);
            rr = aios__bind_tcp(srv, (struct sockaddr *)&one, a->ai_addrlen, 0);
            if (rr == 0 || r != 0) r = rr;
            if (rr == 0 && port == 0) port = srv->port;
        }
        AIOS_SYS_FREEADDRINFO(res);
        return r;
    }
#endif
}

AIOS_API int aios_server_listen_unix(aios_server *srv, const char *path)
{
    struct sockaddr_un un;
    struct stat st;
    size_t n;
    int fd, r;
    if (!srv || !path) return -EINVAL;
    if (srv->shutting || srv->done) return AIOS_ECLOSED;
    if (srv->nlis >= AIOS_MAX_LISTENERS) return -ENOSPC;
    n = strlen(path);
    if (n == 0 || n >= sizeof un.sun_path || n >= sizeof srv->unix_path) return -ENAMETOOLONG;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, path, n + 1);
    fd = AIOS_SYS_SOCKET(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    /* a socket file left by a server that is gone is removed; one that a live
     * server listens on (connect does not say ECONNREFUSED) is left alone */
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        int probe = AIOS_SYS_SOCKET(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (probe >= 0) {
            if (connect(probe, (struct sockaddr *)&un, sizeof un) < 0 && errno == ECONNREFUSED) (void)unlink(path);
            AIOS_SYS_CLOSE(probe);
        }
    }
    if (bind(fd, (struct sockaddr *)&un, sizeof un) < 0) { r = -errno; AIOS_SYS_CLOSE(fd); return r; }
    if (stat(path, &st) < 0) { r = -errno; AIOS_SYS_CLOSE(fd); return r; }
    r = aios__listen_fd(srv, fd);
    if (r == 0) {
        memcpy(srv->unix_path, path, n + 1);
        srv->unix_dev = (uint64_t)st.st_dev;
        srv->unix_ino = (uint64_t)st.st_ino;
    } else {
        (void)unlink(path);
    }
    return r;
}

AIOS_API int aios_server_port(const aios_server *srv)
{
    return srv ? srv->port : -EINVAL;
}

AIOS_API int aios_server_shutdown(aios_server *srv, int timeout_ms, aios_server_cb cb, void *ud)
{
    int i;
    if (!srv || !srv->ctx) return -EINVAL;
    if (srv->shutting || srv->done) return AIOS_ECLOSED;
    /* the grace timer first: without memory for it nothing changes (a graceful
     * shutdown must not turn into a forced one unasked) */
    if (srv->stats.active > 0 && timeout_ms > 0 && aios__timer_start(srv->ctx, &srv->grace, aios__after_ms(timeout_ms)) < 0)
        return -ENOMEM;
    srv->shutting = 1;
    srv->shut_cb = cb;
    srv->shut_ud = ud;
    aios__timer_stop(srv->ctx, &srv->retry);
    for (i = 0; i < srv->nlis; i++) {
        aios__io_del(srv->ctx, &srv->lis[i].io);
        AIOS_SYS_CLOSE(srv->lis[i].io.fd);
        srv->lis[i].io.fd = -1;
    }
    srv->nlis = 0;
    if (srv->unix_path[0]) {  /* only the file we bound: another server may have taken the path since */
        struct stat st;
        if (stat(srv->unix_path, &st) == 0 && (uint64_t)st.st_dev == srv->unix_dev && (uint64_t)st.st_ino == srv->unix_ino)
            (void)unlink(srv->unix_path);
        srv->unix_path[0] = 0;
    }
    if (srv->stats.active == 0) aios__defer_queue(srv->ctx, &srv->finish);
    else if (timeout_ms <= 0) aios__server_force(srv);
    return 0;
}

/* Text output for aios_format_addr without stdio (snprintf and inet_ntop would
 * pull stdio's exit handling into every static program that links this file). */
static size_t aios__put_text(char *buf, size_t n, size_t at, const char *text, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++, at++)
        if (at < n) buf[at] = text[i];
    return at;
}

static size_t aios__put_num(char *buf, size_t n, size_t at, unsigned v, unsigned base)
{
    char d[12];
    int k = 0;
    do d[k++] = "0123456789abcdef"[v % base]; while ((v /= base) != 0);
    while (k > 0) {
        if (at < n) buf[at] = d[k - 1];
        k--;
        at++;
    }
    return at;
}

static size_t aios__put_v4(char *buf, size_t n, size_t at, const unsigned char *a)
{
    int i;
    for (i = 0; i < 4; i++) {
        if (i) at = aios__put_text(buf, n, at, ".", 1);
        at = aios__put_num(buf, n, at, a[i], 10);
    }
    return at;
}

/* RFC 5952: lower-case hex, the longest run of two or more zero groups (the
 * first of equal runs) as "::", IPv4-mapped addresses as ::ffff:a.b.c.d. */
static size_t aios__put_v6(char *buf, size_t n, size_t at, const unsigned char *a)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned g[8];
    int i, best = -1, best_len = 1, run = 0, groups = 8;
    if (memcmp(a, mapped, 12) == 0) groups = 6;
    for (i = 0; i < 8; i++) g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    for (i = 0; i < groups; i++) {
        run = g[i] == 0 ? run + 1 : 0;
        if (run > best_len) { best_len = run; best = i - run + 1; }
    }
    for (i = 0; i < groups; i++) {
        if (i == best) {  /* "::" stands for the run and the separators on both sides */
            at = aios__put_text(buf, n, at, "::", 2);
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best + best_len) at = aios__put_text(buf, n, at, ":", 1);
        at = aios__put_num(buf, n, at, g[i], 16);
    }
    if (groups == 6) {  /* always after "::ffff" */
        at = aios__put_text(buf, n, at, ":", 1);
        at = aios__put_v4(buf, n, at, a + 12);
    }
    return at;
}

AIOS_API int aios_format_addr(const struct sockaddr *sa, char *buf, size_t n)
{
    size_t at;
    if (!sa || !buf || n == 0) return -EINVAL;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        at = aios__put_v4(buf, n, 0, (const unsigned char *)&v4->sin_addr);
        at = aios__put_text(buf, n, at, ":", 1);
        at = aios__put_num(buf, n, at, ntohs(v4->sin_port), 10);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
        at = aios__put_text(buf, n, 0, "[", 1);
        at = aios__put_v6(buf, n, at, (const unsigned char *)&v6->sin6_addr);
        at = aios__put_text(buf, n, at, "]:", 2);
        at = aios__put_num(buf, n, at, ntohs(v6->sin6_port), 10);
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)(const void *)sa;
        const char *end = (const char *)memchr(un->sun_path, 0, sizeof un->sun_path);
        at = aios__put_text(buf, n, 0, "unix:", 5);
        at = aios__put_text(buf, n, at, un->sun_path, end ? (size_t)(end - un->sun_path) : sizeof un->sun_path);
    } else {
        return -EAFNOSUPPORT;
    }
    buf[at < n ? at : n - 1] = 0;
    return at < n && at <= (size_t)INT_MAX ? (int)at : -ENOSPC;
}

/* ==== section: serial ports ==== */

static speed_t aios__baud(int baud)
{
    switch (baud) {
    case 50: return B50; case 75: return B75; case 110: return B110; case 134: return B134;
    case 150: return B150; case 200: return B200; case 300: return B300; case 600: return B600;
    case 1200: return B1200; case 1800: return B1800; case 2400: return B2400; case 4800: return B4800;
    case 9600: return B9600; case 19200: return B19200; case 38400: return B38400;
#ifdef B57600
    case 57600: return B57600;
#endif
#ifdef B115200
    case 115200: return B115200;
#endif
#ifdef B230400
    case 230400: return B230400;
#endif
#ifdef B460800
    case 460800: return B460800;
#endif
#ifdef B921600
    case 921600: return B921600;
#endif
#ifdef B1000000
    case 1000000: return B1000000;
#endif
#ifdef B1500000
    case 1500000: return B1500000;
#endif
#ifdef B2000000
    case 2000000: return B2000000;
#endif
#ifdef B3000000
    case 3000000: return B3000000;
#endif
#ifdef B4000000
    case 4000000: return B4000000;
#endif
    default: return B0;
    }
}

AIOS_API int aios_serial_open(aios_ctx *ctx, aios_stream **out, const char *path, int baud)
{
    struct termios tio;
    speed_t sp = aios__baud(baud);
    int fd, r;
    if (!ctx || !out || !path) return -EINVAL;
    *out = NULL;
    if (sp == B0) return -EINVAL;
    fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -errno;
    if (tcgetattr(fd, &tio) < 0) { r = -errno; close(fd); return r; }
    /* raw 8N1 without flow control, whatever the device had before */
    tio.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF | IXANY | INPCK);
#ifdef IUCLC
    tio.c_iflag &= ~(tcflag_t)IUCLC;
#endif
    tio.c_oflag &= ~(tcflag_t)OPOST;
    tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB);
#ifdef CRTSCTS
    tio.c_cflag &= ~(tcflag_t)CRTSCTS;
#endif
    tio.c_cflag |= (tcflag_t)(CS8 | CLOCAL | CREAD);
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    if (cfsetispeed(&tio, sp) < 0 || cfsetospeed(&tio, sp) < 0 || tcsetattr(fd, TCSANOW, &tio) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    {   /* tcsetattr succeeds when any one change took: check what the port kept */
        struct termios got;
        tcflag_t cmask = (tcflag_t)(CSIZE | PARENB | CSTOPB);
#ifdef CRTSCTS
        cmask |= (tcflag_t)CRTSCTS;
#endif
        if (tcgetattr(fd, &got) < 0) { r = -errno; close(fd); return r; }
        if ((got.c_cflag & cmask) != (tio.c_cflag & cmask) || (got.c_iflag & (IXON | IXOFF)) ||
            (got.c_lflag & ICANON) || cfgetospeed(&got) != sp) {
            close(fd);
            return -EINVAL;
        }
    }
    r = aios_stream_open(ctx, out, fd, 0);
    if (r < 0) close(fd);
    return r;
}

/* ==== section: descriptor handlers ==== */

static void aios__io_ready(aios_ctx *c, aios__io *io, short revents)
{
    switch (io->kind) {
    case AIOS__IO_STREAM: aios__stream_ready(io, revents); break;
    case AIOS__IO_LISTENER: aios__listener_ready(io, revents); break;
    case AIOS__IO_ATTEMPT: case AIOS__IO_RESOLVER: c->connect_io(io, revents); break;
    default: break;
    }
}

static void aios__defer_run(aios_ctx *c, aios__defer *d)
{
    switch (d->kind) {
    case AIOS__DEFER_STREAM: aios__stream_kick_run(d); break;
    case AIOS__DEFER_CONNECT: c->connect_run(d); break;
    case AIOS__DEFER_SERVER: aios__server_finish_run(d); break;
    default: break;
    }
}

/* ==== section: closing the context ==== */

static void aios__close_all_streams(aios_ctx *c)
{
    aios__io *io;
    for (io = c->ios; io; io = io->next) {
        aios_stream *s = aios__io_stream(io);
        if (s && !(s->flags & AIOS__F_CLOSING)) aios__hard_close(s, -ECANCELED);
    }
}

AIOS_API void aios_ctx_close(aios_ctx *c)
{
    aios_server *srv;
    int rounds;
    if (!c) return;
    if (c->in_dispatch) {  /* from a callback: finished when dispatch returns */
        c->close_asked = 1;
        return;
    }
    c->in_dispatch = 1;
    for (srv = c->servers; srv; srv = srv->next) {
        if (!srv->shutting) (void)aios_server_shutdown(srv, 0, NULL, NULL);
        else aios__server_force(srv);
    }
    aios__close_all_streams(c);
    for (rounds = 0; rounds < 1000000 && (c->ndefer > 0 || c->nstreams > 0); rounds++) {
        aios__run_defers(c);
        aios__close_all_streams(c);  /* callbacks may have opened more */
        for (srv = c->servers; srv; srv = srv->next) if (!srv->shutting) (void)aios_server_shutdown(srv, 0, NULL, NULL);
    }
#ifndef AIOS_NO_THREADS
    aios__resolve_reap(c, 1);  /* getaddrinfo cannot be interrupted: wait for it */
#endif
    AIOS_FREE(c->heap);
    AIOS_FREE(c->watch);
    AIOS_FREE(c->pfd);
    memset(c, 0, sizeof *c);
}

#endif /* AIOS_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under two licences; choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the asynckit authors
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute
this software, either in source code form or as a compiled binary, for any
purpose, commercial or non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this
software dedicate any and all copyright interest in the software to the
public domain. We make this dedication for the benefit of the public at large
and to the detriment of our heirs and successors. We intend this dedication
to be an overt act of relinquishment in perpetuity of all present and future
rights to this software under copyright law.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
