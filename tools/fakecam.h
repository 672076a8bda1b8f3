/* tools/fakecam.h - the emulated PTP camera of tools/fakecam.c as a device
 * that any program with an umockdev testbed can add (tests/usb_fake.h):
 * fakecam.c runs a command next to one, tests/usb_hostile.c gives its
 * responder hostile descriptor sets.  All functions are static.
 *
 * What the camera answers is tools/ptpcam.h (no transport; tools/ffsdev.c
 * serves the same logic as a real gadget through FunctionFS); this file
 * carries it over umockdev's URBs.  A cam's misbehave mode makes bulk IN
 * hostile (FAKECAM_ZLP, _TRICKLE, _SILENT: see cam_misbehave_in).
 */
#ifndef FAKECAM_H
#define FAKECAM_H

#include "tests/usb_fake.h"
#include "ptpcam.h"

/* Hands queued bytes to the pending bulk IN URBs, oldest first.  A URB
 * ends with a full buffer or with the end of a container; a container of
 * a multiple of 512 bytes ends with a zero length packet, which a URB
 * with room left takes along. */
static void cam_serve(usbf_device *d, cam *c)
{
    cam_xfer *x;
    while ((x = cam_in_front(c)) != NULL) {
        int i;
        usbf_urb u;
        struct usbdevfs_urb *s;
        size_t n, room;
        for (i = 0; i < d->npending && usbf_u(&d->pending[i])->endpoint != 0x81; i++) {}
        if (i == d->npending) return;
        u = d->pending[i];
        s = usbf_u(&u);
        memmove(&d->pending[i], &d->pending[i + 1], (size_t)(d->npending - i - 1) * sizeof(usbf_urb));
        d->npending--;
        room = s->buffer_length > 0 ? (size_t)s->buffer_length : 0;
        n = x->len - x->sent < room ? x->len - x->sent : room;
        usbf_fill_in(&u, c->q + x->off + x->sent, n);
        x->sent += n;
        if (x->sent == x->len && x->zlp && (n < room || n == 0)) x->zlp = 0;
        usbf_push_ready(d, u, 0, (int)n);
        if (x->sent == x->len && !x->zlp) cam_in_pop(c);
    }
}

/* Class requests of the still-image class on ep0; 0 leaves standard ones
 * (descriptors, features) to usb_fake.h. */
static int cam_control(usbf_device *d, usbf_urb *u, cam *c)
{
    struct usbdevfs_urb *s = usbf_u(u);
    unsigned char *b = u->buf ? u->buf->data : NULL;
    unsigned rt, len;
    int r;
    if (!b || s->buffer_length < 8) return 0;
    rt = b[0]; len = b[6] | (b[7] << 8);
    if ((rt & 0x60) == 0) return 0;
    if (len > (unsigned)s->buffer_length - 8) len = (unsigned)s->buffer_length - 8;
    r = cam_class_request(c, rt, b[1], b + 8, len);
    if (r < 0) usbf_push_ready(d, *u, -EPIPE, 0);
    else usbf_push_ready(d, *u, 0, (rt & 0x80) ? r : (int)len);
    return 1;
}

/* A bulk IN URB under --misbehave: 1 when taken.  zlp: it completes at
 * once and empty; silent: it is never answered (only a cancel ends it);
 * trickle: the header of the 1 MiB container, then one zero byte each. */
static int cam_misbehave_in(usbf_device *d, usbf_urb *u, cam *c)
{
    struct usbdevfs_urb *s = usbf_u(u);
    static const unsigned char zero = 0;
    switch (c->misbehave) {
    case FAKECAM_ZLP:
        usbf_push_ready(d, *u, 0, 0);
        return 1;
    case FAKECAM_SILENT:
        d->pending[d->npending++] = *u;
        return 1;
    case FAKECAM_TRICKLE:
        if (c->trickle_left <= 0 || s->buffer_length < 12) { d->pending[d->npending++] = *u; return 1; }
        if (c->trickle_left == 12 + (long)CAM_MIB) {
            usbf_fill_in(u, c->trickle_hdr, 12);
            c->trickle_left -= 12;
            usbf_push_ready(d, *u, 0, 12);
        } else {
            usbf_fill_in(u, &zero, 1);
            c->trickle_left--;
            usbf_push_ready(d, *u, 0, 1);
        }
        return 1;
    default:
        return 0;
    }
}

/* Sees every URB submitted to the camera (under the device lock). */
static int cam_submit(usbf_device *d, usbf_urb *u)
{
    cam *c = (cam *)d->user;
    struct usbdevfs_urb *s = usbf_u(u);
    if (s->type == USBDEVFS_URB_TYPE_CONTROL) return cam_control(d, u, c);
    switch (s->endpoint) {
    case 0x02:
        if (u->buf && s->buffer_length > 0) cam_bulk_out(c, u->buf->data, (size_t)s->buffer_length);
        usbf_push_ready(d, *u, 0, s->buffer_length);
        cam_serve(d, c);
        return 1;
    case 0x81:
        if (cam_misbehave_in(d, u, c)) return 1;
        d->pending[d->npending++] = *u;
        cam_serve(d, c);
        return 1;
    case 0x83:                                              /* events: none, ever */
        d->pending[d->npending++] = *u;
        return 1;
    default:
        usbf_push_ready(d, *u, -EPIPE, 0);
        return 1;
    }
}

/* Makes d the camera (its strings and responder, with state c) without
 * touching its descriptors; usbf_add it afterwards. */
G_GNUC_UNUSED static void fakecam_attach(usbf_device *d, cam *c)
{
    memcpy(d->strings, cam_strings, sizeof cam_strings);
    d->on_submit = cam_submit;
    d->user = c;
}

/* The camera with its own descriptors, added to the testbed. */
G_GNUC_UNUSED static void fakecam_add(usbf_device *d, cam *c, const char *devpath, int bus, int addr)
{
    fakecam_attach(d, c);
    d->desc_len = fakecam_descriptors(d->desc);
    usbf_add(d, devpath, bus, addr, 480);
}

#endif
