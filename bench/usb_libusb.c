/* bench/usb_libusb.c - the same work as usb_ausb.c written directly on
 * libusb's async API: N bulk IN transfers of 512 bytes, DEPTH in flight (default 4) on
 * endpoint EP (default 88: completes at once; 89: one poll later),
 * resubmitted from the callback, libusb_handle_events_completed as loop.
 *
 *   usb_libusb N [DEPTH [EP]] */
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_DEPTH 64
#define LEN 512

static int depth = 4;
static unsigned char ep = 0x88;
static long want, submitted, completed, bytes, errors;

static void LIBUSB_CALL on_done(struct libusb_transfer *t)
{
    completed++;
    if (t->status != LIBUSB_TRANSFER_COMPLETED) errors++;
    bytes += t->actual_length;
    if (submitted < want) {
        submitted++;
        if (libusb_submit_transfer(t) < 0) errors++;
    }
}

int main(int argc, char **argv)
{
    static unsigned char buf[MAX_DEPTH][LEN];
    libusb_context *ctx;
    libusb_device_handle *h;
    struct libusb_transfer *t[MAX_DEPTH];
    int i;
    want = argc > 1 ? atol(argv[1]) : 1000;
    if (argc > 2) depth = atoi(argv[2]);
    if (argc > 3) ep = (unsigned char)strtol(argv[3], NULL, 16);
    if (depth < 1 || depth > MAX_DEPTH) return 2;
    if (libusb_init(&ctx) < 0 || !(h = libusb_open_device_with_vid_pid(ctx, 0x1234, 0x0001))) {
        fprintf(stderr, "usb_libusb: no fake device\n");
        return 1;
    }
    for (i = 0; i < depth && submitted < want; i++) {
        t[i] = libusb_alloc_transfer(0);
        libusb_fill_bulk_transfer(t[i], h, ep, buf[i], LEN, on_done, NULL, 1000);
        submitted++;
        if (libusb_submit_transfer(t[i]) < 0) errors++;
    }
    while (completed < want && !errors) libusb_handle_events(ctx);
    for (i = 0; i < depth && i < want; i++) libusb_free_transfer(t[i]);
    libusb_close(h);
    libusb_exit(ctx);
    printf("completed %ld bytes %ld errors %ld\n", completed, bytes, errors);
    return errors || completed != want;
}
