/* examples/ausb.c - list USB devices and print a device's descriptor tree.
 *
 *   cc -std=c99 -O2 -I. -o build/ausb examples/ausb.c $(pkg-config --cflags --libs libusb-1.0)
 *
 *   build/ausb list             one line per device, strings when it gives them
 *   build/ausb dev-info VID PID descriptor tree (ids in hex)
 *
 * The strings of every device are read at the same time, with async control
 * transfers driven by the context's own loop (ausb_run).
 */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"

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

static void on_string(ausb_string_req *req, int status, const char *utf8, void *user)
{
    char *dst = (char *)user;
    (void)req;
    if (status == 0 && utf8) snprintf(dst, 384, "%s", utf8);
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
    int i, k, n = ausb_devices(ctx, &list);
    if (n < 0) { fprintf(stderr, "ausb: %s\n", ausb_strerror(n)); return 1; }
    e = (entry *)calloc((size_t)(n ? n : 1), sizeof *e);
    order = (entry **)calloc((size_t)(n ? n : 1), sizeof *order);
    if (!e || !order) { free(e); free(order); ausb_devices_free(&list); return 1; }
    for (i = 0; i < n; i++) {
        const ausb_device_desc *d = ausb_device_descriptor(&list.items[i]);
        const int index[2] = {d->iManufacturer, d->iProduct};
        e[i].dev = &list.items[i];
        order[i] = &e[i];
        if (!index[0] && !index[1]) continue;
        if (ausb_open(e[i].dev, &e[i].handle) < 0) continue;   /* no access: ids only */
        e[i].open = 1;
        for (k = 0; k < 2; k++)
            if (index[k]) (void)ausb_read_string(&e[i].handle, &e[i].req[k], index[k], 1000, on_string, e[i].text[k]);
    }
    ausb_run(ctx);
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
    return 0;
}

static void print_endpoint(const ausb_endpoint_desc *ep, int speed)
{
    int mult = ausb_ep_multiplier(ep, speed);
    printf("        %s %s Endpoint %02x, MPS=%d", ausb_ep_type_name(ausb_ep_type(ep)), ausb_ep_is_in(ep) ? "In" : "Out",
           ep->bEndpointAddress, ausb_ep_packet_size(ep));
    if (mult > 1) printf("x%d", mult);
    printf(", interval=%d\n", ep->bInterval);
}

static int cmd_dev_info(ausb_ctx *ctx, const char *vid_text, const char *pid_text)
{
    ausb_device dev;
    const ausb_device_desc *d;
    int c, i, a, e, speed;
    long vid = strtol(vid_text, NULL, 16), pid = strtol(pid_text, NULL, 16);
    int r = ausb_find_id(ctx, (int)vid, (int)pid, &dev);
    if (r < 0) {
        fprintf(stderr, "ausb: device %04lx:%04lx: %s\n", vid, pid, ausb_strerror(r));
        return 1;
    }
    d = ausb_device_descriptor(&dev);
    speed = ausb_device_speed_kbps(&dev);
    printf("Bus %03d Device %03d: ID %04x:%04x v.%04x usb v.%04x speed %s\n", ausb_device_bus(&dev),
           ausb_device_address(&dev), d->idVendor, d->idProduct, d->bcdDevice, d->bcdUSB, ausb_speed_text(speed));
    printf("  Device classes: %02x %02x %02x\n", d->bDeviceClass, d->bDeviceSubClass, d->bDeviceProtocol);
    printf("  Control Endpoint 00, MPS=%d\n", ausb_device_ep0_max_packet(&dev));
    for (c = 0; c < d->bNumConfigurations; c++) {
        ausb_config_desc *cfg;
        if (ausb_config_get(&dev, c, &cfg) < 0) {
            fprintf(stderr, "ausb: configuration %d unreadable\n", c);
            continue;
        }
        printf("  Configuration #%d\n", cfg->bConfigurationValue);
        for (i = 0; i < cfg->bNumInterfaces; i++) {
            const ausb_interface *in = &cfg->interface[i];
            if (in->num_altsetting < 1) continue;
            printf("    Interface #%d\n", in->altsetting[0].bInterfaceNumber);
            for (a = 0; a < in->num_altsetting; a++) {
                const ausb_altsetting *s = &in->altsetting[a];
                printf("      Alternate Setting %d, class %02x %02x %02x\n", s->bAlternateSetting,
                       s->bInterfaceClass, s->bInterfaceSubClass, s->bInterfaceProtocol);
                for (e = 0; e < s->bNumEndpoints; e++) print_endpoint(&s->endpoint[e], speed);
            }
        }
        ausb_config_free(cfg);
    }
    ausb_device_release(&dev);
    return 0;
}

int main(int argc, char **argv)
{
    ausb_ctx ctx;
    int r;
    if (argc < 2 || (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "dev-info") != 0) ||
        (strcmp(argv[1], "dev-info") == 0 && argc != 4)) {
        fprintf(stderr, "usage: ausb list | ausb dev-info VID PID\n");
        return 2;
    }
    r = ausb_init(&ctx, NULL);
    if (r < 0) { fprintf(stderr, "ausb: init: %s\n", ausb_strerror(r)); return 1; }
    r = strcmp(argv[1], "list") == 0 ? cmd_list(&ctx) : cmd_dev_info(&ctx, argv[2], argv[3]);
    ausb_exit(&ctx);
    return r;
}
