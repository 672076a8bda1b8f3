/* gpio_counter - a pushbutton and a rotary encoder on GPIO lines driving a
 * counter.  Each detent of the encoder adds or takes one, a click of the
 * button sets the counter back to zero, a long press (1 s) ends the
 * program.  The contacts close to ground against the chip's pull-ups, so
 * the lines are active low; the button is debounced by sched.h from the
 * kernel's timestamps of its edges, so a busy loop judges it right.
 *
 *   cc -std=c99 -O2 -I. -o build/gpio_counter examples/gpio_counter.c
 *   build/gpio_counter CHIP BUTTON A B        e.g. gpiochip0 17 22 23
 *
 * Prints "count N" at every change, "reset" at a click, "lost N edges"
 * when the kernel's queue overflowed (the encoder then starts again from
 * the lines' levels), and "bye" at the long press.  Exit status 0 after
 * the long press, 1 when the lines cannot be had, 2 for bad arguments.
 */
#define ASYNCKIT_IMPLEMENTATION
#include "sched.h"
#include "asyncdev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

enum { BUTTON, ENC_A, ENC_B };

struct app {
    schd_loop loop;
    adev_ctx dev;
    adev_lines lines;
    schd_button button;
    adev_encoder encoder;
    long count;
};

static void restart_encoder(struct app *app)
{
    uint64_t bits = 0;
    long position = app->encoder.position;
    adev_lines_get(&app->lines, &bits);
    adev_encoder_init(&app->encoder, 4, (int)(bits >> ENC_A) & 1, (int)(bits >> ENC_B) & 1);
    app->encoder.position = position;
}

static void on_edge(adev_lines *req, int status, const adev_line_event *ev, void *ud)
{
    struct app *app = ud;
    (void)req;
    if (status == -ECANCELED) return;           /* the lines closed at the end */
    if (status < 0) {
        fprintf(stderr, "gpio_counter: %s\n", adev_strerror(status));
        schd_loop_stop(&app->loop);
        return;
    }
    if (ev->missed) {
        printf("lost %u edges\n", ev->missed);
        restart_encoder(app);
    }
    if (ev->index == BUTTON) {
        schd_button_feed_at(&app->button, ev->rising, ev->time_ns);
    } else if (!ev->missed) {
        int moved = adev_encoder_line(&app->encoder, ev->index - ENC_A, ev->rising);
        if (moved) printf("count %ld\n", app->count += moved);
    }
    fflush(stdout);
}

static void on_button(schd_button *b, int event, void *ud)
{
    struct app *app = ud;
    (void)b;
    if (event == SCHD_BTN_CLICK) {
        app->count = 0;
        printf("reset\n");
    } else if (event == SCHD_BTN_LONG) {
        printf("bye\n");
        schd_loop_stop(&app->loop);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static struct app app;
    schd_source source;
    schd_button_config press = schd_button_config_init();
    adev_line_config cfg;
    unsigned offsets[3];
    int i, r;

    if (argc != 5) {
        fprintf(stderr, "usage: gpio_counter CHIP BUTTON A B\n");
        return 2;
    }
    for (i = 0; i < 3; i++) offsets[i] = (unsigned)strtoul(argv[2 + i], NULL, 0);
    adev_line_config_init(&cfg);
    cfg.flags = ADEV_LINE_EDGE_BOTH | ADEV_LINE_PULL_UP | ADEV_LINE_ACTIVE_LOW;
    cfg.consumer = "gpio_counter";
    press.double_ns = 0;                        /* a click at each short press */
    if (schd_loop_init(&app.loop) != 0 || adev_ctx_init(&app.dev) != 0 ||
        adev_attach(&app.dev, &app.loop, &source) != 0) return 1;
    if ((r = adev_lines_open(&app.lines, &app.dev, argv[1], offsets, 3, &cfg)) != 0) {
        fprintf(stderr, "gpio_counter: %s lines %s %s %s: %s\n", argv[1], argv[2], argv[3], argv[4],
                adev_strerror(r));
        return 1;
    }
    restart_encoder(&app);
    schd_button_init(&app.button, &app.loop, &press, on_button, &app);
    adev_lines_watch(&app.lines, on_edge, &app);
    printf("counter on %s: button %u, encoder %u %u\n", argv[1], offsets[0], offsets[1], offsets[2]);
    fflush(stdout);
    schd_loop_run(&app.loop);
    schd_button_stop(&app.button);
    schd_source_remove(&source);
    adev_ctx_close(&app.dev);                   /* closes the lines */
    schd_loop_close(&app.loop);
    return 0;
}
