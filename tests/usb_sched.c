/* tests/usb_sched.c - asyncusb on the sched.h loop (shape 2) and sched.h
 * tasks awaiting transfers.  Run under umockdev-wrapper. */
#define ASYNCKIT_IMPLEMENTATION
#ifdef AWAIT_USB_FIRST          /* tests/usb_sched_usbfirst.c: the other order compiles the bridge */
#include "asyncusb.h"
#include "sched.h"
#else
#include "sched.h"
#include "asyncusb.h"
#endif
#include "tests/harness.h"
#include "tests/usb_fake.h"

static usbf_device dev1;

static int open_dev1(ausb_ctx *ctx, ausb_handle *h)
{
    ausb_device d;
    int r;
    if ((r = ausb_ctx_init(ctx, NULL)) < 0) return r;
    if ((r = ausb_find_id(&d, ctx, 0x1234, 0x0001)) < 0) { ausb_ctx_close(ctx); return r; }
    r = ausb_open(h, &d);
    ausb_device_release(&d);
    if (r < 0) ausb_ctx_close(ctx);
    return r;
}

/* ---- callbacks on the shared loop ---- */

typedef struct chain {
    schd_source src;
    ausb_transfer t;
    unsigned char buf[16];
    int rounds, failed, timer_fired;
} chain;

/* Interrupt IN, resubmitted from its own callback until 10 rounds. */
static void chain_next(ausb_transfer *t, int status, void *user)
{
    chain *c = (chain *)user;
    if (status != 0 || t->actual_length != 8 || c->buf[7] != 0xa5) c->failed++;
    if (++c->rounds < 10) {
        if (ausb_submit(t) < 0) c->failed++;
    } else {
        schd_source_remove(&c->src);     /* the loop ends when nothing is left */
    }
}

static void on_timer(schd_timer *tm, void *ud)
{
    (void)tm;
    ((chain *)ud)->timer_fired++;
}

static void test_transfers_and_timers_share_the_sched_loop(void)
{
    schd_loop loop;
    schd_timer tm;
    ausb_ctx ctx;
    ausb_handle h;
    static chain c;
    memset(&c, 0, sizeof c);
    T_EQ(schd_loop_init(&loop), 0);
    T_EQ(open_dev1(&ctx, &h), 0);
    T_EQ(ausb_attach(&ctx, &loop, &c.src), 0);
    schd_timer_init(&tm, on_timer, &c);
    T_EQ(schd_timer_start(&tm, &loop, SCHD_MS(1), 0), 0);
    ausb_transfer_init(&c.t, 0);
    ausb_fill_interrupt(&c.t, &h, 0x83, c.buf, 8, AUSB_MS(1000), chain_next, &c);
    T_EQ(ausb_submit(&c.t), 0);
    T_EQ(schd_loop_run(&loop), 0);
    T_EQ(c.rounds, 10);
    T_EQ(c.failed, 0);
    T_EQ(c.timer_fired, 1);
    ausb_transfer_free(&c.t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
    schd_loop_close(&loop);
}

/* ---- a task awaiting transfers ---- */

typedef struct job {
    schd_task task;
    ausb_handle *h;
    ausb_transfer t;
    schd_completion done;
    unsigned char out[32], in[64];
    int step_status[4];
    int in_len;
} job;

static int talk(schd_task *task)
{
    job *j = SCHD_CONTAINER_OF(task, job, task);
    SCHD_TASK_BEGIN(task);
    memcpy(j->out, "sched and usb", 13);
    ausb_fill_bulk(&j->t, j->h, 0x01, j->out, 13, AUSB_MS(1000), NULL, NULL);
    if (ausb_submit_completion(&j->t, &j->done) < 0) SCHD_TASK_EXIT(task, -1);
    SCHD_AWAIT_COMPLETION(task, &j->done);
    j->step_status[0] = SCHD_STATUS(task);

    ausb_fill_bulk(&j->t, j->h, 0x81, j->in, 64, AUSB_MS(1000), NULL, NULL);
    if (ausb_submit_completion(&j->t, &j->done) < 0) SCHD_TASK_EXIT(task, -1);
    SCHD_AWAIT_COMPLETION(task, &j->done);
    j->step_status[1] = SCHD_STATUS(task);
    j->in_len = j->t.actual_length;

    ausb_fill_bulk(&j->t, j->h, 0x82, j->in, 64, AUSB_MS(1000), NULL, NULL);
    if (ausb_submit_completion(&j->t, &j->done) < 0) SCHD_TASK_EXIT(task, -1);
    SCHD_AWAIT_COMPLETION(task, &j->done);
    j->step_status[2] = SCHD_STATUS(task);

    ausb_fill_bulk(&j->t, j->h, 0x84, j->in, 64, AUSB_MS(20), NULL, NULL);
    if (ausb_submit_completion(&j->t, &j->done) < 0) SCHD_TASK_EXIT(task, -1);
    SCHD_AWAIT_COMPLETION(task, &j->done);
    j->step_status[3] = SCHD_STATUS(task);
    SCHD_TASK_END(task);
}

static void remove_source(schd_task *task, int result, void *ud)
{
    (void)task;
    (void)result;
    schd_source_remove((schd_source *)ud);
}

static void test_task_awaits_transfers_and_sees_their_outcomes(void)
{
    schd_loop loop;
    schd_source src;
    ausb_ctx ctx;
    ausb_handle h;
    static job j;
    memset(&j, 0, sizeof j);
    T_EQ(schd_loop_init(&loop), 0);
    T_EQ(open_dev1(&ctx, &h), 0);
    T_EQ(ausb_attach(&ctx, &loop, &src), 0);
    j.h = &h;
    ausb_transfer_init(&j.t, 0);
    T_EQ(schd_task_start(&j.task, &loop, talk, NULL), 0);
    schd_task_on_done(&j.task, remove_source, &src);
    T_EQ(schd_loop_run(&loop), 0);
    T_EQ(schd_task_result(&j.task), 0);
    T_EQ(j.step_status[0], 0);
    T_EQ(j.step_status[1], 0);
    T_EQ(j.in_len, 13);
    T_MEMEQ(j.in, "sched and usb", 13);
    T_EQ(j.step_status[2], AUSB_ESTALL);
    T_EQ(j.step_status[3], -ETIMEDOUT);
    ausb_transfer_free(&j.t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
    schd_loop_close(&loop);
}

/* A cancelled task cancels its transfer in its finally block and waits for
 * the transfer's single callback before it ends. */
static int wait_forever(schd_task *task)
{
    job *j = SCHD_CONTAINER_OF(task, job, task);
    SCHD_TASK_BEGIN(task);
    ausb_fill_bulk(&j->t, j->h, 0x84, j->in, 64, 0, NULL, NULL);
    if (ausb_submit_completion(&j->t, &j->done) < 0) SCHD_TASK_EXIT(task, -1);
    SCHD_AWAIT_COMPLETION(task, &j->done);
    j->step_status[0] = 1;                /* never reached */
    SCHD_TASK_FINALLY(task);
    ausb_cancel(&j->t);
    SCHD_AWAIT_COMPLETION(task, &j->done);
    j->step_status[1] = SCHD_STATUS(task);
    SCHD_TASK_END(task);
}

/* Cancels the task once its transfer is in flight (a slow start under
 * valgrind must not let the cancel land before the submit). */
static void cancel_task(schd_timer *tm, void *ud)
{
    job *j = (job *)ud;
    if (ausb_transfer_state(&j->t) != AUSB_XFER_INFLIGHT) {
        schd_timer_start(tm, j->task.loop, SCHD_MS(1), 0);
        return;
    }
    schd_task_cancel(&j->task);
}

static void test_cancelled_task_cancels_its_transfer(void)
{
    schd_loop loop;
    schd_source src;
    schd_timer tm;
    ausb_ctx ctx;
    ausb_handle h;
    static job j;
    memset(&j, 0, sizeof j);
    T_EQ(schd_loop_init(&loop), 0);
    T_EQ(open_dev1(&ctx, &h), 0);
    T_EQ(ausb_attach(&ctx, &loop, &src), 0);
    j.h = &h;
    ausb_transfer_init(&j.t, 0);
    T_EQ(schd_task_start(&j.task, &loop, wait_forever, NULL), 0);
    schd_task_on_done(&j.task, remove_source, &src);
    schd_timer_init(&tm, cancel_task, &j);
    T_EQ(schd_timer_start(&tm, &loop, SCHD_MS(5), 0), 0);
    T_EQ(schd_loop_run(&loop), 0);
    T_EQ(j.step_status[0], 0);
    T_EQ(j.step_status[1], -ECANCELED);
    T_EQ(ausb_transfer_state(&j.t), AUSB_XFER_IDLE);
    T_EQ(usbf_pending(&dev1), 0);
    ausb_transfer_free(&j.t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
    schd_loop_close(&loop);
}

/* ---- the await bridge: AUSB_AWAIT_TRANSFER and AUSB_AWAIT_STRING ---- */

typedef struct aw {
    schd_task task;
    ausb_handle *h;
    ausb_transfer t, u;
    ausb_string_req req;
    unsigned char in[64];
    int st[8], len[4];
    char name[400];
} aw;

static int await_steps(schd_task *task)
{
    aw *a = SCHD_CONTAINER_OF(task, aw, task);
    SCHD_TASK_BEGIN(task);
    ausb_fill_interrupt(&a->t, a->h, 0x83, a->in, 8, AUSB_MS(1000), NULL, NULL);
    AUSB_AWAIT_TRANSFER(task, &a->t);                      /* completes at once */
    a->st[0] = SCHD_STATUS(task);
    a->len[0] = a->t.actual_length;
    ausb_fill_bulk(&a->t, a->h, 0x82, a->in, 64, AUSB_MS(1000), NULL, NULL);
    AUSB_AWAIT_TRANSFER(task, &a->t);                      /* stalls */
    a->st[1] = SCHD_STATUS(task);
    ausb_fill_bulk(&a->t, a->h, 0x84, a->in, 64, 0, NULL, NULL);
    schd_task_timeout(task, SCHD_MS(30));
    AUSB_AWAIT_TRANSFER(task, &a->t);                      /* held: the await gives up */
    a->st[2] = SCHD_STATUS(task);
    AUSB_AWAIT_TRANSFER(task, &a->t);                      /* the same transfer again, while it comes back */
    a->st[3] = SCHD_STATUS(task);
    a->len[1] = a->t.actual_length;
    AUSB_AWAIT_STRING(task, &a->req, a->h, 2, AUSB_MS(1000));   /* the product */
    a->st[4] = SCHD_STATUS(task);
    snprintf(a->name, sizeof a->name, "%s", ausb_string_text(&a->req));
    AUSB_AWAIT_STRING(task, &a->req, a->h, 9, AUSB_MS(1000));   /* index 9 always stalls */
    a->st[5] = SCHD_STATUS(task);
    SCHD_TASK_END(task);
}

/* Completes the held transfer once the task awaits it the second time. */
static void release_later(schd_timer *tm, void *ud)
{
    aw *a = (aw *)ud;
    if (a->st[2] == 0 || usbf_release_held(&dev1, 7) == 0) schd_timer_start(tm, a->task.loop, SCHD_MS(2), 0);
}

static void test_task_awaits_transfers_through_the_bridge(void)
{
    schd_loop loop;
    schd_source src;
    schd_timer tm;
    ausb_ctx ctx;
    ausb_handle h;
    static aw a;
    memset(&a, 0, sizeof a);
    T_EQ(schd_loop_init(&loop), 0);
    T_EQ(open_dev1(&ctx, &h), 0);
    T_EQ(ausb_attach(&ctx, &loop, &src), 0);
    a.h = &h;
    ausb_transfer_init(&a.t, 0);
    T_EQ(schd_task_start(&a.task, &loop, await_steps, NULL), 0);
    schd_task_on_done(&a.task, remove_source, &src);
    schd_timer_init(&tm, release_later, &a);
    T_EQ(schd_timer_start(&tm, &loop, SCHD_MS(2), 0), 0);
    T_EQ(schd_loop_run(&loop), 0);
    schd_timer_stop(&tm, &loop);
    T_EQ(a.st[0], 0);
    T_EQ(a.len[0], 8);
    T_EQ(a.st[1], AUSB_ESTALL);
    T_EQ(a.st[2], -ETIMEDOUT);
    T_EQ(a.st[3], 0);                                     /* resubmitted once it was back */
    T_EQ(a.len[1], 7);
    T_EQ(a.st[4], 0);
    T_STREQ(a.name, "Loop Gadget");
    T_EQ(a.st[5], AUSB_ESTALL);
    T_EQ(ausb_transfer_state(&a.t), AUSB_XFER_IDLE);
    T_EQ(usbf_pending(&dev1), 0);
    ausb_transfer_free(&a.t);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
    schd_loop_close(&loop);
}

/* A cancelled task's transfer is taken back: the finally block uses the
 * handle again at once. */
static int await_cancelled(schd_task *task)
{
    aw *a = SCHD_CONTAINER_OF(task, aw, task);
    SCHD_TASK_BEGIN(task);
    ausb_fill_bulk(&a->t, a->h, 0x84, a->in, 64, 0, NULL, NULL);
    AUSB_AWAIT_TRANSFER(task, &a->t);
    a->st[0] = 1;                                         /* never reached */
    SCHD_TASK_FINALLY(task);
    a->st[1] = SCHD_STATUS(task);
    ausb_fill_interrupt(&a->u, a->h, 0x83, a->in, 8, AUSB_MS(1000), NULL, NULL);
    AUSB_AWAIT_TRANSFER(task, &a->u);
    a->st[2] = SCHD_STATUS(task);
    SCHD_TASK_END(task);
}

static void cancel_when_in_flight(schd_timer *tm, void *ud)
{
    aw *a = (aw *)ud;
    if (ausb_transfer_state(&a->t) != AUSB_XFER_INFLIGHT) {
        schd_timer_start(tm, a->task.loop, SCHD_MS(1), 0);
        return;
    }
    schd_task_cancel(&a->task);
}

static void test_cancel_mid_transfer_leaves_the_handle_usable(void)
{
    schd_loop loop;
    schd_source src;
    schd_timer tm;
    ausb_ctx ctx;
    ausb_handle h;
    static aw a;
    memset(&a, 0, sizeof a);
    T_EQ(schd_loop_init(&loop), 0);
    T_EQ(open_dev1(&ctx, &h), 0);
    T_EQ(ausb_attach(&ctx, &loop, &src), 0);
    a.h = &h;
    ausb_transfer_init(&a.t, 0);
    ausb_transfer_init(&a.u, 0);
    T_EQ(schd_task_start(&a.task, &loop, await_cancelled, NULL), 0);
    schd_task_on_done(&a.task, remove_source, &src);
    schd_timer_init(&tm, cancel_when_in_flight, &a);
    T_EQ(schd_timer_start(&tm, &loop, SCHD_MS(2), 0), 0);
    T_EQ(schd_loop_run(&loop), 0);
    T_EQ(a.st[0], 0);
    T_EQ(a.st[1], -ECANCELED);
    T_EQ(a.st[2], 0);
    while (ausb_transfer_state(&a.t) != AUSB_XFER_IDLE) ausb_run_once(&ctx, AUSB_MS(10));   /* the cancel comes back */
    T_EQ(usbf_pending(&dev1), 0);
    ausb_transfer_free(&a.t);
    ausb_transfer_free(&a.u);
    ausb_close(&h);
    ausb_ctx_close(&ctx);
    schd_loop_close(&loop);
}

int main(void)
{
#ifdef AWAIT_USB_FIRST
    t_suite("usb_sched_usbfirst");
#else
    t_suite("usb_sched");
#endif
    usbf_init();
    dev1.desc_len = usbf_std_descriptors(dev1.desc, 0x1234, 0x0001);
    dev1.strings[2] = "Loop Gadget";
    usbf_add(&dev1, "/devices/fake/usb1/1-2", 1, 5, 480);
    T_RUN(test_transfers_and_timers_share_the_sched_loop);
    T_RUN(test_task_awaits_transfers_and_sees_their_outcomes);
    T_RUN(test_cancelled_task_cancels_its_transfer);
    T_RUN(test_task_awaits_transfers_through_the_bridge);
    T_RUN(test_cancel_mid_transfer_leaves_the_handle_usable);
    usbf_done();
    return t_done();
}
