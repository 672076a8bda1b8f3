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
