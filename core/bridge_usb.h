/* ==== asynckit usb-sched bridge begin ==== */
/* sched.h tasks await asyncusb.h's operations.  sched.h and asyncusb.h
 * both carry this block (stamped from core/bridge_usb.h by
 * tools/stamp_core.sh); whichever of the two comes second in a file
 * compiles it, with static functions, in every file that includes both.
 *
 *   AUSB_AWAIT_TRANSFER(t, xfer)       submits a filled transfer and waits
 *                                      for it: SCHD_STATUS(t) is its status,
 *                                      xfer->actual_length what moved
 *   AUSB_AWAIT_STRING(t, req, h, index, timeout_ns)   a string descriptor:
 *                                      SCHD_STATUS(t) 0 and the text in
 *                                      ausb_string_text(req), or an error
 *
 * Both take over the transfer's (or request's) callback.  A timeout set
 * with schd_task_timeout or a schd_task_cancel ends the await at once
 * (-ETIMEDOUT, -ECANCELED) and cancels the transfer; the kernel gives it
 * back later, and awaiting the same transfer again before then resubmits
 * it as soon as it is back, so the handle and the transfer stay usable. */
#if defined(SCHD_H_INCLUDED) && defined(ASYNCUSB_H) && !defined(AUSB_NO_LIBUSB) && !defined(AKC_BRIDGE_USB)
#define AKC_BRIDGE_USB 1
#include <errno.h>

#define AUSB_AWAIT_TRANSFER(t, xfer) SCHD_AWAIT_(t, ausb__await_transfer((t), (xfer)))
#define AUSB_AWAIT_STRING(t, req, h, index, timeout_ns) \
    SCHD_AWAIT_(t, ausb__await_string((t), (req), (h), (index), (timeout_ns)))

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define AUSB__BRIDGE static __attribute__((unused))
#else
#define AUSB__BRIDGE static
#endif

static void ausb__await_done(ausb_transfer *x, int status, void *ud)
{
    schd_task_op_end((schd_task *)ud, x, status);
}

/* A transfer whose await ended first comes back here.  ud is a task that
 * awaited it again meanwhile: it is submitted for that task now. */
static void ausb__await_returned(ausb_transfer *x, int status, void *ud)
{
    int r;
    (void)status;
    if (!ud) return;
    x->cb = ausb__await_done;
    if ((r = ausb_submit(x)) < 0) schd_task_op_end((schd_task *)ud, x, r);
}

static void ausb__await_withdraw_transfer(schd_task *t, void *op)
{
    ausb_transfer *x = (ausb_transfer *)op;
    (void)t;
    if (x->cb == ausb__await_returned) {   /* still on its way back: no resubmit */
        x->ud = NULL;
        return;
    }
    x->cb = ausb__await_returned;
    x->ud = NULL;
    (void)ausb_cancel(x);
}

AUSB__BRIDGE int ausb__await_transfer(schd_task *t, ausb_transfer *x)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    if (x && x->cb == ausb__await_returned && ausb_transfer_state(x) != AUSB_XFER_IDLE) {
        x->ud = t;   /* cancelled by an earlier await: resubmitted once it is back */
        return schd_task_op_begin(t, x, ausb__await_withdraw_transfer);
    }
    if (!x || !x->lt) return schd_task_op_failed(t, -EINVAL);
    if (ausb_transfer_state(x) != AUSB_XFER_IDLE) return schd_task_op_failed(t, -EBUSY);
    x->cb = ausb__await_done;
    x->ud = t;
    if ((r = ausb_submit(x)) < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, x, ausb__await_withdraw_transfer);
}

static void ausb__await_string_done(ausb_string_req *req, int status, const char *utf8, void *ud)
{
    (void)utf8;
    if (ud) schd_task_op_end((schd_task *)ud, req, status);
}

static void ausb__await_withdraw_string(schd_task *t, void *op)
{
    ausb_string_req *req = (ausb_string_req *)op;
    (void)t;
    req->ud = NULL;   /* its end reaches nobody */
    (void)ausb_cancel(&req->xfer);
}

AUSB__BRIDGE int ausb__await_string(schd_task *t, ausb_string_req *req, ausb_handle *h, int index, int64_t timeout_ns)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = ausb_read_string(req, h, index, timeout_ns, ausb__await_string_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, req, ausb__await_withdraw_string);
}

static void ausb__signal_completion(ausb_transfer *x, int status, void *ud)
{
    (void)x;
    (void)schd_completion_signal((schd_completion *)ud, status);
}

/* Initialises c, submits x, and signals c with x's status when it
 * completes (for SCHD_AWAIT_COMPLETION and gathers).  Replaces x's
 * callback and user pointer. */
AUSB__BRIDGE int ausb_submit_completion(ausb_transfer *x, schd_completion *c)
{
    if (!x || !c || !x->lt) return -EINVAL;
    if (ausb_transfer_state(x) != AUSB_XFER_IDLE) return -EBUSY;
    schd_completion_init(c);
    x->cb = ausb__signal_completion;
    x->ud = c;
    return ausb_submit(x);
}

/* schd_source_add(src, loop, ausb_prepare, ausb_dispatch, ctx) */
AUSB__BRIDGE int ausb_attach(ausb_ctx *ctx, schd_loop *loop, schd_source *src)
{
    if (!ctx || !ctx->lu) return -EINVAL;
    return schd_source_add(src, loop, ausb_prepare, ausb_dispatch, ctx);
}

#ifdef __cplusplus
}
#endif
#endif /* AKC_BRIDGE_USB */
/* ==== asynckit usb-sched bridge end ==== */
