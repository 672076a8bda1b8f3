/* bench/usb_submit_allocs.c - what libusb allocates per submit, measured:
 * the blocks allocated inside ausb_submit and freed by the time the
 * callback has come, counted on the loop's thread only (the emulator's
 * threads allocate too), for each kind of transfer, on the fake device
 * 1234:0001 of tests/usb_fake.h (run under umockdev-wrapper, with that
 * device created by tests/usb_fakehost.c, as bench/parts/asyncusb.sh does).
 *
 *   usb_submit_allocs [--expect]
 *
 * Prints one line per kind: "KIND: N blocks, B bytes per submit, N freed
 * by the callback".  With --expect the exit status says whether the
 * figures are those asyncusb.h's manual gives (its "Options" section) for
 * libusb 1.0.26 on 64-bit Linux: one block per submit, of 56 bytes per
 * URB (one URB for control, interrupt, and bulk up to 16 KiB; the fake
 * device, like a host controller without scatter-gather, gets a bulk
 * transfer in 16 KiB URBs), two for 8 isochronous packets, all freed
 * when the transfer completes.  The counting replaces malloc and friends
 * with glibc's own entry points, so it builds with glibc only and without
 * sanitizers. */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include <stdio.h>
#include <string.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t k, size_t n);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static __thread int counting;
static __thread long blocks, bytes, freed;

void *malloc(size_t n)
{
    if (counting) { blocks++; bytes += (long)n; }
    return __libc_malloc(n);
}
void *calloc(size_t k, size_t n)
{
    if (counting) { blocks++; bytes += (long)(k * n); }
    return __libc_calloc(k, n);
}
void *realloc(void *p, size_t n)
{
    if (counting && !p) { blocks++; bytes += (long)n; }
    return __libc_realloc(p, n);
}
void free(void *p)
{
    if (counting && p) freed++;
    __libc_free(p);
}

static int done;
static void on_done(ausb_transfer *t, int status, void *ud)
{
    (void)t; (void)status; (void)ud;
    done++;
}

/* N submits of t (filled), one at a time; the averages per submit. */
static int measure(const char *kind, ausb_ctx *ctx, ausb_transfer *t, int n, long want_blocks, long want_bytes)
{
    long b = 0, by = 0, f = 0;
    int i, r;
    for (i = 0; i < n; i++) {
        done = 0;
        counting = 1;
        blocks = bytes = freed = 0;
        r = ausb_submit(t);
        b += blocks;
        by += bytes;
        counting = 0;
        if (r < 0) { fprintf(stderr, "%s: submit: %s\n", kind, ausb_strerror(r)); return -1; }
        counting = 1;
        freed = 0;
        while (!done) if ((r = ausb_run_once(ctx, AUSB_MS(100))) < 0) break;
        f += freed;
        counting = 0;
        if (r < 0) { fprintf(stderr, "%s: %s\n", kind, ausb_strerror(r)); return -1; }
    }
    printf("%s: %ld blocks, %ld bytes per submit, %ld freed by the callback\n", kind, b / n, by / n, f / n);
    return want_blocks < 0 || (b / n == want_blocks && by / n == want_bytes && f / n == want_blocks) ? 0 : 1;
}

int main(int argc, char **argv)
{
    static unsigned char buf[65536 + 8];
    int expect = argc > 1 && strcmp(argv[1], "--expect") == 0, bad = 0, r;
    long per = sizeof(void *) == 8 ? 56 : -1;   /* 64-bit figure; others are printed only */
    ausb_ctx ctx;
    ausb_device dev;
    ausb_handle h;
    ausb_transfer t, iso;
    if ((r = ausb_ctx_init(&ctx, NULL)) < 0 || (r = ausb_find_id(&dev, &ctx, 0x1234, 0x0001)) < 0 ||
        (r = ausb_open(&h, &dev)) < 0 || (r = ausb_transfer_init(&t, 0)) < 0 || (r = ausb_transfer_init(&iso, 8)) < 0) {
        fprintf(stderr, "usb_submit_allocs: %s\n", ausb_strerror(r));
        return 1;
    }
    ausb_fill_bulk(&t, &h, 0x88, buf, 512, AUSB_MS(1000), on_done, NULL);
    bad |= measure("bulk 512 B", &ctx, &t, 100, expect ? 1 : -1, per);
    ausb_fill_bulk(&t, &h, 0x88, buf, 65536, AUSB_MS(1000), on_done, NULL);
    bad |= measure("bulk 64 KiB", &ctx, &t, 100, expect ? 1 : -1, 4 * per);
    ausb_fill_interrupt(&t, &h, 0x83, buf, 8, AUSB_MS(1000), on_done, NULL);
    bad |= measure("interrupt 8 B", &ctx, &t, 100, expect ? 1 : -1, per);
    ausb_setup_get_descriptor(buf, 1, 0, 0, 18);
    ausb_fill_control(&t, &h, buf, AUSB_MS(1000), on_done, NULL);
    bad |= measure("control 18 B", &ctx, &t, 100, expect ? 1 : -1, per);
    if ((r = ausb_fill_iso(&iso, &h, 0x87, buf, 8 * 64, 8, 64, AUSB_MS(1000), on_done, NULL)) < 0) {
        fprintf(stderr, "usb_submit_allocs: %s\n", ausb_strerror(r));
        return 1;
    }
    bad |= measure("isochronous 8 x 64 B", &ctx, &iso, 100, expect ? 2 : -1, 8 + per + 8 * 12);
    ausb_transfer_free(&t);
    ausb_transfer_free(&iso);
    ausb_close(&h);
    ausb_device_release(&dev);
    ausb_ctx_close(&ctx);
    return expect && per > 0 ? bad : 0;
}
