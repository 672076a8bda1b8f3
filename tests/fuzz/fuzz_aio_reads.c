/* Fuzz target: aio_stream.h's bounded reads (read until a delimiter within a
 * maximum, read exactly n, read some, peek, consume) on a real pipe or
 * socketpair, fed in chunk sizes taken from the input, on a context driven
 * by its own aios_run_once.
 *
 * Input: 3 header bytes (descriptor kind and number of operations, read
 * high-water mark, stream length), then 4-byte operation records, then the stream bytes S (the
 * rest).  Every delivered result is compared with a reference model that
 * only knows S and how many bytes the program consumed:
 *  - read_until: the first occurrence of the delimiter that ends within
 *    max bytes gives its end offset, with those bytes at aios_data();
 *    otherwise AIOS_ETOOLONG as soon as max bytes are there (result_len =
 *    bytes buffered, >= max), or AIOS_EINCOMPLETE at the end of the stream
 *    (result_len = what is left);
 *  - read_exactly n: n and the next n bytes, or at the end of the stream
 *    AIOS_EINCOMPLETE with result_len = the bytes that arrived (and those
 *    bytes in the buffer);
 *  - read some: 1..cap bytes, the next ones; 0 only at the end;
 *  - peek n: at least n bytes buffered, or AIOS_EINCOMPLETE at the end;
 *  - the buffered bytes are always the next bytes of S; a callback never
 *    runs inside the call that started the operation, exactly once per
 *    operation; a second read while one is pending is -EBUSY; close
 *    with a read pending cancels it with -ECANCELED, then the close
 *    callback; the descriptor and every allocation are released.
 *
 * Zero-length read_exactly is included: right after a read that filled all
 * its room (AIOS__F_MORE) it once read 0 bytes into (char *)NULL + 0 and took
 * the 0 for the end of the stream (corpus aio_reads-exact0-*).  Build with
 * -DFUZZ_NO_EXACT_ZERO to map n == 0 to 1 when chasing something else.
 *
 * FUZZ_FLAGS: -lpthread
 */
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

#define MAX_S 4096

enum { OP_UNTIL, OP_EXACT, OP_SOME, OP_PEEK, OP_CONSUME, OP_LIMITS, OP_CLOSE_PENDING, OP_BAD };

/* the stream and the model */
static const uint8_t *S;
static size_t slen, pos;          /* pos: bytes of S the program consumed */
static size_t written;
static int wfd, rfd, wclosed;

/* what the callback saw */
static int calls, status, close_calls, in_start;
static size_t res_len, data_len;
static unsigned char snap[MAX_S + 16];
static int token;

static void on_read(aios_stream *s, int st, void *ud)
{
    const char *d;
    CHECK(!in_start);                      /* never inside the starting call */
    CHECK(ud == (void *)&token);
    calls++;
    status = st;
    res_len = aios_result_len(s);
    d = aios_data(s, &data_len);
    CHECK(data_len <= slen - pos);
    memcpy(snap, d, data_len);
#ifdef FUZZ_TRACE
    fprintf(stderr, "read: status %d, result_len %zu, buffered %zu, pos %zu/%zu\n", st, res_len, data_len, pos, slen);
#endif
    /* whatever is buffered is the next bytes of the stream, after what a
     * completed read_some / read_exactly just took */
}

static void on_close(aios_stream *s, int st, void *ud)
{
    (void)s;
    CHECK(ud == (void *)&close_calls);
    CHECK(st == 0);
    close_calls++;
}

static void write_chunk(size_t chunk)
{
    size_t n = slen - written;
    ssize_t w;
    if (n > chunk) n = chunk;
    if (n == 0) return;
    w = write(wfd, S + written, n);
    if (w > 0) written += (size_t)w;
    else CHECK(errno == EAGAIN || errno == EINTR);
}

/* Runs the loop until the pending read calls back, feeding the descriptor
 * `chunk` bytes per iteration and closing it once all of S is written. */
static void run_until_done(aios_ctx *ctx, size_t chunk)
{
    int idle = 0;
    while (calls == 0) {
        int r = aios_run_once(ctx, AIOS_MS(wclosed ? 100 : 0));
        CHECK(r >= 0);
        if (calls) break;
        if (written < slen) {
            write_chunk(chunk);
        } else if (!wclosed) {
            close(wfd);
            wclosed = 1;
        } else {
            CHECK(++idle < 20);   /* everything is written and closed: it must complete */
        }
    }
    CHECK(calls == 1);
}

/* first end offset (relative to pos) of delim within max bytes, or 0 */
static size_t ref_until(const uint8_t *delim, size_t dlen, size_t max)
{
    size_t left = slen - pos, lim = left < max ? left : max, i;
    for (i = 0; i + dlen <= lim; i++)
        if (memcmp(S + pos + i, delim, dlen) == 0) return i + dlen;
    return 0;
}

static void check_buffer(void)
{
    /* the bytes still buffered after the callback are the next ones of S */
    CHECK(data_len <= slen - pos);
    CHECK(memcmp(snap, S + pos, data_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t hwms[8] = {0, 1, 2, 3, 7, 16, 64, 4096};
    aios_ctx ctx;
    aios_stream *s = NULL;
    int fds[2], i, nops, pending_close = 0;
    const uint8_t *ops;
    uint8_t kind;
    size_t want_s;

    if (size < 3) return 0;
    kind = data[0];
    want_s = ((size_t)data[2] | ((size_t)(data[1] >> 4) << 8)) % (MAX_S + 1);
    nops = kind >> 2;                    /* 0..63 */
    if ((size_t)nops > (size - 3) / 4) nops = (int)((size - 3) / 4);
    ops = data + 3;
    S = data + 3 + (size_t)nops * 4;
    slen = size - 3 - (size_t)nops * 4;
    if (slen > want_s) slen = want_s;
    pos = written = 0;
    wclosed = 0;

    if (kind & 1) {
        CHECK(pipe(fds) == 0);
        rfd = fds[0];
        wfd = fds[1];
    } else {
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
        rfd = fds[0];
        wfd = fds[1];
    }
    CHECK(fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK) == 0);
    CHECK(aios_ctx_init(&ctx) == 0);
    CHECK(aios_stream_open(&s, &ctx, rfd, 0) == 0);
    aios_set_limits(s, hwms[(data[1] >> 1) & 7], 0);

    for (i = 0; i < nops && !pending_close; i++) {
        uint8_t op = ops[4 * i] % 8, p1 = ops[4 * i + 1], p2 = ops[4 * i + 2];
        size_t chunk = 1 + (size_t)ops[4 * i + 3] * ((ops[4 * i] >> 3) + 1);
        unsigned char *buf = NULL;
        size_t n = 0;
        int r;
        calls = 0;
        status = 12345;
        switch (op) {
        case OP_UNTIL: case OP_BAD: {
            static const char *pat[4] = {"\r\n\r\n\r\n\r\n", "aaaaaaab", "\n\n\n\n\n\n\n\n", "abababab"};
            uint8_t delim[8];
            size_t dlen = (size_t)(p2 & 7) + 1, max, end;
            int src = (p2 >> 3) & 7;
            if (src < 4) {
                memcpy(delim, pat[src] + (8 - dlen), dlen);
            } else {
                /* a piece of what comes, so that it matches */
                size_t at = pos + p1 % 64, k;
                for (k = 0; k < dlen; k++) delim[k] = at + k < slen ? S[at + k] : (uint8_t)k;
            }
            max = op == OP_BAD ? (size_t)(p1 % 9) : dlen + (size_t)p1 * ((p2 >> 6) + 1);
            in_start = 1;
            r = aios_read_until(s, delim, dlen, max, on_read, &token);
            in_start = 0;
            if (max < dlen) { CHECK(r == -EINVAL); break; }
            CHECK(r == 0);
            CHECK(aios_read_exactly(s, delim, 1, on_read, &token) == -EBUSY);
            end = ref_until(delim, dlen, max);
            run_until_done(&ctx, chunk);
            if (end) {
                CHECK(status == (int)end && res_len == end);
                CHECK(data_len >= end);
                check_buffer();
                n = (p2 & 0x80) && p1 & 1 ? 0 : end;   /* now and then leave the line there */
            } else if (slen - pos >= max) {
                CHECK(status == AIOS_ETOOLONG);
                CHECK(res_len == data_len && data_len >= max);
                check_buffer();
                n = max;
            } else {
                CHECK(status == AIOS_EINCOMPLETE);
                CHECK(wclosed && written == slen);
                CHECK(res_len == slen - pos && data_len == slen - pos);
                check_buffer();
                n = data_len;
            }
            aios_consume(s, n);
            pos += n;
            break;
        }
        case OP_EXACT:
            n = (size_t)p1 | ((size_t)(p2 & 3) << 8);
#ifdef FUZZ_NO_EXACT_ZERO
            if (n == 0) n = 1;
#endif
            buf = n ? (unsigned char *)malloc(n) : NULL;
            in_start = 1;
            r = aios_read_exactly(s, buf, n, on_read, &token);
            in_start = 0;
            CHECK(r == 0);
            run_until_done(&ctx, chunk);
            if (slen - pos >= n) {
                CHECK(status == (int)n && res_len == n);
                CHECK(n == 0 || memcmp(buf, S + pos, n) == 0);
                pos += n;
            } else {
                CHECK(status == AIOS_EINCOMPLETE);
                CHECK(wclosed && written == slen);
                CHECK(res_len == slen - pos);
                CHECK(memcmp(buf, S + pos, res_len) == 0);
                pos = slen;
            }
            check_buffer();
            break;
        case OP_SOME:
            n = 1 + (size_t)p1 * ((p2 & 3) + 1);
            buf = (unsigned char *)malloc(n);
            in_start = 1;
            r = aios_read(s, buf, n, on_read, &token);
            in_start = 0;
            CHECK(r == 0);
            run_until_done(&ctx, chunk);
            if (slen == pos) {
                CHECK(status == 0);
                CHECK(wclosed);
            } else {
                CHECK(status >= 1 && (size_t)status <= n && (size_t)status <= slen - pos);
                CHECK(res_len == (size_t)status);
                CHECK(memcmp(buf, S + pos, (size_t)status) == 0);
                pos += (size_t)status;
            }
            check_buffer();
            break;
        case OP_PEEK:
            n = 1 + (size_t)p1 + ((size_t)(p2 & 1) << 8);
            in_start = 1;
            r = aios_peek(s, n, on_read, &token);
            in_start = 0;
            CHECK(r == 0);
            run_until_done(&ctx, chunk);
            if (slen - pos >= n) {
                CHECK(status >= (int)n && (size_t)status == data_len && res_len == data_len);
            } else {
                CHECK(status == AIOS_EINCOMPLETE);
                CHECK(wclosed && res_len == slen - pos && data_len == slen - pos);
            }
            check_buffer();
            break;
        case OP_CONSUME: {
            const char *d = aios_data(s, &data_len);
            CHECK(data_len <= slen - pos && memcmp(d, S + pos, data_len) == 0);
            n = p1 < data_len ? p1 : data_len;
            aios_consume(s, p1);
            pos += n;
            (void)aios_data(s, &data_len);
            break;
        }
        case OP_LIMITS:
            aios_set_limits(s, hwms[p1 & 7], 0);
            /* let some bytes arrive meanwhile */
            write_chunk(chunk);
            break;
        default:   /* OP_CLOSE_PENDING: close with a read waiting */
            buf = (unsigned char *)malloc(MAX_S + 1);
            in_start = 1;
            r = (p1 & 1) ? aios_read_exactly(s, buf, slen - pos + 1, on_read, &token)
                         : aios_read_until(s, "\0\xff", 2, 2 + (size_t)p2 * 4, on_read, &token);
            CHECK(r == 0);
            close_calls = 0;
            CHECK(aios_close(s, on_close, &close_calls) == 0);
            CHECK(aios_close(s, on_close, &close_calls) == AIOS_ECLOSED);
            in_start = 0;
            CHECK(calls == 0 && close_calls == 0);
            while (!close_calls) CHECK(aios_run_once(&ctx, 0) >= 0);
            CHECK(calls == 1 && status == -ECANCELED && close_calls == 1);
            pending_close = 1;
            s = NULL;
            break;
        }
        free(buf);
    }

    if (s) {
        close_calls = 0;
        calls = 0;
        CHECK(aios_close(s, on_close, &close_calls) == 0);
        while (!close_calls) CHECK(aios_run_once(&ctx, 0) >= 0);
        CHECK(close_calls == 1 && calls == 0);
    }
    if (!wclosed) close(wfd);
    CHECK(aios_run_once(&ctx, 0) == 0);   /* nothing left */
    aios_ctx_close(&ctx);
    /* the stream's descriptor is closed */
    errno = 0;
    CHECK(fcntl(rfd, F_GETFD) == -1 && errno == EBADF);
    return 0;
}
