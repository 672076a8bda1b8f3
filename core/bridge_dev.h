/* ==== asynckit dev-sched bridge begin ==== */
/* sched.h tasks await asyncdev.h's operations.  sched.h and asyncdev.h
 * both carry this block (stamped from core/bridge_dev.h by
 * tools/stamp_core.sh); whichever of the two comes second in a file
 * compiles it, with static functions, in every file that includes both.
 *
 *   ADEV_AWAIT_LINE_EVENT(t, req, evp)    the next edge of a line request:
 *                                         SCHD_STATUS(t) 0 and *evp, or an error
 *   ADEV_AWAIT_INPUT_EVENT(t, in, evp)    the next event of an input device
 *   ADEV_AWAIT_DELAY(t, d)                until the retriggerable delay fires
 *                                         (0), or is stopped (-ECANCELED)
 *
 * evp must stay valid until the await ends.  A timeout (schd_task_timeout)
 * or a schd_task_cancel ends the await and takes the read or wait back: no
 * event is lost (one not yet delivered stays for the next read), and the
 * request, device or delay stays usable.  A request or device being
 * watched refuses the await with -EBUSY. */
#if defined(SCHD_H_INCLUDED) && defined(ASYNCDEV_H) && !defined(AKC_BRIDGE_DEV)
#define AKC_BRIDGE_DEV 1
#include <errno.h>

#define ADEV_AWAIT_LINE_EVENT(t, req, evp)  SCHD_AWAIT_(t, adev__await_line((t), (req), (evp)))
#define ADEV_AWAIT_INPUT_EVENT(t, in, evp)  SCHD_AWAIT_(t, adev__await_input((t), (in), (evp)))
#define ADEV_AWAIT_DELAY(t, d)              SCHD_AWAIT_(t, adev__await_delay((t), (d)))

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ADEV__BRIDGE static __attribute__((unused))
#else
#define ADEV__BRIDGE static
#endif

static void adev__await_line_done(adev_lines *req, int status, const adev_line_event *ev, void *ud)
{
    (void)ev;
    schd_task_op_end((schd_task *)ud, req, status);
}

static void adev__await_input_done(adev_input *in, int status, const adev_input_event *ev, void *ud)
{
    (void)ev;
    schd_task_op_end((schd_task *)ud, in, status);
}

static void adev__await_withdraw_read(schd_task *t, void *op)
{
    (void)t;
    adev__read_withdraw((adev__src *)op);   /* both kinds start with their adev__src */
}

ADEV__BRIDGE int adev__await_line(schd_task *t, adev_lines *req, adev_line_event *ev)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = adev_lines_read(req, ev, adev__await_line_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, req, adev__await_withdraw_read);
}

ADEV__BRIDGE int adev__await_input(schd_task *t, adev_input *in, adev_input_event *ev)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = adev_input_read(in, ev, adev__await_input_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, in, adev__await_withdraw_read);
}

static void adev__await_delay_done(adev_delay *d, int status, void *ud)
{
    schd_task_op_end((schd_task *)ud, d, status);
}

static void adev__await_withdraw_delay(schd_task *t, void *op)
{
    (void)t;
    adev__delay_unwait((adev_delay *)op);
}

ADEV__BRIDGE int adev__await_delay(schd_task *t, adev_delay *d)
{
    int r;
    if (schd_task_op_enter(t)) return 1;
    r = adev_delay_wait(d, adev__await_delay_done, t);
    if (r < 0) return schd_task_op_failed(t, r);
    return schd_task_op_begin(t, d, adev__await_withdraw_delay);
}

/* A context as a source of a schd_loop: schd_source_add with
 * adev_prepare and adev_dispatch. */
ADEV__BRIDGE int adev_attach(adev_ctx *ctx, schd_loop *loop, schd_source *src)
{
    if (!ctx || !loop || !src) return -EINVAL;
    return schd_source_add(src, loop, adev_prepare, adev_dispatch, ctx);
}

#ifdef __cplusplus
}
#endif
#endif /* AKC_BRIDGE_DEV */
/* ==== asynckit dev-sched bridge end ==== */
