/* tests/aio_roundtrips.c - many concurrent echo connections, each carrying a
 * stream of numbered, checksummed messages; built on aio_stream.h.
 *
 *   aio_roundtrips HOST PORT CONNS ROUNDTRIPS [options]
 *     --server-pid PID  at the barrier, count the server's open sockets
 *                       (/proc/PID/fd) and require at least CONNS of them
 *     --window W        messages in flight per connection (default 4)
 *     --max-payload N   payload bytes per message, 0..N (default 200)
 *     --seconds S       repeat whole rounds (connect, barrier, round trips,
 *                       close) until S seconds have passed (soak mode)
 *     --seed N          payload lengths and bytes (default: T_SEED, else from
 *                       the time; printed either way)
 *
 * The fd limit is raised to what CONNS needs (soft up to hard, and the hard
 * limit too when allowed); when it cannot be, a line starting with
 * "REDUCED:" says so and fewer connections are used.
 *
 * Every connection sends message 0 as soon as it is up and then waits at a
 * barrier: nothing more is sent until all CONNS connections have had their
 * first message echoed, so they are all open at the same moment (the
 * server's socket count is checked right then).  After the barrier each
 * connection keeps up to W messages in flight until it has sent its share
 * of ROUNDTRIPS, half-closes, and expects the end of the stream right
 * after its last echo.  Message: magic, connection, sequence, payload
 * length, checksum (FNV-1a over the rest), payload bytes from a PRNG keyed
 * by (seed, connection, sequence).  Each echoed message must be the very
 * next sequence number with exactly the bytes sent: a lost byte, a
 * duplicated or reordered message, or extra bytes after the last one, are
 * each counted and fail the run.  Prints the harness closing line. */
#include "aio_common.h"

#include <dirent.h>
#include <time.h>
#include <sys/resource.h>

#define RT_MAGIC 0xEC40C0DEu
#define RT_HDR 20

typedef struct rt_conn {
    aios_stream *s;
    int id;
    uint32_t quota;         /* messages this connection sends in the round */
    uint32_t sent, got;     /* sequence numbers: next to send, next expected back */
    int up, done, failed, passed_barrier, diagnosing;
} rt_conn;

typedef struct rt_stats {
    long long roundtrips, bytes;
    long long lost, duplicated, reordered, corrupt, extra, conn_errors;
} rt_stats;

static aios_ctx ctx;
static rt_conn *conns;
static int nconns, window = 4, max_payload = 200;
static long long total_rts;
static uint32_t seed;
static const char *host;
static int port, server_pid;
static int connecting, up_count, at_barrier, barrier_open, barrier_broken, finished;
static double t_barrier;
static int next_to_connect;
static rt_stats st;
static int server_sockets = -1;
static unsigned char *scratch;

/* splitmix-style mixing: a payload byte stream per (seed, conn, seq) */
static uint32_t rt_mix(uint32_t x)
{
    x ^= x >> 16; x *= 0x7feb352du;
    x ^= x >> 15; x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static uint32_t rt_key(int id, uint32_t seq)
{
    return rt_mix(seed ^ rt_mix((uint32_t)id * 0x9E3779B9u + seq * 0x85EBCA6Bu + 1u));
}

static uint32_t rt_len(int id, uint32_t seq)
{
    return rt_key(id, seq) % (uint32_t)(max_payload + 1);
}

static void rt_payload(int id, uint32_t seq, unsigned char *out, uint32_t n)
{
    uint32_t k = rt_key(id, seq) | 1u, i;
    for (i = 0; i < n; i++) {
        k ^= k << 13; k ^= k >> 17; k ^= k << 5;
        out[i] = (unsigned char)k;
    }
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
    return p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Builds message (id, seq) in out; returns its length. */
static size_t rt_build(int id, uint32_t seq, unsigned char *out)
{
    uint32_t n = rt_len(id, seq);
    put32(out, RT_MAGIC);
    put32(out + 4, (uint32_t)id);
    put32(out + 8, seq);
    put32(out + 12, n);
    rt_payload(id, seq, out + RT_HDR, n);
    put32(out + 16, t_hash(t_hash(2166136261u, out, 16), out + RT_HDR, n));
    return RT_HDR + n;
}

static void on_peek(aios_stream *s, int status, void *ud);
static void rt_fill_window(rt_conn *c);

static void rt_fail(rt_conn *c, long long *counter, const char *what)
{
    if (counter) (*counter)++;
    if (!c->failed && st.lost + st.duplicated + st.reordered + st.corrupt + st.extra + st.conn_errors <= 5)
        printf("connection %d: %s (sent %u, expected back %u of %u)\n", c->id, what, c->sent, c->got, c->quota);
    c->failed = 1;
}

/* Counts the sockets another process holds open. */
static int rt_count_sockets(int pid)
{
    char dir[64], path[600], link[64];
    DIR *d;
    struct dirent *e;
    int n = 0;
    snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
    if (!(d = opendir(dir))) return -1;
    while ((e = readdir(d)) != NULL) {
        ssize_t k;
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        k = readlink(path, link, sizeof link - 1);
        if (k > 0) { link[k] = 0; if (strncmp(link, "socket:", 7) == 0) n++; }
    }
    closedir(d);
    return n;
}

static double rt_now(void) { return (double)aios_now_ns() / 1e9; }

static void rt_open_barrier(void);

/* Connection c has had its first echo (or ended without one, which breaks
 * the "all open at once" claim but must not leave the others waiting). */
static void rt_reach_barrier(rt_conn *c, int ok)
{
    if (c->passed_barrier) return;
    c->passed_barrier = 1;
    if (!ok) barrier_broken++;
    if (++at_barrier == nconns && !barrier_open) {
        if (server_pid > 0 && !barrier_broken) server_sockets = rt_count_sockets(server_pid);
        t_barrier = rt_now();
        rt_open_barrier();
    }
}

static void rt_finish(rt_conn *c)
{
    if (c->done) return;
    c->done = 1;
    finished++;
    if (c->s) aios_close(c->s, NULL, NULL);
    rt_reach_barrier(c, 0);
}

static void on_written(aios_stream *s, int status, void *ud)
{
    rt_conn *c = (rt_conn *)ud;
    (void)s;
    if (status < 0 && !c->done) { rt_fail(c, &st.conn_errors, aios_strerror(status)); rt_finish(c); }
}

static int rt_send_next(rt_conn *c)
{
    size_t n = rt_build(c->id, c->sent, scratch);
    int r = aios_write_copy(c->s, scratch, n, on_written, c);
    if (r < 0) { rt_fail(c, &st.conn_errors, aios_strerror(r)); rt_finish(c); return r; }
    c->sent++;
    return 0;
}

static void rt_open_barrier(void)
{
    int k;
    barrier_open = 1;
    for (k = 0; k < nconns; k++)
        if (!conns[k].done) rt_fill_window(&conns[k]);
}

static void rt_fill_window(rt_conn *c)
{
    if (!barrier_open || c->done) return;
    while (c->sent < c->quota && c->sent - c->got < (uint32_t)window)
        if (rt_send_next(c) < 0) return;
    if (c->sent == c->quota && c->got == c->quota && c->up == 1) {
        c->up = 2;   /* all echoed: half-close, the end of the stream must follow */
        if (aios_shutdown(c->s, NULL, NULL) < 0) { rt_fail(c, &st.conn_errors, "shutdown"); rt_finish(c); }
    }
}

/* The bytes at p differ from what was sent: compare them with the expected
 * stream (the messages still in flight) to say whether a byte was lost,
 * duplicated or moved, and count it under that name.  Returns 1 (nothing
 * counted yet) while a byte missing so far may still arrive later: the
 * caller waits for more bytes and asks again. */
static unsigned char *want_bytes;
static size_t want_cap;

static int rt_diagnose(rt_conn *c, const unsigned char *p, size_t have, int final)
{
    size_t need = (size_t)window * (RT_HDR + (size_t)max_payload) + 1, len = 0, m, i, j;
    uint32_t seq;
    if (want_cap < need) {
        free(want_bytes);
        want_bytes = (unsigned char *)malloc(need);
        want_cap = want_bytes ? need : 0;
        if (!want_bytes) { rt_fail(c, &st.corrupt, "bytes differ from those sent"); return 0; }
    }
    for (seq = c->got; seq < c->sent; seq++) len += rt_build(c->id, seq, want_bytes + len);
    m = have < len ? have : len;
    for (i = 0; i < m && p[i] == want_bytes[i]; i++) {}
    for (j = i; j + 1 < m && p[j] == want_bytes[j + 1]; j++) {}
    if (j > i && j < m && p[j] == want_bytes[i] && memcmp(p + j + 1, want_bytes + j + 1, m - j - 1) == 0)
        rt_fail(c, &st.reordered, "a byte arrived later than the ones after it");
    else if (i + 2 < m && memcmp(p + i, want_bytes + i + 1, m - i - 1) == 0) {
        if (!final && have + 1 < len) return 1;   /* all but one byte may not be here yet */
        rt_fail(c, &st.lost, "a byte lost");
    } else if (i + 2 < m && memcmp(p + i + 1, want_bytes + i, m - i - 1) == 0)
        rt_fail(c, &st.duplicated, "a byte duplicated");
    else if (i + 2 < m && p[i] == want_bytes[i + 1] && p[i + 1] == want_bytes[i] &&
             memcmp(p + i + 2, want_bytes + i + 2, m - i - 2) == 0)
        rt_fail(c, &st.reordered, "two bytes swapped");
    else
        rt_fail(c, &st.corrupt, "bytes differ from those sent");
    return 0;
}

/* Diagnoses the damage at the front of the buffer, waiting for more bytes
 * when that can tell more. */
static void rt_damaged(rt_conn *c, aios_stream *s, const unsigned char *p, size_t have, int final)
{
    if (rt_diagnose(c, p, have, final) && aios_peek(s, have + 1, on_peek, c) == 0) {
        c->diagnosing = 1;
        return;
    }
    if (!c->failed) rt_fail(c, &st.corrupt, "bytes differ from those sent");
    rt_finish(c);
}

/* Verifies every complete message at the front of the read buffer. */
static void on_peek(aios_stream *s, int status, void *ud)
{
    rt_conn *c = (rt_conn *)ud;
    size_t have;
    const unsigned char *p = (const unsigned char *)aios_data(s, &have);
    if (c->done) return;
    if (c->diagnosing) { rt_damaged(c, s, p, have, status < 0); return; }
    if (status < 0) {
        if (status == AIOS_EINCOMPLETE && have == 0) {
            if (c->got != c->quota) rt_fail(c, &st.lost, "end of stream before every echo");
        } else if (status == AIOS_EINCOMPLETE) {
            rt_fail(c, c->got == c->quota ? &st.extra : &st.lost, "stream ends inside a message");
        } else {
            rt_fail(c, &st.conn_errors, aios_strerror(status));
        }
        rt_finish(c);
        return;
    }
    while (have >= RT_HDR) {
        uint32_t n = get32(p + 12), seq = get32(p + 8);
        if (get32(p) != RT_MAGIC || get32(p + 4) != (uint32_t)c->id || n > (uint32_t)max_payload) {
            rt_damaged(c, s, p, have, 0);
            return;
        }
        if (have < RT_HDR + (size_t)n) break;
        if (c->got >= c->quota) { rt_fail(c, &st.extra, "a message after the last one"); rt_finish(c); return; }
        if (seq != c->got) {
            if (seq < c->got) rt_fail(c, &st.duplicated, "duplicated message");
            else if (seq < c->sent) rt_fail(c, &st.reordered, "message out of order (one skipped)");
            else rt_fail(c, &st.corrupt, "sequence never sent");
            rt_finish(c);
            return;
        }
        rt_build(c->id, seq, scratch);
        if (n != rt_len(c->id, seq) || memcmp(p, scratch, RT_HDR + (size_t)n) != 0) {
            rt_damaged(c, s, p, have, 0);
            return;
        }
        c->got++;
        st.roundtrips++;
        st.bytes += RT_HDR + (long long)n;
        aios_consume(s, RT_HDR + (size_t)n);
        p = (const unsigned char *)aios_data(s, &have);
        rt_reach_barrier(c, 1);
    }
    rt_fill_window(c);
    if (c->done) return;
    /* the next message: its header, or the rest of the one begun */
    {
        size_t want = RT_HDR;
        if (have >= RT_HDR) want = RT_HDR + get32(p + 12);
        if (aios_peek(s, want, on_peek, c) < 0) { rt_fail(c, &st.conn_errors, "peek"); rt_finish(c); }
    }
}

static void rt_connect_more(void);

static void on_connected(aios_stream *s, int status, void *ud)
{
    rt_conn *c = (rt_conn *)ud;
    connecting--;
    if (status < 0) {
        rt_fail(c, &st.conn_errors, aios_strerror(status));
        rt_finish(c);
    } else {
        c->up = 1;
        up_count++;
        if (rt_send_next(c) == 0 && aios_peek(s, RT_HDR, on_peek, c) < 0) {
            rt_fail(c, &st.conn_errors, "peek");
            rt_finish(c);
        }
    }
    rt_connect_more();
}

/* At most 512 connects pending at once: a storm of 10,000 SYNs would
 * overflow the listen queue and wait for SYN retries instead. */
static void rt_connect_more(void)
{
    aios_tcp_opts o;
    aios_tcp_opts_init(&o);
    o.timeout_ns = AIOS_MS(30000);
    o.read_hwm = 4096;
    while (connecting < 512 && next_to_connect < nconns) {
        rt_conn *c = &conns[next_to_connect++];
        int r = aios_tcp_connect(&c->s, &ctx, host, port, &o, on_connected, c);
        if (r < 0) {
            rt_fail(c, &st.conn_errors, aios_strerror(r));
            c->s = NULL;
            rt_finish(c);
            continue;
        }
        connecting++;
    }
}

/* One whole round; returns 0 when every check held. */
static int rt_round(int verbose)
{
    int k, bad = 0;
    double t0 = rt_now(), t_end;
    long long progress = -1, now_progress;
    int64_t stall_limit = (int64_t)20 * 1000000000, last_progress = aios_now_ns();
    memset(&st, 0, sizeof st);
    connecting = up_count = at_barrier = barrier_open = barrier_broken = finished = next_to_connect = 0;
    t_barrier = 0;
    server_sockets = -1;
    for (k = 0; k < nconns; k++) {
        memset(&conns[k], 0, sizeof conns[k]);
        conns[k].id = k;
        conns[k].quota = (uint32_t)(total_rts / nconns + (k < total_rts % nconns ? 1 : 0));
        if (conns[k].quota == 0) conns[k].quota = 1;
    }
    aios_ctx_init(&ctx);
    rt_connect_more();
    while (finished < nconns) {
        if (aios_run_once(&ctx, AIOS_MS(100)) < 0) break;
        now_progress = st.roundtrips + finished + up_count;
        if (now_progress != progress) { progress = now_progress; last_progress = aios_now_ns(); }
        else if (aios_now_ns() - last_progress > stall_limit) {
            printf("no progress for 20 s: %d of %d connections up, %d finished, %lld round trips\n",
                   up_count, nconns, finished, st.roundtrips);
            /* A message short of a byte stalls its connection for good when
             * nothing follows it (the last before the barrier, or the last
             * one): after this long the bytes buffered are all that will
             * come, so say what is wrong with them. */
            for (k = 0; k < nconns; k++) {
                rt_conn *c = &conns[k];
                size_t have = 0;
                const unsigned char *p = c->s && !c->done ? (const unsigned char *)aios_data(c->s, &have) : NULL;
                if (p && have > 0) rt_damaged(c, c->s, p, have, 1);
            }
            break;
        }
    }
    t_end = rt_now();
    if (t_barrier == 0) t_barrier = t_end;
    for (k = 0; k < nconns; k++) {
        rt_conn *c = &conns[k];
        if (!c->done || c->failed || c->got != c->quota) bad++;
    }
    aios_ctx_close(&ctx);
    if (verbose) {
        printf("connections %d, all open at once: %s", nconns, barrier_open && !barrier_broken ? "yes" : "NO");
        if (server_pid > 0) printf(" (server held %d sockets then)", server_sockets);
        printf("\nround trips %lld (%lld bytes echoed), window %d, payload 0..%d bytes\n",
               st.roundtrips, st.bytes, window, max_payload);
        printf("lost %lld, duplicated %lld, reordered %lld, corrupt %lld, extra %lld, connection errors %lld, "
               "bad connections %d\n", st.lost, st.duplicated, st.reordered, st.corrupt, st.extra,
               st.conn_errors, bad);
        printf("time: %.2f s to the barrier, %.2f s of round trips (%.0f round trips/s), %.2f s in all\n",
               t_barrier - t0, t_end - t_barrier, st.roundtrips / (t_end - t_barrier > 0 ? t_end - t_barrier : 1),
               t_end - t0);
        fflush(stdout);
    }
    if (!barrier_open || barrier_broken || bad || st.roundtrips < total_rts) return -1;
    if (server_pid > 0 && server_sockets < nconns) return -1;
    return 0;
}

static int rounds_ok, rounds_run;
static double soak_seconds;

static void test_every_message_comes_back_once_in_order(void)
{
    double end = rt_now() + soak_seconds;
    int r;
    do {
        r = rt_round(soak_seconds <= 0 || rounds_run == 0);
        rounds_run++;
        if (r == 0) rounds_ok++;
        else break;
    } while (soak_seconds > 0 && rt_now() < end);
    if (soak_seconds > 0) printf("rounds %d, all good: %s\n", rounds_run, rounds_ok == rounds_run ? "yes" : "no");
    T_EQ(rounds_ok, rounds_run);
    T_CHECK(barrier_open && !barrier_broken);
    if (server_pid > 0) T_CHECK(server_sockets >= nconns);
    T_EQ(st.lost + st.duplicated + st.reordered + st.corrupt + st.extra + st.conn_errors, 0);
    T_CHECK(st.roundtrips >= total_rts);
}

/* Raises RLIMIT_NOFILE for `want` descriptors; returns how many are allowed. */
static long rt_raise_fd_limit(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 1024;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)want) {
        struct rlimit up = rl;
        up.rlim_max = up.rlim_cur = (rlim_t)want;
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) return want;
        printf("note: the fd hard limit is %lu and cannot be raised (%s)\n", (unsigned long)rl.rlim_max,
               strerror(errno));
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)want) return want;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t)want ? (rlim_t)want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}

int main(int argc, char **argv)
{
    long allowed;
    int i, wanted;
    if (argc < 5) {
        fprintf(stderr, "usage: %s HOST PORT CONNS ROUNDTRIPS [--server-pid PID] [--window W] "
                        "[--max-payload N] [--seconds S] [--seed N]\n", argv[0]);
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    nconns = atoi(argv[3]);
    total_rts = atoll(argv[4]);
    seed = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
    if (getenv("T_SEED")) seed = (uint32_t)strtoul(getenv("T_SEED"), NULL, 0);
    for (i = 5; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--server-pid") == 0) server_pid = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--window") == 0) window = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--max-payload") == 0) max_payload = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0) soak_seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0) seed = (uint32_t)strtoul(argv[i + 1], NULL, 0);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (nconns < 1 || total_rts < 1 || window < 1 || max_payload < 0 || max_payload > 60000 || port <= 0) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    wanted = nconns;
    allowed = rt_raise_fd_limit((long)nconns + 64);
    if (allowed < (long)nconns + 64) {
        nconns = (int)(allowed - 64);
        if (nconns < 1) nconns = 1;
        printf("REDUCED: the fd limit (%ld) allows %d connections, not the %d asked for\n", allowed, nconns, wanted);
    }
    printf("seed %u (rerun with T_SEED=%u)\n", (unsigned)seed, (unsigned)seed);
    signal(SIGPIPE, SIG_IGN);
    conns = (rt_conn *)calloc((size_t)nconns, sizeof *conns);
    scratch = (unsigned char *)malloc(RT_HDR + (size_t)max_payload);
    T_REQUIRE(conns && scratch);
    t_suite("aio_roundtrips");
    T_RUN(test_every_message_comes_back_once_in_order);
    free(conns);
    free(scratch);
    free(want_bytes);
    return t_done();
}
