/* tests/usb_faults.c - asyncusb's error paths, reached through its hooks:
 * AUSB_LIBUSB routes every libusb call through a macro of this file (most
 * go straight to libusb, a few through wrappers that fail on demand), and
 * AUSB_MALLOC / AUSB_REALLOC through allocators that fail on demand.  The
 * sanitizers and valgrind check that no failure leaks or hangs.
 * Run under umockdev-wrapper. */
#define _GNU_SOURCE
#include <libusb.h>
#include <stdlib.h>
#include <errno.h>
#include <sys/mman.h>

/* ---- failing wrappers ---- */

static int fail_init, fail_pollfds, fail_submit, fail_open, fail_claim, fail_list, fail_cfg;
static int next_timeout_ms = -1, handle_events_calls;
static int fail_malloc, fail_realloc;

static int w_init(libusb_context **c) { return fail_init ? LIBUSB_ERROR_NO_MEM : libusb_init(c); }
static const struct libusb_pollfd **w_get_pollfds(libusb_context *c)
{
    return fail_pollfds ? NULL : libusb_get_pollfds(c);
}
static int w_submit(struct libusb_transfer *t) { return fail_submit ? fail_submit : libusb_submit_transfer(t); }
static int w_open(libusb_device *d, libusb_device_handle **h) { return fail_open ? fail_open : libusb_open(d, h); }
static int w_claim(libusb_device_handle *h, int i) { return fail_claim ? fail_claim : libusb_claim_interface(h, i); }
static ssize_t w_list(libusb_context *c, libusb_device ***l) { return fail_list ? fail_list : libusb_get_device_list(c, l); }
static int w_cfg(libusb_device *d, uint8_t i, struct libusb_config_descriptor **c)
{
    return fail_cfg ? fail_cfg : libusb_get_config_descriptor(d, i, c);
}
static int w_next_timeout(libusb_context *c, struct timeval *tv)
{
    if (next_timeout_ms < 0) return libusb_get_next_timeout(c, tv);
    tv->tv_sec = next_timeout_ms / 1000;
    tv->tv_usec = (next_timeout_ms % 1000) * 1000;
    return 1;
}
static int w_handle_events(libusb_context *c, struct timeval *tv, int *done)
{
    handle_events_calls++;
    return libusb_handle_events_timeout_completed(c, tv, done);
}
/* usbfs's mmap as libusb_dev_mem_alloc gives it on a real kernel, made
 * here with anonymous memory (umockdev's device nodes are plain files:
 * mapping one gives memory the fake device never sees): zc_maps turns it
 * on, with the fake announcing USBDEVFS_CAP_MMAP; zc_fail_at fails that
 * mapping (1: the first). */
static int zc_maps, zc_fail_at, zc_allocs, zc_frees;
static void *zc_addr[64];
static size_t zc_len;
static unsigned char *w_dev_mem_alloc(libusb_device_handle *h, size_t len)
{
    void *m;
    (void)h;
    if (!zc_maps || ++zc_allocs == zc_fail_at || zc_allocs > 64) return NULL;
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    zc_addr[zc_allocs - 1] = m;
    zc_len = len;
    return (unsigned char *)m;
}
static int w_dev_mem_free(libusb_device_handle *h, unsigned char *b, size_t len)
{
    (void)h;
    zc_frees++;
    return munmap(b, len) == 0 ? 0 : LIBUSB_ERROR_OTHER;
}
static void *t_malloc(size_t n) { return fail_malloc ? NULL : malloc(n); }
static void *t_realloc(void *p, size_t n) { return fail_realloc ? NULL : realloc(p, n); }

#define AUSB_MALLOC(n) t_malloc(n)
#define AUSB_REALLOC(p, n) t_realloc((p), (n))
#define AUSB_FREE(p) free(p)
#define AUSB_LIBUSB(fn) T_##fn
#define T_libusb_init w_init
#define T_libusb_get_pollfds w_get_pollfds
#define T_libusb_submit_transfer w_submit
#define T_libusb_open w_open
#define T_libusb_claim_interface w_claim
#define T_libusb_get_device_list w_list
#define T_libusb_get_config_descriptor w_cfg
#define T_libusb_get_next_timeout w_next_timeout
#define T_libusb_handle_events_timeout_completed w_handle_events
#define T_libusb_alloc_transfer libusb_alloc_transfer
#define T_libusb_attach_kernel_driver libusb_attach_kernel_driver
#define T_libusb_cancel_transfer libusb_cancel_transfer
#define T_libusb_clear_halt libusb_clear_halt
#define T_libusb_close libusb_close
#define T_libusb_detach_kernel_driver libusb_detach_kernel_driver
#define T_libusb_exit libusb_exit
#define T_libusb_free_config_descriptor libusb_free_config_descriptor
#define T_libusb_free_device_list libusb_free_device_list
#define T_libusb_free_pollfds libusb_free_pollfds
#define T_libusb_free_transfer libusb_free_transfer
#define T_libusb_get_active_config_descriptor libusb_get_active_config_descriptor
#define T_libusb_get_bus_number libusb_get_bus_number
#define T_libusb_get_device libusb_get_device
#define T_libusb_get_device_address libusb_get_device_address
#define T_libusb_get_device_descriptor libusb_get_device_descriptor
#define T_libusb_get_device_speed libusb_get_device_speed
#define T_libusb_get_port_numbers libusb_get_port_numbers
#define T_libusb_get_string_descriptor_ascii libusb_get_string_descriptor_ascii
#define T_libusb_kernel_driver_active libusb_kernel_driver_active
#define T_libusb_ref_device libusb_ref_device
#define T_libusb_release_interface libusb_release_interface
#define T_libusb_reset_device libusb_reset_device
#define T_libusb_set_configuration libusb_set_configuration
#define T_libusb_set_interface_alt_setting libusb_set_interface_alt_setting
#define T_libusb_set_option libusb_set_option
#define T_libusb_set_pollfd_notifiers libusb_set_pollfd_notifiers
#define T_libusb_has_capability libusb_has_capability
#define T_libusb_hotplug_register_callback libusb_hotplug_register_callback
#define T_libusb_hotplug_deregister_callback libusb_hotplug_deregister_callback
#define T_libusb_unref_device libusb_unref_device
#define T_libusb_wrap_sys_device libusb_wrap_sys_device
#define T_libusb_dev_mem_alloc w_dev_mem_alloc
#define T_libusb_dev_mem_free w_dev_mem_free

#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "tests/harness.h"
#include "tests/usb_fake.h"
#include <dirent.h>
#include <sys/syscall.h>

/* Every eventfd of the process comes here (GLib and libusb make theirs
 * with it); those made by a thread other than the main one are counted.
 * A descriptor a fixture thread makes on its own clock is one a test that
 * counts descriptors sees come and go at random (see usbf_init). */
static int t_eventfds_by_threads;
int eventfd(unsigned int initval, int flags);
int eventfd(unsigned int initval, int flags)
{
    if (syscall(SYS_gettid) != getpid()) __atomic_add_fetch(&t_eventfds_by_threads, 1, __ATOMIC_SEQ_CST);
    return (int)syscall(SYS_eventfd2, initval, flags);
}

static usbf_device dev1;

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static int open_dev1(ausb_ctx *ctx, ausb_handle *h)
{
    ausb_device d;
    int r;
    if ((r = ausb_ctx_init(ctx, NULL)) < 0) return r;
    if ((r = ausb_find_id(&d, ctx, 0x1234, 0x0001)) < 0) { ausb_ctx_close(ctx); return r; }
    r = ausb_open(h, &d);
    ausb_device_release(&d);
    if (r < 0) ausb_ctx_close(ctx);
    return r;
}

static int calls;
static void count_cb(ausb_transfer *t, int status, void *user)
{
    (void)t;
    (void)status;
    (void)user;
    calls++;
}

/* The testbed's worker thread used to create GLib's default context and
 * worker context itself, some time after usbf_init returned: under load,
 * after test_init_failures_leave_nothing_behind took its first count (14
 * != 13 in 2 of 6 runs).  Once the worker has served devices (which needs
 * both), no thread but this one may have made an eventfd. */
static void test_fixture_threads_make_no_descriptors_of_their_own(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    T_EQ(open_dev1(&ctx, &h), 0);   /* ioctls answered by the worker */
    ausb_close(&h);
    ausb_ctx_close(&ctx);
    T_EQ(__atomic_load_n(&t_eventfds_by_threads, __ATOMIC_SEQ_CST), 0);
}

static void test_init_failures_leave_nothing_behind(void)
{
    ausb_ctx ctx;
    int before = open_fds();
    fail_init = 1;
    T_EQ(ausb_ctx_init(&ctx, NULL), -ENOMEM);
    fail_init = 0;
    fail_pollfds = 1;
    T_EQ(ausb_ctx_init(&ctx, NULL), -ENOTSUP);
    fail_pollfds = 0;
    fail_malloc = fail_realloc = 1;       /* the watchers of libusb's descriptors */
    T_EQ(ausb_ctx_init(&ctx, NULL), -ENOMEM);
    fail_malloc = fail_realloc = 0;
    T_EQ(open_fds(), before);
    T_EQ(ctx.lu == NULL, 1);
    ausb_ctx_close(&ctx);                     /* harmless on a failed context */
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    ausb_ctx_close(&ctx);
    T_EQ(open_fds(), before);
}

static void test_failed_submit_means_no_callback_and_reuse(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    calls = 0;
    T_EQ(open_dev1(&ctx, &h), 0);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x85, buf, 8, AUSB_MS(1000), count_cb, NULL);
    fail_submit = LIBUSB_ERROR_NO_MEM;
    T_EQ(ausb_submit(&t), -ENOBUFS);     /* usbfs's memory limit, by its name */
    fail_submit = 0;
    T_EQ(ausb_pending(&ctx), 0);
    T_EQ(ausb_transfer_state(&t), AUSB_XFER_IDLE);
    ausb_run_once(&ctx, 0);
    T_EQ(calls, 0);
    T_EQ(ausb_submit(&t), 0);            /* the same object works afterwards */
    T_EQ(ausb_run(&ctx), 0);
    T_EQ(calls, 1);
    fail_submit = LIBUSB_ERROR_NO_DEVICE;
    T_EQ(ausb_submit(&t), -ENODEV);
    fail_submit = 0;
    T_EQ(ausb_handle_gone(&h), 1);
    T_EQ(ausb_submit(&t), -ENODEV);   /* at once, libusb not asked */
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_open_and_claim_failures(void)
{
    ausb_ctx ctx;
    ausb_device d;
    ausb_handle h;
    int det, att;
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb_find_id(&d, &ctx, 0x1234, 0x0001), 0);
    fail_open = LIBUSB_ERROR_ACCESS;
    T_EQ(ausb_open(&h, &d), -EACCES);
    fail_open = 0;
    T_EQ(ctx.handles == NULL, 1);
    T_EQ(ausb_open(&h, &d), 0);
    det = usbf_count(&dev1, &dev1.detaches);
    att = usbf_count(&dev1, &dev1.attaches);
    fail_claim = LIBUSB_ERROR_BUSY;
    T_EQ(ausb_claim(&h, 1), -EBUSY);
    fail_claim = 0;
    /* the driver detached for the claim is put back when the claim fails */
    T_EQ(usbf_count(&dev1, &dev1.detaches) - det, 1);
    T_EQ(usbf_count(&dev1, &dev1.attaches) - att, 1);
    T_EQ(usbf_count(&dev1, &dev1.driver_bound_if1), 1);
    ausb_close(&h);
    T_EQ(usbf_count(&dev1, &dev1.attaches) - att, 1);   /* not twice */
    ausb_device_release(&d);
    ausb_ctx_close(&ctx);
}

static void test_enumeration_failures(void)
{
    ausb_ctx ctx;
    ausb_device_list l;
    ausb_device d;
    ausb_config_desc *cfg;
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    fail_list = LIBUSB_ERROR_NO_MEM;
    T_EQ(ausb_devices(&l, &ctx), -ENOMEM);
    T_EQ(ausb_find_id(&d, &ctx, 0x1234, 0x0001), -ENOMEM);
    fail_list = 0;
    fail_malloc = 1;
    T_EQ(ausb_devices(&l, &ctx), -ENOMEM);
    T_EQ(l.count, 0);
    fail_malloc = 0;
    T_EQ(ausb_find_id(&d, &ctx, 0x1234, 0x0001), 0);
    fail_cfg = LIBUSB_ERROR_NO_MEM;
    T_EQ(ausb_config_get(&cfg, &d, 0), -ENOMEM);
    fail_cfg = 0;
    ausb_device_release(&d);
    ausb_ctx_close(&ctx);
}

static void test_libusb_timeout_folds_into_the_deadline(void)
{
    ausb_ctx ctx;
    struct pollfd fds[16];
    int64_t deadline = INT64_MAX, before, after, earlier;
    int n;
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    next_timeout_ms = 50;
    before = ausb_now_ns();
    n = ausb_prepare(&ctx, fds, 16, &deadline);
    after = ausb_now_ns();
    T_CHECK(deadline >= before + 50000000 && deadline <= after + 50000000);
    earlier = before + 1000;             /* an earlier deadline is kept */
    deadline = earlier;
    ausb_prepare(&ctx, fds, 16, &deadline);
    T_EQ(deadline, earlier);
    /* an expired libusb timeout makes dispatch handle events with no fd ready */
    next_timeout_ms = 0;
    handle_events_calls = 0;
    for (n = 0; n < 16; n++) fds[n].revents = 0;
    ausb_dispatch(&ctx, fds, ausb_prepare(&ctx, fds, 16, &deadline));
    T_EQ(handle_events_calls, 1);
    next_timeout_ms = -1;
    handle_events_calls = 0;
    ausb_dispatch(&ctx, fds, ausb_prepare(&ctx, fds, 16, &deadline));
    T_EQ(handle_events_calls, 0);        /* nothing ready, nothing due */
    ausb_ctx_close(&ctx);
}

/* The descriptors of libusb's that the context watches. */
static int lu_count(const ausb_ctx *ctx)
{
    const struct ausb__lufd *n;
    int count = 0;
    for (n = ctx->lu_fds; n; n = n->next) count++;
    return count;
}

/* Opening a handle adds a watcher for its usbfs fd; when there is no
 * memory for it, the context polls libusb until it can record the fd. */
static void test_lost_pollfd_is_recovered(void)
{
    ausb_ctx ctx;
    ausb_device d;
    ausb_handle h[8];
    ausb_transfer t;
    unsigned char buf[8];
    int i, n0;
    calls = 0;
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb_find_id(&d, &ctx, 0x1234, 0x0001), 0);
    n0 = lu_count(&ctx);
    fail_malloc = fail_realloc = 1;      /* no memory for the watchers */
    for (i = 0; i < 8; i++) T_EQ(ausb_open(&h[i], &d), 0);
    fail_malloc = fail_realloc = 0;
    T_EQ(ctx.fds_lost, 1);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h[7], 0x85, buf, 8, AUSB_MS(1000), count_cb, NULL);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(ausb_run(&ctx), 0);             /* would hang with the fd unwatched */
    T_EQ(calls, 1);
    T_EQ(ctx.fds_lost, 0);               /* resynced at the next prepare */
    T_EQ(lu_count(&ctx), n0 + 8);
    ausb_transfer_free(&t);
    for (i = 0; i < 8; i++) ausb_close(&h[i]);
    T_EQ(lu_count(&ctx), n0);
    ausb_device_release(&d);
    ausb_ctx_close(&ctx);
}

static void test_string_read_that_cannot_submit_fails_at_once(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    static ausb_string_req req;
    T_EQ(open_dev1(&ctx, &h), 0);
    fail_submit = LIBUSB_ERROR_NO_MEM;
    T_EQ(ausb_read_string(&req, &h, 1, AUSB_MS(1000), NULL, NULL), -ENOBUFS);
    fail_submit = 0;
    T_EQ(ausb_pending(&ctx), 0);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

/* ---- zero-copy buffers ---- */

typedef struct zsink { int chunks, bad, ends, status; } zsink;

static int zc_chunk(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *ud)
{
    zsink *z = (zsink *)ud;
    int i;
    (void)p;
    (void)t;
    /* mapped buffers are defined memory; plain ones umockdev fills past
     * valgrind's sight (this file's allocator does not zero them) */
    for (i = 0; p->zero_copy && i < len; i++)
        if (data[i] != 0x5a) { z->bad++; break; }
    if (++z->chunks == 40) ausb_pipe_stop(p);
    return 0;
}

static void zc_end(ausb_pipe *p, int status, void *ud)
{
    zsink *z = (zsink *)ud;
    (void)p;
    z->ends++;
    z->status = status;
}

/* A pipe on 0x88 (fills every buffer at once); returns its zero_copy. */
static void zc_set(int maps, int fail_at)
{
    zc_maps = maps;
    zc_fail_at = fail_at;
    usbf_set(&dev1, (int *)&dev1.caps_extra, maps ? USBDEVFS_CAP_MMAP : 0);
}

static int zc_stream(int on, int *ends_status, int *bad)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_pipe_config pc;
    zsink z = {0, 0, 0, 0};
    int zero_copy = -1, i;
    zc_allocs = zc_frees = 0;
    if (open_dev1(&ctx, &h) != 0) return -2;
    ausb_set_zero_copy(&h, on);
    ausb_pipe_config_init(&pc);
    pc.in_flight = 4;
    pc.transfer_len = 4096;
    if (ausb_pipe_start(&p, &h, 0x88, AUSB_EP_BULK, &pc, zc_chunk, zc_end, &z) == 0) {
        zero_copy = p.zero_copy;
        for (i = 0; i < 100000 && !z.ends; i++) ausb_run_once(&ctx, AUSB_MS(20));
    }
    ausb_close(&h);
    ausb_ctx_close(&ctx);
    *ends_status = z.ends == 1 ? z.status : -999;
    *bad = z.bad + (z.chunks < 40);
    return zero_copy;
}

static void test_zero_copy_buffers_where_libusb_maps_them(void)
{
    int st, bad;
    zc_set(1, 0);
    T_EQ(zc_stream(1, &st, &bad), 1);
    T_EQ(st, -ECANCELED);
    T_EQ(bad, 0);
    T_EQ(zc_allocs, 4);
    T_EQ(zc_frees, 4);                  /* through libusb, the handle still open */
    zc_set(0, 0);
}

static void test_zero_copy_off_for_a_handle_allocates(void)
{
    int st, bad;
    zc_set(1, 0);
    T_EQ(zc_stream(0, &st, &bad), 0);
    T_EQ(st, -ECANCELED);
    T_EQ(zc_allocs, 0);
    zc_set(0, 0);
}

static void test_zero_copy_falls_back_when_a_mapping_fails(void)
{
    int st, bad;
    zc_set(1, 3);
    T_EQ(zc_stream(1, &st, &bad), 0);
    T_EQ(st, -ECANCELED);
    T_EQ(zc_allocs, 3);
    T_EQ(zc_frees, 2);                  /* the two it got, given back at once */
    zc_set(0, 0);
}

/* A device whose usbfs does not announce USBDEVFS_CAP_MMAP (an older
 * kernel; umockdev's fake) gets allocated buffers, libusb not asked. */
static void test_zero_copy_unavailable_falls_back_to_allocated_buffers(void)
{
    int st, bad;
    zc_set(1, 0);
    usbf_set(&dev1, (int *)&dev1.caps_extra, 0);
    T_EQ(zc_stream(1, &st, &bad), 0);
    T_EQ(st, -ECANCELED);
    T_EQ(bad, 0);
    T_EQ(zc_allocs, 0);
    zc_set(0, 0);
}

static void on_queue_sent(ausb_outq *q, int status, int len, void *ud)
{
    (void)q;
    if (status == 0) *(long *)ud += len;
}

/* 1 while [p, p + n) lies in a mapping of this process (read from
 * /proc/self/maps: msync on an unmapped range would answer too, but
 * valgrind reports it as a call on unaddressable memory). */
static int is_mapped(const void *p, size_t n)
{
    unsigned long a = (unsigned long)p, lo, hi;
    char line[512];
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    while (!found && fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= a && a + n <= hi) found = 1;
    fclose(f);
    return found;
}

/* Buffers outlive the handle: a pipe whose handle closes under it
 * unmaps them itself when it ends; an OUT queue sends from mapped ones. */
static void test_mapped_buffers_outlive_close_and_are_unmapped_after(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_outq q;
    ausb_pipe_config pc;
    zsink z = {0, 0, 0, 0};
    unsigned char b[1000];
    long sent = 0;
    int i, mapped = 0, zq;
    zc_set(1, 0);
    zc_allocs = zc_frees = 0;
    memset(b, 0x33, sizeof b);
    T_EQ(open_dev1(&ctx, &h), 0);
    T_EQ(ausb_outq_init(&q, &h, 0x03, 2, 1024, 0, 0, on_queue_sent, &sent), 0);
    zq = q.zero_copy;
    T_EQ(ausb_outq_write(&q, b, sizeof b), 0);
    for (i = 0; i < 1000 && sent < (long)sizeof b; i++) ausb_run_once(&ctx, AUSB_MS(20));
    ausb_outq_close(&q);
    ausb_pipe_config_init(&pc);
    pc.in_flight = 2;
    pc.transfer_len = 512;
    T_EQ(ausb_pipe_start(&p, &h, 0x84, AUSB_EP_BULK, &pc, zc_chunk, zc_end, &z), 0);
    T_EQ(p.zero_copy, 1);
    ausb_run_once(&ctx, 0);
    ausb_close(&h);                      /* the pipe's end is still to come */
    for (i = 2; i < 4; i++) mapped += is_mapped(zc_addr[i], zc_len) == 1;
    for (i = 0; i < 1000 && !z.ends; i++) ausb_run_once(&ctx, AUSB_MS(10));
    for (i = 2; i < 4; i++) mapped += is_mapped(zc_addr[i], zc_len) == 1;
    ausb_ctx_close(&ctx);
    zc_set(0, 0);
    T_EQ(zq, 1);
    T_EQ(sent, (long)sizeof b);
    T_EQ(z.ends, 1);
    T_EQ(z.status, AUSB_ECLOSED);
    T_EQ(zc_allocs, 4);
    T_EQ(zc_frees, 2);                   /* the queue's, with the handle open */
    T_EQ(mapped, 2);                     /* the pipe's: mapped until its end */
}

int main(void)
{
    t_suite("usb_faults");
    usbf_init();
    dev1.desc_len = usbf_std_descriptors(dev1.desc, 0x1234, 0x0001);
    dev1.driver_bound_if1 = 1;
    usbf_add(&dev1, "/devices/fake/usb1/1-2", 1, 5, 480);
    T_RUN(test_init_failures_leave_nothing_behind);
    T_RUN(test_failed_submit_means_no_callback_and_reuse);
    T_RUN(test_open_and_claim_failures);
    T_RUN(test_enumeration_failures);
    T_RUN(test_libusb_timeout_folds_into_the_deadline);
    T_RUN(test_string_read_that_cannot_submit_fails_at_once);
    T_RUN(test_lost_pollfd_is_recovered);
    T_RUN(test_zero_copy_buffers_where_libusb_maps_them);
    T_RUN(test_zero_copy_off_for_a_handle_allocates);
    T_RUN(test_zero_copy_falls_back_when_a_mapping_fails);
    T_RUN(test_zero_copy_unavailable_falls_back_to_allocated_buffers);
    T_RUN(test_mapped_buffers_outlive_close_and_are_unmapped_after);
    /* last: the worker's side of a device closes on its own clock too */
    T_RUN(test_fixture_threads_make_no_descriptors_of_their_own);
    usbf_done();
    return t_done();
}
