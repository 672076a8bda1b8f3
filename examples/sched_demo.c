/* sched_demo - three jobs at fixed rates (80 Hz, 15 Hz, every 0.5 s) on one
 * loop, then one line of statistics per job.
 *
 *   cc -std=c99 -O2 -I. -o build/sched_demo examples/sched_demo.c
 *   build/sched_demo SECONDS        (a decimal number, more than 0, at most 86400;
 *                                    anything else: the usage line, exit 2)
 *
 * Output, one line per job:
 *   job NAME hz=H runs=N late_max_us=L overruns=O
 */
#define SCHD_IMPLEMENTATION
#include "sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The display job is a task: it "draws" in two steps with a pause between,
 * so a slow frame shows up as an overrun instead of a second frame at once. */
struct display { schd_task task; unsigned frames; };

static int draw_frame(schd_task *t)
{
    struct display *d = SCHD_CONTAINER_OF(t, struct display, task);
    SCHD_TASK_BEGIN(t);
    d->frames++;
    SCHD_AWAIT_DELAY(t, SCHD_MS(2));
    SCHD_TASK_END(t);
}

static unsigned button_samples, sensor_reads;
static void sample_button(schd_job *job, void *ud) { (void)job; (void)ud; button_samples++; }
static void read_sensor(schd_job *job, void *ud) { (void)job; (void)ud; sensor_reads++; }

static void on_time_up(schd_timer *t, void *ud) { (void)t; schd_loop_stop((schd_loop *)ud); }

static void report(const char *name, const schd_job *job)
{
    printf("job %s hz=%.2f runs=%llu late_max_us=%lld overruns=%llu\n", name,
           schd_rate_hz(job->rate), (unsigned long long)job->runs,
           (long long)(job->late_max / 1000), (unsigned long long)job->overruns);
}

/* A decimal number in (0, max], nothing before or after it; else -1. */
static double seconds_arg(const char *text, double max)
{
    char *end;
    double v;
    if ((*text < '0' || *text > '9') && *text != '.') return -1;
    v = strtod(text, &end);
    return *end || !(v > 0 && v <= max) ? -1 : v;
}

int main(int argc, char **argv)
{
    schd_loop loop;
    schd_job button, display, sensor;
    struct display disp;
    schd_timer stop;
    double seconds;
    int rc;

    if (argc != 2 || (seconds = seconds_arg(argv[1], 86400)) <= 0) {
        fprintf(stderr, "usage: sched_demo SECONDS\n");
        return 2;
    }
    if ((rc = schd_loop_init(&loop)) < 0) {
        fprintf(stderr, "sched_demo: %s\n", schd_strerror(rc));
        return 1;
    }
    /* jobs and tasks start from zeroed storage */
    memset(&button, 0, sizeof button);
    memset(&display, 0, sizeof display);
    memset(&sensor, 0, sizeof sensor);
    memset(&disp, 0, sizeof disp);
    schd_timer_init(&stop, on_time_up, &loop);
    rc = schd_job_start(&button, &loop, schd_hz(80), sample_button, NULL);
    if (rc == 0) rc = schd_job_start_task(&display, &loop, schd_hz(15), &disp.task, draw_frame, NULL);
    if (rc == 0) rc = schd_job_start(&sensor, &loop, schd_period(SCHD_MS(500)), read_sensor, NULL);
    if (rc == 0) rc = schd_timer_start(&stop, &loop, (int64_t)(seconds * 1e9), 0);
    if (rc == 0) rc = schd_loop_run(&loop);
    if (rc == 0) {
        report("button", &button);
        report("display", &display);
        report("sensor", &sensor);
    } else {
        fprintf(stderr, "sched_demo: %s\n", schd_strerror(rc));
    }
    schd_job_stop(&button);
    schd_job_stop(&display);
    schd_job_stop(&sensor);
    schd_loop_close(&loop);
    return rc < 0 ? 1 : 0;
}
