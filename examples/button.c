/* button - the pushbutton debouncer fed with a script of levels, printing
 * the events it recognises: press, release, click, double, long.
 *
 *   cc -std=c99 -O2 -I. -o build/button examples/button.c
 *   build/button            runs a built-in script (bounces, a click, a
 *                           double press, a long press)
 *   build/button -          reads the script from stdin
 *
 * A script is a list of "LEVEL MILLISECONDS" pairs: the raw contact level
 * (1 pressed, 0 released) and how long it holds.  Anything else in it (a
 * word, a lone number) is an error, exit status 1; an argument other than
 * "-" prints the usage line, exit status 2.  The script plays on a
 * virtual clock, so the output is the same on every run.
 */
#define SCHD_IMPLEMENTATION
#include "sched.h"

#include <stdio.h>
#include <string.h>

static int64_t virtual_now;
static int64_t virtual_clock(void *ud) { (void)ud; return virtual_now; }

static void on_event(schd_button *b, int event, void *ud)
{
    (void)ud;
    printf("%6lld ms  %s\n", (long long)(schd_loop_now(b->loop) / 1000000), schd_button_event_name(event));
}

/* Holds the level for ms milliseconds, one loop iteration per millisecond;
 * 0, or the error of an iteration. */
static int hold(schd_loop *loop, schd_button *b, int level, long ms)
{
    long i;
    int r;
    schd_button_feed(b, level);
    for (i = 0; i < ms; i++) {
        virtual_now += SCHD_MS(1);
        if ((r = schd_loop_run_once(loop, 0)) < 0) return r;
    }
    return 0;
}

static const char builtin[] =
    "1 2 0 1 1 3 0 1 1 120 0 2 1 1 0 600\n"   /* a bouncy click */
    "1 90 0 120 1 80 0 700\n"                 /* a double press */
    "1 1300 0 500\n";                         /* a long press */

int main(int argc, char **argv)
{
    schd_loop loop;
    schd_button b;
    const char *p = builtin;
    int level, n, r, from_stdin = argc > 1 && strcmp(argv[1], "-") == 0;
    long ms;

    if (argc > 2 || (argc > 1 && !from_stdin)) {
        fprintf(stderr, "usage: button [-]\n");
        return 2;
    }
    if ((r = schd_loop_init(&loop)) < 0) {
        fprintf(stderr, "button: %s\n", schd_strerror(r));
        return 1;
    }
    schd_loop_set_clock(&loop, virtual_clock, NULL);
    if ((r = schd_button_init(&b, &loop, NULL, on_event, NULL)) < 0) {
        fprintf(stderr, "button: %s\n", schd_strerror(r));
        schd_loop_close(&loop);
        return 1;
    }
    for (;;) {
        int got;
        if (from_stdin) {
            got = scanf("%d %ld", &level, &ms);
        } else {
            got = sscanf(p, "%d %ld%n", &level, &ms, &n);
            if (got == 2) p += n;
        }
        if (got == EOF) break;
        if (got != 2) {  /* junk, or a level without its time */
            fprintf(stderr, "button: bad script: want LEVEL MILLISECONDS pairs\n");
            schd_loop_close(&loop);
            return 1;
        }
        if ((level != 0 && level != 1) || ms < 0 || ms > 3600000) {
            fprintf(stderr, "button: bad step \"%d %ld\" (want LEVEL 0|1 and MILLISECONDS)\n", level, ms);
            schd_loop_close(&loop);
            return 1;
        }
        if ((r = hold(&loop, &b, level, ms)) < 0) {
            fprintf(stderr, "button: %s\n", schd_strerror(r));
            schd_loop_close(&loop);
            return 1;
        }
    }
    schd_button_stop(&b);
    schd_loop_close(&loop);
    return 0;
}
