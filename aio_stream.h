/* aio_stream.h - v0.2.0 - buffered async streams, TCP client and server, Unix sockets, serial ports, UDP and Unix datagrams, signals (Linux) - MIT or public domain, see the end of the file */
/*
# aio_stream.h

Low-level asynchronous streams for C99 on Linux, in one header, with no
dependency beyond libc (and resolver threads for host names, which can be
switched off).  Buffered reads (`read some`, `read exactly`, `read until a
delimiter`, peek and consume), queued writes that complete when the kernel
has every byte, a TCP client with non-blocking name resolution and
Happy-Eyeballs style connection racing, a TCP / Unix-socket server with
bounded resources and graceful shutdown, serial ports in raw mode,
datagram sockets (UDP over IPv4 and IPv6 on one socket, Unix datagrams)
with batched receives and sends, broadcast and multicast, and signal
watchers that deliver SIGINT, SIGTERM, SIGCHLD ... through the loop.

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
- `AIOS_NO_THREADS`: no resolver threads; host names are resolved with a
  blocking `getaddrinfo` run from the loop's dispatch (numeric addresses never
  resolve at all).  Without this option link with `-lpthread` (glibc >= 2.34
  and musl need nothing extra).
- `AIOS_RESOLVER_THREADS`: how many threads one context runs `getaddrinfo`
  in at most (default 4).  Further lookups wait for one of them, oldest
  first; a connect that ends while its lookup waits (closed, timed out)
  never costs a thread, so a DNS outage cannot pile threads up.
- `AIOS_NO_RESOLVER`: numeric addresses only (`127.0.0.1`, `::1`, `[::1]`).
  `aios_tcp_connect` and `aios_server_listen_tcp` given a host name return
  `AIOS_ENOTNUMERIC` without starting anything; neither getaddrinfo nor the
  resolver threads are linked (implies `AIOS_NO_THREADS`, no `-lpthread`).
  For small static servers that listen on fixed addresses.
- `AIOS_MALLOC(n)`, `AIOS_REALLOC(p, n)`, `AIOS_FREE(p)`: allocator hooks
  (define all three; AIOS_REALLOC grows buffers and arrays.  Without the
  hooks they grow by malloc, copy and free, so realloc is not linked).
  A resolver thread frees the lookup it ran when its context has closed,
  so with threads the hooks must be thread-safe.
- `AIOS_SYS_READ`, `AIOS_SYS_WRITEV`, `AIOS_SYS_SENDMSG`, `AIOS_SYS_SEND`
  (one buffer to a stream socket; without it, a replaced `AIOS_SYS_SENDMSG`
  takes those too), `AIOS_SYS_ACCEPT`,
  `AIOS_SYS_SOCKET`, `AIOS_SYS_CONNECT`, `AIOS_SYS_CLOSE`,
  `AIOS_SYS_GETADDRINFO`, `AIOS_SYS_FREEADDRINFO`: the system calls, each a
  function-like macro with the libc signature (`AIOS_SYS_ACCEPT(fd, addr,
  len)` must return a non-blocking, close-on-exec descriptor; getaddrinfo
  runs in a resolver thread, and what it returns goes back through
  `AIOS_SYS_FREEADDRINFO`, in the loop's thread or, once the context has
  closed, in that resolver thread).  Replace them to inject faults or to
  feed the connector addresses of your own.
- `AIOS_SYS_RECVMMSG(fd, v, n, flags)` (recvmmsg without its timeout),
  `AIOS_SYS_SENDMMSG`, `AIOS_SYS_RECVMSG`: the datagram sockets' calls;
  datagrams sent one per call go through `AIOS_SYS_SENDMSG`.
  `AIOS_NO_MMSG`: one datagram per system call (recvmsg, sendmsg), as
  where the C library does not declare recvmmsg and sendmmsg.
- `ASYNCKIT_POLL`: wait with `poll()` instead of epoll (the smallest builds,
  systems without epoll).  The structures do not change with it.
- `AKC_SYS_EPOLL_CREATE1`, `AKC_SYS_EPOLL_CTL`, `AKC_SYS_EPOLL_WAIT`,
  `AKC_SYS_EPOLL_PWAIT2`, `AKC_SYS_PPOLL`, `AKC_SYS_POLL`, `AKC_SYS_EVENTFD`,
  `AKC_SYS_READ`, `AKC_SYS_WRITE`, `AKC_SYS_CLOSE`, `AKC_SYS_SIGNALFD`,
  `AKC_SYS_SIGPROCMASK`: the system calls of the loop (the wait, the
  cross-thread wake-up, the signal watchers), each a name or a
  function-like macro with the libc signature, for counting or fault
  injection (`AKC_SYS_EPOLL_PWAIT2` takes the descriptor, the events,
  their count and a pointer to two long longs: seconds, nanoseconds).  The
  loop waits with epoll_pwait2 (nanosecond timeouts) where the kernel has
  it, else with epoll_wait and timeouts rounded up to the next
  millisecond; `AKC_NO_PWAIT2` keeps it to epoll_wait.
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
  callback `(stream, status, ud)`, always from the loop's dispatch, never
  inside the call that started it.  Success, error, timeout (`-ETIMEDOUT`),
  cancellation and close (`-ECANCELED`) all arrive through that one callback.
- A callback may start the next operation, or close the stream.  A stream's
  memory is released after its last callback (the close callback when one
  was given) has returned; do not touch it afterwards.
- One read operation at a time per stream (`-EBUSY` otherwise); writes
  queue without limit on their number and complete in order.
- One thread drives a context: every function, `aios_stop` included, is
  called from that thread (the resolver threads are the library's own, start
  with every signal blocked and hand their answers to the loop's thread).
- The library never installs a signal handler (signal watchers read a
  signalfd: see "Signals") and SIGPIPE never kills the process: socket
  writes use `MSG_NOSIGNAL`; writes to a pipe or terminal block SIGPIPE in
  the calling thread for the duration of the call and consume the one a
  gone reader raises, so the write fails with `-EPIPE`.

## API

### Context and loop

    int  aios_ctx_init(aios_ctx *ctx);           caller-owned storage (never on a live context:
                                                 its storage cannot tell, close it first)
    void aios_ctx_close(aios_ctx *ctx);          aborts everything, delivers every callback, frees all
                                                 (a resolver thread still in getaddrinfo is left
                                                 to finish alone and frees what it holds then)
    int  aios_run_once(aios_ctx *ctx, int64_t timeout_ns);  one wait (-1: no limit); returns 1
                                                 while anything is pending, 0 when idle, <0 on error
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
`schd_source_add(&src, &loop, aios_prepare, aios_dispatch, &ctx)`.
That is also how a context lives inside a loop of your own (poll, epoll,
GLib, libuv): call prepare, wait on its descriptors until the deadline, call
dispatch.  With epoll (the default) prepare gives one entry, the context's
own epoll set, however many streams it holds, so a host pays nothing per
connection; with `ASYNCKIT_POLL` one entry per descriptor that waits for
something, and an entry whose watcher is new since the last prepare
carries `AKC_FRESH` in `revents` (a host that registers descriptors only
when they change must register it again: its number may have been closed
and reused).  `aios_ctx_close` from inside a callback closes the context when the
dispatch running that callback returns (callbacks due in that dispatch
still run first); afterwards the context is closed and may be freed.

### Streams

    int  aios_stream_open(aios_stream **out, aios_ctx *ctx, int fd, unsigned flags);
         wraps any descriptor (made non-blocking); AIOS_NOCLOSE leaves it open at close;
         -EBUSY for a descriptor the context already holds (a stream not yet
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
                                                             the copies queued (each with its request
                                                             header) stay within the write high-water
                                                             mark: -EAGAIN when this one would pass it
                                                             (an empty queue takes any one up to the
                                                             mark), -EMSGSIZE when n is above the mark
    int  aios_drain(s, size_t low_water, cb, ud);            when unsent bytes <= low_water
    int  aios_shutdown(s, cb, ud);                           flush, then shut down the write side
    int  aios_close(s, cb, ud);                              abort: pending ops get -ECANCELED, then cb
                                                             with 0 (during a graceful close: cb NULL
                                                             cuts it short, else -EBUSY)
    int  aios_close_graceful(s, timeout_ns, cb, ud);         cancel the read, flush the writes, close,
                                                             then cb (see below); timeout_ns < 0: none
    void aios_set_limits(s, size_t read_hwm, size_t write_hwm);   defaults 64 KiB and 1 MiB
    int  aios_set_timeouts(s, int64_t read_ns, int64_t write_ns); per operation started later; 0: none,
                                                             below 0: -EINVAL
    int  aios_stream_fd(s); size_t aios_write_queued(s);
    void aios_stream_set_ud(s, void *p); void *aios_stream_ud(s);
    aios_server *aios_stream_server(s);                      the server that accepted s, or NULL

The status of a graceful close's callback says how the flush ended: 0
when every queued byte went to the kernel; `-ETIMEDOUT` when `timeout_ns`
ran out first (the writes still queued complete with `-ECANCELED`, as in
any close); `-ECANCELED` when `aios_close` or `aios_ctx_close` cut it
short; otherwise the error that stopped the writes (`-EPIPE`, or the
`-ETIMEDOUT` of a write deadline, which that write reported too).

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
    int  aios_tcp_connect(aios_stream **out, ctx, const char *host, int port, const aios_tcp_opts *o,
                          cb, ud);
    int  aios_unix_connect(aios_stream **out, ctx, const char *path, cb, ud);

The stream exists at once (reads and writes may be queued before the
connection is up); the callback reports the connection.  After a failed
connect the stream stays, with no descriptor, until you close it.  Host
names resolve in resolver threads (`AIOS_RESOLVER_THREADS` per context at
most; IPv6 and IPv4 addresses are then tried
alternately, a new attempt starting every `attempt_delay_ns` while earlier
ones are pending; the first to connect wins).  `timeout_ns` bounds the whole
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
    int  aios_server_shutdown(srv, int64_t timeout_ns, aios_server_cb cb, void *ud);
    int  aios_format_addr(const struct sockaddr *sa, char *buf, size_t n);  "1.2.3.4:80", "[::1]:80"

`aios_server_init` on a server the context still holds (initialised and not
yet shut down, as in a retry after a failed listen) returns `-EBUSY` and
changes nothing; listen again on the same server instead.  After its
shutdown completed, the storage may be initialised anew.

A server may listen on up to AIOS_MAX_LISTENERS addresses.  It accepts at
most `accept_batch` connections per listener and loop iteration.  At
`max_conns` it either accepts and closes at once (`reject_over_max`, the
default, counted in `stats.rejected`) or stops accepting until a connection
ends.  When accept fails for lack of descriptors (EMFILE, ENFILE, ENOBUFS,
ENOMEM) the server pauses accepting for `retry_ns` or until one of its
connections closes, counts it in `stats.fd_exhausted`, and logs nothing.
With `evict_idle` set, a connection that arrives at `max_conns`, or finds
the process out of descriptors (EMFILE), takes the place of the connection
idle longest instead: the one whose last byte read or written is oldest
is closed at once (its pending operations complete with `-ECANCELED`, as
in a forced shutdown; counted in `stats.evicted`).  Peers that each hold a
connection and trickle a byte now and then can then no longer keep every
descriptor and lock new clients out.
Shutdown closes the listeners at once, lets connections end by themselves
within `timeout_ns`, closes the rest and reports through the callback how
many it closed by force; the server's storage may then be reused.  Without
memory for its timer it returns -ENOMEM and changes nothing.
A Unix-socket listen removes a socket file left by a server that is gone
(a probing connect is refused) but fails with `-EADDRINUSE` while a live
server listens on the path (which sees the probe as a connection that
closes at once); shutdown removes the socket file only if it is still the
one it bound.  Listening on a name with port 0 binds all of the name's
addresses to the one port that `aios_server_port` reports.

### Serial ports

    int aios_serial_open(aios_stream **out, ctx, const char *path, int baud);

Opens a terminal device in raw mode (8N1, no flow control, no echo) at the
given baud rate and returns it as a stream.  Flow control and input
processing the device had before (CRTSCTS, IXON/IXOFF/IXANY, IUCLC, INPCK)
are cleared, and the settings are read back: a port that does not keep
them gives `-EINVAL`.

### Datagrams

    void aios_dgram_opts_init(aios_dgram_opts *o);
    int  aios_udp_open(aios_dgram **out, ctx, const char *host, int port, const aios_dgram_opts *o);
         a bound UDP socket; host numeric ("127.0.0.1", "::1", "[::1]", "fe80::1%eth0"),
         NULL / "" / "*": IPv6 and IPv4 on one socket; o NULL: the defaults
    int  aios_unix_dgram_open(aios_dgram **out, ctx, const char *path, o);  "@name": abstract;
                                                             NULL: a name the kernel picks
    int  aios_dgram_open(aios_dgram **out, ctx, int fd, unsigned flags, o);  any SOCK_DGRAM socket
                                                             (made non-blocking); AIOS_NOCLOSE
    int  aios_dgram_port(d);                                 the bound port (port 0 asked)
    int  aios_dgram_local(d, aios_addr *a);                  the bound address
    int  aios_dgram_connect(d, const aios_addr *peer);       the default peer, and only its
                                                             datagrams; NULL dissolves
    int  aios_send(d, const void *p, size_t n, const aios_addr *to, cb, ud);   copied; to NULL:
                                                             the connected peer; status 0, or why
                                                             this datagram failed
    int  aios_recv(d, void *buf, size_t cap, cb, ud);        status: the datagram's length (0 for
                                                             an empty one), -EMSGSIZE when cut
    const aios_addr *aios_recv_from(d);                      the sender of the last one received
    size_t aios_recv_size(d);                                its whole length, also when cut
    size_t aios_send_queued(d);                              bytes queued, headers included
    int  aios_dgram_close(d, cb, ud);                        the receive and unsent datagrams get
                                                             -ECANCELED, then cb with 0
    int  aios_dgram_fd(d); void aios_dgram_set_ud(d, p); void *aios_dgram_ud(d);
    int  aios_dgram_broadcast(d, int on);                    SO_BROADCAST
    int  aios_dgram_join(d, const char *group, const char *iface);   a multicast group; iface
    int  aios_dgram_leave(d, group, iface);                  "eth0", an index ("2"), or NULL
    int  aios_dgram_multicast_if(d, iface);                  the interface sends to a group take
    int  aios_dgram_multicast_ttl(d, int ttl);               0..255: IPv4 TTL and IPv6 hop limit
    int  aios_dgram_multicast_loop(d, int on);               this host's members get what it sends
    int  aios_addr_set(aios_addr *a, const char *host, int port);   numeric, as for udp_open
    int  aios_addr_unix(aios_addr *a, const char *path);     "/run/x.sock", or "@name"
    const struct sockaddr *aios_addr_sa(a); int aios_addr_port(a);
    int  aios_addr_equal(a, b);                              1: same family, address and port

A datagram socket keeps each message whole: one `aios_send` is one
datagram, and one `aios_recv` completes with one datagram or says that it
was cut.  Its operations follow the rules of streams: a 0 return means
exactly one callback `(d, status, ud)`, from the loop's dispatch.  An
`aios_addr` holds an address of any family (IPv4, IPv6, Unix) with its
length; it is plain storage, copied freely.  A socket keeps `aios_run`
going while a receive or a send is pending; an idle one does not.

    static char buf[2048];
    static void on_datagram(aios_dgram *d, int status, void *ud)
    {
        if (status == -ECANCELED) return;                       // closing
        if (status >= 0) aios_send(d, buf, (size_t)status, aios_recv_from(d), NULL, NULL);
        aios_recv(d, buf, sizeof buf, on_datagram, ud);         // the next one
    }
    aios_dgram *d;
    aios_udp_open(&d, &ctx, NULL, 7000, NULL);                 // port 7000, IPv6 and IPv4
    aios_recv(d, buf, sizeof buf, on_datagram, NULL);
    aios_run(&ctx);

Opening.  `aios_udp_open` binds a numeric address; host names are not
resolved here (`-EINVAL`).  With no host it binds `::` with IPV6_V6ONLY
off, so one socket takes IPv6 and IPv4 (on a system without IPv6 it binds
`0.0.0.0`).  The `family` option 4 or 6 binds `0.0.0.0` or `::` instead,
and refuses an address of the other family with `-EAFNOSUPPORT`; `v6only`
keeps an IPv6 socket to IPv6.  A dual-stack socket names an IPv4 sender
by its IPv4 address (never `::ffff:a.b.c.d`) and takes IPv4 addresses to
send to, so an answer to `aios_recv_from(d)` goes back whatever the
family.  Port 0 lets the kernel pick a free port, which
`aios_dgram_port` reports.  The options (`aios_dgram_opts_init` gives
the defaults in brackets; 0 in a size or a count also means its default):

    family       0: the address's (IPv6 and IPv4 with no host); 4 or 6
    v6only       IPV6_V6ONLY on an IPv6 socket (0)
    reuseaddr    SO_REUSEADDR (0; 1 lets several programs share a multicast port)
    reuseport    SO_REUSEPORT (0)
    broadcast    SO_BROADCAST (0)
    recv_size    the largest datagram kept whole (2048 bytes; at most 65536)
    recv_batch   datagrams taken per system call (16; 1 to 64)
    recv_max     datagrams handed out per loop iteration (64)
    send_hwm     bytes queued for sending, each datagram's header and address
                 included (256 KiB)
    rcvbuf, sndbuf   SO_RCVBUF, SO_SNDBUF (0: the system's)

`aios_dgram_connect(d, &peer)` makes `peer` the default (`aios_send` with
`to` NULL) and has the kernel drop datagrams from anyone else; a NULL
peer dissolves that: datagrams from anyone again, and a send without `to`
fails with `-EDESTADDRREQ` as on a socket never connected.  On a
connected socket the kernel reports that the peer refused an earlier
datagram (ICMP port unreachable) as `-ECONNREFUSED` to the next receive
or send.  `aios_dgram_open` on a socket that is connected already (one of
a socketpair) takes its peer as the default.

Receiving.  One receive at a time (`-EBUSY` for a second).  The status
is the datagram's length; `aios_recv_from(d)` names its sender and
`aios_recv_size(d)` gives its length, both until the next receive
completes.  A datagram longer than `cap`, or than `recv_size`, is never
cut silently: the status is `-EMSGSIZE`, `buf` holds its first bytes (up
to `cap` and `recv_size`), `aios_recv_size(d)` its whole length, and the
rest is gone (the next receive gets the next datagram).  Other errors the
socket reports (`-ECONNREFUSED` above) end the receive with the code,
an empty sender and a size of 0.

Batching.  The first receive allocates a ring of `recv_batch` slots of
`recv_size` bytes (plus about 210 bytes of headers each on 64-bit: about
35 KiB with the defaults), kept until close.  One `recvmmsg` fills up to
`recv_batch` slots with the datagrams waiting, and receives are then
served from the ring without a system call.  Sends are copied into a
queue and go out from dispatch: the datagrams queued in one pass of the
loop leave together, up to 64 per `sendmmsg`, after the receive callbacks
of that pass, so an answer sent from a receive callback leaves in the
same dispatch.  Where the C library does not declare recvmmsg and
sendmmsg, or the kernel answers ENOSYS (from then on), or with
`AIOS_NO_MMSG`, recvmsg and sendmsg take one datagram per call; nothing
else changes.  A socket hands out at most `recv_max` datagrams per loop
iteration; the rest wait in the ring or the socket for the next
iteration, so a flood cannot keep the loop from its timers and other
descriptors.  What overflows the socket's receive buffer meanwhile the
kernel drops, as UDP does (`rcvbuf` makes it larger).

Sending.  `aios_send` copies the datagram and its address, so both may
be reused at once.  The queue is bounded: each datagram counts its bytes,
its address and a header of about 56 bytes against `send_hwm`.  A send
that would pass the bound returns `-EAGAIN` and queues nothing (room
comes back as send callbacks run; `aios_send_queued` tells how much is
queued), one that could never fit, even in an empty queue, `-EMSGSIZE`.
The callbacks come in order.  Status 0 says that the kernel took the
datagram (UDP says nothing of its arrival); an error belongs to that one
datagram and the next ones still go: `-EMSGSIZE` (more than the protocol
carries), `-EACCES` (a broadcast address without SO_BROADCAST),
`-ENETUNREACH`, `-ECONNREFUSED` (above).  While the socket's send buffer
is full the queue waits for the socket to be writable; nothing is
dropped.

Closing.  `aios_dgram_close` closes the descriptor at once (a Unix socket
file it bound goes too, if it is still the one it bound), and operations
on the closing socket return `AIOS_ECLOSED`.  Then, from dispatch: the
waiting receive gets `-ECANCELED`; every queued datagram reports in
order, those the kernel took already with their status and all the
others with `-ECANCELED`: they are never sent; then the close callback
gets 0, and the memory goes.  Since datagrams go out only from dispatch,
one queued just before the close is cancelled.  A program that must get
its last datagram out closes from that datagram's callback (or from any
send callback that sees `aios_send_queued(d)` at 0):

    static void on_last_sent(aios_dgram *d, int status, void *ud)
    {
        aios_dgram_close(d, NULL, NULL);     // status 0: the kernel has it
    }
    aios_send(d, "bye", 3, &peer, on_last_sent, NULL);

`aios_ctx_close` closes every socket the same way (what is still queued
is cancelled).

Unix datagram sockets.  `aios_unix_dgram_open` binds a path: a socket
file left by a program that is gone (a probe is refused) is replaced, one
that a live socket holds gives `-EADDRINUSE`, and close removes the file
if it is still the one it bound.  A path that starts with `@` names
Linux's abstract namespace (no file).  Path NULL binds a name the kernel
picks, so that the sockets this one sends to can answer: a datagram from
an unbound socket carries no address to answer to.  `aios_addr_unix`
makes the address to send to.

Broadcast and multicast.  Sending to a broadcast address needs
SO_BROADCAST (the `broadcast` option, or `aios_dgram_broadcast(d, 1)`);
without it the send reports `-EACCES`.  A multicast member binds the
group's port, usually with no host and `reuseaddr` so that several
programs can share it, and joins the group: `aios_dgram_join(d,
"239.255.255.250", "eth0")`.  The group is a numeric IPv4 or IPv6
address (a dual-stack socket joins either); the interface is a name, an
index in decimal, or NULL / "" for the system's choice, and an IPv6
group's scope names it too (`"ff02::fb%eth0"`).  An unknown interface
gives `-ENODEV`; leaving a group not joined, `-EADDRNOTAVAIL`.  For
sending to a group, `aios_dgram_multicast_if` picks the interface,
`aios_dgram_multicast_ttl` how many hops the datagrams go (the system's
default is 1, the local network), and `aios_dgram_multicast_loop` whether
members on this host get them too (on by default); on an IPv6 socket each
sets the IPv6 option and, for the IPv4 peers of a dual-stack socket, the
IPv4 one.  Linux also hands a socket bound to no host the datagrams of
groups that other sockets of the host joined on its port;
`IP_MULTICAST_ALL` (IPv6: `IPV6_MULTICAST_ALL`) set to 0 on
`aios_dgram_fd(d)` keeps it to its own joins.  IPv4 multicast needs the
GNU declarations that the implementation asks for (`struct ip_mreqn`):
a file that compiles it without them gets `-ENOTSUP`.

With sched.h in the same file, a task awaits datagrams:
`AIOS_AWAIT_RECV(t, d, buf, cap)` leaves in `SCHD_STATUS(t)` the
datagram's length (or `-EMSGSIZE` for a cut one; `aios_recv_from(d)`
names its sender), `AIOS_AWAIT_SEND(t, d, data, n, to)` 0 or why the
datagram failed.  A timeout (`schd_task_timeout`) or a cancellation takes
the operation back: a receive has then taken no datagram, and a datagram
not yet sent never goes (one sent already just loses its callback).

### Signals

    void aios_signal_init(aios_signal *sig, aios_signal_cb cb, void *ud);
                                                             [cb(sig, const aios_siginfo *info, ud)]
    int  aios_signal_start(sig, ctx, int signo);             again: moves to signo
    int  aios_signal_stop(sig, ctx);                         0 also when not started
    int  aios_signal_active(const aios_signal *sig);         1 while started

A signal watcher delivers a signal through the loop: its callback runs
from dispatch, like every other, so it may do anything a callback does
(`aios_stop`, close a server, write a line).  No handler is installed:
the signal is read from a signalfd, one per context, whose mask is the
signals its watchers watch.  Any signal that can be blocked may be
watched (SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGCHLD, SIGWINCH, the
real-time signals ...); SIGKILL, SIGSTOP, the signals a fault raises
(SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS) and those the C
library keeps for its threads give `-EINVAL`, and leave the watcher as it
was.  A signal may have several watchers; each is called once per
delivery.  A callback may stop or start any watcher, its own too.  A
started watcher keeps `aios_run` going, and its storage must stay put
until it stops; `aios_ctx_close` stops every watcher.

    static void on_stop_signal(aios_signal *sig, const aios_siginfo *info, void *ud)
    {
        aios_stop((aios_ctx *)ud);            // aios_run returns; close and exit
    }
    aios_signal sigint;
    aios_signal_init(&sigint, on_stop_signal, &ctx);
    aios_signal_start(&sigint, &ctx, SIGINT);

`info` holds `signo`; `code`, the si_code (`SI_USER` from kill, `SI_QUEUE`
from sigqueue, `CLD_EXITED` ...); `pid` and `uid` of the sender; `value`,
the int that sigqueue sent; and for SIGCHLD, `pid` is the child and
`status` its exit status (`CLD_EXITED`) or the signal that ended or
stopped it.  The watcher only reports: the program still reaps the child
with waitpid.  A standard signal that arrives twice before the loop reads
it is one call (the kernel keeps one of each), so on SIGCHLD reap with
`waitpid(-1, &st, WNOHANG)` until it finds none; real-time signals queue,
each its own call, in order.

The mask.  The first watcher of a signal blocks it in the calling thread
(the one that drives the context), so that it waits, pending, until the
loop reads it; when the signal's last watcher stops (or the context
closes), the thread's mask is as it was: the signal is unblocked again
unless the program had blocked it itself.  A signal that arrived and was
not read yet when that unblocks it is dropped, not left to its default
action.  Watch a given signal in one loop only (a `schd_loop` and a
context attached to it are two): each reads its own signalfd.
Children inherit the mask across fork and exec: a program that starts
other programs unblocks the signals in the child before exec (or with
`posix_spawnattr_setsigmask`).

Before the loop runs.  A signal that arrives after its watcher started
waits, blocked, and comes with the first dispatch, also when the loop
runs only much later; one the program had blocked itself and that was
pending already comes too.  One that arrives before any watcher of it
started meets its disposition: SIGINT and SIGTERM end the process,
SIGWINCH is ignored and gone.  Start the watchers before the work whose
end a signal must not cut short, or block the signals at the start of
`main` (`pthread_sigmask`) and start the watchers later: none is lost.

Threads.  A signal sent to the process (kill, Ctrl-C in a terminal) goes
to any thread that does not block it, and only the thread that started
the watcher blocks it.  The resolver threads of this header start with
every signal blocked, so they never take one.  Threads of the program's
own, or of other libraries, must block the watched signals too, or a
SIGTERM can end the process past its watcher: block them in `main`
before the first thread starts (threads inherit the mask), e.g.

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   // before pthread_create, then start the watchers

## Error codes

Zero is success, negative is failure.  The three headers of the family
share one error space: a code means the same in all of them, and
`aios_strerror`, `schd_strerror` and `ausb_strerror` describe any code
alike.  System errors are `-errno`, with the C library's words:
`-ETIMEDOUT` for timeouts, `-ECANCELED` for cancellation and close,
`-EINVAL` for bad arguments, `-ENOMEM`, and what the socket calls report,
such as `-ECONNREFUSED` or `-EPIPE`.  The family's own codes that this
header uses:

    AIOS_OK           0      success
    AIOS_EINCOMPLETE  -1001  end of stream before the requested bytes
                             (read_exactly, read_until, peek)
    AIOS_ETOOLONG     -1002  read_until: no delimiter within `max` bytes
    AIOS_ECLOSED      -1003  the stream, server or datagram socket is closing
                             (asyncusb.h's AUSB_ECLOSED, the same code)
    AIOS_ENOTFOUND    -1004  host name not found
    AIOS_ERESOLVE     -1005  name resolution failed otherwise
    AIOS_ENOTNUMERIC  -1006  a host name given to a build with AIOS_NO_RESOLVER

System errors with a meaning of their own here:

    -EAGAIN      write_copy: the copies queued would pass the write high-water mark;
                 send: the datagram would pass `send_hwm`
    -EMSGSIZE    write_copy: more than the write high-water mark in one call;
                 send: a datagram that could never fit `send_hwm`, or (its
                 callback) more than the protocol carries; a receive's
                 status: the datagram was cut
    -EBUSY       an operation of that kind is already pending (a second
                 read, a second receive, a second drain, run_once from
                 inside dispatch); a server or descriptor the context
                 already holds
    -ENOTCONN    a read or write on a stream without a descriptor (after a
                 failed connect)
    -EOVERFLOW   a write that would make the count of unsent bytes wrap
                 (32-bit systems)
    -EDESTADDRREQ  send without an address on a socket not connected
    -EAFNOSUPPORT  udp_open: an address of the other family than `family`
    -EPROTOTYPE  dgram_open: not a datagram socket
    -EADDRINUSE  a port, or a Unix path, that a live socket holds
    -ENODEV      an interface that does not exist (multicast, "%eth0")
    -EACCES      send (its callback): a broadcast address without SO_BROADCAST
    -ENOTSUP     IPv4 multicast in a file compiled without GNU declarations
    -EINVAL      also: a signal no watcher may take (SIGKILL, SIGSEGV ...)
*/
/* The implementations of the family need POSIX and GNU declarations, and
 * any of them may be compiled further down this file: when nothing of the
 * C library has been read yet, ask for them (ASYNCKIT_NO_GNU_SOURCE keeps
 * the file's feature macros as they are). */
#if !defined(_GNU_SOURCE) && !defined(_FEATURES_H) && !defined(ASYNCKIT_NO_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#if defined(ASYNCKIT_IMPLEMENTATION) && !defined(AIOS_IMPLEMENTATION)
#define AIOS_IMPLEMENTATION
#endif
#if defined(ASYNCKIT_STATIC) && !defined(AIOS_STATIC)
#define AIOS_STATIC
#endif
#if defined(AIOS_STATIC) && !defined(AIOS_IMPLEMENTATION)
#define AIOS_IMPLEMENTATION
#endif
#if defined(AIOS_IMPLEMENTATION) && !defined(AKC_IMPLEMENT)
#define AKC_IMPLEMENT
#endif
/* ==== asynckit core begin ==== */
/* The loop core of the asynckit family: the time cache, timers, deferred
 * calls, descriptor watching (epoll, or poll), cross-thread wake-ups, signal
 * watchers (a signalfd per loop) and the family's error text.  Every header
 * of the family carries this same block, stamped from core/core.h of the
 * asynckit sources by tools/stamp_core.sh (edit it there, then run the
 * script); their test run fails when a header's copy differs.
 *
 * Its names (akc_, AKC_) are the family's own and not an API: each header
 * wraps what users need under its own prefix.  The declarations come once
 * per file; the functions are static, compiled once into every file that
 * compiles the implementation of any family header, so two such files never
 * clash at link time.  A header asks for them by defining AKC_IMPLEMENT
 * before this block.
 *
 * Backends: epoll on Linux (the default), or poll() when ASYNCKIT_POLL is
 * defined (or off Linux).  The structures below are the same for both, so
 * files built with different choices still agree on every layout. */
#if !defined(AKC_CORE_VERSION)
#define AKC_CORE_VERSION 2

#include <stddef.h>
#include <stdint.h>
#include <poll.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AKC_NO_DEADLINE INT64_MAX
/* Durations are int64_t nanoseconds in the whole family. */
#define AKC_SEC(s) ((int64_t)(s) * 1000000000)
#define AKC_MS(ms) ((int64_t)(ms) * 1000000)
#define AKC_US(us) ((int64_t)(us) * 1000)

/* On the poll backend, prepare marks an entry whose watcher is new since
 * the previous prepare by writing this bit into its revents (poll() never
 * reports it): a host that registers descriptors only when they change
 * re-registers such an entry even when its number and events look the
 * same (the number was closed and reused in between). */
#define AKC_FRESH 0x4000

/* The family's own error codes (system errors are -errno). */
enum {
    AKC_EINCOMPLETE = -1001,  /* end of stream before the requested bytes */
    AKC_ETOOLONG = -1002,     /* no delimiter within the maximum length */
    AKC_ECLOSED = -1003,      /* the object is closing or closed */
    AKC_ENOTFOUND = -1004,    /* host name not found */
    AKC_ERESOLVE = -1005,     /* name resolution failed otherwise */
    AKC_ENOTNUMERIC = -1006,  /* a host name, in a build without a resolver */
    AKC_EUSB = -1010,         /* a USB failure without a better name */
    AKC_ESTALL = -1011,       /* endpoint stalled, or request not supported */
    AKC_EBABBLE = -1012,      /* the device sent more than was asked for */
    AKC_EMALFORMED = -1013    /* malformed descriptor */
};

typedef struct akc_loop akc_loop;
typedef struct akc_io akc_io;
typedef struct akc_timer akc_timer;
typedef struct akc_defer akc_defer;
typedef struct akc_post akc_post;
typedef struct akc_sig akc_sig;
typedef struct akc_siginfo akc_siginfo;

/* Every callback of the core gets its loop first. */
typedef void (*akc_io_fn)(akc_loop *l, akc_io *io, unsigned revents);
typedef void (*akc_timer_fn)(akc_loop *l, akc_timer *t);
typedef void (*akc_defer_fn)(akc_loop *l, akc_defer *d);
typedef void (*akc_post_fn)(akc_loop *l, akc_post *p);
typedef void (*akc_sig_fn)(akc_loop *l, akc_sig *s, const akc_siginfo *info);
typedef int64_t (*akc_clock_fn)(void *ud);
/* Grows or frees a block: n 0 frees p; old is p's size (for allocators
 * without realloc). */
typedef void *(*akc_mem_fn)(void *p, size_t old, size_t n);

/* A watched descriptor: 16 bytes.  Small on purpose: every idle
 * connection carries one.  Its handler is the loop's, picked by kind. */
struct akc_io {
    int fd;
    int slot;              /* epoll: index in the change list; poll: in the table; -1: none */
    unsigned short want;   /* POLLIN | POLLOUT | POLLPRI (| POLLHUP) asked for; 0: not watched */
    unsigned short have;   /* epoll: what the kernel has registered (0: nothing) */
    unsigned char kind;    /* 0 the wake-up; the header's own from 1 (akc_io_handle) */
    unsigned char state;   /* AKC__IO_* bits */
};

/* Kinds 1 to AKC_IO_KINDS - 2 are the headers'; the last is the core's
 * own signal descriptor. */
#define AKC_IO_KINDS 8

/* A timer: 16 bytes, plus 24 in the loop's heap while active. */
struct akc_timer {
    akc_timer_fn fn;
    uint32_t pos;          /* 1-based position in the heap; 0 when idle */
};

/* A deferred call: queued while next is not NULL. */
struct akc_defer {
    akc_defer *next, *prev;
    akc_defer_fn fn;
};

/* A node another thread hands to the loop (akc_post_push). */
struct akc_post {
    akc_post *next;
    akc_post_fn fn;
};

/* One signal as the loop read it from its signal descriptor. */
struct akc_siginfo {
    int signo;
    int code;              /* si_code: SI_USER (kill), SI_QUEUE, SI_KERNEL, CLD_EXITED ... */
    int pid;               /* the sender (kill, sigqueue), or the child (SIGCHLD) */
    unsigned uid;          /* the sender's real user id */
    int status;            /* SIGCHLD: the exit status, or the signal that ended the child */
    int value;             /* the int that sigqueue sent */
};

/* A signal watcher: on its loop's list while started (signo != 0). */
struct akc_sig {
    akc_sig *next, *prev;
    akc_sig_fn fn;
    int signo;
};

struct akc__tentry { int64_t when; uint64_t seq; akc_timer *t; };

struct akc_loop {
    int64_t now;               /* the time cached for this iteration */
    akc_clock_fn clock;        /* NULL: CLOCK_MONOTONIC */
    void *clock_ud;
    akc_mem_fn mem;            /* the header's allocator hooks */
    /* timers: a binary min-heap on (deadline, start order) */
    struct akc__tentry *heap;
    uint32_t heap_len, heap_cap;
    uint64_t timer_seq;
    int64_t due;               /* the due time of the timer whose callback runs */
    /* deferred calls: a ring through dq; dq_mark ends one pass */
    akc_defer dq, dq_mark;
    /* descriptors */
    int epfd;                  /* -1 on the poll backend */
    int nios;                  /* watchers open */
    int nwant;                 /* of which watched (want != 0) */
    akc_io **tab;              /* epoll: changes to apply; poll: the table */
    struct pollfd *pfd;        /* poll: the table handed to poll() */
    int ntab, tab_cap, pfd_cap;
    unsigned tab_gen, prep_gen;  /* poll: table changes, as of the last prepare */
    int prep_n;
    void *batch;               /* epoll: the events being dispatched */
    int batch_cap, batch_n, batch_pos;
    int nalways;               /* epoll refused them (regular files): always ready */
    /* cross-thread */
    int wake_fd;
    int wake_armed;            /* atomic: a write is on its way */
    akc_post *posts;           /* atomic push-only stack */
    akc_post *post_run;        /* the batch being run, in post order */
    akc_io wake_io;
    int stop;                  /* atomic */
    int depth;                 /* inside a dispatch (or close) */
    int live;                  /* between init and free */
    int passes;                /* rounds of deferred calls per dispatch (1) */
    akc_io_fn io_fns[AKC_IO_KINDS];   /* the handler of each kind of watcher */
    /* signals: the descriptor and the masks, allocated by the first
     * watcher; sigs_free (set then) releases them with the loop */
    void *sigs;
    void (*sigs_free)(akc_loop *l);
    /* the header's own parts of an iteration */
    void (*on_prepare)(akc_loop *l, int64_t *deadline);
    void (*on_dispatch)(akc_loop *l);
    unsigned long long iterations;
};

#ifdef __cplusplus
}
#endif

#elif AKC_CORE_VERSION != 2
#error "asynckit: headers of different versions in one file (their loop cores differ); update them together"
#endif /* AKC_CORE_VERSION */

#if defined(AKC_IMPLEMENT) && !defined(AKC_CORE_IMPLEMENTED)
#define AKC_CORE_IMPLEMENTED 1

#if defined(ASYNCKIT_POLL) || !defined(__linux__)
#define AKC_POLL_BACKEND 1
#endif

#if defined(__GLIBC__) && !defined(__USE_XOPEN2K)
#error "asynckit: this file compiles an implementation of the family, but a system header came before every family header and fixed the C library's feature macros without POSIX (strict -std=c99). Fix: include the family's headers before the system headers in this file, or compile it with -D_GNU_SOURCE."
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#if !defined(AKC_POLL_BACKEND)
#include <sys/epoll.h>
#include <sys/syscall.h>
#endif

/* System calls, each a name or a function-like macro with the libc
 * signature, so that tests can count them or make the n-th one fail. */
#ifndef AKC_SYS_EPOLL_CREATE1
#define AKC_SYS_EPOLL_CREATE1 epoll_create1
#endif
#ifndef AKC_SYS_EPOLL_CTL
#define AKC_SYS_EPOLL_CTL epoll_ctl
#endif
#ifndef AKC_SYS_EPOLL_WAIT
#define AKC_SYS_EPOLL_WAIT epoll_wait
#endif
#if defined(__GLIBC__) && !defined(__USE_MISC) && !defined(AKC_NO_PWAIT2)
#define AKC_NO_PWAIT2 1   /* syscall() is not declared */
#endif
/* epoll_pwait2 (Linux 5.11) takes nanoseconds; where the C library's
 * headers do not know it, or the kernel answers ENOSYS, waits round up to
 * the next millisecond.  ts points to two long longs (seconds, ns). */
#if !defined(AKC_POLL_BACKEND) && defined(SYS_epoll_pwait2) && !defined(AKC_NO_PWAIT2)
#define AKC__PWAIT2 1
#ifndef AKC_SYS_EPOLL_PWAIT2
#define AKC_SYS_EPOLL_PWAIT2(epfd, ev, n, ts) syscall(SYS_epoll_pwait2, (epfd), (ev), (n), (ts), NULL, (size_t)8)
#endif
#endif
#ifndef AKC_SYS_POLL
#define AKC_SYS_POLL poll
#endif
#ifndef AKC_SYS_PPOLL
#  if defined(__GLIBC__) && defined(__USE_GNU)
#    define AKC_SYS_PPOLL ppoll
#  elif !defined(__GLIBC__) && defined(_GNU_SOURCE)
#    define AKC_SYS_PPOLL ppoll
#  endif
#endif
#ifndef AKC_SYS_EVENTFD
#define AKC_SYS_EVENTFD eventfd
#endif
#ifndef AKC_SYS_READ
#define AKC_SYS_READ read
#endif
#ifndef AKC_SYS_WRITE
#define AKC_SYS_WRITE write
#endif
#ifndef AKC_SYS_CLOSE
#define AKC_SYS_CLOSE close
#endif
#ifndef AKC_SYS_SIGNALFD
#define AKC_SYS_SIGNALFD signalfd
#endif
#ifndef AKC_SYS_SIGPROCMASK
#define AKC_SYS_SIGPROCMASK sigprocmask
#endif

#if defined(__GNUC__)
#define AKC_FN static __attribute__((unused))
#else
#define AKC_FN static
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- core: errors ---- */

/* Text for any code: the family's own, -errno (the C library's words), 0. */
AKC_FN const char *akc_strerror(int code)
{
    switch (code) {
    case 0: return "success";
    case AKC_EINCOMPLETE: return "end of stream before the requested bytes";
    case AKC_ETOOLONG: return "no delimiter within the maximum length";
    case AKC_ECLOSED: return "closing or closed";
    case AKC_ENOTFOUND: return "host name not found";
    case AKC_ERESOLVE: return "host name resolution failed";
    case AKC_ENOTNUMERIC: return "not a numeric address (built with AIOS_NO_RESOLVER)";
    case AKC_EUSB: return "USB failure";
    case AKC_ESTALL: return "endpoint stalled";
    case AKC_EBABBLE: return "overflow: device sent more data than requested";
    case AKC_EMALFORMED: return "malformed descriptor";
    default: break;
    }
    if (code < 0 && code > -4096) return strerror(-code);
    return code < 0 ? "unknown error" : "not an error code";
}

/* ---- core: time ---- */

AKC_FN int64_t akc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

AKC_FN void akc_update_time(akc_loop *l)
{
    l->now = l->clock ? l->clock(l->clock_ud) : akc_now_ns();
}

/* What a new deadline counts from: inside a dispatch, the iteration's
 * cached time (so that things started together keep their phase);
 * outside, the clock now (a timer started long after the last iteration
 * must not count from it). */
AKC_FN int64_t akc_time(akc_loop *l)
{
    if (!l->depth) akc_update_time(l);
    return l->now;
}

/* a + b for b >= 0, stopping at AKC_NO_DEADLINE instead of overflowing. */
AKC_FN int64_t akc_add_sat(int64_t a, int64_t b)
{
    return b > AKC_NO_DEADLINE - a ? AKC_NO_DEADLINE : a + b;
}

/* ---- core: memory ---- */

/* Every allocation goes through the header's hooks (its *_MALLOC and
 * friends), handed over at init; the core links no allocator itself. */
AKC_FN void *akc__mem(akc_loop *l, void *p, size_t old, size_t n)
{
    return l->mem(p, old, n);
}

/* Grows *arr (of *cap items of size bytes) to hold want items. */
AKC_FN int akc__grow(akc_loop *l, void **arr, int *cap, int want, size_t size)
{
    int ncap;
    void *p;
    if (want <= *cap) return 0;
    ncap = *cap ? *cap : 8;
    while (ncap < want) {
        if (ncap > INT32_MAX / 2) return -ENOMEM;
        ncap *= 2;
    }
    p = akc__mem(l, *arr, (size_t)*cap * size, (size_t)ncap * size);
    if (!p) return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ---- core: timers ---- */

AKC_FN int akc__tless(const struct akc__tentry *a, const struct akc__tentry *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

AKC_FN void akc__heap_set(akc_loop *l, uint32_t i, struct akc__tentry e)
{
    l->heap[i] = e;
    e.t->pos = i + 1;
}

AKC_FN void akc__heap_up(akc_loop *l, uint32_t i)
{
    struct akc__tentry e = l->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!akc__tless(&e, &l->heap[parent])) break;
        akc__heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    akc__heap_set(l, i, e);
}

AKC_FN void akc__heap_down(akc_loop *l, uint32_t i)
{
    struct akc__tentry e = l->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= l->heap_len) break;
        if (child + 1 < l->heap_len && akc__tless(&l->heap[child + 1], &l->heap[child])) child++;
        if (!akc__tless(&l->heap[child], &e)) break;
        akc__heap_set(l, i, l->heap[child]);
        i = child;
    }
    akc__heap_set(l, i, e);
}

AKC_FN void akc__heap_remove(akc_loop *l, uint32_t i)
{
    struct akc__tentry last;
    l->heap[i].t->pos = 0;
    last = l->heap[--l->heap_len];
    if (i == l->heap_len) return;
    akc__heap_set(l, i, last);
    if (i > 0 && akc__tless(&last, &l->heap[(i - 1) / 2])) akc__heap_up(l, i);
    else akc__heap_down(l, i);
}

AKC_FN void akc_timer_init(akc_timer *t, akc_timer_fn fn)
{
    t->fn = fn;
    t->pos = 0;
}

/* 1 when t is active in l's heap (storage that was never started, or a
 * timer of another loop, is not). */
AKC_FN int akc_timer_owned(const akc_loop *l, const akc_timer *t)
{
    return t->pos > 0 && t->pos <= l->heap_len && l->heap[t->pos - 1].t == t;
}

AKC_FN int akc_timer_active(const akc_timer *t) { return t->pos != 0; }

AKC_FN int64_t akc_timer_when(const akc_loop *l, const akc_timer *t)
{
    return akc_timer_owned(l, t) ? l->heap[t->pos - 1].when : AKC_NO_DEADLINE;
}

/* Starts (or restarts) t at the absolute time when.  -ENOMEM, or -EINVAL
 * for a timer active in another loop; t is unchanged then. */
AKC_FN int akc_timer_start(akc_loop *l, akc_timer *t, int64_t when)
{
    uint32_t i;
    if (t->pos) {
        if (!akc_timer_owned(l, t)) return -EINVAL;
        i = t->pos - 1;
        l->heap[i].when = when;
        l->heap[i].seq = l->timer_seq++;
        if (i > 0 && akc__tless(&l->heap[i], &l->heap[(i - 1) / 2])) akc__heap_up(l, i);
        else akc__heap_down(l, i);
        return 0;
    }
    if (l->heap_len == l->heap_cap) {
        int cap = (int)l->heap_cap;
        void *arr = l->heap;
        if (akc__grow(l, &arr, &cap, cap + 1, sizeof(struct akc__tentry))) return -ENOMEM;
        l->heap = (struct akc__tentry *)arr;
        l->heap_cap = (uint32_t)cap;
    }
    i = l->heap_len++;
    l->heap[i].when = when;
    l->heap[i].seq = l->timer_seq++;
    l->heap[i].t = t;
    akc__heap_up(l, i);
    return 0;
}

/* Stops t if l owns it; 0, or -EINVAL for a timer of another loop. */
AKC_FN int akc_timer_stop(akc_loop *l, akc_timer *t)
{
    if (!t->pos) return 0;
    if (!akc_timer_owned(l, t)) return -EINVAL;
    akc__heap_remove(l, t->pos - 1);
    return 0;
}

AKC_FN int64_t akc__next_due(const akc_loop *l)
{
    return l->heap_len ? l->heap[0].when : AKC_NO_DEADLINE;
}

/* Runs the timers due at l->now, each once.  A timer started (or
 * restarted) by these callbacks waits for the next iteration, so a
 * zero-delay restart cannot spin here. */
AKC_FN void akc__run_timers(akc_loop *l)
{
    uint64_t first_new = l->timer_seq;
    while (l->heap_len > 0) {
        akc_timer *t = l->heap[0].t;
        if (l->heap[0].when > l->now || l->heap[0].seq >= first_new) break;
        l->due = l->heap[0].when;
        akc__heap_remove(l, 0);
        t->fn(l, t);
    }
}

/* ---- core: deferred calls ---- */

AKC_FN void akc_defer_init(akc_defer *d, akc_defer_fn fn)
{
    d->next = d->prev = NULL;
    d->fn = fn;
}

AKC_FN int akc_defer_queued(const akc_defer *d) { return d->next != NULL; }

/* Queues d at the end (no-op when it is queued already). */
AKC_FN void akc_defer_queue(akc_loop *l, akc_defer *d)
{
    if (d->next) return;
    d->next = &l->dq;
    d->prev = l->dq.prev;
    l->dq.prev->next = d;
    l->dq.prev = d;
}

AKC_FN void akc_defer_cancel(akc_defer *d)
{
    if (!d->next) return;
    d->prev->next = d->next;
    d->next->prev = d->prev;
    d->next = d->prev = NULL;
}

AKC_FN int akc_defer_pending(const akc_loop *l) { return l->dq.next != &l->dq; }

AKC_FN void akc__mark_fn(akc_loop *l, akc_defer *d) { (void)l; (void)d; }

/* Runs what is queued, in up to passes rounds; what a round's calls queue
 * waits for the next round, so a call that keeps re-queueing itself
 * cannot starve the wait. */
AKC_FN void akc__run_deferred(akc_loop *l, int passes)
{
    akc_defer *d;
    while (passes-- > 0 && akc_defer_pending(l)) {
        akc_defer_queue(l, &l->dq_mark);
        while ((d = l->dq.next) != &l->dq_mark) {
            akc_defer_cancel(d);
            d->fn(l, d);
        }
        akc_defer_cancel(&l->dq_mark);
    }
}

/* ---- core: descriptors ---- */

enum {
    AKC__IO_OPEN = 1u,     /* counted in nios, room reserved */
    AKC__IO_QUEUED = 2u,   /* epoll: in the change list */
    AKC__IO_FRESH = 4u,    /* poll: in the table since the last prepare */
    AKC__IO_ALWAYS = 8u,   /* epoll: not in the set; ready at every dispatch (see akc__apply) */
    AKC__IO_ERR = 16u,     /* epoll: registration failed: report POLLERR */
    AKC__IO_NVAL = 32u,    /* epoll: registration failed on a closed descriptor: POLLNVAL */
    AKC__IO_QUIET = 64u    /* does not keep the loop alive */
};

AKC_FN void akc_io_init(akc_io *io, int fd, unsigned kind)
{
    io->kind = (unsigned char)(kind % AKC_IO_KINDS);
    io->fd = fd;
    io->want = io->have = 0;
    io->slot = -1;
    io->state = 0;
}

/* Sets the handler that watchers of this kind report to (each header
 * sets its own where it first uses a kind, so that a program links only
 * the handlers it can reach). */
AKC_FN void akc_io_handle(akc_loop *l, unsigned kind, akc_io_fn fn)
{
    l->io_fns[kind % AKC_IO_KINDS] = fn;
}

/* Makes io known to l; on the poll backend this reserves its place in
 * the table, so that akc_io_want never fails.  0 or -ENOMEM. */
AKC_FN int akc_io_open(akc_loop *l, akc_io *io)
{
    if (io->state & AKC__IO_OPEN) return 0;
#if defined(AKC_POLL_BACKEND)
    {
        void *arr = l->tab;
        if (akc__grow(l, &arr, &l->tab_cap, l->nios + 1, sizeof(akc_io *))) return -ENOMEM;
        l->tab = (akc_io **)arr;
        arr = l->pfd;
        if (akc__grow(l, &arr, &l->pfd_cap, l->nios + 1, sizeof(struct pollfd))) return -ENOMEM;
        l->pfd = (struct pollfd *)arr;
    }
#endif
    l->nios++;
    io->state = AKC__IO_OPEN;
    io->slot = -1;
    io->want = io->have = 0;
    return 0;
}

/* Counts toward the loop's life unless the watcher is quiet (the wake-up). */
AKC_FN void akc__count_want(akc_loop *l, const akc_io *io, unsigned old)
{
    if (!(io->state & AKC__IO_QUIET)) l->nwant += (io->want != 0) - (old != 0);
}

#if defined(AKC_POLL_BACKEND)

AKC_FN void akc__tab_remove(akc_loop *l, akc_io *io)
{
    int i = io->slot, last = --l->ntab;
    if (i != last) {
        l->tab[i] = l->tab[last];
        l->pfd[i] = l->pfd[last];
        l->tab[i]->slot = i;
    }
    io->slot = -1;
    l->tab_gen++;
}

/* Watches io for events (0: stops watching it).  Never fails on an open io. */
AKC_FN void akc_io_want(akc_loop *l, akc_io *io, unsigned events)
{
    unsigned old = io->want;
    io->want = (unsigned short)events;
    if (!(io->state & AKC__IO_OPEN) || old == events) return;
    if (events && io->slot < 0) {
        io->slot = l->ntab++;
        l->tab[io->slot] = io;
        l->pfd[io->slot].fd = io->fd;
        l->pfd[io->slot].revents = 0;
        io->state |= AKC__IO_FRESH;
        l->tab_gen++;
    } else if (!events && io->slot >= 0) {
        akc__tab_remove(l, io);
    }
    if (io->slot >= 0) l->pfd[io->slot].events = (short)events;
    akc__count_want(l, io, old);
}

AKC_FN void akc_io_close(akc_loop *l, akc_io *io)
{
    if (!(io->state & AKC__IO_OPEN)) return;
    akc_io_want(l, io, 0);
    io->state = 0;
    l->nios--;
}

AKC_FN void akc__flush(akc_loop *l) { (void)l; }

#else /* epoll */

AKC_FN int akc__apply(akc_loop *l, akc_io *io);

/* Queues io's change for the next flush.  The list grows as changes come
 * (an idle watcher costs it nothing); without memory the change goes to
 * the kernel at once. */
AKC_FN void akc__queue_change(akc_loop *l, akc_io *io)
{
    if (io->state & AKC__IO_QUEUED) return;
    if (l->ntab == l->tab_cap) {
        void *arr = l->tab;
        if (akc__grow(l, &arr, &l->tab_cap, l->ntab + 1, sizeof(akc_io *))) {
            (void)akc__apply(l, io);
            return;
        }
        l->tab = (akc_io **)arr;
    }
    io->state |= AKC__IO_QUEUED;
    io->slot = l->ntab;
    l->tab[l->ntab++] = io;
}

AKC_FN void akc__unqueue_change(akc_loop *l, akc_io *io)
{
    int i = io->slot, last = --l->ntab;
    if (i != last) {
        l->tab[i] = l->tab[last];
        l->tab[i]->slot = i;
    }
    io->slot = -1;
    io->state &= ~(unsigned)AKC__IO_QUEUED;
}

AKC_FN void akc_io_want(akc_loop *l, akc_io *io, unsigned events)
{
    unsigned old = io->want;
    io->want = (unsigned short)events;
    if (!(io->state & AKC__IO_OPEN) || old == events) return;
    akc__count_want(l, io, old);
    if (events != io->have && !(io->state & AKC__IO_ALWAYS)) akc__queue_change(l, io);
}

/* Hands io's wish to the kernel; 1 when io must stay in the list.  A
 * descriptor epoll refuses with EPERM (a regular file) is then always
 * ready, as poll() sees it; any other refusal reaches the watcher at each
 * dispatch as POLLERR, or POLLNVAL for a closed descriptor, until it is
 * closed (as poll() would keep reporting it). */
AKC_FN int akc__apply(akc_loop *l, akc_io *io)
{
    struct epoll_event ev;
    int op, r;
    if (io->state & AKC__IO_ALWAYS) return 1;
    if (io->want == io->have) return 0;
    memset(&ev, 0, sizeof ev);
    ev.events = io->want;
    ev.data.ptr = io;
    op = !io->have ? EPOLL_CTL_ADD : !io->want ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    r = AKC_SYS_EPOLL_CTL(l->epfd, op, io->fd, &ev);
    if (r < 0 && op == EPOLL_CTL_ADD && errno == EEXIST) r = AKC_SYS_EPOLL_CTL(l->epfd, EPOLL_CTL_MOD, io->fd, &ev);
    else if (r < 0 && op == EPOLL_CTL_MOD && errno == ENOENT) r = AKC_SYS_EPOLL_CTL(l->epfd, EPOLL_CTL_ADD, io->fd, &ev);
    if (r == 0 || op == EPOLL_CTL_DEL) {
        io->have = io->want;
        return 0;
    }
    io->state |= AKC__IO_ALWAYS;
    if (errno == EBADF) io->state |= AKC__IO_NVAL;
    else if (errno != EPERM) io->state |= AKC__IO_ERR;
    if (io->have) {   /* a failed MOD: take the old wish out, as far as it is there */
        (void)AKC_SYS_EPOLL_CTL(l->epfd, EPOLL_CTL_DEL, io->fd, &ev);
        io->have = 0;
    }
    return 1;
}

/* Applies the changes queued since the last wait; what must stay (always
 * ready descriptors) is kept at the front of the list. */
AKC_FN void akc__flush(akc_loop *l)
{
    int i, keep = 0;
    for (i = 0; i < l->ntab; i++) {
        akc_io *io = l->tab[i];
        if (akc__apply(l, io)) {
            io->slot = keep;
            l->tab[keep++] = io;
        } else {
            io->state &= ~(unsigned)AKC__IO_QUEUED;
            io->slot = -1;
        }
    }
    l->ntab = keep;
    l->nalways = keep;
}

AKC_FN void akc_io_close(akc_loop *l, akc_io *io)
{
    int i;
    struct epoll_event *ev = (struct epoll_event *)l->batch;
    if (!(io->state & AKC__IO_OPEN)) return;
    akc_io_want(l, io, 0);
    if (io->state & AKC__IO_QUEUED) akc__unqueue_change(l, io);
    if (io->have) {   /* now, so that the caller may close the descriptor next */
        struct epoll_event none;
        memset(&none, 0, sizeof none);
        (void)AKC_SYS_EPOLL_CTL(l->epfd, EPOLL_CTL_DEL, io->fd, &none);
    }
    for (i = l->batch_pos; i < l->batch_n; i++)   /* not delivered yet: never will be */
        if (ev[i].data.ptr == io) ev[i].data.ptr = NULL;
    io->want = io->have = 0;
    io->state = 0;
    l->nios--;
}

#endif /* epoll */

/* Calls io with what happened, as far as it still asks for it. */
AKC_FN void akc__io_deliver(akc_loop *l, akc_io *io, unsigned revents)
{
    unsigned mask = io->want;
    if (!mask) return;
    revents &= mask | POLLERR | POLLHUP | POLLNVAL;
    if (revents) l->io_fns[io->kind](l, io, revents);
}

/* ---- core: cross-thread wake-ups ---- */

AKC_FN void akc__wake_run(akc_loop *l, akc_io *io, unsigned revents);

/* The eventfd other threads wake the loop through; created once. */
AKC_FN int akc_wake_open(akc_loop *l)
{
    int r;
    if (l->wake_fd >= 0) return 0;
    l->wake_fd = AKC_SYS_EVENTFD(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0) return -errno;
    akc_io_init(&l->wake_io, l->wake_fd, 0);
    r = akc_io_open(l, &l->wake_io);
    if (r < 0) {
        (void)AKC_SYS_CLOSE(l->wake_fd);
        l->wake_fd = -1;
        return r;
    }
    l->wake_io.state |= AKC__IO_QUIET;   /* the wake-up alone keeps no loop alive */
    akc_io_want(l, &l->wake_io, POLLIN);
    return 0;
}

/* Any thread: makes the loop's wait return soon.  A write already on its
 * way covers this one; the loop re-arms before it reads. */
AKC_FN void akc_wake(akc_loop *l)
{
    uint64_t one = 1;
    if (l->wake_fd < 0 || __atomic_exchange_n(&l->wake_armed, 1, __ATOMIC_ACQ_REL)) return;
    while (AKC_SYS_WRITE(l->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

/* Any thread: p->fn(p) runs on the loop's thread, in post order. */
AKC_FN void akc_post_push(akc_loop *l, akc_post *p)
{
    akc_post *head = __atomic_load_n(&l->posts, __ATOMIC_RELAXED);
    do {
        p->next = head;
    } while (!__atomic_compare_exchange_n(&l->posts, &head, p, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    akc_wake(l);
}

AKC_FN int akc_posts_pending(akc_loop *l)
{
    return __atomic_load_n(&l->posts, __ATOMIC_ACQUIRE) != NULL || l->post_run != NULL;
}

/* Takes p back before it runs: off the stack (whose other nodes go back
 * in their order) or out of the batch being run.  Loop thread only. */
AKC_FN void akc_post_withdraw(akc_loop *l, akc_post *p)
{
    akc_post *list = __atomic_exchange_n(&l->posts, (akc_post *)NULL, __ATOMIC_ACQUIRE), *rev = NULL, **pp;
    for (pp = &list; *pp; pp = &(*pp)->next)
        if (*pp == p) { *pp = p->next; break; }
    while (list) {   /* newest first: reverse, then push back oldest first */
        akc_post *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        akc_post *n = rev->next;
        akc_post_push(l, rev);
        rev = n;
    }
    for (pp = &l->post_run; *pp; pp = &(*pp)->next)
        if (*pp == p) { *pp = p->next; break; }
}

AKC_FN void akc__run_posts(akc_loop *l)
{
    akc_post *list, *rev = NULL, *p;
    __atomic_store_n(&l->wake_armed, 0, __ATOMIC_RELEASE);
    list = __atomic_exchange_n(&l->posts, (akc_post *)NULL, __ATOMIC_ACQUIRE);
    while (list) {   /* the stack holds newest first: restore post order */
        akc_post *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    /* The batch lives in the loop so that a callback withdrawing another
     * post of the same batch takes it out before it runs. */
    l->post_run = rev;
    while ((p = l->post_run) != NULL) {
        l->post_run = p->next;
        p->next = NULL;
        p->fn(l, p);
    }
}

AKC_FN void akc__wake_run(akc_loop *l, akc_io *io, unsigned revents)
{
    uint64_t count;
    (void)io;
    (void)revents;
    __atomic_store_n(&l->wake_armed, 0, __ATOMIC_RELEASE);
    while (AKC_SYS_READ(l->wake_fd, &count, sizeof count) < 0 && errno == EINTR) {}
    akc__run_posts(l);
}

/* ---- core: signals ---- */

/* Signals reach the loop through one signalfd per loop, whose mask is the
 * union of the signals its watchers watch.  A watched signal is blocked in
 * the thread that started its first watcher (the loop's thread), so it
 * stays pending until the loop reads it, and is unblocked again when its
 * last watcher stops, if it was not blocked before.  No handler is ever
 * installed. */

#define AKC__IO_SIGNAL (AKC_IO_KINDS - 1)

struct akc__sigs {
    akc_io io;             /* the signalfd; fd -1 while no watcher is started */
    sigset_t watched;      /* its mask: every signal with a started watcher */
    sigset_t added;        /* of those, the ones this loop blocked */
    akc_sig *list;         /* started watchers, the newest first */
    akc_sig *cursor;       /* the next watcher of the delivery in progress */
};

AKC_FN void akc_sig_init(akc_sig *s, akc_sig_fn fn)
{
    s->next = s->prev = NULL;
    s->fn = fn;
    s->signo = 0;
}

/* A signal a watcher may take: one that can be blocked (not SIGKILL,
 * SIGSTOP, nor those the C library keeps for itself) and that is not
 * raised by a fault of the thread itself, which blocking would not stop. */
AKC_FN int akc_sig_valid(int signo)
{
    sigset_t one;
    switch (signo) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS:
        return 0;
    default:
        break;
    }
    sigemptyset(&one);
    return signo > 0 && sigaddset(&one, signo) == 0;
}

AKC_FN int akc__sig_owned(const struct akc__sigs *g, const akc_sig *s)
{
    const akc_sig *it;
    for (it = g ? g->list : NULL; it; it = it->next)
        if (it == s) return 1;
    return 0;
}

AKC_FN int akc_sig_active(const akc_sig *s) { return s->signo != 0; }

/* 1 while a watcher of the loop is started. */
AKC_FN int akc_sig_watching(const akc_loop *l)
{
    return l->sigs != NULL && ((const struct akc__sigs *)l->sigs)->list != NULL;
}

/* Reads what is pending (at most 16 signals per readiness, so a storm of
 * queued real-time signals cannot hold the loop) and calls every watcher
 * of each.  A watcher started meanwhile waits for the next signal; one
 * stopped meanwhile is not called. */
AKC_FN void akc__sig_ready(akc_loop *l, akc_io *io, unsigned revents)
{
    struct akc__sigs *g = (struct akc__sigs *)l->sigs;
    struct signalfd_siginfo buf[16];
    ssize_t n;
    int i;
    (void)revents;
    n = AKC_SYS_READ(io->fd, buf, sizeof buf);
    if (n <= 0) return;   /* none left (another reader of the process took it), or EINTR */
    for (i = 0; i < (int)(n / (ssize_t)sizeof buf[0]); i++) {
        akc_siginfo info;
        akc_sig *s;
        info.signo = (int)buf[i].ssi_signo;
        info.code = buf[i].ssi_code;
        info.pid = (int)buf[i].ssi_pid;
        info.uid = buf[i].ssi_uid;
        info.status = buf[i].ssi_status;
        info.value = buf[i].ssi_int;
        g->cursor = g->list;
        while ((s = g->cursor) != NULL) {
            g->cursor = s->next;
            if (s->signo == info.signo) s->fn(l, s, &info);
            if (l->sigs != g) return;   /* the loop closed from the callback: g is gone */
        }
    }
}

AKC_FN void akc__sigs_free(akc_loop *l);

AKC_FN struct akc__sigs *akc__sigs_get(akc_loop *l)
{
    struct akc__sigs *g = (struct akc__sigs *)l->sigs;
    if (g) return g;
    g = (struct akc__sigs *)akc__mem(l, NULL, 0, sizeof *g);
    if (!g) return NULL;
    memset(g, 0, sizeof *g);
    akc_io_init(&g->io, -1, AKC__IO_SIGNAL);
    sigemptyset(&g->watched);
    sigemptyset(&g->added);
    akc_io_handle(l, AKC__IO_SIGNAL, akc__sig_ready);
    l->sigs = g;
    l->sigs_free = akc__sigs_free;
    return g;
}

/* Gives the descriptor the mask in g->watched, creating it for the first
 * watcher.  0 or -errno. */
AKC_FN int akc__sig_fd(akc_loop *l, struct akc__sigs *g)
{
    int fd;
    if (g->io.fd >= 0) return AKC_SYS_SIGNALFD(g->io.fd, &g->watched, 0) < 0 ? -errno : 0;
    fd = AKC_SYS_SIGNALFD(-1, &g->watched, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return -errno;
    akc_io_init(&g->io, fd, AKC__IO_SIGNAL);
    if (akc_io_open(l, &g->io) < 0) {
        (void)AKC_SYS_CLOSE(fd);
        g->io.fd = -1;
        return -ENOMEM;
    }
    akc_io_want(l, &g->io, POLLIN);
    return 0;
}

/* signo has no watcher left: out of the descriptor's mask (the descriptor
 * goes with the last watcher), and unblocked if this loop blocked it.
 * What arrived in between was meant for the watchers, so it is taken
 * rather than left to the default action that the unblock would let run. */
AKC_FN void akc__sig_unwatch(akc_loop *l, struct akc__sigs *g, int signo)
{
    sigset_t one;
    sigdelset(&g->watched, signo);
    if (!g->list && g->io.fd >= 0) {
        akc_io_close(l, &g->io);
        (void)AKC_SYS_CLOSE(g->io.fd);
        g->io.fd = -1;
    } else if (g->io.fd >= 0) {
        (void)AKC_SYS_SIGNALFD(g->io.fd, &g->watched, 0);
    }
    if (!sigismember(&g->added, signo)) return;
    sigdelset(&g->added, signo);
    sigemptyset(&one);
    sigaddset(&one, signo);
    {
        struct timespec zero = {0, 0};
        int i;
        for (i = 0; i < 1024; i++)   /* queued real-time signals: each is one */
            if (sigtimedwait(&one, NULL, &zero) < 0 && errno != EINTR) break;
    }
    (void)AKC_SYS_SIGPROCMASK(SIG_UNBLOCK, &one, NULL);
}

/* First watcher of signo: block it in this thread, then add it to the
 * descriptor (in that order, so that nothing arrives unwatched and
 * unblocked in between).  0 or -errno, with nothing changed. */
AKC_FN int akc__sig_watch(akc_loop *l, struct akc__sigs *g, int signo)
{
    sigset_t one, old;
    int r;
    sigemptyset(&one);
    sigaddset(&one, signo);
    if (AKC_SYS_SIGPROCMASK(SIG_BLOCK, &one, &old) < 0) return -errno;
    sigaddset(&g->watched, signo);
    if (!sigismember(&old, signo)) sigaddset(&g->added, signo);
    r = akc__sig_fd(l, g);
    if (r < 0) {
        sigdelset(&g->watched, signo);
        if (sigismember(&g->added, signo)) {
            sigdelset(&g->added, signo);
            (void)AKC_SYS_SIGPROCMASK(SIG_UNBLOCK, &one, NULL);
        }
    }
    return r;
}

AKC_FN int akc_sig_stop(akc_loop *l, akc_sig *s)
{
    struct akc__sigs *g = (struct akc__sigs *)l->sigs;
    int signo = s->signo;
    const akc_sig *it;
    if (!signo) return 0;
    if (!akc__sig_owned(g, s)) return -EINVAL;   /* a watcher of another loop */
    if (g->cursor == s) g->cursor = s->next;
    if (s->prev) s->prev->next = s->next; else g->list = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->signo = 0;
    for (it = g->list; it; it = it->next)
        if (it->signo == signo) return 0;
    akc__sig_unwatch(l, g, signo);
    return 0;
}

/* Starts s for signo (a started s moves to signo).  0, -EINVAL (a signal
 * no watcher may take, a watcher of another loop), -ENOMEM or -errno of
 * signalfd; s is then stopped. */
AKC_FN int akc_sig_start(akc_loop *l, akc_sig *s, int signo)
{
    struct akc__sigs *g;
    int r;
    if (!akc_sig_valid(signo) || !l->live) return -EINVAL;   /* a closed loop has no allocator */
    if (s->signo) {
        if (!akc__sig_owned((struct akc__sigs *)l->sigs, s)) return -EINVAL;
        if (s->signo == signo) return 0;
        (void)akc_sig_stop(l, s);
    }
    g = akc__sigs_get(l);
    if (!g) return -ENOMEM;
    if (!sigismember(&g->watched, signo) && (r = akc__sig_watch(l, g, signo)) < 0) return r;
    s->prev = NULL;
    s->next = g->list;
    if (g->list) g->list->prev = s;
    g->list = s;
    s->signo = signo;
    return 0;
}

/* With the loop: every watcher stops (masks restored), the memory goes. */
AKC_FN void akc__sigs_free(akc_loop *l)
{
    struct akc__sigs *g = (struct akc__sigs *)l->sigs;
    while (g->list) (void)akc_sig_stop(l, g->list);
    (void)akc__mem(l, g, 0, 0);
    l->sigs = NULL;
    l->sigs_free = NULL;
}

/* ---- core: the loop ---- */

/* mem: the header's allocator.  0, or -errno of epoll_create1. */
AKC_FN int akc_loop_init(akc_loop *l, akc_mem_fn mem)
{
    memset(l, 0, sizeof *l);
    l->mem = mem;
    l->passes = 1;
    l->dq.next = l->dq.prev = &l->dq;
    akc_defer_init(&l->dq_mark, akc__mark_fn);
    l->wake_fd = -1;
    akc_io_init(&l->wake_io, -1, 0);
    akc_io_handle(l, 0, akc__wake_run);
#if defined(AKC_POLL_BACKEND)
    l->epfd = -1;
#else
    l->epfd = AKC_SYS_EPOLL_CREATE1(EPOLL_CLOEXEC);
    if (l->epfd < 0) return -errno;
#endif
    akc_update_time(l);
    l->live = 1;
    return 0;
}

/* The state of a loop that holds nothing (closed, or never opened): every
 * query answers "nothing here"; a header that zeroes its context after
 * closing calls this again. */
AKC_FN void akc_loop_reset(akc_loop *l)
{
    memset(l, 0, sizeof *l);
    l->epfd = l->wake_fd = -1;
    l->dq.next = l->dq.prev = &l->dq;
    l->passes = 1;
}

/* Releases what the loop itself holds; the headers have closed their
 * watchers and delivered their callbacks before. */
AKC_FN void akc_loop_free(akc_loop *l)
{
    uint32_t i;
    if (l->sigs_free) l->sigs_free(l);   /* before the memory hooks go */
    for (i = 0; i < l->heap_len; i++) l->heap[i].t->pos = 0;
    if (l->wake_fd >= 0) {
        akc_io_close(l, &l->wake_io);
        (void)AKC_SYS_CLOSE(l->wake_fd);
    }
    if (l->epfd >= 0) (void)AKC_SYS_CLOSE(l->epfd);
    if (l->mem) {   /* a loop that never got as far as init holds no memory */
        (void)akc__mem(l, l->heap, 0, 0);
        (void)akc__mem(l, l->tab, 0, 0);
        (void)akc__mem(l, l->pfd, 0, 0);
        (void)akc__mem(l, l->batch, 0, 0);
    }
    akc_loop_reset(l);
}

/* Anything that keeps a loop running: timers, watched descriptors,
 * deferred calls, posts on their way. */
AKC_FN int akc_alive(akc_loop *l)
{
    return l->heap_len > 0 || l->nwant > 0 || akc_defer_pending(l) || akc_posts_pending(l);
}

/* Any thread: the run in progress (or the next one) returns after its
 * current iteration. */
AKC_FN void akc_stop(akc_loop *l)
{
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    akc_wake(l);
}

/* Consumes a stop request. */
AKC_FN int akc_stopped(akc_loop *l)
{
    return __atomic_exchange_n(&l->stop, 0, __ATOMIC_ACQ_REL);
}

/* 1 when a descriptor epoll could not take wants an event: it is ready
 * at once. */
AKC_FN int akc__always_ready(const akc_loop *l)
{
    int i;
    for (i = 0; i < l->nalways; i++)
        if (l->tab[i]->want) return 1;
    return 0;
}

/* Lowers *deadline to what the loop waits for: now when deferred calls
 * or always-ready descriptors are waiting, else the earliest timer. */
AKC_FN void akc__deadline(akc_loop *l, int64_t *deadline)
{
    int64_t due = akc__next_due(l);
    if ((akc_defer_pending(l) || akc__always_ready(l)) && l->now < due) due = l->now;
    if (due < *deadline) *deadline = due;
}

#if !defined(AKC_POLL_BACKEND)

#if defined(AKC__PWAIT2)
static int akc__pwait2_missing;   /* epoll_pwait2 answered ENOSYS */
#endif

AKC_FN int akc__batch_room(akc_loop *l)
{
    if (!l->batch) {
        void *arr = NULL;
        int cap = 0;
        if (akc__grow(l, &arr, &cap, 64, sizeof(struct epoll_event))) return -ENOMEM;
        l->batch = arr;
        l->batch_cap = cap;
    }
    return 0;
}

/* Delivers the batch that epoll returned, then the always-ready ones.
 * A watcher closed meanwhile had its entries cleared by akc_io_close. */
AKC_FN void akc__run_batch(akc_loop *l)
{
    struct epoll_event *ev = (struct epoll_event *)l->batch;
    int i, n;
    for (l->batch_pos = 0; l->batch_pos < l->batch_n; ) {
        akc_io *io = (akc_io *)ev[l->batch_pos].data.ptr;
        unsigned re = ev[l->batch_pos].events;
        l->batch_pos++;
        if (io) akc__io_deliver(l, io, re);
    }
    if (l->batch_n == l->batch_cap && l->batch_cap < 1024) {   /* a full batch: take more next time */
        void *arr = l->batch;
        int cap = l->batch_cap;
        if (akc__grow(l, &arr, &cap, cap * 2, sizeof(struct epoll_event)) == 0) {
            l->batch = arr;
            l->batch_cap = cap;
        }
    }
    l->batch_n = l->batch_pos = 0;
    n = l->nalways;
    for (i = 0; i < n && i < l->ntab; i++) {
        akc_io *io = l->tab[i];
        unsigned re = io->want & (POLLIN | POLLOUT);
        if (!(io->state & AKC__IO_ALWAYS)) continue;
        if (io->state & AKC__IO_NVAL) re = POLLNVAL;
        else if (io->state & AKC__IO_ERR) re = POLLERR;
        akc__io_deliver(l, io, re);
    }
}

/* Takes what epoll has ready without waiting (a host loop saw the epoll
 * descriptor readable). */
AKC_FN void akc__collect(akc_loop *l)
{
    int n;
    if (akc__batch_room(l) < 0) return;
    n = AKC_SYS_EPOLL_WAIT(l->epfd, (struct epoll_event *)l->batch, l->batch_cap, 0);
    l->batch_n = n > 0 ? n : 0;
}

/* Waits until deadline (AKC_NO_DEADLINE: no limit) for descriptors.
 * 0, or -errno of the wait (EINTR is not an error). */
AKC_FN int akc__wait(akc_loop *l, int64_t deadline)
{
    int64_t wait;
    int n, ms;
    if (deadline == AKC_NO_DEADLINE) wait = -1;
    else {
        akc_update_time(l);
        wait = deadline > l->now ? deadline - l->now : 0;
    }
    l->batch_n = 0;
    /* Nothing watched and no time to wait: the kernel has nothing to say
     * that the post stack does not (a stop is a flag). */
    if (wait == 0 && l->nwant == 0 && !akc_posts_pending(l)) return 0;
    if (akc__batch_room(l) < 0) return -ENOMEM;
#if defined(AKC__PWAIT2)
    if (wait > 0 && wait % 1000000 != 0 && !akc__pwait2_missing) {
        struct { long long sec, nsec; } ts;   /* the kernel's timespec: 64-bit on every ABI */
        ts.sec = wait / 1000000000;
        ts.nsec = wait % 1000000000;
        n = (int)AKC_SYS_EPOLL_PWAIT2(l->epfd, (struct epoll_event *)l->batch, l->batch_cap, &ts);
        if (n >= 0 || errno != ENOSYS) goto done;
        akc__pwait2_missing = 1;   /* an old kernel (or valgrind): once per process */
    }
#endif
    if (wait < 0) ms = -1;
    else if (wait > (int64_t)INT32_MAX * 1000000) ms = INT32_MAX;
    else ms = (int)((wait + 999999) / 1000000);   /* round up: never wake early */
    n = AKC_SYS_EPOLL_WAIT(l->epfd, (struct epoll_event *)l->batch, l->batch_cap, ms);
#if defined(AKC__PWAIT2)
done:
#endif
    if (n < 0) {
        l->batch_n = 0;
        return errno == EINTR ? 0 : -errno;
    }
    l->batch_n = n;
    return 0;
}

/* For a host loop: one descriptor, the epoll set, stands for every watcher. */
AKC_FN int akc_prepare(akc_loop *l, struct pollfd *fds, int cap, int64_t *deadline)
{
    if (l->on_prepare) l->on_prepare(l, deadline);
    akc__flush(l);
    if (fds && cap >= 1) {
        fds[0].fd = l->epfd;
        fds[0].events = POLLIN;
        fds[0].revents = l->prep_n ? 0 : AKC_FRESH;
    }
    l->prep_n = 1;
    if (deadline) akc__deadline(l, deadline);
    return 1;
}

AKC_FN void akc__take(akc_loop *l, const struct pollfd *fds, int n)
{
    if (n >= 1 && fds && fds[0].fd == l->epfd && (fds[0].revents & (POLLIN | POLLERR | POLLHUP))) akc__collect(l);
}

#else /* poll backend */

AKC_FN void akc__run_batch(akc_loop *l)
{
    int i;
    /* From the end, so that a callback stopping any watcher (whose slot
     * the last entry, already visited, then takes) hides or repeats none. */
    for (i = l->ntab - 1; i >= 0; i--) {
        unsigned re;
        if (i >= l->ntab) continue;
        re = (unsigned short)l->pfd[i].revents;
        if (!re) continue;
        l->pfd[i].revents = 0;
        akc__io_deliver(l, l->tab[i], re);
    }
}

AKC_FN int akc__wait(akc_loop *l, int64_t deadline)
{
    int64_t wait;
    int i, n;
    for (i = 0; i < l->ntab; i++) l->pfd[i].revents = 0;
    if (deadline == AKC_NO_DEADLINE) wait = -1;
    else {
        akc_update_time(l);
        wait = deadline > l->now ? deadline - l->now : 0;
    }
    if (l->ntab == 0 && wait == 0) return 0;
#ifdef AKC_SYS_PPOLL
    {
        struct timespec ts;
        ts.tv_sec = (time_t)(wait / 1000000000);
        ts.tv_nsec = (long)(wait % 1000000000);
        n = AKC_SYS_PPOLL(l->pfd, (nfds_t)l->ntab, wait < 0 ? NULL : &ts, NULL);
    }
#else
    {
        int ms;
        if (wait < 0) ms = -1;
        else if (wait > (int64_t)INT32_MAX * 1000000) ms = INT32_MAX;
        else ms = (int)((wait + 999999) / 1000000);
        n = AKC_SYS_POLL(l->pfd, (nfds_t)l->ntab, ms);
    }
#endif
    if (n < 0) {
        for (i = 0; i < l->ntab; i++) l->pfd[i].revents = 0;
        return errno == EINTR ? 0 : -errno;
    }
    return 0;
}

/* For a host loop: the table itself; entries new since the last prepare carry
 * AKC_FRESH in revents. */
AKC_FN int akc_prepare(akc_loop *l, struct pollfd *fds, int cap, int64_t *deadline)
{
    int i, n;
    if (l->on_prepare) l->on_prepare(l, deadline);
    n = l->ntab;
    if (fds && cap >= n) {
        for (i = 0; i < n; i++) {
            akc_io *io = l->tab[i];
            fds[i] = l->pfd[i];
            fds[i].revents = (io->state & AKC__IO_FRESH) ? AKC_FRESH : 0;
            io->state &= ~(unsigned)AKC__IO_FRESH;
        }
        l->prep_gen = l->tab_gen;
        l->prep_n = n;
    }
    if (deadline) akc__deadline(l, deadline);
    return n;
}

/* Copies a host's results into the table: by position when the table is
 * as prepare left it, else by descriptor. */
AKC_FN void akc__take(akc_loop *l, const struct pollfd *fds, int n)
{
    int i, j;
    if (!fds) return;
    if (n > l->prep_n) n = l->prep_n;
    if (l->tab_gen == l->prep_gen && n == l->ntab) {
        for (i = 0; i < n; i++) l->pfd[i].revents = fds[i].revents & ~AKC_FRESH;
        return;
    }
    for (j = 0; j < l->ntab; j++) l->pfd[j].revents = 0;
    for (i = 0; i < n; i++) {
        if (!(fds[i].revents & ~AKC_FRESH)) continue;
        for (j = 0; j < l->ntab; j++)
            if (l->pfd[j].fd == fds[i].fd) l->pfd[j].revents |= (short)(fds[i].revents & ~AKC_FRESH);
    }
}

#endif /* poll backend */

/* One dispatch: descriptors first (from the wait, or from a host's
 * results), then the header's own step, timers, deferred calls. */
AKC_FN void akc__run(akc_loop *l)
{
    l->depth++;
    akc_update_time(l);
    l->iterations++;
    akc__run_batch(l);
    if (l->on_dispatch) l->on_dispatch(l);
    akc__run_timers(l);
    akc__run_deferred(l, l->passes);
    l->depth--;
}

/* For a host loop: takes its poll results back (the entries prepare gave,
 * in the same order) and runs what is due. */
AKC_FN void akc_dispatch(akc_loop *l, const struct pollfd *fds, int n)
{
    akc__take(l, fds, n);
    akc__run(l);
}

/* One iteration of the loop's own wait: at most timeout_ns (< 0: no
 * limit).  0, -EBUSY from inside a dispatch, or -errno of the wait (the
 * iteration still runs what is due). */
AKC_FN int akc_run_once(akc_loop *l, int64_t timeout_ns)
{
    int64_t deadline;
    int rc;
    if (l->depth) return -EBUSY;
    if (!l->live) return 0;   /* closed: nothing to wait for */
    akc_update_time(l);
    deadline = timeout_ns < 0 ? AKC_NO_DEADLINE : akc_add_sat(l->now, timeout_ns);
    if (l->on_prepare) l->on_prepare(l, &deadline);
    akc__flush(l);
    akc__deadline(l, &deadline);
    rc = akc__wait(l, deadline);
    akc__run(l);
    return rc;
}

#ifdef __cplusplus
}
#endif

#endif /* AKC_IMPLEMENT */
/* ==== asynckit core end ==== */

#ifndef AIO_STREAM_H
#define AIO_STREAM_H
#define AIOS_VERSION "0.2.0"

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

/* Durations are int64_t nanoseconds, as in every header of the family. */
#define AIOS_SEC(s) AKC_SEC(s)
#define AIOS_MS(ms) AKC_MS(ms)
#define AIOS_US(us) AKC_US(us)

#ifdef __cplusplus
extern "C" {
#endif

struct sockaddr;
struct aios__rpool;

/* The family's own codes (aio_stream.h's share of them; system errors are
 * -errno, such as -EBUSY for a second read, -EAGAIN for a full queue). */
enum aios_error {
    AIOS_OK = 0,
    AIOS_EINCOMPLETE = AKC_EINCOMPLETE, /* end of stream before the requested bytes */
    AIOS_ETOOLONG = AKC_ETOOLONG,       /* read_until: no delimiter within the maximum */
    AIOS_ECLOSED = AKC_ECLOSED,         /* the stream or server is closing */
    AIOS_ENOTFOUND = AKC_ENOTFOUND,     /* host name not found */
    AIOS_ERESOLVE = AKC_ERESOLVE,       /* name resolution failed */
    AIOS_ENOTNUMERIC = AKC_ENOTNUMERIC  /* a host name, but built with AIOS_NO_RESOLVER */
};

enum { AIOS_NOCLOSE = 1u };

typedef struct aios_ctx aios_ctx;
typedef struct aios_stream aios_stream;
typedef struct aios_server aios_server;

typedef void (*aios_cb)(aios_stream *s, int status, void *ud);
typedef void (*aios_conn_cb)(aios_server *srv, aios_stream *conn, const struct sockaddr *peer, void *ud);
typedef void (*aios_server_cb)(aios_server *srv, int status, void *ud);

/* Internal bookkeeping, public only so that callers can own the storage:
 * the loop core (timers, deferred calls, watched descriptors, the wait),
 * the streams (so that closing the context finds them) and the servers. */
struct aios_ctx {
    akc_loop core;
    struct aios_stream *streams;
    int nstreams;
    aios_server *servers;
    int close_asked;  /* aios_ctx_close from a callback: done when the dispatch ends */
    struct aios__rpool *resolver_pool;  /* the threads that resolve host names (first lookup on) */
    int lookups;      /* connects waiting for a name: they keep aios_run going */
    void (*connect_free)(struct aios_stream *s);  /* abandons a pending connect (set by the first) */
    struct aios_dgram *dgrams;                  /* datagram sockets */
    void (*dgrams_close)(aios_ctx *c);          /* closes them all (set by the first) */
    struct aios__wreq *wfree;  /* spare write requests without a copy, at most AIOS__WFREE_MAX */
    int nwfree;
};

typedef struct aios_tcp_opts {
    int64_t timeout_ns;        /* whole connect, resolution included; 0: none */
    int64_t attempt_delay_ns;  /* delay before racing the next address (250 ms) */
    int family;            /* 0 any, 4 or 6 */
    int nodelay;           /* TCP_NODELAY (1) */
    int64_t keepalive_ns;      /* SO_KEEPALIVE with this idle time (whole seconds); 0: off */
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
    int64_t retry_ns;      /* pause after running out of descriptors (100 ms) */
    int evict_idle;        /* at max_conns or out of descriptors, close the connection
                              idle longest for the new one (0) */
    size_t read_hwm, write_hwm;  /* for accepted streams; 0: defaults */
} aios_server_config;

typedef struct aios_server_stats {
    unsigned long accepted, rejected, fd_exhausted, forced, active, evicted;
} aios_server_stats;

typedef struct aios__listener {
    akc_io io;
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
    akc_timer retry, grace;
    akc_defer finish;
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
AIOS_API int aios_run_once(aios_ctx *ctx, int64_t timeout_ns);
AIOS_API int aios_run(aios_ctx *ctx);
AIOS_API void aios_stop(aios_ctx *ctx);
AIOS_API int64_t aios_now_ns(void);
AIOS_API const char *aios_strerror(int code);

/* streams */
AIOS_API int aios_stream_open(aios_stream **out, aios_ctx *ctx, int fd, unsigned flags);
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
AIOS_API int aios_close_graceful(aios_stream *s, int64_t timeout_ns, aios_cb cb, void *ud);
AIOS_API void aios_set_limits(aios_stream *s, size_t read_hwm, size_t write_hwm);
AIOS_API int aios_set_timeouts(aios_stream *s, int64_t read_ns, int64_t write_ns);
AIOS_API int aios_stream_fd(const aios_stream *s);
AIOS_API size_t aios_write_queued(const aios_stream *s);
AIOS_API void aios_stream_set_ud(aios_stream *s, void *p);
AIOS_API void *aios_stream_ud(const aios_stream *s);
AIOS_API aios_server *aios_stream_server(const aios_stream *s);

/* clients */
AIOS_API void aios_tcp_opts_init(aios_tcp_opts *o);
AIOS_API int aios_tcp_connect(aios_stream **out, aios_ctx *ctx, const char *host, int port,
                              const aios_tcp_opts *o, aios_cb cb, void *ud);
AIOS_API int aios_unix_connect(aios_stream **out, aios_ctx *ctx, const char *path, aios_cb cb, void *ud);

/* servers */
AIOS_API void aios_server_config_init(aios_server_config *cfg);
AIOS_API int aios_server_init(aios_server *srv, aios_ctx *ctx, const aios_server_config *cfg,
                              aios_conn_cb on_conn, void *ud);
AIOS_API int aios_server_listen_tcp(aios_server *srv, const char *host, int port);
AIOS_API int aios_server_listen_unix(aios_server *srv, const char *path);
AIOS_API int aios_server_port(const aios_server *srv);
AIOS_API int aios_server_shutdown(aios_server *srv, int64_t timeout_ns, aios_server_cb cb, void *ud);
AIOS_API int aios_format_addr(const struct sockaddr *sa, char *buf, size_t n);

/* serial ports */
AIOS_API int aios_serial_open(aios_stream **out, aios_ctx *ctx, const char *path, int baud);

/* datagrams: UDP and Unix datagram sockets (see "Datagrams") */
typedef struct aios_dgram aios_dgram;
typedef void (*aios_dgram_cb)(aios_dgram *d, int status, void *ud);

/* An address of any family the datagram functions take (struct
 * sockaddr_in, sockaddr_in6 or sockaddr_un) and its length; 0: none. */
typedef struct aios_addr {
    union { unsigned char bytes[128]; uint64_t align; } u;
    unsigned len;
} aios_addr;

typedef struct aios_dgram_opts {
    int family;            /* 0: the address's (IPv6 and IPv4 for an empty host); 4 or 6 */
    int v6only;            /* IPV6_V6ONLY (0: an IPv6 socket takes IPv4 too) */
    int reuseaddr;         /* SO_REUSEADDR (0; 1 lets several programs share a multicast port) */
    int reuseport;         /* SO_REUSEPORT (0) */
    int broadcast;         /* SO_BROADCAST (0) */
    size_t recv_size;      /* the largest datagram kept whole (2048; at most 65536) */
    int recv_batch;        /* datagrams taken per system call (16; 1 to 64) */
    int recv_max;          /* datagrams handed out per loop iteration (64) */
    size_t send_hwm;       /* bytes queued for sending, each request's header included (256 KiB) */
    int rcvbuf, sndbuf;    /* SO_RCVBUF, SO_SNDBUF (0: the system's) */
} aios_dgram_opts;

AIOS_API void aios_dgram_opts_init(aios_dgram_opts *o);
AIOS_API int aios_udp_open(aios_dgram **out, aios_ctx *ctx, const char *host, int port, const aios_dgram_opts *o);
AIOS_API int aios_unix_dgram_open(aios_dgram **out, aios_ctx *ctx, const char *path, const aios_dgram_opts *o);
AIOS_API int aios_dgram_open(aios_dgram **out, aios_ctx *ctx, int fd, unsigned flags, const aios_dgram_opts *o);
AIOS_API int aios_dgram_connect(aios_dgram *d, const aios_addr *peer);
AIOS_API int aios_send(aios_dgram *d, const void *data, size_t n, const aios_addr *to, aios_dgram_cb cb, void *ud);
AIOS_API int aios_recv(aios_dgram *d, void *buf, size_t cap, aios_dgram_cb cb, void *ud);
AIOS_API const aios_addr *aios_recv_from(const aios_dgram *d);
AIOS_API size_t aios_recv_size(const aios_dgram *d);
AIOS_API int aios_dgram_close(aios_dgram *d, aios_dgram_cb cb, void *ud);
AIOS_API int aios_dgram_fd(const aios_dgram *d);
AIOS_API int aios_dgram_port(const aios_dgram *d);
AIOS_API int aios_dgram_local(const aios_dgram *d, aios_addr *a);
AIOS_API size_t aios_send_queued(const aios_dgram *d);
AIOS_API void aios_dgram_set_ud(aios_dgram *d, void *p);
AIOS_API void *aios_dgram_ud(const aios_dgram *d);
AIOS_API int aios_dgram_broadcast(aios_dgram *d, int on);
AIOS_API int aios_dgram_join(aios_dgram *d, const char *group, const char *iface);
AIOS_API int aios_dgram_leave(aios_dgram *d, const char *group, const char *iface);
AIOS_API int aios_dgram_multicast_if(aios_dgram *d, const char *iface);
AIOS_API int aios_dgram_multicast_ttl(aios_dgram *d, int ttl);
AIOS_API int aios_dgram_multicast_loop(aios_dgram *d, int on);
AIOS_API int aios_addr_set(aios_addr *a, const char *host, int port);
AIOS_API int aios_addr_unix(aios_addr *a, const char *path);
AIOS_API const struct sockaddr *aios_addr_sa(const aios_addr *a);
AIOS_API int aios_addr_port(const aios_addr *a);
AIOS_API int aios_addr_equal(const aios_addr *a, const aios_addr *b);
/* Private to the await bridge: takes a receive or a send back. */
enum { AIOS__WD_RECV = 16, AIOS__WD_SEND };
AIOS_API void aios__dgram_withdraw(aios_dgram *d, int what, aios_dgram_cb cb, void *ud);

/* signals through the loop (the family's signal watchers; see "Signals") */
typedef struct aios_signal aios_signal;
typedef struct akc_siginfo aios_siginfo;   /* signo, code, pid, uid, status, value */
typedef void (*aios_signal_cb)(aios_signal *sig, const aios_siginfo *info, void *ud);
struct aios_signal {
    akc_sig core;
    aios_signal_cb cb;
    void *ud;
};
AIOS_API void aios_signal_init(aios_signal *sig, aios_signal_cb cb, void *ud);
AIOS_API int aios_signal_start(aios_signal *sig, aios_ctx *ctx, int signo);
AIOS_API int aios_signal_stop(aios_signal *sig, aios_ctx *ctx);
AIOS_API int aios_signal_active(const aios_signal *sig);

/* Private to the await bridge of sched.h tasks: takes an operation back
 * so that its callback (cb, ud) never runs and the stream stays usable. */
enum { AIOS__WD_READ, AIOS__WD_WRITE, AIOS__WD_DRAIN, AIOS__WD_SHUTDOWN, AIOS__WD_CONNECT };
AIOS_API void aios__withdraw(aios_stream *s, int what, aios_cb cb, void *ud);
AIOS_API void aios__server_withdraw(aios_server *srv);

#ifdef __cplusplus
}
#endif
#endif /* AIO_STREAM_H */

/* ======================================================================= */
#if defined(AIOS_IMPLEMENTATION) && !defined(AIOS_IMPLEMENTATION_DONE)
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
#endif
#ifndef AIOS_RESOLVER_THREADS
#define AIOS_RESOLVER_THREADS 4
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
/* One buffer goes to a socket through send(), which costs the kernel less
 * than sendmsg() (no header or vector to copy in).  A program that replaced
 * only AIOS_SYS_SENDMSG still sees every stream write: send then goes
 * through its sendmsg. */
#if !defined(AIOS_SYS_SEND) && defined(AIOS_SYS_SENDMSG)
#define AIOS__SEND_VIA_SENDMSG 1
#elif !defined(AIOS_SYS_SEND)
#define AIOS_SYS_SEND(fd, buf, n, flags) send((fd), (buf), (n), (flags))
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
AIOS_PRIVATE void *aios__grow(void *p, size_t keep, size_t n)
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

/* A stream's state, in its flags. */
enum {
    AIOS__F_SOCK = 1u << 0,        /* a socket: sent with MSG_NOSIGNAL, can be shut down */
    AIOS__F_NOCLOSE = 1u << 1,     /* the caller keeps the descriptor (AIOS_NOCLOSE) */
    AIOS__F_EOF = 1u << 2,         /* the peer ended its side: reads find no more */
    AIOS__F_CLOSING = 1u << 3,     /* closing: pending operations get cancel_status, then the close callback */
    AIOS__F_CONNECTING = 1u << 4,  /* a connect is under way (side->conn) */
    AIOS__F_CONN_DONE = 1u << 5,   /* the connect ended; its callback (side->cstatus) is due */
    AIOS__F_SHUT_REQ = 1u << 6,    /* aios_shutdown: shut the write side once the queue is sent */
    AIOS__F_SHUT_DONE = 1u << 7,   /* the write side is shut down */
    AIOS__F_GCLOSE = 1u << 8,      /* a graceful close is flushing (side->r is its timer) */
    AIOS__F_GROW_RBUF = 1u << 9,   /* the last read filled the read buffer: double it next time */
    AIOS__F_TRY_READ = 1u << 10,   /* the last read filled all its room: the next read operation
                                      tries the descriptor before the loop polls it */
    AIOS__F_EVICTED = 1u << 11,    /* closed by its server for a newcomer (evict_idle) */
    AIOS__F_INPROC = 1u << 12      /* aios__stream_process is running for it: a write from its
                                      callbacks needs no deferred pass, the running one delivers it */
};

/* The read operation a stream has pending (its rop). */
enum {
    AIOS__R_NONE,   /* none */
    AIOS__R_SOME,   /* aios_read: 1 to rwant bytes into ru.dst */
    AIOS__R_EXACT,  /* aios_read_exactly: rwant bytes into ru.dst */
    AIOS__R_UNTIL,  /* aios_read_until: up to ru.delim (dlen bytes) within rwant buffered bytes */
    AIOS__R_PEEK    /* aios_peek: rwant bytes buffered */
};

/* A queued write.  data[off, len) is still to send; copied is the heap it
 * holds (its header and its copy: aios_write_copy), 0 for aios_write. */
typedef struct aios__wreq {
    struct aios__wreq *next;
    const char *data;
    size_t len, off, copied;
    int64_t deadline;   /* of its write timeout, INT64_MAX for none */
    aios_cb cb;
    void *ud;
} aios__wreq;

struct aios__connector;

/* Deadlines and the operations most idle connections never have (drain,
 * shutdown, connect), allocated the first time a stream needs one of them.
 * Each operation keeps its callback (cb) and user pointer (ud) here, with
 * the operation's first letter: d for drain, s for shutdown, c for connect. */
typedef struct aios__side {
    akc_timer r;                   /* the read deadline; during a graceful close, the close's */
    akc_timer w;                   /* the deadline of the first write still sending */
    struct aios_stream *s;
    int64_t rtimeout_ns, wtimeout_ns;   /* aios_set_timeouts */
    aios_cb dcb, scb, ccb;         /* aios_drain's, aios_shutdown's, the connect's callback */
    void *dud, *sud, *cud;         /* their user pointers */
    size_t dlow;                   /* aios_drain's low-water mark */
    int cstatus;                   /* the connect's outcome while its callback is due */
    struct aios__connector *conn;  /* the connect under way, if any */
} aios__side;

/* Kept small: an idle connection costs this struct and nothing else.  The
 * read buffer holds rbuf[rstart, rend) of its rcap bytes. */
struct aios_stream {
    aios_ctx *ctx;
    aios_server *server;
    akc_io io;                      /* open (counted by the loop) from creation to release */
    akc_defer kick;                 /* runs the stream's completions from the loop (aios__stream_process) */
    /* the list the stream is on: its server's connections, in the order of
     * their last activity, or else the context's other streams */
    struct aios_stream *next, *prev;
    aios__side *side;
    unsigned flags;                 /* AIOS__F_* */
    int rerr, werr;                 /* the error that ended the read or the write side; 0: none */
    short rforce;                   /* ends the pending read with this status, whatever is buffered:
                                       -ETIMEDOUT (its deadline), -ECANCELED (a graceful close) */
    short cancel_status;            /* what pending operations get once the stream closes */
    short close_status;             /* what the close callback gets (a graceful close's outcome) */
    unsigned char rop;              /* the pending read (AIOS__R_*) */
    unsigned char dlen;             /* read until: the delimiter's length */
    uint32_t rwant;                 /* the pending read's size: see AIOS__R_* */
    /* read side */
    char *rbuf;
    uint32_t rcap, rstart, rend, rhwm, rscan;   /* rhwm: read high-water mark; rscan: bytes
                                                   a read until has searched already */
    uint32_t rgot;                  /* bytes the pending read has (also what aios_result_len reports) */
    size_t wcopied;                 /* heap of copied writes still queued, request headers included */
    size_t whwm;                    /* write high-water mark: wcopied stays within it */
    union {
        void *dst;                  /* read some, read exactly: the caller's buffer */
        char delim[8];              /* read until: the delimiter */
    } ru;
    aios_cb rcb;                    /* the pending read's callback and user pointer */
    void *rud;
    /* write side */
    aios__wreq *whead, *wtail;
    size_t wunsent;                 /* bytes queued and not yet sent */
    aios_cb closecb;
    void *closeud;
    void *user;                     /* aios_stream_set_ud */
};

/* ==== section: time and errors ==== */

AIOS_API int64_t aios_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

AIOS_API const char *aios_strerror(int code) { return akc_strerror(code); }

/* ==== section: the loop ==== */

/* The allocator hooks, in the shape the loop core asks for. */
AIOS_PRIVATE void *aios__mem(void *p, size_t old, size_t n)
{
    if (n == 0) {
        AIOS_FREE(p);
        return NULL;
    }
    return aios__grow(p, old, n);
}

/* The kinds of the context's watchers (0 is the core's wake-up); each
 * kind's handler is set where the kind is first used. */
enum { AIOS__IO_STREAM = 1, AIOS__IO_LISTENER, AIOS__IO_ATTEMPT };

/* Timers and watchers of the context: thin names over the loop core. */
AIOS_PRIVATE int aios__timer_start(aios_ctx *c, akc_timer *t, int64_t when)
{
    if (when == INT64_MAX) return akc_timer_stop(&c->core, t);
    return akc_timer_start(&c->core, t, when);
}

AIOS_PRIVATE void aios__timer_stop(aios_ctx *c, akc_timer *t) { (void)akc_timer_stop(&c->core, t); }

AIOS_PRIVATE int64_t aios__after_ns(aios_ctx *c, int64_t ns) { return akc_add_sat(akc_time(&c->core), ns); }

AIOS_PRIVATE int64_t aios__after_ms(aios_ctx *c, int ms)
{
    return ms > 0 ? aios__after_ns(c, (int64_t)ms * 1000000) : INT64_MAX;
}

/* Deferred completions run in up to this many passes per dispatch: a
 * continuation that finds its bytes already there completes without a
 * wait in between, yet one that keeps re-arming cannot starve the wait. */
#define AIOS__DEFER_PASSES 8

AIOS_API int aios_ctx_init(aios_ctx *ctx)
{
    int r;
    if (!ctx) return -EINVAL;
    memset(ctx, 0, sizeof *ctx);
    r = akc_loop_init(&ctx->core, aios__mem);
    if (r < 0) {
        akc_loop_free(&ctx->core);
        return r;
    }
    ctx->core.passes = AIOS__DEFER_PASSES;
    return 0;
}

AIOS_API int aios_prepare(void *vctx, struct pollfd *fds, int cap, int64_t *deadline_ns)
{
    aios_ctx *c = (aios_ctx *)vctx;
    if (!c) return -EINVAL;
    return akc_prepare(&c->core, cap > 0 ? fds : NULL, cap, deadline_ns);
}

AIOS_API void aios_dispatch(void *vctx, struct pollfd *fds, int n)
{
    aios_ctx *c = (aios_ctx *)vctx;
    if (!c || c->core.depth) return;
    akc_dispatch(&c->core, fds, fds ? n : 0);
    if (c->close_asked) aios_ctx_close(c);  /* asked for from a callback */
}

/* The loop's own work, and answers of the resolver threads still to come. */
AIOS_PRIVATE int aios__alive(aios_ctx *c)
{
    return akc_alive(&c->core) || c->lookups > 0;
}

AIOS_API int aios_run_once(aios_ctx *c, int64_t timeout_ns)
{
    int r;
    if (!c) return -EINVAL;
    if (c->core.depth) return -EBUSY;
    if (!aios__alive(c) && timeout_ns < 0) return 0;
    r = akc_run_once(&c->core, timeout_ns);
    if (c->close_asked) aios_ctx_close(c);
    if (r < 0) return r;
    return aios__alive(c);
}

AIOS_API int aios_run(aios_ctx *c)
{
    int r = 0;
    if (!c) return -EINVAL;
    if (c->core.depth) return -EBUSY;   /* a stop asked for meanwhile stays for the outer run */
    /* an aios_stop made before this call counts, as in the other headers */
    while (!akc_stopped(&c->core)) {
        r = aios_run_once(c, -1);
        if (r <= 0) break;
    }
    return r < 0 ? r : 0;
}

AIOS_API void aios_stop(aios_ctx *c)
{
    if (c) akc_stop(&c->core);
}

/* ==== section: streams, lifecycle ==== */

AIOS_PRIVATE void aios__stream_process(aios_stream *s);
AIOS_PRIVATE void aios__stream_update(aios_stream *s);
AIOS_PRIVATE void aios__server_conn_gone(aios_server *srv, aios_stream *s);
AIOS_PRIVATE void aios__server_touch(aios_stream *s);

AIOS_PRIVATE void aios__stream_read_io(aios_stream *s);

/* At most one read per pass without a poll (see aios__read_start), so a fast
 * peer cannot keep a stream's continuations running forever. */
AIOS_PRIVATE void aios__stream_kick_run(akc_loop *l, akc_defer *d)
{
    aios_stream *s = AIOS__CONTAINER(d, aios_stream, kick);
    (void)l;
    if ((s->flags & AIOS__F_TRY_READ) && s->rop && s->rend == s->rstart && s->rgot < s->rwant && !(s->flags & AIOS__F_CONNECTING))
        aios__stream_read_io(s);
    aios__stream_process(s);
}

AIOS_PRIVATE void aios__stream_kick(aios_stream *s)
{
    akc_defer_queue(&s->ctx->core, &s->kick);
}

AIOS_PRIVATE void aios__stream_rtimer_fire(akc_loop *l, akc_timer *t)
{
    (void)l;
    aios_stream *s = AIOS__CONTAINER(t, aios__side, r)->s;
    if (s->flags & AIOS__F_GCLOSE) {   /* the graceful close gave up: it says so, the writes it drops are cancelled */
        s->close_status = -ETIMEDOUT;
        s->flags |= AIOS__F_CLOSING;
    } else if (s->rop) {
        s->rforce = -ETIMEDOUT;
    }
    aios__stream_process(s);
}

AIOS_PRIVATE void aios__stream_wtimer_fire(akc_loop *l, akc_timer *t)
{
    (void)l;
    aios_stream *s = AIOS__CONTAINER(t, aios__side, w)->s;
    if (!s->werr) s->werr = -ETIMEDOUT;
    aios__stream_process(s);
}

AIOS_PRIVATE aios__side *aios__stream_side(aios_stream *s)
{
    if (!s->side) {
        aios__side *side = (aios__side *)AIOS_MALLOC(sizeof *side);
        if (!side) return NULL;
        memset(side, 0, sizeof *side);
        akc_timer_init(&side->r, aios__stream_rtimer_fire);
        akc_timer_init(&side->w, aios__stream_wtimer_fire);
        side->s = s;
        s->side = side;
    }
    return s->side;
}

AIOS_PRIVATE void aios__stream_stop_rtimer(aios_stream *s)
{
    if (s->side) aios__timer_stop(s->ctx, &s->side->r);
}

AIOS_PRIVATE void aios__stream_stop_wtimer(aios_stream *s)
{
    if (s->side) aios__timer_stop(s->ctx, &s->side->w);
}

AIOS_PRIVATE struct aios__connector *aios__stream_connector(const aios_stream *s)
{
    return s->side ? s->side->conn : NULL;
}

AIOS_PRIVATE void aios__stream_ready(akc_loop *l, akc_io *io, unsigned revents);

AIOS_PRIVATE void aios__idle_append(aios_server *srv, aios_stream *s);

/* A new stream, on its server's list of connections when srv is given,
 * else on the context's list. */
AIOS_PRIVATE aios_stream *aios__stream_new(aios_ctx *c, int fd, aios_server *srv)
{
    aios_stream *s = (aios_stream *)AIOS_MALLOC(sizeof *s);
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    s->ctx = c;
    akc_io_init(&s->io, fd, AIOS__IO_STREAM);
    akc_io_handle(&c->core, AIOS__IO_STREAM, aios__stream_ready);
    akc_defer_init(&s->kick, aios__stream_kick_run);
    s->rhwm = (uint32_t)AIOS__READ_HWM;
    s->whwm = AIOS__WRITE_HWM;
    if (akc_io_open(&c->core, &s->io) < 0) {  /* open even without a descriptor (a connect's): room reserved */
        AIOS_FREE(s);
        return NULL;
    }
    s->server = srv;
    if (srv) {
        aios__idle_append(srv, s);
    } else {
        s->next = c->streams;
        if (c->streams) c->streams->prev = s;
        c->streams = s;
    }
    c->nstreams++;
    return s;
}

/* FIONBIO and FIOCLEX work on every descriptor, in one call each, and keep
 * fcntl's varargs wrapper out of small static programs. */
AIOS_PRIVATE int aios__set_nonblock(int fd)
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

/* 1 when a stream or a listener of the context holds fd. */
AIOS_PRIVATE int aios__dgram_holds(aios_ctx *c, int fd);

/* 1 when a stream, listener or datagram socket of the context holds fd:
 * a descriptor has one owner, or the watchers of two would fight over its
 * one epoll entry. */
AIOS_PRIVATE int aios__fd_held(aios_ctx *c, int fd)
{
    aios_server *srv;
    aios_stream *s;
    int i;
    if (aios__dgram_holds(c, fd)) return 1;
    for (s = c->streams; s; s = s->next)
        if (s->io.fd == fd) return 1;
    for (srv = c->servers; srv; srv = srv->next) {
        for (s = srv->idle_head; s; s = s->next)
            if (s->io.fd == fd) return 1;
        for (i = 0; i < srv->nlis; i++)
            if (srv->lis[i].io.fd == fd) return 1;
    }
    return 0;
}

/* Only a socket has a local address (fstat would cost more in static programs). */
AIOS_PRIVATE int aios__is_socket(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    return getsockname(fd, (struct sockaddr *)(void *)&ss, &len) == 0 || errno != ENOTSOCK;
}

AIOS_API int aios_stream_open(aios_stream **out, aios_ctx *ctx, int fd, unsigned flags)
{
    aios_stream *s;
    int r;
    if (!ctx || !out || fd < 0) return -EINVAL;
    *out = NULL;
    /* a descriptor the context already watches (a stream not yet closed, a
     * listener) would get two owners reading from it and closing it */
    if (aios__fd_held(ctx, fd)) return -EBUSY;
    if ((r = aios__set_nonblock(fd)) < 0) return r;
    s = aios__stream_new(ctx, fd, NULL);
    if (!s) return -ENOMEM;
    if (aios__is_socket(fd)) s->flags |= AIOS__F_SOCK;
    if (flags & AIOS_NOCLOSE) s->flags |= AIOS__F_NOCLOSE;
    *out = s;
    return 0;
}

/* The watcher leaves the kernel's set before the descriptor closes (a
 * descriptor the program keeps, or one duplicated elsewhere, would stay
 * in the set and report for a stream that is gone). */
AIOS_PRIVATE void aios__stream_drop_fd(aios_stream *s)
{
    akc_io_close(&s->ctx->core, &s->io);
    if (s->io.fd >= 0 && !(s->flags & AIOS__F_NOCLOSE)) AIOS_SYS_CLOSE(s->io.fd);
    s->io.fd = -1;
}

/* Abort: the descriptor goes at once, callbacks follow from dispatch.  A
 * graceful close still under way is cut short, and its callback says so. */
AIOS_PRIVATE void aios__hard_close(aios_stream *s, int why)
{
    if ((s->flags & AIOS__F_GCLOSE) && !s->close_status) s->close_status = -ECANCELED;
    s->flags |= AIOS__F_CLOSING;
    s->flags &= ~(unsigned)AIOS__F_GCLOSE;
    if (!s->cancel_status) s->cancel_status = (short)why;
    if (aios__stream_connector(s)) s->ctx->connect_free(s);
    aios__stream_drop_fd(s);
    aios__stream_stop_rtimer(s);
    aios__stream_stop_wtimer(s);
    aios__stream_kick(s);
}

AIOS_PRIVATE void aios__stream_free(aios_stream *s)
{
    aios_ctx *c = s->ctx;
    aios_server *srv = s->server;
    akc_defer_cancel(&s->kick);
    aios__stream_stop_rtimer(s);
    aios__stream_stop_wtimer(s);
    akc_io_close(&c->core, &s->io);
    if (!srv) {
        if (s->prev) s->prev->next = s->next; else c->streams = s->next;
        if (s->next) s->next->prev = s->prev;
    }
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
        if (cb) return -EBUSY;
    } else {
        s->closecb = cb;
        s->closeud = ud;
    }
    aios__hard_close(s, -ECANCELED);
    return 0;
}

AIOS_API int aios_close_graceful(aios_stream *s, int64_t timeout_ns, aios_cb cb, void *ud)
{
    if (!s) return -EINVAL;
    if (s->flags & AIOS__F_CLOSING) return AIOS_ECLOSED;
    if (s->flags & AIOS__F_GCLOSE) return -EBUSY;
    /* the read timer becomes the close timer: a read deadline must not end the close */
    aios__stream_stop_rtimer(s);
    if (timeout_ns >= 0 && (!aios__stream_side(s) ||
                            aios__timer_start(s->ctx, &s->side->r, aios__after_ns(s->ctx, timeout_ns)) < 0))
        return aios_close(s, cb, ud);  /* no memory for the timer: close at once, same callback */
    s->closecb = cb;
    s->closeud = ud;
    s->flags |= AIOS__F_GCLOSE;
    if (s->rop) s->rforce = -ECANCELED;
    aios__stream_kick(s);
    return 0;
}

/* ==== section: streams, reading ==== */

AIOS_PRIVATE size_t aios__buffered(const aios_stream *s)
{
    return s->rend - s->rstart;
}

AIOS_PRIVATE int aios__clamp_status(size_t n)
{
    return n > (size_t)INT_MAX ? INT_MAX : (int)n;
}

/* Decides whether the pending read can complete; returns 1 and sets *status if so. */
AIOS_PRIVATE int aios__read_outcome(aios_stream *s, int *status)
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

AIOS_PRIVATE void aios__read_finish(aios_stream *s, int status)
{
    aios_cb cb = s->rcb;
    void *ud = s->rud;
    s->rop = AIOS__R_NONE;
    s->rcb = NULL;
    s->rforce = 0;
    if (!(s->flags & AIOS__F_GCLOSE)) aios__stream_stop_rtimer(s);
    if (cb) cb(s, status, ud);
}

AIOS_PRIVATE int aios__read_buffer_room(aios_stream *s)
{
    size_t limit = s->rhwm;
    /* the last read filled the whole buffer: the peer sends faster, so grow */
    if ((s->flags & AIOS__F_GROW_RBUF) && aios__buffered(s) == 0 && s->rcap < limit) {
        size_t cap = (size_t)s->rcap * 2 > limit ? limit : (size_t)s->rcap * 2;
        char *b = (char *)aios__grow(s->rbuf, 0, cap);  /* empty: nothing to keep */
        if (b) { s->rbuf = b; s->rcap = (uint32_t)cap; s->rstart = s->rend = 0; }
    }
    s->flags &= ~(unsigned)AIOS__F_GROW_RBUF;
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

AIOS_PRIVATE void aios__note_read(aios_stream *s, long n)
{
    if (n == 0) s->flags |= AIOS__F_EOF;
    else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) s->rerr = -errno;
}

AIOS_PRIVATE void aios__stream_read_io(aios_stream *s)
{
    ssize_t n;
    if (!s->rop || s->io.fd < 0 || (s->flags & AIOS__F_EOF) || s->rerr || s->rforce) return;
    /* no room (an empty read_exactly): read() would return 0, which means end of stream */
    if ((s->rop == AIOS__R_SOME || s->rop == AIOS__R_EXACT) && s->rgot >= s->rwant) return;
    s->flags &= ~(unsigned)AIOS__F_TRY_READ;
    if ((s->rop == AIOS__R_SOME || s->rop == AIOS__R_EXACT) && aios__buffered(s) == 0) {
        size_t room = s->rwant - s->rgot;
        n = AIOS_SYS_READ(s->io.fd, (char *)s->ru.dst + s->rgot, room);
        if (n > 0 && (size_t)n == room) s->flags |= AIOS__F_TRY_READ;
        if (n > 0) { s->rgot += (uint32_t)n; aios__server_touch(s); }
        else aios__note_read(s, (long)n);
        return;
    }
    if (!aios__read_buffer_room(s)) return;
    n = AIOS_SYS_READ(s->io.fd, s->rbuf + s->rend, s->rcap - s->rend);
    if (n > 0 && (size_t)n == s->rcap - s->rend) s->flags |= AIOS__F_GROW_RBUF | AIOS__F_TRY_READ;
    if (n > 0) { s->rend += (size_t)n; aios__server_touch(s); }
    else aios__note_read(s, (long)n);
}

AIOS_PRIVATE int aios__read_start(aios_stream *s, int op, void *dst, size_t want, aios_cb cb, void *ud)
{
    if (!s) return -EINVAL;
    if (s->flags & (AIOS__F_CLOSING | AIOS__F_GCLOSE)) return AIOS_ECLOSED;
    if (s->rop) return -EBUSY;
    if (s->io.fd < 0 && !(s->flags & AIOS__F_CONNECTING)) return -ENOTCONN;
    s->rop = (unsigned char)op;
    s->ru.dst = dst;
    s->rwant = (uint32_t)want;  /* callers keep want within 32 bits */
    s->rgot = 0;
    s->rscan = 0;
    s->rcb = cb;
    s->rud = ud;
    s->rforce = 0;
    if (s->side && s->side->rtimeout_ns > 0 && aios__timer_start(s->ctx, &s->side->r, aios__after_ns(s->ctx, s->side->rtimeout_ns)) < 0) {
        s->rop = AIOS__R_NONE;
        return -ENOMEM;
    }
    /* Only buffered bytes, the end of the stream or an error can complete it
     * without new input; otherwise the descriptor is simply watched.  When the
     * last read filled all the room it had, the peer is sending faster than
     * we read, so the deferred pass tries the descriptor before any poll. */
    if (aios__buffered(s) > 0 || want == 0 || (s->flags & (AIOS__F_EOF | AIOS__F_TRY_READ)) || s->rerr || akc_defer_queued(&s->kick) ||
        (s->flags & AIOS__F_CONNECTING))
        aios__stream_kick(s);
    else if (!(s->flags & AIOS__F_INPROC))   /* else the running process pass updates when it ends */
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
AIOS_PRIVATE aios__wreq *aios__wsend(const aios_stream *s)
{
    aios__wreq *w = s->whead;
    while (w && w->off == w->len) w = w->next;
    return w;
}

/* Marks n bytes sent, from w on; returns the first request still unsent. */
AIOS_PRIVATE aios__wreq *aios__wreq_advance(aios_stream *s, aios__wreq *w, size_t n)
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
AIOS_PRIVATE ssize_t aios__writev_nosigpipe(int fd, const struct iovec *iov, int k)
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

/* One buffer to a socket, without SIGPIPE. */
AIOS_PRIVATE ssize_t aios__send1(int fd, const void *data, size_t n)
{
#ifdef AIOS__SEND_VIA_SENDMSG
    struct iovec one;
    struct msghdr msg;
    one.iov_base = (void *)data;
    one.iov_len = n;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &one;
    msg.msg_iovlen = 1;
    return AIOS_SYS_SENDMSG(fd, &msg, MSG_NOSIGNAL);
#else
    return AIOS_SYS_SEND(fd, data, n, MSG_NOSIGNAL);
#endif
}

AIOS_PRIVATE void aios__stream_flush(aios_stream *s)
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
        if ((s->flags & AIOS__F_SOCK) && k == 1) {
            n = aios__send1(s->io.fd, iov[0].iov_base, iov[0].iov_len);
        } else if (s->flags & AIOS__F_SOCK) {
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
AIOS_PRIVATE size_t aios__write_direct(aios_stream *s, const void *data, size_t n)
{
    struct iovec one;
    ssize_t r;
    one.iov_base = (void *)data;
    one.iov_len = n;
    if (s->flags & AIOS__F_SOCK) {
        do r = aios__send1(s->io.fd, data, n); while (r < 0 && errno == EINTR);
    } else {
        do r = aios__writev_nosigpipe(s->io.fd, &one, 1); while (r < 0 && errno == EINTR);
    }
    if (r > 0) { aios__server_touch(s); return (size_t)r; }
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) s->werr = -errno;
    return 0;
}

/* The copies a stream keeps (each with its request header) stay within
 * the write high-water mark, so memory is bounded by the mark and not by
 * what the caller hands over.  The whole of n counts, though the kernel
 * may take part of it at once: whether the write starts is decided before
 * any byte goes out.  An empty queue takes any one copy up to the mark.
 * 0 when the copy fits, else why not. */
AIOS_PRIVATE int aios__copy_refused(const aios_stream *s, size_t n)
{
    size_t room;
    if (n > s->whwm || n > SIZE_MAX - sizeof(aios__wreq)) return -EMSGSIZE;   /* never fits: send it in pieces, or with aios_write */
    if (s->wcopied == 0) return 0;
    room = s->wcopied < s->whwm ? s->whwm - s->wcopied : 0;
    return room > sizeof(aios__wreq) && n <= room - sizeof(aios__wreq) ? 0 : -EAGAIN;
}

/* Write requests without a copy are all one size, and an echo or a
 * request-response exchange takes and gives back one per message: the
 * context keeps a few spare ones, so the steady state calls no allocator.
 * Spares beyond AIOS__WFREE_MAX go back to the heap, so what is kept stays
 * bounded whatever the peak was. */
#define AIOS__WFREE_MAX 16

AIOS_PRIVATE aios__wreq *aios__wreq_new(aios_ctx *c)
{
    aios__wreq *w = c->wfree;
    if (!w) return (aios__wreq *)AIOS_MALLOC(sizeof *w);
    c->wfree = w->next;
    c->nwfree--;
    return w;
}

/* Frees a request that has left its stream's queue. */
AIOS_PRIVATE void aios__wreq_free(aios_ctx *c, aios__wreq *w)
{
    if (w->copied == 0 && c->nwfree < AIOS__WFREE_MAX) {
        w->next = c->wfree;
        c->wfree = w;
        c->nwfree++;
        return;
    }
    AIOS_FREE(w);
}

AIOS_PRIVATE int aios__write_common(aios_stream *s, const void *data, size_t n, int copy, aios_cb cb, void *ud)
{
    aios__wreq *w;
    size_t sent = 0, keep;
    int refused;
    if (!s || (!data && n)) return -EINVAL;
    if (s->flags & (AIOS__F_CLOSING | AIOS__F_GCLOSE)) return AIOS_ECLOSED;
    if (s->flags & (AIOS__F_SHUT_REQ | AIOS__F_SHUT_DONE)) return -EPIPE;
    if (s->werr) return s->werr;
    if (s->io.fd < 0 && !(s->flags & AIOS__F_CONNECTING)) return -ENOTCONN;
    if (copy && (refused = aios__copy_refused(s, n)) != 0) return refused;
    if (n > SIZE_MAX - s->wunsent) return -EOVERFLOW;   /* 32-bit: the count of unsent bytes must not wrap */
    /* The request exists before any byte goes out: a write that returns
     * -ENOMEM has sent nothing, and one that sent something always completes
     * through its callback. */
    w = aios__wreq_new(s->ctx);
    if (!w) return -ENOMEM;
    /* An idle queue tries the kernel first, so a copy is made only of what it refused. */
    if (s->io.fd >= 0 && n > 0 && !aios__wsend(s)) sent = aios__write_direct(s, data, n);
    keep = copy && !s->werr ? n - sent : 0;
    if (keep > 0) {
        aios__wreq *bigger = (aios__wreq *)aios__grow(w, 0, sizeof *w + keep);  /* filled in below */
        if (bigger) {
            w = bigger;
        } else if (sent == 0) {
            w->copied = 0;
            aios__wreq_free(s->ctx, w);
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
    w->deadline = s->side && s->side->wtimeout_ns > 0 ? aios__after_ns(s->ctx, s->side->wtimeout_ns) : INT64_MAX;
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
    /* From one of the stream's own callbacks the running process pass looks
     * at the queue again when the callback returns, and updates what the
     * descriptor is watched for when it ends. */
    if (!(s->flags & AIOS__F_INPROC)) aios__stream_kick(s);
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
    if (s->side && s->side->dcb) return -EBUSY;
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
    if (s->flags & (AIOS__F_SHUT_REQ | AIOS__F_SHUT_DONE)) return -EBUSY;
    if (!(s->flags & AIOS__F_SOCK) && !(s->flags & AIOS__F_CONNECTING)) return -ENOTSOCK;
    if (!aios__stream_side(s)) return -ENOMEM;
    s->flags |= AIOS__F_SHUT_REQ;
    s->side->scb = cb;
    s->side->sud = ud;
    aios__stream_kick(s);
    return 0;
}

/* ==== section: streams, dispatch ==== */

AIOS_PRIVATE void aios__stream_ready(akc_loop *l, akc_io *io, unsigned revents)
{
    aios_stream *s = AIOS__CONTAINER(io, aios_stream, io);
    (void)l;
    if (revents & POLLNVAL) {
        if (!s->rerr) s->rerr = -EBADF;
        if (!s->werr) s->werr = -EBADF;
    }
    if (revents & (POLLOUT | POLLERR | POLLHUP)) aios__stream_flush(s);
    if (revents & (POLLIN | POLLERR | POLLHUP)) aios__stream_read_io(s);
    aios__stream_process(s);
}

AIOS_PRIVATE void aios__stream_update(aios_stream *s)
{
    aios__wreq *wsend;
    unsigned ev = 0;
    if (s->io.fd < 0 || (s->flags & AIOS__F_CLOSING)) return;
    if (s->rop && !(s->flags & AIOS__F_EOF) && !s->rerr && !s->rforce) ev |= POLLIN;
    wsend = s->werr ? NULL : aios__wsend(s);
    if (wsend) ev |= POLLOUT;
    akc_io_want(&s->ctx->core, &s->io, ev);
    if (!s->side) return;
    if (wsend && wsend->deadline != INT64_MAX) {
        if (akc_timer_when(&s->ctx->core, &s->side->w) != wsend->deadline)
            (void)aios__timer_start(s->ctx, &s->side->w, wsend->deadline);
    } else {
        aios__timer_stop(s->ctx, &s->side->w);
    }
}

AIOS_PRIVATE aios__wreq *aios__pop_write(aios_stream *s)
{
    aios__wreq *w = s->whead;
    s->whead = w->next;
    if (!s->whead) s->wtail = NULL;
    s->wunsent -= w->len - w->off;
    s->wcopied -= w->copied;
    return w;
}

AIOS_PRIVATE void aios__call(aios_cb cb, aios_stream *s, int status, void *ud)
{
    if (cb) cb(s, status, ud);
}

/* Delivers one pending callback of a closing stream; 0 when none is left. */
AIOS_PRIVATE int aios__deliver_cancel(aios_stream *s)
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
        aios__wreq_free(s->ctx, w);
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
AIOS_PRIVATE void aios__stream_process(aios_stream *s)
{
    int st, budget = AIOS__PROCESS_MAX;
    unsigned outer = s->flags & AIOS__F_INPROC;   /* a nested call leaves the flag to the outer one */
    s->flags |= AIOS__F_INPROC;
    for (;;) {
        if (s->flags & AIOS__F_CLOSING) {
            if (s->io.fd >= 0 || aios__stream_connector(s)) aios__hard_close(s, s->cancel_status ? s->cancel_status : -ECANCELED);
            if (aios__deliver_cancel(s)) continue;
            aios__call(s->closecb, s, s->close_status, s->closeud);
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
            aios__wreq_free(s->ctx, w);
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
            s->flags &= ~(unsigned)AIOS__F_GCLOSE;
            s->close_status = (short)s->werr;   /* 0: every queued byte went out */
            aios__hard_close(s, -ECANCELED);
            continue;
        }
        break;
    }
    s->flags = (s->flags & ~(unsigned)AIOS__F_INPROC) | outer;
    aios__stream_update(s);
}

/* ==== section: streams, accessors ==== */

AIOS_API void aios_set_limits(aios_stream *s, size_t read_hwm, size_t write_hwm)
{
    if (!s) return;
    if (read_hwm) s->rhwm = read_hwm > UINT32_MAX ? UINT32_MAX : (uint32_t)read_hwm;
    if (write_hwm) s->whwm = write_hwm;
}

AIOS_API int aios_set_timeouts(aios_stream *s, int64_t read_ns, int64_t write_ns)
{
    if (!s || read_ns < 0 || write_ns < 0) return -EINVAL;
    if (read_ns == 0 && write_ns == 0 && !s->side) return 0;
    if (!aios__stream_side(s)) return -ENOMEM;
    s->side->rtimeout_ns = read_ns;
    s->side->wtimeout_ns = write_ns;
    return 0;
}

AIOS_API int aios_stream_fd(const aios_stream *s) { return s ? s->io.fd : -1; }
AIOS_API size_t aios_write_queued(const aios_stream *s) { return s ? s->wunsent : 0; }
AIOS_API void aios_stream_set_ud(aios_stream *s, void *p) { if (s) s->user = p; }
AIOS_API void *aios_stream_ud(const aios_stream *s) { return s ? s->user : NULL; }
AIOS_API aios_server *aios_stream_server(const aios_stream *s) { return s ? s->server : NULL; }

/* ==== section: name resolution ==== */

#ifndef AIOS_NO_RESOLVER

/* A port as decimal text, without pulling printf into small static programs. */
AIOS_PRIVATE void aios__port_text(char out[8], int port)
{
    char digits[8];
    unsigned v = (unsigned)port;
    int k = 0, i = 0;
    do digits[k++] = (char)('0' + v % 10); while ((v /= 10) != 0 && k < 7);
    while (k > 0) out[i++] = digits[--k];
    out[i] = 0;
}

/* One name lookup.  With threads it goes to the context's resolver pool
 * and belongs, at any time, to exactly one party, which its state names
 * (read and changed under the pool's lock): the pool's queue, the thread
 * running getaddrinfo, the loop's post stack, or the connect.  A connect
 * that gives up (closed, timed out, its context closing) takes a queued or
 * posted lookup back and frees it; one inside getaddrinfo is left to its
 * thread, which frees it when getaddrinfo returns. */
enum { AIOS__LOOKUP_NEW, AIOS__LOOKUP_QUEUED, AIOS__LOOKUP_RUNNING, AIOS__LOOKUP_POSTED };

typedef struct aios__resolve {
    akc_post post;                 /* hands the answer to the loop's thread */
    struct aios__resolve *next;    /* in the pool's queue */
    struct aios__connector *conn;  /* the connect waiting for it; NULL: abandoned */
    int state;                     /* AIOS__LOOKUP_* */
    int gai, err;                  /* getaddrinfo's result, and errno right after it */
    struct addrinfo *res;
    int family;
    char port[8];
    char host[1];
} aios__resolve;

AIOS_PRIVATE void aios__resolve_free(aios__resolve *r)
{
    if (r->res) AIOS_SYS_FREEADDRINFO(r->res);
    AIOS_FREE(r);
}

AIOS_PRIVATE void aios__resolve_now(aios__resolve *r)
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
}

#ifndef AIOS_NO_THREADS
/* The resolver pool: at most AIOS_RESOLVER_THREADS threads per context
 * run getaddrinfo; further lookups wait in its queue, oldest first, and a
 * thread leaves when the queue is empty.  Threads are never joined: when
 * the context closes it only marks the pool closed (loop NULL) and drops
 * its reference, so a getaddrinfo stuck on a dead DNS server cannot hold
 * aios_ctx_close.  The pool's memory goes with its last reference (the
 * context's, or that of the last thread to leave). */
struct aios__rpool {
    pthread_mutex_t lock;
    aios__resolve *head, *tail;  /* queued, oldest first */
    akc_loop *loop;              /* where answers go; NULL once the context closed */
    int threads;                 /* running */
    int refs;                    /* the context's, and one per thread */
};

AIOS_PRIVATE void aios__rpool_unref_locked(struct aios__rpool *p)
{
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->lock);
    if (!last) return;
    pthread_mutex_destroy(&p->lock);
    AIOS_FREE(p);
}

/* A thread of the pool: lookups until the queue is empty.  It touches the
 * loop only to post an answer, under the lock, while the pool is open. */
AIOS_PRIVATE void *aios__resolver_main(void *arg)
{
    struct aios__rpool *p = (struct aios__rpool *)arg;
    aios__resolve *r;
    pthread_mutex_lock(&p->lock);
    while ((r = p->head) != NULL) {
        p->head = r->next;
        if (!p->head) p->tail = NULL;
        r->state = AIOS__LOOKUP_RUNNING;
        pthread_mutex_unlock(&p->lock);
        aios__resolve_now(r);
        pthread_mutex_lock(&p->lock);
        if (r->conn && p->loop) {
            r->state = AIOS__LOOKUP_POSTED;
            akc_post_push(p->loop, &r->post);
        } else {
            aios__resolve_free(r);   /* abandoned while it ran */
        }
    }
    p->threads--;
    aios__rpool_unref_locked(p);
    return NULL;
}

/* Threads start with every signal blocked: signals stay with the program's
 * own threads. */
AIOS_PRIVATE int aios__resolver_spawn(struct aios__rpool *p)
{
    pthread_attr_t attr;
    pthread_t th;
    sigset_t all, old;
    int e;
    if ((e = pthread_attr_init(&attr)) != 0) return -e;
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    e = pthread_create(&th, &attr, aios__resolver_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return -e;
}

/* The context's pool, made at its first lookup; 0 or -errno. */
AIOS_PRIVATE int aios__rpool_open(aios_ctx *c)
{
    struct aios__rpool *p;
    int e;
    if (c->resolver_pool) return 0;
    if ((e = akc_wake_open(&c->core)) < 0) return e;   /* answers arrive as posts */
    p = (struct aios__rpool *)AIOS_MALLOC(sizeof *p);
    if (!p) return -ENOMEM;
    memset(p, 0, sizeof *p);
    if ((e = pthread_mutex_init(&p->lock, NULL)) != 0) {
        AIOS_FREE(p);
        return -e;
    }
    p->loop = &c->core;
    p->refs = 1;
    c->resolver_pool = p;
    return 0;
}

/* Queues r for a thread, starting one when fewer than the maximum run. */
AIOS_PRIVATE int aios__resolve_queue(aios_ctx *c, aios__resolve *r)
{
    struct aios__rpool *p;
    int spawn = 0, e = aios__rpool_open(c);
    if (e < 0) return e;
    p = c->resolver_pool;
    pthread_mutex_lock(&p->lock);
    r->next = NULL;
    if (p->tail) p->tail->next = r; else p->head = r;
    p->tail = r;
    r->state = AIOS__LOOKUP_QUEUED;
    if (p->threads < AIOS_RESOLVER_THREADS) {
        p->threads++;
        p->refs++;
        spawn = 1;
    }
    pthread_mutex_unlock(&p->lock);
    if (!spawn || (e = aios__resolver_spawn(p)) == 0) return 0;
    pthread_mutex_lock(&p->lock);
    p->threads--;
    p->refs--;   /* the context's reference remains */
    if (p->threads > 0) e = 0;   /* a running thread takes r before it leaves */
    else { p->head = p->tail = NULL; r->state = AIOS__LOOKUP_NEW; }   /* r was all the queue held */
    pthread_mutex_unlock(&p->lock);
    return e;
}

/* The answer, on the loop's thread: the thread that posted it is done with it. */
AIOS_PRIVATE void aios__resolver_answer(akc_loop *l, akc_post *post);

/* Closing the context: answers still to come are dropped by their threads. */
AIOS_PRIVATE void aios__rpool_close(aios_ctx *c)
{
    struct aios__rpool *p = c->resolver_pool;
    aios__resolve *r;
    if (!p) return;
    c->resolver_pool = NULL;
    pthread_mutex_lock(&p->lock);
    p->loop = NULL;
    while ((r = p->head) != NULL) {   /* none: their connects took them back */
        p->head = r->next;
        aios__resolve_free(r);
    }
    p->tail = NULL;
    aios__rpool_unref_locked(p);
}
#endif /* !AIOS_NO_THREADS */

/* The connect gives r up, whoever holds it (loop thread). */
AIOS_PRIVATE void aios__resolve_abandon(aios_ctx *c, aios__resolve *r)
{
#ifndef AIOS_NO_THREADS
    struct aios__rpool *p = c->resolver_pool;
    aios__resolve **pp, *prev = NULL;
    if (p) {
        pthread_mutex_lock(&p->lock);
        switch (r->state) {
        case AIOS__LOOKUP_QUEUED:
            for (pp = &p->head; *pp != r; pp = &prev->next) prev = *pp;
            *pp = r->next;
            if (p->tail == r) p->tail = prev;
            break;
        case AIOS__LOOKUP_RUNNING:
            r->conn = NULL;   /* its thread frees it */
            r = NULL;
            break;
        case AIOS__LOOKUP_POSTED:   /* taken off the loop's stack */
            akc_post_withdraw(&c->core, &r->post);
            break;
        default:                    /* never queued, or answered */
            break;
        }
        pthread_mutex_unlock(&p->lock);
    }
#endif
    c->lookups--;
    if (r) aios__resolve_free(r);
}

/* err: errno of the thread that called getaddrinfo, read right after it */
AIOS_PRIVATE int aios__gai_error(int gai, int err)
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
    akc_io io;
    struct aios__connector *c;
} aios__attempt;

typedef struct aios__connector {
    aios_stream *s;
#ifndef AIOS_NO_RESOLVER
    aios__resolve *res;
#endif
    akc_timer delay, deadline;
    akc_defer start;
    aios__attempt att[AIOS__MAX_ATTEMPTS];
    struct sockaddr_storage addrs[AIOS__MAX_ADDRS];
    socklen_t alen[AIOS__MAX_ADDRS];
    int naddr, next, active, last_err, nodelay;
    int64_t delay_ns, keepalive_ns;
    int retries;  /* Unix connects retried while the listener's backlog is full */
} aios__connector;

AIOS_PRIVATE void aios__connector_free(aios_stream *s)
{
    aios__connector *c = aios__stream_connector(s);
    aios_ctx *ctx = s->ctx;
    int i;
    if (!c) return;
    for (i = 0; i < AIOS__MAX_ATTEMPTS; i++) {
        if (c->att[i].io.fd < 0) continue;
        akc_io_close(&ctx->core, &c->att[i].io);
        AIOS_SYS_CLOSE(c->att[i].io.fd);
    }
#ifndef AIOS_NO_RESOLVER
    if (c->res) aios__resolve_abandon(ctx, c->res);
#endif
    aios__timer_stop(ctx, &c->delay);
    aios__timer_stop(ctx, &c->deadline);
    akc_defer_cancel(&c->start);
    AIOS_FREE(c);
    s->side->conn = NULL;
}

AIOS_PRIVATE void aios__connect_done(aios_stream *s, int status)
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

AIOS_PRIVATE void aios__tune_socket(int fd, int family, int nodelay, int64_t keepalive_ns)
{
    int one = 1;
    if (family != AF_INET && family != AF_INET6) return;
    if (nodelay) (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (keepalive_ns > 0) {
        int keepalive_s = keepalive_ns < AKC_SEC(1) ? 1 : keepalive_ns > AKC_SEC(INT32_MAX) ? INT32_MAX : (int)(keepalive_ns / AKC_SEC(1));
        (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
#ifdef TCP_KEEPIDLE
        (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keepalive_s, sizeof keepalive_s);
#endif
    }
}

AIOS_PRIVATE void aios__connect_won(aios__connector *c, int slot)
{
    aios_stream *s = c->s;
    int fd = c->att[slot].io.fd;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    akc_io_close(&s->ctx->core, &c->att[slot].io);
    c->att[slot].io.fd = -1;
    s->io.fd = fd;
    s->flags |= AIOS__F_SOCK;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        aios__tune_socket(fd, ss.ss_family, c->nodelay, c->keepalive_ns);
    aios__connect_done(s, 0);
}

AIOS_PRIVATE void aios__attempt_failed(aios__connector *c, int slot, int err);
AIOS_PRIVATE void aios__attempt_ready(akc_loop *l, akc_io *io, unsigned revents);

#define AIOS__UNIX_RETRIES 50

/* Starts the next address; returns 1 if an attempt (or a retry) is now pending, 0 if none could start. */
AIOS_PRIVATE int aios__attempt_next(aios__connector *c)
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
            if (aios__timer_start(c->s->ctx, &c->delay, aios__after_ms(c->s->ctx, ms)) == 0) return 1;
            c->next++;
            continue;
        }
        if (r < 0 && errno != EINPROGRESS && errno != EINTR) {
            c->last_err = -errno;
            AIOS_SYS_CLOSE(fd);
            continue;
        }
        akc_io_init(&c->att[slot].io, fd, AIOS__IO_ATTEMPT);
        akc_io_handle(&c->s->ctx->core, AIOS__IO_ATTEMPT, aios__attempt_ready);
        c->att[slot].c = c;
        if (akc_io_open(&c->s->ctx->core, &c->att[slot].io) < 0) {
            AIOS_SYS_CLOSE(fd);
            c->att[slot].io.fd = -1;
            c->last_err = -ENOMEM;
            continue;
        }
        akc_io_want(&c->s->ctx->core, &c->att[slot].io, POLLOUT);
        c->active++;
        if (c->next < c->naddr && c->delay_ns > 0)
            (void)aios__timer_start(c->s->ctx, &c->delay, aios__after_ns(c->s->ctx, c->delay_ns));
        return 1;
    }
    return c->active > 0;
}

AIOS_PRIVATE void aios__attempt_failed(aios__connector *c, int slot, int err)
{
    akc_io_close(&c->s->ctx->core, &c->att[slot].io);
    AIOS_SYS_CLOSE(c->att[slot].io.fd);
    c->att[slot].io.fd = -1;
    c->active--;
    c->last_err = err;
    if (!aios__attempt_next(c)) aios__connect_done(c->s, c->last_err ? c->last_err : -ECONNREFUSED);
}

AIOS_PRIVATE void aios__attempt_ready(akc_loop *l, akc_io *io, unsigned revents)
{
    aios__attempt *a = AIOS__CONTAINER(io, aios__attempt, io);
    aios__connector *c = a->c;
    int slot = (int)(a - c->att);
    int err = 0;
    socklen_t len = sizeof err;
    (void)l;
    (void)revents;
    if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0) aios__connect_won(c, slot);
    else aios__attempt_failed(c, slot, -err);
}

AIOS_PRIVATE void aios__connect_begin(aios__connector *c)
{
    if (c->naddr == 0) { aios__connect_done(c->s, c->last_err ? c->last_err : AIOS_ENOTFOUND); return; }
    if (!aios__attempt_next(c)) aios__connect_done(c->s, c->last_err ? c->last_err : -ECONNREFUSED);
}

AIOS_PRIVATE void aios__connect_delay_fire(akc_loop *l, akc_timer *t)
{
    (void)l;
    aios__connector *c = AIOS__CONTAINER(t, aios__connector, delay);
    if (!aios__attempt_next(c)) aios__connect_done(c->s, c->last_err ? c->last_err : -ECONNREFUSED);
}

AIOS_PRIVATE void aios__connect_deadline_fire(akc_loop *l, akc_timer *t)
{
    (void)l;
    aios__connector *c = AIOS__CONTAINER(t, aios__connector, deadline);
    aios__connect_done(c->s, -ETIMEDOUT);
}

#ifndef AIOS_NO_RESOLVER
/* Orders addresses the way RFC 8305 suggests: alternate families, first family first. */
AIOS_PRIVATE void aios__take_addrs(aios__connector *c, const struct addrinfo *list)
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

AIOS_PRIVATE void aios__resolved(aios__connector *c)
{
    aios__resolve *r = c->res;
    int err;
    c->res = NULL;
    c->s->ctx->lookups--;
    err = aios__gai_error(r->gai, r->err);
    aios__take_addrs(c, r->res);
    aios__resolve_free(r);
    if (err < 0 && c->naddr == 0) { aios__connect_done(c->s, err); return; }
    aios__connect_begin(c);
}
#endif /* AIOS_NO_RESOLVER */

#ifndef AIOS_NO_THREADS
AIOS_PRIVATE void aios__resolver_answer(akc_loop *l, akc_post *post)
{
    aios__resolve *r = AIOS__CONTAINER(post, aios__resolve, post);
    (void)l;
    r->state = AIOS__LOOKUP_NEW;   /* the connect's own from here */
    aios__resolved(r->conn);
}
#endif

AIOS_PRIVATE void aios__connect_start_run(akc_loop *l, akc_defer *d)
{
    aios__connector *c = AIOS__CONTAINER(d, aios__connector, start);
    (void)l;
#ifndef AIOS_NO_RESOLVER
    if (c->res) {  /* only without a resolver thread */
        aios__resolve_now(c->res);
        aios__resolved(c);
        return;
    }
#endif
    aios__connect_begin(c);
}

AIOS_PRIVATE int aios__parse_numeric(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
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

AIOS_PRIVATE aios__connector *aios__connector_new(aios_stream *s)
{
    aios__connector *c = (aios__connector *)AIOS_MALLOC(sizeof *c);
    int i;
    if (!c) return NULL;
    if (!aios__stream_side(s)) { AIOS_FREE(c); return NULL; }
    memset(c, 0, sizeof *c);
    c->s = s;
    for (i = 0; i < AIOS__MAX_ATTEMPTS; i++) akc_io_init(&c->att[i].io, -1, AIOS__IO_ATTEMPT);
    akc_timer_init(&c->delay, aios__connect_delay_fire);
    akc_timer_init(&c->deadline, aios__connect_deadline_fire);
    akc_defer_init(&c->start, aios__connect_start_run);
    s->ctx->connect_free = aios__connector_free;
    s->side->conn = c;
    s->flags |= AIOS__F_CONNECTING;
    return c;
}

AIOS_API void aios_tcp_opts_init(aios_tcp_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->attempt_delay_ns = AKC_MS(250);
    o->nodelay = 1;
}

AIOS_PRIVATE void aios__stream_discard(aios_stream *s)
{
    aios__connector_free(s);
    aios__stream_free(s);
}

AIOS_API int aios_tcp_connect(aios_stream **out, aios_ctx *ctx, const char *host, int port,
                              const aios_tcp_opts *o, aios_cb cb, void *ud)
{
    aios_tcp_opts defaults;
    aios_stream *s;
    aios__connector *c;
    if (!ctx || !out || !host || !*host || port <= 0 || port > 65535) return -EINVAL;
    *out = NULL;
    if (!o) { aios_tcp_opts_init(&defaults); o = &defaults; }
    s = aios__stream_new(ctx, -1, NULL);
    if (!s) return -ENOMEM;
    c = aios__connector_new(s);
    if (!c) { aios__stream_free(s); return -ENOMEM; }
    aios_set_limits(s, o->read_hwm, o->write_hwm);
    s->side->ccb = cb;
    s->side->cud = ud;
    c->delay_ns = o->attempt_delay_ns;
    c->nodelay = o->nodelay;
    c->keepalive_ns = o->keepalive_ns;
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
        r->conn = c;
        c->res = r;
        ctx->lookups++;
#ifndef AIOS_NO_THREADS
        {
            int e;
            r->post.fn = aios__resolver_answer;
            if ((e = aios__resolve_queue(ctx, r)) < 0) { aios__stream_discard(s); return e; }
        }
#endif
#endif /* AIOS_NO_RESOLVER */
    }
    if (o->timeout_ns > 0 && aios__timer_start(ctx, &c->deadline, aios__after_ns(ctx, o->timeout_ns)) < 0) {
        aios__stream_discard(s);
        return -ENOMEM;
    }
#ifndef AIOS_NO_THREADS
    if (!c->res)
#endif
        akc_defer_queue(&ctx->core, &c->start);
    *out = s;
    return 0;
}

AIOS_API int aios_unix_connect(aios_stream **out, aios_ctx *ctx, const char *path, aios_cb cb, void *ud)
{
    struct sockaddr_un *un;
    aios_stream *s;
    aios__connector *c;
    size_t n;
    if (!ctx || !out || !path) return -EINVAL;
    *out = NULL;
    n = strlen(path);
    if (n == 0 || n >= sizeof un->sun_path) return -ENAMETOOLONG;
    s = aios__stream_new(ctx, -1, NULL);
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
    akc_defer_queue(&ctx->core, &c->start);
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
    cfg->retry_ns = AKC_MS(100);
}

AIOS_PRIVATE void aios__server_update(aios_server *srv)
{
    int i;
    unsigned ev = (srv->paused || srv->shutting) ? 0 : POLLIN;
    for (i = 0; i < srv->nlis; i++) akc_io_want(&srv->ctx->core, &srv->lis[i].io, ev);
}

AIOS_PRIVATE void aios__server_retry_fire(akc_loop *l, akc_timer *t)
{
    (void)l;
    aios_server *srv = AIOS__CONTAINER(t, aios_server, retry);
    srv->paused = 0;
    aios__server_update(srv);
}

AIOS_PRIVATE int aios__fd_shortage(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/* A server's connections in the order of their last activity (bytes read
 * or written), the one idle longest at the head: moving one to the tail
 * costs four pointers, so every read and write may do it. */
AIOS_PRIVATE void aios__idle_unlink(aios_server *srv, aios_stream *s)
{
    if (s->prev) s->prev->next = s->next; else srv->idle_head = s->next;
    if (s->next) s->next->prev = s->prev; else srv->idle_tail = s->prev;
    s->prev = s->next = NULL;
}

AIOS_PRIVATE void aios__idle_append(aios_server *srv, aios_stream *s)
{
    s->prev = srv->idle_tail;
    s->next = NULL;
    if (srv->idle_tail) srv->idle_tail->next = s; else srv->idle_head = s;
    srv->idle_tail = s;
}

AIOS_PRIVATE void aios__server_touch(aios_stream *s)
{
    aios_server *srv = s->server;
    if (!srv || srv->idle_tail == s) return;
    aios__idle_unlink(srv, s);
    aios__idle_append(srv, s);
}

/* Closes the connection idle longest (its operations end with -ECANCELED,
 * as in a forced shutdown); its descriptor is free at once.  0 when every
 * connection is already closing. */
AIOS_PRIVATE int aios__server_evict(aios_server *srv)
{
    aios_stream *s;
    for (s = srv->idle_head; s; s = s->next) {
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

AIOS_PRIVATE void aios__listener_ready(akc_loop *lp, akc_io *io, unsigned revents)
{
    aios__listener *l = AIOS__CONTAINER(io, aios__listener, io);
    aios_server *srv = l->srv;
    int i;
    (void)lp;
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
                (void)aios__timer_start(srv->ctx, &srv->retry, aios__after_ns(srv->ctx, srv->cfg.retry_ns > 0 ? srv->cfg.retry_ns : AKC_MS(100)));
            }
            break;
        }
        if (over && !(srv->cfg.evict_idle && aios__server_evict(srv))) {
            AIOS_SYS_CLOSE(fd);
            srv->stats.rejected++;
            continue;
        }
        if (ss.ss_family == AF_UNIX && len < sizeof ss) ((char *)&ss)[len] = 0;  /* unnamed peers */
        s = aios__stream_new(srv->ctx, fd, srv);
        if (!s) { AIOS_SYS_CLOSE(fd); srv->stats.rejected++; continue; }
        s->flags |= AIOS__F_SOCK;
        aios_set_limits(s, srv->cfg.read_hwm, srv->cfg.write_hwm);
        aios__tune_socket(fd, ss.ss_family, srv->cfg.nodelay, 0);
        srv->stats.accepted++;
        srv->stats.active++;
        srv->on_conn(srv, s, (const struct sockaddr *)&ss, srv->ud);
    }
    aios__server_update(srv);
}

AIOS_PRIVATE void aios__server_finish_run(akc_loop *l, akc_defer *d)
{
    aios_server *srv = AIOS__CONTAINER(d, aios_server, finish);
    aios_ctx *c = srv->ctx;
    aios_server_cb cb = srv->shut_cb;
    void *ud = srv->shut_ud;
    (void)l;
    aios__timer_stop(c, &srv->grace);
    aios__timer_stop(c, &srv->retry);
    if (srv->prev) srv->prev->next = srv->next; else c->servers = srv->next;
    if (srv->next) srv->next->prev = srv->prev;
    srv->prev = srv->next = NULL;
    srv->done = 1;
    if (cb) cb(srv, (int)srv->stats.forced, ud);
}

AIOS_PRIVATE void aios__server_conn_gone(aios_server *srv, aios_stream *s)
{
    if (s->flags & AIOS__F_EVICTED) srv->evicting--;
    else aios__idle_unlink(srv, s);
    srv->stats.active--;
    if (srv->paused) {
        srv->paused = 0;
        aios__timer_stop(srv->ctx, &srv->retry);
        aios__server_update(srv);
    }
    if (srv->shutting && srv->stats.active == 0) akc_defer_queue(&srv->ctx->core, &srv->finish);
}

AIOS_PRIVATE void aios__server_force(aios_server *srv)
{
    aios_stream *s;
    for (s = srv->idle_head; s; s = s->next) {
        if (s->flags & AIOS__F_CLOSING) continue;
        srv->stats.forced++;
        aios__hard_close(s, -ECANCELED);
    }
}

AIOS_PRIVATE void aios__server_grace_fire(akc_loop *l, akc_timer *t)
{
    (void)l;
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
        if (it == srv) return -EBUSY;
    memset(srv, 0, sizeof *srv);
    if (cfg) srv->cfg = *cfg; else aios_server_config_init(&srv->cfg);
    if (srv->cfg.accept_batch <= 0) srv->cfg.accept_batch = 32;
    if (srv->cfg.backlog <= 0) srv->cfg.backlog = 511;
    srv->ctx = ctx;
    srv->on_conn = on_conn;
    srv->ud = ud;
    for (i = 0; i < AIOS_MAX_LISTENERS; i++) akc_io_init(&srv->lis[i].io, -1, AIOS__IO_LISTENER);
    akc_timer_init(&srv->retry, aios__server_retry_fire);
    akc_timer_init(&srv->grace, aios__server_grace_fire);
    akc_defer_init(&srv->finish, aios__server_finish_run);
    srv->next = ctx->servers;
    if (ctx->servers) ctx->servers->prev = srv;
    ctx->servers = srv;
    return 0;
}

AIOS_PRIVATE int aios__listen_fd(aios_server *srv, int fd)
{
    aios__listener *l;
    if (listen(fd, srv->cfg.backlog) < 0) { int e = -errno; AIOS_SYS_CLOSE(fd); return e; }
    l = &srv->lis[srv->nlis];
    akc_io_init(&l->io, fd, AIOS__IO_LISTENER);
    akc_io_handle(&srv->ctx->core, AIOS__IO_LISTENER, aios__listener_ready);
    l->srv = srv;
    if (akc_io_open(&srv->ctx->core, &l->io) < 0) { AIOS_SYS_CLOSE(fd); return -ENOMEM; }
    srv->nlis++;
    aios__server_update(srv);
    return 0;
}

AIOS_PRIVATE int aios__bind_tcp(aios_server *srv, const struct sockaddr *sa, socklen_t len, int dual)
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

AIOS_API int aios_server_shutdown(aios_server *srv, int64_t timeout_ns, aios_server_cb cb, void *ud)
{
    int i;
    if (!srv || !srv->ctx) return -EINVAL;
    if (srv->shutting || srv->done) return AIOS_ECLOSED;
    /* the grace timer first: without memory for it nothing changes (a graceful
     * shutdown must not turn into a forced one unasked) */
    if (srv->stats.active > 0 && timeout_ns > 0 && aios__timer_start(srv->ctx, &srv->grace, aios__after_ns(srv->ctx, timeout_ns)) < 0)
        return -ENOMEM;
    srv->shutting = 1;
    srv->shut_cb = cb;
    srv->shut_ud = ud;
    aios__timer_stop(srv->ctx, &srv->retry);
    for (i = 0; i < srv->nlis; i++) {
        akc_io_close(&srv->ctx->core, &srv->lis[i].io);
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
    if (srv->stats.active == 0) akc_defer_queue(&srv->ctx->core, &srv->finish);
    else if (timeout_ns <= 0) aios__server_force(srv);
    return 0;
}

/* Text output for aios_format_addr without stdio (snprintf and inet_ntop would
 * pull stdio's exit handling into every static program that links this file). */
AIOS_PRIVATE size_t aios__put_text(char *buf, size_t n, size_t at, const char *text, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++, at++)
        if (at < n) buf[at] = text[i];
    return at;
}

AIOS_PRIVATE size_t aios__put_num(char *buf, size_t n, size_t at, unsigned v, unsigned base)
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

AIOS_PRIVATE size_t aios__put_v4(char *buf, size_t n, size_t at, const unsigned char *a)
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
AIOS_PRIVATE size_t aios__put_v6(char *buf, size_t n, size_t at, const unsigned char *a)
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

AIOS_PRIVATE speed_t aios__baud(int baud)
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

AIOS_API int aios_serial_open(aios_stream **out, aios_ctx *ctx, const char *path, int baud)
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
    r = aios_stream_open(out, ctx, fd, 0);
    if (r < 0) close(fd);
    return r;
}

/* ==== section: withdrawing an operation (the await bridge) ==== */

/* The read ends without its callback.  Bytes it had already moved into
 * the caller's buffer (read some, read exactly) go back in front of the
 * stream's buffer, so the next read sees the stream as if this one had
 * never been; without memory for that the read side fails with -ENOMEM. */
AIOS_PRIVATE void aios__withdraw_read(aios_stream *s)
{
    if (!s->rop) return;
    if ((s->rop == AIOS__R_SOME || s->rop == AIOS__R_EXACT) && s->rgot > 0) {
        size_t have = aios__buffered(s), n = (size_t)s->rgot + have;
        char *b = n <= (size_t)UINT32_MAX ? (char *)AIOS_MALLOC(n) : NULL;
        if (b) {
            memcpy(b, s->ru.dst, s->rgot);
            if (have) memcpy(b + s->rgot, s->rbuf + s->rstart, have);
            AIOS_FREE(s->rbuf);
            s->rbuf = b;
            s->rcap = (uint32_t)n;
            s->rstart = 0;
            s->rend = (uint32_t)n;
        } else if (!s->rerr) {
            s->rerr = -ENOMEM;
        }
    }
    s->rop = AIOS__R_NONE;
    s->rcb = NULL;
    s->rforce = 0;
    s->rscan = 0;
    if (!(s->flags & AIOS__F_GCLOSE)) aios__stream_stop_rtimer(s);
    aios__stream_update(s);
}

/* The write (cb, ud) ends without its callback: dropped when none of its
 * bytes went out, else finished from a copy of what is left (the caller's
 * buffer may go away); without memory for the copy the write side fails. */
AIOS_PRIVATE void aios__withdraw_write(aios_stream *s, aios_cb cb, void *ud)
{
    aios__wreq **pp, *w, *prev = NULL;
    for (pp = &s->whead; (w = *pp) != NULL; prev = w, pp = &w->next)
        if (w->cb == cb && w->ud == ud) break;
    if (!w) return;
    if (w->off == 0) {
        *pp = w->next;
        if (s->wtail == w) s->wtail = prev;
        s->wunsent -= w->len;
        s->wcopied -= w->copied;
        aios__wreq_free(s->ctx, w);
        aios__stream_update(s);
        return;
    }
    w->cb = NULL;
    if (!w->copied && w->off < w->len) {
        size_t left = w->len - w->off;
        aios__wreq *c = (aios__wreq *)AIOS_MALLOC(sizeof *c + left);
        if (!c) {
            if (!s->werr) s->werr = -ENOMEM;
            return;
        }
        *c = *w;
        memcpy((char *)(c + 1), w->data + w->off, left);
        c->data = (const char *)(c + 1);
        c->len = left;
        c->off = 0;
        c->copied = sizeof *c + left;
        s->wcopied += c->copied;
        *pp = c;
        if (s->wtail == w) s->wtail = c;
        aios__wreq_free(s->ctx, w);
    }
}

AIOS_API void aios__withdraw(aios_stream *s, int what, aios_cb cb, void *ud)
{
    if (!s) return;
    switch (what) {
    case AIOS__WD_READ:
        if (s->rcb == cb && s->rud == ud) aios__withdraw_read(s);
        break;
    case AIOS__WD_WRITE:
        aios__withdraw_write(s, cb, ud);
        break;
    case AIOS__WD_DRAIN:
        if (s->side && s->side->dcb == cb && s->side->dud == ud) s->side->dcb = NULL;
        break;
    case AIOS__WD_SHUTDOWN:   /* the shutdown goes on; nobody waits for it */
        if (s->side && s->side->scb == cb && s->side->sud == ud) s->side->scb = NULL;
        break;
    case AIOS__WD_CONNECT:    /* abandoned: the stream stays, as after a failed connect */
        if ((s->flags & AIOS__F_CONNECTING) && s->side && s->side->ccb == cb && s->side->cud == ud) {
            s->side->ccb = NULL;
            aios__connect_done(s, -ECANCELED);
        }
        break;
    default:
        break;
    }
}

AIOS_API void aios__server_withdraw(aios_server *srv)
{
    if (srv) srv->shut_cb = NULL;   /* the shutdown goes on; nobody waits for it */
}

/* ==== section: datagrams ==== */

/* A datagram socket receives into a ring of recv_batch slots, filled by
 * one recvmmsg, and hands the datagrams out one per aios_recv; its sends
 * queue (copied) and go out together, in one sendmmsg, when the loop's
 * pass ends.  Where the C library declares neither (or the kernel says
 * ENOSYS), recvmsg and sendmsg take one datagram per call instead. */

#include <net/if.h>

#if !defined(AIOS_NO_MMSG) && ((defined(__GLIBC__) && !defined(__USE_GNU)) || (!defined(__GLIBC__) && !defined(_GNU_SOURCE)))
#define AIOS_NO_MMSG 1   /* recvmmsg and sendmmsg are not declared */
#endif
#ifdef AIOS_NO_MMSG
typedef struct { struct msghdr msg_hdr; unsigned int msg_len; } aios__mmsg;
#else
typedef struct mmsghdr aios__mmsg;
#ifndef AIOS_SYS_RECVMMSG
#define AIOS_SYS_RECVMMSG(fd, v, n, flags) recvmmsg((fd), (v), (n), (flags), NULL)
#endif
#ifndef AIOS_SYS_SENDMMSG
#define AIOS_SYS_SENDMMSG(fd, v, n, flags) sendmmsg((fd), (v), (n), (flags))
#endif
#endif
#ifndef AIOS_SYS_RECVMSG
#define AIOS_SYS_RECVMSG(fd, msg, flags) recvmsg((fd), (msg), (flags))
#endif

/* The highest kind the core leaves to a header, away from the stream
 * kinds that count up from 1. */
#define AIOS__IO_DGRAM (AKC_IO_KINDS - 2)
#define AIOS__SEND_BATCH 64
#define AIOS__RECV_BATCH_MAX 64

enum {
    AIOS__D_NOCLOSE = 1u,    /* the program keeps the descriptor */
    AIOS__D_CLOSING = 2u,
    AIOS__D_MORE = 4u,       /* the socket may hold more: take without waiting for readiness */
    AIOS__D_SWAIT = 8u,      /* the kernel refused a send: wait until writable */
    AIOS__D_CONNECTED = 16u
};

/* A queued datagram; its address (alen bytes, 0 for the connected peer)
 * and then its bytes follow the header in the same block. */
typedef struct aios__sreq {
    struct aios__sreq *next;
    aios_dgram_cb cb;
    void *ud;
    size_t size;             /* the block: what it counts in the queue */
    size_t len;
    unsigned alen;
    int status, done;        /* done: sent, or failed with status */
} aios__sreq;

#define AIOS__SREQ_ADDR(r) ((char *)((r) + 1))
#define AIOS__SREQ_DATA(r) (AIOS__SREQ_ADDR(r) + (((r)->alen + 7u) & ~7u))

struct aios_dgram {
    aios_ctx *ctx;
    struct aios_dgram *next, *prev;   /* the context's datagram sockets */
    akc_io io;
    akc_defer kick;          /* completions and the send flush, from dispatch */
    akc_timer resume;        /* hands out the rest of the ring next iteration */
    unsigned flags;
    int family;              /* of the socket: AF_INET, AF_INET6, AF_UNIX */
    /* receiving: ring slots, each recv_size bytes, an address, a header */
    void *ring;              /* one block, allocated by the first receive */
    aios__mmsg *rmsg;
    struct iovec *riov;
    struct sockaddr_storage *rname;
    char *rbuf;
    int rn, rpos;            /* datagrams in the ring; the next to hand out */
    int rbatch, rmax, rcount;
    unsigned long long riter; /* the loop iteration that rcount counts */
    size_t rsize, rcap, rlast;
    void *rdst;
    aios_dgram_cb rcb;       /* the receive waiting, or NULL */
    void *rud;
    aios_addr from;          /* the sender of the datagram handed out last */
    /* sending */
    aios__sreq *shead, *stail;
    size_t squeued, shwm;
    aios_dgram_cb closecb;
    void *closeud;
    void *user;
    char unix_path[108];     /* the socket file bound, removed at close if still ours */
    uint64_t unix_dev, unix_ino;
};

AIOS_API void aios_dgram_opts_init(aios_dgram_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->recv_size = 2048;
    o->recv_batch = 16;
    o->recv_max = 64;
    o->send_hwm = (size_t)256 * 1024;
}

/* ---- addresses ---- */

AIOS_API const struct sockaddr *aios_addr_sa(const aios_addr *a)
{
    return a ? (const struct sockaddr *)(const void *)a->u.bytes : NULL;
}

AIOS_PRIVATE int aios__addr_family(const aios_addr *a)
{
    return a->len >= sizeof(sa_family_t) ? aios_addr_sa(a)->sa_family : AF_UNSPEC;
}

/* "eth0", or an index in decimal; NULL or "": 0 (the system's choice). */
AIOS_PRIVATE int aios__ifindex(const char *iface, unsigned *idx)
{
    const char *p;
    unsigned v = 0;
    *idx = 0;
    if (!iface || !*iface) return 0;
    for (p = iface; *p >= '0' && *p <= '9' && v < 100000000u; p++) v = v * 10 + (unsigned)(*p - '0');
    *idx = (!*p && v > 0) ? v : if_nametoindex(iface);
    return *idx ? 0 : -ENODEV;
}

AIOS_API int aios_addr_set(aios_addr *a, const char *host, int port)
{
    struct sockaddr_in *v4;
    struct sockaddr_in6 *v6;
    char tmp[64];
    const char *scope;
    size_t n;
    if (!a || !host || port < 0 || port > 65535) return -EINVAL;
    memset(a, 0, sizeof *a);
    v4 = (struct sockaddr_in *)(void *)a->u.bytes;
    v6 = (struct sockaddr_in6 *)(void *)a->u.bytes;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        a->len = sizeof *v4;
        return 0;
    }
    n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') { host++; n -= 2; }
    if (n == 0 || n >= sizeof tmp) return -EINVAL;
    memcpy(tmp, host, n);
    tmp[n] = 0;
    scope = strchr(tmp, '%');   /* fe80::1%eth0: the interface of a link-local address */
    if (scope) tmp[scope++ - tmp] = 0;
    if (inet_pton(AF_INET6, tmp, &v6->sin6_addr) != 1) return -EINVAL;
    if (scope && aios__ifindex(scope, &v6->sin6_scope_id) < 0) return -ENODEV;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    a->len = sizeof *v6;
    return 0;
}

AIOS_API int aios_addr_unix(aios_addr *a, const char *path)
{
    struct sockaddr_un *un;
    size_t n;
    if (!a || !path) return -EINVAL;
    memset(a, 0, sizeof *a);
    un = (struct sockaddr_un *)(void *)a->u.bytes;
    n = strlen(path);
    if (n == 0 || n >= sizeof un->sun_path) return -ENAMETOOLONG;
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n);
    if (path[0] == '@') {   /* Linux's abstract names: a NUL first, and no NUL after */
        un->sun_path[0] = 0;
        a->len = (unsigned)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        a->len = (unsigned)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

AIOS_API int aios_addr_port(const aios_addr *a)
{
    if (!a) return -EINVAL;
    switch (aios__addr_family(a)) {
    case AF_INET: return ntohs(((const struct sockaddr_in *)(const void *)a->u.bytes)->sin_port);
    case AF_INET6: return ntohs(((const struct sockaddr_in6 *)(const void *)a->u.bytes)->sin6_port);
    default: return 0;
    }
}

AIOS_API int aios_addr_equal(const aios_addr *a, const aios_addr *b)
{
    int fam;
    if (!a || !b || (fam = aios__addr_family(a)) != aios__addr_family(b)) return 0;
    if (fam == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a->u.bytes;
        const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)b->u.bytes;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (fam == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a->u.bytes;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)b->u.bytes;
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return a->len == b->len && memcmp(a->u.bytes, b->u.bytes, a->len) == 0;
}

/* What the kernel said a sender was; on a dual-stack socket an IPv4 peer
 * comes as ::ffff:a.b.c.d and is given back as the IPv4 address it is. */
AIOS_PRIVATE void aios__addr_take(aios_addr *a, const struct sockaddr_storage *ss, socklen_t len)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)ss;
    if (len > sizeof a->u.bytes) len = sizeof a->u.bytes;
    if (ss->ss_family == AF_INET6 && len >= sizeof *v6 && memcmp(&v6->sin6_addr, mapped, 12) == 0) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)a->u.bytes;
        memset(a, 0, sizeof *a);
        v4->sin_family = AF_INET;
        v4->sin_port = v6->sin6_port;
        memcpy(&v4->sin_addr, (const unsigned char *)&v6->sin6_addr + 12, 4);
        a->len = sizeof *v4;
        return;
    }
    memcpy(a->u.bytes, ss, len);
    a->len = (unsigned)len;
}

/* The address to hand the kernel: an IPv4 one becomes ::ffff:a.b.c.d on
 * an IPv6 socket (which takes IPv4 unless it is IPv6 only). */
AIOS_PRIVATE const aios_addr *aios__addr_out(const aios_dgram *d, const aios_addr *a, aios_addr *tmp)
{
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)a->u.bytes;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)tmp->u.bytes;
    if (d->family != AF_INET6 || aios__addr_family(a) != AF_INET) return a;
    memset(tmp, 0, sizeof *tmp);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = v4->sin_port;
    v6->sin6_addr.s6_addr[10] = v6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&v6->sin6_addr.s6_addr[12], &v4->sin_addr, 4);
    tmp->len = sizeof *v6;
    return tmp;
}

/* ---- lifecycle ---- */

AIOS_PRIVATE void aios__dgram_process(aios_dgram *d, unsigned revents);
AIOS_PRIVATE void aios__dgram_update(aios_dgram *d);

AIOS_PRIVATE void aios__dgram_ready(akc_loop *l, akc_io *io, unsigned revents)
{
    (void)l;
    aios__dgram_process(AIOS__CONTAINER(io, aios_dgram, io), revents);
}

AIOS_PRIVATE void aios__dgram_kick_run(akc_loop *l, akc_defer *k)
{
    (void)l;
    aios__dgram_process(AIOS__CONTAINER(k, aios_dgram, kick), 0);
}

AIOS_PRIVATE void aios__dgram_resume_fire(akc_loop *l, akc_timer *t)
{
    (void)l;
    aios__dgram_process(AIOS__CONTAINER(t, aios_dgram, resume), 0);
}

AIOS_PRIVATE void aios__dgram_kick(aios_dgram *d)
{
    akc_defer_queue(&d->ctx->core, &d->kick);
}

AIOS_PRIVATE void aios__dgrams_close(aios_ctx *c);

AIOS_PRIVATE int aios__dgram_new(aios_dgram **out, aios_ctx *c, int fd, const aios_dgram_opts *o)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    aios_dgram *d = (aios_dgram *)AIOS_MALLOC(sizeof *d);
    if (!d) return -ENOMEM;
    memset(d, 0, sizeof *d);
    d->ctx = c;
    akc_io_init(&d->io, fd, AIOS__IO_DGRAM);
    akc_io_handle(&c->core, AIOS__IO_DGRAM, aios__dgram_ready);
    if (akc_io_open(&c->core, &d->io) < 0) { AIOS_FREE(d); return -ENOMEM; }
    akc_defer_init(&d->kick, aios__dgram_kick_run);
    akc_timer_init(&d->resume, aios__dgram_resume_fire);
    ss.ss_family = AF_UNSPEC;
    d->family = getsockname(fd, (struct sockaddr *)(void *)&ss, &len) == 0 ? ss.ss_family : AF_UNSPEC;
    d->rsize = o->recv_size > 0 ? (o->recv_size > 65536 ? 65536 : o->recv_size) : 2048;
    d->rbatch = o->recv_batch > 0 ? (o->recv_batch > AIOS__RECV_BATCH_MAX ? AIOS__RECV_BATCH_MAX : o->recv_batch) : 16;
    d->rmax = o->recv_max > 0 ? o->recv_max : 64;
    d->shwm = o->send_hwm > 0 ? o->send_hwm : (size_t)256 * 1024;
    d->next = c->dgrams;
    if (c->dgrams) c->dgrams->prev = d;
    c->dgrams = d;
    c->dgrams_close = aios__dgrams_close;
    *out = d;
    return 0;
}

AIOS_PRIVATE void aios__dgram_sockopts(int fd, int family, const aios_dgram_opts *o)
{
    int one = 1;
    if (o->reuseaddr) (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef SO_REUSEPORT
    if (o->reuseport) (void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#endif
    if (o->broadcast) (void)setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
    if (o->rcvbuf > 0) (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof o->rcvbuf);
    if (o->sndbuf > 0) (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->sndbuf, sizeof o->sndbuf);
    if (family == AF_INET6) {
        int v6only = o->v6only ? 1 : 0;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
}

/* A socket of a's family bound to a; the descriptor is closed on failure. */
AIOS_PRIVATE int aios__dgram_bind(aios_dgram **out, aios_ctx *c, const aios_addr *a, const aios_dgram_opts *o)
{
    int fd, r, fam = aios__addr_family(a);
    fd = AIOS_SYS_SOCKET(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    aios__dgram_sockopts(fd, fam, o);
    if (bind(fd, aios_addr_sa(a), (socklen_t)a->len) < 0) r = -errno;
    else r = aios__dgram_new(out, c, fd, o);
    if (r < 0) AIOS_SYS_CLOSE(fd);
    return r;
}

AIOS_API int aios_udp_open(aios_dgram **out, aios_ctx *ctx, const char *host, int port, const aios_dgram_opts *o)
{
    aios_dgram_opts defaults;
    aios_addr a;
    int r, fam, any;
    if (!out || !ctx || port < 0 || port > 65535) return -EINVAL;
    *out = NULL;
    if (!o) { aios_dgram_opts_init(&defaults); o = &defaults; }
    if (o->family != 0 && o->family != 4 && o->family != 6) return -EINVAL;
    any = !host || !*host || strcmp(host, "*") == 0;
    if (any) host = o->family == 4 ? "0.0.0.0" : "::";
    if ((r = aios_addr_set(&a, host, port)) < 0) return r;
    fam = aios__addr_family(&a);
    if ((o->family == 4 && fam != AF_INET) || (o->family == 6 && fam != AF_INET6)) return -EAFNOSUPPORT;
    r = aios__dgram_bind(out, ctx, &a, o);
    if (r == -EAFNOSUPPORT && o->family == 0 && any) {   /* a system without IPv6 */
        (void)aios_addr_set(&a, "0.0.0.0", port);
        r = aios__dgram_bind(out, ctx, &a, o);
    }
    return r;
}

/* A socket file left by a program that is gone (a probe is refused) is
 * removed; one that a live socket holds is left alone (bind then says
 * EADDRINUSE). */
AIOS_PRIVATE void aios__unix_dgram_stale(const aios_addr *a, const char *path)
{
    struct stat st;
    int probe;
    if (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) return;
    probe = AIOS_SYS_SOCKET(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe < 0) return;
    if (connect(probe, aios_addr_sa(a), (socklen_t)a->len) < 0 && errno == ECONNREFUSED) (void)unlink(path);
    AIOS_SYS_CLOSE(probe);
}

AIOS_API int aios_unix_dgram_open(aios_dgram **out, aios_ctx *ctx, const char *path, const aios_dgram_opts *o)
{
    aios_dgram_opts defaults;
    aios_addr a;
    struct stat st;
    int r;
    if (!out || !ctx) return -EINVAL;
    *out = NULL;
    if (!o) { aios_dgram_opts_init(&defaults); o = &defaults; }
    if (!path) {   /* autobind: the kernel picks an abstract name, so that peers can answer */
        memset(&a, 0, sizeof a);
        ((struct sockaddr_un *)(void *)a.u.bytes)->sun_family = AF_UNIX;
        a.len = sizeof(sa_family_t);
        return aios__dgram_bind(out, ctx, &a, o);
    }
    if ((r = aios_addr_unix(&a, path)) < 0) return r;
    if (path[0] == '@') return aios__dgram_bind(out, ctx, &a, o);
    aios__unix_dgram_stale(&a, path);
    if ((r = aios__dgram_bind(out, ctx, &a, o)) < 0) return r;
    if (stat(path, &st) == 0) {
        memcpy((*out)->unix_path, path, strlen(path) + 1);
        (*out)->unix_dev = (uint64_t)st.st_dev;
        (*out)->unix_ino = (uint64_t)st.st_ino;
    }
    return 0;
}

/* 1 when a datagram socket of the context holds fd (aios__fd_held asks). */
AIOS_PRIVATE int aios__dgram_holds(aios_ctx *c, int fd)
{
    aios_dgram *d;
    for (d = c->dgrams; d; d = d->next)
        if (d->io.fd == fd) return 1;
    return 0;
}

AIOS_API int aios_dgram_open(aios_dgram **out, aios_ctx *ctx, int fd, unsigned flags, const aios_dgram_opts *o)
{
    aios_dgram_opts defaults;
    int type = 0, r;
    socklen_t len = sizeof type;
    if (!out || !ctx || fd < 0) return -EINVAL;
    *out = NULL;
    if (!o) { aios_dgram_opts_init(&defaults); o = &defaults; }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return -errno;
    if (type != SOCK_DGRAM) return -EPROTOTYPE;
    if (aios__fd_held(ctx, fd)) return -EBUSY;
    if ((r = aios__set_nonblock(fd)) < 0) return r;
    if ((r = aios__dgram_new(out, ctx, fd, o)) < 0) return r;
    if (flags & AIOS_NOCLOSE) (*out)->flags |= AIOS__D_NOCLOSE;
    {   /* connected already (a socketpair): its peer is the default */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(fd, (struct sockaddr *)(void *)&ss, &sl) == 0) (*out)->flags |= AIOS__D_CONNECTED;
    }
    return 0;
}

AIOS_PRIVATE int aios__dgram_usable(const aios_dgram *d)
{
    if (!d) return -EINVAL;
    return (d->flags & AIOS__D_CLOSING) ? AIOS_ECLOSED : 0;
}

AIOS_API int aios_dgram_connect(aios_dgram *d, const aios_addr *peer)
{
    aios_addr tmp;
    int r;
    if ((r = aios__dgram_usable(d)) < 0) return r;
    if (!peer) {   /* dissolve: datagrams from anyone again, and no default peer */
        memset(&tmp, 0, sizeof tmp);
        ((struct sockaddr *)(void *)tmp.u.bytes)->sa_family = AF_UNSPEC;
        tmp.len = sizeof(struct sockaddr);
        peer = &tmp;
    } else {
        if (peer->len == 0 || peer->len > sizeof peer->u.bytes) return -EINVAL;
        peer = aios__addr_out(d, peer, &tmp);
    }
    if (connect(d->io.fd, aios_addr_sa(peer), (socklen_t)peer->len) < 0) return -errno;
    if (aios__addr_family(peer) == AF_UNSPEC) d->flags &= ~(unsigned)AIOS__D_CONNECTED;
    else d->flags |= AIOS__D_CONNECTED;
    return 0;
}

/* The socket's descriptor goes at once; its socket file too, if still
 * the one it bound. */
AIOS_PRIVATE void aios__dgram_drop_fd(aios_dgram *d)
{
    struct stat st;
    if (d->io.fd < 0) return;
    akc_io_close(&d->ctx->core, &d->io);
    if (!(d->flags & AIOS__D_NOCLOSE)) AIOS_SYS_CLOSE(d->io.fd);
    d->io.fd = -1;
    if (d->unix_path[0] && stat(d->unix_path, &st) == 0 && (uint64_t)st.st_dev == d->unix_dev &&
        (uint64_t)st.st_ino == d->unix_ino)
        (void)unlink(d->unix_path);
    d->unix_path[0] = 0;
}

AIOS_API int aios_dgram_close(aios_dgram *d, aios_dgram_cb cb, void *ud)
{
    int r;
    if ((r = aios__dgram_usable(d)) < 0) return r;
    d->flags |= AIOS__D_CLOSING;
    d->closecb = cb;
    d->closeud = ud;
    aios__dgram_drop_fd(d);
    aios__timer_stop(d->ctx, &d->resume);
    aios__dgram_kick(d);
    return 0;
}

/* Part of aios_ctx_close: every socket closes (callbacks follow from the
 * deferred calls the context's close runs). */
AIOS_PRIVATE void aios__dgrams_close(aios_ctx *c)
{
    aios_dgram *d;
    for (d = c->dgrams; d; d = d->next)
        if (!(d->flags & AIOS__D_CLOSING)) (void)aios_dgram_close(d, NULL, NULL);
}

AIOS_PRIVATE void aios__dgram_free(aios_dgram *d)
{
    aios_ctx *c = d->ctx;
    akc_defer_cancel(&d->kick);
    aios__timer_stop(c, &d->resume);
    akc_io_close(&c->core, &d->io);
    if (d->prev) d->prev->next = d->next; else c->dgrams = d->next;
    if (d->next) d->next->prev = d->prev;
    AIOS_FREE(d->ring);
    AIOS_FREE(d);
}

/* A closing socket: the receive waiting, each queued send (sent ones say
 * so, the others are cancelled), then the close callback, then the memory. */
AIOS_PRIVATE void aios__dgram_finish(aios_dgram *d)
{
    aios__sreq *r;
    if (d->rcb) {
        aios_dgram_cb cb = d->rcb;
        d->rcb = NULL;
        cb(d, -ECANCELED, d->rud);
    }
    while ((r = d->shead) != NULL) {
        d->shead = r->next;
        if (!d->shead) d->stail = NULL;
        d->squeued -= r->size;
        if (r->cb) r->cb(d, r->done ? r->status : -ECANCELED, r->ud);
        AIOS_FREE(r);
    }
    if (d->closecb) d->closecb(d, 0, d->closeud);
    aios__dgram_free(d);
}

/* ---- receiving ---- */

AIOS_PRIVATE int aios__dgram_ring(aios_dgram *d)
{
    size_t n = (size_t)d->rbatch, head = n * (sizeof(aios__mmsg) + sizeof(struct iovec) + sizeof(struct sockaddr_storage));
    char *p = (char *)AIOS_MALLOC(head + n * d->rsize);
    size_t i;
    if (!p) return -ENOMEM;
    d->ring = p;
    d->rname = (struct sockaddr_storage *)(void *)p;   /* the most aligned part first */
    d->rmsg = (aios__mmsg *)(void *)(p + n * sizeof(struct sockaddr_storage));
    d->riov = (struct iovec *)(void *)(p + n * (sizeof(struct sockaddr_storage) + sizeof(aios__mmsg)));
    d->rbuf = p + head;
    memset(d->rmsg, 0, n * sizeof(aios__mmsg));
    for (i = 0; i < n; i++) {
        d->riov[i].iov_base = d->rbuf + i * d->rsize;
        d->riov[i].iov_len = d->rsize;
        d->rmsg[i].msg_hdr.msg_iov = &d->riov[i];
        d->rmsg[i].msg_hdr.msg_iovlen = 1;
        d->rmsg[i].msg_hdr.msg_name = &d->rname[i];
    }
    return 0;
}

#ifndef AIOS_NO_MMSG
static int aios__mmsg_missing;   /* recvmmsg or sendmmsg answered ENOSYS: once per process */
#endif

/* Fills the ring with up to n datagrams: how many, 0 when none is
 * there, or -errno (an error the socket reports, such as an ICMP refusal
 * of an earlier send on a connected socket).  MSG_TRUNC makes msg_len the
 * datagram's own length, so a cut one is known for what it was. */
AIOS_PRIVATE int aios__dgram_take(aios_dgram *d, int n)
{
    int i, r = -1;
    if (n > d->rbatch) n = d->rbatch;
    for (i = 0; i < n; i++) {
        d->rmsg[i].msg_hdr.msg_namelen = sizeof d->rname[i];
        d->rmsg[i].msg_hdr.msg_flags = 0;
    }
#ifndef AIOS_NO_MMSG
    if (!aios__mmsg_missing) {
        do r = AIOS_SYS_RECVMMSG(d->io.fd, d->rmsg, (unsigned)n, MSG_DONTWAIT | MSG_TRUNC); while (r < 0 && errno == EINTR);
        if (r < 0 && errno == ENOSYS) aios__mmsg_missing = 1;
        else goto done;
    }
#endif
    for (i = 0, r = 0; i < n; i++) {
        ssize_t k;
        do k = AIOS_SYS_RECVMSG(d->io.fd, &d->rmsg[i].msg_hdr, MSG_DONTWAIT | MSG_TRUNC); while (k < 0 && errno == EINTR);
        if (k < 0) { r = i > 0 ? i : -1; break; }   /* an error after some: the next call reports it */
        d->rmsg[i].msg_len = (unsigned)k;
        r = i + 1;
    }
#ifndef AIOS_NO_MMSG
done:
#endif
    if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    d->rn = r;
    d->rpos = 0;
    if (r < n) d->flags &= ~(unsigned)AIOS__D_MORE;
    return r;
}

/* The receive waiting ends with status (its callback runs now). */
AIOS_PRIVATE void aios__dgram_recv_done(aios_dgram *d, int status)
{
    aios_dgram_cb cb = d->rcb;
    d->rcb = NULL;
    d->rdst = NULL;
    cb(d, status, d->rud);
}

/* Copies the next datagram of the ring into the receive waiting. */
AIOS_PRIVATE void aios__dgram_hand_out(aios_dgram *d)
{
    const aios__mmsg *m = &d->rmsg[d->rpos];
    size_t full = m->msg_len, kept = full < d->rsize ? full : d->rsize;
    int cut = (m->msg_hdr.msg_flags & MSG_TRUNC) || full > d->rcap;
    if (kept > d->rcap) kept = d->rcap;
    if (kept) memcpy(d->rdst, d->rbuf + (size_t)d->rpos * d->rsize, kept);
    aios__addr_take(&d->from, &d->rname[d->rpos], m->msg_hdr.msg_namelen);
    d->rlast = full;
    d->rpos++;
    aios__dgram_recv_done(d, cut ? -EMSGSIZE : full > (size_t)INT_MAX ? INT_MAX : (int)full);
}

/* Hands out datagrams while a receive waits, at most recv_max per loop
 * iteration: what is left waits for the next one, so that a flood of
 * datagrams cannot keep the loop from its timers and other descriptors. */
AIOS_PRIVATE void aios__dgram_recv_step(aios_dgram *d)
{
    akc_loop *l = &d->ctx->core;
    if (d->riter != l->iterations) {
        d->riter = l->iterations;
        d->rcount = 0;
    }
    while (d->rcb && !(d->flags & AIOS__D_CLOSING)) {
        if (d->rcount >= d->rmax) {
            /* the rest next iteration; without memory for the timer, the
             * deferred queue (which cannot fail) carries it instead */
            if (d->rpos < d->rn && aios__timer_start(d->ctx, &d->resume, akc_time(l)) < 0) aios__dgram_kick(d);
            return;
        }
        if (d->rpos == d->rn) {
            int r;
            if (!(d->flags & AIOS__D_MORE)) return;
            r = aios__dgram_take(d, d->rmax - d->rcount);
            if (r == 0) {
                d->flags &= ~(unsigned)AIOS__D_MORE;
                return;
            }
            if (r < 0) {
                d->flags &= ~(unsigned)AIOS__D_MORE;
                d->rlast = 0;
                d->from.len = 0;
                d->rcount++;
                aios__dgram_recv_done(d, r);
                continue;
            }
        }
        d->rcount++;
        aios__dgram_hand_out(d);
    }
}

AIOS_API int aios_recv(aios_dgram *d, void *buf, size_t cap, aios_dgram_cb cb, void *ud)
{
    int r;
    if ((r = aios__dgram_usable(d)) < 0) return r;
    if ((!buf && cap) || !cb) return -EINVAL;
    if (d->rcb) return -EBUSY;
    if (!d->ring && aios__dgram_ring(d) < 0) return -ENOMEM;
    d->rdst = buf;
    d->rcap = cap;
    d->rcb = cb;
    d->rud = ud;
    if (d->rpos < d->rn || (d->flags & AIOS__D_MORE)) aios__dgram_kick(d);   /* one may be here already */
    else aios__dgram_update(d);                                               /* else the socket is watched */
    return 0;
}

AIOS_API const aios_addr *aios_recv_from(const aios_dgram *d) { return d ? &d->from : NULL; }
AIOS_API size_t aios_recv_size(const aios_dgram *d) { return d ? d->rlast : 0; }

/* ---- sending ---- */

AIOS_API int aios_send(aios_dgram *d, const void *data, size_t n, const aios_addr *to, aios_dgram_cb cb, void *ud)
{
    aios_addr tmp;
    aios__sreq *r;
    size_t size;
    int e;
    if ((e = aios__dgram_usable(d)) < 0) return e;
    if (!data && n) return -EINVAL;
    if (to && (to->len == 0 || to->len > sizeof to->u.bytes)) return -EINVAL;
    if (!to && !(d->flags & AIOS__D_CONNECTED)) return -EDESTADDRREQ;
    if (to) to = aios__addr_out(d, to, &tmp);
    size = sizeof *r + ((to ? to->len : 0) + 7u) / 8u * 8u;
    /* (written so that no sum can wrap, whatever send_hwm and n are) */
    if (n > d->shwm || size > d->shwm - n) return -EMSGSIZE;   /* could never fit the queue */
    size += n;
    if (size > d->shwm - d->squeued) return -EAGAIN;
    r = (aios__sreq *)AIOS_MALLOC(size);
    if (!r) return -ENOMEM;
    memset(r, 0, sizeof *r);
    r->cb = cb;
    r->ud = ud;
    r->size = size;
    r->len = n;
    r->alen = to ? to->len : 0;
    if (to) memcpy(AIOS__SREQ_ADDR(r), to->u.bytes, to->len);
    if (n) memcpy(AIOS__SREQ_DATA(r), data, n);
    if (d->stail) d->stail->next = r; else d->shead = r;
    d->stail = r;
    d->squeued += size;
    aios__dgram_kick(d);
    return 0;
}

AIOS_API size_t aios_send_queued(const aios_dgram *d) { return d ? d->squeued : 0; }

/* Sends k datagrams: how many went, or -errno for the first. */
AIOS_PRIVATE int aios__dgram_send_batch(aios_dgram *d, aios__mmsg *v, int k)
{
    int i;
#ifndef AIOS_NO_MMSG
    if (!aios__mmsg_missing) {
        int r = AIOS_SYS_SENDMMSG(d->io.fd, v, (unsigned)k, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0) return r;
        if (errno != ENOSYS) return -errno;
        aios__mmsg_missing = 1;
    }
#endif
    for (i = 0; i < k; i++)
        if (AIOS_SYS_SENDMSG(d->io.fd, &v[i].msg_hdr, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) return i > 0 ? i : -errno;
    return k;
}

/* Sends what is queued and not yet sent, up to 64 datagrams per call.  A
 * datagram the kernel refuses fails alone (its status says why); a full
 * socket buffer waits for the socket to be writable. */
AIOS_PRIVATE void aios__dgram_flush(aios_dgram *d)
{
    aios__sreq *w = d->shead;
    while (w && w->done) w = w->next;
    while (w && !(d->flags & AIOS__D_SWAIT) && d->io.fd >= 0) {
        aios__mmsg v[AIOS__SEND_BATCH];
        struct iovec iov[AIOS__SEND_BATCH];
        aios__sreq *req[AIOS__SEND_BATCH], *x;
        int k = 0, n, i;
        memset(v, 0, sizeof v);
        for (x = w; x && k < AIOS__SEND_BATCH; x = x->next, k++) {
            iov[k].iov_base = AIOS__SREQ_DATA(x);
            iov[k].iov_len = x->len;
            v[k].msg_hdr.msg_iov = &iov[k];
            v[k].msg_hdr.msg_iovlen = 1;
            v[k].msg_hdr.msg_name = x->alen ? AIOS__SREQ_ADDR(x) : NULL;
            v[k].msg_hdr.msg_namelen = x->alen;
            req[k] = x;
        }
        n = aios__dgram_send_batch(d, v, k);
        if (n == -EINTR) continue;
        if (n == -EAGAIN || n == -EWOULDBLOCK) {
            d->flags |= AIOS__D_SWAIT;
            break;
        }
        if (n < 0) {   /* this one alone: too big, no route, refused ... */
            w->done = 1;
            w->status = n;
            w = w->next;
            continue;
        }
        for (i = 0; i < n; i++) req[i]->done = 1;
        w = req[n - 1]->next;
    }
}

/* The callbacks of the datagrams at the head that are done, in order. */
AIOS_PRIVATE void aios__dgram_send_done(aios_dgram *d)
{
    aios__sreq *r;
    while ((r = d->shead) != NULL && r->done && !(d->flags & AIOS__D_CLOSING)) {
        d->shead = r->next;
        if (!d->shead) d->stail = NULL;
        d->squeued -= r->size;
        if (r->cb) r->cb(d, r->status, r->ud);
        AIOS_FREE(r);
    }
}

/* ---- dispatch ---- */

AIOS_PRIVATE void aios__dgram_update(aios_dgram *d)
{
    unsigned ev = 0;
    if (d->io.fd < 0) return;
    if (d->rcb && d->rpos == d->rn) ev |= POLLIN;
    if (d->flags & AIOS__D_SWAIT) ev |= POLLOUT;
    akc_io_want(&d->ctx->core, &d->io, ev);
}

AIOS_PRIVATE void aios__dgram_process(aios_dgram *d, unsigned revents)
{
    if (revents & (POLLOUT | POLLERR)) d->flags &= ~(unsigned)AIOS__D_SWAIT;
    if (revents & (POLLIN | POLLERR)) d->flags |= AIOS__D_MORE;
    if (!(d->flags & AIOS__D_CLOSING)) aios__dgram_recv_step(d);
    if (!(d->flags & AIOS__D_CLOSING)) {
        aios__dgram_flush(d);
        aios__dgram_send_done(d);
    }
    if (d->flags & AIOS__D_CLOSING) {
        aios__dgram_finish(d);
        return;
    }
    aios__dgram_update(d);
}

/* ---- options ---- */

AIOS_PRIVATE int aios__dgram_opt(aios_dgram *d, int level, int name, const void *v, socklen_t len)
{
    int r;
    if ((r = aios__dgram_usable(d)) < 0) return r;
    return setsockopt(d->io.fd, level, name, v, len) < 0 ? -errno : 0;
}

/* An IPv4 option on an IPv6 socket: for the IPv4 peers a dual-stack
 * socket also has (an IPv6-only socket refuses, which is fine). */
AIOS_PRIVATE int aios__dgram_opt46(aios_dgram *d, int name4, int name6, const void *v, socklen_t len)
{
    int r;
    if (d && d->family == AF_INET6) {
        r = aios__dgram_opt(d, IPPROTO_IPV6, name6, v, len);
        if (r == 0) (void)setsockopt(d->io.fd, IPPROTO_IP, name4, v, len);
        return r;
    }
    return aios__dgram_opt(d, IPPROTO_IP, name4, v, len);
}

AIOS_API int aios_dgram_broadcast(aios_dgram *d, int on)
{
    int v = on ? 1 : 0;
    return aios__dgram_opt(d, SOL_SOCKET, SO_BROADCAST, &v, sizeof v);
}

/* struct ip_mreqn, which names an interface by its index, is a GNU and
 * BSD declaration: a file compiled for strict POSIX has no multicast. */
#if (defined(__GLIBC__) && defined(__USE_MISC)) || (!defined(__GLIBC__) && (defined(_GNU_SOURCE) || defined(_BSD_SOURCE)))
#define AIOS__MCAST 1
#endif

/* An IPv4 multicast option that names an interface by its index (group
 * NULL: IP_MULTICAST_IF). */
AIOS_PRIVATE int aios__mreqn(aios_dgram *d, int name, const struct in_addr *group, unsigned idx)
{
#ifdef AIOS__MCAST
    struct ip_mreqn m;
    memset(&m, 0, sizeof m);
    if (group) m.imr_multiaddr = *group;
    m.imr_ifindex = (int)idx;
    return aios__dgram_opt(d, IPPROTO_IP, name, &m, sizeof m);
#else
    (void)d; (void)name; (void)group; (void)idx;
    return -ENOTSUP;
#endif
}

AIOS_PRIVATE int aios__dgram_member(aios_dgram *d, const char *group, const char *iface, int join)
{
    aios_addr g;
    unsigned idx;
    int r;
    struct ipv6_mreq m;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)g.u.bytes;
    if ((r = aios__dgram_usable(d)) < 0) return r;
    if (!group) return -EINVAL;
    if ((r = aios_addr_set(&g, group, 0)) < 0 || (r = aios__ifindex(iface, &idx)) < 0) return r;
    if (aios__addr_family(&g) == AF_INET)
        return aios__mreqn(d, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
                           &((const struct sockaddr_in *)(const void *)g.u.bytes)->sin_addr, idx);
    memset(&m, 0, sizeof m);
    m.ipv6mr_multiaddr = v6->sin6_addr;
    m.ipv6mr_interface = idx ? idx : v6->sin6_scope_id;   /* ff02::fb%eth0 names it too */
    return aios__dgram_opt(d, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m, sizeof m);
}

AIOS_API int aios_dgram_join(aios_dgram *d, const char *group, const char *iface)
{
    return aios__dgram_member(d, group, iface, 1);
}

AIOS_API int aios_dgram_leave(aios_dgram *d, const char *group, const char *iface)
{
    return aios__dgram_member(d, group, iface, 0);
}

AIOS_API int aios_dgram_multicast_if(aios_dgram *d, const char *iface)
{
    unsigned idx;
    int r, i6;
    if ((r = aios__dgram_usable(d)) < 0) return r;
    if ((r = aios__ifindex(iface, &idx)) < 0) return r;
    if (d->family != AF_INET6) return aios__mreqn(d, IP_MULTICAST_IF, NULL, idx);
    i6 = (int)idx;
    r = aios__dgram_opt(d, IPPROTO_IPV6, IPV6_MULTICAST_IF, &i6, sizeof i6);
    if (r == 0) (void)aios__mreqn(d, IP_MULTICAST_IF, NULL, idx);   /* for its IPv4 peers (dual stack) */
    return r;
}

AIOS_API int aios_dgram_multicast_ttl(aios_dgram *d, int ttl)
{
    if (ttl < 0 || ttl > 255) return -EINVAL;
    return aios__dgram_opt46(d, IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl);
}

AIOS_API int aios_dgram_multicast_loop(aios_dgram *d, int on)
{
    int v = on ? 1 : 0;
    return aios__dgram_opt46(d, IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP, &v, sizeof v);
}

/* ---- accessors ---- */

AIOS_API int aios_dgram_fd(const aios_dgram *d) { return d ? d->io.fd : -1; }

AIOS_API int aios_dgram_local(const aios_dgram *d, aios_addr *a)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (!d || !a) return -EINVAL;
    if (d->io.fd < 0) return AIOS_ECLOSED;
    if (getsockname(d->io.fd, (struct sockaddr *)(void *)&ss, &len) < 0) return -errno;
    aios__addr_take(a, &ss, len);
    return 0;
}

AIOS_API int aios_dgram_port(const aios_dgram *d)
{
    aios_addr a;
    int r = aios_dgram_local(d, &a);
    return r < 0 ? r : aios_addr_port(&a);
}

AIOS_API void aios_dgram_set_ud(aios_dgram *d, void *p) { if (d) d->user = p; }
AIOS_API void *aios_dgram_ud(const aios_dgram *d) { return d ? d->user : NULL; }

/* The await bridge's: the receive or send (cb, ud) ends without its
 * callback.  A receive has taken nothing yet (datagrams move at its
 * completion); a send not yet gone is dropped, one already sent only
 * loses its callback. */
AIOS_API void aios__dgram_withdraw(aios_dgram *d, int what, aios_dgram_cb cb, void *ud)
{
    aios__sreq **pp, *r, *prev = NULL;
    if (!d) return;
    if (what == AIOS__WD_RECV) {
        if (d->rcb == cb && d->rud == ud) {
            d->rcb = NULL;
            d->rdst = NULL;
            aios__dgram_update(d);
        }
        return;
    }
    for (pp = &d->shead; (r = *pp) != NULL; prev = r, pp = &r->next)
        if (r->cb == cb && r->ud == ud) break;
    if (!r) return;
    if (r->done) {
        r->cb = NULL;
        return;
    }
    *pp = r->next;
    if (d->stail == r) d->stail = prev;
    d->squeued -= r->size;
    AIOS_FREE(r);
}

/* ==== section: signals ==== */

AIOS_PRIVATE void aios__signal_fire(akc_loop *l, akc_sig *core, const akc_siginfo *info)
{
    aios_signal *sig = AIOS__CONTAINER(core, aios_signal, core);
    (void)l;
    sig->cb(sig, info, sig->ud);
}

AIOS_API void aios_signal_init(aios_signal *sig, aios_signal_cb cb, void *ud)
{
    if (!sig) return;
    akc_sig_init(&sig->core, aios__signal_fire);
    sig->cb = cb;
    sig->ud = ud;
}

AIOS_API int aios_signal_start(aios_signal *sig, aios_ctx *ctx, int signo)
{
    if (!sig || !ctx || !sig->cb || sig->core.fn != aios__signal_fire) return -EINVAL;
    return akc_sig_start(&ctx->core, &sig->core, signo);
}

AIOS_API int aios_signal_stop(aios_signal *sig, aios_ctx *ctx)
{
    if (!sig || !ctx) return -EINVAL;
    return akc_sig_stop(&ctx->core, &sig->core);
}

AIOS_API int aios_signal_active(const aios_signal *sig) { return sig && akc_sig_active(&sig->core); }

/* ==== section: closing the context ==== */

AIOS_PRIVATE void aios__close_all_streams(aios_ctx *c)
{
    aios_server *srv;
    aios_stream *s;
    for (s = c->streams; s; s = s->next)
        if (!(s->flags & AIOS__F_CLOSING)) aios__hard_close(s, -ECANCELED);
    for (srv = c->servers; srv; srv = srv->next)
        for (s = srv->idle_head; s; s = s->next)
            if (!(s->flags & AIOS__F_CLOSING)) aios__hard_close(s, -ECANCELED);
}

AIOS_API void aios_ctx_close(aios_ctx *c)
{
    aios_server *srv;
    int rounds;
    if (!c) return;
    if (c->core.depth) {  /* from a callback: finished when dispatch returns */
        c->close_asked = 1;
        return;
    }
    c->core.depth = 1;
    for (srv = c->servers; srv; srv = srv->next) {
        if (!srv->shutting) (void)aios_server_shutdown(srv, 0, NULL, NULL);
        else aios__server_force(srv);
    }
    aios__close_all_streams(c);
    if (c->dgrams_close) c->dgrams_close(c);
    for (rounds = 0; rounds < 1000000 && (akc_defer_pending(&c->core) || c->nstreams > 0 || c->dgrams); rounds++) {
        akc__run_deferred(&c->core, 1);
        aios__close_all_streams(c);  /* callbacks may have opened more */
        if (c->dgrams_close) c->dgrams_close(c);
        for (srv = c->servers; srv; srv = srv->next) if (!srv->shutting) (void)aios_server_shutdown(srv, 0, NULL, NULL);
    }
#ifndef AIOS_NO_THREADS
    aios__rpool_close(c);  /* a getaddrinfo still running ends on its own */
#endif
    while (c->wfree) {
        aios__wreq *w = c->wfree;
        c->wfree = w->next;
        AIOS_FREE(w);
    }
    akc_loop_free(&c->core);
    memset(c, 0, sizeof *c);
    akc_loop_reset(&c->core);
}

#endif /* AIOS_IMPLEMENTATION */

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
