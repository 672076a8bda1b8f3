/* examples/usb_monitor.c - print USB devices as they come and go.
 *
 *   cc -std=c99 -O2 -I. -o build/usb_monitor examples/usb_monitor.c $(pkg-config --cflags --libs libusb-1.0)
 *
 *   build/usb_monitor          "arrived Bus 001 Device 005: ID 1234:0001" and
 *                              "left ..." lines until SIGINT (Ctrl-C) or
 *                              SIGTERM, then exits with status 0
 *   build/usb_monitor --once   the devices present now, as arrivals, then exit
 *
 * Only ids are printed (bus, address, vendor and product), never text a
 * device chose.  Any other argument prints the usage line and exits 2.
 * The started watch keeps ausb_run going; a signal, read through the loop,
 * stops it.
 */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* SIGINT or SIGTERM, through the loop (no handler): leave the loop. */
static void on_stop_signal(ausb_signal *sig, const ausb_siginfo *info, void *ud)
{
    (void)info;
    ausb_stop((ausb_ctx *)ud);
    (void)sig;
}

static void print_device(const char *what, const ausb_device *dev)
{
    const ausb_device_desc *d = ausb_device_descriptor(dev);
    printf("%s Bus %03d Device %03d: ID %04x:%04x\n", what, ausb_device_bus(dev), ausb_device_address(dev),
           d->idVendor, d->idProduct);
    fflush(stdout);
}

static void on_hotplug(ausb_hotplug *hp, int arrived, const ausb_device *dev, void *ud)
{
    (void)hp;
    (void)ud;
    print_device(arrived ? "arrived" : "left", dev);
}

int main(int argc, char **argv)
{
    ausb_ctx ctx;
    ausb_hotplug hp;
    ausb_signal sigint, sigterm;
    int once = argc == 2 && strcmp(argv[1], "--once") == 0, r;
    if (argc > 1 && !once) {
        fprintf(stderr, "usage: usb_monitor [--once]\n");
        return 2;
    }
    if ((r = ausb_ctx_init(&ctx, NULL)) < 0) {
        fprintf(stderr, "usb_monitor: %s\n", ausb_strerror(r));
        return 1;
    }
    if (once) {
        ausb_device_list l;
        int i, n = ausb_devices(&l, &ctx);
        if (n < 0) {
            fprintf(stderr, "usb_monitor: %s\n", ausb_strerror(n));
            ausb_ctx_close(&ctx);
            return 1;
        }
        for (i = 0; i < l.count; i++) print_device("arrived", &l.items[i]);
        ausb_devices_free(&l);
        ausb_ctx_close(&ctx);
        return 0;
    }
    if ((r = ausb_hotplug_start(&hp, &ctx, NULL, AUSB_HOTPLUG_ENUMERATE, on_hotplug, NULL)) < 0) {
        fprintf(stderr, "usb_monitor: hotplug: %s\n", ausb_strerror(r));
        ausb_ctx_close(&ctx);
        return 1;
    }
    ausb_signal_init(&sigint, on_stop_signal, &ctx);
    ausb_signal_init(&sigterm, on_stop_signal, &ctx);
    if ((r = ausb_signal_start(&sigint, &ctx, SIGINT)) < 0 || (r = ausb_signal_start(&sigterm, &ctx, SIGTERM)) < 0)
        fprintf(stderr, "usb_monitor: signals: %s\n", ausb_strerror(r));
    else if ((r = ausb_run(&ctx)) < 0)
        fprintf(stderr, "usb_monitor: %s\n", ausb_strerror(r));
    ausb_hotplug_stop(&hp);
    ausb_ctx_close(&ctx);   /* stops the signal watchers too */
    return r < 0 ? 1 : 0;
}
