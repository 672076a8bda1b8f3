/* examples/ausb.c - list USB devices and print a device's descriptor tree.
 *
 *   cc -std=c99 -O2 -I. -o build/ausb examples/ausb.c $(pkg-config --cflags --libs libusb-1.0)
 *
 *   build/ausb list             one line per device, strings when it gives them
 *   build/ausb dev-info VID PID descriptor tree (ids in hex, 1 to 4 digits)
 *
 * The strings of every device are read at the same time, with async control
 * transfers driven by the context's own loop (ausb_run).
 *
 * Nothing a device sends is trusted: its strings reach the terminal with
 * control characters replaced (a product name can hold escape sequences),
 * and the tree libusb parsed is walked with the ausb_*_at accessors, which
 * stop where libusb left an array out.  Exit status: 0 when everything was
 * read, 1 when the device is absent or any configuration is unreadable or
 * malformed (the tree printed is then what libusb could parse), 2 for a
 * bad command line.
 */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    ausb_device *dev;
    ausb_handle handle;
    int open;
    ausb_string_req req[2];
    char text[2][384];
} entry;

/* A string that cannot be read (refused, stalled, timed out) is left out:
 * the line keeps the ids. */
static void on_string(ausb_string_req *req, int status, const char *utf8, void *ud)
{
    char *dst = (char *)ud;
    (void)req;
    if (status == 0 && utf8) {
        snprintf(dst, 384, "%s", utf8);
        ausb_utf8_printable(dst);   /* the device chose these bytes */
    }
}

/* Sorts pointers: an open handle must not move in memory. */
static int by_bus_address(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    int kx = ausb_device_bus(x->dev) * 1000 + ausb_device_address(x->dev);
    int ky = ausb_device_bus(y->dev) * 1000 + ausb_device_address(y->dev);
    return kx - ky;
}

static int cmd_list(ausb_ctx *ctx)
{
    ausb_device_list list;
    entry *e, **order;
    int i, k, r, n = ausb_devices(&list, ctx);
    if (n < 0) { fprintf(stderr, "ausb: %s\n", ausb_strerror(n)); return 1; }
    e = (entry *)calloc((size_t)(n ? n : 1), sizeof *e);
    order = (entry **)calloc((size_t)(n ? n : 1), sizeof *order);
    if (!e || !order) {
        fprintf(stderr, "ausb: %s\n", ausb_strerror(-ENOMEM));
        free(e);
        free(order);
        ausb_devices_free(&list);
        return 1;
    }
    for (i = 0; i < n; i++) {
        const ausb_device_desc *d = ausb_device_descriptor(&list.items[i]);
        const int index[2] = {d->iManufacturer, d->iProduct};
        e[i].dev = &list.items[i];
        order[i] = &e[i];
        if (!index[0] && !index[1]) continue;
        if (ausb_open(&e[i].handle, e[i].dev) < 0) continue;   /* no access: ids only */
        e[i].open = 1;
        for (k = 0; k < 2; k++)   /* one that does not start is left out, as one that fails */
            if (index[k] && ausb_read_string(&e[i].req[k], &e[i].handle, index[k], AUSB_MS(1000), on_string,
                                             e[i].text[k]) < 0)
                e[i].text[k][0] = 0;
    }
    if ((r = ausb_run(ctx)) < 0) fprintf(stderr, "ausb: %s\n", ausb_strerror(r));
    qsort(order, (size_t)n, sizeof *order, by_bus_address);
    for (i = 0; i < n; i++) {
        const entry *x = order[i];
        const ausb_device_desc *d = ausb_device_descriptor(x->dev);
        printf("Bus %03d Device %03d: ID %04x:%04x", ausb_device_bus(x->dev), ausb_device_address(x->dev),
               d->idVendor, d->idProduct);
        for (k = 0; k < 2; k++)
            if (x->text[k][0]) printf(" %s", x->text[k]);
        printf("\n");
    }
    for (i = 0; i < n; i++)
        if (e[i].open) ausb_close(&e[i].handle);
    free(order);
    free(e);
    ausb_devices_free(&list);
    return r < 0 ? 1 : 0;
}

static void print_endpoint(const ausb_endpoint_desc *ep, int speed)
{
    int mult = ausb_ep_multiplier(ep, speed);
    printf("        %s %s Endpoint %02x, MPS=%d", ausb_ep_type_name(ausb_ep_type(ep)), ausb_ep_is_in(ep) ? "In" : "Out",
           ep->bEndpointAddress, ausb_ep_packet_size(ep));
    if (mult > 1) printf("x%d", mult);
    printf(", interval=%d\n", ep->bInterval);
}

/* One configuration as libusb parsed it; 0, or -1 when it is unreadable
 * or malformed (said on stderr: the tree printed is what libusb kept). */
static int print_config(const ausb_device *dev, int index, int speed)
{
    ausb_config_desc *cfg;
    const ausb_interface *in;
    const ausb_altsetting *s, *first;
    const ausb_endpoint_desc *ep;
    int i, a, e, r = ausb_config_get(&cfg, dev, index);
    if (r < 0) {
        fprintf(stderr, "ausb: configuration %d unreadable: %s\n", index, ausb_strerror(r));
        return -1;
    }
    printf("  Configuration #%d\n", cfg->bConfigurationValue);
    for (i = 0; (in = ausb_config_interface_at(cfg, i)) != NULL; i++) {
        if ((first = ausb_interface_altsetting_at(in, 0)) == NULL) continue;
        printf("    Interface #%d\n", first->bInterfaceNumber);
        for (a = 0; (s = ausb_interface_altsetting_at(in, a)) != NULL; a++) {
            printf("      Alternate Setting %d, class %02x %02x %02x\n", s->bAlternateSetting,
                   s->bInterfaceClass, s->bInterfaceSubClass, s->bInterfaceProtocol);
            for (e = 0; (ep = ausb_altsetting_endpoint_at(s, e)) != NULL; e++) print_endpoint(ep, speed);
        }
    }
    r = -1;
    if (ausb_config_verify(cfg) < 0)
        fprintf(stderr, "ausb: configuration %d is malformed: libusb could parse only part of it\n", index);
    else if (ausb_config_raw_check(dev, index) == AUSB_EMALFORMED)   /* unreadable sysfs: the tree's word */
        fprintf(stderr, "ausb: configuration %d is malformed: its descriptors break the rules "
                        "(bLength, wTotalLength or bNumInterfaces)\n", index);
    else
        r = 0;
    ausb_config_free(cfg);
    return r;
}

static int cmd_dev_info(ausb_ctx *ctx, int vid, int pid)
{
    ausb_device dev;
    const ausb_device_desc *d;
    int c, speed, bad = 0;
    int r = ausb_find_id(&dev, ctx, vid, pid);
    if (r < 0) {
        fprintf(stderr, "ausb: device %04x:%04x: %s\n", vid, pid, ausb_strerror(r));
        return 1;
    }
    d = ausb_device_descriptor(&dev);
    speed = ausb_device_speed_kbps(&dev);
    printf("Bus %03d Device %03d: ID %04x:%04x v.%04x usb v.%04x speed %s\n", ausb_device_bus(&dev),
           ausb_device_address(&dev), d->idVendor, d->idProduct, d->bcdDevice, d->bcdUSB, ausb_speed_text(speed));
    printf("  Device classes: %02x %02x %02x\n", d->bDeviceClass, d->bDeviceSubClass, d->bDeviceProtocol);
    printf("  Control Endpoint 00, MPS=%d\n", ausb_device_ep0_max_packet(&dev));
    if (d->bNumConfigurations == 0) {
        fprintf(stderr, "ausb: the device announces no configuration\n");
        bad = 1;
    }
    for (c = 0; c < d->bNumConfigurations; c++)
        if (print_config(&dev, c, speed) < 0) bad = 1;
    ausb_device_release(&dev);
    return bad;
}

/* A USB id: 1 to 4 hex digits and nothing else (no sign, space or 0x). */
static int parse_id(const char *s, int *out)
{
    long v = 0;
    int n;
    for (n = 0; s[n]; n++) {
        int c = s[n], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0 || n >= 4) return -1;
        v = v * 16 + d;
    }
    if (n == 0) return -1;
    *out = (int)v;
    return 0;
}

static int usage(const char *why, const char *arg)
{
    if (why) fprintf(stderr, "ausb: %s: '%s'\n", why, arg);
    fprintf(stderr, "usage: ausb list | ausb dev-info VID PID   (ids in hex, e.g. 04a9 31c0)\n");
    return 2;
}

int main(int argc, char **argv)
{
    ausb_ctx ctx;
    int r, list, vid = 0, pid = 0;
    if (argc < 2) return usage(NULL, NULL);
    list = strcmp(argv[1], "list") == 0;
    if (!list && strcmp(argv[1], "dev-info") != 0) return usage("unknown command", argv[1]);
    if (argc != (list ? 2 : 4)) return usage(NULL, NULL);
    if (!list && parse_id(argv[2], &vid) < 0) return usage("VID is not a hex id of 1 to 4 digits", argv[2]);
    if (!list && parse_id(argv[3], &pid) < 0) return usage("PID is not a hex id of 1 to 4 digits", argv[3]);
    r = ausb_ctx_init(&ctx, NULL);
    if (r < 0) { fprintf(stderr, "ausb: init: %s\n", ausb_strerror(r)); return 1; }
    r = list ? cmd_list(&ctx) : cmd_dev_info(&ctx, vid, pid);
    ausb_ctx_close(&ctx);
    return r;
}
