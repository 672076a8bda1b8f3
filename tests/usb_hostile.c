/* tests/usb_hostile.c - hostile descriptor sets through the real libusb,
 * then through asyncusb.h's accessors and the two CLI examples.
 *
 * Run under umockdev-wrapper.  The descriptor sets start from those of the
 * project's own emulated devices (tools/fakecam.h's camera, the devices of
 * tests/usb_fake.h) and, when ../shared/recordings is there, of every
 * device of the recorded Canon camera's bus (skipped and named when not).
 * From each configuration of each they derive:
 *   - every truncation point (the configuration cut at each byte, the rest
 *     of the set after it);
 *   - at every descriptor, bLength 0, 1, 255 and one past the end;
 *   - wTotalLength lies both ways: 0, 9, one less, one more, 0xffff, and
 *     the length of the configuration without its last descriptor;
 *   - bNumInterfaces 0 and 255, bNumEndpoints 0 and 255 at every interface;
 * and, on the device's strings (what `ausb list` prints): descriptors of
 * zero and odd length, lengths that lie, a wrong type, empty and odd
 * language lists, terminal escapes, C1 controls, bad surrogates.
 *
 * Each set becomes a fake device in the testbed (16 per round, each with
 * its own product id), so libusb 1.0.26 reads and parses it as it would a
 * real one.  Then:
 *   - in this process (every build): every configuration through
 *     ausb_config_get and each accessor of the tree, the class filter, the
 *     IADs, ausb_config_verify and ausb_config_raw_check.  Each set gets a
 *     verdict: absent (libusb refused the device), unreadable, malformed,
 *     or clean; every mutated set must be one of the first three (its
 *     strings aside), every original set clean;
 *   - `ausb dev-info VID PID` on every set, `ptp_info VID:PID` on every set
 *     derived from a camera (whose PTP responder answers), `ausb list` and
 *     a bare `ptp_info` (which picks the first camera-class device itself,
 *     so it walks every device's configurations) once per round.  No
 *     signal, no sanitizer or valgrind report, no hang (20 s, 180 s under
 *     valgrind); dev-info exits 1 with an "ausb:" line exactly when the
 *     verdict is not clean; ptp_info exits 0 with the camera's model or 1
 *     with a "ptp_info:" line; list exits 0 and prints no control
 *     character.
 *
 * Environment (tests/parts/asyncusb.sh sets it per build):
 *   AU_HOSTILE_AUSB, AU_HOSTILE_PTP   the CLI builds to run (none: no CLI)
 *   AU_HOSTILE_RUNNER                 a command prefix for them, words
 *                                     separated by colons (valgrind)
 *   AU_HOSTILE_CLI                    "all" sets, or "sample": a fixed few
 *   AU_HOSTILE_EVERY                  in-process: every Nth set (default 1)
 *   AU_RECORDINGS                     the recordings (../shared/recordings)
 * The named tests before the sweep run the CLIs on the defects it is
 * about (an endpoint that runs past the end, an unreadable configuration,
 * a product name of escape sequences, a lie that only the raw bytes show)
 * whenever CLI builds are given.
 *
 * Left out, and counted: sets that would hang libusb 1.0.26 itself (see
 * hangs_libusb).  libusb's parser also leaks on some sets; the leak
 * suppressions say how narrowly each build names that leak.
 */
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "tests/harness.h"
#include "tools/fakecam.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_SETS = 2048, ROUND = 16, HVID = 0xf00d, BLOB_MAX = 1024, OUT_MAX = 65536 };

/* String mutations (what the device answers to GET_DESCRIPTOR(string)). */
enum {
    STR_NONE, STR_EMPTY, STR_ZERO_BLENGTH, STR_ODD, STR_ONE, STR_LONGER, STR_WRONG_TYPE,
    STR_NO_LANGS, STR_ODD_LANGS, STR_ESCAPES, STR_C1_AND_SURROGATES, STR_COUNT
};

typedef struct hset {
    char name[96];
    unsigned char blob[BLOB_MAX];
    size_t len;
    int speed;          /* Mbit/s for usbf_add */
    int camera;         /* the fake camera's PTP responder answers it */
    int mutated;        /* 0: an original set, which must come out clean */
    int strings;        /* STR_* */
    int pid;            /* its product id in the testbed */
    int verdict;        /* V_*, from the in-process pass */
} hset;

/* V_DISAGREE: an accessor contradicts the walk (never expected). */
enum { V_DISAGREE, V_ABSENT, V_UNREADABLE, V_MALFORMED, V_CLEAN };
static const char *const verdict_names[] = {"contradictory", "absent", "unreadable", "malformed", "clean"};
static const char *const string_names[STR_COUNT] = {
    "", "no bytes", "bLength 0", "odd length", "bLength 1", "bLength past the data", "wrong type",
    "no language", "odd language list", "terminal escapes", "C1 controls and bad surrogates",
};

/* The device behind one set: the camera state first, so that the
 * camera's responder (which takes d->user as a cam) finds it. */
typedef struct hdev {
    cam c;
    int camera, strings;
} hdev;

static hset sets[MAX_SETS];
static int nsets;
static usbf_device root, slot[ROUND];
static hdev slot_state[ROUND];
static int slot_speed[ROUND];
static int counts[5], cli_runs;

/* ---- building the sets ---- */

static hset *add_set(const char *name, const unsigned char *blob, size_t len, int speed, int camera, int mutated)
{
    hset *s;
    if (nsets >= MAX_SETS || len > BLOB_MAX) return NULL;
    s = &sets[nsets++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    memcpy(s->blob, blob, len);
    s->len = len;
    s->speed = speed;
    s->camera = camera;
    s->mutated = mutated;
    s->pid = nsets - 1;
    return s;
}

/* Offsets of the configurations of a well-formed set (after the 18-byte
 * device descriptor, wTotalLength apart). */
static int config_offsets(const unsigned char *b, size_t len, size_t *off, int cap)
{
    size_t o = 18;
    int n = 0;
    while (o + 4 <= len && n < cap) {
        size_t tl = b[o + 2] | (b[o + 3] << 8);
        if (tl < 9 || o + tl > len) break;
        off[n++] = o;
        o += tl;
    }
    return n;
}

/* libusb 1.0.26 splits sysfs at the next configuration descriptor by
 * walking bLength, and a zero bLength before it makes that walk loop for
 * ever inside libusb_init (fixed in 1.0.27), in every program that
 * enumerates.  Linux stops a configuration at an invalid bLength when it
 * reads it from the device, so only an emulated sysfs shows libusb one;
 * those sets are left out, and counted. */
static int hangs_libusb(const unsigned char *b, size_t len)
{
    size_t off = 18, at;
    int k, n = len >= 18 ? b[17] : 0;
    for (k = 0; k < n - 1; k++) {
        if (off + 9 > len || b[off + 1] != AUSB_DT_CONFIG || b[off] < 9 || (b[off + 2] | b[off + 3] << 8) < 9) return 0;
        for (at = off + 9; at < len; at += b[at]) {
            if (len - at < 2 || b[at] > len - at) return 0;   /* libusb gives up: no hang */
            if (b[at + 1] == AUSB_DT_CONFIG) break;
            if (b[at] == 0) return 1;
        }
        if (at >= len) return 0;
        off = at;
    }
    return 0;
}

static int skipped_hangs;

/* The set with config [co, co+clen) replaced by `cfg` of length n. */
static void add_variant(const hset *base, size_t co, size_t clen, const unsigned char *cfg, size_t n, const char *what)
{
    unsigned char b[BLOB_MAX];
    char name[96];
    size_t tail = base->len - co - clen;
    if (co + n + tail > sizeof b) return;
    memcpy(b, base->blob, co);
    memcpy(b + co, cfg, n);
    memcpy(b + co + n, base->blob + co + clen, tail);
    if (hangs_libusb(b, co + n + tail)) { skipped_hangs++; return; }
    snprintf(name, sizeof name, "%.30s: %.60s", base->name, what);
    (void)add_set(name, b, co + n + tail, base->speed, base->camera, 1);
}

static void put_le16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }

/* Every mutation of configuration k of base (see the top comment). */
static void mutate_config(const hset *base, int k, size_t co)
{
    const unsigned char *c = base->blob + co;
    size_t clen = c[2] | (c[3] << 8), d, cut, last = 9;
    unsigned char m[BLOB_MAX];
    char what[64];
    size_t lies[6];
    int i;
    for (cut = 0; cut < clen; cut++) {
        snprintf(what, sizeof what, "config %d cut at %zu", k, cut);
        add_variant(base, co, clen, c, cut, what);
    }
    for (d = 9; d + 2 <= clen; d += c[d] >= 2 ? c[d] : clen) {
        const unsigned bl[4] = {0, 1, 255, (unsigned)(clen - d + 1)};
        last = d;
        for (i = 0; i < 4; i++) {
            if (bl[i] == c[d] || (i == 3 && bl[3] == 255) || bl[i] > 255) continue;
            memcpy(m, c, clen);
            m[d] = (unsigned char)bl[i];
            snprintf(what, sizeof what, "config %d type 0x%02x at %zu bLength %u", k, c[d + 1], d, bl[i]);
            add_variant(base, co, clen, m, clen, what);
        }
        if (c[d + 1] == AUSB_DT_INTERFACE) {
            for (i = 0; i < 2; i++) {
                memcpy(m, c, clen);
                m[d + 4] = (unsigned char)(i ? 255 : 0);
                snprintf(what, sizeof what, "config %d interface at %zu bNumEndpoints %d", k, d, i ? 255 : 0);
                if (m[d + 4] != c[d + 4]) add_variant(base, co, clen, m, clen, what);
            }
        }
    }
    lies[0] = 0; lies[1] = 9; lies[2] = clen - 1; lies[3] = clen + 1; lies[4] = 0xffff; lies[5] = last;
    for (i = 0; i < 6; i++) {
        if (lies[i] == clen) continue;
        memcpy(m, c, clen);
        put_le16(m + 2, (unsigned)lies[i]);
        snprintf(what, sizeof what, "config %d wTotalLength %zu of %zu", k, lies[i], clen);
        add_variant(base, co, clen, m, clen, what);
    }
    for (i = 0; i < 2; i++) {
        memcpy(m, c, clen);
        m[4] = (unsigned char)(i ? 255 : 0);
        snprintf(what, sizeof what, "config %d bNumInterfaces %d", k, i ? 255 : 0);
        if (m[4] != c[4]) add_variant(base, co, clen, m, clen, what);
    }
}

static void add_base(const char *name, const unsigned char *blob, size_t len, int speed, int camera)
{
    size_t off[8];
    int k, n, first = nsets;
    const hset *b;
    if (!add_set(name, blob, len, speed, camera, 0)) return;
    b = &sets[first];
    n = config_offsets(b->blob, b->len, off, 8);
    for (k = 0; k < n; k++) mutate_config(b, k, off[k]);
}

static void add_string_sets(void)
{
    unsigned char b[BLOB_MAX];
    size_t n = usbf_std_descriptors(b, 0x1234, 0x0001);
    int k;
    for (k = STR_EMPTY; k < STR_COUNT; k++) {
        char name[64];
        hset *s;
        snprintf(name, sizeof name, "strings: %s", string_names[k]);
        if ((s = add_set(name, b, n, 480, 0, 1)) != NULL) s->strings = k;
    }
}

/* The device sets of the recorded bus: each "H: descriptors=" of a
 * usb_device; 0 when the recording is absent. */
static int add_recorded_sets(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[8192], product[64] = "";
    int found = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "E: PRODUCT=", 11) == 0) {
            snprintf(product, sizeof product, "%.60s", line + 11);
            product[strcspn(product, "\n")] = 0;
        }
        if (strncmp(line, "H: descriptors=", 15) == 0) {
            unsigned char b[BLOB_MAX];
            size_t n = 0;
            const char *h = line + 15;
            char name[96];
            unsigned v;
            while (n < sizeof b && sscanf(h, "%2x", &v) == 1) { b[n++] = (unsigned char)v; h += 2; }
            snprintf(name, sizeof name, "recorded %s", product);
            add_base(name, b, n, 480, strncmp(product, "4a9/31c0", 8) == 0);
            found++;
        }
    }
    fclose(f);
    return found;
}

static void build_sets(void)
{
    unsigned char b[BLOB_MAX];
    char rec[512];
    const char *dir = getenv("AU_RECORDINGS");
    add_base("fakecam", b, fakecam_descriptors(b), 480, 1);
    add_base("std", b, usbf_std_descriptors(b, 0x1234, 0x0001), 480, 0);
    add_base("composite", b, usbf_unusual_descriptors(b), 480, 0);
    add_base("superspeed", b, usbf_superspeed_descriptors(b), 5000, 0);
    add_base("lowspeed", b, usbf_lowspeed_descriptors(b), 1, 0);
    add_base("hub", b, usbf_hub_descriptors(b), 480, 0);
    add_string_sets();
    snprintf(rec, sizeof rec, "%s/canon-powershot-sx200/canon-powershot-sx200.umockdev", dir ? dir : "../shared/recordings");
    if (!add_recorded_sets(rec)) printf("SKIP usb_hostile: the recorded bus's descriptor sets: %s absent\n", rec);
}

/* ---- the fake devices of one round ---- */

static size_t string_answer(int mode, int index, unsigned char *o)
{
    static const char esc[] = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred";
    size_t n = 0, i;
    if (index == 0) {
        if (mode == STR_NO_LANGS) { o[0] = 2; o[1] = 3; return 2; }
        if (mode == STR_ODD_LANGS) { o[0] = 3; o[1] = 3; o[2] = 0x09; return 3; }
        o[0] = 4; o[1] = 3; o[2] = 0x09; o[3] = 0x04;
        return 4;
    }
    switch (mode) {
    case STR_EMPTY: return 0;
    case STR_ZERO_BLENGTH: o[0] = 0; o[1] = 3; o[2] = 'A'; o[3] = 0; return 4;
    case STR_ODD: o[0] = 5; o[1] = 3; o[2] = 'A'; o[3] = 0; o[4] = 'B'; return 5;
    case STR_ONE: o[0] = 1; return 1;
    case STR_LONGER: o[0] = 200; o[1] = 3; o[2] = 'A'; o[3] = 0; return 4;
    case STR_WRONG_TYPE: o[0] = 4; o[1] = 2; o[2] = 'A'; o[3] = 0; return 4;
    case STR_ESCAPES:
        for (i = 0; esc[i]; i++) { o[2 + 2 * i] = (unsigned char)esc[i]; o[3 + 2 * i] = 0; }
        n = 2 + 2 * i;
        break;
    case STR_C1_AND_SURROGATES: {
        static const unsigned short u[] = {'a', 0x9b, '2', 'J', 0xd800, 'b', 0xdc00, 0x85, 0x7f, 0};
        for (i = 0; i < sizeof u / sizeof u[0]; i++) put_le16(o + 2 + 2 * i, u[i]);
        n = 2 + 2 * i;
        break;
    }
    default:
        return 0;
    }
    o[0] = (unsigned char)n;
    o[1] = 3;
    return n;
}

/* GET_DESCRIPTOR(string) for a set with a string mutation; everything
 * else to the camera's responder or to usb_fake.h. */
static int hostile_submit(usbf_device *d, usbf_urb *u)
{
    hdev *h = (hdev *)d->user;
    struct usbdevfs_urb *s = usbf_u(u);
    unsigned char *b = u->buf ? u->buf->data : NULL;
    if (h->strings && s->type == USBDEVFS_URB_TYPE_CONTROL && b && s->buffer_length >= 8 && b[0] == 0x80 &&
        b[1] == 0x06 && b[3] == AUSB_DT_STRING) {
        unsigned char o[256];
        unsigned want = b[6] | (b[7] << 8);
        size_t n = string_answer(h->strings, b[2], o);
        if (n > want) n = want;
        if (n > (size_t)s->buffer_length - 8) n = (size_t)s->buffer_length - 8;
        memcpy(b + 8, o, n);
        usbf_push_ready(d, *u, 0, (int)n);
        return 1;
    }
    return h->camera ? cam_submit(d, u) : 0;
}

/* The round's devices stay in the testbed (adding and removing a device
 * costs umockdev some 30 ms); each round gives them new descriptors,
 * strings, speed and behaviour.  A slot without a set of its own holds a
 * plain hub. */
static void load_slot(int i, const hset *s)
{
    static const hset idle = {"idle", {0}, 0, 480, 0, 0, 0, 0xfffe, 0};
    usbf_device *d = &slot[i];
    hdev *h = &slot_state[i];
    char path[64], speed[16];
    if (!s) s = &idle;
    snprintf(path, sizeof path, "/devices/fake/usb1/1-%d", i + 1);
    snprintf(speed, sizeof speed, "%s", s->speed == 1 ? "1.5" : s->speed == 5000 ? "5000" : "480");
    if (d->syspath) pthread_mutex_lock(&d->lock);
    memset(h, 0, sizeof *h);
    h->camera = s->camera;
    h->strings = s->strings;
    if (s->len) memcpy(d->desc, s->blob, s->len);
    d->desc_len = s->len ? s->len : usbf_hub_descriptors(d->desc);
    put_le16(d->desc + 8, HVID);
    put_le16(d->desc + 10, (unsigned)s->pid);
    d->strings[1] = "Hostile Inc";
    d->strings[2] = "Set";
    d->on_submit = hostile_submit;
    d->user = h;
    if (!d->syspath) { usbf_add(d, path, 1, i + 2, s->speed); slot_speed[i] = s->speed; return; }
    pthread_mutex_unlock(&d->lock);
    umockdev_testbed_set_attribute_binary(usbf_testbed, d->syspath, "descriptors", d->desc, (int)d->desc_len);
    if (slot_speed[i] != s->speed) umockdev_testbed_set_attribute(usbf_testbed, d->syspath, "speed", speed);
    slot_speed[i] = s->speed;
}

static void load_round(hset **round, int n)
{
    int i;
    for (i = 0; i < ROUND; i++) load_slot(i, i < n ? round[i] : NULL);
}

/* ---- the in-process pass ---- */

/* Every accessor on one configuration; its verdict (V_*). */
static int walk_config(const ausb_device *dev, int index, int speed, int *camera_class)
{
    ausb_config_desc *cfg;
    const ausb_interface *in;
    const ausb_altsetting *s;
    const ausb_endpoint_desc *ep;
    ausb_iad iads[4];
    int i, a, e, r = ausb_config_get(&cfg, dev, index);
    if (r < 0) return V_UNREADABLE;
    for (i = 0; (in = ausb_config_interface_at(cfg, i)) != NULL; i++) {
        for (a = 0; (s = ausb_interface_altsetting_at(in, a)) != NULL; a++) {
            if (s->bInterfaceClass == 6 && s->bInterfaceSubClass == 1 && s->bInterfaceProtocol == 1) *camera_class = 1;
            if (a == 0 && ausb_config_interface(cfg, s->bInterfaceNumber) == NULL) r = -1;
            if (ausb_interface_altsetting(in, s->bAlternateSetting) == NULL) r = -1;
            for (e = 0; (ep = ausb_altsetting_endpoint_at(s, e)) != NULL; e++) {
                if (ausb_altsetting_endpoint(s, ep->bEndpointAddress) == NULL) r = -1;
                (void)ausb_ep_max_packet(ep, speed);
                (void)ausb_ep_interval_us(ep, speed);
            }
            if (e > s->bNumEndpoints) r = -1;
        }
    }
    (void)ausb_config_iads(cfg, iads, 4);
    if (r == 0) r = ausb_config_verify(cfg) == 0 ? V_CLEAN : V_MALFORMED;
    else r = V_DISAGREE;
    ausb_config_free(cfg);
    return r;
}

static int speed_kbps(int mbps) { return mbps == 1 ? 1500 : mbps * 1000; }

/* The verdict of the device at `addr` of the round. */
static int device_verdict(const ausb_device_list *l, int addr, const hset *s)
{
    ausb_filter f;
    ausb_config_desc *active;
    int i, c, v = V_CLEAN, w, camera_class = 0;
    for (i = 0; i < l->count; i++)
        if (ausb_device_bus(&l->items[i]) == 1 && ausb_device_address(&l->items[i]) == addr) break;
    if (i == l->count) return V_ABSENT;
    if (l->items[i].desc.bNumConfigurations == 0) v = V_UNREADABLE;
    for (c = 0; c < l->items[i].desc.bNumConfigurations; c++) {
        w = walk_config(&l->items[i], c, speed_kbps(s->speed), &camera_class);
        if (w == V_DISAGREE) return V_DISAGREE;
        if (w < v) v = w;
    }
    for (c = 0; v == V_CLEAN && c < l->items[i].desc.bNumConfigurations; c++) {
        int r = ausb_config_raw_check(&l->items[i], c);
        if (r == AUSB_EMALFORMED) v = V_MALFORMED;
        else if (r < 0) return V_DISAGREE;   /* the testbed's sysfs is there to read */
    }
    if (ausb_config_active(&active, &l->items[i]) == 0) ausb_config_free(active);
    ausb_filter_init(&f);
    f.cls = 6;
    f.subclass = 1;
    f.protocol = 1;
    if (ausb_device_matches(&l->items[i], &f) != camera_class) return V_DISAGREE;
    return v;
}

/* Plugs the round in, gives each set its verdict; 0 or -1 (said). */
static int judge_round(hset **round, int n)
{
    ausb_ctx ctx;
    ausb_device_list l;
    ausb_filter f;
    ausb_device any;
    int i, bad = 0;
    if (ausb_ctx_init(&ctx, NULL) < 0) return -1;
    if (ausb_devices(&l, &ctx) < 0) { ausb_ctx_close(&ctx); return -1; }
    for (i = 0; i < n; i++) {
        hset *s = round[i];
        s->verdict = device_verdict(&l, i + 2, s);
        counts[s->verdict]++;
        if (s->verdict == V_DISAGREE) { printf("%s: an accessor disagrees with the walk\n", s->name); bad = -1; }
        if (s->mutated && s->verdict == V_CLEAN && !s->strings) { printf("%s: libusb kept it all, nobody noticed\n", s->name); bad = -1; }
        if (!s->mutated && s->verdict != V_CLEAN) { printf("%s: an original set is %s\n", s->name, verdict_names[s->verdict]); bad = -1; }
    }
    ausb_devices_free(&l);
    ausb_filter_init(&f);   /* the first camera among them, as ptp_info looks for it */
    f.cls = 6;
    f.subclass = 1;
    f.protocol = 1;
    if (ausb_find(&any, &ctx, &f) == 0) ausb_device_release(&any);
    ausb_ctx_close(&ctx);
    return bad;
}

/* ---- running the CLIs ---- */

typedef struct run {
    int status;           /* exit status, or 128+signal, or -1 for a hang */
    char out[OUT_MAX], err[OUT_MAX];
} run;

static run cli;

static void read_back(int fd, char *buf)
{
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, OUT_MAX - 1);
    buf[n > 0 ? n : 0] = 0;
}

/* Runs argv (after AU_HOSTILE_RUNNER's words) with a deadline; fills cli. */
static void run_cli(char **argv)
{
    static int fd_out = -1, fd_err = -1;
    char *args[32], runner[256];
    const char *r = getenv("AU_HOSTILE_RUNNER");
    int k = 0, status, limit_ms = r && *r ? 180000 : 20000, waited = 0;
    pid_t pid;
    if (fd_out < 0) {
        char p1[] = "/tmp/usb_hostile_outXXXXXX", p2[] = "/tmp/usb_hostile_errXXXXXX";
        fd_out = mkstemp(p1);
        fd_err = mkstemp(p2);
        unlink(p1);
        unlink(p2);
    }
    /* empty, and written from the start: the child shares the offset */
    if (ftruncate(fd_out, 0) < 0 || ftruncate(fd_err, 0) < 0) { cli.status = -2; return; }
    lseek(fd_out, 0, SEEK_SET);
    lseek(fd_err, 0, SEEK_SET);
    snprintf(runner, sizeof runner, "%s", r ? r : "");
    for (char *w = strtok(runner, ":"); w && k < 24; w = strtok(NULL, ":")) args[k++] = w;
    while (*argv && k < 31) args[k++] = *argv++;
    args[k] = NULL;
    cli_runs++;
    fflush(NULL);
    if ((pid = fork()) == 0) {
        dup2(fd_out, 1);
        dup2(fd_err, 2);
        setenv("ASAN_OPTIONS", "exitcode=86:verify_asan_link_order=0", 1);
        setenv("LSAN_OPTIONS", "suppressions=tests/usb_lsan.supp:print_suppressions=0", 1);
        setenv("UBSAN_OPTIONS", "exitcode=86:print_stacktrace=1", 1);
        execvp(args[0], args);
        _exit(127);
    }
    while (waitpid(pid, &status, WNOHANG) == 0) {
        struct timespec ts = {0, 2000000};
        if ((waited += 2) > limit_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            cli.status = -1;
            read_back(fd_out, cli.out);
            read_back(fd_err, cli.err);
            return;
        }
        nanosleep(&ts, NULL);
    }
    cli.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    read_back(fd_out, cli.out);
    read_back(fd_err, cli.err);
}

/* No crash, hang or report of a sanitizer or valgrind; 0 or -1 (said).
 * libusb 1.0.26's parser leaks on some of these sets: tests/usb_lsan.supp
 * and tests/usb_valgrind.supp say which leak and how narrowly each names
 * it. */
static int survived(const char *what)
{
    if (cli.status >= 0 && cli.status != 86 && cli.status != 99 && cli.status < 128 && cli.status != 127 &&
        !strstr(cli.err, "Sanitizer:") && !strstr(cli.err, "runtime error") && !strstr(cli.err, "== Invalid") &&
        !strstr(cli.err, "definitely lost") && !strstr(cli.err, "indirectly lost"))
        return 0;
    printf("%s: %s (status %d)\n%.600s\n", what, cli.status == -1 ? "hangs" : "crashes or is reported", cli.status, cli.err);
    return -1;
}

/* Every line of stderr is the program's own message. */
static int says(const char *prefix)
{
    const char *p = cli.err;
    size_t n = strlen(prefix);
    if (!*p) return 0;
    for (; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
        if (strncmp(p, prefix, n) != 0) return 0;
    return 1;
}

/* Nothing but printable text and newlines reached stdout. */
static int printable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (; *p; p++) {
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f) return 0;
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) return 0;
    }
    return 1;
}

static int dev_info_checks(const hset *s)
{
    char ids[2][8], what[160];
    char *argv[] = {(char *)getenv("AU_HOSTILE_AUSB"), (char *)"dev-info", ids[0], ids[1], NULL};
    int want = s->verdict == V_CLEAN ? 0 : 1;
    snprintf(ids[0], sizeof ids[0], "%04x", HVID);
    snprintf(ids[1], sizeof ids[1], "%04x", s->pid);
    snprintf(what, sizeof what, "ausb dev-info on %s", s->name);
    run_cli(argv);
    if (survived(what) < 0) return -1;
    if (cli.status != want) {
        printf("%s: exit %d for a %s set (want %d)\n%.400s\n", what, cli.status, verdict_names[s->verdict], want, cli.err);
        return -1;
    }
    if (want ? !says("ausb: ") : strncmp(cli.out, "Bus 001 Device", 14) != 0) {
        printf("%s: exit %d without its message\n%.400s%.400s\n", what, cli.status, cli.out, cli.err);
        return -1;
    }
    return 0;
}

/* ptp_info on one set (VID:PID, with a deadline of 10 s) or, with
 * pid < 0, bare, on whatever it picks (as a user runs it). */
static int ptp_info_checks(const char *name, int pid)
{
    char ids[16], what[160];
    char *argv[] = {(char *)getenv("AU_HOSTILE_PTP"), (char *)"--timeout", (char *)"10", ids, NULL};
    snprintf(ids, sizeof ids, "%04x:%04x", HVID, pid);
    if (pid < 0) argv[1] = NULL;
    snprintf(what, sizeof what, "ptp_info on %s", name);
    run_cli(argv);
    if (survived(what) < 0) return -1;
    if (cli.status == 0 ? !strstr(cli.out, "\nModel: AsyncKit Demo Camera\n") || !printable(cli.out)
                        : cli.status != 1 || !says("ptp_info: ")) {
        printf("%s: exit %d, not its message or output\n%.400s%.400s\n", what, cli.status, cli.out, cli.err);
        return -1;
    }
    return 0;
}

static int list_checks(const hset *s)
{
    char *argv[] = {(char *)getenv("AU_HOSTILE_AUSB"), (char *)"list", NULL};
    char what[160];
    snprintf(what, sizeof what, "ausb list on the round of %s", s->name);
    run_cli(argv);
    if (survived(what) < 0) return -1;
    if (cli.status != 0 || !printable(cli.out) || !strstr(cli.out, "ID f00d:")) {
        printf("%s: exit %d, or a control character reached the terminal\n%.600s\n", what, cli.status, cli.out);
        return -1;
    }
    return 0;
}

/* The fixed few sets the valgrind build runs the CLIs on. */
static const char *const picks[] = {
    "fakecam: config 0 type 0x05 at 18 bLength 255", "fakecam: config 0 cut at 30",
    "fakecam: config 0 wTotalLength 65535 of 39", "composite: config 1 bNumInterfaces 255",
    "strings: terminal escapes", "fakecam",
};
enum { NPICKS = sizeof picks / sizeof picks[0] };

static int in_cli_sample(const hset *s)
{
    int i;
    for (i = 0; i < NPICKS; i++)
        if (strcmp(s->name, picks[i]) == 0) return 1;
    return 0;
}

static int cli_round(hset **round, int n, int sample)
{
    int i, bad = 0, any = 0;
    for (i = 0; i < n; i++) {
        const hset *s = round[i];
        if (sample && !in_cli_sample(s)) continue;
        any = 1;
        if (s->verdict == V_ABSENT) continue;   /* libusb shows it to no program */
        if (dev_info_checks(s) < 0) bad = -1;
        if (s->camera && ptp_info_checks(s->name, s->pid) < 0) bad = -1;
    }
    if (!any) return bad;
    if (list_checks(round[0]) < 0) bad = -1;
    if (ptp_info_checks("the first camera of the round", -1) < 0) bad = -1;
    return bad;
}

/* ---- the sweep ---- */

static int have_clis(void) { return getenv("AU_HOSTILE_AUSB") && getenv("AU_HOSTILE_PTP"); }

/* The sweep's CLI runs: 0 none, 1 the fixed sample, 2 every set. */
static int cli_mode(void)
{
    const char *m = getenv("AU_HOSTILE_CLI");
    if (!have_clis() || !m) return 0;
    return strcmp(m, "all") == 0 ? 2 : strcmp(m, "sample") == 0 ? 1 : 0;
}

static void test_hostile_sets_through_libusb_the_accessors_and_the_clis(void)
{
    const char *e = getenv("AU_HOSTILE_EVERY");
    int every = e ? atoi(e) : 1, mode = cli_mode(), i, n = 0, bad = 0, tried = 0, sampled = 0;
    hset *round[ROUND];
    int64_t t0 = ausb_now_ns();
    if (every < 1) every = 1;
    /* rounds of the sets picked: every Nth, and those the CLI sample names */
    for (i = 0; i <= nsets; i++) {
        if (i < nsets && mode == 1 && in_cli_sample(&sets[i])) sampled++;
        if (i < nsets && (i % every == 0 || (mode == 1 && in_cli_sample(&sets[i])))) round[n++] = &sets[i];
        if (n == 0 || (n < ROUND && i < nsets)) continue;
        load_round(round, n);
        if (judge_round(round, n) < 0) bad = 1;
        if (mode && cli_round(round, n, mode == 1) < 0) bad = 1;
        tried += n;
        n = 0;
    }
    printf("usb_hostile: %d descriptor sets tried (%d absent, %d unreadable, %d malformed, %d clean), "
           "%d CLI runs, %.1f s\n", tried, counts[V_ABSENT], counts[V_UNREADABLE], counts[V_MALFORMED],
           counts[V_CLEAN], cli_runs, (double)(ausb_now_ns() - t0) / 1e9);
    printf("SKIP usb_hostile: %d sets left out: a zero bLength in a configuration that is not the last "
           "hangs libusb 1.0.26's own enumeration\n", skipped_hangs);
    T_CHECK(tried > 0);
    if (mode == 1) T_EQ(sampled, NPICKS);   /* a renamed set must not leave the sample */
    T_EQ(bad, 0);
}

/* ---- the defects of the issue, one by one ---- */

/* One set in the first slot, judged, then `check` on it. */
static int run_one(hset *s, int (*check)(hset *s))
{
    int r;
    load_round(&s, 1);
    r = judge_round(&s, 1) < 0 ? -1 : check(s);
    load_round(NULL, 0);
    return r;
}

static int check_dev_info(hset *s) { return dev_info_checks(s); }
static int check_ptp_info(hset *s) { return ptp_info_checks(s->name, -1); }

static int check_list_escapes(hset *s)
{
    if (list_checks(s) < 0) return -1;
    return strstr(cli.out, "ID f00d:ff02 ?]0;pwned??[2J?[31mred ?]0;pwned??[2J?[31mred\n") ? 0 : -1;
}

/* A set of one of the tests below: base descriptors, product id ff0k. */
static void single_set(hset *s, const char *name, int k)
{
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->mutated = 1;
    s->speed = 480;
    s->pid = 0xff00 + k;
}

/* The shape that crashed: an endpoint whose bLength runs past the end;
 * libusb 1.0.26 returns bNumEndpoints 3 with endpoint NULL. */
static void test_endpoint_past_the_end_neither_crashes_dev_info_nor_ptp_info(void)
{
    hset s;
    if (!have_clis()) { printf("SKIP usb_hostile: the CLI tests, no CLI builds given\n"); return; }
    single_set(&s, "camera, first endpoint bLength 255", 0);
    s.len = fakecam_descriptors(s.blob);
    s.blob[18 + 18] = 255;             /* after the device, config and interface descriptors */
    s.camera = 1;
    T_EQ(run_one(&s, check_dev_info), 0);
    T_EQ(s.verdict, V_MALFORMED);
    T_EQ(run_one(&s, check_ptp_info), 0);
}

/* libusb refuses the configuration (255 interfaces): dev-info says so and
 * exits 1, not 0. */
static void test_unreadable_configuration_fails_dev_info(void)
{
    hset s;
    if (!have_clis()) return;
    single_set(&s, "camera, bNumInterfaces 255", 1);
    s.len = fakecam_descriptors(s.blob);
    s.blob[18 + 4] = 255;
    T_EQ(run_one(&s, check_dev_info), 0);
    T_EQ(s.verdict, V_UNREADABLE);
    T_CHECK(strstr(cli.err, "configuration 0 unreadable") != NULL);
}

/* A wTotalLength that ends where the second interface begins: libusb
 * keeps one interface, lowers bNumInterfaces and says nothing, so the
 * tree looks whole; only the raw bytes show the lie. */
static void test_interface_boundary_lie_takes_the_raw_check(void)
{
    hset s, *one = &s;
    ausb_ctx ctx;
    ausb_device d;
    ausb_config_desc *cfg;
    single_set(&s, "std, wTotalLength before its second interface", 3);
    s.len = usbf_std_descriptors(s.blob, 0x1234, 0x0001);
    put_le16(s.blob + 18 + 2, (unsigned)((s.blob[18 + 2] | s.blob[18 + 3] << 8) - 9));
    load_round(&one, 1);
    T_EQ(ausb_ctx_init(&ctx, NULL), 0);
    T_EQ(ausb_find_id(&d, &ctx, HVID, s.pid), 0);
    T_EQ(ausb_config_get(&cfg, &d, 0), 0);
    T_EQ(cfg->bNumInterfaces, 1);
    T_EQ(ausb_config_verify(cfg), 0);
    ausb_config_free(cfg);
    T_EQ(ausb_config_raw_check(&d, 0), AUSB_EMALFORMED);
    ausb_device_release(&d);
    ausb_ctx_close(&ctx);
    load_round(NULL, 0);
    if (have_clis()) {
        T_EQ(run_one(&s, check_dev_info), 0);
        T_EQ(s.verdict, V_MALFORMED);
        T_CHECK(strstr(cli.err, "its descriptors break the rules") != NULL);
    }
}

static void test_list_replaces_terminal_escapes_in_device_strings(void)
{
    hset s;
    if (!have_clis()) return;
    single_set(&s, "escape sequences as strings", 2);
    s.len = usbf_std_descriptors(s.blob, 0x1234, 0x0001);
    s.strings = STR_ESCAPES;
    T_EQ(run_one(&s, check_list_escapes), 0);
}

int main(void)
{
    t_suite("usb_hostile");
    usbf_init();
    root.desc_len = usbf_hub_descriptors(root.desc);
    usbf_add(&root, "/devices/fake/usb1", 1, 1, 480);
    load_round(NULL, 0);
    T_RUN(test_endpoint_past_the_end_neither_crashes_dev_info_nor_ptp_info);
    T_RUN(test_unreadable_configuration_fails_dev_info);
    T_RUN(test_list_replaces_terminal_escapes_in_device_strings);
    T_RUN(test_interface_boundary_lie_takes_the_raw_check);
    memset(counts, 0, sizeof counts);
    cli_runs = 0;
    build_sets();
    T_RUN(test_hostile_sets_through_libusb_the_accessors_and_the_clis);
    usbf_done();
    return t_done();
}
