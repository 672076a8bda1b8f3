/* tests/usb_stream.c - asyncusb streaming against fake devices (umockdev
 * testbed): IN pipelines (in order under out-of-order completions, a slow
 * consumer, stop, a stall and a device that leaves mid-stream), the OUT
 * queue, submission from other threads and the Termux descriptor path.
 * Run under umockdev-wrapper. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
/* umockdev copies IN data into the client's buffers behind valgrind's back;
 * zeroed buffers keep memcheck from calling the stream bytes undefined. */
#define AUSB_MALLOC(n) calloc(1, (n))
#define AUSB_REALLOC(p, n) realloc((p), (n))
#define AUSB_FREE(p) free(p)
/* The usbfs memory limit comes from a file of this test's (set_usbfs_mb). */
static char usbfs_mb_path[64] = "/nonexistent/usbfs_memory_mb";
#define AUSB_USBFS_MEMORY_PATH usbfs_mb_path
#define AUSB_IMPLEMENTATION
#include "asyncusb.h"
#include "tests/harness.h"
#include "tests/usb_fake.h"
#include <pthread.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>

static usbf_device roothub, dev_a, dev_gone;

static int run_until(ausb_ctx *ctx, const int *count, int want)
{
    int i;
    for (i = 0; i < 200000 && *count < want; i++)
        if (ausb_run_once(ctx, AUSB_MS(20)) < 0) return -1;
    return *count >= want ? 0 : -1;
}

static void spin(ausb_ctx *ctx, int rounds)
{
    while (rounds-- > 0) ausb_run_once(ctx, 0);
}

/* ---- IN pipeline ---- */

typedef struct sink {
    int chunks, ends, status, bad_order, bad_bytes;
    int stop_at;          /* stop from the handler at this chunk (0: never) */
    int hold_at;          /* return AUSB_PIPE_HOLD once at this chunk (-1: never) */
    int held_once;
    int unplug_at;        /* keep the device's URBs pending from this chunk */
    int end_chunks;       /* chunks counted when on_end ran */
    usbf_device *dev;
    unsigned next_seq;
    long bytes;
} sink;

static int seq_chunk(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *user)
{
    sink *s = (sink *)user;
    unsigned seq;
    int i;
    (void)t;
    if (len < 4) { s->bad_bytes++; return 0; }
    seq = data[0] | (data[1] << 8) | ((unsigned)data[2] << 16) | ((unsigned)data[3] << 24);
    if (seq != s->next_seq) s->bad_order++;
    for (i = 4; i < len; i++)
        if (data[i] != (unsigned char)(seq & 0xff)) { s->bad_bytes++; break; }
    if (s->hold_at >= 0 && s->chunks == s->hold_at && !s->held_once) {
        s->held_once = 1;
        return AUSB_PIPE_HOLD;
    }
    if (s->unplug_at && s->chunks + 1 == s->unplug_at) usbf_set(s->dev, &s->dev->hold_8a, 1);
    s->next_seq++;
    s->chunks++;
    s->bytes += len;
    if (s->stop_at && s->chunks == s->stop_at) ausb_pipe_stop(p);
    return 0;
}

static void on_end(ausb_pipe *p, int status, void *user)
{
    sink *s = (sink *)user;
    (void)p;
    s->ends++;
    s->status = status;
    s->end_chunks = s->chunks;
}

static void sink_init(sink *s, usbf_device *d)
{
    memset(s, 0, sizeof *s);
    s->hold_at = -1;
    s->dev = d;
}

static void stream_setup(usbf_device *d, int batch, int stall_from)
{
    usbf_set(d, &d->seq_8a, 0);
    usbf_set(d, &d->submits_8a, 0);
    usbf_set(d, &d->batch_8a, batch);
    usbf_set(d, &d->stall_8a_from, stall_from);
    usbf_set(d, &d->hold_8a, 0);
}

static void test_pipeline_in_order_under_reversed_completions_1_to_64(void)
{
    static const int ns[] = {1, 2, 4, 16, 64};
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_pipe_config cfg;
    sink s;
    unsigned k;
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    memset(&p, 0, sizeof p);
    for (k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        stream_setup(&dev_a, ns[k], 0);
        sink_init(&s, &dev_a);
        s.stop_at = 300;
        ausb_pipe_config_init(&cfg);
        cfg.in_flight = ns[k];
        cfg.transfer_len = 64;
        T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), 0);
        T_EQ(ausb_pipe_running(&p), 1);
        T_EQ(run_until(&ctx, &s.ends, 1), 0);
        spin(&ctx, 5);
        T_EQ(s.ends, 1);
        T_EQ(s.status, -ECANCELED);
        T_EQ(s.chunks, 300);
        T_EQ(s.end_chunks, 300);
        T_EQ(s.bad_order, 0);
        T_EQ(s.bad_bytes, 0);
        T_EQ(p.chunks, 300);
        T_EQ(p.bytes, 300 * 64);
        T_EQ(ausb_pipe_running(&p), 0);
        T_EQ(usbf_pending(&dev_a), 0);
        T_EQ(ausb_pending(&ctx), 0);
    }
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_inline_chunks_keep_order_hold_and_stop(void)
{
    static const int ns[] = {1, 4, 64};
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_pipe_config cfg;
    sink s;
    unsigned k;
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    for (k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        stream_setup(&dev_a, ns[k], 0);
        sink_init(&s, &dev_a);
        s.stop_at = 200;
        s.hold_at = 50;
        ausb_pipe_config_init(&cfg);
        cfg.in_flight = ns[k];
        cfg.transfer_len = 64;
        cfg.inline_chunks = 1;
        T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), 0);
        T_EQ(run_until(&ctx, &s.held_once, 1), 0);
        spin(&ctx, 20);
        T_EQ(s.chunks, 50);
        ausb_pipe_resume(&p);
        T_EQ(run_until(&ctx, &s.ends, 1), 0);
        spin(&ctx, 5);
        T_EQ(s.ends, 1);
        T_EQ(s.status, -ECANCELED);
        T_EQ(s.chunks, 200);
        T_EQ(s.bad_order, 0);
        T_EQ(s.bad_bytes, 0);
        T_EQ(usbf_pending(&dev_a), 0);
    }
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_slow_consumer_pauses_instead_of_buffering(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_pipe_config cfg;
    sink s;
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    stream_setup(&dev_a, 1, 0);
    sink_init(&s, &dev_a);
    s.hold_at = 10;
    ausb_pipe_config_init(&cfg);
    cfg.in_flight = 4;
    cfg.transfer_len = 32;
    memset(&p, 0, sizeof p);
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), 0);
    spin(&ctx, 200);
    /* ten chunks consumed and resubmitted, the eleventh held: the device
     * has seen 4 + 10 transfers and sees no more while the consumer waits */
    T_EQ(s.chunks, 10);
    T_EQ(usbf_count(&dev_a, &dev_a.submits_8a), 14);
    spin(&ctx, 200);
    T_EQ(usbf_count(&dev_a, &dev_a.submits_8a), 14);
    T_EQ(s.chunks, 10);
    ausb_pipe_resume(&p);
    T_EQ(s.chunks, 10);                 /* redelivery comes from dispatch */
    s.stop_at = 40;
    T_EQ(run_until(&ctx, &s.ends, 1), 0);
    T_EQ(s.chunks, 40);
    T_EQ(s.bad_order, 0);
    T_EQ(s.status, -ECANCELED);
    /* pause from outside, then stop while paused: reported once, later */
    stream_setup(&dev_a, 1, 0);
    sink_init(&s, &dev_a);
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), 0);
    ausb_pipe_pause(&p);
    spin(&ctx, 50);
    T_EQ(s.chunks, 0);
    T_EQ(usbf_count(&dev_a, &dev_a.submits_8a), 4);
    ausb_pipe_stop(&p);
    ausb_pipe_stop(&p);
    T_EQ(s.ends, 0);
    T_EQ(run_until(&ctx, &s.ends, 1), 0);
    spin(&ctx, 5);
    T_EQ(s.ends, 1);
    T_EQ(s.status, -ECANCELED);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_stall_mid_stream_is_reported_once_after_earlier_chunks(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_pipe_config cfg;
    sink s;
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    stream_setup(&dev_a, 4, 21);
    sink_init(&s, &dev_a);
    ausb_pipe_config_init(&cfg);
    cfg.in_flight = 4;
    cfg.transfer_len = 16;
    memset(&p, 0, sizeof p);
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), 0);
    T_EQ(run_until(&ctx, &s.ends, 1), 0);
    spin(&ctx, 20);
    T_EQ(s.ends, 1);
    T_EQ(s.status, AUSB_ESTALL);
    T_EQ(s.chunks, 21);
    T_EQ(s.bad_order, 0);
    T_EQ(usbf_pending(&dev_a), 0);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_device_leaving_mid_stream_is_reported_once(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_pipe_config cfg;
    sink s;
    int i;
    T_EQ(usbf_open(&ctx, &dev_gone, &h), 0);
    stream_setup(&dev_gone, 2, 0);
    sink_init(&s, &dev_gone);
    s.unplug_at = 30;
    ausb_pipe_config_init(&cfg);
    cfg.in_flight = 8;
    cfg.transfer_len = 16;
    memset(&p, 0, sizeof p);
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), 0);
    for (i = 0; i < 100000 && usbf_pending(&dev_gone) < 8; i++) ausb_run_once(&ctx, AUSB_MS(1));
    T_EQ(usbf_pending(&dev_gone), 8);   /* all eight in flight, held by the device */
    T_CHECK(s.chunks >= 30);
    usbf_unplug(&dev_gone);
    T_EQ(run_until(&ctx, &s.ends, 1), 0);
    spin(&ctx, 20);
    T_EQ(s.ends, 1);
    T_EQ(s.status, -ENODEV);
    T_EQ(s.bad_order, 0);
    T_EQ(ausb_handle_gone(&h), 1);
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), -ENODEV);
    spin(&ctx, 5);
    T_EQ(s.ends, 1);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

typedef struct iso_sink {
    int chunks, ends, status, bad;
} iso_sink;

static int iso_chunk(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *user)
{
    iso_sink *s = (iso_sink *)user;
    (void)data;
    if (len != 1 + 2 + 3 + 4 || ausb_iso_packets(t) != 4) s->bad++;
    if (ausb_iso_packet_length(t, 3) != 4 || ausb_iso_packet_data(t, 3)[0] != 3) s->bad++;
    if (ausb_iso_packet_status(t, 2) == 0 || ausb_iso_packet_status(t, 1) != 0) s->bad++;
    if (++s->chunks == 25) ausb_pipe_stop(p);
    return 0;
}

static void iso_end(ausb_pipe *p, int status, void *user)
{
    iso_sink *s = (iso_sink *)user;
    (void)p;
    s->ends++;
    s->status = status;
}

static void test_isochronous_pipeline_keeps_packet_details(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_pipe_config cfg;
    iso_sink s;
    memset(&s, 0, sizeof s);
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    ausb_pipe_config_init(&cfg);
    cfg.in_flight = 3;
    cfg.transfer_len = 32;
    cfg.iso_packets = 4;
    cfg.iso_packet_len = 8;
    memset(&p, 0, sizeof p);
    T_EQ(ausb_pipe_start(&p, &h, 0x87, AUSB_EP_ISOCHRONOUS, &cfg, iso_chunk, iso_end, &s), 0);
    T_EQ(run_until(&ctx, &s.ends, 1), 0);
    T_EQ(s.chunks, 25);
    T_EQ(s.bad, 0);
    T_EQ(s.status, -ECANCELED);
    T_EQ(p.bytes, 25 * 10);
    cfg.iso_packets = 0;
    T_EQ(ausb_pipe_start(&p, &h, 0x87, AUSB_EP_ISOCHRONOUS, &cfg, iso_chunk, iso_end, &s), -EINVAL);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

typedef struct intr_sink {
    int chunks, ends, bad;
} intr_sink;

static int intr_chunk(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *user)
{
    intr_sink *s = (intr_sink *)user;
    (void)t;
    if (len != 8 || data[0] != (unsigned char)s->chunks || data[7] != 0xa5) s->bad++;
    if (++s->chunks == 50) ausb_pipe_stop(p);
    return 0;
}

static void intr_end(ausb_pipe *p, int status, void *user)
{
    (void)p;
    (void)status;
    ((intr_sink *)user)->ends++;
}

static void test_interrupt_pipeline_counts_in_order(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_pipe_config cfg;
    intr_sink s;
    memset(&s, 0, sizeof s);
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    usbf_set(&dev_a, &dev_a.intr_counter, 0);
    ausb_pipe_config_init(&cfg);
    cfg.in_flight = 4;
    cfg.transfer_len = 8;
    memset(&p, 0, sizeof p);
    T_EQ(ausb_pipe_start(&p, &h, 0x83, AUSB_EP_INTERRUPT, &cfg, intr_chunk, intr_end, &s), 0);
    T_EQ(run_until(&ctx, &s.ends, 1), 0);
    T_EQ(s.chunks, 50);
    T_EQ(s.bad, 0);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_pipeline_arguments_and_close_while_streaming(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_pipe_config cfg;
    sink s;
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    memset(&p, 0, sizeof p);
    sink_init(&s, &dev_a);
    ausb_pipe_config_init(&cfg);
    T_EQ(ausb_pipe_start(&p, &h, 0x01, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), -EINVAL);
    cfg.in_flight = 65;
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), -EINVAL);
    cfg.in_flight = 0;
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), -EINVAL);
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, NULL, NULL, on_end, &s), -EINVAL);
    T_EQ(ausb_pipe_start(NULL, &h, 0x8a, AUSB_EP_BULK, NULL, seq_chunk, on_end, &s), -EINVAL);
    /* closing the handle ends a running pipe once, before close returns */
    stream_setup(&dev_a, 1, 0);
    usbf_set(&dev_a, &dev_a.hold_8a, 1);
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, NULL, seq_chunk, on_end, &s), 0);
    spin(&ctx, 5);
    ausb_close(&h);
    spin(&ctx, 5);
    T_EQ(s.ends, 1);
    T_EQ(s.status, AUSB_ECLOSED);
    T_EQ(s.chunks, 0);
    ausb_ctx_close(&ctx);
}

/* A pipe on 0x8C, which sends `budget` bytes of usbf_trickle_byte and
 * then nothing: the bytes of the transfer that times out half full still
 * arrive, as the last chunk, with the timeout in t->status. */
typedef struct trickle_sink {
    long got;
    int chunks, bad, ends, status, last_status, last_len, hold_failed, held;
} trickle_sink;

static int trickle_chunk(ausb_pipe *p, ausb_transfer *t, const unsigned char *data, int len, void *user)
{
    trickle_sink *k = (trickle_sink *)user;
    int i;
    (void)p;
    if (t->status != 0 && k->hold_failed && !k->held) {
        k->held = 1;
        return AUSB_PIPE_HOLD;
    }
    for (i = 0; i < len; i++)
        if (data[i] != usbf_trickle_byte(k->got + i)) k->bad++;
    k->got += len;
    k->chunks++;
    k->last_status = t->status;
    k->last_len = len;
    return 0;
}

static void trickle_end(ausb_pipe *p, int status, void *user)
{
    trickle_sink *k = (trickle_sink *)user;
    (void)p;
    k->ends++;
    k->status = status;
}

static void trickle_pipe(trickle_sink *k, int budget, int hold_failed)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_pipe_config cfg;
    int i;
    memset(k, 0, sizeof *k);
    k->hold_failed = hold_failed;
    usbf_set(&dev_a, &dev_a.sent_8c, 0);
    usbf_set(&dev_a, &dev_a.trickle_8c, budget);
    if (usbf_open(&ctx, &dev_a, &h) != 0) return;
    ausb_pipe_config_init(&cfg);
    cfg.in_flight = 4;
    cfg.transfer_len = 1024;
    cfg.timeout_ns = AUSB_MS(40);
    memset(&p, 0, sizeof p);
    if (ausb_pipe_start(&p, &h, 0x8c, AUSB_EP_BULK, &cfg, trickle_chunk, trickle_end, k) == 0) {
        for (i = 0; i < 200000 && !k->ends && !(k->held && ausb_pending(&ctx) == 0); i++) ausb_run_once(&ctx, AUSB_MS(20));
        if (k->held) {
            spin(&ctx, 5);
            k->held = 2;
            ausb_pipe_resume(&p);
            run_until(&ctx, &k->ends, 1);
        }
    }
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_pipeline_hands_over_the_bytes_of_a_timed_out_transfer(void)
{
    trickle_sink k;
    trickle_pipe(&k, 3 * 1024 + 500, 0);
    T_EQ(k.ends, 1);
    T_EQ(k.status, -ETIMEDOUT);
    T_EQ(k.got, 3 * 1024 + 500);
    T_EQ(k.chunks, 4);
    T_EQ(k.last_len, 500);
    T_EQ(k.last_status, -ETIMEDOUT);
    T_EQ(k.bad, 0);
    T_EQ(usbf_pending(&dev_a), 0);
}

static void test_pipeline_timeout_on_an_empty_transfer_hands_over_nothing_more(void)
{
    trickle_sink k;
    trickle_pipe(&k, 2 * 1024, 0);
    T_EQ(k.ends, 1);
    T_EQ(k.status, -ETIMEDOUT);
    T_EQ(k.got, 2 * 1024);
    T_EQ(k.chunks, 2);
    T_EQ(k.last_status, 0);
}

static void test_pipeline_holds_and_redelivers_a_timed_out_chunk(void)
{
    trickle_sink k;
    trickle_pipe(&k, 1024 + 100, 1);
    T_EQ(k.held, 2);
    T_EQ(k.ends, 1);
    T_EQ(k.status, -ETIMEDOUT);
    T_EQ(k.got, 1024 + 100);
    T_EQ(k.last_len, 100);
    T_EQ(k.bad, 0);
}

/* umockdev's device node is a plain file, which libusb_dev_mem_alloc
 * would map as memory the fake device never sees: its usbfs does not
 * announce USBDEVFS_CAP_MMAP, so streams allocate their buffers. */
static void test_streams_on_a_node_that_cannot_map_allocate_their_buffers(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_outq q;
    sink s;
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    stream_setup(&dev_a, 1, 0);
    usbf_set(&dev_a, &dev_a.hold_8a, 1);
    sink_init(&s, &dev_a);
    memset(&p, 0, sizeof p);
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, NULL, seq_chunk, on_end, &s), 0);
    T_EQ(p.zero_copy, 0);
    T_EQ(ausb_outq_init(&q, &h, 0x03, 2, 512, 0, 0, NULL, NULL), 0);
    T_EQ(q.zero_copy, 0);
    ausb_outq_close(&q);
    ausb_pipe_stop(&p);
    T_EQ(run_until(&ctx, &s.ends, 1), 0);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

/* ---- the usbfs memory limit ---- */

/* Writes text (MiB, as usbcore's parameter) where the context reads it;
 * NULL: no such file, as on a system without usbcore's parameter. */
static void set_usbfs_mb(const char *text)
{
    FILE *f;
    if (strncmp(usbfs_mb_path, "/tmp/", 5) != 0) {
        int fd;
        snprintf(usbfs_mb_path, sizeof usbfs_mb_path, "/tmp/ausb-usbfs-XXXXXX");
        if ((fd = mkstemp(usbfs_mb_path)) >= 0) close(fd);
    }
    if (!text) { unlink(usbfs_mb_path); return; }
    if ((f = fopen(usbfs_mb_path, "w")) != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void count_call(ausb_transfer *t, int status, void *user)
{
    (void)t;
    (void)status;
    ++*(int *)user;
}

static void test_usbfs_limit_refuses_streams_up_front_and_counts_what_runs(void)
{
    static unsigned char big[600 * 1024];
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_outq q;
    ausb_pipe_config cfg;
    ausb_transfer t;
    sink s;
    int before, calls = 0;
    int64_t held;
    set_usbfs_mb("1\n");
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    T_EQ(ausb_usbfs_limit(&ctx), 1 << 20);
    T_EQ(ausb_usbfs_in_use(&ctx), 0);
    stream_setup(&dev_a, 1, 0);
    usbf_set(&dev_a, &dev_a.hold_8a, 1);
    sink_init(&s, &dev_a);
    ausb_pipe_config_init(&cfg);
    cfg.in_flight = 64;
    cfg.transfer_len = 65536;
    memset(&p, 0, sizeof p);
    before = usbf_count(&dev_a, &dev_a.submits);
    /* 4 MiB against 1: refused before anything reaches the kernel */
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), -ENOBUFS);
    T_EQ(usbf_count(&dev_a, &dev_a.submits), before);
    T_EQ(ausb_usbfs_in_use(&ctx), 0);
    T_EQ(ausb_pending(&ctx), 0);
    /* half a MiB fits, and holds its share while it runs */
    cfg.in_flight = 8;
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), 0);
    held = ausb_usbfs_in_use(&ctx);
    T_CHECK(held >= 8 * 65536 && held < 1 << 20);
    T_EQ(ausb_outq_init(&q, &h, 0x03, 8, 65536, 0, 0, NULL, NULL), -ENOBUFS);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x84, big, (int)sizeof big, 0, count_call, &calls);
    T_EQ(ausb_submit(&t), -ENOBUFS);
    T_EQ(ausb_transfer_state(&t), AUSB_XFER_IDLE);
    T_EQ(ausb_usbfs_in_use(&ctx), held);
    ausb_pipe_stop(&p);
    T_EQ(run_until(&ctx, &s.ends, 1), 0);
    T_EQ(s.status, -ECANCELED);
    T_EQ(ausb_usbfs_in_use(&ctx), 0);
    /* with the pipe gone the OUT queue fits; a transfer counts while out */
    T_EQ(ausb_outq_init(&q, &h, 0x03, 8, 65536, 0, 0, NULL, NULL), 0);
    T_CHECK(ausb_usbfs_in_use(&ctx) >= 8 * 65536);
    ausb_outq_close(&q);
    T_EQ(ausb_usbfs_in_use(&ctx), 0);
    ausb_fill_bulk(&t, &h, 0x84, big, 4096, 0, count_call, &calls);
    T_EQ(ausb_submit(&t), 0);
    T_CHECK(ausb_usbfs_in_use(&ctx) >= 4096);
    ausb_cancel(&t);
    T_EQ(run_until(&ctx, &calls, 1), 0);
    T_EQ(ausb_usbfs_in_use(&ctx), 0);
    /* 0 is no limit, read again at the next start */
    set_usbfs_mb("0\n");
    cfg.in_flight = 64;
    sink_init(&s, &dev_a);
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), 0);
    T_EQ(ausb_usbfs_limit(&ctx), 0);
    ausb_pipe_stop(&p);
    T_EQ(run_until(&ctx, &s.ends, 1), 0);
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
    set_usbfs_mb(NULL);
}

/* What the kernel itself refuses for memory (its limit counts every
 * program's transfers) reads as the limit too. */
static void test_submit_the_kernel_refuses_for_memory_reads_as_enobufs(void)
{
    unsigned char b[64];
    ausb_ctx ctx;
    ausb_handle h;
    ausb_pipe p;
    ausb_pipe_config cfg;
    ausb_transfer t;
    sink s;
    int calls = 0;
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    T_EQ(ausb_usbfs_limit(&ctx), 0);          /* no parameter file: no limit known */
    usbf_set(&dev_a, &dev_a.submit_errno, ENOMEM);
    ausb_transfer_init(&t, 0);
    ausb_fill_bulk(&t, &h, 0x85, b, sizeof b, 0, count_call, &calls);
    T_EQ(ausb_submit(&t), -ENOBUFS);
    sink_init(&s, &dev_a);
    ausb_pipe_config_init(&cfg);
    memset(&p, 0, sizeof p);
    T_EQ(ausb_pipe_start(&p, &h, 0x8a, AUSB_EP_BULK, &cfg, seq_chunk, on_end, &s), -ENOBUFS);
    usbf_set(&dev_a, &dev_a.submit_errno, 0);
    T_EQ(ausb_usbfs_in_use(&ctx), 0);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(run_until(&ctx, &calls, 1), 0);
    T_EQ(s.ends, 0);
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

/* ---- OUT queue ---- */

typedef struct sent_log {
    int calls, bad_status;
    int lens[64];
} sent_log;

static void on_sent(ausb_outq *q, int status, int len, void *user)
{
    sent_log *l = (sent_log *)user;
    (void)q;
    if (status != 0) l->bad_status++;
    if (l->calls < 64) l->lens[l->calls] = len;
    l->calls++;
}

static void test_out_queue_keeps_order_and_adds_zero_length_packets(void)
{
    static const int lens[] = {512, 100, 1024, 7, 513, 1536, 1, 2048, 300, 512, 64, 1000};
    const int nw = (int)(sizeof lens / sizeof lens[0]);
    static unsigned char expect[16384];
    unsigned char chunk[2048];
    ausb_ctx ctx;
    ausb_handle h;
    ausb_outq q;
    sent_log l;
    int i, written = 0, zlps = 0, j;
    long off = 0;
    memset(&l, 0, sizeof l);
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    usbf_set(&dev_a, &dev_a.batch_04, 4);
    T_EQ(ausb_outq_init(&q, &h, 0x04, 4, 2048, 1, AUSB_MS(1000), on_sent, &l), 0);
    T_EQ(ausb_outq_write(&q, chunk, 4096), -EMSGSIZE);
    for (i = 0; i < 20000 && l.calls < nw; i++) {
        while (written < nw && ausb_outq_free_slots(&q) > 0) {
            for (j = 0; j < lens[written]; j++) chunk[j] = (unsigned char)(written * 31 + j);
            memcpy(expect + off, chunk, (size_t)lens[written]);
            off += lens[written];
            if (lens[written] % 512 == 0) zlps++;
            T_EQ(ausb_outq_write(&q, chunk, lens[written]), 0);
            written++;
        }
        if (written < nw) T_EQ(ausb_outq_write(&q, chunk, 1), -EAGAIN);
        if (written == nw && l.calls < nw - 4) {
            /* fewer than a batch left: the fake holds them; finish with writes */
        }
        ausb_run_once(&ctx, AUSB_MS(5));
    }
    T_EQ(l.calls, nw);
    T_EQ(l.bad_status, 0);
    for (i = 0; i < nw; i++) T_EQ(l.lens[i], lens[i]);
    T_EQ(usbf_count(&dev_a, (int *)&dev_a.zlps_04), zlps);
    T_EQ(dev_a.out_bytes_04, off);
    T_MEMEQ(dev_a.out_log_04, expect, (size_t)off);
    ausb_outq_close(&q);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

typedef struct status_log { int calls, status[8], len[8]; } status_log;

static void on_sent_status(ausb_outq *q, int status, int len, void *user)
{
    status_log *l = (status_log *)user;
    (void)q;
    if (l->calls < 8) { l->status[l->calls] = status; l->len[l->calls] = len; }
    l->calls++;
}

static void test_out_queue_timeout_reports_the_bytes_the_device_took(void)
{
    static unsigned char b[2048];
    ausb_ctx ctx;
    ausb_handle h;
    ausb_outq q;
    status_log l;
    int i;
    memset(&l, 0, sizeof l);
    for (i = 0; i < (int)sizeof b; i++) b[i] = (unsigned char)(i * 13 + 5);
    usbf_set(&dev_a, &dev_a.took_06, 0);
    usbf_set(&dev_a, &dev_a.trickle_06, 2048 + 700);
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    T_EQ(ausb_outq_init(&q, &h, 0x06, 2, 2048, 0, AUSB_MS(40), on_sent_status, &l), 0);
    T_EQ(ausb_outq_write(&q, b, 2048), 0);
    T_EQ(ausb_outq_write(&q, b, 2048), 0);
    T_EQ(run_until(&ctx, &l.calls, 2), 0);
    T_EQ(l.status[0], 0);
    T_EQ(l.len[0], 2048);
    T_EQ(l.status[1], -ETIMEDOUT);
    T_EQ(l.len[1], 700);
    T_MEMEQ(dev_a.sink_06 + 2048, b, 700);
    ausb_outq_close(&q);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

static void test_out_queue_close_reports_every_write(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_outq q;
    sent_log l;
    unsigned char b[16] = {0};
    memset(&l, 0, sizeof l);
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    usbf_set(&dev_a, &dev_a.batch_04, 8);      /* never completes by itself */
    T_EQ(ausb_outq_init(&q, &h, 0x04, 4, 16, 0, 0, on_sent, &l), 0);
    T_EQ(ausb_outq_write(&q, b, 16), 0);
    T_EQ(ausb_outq_write(&q, b, 8), 0);
    T_EQ(ausb_outq_write(&q, b, 4), 0);
    spin(&ctx, 5);
    T_EQ(l.calls, 0);
    ausb_outq_close(&q);
    T_EQ(ausb_outq_write(&q, b, 4), -EINVAL);
    T_EQ(run_until(&ctx, &l.calls, 3), 0);
    T_EQ(l.bad_status, 3);
    T_EQ(usbf_pending(&dev_a), 0);
    T_EQ(ausb_outq_init(&q, &h, 0x84, 4, 16, 0, 0, on_sent, &l), -EINVAL);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

/* ---- submission from other threads ---- */

#define THREADS 4
#define PER_THREAD 1000

typedef struct worker {
    ausb_handle *h;
    ausb_transfer *x;
    unsigned char (*buf)[8];
    int failed;
    int completed;        /* written by the loop thread, atomically */
} worker;

static int thread_done;
static int wrong_thread;
static pthread_t loop_thread;

static void on_threaded_done(ausb_transfer *t, int status, void *user)
{
    __atomic_add_fetch(&((worker *)user)->completed, 1, __ATOMIC_RELEASE);
    if (!pthread_equal(pthread_self(), loop_thread) || status != 0 || t->actual_length != 8) {
        if (getenv("T_VERBOSE") && wrong_thread < 3) printf("status %d len %d\n", status, t->actual_length);
        wrong_thread++;
    }
    thread_done++;
}

static void *submitter(void *arg)
{
    worker *w = (worker *)arg;
    int i;
    struct timespec nap = {0, 100000};
    for (i = 0; i < PER_THREAD; i++) {
        /* at most 128 of this thread's transfers in flight, as the kernel
         * (and the fake device) limit pending URBs */
        while (i - __atomic_load_n(&w->completed, __ATOMIC_ACQUIRE) >= 128) nanosleep(&nap, NULL);
        if (ausb_transfer_init(&w->x[i], 0) < 0) { w->failed++; continue; }
        ausb_fill_bulk(&w->x[i], w->h, 0x88, w->buf[i], 8, AUSB_MS(1000), on_threaded_done, w);
        if (ausb_submit_any_thread(&w->x[i]) != 0) w->failed++;
    }
    return NULL;
}

static void test_threads_submit_thousands_completions_on_loop_thread(void)
{
    static ausb_transfer xs[THREADS][PER_THREAD];
    static unsigned char bufs[THREADS][PER_THREAD][8];
    ausb_ctx ctx;
    ausb_handle h;
    pthread_t th[THREADS];
    worker w[THREADS];
    int i, j, failed = 0;
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    loop_thread = pthread_self();
    thread_done = wrong_thread = 0;
    for (i = 0; i < THREADS; i++) {
        w[i].h = &h;
        w[i].x = xs[i];
        w[i].buf = bufs[i];
        w[i].failed = 0;
        w[i].completed = 0;
        T_EQ(pthread_create(&th[i], NULL, submitter, &w[i]), 0);
    }
    T_EQ(run_until(&ctx, &thread_done, THREADS * PER_THREAD), 0);
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        failed += w[i].failed;
    }
    spin(&ctx, 5);
    T_EQ(failed, 0);
    T_EQ(thread_done, THREADS * PER_THREAD);
    T_EQ(wrong_thread, 0);
    T_EQ(ausb_pending(&ctx), 0);
    for (i = 0; i < THREADS; i++)
        for (j = 0; j < PER_THREAD; j++) ausb_transfer_free(&xs[i][j]);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

/* A transfer queued by ausb_submit_any_thread and cancelled before the
 * loop submitted it: one callback, -ECANCELED, and the device never sees
 * it; a second one queued beside it goes through. */
typedef struct qc {
    int calls, status;
} qc;

static void on_qc(ausb_transfer *t, int status, void *user)
{
    qc *q = (qc *)user;
    (void)t;
    q->calls++;
    q->status = status;
}

static void test_threads_cancel_reaches_queued_transfer(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer a, b;
    unsigned char ba[8], bb[8];
    qc qa = {0, 1}, qb = {0, 1};
    int submits0;
    T_EQ(usbf_open(&ctx, &dev_a, &h), 0);
    T_EQ(ausb_transfer_init(&a, 0), 0);
    T_EQ(ausb_transfer_init(&b, 0), 0);
    ausb_fill_interrupt(&a, &h, 0x83, ba, sizeof ba, AUSB_MS(1000), on_qc, &qa);
    ausb_fill_interrupt(&b, &h, 0x83, bb, sizeof bb, AUSB_MS(1000), on_qc, &qb);
    submits0 = usbf_count(&dev_a, &dev_a.submits);
    T_EQ(ausb_submit_any_thread(&a), 0);
    T_EQ(ausb_submit_any_thread(&b), 0);
    T_EQ(ausb_transfer_state(&a), AUSB_XFER_QUEUED);
    T_EQ(ausb_cancel(&a), 0);
    T_EQ(ausb_cancel(&a), 0);                /* idempotent */
    T_EQ(qa.calls, 0);                       /* never inside the call */
    T_EQ(run_until(&ctx, &qb.calls, 1), 0);
    spin(&ctx, 5);
    T_EQ(qa.calls, 1);
    T_EQ(qa.status, -ECANCELED);
    T_EQ(qb.calls, 1);
    T_EQ(qb.status, 0);
    T_EQ(usbf_count(&dev_a, &dev_a.submits) - submits0, 1);
    T_EQ(ausb_pending(&ctx), 0);
    /* and it can be submitted again afterwards */
    T_EQ(ausb_submit(&a), 0);
    T_EQ(run_until(&ctx, &qa.calls, 2), 0);
    T_EQ(qa.status, 0);
    ausb_transfer_free(&a);
    ausb_transfer_free(&b);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
}

/* ---- Termux ---- */

static void count_done(ausb_transfer *t, int status, void *user)
{
    (void)t;
    (void)status;
    (*(int *)user)++;
}

/* A descriptor that is not open is named as such, and the failed call
 * leaves device discovery on for the contexts that follow (libusb 1.0.26
 * cannot turn it back on once it is off). */
static int termux_open_then_enumerate(const char *fd_text, int *got)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_device_list l;
    int n;
    setenv("TERMUX_USB_FD", fd_text, 1);
    *got = ausb_termux_open(&h, &ctx);
    unsetenv("TERMUX_USB_FD");
    if (*got == 0) { ausb_close(&h); ausb_ctx_close(&ctx); }
    if (ausb_ctx_init(&ctx, NULL) < 0) return -1;
    n = ausb_devices(&l, &ctx);
    ausb_devices_free(&l);
    ausb_ctx_close(&ctx);
    return n;
}

static void test_termux_descriptor_not_open_keeps_discovery(void)
{
    char num[16];
    int fd = 900, r;
    /* far above what other threads open next (they take the lowest free
     * number), below valgrind's own */
    while (fcntl(fd, F_GETFD) >= 0) fd++;
    snprintf(num, sizeof num, "%d", fd);
    T_EQ(termux_open_then_enumerate(num, &r), 3);
    T_EQ(r, -EBADF);
    T_STREQ(ausb_strerror(r), strerror(EBADF));
}

static void test_termux_descriptor_of_no_usb_device_keeps_discovery(void)
{
    static const char *const bad[] = {"-1", " 3", "3 ", "99999999999999999999"};
    char num[16];
    int fd = open("/dev/null", O_RDONLY), r, i;
    T_CHECK(fd >= 0);
    snprintf(num, sizeof num, "%d", fd);
    T_EQ(termux_open_then_enumerate(num, &r), 3);
    T_EQ(r, -ENOTTY);
    for (i = 0; i < 4; i++) {
        T_EQ(termux_open_then_enumerate(bad[i], &r), 3);
        T_EQ(r, -EINVAL);
    }
    close(fd);
}

static void test_termux_descriptor_from_environment(void)
{
    ausb_ctx ctx;
    ausb_handle h;
    ausb_transfer t;
    unsigned char buf[8];
    char num[16];
    int fd, calls = 0;
    ausb_device_list l;
    unsetenv("TERMUX_USB_FD");
    T_EQ(ausb_termux_open(&h, &ctx), -ENOENT);
    setenv("TERMUX_USB_FD", "12x", 1);
    T_EQ(ausb_termux_open(&h, &ctx), -EINVAL);
    fd = open(dev_a.devnode, O_RDWR);
    T_CHECK(fd >= 0);
    snprintf(num, sizeof num, "%d", fd);
    setenv("TERMUX_USB_FD", num, 1);
    T_EQ(ausb_termux_open(&h, &ctx), 0);
    T_EQ(ausb_devices(&l, &ctx), 0);          /* discovery is off */
    ausb_devices_free(&l);
    T_EQ(ausb_device_descriptor(ausb_handle_device(&h))->idProduct, 0x00a1);
    T_EQ(ausb_claim(&h, 0), 0);
    T_EQ(ausb_transfer_init(&t, 0), 0);
    ausb_fill_bulk(&t, &h, 0x85, buf, 8, AUSB_MS(1000), count_done, &calls);
    T_EQ(ausb_submit(&t), 0);
    T_EQ(run_until(&ctx, &calls, 1), 0);
    T_EQ(t.status, 0);
    T_EQ(t.actual_length, 5);
    T_MEMEQ(buf, "short", 5);
    ausb_transfer_free(&t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
    close(fd);
    unsetenv("TERMUX_USB_FD");
}

/* T_ONLY=word runs only the tests whose name contains it (the TSan build
 * runs the threaded test: the fake device's handler shares URB memory with
 * umockdev's worker in ways ThreadSanitizer cannot follow). */
#define RUN(fn) do { const char *o_ = getenv("T_ONLY"); if (!o_ || strstr(#fn, o_)) T_RUN(fn); } while (0)

int main(void)
{
    t_suite("usb_stream");
    usbf_init();
    roothub.desc_len = usbf_hub_descriptors(roothub.desc);
    usbf_add(&roothub, "/devices/fake/usb1", 1, 1, 480);
    dev_a.desc_len = usbf_std_descriptors(dev_a.desc, 0x1234, 0x00a1);
    usbf_add(&dev_a, "/devices/fake/usb1/1-1", 1, 2, 480);
    dev_gone.desc_len = usbf_std_descriptors(dev_gone.desc, 0x1234, 0x00a2);
    usbf_add(&dev_gone, "/devices/fake/usb1/1-2", 1, 3, 480);

    RUN(test_pipeline_in_order_under_reversed_completions_1_to_64);
    RUN(test_slow_consumer_pauses_instead_of_buffering);
    RUN(test_inline_chunks_keep_order_hold_and_stop);
    RUN(test_stall_mid_stream_is_reported_once_after_earlier_chunks);
    RUN(test_isochronous_pipeline_keeps_packet_details);
    RUN(test_interrupt_pipeline_counts_in_order);
    RUN(test_pipeline_arguments_and_close_while_streaming);
    RUN(test_out_queue_keeps_order_and_adds_zero_length_packets);
    RUN(test_out_queue_close_reports_every_write);
    RUN(test_pipeline_hands_over_the_bytes_of_a_timed_out_transfer);
    RUN(test_pipeline_timeout_on_an_empty_transfer_hands_over_nothing_more);
    RUN(test_pipeline_holds_and_redelivers_a_timed_out_chunk);
    RUN(test_out_queue_timeout_reports_the_bytes_the_device_took);
    RUN(test_streams_on_a_node_that_cannot_map_allocate_their_buffers);
    RUN(test_usbfs_limit_refuses_streams_up_front_and_counts_what_runs);
    RUN(test_submit_the_kernel_refuses_for_memory_reads_as_enobufs);
    RUN(test_threads_submit_thousands_completions_on_loop_thread);
    RUN(test_threads_cancel_reaches_queued_transfer);
    RUN(test_device_leaving_mid_stream_is_reported_once);
    RUN(test_termux_descriptor_not_open_keeps_discovery);
    RUN(test_termux_descriptor_of_no_usb_device_keeps_discovery);
    RUN(test_termux_descriptor_from_environment);   /* last: no_discovery is process-wide */
    usbf_done();
    return t_done();
}
