/* sched.h - v0.2.0 - a poll loop, timers, a frequency scheduler, stackless
 * tasks, synchronisation primitives and a managed shared resource, for C99
 * on Linux.  Part of the asynckit family (sched.h, aio_stream.h, asyncusb.h).
 * MIT licence or public domain, at your choice: see the end of the file.
 *
 * # Using it
 *
 * Copy this file into your tree.  In exactly one C file write
 *
 *     #define SCHD_IMPLEMENTATION
 *     #include "sched.h"
 *
 * before any other #include of that file (the implementation needs POSIX
 * and GNU declarations; alternatively compile that file with -D_GNU_SOURCE;
 * with glibc, a file that included system headers first in strict -std=c99
 * mode stops with an #error that says so).  Every other file just includes
 * "sched.h".  No other library is needed:
 *
 *     cc -std=c99 -O2 -I. -o app app.c
 *
 * The file is named like the system's <sched.h>.  When a -I option makes
 * a system header find this file instead of its own (glibc's and musl's
 * <pthread.h> and <spawn.h> include <sched.h>), this file passes the system
 * header on with #include_next and declares nothing; the program's own
 * #include "sched.h" then gets this library.  A program that wants the
 * system's sched_* functions and puts this folder on its -I path should
 * include <pthread.h> (or another system header) before "sched.h".
 *
 * # Compile-time options (define before including)
 *
 *   SCHD_IMPLEMENTATION    compile the implementation into this file
 *   SCHD_STATIC            make every function static (implies
 *                          SCHD_IMPLEMENTATION in the same file)
 *   ASYNCKIT_IMPLEMENTATION, ASYNCKIT_STATIC   the same for every header
 *                          of the family at once
 *   SCHD_MALLOC(n), SCHD_REALLOC(p, n), SCHD_FREE(p)   the allocator; define
 *                          all three or none (default: malloc, realloc,
 *                          free; must be thread safe if schd_loop_post is
 *                          used from threads)
 *   ASYNCKIT_POLL          wait with poll() instead of epoll (for the
 *                          smallest builds, or systems without epoll); the
 *                          structures are the same either way, so files
 *                          built with and without it work together
 *   AKC_SYS_EPOLL_CREATE1, AKC_SYS_EPOLL_CTL, AKC_SYS_EPOLL_WAIT,
 *   AKC_SYS_EPOLL_PWAIT2, AKC_SYS_PPOLL, AKC_SYS_POLL, AKC_SYS_EVENTFD,
 *   AKC_SYS_READ, AKC_SYS_WRITE, AKC_SYS_CLOSE, AKC_SYS_SIGNALFD,
 *   AKC_SYS_SIGPROCMASK    the system calls of the family's loop core
 *                          (signalfd and sigprocmask: signal watchers), each
 *                          a name or a function-like macro with the libc
 *                          signature (AKC_SYS_EPOLL_PWAIT2 takes the fd,
 *                          events, count and a pointer to two long longs:
 *                          seconds, nanoseconds), for counting or fault
 *                          injection; AKC_NO_PWAIT2 turns the
 *                          nanosecond wait off.  The loop waits with
 *                          epoll_pwait2 (nanosecond timeouts) where the
 *                          kernel has it, else epoll_wait with timeouts
 *                          rounded up to the next millisecond; on the poll
 *                          backend with ppoll, or poll where the C library
 *                          does not declare ppoll.
 *   SCHD_NO_SYSTEM_SCHED   turns off the forwarding described above, which
 *                          otherwise happens when <pthread.h> or <spawn.h>
 *                          is being read (_PTHREAD_H or _SPAWN_H defined)
 *                          and the system's <sched.h> (_SCHED_H) is not
 *
 * There are no tunable limits: tables grow as needed.
 *
 * # A tour
 *
 *     schd_loop loop;
 *     schd_loop_init(&loop);
 *
 *     // a timer: once after 250 ms, then every second
 *     schd_timer t;
 *     schd_timer_init(&t, on_timer, NULL);
 *     schd_timer_start(&t, &loop, SCHD_MS(250), SCHD_SEC(1));
 *
 *     // a job at 80 Hz, with no cumulative drift
 *     static schd_job job;
 *     schd_job_start(&job, &loop, schd_hz(80), on_tick, NULL);
 *
 *     // a task: a function that resumes where it awaited
 *     struct blink { schd_task task; int i; } b = {0};
 *     static int blink(schd_task *t) {
 *         struct blink *b = SCHD_CONTAINER_OF(t, struct blink, task);
 *         SCHD_TASK_BEGIN(t);
 *         for (b->i = 0; b->i < 10; b->i++) {
 *             toggle_led();
 *             SCHD_AWAIT_DELAY(t, SCHD_MS(100));
 *         }
 *         SCHD_TASK_END(t);
 *     }
 *     schd_task_start(&b.task, &loop, blink, NULL);
 *
 *     schd_loop_run(&loop);          // until nothing is left, or schd_loop_stop
 *     schd_loop_close(&loop);
 *
 * # Time
 *
 * Times are int64_t nanoseconds of CLOCK_MONOTONIC; SCHD_NO_DEADLINE
 * (INT64_MAX) means none.  SCHD_SEC(), SCHD_MS(), SCHD_US() convert whole
 * numbers, SCHD_SECF(1.5) fractional seconds.  The loop caches the time once
 * per iteration (schd_loop_now); tests can replace the clock with
 * schd_loop_set_clock and then never sleep.  A delay (timer, job, task
 * await) started from a callback counts from the iteration's cached time,
 * so things started together keep their phase; started anywhere else it
 * counts from the clock at the call.
 *
 * # Callbacks
 *
 * Every callback runs from the loop's dispatch, never inside the call that
 * started it, and receives its object first.  A callback may stop, restart
 * or free its own object and start new ones.  Operations that complete
 * (tasks, waits on primitives) complete exactly once: success, timeout
 * (-ETIMEDOUT) and cancellation (-ECANCELED) arrive the same way.  Timers
 * and deferred calls started by a callback wait for the next iteration, so
 * a zero-delay restart cannot starve the loop.
 *
 * # Tasks
 *
 * A task is a function `int fn(schd_task *t)` whose body sits between
 * SCHD_TASK_BEGIN(t) and SCHD_TASK_END(t).  It has no stack of its own:
 * local variables do not survive an await, so keep state in a struct that
 * embeds the schd_task (SCHD_CONTAINER_OF finds it; in C++ only for
 * standard-layout types, otherwise use t->ud) or behind t->ud, write at
 * most one await per source line, and never await inside a switch
 * statement of your own (its case labels would capture the resume point).
 * Awaits:
 *
 *   SCHD_AWAIT_DELAY(t, ns)           sleep
 *   SCHD_YIELD(t)                     let every other ready thing run
 *   SCHD_AWAIT_EVENT(t, ev)           until the event is set
 *   SCHD_AWAIT_LOCK(t, lock)          FIFO lock; released automatically
 *                                     if the task ends holding it
 *   SCHD_AWAIT_SEM(t, sem)            take one unit of a semaphore
 *   SCHD_AWAIT_BARRIER(t, barrier)    until all parties have arrived
 *   SCHD_AWAIT_GET(t, queue, item)    take an item (copied to *item)
 *   SCHD_AWAIT_PUT(t, queue, item)    add an item (copied from *item, which
 *                                     must stay valid until the put ends)
 *   SCHD_AWAIT_COMPLETION(t, c)       until schd_completion_signal(c, st)
 *   SCHD_AWAIT_GATHER(t, g)           until every member of g is done
 *   SCHD_AWAIT_JOIN(t, other)         until the other task has ended
 *   SCHD_AWAIT_ACQUIRE(t, handle)     the managed resource, via a handle
 *   SCHD_AWAIT_TFLAG(t, flag)         until another thread sets the flag
 *
 * After an await, SCHD_STATUS(t) is 0, a status the waker gave (the
 * completion's, the gather's first error), or -ETIMEDOUT when
 * schd_task_timeout(t, ns) was called before the await and the time ran
 * out (wait_for).  A timed-out or cancelled wait never takes the lock,
 * unit, item or resource.
 *
 * The other headers' operations are awaited the same way when both
 * headers are included in a file (in either order):
 *
 *   AIOS_AWAIT_CONNECT(t, &s, ctx, host, port, opts)   aio_stream.h; also
 *   AIOS_AWAIT_UNIX_CONNECT, _READ, _READ_EXACTLY, _READ_UNTIL, _PEEK,
 *   _WRITE, _DRAIN, _SHUTDOWN, _SERVER_SHUTDOWN, and for datagrams
 *   AIOS_AWAIT_RECV(t, d, buf, cap), AIOS_AWAIT_SEND(t, d, data, n, to)
 *   AUSB_AWAIT_TRANSFER(t, xfer), AUSB_AWAIT_STRING(t, req, h, index, ns)
 *
 * SCHD_STATUS(t) is then what the operation's callback would have got.  A
 * timeout or a cancellation ends the await and takes the operation back,
 * so the stream or handle stays usable (see the bridge in aio_stream.h and
 * asyncusb.h).  Any other callback operation can be awaited through
 * schd_task_op_enter / _failed / _begin / _end (declared below).
 *
 * schd_task_cancel(t) delivers cancellation at the task's await point:
 * the task jumps to its SCHD_TASK_FINALLY(t) block if it has one (awaits
 * work there), otherwise it ends.  SCHD_TASK_EXIT(t, result) also runs the
 * finally block.  A cancelled task's result is -ECANCELED unless it exits
 * with another.  SCHD_AWAIT_JOIN then schd_task_result(other) gets a result;
 * an on_done callback (schd_task_on_done) does the same for callback code.
 *
 * A schd_task or schd_job must be zeroed (static storage, memset, or
 * `= {0}`) before its first start; after that, starting it again is safe:
 * a task that has not ended refuses with -EBUSY, a job restarts.
 *
 * # The frequency scheduler
 *
 * schd_job_start(job, loop, rate, fn, ud) runs fn at a fixed rate:
 * schd_hz(80), schd_hz(0.2), schd_period(SCHD_MS(1500)).  Run k is due at
 * exactly start + k * period, the first one period after the start
 * (rational arithmetic, so 15 Hz does not drift by a nanosecond over days).
 * When the loop comes late by one or more whole periods, the default policy
 * (SCHD_LATE_SKIP) runs once and skips the missed periods;
 * SCHD_LATE_CATCHUP runs up to catchup_max of them back to back first
 * (schd_job_set_late_policy, which may be called before the start).  Each
 * skipped period counts as an overrun.  A job that runs a task
 * (schd_job_start_task) never starts it twice: when the previous run is
 * still going at the next period, that period is skipped and counted as an
 * overrun.  The job keeps its statistics in public fields: runs, overruns,
 * late_max and late_last (nanoseconds after the due time).
 *
 * Lateness is mostly the kernel's timer slack (50 us by default for a
 * thread); a program that needs tighter timing can lower it with
 * prctl(PR_SET_TIMERSLACK, 1).  The library never changes it.
 *
 * # Joining other loops (alone, with the other headers, inside a foreign loop)
 *
 * Alone: schd_loop_run / schd_loop_run_once.  With the other headers:
 * schd_source_add(&src, loop, X_prepare, X_dispatch, ctx) makes their
 * descriptors and deadlines part of the loop's one wait (a source keeps
 * schd_loop_run going until schd_source_remove).  Each entry a source's
 * prepare gives is watched across iterations and changed only when the
 * entry changes; with epoll a context of the family is one entry (its own
 * epoll set), so a nested context that has nothing ready costs no system
 * call in an iteration, and one that has something costs one.
 * Inside a foreign loop:
 *
 *     struct pollfd fds[64];
 *     int64_t deadline = SCHD_NO_DEADLINE;      // or the foreign loop's own
 *     int n = schd_loop_prepare(&loop, fds, 64, &deadline);
 *     // n > 64: grow the array and prepare again before polling
 *     poll(fds, n, ms_until(deadline));         // or add fds to epoll, GLib...
 *     schd_loop_dispatch(&loop, fds, n);        // also when nothing was ready
 *
 * prepare lowers the deadline to the earliest timer, or to now when
 * deferred work is ready; dispatch takes back the same entries in the same
 * order.  Both have the signature of every other header's pair, so a
 * schd_loop can itself be a source of another schd_loop.
 *
 * With epoll (the default) prepare gives one entry, the loop's epoll
 * descriptor, whatever the loop watches: a host pays O(1) per iteration.
 * With ASYNCKIT_POLL it gives one entry per watched descriptor.  A host
 * that registers descriptors only when the entries change (its own epoll,
 * libuv's uv_poll_t) must also re-register an entry whose revents prepare
 * set to AKC_FRESH (0x4000, a bit poll() never reports): its watcher is new
 * since the last prepare, and its number may have been closed and reused
 * in between, which the kernel's epoll forgets silently.  A descriptor
 * closed while watched is reported with POLLNVAL on the poll backend; epoll
 * drops it without a word, so stop a watcher before closing its fd.
 *
 * # Threads
 *
 * A loop belongs to one thread.  From any other thread only these may be
 * called: schd_async_send, schd_loop_post, schd_tflag_set.
 *
 * # Signals
 *
 * A schd_signal watcher delivers a signal through the loop, as the other
 * headers' watchers do (aios_signal, ausb_signal: the same semantics):
 *
 *     static void on_term(schd_signal *sig, const schd_siginfo *info, void *ud) {
 *         schd_loop_stop((schd_loop *)ud);
 *     }
 *     schd_signal_init(&sig, on_term, &loop);
 *     schd_signal_start(&sig, &loop, SIGTERM);
 *
 * The callback runs from dispatch, like every other.  No handler is
 * installed: the loop reads a signalfd of its own, whose mask is the
 * signals its watchers watch.  Any signal that can be blocked may be
 * watched (SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGCHLD, real-time signals);
 * SIGKILL, SIGSTOP, the signals a fault raises (SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL, SIGTRAP, SIGSYS) and those the C library keeps for its threads
 * give -EINVAL.  A signal may have several watchers, each called once per
 * delivery; a callback may stop or start any watcher.  A started watcher
 * keeps schd_loop_run going and must not move until it stops;
 * schd_loop_close stops them all.  info holds signo, code (si_code:
 * SI_USER, SI_QUEUE, CLD_EXITED ...), pid and uid of the sender and value
 * (sigqueue's int); for SIGCHLD pid is the child and status its exit
 * status or the signal that ended it (reap it with waitpid all the same).
 * Standard signals do not queue: two before the loop reads them are one
 * call (so on SIGCHLD reap with waitpid(-1, &st, WNOHANG) until none is
 * left); real-time signals queue, each its own call.
 *
 * The first watcher of a signal blocks it in the calling thread (the
 * loop's), so that it waits, pending, for the loop; when its last watcher
 * stops, or the loop closes, the thread's mask is as it was (unblocked
 * unless the program had blocked it itself), and a signal not yet read
 * then is dropped, not left to its default action.  A signal that arrives
 * after its watcher started comes with the first dispatch, however late
 * the loop runs; so does one the program had blocked and that was already
 * pending.  One that arrives before any watcher meets its disposition
 * (SIGTERM ends the process): start the watchers early, or block the
 * signals at the start of main with pthread_sigmask and start the
 * watchers later.  Watch a given signal in one loop only (a schd_loop and
 * a context of another header attached to it each read their own
 * signalfd).  Children inherit the mask across fork and exec: unblock the
 * signals in the child before exec.
 *
 * A signal sent to the process goes to any thread that does not block
 * it, and only the loop's thread blocks it: a thread that leaves SIGTERM
 * unblocked takes it, and its default action ends the process, watcher or
 * not.  The family's threads (aio_stream.h's resolvers, libusb's thread,
 * started inside ausb_ctx_init) start with every signal blocked; block the
 * watched signals in main before the program's own first pthread_create
 * (threads inherit the mask).
 *
 * # API by section
 *
 * Functions check their arguments: a NULL object or a bad value gives
 * -EINVAL (void functions then do nothing).  The await macros do not check.
 * Callback types are in brackets.
 *
 * Loop
 *   int  schd_loop_init(loop)                 caller storage; opens an epoll set and
 *                                             an eventfd (the eventfd alone with poll)
 *   int  schd_loop_close(loop)                cancels every task (finally blocks
 *                                             run), delivers deferred calls and
 *                                             posts, releases everything; -EBUSY
 *                                             when called from inside the loop
 *   int  schd_loop_run(loop)                  until schd_loop_stop or until no
 *                                             timer, watcher, source, deferred call
 *                                             or async handle is left (a task that
 *                                             waits on a primitive that nothing
 *                                             will signal does not count); 0, or
 *                                             the error of the wait
 *   int  schd_loop_run_once(loop, timeout_ns) one wait of at most timeout_ns (-1: no
 *                                             limit); 1 while something is left, 0
 *                                             when not, <0 an error of the wait
 *   void schd_loop_stop(loop)                 run returns after this iteration; a
 *                                             stop outside run ends the next at once
 *   int  schd_loop_alive(loop)                1 while something is left
 *   int64_t schd_loop_now(loop)               the time cached for this iteration
 *   void schd_loop_update_time(loop)          re-reads the clock
 *   void schd_loop_set_clock(loop, fn, ud)    [int64_t fn(ud)] replaces the clock;
 *                                             NULL restores CLOCK_MONOTONIC
 *   int64_t schd_now_ns(void)                 CLOCK_MONOTONIC, not cached
 *   int  schd_loop_prepare(loop, fds, cap, &deadline_ns)   inside a foreign
 *                                             loop, above
 *   void schd_loop_dispatch(loop, fds, n)
 *   const char *schd_strerror(code)           any code, also -errno
 *
 * Timers (40 bytes each on 64-bit, plus 24 in the loop's heap while active)
 *   void schd_timer_init(t, cb, ud)           [cb(t, ud)]
 *   int  schd_timer_start(t, loop, delay_ns, period_ns)    first after delay,
 *                                             then every period (0: once);
 *                                             restarts an active timer; a
 *                                             repeating timer keeps its phase and
 *                                             skips the periods it missed
 *   int  schd_timer_start_at(t, loop, when_ns, period_ns)  absolute first time
 *   int  schd_timer_stop(t, loop)             0 also when idle
 *   int  schd_timer_active(t)
 *   int64_t schd_timer_due(t, loop)           next expiry; SCHD_NO_DEADLINE if idle
 *
 * Descriptors
 *   void schd_io_init(io, fd, cb, ud)         [cb(io, revents, ud)]
 *   int  schd_io_start(io, loop, events)      SCHD_READ | SCHD_WRITE | POLLPRI;
 *                                             again to change the events
 *   int  schd_io_stop(io, loop)
 *   int  schd_io_active(io)                   1 while started
 *   POLLERR and POLLHUP are always reported; POLLNVAL stops the watcher
 *   before its callback (the fd was already closed when the watcher
 *   started, or, on the poll backend, closed while watched).  A descriptor
 *   epoll refuses (a regular file) is reported ready at every iteration,
 *   as poll() does.
 *
 * Deferred calls
 *   void schd_defer_init(d, fn, ud)           [fn(d, ud)] caller storage, any
 *                                             content; zeroed storage is
 *                                             initialised too
 *   void schd_defer_start(d, loop, fn, ud)    on the next iteration; when d is
 *                                             queued already it keeps its place
 *                                             and takes the new fn and ud
 *   void schd_defer_cancel(d, loop)
 *   int  schd_soon(loop, fn, ud)              [fn(ud)] the same with a node the
 *                                             loop allocates and recycles
 *
 * Sources (other headers, or another schd_loop, in the same wait)
 *   int  schd_source_add(src, loop, prepare, dispatch, ctx)   -EBUSY if added
 *   void schd_source_remove(src)              also from inside its own calls
 *
 * Threads
 *   int  schd_async_init(a, loop, cb, ud)     [cb(a, ud)] an open handle keeps
 *                                             the loop alive
 *   int  schd_async_send(a)                   any thread; sends made before the
 *                                             callback runs coalesce into one call
 *   void schd_async_close(a)                  loop thread; a pending send is dropped
 *   int  schd_loop_post(loop, fn, ud)         any thread: [fn(ud)] once on the loop
 *                                             thread (allocates: -ENOMEM)
 *
 * Signals (see "Signals" above)
 *   void schd_signal_init(sig, cb, ud)        [cb(sig, const schd_siginfo *info, ud)]
 *   int  schd_signal_start(sig, loop, signo)  blocks signo in this thread; a started
 *                                             watcher moves to signo; -EINVAL for
 *                                             SIGKILL, SIGSTOP, SIGSEGV ...
 *   int  schd_signal_stop(sig, loop)          0 also when not started; the last
 *                                             watcher of a signal restores the mask
 *   int  schd_signal_active(sig)              1 while started
 *
 * Tasks (macros above)
 *   int  schd_task_start(t, loop, fn, ud)     [int fn(t)] first runs from the
 *                                             loop; -EBUSY while t has not ended,
 *                                             -ECANCELED while the loop closes
 *   void schd_task_on_done(t, fn, ud)         [fn(t, result, ud)] at its end, last
 *                                             (may free t); kept across restarts
 *   int  schd_task_cancel(t)                  -EALREADY when ended or cancelled
 *   void schd_task_timeout(t, ns)             the next await gives up after ns
 *   int  schd_task_result(t)                  SCHD_TASK_EXIT's value (0 after
 *                                             SCHD_TASK_END), -ECANCELED when
 *                                             cancelled without an exit value
 *   int  schd_task_state(t)                   SCHD_TASK_IDLE, _READY, _WAITING, _DONE
 *   int  schd_task_cancelled(t)               1 once a cancel was asked for
 *
 * Waiters: every await has a callback form for code that is not a task
 *   void schd_waiter_init(w, loop, cb, ud)    [cb(w, status, ud)] once per wait
 *   int  schd_waiter_cancel(w)                withdraws a wait not yet granted (cb
 *                                             gets -ECANCELED); -EALREADY if none
 *   The *_cb functions below return 0 and the callback comes later from the
 *   loop (also when the wait is over at once), or -EINVAL when w is in use.
 *
 * Primitives (all caller storage; waiters are served first come, first served)
 *   event       schd_event_init(ev)  schd_event_set(ev) wakes every waiter
 *               and stays set  schd_event_clear(ev)  schd_event_is_set(ev)
 *               schd_event_wait_cb(ev, w)
 *   lock        schd_lock_init(lk)  schd_lock_try(lk) 0 or -EBUSY
 *               schd_lock_release(lk) hands it to the first waiter, -EPERM
 *               when not locked  schd_lock_locked(lk)  schd_lock_acquire_cb(lk, w)
 *   semaphore   schd_sem_init(s, count, max) max 0: unbounded; -EINVAL for a
 *               count or max below 0 or a count above max (s is still
 *               initialised, with both brought into range)
 *               schd_sem_try(s) 0 or -EAGAIN  schd_sem_release(s) -EOVERFLOW
 *               above max  schd_sem_value(s)  schd_sem_acquire_cb(s, w)
 *   barrier     schd_barrier_init(b, parties) parties >= 1; reusable, b->cycles
 *               counts the openings  schd_barrier_wait_cb(b, w)
 *   queue       schd_queue_init(q, storage, item_size, capacity, mode)
 *               mode SCHD_QUEUE_BLOCK (putters wait) or SCHD_QUEUE_OVERWRITE (a
 *               ring: the oldest item goes, q->dropped counts them)
 *               schd_queue_try_put(q, item) / schd_queue_try_get(q, item) 0 or
 *               -EAGAIN  schd_queue_len(q)  schd_queue_get_cb(q, w, item)
 *               schd_queue_put_cb(q, w, item)
 *   completion  schd_completion_init(c)  schd_completion_signal(c, status)
 *               wakes every waiter, -EALREADY when signalled already
 *               schd_completion_reset(c)  schd_completion_wait_cb(c, w)
 *   gather      schd_gather_init(g)  schd_gather_add_task(g, t) -EALREADY when t
 *               has ended  schd_gather_add(g, count) and schd_gather_done(g,
 *               status) for other operations; the await gives 0 or the first
 *               negative status
 *   tflag       schd_tflag_init(f, loop)  schd_tflag_set(f) from any thread:
 *               wakes one waiting task or stays set for the next await
 *               schd_tflag_close(f) waiters and later awaits get -ECANCELED;
 *               an open flag keeps the loop alive (its async handle)
 *
 * Managed resource (one shared object, such as a bus, among several users)
 *   void schd_resource_init(res, object, on_acquire, on_release)
 *                                             [fn(res, handle_arg)] run as the
 *                                             resource changes hands (chip select)
 *   void schd_resource_handle(res, h, arg)    one handle per user
 *   int  schd_resource_try(h)                 0 or -EBUSY
 *   int  schd_resource_acquire_cb(h, w)       in a task: SCHD_AWAIT_ACQUIRE(t, h)
 *   int  schd_resource_release(h)             on_release, then the next waiter's
 *                                             on_acquire; -EPERM when h does not
 *                                             hold it; a task that ends holding
 *                                             the resource releases it
 *
 * Frequency scheduler
 *   schd_rate schd_hz(hz)                     0.001 to 1e6 Hz, to the millihertz
 *                                             (outside: a rate that the starts
 *                                             refuse with -EINVAL)
 *   schd_rate schd_period(ns)
 *   double schd_rate_hz(rate)
 *   int  schd_job_start(job, loop, rate, fn, ud)           [fn(job, ud)]
 *   int  schd_job_start_task(job, loop, rate, task, fn, ud) starts task fn
 *   void schd_job_stop(job)
 *   void schd_job_pause(job)
 *   int  schd_job_resume(job)                 next run one period after the resume
 *   int  schd_job_set_rate(job, rate)         keeps the phase of the last run; the
 *                                             next comes one new period later
 *   void schd_job_set_late_policy(job, policy, catchup_max)
 *   int64_t schd_job_due(job, k)              the due time of period k
 *
 * Switch and pushbutton
 *   schd_button_config schd_button_config_init(void)   debounce 20 ms, long
 *                                             1 s, double 400 ms, active high
 *   int  schd_button_init(b, loop, cfg, cb, ud)   [cb(b, event, ud)] cfg NULL:
 *                                             the defaults; -EINVAL for a
 *                                             negative time or no callback
 *   void schd_button_feed(b, level)           a sample, or the level after an edge
 *   void schd_button_feed_at(b, level, when_ns)   the level since when_ns (a
 *                                             CLOCK_MONOTONIC time at or before
 *                                             now, such as a GPIO or input
 *                                             event's kernel timestamp)
 *   void schd_button_stop(b)                  no event after it; b may be freed
 *   const char *schd_button_event_name(event) "press", "release", "click", ...
 *   Events, one per callback: SCHD_BTN_PRESS, SCHD_BTN_RELEASE, SCHD_BTN_CLICK
 *   (a short press with no second one within double_ns), SCHD_BTN_DOUBLE,
 *   SCHD_BTN_LONG (still pressed after long_ns; then no click).  During the
 *   callback b->event_ns is when the event happened: the debounce, long and
 *   double times count from the fed times, not from when the loop saw them,
 *   so edges that reach the loop late (a busy loop, a batch of kernel
 *   events) give the events their timestamps say.  Up to 16 events wait for
 *   the loop; beyond that the oldest go, counted in b->dropped.
 *
 * # Errors
 *
 * Functions return 0 or a negative errno value; sched.h has no codes of its
 * own.  The three headers of the family share one error space (a code
 * means the same in all of them), and schd_strerror describes any code of
 * the family, also aio_stream.h's and asyncusb.h's, as their strerror
 * functions do.
 *
 *   -EINVAL      a NULL object, a bad value, a waiter already in use
 *   -ENOMEM      an allocation failed (timer heap, descriptor table,
 *                schd_soon, schd_loop_post); an await that cannot arm its
 *                timer ends with this status
 *   -EBUSY       the loop run or closed from inside itself, a task started
 *                while running, a source or async handle added twice,
 *                schd_lock_try and schd_resource_try when held
 *   -EAGAIN      schd_sem_try, schd_queue_try_put, schd_queue_try_get
 *                would have to wait
 *   -EALREADY    already done: cancelling an ended task, a second
 *                schd_completion_signal, schd_waiter_cancel after the grant
 *   -EPERM       releasing a lock or resource that is not held (by that handle)
 *   -EOVERFLOW   schd_sem_release above max
 *   -ETIMEDOUT   an await with schd_task_timeout ran out of time
 *   -ECANCELED   a cancelled task or wait, a closed tflag, a task started
 *                while the loop closes
 *   -EDEADLK     a task that awaits its own join
 *   other        -errno of epoll_create1() or eventfd() in schd_loop_init, of
 *                the wait in run, of signalfd() or sigprocmask() in
 *                schd_signal_start
 */

#if (defined(_PTHREAD_H) || defined(_SPAWN_H)) && !defined(_SCHED_H) && \
    defined(__GNUC__) && !defined(SCHD_NO_SYSTEM_SCHED)
/* A system header asked for <sched.h> and a -I option led it here: hand it
 * the system's own header and nothing of ours.  Our part comes when the
 * program includes this file itself. */
#pragma GCC system_header
#include_next <sched.h>
#else /* the rest of the file */

/* The implementations of the family need POSIX and GNU declarations, and
 * any of them may be compiled further down this file: when nothing of the
 * C library has been read yet, ask for them (ASYNCKIT_NO_GNU_SOURCE keeps
 * the file's feature macros as they are). */
#if !defined(_GNU_SOURCE) && !defined(_FEATURES_H) && !defined(ASYNCKIT_NO_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#if defined(ASYNCKIT_IMPLEMENTATION) && !defined(SCHD_IMPLEMENTATION)
#define SCHD_IMPLEMENTATION
#endif
#if defined(ASYNCKIT_STATIC) && !defined(SCHD_STATIC)
#define SCHD_STATIC
#endif
#if defined(SCHD_STATIC) && !defined(SCHD_IMPLEMENTATION)
#define SCHD_IMPLEMENTATION
#endif

#if defined(SCHD_IMPLEMENTATION) && !defined(AKC_IMPLEMENT)
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

#ifndef SCHD_H_INCLUDED
#define SCHD_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <poll.h>

#define SCHD_VERSION "0.2.0"

#if defined(SCHD_STATIC)
#  if defined(__GNUC__)
#    define SCHD_API static __attribute__((unused))
#  else
#    define SCHD_API static
#  endif
#else
#  define SCHD_API extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== section: time ==== */

#define SCHD_NO_DEADLINE INT64_MAX
/* Whole seconds, milliseconds, microseconds (integers: exact). */
#define SCHD_SEC(s) AKC_SEC(s)
#define SCHD_MS(ms) AKC_MS(ms)
#define SCHD_US(us) AKC_US(us)
/* Fractional seconds, such as SCHD_SECF(1.5), rounded to the nanosecond. */
#define SCHD_SECF(s) ((int64_t)((double)(s) * 1e9 + ((s) < 0 ? -0.5 : 0.5)))

typedef int64_t (*schd_clock_cb)(void *ud);

/* CLOCK_MONOTONIC in nanoseconds. */
SCHD_API int64_t schd_now_ns(void);

#define SCHD_CONTAINER_OF(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ==== section: types ==== */

typedef struct schd_loop schd_loop;
typedef struct schd_timer schd_timer;
typedef struct schd_io schd_io;
typedef struct schd_defer schd_defer;
typedef struct schd_source schd_source;
typedef struct schd_async schd_async;
typedef struct schd_task schd_task;
typedef struct schd_waiter schd_waiter;

typedef void (*schd_cb)(void *ud);
typedef void (*schd_timer_cb)(schd_timer *timer, void *ud);
typedef void (*schd_io_cb)(schd_io *io, int revents, void *ud);
typedef void (*schd_defer_cb)(schd_defer *d, void *ud);
typedef void (*schd_async_cb)(schd_async *a, void *ud);
typedef int  (*schd_prepare_cb)(void *ctx, struct pollfd *fds, int cap, int64_t *deadline_ns);
typedef void (*schd_dispatch_cb)(void *ctx, struct pollfd *fds, int n);
typedef int  (*schd_task_cb)(schd_task *task);
typedef void (*schd_task_done_cb)(schd_task *task, int result, void *ud);
typedef void (*schd_waiter_cb)(schd_waiter *w, int status, void *ud);

/* A timer: 40 bytes on 64-bit, plus 24 in the loop's heap while active. */
struct schd_timer {
    akc_timer core;          /* the loop core's part (position in the heap) */
    schd_timer_cb cb;
    void *ud;
    int64_t period;          /* 0 for one-shot */
};

struct schd_io {
    akc_io core;             /* descriptor, events, the backend's bookkeeping */
    schd_io_cb cb;
    void *ud;
    schd_io *next, *prev;    /* the loop's started watchers, reset at close */
};

/* Initialise with schd_defer_init before the first start. */
struct schd_defer {
    akc_defer core;          /* queued while core.next is not NULL */
    schd_defer_cb fn;
    void *ud;
};

struct schd__srcfd;

struct schd_source {
    schd_prepare_cb prepare;
    schd_dispatch_cb dispatch;
    void *ctx;
    schd_source *next, *prev;
    schd_loop *loop;
    struct pollfd *fds;      /* what prepare wrote, handed back to dispatch */
    struct schd__srcfd *watch;   /* one watcher per entry, in the loop's set */
    int count, cap;          /* entries of the last prepare; room in both arrays */
    int prepared;            /* prepare ran since the last dispatch */
};

struct schd_async {
    akc_post post;           /* on the loop's post stack while a send is pending */
    schd_async_cb cb;
    void *ud;
    schd_loop *loop;
    schd_async *next, *prev; /* the loop's list of open handles */
    int pending;             /* atomic */
};

struct schd_loop {
    akc_loop core;           /* time, timers, descriptors, deferred calls, wake-ups */
    schd_io *ios;            /* started watchers */
    schd_source *sources, *src_cursor;
    schd_defer *soon_free;   /* recycled nodes of schd_soon */
    int soon_count;
    schd_async *asyncs;
    schd_task *tasks;        /* tasks that have started and not ended */
    schd_waiter *waiters;    /* callback waits queued on primitives */
    /* Parts a program pays for only once it uses them: the first call that
     * needs one sets its pointer, so a timer-only program links none. */
    void (*close_deferred)(schd_loop *loop);
    void (*close_tasks)(schd_loop *loop);
    int closing;
};

/* ==== section: errors ==== */

SCHD_API const char *schd_strerror(int code);

/* ==== section: loop ==== */

SCHD_API int  schd_loop_init(schd_loop *loop);
/* Cancels every task, runs what that makes ready, releases everything.
 * -EBUSY when called from inside the loop. */
SCHD_API int  schd_loop_close(schd_loop *loop);
/* Runs until schd_loop_stop or until nothing is left to wait for: no
 * active timer, watcher, source, deferred call or open async handle
 * (a task waiting on a primitive that nothing will signal does not count). */
SCHD_API int  schd_loop_run(schd_loop *loop);
/* One iteration; waits at most timeout_ns (-1: until something happens).
 * Returns 1 while something is left to wait for, 0 when nothing is. */
SCHD_API int  schd_loop_run_once(schd_loop *loop, int64_t timeout_ns);
SCHD_API void schd_loop_stop(schd_loop *loop);
SCHD_API int64_t schd_loop_now(const schd_loop *loop);
SCHD_API void schd_loop_update_time(schd_loop *loop);
SCHD_API void schd_loop_set_clock(schd_loop *loop, schd_clock_cb clock, void *ud);
SCHD_API int  schd_loop_alive(const schd_loop *loop);
/* Drive this loop from another one.  prepare fills fds (returns
 * how many it needs) and lowers *deadline_ns; dispatch takes them back. */
SCHD_API int  schd_loop_prepare(void *loop, struct pollfd *fds, int cap, int64_t *deadline_ns);
SCHD_API void schd_loop_dispatch(void *loop, struct pollfd *fds, int n);

/* ==== section: timers ==== */

SCHD_API void schd_timer_init(schd_timer *t, schd_timer_cb cb, void *ud);
/* First after delay_ns, then every period_ns (0: once).  A repeating timer
 * keeps a fixed rate and skips the periods it missed.  Restarts an active
 * timer. */
SCHD_API int  schd_timer_start(schd_timer *t, schd_loop *loop, int64_t delay_ns, int64_t period_ns);
SCHD_API int  schd_timer_start_at(schd_timer *t, schd_loop *loop, int64_t when_ns, int64_t period_ns);
SCHD_API int  schd_timer_stop(schd_timer *t, schd_loop *loop);
SCHD_API int  schd_timer_active(const schd_timer *t);
SCHD_API int64_t schd_timer_due(const schd_timer *t, const schd_loop *loop);

/* ==== section: descriptors ==== */

#define SCHD_READ  POLLIN
#define SCHD_WRITE POLLOUT

SCHD_API void schd_io_init(schd_io *io, int fd, schd_io_cb cb, void *ud);
/* Starts watching, or changes the events of a watcher already started. */
SCHD_API int  schd_io_start(schd_io *io, schd_loop *loop, int events);
SCHD_API int  schd_io_stop(schd_io *io, schd_loop *loop);
SCHD_API int  schd_io_active(const schd_io *io);   /* 1 while started */

/* ==== section: deferred calls ==== */

/* Prepares caller storage for schd_defer_start (any storage: it need not
 * be zeroed). */
SCHD_API void schd_defer_init(schd_defer *d, schd_defer_cb fn, void *ud);
/* Runs fn on the next iteration; when d is queued already it keeps its
 * place and takes the new fn and ud.  d must have been initialised. */
SCHD_API void schd_defer_start(schd_defer *d, schd_loop *loop, schd_defer_cb fn, void *ud);
SCHD_API void schd_defer_cancel(schd_defer *d, schd_loop *loop);
/* The same with a node the loop allocates (and recycles). */
SCHD_API int  schd_soon(schd_loop *loop, schd_cb fn, void *ud);

/* ==== section: sources (other headers in the same poll) ==== */

SCHD_API int  schd_source_add(schd_source *src, schd_loop *loop, schd_prepare_cb prepare,
                              schd_dispatch_cb dispatch, void *ctx);
SCHD_API void schd_source_remove(schd_source *src);

/* ==== section: threads ==== */

SCHD_API int  schd_async_init(schd_async *a, schd_loop *loop, schd_async_cb cb, void *ud);
/* Any thread: cb runs once on the loop thread soon after; sends made before
 * it runs coalesce into one call. */
SCHD_API int  schd_async_send(schd_async *a);
SCHD_API void schd_async_close(schd_async *a);
/* Any thread: fn(ud) runs once on the loop thread.  -ENOMEM or 0. */
SCHD_API int  schd_loop_post(schd_loop *loop, schd_cb fn, void *ud);

/* ==== section: signals ==== */

/* A signal watcher: SIGINT, SIGTERM, SIGHUP, SIGUSR1 ... through the loop.
 * The signal is blocked in the thread that starts its first watcher and
 * read from a signalfd; no handler is installed.  See "Signals" in the
 * manual above for what happens before the loop runs and after the last
 * watcher of a signal stops. */
typedef struct schd_signal schd_signal;
typedef struct akc_siginfo schd_siginfo;   /* signo, code, pid, uid, status, value */
typedef void (*schd_signal_cb)(schd_signal *sig, const schd_siginfo *info, void *ud);

struct schd_signal {
    akc_sig core;            /* the loop core's part: the signal, the loop's list */
    schd_signal_cb cb;
    void *ud;
};

SCHD_API void schd_signal_init(schd_signal *sig, schd_signal_cb cb, void *ud);
/* Watches signo (again: moves to it).  -EINVAL for a signal no watcher
 * may take (SIGKILL, SIGSTOP, SIGSEGV ...). */
SCHD_API int  schd_signal_start(schd_signal *sig, schd_loop *loop, int signo);
SCHD_API int  schd_signal_stop(schd_signal *sig, schd_loop *loop);
SCHD_API int  schd_signal_active(const schd_signal *sig);   /* 1 while started */

/* ==== section: waiters and wait lists ==== */

typedef struct schd_wlist { schd_waiter *head, *tail; int count; } schd_wlist;

/* One pending wait on a primitive.  Tasks have one built in; callback code
 * uses its own with the *_wait_cb functions. */
struct schd_waiter {
    schd_waiter *next, *prev;
    schd_wlist *list;        /* the list it is queued on, or NULL */
    schd_defer node;         /* delivers the wake-up from the loop */
    schd_loop *loop;
    schd_task *task;         /* the task that waits, or NULL */
    schd_waiter_cb cb;
    void *ud;
    void *slot;              /* queue item to fill or take */
    int status;
    schd_waiter *lnext, *lprev;  /* the loop's queued callback waits (close cancels them) */
};

SCHD_API void schd_waiter_init(schd_waiter *w, schd_loop *loop, schd_waiter_cb cb, void *ud);
/* Withdraws a wait not yet granted: its callback comes with -ECANCELED.
 * Returns -EALREADY when it was already granted (the callback has the
 * grant) or not waiting. */
SCHD_API int  schd_waiter_cancel(schd_waiter *w);

/* ==== section: tasks ==== */

enum { SCHD_TASK_IDLE, SCHD_TASK_READY, SCHD_TASK_WAITING, SCHD_TASK_DONE };

struct schd_lock;
struct schd_gather;

struct schd_task {
    schd_loop *loop;
    schd_task_cb fn;
    void *ud;
    int line;                /* where to resume */
    int state;
    int status;              /* outcome of the last await */
    int result;
    unsigned flags;
    int64_t timeout;         /* for the next await, 0 = none */
    schd_timer timer;
    schd_waiter wait;
    schd_wlist joiners;
    struct schd_lock *held;  /* locks it holds, released at its end */
    struct schd_gather *gather;
    schd_task *gather_next;
    schd_task_done_cb on_done;
    void *on_done_ud;
    schd_task *next, *prev;  /* the loop's live tasks */
    void *op;                /* the other header's operation it awaits, or NULL */
    void (*op_withdraw)(schd_task *t, void *op);   /* takes it back when the await ends first */
};

SCHD_API int  schd_task_start(schd_task *t, schd_loop *loop, schd_task_cb fn, void *ud);
SCHD_API void schd_task_on_done(schd_task *t, schd_task_done_cb fn, void *ud);
/* Idempotent; -EALREADY when the task has ended or was already cancelled. */
SCHD_API int  schd_task_cancel(schd_task *t);
/* The next await of t gives up after ns with SCHD_STATUS -ETIMEDOUT. */
SCHD_API void schd_task_timeout(schd_task *t, int64_t ns);
SCHD_API int  schd_task_result(const schd_task *t);
SCHD_API int  schd_task_state(const schd_task *t);
SCHD_API int  schd_task_cancelled(const schd_task *t);

/* Awaiting an operation that completes through a callback (the await
 * macros of aio_stream.h and asyncusb.h are built on these, and so can a
 * program's own).  In the function behind an await macro:
 *     if (schd_task_op_enter(t)) return 1;         // a cancellation to deliver first
 *     r = start_the_operation(..., my_cb, t);
 *     if (r < 0) return schd_task_op_failed(t, r); // SCHD_STATUS is r, no suspension
 *     return schd_task_op_begin(t, op, withdraw);  // suspends
 * and in my_cb: schd_task_op_end(t, op, status).  When the await ends
 * first (its timeout, a cancellation, the loop closing), withdraw(t, op)
 * runs at once and must take the operation back so that its callback never
 * comes (the object stays usable). */
SCHD_API int  schd_task_op_enter(schd_task *t);
SCHD_API int  schd_task_op_failed(schd_task *t, int status);
SCHD_API int  schd_task_op_begin(schd_task *t, void *op, void (*withdraw)(schd_task *t, void *op));
SCHD_API void schd_task_op_end(schd_task *t, void *op, int status);

/* Private to the macros below. */
enum { SCHD__WAITING = 1, SCHD__DONE = 2, SCHD__AGAIN = 3 };
#define SCHD__FINALLY_LINE (-1)
#define SCHD__END_LINE (-2)
#define SCHD__IN_FINALLY 4u
SCHD_API int  schd__task_end(schd_task *t);
SCHD_API int  schd__task_exit(schd_task *t, int result);
SCHD_API int  schd__suspend(schd_task *t);

#define SCHD_TASK_BEGIN(t) switch ((t)->line) { case 0:
#define SCHD_TASK_END(t) } return schd__task_end(t)
#define SCHD_TASK_EXIT(t, r) return schd__task_exit((t), (r))
#define SCHD_TASK_FINALLY(t) \
    if (0) { case SCHD__FINALLY_LINE:; } (t)->flags |= SCHD__IN_FINALLY
#define SCHD_STATUS(t) ((t)->status)

/* begin is an expression that returns 0 when the wait is already over
 * (status set) and non-zero when the task must suspend. */
#define SCHD_AWAIT_(t, begin) \
    do { if ((begin) != 0) { (t)->line = __LINE__; return SCHD__WAITING; case __LINE__:; } } while (0)

#define SCHD_YIELD(t)                SCHD_AWAIT_(t, schd__suspend(t))
#define SCHD_AWAIT_DELAY(t, ns)      SCHD_AWAIT_(t, schd__await_delay((t), (ns)))
#define SCHD_AWAIT_EVENT(t, ev)      SCHD_AWAIT_(t, schd__await_event((t), (ev)))
#define SCHD_AWAIT_LOCK(t, lk)       SCHD_AWAIT_(t, schd__await_lock((t), (lk)))
#define SCHD_AWAIT_SEM(t, s)         SCHD_AWAIT_(t, schd__await_sem((t), (s)))
#define SCHD_AWAIT_BARRIER(t, b)     SCHD_AWAIT_(t, schd__await_barrier((t), (b)))
#define SCHD_AWAIT_GET(t, q, item)   SCHD_AWAIT_(t, schd__await_get((t), (q), (item)))
#define SCHD_AWAIT_PUT(t, q, item)   SCHD_AWAIT_(t, schd__await_put((t), (q), (item)))
#define SCHD_AWAIT_COMPLETION(t, c)  SCHD_AWAIT_(t, schd__await_completion((t), (c)))
#define SCHD_AWAIT_GATHER(t, g)      SCHD_AWAIT_(t, schd__await_gather((t), (g)))
#define SCHD_AWAIT_JOIN(t, other)    SCHD_AWAIT_(t, schd__await_join((t), (other)))
#define SCHD_AWAIT_ACQUIRE(t, h)     SCHD_AWAIT_(t, schd__await_acquire((t), (h)))
#define SCHD_AWAIT_TFLAG(t, f)       SCHD_AWAIT_(t, schd__await_tflag((t), (f)))

/* ==== section: primitives ==== */

typedef struct schd_event { schd_wlist waiters; int is_set; } schd_event;
SCHD_API void schd_event_init(schd_event *ev);
SCHD_API void schd_event_set(schd_event *ev);     /* wakes every waiter */
SCHD_API void schd_event_clear(schd_event *ev);
SCHD_API int  schd_event_is_set(const schd_event *ev);
SCHD_API int  schd_event_wait_cb(schd_event *ev, schd_waiter *w);

typedef struct schd_lock {
    schd_wlist waiters;
    int locked;
    schd_task *holder;            /* the task that holds it, if a task does */
    struct schd_lock *next_held;
    void (*on_grant)(struct schd_lock *lock, void *ud);   /* used by resources */
    void *grant_ud;
} schd_lock;
SCHD_API void schd_lock_init(schd_lock *lk);
SCHD_API int  schd_lock_try(schd_lock *lk);        /* 0 or -EBUSY */
/* Hands the lock to the first waiter, if any.  -EPERM when not locked. */
SCHD_API int  schd_lock_release(schd_lock *lk);
SCHD_API int  schd_lock_locked(const schd_lock *lk);
SCHD_API int  schd_lock_acquire_cb(schd_lock *lk, schd_waiter *w);

typedef struct schd_sem { schd_wlist waiters; int count, max; } schd_sem;
/* max bounds the count (0: unbounded).  -EINVAL for count or max below 0
 * or count above max; s is initialised anyway, with both brought into range. */
SCHD_API int  schd_sem_init(schd_sem *s, int count, int max);
SCHD_API int  schd_sem_try(schd_sem *s);           /* 0 or -EAGAIN */
SCHD_API int  schd_sem_release(schd_sem *s);       /* -EOVERFLOW above max */
SCHD_API int  schd_sem_value(const schd_sem *s);
SCHD_API int  schd_sem_acquire_cb(schd_sem *s, schd_waiter *w);

typedef struct schd_barrier { schd_wlist waiters; int parties; unsigned cycles; } schd_barrier;
SCHD_API int  schd_barrier_init(schd_barrier *b, int parties);
SCHD_API int  schd_barrier_wait_cb(schd_barrier *b, schd_waiter *w);

enum { SCHD_QUEUE_BLOCK = 0, SCHD_QUEUE_OVERWRITE = 1 };
typedef struct schd_queue {
    schd_wlist getters, putters;
    unsigned char *buf;
    size_t item_size;
    unsigned cap, head, len;
    int mode;
    unsigned long dropped;        /* items overwritten in ring mode */
} schd_queue;
/* storage holds capacity items of item_size bytes; the caller owns it. */
SCHD_API int  schd_queue_init(schd_queue *q, void *storage, size_t item_size, unsigned capacity, int mode);
SCHD_API int  schd_queue_try_put(schd_queue *q, const void *item);   /* 0 or -EAGAIN */
SCHD_API int  schd_queue_try_get(schd_queue *q, void *item);         /* 0 or -EAGAIN */
SCHD_API unsigned schd_queue_len(const schd_queue *q);
SCHD_API int  schd_queue_get_cb(schd_queue *q, schd_waiter *w, void *item);
SCHD_API int  schd_queue_put_cb(schd_queue *q, schd_waiter *w, const void *item);

typedef struct schd_completion { schd_wlist waiters; int done, status; } schd_completion;
SCHD_API void schd_completion_init(schd_completion *c);
/* Marks c done with status and wakes its waiters; later signals are ignored
 * until schd_completion_reset.  Returns -EALREADY for a repeated signal. */
SCHD_API int  schd_completion_signal(schd_completion *c, int status);
SCHD_API void schd_completion_reset(schd_completion *c);
SCHD_API int  schd_completion_wait_cb(schd_completion *c, schd_waiter *w);

typedef struct schd_gather {
    schd_completion all;
    int pending;
    int first_error;
} schd_gather;
SCHD_API void schd_gather_init(schd_gather *g);
/* Adds a task (started or not yet ended) or one operation to wait for. */
SCHD_API int  schd_gather_add_task(schd_gather *g, schd_task *t);
SCHD_API void schd_gather_add(schd_gather *g, int count);
/* One operation added with schd_gather_add has finished with status. */
SCHD_API void schd_gather_done(schd_gather *g, int status);

/* A flag that any thread may set; a task awaiting it clears it. */
typedef struct schd_tflag { schd_async async; schd_event event; int set, closed; } schd_tflag;
SCHD_API int  schd_tflag_init(schd_tflag *f, schd_loop *loop);
SCHD_API int  schd_tflag_set(schd_tflag *f);       /* any thread */
SCHD_API void schd_tflag_close(schd_tflag *f);

/* ==== section: managed resource ==== */

typedef struct schd_resource schd_resource;
typedef struct schd_rhandle { schd_resource *res; void *arg; } schd_rhandle;
typedef void (*schd_resource_cb)(schd_resource *res, void *handle_arg);

struct schd_resource {
    schd_lock lock;
    void *object;                /* the shared thing, for the user */
    schd_resource_cb on_acquire, on_release;
    schd_rhandle *holder;
    schd_rhandle *granted;       /* handle being handed the lock */
    unsigned long acquisitions;
};
SCHD_API void schd_resource_init(schd_resource *res, void *object,
                                 schd_resource_cb on_acquire, schd_resource_cb on_release);
SCHD_API void schd_resource_handle(schd_resource *res, schd_rhandle *h, void *arg);
/* Releases what h holds (on_release, then the next waiter's on_acquire). */
SCHD_API int  schd_resource_release(schd_rhandle *h);
SCHD_API int  schd_resource_acquire_cb(schd_rhandle *h, schd_waiter *w);
SCHD_API int  schd_resource_try(schd_rhandle *h);

/* ==== section: frequency scheduler ==== */

/* A period of num/den nanoseconds. */
typedef struct schd_rate { int64_t num, den; } schd_rate;
SCHD_API schd_rate schd_hz(double hz);            /* 0.001 to 1e6 Hz, to the millihertz */
SCHD_API schd_rate schd_period(int64_t ns);

enum { SCHD_LATE_SKIP = 0, SCHD_LATE_CATCHUP = 1 };

typedef struct schd_job schd_job;
typedef void (*schd_job_cb)(schd_job *job, void *ud);

struct schd_job {
    schd_timer timer;
    schd_loop *loop;
    schd_job_cb fn;
    void *ud;
    schd_task *task;             /* or a task started each period */
    schd_task_cb task_fn;
    schd_rate rate;
    int64_t anchor;              /* time of period 0 */
    uint64_t next;               /* index of the period due next */
    int policy, catchup_max, catchup_left;
    int paused;
    /* statistics */
    uint64_t runs, overruns;
    int64_t late_max, late_last;
};

SCHD_API int  schd_job_start(schd_job *job, schd_loop *loop, schd_rate rate, schd_job_cb fn, void *ud);
SCHD_API int  schd_job_start_task(schd_job *job, schd_loop *loop, schd_rate rate,
                                  schd_task *task, schd_task_cb fn, void *ud);
SCHD_API void schd_job_stop(schd_job *job);
SCHD_API void schd_job_pause(schd_job *job);
/* The next run comes one period after the resume. */
SCHD_API int  schd_job_resume(schd_job *job);
/* Keeps the phase of the last run; the next one comes one new period later. */
SCHD_API int  schd_job_set_rate(schd_job *job, schd_rate rate);
SCHD_API void schd_job_set_late_policy(schd_job *job, int policy, int catchup_max);
SCHD_API int64_t schd_job_due(const schd_job *job, uint64_t k);   /* time of period k */
SCHD_API double schd_rate_hz(schd_rate rate);

/* ==== section: switch and pushbutton ==== */

enum {
    SCHD_BTN_PRESS = 1,     /* debounced press */
    SCHD_BTN_RELEASE,       /* debounced release */
    SCHD_BTN_LONG,          /* still pressed after long_ns */
    SCHD_BTN_DOUBLE,        /* second press within double_ns of the first */
    SCHD_BTN_CLICK          /* a short press with no second one in double_ns
                               (with double_ns 0: every short press, at release) */
};

typedef struct schd_button schd_button;
typedef void (*schd_button_cb)(schd_button *b, int event, void *ud);

typedef struct schd_button_config {
    int64_t debounce_ns;         /* a level must hold this long to count */
    int64_t long_ns;             /* 0: no long presses */
    int64_t double_ns;           /* 0: no double presses; clicks come at release */
    int active_level;            /* level that means pressed (1 or 0) */
} schd_button_config;

struct schd_button {
    schd_button_config cfg;
    schd_loop *loop;
    schd_button_cb cb;
    void *ud;
    schd_timer debounce, long_timer, double_timer;
    schd_defer emit;             /* delivers queued events, one per call */
    unsigned char events[16];
    int64_t times[16];           /* when each queued event happened */
    int ev_head, ev_len;
    int raw, stable;             /* pressed (1) or not, before and after debouncing */
    int long_fired, clicks;
    int64_t fed_ns;              /* the latest time fed: older ones count from it */
    int64_t event_ns;            /* during the callback: when its event happened */
    unsigned long dropped;       /* events lost to a full queue */
};

SCHD_API schd_button_config schd_button_config_init(void);  /* 20 ms, 1 s, 400 ms, active high */
/* -EINVAL for a negative time or a missing callback. */
SCHD_API int  schd_button_init(schd_button *b, schd_loop *loop, const schd_button_config *cfg,
                               schd_button_cb cb, void *ud);
/* Feed a level sample or the level after an edge, at the loop's time.
 * Events come from the loop, one per callback; a callback may stop the
 * button, and free it once stopped. */
SCHD_API void schd_button_feed(schd_button *b, int level);
/* The same for a level that holds since when_ns (CLOCK_MONOTONIC, such as
 * a kernel event's timestamp): what fell due before it is settled first. */
SCHD_API void schd_button_feed_at(schd_button *b, int level, int64_t when_ns);
SCHD_API void schd_button_stop(schd_button *b);
SCHD_API const char *schd_button_event_name(int event);

/* Private: the await helpers behind the macros. */
struct schd_resource;
SCHD_API int schd__await_delay(schd_task *t, int64_t ns);
SCHD_API int schd__await_event(schd_task *t, schd_event *ev);
SCHD_API int schd__await_lock(schd_task *t, schd_lock *lk);
SCHD_API int schd__await_sem(schd_task *t, schd_sem *s);
SCHD_API int schd__await_barrier(schd_task *t, schd_barrier *b);
SCHD_API int schd__await_get(schd_task *t, schd_queue *q, void *item);
SCHD_API int schd__await_put(schd_task *t, schd_queue *q, const void *item);
SCHD_API int schd__await_completion(schd_task *t, schd_completion *c);
SCHD_API int schd__await_gather(schd_task *t, schd_gather *g);
SCHD_API int schd__await_join(schd_task *t, schd_task *other);
SCHD_API int schd__await_acquire(schd_task *t, schd_rhandle *h);
SCHD_API int schd__await_tflag(schd_task *t, schd_tflag *f);

#ifdef __cplusplus
}
#endif

#endif /* SCHD_H_INCLUDED */

/* ======================================================================
 * Implementation
 * ====================================================================== */
#if defined(SCHD_IMPLEMENTATION) && !defined(SCHD_IMPLEMENTATION_DONE)
#define SCHD_IMPLEMENTATION_DONE

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#ifndef SCHD_MALLOC
#define SCHD_MALLOC(n) malloc(n)
#define SCHD_REALLOC(p, n) realloc((p), (n))
#define SCHD_FREE(p) free(p)
#endif
#if defined(__GNUC__)
#  define SCHD_PRIVATE static __attribute__((unused))
/* for the few one-line helpers on the timer path: no call, no unwind entry */
#  define SCHD_INLINE static __inline__ __attribute__((always_inline, unused))
#else
#  define SCHD_PRIVATE static
#  define SCHD_INLINE static
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== section: errors ==== */

SCHD_API const char *schd_strerror(int code) { return akc_strerror(code); }

/* ==== section: time ==== */

SCHD_API int64_t schd_now_ns(void) { return akc_now_ns(); }

SCHD_API int64_t schd_loop_now(const schd_loop *loop) { return loop ? loop->core.now : 0; }

SCHD_API void schd_loop_update_time(schd_loop *loop)
{
    if (loop) akc_update_time(&loop->core);
}

SCHD_API void schd_loop_set_clock(schd_loop *loop, schd_clock_cb clock, void *ud)
{
    if (!loop) return;
    loop->core.clock = clock;
    loop->core.clock_ud = ud;
    akc_update_time(&loop->core);
}

/* ==== section: memory ==== */

/* The allocator hooks, in the shape the loop core asks for. */
SCHD_PRIVATE void *schd__mem(void *p, size_t old, size_t n)
{
    (void)old;
    if (n == 0) {
        SCHD_FREE(p);
        return NULL;
    }
    return SCHD_REALLOC(p, n);
}

#define SCHD__LOOP(core_loop) SCHD_CONTAINER_OF(core_loop, schd_loop, core)

/* ==== section: timers ==== */

/* A repeating timer is re-armed before its callback (which may stop or
 * restart it): one period after the time it was due, skipping the
 * periods the loop missed, so it keeps its phase. */
SCHD_PRIVATE void schd__timer_fire(akc_loop *l, akc_timer *core)
{
    schd_timer *t = SCHD_CONTAINER_OF(core, schd_timer, core);
    if (t->period > 0) {
        int64_t next = akc_add_sat(l->due, t->period);
        if (next <= l->now) next = akc_add_sat(next, ((l->now - next) / t->period + 1) * t->period);
        (void)akc_timer_start(l, &t->core, next);   /* its heap slot was just freed: no allocation */
    }
    t->cb(t, t->ud);
}

SCHD_API void schd_timer_init(schd_timer *t, schd_timer_cb cb, void *ud)
{
    if (!t) return;
    memset(t, 0, sizeof *t);
    akc_timer_init(&t->core, schd__timer_fire);
    t->cb = cb;
    t->ud = ud;
}

SCHD_API int schd_timer_start_at(schd_timer *t, schd_loop *loop, int64_t when, int64_t period)
{
    if (!loop || !t || !t->cb || period < 0) return -EINVAL;
    if (t->core.pos && !akc_timer_owned(&loop->core, &t->core)) return -EINVAL;   /* before any change */
    t->core.fn = schd__timer_fire;
    t->period = period;
    return akc_timer_start(&loop->core, &t->core, when);
}

SCHD_API int schd_timer_start(schd_timer *t, schd_loop *loop, int64_t delay, int64_t period)
{
    if (!loop || delay < 0) return -EINVAL;
    return schd_timer_start_at(t, loop, akc_add_sat(akc_time(&loop->core), delay), period);
}

SCHD_API int schd_timer_stop(schd_timer *t, schd_loop *loop)
{
    if (!loop || !t) return -EINVAL;
    return akc_timer_stop(&loop->core, &t->core);
}

SCHD_API int schd_timer_active(const schd_timer *t) { return t && akc_timer_active(&t->core); }

SCHD_API int64_t schd_timer_due(const schd_timer *t, const schd_loop *loop)
{
    return loop && t ? akc_timer_when(&loop->core, &t->core) : SCHD_NO_DEADLINE;
}

/* ==== section: descriptors ==== */

/* The kinds of the loop core's watchers (0 is the core's wake-up). */
enum { SCHD__IO_WATCHER = 1, SCHD__IO_SOURCE = 2 };

SCHD_PRIVATE void schd__io_ready(akc_loop *l, akc_io *core, unsigned revents)
{
    schd_io *io = SCHD_CONTAINER_OF(core, schd_io, core);
    if (revents & POLLNVAL) schd_io_stop(io, SCHD__LOOP(l));   /* a closed fd would spin the loop */
    io->cb(io, (int)revents, io->ud);
}

SCHD_API void schd_io_init(schd_io *io, int fd, schd_io_cb cb, void *ud)
{
    if (!io) return;
    memset(io, 0, sizeof *io);
    akc_io_init(&io->core, fd, SCHD__IO_WATCHER);
    io->cb = cb;
    io->ud = ud;
}

SCHD_PRIVATE int schd__io_started(const schd_loop *loop, const schd_io *io)
{
    const schd_io *it;
    for (it = loop->ios; it; it = it->next)
        if (it == io) return 1;
    return 0;
}

SCHD_API int schd_io_start(schd_io *io, schd_loop *loop, int events)
{
    if (!loop || !io || !io->cb || io->core.fd < 0 || (events & ~(SCHD_READ | SCHD_WRITE | POLLPRI)))
        return -EINVAL;
    if (!(io->core.state & AKC__IO_OPEN)) {
        akc_io_handle(&loop->core, SCHD__IO_WATCHER, schd__io_ready);
        if (akc_io_open(&loop->core, &io->core) < 0) return -ENOMEM;
        io->prev = NULL;
        io->next = loop->ios;
        if (loop->ios) loop->ios->prev = io;
        loop->ios = io;
    } else if (!schd__io_started(loop, io)) {
        return -EINVAL;   /* started on another loop */
    }
    akc_io_want(&loop->core, &io->core, (unsigned)events);
    return 0;
}

SCHD_API int schd_io_stop(schd_io *io, schd_loop *loop)
{
    if (!loop || !io) return -EINVAL;
    if (!(io->core.state & AKC__IO_OPEN)) return 0;
    if (!schd__io_started(loop, io)) return -EINVAL;
    akc_io_close(&loop->core, &io->core);
    if (io->prev) io->prev->next = io->next; else loop->ios = io->next;
    if (io->next) io->next->prev = io->prev;
    io->next = io->prev = NULL;
    return 0;
}

SCHD_API int schd_io_active(const schd_io *io) { return io && (io->core.state & AKC__IO_OPEN) != 0; }

/* ==== section: signals ==== */

SCHD_PRIVATE void schd__signal_fire(akc_loop *l, akc_sig *core, const akc_siginfo *info)
{
    schd_signal *sig = SCHD_CONTAINER_OF(core, schd_signal, core);
    (void)l;
    sig->cb(sig, info, sig->ud);
}

SCHD_API void schd_signal_init(schd_signal *sig, schd_signal_cb cb, void *ud)
{
    if (!sig) return;
    akc_sig_init(&sig->core, schd__signal_fire);
    sig->cb = cb;
    sig->ud = ud;
}

SCHD_API int schd_signal_start(schd_signal *sig, schd_loop *loop, int signo)
{
    if (!sig || !loop || !sig->cb || sig->core.fn != schd__signal_fire) return -EINVAL;
    return akc_sig_start(&loop->core, &sig->core, signo);
}

SCHD_API int schd_signal_stop(schd_signal *sig, schd_loop *loop)
{
    if (!sig || !loop) return -EINVAL;
    return akc_sig_stop(&loop->core, &sig->core);
}

SCHD_API int schd_signal_active(const schd_signal *sig) { return sig && akc_sig_active(&sig->core); }

/* ==== section: deferred calls ==== */

SCHD_PRIVATE void schd__close_deferred(schd_loop *loop);

SCHD_PRIVATE void schd__defer_run(akc_loop *l, akc_defer *core)
{
    schd_defer *d = SCHD_CONTAINER_OF(core, schd_defer, core);
    (void)l;
    d->fn(d, d->ud);
}

SCHD_API void schd_defer_init(schd_defer *d, schd_defer_cb fn, void *ud)
{
    if (!d) return;
    akc_defer_init(&d->core, schd__defer_run);
    d->fn = fn;
    d->ud = ud;
}

SCHD_API void schd_defer_start(schd_defer *d, schd_loop *loop, schd_defer_cb fn, void *ud)
{
    if (!loop || !d || !fn) return;
    loop->close_deferred = schd__close_deferred;
    d->core.fn = schd__defer_run;
    d->fn = fn;
    d->ud = ud;
    akc_defer_queue(&loop->core, &d->core);
}

SCHD_API void schd_defer_cancel(schd_defer *d, schd_loop *loop)
{
    if (!loop || !d) return;
    akc_defer_cancel(&d->core);
}

typedef struct schd__soon { schd_defer node; schd_cb fn; void *ud; } schd__soon;

SCHD_PRIVATE void schd__soon_run(schd_defer *d, void *ud)
{
    schd_loop *loop = (schd_loop *)ud;
    schd__soon *s = SCHD_CONTAINER_OF(d, schd__soon, node);
    schd_cb fn = s->fn;
    void *arg = s->ud;
    s->node.ud = loop->soon_free;   /* recycle before the call: it may queue again */
    loop->soon_free = &s->node;
    loop->soon_count--;
    fn(arg);
}

SCHD_API int schd_soon(schd_loop *loop, schd_cb fn, void *ud)
{
    schd__soon *s;
    if (!loop || !fn) return -EINVAL;
    if (loop->soon_free) {
        s = SCHD_CONTAINER_OF(loop->soon_free, schd__soon, node);
        loop->soon_free = (schd_defer *)s->node.ud;
    } else {
        s = (schd__soon *)SCHD_MALLOC(sizeof *s);
        if (!s) return -ENOMEM;
    }
    schd_defer_init(&s->node, schd__soon_run, loop);
    s->fn = fn;
    s->ud = ud;
    loop->soon_count++;
    schd_defer_start(&s->node, loop, schd__soon_run, loop);
    return 0;
}

/* One round of what is ready without waiting: posts, then deferred calls. */
SCHD_PRIVATE void schd__run_ready(schd_loop *loop)
{
    akc_update_time(&loop->core);
    if (akc_posts_pending(&loop->core)) akc__run_posts(&loop->core);
    akc__run_deferred(&loop->core, 1);
}

/* At close: what is queued, and what posts still bring, is delivered for a
 * bounded number of rounds; calls that keep queueing themselves are then
 * dropped, and the nodes schd_soon recycles are freed. */
SCHD_PRIVATE void schd__close_deferred(schd_loop *loop)
{
    akc_loop *l = &loop->core;
    int rounds;
    for (rounds = 0; rounds < 64; rounds++) {
        if (!akc_defer_pending(l) && !akc_posts_pending(l)) break;
        schd__run_ready(loop);
    }
    while (akc_defer_pending(l)) {
        akc_defer *d = l->dq.next;
        akc_defer_cancel(d);
        if (d->fn == schd__defer_run) {
            schd_defer *sd = SCHD_CONTAINER_OF(d, schd_defer, core);
            if (sd->fn == schd__soon_run) SCHD_FREE(SCHD_CONTAINER_OF(sd, schd__soon, node));
        }
    }
    while (loop->soon_free) {
        schd_defer *d = loop->soon_free;
        loop->soon_free = (schd_defer *)d->ud;
        SCHD_FREE(SCHD_CONTAINER_OF(d, schd__soon, node));
    }
}

/* ==== section: sources ==== */

/* Each entry a source's prepare gives is one watcher in the loop's own
 * set, kept from one iteration to the next and changed only when the
 * entry changes: with epoll, a family context is one entry (its epoll
 * descriptor) that never changes, so a source costs no system call per
 * iteration.  The watcher records what was ready for dispatch. */
struct schd__srcfd {
    akc_io io;
    unsigned revents;
};

SCHD_PRIVATE void schd__srcfd_ready(akc_loop *l, akc_io *io, unsigned revents)
{
    (void)l;
    SCHD_CONTAINER_OF(io, struct schd__srcfd, io)->revents |= revents;
}

SCHD_PRIVATE void schd__src_close_watch(schd_loop *loop, schd_source *src, int from)
{
    int i;
    for (i = from; i < src->count; i++) akc_io_close(&loop->core, &src->watch[i].io);
}

/* Room for n entries.  The watchers move, so they leave the set first. */
SCHD_PRIVATE int schd__src_room(schd_loop *loop, schd_source *src, int n)
{
    struct schd__srcfd *w;
    struct pollfd *f;
    int cap = src->cap ? src->cap : 4;
    if (n <= src->cap) return 0;
    while (cap < n) cap *= 2;
    f = (struct pollfd *)SCHD_REALLOC(src->fds, (size_t)cap * sizeof *f);
    if (!f) return -ENOMEM;
    src->fds = f;
    schd__src_close_watch(loop, src, 0);
    src->count = 0;
    w = (struct schd__srcfd *)SCHD_REALLOC(src->watch, (size_t)cap * sizeof *w);
    if (!w) return -ENOMEM;
    src->watch = w;
    src->cap = cap;
    return 0;
}

/* Brings the watchers in line with the n entries prepare wrote. */
SCHD_PRIVATE void schd__src_sync(schd_loop *loop, schd_source *src, int n)
{
    int i;
    if (n < src->count) schd__src_close_watch(loop, src, n);
    for (i = 0; i < n; i++) {
        struct schd__srcfd *w = &src->watch[i];
        const struct pollfd *f = &src->fds[i];
        int fresh = (f->revents & AKC_FRESH) != 0;
        if (i >= src->count || w->io.fd != f->fd || fresh) {
            if (i < src->count) akc_io_close(&loop->core, &w->io);
            akc_io_init(&w->io, f->fd, SCHD__IO_SOURCE);
            akc_io_handle(&loop->core, SCHD__IO_SOURCE, schd__srcfd_ready);
            if (akc_io_open(&loop->core, &w->io) < 0) {   /* cannot watch it: report it as failed */
                w->revents = POLLERR;
                continue;
            }
        }
        w->revents = 0;
        akc_io_want(&loop->core, &w->io, (unsigned)f->events & (POLLIN | POLLOUT | POLLPRI));
    }
    src->count = n;
}

/* The source walks use the loop's cursor, so that a source may remove
 * itself (or another) from inside its calls. */
SCHD_PRIVATE void schd__prep_sources(akc_loop *l, int64_t *deadline)
{
    schd_loop *loop = SCHD__LOOP(l);
    schd_source *src;
    for (src = loop->sources; src; src = loop->src_cursor) {
        int n;
        loop->src_cursor = src->next;
        n = src->prepare(src->ctx, src->fds, src->cap, deadline);
        if (n > src->cap && schd__src_room(loop, src, n) == 0)
            n = src->prepare(src->ctx, src->fds, src->cap, deadline);
        if (n > src->cap) n = src->cap;   /* no memory: watch what fits */
        if (n < 0) n = 0;
        schd__src_sync(loop, src, n);
        src->prepared = 1;
    }
    loop->src_cursor = NULL;
}

SCHD_PRIVATE void schd__disp_sources(akc_loop *l)
{
    schd_loop *loop = SCHD__LOOP(l);
    schd_source *src;
    for (src = loop->sources; src; src = loop->src_cursor) {
        int i;
        loop->src_cursor = src->next;
        if (!src->prepared) continue;
        src->prepared = 0;
        for (i = 0; i < src->count; i++) {
            src->fds[i].revents = (short)src->watch[i].revents;
            src->watch[i].revents = 0;
        }
        src->dispatch(src->ctx, src->fds, src->count);
    }
    loop->src_cursor = NULL;
}

SCHD_API int schd_source_add(schd_source *src, schd_loop *loop, schd_prepare_cb prepare,
                             schd_dispatch_cb dispatch, void *ctx)
{
    schd_source *it;
    if (!loop || !src || !prepare || !dispatch) return -EINVAL;
    for (it = loop->sources; it; it = it->next)
        if (it == src) return -EBUSY;
    memset(src, 0, sizeof *src);
    src->prepare = prepare;
    src->dispatch = dispatch;
    src->ctx = ctx;
    src->loop = loop;
    loop->core.on_prepare = schd__prep_sources;
    loop->core.on_dispatch = schd__disp_sources;
    src->next = loop->sources;
    if (loop->sources) loop->sources->prev = src;
    loop->sources = src;
    return 0;
}

SCHD_PRIVATE void schd__source_release(schd_loop *loop, schd_source *src)
{
    schd__src_close_watch(loop, src, 0);
    SCHD_FREE(src->fds);
    SCHD_FREE(src->watch);
    src->fds = NULL;
    src->watch = NULL;
    src->count = src->cap = 0;
    src->next = src->prev = NULL;
    src->loop = NULL;
}

SCHD_API void schd_source_remove(schd_source *src)
{
    schd_loop *loop;
    if (!src || !src->loop) return;
    loop = src->loop;
    if (loop->src_cursor == src) loop->src_cursor = src->next;
    if (src->prev) src->prev->next = src->next; else loop->sources = src->next;
    if (src->next) src->next->prev = src->prev;
    schd__source_release(loop, src);
}

/* ==== section: threads ==== */

SCHD_PRIVATE void schd__async_run(akc_loop *l, akc_post *p)
{
    schd_async *a = SCHD_CONTAINER_OF(p, schd_async, post);
    (void)l;
    __atomic_store_n(&a->pending, 0, __ATOMIC_RELEASE);
    a->cb(a, a->ud);
}

SCHD_API int schd_async_init(schd_async *a, schd_loop *loop, schd_async_cb cb, void *ud)
{
    schd_async *it;
    if (!loop || !a || !cb) return -EINVAL;
    for (it = loop->asyncs; it; it = it->next)
        if (it == a) return -EBUSY;
    memset(a, 0, sizeof *a);
    a->post.fn = schd__async_run;
    a->cb = cb;
    a->ud = ud;
    a->loop = loop;
    a->next = loop->asyncs;
    if (loop->asyncs) loop->asyncs->prev = a;
    loop->asyncs = a;
    return 0;
}

SCHD_API int schd_async_send(schd_async *a)
{
    if (!a || !a->loop) return -EINVAL;
    if (__atomic_exchange_n(&a->pending, 1, __ATOMIC_ACQ_REL)) return 0;
    akc_post_push(&a->loop->core, &a->post);
    return 0;
}

SCHD_API void schd_async_close(schd_async *a)
{
    schd_loop *loop;
    if (!a || !a->loop) return;
    loop = a->loop;
    /* A send still pending must not run after close. */
    if (__atomic_load_n(&a->pending, __ATOMIC_ACQUIRE)) akc_post_withdraw(&loop->core, &a->post);
    if (a->prev) a->prev->next = a->next; else loop->asyncs = a->next;
    if (a->next) a->next->prev = a->prev;
    a->next = a->prev = NULL;
    a->loop = NULL;
}

typedef struct schd__post { akc_post post; schd_cb fn; void *ud; } schd__post;

SCHD_PRIVATE void schd__post_run(akc_loop *l, akc_post *p)
{
    schd__post *node = SCHD_CONTAINER_OF(p, schd__post, post);
    schd_cb fn = node->fn;
    void *ud = node->ud;
    (void)l;
    SCHD_FREE(node);
    fn(ud);
}

SCHD_API int schd_loop_post(schd_loop *loop, schd_cb fn, void *ud)
{
    schd__post *node;
    if (!loop || !fn) return -EINVAL;
    node = (schd__post *)SCHD_MALLOC(sizeof *node);
    if (!node) return -ENOMEM;
    node->post.fn = schd__post_run;
    node->fn = fn;
    node->ud = ud;
    akc_post_push(&loop->core, &node->post);
    return 0;
}

/* ==== section: loop ==== */

SCHD_API int schd_loop_init(schd_loop *loop)
{
    int r;
    if (!loop) return -EINVAL;
    memset(loop, 0, sizeof *loop);
    r = akc_loop_init(&loop->core, schd__mem);
    if (r == 0) r = akc_wake_open(&loop->core);
    if (r < 0) {
        akc_loop_free(&loop->core);
        return r;
    }
    return 0;
}

SCHD_API int schd_loop_alive(const schd_loop *loop)
{
    if (!loop) return 0;
    return akc_alive((akc_loop *)&loop->core) || loop->sources || loop->asyncs;
}

SCHD_API void schd_loop_stop(schd_loop *loop) { if (loop) akc_stop(&loop->core); }

SCHD_API int schd_loop_prepare(void *vloop, struct pollfd *fds, int cap, int64_t *deadline)
{
    schd_loop *loop = (schd_loop *)vloop;
    if (!loop || !deadline || (!fds && cap > 0)) return -EINVAL;
    return akc_prepare(&loop->core, cap > 0 ? fds : NULL, cap, deadline);
}

SCHD_API void schd_loop_dispatch(void *vloop, struct pollfd *fds, int n)
{
    schd_loop *loop = (schd_loop *)vloop;
    if (!loop || (!fds && n > 0)) return;
    akc_dispatch(&loop->core, fds, n);
}

SCHD_API int schd_loop_run_once(schd_loop *loop, int64_t timeout_ns)
{
    int rc;
    if (!loop) return -EINVAL;
    rc = akc_run_once(&loop->core, timeout_ns);
    if (rc < 0) return rc;
    return schd_loop_alive(loop);
}

SCHD_API int schd_loop_run(schd_loop *loop)
{
    int rc = 0;
    if (!loop) return -EINVAL;
    if (loop->core.depth) return -EBUSY;
    while (!akc_stopped(&loop->core) && schd_loop_alive(loop)) {
        rc = schd_loop_run_once(loop, -1);
        if (rc < 0 && rc != -ENOMEM) return rc;
        rc = 0;
    }
    return rc;
}

SCHD_PRIVATE void schd__cancel_waiters(schd_loop *loop);

SCHD_API int schd_loop_close(schd_loop *loop)
{
    schd_source *src;
    schd_async *a;
    if (!loop) return -EINVAL;
    if (loop->core.depth) return -EBUSY;
    loop->core.depth = 1;   /* the callbacks that close runs cannot close or run the loop */
    loop->closing = 1;      /* nor start tasks */
    if (loop->close_tasks) loop->close_tasks(loop);
    schd__cancel_waiters(loop);
    /* Grants made while tasks ended (a lock handed to a callback waiter)
     * and posts still queued are delivered, not dropped. */
    if (akc_posts_pending(&loop->core) && !loop->close_deferred) akc__run_posts(&loop->core);
    if (loop->close_deferred) loop->close_deferred(loop);
    while (loop->ios) schd_io_stop(loop->ios, loop);
    while ((src = loop->sources) != NULL) {
        loop->sources = src->next;
        schd__source_release(loop, src);
    }
    while ((a = loop->asyncs) != NULL) {
        loop->asyncs = a->next;
        a->next = a->prev = NULL;
        a->loop = NULL;
    }
    akc_loop_free(&loop->core);
    memset(loop, 0, sizeof *loop);
    akc_loop_reset(&loop->core);
    return 0;
}

/* ==== section: waiters ==== */

/* A callback wait queued on a primitive is also on its loop's list, so
 * that schd_loop_close can cancel it: the primitive outlives the loop,
 * and a later release must not reach into a closed loop. */
SCHD_PRIVATE void schd__wl_push(schd_wlist *l, schd_waiter *w)
{
    w->next = NULL;
    w->prev = l->tail;
    if (l->tail) l->tail->next = w; else l->head = w;
    l->tail = w;
    w->list = l;
    l->count++;
    if (!w->task) {
        w->lprev = NULL;
        w->lnext = w->loop->waiters;
        if (w->loop->waiters) w->loop->waiters->lprev = w;
        w->loop->waiters = w;
    }
}

SCHD_PRIVATE void schd__wl_unlink(schd_waiter *w)
{
    schd_wlist *l = w->list;
    if (!l) return;
    if (w->prev) w->prev->next = w->next; else l->head = w->next;
    if (w->next) w->next->prev = w->prev; else l->tail = w->prev;
    w->next = w->prev = NULL;
    w->list = NULL;
    l->count--;
    if (!w->task) {
        if (w->lprev) w->lprev->lnext = w->lnext; else w->loop->waiters = w->lnext;
        if (w->lnext) w->lnext->lprev = w->lprev;
        w->lnext = w->lprev = NULL;
    }
}

SCHD_PRIVATE schd_waiter *schd__wl_pop(schd_wlist *l)
{
    schd_waiter *w = l->head;
    if (w) schd__wl_unlink(w);
    return w;
}

SCHD_PRIVATE void schd__task_run(schd_task *t);

SCHD_PRIVATE void schd__waiter_fire(schd_defer *d, void *ud)
{
    schd_waiter *w = SCHD_CONTAINER_OF(d, schd_waiter, node);
    (void)ud;
    if (w->task) {
        w->task->status = w->status;
        schd__task_run(w->task);
    } else {
        w->cb(w, w->status, w->ud);
    }
}

/* The wait of w is over with status: its task or callback runs from the
 * loop's queue of deferred calls. */
SCHD_PRIVATE void schd__op_withdraw(schd_task *t);

SCHD_PRIVATE void schd__grant(schd_waiter *w, int status)
{
    schd__wl_unlink(w);
    w->status = status;
    if (w->task) {
        schd_timer_stop(&w->task->timer, w->loop);
        w->task->state = SCHD_TASK_READY;
        schd__op_withdraw(w->task);   /* an operation still out: the await ended first */
    }
    schd_defer_start(&w->node, w->loop, schd__waiter_fire, NULL);
}

SCHD_API void schd_waiter_init(schd_waiter *w, schd_loop *loop, schd_waiter_cb cb, void *ud)
{
    if (!w) return;
    memset(w, 0, sizeof *w);
    schd_defer_init(&w->node, NULL, NULL);
    w->loop = loop;
    w->cb = cb;
    w->ud = ud;
}

SCHD_API int schd_waiter_cancel(schd_waiter *w)
{
    if (!w || !w->list) return -EALREADY;
    schd__grant(w, -ECANCELED);
    return 0;
}

/* Part of schd_loop_close: every callback wait still queued on a
 * primitive ends with -ECANCELED (delivered with the deferred calls). */
SCHD_PRIVATE void schd__cancel_waiters(schd_loop *loop)
{
    while (loop->waiters) schd__grant(loop->waiters, -ECANCELED);
}

SCHD_PRIVATE int schd__waiter_usable(const schd_waiter *w)
{
    return w && w->loop && w->cb && !w->task && !w->list && !akc_defer_queued(&w->node.core);
}

/* Starts a callback wait: begin returns 0 when it is already over (and
 * sets w->status), 1 when w was queued.  Either way the callback comes
 * later, from the loop. */
#define SCHD__CB_WAIT(w, begin) do { \
    if (!schd__waiter_usable(w)) return -EINVAL; \
    if ((begin) == 0) schd__grant((w), (w)->status); \
    return 0; } while (0)

/* ==== section: tasks ==== */

#define SCHD__CANCEL_REQ 1u      /* cancel asked for */
#define SCHD__CANCEL_NOW 2u      /* deliver it when the task next runs */
/* SCHD__IN_FINALLY 4u is in the public part, for the macros */
#define SCHD__CANCEL_SEEN 8u     /* delivered */
#define SCHD__RESULT_SET 16u
#define SCHD__DELAYING 32u

SCHD_PRIVATE void schd__task_timer(schd_timer *timer, void *ud);

SCHD_PRIVATE void schd__task_unlink(schd_task *t)
{
    schd_loop *loop = t->loop;
    if (t->prev) t->prev->next = t->next; else if (loop->tasks == t) loop->tasks = t->next;
    if (t->next) t->next->prev = t->prev;
    t->next = t->prev = NULL;
}

SCHD_PRIVATE void schd__close_tasks(schd_loop *loop);

SCHD_API int schd_task_start(schd_task *t, schd_loop *loop, schd_task_cb fn, void *ud)
{
    schd_task_done_cb done;
    void *done_ud;
    if (!loop || !t || !fn) return -EINVAL;
    if (loop->closing) return -ECANCELED;
    if (t->state == SCHD_TASK_READY || t->state == SCHD_TASK_WAITING) return -EBUSY;
    done = t->on_done;   /* set before the start, or left from an earlier run */
    done_ud = t->on_done_ud;
    memset(t, 0, sizeof *t);
    t->on_done = done;
    t->on_done_ud = done_ud;
    t->loop = loop;
    t->fn = fn;
    t->ud = ud;
    t->state = SCHD_TASK_READY;
    schd_timer_init(&t->timer, schd__task_timer, t);
    t->wait.loop = loop;
    t->wait.task = t;
    t->next = loop->tasks;
    if (loop->tasks) loop->tasks->prev = t;
    loop->tasks = t;
    loop->close_tasks = schd__close_tasks;
    schd_defer_start(&t->wait.node, loop, schd__waiter_fire, NULL);
    return 0;
}

SCHD_API void schd_task_on_done(schd_task *t, schd_task_done_cb fn, void *ud)
{
    if (!t) return;
    t->on_done = fn;
    t->on_done_ud = ud;
}

SCHD_API int schd_task_result(const schd_task *t) { return t ? t->result : -EINVAL; }
SCHD_API int schd_task_state(const schd_task *t) { return t ? t->state : -EINVAL; }
SCHD_API int schd_task_cancelled(const schd_task *t) { return t && (t->flags & SCHD__CANCEL_REQ) != 0; }

SCHD_API void schd_task_timeout(schd_task *t, int64_t ns) { if (t) t->timeout = ns > 0 ? ns : 0; }

SCHD_PRIVATE void schd__task_run(schd_task *t)
{
    int r;
    do {
        if (t->flags & SCHD__CANCEL_NOW) {
            t->flags = (t->flags & ~SCHD__CANCEL_NOW) | SCHD__CANCEL_SEEN;
            t->status = -ECANCELED;
            t->line = (t->line == 0 || (t->flags & SCHD__IN_FINALLY)) ? SCHD__END_LINE
                                                                       : SCHD__FINALLY_LINE;
        }
        t->state = SCHD_TASK_READY;
        r = t->fn(t);
    } while (r == SCHD__AGAIN);
}

SCHD_API int schd_task_cancel(schd_task *t)
{
    if (!t || t->state == SCHD_TASK_IDLE || t->state == SCHD_TASK_DONE) return -EALREADY;
    if (t->flags & SCHD__CANCEL_REQ) return -EALREADY;
    t->flags |= SCHD__CANCEL_REQ;
    if (t->state == SCHD_TASK_WAITING) {
        /* Waiting: withdraw the wait and deliver at once.  A task that is
         * ready has been granted what it waited for (or has not run yet):
         * it keeps the grant and sees the cancellation at its next await. */
        t->flags = (t->flags | SCHD__CANCEL_NOW) & ~SCHD__DELAYING;
        schd__grant(&t->wait, -ECANCELED);
    } else if (t->line == 0) {
        t->flags |= SCHD__CANCEL_NOW;   /* never ran: it ends without running */
    }
    return 0;
}

/* Common start of every await: a pending cancellation suspends the task
 * so that it is delivered when the task runs again; arms the timeout. */
SCHD_PRIVATE int schd__cancel_pending(schd_task *t)
{
    if ((t->flags & (SCHD__CANCEL_REQ | SCHD__CANCEL_SEEN)) == SCHD__CANCEL_REQ) {
        t->flags |= SCHD__CANCEL_NOW;
        t->timeout = 0;
        t->state = SCHD_TASK_READY;
        schd_defer_start(&t->wait.node, t->loop, schd__waiter_fire, NULL);
        return 1;
    }
    return 0;
}

/* After begin: 0 (over, status in t->wait.status) or 1 (queued). */
SCHD_PRIVATE int schd__task_wait(schd_task *t, int queued)
{
    int64_t timeout = t->timeout;
    t->timeout = 0;
    if (!queued) {
        t->status = t->wait.status;
        return 0;
    }
    t->state = SCHD_TASK_WAITING;
    if (timeout > 0 && schd_timer_start(&t->timer, t->loop, timeout, 0) < 0) {
        schd__grant(&t->wait, -ENOMEM);
    }
    return 1;
}

SCHD_PRIVATE void schd__task_timer(schd_timer *timer, void *ud)
{
    schd_task *t = (schd_task *)ud;
    (void)timer;
    if (t->flags & SCHD__DELAYING) {
        t->flags &= ~SCHD__DELAYING;
        schd__grant(&t->wait, 0);
    } else if (t->state == SCHD_TASK_WAITING) {
        schd__grant(&t->wait, -ETIMEDOUT);
    }
}

SCHD_PRIVATE void schd__op_withdraw(schd_task *t)
{
    void *op = t->op;
    if (!op) return;
    t->op = NULL;
    t->op_withdraw(t, op);
}

SCHD_API int schd_task_op_enter(schd_task *t)
{
    return t ? schd__cancel_pending(t) : 0;
}

SCHD_API int schd_task_op_failed(schd_task *t, int status)
{
    if (!t) return 0;
    t->wait.status = status;
    return schd__task_wait(t, 0);
}

SCHD_API int schd_task_op_begin(schd_task *t, void *op, void (*withdraw)(schd_task *t, void *op))
{
    if (!t || !op || !withdraw) return 0;
    t->op = op;
    t->op_withdraw = withdraw;
    return schd__task_wait(t, 1);
}

SCHD_API void schd_task_op_end(schd_task *t, void *op, int status)
{
    if (!t || !op || t->op != op) return;   /* the await ended already: not this one's */
    t->op = NULL;
    schd__grant(&t->wait, status);
}

SCHD_API int schd__suspend(schd_task *t)
{
    if (schd__cancel_pending(t)) return 1;
    t->timeout = 0;
    t->wait.status = 0;
    t->state = SCHD_TASK_READY;
    schd_defer_start(&t->wait.node, t->loop, schd__waiter_fire, NULL);
    return 1;
}

SCHD_API int schd__await_delay(schd_task *t, int64_t ns)
{
    if (schd__cancel_pending(t)) return 1;
    t->timeout = 0;
    t->wait.status = 0;
    t->state = SCHD_TASK_WAITING;
    t->flags |= SCHD__DELAYING;
    if (schd_timer_start(&t->timer, t->loop, ns > 0 ? ns : 0, 0) < 0) {
        t->flags &= ~SCHD__DELAYING;
        schd__grant(&t->wait, -ENOMEM);
    }
    return 1;
}

SCHD_PRIVATE void schd__lock_drop_held(schd_lock *lk);

SCHD_PRIVATE void schd__gather_member_done(schd_gather *g, int status);

SCHD_PRIVATE int schd__task_finish(schd_task *t)
{
    schd_task_done_cb done = t->on_done;
    schd_waiter *w;
    if ((t->flags & SCHD__CANCEL_SEEN) && !(t->flags & SCHD__RESULT_SET)) t->result = -ECANCELED;
    t->state = SCHD_TASK_DONE;
    schd__op_withdraw(t);
    schd_timer_stop(&t->timer, t->loop);
    schd_defer_cancel(&t->wait.node, t->loop);
    schd__wl_unlink(&t->wait);
    schd__task_unlink(t);
    while (t->held) schd__lock_drop_held(t->held);
    while ((w = schd__wl_pop(&t->joiners)) != NULL) {
        w->status = 0;
        schd__grant(w, 0);
    }
    if (t->gather) {
        schd_gather *g = t->gather;
        t->gather = NULL;
        schd__gather_member_done(g, t->result);
    }
    if (done) done(t, t->result, t->on_done_ud);   /* last: it may free t */
    return SCHD__DONE;
}

SCHD_API int schd__task_end(schd_task *t) { return schd__task_finish(t); }

SCHD_API int schd__task_exit(schd_task *t, int result)
{
    t->result = result;
    t->flags |= SCHD__RESULT_SET;
    t->line = (t->flags & SCHD__IN_FINALLY) ? SCHD__END_LINE : SCHD__FINALLY_LINE;
    return SCHD__AGAIN;
}

SCHD_PRIVATE void schd__task_force_end(schd_task *t)
{
    t->flags |= SCHD__CANCEL_SEEN;
    schd__task_finish(t);
}

/* Part of schd_loop_close: cancel every task and let the cancellations
 * run.  Time does not pass during close, so when nothing else is ready the
 * earliest task timer expires at once: a delay in a finally block ends
 * early instead of never.  Whatever still waits after that ends by force. */
SCHD_PRIVATE void schd__close_tasks(schd_loop *loop)
{
    schd_task *t, *next, *first;
    int round;
    for (t = loop->tasks; t; t = next) {
        next = t->next;
        schd_task_cancel(t);
    }
    for (round = 0; round < 1024 && loop->tasks; round++) {
        if (akc_defer_pending(&loop->core) || akc_posts_pending(&loop->core)) {
            schd__run_ready(loop);
            continue;
        }
        first = NULL;
        for (t = loop->tasks; t; t = t->next)
            if (schd_timer_active(&t->timer) &&
                (!first || schd_timer_due(&t->timer, loop) < schd_timer_due(&first->timer, loop)))
                first = t;
        if (!first) break;
        schd_timer_stop(&first->timer, loop);
        schd__task_timer(&first->timer, first);
    }
    while (loop->tasks) schd__task_force_end(loop->tasks);
}

SCHD_API int schd__await_join(schd_task *t, schd_task *other)
{
    if (schd__cancel_pending(t)) return 1;
    if (other == t) {
        t->wait.status = -EDEADLK;
        return schd__task_wait(t, 0);
    }
    if (other->state == SCHD_TASK_READY || other->state == SCHD_TASK_WAITING) {
        schd__wl_push(&other->joiners, &t->wait);
        return schd__task_wait(t, 1);
    }
    t->wait.status = 0;
    return schd__task_wait(t, 0);
}

/* ==== section: event ==== */

SCHD_API void schd_event_init(schd_event *ev) { if (ev) memset(ev, 0, sizeof *ev); }
SCHD_API int  schd_event_is_set(const schd_event *ev) { return ev && ev->is_set; }
SCHD_API void schd_event_clear(schd_event *ev) { if (ev) ev->is_set = 0; }

SCHD_API void schd_event_set(schd_event *ev)
{
    schd_waiter *w;
    if (!ev) return;
    ev->is_set = 1;
    while ((w = schd__wl_pop(&ev->waiters)) != NULL) schd__grant(w, 0);
}

SCHD_PRIVATE int schd__event_begin(schd_event *ev, schd_waiter *w)
{
    w->status = 0;
    if (ev->is_set) return 0;
    schd__wl_push(&ev->waiters, w);
    return 1;
}

SCHD_API int schd__await_event(schd_task *t, schd_event *ev)
{
    if (schd__cancel_pending(t)) return 1;
    return schd__task_wait(t, schd__event_begin(ev, &t->wait));
}

SCHD_API int schd_event_wait_cb(schd_event *ev, schd_waiter *w)
{
    if (!ev) return -EINVAL;
    SCHD__CB_WAIT(w, schd__event_begin(ev, w));
}

/* ==== section: lock ==== */

SCHD_API void schd_lock_init(schd_lock *lk) { if (lk) memset(lk, 0, sizeof *lk); }
SCHD_API int  schd_lock_locked(const schd_lock *lk) { return lk && lk->locked; }

/* Makes the waiter's task (if any) the holder. */
SCHD_PRIVATE void schd__lock_take(schd_lock *lk, schd_waiter *w)
{
    lk->locked = 1;
    lk->holder = w ? w->task : NULL;
    if (lk->holder) {
        lk->next_held = lk->holder->held;
        lk->holder->held = lk;
    }
    if (lk->on_grant) lk->on_grant(lk, w ? w->slot : NULL);
}

SCHD_PRIVATE void schd__lock_forget_holder(schd_lock *lk)
{
    schd_task *t = lk->holder;
    schd_lock **pp;
    lk->holder = NULL;
    if (!t) return;
    for (pp = &t->held; *pp; pp = &(*pp)->next_held) {
        if (*pp == lk) {
            *pp = lk->next_held;
            break;
        }
    }
    lk->next_held = NULL;
}

SCHD_API int schd_lock_release(schd_lock *lk)
{
    schd_waiter *w;
    if (!lk || !lk->locked) return -EPERM;
    schd__lock_forget_holder(lk);
    lk->locked = 0;
    if (lk->on_grant) lk->on_grant(lk, NULL);   /* tells a resource it was dropped */
    if ((w = schd__wl_pop(&lk->waiters)) != NULL) {   /* direct hand-off: FIFO, no barging */
        schd__lock_take(lk, w);
        schd__grant(w, 0);
    }
    return 0;
}

SCHD_PRIVATE void schd__lock_drop_held(schd_lock *lk) { schd_lock_release(lk); }

SCHD_PRIVATE int schd__lock_begin(schd_lock *lk, schd_waiter *w)
{
    w->status = 0;
    if (!lk->locked && !lk->waiters.head) {
        schd__lock_take(lk, w);
        return 0;
    }
    schd__wl_push(&lk->waiters, w);
    return 1;
}

SCHD_API int schd_lock_try(schd_lock *lk)
{
    if (!lk) return -EINVAL;
    if (lk->locked || lk->waiters.head) return -EBUSY;
    schd__lock_take(lk, NULL);
    return 0;
}

SCHD_API int schd__await_lock(schd_task *t, schd_lock *lk)
{
    if (schd__cancel_pending(t)) return 1;
    return schd__task_wait(t, schd__lock_begin(lk, &t->wait));
}

SCHD_API int schd_lock_acquire_cb(schd_lock *lk, schd_waiter *w)
{
    if (!lk) return -EINVAL;
    SCHD__CB_WAIT(w, schd__lock_begin(lk, w));
}

/* ==== section: semaphore ==== */

SCHD_API int schd_sem_init(schd_sem *s, int count, int max)
{
    if (!s) return -EINVAL;
    memset(s, 0, sizeof *s);
    s->max = max < 0 ? 0 : max;
    s->count = count < 0 ? 0 : s->max > 0 && count > s->max ? s->max : count;
    return count < 0 || max < 0 || (max > 0 && count > max) ? -EINVAL : 0;
}

SCHD_API int schd_sem_value(const schd_sem *s) { return s ? s->count : 0; }

SCHD_API int schd_sem_try(schd_sem *s)
{
    if (!s) return -EINVAL;
    if (s->count <= 0 || s->waiters.head) return -EAGAIN;
    s->count--;
    return 0;
}

SCHD_API int schd_sem_release(schd_sem *s)
{
    schd_waiter *w;
    if (!s) return -EINVAL;
    if ((w = schd__wl_pop(&s->waiters)) != NULL) {
        schd__grant(w, 0);
        return 0;
    }
    if ((s->max > 0 && s->count >= s->max) || s->count == INT_MAX) return -EOVERFLOW;
    s->count++;
    return 0;
}

SCHD_PRIVATE int schd__sem_begin(schd_sem *s, schd_waiter *w)
{
    w->status = 0;
    if (s->count > 0 && !s->waiters.head) {
        s->count--;
        return 0;
    }
    schd__wl_push(&s->waiters, w);
    return 1;
}

SCHD_API int schd__await_sem(schd_task *t, schd_sem *s)
{
    if (schd__cancel_pending(t)) return 1;
    return schd__task_wait(t, schd__sem_begin(s, &t->wait));
}

SCHD_API int schd_sem_acquire_cb(schd_sem *s, schd_waiter *w)
{
    if (!s) return -EINVAL;
    SCHD__CB_WAIT(w, schd__sem_begin(s, w));
}

/* ==== section: barrier ==== */

SCHD_API int schd_barrier_init(schd_barrier *b, int parties)
{
    if (!b || parties < 1) return -EINVAL;
    memset(b, 0, sizeof *b);
    b->parties = parties;
    return 0;
}

/* A waiter that times out or is cancelled leaves the list, so the count of
 * arrivals is always the length of the list. */
SCHD_PRIVATE int schd__barrier_begin(schd_barrier *b, schd_waiter *w)
{
    schd_waiter *other;
    w->status = 0;
    if (b->waiters.count + 1 >= b->parties) {
        while ((other = schd__wl_pop(&b->waiters)) != NULL) schd__grant(other, 0);
        b->cycles++;
        return 0;
    }
    schd__wl_push(&b->waiters, w);
    return 1;
}

SCHD_API int schd__await_barrier(schd_task *t, schd_barrier *b)
{
    if (schd__cancel_pending(t)) return 1;
    return schd__task_wait(t, schd__barrier_begin(b, &t->wait));
}

SCHD_API int schd_barrier_wait_cb(schd_barrier *b, schd_waiter *w)
{
    if (!b) return -EINVAL;
    SCHD__CB_WAIT(w, schd__barrier_begin(b, w));
}

/* ==== section: queue ==== */

SCHD_API int schd_queue_init(schd_queue *q, void *storage, size_t item_size, unsigned capacity, int mode)
{
    if (!q || !storage || !item_size || !capacity ||
        (mode != SCHD_QUEUE_BLOCK && mode != SCHD_QUEUE_OVERWRITE))
        return -EINVAL;
    memset(q, 0, sizeof *q);
    q->buf = (unsigned char *)storage;
    q->item_size = item_size;
    q->cap = capacity;
    q->mode = mode;
    return 0;
}

SCHD_API unsigned schd_queue_len(const schd_queue *q) { return q ? q->len : 0; }

SCHD_PRIVATE unsigned char *schd__q_at(schd_queue *q, unsigned i)
{
    return q->buf + (size_t)((q->head + i) % q->cap) * q->item_size;
}

SCHD_PRIVATE void schd__q_store(schd_queue *q, const void *item)
{
    memcpy(schd__q_at(q, q->len), item, q->item_size);
    q->len++;
}

/* Takes the oldest item; a waiting putter's item moves into the room. */
SCHD_PRIVATE void schd__q_take(schd_queue *q, void *item)
{
    schd_waiter *w;
    memcpy(item, schd__q_at(q, 0), q->item_size);
    q->head = (q->head + 1) % q->cap;
    q->len--;
    if ((w = schd__wl_pop(&q->putters)) != NULL) {
        schd__q_store(q, w->slot);
        schd__grant(w, 0);
    }
}

SCHD_PRIVATE int schd__q_put_now(schd_queue *q, const void *item)
{
    schd_waiter *w;
    if ((w = schd__wl_pop(&q->getters)) != NULL) {   /* hand it over directly */
        memcpy(w->slot, item, q->item_size);
        schd__grant(w, 0);
        return 0;
    }
    if (q->len < q->cap) {
        schd__q_store(q, item);
        return 0;
    }
    if (q->mode == SCHD_QUEUE_OVERWRITE) {
        q->head = (q->head + 1) % q->cap;
        q->len--;
        q->dropped++;
        schd__q_store(q, item);
        return 0;
    }
    return -EAGAIN;
}

SCHD_API int schd_queue_try_put(schd_queue *q, const void *item)
{
    if (!q || !item) return -EINVAL;
    return schd__q_put_now(q, item);
}

SCHD_API int schd_queue_try_get(schd_queue *q, void *item)
{
    if (!q || !item) return -EINVAL;
    if (!q->len) return -EAGAIN;
    schd__q_take(q, item);
    return 0;
}

SCHD_PRIVATE int schd__q_get_begin(schd_queue *q, schd_waiter *w, void *item)
{
    w->status = 0;
    if (q->len) {
        schd__q_take(q, item);
        return 0;
    }
    w->slot = item;
    schd__wl_push(&q->getters, w);
    return 1;
}

SCHD_PRIVATE int schd__q_put_begin(schd_queue *q, schd_waiter *w, const void *item)
{
    w->status = 0;
    if (!q->putters.head && schd__q_put_now(q, item) == 0) return 0;
    w->slot = (void *)(uintptr_t)item;
    schd__wl_push(&q->putters, w);
    return 1;
}

SCHD_API int schd__await_get(schd_task *t, schd_queue *q, void *item)
{
    if (schd__cancel_pending(t)) return 1;
    return schd__task_wait(t, schd__q_get_begin(q, &t->wait, item));
}

SCHD_API int schd__await_put(schd_task *t, schd_queue *q, const void *item)
{
    if (schd__cancel_pending(t)) return 1;
    return schd__task_wait(t, schd__q_put_begin(q, &t->wait, item));
}

SCHD_API int schd_queue_get_cb(schd_queue *q, schd_waiter *w, void *item)
{
    if (!q || !item) return -EINVAL;
    SCHD__CB_WAIT(w, schd__q_get_begin(q, w, item));
}

SCHD_API int schd_queue_put_cb(schd_queue *q, schd_waiter *w, const void *item)
{
    if (!q || !item) return -EINVAL;
    SCHD__CB_WAIT(w, schd__q_put_begin(q, w, item));
}

/* ==== section: completion and gather ==== */

SCHD_API void schd_completion_init(schd_completion *c) { if (c) memset(c, 0, sizeof *c); }

SCHD_API int schd_completion_signal(schd_completion *c, int status)
{
    schd_waiter *w;
    if (!c) return -EINVAL;
    if (c->done) return -EALREADY;
    c->done = 1;
    c->status = status;
    while ((w = schd__wl_pop(&c->waiters)) != NULL) schd__grant(w, status);
    return 0;
}

SCHD_API void schd_completion_reset(schd_completion *c) { if (c) c->done = c->status = 0; }

SCHD_PRIVATE int schd__completion_begin(schd_completion *c, schd_waiter *w)
{
    if (c->done) {
        w->status = c->status;
        return 0;
    }
    schd__wl_push(&c->waiters, w);
    return 1;
}

SCHD_API int schd__await_completion(schd_task *t, schd_completion *c)
{
    if (schd__cancel_pending(t)) return 1;
    return schd__task_wait(t, schd__completion_begin(c, &t->wait));
}

SCHD_API int schd_completion_wait_cb(schd_completion *c, schd_waiter *w)
{
    if (!c) return -EINVAL;
    SCHD__CB_WAIT(w, schd__completion_begin(c, w));
}

SCHD_API void schd_gather_init(schd_gather *g)
{
    if (!g) return;
    memset(g, 0, sizeof *g);
    schd_completion_init(&g->all);
    g->all.done = 1;   /* nothing to wait for yet */
}

SCHD_API void schd_gather_add(schd_gather *g, int count)
{
    if (!g || count <= 0) return;
    if (g->pending == 0) {
        schd_completion_reset(&g->all);
        g->first_error = 0;
    }
    g->pending += count;
}

SCHD_PRIVATE void schd__gather_member_done(schd_gather *g, int status)
{
    if (g->pending <= 0) return;
    if (status < 0 && g->first_error == 0) g->first_error = status;
    if (--g->pending == 0) schd_completion_signal(&g->all, g->first_error);
}

SCHD_API void schd_gather_done(schd_gather *g, int status) { if (g) schd__gather_member_done(g, status); }

SCHD_API int schd_gather_add_task(schd_gather *g, schd_task *t)
{
    if (!g || !t || t->gather) return -EINVAL;
    if (t->state != SCHD_TASK_READY && t->state != SCHD_TASK_WAITING) return -EALREADY;
    schd_gather_add(g, 1);
    t->gather = g;
    return 0;
}

SCHD_API int schd__await_gather(schd_task *t, schd_gather *g)
{
    return schd__await_completion(t, &g->all);
}

/* ==== section: thread-safe flag ==== */

SCHD_PRIVATE void schd__tflag_fire(schd_async *a, void *ud)
{
    schd_tflag *f = (schd_tflag *)ud;
    schd_waiter *w;
    (void)a;
    if ((w = schd__wl_pop(&f->event.waiters)) != NULL) schd__grant(w, 0);   /* one waiter per set */
    else f->set = 1;
}

SCHD_API int schd_tflag_init(schd_tflag *f, schd_loop *loop)
{
    if (!f) return -EINVAL;
    memset(f, 0, sizeof *f);
    schd_event_init(&f->event);
    return schd_async_init(&f->async, loop, schd__tflag_fire, f);
}

SCHD_API int schd_tflag_set(schd_tflag *f) { return f ? schd_async_send(&f->async) : -EINVAL; }
/* Waiting tasks get -ECANCELED, and so does every later await. */
SCHD_API void schd_tflag_close(schd_tflag *f)
{
    schd_waiter *w;
    if (!f || f->closed) return;
    f->closed = 1;
    schd_async_close(&f->async);
    while ((w = schd__wl_pop(&f->event.waiters)) != NULL) schd__grant(w, -ECANCELED);
}

SCHD_API int schd__await_tflag(schd_task *t, schd_tflag *f)
{
    if (schd__cancel_pending(t)) return 1;
    t->wait.status = 0;
    if (f->closed) {
        t->wait.status = -ECANCELED;
        return schd__task_wait(t, 0);
    }
    if (f->set) {
        f->set = 0;
        return schd__task_wait(t, 0);
    }
    schd__wl_push(&f->event.waiters, &t->wait);
    return schd__task_wait(t, 1);
}

/* ==== section: managed resource ==== */

/* The lock's grant hook: slot is the handle taking the resource, NULL when
 * the holder lets go. */
SCHD_PRIVATE void schd__res_hook(schd_lock *lk, void *slot)
{
    schd_resource *res = (schd_resource *)lk->grant_ud;
    schd_rhandle *h = (schd_rhandle *)slot;
    if (h) {
        res->holder = h;
        res->acquisitions++;
        if (res->on_acquire) res->on_acquire(res, h->arg);
    } else {
        schd_rhandle *old = res->holder;
        res->holder = NULL;
        if (old && res->on_release) res->on_release(res, old->arg);
    }
}

SCHD_API void schd_resource_init(schd_resource *res, void *object,
                                 schd_resource_cb on_acquire, schd_resource_cb on_release)
{
    if (!res) return;
    memset(res, 0, sizeof *res);
    schd_lock_init(&res->lock);
    res->lock.on_grant = schd__res_hook;
    res->lock.grant_ud = res;
    res->object = object;
    res->on_acquire = on_acquire;
    res->on_release = on_release;
}

SCHD_API void schd_resource_handle(schd_resource *res, schd_rhandle *h, void *arg)
{
    if (!h) return;
    h->res = res;
    h->arg = arg;
}

SCHD_API int schd_resource_release(schd_rhandle *h)
{
    if (!h || !h->res) return -EINVAL;
    if (h->res->holder != h) return -EPERM;
    return schd_lock_release(&h->res->lock);
}

SCHD_API int schd_resource_try(schd_rhandle *h)
{
    schd_waiter w;
    if (!h || !h->res) return -EINVAL;
    if (h->res->lock.locked || h->res->lock.waiters.head) return -EBUSY;
    memset(&w, 0, sizeof w);
    w.slot = h;
    schd__lock_take(&h->res->lock, &w);
    return 0;
}

SCHD_API int schd__await_acquire(schd_task *t, schd_rhandle *h)
{
    if (schd__cancel_pending(t)) return 1;
    t->wait.slot = h;
    return schd__task_wait(t, schd__lock_begin(&h->res->lock, &t->wait));
}

SCHD_API int schd_resource_acquire_cb(schd_rhandle *h, schd_waiter *w)
{
    if (!h || !h->res || !w) return -EINVAL;
    w->slot = h;
    SCHD__CB_WAIT(w, schd__lock_begin(&h->res->lock, w));
}

/* ==== section: frequency scheduler ==== */

SCHD_PRIVATE int64_t schd__gcd(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

SCHD_API schd_rate schd_hz(double hz)
{
    schd_rate r;
    int64_t millihz, g;
    r.num = r.den = 0;
    if (!(hz >= 0.001 && hz <= 1e6)) return r;
    millihz = (int64_t)(hz * 1000.0 + 0.5);
    g = schd__gcd(1000000000000LL, millihz);
    r.num = 1000000000000LL / g;
    r.den = millihz / g;
    return r;
}

SCHD_API schd_rate schd_period(int64_t ns)
{
    schd_rate r;
    r.num = ns > 0 ? ns : 0;
    r.den = ns > 0 ? 1 : 0;
    return r;
}

SCHD_API double schd_rate_hz(schd_rate rate)
{
    return rate.num > 0 ? 1e9 * (double)rate.den / (double)rate.num : 0.0;
}

/* Periods up to about three years: far from any overflow of the times. */
#define SCHD__MAX_PERIOD ((int64_t)100000000 * 1000000000)

SCHD_PRIVATE int schd__rate_ok(schd_rate r)
{
    return r.num > 0 && r.den > 0 && r.den < ((int64_t)1 << 32) && r.num / r.den <= SCHD__MAX_PERIOD;
}

/* floor(k * num / den) exactly, without overflow while den < 2^32. */
SCHD_PRIVATE int64_t schd__rate_offset(schd_rate r, uint64_t k)
{
    uint64_t num = (uint64_t)r.num, den = (uint64_t)r.den;
    uint64_t q = k / den, rem = k % den;
    return (int64_t)(q * num + rem * (num / den) + (rem * (num % den)) / den);
}

SCHD_API int64_t schd_job_due(const schd_job *job, uint64_t k)
{
    if (!job) return SCHD_NO_DEADLINE;
    return job->anchor + schd__rate_offset(job->rate, k);
}

/* The first period index whose time is after now. */
SCHD_PRIVATE uint64_t schd__job_first_after(const schd_job *job, int64_t now)
{
    double per = (double)job->rate.num / (double)job->rate.den;
    uint64_t k = job->next;
    if (now > job->anchor) {
        double est = (double)(now - job->anchor) / per;
        if (est > (double)k) k = (uint64_t)est;
    }
    while (k > job->next && schd_job_due(job, k - 1) > now) k--;
    while (schd_job_due(job, k) <= now) k++;
    return k;
}

SCHD_PRIVATE void schd__job_arm(schd_job *job)
{
    int64_t now = job->loop->core.now;
    if (schd_job_due(job, job->next) <= now) {
        if (job->policy == SCHD_LATE_CATCHUP && job->catchup_left > 0) {
            job->catchup_left--;   /* run the missed period now, back to back */
        } else {
            uint64_t k = schd__job_first_after(job, now);
            job->overruns += k - job->next;
            job->next = k;
        }
    } else {
        job->catchup_left = job->catchup_max;
    }
    schd_timer_start_at(&job->timer, job->loop, schd_job_due(job, job->next), 0);
}

SCHD_PRIVATE void schd__job_fire(schd_timer *timer, void *ud)
{
    schd_job *job = (schd_job *)ud;
    int64_t late = job->loop->core.now - schd_job_due(job, job->next);
    int run = 1;
    (void)timer;
    job->late_last = late;
    if (late > job->late_max) job->late_max = late;
    if (job->task) {
        int st = job->task->state;
        if (st == SCHD_TASK_READY || st == SCHD_TASK_WAITING) {
            run = 0;   /* the previous run goes on: never two at once */
            job->overruns++;
        } else {
            schd_task_start(job->task, job->loop, job->task_fn, job->ud);
        }
    }
    if (run) job->runs++;
    job->next++;
    schd__job_arm(job);
    if (run && !job->task) job->fn(job, job->ud);   /* last: it may stop or change the job */
}

SCHD_PRIVATE int schd__job_begin(schd_loop *loop, schd_job *job, schd_rate rate)
{
    if (!loop || !job || !schd__rate_ok(rate)) return -EINVAL;
    int policy = job->policy, catchup_max = job->catchup_max;   /* may be set before start */
    if (job->loop) schd_timer_stop(&job->timer, job->loop);   /* a restart */
    memset(job, 0, sizeof *job);
    job->policy = policy;
    job->catchup_max = job->catchup_left = catchup_max;
    schd_timer_init(&job->timer, schd__job_fire, job);
    job->loop = loop;
    job->rate = rate;
    job->anchor = akc_time(&loop->core);
    job->next = 1;
    job->late_max = 0;
    return 0;
}

SCHD_API int schd_job_start(schd_job *job, schd_loop *loop, schd_rate rate, schd_job_cb fn, void *ud)
{
    int rc;
    if (!fn) return -EINVAL;
    if ((rc = schd__job_begin(loop, job, rate)) < 0) return rc;
    job->fn = fn;
    job->ud = ud;
    return schd_timer_start_at(&job->timer, loop, schd_job_due(job, 1), 0);
}

SCHD_API int schd_job_start_task(schd_job *job, schd_loop *loop, schd_rate rate,
                                 schd_task *task, schd_task_cb fn, void *ud)
{
    int rc;
    if (!task || !fn) return -EINVAL;
    if ((rc = schd__job_begin(loop, job, rate)) < 0) return rc;
    job->task = task;
    job->task_fn = fn;
    job->ud = ud;
    return schd_timer_start_at(&job->timer, loop, schd_job_due(job, 1), 0);
}

SCHD_API void schd_job_stop(schd_job *job)
{
    if (job && job->loop) schd_timer_stop(&job->timer, job->loop);
}

SCHD_API void schd_job_pause(schd_job *job)
{
    if (!job || !job->loop || job->paused) return;
    job->paused = 1;
    schd_timer_stop(&job->timer, job->loop);
}

SCHD_API int schd_job_resume(schd_job *job)
{
    if (!job || !job->loop) return -EINVAL;
    if (!job->paused) return 0;
    job->paused = 0;
    job->anchor = akc_time(&job->loop->core);
    job->next = 1;
    return schd_timer_start_at(&job->timer, job->loop, schd_job_due(job, 1), 0);
}

SCHD_API int schd_job_set_rate(schd_job *job, schd_rate rate)
{
    if (!job || !job->loop || !schd__rate_ok(rate)) return -EINVAL;
    job->anchor = schd_job_due(job, job->next - 1);   /* the last period that came */
    job->rate = rate;
    job->next = 1;
    if (job->paused) return 0;
    return schd_timer_start_at(&job->timer, job->loop, schd_job_due(job, 1), 0);
}

SCHD_API void schd_job_set_late_policy(schd_job *job, int policy, int catchup_max)
{
    if (!job) return;
    job->policy = policy == SCHD_LATE_CATCHUP ? SCHD_LATE_CATCHUP : SCHD_LATE_SKIP;
    job->catchup_max = catchup_max > 0 ? catchup_max : 0;
    job->catchup_left = job->catchup_max;
}

/* ==== section: switch and pushbutton ==== */

SCHD_API schd_button_config schd_button_config_init(void)
{
    schd_button_config c;
    c.debounce_ns = SCHD_MS(20);
    c.long_ns = SCHD_MS(1000);
    c.double_ns = SCHD_MS(400);
    c.active_level = 1;
    return c;
}

SCHD_API const char *schd_button_event_name(int event)
{
    switch (event) {
    case SCHD_BTN_PRESS: return "press";
    case SCHD_BTN_RELEASE: return "release";
    case SCHD_BTN_LONG: return "long";
    case SCHD_BTN_DOUBLE: return "double";
    case SCHD_BTN_CLICK: return "click";
    default: return "?";
    }
}

/* Events wait in a small queue and leave it one per deferred call, so
 * that the user's callback is always the last thing that touches b. */
#define SCHD__BTN_QUEUE 16

SCHD_PRIVATE void schd__btn_flush(schd_defer *d, void *ud)
{
    schd_button *b = (schd_button *)ud;
    int ev;
    (void)d;
    if (!b->ev_len) return;
    ev = b->events[b->ev_head];
    b->event_ns = b->times[b->ev_head];
    b->ev_head = (b->ev_head + 1) % SCHD__BTN_QUEUE;
    if (--b->ev_len) schd_defer_start(&b->emit, b->loop, schd__btn_flush, b);
    b->cb(b, ev, b->ud);
}

/* at: when the event happened.  A full queue gives up its oldest event. */
SCHD_PRIVATE void schd__btn_post(schd_button *b, int ev, int64_t at)
{
    int i;
    if (b->ev_len == SCHD__BTN_QUEUE) {
        b->ev_head = (b->ev_head + 1) % SCHD__BTN_QUEUE;
        b->ev_len--;
        b->dropped++;
    }
    i = (b->ev_head + b->ev_len) % SCHD__BTN_QUEUE;
    b->events[i] = (unsigned char)ev;
    b->times[i] = at;
    b->ev_len++;
    schd_defer_start(&b->emit, b->loop, schd__btn_flush, b);
}

/* The button's deadlines are absolute, counted from the time things
 * happened (at), so that timestamped edges and timers agree.
 * clicks: 0 idle, 1 first press with its double window open, 2 second
 * press of a double, 3 a press whose click is decided at release. */
SCHD_PRIVATE void schd__btn_pressed(schd_button *b, int64_t at)
{
    schd__btn_post(b, SCHD_BTN_PRESS, at);
    b->long_fired = 0;
    if (b->cfg.long_ns > 0) schd_timer_start_at(&b->long_timer, b->loop, akc_add_sat(at, b->cfg.long_ns), 0);
    if (b->cfg.double_ns <= 0) {
        b->clicks = 3;
    } else if (b->clicks == 1 && schd_timer_active(&b->double_timer)) {
        schd_timer_stop(&b->double_timer, b->loop);
        b->clicks = 2;
        schd__btn_post(b, SCHD_BTN_DOUBLE, at);
    } else {
        b->clicks = 1;
        schd_timer_start_at(&b->double_timer, b->loop, akc_add_sat(at, b->cfg.double_ns), 0);
    }
}

SCHD_PRIVATE void schd__btn_released(schd_button *b, int64_t at)
{
    schd_timer_stop(&b->long_timer, b->loop);
    schd__btn_post(b, SCHD_BTN_RELEASE, at);
    if (b->clicks == 3 && !b->long_fired) schd__btn_post(b, SCHD_BTN_CLICK, at);
    if (b->clicks != 1) b->clicks = 0;
}

SCHD_PRIVATE void schd__btn_settle(schd_button *b, int64_t at)
{
    if (b->raw == b->stable) return;
    b->stable = b->raw;
    if (b->stable) schd__btn_pressed(b, at); else schd__btn_released(b, at);
}

/* A long press is neither a click nor the first half of a double. */
SCHD_PRIVATE void schd__btn_held(schd_button *b, int64_t at)
{
    b->long_fired = 1;
    b->clicks = 0;
    schd_timer_stop(&b->double_timer, b->loop);
    schd__btn_post(b, SCHD_BTN_LONG, at);
}

SCHD_PRIVATE void schd__btn_window_closed(schd_button *b, int64_t at)
{
    if (b->clicks != 1) return;
    if (b->stable) {
        b->clicks = 3;   /* still held: decide at release */
    } else {
        b->clicks = 0;
        schd__btn_post(b, SCHD_BTN_CLICK, at);
    }
}

/* The timers' callbacks: the loop's due time is when the deadline was. */
SCHD_PRIVATE void schd__btn_debounced(schd_timer *t, void *ud)
{
    schd_button *b = (schd_button *)ud;
    (void)t;
    schd__btn_settle(b, b->loop->core.due);
}

SCHD_PRIVATE void schd__btn_long(schd_timer *t, void *ud)
{
    schd_button *b = (schd_button *)ud;
    (void)t;
    schd__btn_held(b, b->loop->core.due);
}

SCHD_PRIVATE void schd__btn_window(schd_timer *t, void *ud)
{
    schd_button *b = (schd_button *)ud;
    (void)t;
    schd__btn_window_closed(b, b->loop->core.due);
}

/* Runs, in time order, the button's deadlines that fell due at or before
 * when (an edge that reaches us late must find the state it happened in). */
SCHD_PRIVATE void schd__btn_advance(schd_button *b, int64_t when)
{
    for (;;) {
        schd_timer *ts[3];
        int i, first = -1;
        int64_t due = when;
        ts[0] = &b->debounce;
        ts[1] = &b->long_timer;
        ts[2] = &b->double_timer;
        for (i = 0; i < 3; i++) {
            int64_t d = schd_timer_due(ts[i], b->loop);
            if (d <= due && (first < 0 || d < due)) { first = i; due = d; }
        }
        if (first < 0) return;
        schd_timer_stop(ts[first], b->loop);
        if (first == 0) schd__btn_settle(b, due);
        else if (first == 1) schd__btn_held(b, due);
        else schd__btn_window_closed(b, due);
    }
}

SCHD_API int schd_button_init(schd_button *b, schd_loop *loop, const schd_button_config *cfg,
                              schd_button_cb cb, void *ud)
{
    schd_button_config c = cfg ? *cfg : schd_button_config_init();
    if (!loop || !b || !cb || c.debounce_ns < 0 || c.long_ns < 0 || c.double_ns < 0) return -EINVAL;
    memset(b, 0, sizeof *b);
    b->cfg = c;
    b->loop = loop;
    b->cb = cb;
    b->ud = ud;
    b->fed_ns = INT64_MIN;
    schd_timer_init(&b->debounce, schd__btn_debounced, b);
    schd_timer_init(&b->long_timer, schd__btn_long, b);
    schd_timer_init(&b->double_timer, schd__btn_window, b);
    return 0;
}

SCHD_API void schd_button_feed_at(schd_button *b, int level, int64_t when)
{
    int pressed;
    if (!b || !b->loop) return;
    if (when < b->fed_ns) when = b->fed_ns;   /* out of order: no going back */
    b->fed_ns = when;
    schd__btn_advance(b, when);
    pressed = (level != 0) == (b->cfg.active_level != 0);
    if (pressed == b->raw) return;
    b->raw = pressed;
    if (pressed == b->stable) schd_timer_stop(&b->debounce, b->loop);   /* a bounce */
    else schd_timer_start_at(&b->debounce, b->loop, akc_add_sat(when, b->cfg.debounce_ns), 0);
}

SCHD_API void schd_button_feed(schd_button *b, int level)
{
    if (!b || !b->loop) return;
    schd_button_feed_at(b, level, akc_time(&b->loop->core));
}

SCHD_API void schd_button_stop(schd_button *b)
{
    if (!b || !b->loop) return;
    b->ev_len = 0;
    schd_defer_cancel(&b->emit, b->loop);
    schd_timer_stop(&b->debounce, b->loop);
    schd_timer_stop(&b->long_timer, b->loop);
    schd_timer_stop(&b->double_timer, b->loop);
}

#ifdef __cplusplus
}
#endif

#endif /* SCHD_IMPLEMENTATION */

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

/* ==== asynckit usb-sched bridge begin ==== */
/* sched.h tasks await asyncusb.h's operations.  sched.h and asyncusb.h
 * both carry this block (stamped from core/bridge_usb.h by
 * tools/stamp_core.sh); whichever of the two comes second in a file
 * compiles it, with static functions, in every file that includes both.
 *
 *   AUSB_AWAIT_TRANSFER(t, xfer)       submits a filled transfer and waits
 *                                      for it: SCHD_STATUS(t) is its status,
 *                                      xfer->actual_length what moved
 *   AUSB_AWAIT_STRING(t, req, h, index, timeout_ns)   a string descriptor:
 *                                      SCHD_STATUS(t) 0 and the text in
 *                                      ausb_string_text(req), or an error
 *
 * Both take over the transfer's (or request's) callback.  A timeout set
 * with schd_task_timeout or a schd_task_cancel ends the await at once
 * (-ETIMEDOUT, -ECANCELED) and cancels the transfer; the kernel gives it
 * back later, and awaiting the same transfer again before then resubmits
 * it as soon as it is back, so the handle and the transfer stay usable. */
#if defined(SCHD_H_INCLUDED) && defined(ASYNCUSB_H) && !defined(AUSB_NO_LIBUSB) && !defined(AKC_BRIDGE_USB)
#define AKC_BRIDGE_USB 1
#include <errno.h>

#define AUSB_AWAIT_TRANSFER(t, xfer) SCHD_AWAIT_(t, ausb__await_transfer((t), (xfer)))
#define AUSB_AWAIT_STRING(t, req, h, index, timeout_ns) \
    SCHD_AWAIT_(t, ausb__await_string((t), (req), (h), (index), (timeout_ns)))

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define AUSB__BRIDGE static __attribute__((unused))
#else
#define AUSB__BRIDGE static
#endif

static void ausb__await_done(ausb_transfer *x, int status, void *ud)
{
    schd_task_op_end((schd_task *)ud, x, status);
}

/* A transfer whose await ended first comes back here.  ud is a task that
 * awaited it again meanwhile: it is submitted for that task now. */
static void ausb__await_returned(ausb_transfer *x, int status, void *ud)
{
    int r;
    (void)status;
    if (!ud) return;
    x->cb = ausb__await_done;
    if ((r = ausb_submit(x)) < 0) schd_task_op_end((schd_task *)ud, x, r);
}

static void ausb__await_withdraw_transfer(schd_task *t, void *op)
{
    ausb_transfer *x = (ausb_transfer *)op;
    (void)t;
    if (x->cb == ausb__await_returned) {   /* still on its way back: no resubmit */
        x->ud = NULL;
        return;
    }
    x->cb = ausb__await_returned;
    x->ud = NULL;
    (void)ausb_cancel(x);
}

AUSB__BRIDGE int ausb__await_transfer(schd_task *t, ausb_transfer *x)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    if (x && x->cb == ausb__await_returned && ausb_transfer_state(x) != AUSB_XFER_IDLE) {
        x->ud = t;   /* cancelled by an earlier await: resubmitted once it is back */
        return schd_task_op_begin(t, x, ausb__await_withdraw_transfer);
    }
    if (!x || !x->lt) return schd_task_op_failed(t, -EINVAL);
    if (ausb_transfer_state(x) != AUSB_XFER_IDLE) return schd_task_op_failed(t, -EBUSY);
    x->cb = ausb__await_done;
    x->ud = t;
    if ((r = ausb_submit(x)) < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, x, ausb__await_withdraw_transfer);
}

static void ausb__await_string_done(ausb_string_req *req, int status, const char *utf8, void *ud)
{
    (void)utf8;
    if (ud) schd_task_op_end((schd_task *)ud, req, status);
}

static void ausb__await_withdraw_string(schd_task *t, void *op)
{
    ausb_string_req *req = (ausb_string_req *)op;
    (void)t;
    req->ud = NULL;   /* its end reaches nobody */
    (void)ausb_cancel(&req->xfer);
}

AUSB__BRIDGE int ausb__await_string(schd_task *t, ausb_string_req *req, ausb_handle *h, int index, int64_t timeout_ns)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = ausb_read_string(req, h, index, timeout_ns, ausb__await_string_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, req, ausb__await_withdraw_string);
}

static void ausb__signal_completion(ausb_transfer *x, int status, void *ud)
{
    (void)x;
    (void)schd_completion_signal((schd_completion *)ud, status);
}

/* Initialises c, submits x, and signals c with x's status when it
 * completes (for SCHD_AWAIT_COMPLETION and gathers).  Replaces x's
 * callback and user pointer. */
AUSB__BRIDGE int ausb_submit_completion(ausb_transfer *x, schd_completion *c)
{
    if (!x || !c || !x->lt) return -EINVAL;
    if (ausb_transfer_state(x) != AUSB_XFER_IDLE) return -EBUSY;
    schd_completion_init(c);
    x->cb = ausb__signal_completion;
    x->ud = c;
    return ausb_submit(x);
}

/* schd_source_add(src, loop, ausb_prepare, ausb_dispatch, ctx) */
AUSB__BRIDGE int ausb_attach(ausb_ctx *ctx, schd_loop *loop, schd_source *src)
{
    if (!ctx || !ctx->lu) return -EINVAL;
    return schd_source_add(src, loop, ausb_prepare, ausb_dispatch, ctx);
}

#ifdef __cplusplus
}
#endif
#endif /* AKC_BRIDGE_USB */
/* ==== asynckit usb-sched bridge end ==== */

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

#endif /* not a system header's <sched.h> */

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
