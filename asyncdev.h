/* asyncdev.h - v0.2.0 - GPIO lines, input devices, a quadrature decoder and a retriggerable delay on the loop (Linux) - MIT or public domain, see the end of the file */
/*
# asyncdev.h

The devices of an embedded Linux board, asynchronously, for C99, in one
header with no dependency beyond libc: GPIO lines through the kernel's GPIO
character device (uAPI v2, no libgpiod), input devices (`/dev/input/event*`:
keys, switches, relative axes), a quadrature rotary encoder decoder, and a
retriggerable delay (restarted by every trigger, it fires once when things
have been quiet for its duration).  Part of the asynckit family (sched.h,
aio_stream.h, asyncusb.h, asyncdev.h): one loop core, one error space.

## Using it

Define `ADEV_IMPLEMENTATION` in exactly one C file before including the
header, preferably before any system header:

    #define ADEV_IMPLEMENTATION
    #include "asyncdev.h"

Other files include it without the macro.  Build with one command:
`cc -std=c99 -O2 -I. -o app app.c`.  No kernel header is needed: the few
structures and ioctl numbers of the kernel's interfaces are defined here
(so musl toolchains, which have no `<linux/gpio.h>`, build it too).

## Options (define before including the implementation)

- `ADEV_STATIC`: every function static (implies `ADEV_IMPLEMENTATION`);
  `ASYNCKIT_IMPLEMENTATION` and `ASYNCKIT_STATIC` do the same for every
  header of the family at once.
- `ADEV_MALLOC(n)`, `ADEV_REALLOC(p, n)`, `ADEV_FREE(p)`: the allocator (the
  loop core's timer heap and tables; define all three or none).
- `ADEV_SYS_OPEN(path, flags)`, `ADEV_SYS_IOCTL(fd, request, arg)`,
  `ADEV_SYS_READ(fd, buf, n)`, `ADEV_SYS_CLOSE(fd)`: the system calls on
  devices, each a function-like macro with the libc signature, so that a
  test can play the kernel (tests/dev_test.c does).
- `ASYNCKIT_POLL`, `AKC_SYS_*`: the loop core's backend and system calls,
  as in sched.h's manual.
- `ADEV_API`: decoration of public functions (default `extern`).

## Where it fits

Alone, `adev_run(&ctx)` runs a context of its own.  With sched.h,
`adev_attach(&ctx, &loop, &src)` makes it part of the loop's one wait, and
tasks await its operations:

    ADEV_AWAIT_LINE_EVENT(t, req, &ev)     the next edge of a line request
    ADEV_AWAIT_INPUT_EVENT(t, in, &ev)     the next event of an input device
    ADEV_AWAIT_DELAY(t, d)                 until the retriggerable delay fires

After each, `SCHD_STATUS(t)` is 0 (and `ev` holds the event) or a negative
code; `schd_task_timeout` bounds the await (-ETIMEDOUT) and
`schd_task_cancel` ends it (-ECANCELED), and the request, device or delay
stays usable.  sched.h's switch and pushbutton logic takes the kernel's
timestamps straight from the events:

    schd_button_feed_at(&button, ev->rising, ev->time_ns);          a GPIO line
    schd_button_feed_at(&button, ev->value != 0, ev->time_ns);      an EV_KEY

so a press is judged by when the edges happened, not by when the loop read
them.  Inside a loop of your own, `adev_prepare` / `adev_dispatch` are the
family's contract (see sched.h's manual, "Joining other loops").

## Rules

- Callbacks run from the loop's dispatch, never inside the call that
  started an operation, and exactly once per operation.  A callback may
  start the next operation, close its own object, or close another.
- Every object (line request, input device) ends with its close, whose
  callback comes last: then its storage may be freed.  Events already
  waiting in the kernel when the close was asked for are delivered first
  (to the watch callback; a pending read gets one, else -ECANCELED).
- One thread drives a context.  Event times are the kernel's
  CLOCK_MONOTONIC nanoseconds, the loop's clock.

## API

### Context

    int  adev_ctx_init(adev_ctx *ctx);
    void adev_ctx_close(adev_ctx *ctx);          closes every request, device and delay
                                                 (their callbacks run); from a callback:
                                                 when the dispatch returns
    int  adev_run_once(adev_ctx *ctx, int64_t timeout_ns);   1 while something is
                                                 pending, 0 when idle, <0 an error
    int  adev_run(adev_ctx *ctx);                until idle or adev_stop
    void adev_stop(adev_ctx *ctx);
    int  adev_prepare(void *ctx, struct pollfd *fds, int cap, int64_t *deadline_ns);
    void adev_dispatch(void *ctx, struct pollfd *fds, int n);
    int64_t adev_now_ns(void);                   CLOCK_MONOTONIC
    const char *adev_strerror(int code);         any code of the family, also -errno
    ADEV_SEC(s), ADEV_MS(ms), ADEV_US(us)        durations are int64_t nanoseconds

### GPIO lines

    void adev_line_config_init(adev_line_config *cfg);   input, no edges
    int  adev_lines_open(adev_lines *req, adev_ctx *ctx, const char *chip,
                         const unsigned *offsets, int n, const adev_line_config *cfg);
    int  adev_lines_get(adev_lines *req, uint64_t *bits);       bit i: line offsets[i] active
    int  adev_lines_set(adev_lines *req, uint64_t bits, uint64_t mask);   outputs
    int  adev_lines_watch(adev_lines *req, adev_line_cb cb, void *ud);    every event
    int  adev_lines_read(adev_lines *req, adev_line_event *out, adev_line_cb cb, void *ud);
    int  adev_lines_close(adev_lines *req, adev_line_cb cb, void *ud);
    int  adev_chip_info(const char *chip, char *name, char *label, unsigned *lines);

`chip` is a path (`/dev/gpiochip0`) or a name in /dev (`gpiochip0`); up to
64 lines of one chip share a request and its configuration.  Flags of
`cfg->flags`: `ADEV_LINE_INPUT`, `ADEV_LINE_OUTPUT`, `ADEV_LINE_ACTIVE_LOW`,
`ADEV_LINE_EDGE_RISING`, `ADEV_LINE_EDGE_FALLING` (`ADEV_LINE_EDGE_BOTH`;
edges imply input), `ADEV_LINE_PULL_UP`, `ADEV_LINE_PULL_DOWN`,
`ADEV_LINE_BIAS_DISABLED`, `ADEV_LINE_OPEN_DRAIN`, `ADEV_LINE_OPEN_SOURCE`.
`cfg->debounce_ns` asks the kernel to debounce inputs (microseconds
resolution; drivers without it get -ENOTSUP... from the kernel as it
reports), `cfg->values` the first output levels, `cfg->consumer` the label
others see, `cfg->event_buffer` the kernel's queue of events (0: its
default, 16 per line).

Events (`adev_line_event`): `time_ns` (the kernel's timestamp of the edge,
CLOCK_MONOTONIC), `offset` and `index` (the line, and its place in
`offsets`), `rising` (1: became active, 0: became inactive), `seqno` and
`line_seqno` (the kernel's counts), and `missed`: how many events the
kernel dropped before this one because its queue was full (it keeps the
newest); `req->missed` adds them up.  A watch delivers every event from
the loop until it is stopped (`cb` NULL) or fails; while nobody watches or
reads, events wait in the kernel's queue.  A read takes one event, once.
Callbacks get `(req, status, ev, ud)`: status 0 with an event, or a
negative code with `ev` NULL (that ends the watch or read); the close
callback gets status 0 and no event.

### Input devices

    int  adev_input_open(adev_input *in, adev_ctx *ctx, const char *path, unsigned flags);
    int  adev_input_watch(adev_input *in, adev_input_cb cb, void *ud);
    int  adev_input_read(adev_input *in, adev_input_event *out, adev_input_cb cb, void *ud);
    int  adev_input_close(adev_input *in, adev_input_cb cb, void *ud);
    int  adev_input_name(adev_input *in, char *buf, size_t n);
    int  adev_input_key_state(adev_input *in, unsigned code);    1 pressed, 0 not, <0 error
    int  adev_input_switch_state(adev_input *in, unsigned code);

The open sets the device's event clock to CLOCK_MONOTONIC (EVIOCSCLOCKID;
the kernel's default is wall-clock time, which jumps) and, with
`ADEV_INPUT_GRAB`, takes the device for this descriptor alone (EVIOCGRAB:
the console and other readers stop seeing it).  Events
(`adev_input_event`): `time_ns`, `type`, `code`, `value`, as the kernel
defines them (`ADEV_EV_KEY`, `ADEV_EV_REL`, `ADEV_EV_SW`, `ADEV_EV_SYN`
with `ADEV_SYN_REPORT` closing each frame ...).  When the kernel's buffer
overflowed it sends `ADEV_SYN_DROPPED`: that event is delivered, the rest
of the broken frame is not, `in->dropped` counts it, and the state
functions above tell the keys and switches as they are now.  A device
unplugged ends the watch or read with -ENODEV.

### Quadrature rotary encoder

    void adev_encoder_init(adev_encoder *e, int steps_per_detent, int a, int b);
    int  adev_encoder_feed(adev_encoder *e, int a, int b);   detents moved: +1, -1, 0
    int  adev_encoder_line(adev_encoder *e, int line, int level);   line 0 is A, 1 is B
    int  adev_encoder_move(adev_encoder *e, int detents);    a relative axis (REL_DIAL ...)

A pure decoder with no loop: feed it the levels from line events (or
samples).  `e->position` counts detents (+1 when A leads B), a detent
being 1, 2 or 4 quadrature steps (4 for most mechanical encoders); a step
that skips a state (both lines changed: an edge was missed) is counted in
`e->errors` and moves nothing.

### Retriggerable delay

    void adev_delay_init(adev_delay *d, adev_ctx *ctx, int64_t duration_ns, adev_delay_cb cb, void *ud);
    int  adev_delay_trigger(adev_delay *d, int64_t duration_ns);    (re)starts: fires duration
                                                 after the last trigger (0: the default duration)
    int  adev_delay_trigger_at(adev_delay *d, int64_t from_ns, int64_t duration_ns);
                                                 counted from a time in the past (an event's)
    void adev_delay_stop(adev_delay *d);         no callback; waiters get -ECANCELED
    int  adev_delay_running(const adev_delay *d);
    int  adev_delay_wait(adev_delay *d, adev_delay_cb cb, void *ud);   once, at the next expiry
    int64_t adev_delay_due(const adev_delay *d);

`cb(d, 0, ud)` runs at each expiry (cb may be NULL); a wait completes at
the next expiry (0), or with -ECANCELED at a stop or the context's close.
Stop a delay before freeing it.  This is the Delay_ms of MicroPython's
uasyncio drivers: a watchdog that fires when triggers stop coming, or a
light that stays on while there is movement.

## Error codes

Zero is success, negative is failure, in the family's one error space
(`adev_strerror` describes any code of any header): `-EINVAL` bad
arguments, `-EBUSY` a read while one is pending or a watch runs,
`AKC_ECLOSED` (-1003, "closing or closed") an operation on an object whose
close has begun, `-ECANCELED` a read or wait ended by a close or stop,
`-ENODEV` a device gone, and the kernel's own answers (`-ENOENT` no such
chip or device, `-EBUSY` a line another consumer holds, `-EACCES`).
*/
/* The implementations of the family need POSIX and GNU declarations, and
 * any of them may be compiled further down this file: when nothing of the
 * C library has been read yet, ask for them (ASYNCKIT_NO_GNU_SOURCE keeps
 * the file's feature macros as they are). */
#if !defined(_GNU_SOURCE) && !defined(_FEATURES_H) && !defined(ASYNCKIT_NO_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#if defined(ASYNCKIT_IMPLEMENTATION) && !defined(ADEV_IMPLEMENTATION)
#define ADEV_IMPLEMENTATION
#endif
#if defined(ASYNCKIT_STATIC) && !defined(ADEV_STATIC)
#define ADEV_STATIC
#endif
#if defined(ADEV_STATIC) && !defined(ADEV_IMPLEMENTATION)
#define ADEV_IMPLEMENTATION
#endif

#if defined(ADEV_IMPLEMENTATION) && !defined(AKC_IMPLEMENT)
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

#ifndef ASYNCDEV_H
#define ASYNCDEV_H

#include <stddef.h>
#include <stdint.h>
#include <poll.h>

#ifndef ADEV_API
#if defined(ADEV_STATIC) && defined(__GNUC__)
#define ADEV_API static __attribute__((unused))
#elif defined(ADEV_STATIC)
#define ADEV_API static
#else
#define ADEV_API extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define ADEV_NO_DEADLINE AKC_NO_DEADLINE
#define ADEV_SEC(s) AKC_SEC(s)
#define ADEV_MS(ms) AKC_MS(ms)
#define ADEV_US(us) AKC_US(us)
#define ADEV_ECLOSED AKC_ECLOSED

typedef struct adev_ctx adev_ctx;
typedef struct adev_lines adev_lines;
typedef struct adev_input adev_input;
typedef struct adev_delay adev_delay;

/* ==== section: sources (what line requests and input devices share) ==== */

/* A descriptor that the kernel fills with records of one size; the
 * records read but not yet delivered wait in buf. */
#define ADEV__BUF 768

typedef void (*adev__fn)(void);   /* a consumer's callback, by kind */

typedef struct adev__src {
    adev_ctx *ctx;
    struct adev__src *prev, *next;   /* the context's open sources */
    akc_io io;
    akc_defer kick;          /* delivers what is buffered; finishes a close */
    const struct adev__kind *kind;
    adev__fn watch_fn, read_fn, close_fn;
    void *watch_ud, *read_ud, *close_ud;
    void *read_out;          /* where a read copies its event (or NULL) */
    unsigned pos, len;       /* bytes of buf delivered, and held */
    int closing, err;        /* err: the descriptor failed (-errno): no more reads */
    unsigned char buf[ADEV__BUF];
} adev__src;

struct adev_ctx {
    akc_loop core;
    adev__src *srcs;         /* open line requests and input devices */
    adev_delay *delays;      /* delays running or waited for */
    int close_asked;         /* adev_ctx_close from a callback: after the dispatch */
};

/* ==== section: context ==== */

ADEV_API int  adev_ctx_init(adev_ctx *ctx);
ADEV_API void adev_ctx_close(adev_ctx *ctx);
ADEV_API int  adev_prepare(void *ctx, struct pollfd *fds, int cap, int64_t *deadline_ns);
ADEV_API void adev_dispatch(void *ctx, struct pollfd *fds, int n);
ADEV_API int  adev_run_once(adev_ctx *ctx, int64_t timeout_ns);
ADEV_API int  adev_run(adev_ctx *ctx);
ADEV_API void adev_stop(adev_ctx *ctx);
ADEV_API int64_t adev_now_ns(void);
ADEV_API const char *adev_strerror(int code);

/* ==== section: GPIO lines ==== */

/* The kernel's flag bits (uAPI v2), under our names. */
#define ADEV_LINE_ACTIVE_LOW     (1u << 1)
#define ADEV_LINE_INPUT          (1u << 2)
#define ADEV_LINE_OUTPUT         (1u << 3)
#define ADEV_LINE_EDGE_RISING    (1u << 4)
#define ADEV_LINE_EDGE_FALLING   (1u << 5)
#define ADEV_LINE_EDGE_BOTH      (ADEV_LINE_EDGE_RISING | ADEV_LINE_EDGE_FALLING)
#define ADEV_LINE_OPEN_DRAIN     (1u << 6)
#define ADEV_LINE_OPEN_SOURCE    (1u << 7)
#define ADEV_LINE_PULL_UP        (1u << 8)
#define ADEV_LINE_PULL_DOWN      (1u << 9)
#define ADEV_LINE_BIAS_DISABLED  (1u << 10)
#define ADEV_LINES_MAX 64

typedef struct adev_line_config {
    unsigned flags;          /* ADEV_LINE_* */
    int64_t debounce_ns;     /* the kernel's debounce of inputs; 0: none */
    uint64_t values;         /* outputs: first levels, bit i for offsets[i] */
    const char *consumer;    /* the label others see ("asynckit") */
    unsigned event_buffer;   /* the kernel's event queue; 0: 16 per line */
} adev_line_config;

typedef struct adev_line_event {
    int64_t time_ns;         /* when the edge happened (CLOCK_MONOTONIC) */
    unsigned offset;         /* the line on its chip */
    int index;               /* its place in the request's offsets */
    int rising;              /* 1: became active; 0: became inactive */
    unsigned seqno;          /* the request's count of events (the kernel's) */
    unsigned line_seqno;     /* the line's count */
    unsigned missed;         /* events the kernel dropped just before this one */
} adev_line_event;

typedef void (*adev_line_cb)(adev_lines *req, int status, const adev_line_event *ev, void *ud);

struct adev_lines {
    adev__src src;           /* first: the generic part */
    unsigned offsets[ADEV_LINES_MAX];
    int n;
    unsigned next_seqno;     /* the seqno the next event should carry */
    unsigned long events, missed;
};

ADEV_API void adev_line_config_init(adev_line_config *cfg);
ADEV_API int  adev_lines_open(adev_lines *req, adev_ctx *ctx, const char *chip,
                              const unsigned *offsets, int n, const adev_line_config *cfg);
ADEV_API int  adev_lines_get(adev_lines *req, uint64_t *bits);
ADEV_API int  adev_lines_set(adev_lines *req, uint64_t bits, uint64_t mask);
ADEV_API int  adev_lines_watch(adev_lines *req, adev_line_cb cb, void *ud);
ADEV_API int  adev_lines_read(adev_lines *req, adev_line_event *out, adev_line_cb cb, void *ud);
ADEV_API int  adev_lines_close(adev_lines *req, adev_line_cb cb, void *ud);
ADEV_API int  adev_lines_fd(const adev_lines *req);
/* name and label: 32 bytes each (or NULL). */
ADEV_API int  adev_chip_info(const char *chip, char *name, char *label, unsigned *lines);

/* ==== section: input devices ==== */

enum {
    ADEV_EV_SYN = 0x00, ADEV_EV_KEY = 0x01, ADEV_EV_REL = 0x02, ADEV_EV_ABS = 0x03,
    ADEV_EV_MSC = 0x04, ADEV_EV_SW = 0x05,
    ADEV_SYN_REPORT = 0, ADEV_SYN_DROPPED = 3
};
#define ADEV_INPUT_GRAB 1u

typedef struct adev_input_event {
    int64_t time_ns;         /* the kernel's timestamp (CLOCK_MONOTONIC) */
    unsigned type, code;     /* ADEV_EV_*, and the key, axis or switch */
    int value;               /* keys: 1 press, 0 release, 2 repeat */
} adev_input_event;

typedef void (*adev_input_cb)(adev_input *in, int status, const adev_input_event *ev, void *ud);

struct adev_input {
    adev__src src;           /* first: the generic part */
    int skipping;            /* after SYN_DROPPED: until the next SYN_REPORT */
    unsigned long events, dropped;
};

ADEV_API int  adev_input_open(adev_input *in, adev_ctx *ctx, const char *path, unsigned flags);
ADEV_API int  adev_input_watch(adev_input *in, adev_input_cb cb, void *ud);
ADEV_API int  adev_input_read(adev_input *in, adev_input_event *out, adev_input_cb cb, void *ud);
ADEV_API int  adev_input_close(adev_input *in, adev_input_cb cb, void *ud);
ADEV_API int  adev_input_name(adev_input *in, char *buf, size_t n);
ADEV_API int  adev_input_key_state(adev_input *in, unsigned code);
ADEV_API int  adev_input_switch_state(adev_input *in, unsigned code);
ADEV_API int  adev_input_fd(const adev_input *in);

/* ==== section: quadrature encoder ==== */

typedef struct adev_encoder {
    long position;           /* detents from the start; +1 when A leads B */
    unsigned long errors;    /* steps that skipped a state */
    int per_detent;          /* quadrature steps per detent: 1, 2 or 4 */
    int ab;                  /* the last state: A in bit 1, B in bit 0 */
    int steps;               /* steps since the last detent, -per_detent..per_detent */
} adev_encoder;

ADEV_API void adev_encoder_init(adev_encoder *e, int steps_per_detent, int a, int b);
ADEV_API int  adev_encoder_feed(adev_encoder *e, int a, int b);
ADEV_API int  adev_encoder_line(adev_encoder *e, int line, int level);
ADEV_API int  adev_encoder_move(adev_encoder *e, int detents);

/* ==== section: retriggerable delay ==== */

typedef void (*adev_delay_cb)(adev_delay *d, int status, void *ud);

struct adev_delay {
    adev_ctx *ctx;
    adev_delay *prev, *next;  /* in the context's list while running or waited for */
    akc_timer timer;
    int64_t duration;
    adev_delay_cb cb, wait_cb;
    void *ud, *wait_ud;
    int linked;
    unsigned long triggers, fires;
};

ADEV_API void adev_delay_init(adev_delay *d, adev_ctx *ctx, int64_t duration_ns, adev_delay_cb cb, void *ud);
ADEV_API int  adev_delay_trigger(adev_delay *d, int64_t duration_ns);
ADEV_API int  adev_delay_trigger_at(adev_delay *d, int64_t from_ns, int64_t duration_ns);
ADEV_API void adev_delay_stop(adev_delay *d);
ADEV_API int  adev_delay_running(const adev_delay *d);
ADEV_API int  adev_delay_wait(adev_delay *d, adev_delay_cb cb, void *ud);
ADEV_API int64_t adev_delay_due(const adev_delay *d);

/* Private, for the sched.h bridge: takes a pending read or wait back
 * without its callback. */
ADEV_API void adev__read_withdraw(adev__src *src);
ADEV_API void adev__delay_unwait(adev_delay *d);

#ifdef __cplusplus
}
#endif

#endif /* ASYNCDEV_H */

/* ======================================================================
 * Implementation
 * ====================================================================== */
#if defined(ADEV_IMPLEMENTATION) && !defined(ADEV_IMPLEMENTATION_DONE)
#define ADEV_IMPLEMENTATION_DONE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#ifndef ADEV_MALLOC
#define ADEV_MALLOC(n) malloc(n)
#define ADEV_REALLOC(p, n) realloc((p), (n))
#define ADEV_FREE(p) free(p)
#endif
#ifndef ADEV_SYS_OPEN
#define ADEV_SYS_OPEN(path, flags) open((path), (flags))
#endif
#ifndef ADEV_SYS_IOCTL
#define ADEV_SYS_IOCTL(fd, req, arg) ioctl((fd), (req), (arg))
#endif
#ifndef ADEV_SYS_READ
#define ADEV_SYS_READ(fd, buf, n) read((fd), (buf), (n))
#endif
#ifndef ADEV_SYS_CLOSE
#define ADEV_SYS_CLOSE(fd) close(fd)
#endif
#if defined(__GNUC__)
#define ADEV_PRIVATE static __attribute__((unused))
#else
#define ADEV_PRIVATE static
#endif
#define ADEV__CONTAINER(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

#ifdef __cplusplus
extern "C" {
#endif

/* ==== section: the kernel's interfaces ==== */

/* ioctl numbers the way <sys/ioctl.h> builds them on this target (glibc
 * and musl both define _IOC); the generic layout where it does not. */
#if defined(_IOC) && defined(_IOC_READ) && defined(_IOC_WRITE)
#define ADEV__IOC(dir, type, nr, size) _IOC((dir), (type), (nr), (size))
#define ADEV__R _IOC_READ
#define ADEV__W _IOC_WRITE
#else
#define ADEV__IOC(dir, type, nr, size) \
    ((unsigned long)(((unsigned long)(dir) << 30) | ((unsigned long)(size) << 16) | ((type) << 8) | (nr)))
#define ADEV__R 2u
#define ADEV__W 1u
#endif

/* <linux/gpio.h>, uAPI v2: the layouts have no holes on any ABI (every
 * 64-bit field sits at a multiple of 8), so plain types match the
 * kernel's __aligned_u64 (tests/dev_test.c compares them with the
 * kernel's header where there is one). */
enum { ADEV__GPIO_NAME = 32, ADEV__GPIO_ATTRS = 10 };
enum { ADEV__ATTR_FLAGS = 1, ADEV__ATTR_OUTPUT_VALUES = 2, ADEV__ATTR_DEBOUNCE = 3 };
enum { ADEV__EDGE_RISING = 1, ADEV__EDGE_FALLING = 2 };

struct adev__gpio_chipinfo { char name[32], label[32]; uint32_t lines; };
struct adev__gpio_values { uint64_t bits, mask; };
struct adev__gpio_attr {
    uint32_t id, padding;
    uint64_t value;          /* flags, output values, or debounce_period_us in the low 32 bits */
};
struct adev__gpio_config_attr { struct adev__gpio_attr attr; uint64_t mask; };
struct adev__gpio_config {
    uint64_t flags;
    uint32_t num_attrs, padding[5];
    struct adev__gpio_config_attr attrs[ADEV__GPIO_ATTRS];
};
struct adev__gpio_request {
    uint32_t offsets[ADEV_LINES_MAX];
    char consumer[ADEV__GPIO_NAME];
    struct adev__gpio_config config;
    uint32_t num_lines, event_buffer_size, padding[5];
    int32_t fd;
};
struct adev__gpio_event {
    uint64_t timestamp_ns;
    uint32_t id, offset, seqno, line_seqno, padding[6];
};

#define ADEV__GPIO_GET_CHIPINFO  ADEV__IOC(ADEV__R, 0xB4, 0x01, sizeof(struct adev__gpio_chipinfo))
#define ADEV__GPIO_GET_LINE      ADEV__IOC(ADEV__R | ADEV__W, 0xB4, 0x07, sizeof(struct adev__gpio_request))
#define ADEV__GPIO_GET_VALUES    ADEV__IOC(ADEV__R | ADEV__W, 0xB4, 0x0E, sizeof(struct adev__gpio_values))
#define ADEV__GPIO_SET_VALUES    ADEV__IOC(ADEV__R | ADEV__W, 0xB4, 0x0F, sizeof(struct adev__gpio_values))

/* <linux/input.h>: struct input_event is two unsigned longs of time (a
 * struct timeval where that is two longs, and __sec/__usec on 32-bit
 * targets whose C library has a 64-bit time_t), then type, code, value. */
struct adev__input_event {
    unsigned long sec, usec;
    uint16_t type, code;
    int32_t value;
};

#define ADEV__EVIOCGNAME(len)    ADEV__IOC(ADEV__R, 'E', 0x06, (len))
#define ADEV__EVIOCGKEY(len)     ADEV__IOC(ADEV__R, 'E', 0x18, (len))
#define ADEV__EVIOCGSW(len)      ADEV__IOC(ADEV__R, 'E', 0x1b, (len))
#define ADEV__EVIOCGRAB          ADEV__IOC(ADEV__W, 'E', 0x90, sizeof(int))
#define ADEV__EVIOCSCLOCKID      ADEV__IOC(ADEV__W, 'E', 0xa0, sizeof(int))

/* ==== section: errors and time ==== */

ADEV_API const char *adev_strerror(int code) { return akc_strerror(code); }

ADEV_API int64_t adev_now_ns(void) { return akc_now_ns(); }

/* ==== section: the loop ==== */

ADEV_PRIVATE void *adev__mem(void *p, size_t old, size_t n)
{
    (void)old;
    if (n == 0) {
        ADEV_FREE(p);
        return NULL;
    }
    return ADEV_REALLOC(p, n);
}

/* The kinds of the context's watchers (0 is the core's wake-up). */
enum { ADEV__IO_SRC = 1 };

ADEV_API int adev_ctx_init(adev_ctx *ctx)
{
    int r;
    if (!ctx) return -EINVAL;
    memset(ctx, 0, sizeof *ctx);
    r = akc_loop_init(&ctx->core, adev__mem);
    if (r < 0) akc_loop_free(&ctx->core);
    return r;
}

ADEV_API int adev_prepare(void *vctx, struct pollfd *fds, int cap, int64_t *deadline_ns)
{
    adev_ctx *c = (adev_ctx *)vctx;
    if (!c) return -EINVAL;
    return akc_prepare(&c->core, cap > 0 ? fds : NULL, cap, deadline_ns);
}

ADEV_API void adev_dispatch(void *vctx, struct pollfd *fds, int n)
{
    adev_ctx *c = (adev_ctx *)vctx;
    if (!c || c->core.depth) return;
    akc_dispatch(&c->core, fds, fds ? n : 0);
    if (c->close_asked) adev_ctx_close(c);
}

ADEV_API int adev_run_once(adev_ctx *c, int64_t timeout_ns)
{
    int r;
    if (!c) return -EINVAL;
    if (c->core.depth) return -EBUSY;
    if (!akc_alive(&c->core) && timeout_ns < 0) return 0;
    r = akc_run_once(&c->core, timeout_ns);
    if (c->close_asked) adev_ctx_close(c);
    if (r < 0) return r;
    return akc_alive(&c->core);
}

ADEV_API int adev_run(adev_ctx *c)
{
    int r = 0;
    if (!c) return -EINVAL;
    if (c->core.depth) return -EBUSY;
    while (!akc_stopped(&c->core)) {
        r = adev_run_once(c, -1);
        if (r <= 0) break;
    }
    return r < 0 ? r : 0;
}

ADEV_API void adev_stop(adev_ctx *c)
{
    if (c) akc_stop(&c->core);
}

/* ==== section: sources ==== */

/* What a kind of source does with one record: decode it and call a
 * consumer (fn, ud) with it; 0 when the record is for nobody (a broken
 * input frame).  out: where a read wants a copy (or NULL). */
struct adev__kind {
    unsigned rec_size;
    int (*deliver)(adev__src *src, const void *rec, adev__fn fn, void *ud, void *out);
    void (*fail)(adev__src *src, adev__fn fn, void *ud, int status);
};

ADEV_PRIVATE void adev__src_ready(akc_loop *l, akc_io *io, unsigned revents);
ADEV_PRIVATE void adev__src_kick(akc_loop *l, akc_defer *d);

ADEV_PRIVATE int adev__src_open(adev__src *src, adev_ctx *ctx, int fd, const struct adev__kind *kind)
{
    int r;
    memset(src, 0, sizeof *src);
    src->ctx = ctx;
    src->kind = kind;
    akc_io_init(&src->io, fd, ADEV__IO_SRC);
    akc_defer_init(&src->kick, adev__src_kick);
    r = akc_io_open(&ctx->core, &src->io);
    if (r < 0) return r;
    akc_io_handle(&ctx->core, ADEV__IO_SRC, adev__src_ready);
    src->next = ctx->srcs;
    if (ctx->srcs) ctx->srcs->prev = src;
    ctx->srcs = src;
    return 0;
}

ADEV_PRIVATE int adev__src_has_consumer(const adev__src *src) { return src->watch_fn || src->read_fn; }

/* The descriptor is watched while someone wants events and none wait
 * here; otherwise they wait in the kernel's queue. */
ADEV_PRIVATE void adev__src_update(adev__src *src)
{
    int want = adev__src_has_consumer(src) && src->pos == src->len && !src->closing && !src->err;
    akc_io_want(&src->ctx->core, &src->io, want ? POLLIN : 0);
    if (adev__src_has_consumer(src) && (src->pos < src->len || src->err) && !src->closing)
        akc_defer_queue(&src->ctx->core, &src->kick);
}

/* One read of what the kernel holds (whole records).  0 when something
 * came, -EAGAIN when nothing, or the error (also kept in src->err). */
ADEV_PRIVATE int adev__src_fill(adev__src *src)
{
    unsigned cap = (ADEV__BUF / src->kind->rec_size) * src->kind->rec_size;
    long n;
    src->pos = src->len = 0;
    do {
        n = (long)ADEV_SYS_READ(src->io.fd, src->buf, cap);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return -EAGAIN;
        src->err = -errno;
        return src->err;
    }
    if (n == 0) {   /* a device that went away */
        src->err = -ENODEV;
        return src->err;
    }
    src->len = (unsigned)n - (unsigned)n % src->kind->rec_size;
    return 0;
}

/* Hands out the buffered records, one per callback, to the read first,
 * then the watch; stops when nobody wants more.  The callbacks may do
 * anything to src, except free it before its close callback. */
ADEV_PRIVATE void adev__src_pump(adev__src *src)
{
    while (src->pos < src->len && adev__src_has_consumer(src)) {
        const unsigned char *rec = src->buf + src->pos;
        src->pos += src->kind->rec_size;
        if (src->read_fn) {
            adev__fn fn = src->read_fn;
            void *ud = src->read_ud, *out = src->read_out;
            src->read_fn = NULL;
            if (!src->kind->deliver(src, rec, fn, ud, out)) src->read_fn = fn;   /* skipped: still waiting */
        } else {
            src->kind->deliver(src, rec, src->watch_fn, src->watch_ud, NULL);
        }
    }
}

/* An error ends every consumer: each gets it once. */
ADEV_PRIVATE void adev__src_fail(adev__src *src, int status)
{
    adev__fn fn;
    if ((fn = src->read_fn) != NULL) {
        src->read_fn = NULL;
        src->kind->fail(src, fn, src->read_ud, status);
    }
    if ((fn = src->watch_fn) != NULL) {
        src->watch_fn = NULL;
        src->kind->fail(src, fn, src->watch_ud, status);
    }
}

ADEV_PRIVATE void adev__src_ready(akc_loop *l, akc_io *io, unsigned revents)
{
    adev__src *src = ADEV__CONTAINER(io, adev__src, io);
    int r;
    (void)l;
    (void)revents;
    if (src->pos == src->len) {
        r = adev__src_fill(src);
        if (r == -EAGAIN) return;
        if (r < 0) {
            adev__src_update(src);
            if (!src->closing) adev__src_fail(src, r);
            return;
        }
    }
    adev__src_pump(src);
    if (!src->closing) adev__src_update(src);
}

ADEV_PRIVATE void adev__src_finish(adev__src *src);

ADEV_PRIVATE void adev__src_kick(akc_loop *l, akc_defer *d)
{
    adev__src *src = ADEV__CONTAINER(d, adev__src, kick);
    (void)l;
    if (src->closing) {
        adev__src_finish(src);
        return;
    }
    adev__src_pump(src);
    if (src->pos == src->len && src->err && !src->closing) adev__src_fail(src, src->err);
    if (!src->closing) adev__src_update(src);
}

/* The close: what the kernel still holds goes to the watch (a read gets
 * one event, else -ECANCELED), then the descriptor goes, then the close
 * callback, which is the last thing that touches src. */
ADEV_PRIVATE void adev__src_finish(adev__src *src)
{
    adev_ctx *ctx = src->ctx;
    adev__fn fn;
    int rounds = 64;   /* the kernel's queue is bounded; so is this */
    akc_defer_cancel(&src->kick);
    adev__src_pump(src);
    while (adev__src_has_consumer(src) && !src->err && rounds-- > 0 && adev__src_fill(src) == 0)
        adev__src_pump(src);
    if ((fn = src->read_fn) != NULL) {
        src->read_fn = NULL;
        src->kind->fail(src, fn, src->read_ud, -ECANCELED);
    }
    src->watch_fn = NULL;
    akc_io_close(&ctx->core, &src->io);
    if (src->io.fd >= 0) (void)ADEV_SYS_CLOSE(src->io.fd);
    src->io.fd = -1;
    if (src->prev) src->prev->next = src->next; else ctx->srcs = src->next;
    if (src->next) src->next->prev = src->prev;
    src->prev = src->next = NULL;
    src->ctx = NULL;
    if ((fn = src->close_fn) != NULL) src->kind->fail(src, fn, src->close_ud, 0);
}

ADEV_PRIVATE int adev__src_close(adev__src *src, adev__fn fn, void *ud)
{
    if (!src->ctx) return -EINVAL;
    if (src->closing) return AKC_ECLOSED;
    src->closing = 1;
    src->close_fn = fn;
    src->close_ud = ud;
    akc_io_want(&src->ctx->core, &src->io, 0);
    akc_defer_queue(&src->ctx->core, &src->kick);
    return 0;
}

ADEV_PRIVATE int adev__src_watch(adev__src *src, adev__fn fn, void *ud)
{
    if (!src->ctx) return -EINVAL;
    if (src->closing) return AKC_ECLOSED;
    if (fn && src->read_fn) return -EBUSY;
    src->watch_fn = fn;
    src->watch_ud = ud;
    adev__src_update(src);
    return 0;
}

ADEV_PRIVATE int adev__src_read(adev__src *src, void *out, adev__fn fn, void *ud)
{
    if (!src->ctx || !fn) return -EINVAL;
    if (src->closing) return AKC_ECLOSED;
    if (src->read_fn || src->watch_fn) return -EBUSY;
    src->read_fn = fn;
    src->read_ud = ud;
    src->read_out = out;
    adev__src_update(src);
    return 0;
}

ADEV_API void adev__read_withdraw(adev__src *src)
{
    if (!src || !src->ctx) return;
    src->read_fn = NULL;
    if (!src->closing) adev__src_update(src);
}

/* Opens a device node non-blocking and close-on-exec: -errno. */
ADEV_PRIVATE int adev__open_node(const char *path, int flags)
{
    int fd;
    do {
        fd = ADEV_SYS_OPEN(path, flags | O_NONBLOCK | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

ADEV_PRIVATE int adev__ioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do {
        r = ADEV_SYS_IOCTL(fd, req, arg);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

/* ==== section: GPIO lines ==== */

ADEV_PRIVATE int adev__line_deliver(adev__src *src, const void *rec, adev__fn fn, void *ud, void *out)
{
    adev_lines *req = (adev_lines *)(void *)src;
    struct adev__gpio_event k;
    adev_line_event ev;
    int i;
    memcpy(&k, rec, sizeof k);
    memset(&ev, 0, sizeof ev);
    ev.time_ns = (int64_t)k.timestamp_ns;
    ev.offset = k.offset;
    ev.index = -1;
    for (i = 0; i < req->n; i++)
        if (req->offsets[i] == k.offset) { ev.index = i; break; }
    ev.rising = k.id == ADEV__EDGE_RISING;
    ev.seqno = k.seqno;
    ev.line_seqno = k.line_seqno;
    /* the kernel numbers every event it made; the ones it had to drop
     * for want of room leave a gap */
    if (k.seqno > req->next_seqno) ev.missed = k.seqno - req->next_seqno;
    req->next_seqno = k.seqno + 1;
    req->missed += ev.missed;
    req->events++;
    if (out) *(adev_line_event *)out = ev;
    ((adev_line_cb)fn)(req, 0, &ev, ud);
    return 1;
}

ADEV_PRIVATE void adev__line_fail(adev__src *src, adev__fn fn, void *ud, int status)
{
    ((adev_line_cb)fn)((adev_lines *)(void *)src, status, NULL, ud);
}

static const struct adev__kind adev__line_kind = {
    sizeof(struct adev__gpio_event), adev__line_deliver, adev__line_fail
};

ADEV_API void adev_line_config_init(adev_line_config *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->flags = ADEV_LINE_INPUT;
    cfg->consumer = "asynckit";
}

/* "gpiochip0" is /dev/gpiochip0; anything with a slash is a path. */
ADEV_PRIVATE const char *adev__chip_path(const char *chip, char *buf, size_t n)
{
    if (strchr(chip, '/')) return chip;
    snprintf(buf, n, "/dev/%s", chip);
    return buf;
}

ADEV_PRIVATE int adev__line_request(struct adev__gpio_request *kr, const unsigned *offsets, int n,
                              const adev_line_config *cfg)
{
    unsigned flags = cfg->flags;
    uint64_t all = n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1);
    int i;
    const unsigned known = ADEV_LINE_ACTIVE_LOW | ADEV_LINE_INPUT | ADEV_LINE_OUTPUT | ADEV_LINE_EDGE_BOTH |
                           ADEV_LINE_OPEN_DRAIN | ADEV_LINE_OPEN_SOURCE | ADEV_LINE_PULL_UP |
                           ADEV_LINE_PULL_DOWN | ADEV_LINE_BIAS_DISABLED;
    if ((flags & ~known) || cfg->debounce_ns < 0 || cfg->debounce_ns / 1000 > UINT32_MAX) return -EINVAL;
    if (flags & ADEV_LINE_EDGE_BOTH) flags |= ADEV_LINE_INPUT;
    if (!(flags & (ADEV_LINE_INPUT | ADEV_LINE_OUTPUT))) flags |= ADEV_LINE_INPUT;
    if ((flags & ADEV_LINE_INPUT) && (flags & ADEV_LINE_OUTPUT)) return -EINVAL;
    memset(kr, 0, sizeof *kr);
    for (i = 0; i < n; i++) kr->offsets[i] = offsets[i];
    kr->num_lines = (uint32_t)n;
    kr->event_buffer_size = cfg->event_buffer;
    snprintf(kr->consumer, sizeof kr->consumer, "%s", cfg->consumer ? cfg->consumer : "asynckit");
    kr->config.flags = flags;
    if (flags & ADEV_LINE_OUTPUT) {
        struct adev__gpio_config_attr *a = &kr->config.attrs[kr->config.num_attrs++];
        a->attr.id = ADEV__ATTR_OUTPUT_VALUES;
        a->attr.value = cfg->values & all;
        a->mask = all;
    }
    if (cfg->debounce_ns > 0) {
        struct adev__gpio_config_attr *a = &kr->config.attrs[kr->config.num_attrs++];
        int64_t us = (cfg->debounce_ns + 999) / 1000;
        a->attr.id = ADEV__ATTR_DEBOUNCE;
        /* debounce_period_us is the union's first 32 bits */
        {
            uint32_t v = (uint32_t)us;
            memcpy(&a->attr.value, &v, sizeof v);
        }
        a->mask = all;
    }
    return 0;
}

ADEV_API int adev_lines_open(adev_lines *req, adev_ctx *ctx, const char *chip,
                             const unsigned *offsets, int n, const adev_line_config *cfg)
{
    struct adev__gpio_request kr;
    adev_line_config dflt;
    char path[64];
    int chipfd, r, i;
    if (!req || !ctx || !chip || !offsets || n < 1 || n > ADEV_LINES_MAX) return -EINVAL;
    if (!cfg) {
        adev_line_config_init(&dflt);
        cfg = &dflt;
    }
    if ((r = adev__line_request(&kr, offsets, n, cfg)) < 0) return r;
    chipfd = adev__open_node(adev__chip_path(chip, path, sizeof path), O_RDWR);
    if (chipfd < 0) return chipfd;
    r = adev__ioctl(chipfd, ADEV__GPIO_GET_LINE, &kr);
    (void)ADEV_SYS_CLOSE(chipfd);
    if (r < 0) return r;
    /* the request's descriptor: non-blocking, so reads never wait */
    (void)fcntl(kr.fd, F_SETFL, fcntl(kr.fd, F_GETFL) | O_NONBLOCK);
    r = adev__src_open(&req->src, ctx, kr.fd, &adev__line_kind);
    if (r < 0) {
        (void)ADEV_SYS_CLOSE(kr.fd);
        return r;
    }
    for (i = 0; i < n; i++) req->offsets[i] = offsets[i];
    req->n = n;
    req->next_seqno = 1;
    req->events = req->missed = 0;
    return 0;
}

ADEV_API int adev_lines_fd(const adev_lines *req) { return req && req->src.ctx ? req->src.io.fd : -1; }

ADEV_API int adev_lines_get(adev_lines *req, uint64_t *bits)
{
    struct adev__gpio_values v;
    int r;
    if (!req || !req->src.ctx || !bits) return -EINVAL;
    v.bits = 0;
    v.mask = req->n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << req->n) - 1);
    r = adev__ioctl(req->src.io.fd, ADEV__GPIO_GET_VALUES, &v);
    if (r < 0) return r;
    *bits = v.bits & v.mask;
    return 0;
}

ADEV_API int adev_lines_set(adev_lines *req, uint64_t bits, uint64_t mask)
{
    struct adev__gpio_values v;
    int r;
    if (!req || !req->src.ctx) return -EINVAL;
    v.mask = mask & (req->n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << req->n) - 1));
    v.bits = bits & v.mask;
    if (!v.mask) return 0;
    r = adev__ioctl(req->src.io.fd, ADEV__GPIO_SET_VALUES, &v);
    return r < 0 ? r : 0;
}

ADEV_API int adev_lines_watch(adev_lines *req, adev_line_cb cb, void *ud)
{
    return req ? adev__src_watch(&req->src, (adev__fn)cb, ud) : -EINVAL;
}

ADEV_API int adev_lines_read(adev_lines *req, adev_line_event *out, adev_line_cb cb, void *ud)
{
    return req ? adev__src_read(&req->src, out, (adev__fn)cb, ud) : -EINVAL;
}

ADEV_API int adev_lines_close(adev_lines *req, adev_line_cb cb, void *ud)
{
    return req ? adev__src_close(&req->src, (adev__fn)cb, ud) : -EINVAL;
}

ADEV_API int adev_chip_info(const char *chip, char *name, char *label, unsigned *lines)
{
    struct adev__gpio_chipinfo info;
    char path[64];
    int fd, r;
    if (!chip) return -EINVAL;
    fd = adev__open_node(adev__chip_path(chip, path, sizeof path), O_RDONLY);
    if (fd < 0) return fd;
    memset(&info, 0, sizeof info);
    r = adev__ioctl(fd, ADEV__GPIO_GET_CHIPINFO, &info);
    (void)ADEV_SYS_CLOSE(fd);
    if (r < 0) return r;
    if (name) { memcpy(name, info.name, 32); name[31] = 0; }
    if (label) { memcpy(label, info.label, 32); label[31] = 0; }
    if (lines) *lines = info.lines;
    return 0;
}

/* ==== section: input devices ==== */

ADEV_PRIVATE int64_t adev__input_time(const struct adev__input_event *k)
{
    return (int64_t)k->sec * 1000000000 + (int64_t)k->usec * 1000;
}

ADEV_PRIVATE int adev__input_deliver(adev__src *src, const void *rec, adev__fn fn, void *ud, void *out)
{
    adev_input *in = (adev_input *)(void *)src;
    struct adev__input_event k;
    adev_input_event ev;
    memcpy(&k, rec, sizeof k);
    if (in->skipping) {   /* the rest of a frame the kernel broke: of no use */
        if (k.type == ADEV_EV_SYN && k.code == ADEV_SYN_REPORT) in->skipping = 0;
        return 0;
    }
    if (k.type == ADEV_EV_SYN && k.code == ADEV_SYN_DROPPED) {
        in->skipping = 1;
        in->dropped++;
    }
    ev.time_ns = adev__input_time(&k);
    ev.type = k.type;
    ev.code = k.code;
    ev.value = k.value;
    in->events++;
    if (out) *(adev_input_event *)out = ev;
    ((adev_input_cb)fn)(in, 0, &ev, ud);
    return 1;
}

ADEV_PRIVATE void adev__input_fail(adev__src *src, adev__fn fn, void *ud, int status)
{
    ((adev_input_cb)fn)((adev_input *)(void *)src, status, NULL, ud);
}

static const struct adev__kind adev__input_kind = {
    sizeof(struct adev__input_event), adev__input_deliver, adev__input_fail
};

ADEV_API int adev_input_open(adev_input *in, adev_ctx *ctx, const char *path, unsigned flags)
{
    int fd, r, clk = CLOCK_MONOTONIC, one = 1;
    if (!in || !ctx || !path || (flags & ~ADEV_INPUT_GRAB)) return -EINVAL;
    fd = adev__open_node(path, O_RDONLY);
    if (fd < 0) return fd;
    /* The kernel stamps events with wall-clock time unless told otherwise;
     * the loop, the button and the delays count in CLOCK_MONOTONIC. */
    r = adev__ioctl(fd, ADEV__EVIOCSCLOCKID, &clk);
    if (r == 0 && (flags & ADEV_INPUT_GRAB)) r = adev__ioctl(fd, ADEV__EVIOCGRAB, (void *)(intptr_t)one);
    if (r == 0) r = adev__src_open(&in->src, ctx, fd, &adev__input_kind);
    if (r < 0) {
        (void)ADEV_SYS_CLOSE(fd);
        return r;
    }
    in->skipping = 0;
    in->events = in->dropped = 0;
    return 0;
}

ADEV_API int adev_input_fd(const adev_input *in) { return in && in->src.ctx ? in->src.io.fd : -1; }

ADEV_API int adev_input_watch(adev_input *in, adev_input_cb cb, void *ud)
{
    return in ? adev__src_watch(&in->src, (adev__fn)cb, ud) : -EINVAL;
}

ADEV_API int adev_input_read(adev_input *in, adev_input_event *out, adev_input_cb cb, void *ud)
{
    return in ? adev__src_read(&in->src, out, (adev__fn)cb, ud) : -EINVAL;
}

ADEV_API int adev_input_close(adev_input *in, adev_input_cb cb, void *ud)
{
    return in ? adev__src_close(&in->src, (adev__fn)cb, ud) : -EINVAL;
}

ADEV_API int adev_input_name(adev_input *in, char *buf, size_t n)
{
    int r;
    if (!in || !in->src.ctx || !buf || n == 0 || n > 4096) return -EINVAL;
    memset(buf, 0, n);
    r = adev__ioctl(in->src.io.fd, ADEV__EVIOCGNAME(n), buf);
    buf[n - 1] = 0;
    return r < 0 ? r : 0;
}

/* A bit of the kernel's state bitmap for keys (or switches). */
ADEV_PRIVATE int adev__input_bit(adev_input *in, unsigned long req, unsigned code, unsigned max)
{
    unsigned char bits[0x300 / 8];
    int r;
    if (!in || !in->src.ctx || code >= max) return -EINVAL;
    memset(bits, 0, sizeof bits);
    r = adev__ioctl(in->src.io.fd, req, bits);
    if (r < 0) return r;
    return (bits[code / 8] >> (code % 8)) & 1;
}

ADEV_API int adev_input_key_state(adev_input *in, unsigned code)
{
    return adev__input_bit(in, ADEV__EVIOCGKEY(0x300 / 8), code, 0x300);
}

ADEV_API int adev_input_switch_state(adev_input *in, unsigned code)
{
    return adev__input_bit(in, ADEV__EVIOCGSW(0x300 / 8), code, 0x11);
}

/* ==== section: quadrature encoder ==== */

/* Steps between the states A,B = 00 01 11 10 (A leads: +1).  From each old
 * state (row) to each new one: 0 the same, +1 / -1 a step, 2 a skip. */
static const signed char adev__quad[16] = {
    /* to:  00  01  10  11 */
    /* 00 */ 0, -1, +1, 2,
    /* 01 */ +1, 0, 2, -1,
    /* 10 */ -1, 2, 0, +1,
    /* 11 */ 2, +1, -1, 0
};

ADEV_API void adev_encoder_init(adev_encoder *e, int steps_per_detent, int a, int b)
{
    if (!e) return;
    memset(e, 0, sizeof *e);
    e->per_detent = steps_per_detent == 1 || steps_per_detent == 2 ? steps_per_detent : 4;
    e->ab = (a ? 2 : 0) | (b ? 1 : 0);
}

ADEV_API int adev_encoder_feed(adev_encoder *e, int a, int b)
{
    int ab, step;
    if (!e) return 0;
    ab = (a ? 2 : 0) | (b ? 1 : 0);
    step = adev__quad[e->ab * 4 + ab];
    e->ab = ab;
    if (step == 2) {
        e->errors++;
        return 0;
    }
    if (!step) return 0;
    /* a reversal half way through a detent undoes its steps */
    e->steps += step;
    if (e->steps >= e->per_detent) {
        e->steps = 0;
        e->position++;
        return 1;
    }
    if (e->steps <= -e->per_detent) {
        e->steps = 0;
        e->position--;
        return -1;
    }
    return 0;
}

ADEV_API int adev_encoder_line(adev_encoder *e, int line, int level)
{
    if (!e) return 0;
    if (line == 0) return adev_encoder_feed(e, level, e->ab & 1);
    return adev_encoder_feed(e, (e->ab >> 1) & 1, level);
}

ADEV_API int adev_encoder_move(adev_encoder *e, int detents)
{
    if (!e) return 0;
    e->position += detents;
    return detents;
}

/* ==== section: retriggerable delay ==== */

ADEV_PRIVATE void adev__delay_link(adev_delay *d)
{
    adev_ctx *c = d->ctx;
    if (d->linked) return;
    d->linked = 1;
    d->prev = NULL;
    d->next = c->delays;
    if (c->delays) c->delays->prev = d;
    c->delays = d;
}

ADEV_PRIVATE void adev__delay_unlink(adev_delay *d)
{
    if (!d->linked) return;
    if (d->prev) d->prev->next = d->next; else d->ctx->delays = d->next;
    if (d->next) d->next->prev = d->prev;
    d->prev = d->next = NULL;
    d->linked = 0;
}

ADEV_PRIVATE void adev__delay_fire(akc_loop *l, akc_timer *t)
{
    adev_delay *d = ADEV__CONTAINER(t, adev_delay, timer);
    adev_delay_cb wcb = d->wait_cb;
    void *wud = d->wait_ud;
    (void)l;
    d->fires++;
    d->wait_cb = NULL;
    adev__delay_unlink(d);
    /* the persistent callback first: it may trigger the delay again */
    if (d->cb) d->cb(d, 0, d->ud);
    if (wcb) wcb(d, 0, wud);
}

ADEV_API void adev_delay_init(adev_delay *d, adev_ctx *ctx, int64_t duration_ns, adev_delay_cb cb, void *ud)
{
    if (!d) return;
    memset(d, 0, sizeof *d);
    d->ctx = ctx;
    d->duration = duration_ns > 0 ? duration_ns : 0;
    d->cb = cb;
    d->ud = ud;
    akc_timer_init(&d->timer, adev__delay_fire);
}

ADEV_API int adev_delay_trigger_at(adev_delay *d, int64_t from_ns, int64_t duration_ns)
{
    int r;
    if (!d || !d->ctx || duration_ns < 0) return -EINVAL;
    if (duration_ns == 0) duration_ns = d->duration;
    r = akc_timer_start(&d->ctx->core, &d->timer, akc_add_sat(from_ns, duration_ns));
    if (r < 0) return r;
    d->triggers++;
    adev__delay_link(d);
    return 0;
}

ADEV_API int adev_delay_trigger(adev_delay *d, int64_t duration_ns)
{
    if (!d || !d->ctx) return -EINVAL;
    return adev_delay_trigger_at(d, akc_time(&d->ctx->core), duration_ns);
}

ADEV_API void adev_delay_stop(adev_delay *d)
{
    adev_delay_cb wcb;
    if (!d || !d->ctx) return;
    (void)akc_timer_stop(&d->ctx->core, &d->timer);
    wcb = d->wait_cb;
    d->wait_cb = NULL;
    adev__delay_unlink(d);
    if (wcb) wcb(d, -ECANCELED, d->wait_ud);
}

ADEV_API int adev_delay_running(const adev_delay *d) { return d && akc_timer_active(&d->timer); }

ADEV_API int64_t adev_delay_due(const adev_delay *d)
{
    return d && d->ctx ? akc_timer_when(&d->ctx->core, &d->timer) : ADEV_NO_DEADLINE;
}

ADEV_API int adev_delay_wait(adev_delay *d, adev_delay_cb cb, void *ud)
{
    if (!d || !d->ctx || !cb) return -EINVAL;
    if (d->wait_cb) return -EBUSY;
    d->wait_cb = cb;
    d->wait_ud = ud;
    adev__delay_link(d);
    return 0;
}

ADEV_API void adev__delay_unwait(adev_delay *d)
{
    if (!d) return;
    d->wait_cb = NULL;
    if (!akc_timer_active(&d->timer)) adev__delay_unlink(d);
}

/* ==== section: closing the context ==== */

ADEV_API void adev_ctx_close(adev_ctx *c)
{
    if (!c || !c->core.live) return;
    if (c->core.depth) {   /* from a callback: when the dispatch returns */
        c->close_asked = 1;
        return;
    }
    c->close_asked = 0;
    c->core.depth++;   /* callbacks below may not run the loop */
    while (c->delays) adev_delay_stop(c->delays);
    while (c->srcs) {
        adev__src *src = c->srcs;
        if (!src->closing) {
            src->closing = 1;
            src->close_fn = NULL;
        }
        adev__src_finish(src);
    }
    akc__run_deferred(&c->core, 64);
    c->core.depth--;
    akc_loop_free(&c->core);
    c->srcs = NULL;
    c->delays = NULL;
}

#ifdef __cplusplus
}
#endif

#endif /* ADEV_IMPLEMENTATION */

/* ==== asynckit dev-sched bridge begin ==== */
/* sched.h tasks await asyncdev.h's operations.  sched.h and asyncdev.h
 * both carry this block (stamped from core/bridge_dev.h by
 * tools/stamp_core.sh); whichever of the two comes second in a file
 * compiles it, with static functions, in every file that includes both.
 *
 *   ADEV_AWAIT_LINE_EVENT(t, req, evp)    the next edge of a line request:
 *                                         SCHD_STATUS(t) 0 and *evp, or an error
 *   ADEV_AWAIT_INPUT_EVENT(t, in, evp)    the next event of an input device
 *   ADEV_AWAIT_DELAY(t, d)                until the retriggerable delay fires
 *                                         (0), or is stopped (-ECANCELED)
 *
 * evp must stay valid until the await ends.  A timeout (schd_task_timeout)
 * or a schd_task_cancel ends the await and takes the read or wait back: no
 * event is lost (one not yet delivered stays for the next read), and the
 * request, device or delay stays usable.  A request or device being
 * watched refuses the await with -EBUSY. */
#if defined(SCHD_H_INCLUDED) && defined(ASYNCDEV_H) && !defined(AKC_BRIDGE_DEV)
#define AKC_BRIDGE_DEV 1
#include <errno.h>

#define ADEV_AWAIT_LINE_EVENT(t, req, evp)  SCHD_AWAIT_(t, adev__await_line((t), (req), (evp)))
#define ADEV_AWAIT_INPUT_EVENT(t, in, evp)  SCHD_AWAIT_(t, adev__await_input((t), (in), (evp)))
#define ADEV_AWAIT_DELAY(t, d)              SCHD_AWAIT_(t, adev__await_delay((t), (d)))

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ADEV__BRIDGE static __attribute__((unused))
#else
#define ADEV__BRIDGE static
#endif

static void adev__await_line_done(adev_lines *req, int status, const adev_line_event *ev, void *ud)
{
    (void)ev;
    schd_task_op_end((schd_task *)ud, req, status);
}

static void adev__await_input_done(adev_input *in, int status, const adev_input_event *ev, void *ud)
{
    (void)ev;
    schd_task_op_end((schd_task *)ud, in, status);
}

static void adev__await_withdraw_read(schd_task *t, void *op)
{
    (void)t;
    adev__read_withdraw((adev__src *)op);   /* both kinds start with their adev__src */
}

ADEV__BRIDGE int adev__await_line(schd_task *t, adev_lines *req, adev_line_event *ev)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = adev_lines_read(req, ev, adev__await_line_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, req, adev__await_withdraw_read);
}

ADEV__BRIDGE int adev__await_input(schd_task *t, adev_input *in, adev_input_event *ev)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = adev_input_read(in, ev, adev__await_input_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, in, adev__await_withdraw_read);
}

static void adev__await_delay_done(adev_delay *d, int status, void *ud)
{
    schd_task_op_end((schd_task *)ud, d, status);
}

static void adev__await_withdraw_delay(schd_task *t, void *op)
{
    (void)t;
    adev__delay_unwait((adev_delay *)op);
}

ADEV__BRIDGE int adev__await_delay(schd_task *t, adev_delay *d)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = adev_delay_wait(d, adev__await_delay_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, d, adev__await_withdraw_delay);
}

/* A context as a source of a schd_loop: schd_source_add with
 * adev_prepare and adev_dispatch. */
ADEV__BRIDGE int adev_attach(adev_ctx *ctx, schd_loop *loop, schd_source *src)
{
    if (!ctx || !loop || !src) return -EINVAL;
    return schd_source_add(src, loop, adev_prepare, adev_dispatch, ctx);
}

#ifdef __cplusplus
}
#endif
#endif /* AKC_BRIDGE_DEV */
/* ==== asynckit dev-sched bridge end ==== */

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
