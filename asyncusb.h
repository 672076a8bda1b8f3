/* asyncusb.h - v0.2.0 - async USB on libusb-1.0 for C99 - MIT licence or public domain, at your choice (see the end of the file)

# asyncusb.h

Asynchronous USB for C programs on Linux, as one header on top of
libusb-1.0 (1.0.26 or newer): a context that lists devices, a descriptor
tree to walk, device handles that claim interfaces and clean up after
themselves, transfers that complete through one callback each, streaming
pipelines, hotplug, and a context that joins any poll loop.

Define `AUSB_IMPLEMENTATION` in exactly one C file before including it:

    #define AUSB_IMPLEMENTATION
    #include "asyncusb.h"

and build with one command:

    cc -std=c99 -O2 -I. -o app app.c $(pkg-config --cflags --libs libusb-1.0)

Include it before other system headers in that file, or compile with
`-D_GNU_SOURCE`, because the implementation needs POSIX and GNU
declarations (`clock_gettime`, `syscall`; it stops with an `#error` that
says so otherwise).  Other files include it without the macro.

## Options (define before the include)

- `AUSB_STATIC`: every function becomes `static`, and the implementation
  is compiled into this file (for a program of one file).
- `AUSB_API`: decoration of public functions (default `extern`).
- `AUSB_MALLOC(n)`, `AUSB_REALLOC(p, n)`, `AUSB_FREE(p)`: allocator hooks;
  define all three or none (default: the C library).  Device lists, the
  loop's tables, pipeline and OUT queue buffers (where usbfs does not map
  them, see Zero-copy under Handles), hotplug events
  and the rare deferred close use them.  libusb allocates with the C
  library, past these hooks: each transfer once, in `ausb_transfer_init`
  (and `ausb_read_string`), and, as measured with libusb 1.0.26 on 64-bit
  Linux, one block per submit, which it frees when the transfer
  completes: 56 bytes per kernel request (URB), with one URB for a
  control or interrupt transfer, one for a bulk transfer when the host
  controller does scatter-gather (else one per 16 KiB), and 160 bytes in
  two blocks for 8 isochronous packets.  asyncusb.h itself allocates
  nothing per submit.
- `AUSB_LIBUSB(fn)`: every libusb call goes through this macro (default:
  the function itself), so a test build can wrap or fail any of them, e.g.
  `#define AUSB_LIBUSB(fn) my_faulty_##fn`.
- `AUSB_CLOSE_WAIT_NS`: how long `ausb_close` waits for the kernel to give
  back cancelled transfers (default 10000); any still out then are
  delivered as cancelled.
- `AUSB_USBFS_MEMORY_PATH`: the file that holds the kernel's usbfs memory
  limit in MiB (default `"/sys/module/usbcore/parameters/usbfs_memory_mb"`),
  any expression of type `const char *`, so a test can point it at a file
  of its own (see "The usbfs memory limit").
- `AUSB_NO_ZERO_COPY`: pipes and OUT queues never map their buffers from
  usbfs (`ausb_set_zero_copy` switches it per handle at run time).
- `AUSB_HOTPLUG_NODE_WAIT_NS`: how long the kernel's hotplug monitor
  (see Hotplug) waits for a new device's usbfs node to open before it
  gives up on the device (default 2 s, tried every 20 ms).
- `AUSB_NO_LIBUSB`: only the parts that need no libusb (error text, the
  raw descriptor walker, IADs, UTF-16 decoding, setup packets, speed and
  endpoint type names), for tools and tests on targets without libusb.
- `ASYNCKIT_POLL`: the loop waits with `poll()` instead of epoll; the
  structures do not change with it.
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
- `ASYNCKIT_IMPLEMENTATION` / `ASYNCKIT_STATIC` turn on the switches of
  every header of the family.

## Tour

    static void on_done(ausb_transfer *t, int status, void *ud) {
        if (status == 0) use(t->actual_length);
        else fprintf(stderr, "%s\n", ausb_strerror(status));
    }

    ausb_ctx ctx;
    ausb_ctx_init(&ctx, NULL);                 // or a config: log level, no discovery
    ausb_device dev;
    if (ausb_find_id(&dev, &ctx, 0x04a9, 0x31c0) == 0) {
        ausb_handle h;
        ausb_open(&h, &dev);
        ausb_claim(&h, 0);                 // detaches a kernel driver if needed
        ausb_transfer t;
        ausb_transfer_init(&t, 0);         // once; reuse it for every submit
        ausb_fill_bulk(&t, &h, 0x81, buf, sizeof buf, AUSB_MS(1000), on_done, NULL);
        ausb_submit(&t);
        ausb_run(&ctx);                    // until nothing is in flight
        ausb_transfer_free(&t);
        ausb_close(&h);                    // releases, reattaches
        ausb_device_release(&dev);
    }
    ausb_ctx_close(&ctx);

A pipeline that keeps 16 bulk transfers in flight and hands the chunks
over in order:

    static int on_chunk(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *ud) {
        if (!room_for(len)) return AUSB_PIPE_HOLD;   // redelivered after ausb_pipe_resume
        consume(data, len);
        return 0;
    }
    ausb_pipe_config pc;
    ausb_pipe_config_init(&pc);                     // 4 x 16 KiB
    pc.in_flight = 16;
    ausb_pipe_start(&pipe, &h, 0x81, AUSB_EP_BULK, &pc, on_chunk, on_end, NULL);

## Rules

- `ausb_submit` returning 0 means exactly one callback later; an error
  return means none.  Callbacks run from `ausb_dispatch` (or `ausb_run*`),
  never inside the call that started the operation and never inside
  libusb's event handling (unless the transfer asked for
  `AUSB_INLINE_CALLBACK`), so a callback may resubmit its transfer, free
  it, call synchronous functions such as `ausb_claim`, or close the handle.
- Status codes: 0 completed, `-ETIMEDOUT`, `-ECANCELED`, `AUSB_ESTALL`,
  `-ENODEV`, `AUSB_EBABBLE`, `-EIO`.  A submit, pipe or OUT queue that
  would pass the kernel's usbfs memory limit fails at once with
  `-ENOBUFS` (see "The usbfs memory limit").  Once a
  transfer reports no-device, the handle is marked gone and later submits
  fail at once with `-ENODEV`.
- `ausb_cancel` is idempotent; the callback still comes exactly once, with
  `-ECANCELED` or with the outcome that won the race.  It also reaches a
  transfer that `ausb_submit_any_thread` queued and the loop has not
  submitted yet (it completes with `-ECANCELED`, never reaching the device).
- `ausb_close` cancels everything in flight on the handle, releases claimed
  interfaces, reattaches kernel drivers it detached and closes the handle,
  then delivers those callbacks before it returns (a transfer the kernel
  has not given back within `AUSB_CLOSE_WAIT_NS` reports `-ECANCELED`), so
  a callback may free the handle's storage or even call `ausb_ctx_close`.
  `ausb_ctx_close` closes every handle still open and runs the deferred calls
  (also those deferred meanwhile); `ausb_ctx_close` from a callback that exit
  itself delivers does nothing.  From any other callback of the context's
  dispatch (a transfer's, a signal watcher's, a deferred call's) it is
  carried out when that dispatch returns, before `ausb_run_once` or
  `ausb_dispatch` returns: the context stays usable until then.
- An `ausb_stop` made while `ausb_run` is not running ends the next
  `ausb_run` at once.
- `ausb_ctx`, `ausb_handle` and `ausb_transfer` are caller storage that
  must not move while in use (open, or in flight).
- One thread drives a context; only `ausb_stop` (also from a signal
  handler) and `ausb_submit_any_thread` may be called from another thread
  (transfer init and fill too, on a transfer the loop is not using).

## API by section

Functions return 0 (or a count) on success and a negative code on failure;
NULL or out-of-range arguments give `-EINVAL`.  Callback types are in
brackets.  The sections follow the order of the declarations below.

### Context and loop

    void ausb_ctx_config_init(ausb_ctx_config *cfg);   log_level 0..4 (libusb's), no_discovery
    int  ausb_ctx_init(ausb_ctx *ctx, const ausb_ctx_config *cfg);   cfg NULL: defaults
    void ausb_ctx_close(ausb_ctx *ctx);            closes every open handle, delivers what is due
    int  ausb_prepare(void *ctx, struct pollfd *fds, int cap, int64_t *deadline_ns);
    void ausb_dispatch(void *ctx, struct pollfd *fds, int n);
    int  ausb_run_once(ausb_ctx *ctx, int64_t timeout_ns);   one wait (-1: no limit);
                                              1 while ausb_run would go on, else 0;
                                              <0 on error
    int  ausb_run(ausb_ctx *ctx);             until ausb_stop, or until nothing is in flight
                                              or queued and no hotplug watch is started
    void ausb_stop(ausb_ctx *ctx);            any thread, also a signal handler
    int  ausb_pending(const ausb_ctx *ctx);   transfers in flight plus queued work (hotplug
                                              watches are not counted)
    int64_t ausb_now_ns(void);                CLOCK_MONOTONIC
    void ausb_deferred_init(ausb_deferred *d);   caller storage, any content (or zeroed)
    void ausb_defer(ausb_deferred *d, ausb_ctx *ctx, cb, ud);   [cb(d, ud)] from
                                              the next dispatch; no-op while queued
    const char *ausb_strerror(int code);      any code, also -errno
    int  ausb_from_libusb(int value, int is_status);   a libusb_error, or a transfer
                                              status (is_status 1), as our code
    int64_t ausb_usbfs_limit(ausb_ctx *ctx);  the kernel's usbfs memory limit in bytes,
                                              read again now (0: none, or unreadable)
    int64_t ausb_usbfs_in_use(const ausb_ctx *ctx);   bytes of it this context holds

### The usbfs memory limit

Linux lets all programs together hold `usbfs_memory_mb` MiB (a parameter
of usbcore, 16 by default) in transfers submitted through usbfs: each
transfer's buffer plus a few hundred bytes per kernel request.  Past it
the kernel refuses the next submit, which used to surface deep inside a
running stream.  The context reads the limit when it starts, and again
at every `ausb_pipe_start`, `ausb_outq_init` and `ausb_epstream_open`; it
counts what its own transfers in flight and its streams' buffers hold,
and refuses up front, with `-ENOBUFS` and nothing submitted, what would
pass the limit: a pipe of 64 x 64 KiB (4 MiB) on a system where it is 1
MiB, say.  A submit the kernel refuses for memory (other programs hold
their share too) also reads `-ENOBUFS`.  The fix is the system's: as
root,

    echo 0 > /sys/module/usbcore/parameters/usbfs_memory_mb    # no limit, until reboot

or the kernel parameter `usbcore.usbfs_memory_mb=256` (0 for none) for
good; or fewer or smaller transfers in flight.  `ausb_usbfs_limit` gives
the limit to name in a message.

### Signals

    void ausb_signal_init(ausb_signal *sig, cb, ud);   [cb(sig, const ausb_siginfo *info, ud)]
    int  ausb_signal_start(sig, ctx, int signo);   blocks signo in this thread; a started
                                              watcher moves to signo
    int  ausb_signal_stop(sig, ctx);          0 also when not started
    int  ausb_signal_active(const ausb_signal *sig);   1 while started

A signal watcher delivers a signal through the context's loop: the
callback runs from dispatch, so it may stop a pipe, close a handle or call
`ausb_stop` (a monitor that runs until Ctrl-C: a watcher of SIGINT whose
callback calls `ausb_stop(ctx)`, started next to its hotplug watch).  No
handler is installed: the context reads a signalfd of its own, whose mask
is the signals its watchers watch.  The semantics are those of sched.h's
and aio_stream.h's watchers:

- Any signal that can be blocked may be watched; SIGKILL, SIGSTOP, the
  signals a fault raises (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
  SIGSYS), those the C library keeps for its threads, and a context not
  initialised give `-EINVAL`.  A signal may have several watchers, each
  called once per delivery; a callback may stop or start any watcher.
  `info` holds `signo`, `code` (si_code), `pid` and `uid` of the sender,
  `value` (sigqueue's int) and, for SIGCHLD, `status`.  Standard signals
  do not queue (two before the loop reads them are one call); real-time
  signals do.
- The first watcher of a signal blocks it in the calling thread (the
  context's), so that it waits, pending, for the loop: one that arrives
  after the watcher started comes with the first dispatch, however late.
  One that arrives before any watcher meets its disposition (SIGINT ends
  the process).  When the last watcher of a signal stops, or
  `ausb_ctx_close` stops them all, the thread's mask is as it was, and a
  signal not yet read then is dropped, not left to its default action.
  Watch a given signal in one loop only (a `schd_loop` and a context
  attached to it each read their own signalfd).
- A started watcher must not move until it stops.  Like a hotplug watch,
  it keeps `ausb_run` going: a program that waits for Ctrl-C stops its
  watchers (or calls `ausb_stop`) from the callback.
- Threads: a signal sent to the process goes to any thread that does not
  block it, and only the context's thread blocks it.  libusb starts its
  own thread (the hotplug monitor) inside `libusb_init`, and
  `ausb_ctx_init` calls `libusb_init` with every signal blocked, so that
  thread never takes one, whatever the program's mask was; the program
  needs to do nothing for it.  A `libusb_init` of the program's own, or of
  another library, may start that thread first: call it with every signal
  blocked too (`pthread_sigmask(SIG_SETMASK, &all, &old)` with `all` from
  `sigfillset`, then `libusb_init`, then `pthread_sigmask(SIG_SETMASK,
  &old, NULL)`), and start the program's own threads with the watched
  signals blocked (block them in `main` before the first
  `pthread_create`).  Otherwise a SIGTERM can end the process past its
  watcher.

### Devices

    int  ausb_devices(ausb_device_list *list, ctx);    the count; free with ausb_devices_free
    void ausb_devices_free(ausb_device_list *list);
    void ausb_filter_init(ausb_filter *f);    every field "any"
    int  ausb_find(ausb_device *out, ctx, const ausb_filter *f);   first match, or
                                              -ENOENT; release it
    int  ausb_find_id(ausb_device *out, ctx, int vendor_id, int product_id);
    int  ausb_device_matches(const ausb_device *dev, const ausb_filter *f);   1 or 0
    int  ausb_parse_ids(const char *text, int *vid, int *pid);   "04a9:31c0" from a
                                              command line: 0, or -EINVAL
    int  ausb_device_copy(ausb_device *dst, const ausb_device *src);   another reference
    void ausb_device_release(ausb_device *dev);
    int  ausb_device_bus(dev); int ausb_device_address(dev);
    int  ausb_device_ports(dev, uint8_t *ports, int cap);   port numbers from the root
    int  ausb_device_port_path(dev, char *buf, size_t cap); "1-1.5.2.3", as in sysfs
    int  ausb_device_speed_kbps(dev);         1500, 12000, 480000, 5000000, 10000000; 0 unknown
    const char *ausb_speed_text(int kbps);    "1.5", "12", "480", "5000", "10000", "?"
    const ausb_device_desc *ausb_device_descriptor(dev);   also in dev->desc
    int  ausb_device_ep0_max_packet(dev);     in bytes (decoded from 2^n for USB 3)

A filter matches vendor and product ids, a class triple on the device or
on any interface, a bus, a port path, a serial number (which opens the
device to read it) and a predicate `int pred(const ausb_device *, void *)`;
fields left at their init value match anything.  `ausb_parse_ids` takes
ids as lsusb -d writes them, 1 to 4 hex digits each side of the colon,
and nothing else: no sign, space, 0x or trailing characters.

### Descriptors

    int  ausb_config_get(ausb_config_desc **out, dev, int index);   parsed tree; free it
    int  ausb_config_active(ausb_config_desc **out, dev);
    void ausb_config_free(ausb_config_desc *cfg);
    const ausb_interface *ausb_config_interface(cfg, int number);   by bInterfaceNumber
    const ausb_altsetting *ausb_interface_altsetting(in, int alt); by bAlternateSetting
    const ausb_endpoint_desc *ausb_altsetting_endpoint(s, unsigned char address);
    const ausb_interface *ausb_config_interface_at(cfg, int i);     by position, NULL past
    const ausb_altsetting *ausb_interface_altsetting_at(in, int i); the last or when libusb
    const ausb_endpoint_desc *ausb_altsetting_endpoint_at(s, int i); left the array out
    int  ausb_config_verify(cfg);             0, or AUSB_EMALFORMED when libusb's tree
                                              lacks part of what the device announced
    int  ausb_config_raw(dev, int index, void *buf, size_t cap);   the bytes libusb parses
                                              (Linux sysfs): their length, for ausb_config_check
    int  ausb_config_raw_check(dev, int index);   ausb_config_check on them, and
                                              wTotalLength must be their length
    int  ausb_ep_type(ep);                    AUSB_EP_CONTROL, _ISOCHRONOUS, _BULK, _INTERRUPT
    const char *ausb_ep_type_name(int type);  "Control", "Isochronous", "Bulk", "Interrupt"
    int  ausb_ep_is_in(ep); int ausb_ep_number(ep);
    int  ausb_ep_packet_size(ep);             bits 0..10 of wMaxPacketSize
    int  ausb_ep_multiplier(ep, int speed_kbps);   packets per interval: high-bandwidth
                                              multiplier, or SuperSpeed burst x mult
    int  ausb_ep_max_packet(ep, int speed_kbps);   size x multiplier
    long ausb_ep_interval_us(ep, int speed_kbps);  service interval, 0 for bulk and control
    void ausb_desc_iter_init(ausb_desc_iter *it, const void *buf, size_t len);
    int  ausb_desc_next(it, const uint8_t **desc, size_t *len);   1 and the next one,
                                              0 at a clean end, AUSB_EMALFORMED
    int  ausb_config_check(const void *raw, size_t len);   the number of descriptors
    int  ausb_iad_parse(const uint8_t *desc, size_t len, ausb_iad *out);
    int  ausb_config_iads(cfg, ausb_iad *out, int cap);    how many (may exceed cap)
    int  ausb_raw_iads(const void *raw, size_t len, ausb_iad *out, int cap);
    int  ausb_utf16le_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap);
                                              the length, or -ENOSPC when cut
    int  ausb_utf8_printable(char *s);        control characters and bad UTF-8 become
                                              '?', in place; how many were replaced

The tree runs configurations > interfaces > alternate settings >
endpoints (libusb's structures), each with its class-specific `extra`
bytes, which `ausb_desc_iter` walks.  `ausb_config_check` and
`ausb_desc_next` take raw bytes from an untrusted device: a zero or
oversized bLength, truncation, a lying wTotalLength or bNumInterfaces stop
them with `AUSB_EMALFORMED`, never a read out of bounds.

libusb's parsed tree is not trusted either.  On a malformed configuration
libusb 1.0.26 can report success with an alternate setting whose
bNumEndpoints is 3 and whose endpoint array is NULL, or quietly drop what
it could not parse.  Every function here treats a count whose array is
missing (or a negative count) as zero, so walk the tree with the `_at`
functions rather than by its counts:

    for (i = 0; (in = ausb_config_interface_at(cfg, i)) != NULL; i++)
        for (a = 0; (s = ausb_interface_altsetting_at(in, a)) != NULL; a++)
            for (e = 0; (ep = ausb_altsetting_endpoint_at(s, e)) != NULL; e++) ...

`ausb_config_verify` says whether the tree holds the whole configuration:
it has an interface, the bytes of its descriptors and their extras add up
to wTotalLength and no count lacks its array.  libusb also corrects some
lies without a trace (a wTotalLength that ends at an interface boundary
drops the interfaces after it, and bNumInterfaces with them), so a tool
that must know also checks the raw bytes: `ausb_config_raw` copies the
configuration from sysfs, where the kernel keeps what libusb parses (from
its configuration descriptor to the next one, the last to the end), and
`ausb_config_raw_check` runs `ausb_config_check` on them and holds
wTotalLength to their length.  Both need a readable sysfs (not Android
without root): otherwise they return a -errno and the tree's check is all
there is.  A tool that shows descriptors reports a configuration that
fails either as malformed; a driver may still use what libusb did parse.
Device strings, and any other text a device chooses, go through
`ausb_utf8_printable` before they reach a terminal.

### Handles

    int  ausb_open(ausb_handle *h, const ausb_device *dev);   -EBUSY for a
                                              handle still open (close it first)
    int  ausb_wrap_fd(ausb_handle *h, ausb_ctx *ctx, int fd);   a usbfs descriptor you
                                              have (Android); it stays yours
    void ausb_close(ausb_handle *h);          see Rules
    void ausb_set_auto_detach(ausb_handle *h, int on);   default on
    void ausb_set_zero_copy(ausb_handle *h, int on);     default on: pipes, OUT queues
                                              and endpoint streams started later map
                                              their buffers from usbfs where they can
    int  ausb_claim(h, int iface);            detaches a kernel driver when auto-detach is on
    int  ausb_release(h, int iface);          -ENOENT when not claimed
    int  ausb_set_altsetting(h, int iface, int alt);
    int  ausb_set_configuration(h, int value);
    int  ausb_clear_halt(h, unsigned char ep);
    int  ausb_reset(h);                       a reset that needs re-enumeration marks h gone
    int  ausb_handle_gone(const ausb_handle *h);   1 once the device has left
    const ausb_device *ausb_handle_device(const ausb_handle *h);

The synchronous calls (claim, release, set_*, clear_halt, reset) return
`AUSB_ECLOSED` on a closing handle and `-ENODEV` on a
gone one.

Zero-copy: a pipe or OUT queue asks libusb for its buffers with
`libusb_dev_mem_alloc`, which on Linux maps memory of the device's usbfs
node into the program (the kernel's `mmap` of usbfs, 4.6 and newer), so
the kernel moves data between the controller and the buffer the program
reads, with no copy through a kernel buffer on each transfer.  It is
used where the device's usbfs announces it (`USBDEVFS_CAP_MMAP`, asked
once per handle); elsewhere (an older kernel, an emulated device such as
umockdev's, whose node libusb would map as a plain file) or when a
mapping fails, the buffers come from `AUSB_MALLOC` as before.  The
pipe's `zero_copy` field and the OUT queue's say which they got.  Mapped
buffers stay valid until the pipe ends or the queue is closed, also past
`ausb_close`.

### Transfers

    int  ausb_transfer_init(ausb_transfer *t, int iso_packets);   once per transfer
    void ausb_transfer_free(ausb_transfer *t);    idle, or in its callback: at once; in
                                              flight: cancels it, and frees it when its
                                              callback comes (do not free it again)
    void ausb_fill_bulk(t, h, unsigned char ep, void *buf, int len, int64_t timeout_ns,
                        cb, ud);            [cb(t, status, ud)]
    void ausb_fill_interrupt(t, h, ep, buf, len, timeout_ns, cb, ud);
    void ausb_fill_control(t, h, void *buf, timeout_ns, cb, ud);   buf: 8-byte setup
                                              packet, then wLength bytes of data
    int  ausb_fill_iso(t, h, ep, buf, len, int packets, int packet_len, timeout_ns, cb, ud);
    void ausb_transfer_set_flags(t, unsigned flags);   after the fill, which clears them
    int  ausb_submit(ausb_transfer *t);       -EBUSY when not idle
    int  ausb_cancel(ausb_transfer *t);
    int  ausb_transfer_state(t);              AUSB_XFER_IDLE, _INFLIGHT, _DONE, _QUEUED
    unsigned char *ausb_transfer_buffer(t);
    unsigned char *ausb_control_data(t);      after the setup packet
    int  ausb_iso_packets(t);
    int  ausb_iso_packet_status(t, int i);    0 or a status code
    int  ausb_iso_packet_length(t, int i);    bytes that arrived
    unsigned char *ausb_iso_packet_data(t, int i);

After completion `t->status` and `t->actual_length` hold the outcome.
`actual_length` counts what moved also when the status is an error: an
IN transfer that times out (or is cancelled, or stalls) after part of its
data arrived reports `-ETIMEDOUT` with those bytes at the start of the
buffer, and an OUT transfer how many bytes the device took.  A real
kernel does this whenever a transfer of several packets is cut short;
only a transfer that `ausb_close` had to give up on (the kernel did not
give it back) reports 0.  The buffer is the caller's and is never
copied.  Flags: `AUSB_SHORT_NOT_OK`
(ignored by isochronous transfers), `AUSB_ZERO_PACKET`, and
`AUSB_INLINE_CALLBACK`: the callback runs inside libusb's event handling
(still only from `ausb_dispatch`), which saves a loop iteration per
completion; it may read the result, resubmit, cancel or free transfers,
and must not call anything that waits on the device (claim, release,
set_*, clear_halt, reset, open, exit, find by serial).

### Setup packets (8 bytes written at buf)

    void ausb_setup(buf, request_type, request, value, index, length);
    void ausb_setup_get_descriptor(buf, type, index, langid, length);
    void ausb_setup_get_status(buf, recipient, index);
    void ausb_setup_feature(buf, int set, recipient, feature, index);

with `AUSB_REQ_*` requests, `AUSB_RT_*` request type bits and `AUSB_DT_*`
descriptor types.

### Strings

    int  ausb_read_string(ausb_string_req *req, h, int index, int64_t timeout_ns,
                          cb, ud);          [cb(req, status, const char *utf8, ud)]

Reads string descriptor `index` with async control transfers, choosing the
language from the device's list (US English preferred, remembered on the
handle), and hands over UTF-8.  `req` is caller storage that lives until
the callback.

### Submission from other threads

    int  ausb_submit_any_thread(ausb_transfer *t);

Callable from any thread (also the loop's): the transfer is queued without
a lock and the loop submits it on its next dispatch, in call order; the
callback runs on the loop thread exactly once (a submit that fails there
reports through it).  Returns 0, `-EINVAL`, or `-EBUSY` when the
transfer is not idle.

### Streaming

    void ausb_pipe_config_init(ausb_pipe_config *cfg);   4 in flight x 16 KiB
    int  ausb_pipe_start(ausb_pipe *p, h, unsigned char ep, int type, const ausb_pipe_config *cfg,
                         on_chunk, on_end, ud);
                    [int on_chunk(p, t, const unsigned char *data, int len, ud)]
                    [void on_end(p, int status, ud)]
    void ausb_pipe_stop(ausb_pipe *p);        idempotent; on_end gets -ECANCELED
    void ausb_pipe_pause(ausb_pipe *p);
    void ausb_pipe_resume(ausb_pipe *p);      redelivers a held chunk, resubmits
    int  ausb_pipe_running(const ausb_pipe *p);
    int  ausb_outq_init(ausb_outq *q, h, unsigned char ep, int in_flight, int buf_len, int zlp,
                        int64_t timeout_ns, on_sent, ud);   [on_sent(q, status, len, ud)]
    int  ausb_outq_write(ausb_outq *q, const void *data, int len);   -EAGAIN when every
                                              buffer is out, -EMSGSIZE over buf_len
    int  ausb_outq_free_slots(const ausb_outq *q);
    void ausb_outq_close(ausb_outq *q);       cancels; each write still reports

A pipe keeps N transfers (1..64) in flight on a bulk, interrupt or
isochronous IN endpoint, resubmits each as soon as its chunk was handled,
and hands chunks over strictly in submission order even when the device
completes them out of order.  A handler that returns `AUSB_PIPE_HOLD` (or
calls `ausb_pipe_pause`) pauses the pipeline: nothing is resubmitted, so
at most N buffers are ever full, until `ausb_pipe_resume`.  `on_end` comes
exactly once, with `-ECANCELED` after `ausb_pipe_stop` or the first error in
stream order (a stall, a timeout, `-ENODEV` when the device leaves); the
pipe's memory is released before it, so it may start the pipe again.  The
bytes that arrived in the failing transfer before it failed (a timeout
after some full packets, say) come first, as a last chunk whose
`t->status` is that error; after `ausb_pipe_stop` no chunk is delivered.
`pc.inline_chunks = 1` runs `on_chunk` with the limits of
`AUSB_INLINE_CALLBACK`.  An OUT queue copies each write into one of its
buffers and sends them in order with several in flight; with `zlp` a
write that fills whole packets ends with a zero-length packet.  `on_sent`
reports each write's status with the bytes the device took, also when
it failed (a timeout after part of the write went out).

### Endpoint streams

    void ausb_epstream_config_init(ausb_epstream_config *cfg);  2 x 4 KiB each way
    int  ausb_epstream_open(ausb_epstream *es, h, unsigned char ep_in, unsigned char ep_out,
                            const ausb_epstream_config *cfg, on_end, ud);
                    [void on_end(es, int status, ud)]
    int  ausb_epstream_fd(const ausb_epstream *es);   the caller's end, a socket
    void ausb_epstream_close(ausb_epstream *es);      on_end gets -ECANCELED

A byte stream over a bulk IN and a bulk OUT endpoint (a CDC-ACM data
interface, a vendor loopback; either endpoint may be 0 for one way).  The
program gets one end of a local stream socket: what the device sends on
`ep_in` is read from it, what is written to it goes out on `ep_out` in
order.  Any fd code works on it, and with aio_stream.h compiled in, its
buffered reads and writes work exactly as on a TCP socket:

    ausb_epstream es;
    aios_stream *s;
    ausb_epstream_open(&es, &h, 0x81, 0x01, NULL, on_end, NULL);
    aios_stream_open(&s, &actx, ausb_epstream_fd(&es), 0);
    aios_read_until(s, "\n", 1, 4096, on_line, NULL);      // lines from the device
    aios_write(s, "AT\r\n", 4, NULL, NULL);               // bytes to it

The context pumps both directions from its dispatch (drive both contexts
from one loop: sched.h sources, or both prepare/dispatch pairs).  Memory is
bounded: a reader that does not read fills the socket buffer and then
holds the IN transfers; nothing is dropped.  The end comes once: when the
device side fails (stall, timeout, no device, handle closed), the reader
gets every byte that arrived and then end of file, writes fail with
`EPIPE`, and `on_end` reports the error; when the program closes its end,
what it wrote before is still sent and `on_end(0)` follows
(`shutdown(fd, SHUT_WR)` ends the OUT direction only); after
`ausb_epstream_close`, `on_end(-ECANCELED)`.  The caller owns its fd from
a successful open and closes it (`aios_close` does when aio_stream.h wraps
it).  The price of the socket is one copy each way through the kernel,
fine for serial-class rates; use pipes and OUT queues for bulk rates.

### Hotplug

    int  ausb_hotplug_supported(void);
    int  ausb_hotplug_start(ausb_hotplug *hp, ctx, const ausb_filter *f, unsigned flags,
                            cb, ud);        [cb(hp, int arrived, const ausb_device *dev, ud)]
                                              -EBUSY for a watch still started
    unsigned ausb_hotplug_source(const ausb_hotplug *hp);   AUSB_HOTPLUG_LIBUSB or
                                              AUSB_HOTPLUG_KERNEL while started, else 0
    void ausb_hotplug_stop(ausb_hotplug *hp); no notification after it returns

Reports devices that arrive and leave (with `AUSB_HOTPLUG_ENUMERATE`, also
those already present, as arrivals), filtered by ids, class (device or any
interface), bus, port path or predicate (not serial).  Notifications run
from dispatch, outside libusb's event handling, so opening the device in
one works; `dev` is valid during the call (`ausb_device_copy` keeps it).
When a device leaves, its handles are marked gone, its pending transfers
fail with `-ENODEV` and its pipes and endpoint streams end
once with it.  `ausb_ctx_close` stops any watch still running (queued
notifications are dropped; none is delivered during the exit).

Where the events come from.  Debian's libusb, like most distributions',
hears of devices from udevd, which passes on the kernel's uevents once
its rules have run.  Where no udevd runs (containers, an initramfs, many
embedded images) libusb's callbacks never fire, and its device list stays
as `ausb_ctx_init` found it: libusb 1.0.26 reads sysfs only when a context
starts.  A watch therefore picks its source when it starts:

- `AUSB_HOTPLUG_LIBUSB` in `flags`: libusb's hotplug callbacks;
- `AUSB_HOTPLUG_KERNEL`: the context's own monitor, a netlink socket on
  the kernel's uevents (no privilege needed) in the context's loop;
- neither (the default): the environment variable `AUSB_HOTPLUG`
  (`libusb` or `kernel`) when set, else the kernel's monitor when libusb
  depends on udevd (libudev is loaded in the process) and udevd is not
  running (no `/run/udev/control`; umockdev's testbed counts as running),
  else libusb's.  A program linked statically against a libusb with udev
  cannot be told apart: set `AUSB_HOTPLUG=kernel` there.

`ausb_hotplug_source` says which one a watch uses.  The kernel's monitor
reports a device once usbcore has bound it (the add uevent comes before
usbcore sets its configuration) and its node `/dev/bus/usb/BBB/DDD` opens
(retried every 20 ms for `AUSB_HOTPLUG_NODE_WAIT_NS`, then the device is
dropped unreported; a node that opens read-only counts, and `ausb_open`
then fails with `-EACCES`), and a departure for every device it knew: those
reported, and those present when the watch started.  The device comes as
libusb's own when libusb's list has it at that place, else as one that
libusb makes from the node (`libusb_wrap_sys_device`, which asks the
device for its configuration once); both open, claim and transfer alike,
and `ausb_device_port_path` reads the place from sysfs for the second
kind.  Such a device is not in `ausb_devices` or `ausb_find` of a context
that started before it came (without udevd libusb's list is stale): keep
the `dev` of the notification (`ausb_device_copy`), or start a new
context.  The filter works as with libusb's hotplug; a departure is
judged by what the filter said at the device's arrival.  Messages are
checked (the kernel's format, sent by the kernel, numbers in range) and
bounded: at most 32 are read per dispatch, a watch keeps at most 512
devices, and when the kernel drops messages (a flood) the monitor skips
what is queued and reads sysfs again instead, reporting what came and
went meanwhile.

### Android and Termux

    int  ausb_termux_open(ausb_handle *h, ausb_ctx *ctx);   -ENOENT without
                                              TERMUX_USB_FD, -EINVAL when it is not a number,
                                              -EBADF when it is not open, -ENOTTY when it
                                              is no usbfs device

Without root, `termux-usb` asks for permission and hands the program an
open usbfs descriptor in `TERMUX_USB_FD`; `ausb_termux_open` initialises
the context with discovery off and wraps that descriptor.  Discovery is a
process-wide libusb option that libusb 1.0.26 cannot turn back on: after a
successful call, every context the process initialises finds no devices
(`ausb_devices` returns 0), so open everything else first.  The call
checks the variable and the descriptor before it touches libusb, so one
that fails on them leaves later contexts able to enumerate.

    termux-usb -l                                   # lists /dev/bus/usb/BBB/DDD
    termux-usb -r /dev/bus/usb/001/002              # ask for permission once
    termux-usb -e ./myprog /dev/bus/usb/001/002     # runs myprog with TERMUX_USB_FD set

    ausb_ctx ctx;
    ausb_handle h;
    if (ausb_termux_open(&h, &ctx) == 0) { ausb_claim(&h, 0); ... ausb_close(&h); ausb_ctx_close(&ctx); }

### With sched.h

    int  ausb_attach(ausb_ctx *ctx, schd_loop *loop, schd_source *src);
    int  ausb_submit_completion(ausb_transfer *t, schd_completion *c);

Declared when sched.h is included before asyncusb.h (or when asyncusb.h
is included again after it); see the next part.

## Joining a loop

    int  ausb_prepare(void *ctx, struct pollfd *fds, int cap, int64_t *deadline_ns);
    void ausb_dispatch(void *ctx, struct pollfd *fds, int n);

`prepare` fills at most `cap` entries, returns how many it needs (grow the
array and call again when that is more) and lowers `*deadline_ns`
(absolute CLOCK_MONOTONIC ns, INT64_MAX for none) to libusb's next timeout
or to 0 when callbacks are waiting.  `dispatch` gets the same entries back
after poll, also when nothing was ready.  That is the whole contract for a
loop of your own (poll, epoll, GLib, libuv).  With epoll (the default)
there is one entry, the context's own epoll set, which holds libusb's
descriptors, the devices' usbfs nodes and the endpoint streams' sockets;
with `ASYNCKIT_POLL` there is one entry per descriptor, and an entry whose
watcher is new since the last prepare carries `AKC_FRESH` in `revents` (a
host that registers only on change registers it again).
`ausb_run_once(ctx, timeout_ns)` and `ausb_run(ctx)` do it with their own
wait.  With sched.h:
`schd_source_add(&src, loop, ausb_prepare, ausb_dispatch, &ctx)`, or
`ausb_attach(&ctx, loop, &src)`; a task awaits a transfer with

    ausb_submit_completion(&xfer, &done);      // schd_completion done;
    SCHD_AWAIT_COMPLETION(task, &done);
    status = SCHD_STATUS(task);                // 0, -ETIMEDOUT, AUSB_ESTALL...

(`ausb_submit_completion` replaces the transfer's callback and user
pointer.)

## Errors

Negative codes, 0 for success.  The three headers of the family share one
error space: a code means the same in all of them, and `ausb_strerror`,
`aios_strerror` and `schd_strerror` describe any code alike.  System
errors are `-errno`, with the C library's words; `ausb_from_libusb` maps
libusb's codes and transfer statuses onto them and onto the family's own:

    AUSB_OK            0      success
    -ETIMEDOUT                a transfer's timeout
    -ECANCELED                cancelled (ausb_cancel, close, exit)
    -ENODEV                   the device is gone (unplugged)
    -EIO                      transfer or I/O error
    -EACCES                   permission denied
    -ENOENT                   no such device, interface or entity
    -EBUSY                    resource busy; a transfer that is not idle; a
                              handle still open or a watch still started
                              given to ausb_open or ausb_hotplug_start
    -ENOTSUP                  not supported by the platform or libusb
    -EINVAL, -ENOMEM          bad arguments, no memory
    -ENOBUFS                  the kernel's usbfs memory limit: a transfer, pipe or
                              OUT queue would pass usbcore's usbfs_memory_mb (16 MiB
                              by default, shared by every program), or the kernel
                              refused a submit for memory.  Fix: as root,
                              echo 0 > /sys/module/usbcore/parameters/usbfs_memory_mb
                              (no limit), or boot with usbcore.usbfs_memory_mb=256
    AUSB_EFAIL         -1010  failure without a better name
    AUSB_ESTALL        -1011  endpoint halted, or request not supported
    AUSB_EBABBLE       -1012  overflow: the device sent more than asked for
    AUSB_EMALFORMED    -1013  descriptor bytes are invalid
    AUSB_ECLOSED       -1003  the handle is closing or closed (aio_stream.h's
                              AIOS_ECLOSED, the same code)
*/
/* The implementations of the family need POSIX and GNU declarations, and
 * any of them may be compiled further down this file: when nothing of the
 * C library has been read yet, ask for them (ASYNCKIT_NO_GNU_SOURCE keeps
 * the file's feature macros as they are). */
#if !defined(_GNU_SOURCE) && !defined(_FEATURES_H) && !defined(ASYNCKIT_NO_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#if defined(ASYNCKIT_IMPLEMENTATION) && !defined(AUSB_IMPLEMENTATION)
#define AUSB_IMPLEMENTATION
#endif
#if defined(ASYNCKIT_STATIC) && !defined(AUSB_STATIC)
#define AUSB_STATIC
#endif
#if defined(AUSB_STATIC) && !defined(AUSB_IMPLEMENTATION)
#define AUSB_IMPLEMENTATION
#endif
#if defined(AUSB_IMPLEMENTATION) && !defined(AKC_IMPLEMENT)
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

#ifndef ASYNCUSB_H
#define ASYNCUSB_H

#define AUSB_VERSION "0.2.0"

/* Durations are int64_t nanoseconds, as in every header of the family. */
#define AUSB_SEC(s) AKC_SEC(s)
#define AUSB_MS(ms) AKC_MS(ms)
#define AUSB_US(us) AKC_US(us)

#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#if defined(AUSB_NO_LIBUSB)
/* only the parts that need no libusb: errors, raw descriptors, UTF-16 */
#elif defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
/* libusb.h declares zero-length arrays in C++, which -pedantic rejects. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#if defined(__clang__)
#pragma GCC diagnostic ignored "-Wzero-length-array"
#endif
#include <libusb.h>
#pragma GCC diagnostic pop
#else
#include <libusb.h>
#endif

#ifndef AUSB_API
#if defined(AUSB_STATIC) && (defined(__GNUC__) || defined(__clang__))
#define AUSB_API static __attribute__((unused))
#elif defined(AUSB_STATIC)
#define AUSB_API static
#else
#define AUSB_API extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== section: errors ==== */

/* The family's own codes (asyncusb.h's share of them); the rest are
 * -errno: -ENODEV (device gone), -EIO (transfer error), -EBUSY, -EACCES,
 * -ENOENT (not found), -ENOTSUP, -ETIMEDOUT, -ECANCELED, -ENOMEM. */
enum {
    AUSB_OK = 0,
    AUSB_EFAIL = AKC_EUSB,             /* failure without a better name */
    AUSB_ESTALL = AKC_ESTALL,          /* endpoint halted / request not supported */
    AUSB_EBABBLE = AKC_EBABBLE,        /* device sent more than asked for */
    AUSB_EMALFORMED = AKC_EMALFORMED,  /* descriptor bytes are invalid */
    AUSB_ECLOSED = AKC_ECLOSED         /* handle is closing or closed */
};

AUSB_API const char *ausb_strerror(int code);
#if !defined(AUSB_NO_LIBUSB)
/* Maps a libusb_error or a libusb_transfer_status (pass is_status=1). */
AUSB_API int ausb_from_libusb(int value, int is_status);
#endif

#if !defined(AUSB_NO_LIBUSB)
/* ==== section: types ==== */

typedef struct ausb_ctx ausb_ctx;
typedef struct ausb_handle ausb_handle;
typedef struct ausb_transfer ausb_transfer;
typedef struct ausb_deferred ausb_deferred;

typedef struct libusb_device_descriptor ausb_device_desc;
typedef struct libusb_config_descriptor ausb_config_desc;
typedef struct libusb_interface ausb_interface;
typedef struct libusb_interface_descriptor ausb_altsetting;
typedef struct libusb_endpoint_descriptor ausb_endpoint_desc;

typedef void (*ausb_transfer_cb)(ausb_transfer *t, int status, void *ud);
typedef void (*ausb_deferred_cb)(ausb_deferred *d, void *ud);

/* A callback queued for the next dispatch (caller-owned node). */
struct ausb_deferred {
    akc_defer core;          /* queued while core.next is not NULL */
    ausb_deferred_cb cb;
    void *ud;
};

typedef struct ausb_ctx_config {
    int log_level;     /* libusb log level, 0 (none) .. 4 (debug) */
    int no_discovery;  /* 1: do not enumerate (process-wide in libusb 1.0.26) */
} ausb_ctx_config;

struct ausb__lufd;

struct ausb_ctx {
    /* private */
    akc_loop core;     /* the wait, libusb's descriptors, deferred calls, wake-ups */
    libusb_context *lu;
    struct ausb__lufd *lu_fds;   /* one watcher per descriptor libusb asked for */
    int lu_ready;      /* one of them was ready: libusb has events to handle */
    int fds_lost;      /* an fd could not be recorded: resync, poll meanwhile */
    int in_dispatch_events;
    int opened_fd;     /* the usbfs descriptor libusb_open added (-1: none yet) */
    int exiting;       /* ausb_ctx_close is running: a nested call does nothing */
    int close_asked;   /* ausb_ctx_close from a dispatch: done when it returns */
    int inflight;
    int64_t usbfs_limit;   /* usbfs_memory_mb in bytes, as last read (0: none known) */
    int64_t usbfs_used;    /* what this context's transfers and streams hold of it */
    ausb_transfer *done_head, *done_tail;
    ausb_handle *handles;
    ausb_transfer *remote;     /* ausb_submit_any_thread: lock-free LIFO */
    int remote_count;          /* queued there, read atomically */
    struct ausb_epstream *streams;  /* endpoint streams whose socket is watched */
    int nstreams;
    struct ausb_hotplug *hotplugs;  /* started and not stopped: ausb_ctx_close stops them */
};

typedef struct ausb_device {
    libusb_device *dev;      /* referenced */
    ausb_ctx *ctx;
    ausb_device_desc desc;
} ausb_device;

typedef struct ausb_device_list {
    ausb_device *items;
    int count;
} ausb_device_list;

/* Filter for ausb_find: fields left at their init value match anything. */
typedef struct ausb_filter {
    int vendor_id, product_id;   /* -1: any */
    int cls, subclass, protocol; /* -1: any; matched on device or any interface */
    int bus;                     /* -1: any */
    const char *port_path;       /* "1-1.5.2.3" or NULL */
    const char *serial;          /* opens the device and reads it; NULL: any */
    int (*pred)(const ausb_device *dev, void *ud); /* NULL: any */
    void *pred_user;
} ausb_filter;

#define AUSB_MAX_INTERFACES 256

struct ausb_handle {
    /* private */
    ausb_ctx *ctx;
    libusb_device_handle *lh;
    ausb_device dev;
    uint32_t claimed[AUSB_MAX_INTERFACES / 32];
    uint32_t detached[AUSB_MAX_INTERFACES / 32];
    ausb_transfer *inflight_head;
    int inflight;
    int gone;
    int closing;
    int auto_detach;
    int close_deferred;   /* ausb_close came from an inline callback */
    int heap_copy;        /* a library-owned stand-in finishing that close */
    int no_zero_copy;     /* ausb_set_zero_copy(h, 0) */
    int usbfs_fd;         /* its usbfs descriptor (-1: unknown), to ask what it can map */
    int can_map;          /* usbfs maps memory for it: -1 not asked yet, 0, 1 */
    struct ausb__zc *zc;  /* mapped buffers of its pipes and queues */
    uint16_t langid;
    ausb_handle *next, *prev;
};

enum { AUSB_XFER_IDLE = 0, AUSB_XFER_INFLIGHT = 1, AUSB_XFER_DONE = 2, AUSB_XFER_QUEUED = 3 };

/* Transfer flags (set after ausb_fill_*, which clears them) */
#define AUSB_SHORT_NOT_OK 1u   /* ignored by isochronous transfers */
#define AUSB_ZERO_PACKET 2u
/* The callback runs inside libusb's event handling (still only from
 * ausb_dispatch), which saves a loop iteration per completion on fast
 * devices.  Such a callback may read the result, resubmit, cancel or free
 * transfers; it must not call anything that waits on the device (claim,
 * release, set_*, clear_halt, reset, open, exit, find by serial).
 * ausb_close from it cancels at once (later submits on the handle fail
 * with AUSB_ECLOSED) and finishes when libusb returns; the handle may
 * be freed once none of its transfers is still to call back. */
#define AUSB_INLINE_CALLBACK 4u

struct ausb_transfer {
    /* public, read-only after completion */
    ausb_handle *handle;
    int status;
    int actual_length;       /* bytes moved, also on an error (a timeout after some packets) */
    /* private */
    struct libusb_transfer *lt;
    ausb_transfer_cb cb;
    void *ud;
    int state;
    int iso_capacity;
    int cancel_requested;
    int inline_cb;
    int free_before_cb;   /* ausb_transfer_free came while in flight */
    int usbfs_prepaid;    /* a stream's: its buffers are counted by the stream */
    int64_t usbfs_cost;   /* counted against the usbfs limit while in flight */
    ausb_transfer *next_done;
    ausb_transfer *h_prev, *h_next;
    ausb_transfer *next_remote;
};

/* ==== section: context and loop ==== */

AUSB_API void ausb_ctx_config_init(ausb_ctx_config *cfg);
AUSB_API int ausb_ctx_init(ausb_ctx *ctx, const ausb_ctx_config *cfg);
AUSB_API void ausb_ctx_close(ausb_ctx *ctx);
AUSB_API int ausb_prepare(void *ctx, struct pollfd *fds, int cap, int64_t *deadline_ns);
AUSB_API void ausb_dispatch(void *ctx, struct pollfd *fds, int n);
/* One wait of at most timeout_ns (< 0: until something happens) and what
 * it makes due; 1 while something is in flight or queued or a hotplug
 * watch or signal watcher is started (what keeps ausb_run going), 0 when
 * not, or a negative error. */
AUSB_API int ausb_run_once(ausb_ctx *ctx, int64_t timeout_ns);
/* Runs until ausb_stop, or until no transfer is in flight, nothing is
 * queued and no hotplug watch or signal watcher is started. */
AUSB_API int ausb_run(ausb_ctx *ctx);
AUSB_API void ausb_stop(ausb_ctx *ctx);
AUSB_API int ausb_pending(const ausb_ctx *ctx);
/* The kernel's usbfs memory limit in bytes (usbcore.usbfs_memory_mb), read
 * again now; 0: no limit, or it could not be read.  Transfers, pipes and
 * OUT queues that would pass it fail at once with -ENOBUFS. */
AUSB_API int64_t ausb_usbfs_limit(ausb_ctx *ctx);
/* Bytes of that limit this context's transfers in flight and streams hold. */
AUSB_API int64_t ausb_usbfs_in_use(const ausb_ctx *ctx);
AUSB_API int64_t ausb_now_ns(void);
/* Prepares caller storage for ausb_defer (any content; zeroed storage is
 * prepared too), as schd_defer_init does for sched.h. */
AUSB_API void ausb_deferred_init(ausb_deferred *d);
AUSB_API void ausb_defer(ausb_deferred *d, ausb_ctx *ctx, ausb_deferred_cb cb, void *ud);

/* Signals through the loop (the family's signal watchers; see "Signals"). */
typedef struct ausb_signal ausb_signal;
typedef struct akc_siginfo ausb_siginfo;   /* signo, code, pid, uid, status, value */
typedef void (*ausb_signal_cb)(ausb_signal *sig, const ausb_siginfo *info, void *ud);
struct ausb_signal {
    akc_sig core;
    ausb_signal_cb cb;
    void *ud;
};
AUSB_API void ausb_signal_init(ausb_signal *sig, ausb_signal_cb cb, void *ud);
AUSB_API int ausb_signal_start(ausb_signal *sig, ausb_ctx *ctx, int signo);
AUSB_API int ausb_signal_stop(ausb_signal *sig, ausb_ctx *ctx);
AUSB_API int ausb_signal_active(const ausb_signal *sig);

/* ==== section: devices ==== */

AUSB_API int ausb_devices(ausb_device_list *list, ausb_ctx *ctx);
AUSB_API void ausb_devices_free(ausb_device_list *list);
AUSB_API void ausb_filter_init(ausb_filter *f);
AUSB_API int ausb_find(ausb_device *out, ausb_ctx *ctx, const ausb_filter *f);
AUSB_API int ausb_find_id(ausb_device *out, ausb_ctx *ctx, int vendor_id, int product_id);
AUSB_API int ausb_device_copy(ausb_device *dst, const ausb_device *src);
AUSB_API void ausb_device_release(ausb_device *dev);

AUSB_API int ausb_device_bus(const ausb_device *dev);
AUSB_API int ausb_device_address(const ausb_device *dev);
/* Port numbers from the root; returns their count or an error. */
AUSB_API int ausb_device_ports(const ausb_device *dev, uint8_t *ports, int cap);
/* "BUS-P1.P2..." as in sysfs; returns the length or an error. */
AUSB_API int ausb_device_port_path(const ausb_device *dev, char *buf, size_t cap);
AUSB_API int ausb_device_speed_kbps(const ausb_device *dev); /* 0 unknown */
AUSB_API const ausb_device_desc *ausb_device_descriptor(const ausb_device *dev);
/* Max packet size of endpoint 0 in bytes (decoded from 2^n for USB 3). */
AUSB_API int ausb_device_ep0_max_packet(const ausb_device *dev);
AUSB_API int ausb_device_matches(const ausb_device *dev, const ausb_filter *f);
/* "VID:PID" as lsusb -d takes it, 1 to 4 hex digits each and nothing
 * else: 0, or -EINVAL (then *vid and *pid are untouched). */
AUSB_API int ausb_parse_ids(const char *text, int *vid, int *pid);
#endif /* !AUSB_NO_LIBUSB */

/* Speed in Mbit/s as text: "1.5", "12", "480", "5000", "10000", "?" */
AUSB_API const char *ausb_speed_text(int kbps);

/* ==== section: descriptors ==== */

#if !defined(AUSB_NO_LIBUSB)
/* Parsed configuration by index (0..bNumConfigurations-1). Free it. */
AUSB_API int ausb_config_get(ausb_config_desc **out, const ausb_device *dev, int index);
AUSB_API int ausb_config_active(ausb_config_desc **out, const ausb_device *dev);
AUSB_API void ausb_config_free(ausb_config_desc *cfg);
/* Lookups in a parsed tree, NULL when absent: interface by bInterfaceNumber,
 * alternate setting by bAlternateSetting, endpoint by bEndpointAddress. */
AUSB_API const ausb_interface *ausb_config_interface(const ausb_config_desc *cfg, int number);
AUSB_API const ausb_altsetting *ausb_interface_altsetting(const ausb_interface *in, int alt);
AUSB_API const ausb_endpoint_desc *ausb_altsetting_endpoint(const ausb_altsetting *s, unsigned char address);
/* The i-th entry of the tree, NULL past the last one.  A count whose array
 * libusb left NULL counts as zero: walk the tree with these, not with
 * bNumInterfaces, num_altsetting and bNumEndpoints. */
AUSB_API const ausb_interface *ausb_config_interface_at(const ausb_config_desc *cfg, int i);
AUSB_API const ausb_altsetting *ausb_interface_altsetting_at(const ausb_interface *in, int i);
AUSB_API const ausb_endpoint_desc *ausb_altsetting_endpoint_at(const ausb_altsetting *s, int i);
/* 0 when the tree holds the whole configuration (an interface at least,
 * the lengths of its descriptors and extras add up to wTotalLength, every
 * count has its array); AUSB_EMALFORMED when libusb dropped or cut
 * part of it. */
AUSB_API int ausb_config_verify(const ausb_config_desc *cfg);
/* Configuration `index` as raw bytes, as the kernel keeps them in sysfs
 * (the bytes libusb parses on Linux): from its configuration descriptor to
 * the next one, the last to the end of the descriptors.  Returns the
 * length, -ENOSPC when cap is smaller, -ENOENT past the last
 * configuration, AUSB_EMALFORMED when the descriptors cannot be split
 * into configurations, or a -errno when sysfs cannot be read. */
AUSB_API int ausb_config_raw(const ausb_device *dev, int index, void *buf, size_t cap);
/* ausb_config_check on those bytes, which must also be exactly
 * wTotalLength long: the number of descriptors, AUSB_EMALFORMED, or
 * the errors of ausb_config_raw. */
AUSB_API int ausb_config_raw_check(const ausb_device *dev, int index);
AUSB_API int ausb_ep_type(const ausb_endpoint_desc *ep);
AUSB_API int ausb_ep_is_in(const ausb_endpoint_desc *ep);
AUSB_API int ausb_ep_number(const ausb_endpoint_desc *ep);
AUSB_API int ausb_ep_packet_size(const ausb_endpoint_desc *ep); /* bits 0..10 */
/* Packets per service interval of a periodic endpoint: the high-bandwidth
 * multiplier at high speed, burst x mult from the companion descriptor at
 * SuperSpeed; 1 for bulk and control. */
AUSB_API int ausb_ep_multiplier(const ausb_endpoint_desc *ep, int speed_kbps);
AUSB_API int ausb_ep_max_packet(const ausb_endpoint_desc *ep, int speed_kbps);
AUSB_API long ausb_ep_interval_us(const ausb_endpoint_desc *ep, int speed_kbps);
#endif /* !AUSB_NO_LIBUSB */

enum { AUSB_EP_CONTROL = 0, AUSB_EP_ISOCHRONOUS = 1, AUSB_EP_BULK = 2, AUSB_EP_INTERRUPT = 3 };
AUSB_API const char *ausb_ep_type_name(int type);  /* "Control", "Bulk", ... */

/* Raw descriptor walker: safe on hostile bytes. */
typedef struct ausb_desc_iter {
    const uint8_t *buf;
    size_t len, off;
    int error;
    int interface, alt;  /* of the last interface descriptor, -1 before */
} ausb_desc_iter;

#define AUSB_DT_DEVICE 0x01
#define AUSB_DT_CONFIG 0x02
#define AUSB_DT_STRING 0x03
#define AUSB_DT_INTERFACE 0x04
#define AUSB_DT_ENDPOINT 0x05
#define AUSB_DT_IAD 0x0b
#define AUSB_DT_SS_EP_COMPANION 0x30

AUSB_API void ausb_desc_iter_init(ausb_desc_iter *it, const void *buf, size_t len);
/* 1 and the next descriptor; 0 at a clean end; AUSB_EMALFORMED
 * (sticky) on a zero/short bLength or one that runs past the end. */
AUSB_API int ausb_desc_next(ausb_desc_iter *it, const uint8_t **desc, size_t *desc_len);
/* Checks a whole raw configuration: header, wTotalLength against len, every
 * bLength, the minimum length of interface and endpoint descriptors, and
 * the interface count (bNumInterfaces equals the number of interface
 * descriptors with bAlternateSetting 0).  Returns the number of
 * descriptors or an error. */
AUSB_API int ausb_config_check(const void *raw, size_t len);

typedef struct ausb_iad {
    uint8_t first_interface, interface_count;
    uint8_t function_class, function_subclass, function_protocol;
    uint8_t function_string;
} ausb_iad;

AUSB_API int ausb_iad_parse(const uint8_t *desc, size_t len, ausb_iad *out);
#if !defined(AUSB_NO_LIBUSB)
/* IADs from the raw bytes a configuration kept (its extras at every level),
 * in order; returns how many there are (may exceed cap). */
AUSB_API int ausb_config_iads(const ausb_config_desc *cfg, ausb_iad *out, int cap);
#endif
/* IADs in raw configuration bytes. */
AUSB_API int ausb_raw_iads(const void *raw, size_t len, ausb_iad *out, int cap);

/* UTF-16LE to UTF-8; bad surrogates become U+FFFD; output always
 * terminated, cut at a character boundary.  Returns the UTF-8 length, or
 * -ENOSPC when cut. */
AUSB_API int ausb_utf16le_to_utf8(const uint8_t *in, size_t in_bytes, char *out, size_t cap);
/* Makes text a device chose safe for a terminal, in place: C0 controls,
 * DEL, C1 controls (U+0080..U+009F) and every byte that is not part of
 * well-formed UTF-8 become '?'.  Returns how many were replaced. */
AUSB_API int ausb_utf8_printable(char *s);

#if !defined(AUSB_NO_LIBUSB)
/* ==== section: handles ==== */

AUSB_API int ausb_open(ausb_handle *h, const ausb_device *dev);
/* Opens a handle on a usbfs file descriptor the caller already has (as on
 * Android/Termux, usually with no_discovery).  The fd stays the caller's. */
AUSB_API int ausb_wrap_fd(ausb_handle *h, ausb_ctx *ctx, int fd);
AUSB_API void ausb_close(ausb_handle *h);
AUSB_API void ausb_set_auto_detach(ausb_handle *h, int on); /* default on */
/* 1 (default): pipes, OUT queues and endpoint streams started later on h
 * map their buffers from usbfs (libusb_dev_mem_alloc: no copy through the
 * kernel per transfer) where they can, else they allocate them.  Call it
 * after ausb_open, which sets the default. */
AUSB_API void ausb_set_zero_copy(ausb_handle *h, int on);
AUSB_API int ausb_claim(ausb_handle *h, int iface);
AUSB_API int ausb_release(ausb_handle *h, int iface);
AUSB_API int ausb_set_altsetting(ausb_handle *h, int iface, int alt);
AUSB_API int ausb_set_configuration(ausb_handle *h, int value);
AUSB_API int ausb_clear_halt(ausb_handle *h, unsigned char ep);
AUSB_API int ausb_reset(ausb_handle *h);
AUSB_API int ausb_handle_gone(const ausb_handle *h);
AUSB_API const ausb_device *ausb_handle_device(const ausb_handle *h);

/* ==== section: transfers ==== */

AUSB_API int ausb_transfer_init(ausb_transfer *t, int iso_packets);
/* Frees an idle transfer (or one inside its own callback) at once.  In
 * flight, it cancels the transfer, whose callback still comes exactly once
 * (-ECANCELED, or the outcome that won the race, in t->status and
 * t->actual_length); the transfer is freed just before that callback,
 * which may then free t's storage: the library does not touch t after it.
 * A second ausb_transfer_free, from the callback or later, does nothing;
 * submitting the transfer again fails with -EINVAL. */
AUSB_API void ausb_transfer_free(ausb_transfer *t);
AUSB_API void ausb_fill_bulk(ausb_transfer *t, ausb_handle *h, unsigned char ep, void *buf, int len,
                             int64_t timeout_ns, ausb_transfer_cb cb, void *ud);
AUSB_API void ausb_fill_interrupt(ausb_transfer *t, ausb_handle *h, unsigned char ep, void *buf, int len,
                                  int64_t timeout_ns, ausb_transfer_cb cb, void *ud);
/* buf holds the 8-byte setup packet followed by wLength bytes of data. */
AUSB_API void ausb_fill_control(ausb_transfer *t, ausb_handle *h, void *buf,
                                int64_t timeout_ns, ausb_transfer_cb cb, void *ud);
AUSB_API int ausb_fill_iso(ausb_transfer *t, ausb_handle *h, unsigned char ep, void *buf, int len,
                           int packets, int packet_len, int64_t timeout_ns, ausb_transfer_cb cb, void *ud);
AUSB_API void ausb_transfer_set_flags(ausb_transfer *t, unsigned flags);
AUSB_API int ausb_submit(ausb_transfer *t);
AUSB_API int ausb_cancel(ausb_transfer *t);
AUSB_API int ausb_transfer_state(const ausb_transfer *t);
AUSB_API unsigned char *ausb_transfer_buffer(const ausb_transfer *t);
/* Data part of a control transfer (after the setup packet). */
AUSB_API unsigned char *ausb_control_data(const ausb_transfer *t);
AUSB_API int ausb_iso_packets(const ausb_transfer *t);
AUSB_API int ausb_iso_packet_status(const ausb_transfer *t, int i);
AUSB_API int ausb_iso_packet_length(const ausb_transfer *t, int i);
AUSB_API unsigned char *ausb_iso_packet_data(const ausb_transfer *t, int i);
#endif /* !AUSB_NO_LIBUSB */

/* Setup packet helpers: write 8 bytes at buf. */
#define AUSB_REQ_GET_STATUS 0x00
#define AUSB_REQ_CLEAR_FEATURE 0x01
#define AUSB_REQ_SET_FEATURE 0x03
#define AUSB_REQ_GET_DESCRIPTOR 0x06
#define AUSB_REQ_GET_CONFIGURATION 0x08
#define AUSB_REQ_SET_CONFIGURATION 0x09
#define AUSB_REQ_GET_INTERFACE 0x0a
#define AUSB_RT_IN 0x80u
#define AUSB_RT_STANDARD 0x00u
#define AUSB_RT_CLASS 0x20u
#define AUSB_RT_VENDOR 0x40u
#define AUSB_RT_DEVICE 0x00u
#define AUSB_RT_INTERFACE 0x01u
#define AUSB_RT_ENDPOINT 0x02u
AUSB_API void ausb_setup(void *buf, unsigned request_type, unsigned request, unsigned value,
                         unsigned index, unsigned length);
AUSB_API void ausb_setup_get_descriptor(void *buf, unsigned type, unsigned index, unsigned langid,
                                        unsigned length);
AUSB_API void ausb_setup_get_status(void *buf, unsigned recipient, unsigned index);
AUSB_API void ausb_setup_feature(void *buf, int set, unsigned recipient, unsigned feature, unsigned index);

#if !defined(AUSB_NO_LIBUSB)
/* ==== section: strings ==== */

typedef struct ausb_string_req ausb_string_req;
typedef void (*ausb_string_cb)(ausb_string_req *req, int status, const char *utf8, void *ud);

struct ausb_string_req {
    /* private */
    ausb_transfer xfer;
    ausb_handle *handle;
    ausb_string_cb cb;
    void *ud;
    uint8_t index;
    int step;
    int64_t timeout_ns;
    unsigned char buf[8 + 255];
    char text[3 * 127 + 1];
};

/* Reads string descriptor `index` (language chosen from the device's list,
 * US English preferred) and calls cb with UTF-8 text or an error.  The
 * request object must live until the callback. */
AUSB_API int ausb_read_string(ausb_string_req *req, ausb_handle *h, int index, int64_t timeout_ns,
                              ausb_string_cb cb, void *ud);
/* The text of the last read that succeeded ("" before any). */
AUSB_API const char *ausb_string_text(const ausb_string_req *req);

/* ==== section: submission from other threads ==== */

/* Like ausb_submit, but callable from any thread (also the loop's): the
 * transfer is queued without a lock and the loop submits it on its next
 * dispatch, in the order the calls were made.  The callback runs on the
 * loop thread exactly once; a submit that fails there reports its error
 * through the callback.  Fill the transfer first (fills are plain stores
 * on caller storage, so any thread may do them).  Returns 0, -EINVAL, or
 * -EBUSY when the transfer is not idle. */
AUSB_API int ausb_submit_any_thread(ausb_transfer *t);

/* ==== section: streaming ==== */

typedef struct ausb_pipe ausb_pipe;
typedef struct ausb_outq ausb_outq;

/* The buffers of a pipe or OUT queue when usbfs mapped them (private):
 * listed on the handle, which lets go of them when it closes; they are
 * unmapped when the stream is done with them. */
struct ausb__zc {
    struct ausb__zc *next;
    ausb_handle *handle;        /* NULL once the handle closed */
    libusb_device_handle *lh;
    unsigned char **bufs;
    int n;                      /* buffers mapped; 0: plain memory */
    size_t len;
};

/* A chunk of an IN pipeline, in submission order.  Return 0 when done with
 * it (its transfer is resubmitted at once) or AUSB_PIPE_HOLD to keep it:
 * the pipeline then pauses (no later chunk is delivered, no buffer is
 * resubmitted) until ausb_pipe_resume, which delivers the same chunk
 * again.  `t` gives iso packet details (ausb_iso_packet_*).  t->status is
 * 0, except for the bytes a failing transfer received before it failed
 * (a timeout after some packets): they come as a last chunk with that
 * status, and on_end follows with it. */
#define AUSB_PIPE_HOLD 1
typedef int (*ausb_pipe_chunk_cb)(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *ud);
/* Once, after every transfer came back: -ECANCELED after ausb_pipe_stop,
 * else the first error in stream order (AUSB_ESTALL,
 * -ENODEV, -ETIMEDOUT, AUSB_ECLOSED...).  The pipe's
 * memory is released before; the callback may start the pipe again. */
typedef void (*ausb_pipe_end_cb)(ausb_pipe *p, int status, void *ud);

typedef struct ausb_pipe_config {
    int in_flight;        /* 1..64 transfers kept in flight (default 4) */
    int transfer_len;     /* bytes per transfer (default 16384; iso: packets x packet_len) */
    int iso_packets;      /* isochronous endpoints: packets per transfer (default 0) */
    int iso_packet_len;   /* isochronous endpoints: bytes per packet */
    int64_t timeout_ns;  /* per transfer, 0 none (default) */
    int inline_chunks;    /* 1: on_chunk runs inside libusb's event handling,
                           * with the limits of AUSB_INLINE_CALLBACK (it may
                           * return, hold, pause or stop; nothing that waits
                           * on the device), saving a loop iteration per chunk */
} ausb_pipe_config;

struct ausb_pipe {
    /* public, read-only */
    long long bytes, chunks;  /* delivered so far */
    int zero_copy;            /* 1: its buffers are mapped from usbfs */
    /* private */
    ausb_handle *handle;
    ausb_pipe_chunk_cb on_chunk;
    ausb_pipe_end_cb on_end;
    void *ud;
    ausb_transfer *slots;
    unsigned char **bufs;     /* per slot: its buffer */
    unsigned char *done;      /* per slot: completed, not yet delivered */
    unsigned char *block;     /* the buffers, when not mapped */
    struct ausb__zc zc;
    ausb_pipe_config cfg;
    unsigned char ep;
    int type;                 /* AUSB_EP_BULK, _INTERRUPT, _ISOCHRONOUS */
    int head;                 /* slot of the next chunk to deliver */
    int inflight;
    int held, delivering, ending, status, running;
    ausb_deferred defer;
    ausb_ctx *ctx;
    int64_t usbfs_cost;       /* its buffers' share of the usbfs limit */
};

AUSB_API void ausb_pipe_config_init(ausb_pipe_config *cfg);
/* Starts an IN pipeline on endpoint `ep` (bit 7 set) of type
 * AUSB_EP_BULK, AUSB_EP_INTERRUPT or AUSB_EP_ISOCHRONOUS (p need not be
 * initialised; not while it runs).  0: on_end comes exactly once later; an
 * error return means no callback: -ENOBUFS when its buffers would pass the
 * kernel's usbfs memory limit (see ausb_usbfs_limit). */
AUSB_API int ausb_pipe_start(ausb_pipe *p, ausb_handle *h, unsigned char ep, int type, const ausb_pipe_config *cfg,
                             ausb_pipe_chunk_cb on_chunk, ausb_pipe_end_cb on_end, void *ud);
/* Stops delivering at once, cancels what is in flight, reports -ECANCELED
 * through on_end when all came back.  Idempotent. */
AUSB_API void ausb_pipe_stop(ausb_pipe *p);
AUSB_API void ausb_pipe_pause(ausb_pipe *p);
/* Delivers a held chunk again (from dispatch) and resubmits. */
AUSB_API void ausb_pipe_resume(ausb_pipe *p);
AUSB_API int ausb_pipe_running(const ausb_pipe *p);

/* An OUT queue: writes are copied into one of `in_flight` buffers and sent
 * in order, several at a time.  on_sent runs once per accepted write, in
 * order, with its status and the bytes the device took (all of them on
 * success; on a timeout, what went out before it). */
typedef void (*ausb_outq_cb)(ausb_outq *q, int status, int len, void *ud);

struct ausb_outq {
    /* public, read-only */
    int zero_copy;            /* 1: its buffers are mapped from usbfs */
    /* private */
    ausb_handle *handle;
    ausb_outq_cb on_sent;
    void *ud;
    ausb_transfer *slots;
    unsigned char **bufs;     /* per slot: its buffer */
    unsigned char *done;      /* per slot: completed, not yet reported */
    unsigned char *block;     /* the buffers, when not mapped */
    struct ausb__zc zc;
    int n, buf_len, head, count;  /* ring of slots in submission order */
    unsigned flags;
    int64_t timeout_ns;
    int closing;
    unsigned char ep;
    ausb_ctx *ctx;
    int64_t usbfs_cost;       /* its buffers' share of the usbfs limit */
};

/* ep: a bulk or interrupt OUT endpoint.  zlp: end every write whose length
 * is a multiple of the packet size with a zero-length packet.  -ENOBUFS
 * when its buffers would pass the kernel's usbfs memory limit. */
AUSB_API int ausb_outq_init(ausb_outq *q, ausb_handle *h, unsigned char ep, int in_flight, int buf_len, int zlp,
                            int64_t timeout_ns, ausb_outq_cb on_sent, void *ud);
/* Copies data (len <= buf_len) and submits it.  -EAGAIN when every buffer
 * is in flight (wait for an on_sent), -EMSGSIZE when too long. */
AUSB_API int ausb_outq_write(ausb_outq *q, const void *data, int len);
AUSB_API int ausb_outq_free_slots(const ausb_outq *q);
/* Cancels what is in flight (each write still reports, -ECANCELED or its
 * outcome) and frees the buffers once they all came back. */
AUSB_API void ausb_outq_close(ausb_outq *q);

/* ==== section: endpoint streams ==== */

/* A byte stream over a bulk IN and a bulk OUT endpoint (a CDC-ACM data
 * interface, a vendor loopback), handed to the program as one end of a
 * local stream socket.  Bytes the device sends on ep_in can be read from
 * ausb_epstream_fd(); bytes written there go out on ep_out, in order, in
 * transfers of up to out_len bytes.  Any fd code works on it: read/write,
 * poll, or aio_stream.h's buffered reads (aios_stream_open on the fd, then
 * aios_read_until, aios_read_exactly, aios_write...) exactly as on a TCP
 * socket.  The context pumps both directions from its dispatch; memory is
 * bounded by the transfers in flight plus the socket buffers (a slow
 * reader pauses the IN transfers; nothing is dropped).
 *
 * The end of the stream:
 * - the device's side fails (stall, timeout, no device, handle closed):
 *   the reader still gets every byte that arrived, then end of file;
 *   writes fail with EPIPE; on_end reports the error once.
 * - the program closes the fd: what it wrote before is still sent, then
 *   on_end(0).  shutdown(fd, SHUT_WR) ends the OUT direction only.
 * - ausb_epstream_close: both directions stop at once; on_end(-ECANCELED).
 * on_end runs once, from dispatch, after every transfer came back and the
 * context's end of the socket is closed; the caller's fd stays open until
 * the caller closes it. */
typedef struct ausb_epstream ausb_epstream;
typedef void (*ausb_epstream_end_cb)(ausb_epstream *es, int status, void *ud);

typedef struct ausb_epstream_config {
    int in_flight;          /* IN transfers kept in flight, 1..64 (default 2) */
    int in_len;             /* bytes per IN transfer (default 4096) */
    int out_in_flight;      /* OUT transfers in flight, 1..64 (default 2) */
    int out_len;            /* most bytes per OUT transfer (default 4096) */
    int zlp;                /* 1 (default): a transfer that ends on a packet
                             * boundary is followed by a zero-length packet */
    int64_t out_timeout_ns;/* per OUT transfer, 0 none (default) */
    int sock_buf;           /* socket buffer per direction in bytes, 0: the
                             * system default */
} ausb_epstream_config;

struct ausb_epstream {
    /* public, read-only */
    long long bytes_in, bytes_out;  /* device to fd, fd to device (sent) */
    /* private */
    ausb_ctx *ctx;
    ausb_handle *handle;
    ausb_epstream *next;        /* the context's list */
    ausb_pipe pipe;
    ausb_outq outq;
    unsigned char *obuf;
    int fd, user_fd;
    int in_state, out_state;    /* 0 done or none, 1 running, 2 stopping */
    int in_off;                 /* bytes of the held chunk already written */
    int want_write;             /* a chunk waits for room in the socket */
    int status, closing, listed;
    akc_io io;                  /* the context's end, in the context's set */
    unsigned revents;           /* what it polled, handled after libusb's events */
    ausb_epstream_end_cb on_end;
    void *ud;
    ausb_deferred defer;
};

AUSB_API void ausb_epstream_config_init(ausb_epstream_config *cfg);
/* Starts the stream on a claimed interface's endpoints: ep_in (bit 7 set)
 * and ep_out (bit 7 clear); either may be 0 for a one-way stream.  0: the
 * fd is ready and on_end comes exactly once later; an error return means
 * no callback and no fd. */
AUSB_API int ausb_epstream_open(ausb_epstream *es, ausb_handle *h, unsigned char ep_in, unsigned char ep_out,
                                const ausb_epstream_config *cfg, ausb_epstream_end_cb on_end, void *ud);
/* The caller's end: a non-blocking, close-on-exec AF_UNIX stream socket,
 * owned by the caller from a successful open, also after on_end (close it
 * when done; aios_close does when aio_stream.h wraps it).  -1 when the
 * open failed, -EINVAL for NULL. */
AUSB_API int ausb_epstream_fd(const ausb_epstream *es);
/* Stops both directions, cancels what is in flight; on_end(-ECANCELED)
 * follows (or the error that came first).  Idempotent. */
AUSB_API void ausb_epstream_close(ausb_epstream *es);

/* ==== section: hotplug ==== */

typedef struct ausb_hotplug ausb_hotplug;
typedef struct ausb_hotplug_event ausb_hotplug_event;
/* arrived: 1 when the device came, 0 when it left.  Runs from dispatch,
 * outside libusb's event handling: opening the device here works.  `dev`
 * is valid during the call (ausb_device_copy keeps it). */
typedef void (*ausb_hotplug_cb)(ausb_hotplug *hp, int arrived, const ausb_device *dev, void *ud);

#define AUSB_HOTPLUG_ENUMERATE 1u   /* also report devices already present, as arrivals */
/* Where the events come from (see "Hotplug" in the manual); neither flag:
 * libusb's hotplug unless it depends on a udevd that is not running, or
 * what the AUSB_HOTPLUG variable says ("libusb" or "kernel"). */
#define AUSB_HOTPLUG_LIBUSB 2u      /* libusb's hotplug callbacks */
#define AUSB_HOTPLUG_KERNEL 4u      /* the kernel's uevents, read by the context */

struct ausb__hpdev;

struct ausb_hotplug {
    /* private */
    ausb_ctx *ctx;
    ausb_filter filter;
    ausb_hotplug_cb cb;
    void *ud;
    int registered;
    int lu_handle;
    ausb_hotplug_event *head, *tail;
    ausb_deferred defer;
    ausb_hotplug *next;   /* the context's list */
    int listed;
    unsigned source;      /* AUSB_HOTPLUG_LIBUSB or AUSB_HOTPLUG_KERNEL */
    /* the kernel's uevents: the socket, the devices known (bounded), a
     * timer that opens the nodes of those still waiting for one */
    akc_io io;
    akc_timer retry;
    struct ausb__hpdev *devs;
    int ndevs;
    int lost;             /* the socket overflowed: drain it, then compare with sysfs */
};

/* libusb's hotplug capability: 1 on Linux, also where no udevd runs (the
 * kernel's uevents serve then; see "Hotplug"). */
AUSB_API int ausb_hotplug_supported(void);
/* Watches devices matching `f` (NULL: all; ids, class, bus, port path and
 * predicate are honoured, serial is not).  Notifications come from
 * dispatch, never inside this call.  -EINVAL for both source flags. */
AUSB_API int ausb_hotplug_start(ausb_hotplug *hp, ausb_ctx *ctx, const ausb_filter *f, unsigned flags,
                                ausb_hotplug_cb cb, void *ud);
/* AUSB_HOTPLUG_LIBUSB or AUSB_HOTPLUG_KERNEL for a started watch, else 0. */
AUSB_API unsigned ausb_hotplug_source(const ausb_hotplug *hp);
/* No notification after it returns (queued ones are dropped).  Harmless
 * on a watch already stopped, also by ausb_ctx_close. */
AUSB_API void ausb_hotplug_stop(ausb_hotplug *hp);

/* ==== section: Android and Termux ==== */

/* Initialises ctx with device discovery off and wraps the usbfs file
 * descriptor that `termux-usb -e` passes in TERMUX_USB_FD.  -ENOENT when
 * the variable is unset, -EINVAL when it is not a descriptor number,
 * -EBADF when no such descriptor is open, -ENOTTY when it is no usbfs
 * device; those failures leave libusb's options alone.  A successful call
 * turns discovery off for the whole process (libusb 1.0.26 cannot turn it
 * back on): contexts initialised later find no devices. */
AUSB_API int ausb_termux_open(ausb_handle *h, ausb_ctx *ctx);
#endif /* !AUSB_NO_LIBUSB */

#ifdef __cplusplus
}
#endif
#endif /* ASYNCUSB_H */

/* ======================================================================= */
/* Implementation                                                          */
/* ======================================================================= */
#if defined(AUSB_IMPLEMENTATION) && !defined(AUSB_IMPLEMENTATION_DONE)
#define AUSB_IMPLEMENTATION_DONE

#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>


#ifndef AUSB_MALLOC
#define AUSB_MALLOC(n) malloc(n)
#define AUSB_REALLOC(p, n) realloc((p), (n))
#define AUSB_FREE(p) free(p)
#endif
#ifndef AUSB_LIBUSB
#define AUSB_LIBUSB(fn) fn
#endif
#ifndef AUSB_CLOSE_WAIT_NS
#define AUSB_CLOSE_WAIT_NS AKC_SEC(10)
#endif
#ifndef AUSB_USBFS_MEMORY_PATH
#define AUSB_USBFS_MEMORY_PATH "/sys/module/usbcore/parameters/usbfs_memory_mb"
#endif

#if defined(__GNUC__) || defined(__clang__)
#define AUSB_PRIVATE static __attribute__((unused))
#else
#define AUSB_PRIVATE static
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== section: errors ==== */

AUSB_API const char *ausb_strerror(int code) { return akc_strerror(code); }

#if !defined(AUSB_NO_LIBUSB)
AUSB_API int ausb_from_libusb(int value, int is_status)
{
    if (is_status) {
        switch (value) {
        case LIBUSB_TRANSFER_COMPLETED: return AUSB_OK;
        case LIBUSB_TRANSFER_TIMED_OUT: return -ETIMEDOUT;
        case LIBUSB_TRANSFER_CANCELLED: return -ECANCELED;
        case LIBUSB_TRANSFER_STALL: return AUSB_ESTALL;
        case LIBUSB_TRANSFER_NO_DEVICE: return -ENODEV;
        case LIBUSB_TRANSFER_OVERFLOW: return AUSB_EBABBLE;
        default: return -EIO;
        }
    }
    switch (value) {
    case LIBUSB_SUCCESS: return AUSB_OK;
    case LIBUSB_ERROR_IO: return -EIO;
    case LIBUSB_ERROR_INVALID_PARAM: return -EINVAL;
    case LIBUSB_ERROR_ACCESS: return -EACCES;
    case LIBUSB_ERROR_NO_DEVICE: return -ENODEV;
    case LIBUSB_ERROR_NOT_FOUND: return -ENOENT;
    case LIBUSB_ERROR_BUSY: return -EBUSY;
    case LIBUSB_ERROR_TIMEOUT: return -ETIMEDOUT;
    case LIBUSB_ERROR_OVERFLOW: return AUSB_EBABBLE;
    case LIBUSB_ERROR_PIPE: return AUSB_ESTALL;
    case LIBUSB_ERROR_INTERRUPTED: return -EINTR;
    case LIBUSB_ERROR_NO_MEM: return -ENOMEM;
    case LIBUSB_ERROR_NOT_SUPPORTED: return -ENOTSUP;
    default: return value > 0 ? value : AUSB_EFAIL;
    }
}

#endif /* !AUSB_NO_LIBUSB */

AUSB_API const char *ausb_speed_text(int kbps)
{
    switch (kbps) {
    case 1500: return "1.5";
    case 12000: return "12";
    case 480000: return "480";
    case 5000000: return "5000";
    case 10000000: return "10000";
    default: return "?";
    }
}

AUSB_API const char *ausb_ep_type_name(int type)
{
    static const char *const names[4] = {"Control", "Isochronous", "Bulk", "Interrupt"};
    return names[type & 3];
}

#if !defined(AUSB_NO_LIBUSB)
/* ==== section: time and deferred callbacks ==== */

AUSB_API int64_t ausb_now_ns(void) { return akc_now_ns(); }

AUSB_PRIVATE void ausb__deferred_run(akc_loop *l, akc_defer *core)
{
    ausb_deferred *d = (ausb_deferred *)(void *)((char *)core - offsetof(ausb_deferred, core));
    (void)l;
    if (d->cb) d->cb(d, d->ud);
}

AUSB_API void ausb_deferred_init(ausb_deferred *d)
{
    if (!d) return;
    akc_defer_init(&d->core, ausb__deferred_run);
    d->cb = NULL;
    d->ud = NULL;
}

AUSB_API void ausb_defer(ausb_deferred *d, ausb_ctx *ctx, ausb_deferred_cb cb, void *ud)
{
    if (!ctx || !d || akc_defer_queued(&d->core)) return;
    akc_defer_init(&d->core, ausb__deferred_run);
    d->cb = cb;
    d->ud = ud;
    akc_defer_queue(&ctx->core, &d->core);
}

AUSB_PRIVATE void ausb__undefer(ausb_deferred *d)
{
    akc_defer_cancel(&d->core);
}

/* ==== section: signals ==== */

AUSB_PRIVATE void ausb__signal_fire(akc_loop *l, akc_sig *core, const akc_siginfo *info)
{
    ausb_signal *sig = (ausb_signal *)(void *)((char *)core - offsetof(ausb_signal, core));
    (void)l;
    sig->cb(sig, info, sig->ud);
}

AUSB_API void ausb_signal_init(ausb_signal *sig, ausb_signal_cb cb, void *ud)
{
    if (!sig) return;
    akc_sig_init(&sig->core, ausb__signal_fire);
    sig->cb = cb;
    sig->ud = ud;
}

AUSB_API int ausb_signal_start(ausb_signal *sig, ausb_ctx *ctx, int signo)
{
    if (!sig || !ctx || !ctx->lu || !sig->cb || sig->core.fn != ausb__signal_fire) return -EINVAL;
    return akc_sig_start(&ctx->core, &sig->core, signo);
}

AUSB_API int ausb_signal_stop(ausb_signal *sig, ausb_ctx *ctx)
{
    if (!sig || !ctx) return -EINVAL;
    return akc_sig_stop(&ctx->core, &sig->core);
}

AUSB_API int ausb_signal_active(const ausb_signal *sig) { return sig && akc_sig_active(&sig->core); }

/* ==== section: usbfs memory ==== */

/* What the kernel charges a request (URB) besides its buffer: its struct
 * async and struct urb, about 300 bytes on 64-bit kernels, rounded up so
 * that the count errs on the safe side.  libusb makes one request per
 * 16 KiB of a bulk transfer where the controller has no scatter-gather. */
#define AUSB__USBFS_URB_COST 512
#define AUSB__USBFS_URB_MAX 16384

AUSB_PRIVATE int64_t ausb__usbfs_cost(int64_t transfers, int64_t len)
{
    int64_t urbs = len > AUSB__USBFS_URB_MAX ? (len + AUSB__USBFS_URB_MAX - 1) / AUSB__USBFS_URB_MAX : 1;
    return transfers * (len + urbs * AUSB__USBFS_URB_COST);
}

/* The limit in bytes from usbcore's parameter (MiB); 0 when it says none
 * or cannot be read (not Linux, no sysfs, an older kernel). */
AUSB_PRIVATE int64_t ausb__usbfs_read_limit(void)
{
    const char *path = AUSB_USBFS_MEMORY_PATH;
    char b[32], *end;
    long long mb;
    ssize_t n;
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) return 0;
    n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0) return 0;
    b[n] = 0;
    mb = strtoll(b, &end, 10);
    if (end == b || mb <= 0 || mb > (INT64_MAX >> 20)) return 0;
    return (int64_t)mb << 20;
}

/* Counts bytes against the limit, or -ENOBUFS when this context would
 * then hold more than the kernel lets usbfs have. */
AUSB_PRIVATE int ausb__usbfs_take(ausb_ctx *ctx, int64_t bytes)
{
    if (ctx->usbfs_limit > 0 && ctx->usbfs_used + bytes > ctx->usbfs_limit) return -ENOBUFS;
    ctx->usbfs_used += bytes;
    return 0;
}

AUSB_PRIVATE void ausb__usbfs_give(ausb_ctx *ctx, int64_t bytes)
{
    if (ctx) ctx->usbfs_used -= bytes;
}

/* A stream's buffers, counted for its life: the limit is read again
 * first, so that a limit raised (or lowered) meanwhile counts. */
AUSB_PRIVATE int ausb__usbfs_reserve(ausb_ctx *ctx, int transfers, int len, int64_t *cost)
{
    int r;
    ctx->usbfs_limit = ausb__usbfs_read_limit();
    *cost = ausb__usbfs_cost(transfers, len);
    if ((r = ausb__usbfs_take(ctx, *cost)) < 0) *cost = 0;
    return r;
}

AUSB_API int64_t ausb_usbfs_limit(ausb_ctx *ctx)
{
    if (!ctx || !ctx->lu) return 0;
    return ctx->usbfs_limit = ausb__usbfs_read_limit();
}

AUSB_API int64_t ausb_usbfs_in_use(const ausb_ctx *ctx) { return ctx ? ctx->usbfs_used : 0; }

/* ==== section: stream buffers (zero-copy) ==== */

/* USBDEVFS_GET_CAPABILITIES and its USBDEVFS_CAP_MMAP bit, from
 * <linux/usbdevice_fs.h> (whose flexible arrays a C++ build rejects). */
#define AUSB__USBFS_GET_CAPABILITIES _IOR('U', 26, uint32_t)
#define AUSB__USBFS_CAP_MMAP 0x20u

/* Whether the kernel maps usbfs memory for this device (4.6 and newer
 * say so).  libusb_dev_mem_alloc asks nothing: it maps the node it has
 * open, and a node that is no usbfs one (umockdev's stand-in, a plain
 * file) maps too, as memory the device never sees. */
AUSB_PRIVATE int ausb__can_map(ausb_handle *h)
{
    uint32_t caps = 0;
    if (h->can_map < 0)
        h->can_map = h->usbfs_fd >= 0 && ioctl(h->usbfs_fd, AUSB__USBFS_GET_CAPABILITIES, &caps) == 0 &&
                     (caps & AUSB__USBFS_CAP_MMAP) != 0;
    return h->can_map;
}

/* Buffers for n transfers of len bytes, into bufs[0..n-1]: mapped from
 * the device's usbfs node where the handle allows it and libusb and the
 * kernel can (zc->n is then n), else one block from the allocator.  0, or
 * -ENOMEM. */
AUSB_PRIVATE int ausb__bufs_get(ausb_handle *h, struct ausb__zc *zc, unsigned char **bufs, unsigned char **block,
                                int n, size_t len)
{
    int i;
    memset(zc, 0, sizeof *zc);
    *block = NULL;
#if !defined(AUSB_NO_ZERO_COPY)
    if (!h->no_zero_copy && ausb__can_map(h)) {
        for (i = 0; i < n; i++)
            if (!(bufs[i] = AUSB_LIBUSB(libusb_dev_mem_alloc)(h->lh, len))) break;
        if (i == n) {
            zc->handle = h;
            zc->lh = h->lh;
            zc->bufs = bufs;
            zc->n = n;
            zc->len = len;
            zc->next = h->zc;
            h->zc = zc;
            return 0;
        }
        while (i-- > 0) (void)AUSB_LIBUSB(libusb_dev_mem_free)(h->lh, bufs[i], len);
    }
#else
    (void)h;
#endif
    if (!(*block = (unsigned char *)AUSB_MALLOC((size_t)n * len))) return -ENOMEM;
    for (i = 0; i < n; i++) bufs[i] = *block + (size_t)i * len;
    return 0;
}

/* Gives the buffers back.  libusb frees a mapping through the open handle;
 * once the handle is closed (ausb__zc_orphan), it is unmapped here, which
 * is all libusb's Linux backend would do. */
AUSB_PRIVATE void ausb__bufs_put(struct ausb__zc *zc, unsigned char **block)
{
    struct ausb__zc **pp;
    int i;
    if (zc->n && zc->handle) {
        for (pp = &zc->handle->zc; *pp; pp = &(*pp)->next)
            if (*pp == zc) { *pp = zc->next; break; }
    }
    for (i = 0; i < zc->n; i++) {
        if (zc->handle) (void)AUSB_LIBUSB(libusb_dev_mem_free)(zc->lh, zc->bufs[i], zc->len);
        else (void)munmap(zc->bufs[i], zc->len);
    }
    zc->n = 0;
    zc->handle = NULL;
    AUSB_FREE(*block);
    *block = NULL;
}

/* Before libusb closes h: the mappings of its streams stay valid (a
 * chunk that arrived may still be delivered from one) until the streams
 * let go of them. */
AUSB_PRIVATE void ausb__zc_orphan(ausb_handle *h)
{
    struct ausb__zc *z, *next;
    for (z = h->zc; z; z = next) {
        next = z->next;
        z->next = NULL;
        z->handle = NULL;
    }
    h->zc = NULL;
}

/* ==== section: context and loop ==== */

#define AUSB__CTX(core_loop) ((ausb_ctx *)(void *)((char *)(core_loop) - offsetof(ausb_ctx, core)))

/* The kinds of the context's watchers (0 is the core's wake-up). */
enum { AUSB__IO_LIBUSB = 1, AUSB__IO_EPSTREAM = 2, AUSB__IO_UEVENT = 3 };

/* A descriptor libusb asked to have watched (its events, a device's
 * usbfs node, its timerfd): readiness only sets ctx->lu_ready, and
 * libusb handles its events once per dispatch. */
struct ausb__lufd {
    akc_io io;
    struct ausb__lufd *next;
};

AUSB_PRIVATE void ausb__lufd_ready(akc_loop *l, akc_io *io, unsigned revents)
{
    (void)io;
    (void)revents;
    AUSB__CTX(l)->lu_ready = 1;
}

AUSB_PRIVATE struct ausb__lufd **ausb__lufd_find(ausb_ctx *ctx, int fd)
{
    struct ausb__lufd **pp;
    for (pp = &ctx->lu_fds; *pp; pp = &(*pp)->next)
        if ((*pp)->io.fd == fd) break;
    return pp;
}

AUSB_PRIVATE int ausb__fds_add(ausb_ctx *ctx, int fd, short events)
{
    struct ausb__lufd *n = *ausb__lufd_find(ctx, fd);
    if (!n) {
        n = (struct ausb__lufd *)AUSB_MALLOC(sizeof *n);
        if (!n) return -ENOMEM;
        akc_io_init(&n->io, fd, AUSB__IO_LIBUSB);
        akc_io_handle(&ctx->core, AUSB__IO_LIBUSB, ausb__lufd_ready);
        if (akc_io_open(&ctx->core, &n->io) < 0) {
            AUSB_FREE(n);
            return -ENOMEM;
        }
        n->next = ctx->lu_fds;
        ctx->lu_fds = n;
    }
    akc_io_want(&ctx->core, &n->io, (unsigned)events & (POLLIN | POLLOUT | POLLPRI));
    return 0;
}

AUSB_PRIVATE void ausb__fds_del(ausb_ctx *ctx, int fd)
{
    struct ausb__lufd **pp = ausb__lufd_find(ctx, fd), *n = *pp;
    if (!n) return;
    *pp = n->next;
    akc_io_close(&ctx->core, &n->io);
    AUSB_FREE(n);
}

AUSB_PRIVATE void ausb__fds_clear(ausb_ctx *ctx)
{
    while (ctx->lu_fds) ausb__fds_del(ctx, ctx->lu_fds->io.fd);
}

static void LIBUSB_CALL ausb__pollfd_added(int fd, short events, void *ud)
{
    ausb_ctx *ctx = (ausb_ctx *)ud;
    /* libusb watches a device's usbfs node for POLLOUT (its reapable URBs)
     * alone: noted for ausb_open, which has no other way to that number */
    if ((events & (POLLIN | POLLOUT)) == POLLOUT) ctx->opened_fd = fd;
    if (ausb__fds_add(ctx, fd, events) < 0) ctx->fds_lost = 1;
}

static void LIBUSB_CALL ausb__pollfd_removed(int fd, void *ud)
{
    ausb__fds_del((ausb_ctx *)ud, fd);
}

/* After an allocation failure lost an fd: read libusb's whole list again. */
AUSB_PRIVATE void ausb__fds_resync(ausb_ctx *ctx)
{
    const struct libusb_pollfd **list = AUSB_LIBUSB(libusb_get_pollfds)(ctx->lu);
    int i, ok = list != NULL;
    if (list) {
        ausb__fds_clear(ctx);
        for (i = 0; list[i]; i++)
            if (ausb__fds_add(ctx, list[i]->fd, list[i]->events) < 0) ok = 0;
        AUSB_LIBUSB(libusb_free_pollfds)(list);
    }
    if (ok) ctx->fds_lost = 0;
}

AUSB_API void ausb_ctx_config_init(ausb_ctx_config *cfg)
{
    if (!cfg) return;
    cfg->log_level = 0;
    cfg->no_discovery = 0;
}

AUSB_PRIVATE void *ausb__mem(void *p, size_t old, size_t n)
{
    (void)old;
    if (n == 0) {
        AUSB_FREE(p);
        return NULL;
    }
    return AUSB_REALLOC(p, n);
}

AUSB_PRIVATE void ausb__prepare_hook(akc_loop *l, int64_t *deadline);
AUSB_PRIVATE void ausb__dispatch_hook(akc_loop *l);

/* libusb_init may start libusb's own thread (its udev or netlink hotplug
 * monitor), which takes the calling thread's signal mask: with every
 * signal blocked meanwhile, that thread never takes a signal the program
 * waits for in its loop. */
AUSB_PRIVATE int ausb__libusb_init(libusb_context **lu)
{
    sigset_t all, old;
    int r;
    sigfillset(&all);
    (void)AKC_SYS_SIGPROCMASK(SIG_SETMASK, &all, &old);   /* this thread's mask (as pthread_sigmask) */
    r = AUSB_LIBUSB(libusb_init)(lu);
    (void)AKC_SYS_SIGPROCMASK(SIG_SETMASK, &old, NULL);
    return r;
}

AUSB_API int ausb_ctx_init(ausb_ctx *ctx, const ausb_ctx_config *cfg)
{
    ausb_ctx_config def;
    const struct libusb_pollfd **list;
    int r, i;

    if (!ctx) return -EINVAL;
    memset(ctx, 0, sizeof *ctx);
    if (!cfg) { ausb_ctx_config_init(&def); cfg = &def; }
    r = akc_loop_init(&ctx->core, ausb__mem);
    if (r == 0) r = akc_wake_open(&ctx->core);   /* ausb_stop and submits from other threads */
    if (r < 0) goto fail_core;
    ctx->core.on_prepare = ausb__prepare_hook;
    ctx->core.on_dispatch = ausb__dispatch_hook;
    ctx->usbfs_limit = ausb__usbfs_read_limit();
    if (cfg->no_discovery)
        (void)AUSB_LIBUSB(libusb_set_option)(NULL, LIBUSB_OPTION_NO_DEVICE_DISCOVERY);
    r = ausb__libusb_init(&ctx->lu);
    if (r < 0) { ctx->lu = NULL; r = ausb_from_libusb(r, 0); goto fail_core; }
    if (cfg->log_level > 0)
        (void)AUSB_LIBUSB(libusb_set_option)(ctx->lu, LIBUSB_OPTION_LOG_LEVEL, cfg->log_level);
    /* Notifiers first, then the initial list: no fd can slip between. */
    AUSB_LIBUSB(libusb_set_pollfd_notifiers)(ctx->lu, ausb__pollfd_added, ausb__pollfd_removed, ctx);
    list = AUSB_LIBUSB(libusb_get_pollfds)(ctx->lu);
    if (!list) { r = -ENOTSUP; goto fail; }
    for (i = 0; list[i]; i++) {
        if (ausb__fds_add(ctx, list[i]->fd, list[i]->events) < 0) {
            AUSB_LIBUSB(libusb_free_pollfds)(list);
            r = -ENOMEM;
            goto fail;
        }
    }
    AUSB_LIBUSB(libusb_free_pollfds)(list);
    return 0;
fail:
    AUSB_LIBUSB(libusb_set_pollfd_notifiers)(ctx->lu, NULL, NULL, NULL);
    ausb__fds_clear(ctx);
    AUSB_LIBUSB(libusb_exit)(ctx->lu);
fail_core:
    akc_loop_free(&ctx->core);
    memset(ctx, 0, sizeof *ctx);
    akc_loop_reset(&ctx->core);
    return r;
}

AUSB_PRIVATE void ausb__submit_remote(ausb_ctx *ctx);
AUSB_PRIVATE int ausb__run_done(ausb_ctx *ctx);
AUSB_PRIVATE void ausb__close_finish(ausb_handle *h);

AUSB_API void ausb_ctx_close(ausb_ctx *ctx)
{
    int pass;
    /* A callback that close delivers may call ausb_ctx_close again: no-op. */
    if (!ctx || !ctx->lu || ctx->exiting) return;
    /* From a callback of the context's own dispatch: the dispatch still
     * walks the context, so the close waits until it returns. */
    if (ctx->core.depth) {
        ctx->close_asked = 1;
        return;
    }
    ctx->exiting = 1;
    /* No notification during or after exit; queued ones are freed. */
    while (ctx->hotplugs) ausb_hotplug_stop(ctx->hotplugs);
    while (ctx->handles) {
        ausb_handle *h = ctx->handles;
        if (!h->closing) ausb_close(h);
        else { h->close_deferred = 0; ausb__close_finish(h); }   /* closed inline */
    }
    /* queued from other threads for handles already closed: each reports */
    if (__atomic_load_n(&ctx->remote, __ATOMIC_ACQUIRE)) ausb__submit_remote(ctx);
    (void)ausb__run_done(ctx);
    /* Deferred calls may defer again: drain, with a bound against one
     * that always re-arms; what is left is unqueued, free for reuse. */
    for (pass = 0; pass < 64 && akc_defer_pending(&ctx->core); pass++) akc__run_deferred(&ctx->core, 1);
    while (akc_defer_pending(&ctx->core)) akc_defer_cancel(ctx->core.dq.next);
    /* Streams end with their handles; one still listed lost its callbacks
     * with the deferred calls above: release what it holds. */
    while (ctx->streams) {
        ausb_epstream *es = ctx->streams;
        ctx->streams = es->next;
        es->listed = 0;
        akc_io_close(&ctx->core, &es->io);
        if (es->fd >= 0) close(es->fd);
        es->fd = -1;
        AUSB_FREE(es->obuf);
        es->obuf = NULL;
    }
    ctx->nstreams = 0;
    AUSB_LIBUSB(libusb_set_pollfd_notifiers)(ctx->lu, NULL, NULL, NULL);
    ausb__fds_clear(ctx);   /* out of the set before libusb closes them */
    AUSB_LIBUSB(libusb_exit)(ctx->lu);
    akc_loop_free(&ctx->core);
    memset(ctx, 0, sizeof *ctx);
    akc_loop_reset(&ctx->core);
}

AUSB_API int ausb_pending(const ausb_ctx *ctx)
{
    return ctx ? ctx->inflight + (ctx->done_head != NULL) + akc_defer_pending(&ctx->core) + ctx->nstreams +
                     __atomic_load_n(&ctx->remote_count, __ATOMIC_RELAXED) : 0;
}

AUSB_PRIVATE int ausb__es_events(const ausb_epstream *es);
AUSB_PRIVATE void ausb__es_ready(ausb_epstream *es, unsigned revents);

/* Before each wait: the watchers of libusb's descriptors and of the
 * endpoint streams say what is wanted, and libusb's next timeout (when it
 * keeps its own, without a timerfd) bounds the wait. */
AUSB_PRIVATE void ausb__prepare_hook(akc_loop *l, int64_t *deadline_ns)
{
    ausb_ctx *ctx = AUSB__CTX(l);
    struct timeval tv;
    ausb_epstream *es;
    if (!ctx->lu) return;
    if (ctx->fds_lost) ausb__fds_resync(ctx);
    for (es = ctx->streams; es; es = es->next) {
        int ev = ausb__es_events(es);
        akc_io_want(l, &es->io, ev < 0 ? 0 : (unsigned)(ev | POLLHUP));
    }
    if (!deadline_ns) return;
    if (ctx->done_head || __atomic_load_n(&ctx->remote, __ATOMIC_RELAXED)) {
        if (*deadline_ns > l->now) *deadline_ns = l->now;
    } else if (ctx->fds_lost) {
        /* some fd is not watched: look at libusb every 10 ms */
        int64_t soon = akc_now_ns() + 10000000;
        if (soon < *deadline_ns) *deadline_ns = soon;
    } else if (AUSB_LIBUSB(libusb_get_next_timeout)(ctx->lu, &tv) == 1) {
        int64_t when = akc_now_ns() + (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
        if (when < *deadline_ns) *deadline_ns = when;
    }
}

/* Calls back a transfer that is done (state already idle).  One that
 * ausb_transfer_free asked to free is released first: libusb is done with
 * it, and after its callback the storage may be gone. */
AUSB_PRIVATE void ausb__deliver(ausb_transfer *t)
{
    if (t->free_before_cb) {
        t->free_before_cb = 0;
        AUSB_LIBUSB(libusb_free_transfer)(t->lt);
        t->lt = NULL;
    }
    if (t->cb) t->cb(t, t->status, t->ud);
}

/* Runs queued transfer callbacks; each node is unlinked before its callback
 * so the callback may resubmit, free or close. */
AUSB_PRIVATE int ausb__run_done(ausb_ctx *ctx)
{
    int ran = 0;
    ausb_transfer *t;
    while ((t = ctx->done_head) != NULL) {
        ctx->done_head = t->next_done;
        if (!ctx->done_head) ctx->done_tail = NULL;
        t->next_done = NULL;
        t->state = AUSB_XFER_IDLE;
        ran++;
        ausb__deliver(t);
    }
    return ran;
}

AUSB_PRIVATE int ausb__handle_events(ausb_ctx *ctx)
{
    struct timeval zero = {0, 0};
    int r = AUSB_LIBUSB(libusb_handle_events_timeout_completed)(ctx->lu, &zero, NULL);
    return r < 0 ? ausb_from_libusb(r, 0) : 0;
}

/* libusb's events, when a descriptor of its was ready or a timeout of its
 * is due, then the closes its callbacks asked for. */
AUSB_PRIVATE void ausb__run_libusb(ausb_ctx *ctx)
{
    ausb_handle *h, *next;
    ctx->in_dispatch_events = 1;
    (void)ausb__handle_events(ctx);
    ctx->in_dispatch_events = 0;
    /* A close delivers callbacks that may close (and free) other
     * handles: start from the head again after each one. */
    for (h = ctx->handles; h; h = next) {
        next = h->next;
        if (h->close_deferred) {
            h->close_deferred = 0;
            ausb__close_finish(h);
            next = ctx->handles;
        }
    }
}

/* The context's part of a dispatch, after the descriptors were polled:
 * submissions from other threads, libusb's events, the endpoint streams
 * (after libusb's completions: a chunk queued there is delivered here),
 * then the transfer callbacks. */
AUSB_PRIVATE void ausb__dispatch_hook(akc_loop *l)
{
    ausb_ctx *ctx = AUSB__CTX(l);
    struct timeval tv;
    ausb_epstream *es, *next;
    int ready = ctx->lu_ready;
    if (!ctx->lu) return;
    ctx->lu_ready = 0;
    if (__atomic_load_n(&ctx->remote, __ATOMIC_RELAXED)) ausb__submit_remote(ctx);
    if (ctx->fds_lost)
        ready = 1;
    else if (!ready && AUSB_LIBUSB(libusb_get_next_timeout)(ctx->lu, &tv) == 1 && tv.tv_sec == 0 && tv.tv_usec == 0)
        ready = 1;
    if (ready) ausb__run_libusb(ctx);
    for (es = ctx->streams; es; es = next) {
        unsigned re = es->revents;
        next = es->next;
        es->revents = 0;
        if (re) ausb__es_ready(es, re);
    }
    (void)ausb__run_done(ctx);
}

AUSB_API int ausb_prepare(void *vctx, struct pollfd *fds, int cap, int64_t *deadline_ns)
{
    ausb_ctx *ctx = (ausb_ctx *)vctx;
    if (!ctx || !ctx->lu) return 0;
    return akc_prepare(&ctx->core, cap > 0 ? fds : NULL, cap, deadline_ns);
}

AUSB_API void ausb_dispatch(void *vctx, struct pollfd *fds, int n)
{
    ausb_ctx *ctx = (ausb_ctx *)vctx;
    if (!ctx || !ctx->lu) return;
    akc_dispatch(&ctx->core, fds, fds ? n : 0);
    if (ctx->close_asked && !ctx->core.depth) ausb_ctx_close(ctx);   /* asked for from a callback */
}

/* What keeps ausb_run going: work in flight or queued, hotplug watches,
 * which wait for devices as a watcher waits for its descriptor, and signal
 * watchers (as in the other headers' loops). */
AUSB_PRIVATE int ausb__alive(const ausb_ctx *ctx)
{
    return ausb_pending(ctx) > 0 || ctx->hotplugs != NULL || akc_sig_watching(&ctx->core);
}

AUSB_API int ausb_run_once(ausb_ctx *ctx, int64_t timeout_ns)
{
    int r;
    if (!ctx || !ctx->lu) return -EINVAL;
    r = akc_run_once(&ctx->core, timeout_ns);
    if (ctx->close_asked && !ctx->core.depth) ausb_ctx_close(ctx);   /* asked for from a callback */
    if (r < 0) return r;
    return ausb__alive(ctx);
}

AUSB_API int ausb_run(ausb_ctx *ctx)
{
    int r;
    if (!ctx || !ctx->lu) return -EINVAL;
    /* Consume the flag: an ausb_stop made just before this call counts. */
    while (!akc_stopped(&ctx->core) && ausb__alive(ctx)) {
        r = ausb_run_once(ctx, -1);
        if (r < 0) return r;
    }
    return 0;
}

AUSB_API void ausb_stop(ausb_ctx *ctx)
{
    if (ctx) akc_stop(&ctx->core);
}

/* ==== section: devices ==== */

AUSB_PRIVATE int ausb__device_wrap(ausb_ctx *ctx, libusb_device *d, ausb_device *out)
{
    int r = AUSB_LIBUSB(libusb_get_device_descriptor)(d, &out->desc);
    if (r < 0) return ausb_from_libusb(r, 0);
    out->dev = AUSB_LIBUSB(libusb_ref_device)(d);
    out->ctx = ctx;
    return 0;
}

AUSB_API int ausb_devices(ausb_device_list *list, ausb_ctx *ctx)
{
    libusb_device **devs;
    ssize_t n, i;
    int count = 0;
    if (!ctx || !ctx->lu || !list) return -EINVAL;
    list->items = NULL;
    list->count = 0;
    n = AUSB_LIBUSB(libusb_get_device_list)(ctx->lu, &devs);
    if (n < 0) return ausb_from_libusb((int)n, 0);
    if (n > 0) {
        list->items = (ausb_device *)AUSB_MALLOC((size_t)n * sizeof(ausb_device));
        if (!list->items) { AUSB_LIBUSB(libusb_free_device_list)(devs, 1); return -ENOMEM; }
        for (i = 0; i < n; i++)
            if (ausb__device_wrap(ctx, devs[i], &list->items[count]) == 0) count++;
    }
    AUSB_LIBUSB(libusb_free_device_list)(devs, 1);
    list->count = count;
    return count;
}

AUSB_API void ausb_devices_free(ausb_device_list *list)
{
    int i;
    if (!list) return;
    for (i = 0; i < list->count; i++) ausb_device_release(&list->items[i]);
    AUSB_FREE(list->items);
    list->items = NULL;
    list->count = 0;
}

AUSB_API int ausb_device_copy(ausb_device *dst, const ausb_device *src)
{
    if (!dst || !src || !src->dev) return -EINVAL;
    *dst = *src;
    AUSB_LIBUSB(libusb_ref_device)(dst->dev);
    return 0;
}

AUSB_API void ausb_device_release(ausb_device *dev)
{
    if (dev && dev->dev) {
        AUSB_LIBUSB(libusb_unref_device)(dev->dev);
        dev->dev = NULL;
    }
}

AUSB_API void ausb_filter_init(ausb_filter *f)
{
    if (!f) return;
    memset(f, 0, sizeof *f);
    f->vendor_id = f->product_id = -1;
    f->cls = f->subclass = f->protocol = -1;
    f->bus = -1;
}

AUSB_API int ausb_device_bus(const ausb_device *dev)
{
    if (!dev || !dev->dev) return -EINVAL;
    return AUSB_LIBUSB(libusb_get_bus_number)(dev->dev);
}

AUSB_API int ausb_device_address(const ausb_device *dev)
{
    if (!dev || !dev->dev) return -EINVAL;
    return AUSB_LIBUSB(libusb_get_device_address)(dev->dev);
}

/* The port path sysfs gives the device at bus/addr (BUS-P1.P2...: the
 * name /sys/dev/char/189:MINOR points to): the count of ports, 0 for a
 * root hub or when sysfs does not say. */
AUSB_PRIVATE int ausb__sysfs_ports(int bus, int addr, uint8_t *ports, int cap)
{
    char link[64], target[256];
    char *p;
    ssize_t len;
    int n = 0;
    long v;
    if (bus < 1 || addr < 2) return 0;   /* address 1 is the root hub's */
    snprintf(link, sizeof link, "/sys/dev/char/189:%d", (bus - 1) * 128 + addr - 1);
    if ((len = readlink(link, target, sizeof target - 1)) <= 0) return 0;
    target[len] = 0;
    p = strrchr(target, '/');
    p = p ? p + 1 : target;
    if (strtol(p, &p, 10) != bus || *p != '-') return 0;
    while (*p == '-' || *p == '.') {
        v = strtol(p + 1, &p, 10);
        if (v < 1 || v > 255 || n == cap) return 0;
        ports[n++] = (uint8_t)v;
    }
    return *p ? 0 : n;
}

AUSB_API int ausb_device_ports(const ausb_device *dev, uint8_t *ports, int cap)
{
    int r;
    if (!dev || !dev->dev || !ports || cap < 0) return -EINVAL;
    r = AUSB_LIBUSB(libusb_get_port_numbers)(dev->dev, ports, cap);
    /* libusb knows no topology for a device it made from a node
     * (the kernel monitor's, ausb_wrap_fd's): sysfs does */
    if (r == 0) r = ausb__sysfs_ports(ausb_device_bus(dev), ausb_device_address(dev), ports, cap);
    return r < 0 ? ausb_from_libusb(r, 0) : r;
}

AUSB_API int ausb_device_port_path(const ausb_device *dev, char *buf, size_t cap)
{
    uint8_t ports[8];
    int n = ausb_device_ports(dev, ports, 8), i;
    size_t off;
    int w;
    if (n < 0) return n;
    if (!buf || cap == 0) return -EINVAL;
    w = snprintf(buf, cap, "%d", ausb_device_bus(dev));
    if (w < 0 || (size_t)w >= cap) return -ENOSPC;
    off = (size_t)w;
    for (i = 0; i < n; i++) {
        w = snprintf(buf + off, cap - off, "%c%u", i == 0 ? '-' : '.', (unsigned)ports[i]);
        if (w < 0 || (size_t)w >= cap - off) return -ENOSPC;
        off += (size_t)w;
    }
    return (int)off;
}

AUSB_API int ausb_device_speed_kbps(const ausb_device *dev)
{
    if (!dev || !dev->dev) return 0;
    switch (AUSB_LIBUSB(libusb_get_device_speed)(dev->dev)) {
    case LIBUSB_SPEED_LOW: return 1500;
    case LIBUSB_SPEED_FULL: return 12000;
    case LIBUSB_SPEED_HIGH: return 480000;
    case LIBUSB_SPEED_SUPER: return 5000000;
    case LIBUSB_SPEED_SUPER_PLUS: return 10000000;
    default: return 0;
    }
}

AUSB_API const ausb_device_desc *ausb_device_descriptor(const ausb_device *dev)
{
    return dev ? &dev->desc : NULL;
}

AUSB_API int ausb_device_ep0_max_packet(const ausb_device *dev)
{
    int v;
    if (!dev) return -EINVAL;
    v = dev->desc.bMaxPacketSize0;
    if (dev->desc.bcdUSB >= 0x0300) return v < 16 ? 1 << v : 0;
    return v;
}

AUSB_PRIVATE int ausb__class_matches(const ausb_device *dev, const ausb_filter *f)
{
    int c, i, a;
    ausb_config_desc *cfg;
    if (f->cls < 0 && f->subclass < 0 && f->protocol < 0) return 1;
    if ((f->cls < 0 || f->cls == dev->desc.bDeviceClass) &&
        (f->subclass < 0 || f->subclass == dev->desc.bDeviceSubClass) &&
        (f->protocol < 0 || f->protocol == dev->desc.bDeviceProtocol))
        return 1;
    for (c = 0; c < dev->desc.bNumConfigurations; c++) {
        const ausb_interface *in;
        const ausb_altsetting *s;
        int found = 0;
        if (ausb_config_get(&cfg, dev, c) < 0) continue;
        for (i = 0; !found && (in = ausb_config_interface_at(cfg, i)) != NULL; i++) {
            for (a = 0; !found && (s = ausb_interface_altsetting_at(in, a)) != NULL; a++) {
                found = (f->cls < 0 || f->cls == s->bInterfaceClass) &&
                        (f->subclass < 0 || f->subclass == s->bInterfaceSubClass) &&
                        (f->protocol < 0 || f->protocol == s->bInterfaceProtocol);
            }
        }
        ausb_config_free(cfg);
        if (found) return 1;
    }
    return 0;
}

AUSB_PRIVATE int ausb__serial_matches(const ausb_device *dev, const char *serial)
{
    libusb_device_handle *lh;
    unsigned char text[256];
    int r, ok = 0;
    if (!dev->desc.iSerialNumber) return 0;
    if (AUSB_LIBUSB(libusb_open)(dev->dev, &lh) < 0) return 0;
    r = AUSB_LIBUSB(libusb_get_string_descriptor_ascii)(lh, dev->desc.iSerialNumber, text, sizeof text);
    if (r >= 0) ok = strlen(serial) == (size_t)r && memcmp(text, serial, (size_t)r) == 0;
    AUSB_LIBUSB(libusb_close)(lh);
    return ok;
}

AUSB_API int ausb_device_matches(const ausb_device *dev, const ausb_filter *f)
{
    if (!dev || !f) return 0;
    if (f->vendor_id >= 0 && f->vendor_id != dev->desc.idVendor) return 0;
    if (f->product_id >= 0 && f->product_id != dev->desc.idProduct) return 0;
    if (f->bus >= 0 && f->bus != ausb_device_bus(dev)) return 0;
    if (f->port_path) {
        char path[64];
        if (ausb_device_port_path(dev, path, sizeof path) < 0 || strcmp(path, f->port_path) != 0) return 0;
    }
    if (!ausb__class_matches(dev, f)) return 0;
    if (f->pred && !f->pred(dev, f->pred_user)) return 0;
    if (f->serial && !ausb__serial_matches(dev, f->serial)) return 0;
    return 1;
}

AUSB_API int ausb_find(ausb_device *out, ausb_ctx *ctx, const ausb_filter *f)
{
    ausb_device_list list;
    int i, r = -ENOENT, n;
    if (!ctx || !f || !out) return -EINVAL;
    out->dev = NULL;
    n = ausb_devices(&list, ctx);
    if (n < 0) return n;
    for (i = 0; i < list.count; i++) {
        if (ausb_device_matches(&list.items[i], f)) {
            r = ausb_device_copy(out, &list.items[i]);
            break;
        }
    }
    ausb_devices_free(&list);
    return r;
}

AUSB_API int ausb_find_id(ausb_device *out, ausb_ctx *ctx, int vendor_id, int product_id)
{
    ausb_filter f;
    ausb_filter_init(&f);
    f.vendor_id = vendor_id;
    f.product_id = product_id;
    return ausb_find(out, ctx, &f);
}

/* 1 to 4 hex digits up to `stop`; where they end, or NULL. */
AUSB_PRIVATE const char *ausb__hex16(const char *s, char stop, int *out)
{
    int n = 0, v = 0, d;
    for (; *s != stop; s++, n++) {
        char c = *s;
        d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0 || n == 4) return NULL;
        v = v * 16 + d;
    }
    if (n == 0) return NULL;
    *out = v;
    return s;
}

AUSB_API int ausb_parse_ids(const char *text, int *vid, int *pid)
{
    const char *colon;
    int v, p;
    if (!text || !vid || !pid) return -EINVAL;
    if (!(colon = ausb__hex16(text, ':', &v)) || !ausb__hex16(colon + 1, 0, &p)) return -EINVAL;
    *vid = v;
    *pid = p;
    return 0;
}

/* ==== section: descriptors ==== */

AUSB_API int ausb_config_get(ausb_config_desc **out, const ausb_device *dev, int index)
{
    int r;
    if (!dev || !dev->dev || !out || index < 0 || index > 255) return -EINVAL;
    r = AUSB_LIBUSB(libusb_get_config_descriptor)(dev->dev, (uint8_t)index, out);
    /* Linux libusb parses cached bytes here: its I/O error means bad bytes. */
    if (r == LIBUSB_ERROR_IO) return AUSB_EMALFORMED;
    return r < 0 ? ausb_from_libusb(r, 0) : 0;
}

AUSB_API int ausb_config_active(ausb_config_desc **out, const ausb_device *dev)
{
    int r;
    if (!dev || !dev->dev || !out) return -EINVAL;
    r = AUSB_LIBUSB(libusb_get_active_config_descriptor)(dev->dev, out);
    if (r == LIBUSB_ERROR_IO) return AUSB_EMALFORMED;
    return r < 0 ? ausb_from_libusb(r, 0) : 0;
}

AUSB_API void ausb_config_free(ausb_config_desc *cfg)
{
    if (cfg) AUSB_LIBUSB(libusb_free_config_descriptor)(cfg);
}

/* libusb's tree is trusted no further than its pointers: on an endpoint
 * that runs past the end of the configuration, 1.0.26 reports success
 * with bNumEndpoints 3 and endpoint NULL.  Every walk goes through these
 * three, which count a missing array (or a negative count) as empty. */
AUSB_API const ausb_interface *ausb_config_interface_at(const ausb_config_desc *cfg, int i)
{
    if (!cfg || !cfg->interface || i < 0 || i >= cfg->bNumInterfaces) return NULL;
    return &cfg->interface[i];
}

AUSB_API const ausb_altsetting *ausb_interface_altsetting_at(const ausb_interface *in, int i)
{
    if (!in || !in->altsetting || i < 0 || i >= in->num_altsetting) return NULL;
    return &in->altsetting[i];
}

AUSB_API const ausb_endpoint_desc *ausb_altsetting_endpoint_at(const ausb_altsetting *s, int i)
{
    if (!s || !s->endpoint || i < 0 || i >= s->bNumEndpoints) return NULL;
    return &s->endpoint[i];
}

AUSB_API const ausb_interface *ausb_config_interface(const ausb_config_desc *cfg, int number)
{
    const ausb_interface *in;
    const ausb_altsetting *first;
    int i;
    for (i = 0; (in = ausb_config_interface_at(cfg, i)) != NULL; i++)
        if ((first = ausb_interface_altsetting_at(in, 0)) != NULL && first->bInterfaceNumber == number) return in;
    return NULL;
}

AUSB_API const ausb_altsetting *ausb_interface_altsetting(const ausb_interface *in, int alt)
{
    const ausb_altsetting *s;
    int i;
    for (i = 0; (s = ausb_interface_altsetting_at(in, i)) != NULL; i++)
        if (s->bAlternateSetting == alt) return s;
    return NULL;
}

AUSB_API const ausb_endpoint_desc *ausb_altsetting_endpoint(const ausb_altsetting *s, unsigned char address)
{
    const ausb_endpoint_desc *ep;
    int i;
    for (i = 0; (ep = ausb_altsetting_endpoint_at(s, i)) != NULL; i++)
        if (ep->bEndpointAddress == address) return ep;
    return NULL;
}

/* Bytes of one descriptor and the extras libusb kept after it; -1 when
 * the extras are a negative length or a length without bytes. */
AUSB_PRIVATE long ausb__desc_bytes(unsigned bl, const unsigned char *extra, int extra_length)
{
    if (extra_length < 0 || (extra_length > 0 && !extra)) return -1;
    return (long)bl + extra_length;
}

/* libusb drops what it cannot parse (an endpoint cut short, descriptors
 * after the interfaces bNumInterfaces announced) and still reports
 * success: what it kept must add up to the wTotalLength the device gave. */
AUSB_API int ausb_config_verify(const ausb_config_desc *cfg)
{
    const ausb_interface *in;
    const ausb_altsetting *s;
    const ausb_endpoint_desc *ep;
    long total, n;
    int i, a, e;
    if (!cfg) return -EINVAL;
    /* libusb answers a wTotalLength of 9 with a tree of no interface */
    if (!ausb_config_interface_at(cfg, 0)) return AUSB_EMALFORMED;
    if ((total = ausb__desc_bytes(cfg->bLength, cfg->extra, cfg->extra_length)) < 0) return AUSB_EMALFORMED;
    for (i = 0; (in = ausb_config_interface_at(cfg, i)) != NULL; i++) {
        if (in->num_altsetting < 1 || !in->altsetting) return AUSB_EMALFORMED;
        for (a = 0; (s = ausb_interface_altsetting_at(in, a)) != NULL; a++) {
            if (s->bNumEndpoints && !s->endpoint) return AUSB_EMALFORMED;
            if ((n = ausb__desc_bytes(s->bLength, s->extra, s->extra_length)) < 0) return AUSB_EMALFORMED;
            total += n;
            for (e = 0; (ep = ausb_altsetting_endpoint_at(s, e)) != NULL; e++) {
                if ((n = ausb__desc_bytes(ep->bLength, ep->extra, ep->extra_length)) < 0) return AUSB_EMALFORMED;
                total += n;
            }
        }
    }
    return total == cfg->wTotalLength ? 0 : AUSB_EMALFORMED;
}

/* The descriptors file of the device's sysfs directory ("usb1" for a
 * root hub, "1-1.2" below it) in a block of the library's; its length. */
#define AUSB__RAW_MAX (1 << 20)
AUSB_PRIVATE long ausb__sysfs_descriptors(const ausb_device *dev, unsigned char **out)
{
    char port[64], path[128];
    unsigned char *b = NULL, *nb;
    size_t len = 0, cap = 0, got;
    FILE *f;
    int n = ausb_device_port_path(dev, port, sizeof port), e;
    if (n < 0) return n;
    snprintf(path, sizeof path, "/sys/bus/usb/devices/%s%s/descriptors", strchr(port, '-') ? "" : "usb", port);
    if (!(f = fopen(path, "rb"))) return -errno;
    do {
        if (len == cap) {
            if (cap >= AUSB__RAW_MAX) { AUSB_FREE(b); fclose(f); return -EFBIG; }
            cap = cap ? cap * 2 : 4096;
            if (!(nb = (unsigned char *)AUSB_REALLOC(b, cap))) { AUSB_FREE(b); fclose(f); return -ENOMEM; }
            b = nb;
        }
        got = fread(b + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    e = ferror(f) ? -EIO : 0;
    fclose(f);
    if (e < 0) { AUSB_FREE(b); return e; }
    *out = b;
    return (long)len;
}

/* Where the configuration at `off` ends, as libusb 1.0.26 splits sysfs:
 * at the next configuration descriptor, found by walking bLength (the
 * last one at the end); 0 when a bLength stops the walk first. */
AUSB_PRIVATE size_t ausb__raw_config_end(const unsigned char *b, size_t off, size_t len, int last)
{
    size_t at = off + 9;
    if (last) return len;
    while (at + 2 <= len) {
        if (b[at + 1] == AUSB_DT_CONFIG) return at;
        if (b[at] < 2 || b[at] > len - at) return 0;
        at += b[at];
    }
    return 0;
}

AUSB_API int ausb_config_raw(const ausb_device *dev, int index, void *buf, size_t cap)
{
    unsigned char *all = NULL;
    size_t start = 18, end;
    long len;
    int k, r;
    if (!dev || !dev->dev || index < 0 || (!buf && cap)) return -EINVAL;
    if (index >= dev->desc.bNumConfigurations) return -ENOENT;
    if ((len = ausb__sysfs_descriptors(dev, &all)) < 0) return (int)len;
    for (k = 0;; k++, start = end) {
        if (start + 9 > (size_t)len || all[start + 1] != AUSB_DT_CONFIG) { r = AUSB_EMALFORMED; break; }
        end = ausb__raw_config_end(all, start, (size_t)len, k == dev->desc.bNumConfigurations - 1);
        if (k == index) {
            if (end == 0) end = (size_t)len;   /* a bad bLength: the rest is this one's */
            if (end - start > cap) r = -ENOSPC;
            else { memcpy(buf, all + start, end - start); r = (int)(end - start); }
            break;
        }
        if (end == 0) { r = AUSB_EMALFORMED; break; }
    }
    AUSB_FREE(all);
    return r;
}

AUSB_API int ausb_config_raw_check(const ausb_device *dev, int index)
{
    unsigned char *raw = (unsigned char *)AUSB_MALLOC(65536);
    int n, r;
    if (!raw) return -ENOMEM;
    n = ausb_config_raw(dev, index, raw, 65536);
    if (n == -ENOSPC) n = AUSB_EMALFORMED;   /* longer than any wTotalLength */
    r = n < 0 ? n : ausb_config_check(raw, (size_t)n);
    if (r >= 0 && (raw[2] | raw[3] << 8) != n) r = AUSB_EMALFORMED;
    AUSB_FREE(raw);
    return r;
}

AUSB_API int ausb_ep_type(const ausb_endpoint_desc *ep) { return ep ? ep->bmAttributes & 3 : -EINVAL; }
AUSB_API int ausb_ep_is_in(const ausb_endpoint_desc *ep) { return ep ? (ep->bEndpointAddress & 0x80) != 0 : -EINVAL; }
AUSB_API int ausb_ep_number(const ausb_endpoint_desc *ep) { return ep ? ep->bEndpointAddress & 0x0f : -EINVAL; }
AUSB_API int ausb_ep_packet_size(const ausb_endpoint_desc *ep) { return ep ? ep->wMaxPacketSize & 0x7ff : -EINVAL; }

AUSB_PRIVATE const uint8_t *ausb__find_in_extra(const unsigned char *extra, int len, int type, size_t min_len)
{
    ausb_desc_iter it;
    const uint8_t *d;
    size_t dl;
    if (!extra || len <= 0) return NULL;
    ausb_desc_iter_init(&it, extra, (size_t)len);
    while (ausb_desc_next(&it, &d, &dl) == 1)
        if (d[1] == type && dl >= min_len) return d;
    return NULL;
}

AUSB_API int ausb_ep_multiplier(const ausb_endpoint_desc *ep, int speed_kbps)
{
    int type, bits;
    if (!ep) return -EINVAL;
    type = ausb_ep_type(ep);
    /* Only periodic endpoints move several packets per service interval. */
    if (type != AUSB_EP_ISOCHRONOUS && type != AUSB_EP_INTERRUPT) return 1;
    if (speed_kbps >= 5000000) {
        const uint8_t *c = ausb__find_in_extra(ep->extra, ep->extra_length, AUSB_DT_SS_EP_COMPANION, 6);
        int burst, mult = 1;
        if (!c) return 1;
        burst = (c[2] & 0x0f) + 1;
        if (type == AUSB_EP_ISOCHRONOUS) mult = (c[3] & 3) + 1;
        return burst * (mult > 3 ? 3 : mult);
    }
    if (speed_kbps != 480000) return 1;
    bits = (ep->wMaxPacketSize >> 11) & 3;
    return bits == 3 ? 3 : bits + 1;   /* 3 is reserved: treat as the maximum */
}

AUSB_API int ausb_ep_max_packet(const ausb_endpoint_desc *ep, int speed_kbps)
{
    if (!ep) return -EINVAL;
    return ausb_ep_packet_size(ep) * ausb_ep_multiplier(ep, speed_kbps);
}

AUSB_API long ausb_ep_interval_us(const ausb_endpoint_desc *ep, int speed_kbps)
{
    int type, b;
    if (!ep) return -EINVAL;
    type = ausb_ep_type(ep);
    b = ep->bInterval;
    if (type == AUSB_EP_BULK || type == AUSB_EP_CONTROL) return 0;
    if (speed_kbps <= 12000 && type == AUSB_EP_INTERRUPT) return (long)b * 1000;
    if (b < 1) b = 1;
    if (b > 16) b = 16;
    if (speed_kbps <= 12000) return 1000L << (b - 1);
    return 125L << (b - 1);
}

#endif /* !AUSB_NO_LIBUSB */

AUSB_API void ausb_desc_iter_init(ausb_desc_iter *it, const void *buf, size_t len)
{
    if (!it) return;
    it->buf = (const uint8_t *)buf;
    it->len = buf ? len : 0;
    it->off = 0;
    it->error = 0;
    it->interface = -1;
    it->alt = -1;
}

AUSB_API int ausb_desc_next(ausb_desc_iter *it, const uint8_t **desc, size_t *desc_len)
{
    size_t left, bl;
    if (!it) return -EINVAL;
    if (it->error) return it->error;
    if (it->off >= it->len) return 0;
    left = it->len - it->off;
    if (left < 2) return it->error = AUSB_EMALFORMED;
    bl = it->buf[it->off];
    if (bl < 2 || bl > left) return it->error = AUSB_EMALFORMED;
    if (desc) *desc = it->buf + it->off;
    if (desc_len) *desc_len = bl;
    if (it->buf[it->off + 1] == AUSB_DT_INTERFACE) {
        if (bl < 9) return it->error = AUSB_EMALFORMED;
        it->interface = it->buf[it->off + 2];
        it->alt = it->buf[it->off + 3];
    }
    it->off += bl;
    return 1;
}

AUSB_API int ausb_config_check(const void *raw, size_t len)
{
    const uint8_t *p = (const uint8_t *)raw, *d;
    ausb_desc_iter it;
    size_t total, dl;
    int r, count = 0, seen_if = 0, interfaces = 0;
    if (!p || len < 9) return AUSB_EMALFORMED;
    if (p[0] < 9 || p[1] != AUSB_DT_CONFIG) return AUSB_EMALFORMED;
    total = (size_t)p[2] | ((size_t)p[3] << 8);
    if (total < p[0] || total > len) return AUSB_EMALFORMED;
    ausb_desc_iter_init(&it, p, total);
    while ((r = ausb_desc_next(&it, &d, &dl)) == 1) {
        count++;
        if (count > 1 && d[1] == AUSB_DT_CONFIG) return AUSB_EMALFORMED;
        if (d[1] == AUSB_DT_ENDPOINT && (dl < 7 || !seen_if)) return AUSB_EMALFORMED;
        if (d[1] == AUSB_DT_IAD && dl < 8) return AUSB_EMALFORMED;
        if (d[1] == AUSB_DT_INTERFACE) {
            seen_if = 1;
            if (it.alt == 0) interfaces++;   /* each interface has one alt 0 */
        }
    }
    if (r < 0) return r;
    if (interfaces != p[4]) return AUSB_EMALFORMED;   /* bNumInterfaces */
    return count;
}

AUSB_API int ausb_iad_parse(const uint8_t *desc, size_t len, ausb_iad *out)
{
    if (!desc || len < 8 || desc[0] < 8 || desc[0] > len || desc[1] != AUSB_DT_IAD) return AUSB_EMALFORMED;
    if (out) {
        out->first_interface = desc[2];
        out->interface_count = desc[3];
        out->function_class = desc[4];
        out->function_subclass = desc[5];
        out->function_protocol = desc[6];
        out->function_string = desc[7];
    }
    return 0;
}

AUSB_PRIVATE int ausb__iads_in(const unsigned char *buf, size_t len, ausb_iad *out, int cap, int n)
{
    ausb_desc_iter it;
    const uint8_t *d;
    size_t dl;
    if (!buf || !len) return n;
    ausb_desc_iter_init(&it, buf, len);
    while (ausb_desc_next(&it, &d, &dl) == 1) {
        if (d[1] != AUSB_DT_IAD) continue;
        if (ausb_iad_parse(d, dl, n < cap && out ? &out[n] : NULL) == 0) n++;
    }
    return n;
}

#if !defined(AUSB_NO_LIBUSB)
AUSB_API int ausb_config_iads(const ausb_config_desc *cfg, ausb_iad *out, int cap)
{
    const ausb_interface *in;
    const ausb_altsetting *s;
    const ausb_endpoint_desc *ep;
    int n = 0, i, a, e;
    if (!cfg) return -EINVAL;
    n = ausb__iads_in(cfg->extra, (size_t)(cfg->extra_length > 0 ? cfg->extra_length : 0), out, cap, n);
    for (i = 0; (in = ausb_config_interface_at(cfg, i)) != NULL; i++) {
        for (a = 0; (s = ausb_interface_altsetting_at(in, a)) != NULL; a++) {
            n = ausb__iads_in(s->extra, (size_t)(s->extra_length > 0 ? s->extra_length : 0), out, cap, n);
            for (e = 0; (ep = ausb_altsetting_endpoint_at(s, e)) != NULL; e++)
                n = ausb__iads_in(ep->extra, (size_t)(ep->extra_length > 0 ? ep->extra_length : 0), out, cap, n);
        }
    }
    return n;
}

#endif /* !AUSB_NO_LIBUSB */

AUSB_API int ausb_raw_iads(const void *raw, size_t len, ausb_iad *out, int cap)
{
    int r = ausb_config_check(raw, len);
    const uint8_t *p = (const uint8_t *)raw;
    if (r < 0) return r;
    return ausb__iads_in(p, (size_t)p[2] | ((size_t)p[3] << 8), out, cap, 0);
}

AUSB_PRIVATE size_t ausb__utf8_put(char *o, unsigned long cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f)); return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

AUSB_API int ausb_utf16le_to_utf8(const uint8_t *in, size_t in_bytes, char *out, size_t cap)
{
    size_t i = 0, o = 0, units = in_bytes / 2;
    if (!out || cap == 0) return -EINVAL;
    if (!in) units = 0;
    while (i < units) {
        unsigned long cp = (unsigned long)in[2 * i] | ((unsigned long)in[2 * i + 1] << 8);
        char tmp[4];
        size_t w;
        i++;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            unsigned long lo = i < units ? ((unsigned long)in[2 * i] | ((unsigned long)in[2 * i + 1] << 8)) : 0;
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i++;
            } else {
                cp = 0xfffd;
            }
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            cp = 0xfffd;
        }
        w = ausb__utf8_put(tmp, cp);
        if (o + w + 1 > cap) { out[o] = 0; return -ENOSPC; }
        memcpy(out + o, tmp, w);
        o += w;
    }
    out[o] = 0;
    return (int)o;
}

/* Length of the well-formed UTF-8 sequence at s whose code point is no
 * control character, or 0 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
AUSB_PRIVATE int ausb__utf8_printable_len(const unsigned char *s)
{
    static const unsigned long min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned long cp;
    int n, k;
    if (s[0] < 0x80) return s[0] >= 0x20 && s[0] != 0x7f;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) { n = 2; cp = s[0] & 0x1fu; }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) { n = 3; cp = s[0] & 0x0fu; }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) { n = 4; cp = s[0] & 0x07u; }
    else return 0;
    for (k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;   /* also stops at the terminating NUL */
        cp = (cp << 6) | (s[k] & 0x3fu);
    }
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f)) return 0;
    return n;
}

AUSB_API int ausb_utf8_printable(char *s)
{
    unsigned char *r = (unsigned char *)s, *w = (unsigned char *)s;
    int replaced = 0, n;
    if (!s) return -EINVAL;
    while (*r) {
        n = ausb__utf8_printable_len(r);
        if (n == 0) {
            /* one '?' for a whole C1 character, else one per bad byte */
            n = r[0] == 0xc2 && r[1] >= 0x80 && r[1] <= 0x9f ? 2 : 1;
            *w++ = '?';
            r += n;
            replaced++;
            continue;
        }
        while (n--) *w++ = *r++;
    }
    *w = 0;
    return replaced;
}

#if !defined(AUSB_NO_LIBUSB)
/* ==== section: handles ==== */

#define AUSB__BIT_SET(a, i) ((a)[(i) >> 5] |= (uint32_t)1 << ((i) & 31))
#define AUSB__BIT_CLR(a, i) ((a)[(i) >> 5] &= ~((uint32_t)1 << ((i) & 31)))
#define AUSB__BIT_GET(a, i) (((a)[(i) >> 5] >> ((i) & 31)) & 1u)

/* A handle the context still holds (open, not yet closed) must not be
 * cleared and linked again: the list would point to itself.  Only the
 * context's list is read, since h may hold anything before its first use. */
AUSB_PRIVATE int ausb__handle_listed(const ausb_ctx *ctx, const ausb_handle *h)
{
    const ausb_handle *it;
    for (it = ctx ? ctx->handles : NULL; it; it = it->next)
        if (it == h) return 1;
    return 0;
}

AUSB_API int ausb_open(ausb_handle *h, const ausb_device *dev)
{
    int r;
    if (!h) return -EINVAL;
    if (dev && ausb__handle_listed(dev->ctx, h)) return -EBUSY;
    memset(h, 0, sizeof *h);
    h->usbfs_fd = h->can_map = -1;
    if (!dev || !dev->dev || !dev->ctx) return -EINVAL;
    dev->ctx->opened_fd = -1;
    r = AUSB_LIBUSB(libusb_open)(dev->dev, &h->lh);
    if (r < 0) { h->lh = NULL; return ausb_from_libusb(r, 0); }
    h->usbfs_fd = dev->ctx->opened_fd;
    (void)ausb_device_copy(&h->dev, dev);
    h->ctx = dev->ctx;
    h->auto_detach = 1;
    h->next = h->ctx->handles;
    if (h->next) h->next->prev = h;
    h->ctx->handles = h;
    return 0;
}

AUSB_API int ausb_wrap_fd(ausb_handle *h, ausb_ctx *ctx, int fd)
{
    libusb_device *d;
    int r;
    if (!h) return -EINVAL;
    if (ausb__handle_listed(ctx, h)) return -EBUSY;
    memset(h, 0, sizeof *h);
    h->usbfs_fd = h->can_map = -1;
    if (!ctx || !ctx->lu || fd < 0) return -EINVAL;
    r = AUSB_LIBUSB(libusb_wrap_sys_device)(ctx->lu, (intptr_t)fd, &h->lh);
    if (r < 0) { h->lh = NULL; return ausb_from_libusb(r, 0); }
    d = AUSB_LIBUSB(libusb_get_device)(h->lh);
    if ((r = ausb__device_wrap(ctx, d, &h->dev)) < 0) {
        AUSB_LIBUSB(libusb_close)(h->lh);
        h->lh = NULL;
        return r;
    }
    h->ctx = ctx;
    h->auto_detach = 1;
    h->usbfs_fd = fd;
    h->next = ctx->handles;
    if (h->next) h->next->prev = h;
    ctx->handles = h;
    return 0;
}

AUSB_API void ausb_set_auto_detach(ausb_handle *h, int on)
{
    if (h) h->auto_detach = on != 0;
}

AUSB_API void ausb_set_zero_copy(ausb_handle *h, int on)
{
    if (h) h->no_zero_copy = !on;
}

AUSB_API int ausb_handle_gone(const ausb_handle *h) { return h ? h->gone : 1; }
AUSB_API const ausb_device *ausb_handle_device(const ausb_handle *h) { return h ? &h->dev : NULL; }

AUSB_PRIVATE int ausb__usable(const ausb_handle *h)
{
    /* closing wins: the callbacks a close delivers (lh already gone) and
     * calls after it get AUSB_ECLOSED, as from an inline close */
    if (!h) return -EINVAL;
    if (h->closing) return AUSB_ECLOSED;
    if (!h->lh) return -EINVAL;
    if (h->gone) return -ENODEV;
    return 0;
}

AUSB_PRIVATE int ausb__note(ausb_handle *h, int r)
{
    if (r == LIBUSB_ERROR_NO_DEVICE) h->gone = 1;
    return ausb_from_libusb(r, 0);
}

AUSB_API int ausb_claim(ausb_handle *h, int iface)
{
    int r = ausb__usable(h);
    if (r < 0) return r;
    if (iface < 0 || iface >= AUSB_MAX_INTERFACES) return -EINVAL;
    if (AUSB__BIT_GET(h->claimed, iface)) return 0;
    if (h->auto_detach && AUSB_LIBUSB(libusb_kernel_driver_active)(h->lh, iface) == 1) {
        r = AUSB_LIBUSB(libusb_detach_kernel_driver)(h->lh, iface);
        if (r < 0) return ausb__note(h, r);
        AUSB__BIT_SET(h->detached, iface);
    }
    r = AUSB_LIBUSB(libusb_claim_interface)(h->lh, iface);
    if (r < 0) {
        if (AUSB__BIT_GET(h->detached, iface)) {
            (void)AUSB_LIBUSB(libusb_attach_kernel_driver)(h->lh, iface);
            AUSB__BIT_CLR(h->detached, iface);
        }
        return ausb__note(h, r);
    }
    AUSB__BIT_SET(h->claimed, iface);
    return 0;
}

AUSB_PRIVATE int ausb__release(ausb_handle *h, int iface)
{
    int r = 0;
    if (AUSB__BIT_GET(h->claimed, iface)) {
        if (!h->gone) r = ausb__note(h, AUSB_LIBUSB(libusb_release_interface)(h->lh, iface));
        AUSB__BIT_CLR(h->claimed, iface);
    }
    if (AUSB__BIT_GET(h->detached, iface)) {
        if (!h->gone) (void)AUSB_LIBUSB(libusb_attach_kernel_driver)(h->lh, iface);
        AUSB__BIT_CLR(h->detached, iface);
    }
    return r;
}

AUSB_API int ausb_release(ausb_handle *h, int iface)
{
    if (!h || !h->lh || iface < 0 || iface >= AUSB_MAX_INTERFACES) return -EINVAL;
    if (!AUSB__BIT_GET(h->claimed, iface)) return -ENOENT;
    return ausb__release(h, iface);
}

AUSB_API int ausb_set_altsetting(ausb_handle *h, int iface, int alt)
{
    int r = ausb__usable(h);
    if (r < 0) return r;
    return ausb__note(h, AUSB_LIBUSB(libusb_set_interface_alt_setting)(h->lh, iface, alt));
}

AUSB_API int ausb_set_configuration(ausb_handle *h, int value)
{
    int r = ausb__usable(h);
    if (r < 0) return r;
    return ausb__note(h, AUSB_LIBUSB(libusb_set_configuration)(h->lh, value));
}

AUSB_API int ausb_clear_halt(ausb_handle *h, unsigned char ep)
{
    int r = ausb__usable(h);
    if (r < 0) return r;
    return ausb__note(h, AUSB_LIBUSB(libusb_clear_halt)(h->lh, ep));
}

AUSB_API int ausb_reset(ausb_handle *h)
{
    int r = ausb__usable(h);
    if (r < 0) return r;
    r = AUSB_LIBUSB(libusb_reset_device)(h->lh);
    /* NOT_FOUND: the device must be re-enumerated; this handle is done. */
    if (r == LIBUSB_ERROR_NOT_FOUND) h->gone = 1;
    return ausb__note(h, r);
}

AUSB_PRIVATE void ausb__unlink_inflight(ausb_transfer *t)
{
    ausb_handle *h = t->handle;
    if (t->h_prev) t->h_prev->h_next = t->h_next; else h->inflight_head = t->h_next;
    if (t->h_next) t->h_next->h_prev = t->h_prev;
    t->h_prev = t->h_next = NULL;
    h->inflight--;
    h->ctx->inflight--;
    h->ctx->usbfs_used -= t->usbfs_cost;
    t->usbfs_cost = 0;
}

AUSB_API void ausb_close(ausb_handle *h)
{
    ausb_ctx *ctx;
    ausb_transfer *t;
    ausb_handle *copy;
    struct ausb__zc *zc;
    if (!h || !h->lh || h->closing) return;
    ctx = h->ctx;
    /* What other threads queued goes out first, so that this handle's
     * share is cancelled and delivered with the rest, not submitted after
     * the close through storage the caller may have freed. */
    if (__atomic_load_n(&ctx->remote, __ATOMIC_ACQUIRE)) ausb__submit_remote(ctx);
    h->closing = 1;     /* from here on submits fail with AUSB_ECLOSED */
    for (t = h->inflight_head; t; t = t->h_next) {
        t->cancel_requested = 1;
        (void)AUSB_LIBUSB(libusb_cancel_transfer)(t->lt);
    }
    if (!ctx->in_dispatch_events) {
        ausb__close_finish(h);
        return;
    }
    /* Called from an inline callback, inside libusb's event handling, where
     * libusb can neither be pumped nor close a handle: finish right after it
     * returns.  With nothing in flight the caller may free h as soon as the
     * callback returns, so a library-owned copy stands in for it (unless
     * that allocation fails; then h is used and must outlive the dispatch). */
    h->close_deferred = 1;
    if (h->inflight > 0 || !(copy = (ausb_handle *)AUSB_MALLOC(sizeof *copy))) return;
    *copy = *h;
    copy->heap_copy = 1;
    for (zc = copy->zc; zc; zc = zc->next) zc->handle = copy;   /* its streams' mappings move along */
    h->zc = NULL;
    if (copy->prev) copy->prev->next = copy; else ctx->handles = copy;
    if (copy->next) copy->next->prev = copy;
    /* h keeps its (never again used) lh so that it reads as closing:
     * calls on it fail with AUSB_ECLOSED. */
    h->close_deferred = 0;
    h->next = h->prev = NULL;
    memset(h->claimed, 0, sizeof h->claimed);
    memset(h->detached, 0, sizeof h->detached);
    memset(&h->dev, 0, sizeof h->dev);
}

/* The blocking part of ausb_close, never from inside libusb's events. */
AUSB_PRIVATE void ausb__close_finish(ausb_handle *h)
{
    ausb_ctx *ctx = h->ctx;
    ausb_transfer *t, **pp, *mine = NULL, **mine_tail = &mine;
    int i, heap_copy = h->heap_copy;
    int64_t give_up;
    /* libusb hands cancelled transfers back from its event handling; we are
     * never inside it here, so pumping it is allowed.  The bound, in time
     * (AUSB_CLOSE_WAIT_NS), only guards against a kernel that never gives an
     * URB back. */
    give_up = ausb_now_ns() + (int64_t)(AUSB_CLOSE_WAIT_NS);
    while (h->inflight > 0 && ausb_now_ns() < give_up) {
        struct timeval tv = {0, 5000};
        (void)AUSB_LIBUSB(libusb_handle_events_timeout_completed)(ctx->lu, &tv, NULL);
    }
    /* This handle's completions, in order, delivered once it is gone. */
    pp = &ctx->done_head;
    ctx->done_tail = NULL;
    while (*pp) {
        t = *pp;
        if (t->handle == h) {
            *pp = t->next_done;
            t->next_done = NULL;
            *mine_tail = t;
            mine_tail = &t->next_done;
        } else {
            ctx->done_tail = t;
            pp = &t->next_done;
        }
    }
    /* Transfers the kernel never gave back: libusb_close drops them, so
     * they are delivered as cancelled (every transfer calls back once). */
    while ((t = h->inflight_head) != NULL) {
        ausb__unlink_inflight(t);
        t->status = -ECANCELED;
        t->actual_length = 0;
        t->state = AUSB_XFER_DONE;
        t->next_done = NULL;
        *mine_tail = t;
        mine_tail = &t->next_done;
    }
    for (i = 0; i < AUSB_MAX_INTERFACES; i++)
        if (AUSB__BIT_GET(h->claimed, i) || AUSB__BIT_GET(h->detached, i)) (void)ausb__release(h, i);
    ausb__zc_orphan(h);
    AUSB_LIBUSB(libusb_close)(h->lh);
    h->lh = NULL;
    if (h->prev) h->prev->next = h->next; else ctx->handles = h->next;
    if (h->next) h->next->prev = h->prev;
    h->next = h->prev = NULL;
    ausb_device_release(&h->dev);
    if (heap_copy) AUSB_FREE(h);
    /* The handle is finished.  A callback may free it, its transfers or
     * close the whole context: neither h nor ctx is touched from here on. */
    while ((t = mine) != NULL) {
        mine = t->next_done;
        t->next_done = NULL;
        t->state = AUSB_XFER_IDLE;
        ausb__deliver(t);
    }
}

/* ==== section: transfers ==== */

static void LIBUSB_CALL ausb__on_libusb_done(struct libusb_transfer *lt)
{
    ausb_transfer *t = (ausb_transfer *)lt->user_data;
    ausb_ctx *ctx = t->handle->ctx;
    /* Inside libusb's event handling: only record and queue, unless the
     * transfer asked for an inline callback and dispatch is pumping. */
    t->status = ausb_from_libusb((int)lt->status, 1);
    if (t->status == -ENODEV) t->handle->gone = 1;
    t->actual_length = lt->actual_length;
    if (lt->type == LIBUSB_TRANSFER_TYPE_CONTROL && t->actual_length < 0) t->actual_length = 0;
    if (lt->type == LIBUSB_TRANSFER_TYPE_ISOCHRONOUS) {
        int i;   /* libusb leaves it 0 for iso: the sum of the packets */
        t->actual_length = 0;
        for (i = 0; i < lt->num_iso_packets; i++) t->actual_length += (int)lt->iso_packet_desc[i].actual_length;
    }
    ausb__unlink_inflight(t);
    if (t->inline_cb && ctx->in_dispatch_events && !t->handle->closing) {
        t->state = AUSB_XFER_IDLE;
        ausb__deliver(t);
        return;
    }
    t->state = AUSB_XFER_DONE;
    t->next_done = NULL;
    if (ctx->done_tail) ctx->done_tail->next_done = t; else ctx->done_head = t;
    ctx->done_tail = t;
}

AUSB_API int ausb_transfer_init(ausb_transfer *t, int iso_packets)
{
    if (!t || iso_packets < 0) return -EINVAL;
    memset(t, 0, sizeof *t);
    t->lt = AUSB_LIBUSB(libusb_alloc_transfer)(iso_packets);
    if (!t->lt) return -ENOMEM;
    t->iso_capacity = iso_packets;
    return 0;
}

AUSB_API void ausb_transfer_free(ausb_transfer *t)
{
    if (!t || !t->lt) return;
    if (t->state != AUSB_XFER_IDLE) {
        /* libusb (or the queue of callbacks) still holds it: cancel, and
         * release it on the way to its callback (ausb__deliver). */
        t->free_before_cb = 1;
        (void)ausb_cancel(t);
        return;
    }
    AUSB_LIBUSB(libusb_free_transfer)(t->lt);
    t->lt = NULL;
}

/* libusb counts transfer timeouts in whole milliseconds (0: none): round
 * up, so that a timeout never ends early. */
AUSB_PRIVATE unsigned ausb__ms(int64_t ns)
{
    if (ns <= 0) return 0;
    if (ns >= (int64_t)UINT32_MAX * 1000000) return UINT32_MAX;
    return (unsigned)((ns + 999999) / 1000000);
}

AUSB_PRIVATE void ausb__fill(ausb_transfer *t, ausb_handle *h, unsigned char type, unsigned char ep, void *buf,
                             int len, int64_t timeout_ns, ausb_transfer_cb cb, void *ud)
{
    struct libusb_transfer *lt = t->lt;
    t->handle = h;
    t->cb = cb;
    t->ud = ud;
    t->status = 0;
    t->actual_length = 0;
    lt->dev_handle = h ? h->lh : NULL;
    lt->flags = 0;
    t->inline_cb = 0;
    lt->endpoint = ep;
    lt->type = type;
    lt->timeout = ausb__ms(timeout_ns);
    lt->buffer = (unsigned char *)buf;
    lt->length = len;
    lt->num_iso_packets = 0;
    lt->callback = ausb__on_libusb_done;
    lt->user_data = t;
}

AUSB_API void ausb_fill_bulk(ausb_transfer *t, ausb_handle *h, unsigned char ep, void *buf, int len,
                             int64_t timeout_ns, ausb_transfer_cb cb, void *ud)
{
    if (t && t->lt && t->state == AUSB_XFER_IDLE)
        ausb__fill(t, h, LIBUSB_TRANSFER_TYPE_BULK, ep, buf, len, timeout_ns, cb, ud);
}

AUSB_API void ausb_fill_interrupt(ausb_transfer *t, ausb_handle *h, unsigned char ep, void *buf, int len,
                                  int64_t timeout_ns, ausb_transfer_cb cb, void *ud)
{
    if (t && t->lt && t->state == AUSB_XFER_IDLE)
        ausb__fill(t, h, LIBUSB_TRANSFER_TYPE_INTERRUPT, ep, buf, len, timeout_ns, cb, ud);
}

AUSB_API void ausb_fill_control(ausb_transfer *t, ausb_handle *h, void *buf, int64_t timeout_ns,
                                ausb_transfer_cb cb, void *ud)
{
    const unsigned char *s = (const unsigned char *)buf;
    int wlength;
    if (!t || !t->lt || t->state != AUSB_XFER_IDLE || !buf) return;
    wlength = s[6] | (s[7] << 8);
    ausb__fill(t, h, LIBUSB_TRANSFER_TYPE_CONTROL, 0, buf, 8 + wlength, timeout_ns, cb, ud);
}

AUSB_API int ausb_fill_iso(ausb_transfer *t, ausb_handle *h, unsigned char ep, void *buf, int len,
                           int packets, int packet_len, int64_t timeout_ns, ausb_transfer_cb cb, void *ud)
{
    int i;
    if (!t || !t->lt || t->state != AUSB_XFER_IDLE) return -EINVAL;
    if (packets < 0 || packets > t->iso_capacity || packet_len < 0 || (long)packets * packet_len > len) return -EINVAL;
    ausb__fill(t, h, LIBUSB_TRANSFER_TYPE_ISOCHRONOUS, ep, buf, len, timeout_ns, cb, ud);
    t->lt->num_iso_packets = packets;
    for (i = 0; i < packets; i++) {
        t->lt->iso_packet_desc[i].length = (unsigned)packet_len;
        t->lt->iso_packet_desc[i].actual_length = 0;
        t->lt->iso_packet_desc[i].status = LIBUSB_TRANSFER_COMPLETED;
    }
    return 0;
}

AUSB_API void ausb_transfer_set_flags(ausb_transfer *t, unsigned flags)
{
    if (!t || !t->lt || t->state != AUSB_XFER_IDLE) return;
    /* libusb compares an iso transfer's length with its (always 0) total:
     * SHORT_NOT_OK would fail every one, so iso ignores it. */
    if (t->lt->type == LIBUSB_TRANSFER_TYPE_ISOCHRONOUS) flags &= ~AUSB_SHORT_NOT_OK;
    t->lt->flags = (uint8_t)(((flags & AUSB_SHORT_NOT_OK) ? LIBUSB_TRANSFER_SHORT_NOT_OK : 0) |
                             ((flags & AUSB_ZERO_PACKET) ? LIBUSB_TRANSFER_ADD_ZERO_PACKET : 0));
    t->inline_cb = (flags & AUSB_INLINE_CALLBACK) != 0;
}

AUSB_API int ausb_submit(ausb_transfer *t)
{
    ausb_handle *h;
    int r;
    if (!t || !t->lt || !t->handle) return -EINVAL;
    if (t->state != AUSB_XFER_IDLE) return -EBUSY;
    h = t->handle;
    r = ausb__usable(h);
    if (r < 0) return r;
    t->lt->dev_handle = h->lh;
    t->status = 0;
    t->actual_length = 0;
    t->cancel_requested = 0;
    t->usbfs_cost = t->usbfs_prepaid ? 0 : ausb__usbfs_cost(1, t->lt->length);
    if ((r = ausb__usbfs_take(h->ctx, t->usbfs_cost)) < 0) {
        t->usbfs_cost = 0;
        return r;
    }
    r = AUSB_LIBUSB(libusb_submit_transfer)(t->lt);
    if (r < 0) {
        h->ctx->usbfs_used -= t->usbfs_cost;
        t->usbfs_cost = 0;
        /* usbfs answers ENOMEM when its memory limit is reached (by all
         * programs together): name it as the limit, not as malloc */
        return r == LIBUSB_ERROR_NO_MEM ? -ENOBUFS : ausb__note(h, r);
    }
    t->state = AUSB_XFER_INFLIGHT;
    t->h_prev = NULL;
    t->h_next = h->inflight_head;
    if (t->h_next) t->h_next->h_prev = t;
    h->inflight_head = t;
    h->inflight++;
    h->ctx->inflight++;
    return 0;
}

AUSB_API int ausb_cancel(ausb_transfer *t)
{
    int r;
    if (!t || !t->lt) return -EINVAL;
    if (__atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == AUSB_XFER_QUEUED) {
        /* queued by ausb_submit_any_thread, not submitted yet: the loop
         * completes it with -ECANCELED instead of submitting it */
        t->cancel_requested = 1;
        return 0;
    }
    if (t->state != AUSB_XFER_INFLIGHT || t->cancel_requested) return 0;
    t->cancel_requested = 1;
    r = AUSB_LIBUSB(libusb_cancel_transfer)(t->lt);
    /* NOT_FOUND: already completing; its callback is on the way. */
    if (r < 0 && r != LIBUSB_ERROR_NOT_FOUND && r != LIBUSB_ERROR_NO_DEVICE) return ausb_from_libusb(r, 0);
    return 0;
}

AUSB_API int ausb_transfer_state(const ausb_transfer *t) { return t ? t->state : AUSB_XFER_IDLE; }
AUSB_API unsigned char *ausb_transfer_buffer(const ausb_transfer *t) { return t && t->lt ? t->lt->buffer : NULL; }
AUSB_API unsigned char *ausb_control_data(const ausb_transfer *t)
{
    return t && t->lt && t->lt->buffer ? t->lt->buffer + 8 : NULL;
}
AUSB_API int ausb_iso_packets(const ausb_transfer *t) { return t && t->lt ? t->lt->num_iso_packets : 0; }

AUSB_API int ausb_iso_packet_status(const ausb_transfer *t, int i)
{
    if (!t || !t->lt || i < 0 || i >= t->lt->num_iso_packets) return -EINVAL;
    return ausb_from_libusb((int)t->lt->iso_packet_desc[i].status, 1);
}

AUSB_API int ausb_iso_packet_length(const ausb_transfer *t, int i)
{
    if (!t || !t->lt || i < 0 || i >= t->lt->num_iso_packets) return -EINVAL;
    return (int)t->lt->iso_packet_desc[i].actual_length;
}

AUSB_API unsigned char *ausb_iso_packet_data(const ausb_transfer *t, int i)
{
    size_t off = 0;
    int k;
    if (!t || !t->lt || i < 0 || i >= t->lt->num_iso_packets) return NULL;
    for (k = 0; k < i; k++) off += t->lt->iso_packet_desc[k].length;
    return t->lt->buffer + off;
}

#endif /* !AUSB_NO_LIBUSB */

AUSB_API void ausb_setup(void *buf, unsigned request_type, unsigned request, unsigned value, unsigned index,
                         unsigned length)
{
    unsigned char *s = (unsigned char *)buf;
    if (!s) return;
    s[0] = (unsigned char)request_type;
    s[1] = (unsigned char)request;
    s[2] = (unsigned char)(value & 0xff);
    s[3] = (unsigned char)(value >> 8);
    s[4] = (unsigned char)(index & 0xff);
    s[5] = (unsigned char)(index >> 8);
    s[6] = (unsigned char)(length & 0xff);
    s[7] = (unsigned char)(length >> 8);
}

AUSB_API void ausb_setup_get_descriptor(void *buf, unsigned type, unsigned index, unsigned langid,
                                        unsigned length)
{
    ausb_setup(buf, AUSB_RT_IN | AUSB_RT_STANDARD | AUSB_RT_DEVICE, AUSB_REQ_GET_DESCRIPTOR,
               (type << 8) | (index & 0xff), langid, length);
}

AUSB_API void ausb_setup_get_status(void *buf, unsigned recipient, unsigned index)
{
    ausb_setup(buf, AUSB_RT_IN | AUSB_RT_STANDARD | recipient, AUSB_REQ_GET_STATUS, 0, index, 2);
}

AUSB_API void ausb_setup_feature(void *buf, int set, unsigned recipient, unsigned feature, unsigned index)
{
    ausb_setup(buf, AUSB_RT_STANDARD | recipient, set ? AUSB_REQ_SET_FEATURE : AUSB_REQ_CLEAR_FEATURE,
               feature, index, 0);
}

#if !defined(AUSB_NO_LIBUSB)
/* ==== section: strings ==== */

AUSB_PRIVATE void ausb__string_step(ausb_transfer *t, int status, void *ud);

AUSB_PRIVATE int ausb__string_submit(ausb_string_req *req, unsigned idx, unsigned langid)
{
    ausb_setup_get_descriptor(req->buf, AUSB_DT_STRING, idx, langid, 255);
    ausb_fill_control(&req->xfer, req->handle, req->buf, req->timeout_ns, ausb__string_step, req);
    return ausb_submit(&req->xfer);
}

AUSB_PRIVATE void ausb__string_finish(ausb_string_req *req, int status)
{
    ausb_string_cb cb = req->cb;
    void *ud = req->ud;
    const char *text = status == 0 ? req->text : NULL;
    ausb_transfer_free(&req->xfer);
    if (cb) cb(req, status, text, ud);
}

AUSB_PRIVATE uint16_t ausb__pick_lang(const unsigned char *d, int len)
{
    int i, n;
    uint16_t first = 0;
    if (len < 4 || d[1] != AUSB_DT_STRING) return 0;
    n = (d[0] < len ? d[0] : len);
    for (i = 2; i + 1 < n; i += 2) {
        uint16_t l = (uint16_t)(d[i] | (d[i + 1] << 8));
        if (l == 0x0409) return l;
        if (!first) first = l;
    }
    return first;
}

AUSB_PRIVATE void ausb__string_step(ausb_transfer *t, int status, void *ud)
{
    ausb_string_req *req = (ausb_string_req *)ud;
    const unsigned char *d = req->buf + 8;
    int len = t->actual_length, n, r;
    if (status != 0) { ausb__string_finish(req, status); return; }
    if (req->step == 0) {
        uint16_t lang = ausb__pick_lang(d, len);
        if (!lang) { ausb__string_finish(req, AUSB_EMALFORMED); return; }
        req->handle->langid = lang;
        req->step = 1;
        r = ausb__string_submit(req, req->index, lang);
        if (r < 0) ausb__string_finish(req, r);
        return;
    }
    if (len < 2 || d[1] != AUSB_DT_STRING || d[0] < 2) { ausb__string_finish(req, AUSB_EMALFORMED); return; }
    n = d[0] < len ? d[0] : len;
    r = ausb_utf16le_to_utf8(d + 2, (size_t)(n - 2), req->text, sizeof req->text);
    ausb__string_finish(req, r < 0 ? r : 0);
}

AUSB_API const char *ausb_string_text(const ausb_string_req *req) { return req ? req->text : ""; }

AUSB_API int ausb_read_string(ausb_string_req *req, ausb_handle *h, int index, int64_t timeout_ns,
                              ausb_string_cb cb, void *ud)
{
    int r;
    if (!req || index <= 0 || index > 255) return -EINVAL;
    r = ausb__usable(h);
    if (r < 0) return r;
    r = ausb_transfer_init(&req->xfer, 0);
    if (r < 0) return r;
    req->handle = h;
    req->cb = cb;
    req->ud = ud;
    req->index = (uint8_t)index;
    req->timeout_ns = timeout_ns;
    req->text[0] = 0;
    req->step = h->langid ? 1 : 0;
    r = req->step ? ausb__string_submit(req, req->index, h->langid) : ausb__string_submit(req, 0, 0);
    if (r < 0) ausb_transfer_free(&req->xfer);
    return r;
}

/* ==== section: submission from other threads ==== */

AUSB_PRIVATE void ausb__queue_done(ausb_ctx *ctx, ausb_transfer *t, int status)
{
    t->status = status;
    t->actual_length = 0;
    t->state = AUSB_XFER_DONE;
    t->next_done = NULL;
    if (ctx->done_tail) ctx->done_tail->next_done = t; else ctx->done_head = t;
    ctx->done_tail = t;
}

/* The queue is a lock-free stack (ctx->remote) that any thread pushes on
 * and only the loop's thread empties, all at once.  The orderings:
 *  - the caller owns an idle transfer, so its plain reads and writes of t
 *    (the fill, state, cancel_requested, next_remote) race with nobody;
 *  - state becomes QUEUED with a release store, which an ausb_cancel on
 *    the loop's thread reads with acquire: it then sees cancel_requested
 *    already cleared here, and its own 1 comes after;
 *  - the push's compare-exchange releases, and the loop takes the whole
 *    stack with an acquiring exchange (ausb__submit_remote): everything
 *    written to t before the push is visible to the loop once it holds t;
 *  - no ABA: nodes are never popped one by one, and a transfer is pushed
 *    again only after the loop has delivered it (state back to IDLE);
 *  - remote_count is only a number for ausb_pending, and the loop's
 *    relaxed peeks at ctx->remote are hints: one that misses a push is
 *    followed by the wake-up (akc_wake, after the push), which makes the
 *    loop look again. */
AUSB_API int ausb_submit_any_thread(ausb_transfer *t)
{
    ausb_ctx *ctx;
    ausb_transfer *head;
    if (!t || !t->lt || !t->handle || !t->handle->ctx) return -EINVAL;
    if (t->state != AUSB_XFER_IDLE) return -EBUSY;
    ctx = t->handle->ctx;
    t->cancel_requested = 0;
    __atomic_store_n(&t->state, AUSB_XFER_QUEUED, __ATOMIC_RELEASE);
    __atomic_add_fetch(&ctx->remote_count, 1, __ATOMIC_RELAXED);
    head = __atomic_load_n(&ctx->remote, __ATOMIC_RELAXED);
    do {
        t->next_remote = head;
    } while (!__atomic_compare_exchange_n(&ctx->remote, &head, t, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    akc_wake(&ctx->core);
    return 0;
}

/* On the loop thread: submits what other threads queued, oldest first. */
AUSB_PRIVATE void ausb__submit_remote(ausb_ctx *ctx)
{
    ausb_transfer *list = __atomic_exchange_n(&ctx->remote, (ausb_transfer *)NULL, __ATOMIC_ACQUIRE), *rev = NULL, *t;
    int n = 0, r;
    while (list) {
        t = list;
        list = t->next_remote;
        t->next_remote = rev;
        rev = t;
        n++;
    }
    __atomic_sub_fetch(&ctx->remote_count, n, __ATOMIC_RELAXED);
    while ((t = rev) != NULL) {
        rev = t->next_remote;
        t->next_remote = NULL;
        if (t->cancel_requested) { ausb__queue_done(ctx, t, -ECANCELED); continue; }
        t->state = AUSB_XFER_IDLE;
        r = ausb_submit(t);
        if (r < 0) ausb__queue_done(ctx, t, r);
    }
}

/* ==== section: streaming ==== */

AUSB_API void ausb_pipe_config_init(ausb_pipe_config *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->in_flight = 4;
    cfg->transfer_len = 16384;
}

AUSB_API int ausb_pipe_running(const ausb_pipe *p) { return p ? p->running : 0; }

AUSB_PRIVATE void ausb__pipe_later(ausb_deferred *d, void *ud);

AUSB_PRIVATE void ausb__pipe_cancel_all(ausb_pipe *p)
{
    int i;
    for (i = 0; i < p->cfg.in_flight; i++)
        if (p->slots[i].state == AUSB_XFER_INFLIGHT) (void)ausb_cancel(&p->slots[i]);
}

AUSB_PRIVATE void ausb__pipe_end(ausb_pipe *p, int status)
{
    if (p->ending) return;
    p->ending = 1;
    p->status = status;
    ausb__pipe_cancel_all(p);
    /* on_end always comes from a deferred callback: never inside the
     * caller's ausb_pipe_stop, and with the node free for a restart. */
    if (p->inflight == 0) ausb_defer(&p->defer, p->handle->ctx, ausb__pipe_later, p);
}

AUSB_PRIVATE int ausb__pipe_length(const ausb_pipe *p, const ausb_transfer *t)
{
    int i, n = 0;
    if (p->type != AUSB_EP_ISOCHRONOUS) return t->actual_length;
    for (i = 0; i < t->lt->num_iso_packets; i++) n += (int)t->lt->iso_packet_desc[i].actual_length;
    return n;
}

/* The status a failed transfer ends its pipe with: a cancel that
 * ausb_close made reads as the close. */
AUSB_PRIVATE int ausb__pipe_status(const ausb_pipe *p, const ausb_transfer *t)
{
    return t->status == -ECANCELED && p->handle->closing ? AUSB_ECLOSED : t->status;
}

/* Delivers completed chunks in submission order and resubmits their
 * transfers, until a gap, a hold, a pause or the end. */
AUSB_PRIVATE void ausb__pipe_pump(ausb_pipe *p)
{
    while (!p->ending && !p->held && !p->delivering && p->done[p->head]) {
        ausb_transfer *t = &p->slots[p->head];
        int len = ausb__pipe_length(p, t), r;
        /* A transfer that failed after part of its bytes arrived (a
         * timeout, a stall, a cancel by ausb_close) still hands them over,
         * with its status in t, before the pipe ends with that status. */
        if (t->status != 0 && len <= 0) {
            ausb__pipe_end(p, ausb__pipe_status(p, t));
            return;
        }
        p->delivering = 1;
        r = p->on_chunk(p, t, p->bufs[p->head], len, p->ud);
        p->delivering = 0;
        if (r == AUSB_PIPE_HOLD) {
            if (!p->ending) p->held = 1;
            return;
        }
        p->bytes += len;
        p->chunks++;
        p->done[p->head] = 0;
        if (t->status != 0) {
            if (!p->ending) ausb__pipe_end(p, ausb__pipe_status(p, t));
            return;
        }
        if (p->ending) return;             /* ausb_pipe_stop from the handler */
        if (p->held) return;              /* ausb_pipe_pause from the handler */
        if ((r = ausb_submit(t)) < 0) { ausb__pipe_end(p, r); return; }
        p->inflight++;
        p->head = p->head + 1 == p->cfg.in_flight ? 0 : p->head + 1;
    }
}

/* Releases what a pipe holds: its first `inited` transfers, the buffers
 * and its share of the usbfs limit. */
AUSB_PRIVATE void ausb__pipe_release(ausb_pipe *p, int inited)
{
    int i;
    for (i = 0; i < inited; i++) ausb_transfer_free(&p->slots[i]);
    ausb__bufs_put(&p->zc, &p->block);
    AUSB_FREE(p->slots);
    AUSB_FREE(p->bufs);
    p->slots = NULL;
    p->bufs = NULL;
    p->done = NULL;
    ausb__usbfs_give(p->ctx, p->usbfs_cost);
    p->usbfs_cost = 0;
}

AUSB_PRIVATE void ausb__pipe_free_mem(ausb_pipe *p)
{
    ausb__pipe_release(p, p->cfg.in_flight);
    p->running = 0;
}

AUSB_PRIVATE void ausb__pipe_finish(ausb_pipe *p)
{
    ausb__pipe_free_mem(p);
    if (p->on_end) p->on_end(p, p->status, p->ud);
}

AUSB_PRIVATE void ausb__pipe_later(ausb_deferred *d, void *ud)
{
    ausb_pipe *p = (ausb_pipe *)ud;
    (void)d;
    if (!p->running) return;
    if (p->ending) {
        if (p->inflight == 0) ausb__pipe_finish(p);
    } else {
        ausb__pipe_pump(p);
    }
}

AUSB_PRIVATE void ausb__pipe_on_xfer(ausb_transfer *t, int status, void *ud)
{
    ausb_pipe *p = (ausb_pipe *)ud;
    (void)status;
    p->inflight--;
    p->done[t - p->slots] = 1;
    if (p->ending) {
        if (p->inflight == 0) ausb_defer(&p->defer, p->handle->ctx, ausb__pipe_later, p);
        return;
    }
    ausb__pipe_pump(p);
}

/* The pipe's transfers and buffers (p->cfg set), filled for endpoint ep;
 * on failure it holds nothing. */
AUSB_PRIVATE int ausb__pipe_alloc(ausb_pipe *p, ausb_handle *h, unsigned char ep, int type)
{
    const ausb_pipe_config *cfg = &p->cfg;
    size_t n = (size_t)cfg->in_flight, len = (size_t)cfg->transfer_len;
    int i, r;
    p->slots = (ausb_transfer *)AUSB_MALLOC(n * sizeof *p->slots);
    p->bufs = (unsigned char **)AUSB_MALLOC(n * sizeof *p->bufs + n);
    if (!p->slots || !p->bufs) r = -ENOMEM;
    else r = ausb__bufs_get(h, &p->zc, p->bufs, &p->block, cfg->in_flight, len);
    if (r < 0) {
        ausb__pipe_release(p, 0);
        return r;
    }
    p->zero_copy = p->zc.n > 0;
    p->done = (unsigned char *)(p->bufs + n);
    for (i = 0; i < cfg->in_flight; i++) {
        ausb_transfer *t = &p->slots[i];
        p->done[i] = 0;
        if ((r = ausb_transfer_init(t, type == AUSB_EP_ISOCHRONOUS ? cfg->iso_packets : 0)) < 0) {
            ausb__pipe_release(p, i);
            return r;
        }
        t->usbfs_prepaid = 1;     /* the pipe holds its share for all of them */
        if (type == AUSB_EP_ISOCHRONOUS)
            (void)ausb_fill_iso(t, h, ep, p->bufs[i], cfg->transfer_len, cfg->iso_packets, cfg->iso_packet_len,
                                cfg->timeout_ns, ausb__pipe_on_xfer, p);
        else if (type == AUSB_EP_INTERRUPT)
            ausb_fill_interrupt(t, h, ep, p->bufs[i], cfg->transfer_len, cfg->timeout_ns, ausb__pipe_on_xfer, p);
        else
            ausb_fill_bulk(t, h, ep, p->bufs[i], cfg->transfer_len, cfg->timeout_ns, ausb__pipe_on_xfer, p);
        if (cfg->inline_chunks) ausb_transfer_set_flags(t, AUSB_INLINE_CALLBACK);
    }
    return 0;
}

AUSB_API int ausb_pipe_start(ausb_pipe *p, ausb_handle *h, unsigned char ep, int type, const ausb_pipe_config *cfg,
                             ausb_pipe_chunk_cb on_chunk, ausb_pipe_end_cb on_end, void *ud)
{
    ausb_pipe_config def;
    int i, r;
    if (!p || !on_chunk || !(ep & 0x80)) return -EINVAL;
    if (type != AUSB_EP_BULK && type != AUSB_EP_INTERRUPT && type != AUSB_EP_ISOCHRONOUS) return -EINVAL;
    if (!cfg) { ausb_pipe_config_init(&def); cfg = &def; }
    if (cfg->in_flight < 1 || cfg->in_flight > 64 || cfg->transfer_len < 1) return -EINVAL;
    if (type == AUSB_EP_ISOCHRONOUS &&
        (cfg->iso_packets < 1 || cfg->iso_packet_len < 1 || (long)cfg->iso_packets * cfg->iso_packet_len > cfg->transfer_len))
        return -EINVAL;
    if ((r = ausb__usable(h)) < 0) return r;
    memset(p, 0, sizeof *p);
    /* refused up front, before anything reaches the kernel */
    if ((r = ausb__usbfs_reserve(h->ctx, cfg->in_flight, cfg->transfer_len, &p->usbfs_cost)) < 0) return r;
    p->ctx = h->ctx;
    p->cfg = *cfg;
    if ((r = ausb__pipe_alloc(p, h, ep, type)) < 0) return r;
    p->handle = h;
    p->ep = ep;
    p->type = type;
    p->on_chunk = on_chunk;
    p->on_end = on_end;
    p->ud = ud;
    p->running = 1;
    for (i = 0; i < cfg->in_flight; i++) {
        if ((r = ausb_submit(&p->slots[i])) < 0) {
            if (i == 0) {
                ausb__pipe_free_mem(p);
                return r;
            }
            ausb__pipe_end(p, r);    /* the ones in flight come back, then on_end */
            return 0;
        }
        p->inflight++;
    }
    return 0;
}

AUSB_API void ausb_pipe_stop(ausb_pipe *p)
{
    if (!p || !p->running || p->ending) return;
    ausb__pipe_end(p, -ECANCELED);
}

AUSB_API void ausb_pipe_pause(ausb_pipe *p)
{
    if (p && p->running && !p->ending) p->held = 1;
}

AUSB_API void ausb_pipe_resume(ausb_pipe *p)
{
    if (!p || !p->running || p->ending || !p->held) return;
    p->held = 0;
    ausb_defer(&p->defer, p->handle->ctx, ausb__pipe_later, p);
}

/* ---- OUT queue ---- */

AUSB_PRIVATE void ausb__outq_release(ausb_outq *q)
{
    int i;
    for (i = 0; i < q->n; i++) ausb_transfer_free(&q->slots[i]);
    ausb__bufs_put(&q->zc, &q->block);
    AUSB_FREE(q->slots);
    AUSB_FREE(q->bufs);
    q->slots = NULL;
    q->bufs = NULL;
    q->done = NULL;
    q->n = 0;
    ausb__usbfs_give(q->ctx, q->usbfs_cost);
    q->usbfs_cost = 0;
}

AUSB_PRIVATE void ausb__outq_on_xfer(ausb_transfer *t, int status, void *ud)
{
    ausb_outq *q = (ausb_outq *)ud;
    unsigned char *done = q->done;
    (void)status;
    done[t - q->slots] = 1;
    /* Report in write order, also when completions come out of order. */
    while (q->count > 0 && done[q->head]) {
        ausb_transfer *h = &q->slots[q->head];
        done[q->head] = 0;
        q->head = q->head + 1 == q->n ? 0 : q->head + 1;
        q->count--;
        if (q->on_sent) q->on_sent(q, h->status, h->actual_length, q->ud);
        if (!q->slots) return;
    }
    if (q->closing && q->count == 0) ausb__outq_release(q);
}

AUSB_API int ausb_outq_init(ausb_outq *q, ausb_handle *h, unsigned char ep, int in_flight, int buf_len, int zlp,
                            int64_t timeout_ns, ausb_outq_cb on_sent, void *ud)
{
    size_t n;
    int i, r;
    if (!q) return -EINVAL;
    memset(q, 0, sizeof *q);
    if ((ep & 0x80) || in_flight < 1 || in_flight > 64 || buf_len < 1) return -EINVAL;
    if ((r = ausb__usable(h)) < 0) return r;
    if ((r = ausb__usbfs_reserve(h->ctx, in_flight, buf_len, &q->usbfs_cost)) < 0) return r;
    q->ctx = h->ctx;
    n = (size_t)in_flight;
    q->slots = (ausb_transfer *)AUSB_MALLOC(n * sizeof *q->slots);
    q->bufs = (unsigned char **)AUSB_MALLOC(n * sizeof *q->bufs + n);
    if (!q->slots || !q->bufs) r = -ENOMEM;
    else r = ausb__bufs_get(h, &q->zc, q->bufs, &q->block, in_flight, (size_t)buf_len);
    if (r < 0) {
        ausb__outq_release(q);
        return r;
    }
    q->zero_copy = q->zc.n > 0;
    q->done = (unsigned char *)(q->bufs + n);
    memset(q->done, 0, n);
    for (i = 0; i < in_flight; i++) {
        if ((r = ausb_transfer_init(&q->slots[i], 0)) < 0) {
            q->n = i;
            ausb__outq_release(q);
            return r;
        }
        q->slots[i].usbfs_prepaid = 1;
    }
    q->n = in_flight;
    q->buf_len = buf_len;
    q->handle = h;
    q->ep = ep;
    q->flags = zlp ? AUSB_ZERO_PACKET : 0;
    q->timeout_ns = timeout_ns;
    q->on_sent = on_sent;
    q->ud = ud;
    return 0;
}

AUSB_API int ausb_outq_free_slots(const ausb_outq *q) { return q && q->slots && !q->closing ? q->n - q->count : 0; }

AUSB_API int ausb_outq_write(ausb_outq *q, const void *data, int len)
{
    ausb_transfer *t;
    int slot, r;
    if (!q || !q->slots || q->closing || len < 0 || (len > 0 && !data)) return -EINVAL;
    if (len > q->buf_len) return -EMSGSIZE;
    if (q->count == q->n) return -EAGAIN;
    slot = (q->head + q->count) % q->n;
    t = &q->slots[slot];
    if (len) memcpy(q->bufs[slot], data, (size_t)len);
    ausb_fill_bulk(t, q->handle, q->ep, q->bufs[slot], len, q->timeout_ns,
                   ausb__outq_on_xfer, q);
    ausb_transfer_set_flags(t, q->flags);
    if ((r = ausb_submit(t)) < 0) return r;
    q->count++;
    return 0;
}

AUSB_API void ausb_outq_close(ausb_outq *q)
{
    int i;
    if (!q || !q->slots || q->closing) return;
    q->closing = 1;
    if (q->count == 0) { ausb__outq_release(q); return; }
    for (i = 0; i < q->n; i++)
        if (q->slots[i].state == AUSB_XFER_INFLIGHT) (void)ausb_cancel(&q->slots[i]);
}

/* ==== section: endpoint streams ==== */

AUSB_API void ausb_epstream_config_init(ausb_epstream_config *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->in_flight = 2;
    cfg->in_len = 4096;
    cfg->out_in_flight = 2;
    cfg->out_len = 4096;
    cfg->zlp = 1;
}

AUSB_API int ausb_epstream_fd(const ausb_epstream *es) { return es ? es->user_fd : -EINVAL; }

/* The events to watch on the context's end, or -1 when it is not watched:
 * reading while the OUT queue has room, writing while a chunk waits, and
 * nothing (hang-ups only) while IN runs, to notice the caller's close. */
AUSB_PRIVATE int ausb__es_events(const ausb_epstream *es)
{
    int ev = 0, watch = 0;
    if (es->fd < 0 || es->closing) return -1;
    if (es->in_state == 1) {
        watch = 1;
        if (es->want_write) ev |= POLLOUT;
    }
    if (es->out_state == 1 && ausb_outq_free_slots(&es->outq) > 0) {
        watch = 1;
        ev |= POLLIN;
    }
    return watch ? ev : -1;
}

AUSB_PRIVATE void ausb__es_finish(ausb_deferred *d, void *ud)
{
    ausb_epstream *es = (ausb_epstream *)ud;
    (void)d;
    if (es->on_end) es->on_end(es, es->status, es->ud);
}

AUSB_PRIVATE void ausb__es_unlink(ausb_epstream *es)
{
    ausb_epstream **pp;
    if (!es->listed) return;
    for (pp = &es->ctx->streams; *pp; pp = &(*pp)->next)
        if (*pp == es) { *pp = es->next; break; }
    es->listed = 0;
    es->ctx->nstreams--;
}

/* Both directions are over: close our end, report from a deferred call. */
AUSB_PRIVATE void ausb__es_check_done(ausb_epstream *es)
{
    if (es->in_state != 0 || es->out_state != 0 || !es->listed) return;
    ausb__es_unlink(es);
    akc_io_close(&es->ctx->core, &es->io);
    if (es->fd >= 0) close(es->fd);
    es->fd = -1;
    AUSB_FREE(es->obuf);
    es->obuf = NULL;
    ausb_defer(&es->defer, es->ctx, ausb__es_finish, es);
}

AUSB_PRIVATE void ausb__es_fail(ausb_epstream *es, int status)
{
    if (status < 0 && es->status == 0) es->status = status;
}

/* Ends the OUT direction: no more reading; what is in flight is cancelled
 * when `cancel`, else sent first. */
AUSB_PRIVATE void ausb__es_out_stop(ausb_epstream *es, int cancel)
{
    if (es->out_state != 1) return;
    if (es->fd >= 0) (void)shutdown(es->fd, SHUT_RD);   /* the caller's writes now fail */
    if (es->outq.count == 0) {
        ausb_outq_close(&es->outq);
        es->out_state = 0;
        ausb__es_check_done(es);
        return;
    }
    es->out_state = 2;
    if (cancel) ausb_outq_close(&es->outq);
}

AUSB_PRIVATE void ausb__es_in_stop(ausb_epstream *es)
{
    if (es->in_state != 1) return;
    es->in_state = 2;
    es->want_write = 0;
    ausb_pipe_stop(&es->pipe);
}

AUSB_PRIVATE void ausb__es_on_sent(ausb_outq *q, int status, int len, void *ud)
{
    ausb_epstream *es = (ausb_epstream *)ud;
    (void)q;
    es->bytes_out += len;       /* a failed transfer counts what the device took */
    if (status != 0 && (status != -ECANCELED || !es->closing)) {
        ausb__es_fail(es, status);
        ausb__es_out_stop(es, 1);
    }
    if (es->out_state == 2 && es->outq.count == 0) {
        if (es->outq.slots) ausb_outq_close(&es->outq);
        es->out_state = 0;
        ausb__es_check_done(es);
    }
}

AUSB_PRIVATE int ausb__es_on_chunk(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *ud)
{
    ausb_epstream *es = (ausb_epstream *)ud;
    (void)p;
    (void)t;
    while (es->in_off < len) {
        ssize_t n = send(es->fd, data + es->in_off, (size_t)(len - es->in_off), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) { es->in_off += (int)n; es->bytes_in += n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            es->want_write = 1;
            return AUSB_PIPE_HOLD;
        }
        /* EPIPE: the caller closed its end; nobody reads any more */
        es->in_off = 0;
        ausb__es_in_stop(es);
        ausb__es_out_stop(es, 0);
        return 0;
    }
    es->in_off = 0;
    es->want_write = 0;
    return 0;
}

AUSB_PRIVATE void ausb__es_on_pipe_end(ausb_pipe *p, int status, void *ud)
{
    ausb_epstream *es = (ausb_epstream *)ud;
    (void)p;
    if (status != -ECANCELED) {
        /* the device side failed: the reader sees end of file after the
         * bytes already in the socket; the OUT side stops too */
        ausb__es_fail(es, status);
        if (es->fd >= 0) (void)shutdown(es->fd, SHUT_WR);
        ausb__es_out_stop(es, 1);
    }
    es->in_state = 0;
    es->want_write = 0;
    ausb__es_check_done(es);
}

/* Reads what the caller wrote into the OUT queue while it has room. */
AUSB_PRIVATE void ausb__es_pump_out(ausb_epstream *es)
{
    while (es->out_state == 1 && ausb_outq_free_slots(&es->outq) > 0) {
        ssize_t n = recv(es->fd, es->obuf, (size_t)es->outq.buf_len, MSG_DONTWAIT);
        int r;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {                 /* end of file (or an error): no more to send */
            ausb__es_out_stop(es, 0);
            return;
        }
        if ((r = ausb_outq_write(&es->outq, es->obuf, (int)n)) < 0) {
            ausb__es_fail(es, r);
            ausb__es_out_stop(es, 1);
            if (es->in_state == 1 && (r == -ENODEV || r == AUSB_ECLOSED)) ausb__es_in_stop(es);
            return;
        }
    }
}

AUSB_PRIVATE void ausb__es_ready(ausb_epstream *es, unsigned revents)
{
    if (es->fd < 0 || es->closing) return;
    if (es->want_write && (revents & (POLLOUT | POLLERR | POLLHUP)) && es->in_state == 1) {
        es->want_write = 0;
        ausb_pipe_resume(&es->pipe);    /* the held chunk is written again from dispatch */
    }
    if (revents & (POLLIN | POLLERR | POLLHUP)) ausb__es_pump_out(es);
    /* The caller closed its end (both directions shut): nobody reads. */
    if ((revents & (POLLHUP | POLLERR)) && es->in_state == 1) ausb__es_in_stop(es);
}

/* Polled with the context's descriptors; handled after libusb's events. */
AUSB_PRIVATE void ausb__es_polled(akc_loop *l, akc_io *io, unsigned revents)
{
    ausb_epstream *es = (ausb_epstream *)(void *)((char *)io - offsetof(ausb_epstream, io));
    (void)l;
    es->revents |= revents;
}

AUSB_API int ausb_epstream_open(ausb_epstream *es, ausb_handle *h, unsigned char ep_in, unsigned char ep_out,
                                const ausb_epstream_config *cfg, ausb_epstream_end_cb on_end, void *ud)
{
    ausb_epstream_config def;
    ausb_pipe_config pc;
    int sv[2], r;
    if (!es) return -EINVAL;
    memset(es, 0, sizeof *es);
    es->fd = es->user_fd = -1;
    if (!cfg) { ausb_epstream_config_init(&def); cfg = &def; }
    if ((ep_in && !(ep_in & 0x80)) || (ep_out & 0x80) || (!ep_in && !ep_out)) return -EINVAL;
    if (ep_in && (cfg->in_flight < 1 || cfg->in_flight > 64 || cfg->in_len < 1)) return -EINVAL;
    if (ep_out && (cfg->out_in_flight < 1 || cfg->out_in_flight > 64 || cfg->out_len < 1)) return -EINVAL;
    if (cfg->sock_buf < 0) return -EINVAL;
    if ((r = ausb__usable(h)) < 0) return r;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
    if (cfg->sock_buf > 0) {
        int i, b = cfg->sock_buf;
        for (i = 0; i < 2; i++) {
            (void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &b, sizeof b);
            (void)setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &b, sizeof b);
        }
    }
    es->ctx = h->ctx;
    es->handle = h;
    es->fd = sv[0];
    es->user_fd = sv[1];
    es->on_end = on_end;
    es->ud = ud;
    akc_io_init(&es->io, es->fd, AUSB__IO_EPSTREAM);
    akc_io_handle(&h->ctx->core, AUSB__IO_EPSTREAM, ausb__es_polled);
    if (akc_io_open(&h->ctx->core, &es->io) < 0) { r = -ENOMEM; goto fail; }
    if (ep_out) {
        if (!(es->obuf = (unsigned char *)AUSB_MALLOC((size_t)cfg->out_len))) { r = -ENOMEM; goto fail; }
        r = ausb_outq_init(&es->outq, h, ep_out, cfg->out_in_flight, cfg->out_len, cfg->zlp, cfg->out_timeout_ns,
                           ausb__es_on_sent, es);
        if (r < 0) goto fail;
        es->out_state = 1;
    } else {
        (void)shutdown(es->fd, SHUT_RD);
    }
    if (ep_in) {
        ausb_pipe_config_init(&pc);
        pc.in_flight = cfg->in_flight;
        pc.transfer_len = cfg->in_len;
        r = ausb_pipe_start(&es->pipe, h, ep_in, AUSB_EP_BULK, &pc, ausb__es_on_chunk, ausb__es_on_pipe_end, es);
        if (r < 0) {
            if (es->out_state) ausb_outq_close(&es->outq);
            goto fail;
        }
        es->in_state = 1;
    } else {
        (void)shutdown(es->fd, SHUT_WR);
    }
    es->next = h->ctx->streams;
    h->ctx->streams = es;
    h->ctx->nstreams++;
    es->listed = 1;
    return 0;
fail:
    akc_io_close(&h->ctx->core, &es->io);
    AUSB_FREE(es->obuf);
    es->obuf = NULL;
    close(sv[0]);
    close(sv[1]);
    es->fd = es->user_fd = -1;
    return r;
}

AUSB_API void ausb_epstream_close(ausb_epstream *es)
{
    if (!es || !es->listed || es->closing) return;
    ausb__es_fail(es, -ECANCELED);
    es->closing = 1;
    ausb__es_in_stop(es);
    ausb__es_out_stop(es, 1);
    ausb__es_check_done(es);
}

/* ==== section: hotplug ==== */

struct ausb_hotplug_event {
    libusb_device *dev;
    int arrived;
    int match;            /* the filter's answer when already known; -1: ask it at delivery */
    ausb_hotplug_event *next;
};

AUSB_API int ausb_hotplug_supported(void)
{
    return AUSB_LIBUSB(libusb_has_capability)(LIBUSB_CAP_HAS_HOTPLUG) != 0;
}

AUSB_PRIVATE void ausb__hpk_matched(ausb_hotplug *hp, libusb_device *d, int match);

AUSB_PRIVATE void ausb__hotplug_deliver(ausb_deferred *d, void *ud)
{
    ausb_hotplug *hp = (ausb_hotplug *)ud;
    ausb_hotplug_event *e;
    (void)d;
    while (hp->registered && (e = hp->head) != NULL) {
        ausb_device dev;
        hp->head = e->next;
        if (!hp->head) hp->tail = NULL;
        if (ausb__device_wrap(hp->ctx, e->dev, &dev) == 0) {
            int match = e->match >= 0 ? e->match : ausb_device_matches(&dev, &hp->filter);
            /* the kernel's monitor answers for the departure with what
             * the filter said at the arrival (sysfs may be gone by then) */
            if (e->arrived && hp->source == AUSB_HOTPLUG_KERNEL) ausb__hpk_matched(hp, e->dev, match);
            if (match && hp->registered) hp->cb(hp, e->arrived, &dev, hp->ud);
            ausb_device_release(&dev);
        }
        AUSB_LIBUSB(libusb_unref_device)(e->dev);
        AUSB_FREE(e);
    }
}

/* Queues a notification for the next dispatch (it takes a reference). */
AUSB_PRIVATE int ausb__hotplug_push(ausb_hotplug *hp, libusb_device *d, int arrived, int match)
{
    ausb_hotplug_event *e = (ausb_hotplug_event *)AUSB_MALLOC(sizeof *e);
    if (!e) return -ENOMEM;
    e->dev = AUSB_LIBUSB(libusb_ref_device)(d);
    e->arrived = arrived;
    e->match = match;
    e->next = NULL;
    if (hp->tail) hp->tail->next = e; else hp->head = e;
    hp->tail = e;
    ausb_defer(&hp->defer, hp->ctx, ausb__hotplug_deliver, hp);
    return 0;
}

/* Inside libusb (its event handling, or the register call): only record. */
static int LIBUSB_CALL ausb__hotplug_event(libusb_context *lu, libusb_device *d, libusb_hotplug_event ev, void *ud)
{
    ausb_hotplug *hp = (ausb_hotplug *)ud;
    ausb_handle *h;
    (void)lu;
    if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT) {
        /* later submits on its handles fail at once with no-device */
        for (h = hp->ctx->handles; h; h = h->next)
            if (h->dev.dev == d) h->gone = 1;
    }
    (void)ausb__hotplug_push(hp, d, ev == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, -1);
    return 0;
}

AUSB_PRIVATE int ausb__hpl_start(ausb_hotplug *hp, unsigned flags)
{
    libusb_hotplug_callback_handle lh;
    int r = AUSB_LIBUSB(libusb_hotplug_register_callback)(
        hp->ctx->lu, (libusb_hotplug_event)(LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT),
        (flags & AUSB_HOTPLUG_ENUMERATE) ? LIBUSB_HOTPLUG_ENUMERATE : (libusb_hotplug_flag)0,
        hp->filter.vendor_id >= 0 ? hp->filter.vendor_id : LIBUSB_HOTPLUG_MATCH_ANY,
        hp->filter.product_id >= 0 ? hp->filter.product_id : LIBUSB_HOTPLUG_MATCH_ANY,
        LIBUSB_HOTPLUG_MATCH_ANY, ausb__hotplug_event, hp, &lh);
    if (r < 0) return ausb_from_libusb(r, 0);
    hp->lu_handle = (int)lh;
    return 0;
}

/* ---- hotplug from the kernel's uevents ----
 *
 * Debian's libusb (and most distributions') learns of devices from udevd,
 * which rebroadcasts the kernel's uevents once its rules ran; where no
 * udevd runs (containers, initramfs, many embedded images) libusb's
 * callbacks never fire and its device list stays as libusb_init found it
 * (libusb 1.0.26 scans sysfs only there).  This monitor reads the kernel's
 * own uevents (netlink group 1), keeps the USB devices it knows, and
 * reports one once its usbfs node opens: libusb's list gives its device
 * when it has it at that place, libusb_wrap_sys_device makes one from the
 * node when not (what a device found on Android gets). */

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <linux/netlink.h>

#ifndef AUSB_HOTPLUG_NODE_WAIT_NS
#define AUSB_HOTPLUG_NODE_WAIT_NS AKC_SEC(2)
#endif
/* where nodes and devices are looked for (a test may point elsewhere:
 * any expression of type const char *) */
#ifndef AUSB__USBFS_DIR
#define AUSB__USBFS_DIR "/dev/bus/usb"
#endif
#ifndef AUSB__SYSFS_USB
#define AUSB__SYSFS_USB "/sys/bus/usb/devices"
#endif

enum {
    AUSB__HP_RETRY_MS = 20,      /* between two opens of a node that is not there yet */
    AUSB__HP_MAX_DEVS = 512,     /* devices one watch keeps (127 per bus in USB) */
    AUSB__HP_BATCH = 32,         /* messages handled per readiness: the loop serves others */
    AUSB__HP_DRAIN = 256,        /* messages dropped per readiness after an overflow */
    AUSB__HP_MSG = 8192          /* the longest message read whole (the kernel's: 2 KiB) */
};
#define AUSB__HP_TRIES ((int)(AUSB_HOTPLUG_NODE_WAIT_NS / AKC_MS(AUSB__HP_RETRY_MS)) + 1)

/* A USB device the monitor knows: present (dev set), or waiting for its node. */
struct ausb__hpdev {
    struct ausb__hpdev *next;
    libusb_device *dev;      /* referenced once its node opened; NULL while waiting */
    int bus, addr;
    int vid, pid;            /* what the uevent or sysfs said; -1 unknown */
    int tries;               /* opens left while waiting */
    int announce;            /* report its arrival (not one present at the start, without ENUMERATE) */
    int match;               /* the filter's answer at its arrival; -1 not asked yet */
    int seen;                /* found again by a sysfs scan */
};

/* What the monitor takes from a uevent (a message of the kernel's, or a
 * device's uevent file in sysfs). */
struct ausb__uevent {
    int action;              /* AUSB__UE_ADD, AUSB__UE_REMOVE, or 0: another, or none */
    int usb, device;         /* SUBSYSTEM=usb seen; DEVTYPE=usb_device seen */
    int bus, addr;           /* BUSNUM and DEVNUM (or DEVNAME bus/usb/BBB/DDD); 0 unknown */
    int vid, pid;            /* PRODUCT=vid/pid/bcd in hex; -1 unknown */
};
enum { AUSB__UE_ADD = 1, AUSB__UE_REMOVE = 2 };

/* n bytes of 1 to `max` digits in `base` (10 or 16) whose value lies in
 * [lo, hi]: the value, else -1. */
AUSB_PRIVATE int ausb__ue_num(const char *s, size_t n, int base, size_t max, int lo, int hi)
{
    int v = 0, d;
    size_t i;
    if (n < 1 || n > max) return -1;
    for (i = 0; i < n; i++) {
        char c = s[i];
        d = c >= '0' && c <= '9' ? c - '0' : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * base + d;
    }
    return v >= lo && v <= hi ? v : -1;
}

AUSB_PRIVATE int ausb__ue_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* PRODUCT=vid/pid/bcd, as the kernel prints it (lower-case hex, no
 * zeros in front); ids stay unknown when it is anything else. */
AUSB_PRIVATE void ausb__ue_product(struct ausb__uevent *ev, const char *v, size_t n)
{
    const char *a = (const char *)memchr(v, '/', n), *b;
    int vid, pid;
    if (!a || !(b = (const char *)memchr(a + 1, '/', n - (size_t)(a + 1 - v)))) return;
    vid = ausb__ue_num(v, (size_t)(a - v), 16, 4, 0, 0xffff);
    pid = ausb__ue_num(a + 1, (size_t)(b - a - 1), 16, 4, 0, 0xffff);
    if (vid < 0 || pid < 0 || ausb__ue_num(b + 1, n - (size_t)(b + 1 - v), 16, 4, 0, 0xffff) < 0) return;
    ev->vid = vid;
    ev->pid = pid;
}

/* DEVNAME=bus/usb/BBB/DDD: the bus and address it names, else nothing. */
AUSB_PRIVATE void ausb__ue_devname(const char *v, size_t n, int *bus, int *addr)
{
    int b, a;
    if (n != 15 || memcmp(v, "bus/usb/", 8) != 0 || v[11] != '/') return;
    b = ausb__ue_num(v + 8, 3, 10, 3, 1, 255);
    a = ausb__ue_num(v + 12, 3, 10, 3, 1, 127);
    if (b > 0 && a > 0) { *bus = b; *addr = a; }
}

/* One field of n bytes: KEY=VALUE, or the head "action@devpath" (no
 * '='), which says nothing the fields do not.  -1: a number is malformed. */
AUSB_PRIVATE int ausb__ue_field(struct ausb__uevent *ev, const char *f, size_t n, int *name_bus, int *name_addr)
{
    const char *eq = (const char *)memchr(f, '=', n), *v;
    size_t k, vn;
    if (!eq) return 0;
    k = (size_t)(eq - f);
    v = eq + 1;
    vn = n - k - 1;
    if (ausb__ue_is(f, k, "ACTION"))
        ev->action = ausb__ue_is(v, vn, "add") ? AUSB__UE_ADD : ausb__ue_is(v, vn, "remove") ? AUSB__UE_REMOVE : 0;
    else if (ausb__ue_is(f, k, "SUBSYSTEM"))
        ev->usb = ausb__ue_is(v, vn, "usb");
    else if (ausb__ue_is(f, k, "DEVTYPE"))
        ev->device = ausb__ue_is(v, vn, "usb_device");
    else if (ausb__ue_is(f, k, "BUSNUM"))
        return (ev->bus = ausb__ue_num(v, vn, 10, 3, 1, 255)) < 0 ? -1 : 0;
    else if (ausb__ue_is(f, k, "DEVNUM"))
        return (ev->addr = ausb__ue_num(v, vn, 10, 3, 1, 127)) < 0 ? -1 : 0;
    else if (ausb__ue_is(f, k, "DEVNAME"))
        ausb__ue_devname(v, vn, name_bus, name_addr);
    else if (ausb__ue_is(f, k, "PRODUCT"))
        ausb__ue_product(ev, v, vn);
    return 0;
}

/* Parses a uevent of len bytes whose fields end with sep ('\0' from the
 * socket, '\n' in sysfs); never reads past len.  0, or -EINVAL for a
 * message that is not in the kernel's format (udevd's "libudev" one), or
 * whose numbers are malformed or disagree with DEVNAME. */
AUSB_PRIVATE int ausb__ue_parse(const char *buf, size_t len, char sep, struct ausb__uevent *ev)
{
    size_t pos = 0;
    int name_bus = 0, name_addr = 0;
    memset(ev, 0, sizeof *ev);
    ev->vid = ev->pid = -1;
    if (!buf || len == 0 || (len >= 8 && memcmp(buf, "libudev", 8) == 0)) return -EINVAL;
    while (pos < len) {
        const char *f = buf + pos, *end = (const char *)memchr(f, sep, len - pos);
        size_t n = end ? (size_t)(end - f) : len - pos;
        if (ausb__ue_field(ev, f, n, &name_bus, &name_addr) < 0) return -EINVAL;
        pos += n + 1;
    }
    if (name_bus) {
        if ((ev->bus && ev->bus != name_bus) || (ev->addr && ev->addr != name_addr)) return -EINVAL;
        ev->bus = name_bus;
        ev->addr = name_addr;
    }
    return 0;
}

/* The action of a message about a USB device (not an interface), else 0. */
AUSB_PRIVATE int ausb__ue_usb_action(const struct ausb__uevent *ev)
{
    return ev->usb && ev->device && ev->bus > 0 && ev->addr > 0 ? ev->action : 0;
}

AUSB_PRIVATE struct ausb__hpdev **ausb__hpk_find(ausb_hotplug *hp, int bus, int addr)
{
    struct ausb__hpdev **pp;
    for (pp = &hp->devs; *pp; pp = &(*pp)->next)
        if ((*pp)->bus == bus && (*pp)->addr == addr) break;
    return pp;
}

AUSB_PRIVATE void ausb__hpk_forget(ausb_hotplug *hp, struct ausb__hpdev *d)
{
    struct ausb__hpdev **pp = ausb__hpk_find(hp, d->bus, d->addr);
    if (*pp != d) return;
    *pp = d->next;
    hp->ndevs--;
    if (d->dev) AUSB_LIBUSB(libusb_unref_device)(d->dev);
    AUSB_FREE(d);
}

AUSB_PRIVATE void ausb__hpk_matched(ausb_hotplug *hp, libusb_device *dev, int match)
{
    struct ausb__hpdev *d;
    ausb_hotplug_event *e;
    for (d = hp->devs; d; d = d->next)
        if (d->dev == dev) d->match = match;
    for (e = hp->head; e; e = e->next)
        if (e->dev == dev && !e->arrived && e->match < 0) e->match = match;
}

/* libusb's own device for d when its list has one at the same place
 * (bus, address, port path) with the same ids, referenced; NULL when not.
 * Without udevd that list is the one libusb_init found, so the place is
 * checked against sysfs where sysfs tells it. */
AUSB_PRIVATE libusb_device *ausb__hpk_listed(ausb_hotplug *hp, const struct ausb__hpdev *d)
{
    libusb_device **list, *found = NULL;
    struct libusb_device_descriptor dd;
    uint8_t now[8], then[8];
    int nnow = ausb__sysfs_ports(d->bus, d->addr, now, 8);
    ssize_t n, i;
    if ((n = AUSB_LIBUSB(libusb_get_device_list)(hp->ctx->lu, &list)) < 0) return NULL;
    for (i = 0; i < n && !found; i++) {
        libusb_device *c = list[i];
        if (AUSB_LIBUSB(libusb_get_bus_number)(c) != d->bus || AUSB_LIBUSB(libusb_get_device_address)(c) != d->addr ||
            AUSB_LIBUSB(libusb_get_device_descriptor)(c, &dd) < 0 || (d->vid >= 0 && dd.idVendor != d->vid) ||
            (d->pid >= 0 && dd.idProduct != d->pid))
            continue;
        if (nnow == 0 || (AUSB_LIBUSB(libusb_get_port_numbers)(c, then, 8) == nnow && memcmp(now, then, (size_t)nnow) == 0))
            found = AUSB_LIBUSB(libusb_ref_device)(c);
    }
    AUSB_LIBUSB(libusb_free_device_list)(list, 1);
    return found;
}

/* A libusb device made from the open node, referenced: libusb reads its
 * descriptors there and asks the device for its configuration.  NULL when
 * libusb refuses the node or places it elsewhere. */
AUSB_PRIVATE libusb_device *ausb__hpk_wrap(ausb_hotplug *hp, const struct ausb__hpdev *d, int fd)
{
    libusb_device_handle *lh;
    libusb_device *dev;
    if (AUSB_LIBUSB(libusb_wrap_sys_device)(hp->ctx->lu, (intptr_t)fd, &lh) < 0) return NULL;
    dev = AUSB_LIBUSB(libusb_get_device)(lh);
    if (dev && AUSB_LIBUSB(libusb_get_bus_number)(dev) == d->bus && AUSB_LIBUSB(libusb_get_device_address)(dev) == d->addr)
        dev = AUSB_LIBUSB(libusb_ref_device)(dev);
    else
        dev = NULL;
    AUSB_LIBUSB(libusb_close)(lh);   /* leaves fd open: wrapped descriptors stay the caller's */
    return dev;
}

/* The device of d once its node opens (read-only will do: a program
 * without write access learns of it and gets -EACCES from ausb_open, as
 * with libusb's hotplug), referenced; NULL while it does not. */
AUSB_PRIVATE libusb_device *ausb__hpk_device(ausb_hotplug *hp, const struct ausb__hpdev *d)
{
    char path[128];
    libusb_device *dev;
    int fd;
    if (snprintf(path, sizeof path, "%s/%03d/%03d", AUSB__USBFS_DIR, d->bus, d->addr) >= (int)sizeof path) return NULL;
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && (errno == EACCES || errno == EPERM)) fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    if (!(dev = ausb__hpk_listed(hp, d))) dev = ausb__hpk_wrap(hp, d, fd);
    close(fd);
    return dev;
}

/* usbcore has bound the device (the add uevent comes before it chooses a
 * configuration, so a device taken then may look unconfigured for good:
 * libusb keeps what it saw on the node); 1 too when sysfs cannot say. */
AUSB_PRIVATE int ausb__hpk_settled(const struct ausb__hpdev *d)
{
    char path[64];
    struct stat st;
    int n = snprintf(path, sizeof path, "/sys/dev/char/189:%d", (d->bus - 1) * 128 + d->addr - 1);
    if (access(path, F_OK) != 0) return 1;
    snprintf(path + n, sizeof path - (size_t)n, "/driver");
    return lstat(path, &st) == 0;
}

/* A waiting device: present once it is settled and its node opens (its
 * arrival queued when it is to be announced); else the timer tries again,
 * a bounded number of times (the last one does not wait for usbcore),
 * after which the device is forgotten unreported. */
AUSB_PRIVATE void ausb__hpk_try(ausb_hotplug *hp, struct ausb__hpdev *d)
{
    akc_loop *l = &hp->ctx->core;
    if ((d->tries <= 1 || ausb__hpk_settled(d)) && (d->dev = ausb__hpk_device(hp, d)) != NULL) {
        if (d->announce) (void)ausb__hotplug_push(hp, d->dev, 1, -1);
    } else if (--d->tries <= 0) {
        ausb__hpk_forget(hp, d);
    } else if (!akc_timer_active(&hp->retry)) {
        (void)akc_timer_start(l, &hp->retry, akc_add_sat(akc_time(l), AKC_MS(AUSB__HP_RETRY_MS)));
    }
}

AUSB_PRIVATE void ausb__hpk_retry(akc_loop *l, akc_timer *t)
{
    ausb_hotplug *hp = (ausb_hotplug *)(void *)((char *)t - offsetof(ausb_hotplug, retry));
    struct ausb__hpdev *d, *next;
    (void)l;
    for (d = hp->devs; d; d = next) {
        next = d->next;
        if (!d->dev) ausb__hpk_try(hp, d);
    }
}

/* A device the kernel announced, or sysfs shows: known from now on.  An
 * add for a device known already changes nothing; past the bound, adds
 * are dropped. */
AUSB_PRIVATE void ausb__hpk_add(ausb_hotplug *hp, const struct ausb__uevent *ev, int announce)
{
    struct ausb__hpdev *d;
    if (*ausb__hpk_find(hp, ev->bus, ev->addr) || hp->ndevs >= AUSB__HP_MAX_DEVS) return;
    if (!(d = (struct ausb__hpdev *)AUSB_MALLOC(sizeof *d))) return;
    memset(d, 0, sizeof *d);
    d->bus = ev->bus;
    d->addr = ev->addr;
    d->vid = ev->vid;
    d->pid = ev->pid;
    d->tries = AUSB__HP_TRIES;
    d->announce = announce;
    d->match = -1;
    d->seen = 1;
    d->next = hp->devs;
    hp->devs = d;
    hp->ndevs++;
    ausb__hpk_try(hp, d);
}

/* A device that left: reported when it was present, and its handles are
 * gone from now on; one still waiting for its node is forgotten unseen. */
AUSB_PRIVATE void ausb__hpk_remove(ausb_hotplug *hp, struct ausb__hpdev *d)
{
    ausb_handle *h;
    if (d->dev) {
        for (h = hp->ctx->handles; h; h = h->next)
            if (ausb_device_bus(&h->dev) == d->bus && ausb_device_address(&h->dev) == d->addr) h->gone = 1;
        (void)ausb__hotplug_push(hp, d->dev, 0, d->match);
    }
    ausb__hpk_forget(hp, d);
}

/* A device's uevent file in sysfs: 0 and *ev for a USB device. */
AUSB_PRIVATE int ausb__hpk_sysfs_device(const char *name, struct ausb__uevent *ev)
{
    char path[320], buf[4096];
    ssize_t n;
    int fd;
    if (snprintf(path, sizeof path, "%s/%s/uevent", AUSB__SYSFS_USB, name) >= (int)sizeof path) return -EINVAL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return -errno;
    n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0 || ausb__ue_parse(buf, (size_t)n, '\n', ev) < 0) return -EINVAL;
    return ev->device && ev->bus > 0 && ev->addr > 0 ? 0 : -ENOENT;
}

/* Every USB device that sysfs shows: those known are marked seen, the
 * others added (announce: their arrivals are reported). */
AUSB_PRIVATE void ausb__hpk_scan(ausb_hotplug *hp, int announce)
{
    DIR *dir = opendir(AUSB__SYSFS_USB);
    struct dirent *de;
    struct ausb__uevent ev;
    struct ausb__hpdev *d;
    if (!dir) return;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.' || strchr(de->d_name, ':')) continue;   /* interfaces have a ':' */
        if (ausb__hpk_sysfs_device(de->d_name, &ev) < 0) continue;
        if ((d = *ausb__hpk_find(hp, ev.bus, ev.addr)) != NULL) d->seen = 1;
        else ausb__hpk_add(hp, &ev, announce);
    }
    closedir(dir);
}

/* After an overflow the events lost are replaced by what sysfs shows now. */
AUSB_PRIVATE void ausb__hpk_resync(ausb_hotplug *hp)
{
    struct ausb__hpdev *d, *next;
    hp->lost = 0;
    for (d = hp->devs; d; d = d->next) d->seen = 0;
    ausb__hpk_scan(hp, 1);
    for (d = hp->devs; d; d = next) {
        next = d->next;
        if (!d->seen) ausb__hpk_remove(hp, d);
    }
}

/* One message into buf: its length; 0 for one to skip (cut short, or sent
 * by a process rather than the kernel, whose netlink port is 0); -EAGAIN
 * when none is left, -ENOBUFS when the kernel dropped some. */
AUSB_PRIVATE ssize_t ausb__hpk_recv(int fd, char *buf, size_t cap)
{
    struct sockaddr_nl sa;
    struct iovec iov;
    struct msghdr mh;
    ssize_t n;
    memset(&sa, 0, sizeof sa);
    memset(&mh, 0, sizeof mh);
    iov.iov_base = buf;
    iov.iov_len = cap;
    mh.msg_name = &sa;
    mh.msg_namelen = sizeof sa;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    do n = recvmsg(fd, &mh, MSG_DONTWAIT); while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (mh.msg_flags & MSG_TRUNC) return 0;
    if (mh.msg_namelen >= sizeof sa && sa.nl_family == AF_NETLINK && sa.nl_pid != 0) return 0;
    return n;
}

AUSB_PRIVATE void ausb__hpk_event(ausb_hotplug *hp, const struct ausb__uevent *ev)
{
    struct ausb__hpdev *d;
    switch (ausb__ue_usb_action(ev)) {
    case AUSB__UE_ADD: ausb__hpk_add(hp, ev, 1); break;
    case AUSB__UE_REMOVE: if ((d = *ausb__hpk_find(hp, ev->bus, ev->addr)) != NULL) ausb__hpk_remove(hp, d); break;
    default: break;
    }
}

/* A bounded batch of messages per readiness.  After an overflow the
 * socket is drained (its messages are older than sysfs) and sysfs read. */
AUSB_PRIVATE void ausb__hpk_readable(akc_loop *l, akc_io *io, unsigned revents)
{
    ausb_hotplug *hp = (ausb_hotplug *)(void *)((char *)io - offsetof(ausb_hotplug, io));
    char buf[AUSB__HP_MSG];
    struct ausb__uevent ev;
    ssize_t n;
    int i, limit = hp->lost ? AUSB__HP_DRAIN : AUSB__HP_BATCH;
    (void)l;
    (void)revents;
    for (i = 0; i < limit; i++) {
        n = ausb__hpk_recv(io->fd, buf, sizeof buf);
        if (n == -ENOBUFS) {
            hp->lost = 1;
            limit = AUSB__HP_DRAIN;
        } else if (n < 0) {
            if (n == -EAGAIN && hp->lost) ausb__hpk_resync(hp);
            return;
        } else if (n > 0 && !hp->lost && ausb__ue_parse(buf, (size_t)n, '\0', &ev) == 0) {
            ausb__hpk_event(hp, &ev);
        }
    }
}

AUSB_PRIVATE int ausb__hpk_socket(void)
{
    struct sockaddr_nl sa;
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT), e;
    if (fd < 0) return -errno;
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = 1;   /* the kernel's own uevents (udevd rebroadcasts its own on group 2) */
    if (bind(fd, (struct sockaddr *)(void *)&sa, sizeof sa) < 0) {
        e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* The monitor on fd (the uevent socket; a test hands in one end of a
 * socketpair), which the watch owns from here on.  It listens before it
 * reads sysfs: a device that comes meanwhile is in one or the other, or
 * both (an add for a device known changes nothing). */
AUSB_PRIVATE int ausb__hpk_start(ausb_hotplug *hp, unsigned flags, int fd)
{
    akc_io_init(&hp->io, fd, AUSB__IO_UEVENT);
    akc_io_handle(&hp->ctx->core, AUSB__IO_UEVENT, ausb__hpk_readable);
    if (akc_io_open(&hp->ctx->core, &hp->io) < 0) {
        close(fd);
        hp->io.fd = -1;
        return -ENOMEM;
    }
    akc_io_want(&hp->ctx->core, &hp->io, POLLIN);
    ausb__hpk_scan(hp, (flags & AUSB_HOTPLUG_ENUMERATE) != 0);
    return 0;
}

AUSB_PRIVATE void ausb__hpk_stop(ausb_hotplug *hp)
{
    akc_io_close(&hp->ctx->core, &hp->io);
    if (hp->io.fd >= 0) close(hp->io.fd);
    hp->io.fd = -1;
    (void)akc_timer_stop(&hp->ctx->core, &hp->retry);
    while (hp->devs) ausb__hpk_forget(hp, hp->devs);
    hp->lost = 0;
}

/* ---- choosing the source ---- */

/* libusb hears of devices from udevd: its build needs libudev, which is
 * then mapped into this process.  Unknown (no /proc) counts as yes: the
 * kernel's monitor serves either way.  A static build cannot be told: set
 * AUSB_HOTPLUG=kernel where that matters. */
AUSB_PRIVATE int ausb__libusb_needs_udevd(void)
{
    char line[1024];
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 1;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, "/libudev.so") != NULL;
    fclose(f);
    return found;
}

/* udevd runs: its control socket is there (where systemd's libudev looks
 * too), or umockdev's testbed plays udevd for libudev. */
AUSB_PRIVATE int ausb__udevd_running(void)
{
    return access("/run/udev/control", F_OK) == 0 || getenv("UMOCKDEV_DIR") != NULL;
}

AUSB_PRIVATE unsigned ausb__hotplug_pick(unsigned flags)
{
    const char *env = getenv("AUSB_HOTPLUG");
    if (flags & (AUSB_HOTPLUG_LIBUSB | AUSB_HOTPLUG_KERNEL)) return flags & (AUSB_HOTPLUG_LIBUSB | AUSB_HOTPLUG_KERNEL);
    if (env && strcmp(env, "libusb") == 0) return AUSB_HOTPLUG_LIBUSB;
    if (env && strcmp(env, "kernel") == 0) return AUSB_HOTPLUG_KERNEL;
    return ausb__libusb_needs_udevd() && !ausb__udevd_running() ? AUSB_HOTPLUG_KERNEL : AUSB_HOTPLUG_LIBUSB;
}

/* ---- the watch ---- */

/* ausb_hotplug_start with the kernel's monitor on fd when fd >= 0 (tests),
 * else on the source chosen. */
AUSB_PRIVATE int ausb__hotplug_start_fd(ausb_hotplug *hp, ausb_ctx *ctx, const ausb_filter *f, unsigned flags,
                                        ausb_hotplug_cb cb, void *ud, int fd)
{
    const unsigned both = AUSB_HOTPLUG_LIBUSB | AUSB_HOTPLUG_KERNEL;
    ausb_hotplug *it;
    int r;
    if (!hp || !ctx || !ctx->lu || !cb || (flags & both) == both) return -EINVAL;
    /* a watch still started keeps its place (see ausb__handle_listed) */
    for (it = ctx->hotplugs; it; it = it->next)
        if (it == hp) return -EBUSY;
    memset(hp, 0, sizeof *hp);
    if (f) hp->filter = *f; else ausb_filter_init(&hp->filter);
    hp->filter.serial = NULL;
    hp->ctx = ctx;
    hp->cb = cb;
    hp->ud = ud;
    hp->registered = 1;
    akc_io_init(&hp->io, -1, AUSB__IO_UEVENT);
    akc_timer_init(&hp->retry, ausb__hpk_retry);
    hp->source = fd >= 0 ? AUSB_HOTPLUG_KERNEL : ausb__hotplug_pick(flags);
    if (hp->source == AUSB_HOTPLUG_LIBUSB) r = ausb__hpl_start(hp, flags);
    else if (fd < 0 && (fd = ausb__hpk_socket()) < 0) r = fd;
    else r = ausb__hpk_start(hp, flags, fd);
    if (r < 0) {
        ausb_hotplug_stop(hp);
        return r;
    }
    hp->next = ctx->hotplugs;
    ctx->hotplugs = hp;
    hp->listed = 1;
    return 0;
}

AUSB_API int ausb_hotplug_start(ausb_hotplug *hp, ausb_ctx *ctx, const ausb_filter *f, unsigned flags,
                                ausb_hotplug_cb cb, void *ud)
{
    return ausb__hotplug_start_fd(hp, ctx, f, flags, cb, ud, -1);
}

AUSB_API unsigned ausb_hotplug_source(const ausb_hotplug *hp)
{
    return hp && hp->listed ? hp->source : 0;
}

AUSB_API void ausb_hotplug_stop(ausb_hotplug *hp)
{
    ausb_hotplug_event *e;
    if (!hp || !hp->ctx) return;
    if (hp->listed) {
        ausb_hotplug **pp;
        for (pp = &hp->ctx->hotplugs; *pp; pp = &(*pp)->next)
            if (*pp == hp) { *pp = hp->next; break; }
        hp->listed = 0;
    }
    if (hp->registered && hp->lu_handle)
        AUSB_LIBUSB(libusb_hotplug_deregister_callback)(hp->ctx->lu, (libusb_hotplug_callback_handle)hp->lu_handle);
    hp->registered = 0;
    hp->lu_handle = 0;
    if (hp->source == AUSB_HOTPLUG_KERNEL) ausb__hpk_stop(hp);
    ausb__undefer(&hp->defer);
    while ((e = hp->head) != NULL) {
        hp->head = e->next;
        AUSB_LIBUSB(libusb_unref_device)(e->dev);
        AUSB_FREE(e);
    }
    hp->tail = NULL;
}

/* ==== section: Android and Termux ==== */

#include <fcntl.h>
#include <sys/ioctl.h>

/* What usbfs answers to USBDEVFS_CONNECTINFO (<linux/usbdevice_fs.h>,
 * whose flexible arrays a C++ build rejects). */
struct ausb__connectinfo { unsigned int devnum; unsigned char slow; };
#define AUSB__USBFS_CONNECTINFO _IOW('U', 17, struct ausb__connectinfo)

/* Turning discovery off is for the whole process and libusb 1.0.26 cannot
 * turn it back on, so the descriptor is checked first: an fd that is not
 * open, or that is no usbfs device, fails here and changes nothing. */
AUSB_PRIVATE int ausb__termux_fd(int fd)
{
    struct ausb__connectinfo ci;
    if (fcntl(fd, F_GETFD) < 0) return -EBADF;
    if (ioctl(fd, AUSB__USBFS_CONNECTINFO, &ci) < 0) return errno == ENODEV ? -ENODEV : -ENOTTY;
    return 0;
}

AUSB_API int ausb_termux_open(ausb_handle *h, ausb_ctx *ctx)
{
    const char *s = getenv("TERMUX_USB_FD");
    ausb_ctx_config cfg;
    char *end;
    long fd;
    int r;
    if (!ctx || !h) return -EINVAL;
    if (!s || !*s) return -ENOENT;
    errno = 0;
    fd = strtol(s, &end, 10);
    if (*end || errno || s[0] < '0' || s[0] > '9' || fd > 0x7fffffffL) return -EINVAL;
    if ((r = ausb__termux_fd((int)fd)) < 0) return r;
    ausb_ctx_config_init(&cfg);
    cfg.no_discovery = 1;
    if ((r = ausb_ctx_init(ctx, &cfg)) < 0) return r;
    if ((r = ausb_wrap_fd(h, ctx, (int)fd)) < 0) ausb_ctx_close(ctx);
    return r;
}

#endif /* !AUSB_NO_LIBUSB */

#ifdef __cplusplus
}
#endif

#endif /* AUSB_IMPLEMENTATION */

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
