/* tests/hosts.c - the third way to use the family: loops that are not ours drive all
 * three headers through their prepare / dispatch pairs.
 *
 * Three hosts, each written the way such a program would be:
 *   - a naive epoll loop that registers a descriptor only when the entries
 *     prepare hands it change (fd, events, or the AKC_FRESH mark the poll
 *     backend puts on an entry that is new since the last prepare);
 *   - libuv: a uv_prepare_t asks every context, uv_poll_t handles watch the
 *     entries, a uv_timer_t the deadline, a uv_check_t dispatches;
 *   - GLib: one GSource per context with a GPollFD per entry.
 * Each drives a schd_loop (a repeating timer and a task that sleeps), an
 * aios_ctx (a stream whose read callback closes it and opens another on
 * a new socket pair: the closed descriptor's number comes straight back)
 * and an ausb_ctx with a fake device (transfers that complete at once).
 *
 * A last test counts the waits when sched.h hosts the other two: one per
 * iteration, and none more for a context with nothing ready.
 * Run under umockdev-wrapper. */
#define _GNU_SOURCE 1
#include <stddef.h>
#include <sys/epoll.h>
#include <poll.h>

/* Counts the loop cores' waits (epoll_wait, or ppoll on the poll backend). */
static int h_waits;
#if defined(ASYNCKIT_POLL)
static int h_ppoll(struct pollfd *f, nfds_t n, const struct timespec *ts, const void *sig)
{
    (void)sig;
    h_waits++;
    return ppoll(f, n, ts, NULL);
}
#define AKC_SYS_PPOLL(f, n, ts, sig) h_ppoll((f), (n), (ts), (sig))
#else
static int h_epoll_wait(int epfd, struct epoll_event *ev, int n, int ms)
{
    h_waits++;
    return epoll_wait(epfd, ev, n, ms);
}
#define AKC_SYS_EPOLL_WAIT(e, ev, n, ms) h_epoll_wait((e), (ev), (n), (ms))
#define AKC_NO_PWAIT2 1
#endif

#define ASYNCKIT_IMPLEMENTATION
#include "sched.h"
#include "aio_stream.h"
#include "asyncusb.h"
#include "tests/harness.h"
#include "tests/usb_fake.h"
#include <uv.h>
#include <glib.h>
#include <sys/socket.h>
#include <unistd.h>

static usbf_device dev1;

/* ---- what every host drives ---- */

typedef int (*h_prepare_fn)(void *ctx, struct pollfd *fds, int cap, int64_t *deadline);
typedef void (*h_dispatch_fn)(void *ctx, struct pollfd *fds, int n);

typedef struct h_ctx {                 /* one context, as a host sees it */
    void *ctx;
    h_prepare_fn prepare;
    h_dispatch_fn dispatch;
} h_ctx;

typedef struct h_world {
    schd_loop loop;
    schd_timer tick;
    struct { schd_task task; int i; } sleeper;
    int ticks, slept;
    aios_ctx aio;
    aios_stream *first, *second;
    int first_fd, second_fd, peer1, peer2;
    int lines;
    ausb_ctx usb;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    int usb_done;
    h_ctx ctxs[3];
} h_world;

static h_world W;

/* A safety bound, not a timing assertion: a host that loses an event
 * ends its test as a failure instead of hanging. */
static int64_t h_give_up;
static int h_running(void) { return schd_now_ns() < h_give_up; }


static void h_on_tick(schd_timer *t, void *ud)
{
    (void)ud;
    if (++W.ticks == 3) schd_timer_stop(t, &W.loop);
}

static int h_sleeper(schd_task *t)
{
    SCHD_TASK_BEGIN(t);
    for (W.sleeper.i = 0; W.sleeper.i < 3; W.sleeper.i++) SCHD_AWAIT_DELAY(t, SCHD_MS(2));
    W.slept = 1;
    SCHD_TASK_END(t);
}

static void h_on_second_line(aios_stream *s, int status, void *ud)
{
    (void)ud;
    if (status > 0) W.lines++;
    aios_close(s, NULL, NULL);
}

/* Closes its own stream and opens the next on a new pair, inside one
 * dispatch: the new descriptor takes the number the old one had. */
static void h_on_first_line(aios_stream *s, int status, void *ud)
{
    int sv[2];
    (void)ud;
    if (status <= 0) { aios_close(s, NULL, NULL); return; }
    W.lines++;
    aios_close(s, NULL, NULL);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return;
    W.second_fd = sv[0];
    W.peer2 = sv[1];
    if (write(W.peer2, "two\n", 4) != 4) return;
    if (aios_stream_open(&W.second, &W.aio, sv[0], 0) == 0)
        aios_read_until(W.second, "\n", 1, 64, h_on_second_line, NULL);
}

static void h_on_usb(ausb_transfer *t, int status, void *user)
{
    (void)user;
    if (status != 0) { W.usb_done = -1000; return; }
    if (++W.usb_done < 5) ausb_submit(t);
}

static int h_world_open(void)
{
    int sv[2];
    memset(&W, 0, sizeof W);
    W.peer1 = W.peer2 = -1;
    h_give_up = schd_now_ns() + SCHD_SEC(20);
    if (schd_loop_init(&W.loop) < 0) return -1;
    schd_timer_init(&W.tick, h_on_tick, NULL);
    schd_timer_start(&W.tick, &W.loop, SCHD_MS(1), SCHD_MS(1));
    schd_task_start(&W.sleeper.task, &W.loop, h_sleeper, NULL);
    if (aios_ctx_init(&W.aio) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return -1;
    W.first_fd = sv[0];
    W.peer1 = sv[1];
    if (aios_stream_open(&W.first, &W.aio, sv[0], 0) < 0) return -1;
    aios_read_until(W.first, "\n", 1, 64, h_on_first_line, NULL);
    if (write(W.peer1, "one\n", 4) != 4) return -1;
    if (usbf_open(&W.usb, &dev1, &W.h) < 0) return -1;
    ausb_transfer_init(&W.t, 0);
    ausb_fill_interrupt(&W.t, &W.h, 0x83, W.buf, 8, AUSB_MS(1000), h_on_usb, NULL);
    if (ausb_submit(&W.t) < 0) return -1;
    W.ctxs[0].ctx = &W.loop; W.ctxs[0].prepare = schd_loop_prepare; W.ctxs[0].dispatch = schd_loop_dispatch;
    W.ctxs[1].ctx = &W.aio; W.ctxs[1].prepare = aios_prepare; W.ctxs[1].dispatch = aios_dispatch;
    W.ctxs[2].ctx = &W.usb; W.ctxs[2].prepare = ausb_prepare; W.ctxs[2].dispatch = ausb_dispatch;
    return 0;
}

static int h_world_done(void)
{
    return W.ticks >= 3 && W.slept && W.lines == 2 && W.usb_done >= 5;
}

static void h_world_close(void)
{
    ausb_transfer_free(&W.t);
    ausb_close(&W.h);
    ausb_ctx_close(&W.usb);
    aios_ctx_close(&W.aio);
    schd_loop_close(&W.loop);
    if (W.peer1 >= 0) close(W.peer1);
    if (W.peer2 >= 0) close(W.peer2);
}

static int h_ms_until(int64_t deadline)
{
    int64_t now = schd_now_ns();
    if (deadline == INT64_MAX) return -1;
    if (deadline <= now) return 0;
    return (int)((deadline - now + 999999) / 1000000);
}

/* ---- host 1: a naive epoll loop ---- */

#define H_MAX 64
typedef struct h_entry { int fd; short events; } h_entry;
typedef struct h_reg {          /* what the host registered for one context */
    h_entry e[H_MAX];
    int n;
    struct pollfd fds[H_MAX];
    int nfds;
} h_reg;

static void h_epoll_sync(int ep, h_reg *r, int id)
{
    int i;
    for (i = 0; i < r->nfds || i < r->n; i++) {
        int have = i < r->n, want = i < r->nfds;
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        if (have && (!want || r->e[i].fd != r->fds[i].fd || (r->fds[i].revents & AKC_FRESH)))
            epoll_ctl(ep, EPOLL_CTL_DEL, r->e[i].fd, &ev);   /* may fail: the kernel may have dropped it */
        if (!want) continue;
        ev.events = (uint32_t)r->fds[i].events;
        ev.data.u64 = ((uint64_t)id << 32) | (uint32_t)i;
        if (!have || r->e[i].fd != r->fds[i].fd || (r->fds[i].revents & AKC_FRESH)) {
            if (epoll_ctl(ep, EPOLL_CTL_ADD, r->fds[i].fd, &ev) < 0) epoll_ctl(ep, EPOLL_CTL_MOD, r->fds[i].fd, &ev);
        } else if (r->e[i].events != r->fds[i].events) {
            epoll_ctl(ep, EPOLL_CTL_MOD, r->fds[i].fd, &ev);
        }
        r->e[i].fd = r->fds[i].fd;
        r->e[i].events = r->fds[i].events;
    }
    r->n = r->nfds;
}

static void test_naive_epoll_host_drives_all_three(void)
{
    static h_reg reg[3];
    int ep, iter, c;
    T_REQUIRE(h_world_open() == 0);
    ep = epoll_create1(EPOLL_CLOEXEC);
    memset(reg, 0, sizeof reg);
    for (iter = 0; h_running() && !h_world_done(); iter++) {
        int64_t deadline = INT64_MAX;
        struct epoll_event ev[16];
        int n, i;
        for (c = 0; c < 3; c++) {
            reg[c].nfds = W.ctxs[c].prepare(W.ctxs[c].ctx, reg[c].fds, H_MAX, &deadline);
            T_CHECK(reg[c].nfds <= H_MAX);
            h_epoll_sync(ep, &reg[c], c);
        }
        n = epoll_wait(ep, ev, 16, h_ms_until(deadline) > 50 || deadline == INT64_MAX ? 50 : h_ms_until(deadline));
        for (c = 0; c < 3; c++)
            for (i = 0; i < reg[c].nfds; i++) reg[c].fds[i].revents = 0;
        for (i = 0; i < n; i++) {
            int id = (int)(ev[i].data.u64 >> 32), k = (int)(uint32_t)ev[i].data.u64;
            if (k < reg[id].nfds) reg[id].fds[k].revents = (short)ev[i].events;
        }
        for (c = 0; c < 3; c++) W.ctxs[c].dispatch(W.ctxs[c].ctx, reg[c].fds, reg[c].nfds);
    }
    T_CHECK(h_world_done());
    T_EQ(W.second_fd, W.first_fd);          /* the number really came back */
    close(ep);
    h_world_close();
}

/* ---- host 2: libuv ---- */

typedef struct h_uvreg {
    uv_poll_t *poll[H_MAX];     /* a handle is freed by its close callback */
    int active[H_MAX];
    int always[H_MAX];          /* libuv refused it (a regular file): ready as poll() says */
    int fd[H_MAX];
    short events[H_MAX];
    struct pollfd fds[H_MAX];
    int nfds;
} h_uvreg;

static h_uvreg uvreg[3];
static uv_timer_t uv_deadline;

static void h_uv_polled(uv_poll_t *p, int status, int events)
{
    struct pollfd *f = (struct pollfd *)p->data;
    f->revents |= (short)(status < 0 ? POLLERR : ((events & UV_READABLE) ? POLLIN : 0) |
                                                  ((events & UV_WRITABLE) ? POLLOUT : 0) |
                                                  ((events & UV_DISCONNECT) ? POLLHUP : 0));
}

static void h_uv_noop(uv_timer_t *t) { (void)t; }

static void h_uv_closed(uv_handle_t *h) { (void)h; }
static void h_uv_freed(uv_handle_t *h) { free(h); }

static void h_uv_prepare(uv_prepare_t *p)
{
    int64_t deadline = INT64_MAX;
    int c, i, ms;
    (void)p;
    if (h_world_done() || !h_running()) { uv_stop(p->loop); return; }
    for (c = 0; c < 3; c++) {
        h_uvreg *r = &uvreg[c];
        int n = W.ctxs[c].prepare(W.ctxs[c].ctx, r->fds, H_MAX, &deadline);
        for (i = 0; i < H_MAX; i++) {
            int want = i < n, changed;
            changed = !want || !r->active[i] || r->fd[i] != r->fds[i].fd || (r->fds[i].revents & AKC_FRESH);
            if (r->active[i] && changed) {
                if (r->always[i]) {
                    free(r->poll[i]);
                } else {
                    uv_poll_stop(r->poll[i]);
                    uv_close((uv_handle_t *)r->poll[i], h_uv_freed);
                }
                r->active[i] = r->always[i] = 0;
            }
            if (!want) continue;
            r->fds[i].revents = 0;
            if (!r->active[i]) {
                r->poll[i] = (uv_poll_t *)malloc(sizeof *r->poll[i]);
                if (!r->poll[i]) abort();
                /* umockdev's usbfs node is a regular file, which epoll (and
                 * so libuv) refuses: poll() calls it always ready */
                r->always[i] = uv_poll_init(p->loop, r->poll[i], r->fds[i].fd) == UV_EPERM;
                r->poll[i]->data = &r->fds[i];
                r->active[i] = 1;
                r->fd[i] = r->fds[i].fd;
                r->events[i] = -1;
            }
            if (r->always[i]) {
                deadline = 0;
                r->events[i] = r->fds[i].events;
            } else if (r->events[i] != r->fds[i].events) {
                int ev = ((r->fds[i].events & POLLIN) ? UV_READABLE : 0) | ((r->fds[i].events & POLLOUT) ? UV_WRITABLE : 0);
                uv_poll_start(r->poll[i], ev | UV_DISCONNECT, h_uv_polled);
                r->events[i] = r->fds[i].events;
            }
        }
        r->nfds = n;
    }
    ms = h_ms_until(deadline);
    if (ms < 0 || ms > 50) ms = 50;
    uv_timer_start(&uv_deadline, h_uv_noop, (uint64_t)ms, 0);
}

static void h_uv_check(uv_check_t *p)
{
    int c, i;
    (void)p;
    for (c = 0; c < 3; c++) {
        for (i = 0; i < uvreg[c].nfds; i++)
            if (uvreg[c].always[i]) uvreg[c].fds[i].revents = uvreg[c].fds[i].events;
        W.ctxs[c].dispatch(W.ctxs[c].ctx, uvreg[c].fds, uvreg[c].nfds);
        for (i = 0; i < uvreg[c].nfds; i++) uvreg[c].fds[i].revents = 0;
    }
}

static void test_libuv_host_drives_all_three(void)
{
    uv_loop_t uv;
    uv_prepare_t prep;
    uv_check_t check;
    int c, i;
    T_REQUIRE(h_world_open() == 0);
    memset(uvreg, 0, sizeof uvreg);
    T_REQUIRE(uv_loop_init(&uv) == 0);
    uv_timer_init(&uv, &uv_deadline);
    uv_prepare_init(&uv, &prep);
    uv_prepare_start(&prep, h_uv_prepare);
    uv_check_init(&uv, &check);
    uv_check_start(&check, h_uv_check);
    while (h_running() && !h_world_done()) uv_run(&uv, UV_RUN_ONCE);
    T_CHECK(h_world_done());
    T_EQ(W.second_fd, W.first_fd);
    for (c = 0; c < 3; c++)
        for (i = 0; i < H_MAX; i++)
            if (uvreg[c].active[i] && uvreg[c].always[i]) free(uvreg[c].poll[i]);
            else if (uvreg[c].active[i]) uv_close((uv_handle_t *)uvreg[c].poll[i], h_uv_freed);
    uv_close((uv_handle_t *)&prep, h_uv_closed);
    uv_close((uv_handle_t *)&check, h_uv_closed);
    uv_close((uv_handle_t *)&uv_deadline, h_uv_closed);
    uv_run(&uv, UV_RUN_DEFAULT);
    T_EQ(uv_loop_close(&uv), 0);
    h_world_close();
}

/* ---- host 3: GLib ---- */

typedef struct h_gsource {
    GSource base;
    h_ctx *c;
    GPollFD g[H_MAX];
    int added[H_MAX];
    int n;
    int64_t deadline;
} h_gsource;

static gboolean h_gs_prepare(GSource *base, gint *timeout)
{
    h_gsource *s = (h_gsource *)base;
    struct pollfd fds[H_MAX];
    int i, n, ms;
    s->deadline = INT64_MAX;
    n = s->c->prepare(s->c->ctx, fds, H_MAX, &s->deadline);
    for (i = 0; i < H_MAX; i++) {
        int want = i < n;
        if (s->added[i] && (!want || s->g[i].fd != fds[i].fd || s->g[i].events != (gushort)fds[i].events ||
                            (fds[i].revents & AKC_FRESH))) {
            g_source_remove_poll(base, &s->g[i]);
            s->added[i] = 0;
        }
        if (want && !s->added[i]) {
            s->g[i].fd = fds[i].fd;
            s->g[i].events = (gushort)fds[i].events;
            g_source_add_poll(base, &s->g[i]);
            s->added[i] = 1;
        }
        if (want) s->g[i].revents = 0;
    }
    s->n = n;
    ms = h_ms_until(s->deadline);
    *timeout = ms < 0 || ms > 50 ? 50 : ms;
    return ms == 0;
}

static gboolean h_gs_check(GSource *base)
{
    (void)base;
    return TRUE;   /* dispatch after every poll, as the contract asks */
}

static gboolean h_gs_dispatch(GSource *base, GSourceFunc cb, gpointer ud)
{
    h_gsource *s = (h_gsource *)base;
    struct pollfd fds[H_MAX];
    int i;
    (void)cb;
    (void)ud;
    for (i = 0; i < s->n; i++) {
        fds[i].fd = s->g[i].fd;
        fds[i].events = (short)s->g[i].events;
        fds[i].revents = (short)s->g[i].revents;
    }
    s->c->dispatch(s->c->ctx, fds, s->n);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs h_gs_funcs = {h_gs_prepare, h_gs_check, h_gs_dispatch, NULL, NULL, NULL};

static void test_glib_host_drives_all_three(void)
{
    GMainContext *g;
    GSource *src[3];
    int c;
    T_REQUIRE(h_world_open() == 0);
    g = g_main_context_new();
    for (c = 0; c < 3; c++) {
        src[c] = g_source_new(&h_gs_funcs, sizeof(h_gsource));
        ((h_gsource *)src[c])->c = &W.ctxs[c];
        memset(((h_gsource *)src[c])->added, 0, sizeof ((h_gsource *)src[c])->added);
        g_source_attach(src[c], g);
    }
    while (h_running() && !h_world_done()) g_main_context_iteration(g, TRUE);
    T_CHECK(h_world_done());
    T_EQ(W.second_fd, W.first_fd);
    for (c = 0; c < 3; c++) {
        g_source_destroy(src[c]);
        g_source_unref(src[c]);
    }
    g_main_context_unref(g);
    h_world_close();
}

/* ---- one wait per iteration ---- */

static int h_reads;
static void h_on_read(aios_stream *s, int status, void *ud)
{
    char *b = (char *)ud;
    if (status > 0) {
        h_reads++;
        aios_read(s, b, 1, h_on_read, b);
    }
}

/* sched.h hosts aio_stream.h and asyncusb.h: an iteration in which only a
 * timer is due waits once (the loop's own wait); a nested context pays a
 * wait of its own only in an iteration where something of its is ready. */
static void test_nested_contexts_share_one_wait(void)
{
    schd_loop loop;
    schd_source s_aio, s_usb;
    schd_timer t;
    aios_ctx aio;
    ausb_ctx usb;
    aios_stream *st;
    int sv[2], i, waits = -1, idle_waits = 0;
    char b[1];
    T_REQUIRE(schd_loop_init(&loop) == 0 && aios_ctx_init(&aio) == 0 && ausb_ctx_init(&usb, NULL) == 0);
    T_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    T_REQUIRE(aios_stream_open(&st, &aio, sv[0], 0) == 0);
    aios_read(st, b, 1, h_on_read, b);
    schd_source_add(&s_aio, &loop, aios_prepare, aios_dispatch, &aio);
    schd_source_add(&s_usb, &loop, ausb_prepare, ausb_dispatch, &usb);
    schd_timer_init(&t, h_on_tick, NULL);
    W.ticks = -1000000;                       /* keep ticking */
    schd_timer_start(&t, &loop, SCHD_MS(1), SCHD_MS(1));
    schd_loop_run_once(&loop, 0);             /* settle the registrations */
    for (i = 0; i < 20; i++) {
        h_waits = 0;
        schd_loop_run_once(&loop, -1);        /* the timer, nothing else */
        idle_waits += h_waits;
    }
    T_EQ(idle_waits, 20);
    h_reads = 0;
    T_EQ(write(sv[1], "x", 1), 1);
    for (i = 0; i < 50 && h_reads == 0; i++) {
        h_waits = 0;
        schd_loop_run_once(&loop, SCHD_MS(100));
        waits = h_waits;
    }
    T_EQ(h_reads, 1);
#if defined(ASYNCKIT_POLL)
    T_EQ(waits, 1);                           /* the stream's descriptor is in the loop's own table */
#else
    T_EQ(waits, 2);                           /* the loop's wait, then aio's epoll set (ready) */
#endif
    schd_timer_stop(&t, &loop);
    schd_source_remove(&s_aio);
    schd_source_remove(&s_usb);
    aios_close(st, NULL, NULL);
    aios_ctx_close(&aio);
    ausb_ctx_close(&usb);
    schd_loop_close(&loop);
    close(sv[1]);
}

int main(void)
{
    t_suite("hosts");
    usbf_init();
    dev1.desc_len = usbf_std_descriptors(dev1.desc, 0x1234, 0x0001);
    usbf_add(&dev1, "/devices/fake/usb1/1-2", 1, 5, 480);
    T_RUN(test_naive_epoll_host_drives_all_three);
    T_RUN(test_libuv_host_drives_all_three);
    T_RUN(test_glib_host_drives_all_three);
    T_RUN(test_nested_contexts_share_one_wait);
    usbf_done();
    return t_done();
}
