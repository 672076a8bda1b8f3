/* bench/usb_ausb.c - N bulk IN transfers of 512 bytes, DEPTH in flight (default 4) on
 * endpoint EP (default 88: completes at once; 89: one poll later),
 * each resubmitted from its callback, driven by ausb_run.  The device is
 * the fake 1234:0001 of tests/usb_fakehost.c (endpoint 0x88 completes at
 * once).  Same work as usb_libusb.c and usb_python1.py.
 *
 *   usb_ausb N [DEPTH [EP [inline]]]
 *
 * "inline" sets AUSB_INLINE_CALLBACK: the callback (which only counts and
 * resubmits) runs inside libusb's event handling, as in usb_libusb.c. */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#define MAX_DEPTH 64
#define LEN 512

static int depth = 4, inline_cb;
static unsigned char ep = 0x88;
static long want, submitted, completed, bytes, errors;

static void on_done(ausb_transfer *t, int status, void *user)
{
    (void)user;
    completed++;
    if (status != 0) errors++;
    bytes += t->actual_length;
    if (submitted < want) {
        submitted++;
        if (ausb_submit(t) < 0) errors++;
    }
}

int main(int argc, char **argv)
{
    static unsigned char buf[MAX_DEPTH][LEN];
    ausb_ctx ctx;
    ausb_device dev;
    ausb_handle h;
    ausb_transfer t[MAX_DEPTH];
    int i;
    want = argc > 1 ? atol(argv[1]) : 1000;
    if (argc > 2) depth = atoi(argv[2]);
    if (argc > 3) ep = (unsigned char)strtol(argv[3], NULL, 16);
    if (argc > 4) inline_cb = strcmp(argv[4], "inline") == 0;
    if (depth < 1 || depth > MAX_DEPTH) return 2;
    if (ausb_ctx_init(&ctx, NULL) < 0 || ausb_find_id(&dev, &ctx, 0x1234, 0x0001) < 0 || ausb_open(&h, &dev) < 0) {
        fprintf(stderr, "usb_ausb: no fake device\n");
        return 1;
    }
    for (i = 0; i < depth && submitted < want; i++) {
        ausb_transfer_init(&t[i], 0);
        ausb_fill_bulk(&t[i], &h, ep, buf[i], LEN, AUSB_MS(1000), on_done, NULL);
        if (inline_cb) ausb_transfer_set_flags(&t[i], AUSB_INLINE_CALLBACK);
        submitted++;
        if (ausb_submit(&t[i]) < 0) errors++;
    }
    ausb_run(&ctx);
    for (i = 0; i < depth && i < want; i++) ausb_transfer_free(&t[i]);
    ausb_close(&h);
    ausb_device_release(&dev);
    ausb_ctx_close(&ctx);
    printf("completed %ld bytes %ld errors %ld\n", completed, bytes, errors);
    return errors || completed != want;
}
