/* tests/usb_sched.c - asyncusb on the sched.h loop (shape 2) and sched.h
 * tasks awaiting transfers.  Run under umockdev-wrapper. */
#define ASYNCKIT_IMPLEMENTATION
#include "sched.h"
#include "asyncusb.h"
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

int main(void)
{
    t_suite("usb_sched");
    usbf_init();
    dev1.desc_len = usbf_std_descriptors(dev1.desc, 0x1234, 0x0001);
    usbf_add(&dev1, "/devices/fake/usb1/1-2", 1, 5, 480);
    T_RUN(test_transfers_and_timers_share_the_sched_loop);
    T_RUN(test_task_awaits_transfers_and_sees_their_outcomes);
    T_RUN(test_cancelled_task_cancels_its_transfer);
    usbf_done();
    return t_done();
}
