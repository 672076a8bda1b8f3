/* tests/usb_epstream.c - endpoint streams (ausb_epstream_*) against the fake
 * device's byte-stream loopback (OUT 0x05 -> IN 0x8B, with flow control):
 * line-based text and binary blocks through aio_stream.h's buffered reads,
 * a slow reader, a stall and a device that leaves mid-stream, the caller's
 * close and half-close, ausb_epstream_close, ausb_close and ausb_ctx_close with a
 * stream open, one-way streams and bad arguments.  Both contexts are driven
 * by one poll loop built from their prepare/dispatch pairs (the foreign-loop
 * shape), and once by sched.h.  Run under umockdev-wrapper. */
#define _GNU_SOURCE 1
#include <stdlib.h>
/* umockdev copies IN data into the client's buffers behind valgrind's back */
#define AUSB_MALLOC(n) calloc(1, (n))
#define AUSB_REALLOC(p, n) realloc((p), (n))
#define AUSB_FREE(p) free(p)
#define ASYNCKIT_IMPLEMENTATION
#include "sched.h"
#include "aio_stream.h"
#include "asyncusb.h"
#include "tests/harness.h"
#include "tests/usb_fake.h"
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

static usbf_device roothub, dev_a, dev_b;

/* ---- one loop for both contexts ---- */

static int loop_once(ausb_ctx *u, aios_ctx *a, int timeout_ms)
{
    struct pollfd fds[64];
    int64_t dl = INT64_MAX, now;
    int nu, na = 0, t = timeout_ms;
    nu = ausb_prepare(u, fds, 64, &dl);
    if (nu > 64) return -1;
    if (a) {
        na = aios_prepare(a, fds + nu, 64 - nu, &dl);
        if (nu + na > 64) return -1;
    }
    if (dl != INT64_MAX) {
        now = ausb_now_ns();
        int64_t ms = dl <= now ? 0 : (dl - now + 999999) / 1000000;
        if (t < 0 || ms < t) t = (int)ms;
    }
    if (poll(fds, (nfds_t)(nu + na), t) < 0 && errno != EINTR) return -1;
    ausb_dispatch(u, fds, nu);
    if (a) aios_dispatch(a, fds + nu, na);
    return 0;
}

/* Runs until *flag reaches want (bounded by a generous round count). */
static int loop_until(ausb_ctx *u, aios_ctx *a, const int *flag, int want)
{
    int i;
    for (i = 0; i < 20000 && *flag < want; i++)
        if (loop_once(u, a, 20) < 0) return -1;
    return *flag >= want ? 0 : -1;
}

static void spin(ausb_ctx *u, aios_ctx *a, int rounds)
{
    while (rounds-- > 0) loop_once(u, a, 1);
}

/* Open descriptors; umockdev's worker closes a device's connection a
 * little after the handle closes, so a count that differs from `want` is
 * taken again for up to a second. */
static int count_fds_now(void);
static int count_fds_settled(int want)
{
    int i, n = count_fds_now();
    for (i = 0; i < 100 && n != want; i++) {
        usleep(10000);
        n = count_fds_now();
    }
    if (n != want && system("ls -l /proc/$PPID/fd >&2") != 0) fprintf(stderr, "fd listing failed\n");
    return n;
}
#define count_fds() count_fds_now()

static int count_fds_now(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void reset_cdc(usbf_device *d, int cap)
{
    pthread_mutex_lock(&d->lock);
    d->cdc_len = 0;
    d->cdc_cap = cap;
    d->cdc_stall = 0;
    d->cdc_in_bytes = d->cdc_out_bytes = 0;
    pthread_mutex_unlock(&d->lock);
}

typedef struct ender {
    int ends, status;
} ender;

static void on_end(ausb_epstream *es, int status, void *user)
{
    ender *e = (ender *)user;
    (void)es;
    e->ends++;
    e->status = status;
}

/* ---- line-based text through aio_stream.h ---- */

typedef struct lines {
    int next_read, lines_ok, bad, eof, written, write_done, write_err;
    int total;
    char scratch[256];
} lines;

static int make_line(char *buf, int i)
{
    /* lengths vary from 8 to ~200 bytes so lines straddle transfers */
    int n = snprintf(buf, 256, "line %d:", i), k, len = 8 + (i * 37) % 190;
    for (k = n; k < len - 1; k++) buf[k] = (char)('a' + (i + k) % 26);
    if (len - 1 < n) len = n + 1;
    buf[len - 1] = '\n';
    return len;
}

static void on_line(aios_stream *s, int status, void *ud)
{
    lines *L = (lines *)ud;
    size_t n;
    const char *p;
    char want[256];
    int wl;
    if (status < 0) {
        L->eof = status;
        return;
    }
    p = aios_data(s, &n);
    wl = make_line(want, L->next_read);
    if (status != wl || memcmp(p, want, (size_t)wl) != 0) L->bad++;
    else L->lines_ok++;
    aios_consume(s, (size_t)status);
    L->next_read++;
    if (L->next_read < L->total) aios_read_until(s, "\n", 1, 512, on_line, L);
}

static void on_written(aios_stream *s, int status, void *ud)
{
    lines *L = (lines *)ud;
    (void)s;
    if (status < 0) L->write_err = status;
    L->write_done++;
}

static void test_lines_through_aio_read_until(void)
{
    static const int caps[] = {4096, 300};
    int c;
    for (c = 0; c < 2; c++) {
        ausb_ctx u;
        ausb_handle h;
        aios_ctx a;
        aios_stream *s = NULL;
        ausb_epstream es;
        ausb_epstream_config cfg;
        ender e = {0, 1};
        lines L;
        int i, fds0 = count_fds();
        memset(&L, 0, sizeof L);
        L.total = 500;
        reset_cdc(&dev_a, caps[c]);
        T_EQ(usbf_open(&u, &dev_a, &h), 0);
        T_EQ(aios_ctx_init(&a), 0);
        ausb_epstream_config_init(&cfg);
        cfg.in_len = c ? 64 : 4096;           /* small transfers: many chunks per line */
        cfg.out_len = c ? 100 : 4096;
        cfg.sock_buf = c ? 4096 : 0;
        T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, &cfg, on_end, &e), 0);
        T_CHECK(ausb_epstream_fd(&es) >= 0);
        T_EQ(aios_stream_open(&s, &a, ausb_epstream_fd(&es), 0), 0);
        T_EQ(aios_read_until(s, "\n", 1, 512, on_line, &L), 0);
        for (i = 0; i < L.total; i++) {
            char buf[256];
            int n = make_line(buf, i);
            T_EQ(aios_write_copy(s, buf, (size_t)n, on_written, &L), 0);
            L.written++;
        }
        T_EQ(loop_until(&u, &a, &L.next_read, L.total), 0);
        T_EQ(L.lines_ok, L.total);
        T_EQ(L.bad, 0);
        T_EQ(L.write_done, L.total);
        T_EQ(L.write_err, 0);
        T_EQ(es.bytes_in, es.bytes_out);
        T_EQ(usbf_count(&dev_a, &dev_a.cdc_len), 0);
        T_EQ(e.ends, 0);
        /* the caller closes its end: the stream ends with 0, once */
        T_EQ(aios_close(s, NULL, NULL), 0);
        T_EQ(loop_until(&u, &a, &e.ends, 1), 0);
        spin(&u, &a, 5);
        T_EQ(e.ends, 1);
        T_EQ(e.status, 0);
        aios_ctx_close(&a);
        ausb_close(&h);
        ausb_ctx_close(&u);
        T_EQ(count_fds_settled(fds0), fds0);
    }
}

/* ---- binary blocks with read_exactly, from a plain writer ---- */

typedef struct blocks {
    unsigned char buf[5000];
    int got, bad, status;
} blocks;

static void on_block(aios_stream *s, int status, void *ud)
{
    blocks *b = (blocks *)ud;
    int i;
    b->status = status;
    if (status < 0) return;
    for (i = 0; i < (int)sizeof b->buf; i++)
        if (b->buf[i] != (unsigned char)((b->got * 7 + i) & 0xff)) { b->bad++; break; }
    b->got++;
    if (b->got < 40) aios_read_exactly(s, b->buf, sizeof b->buf, on_block, b);
}

static void test_read_exactly_binary_and_plain_fd_writes(void)
{
    ausb_ctx u;
    ausb_handle h;
    aios_ctx a;
    aios_stream *s = NULL;
    ausb_epstream es;
    ender e = {0, 1};
    blocks b;
    unsigned char out[5000 * 40];
    int i, fd, off = 0;
    memset(&b, 0, sizeof b);
    for (i = 0; i < (int)sizeof out; i++) out[i] = (unsigned char)(((i / 5000) * 7 + i % 5000) & 0xff);
    reset_cdc(&dev_a, 8192);
    T_EQ(usbf_open(&u, &dev_a, &h), 0);
    T_EQ(aios_ctx_init(&a), 0);
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, NULL, on_end, &e), 0);
    /* a second descriptor for writing: read and write sides may differ */
    fd = dup(ausb_epstream_fd(&es));
    T_CHECK(fd >= 0);
    T_EQ(aios_stream_open(&s, &a, ausb_epstream_fd(&es), 0), 0);
    T_EQ(aios_read_exactly(s, b.buf, sizeof b.buf, on_block, &b), 0);
    for (i = 0; i < 40000 && (off < (int)sizeof out || b.got < 40); i++) {
        if (off < (int)sizeof out) {
            ssize_t n = write(fd, out + off, sizeof out - (size_t)off);
            if (n > 0) off += (int)n;
        }
        loop_once(&u, &a, 5);
    }
    T_EQ(off, (int)sizeof out);
    T_EQ(b.got, 40);
    T_EQ(b.bad, 0);
    T_EQ(es.bytes_in, (long long)sizeof out);
    close(fd);
    aios_close(s, NULL, NULL);
    T_EQ(loop_until(&u, &a, &e.ends, 1), 0);
    T_EQ(e.status, 0);
    aios_ctx_close(&a);
    ausb_close(&h);
    ausb_ctx_close(&u);
}

/* ---- a reader that does not read: bounded, then nothing lost ---- */

static void test_slow_reader_is_bounded_and_loses_nothing(void)
{
    ausb_ctx u;
    ausb_handle h;
    ausb_epstream es;
    ausb_epstream_config cfg;
    ender e = {0, 1};
    static unsigned char out[1 << 17], in[1 << 17];
    long off = 0, got = 0, stalled_in = -1;
    int i, fd;
    for (i = 0; i < (int)sizeof out; i++) out[i] = (unsigned char)(i * 31 + (i >> 9));
    reset_cdc(&dev_a, 4096);
    T_EQ(usbf_open(&u, &dev_a, &h), 0);
    ausb_epstream_config_init(&cfg);
    cfg.sock_buf = 8192;
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, &cfg, on_end, &e), 0);
    fd = ausb_epstream_fd(&es);
    /* write without reading until nothing moves any more */
    for (i = 0; i < 3000; i++) {
        ssize_t n = write(fd, out + off, sizeof out - (size_t)off);
        if (n > 0) off += n;
        loop_once(&u, NULL, 1);
    }
    stalled_in = es.bytes_in;
    T_CHECK(off < (long)sizeof out);                 /* back-pressure reached the writer */
    /* what left the device but is not read: one socket's worth plus the
     * transfers in flight (Linux doubles SO_RCVBUF and counts overhead) */
    T_CHECK(stalled_in <= 8 * 8192 + 2 * 4096);
    T_CHECK(es.want_write == 1);                      /* the IN side is paused */
    /* now read everything */
    for (i = 0; i < 200000 && got < (long)sizeof out; i++) {
        ssize_t n;
        if (off < (long)sizeof out) {
            n = write(fd, out + off, sizeof out - (size_t)off);
            if (n > 0) off += n;
        }
        n = read(fd, in + got, sizeof in - (size_t)got);
        if (n > 0) got += n;
        loop_once(&u, NULL, 1);
    }
    T_EQ(got, (long)sizeof out);
    T_CHECK(memcmp(in, out, sizeof out) == 0);
    ausb_epstream_close(&es);
    T_EQ(loop_until(&u, NULL, &e.ends, 1), 0);
    T_EQ(e.status, -ECANCELED);
    close(fd);
    ausb_close(&h);
    ausb_ctx_close(&u);
}

/* ---- failures on the device side ---- */

static void read_all(ausb_ctx *u, int fd, char *buf, int cap, int *got, int *eof)
{
    int i;
    *eof = 0;
    for (i = 0; i < 5000 && !*eof; i++) {
        ssize_t n = read(fd, buf + *got, (size_t)(cap - *got));
        if (n > 0) *got += (int)n;
        else if (n == 0) *eof = 1;
        else loop_once(u, NULL, 2);
    }
}

static void test_stall_mid_stream(void)
{
    ausb_ctx u;
    ausb_handle h;
    ausb_epstream es;
    ender e = {0, 1};
    char buf[256];
    int fd, got = 0, eof;
    reset_cdc(&dev_a, 4096);
    T_EQ(usbf_open(&u, &dev_a, &h), 0);
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, NULL, on_end, &e), 0);
    fd = ausb_epstream_fd(&es);
    T_EQ((int)write(fd, "before the stall\n", 17), 17);
    while (es.bytes_in < 17 && got < 1000) { loop_once(&u, NULL, 2); got++; }
    got = 0;
    T_EQ(es.bytes_in, 17);
    usbf_cdc_stall(&dev_a, 1);
    read_all(&u, fd, buf, sizeof buf, &got, &eof);
    T_EQ(got, 17);                      /* what arrived before the stall */
    T_CHECK(memcmp(buf, "before the stall\n", 17) == 0);
    T_EQ(eof, 1);
    T_EQ(loop_until(&u, NULL, &e.ends, 1), 0);
    T_EQ(e.status, AUSB_ESTALL);
    /* the OUT side stopped: the caller's writes fail */
    T_EQ((int)send(fd, "x", 1, MSG_NOSIGNAL), -1);
    T_EQ(errno, EPIPE);
    spin(&u, NULL, 5);
    T_EQ(e.ends, 1);
    usbf_cdc_stall(&dev_a, 0);
    close(fd);
    ausb_close(&h);
    ausb_ctx_close(&u);
}

static void test_device_leaves_mid_stream(void)
{
    ausb_ctx u;
    ausb_handle h;
    ausb_epstream es;
    ender e = {0, 1};
    char buf[256];
    int fd, got = 0, eof, i;
    dev_b.desc_len = usbf_std_descriptors(dev_b.desc, 0x1234, 0x00e5);
    usbf_add(&dev_b, "/devices/fake/usb1/1-3", 1, 7, 480);
    T_EQ(usbf_open(&u, &dev_b, &h), 0);
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, NULL, on_end, &e), 0);
    fd = ausb_epstream_fd(&es);
    T_EQ((int)write(fd, "hello\n", 6), 6);
    for (i = 0; i < 1000 && es.bytes_in < 6; i++) loop_once(&u, NULL, 2);
    usbf_unplug(&dev_b);
    read_all(&u, fd, buf, sizeof buf, &got, &eof);
    T_EQ(got, 6);
    T_EQ(eof, 1);
    T_EQ(loop_until(&u, NULL, &e.ends, 1), 0);
    T_EQ(e.status, -ENODEV);
    spin(&u, NULL, 5);
    T_EQ(e.ends, 1);
    close(fd);
    ausb_close(&h);
    ausb_ctx_close(&u);
}

/* ---- the caller's side ---- */

static void test_close_after_write_still_sends(void)
{
    ausb_ctx u;
    ausb_handle h;
    ausb_epstream es;
    ausb_epstream_config cfg;
    ender e = {0, 1};
    char big[20000];
    int fd, i;
    memset(big, 'q', sizeof big);
    reset_cdc(&dev_a, 65536);
    T_EQ(usbf_open(&u, &dev_a, &h), 0);
    ausb_epstream_config_init(&cfg);
    T_EQ(ausb_epstream_open(&es, &h, 0, 0x05, &cfg, on_end, &e), 0);  /* OUT only */
    fd = ausb_epstream_fd(&es);
    T_EQ((int)write(fd, big, sizeof big), (int)sizeof big);
    close(fd);                                   /* before anything was sent */
    T_EQ(loop_until(&u, NULL, &e.ends, 1), 0);
    T_EQ(e.status, 0);
    T_EQ(es.bytes_out, (long long)sizeof big);
    T_EQ(usbf_count(&dev_a, &dev_a.cdc_len), (int)sizeof big);
    for (i = 0; i < 5; i++) loop_once(&u, NULL, 1);
    T_EQ(e.ends, 1);
    ausb_close(&h);
    ausb_ctx_close(&u);
}

static void test_half_close_keeps_reading(void)
{
    ausb_ctx u;
    ausb_handle h;
    ausb_epstream es;
    ender e = {0, 1};
    char buf[64];
    int fd, got = 0, i;
    reset_cdc(&dev_a, 4096);
    T_EQ(usbf_open(&u, &dev_a, &h), 0);
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, NULL, on_end, &e), 0);
    fd = ausb_epstream_fd(&es);
    T_EQ((int)write(fd, "ping\n", 5), 5);
    T_EQ(shutdown(fd, SHUT_WR), 0);
    for (i = 0; i < 2000 && got < 5; i++) {
        ssize_t n = read(fd, buf + got, sizeof buf - (size_t)got);
        if (n > 0) got += (int)n;
        loop_once(&u, NULL, 2);
    }
    T_EQ(got, 5);
    T_CHECK(memcmp(buf, "ping\n", 5) == 0);
    T_EQ(es.out_state, 0);               /* OUT is over */
    T_EQ(es.in_state, 1);                /* IN still runs */
    T_EQ(e.ends, 0);
    close(fd);
    T_EQ(loop_until(&u, NULL, &e.ends, 1), 0);
    T_EQ(e.status, 0);
    ausb_close(&h);
    ausb_ctx_close(&u);
}

static void test_epstream_close_and_handle_close(void)
{
    ausb_ctx u;
    ausb_handle h;
    ausb_epstream es, es2;
    ender e = {0, 1}, e2 = {0, 1};
    char c;
    int fd, fd2;
    reset_cdc(&dev_a, 4096);
    T_EQ(usbf_open(&u, &dev_a, &h), 0);
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, NULL, on_end, &e), 0);
    fd = ausb_epstream_fd(&es);
    ausb_epstream_close(&es);
    ausb_epstream_close(&es);            /* idempotent */
    T_EQ(e.ends, 0);                     /* never from inside the call */
    T_EQ(loop_until(&u, NULL, &e.ends, 1), 0);
    T_EQ(e.status, -ECANCELED);
    T_EQ((int)read(fd, &c, 1), 0);       /* end of file */
    close(fd);
    /* the handle closes under a running stream */
    T_EQ(ausb_epstream_open(&es2, &h, 0x8b, 0x05, NULL, on_end, &e2), 0);
    fd2 = ausb_epstream_fd(&es2);
    T_EQ((int)write(fd2, "abc", 3), 3);
    spin(&u, NULL, 3);
    ausb_close(&h);
    T_EQ(loop_until(&u, NULL, &e2.ends, 1), 0);
    T_EQ(e2.status, AUSB_ECLOSED);
    spin(&u, NULL, 3);
    T_EQ(e2.ends, 1);
    close(fd2);
    T_EQ(ausb_pending(&u), 0);
    ausb_ctx_close(&u);
}

static void test_exit_with_stream_open(void)
{
    ausb_ctx u;
    ausb_handle h;
    ausb_epstream es;
    ender e = {0, 1};
    int fds0 = count_fds(), fd;
    reset_cdc(&dev_a, 4096);
    T_EQ(usbf_open(&u, &dev_a, &h), 0);
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, NULL, on_end, &e), 0);
    fd = ausb_epstream_fd(&es);
    T_CHECK(ausb_pending(&u) > 0);
    ausb_ctx_close(&u);
    T_EQ(e.ends, 1);
    T_EQ(e.status, AUSB_ECLOSED);
    close(fd);
    T_EQ(count_fds_settled(fds0), fds0);
}

static void test_one_way_streams(void)
{
    ausb_ctx u;
    ausb_handle h;
    ausb_epstream es;
    ender e = {0, 1};
    char buf[16];
    int fd, got = 0, eof = 0, i;
    reset_cdc(&dev_a, 4096);
    T_EQ(usbf_open(&u, &dev_a, &h), 0);
    /* IN only: the caller cannot write */
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0, NULL, on_end, &e), 0);
    fd = ausb_epstream_fd(&es);
    T_EQ((int)send(fd, "x", 1, MSG_NOSIGNAL), -1);
    T_EQ(errno, EPIPE);
    /* bytes put in the device's buffer by someone else still arrive */
    pthread_mutex_lock(&dev_a.lock);
    memcpy(dev_a.cdc, "from dev", 8);
    dev_a.cdc_len = 8;
    usbf_serve_cdc(&dev_a);
    pthread_mutex_unlock(&dev_a.lock);
    for (i = 0; i < 2000 && got < 8; i++) {
        ssize_t n = read(fd, buf + got, sizeof buf - (size_t)got);
        if (n > 0) got += (int)n;
        loop_once(&u, NULL, 2);
    }
    T_EQ(got, 8);
    close(fd);
    T_EQ(loop_until(&u, NULL, &e.ends, 1), 0);
    T_EQ(e.status, 0);
    /* OUT only: the caller reads end of file at once */
    e.ends = 0;
    T_EQ(ausb_epstream_open(&es, &h, 0, 0x05, NULL, on_end, &e), 0);
    fd = ausb_epstream_fd(&es);
    got = 0;
    read_all(&u, fd, buf, sizeof buf, &got, &eof);
    T_EQ(eof, 1);
    T_EQ(got, 0);
    close(fd);
    T_EQ(loop_until(&u, NULL, &e.ends, 1), 0);
    T_EQ(e.status, 0);
    ausb_close(&h);
    ausb_ctx_close(&u);
}

static void test_bad_arguments(void)
{
    ausb_ctx u;
    ausb_handle h;
    ausb_epstream es;
    ausb_epstream_config cfg;
    ender e = {0, 1};
    int fds0;
    reset_cdc(&dev_a, 4096);
    T_EQ(usbf_open(&u, &dev_a, &h), 0);
    fds0 = count_fds();
    T_EQ(ausb_epstream_open(NULL, &h, 0x8b, 0x05, NULL, on_end, &e), -EINVAL);
    T_EQ(ausb_epstream_open(&es, NULL, 0x8b, 0x05, NULL, on_end, &e), -EINVAL);
    T_EQ(ausb_epstream_fd(&es), -1);
    T_EQ(ausb_epstream_open(&es, &h, 0x0b, 0x05, NULL, on_end, &e), -EINVAL);   /* IN without bit 7 */
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x85, NULL, on_end, &e), -EINVAL);   /* OUT with bit 7 */
    T_EQ(ausb_epstream_open(&es, &h, 0, 0, NULL, on_end, &e), -EINVAL);
    ausb_epstream_config_init(&cfg);
    cfg.in_flight = 0;
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, &cfg, on_end, &e), -EINVAL);
    cfg.in_flight = 65;
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, &cfg, on_end, &e), -EINVAL);
    ausb_epstream_config_init(&cfg);
    cfg.out_len = 0;
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, &cfg, on_end, &e), -EINVAL);
    ausb_epstream_config_init(&cfg);
    cfg.sock_buf = -1;
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, &cfg, on_end, &e), -EINVAL);
    ausb_epstream_close(NULL);
    ausb_epstream_close(&es);            /* never opened: nothing */
    T_EQ(ausb_epstream_fd(NULL), -EINVAL);
    T_EQ(count_fds_settled(fds0), fds0);
    ausb_close(&h);
    spin(&u, NULL, 2);
    T_CHECK(ausb_epstream_open(&es, &h, 0x8b, 0x05, NULL, on_end, &e) < 0);
    T_EQ(e.ends, 0);
    T_CHECK(count_fds() < fds0);         /* the device's descriptor went with the handle */
    ausb_ctx_close(&u);
}

/* ---- sched.h drives both contexts ---- */

typedef struct echo_job {
    aios_stream *s;
    int lines, done;
    schd_loop *loop;
} echo_job;

static void on_echo_line(aios_stream *s, int status, void *ud)
{
    echo_job *j = (echo_job *)ud;
    size_t n;
    const char *p;
    char want[32];
    if (status < 0) { j->done = -1; schd_loop_stop(j->loop); return; }
    p = aios_data(s, &n);
    snprintf(want, sizeof want, "n=%d\n", j->lines);
    if ((size_t)status != strlen(want) || memcmp(p, want, strlen(want)) != 0) { j->done = -2; schd_loop_stop(j->loop); return; }
    aios_consume(s, (size_t)status);
    if (++j->lines == 100) { j->done = 1; schd_loop_stop(j->loop); return; }
    snprintf(want, sizeof want, "n=%d\n", j->lines);
    aios_write_copy(s, want, strlen(want), NULL, NULL);
    aios_read_until(s, "\n", 1, 64, on_echo_line, j);
}

static void test_sched_drives_usb_and_aio(void)
{
    schd_loop loop;
    schd_source su, sa;
    ausb_ctx u;
    ausb_handle h;
    aios_ctx a;
    ausb_epstream es;
    ender e = {0, 1};
    echo_job j;
    memset(&j, 0, sizeof j);
    reset_cdc(&dev_a, 4096);
    T_EQ(schd_loop_init(&loop), 0);
    j.loop = &loop;
    T_EQ(usbf_open(&u, &dev_a, &h), 0);
    T_EQ(aios_ctx_init(&a), 0);
    T_EQ(schd_source_add(&su, &loop, ausb_prepare, ausb_dispatch, &u), 0);
    T_EQ(schd_source_add(&sa, &loop, aios_prepare, aios_dispatch, &a), 0);
    T_EQ(ausb_epstream_open(&es, &h, 0x8b, 0x05, NULL, on_end, &e), 0);
    T_EQ(aios_stream_open(&j.s, &a, ausb_epstream_fd(&es), 0), 0);
    aios_write_copy(j.s, "n=0\n", 4, NULL, NULL);
    aios_read_until(j.s, "\n", 1, 64, on_echo_line, &j);
    schd_loop_run(&loop);
    T_EQ(j.done, 1);
    T_EQ(j.lines, 100);
    aios_close(j.s, NULL, NULL);
    T_EQ(loop_until(&u, &a, &e.ends, 1), 0);
    T_EQ(e.status, 0);
    schd_source_remove(&su);
    schd_source_remove(&sa);
    aios_ctx_close(&a);
    ausb_close(&h);
    ausb_ctx_close(&u);
    schd_loop_close(&loop);
}

#define RUN(fn) do { const char *o_ = getenv("T_ONLY"); if (!o_ || strstr(#fn, o_)) T_RUN(fn); } while (0)

int main(void)
{
    t_suite("usb_epstream");
    usbf_init();
    roothub.desc_len = usbf_hub_descriptors(roothub.desc);
    usbf_add(&roothub, "/devices/fake/usb1", 1, 1, 480);
    dev_a.desc_len = usbf_std_descriptors(dev_a.desc, 0x1234, 0x0001);
    usbf_add(&dev_a, "/devices/fake/usb1/1-1", 1, 2, 480);
    RUN(test_lines_through_aio_read_until);
    RUN(test_read_exactly_binary_and_plain_fd_writes);
    RUN(test_slow_reader_is_bounded_and_loses_nothing);
    RUN(test_stall_mid_stream);
    RUN(test_close_after_write_still_sends);
    RUN(test_half_close_keeps_reading);
    RUN(test_epstream_close_and_handle_close);
    RUN(test_exit_with_stream_open);
    RUN(test_one_way_streams);
    RUN(test_bad_arguments);
    RUN(test_sched_drives_usb_and_aio);
    RUN(test_device_leaves_mid_stream);
    return t_done();
}
