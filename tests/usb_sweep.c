/* tests/usb_sweep.c - makes the n-th libusb call fail, for every n of a
 * whole session (init, find, open, claim, transfers of each type, a string,
 * close, exit), through the AUSB_LIBUSB hook.  Whatever fails, every
 * transfer that was accepted calls back exactly once, nothing crashes or
 * hangs, and the sanitizers and valgrind see no leak.
 *
 * Calls that cannot fail in libusb (freeing, closing, reference counting)
 * or whose failure libusb never reports for a live transfer (cancel) go
 * straight through.  Run under umockdev-wrapper. */
#define _GNU_SOURCE
#include <libusb.h>
#include <stdint.h>

static long sweep_calls, sweep_fail_at = -1;

/* True when this call is the one to fail. */
static int sweep_hit(void) { return ++sweep_calls == sweep_fail_at; }

#define SWEEP_INT(name, params, args) \
    static int s_##name params { return sweep_hit() ? LIBUSB_ERROR_IO : name args; }

SWEEP_INT(libusb_init, (libusb_context **c), (c))
SWEEP_INT(libusb_get_device_descriptor, (libusb_device *d, struct libusb_device_descriptor *o), (d, o))
SWEEP_INT(libusb_get_active_config_descriptor, (libusb_device *d, struct libusb_config_descriptor **o), (d, o))
SWEEP_INT(libusb_get_config_descriptor, (libusb_device *d, uint8_t i, struct libusb_config_descriptor **o), (d, i, o))
SWEEP_INT(libusb_get_port_numbers, (libusb_device *d, uint8_t *p, int n), (d, p, n))
SWEEP_INT(libusb_wrap_sys_device, (libusb_context *c, intptr_t fd, libusb_device_handle **h), (c, fd, h))
SWEEP_INT(libusb_open, (libusb_device *d, libusb_device_handle **h), (d, h))
SWEEP_INT(libusb_set_configuration, (libusb_device_handle *h, int v), (h, v))
SWEEP_INT(libusb_claim_interface, (libusb_device_handle *h, int i), (h, i))
SWEEP_INT(libusb_release_interface, (libusb_device_handle *h, int i), (h, i))
SWEEP_INT(libusb_set_interface_alt_setting, (libusb_device_handle *h, int i, int a), (h, i, a))
SWEEP_INT(libusb_clear_halt, (libusb_device_handle *h, unsigned char e), (h, e))
SWEEP_INT(libusb_reset_device, (libusb_device_handle *h), (h))
SWEEP_INT(libusb_kernel_driver_active, (libusb_device_handle *h, int i), (h, i))
SWEEP_INT(libusb_detach_kernel_driver, (libusb_device_handle *h, int i), (h, i))
SWEEP_INT(libusb_attach_kernel_driver, (libusb_device_handle *h, int i), (h, i))
SWEEP_INT(libusb_submit_transfer, (struct libusb_transfer *t), (t))
SWEEP_INT(libusb_get_string_descriptor_ascii, (libusb_device_handle *h, uint8_t i, unsigned char *b, int n), (h, i, b, n))
SWEEP_INT(libusb_handle_events_timeout_completed, (libusb_context *c, struct timeval *tv, int *done), (c, tv, done))

static ssize_t s_libusb_get_device_list(libusb_context *c, libusb_device ***l)
{
    return sweep_hit() ? LIBUSB_ERROR_NO_MEM : libusb_get_device_list(c, l);
}
static struct libusb_transfer *s_libusb_alloc_transfer(int n)
{
    return sweep_hit() ? NULL : libusb_alloc_transfer(n);
}
static const struct libusb_pollfd **s_libusb_get_pollfds(libusb_context *c)
{
    return sweep_hit() ? NULL : libusb_get_pollfds(c);
}

#define AUSB_LIBUSB(fn) SW_##fn
#define SW_libusb_init s_libusb_init
#define SW_libusb_get_device_descriptor s_libusb_get_device_descriptor
#define SW_libusb_get_active_config_descriptor s_libusb_get_active_config_descriptor
#define SW_libusb_get_config_descriptor s_libusb_get_config_descriptor
#define SW_libusb_get_port_numbers s_libusb_get_port_numbers
#define SW_libusb_wrap_sys_device s_libusb_wrap_sys_device
#define SW_libusb_open s_libusb_open
#define SW_libusb_set_configuration s_libusb_set_configuration
#define SW_libusb_claim_interface s_libusb_claim_interface
#define SW_libusb_release_interface s_libusb_release_interface
#define SW_libusb_set_interface_alt_setting s_libusb_set_interface_alt_setting
#define SW_libusb_clear_halt s_libusb_clear_halt
#define SW_libusb_reset_device s_libusb_reset_device
#define SW_libusb_kernel_driver_active s_libusb_kernel_driver_active
#define SW_libusb_detach_kernel_driver s_libusb_detach_kernel_driver
#define SW_libusb_attach_kernel_driver s_libusb_attach_kernel_driver
#define SW_libusb_submit_transfer s_libusb_submit_transfer
#define SW_libusb_get_string_descriptor_ascii s_libusb_get_string_descriptor_ascii
#define SW_libusb_handle_events_timeout_completed s_libusb_handle_events_timeout_completed
#define SW_libusb_get_device_list s_libusb_get_device_list
#define SW_libusb_alloc_transfer s_libusb_alloc_transfer
#define SW_libusb_get_pollfds s_libusb_get_pollfds
/* cannot fail, or never fails for a live transfer */
#define SW_libusb_get_next_timeout libusb_get_next_timeout
#define SW_libusb_cancel_transfer libusb_cancel_transfer
#define SW_libusb_close libusb_close
#define SW_libusb_exit libusb_exit
#define SW_libusb_free_config_descriptor libusb_free_config_descriptor
#define SW_libusb_free_device_list libusb_free_device_list
#define SW_libusb_free_pollfds libusb_free_pollfds
#define SW_libusb_free_transfer libusb_free_transfer
#define SW_libusb_get_bus_number libusb_get_bus_number
#define SW_libusb_get_device libusb_get_device
#define SW_libusb_get_device_address libusb_get_device_address
#define SW_libusb_get_device_speed libusb_get_device_speed
#define SW_libusb_ref_device libusb_ref_device
#define SW_libusb_unref_device libusb_unref_device
#define SW_libusb_set_option libusb_set_option
#define SW_libusb_set_pollfd_notifiers libusb_set_pollfd_notifiers
#define SW_libusb_has_capability libusb_has_capability
#define SW_libusb_hotplug_register_callback libusb_hotplug_register_callback
#define SW_libusb_hotplug_deregister_callback libusb_hotplug_deregister_callback
#define SW_libusb_dev_mem_alloc libusb_dev_mem_alloc
#define SW_libusb_dev_mem_free libusb_dev_mem_free

#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "tests/harness.h"
#include "tests/usb_fake.h"

static usbf_device dev1;

typedef struct session {
    int accepted, callbacks, strings_accepted, string_callbacks;
    int double_callbacks;
    ausb_transfer t[4];
    int calls_of[4];
    unsigned char bulk[64], held[64], ctl[8 + 16], iso[4 * 8];
    ausb_string_req str;
} session;

static void on_done(ausb_transfer *t, int status, void *user)
{
    session *s = (session *)user;
    int i = (int)(t - s->t);
    (void)status;
    if (i >= 0 && i < 4 && ++s->calls_of[i] > 1) s->double_callbacks++;
    s->callbacks++;
}

static void on_string(ausb_string_req *req, int status, const char *utf8, void *user)
{
    (void)req;
    (void)status;
    (void)utf8;
    ((session *)user)->string_callbacks++;
}

/* One whole session; every step may fail.  Returns how far it got. */
static int run_session(session *s)
{
    ausb_ctx ctx;
    ausb_device dev;
    ausb_handle h;
    int i, got = 0, iter;
    memset(s, 0, sizeof *s);
    if (ausb_ctx_init(&ctx, NULL) < 0) return got;
    got++;
    if (ausb_find_id(&dev, &ctx, 0x1234, 0x0001) == 0) {
        got++;
        if (ausb_open(&h, &dev) == 0) {
            got++;
            if (ausb_claim(&h, 1) == 0) got++;
            for (i = 0; i < 4; i++) {
                if (ausb_transfer_init(&s->t[i], i == 3 ? 4 : 0) < 0) continue;
                if (i == 0) ausb_fill_bulk(&s->t[i], &h, 0x85, s->bulk, 64, AUSB_MS(1000), on_done, s);
                if (i == 1) ausb_fill_bulk(&s->t[i], &h, 0x84, s->held, 64, 0, on_done, s);
                if (i == 2) {
                    ausb_setup(s->ctl, AUSB_RT_IN | AUSB_RT_VENDOR, 0x01, 0, 0, 16);
                    ausb_fill_control(&s->t[i], &h, s->ctl, AUSB_MS(1000), on_done, s);
                }
                if (i == 3) ausb_fill_iso(&s->t[i], &h, 0x87, s->iso, sizeof s->iso, 4, 8, AUSB_MS(1000), on_done, s);
                if (ausb_submit(&s->t[i]) == 0) s->accepted++;
            }
            if (ausb_read_string(&s->str, &h, 2, AUSB_MS(1000), on_string, s) == 0) s->strings_accepted++;
            /* everything but the held transfer completes by itself */
            for (iter = 0; iter < 20000 && ausb_pending(&ctx) > 1; iter++) ausb_run_once(&ctx, AUSB_MS(10));
            ausb_close(&h);                      /* cancels the held one */
            for (i = 0; i < 4; i++) ausb_transfer_free(&s->t[i]);
        }
        ausb_device_release(&dev);
    }
    ausb_ctx_close(&ctx);
    return got;
}

static void test_every_failing_libusb_call_is_survived(void)
{
    session s;
    long total, n;
    int bad = 0, reached_claim = 0;
    sweep_fail_at = -1;
    sweep_calls = 0;
    T_EQ(run_session(&s), 4);
    T_EQ(s.accepted, 4);
    T_EQ(s.callbacks, 4);
    T_EQ(s.string_callbacks, 1);
    total = sweep_calls;
    T_CHECK(total > 20);
    for (n = 1; n <= total; n++) {
        sweep_fail_at = n;
        sweep_calls = 0;
        if (run_session(&s) == 4) reached_claim++;
        if (s.callbacks != s.accepted || s.double_callbacks || s.string_callbacks != s.strings_accepted) {
            printf("failing call %ld: accepted %d, callbacks %d, strings %d/%d\n", n, s.accepted, s.callbacks,
                   s.string_callbacks, s.strings_accepted);
            bad++;
        }
    }
    sweep_fail_at = -1;
    T_EQ(bad, 0);
    T_CHECK(reached_claim > 0 && reached_claim < total);
    if (getenv("T_VERBOSE")) printf("swept %ld failing libusb calls\n", total);
}

int main(void)
{
    t_suite("usb_sweep");
    usbf_init();
    dev1.strings[2] = "Sweep";
    dev1.desc_len = usbf_std_descriptors(dev1.desc, 0x1234, 0x0001);
    dev1.driver_bound_if1 = 1;
    usbf_add(&dev1, "/devices/fake/usb1/1-2", 1, 5, 480);
    T_RUN(test_every_failing_libusb_call_is_survived);
    usbf_done();
    return t_done();
}
