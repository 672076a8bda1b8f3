/* tools/fakegpio.h - a GPIO chip played through a named pipe, for trying
 * an asyncdev.h program without GPIO hardware or gpio-sim.  Built into the
 * program with -include, ahead of everything it includes:
 *
 *   cc -std=c99 -O2 -I. -include tools/fakegpio.h -o build/gpio_counter_fake examples/gpio_counter.c
 *   mkfifo /tmp/chip && build/gpio_counter_fake /tmp/chip 0 1 2 &
 *   echo "1 1" >/tmp/chip          line 1 becomes active (a contact closes)
 *   echo "1 0" >/tmp/chip          and inactive again
 *
 * A chip path that names a FIFO is the played chip (any other path is the
 * real one): every line "OFFSET LEVEL" written to it is an edge of that
 * line, timed when the program reads it, numbered as the kernel numbers
 * edges; a level equal to the line's present one makes no edge, as on a
 * real line.  Requested lines start inactive (a pulled-up, active-low
 * contact at rest).  Only what a program of inputs needs is played: one
 * request at a time, edges, levels, the request's close.  It replaces
 * asyncdev.h's system-call hooks (ADEV_SYS_OPEN, ADEV_SYS_IOCTL,
 * ADEV_SYS_READ) and needs <linux/gpio.h>. */
#ifndef FAKEGPIO_H
#define FAKEGPIO_H
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/gpio.h>

static struct {
    int chip, line;                      /* the FIFO as opened, and its request's copy */
    unsigned offsets[GPIO_V2_LINES_MAX], n, seqno, line_seqno[GPIO_V2_LINES_MAX];
    uint64_t levels;                     /* bit i: offsets[i] active */
    char text[64];                       /* a line of the FIFO being read */
    size_t len;
} fakegpio = {-1, -1, {0}, 0, 0, {0}, 0, {0}, 0};

static int fakegpio_open(const char *path, int flags)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISFIFO(st.st_mode)) return open(path, flags);
    /* read and write: the FIFO never reports an end when a writer leaves */
    fakegpio.chip = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    return fakegpio.chip;
}

static int fakegpio_ioctl(int fd, unsigned long request, void *arg)
{
    if (fd == fakegpio.chip && request == GPIO_V2_GET_LINE_IOCTL) {
        struct gpio_v2_line_request *r = arg;
        unsigned i;
        fakegpio.n = r->num_lines;
        for (i = 0; i < r->num_lines; i++) fakegpio.offsets[i] = r->offsets[i], fakegpio.line_seqno[i] = 0;
        fakegpio.levels = 0;
        fakegpio.seqno = 0;
        fakegpio.len = 0;
        r->fd = fakegpio.line = dup(fd);
        return r->fd < 0 ? -1 : 0;
    }
    if (fd == fakegpio.line && fd >= 0 && request == GPIO_V2_LINE_GET_VALUES_IOCTL) {
        struct gpio_v2_line_values *v = arg;
        v->bits = fakegpio.levels & v->mask;
        return 0;
    }
    return ioctl(fd, request, arg);
}

/* One edge from one text line "OFFSET LEVEL"; 0 when the line makes none. */
static int fakegpio_edge(struct gpio_v2_line_event *ev)
{
    unsigned offset, level, i;
    struct timespec now;
    fakegpio.text[fakegpio.len] = 0;
    fakegpio.len = 0;
    if (sscanf(fakegpio.text, "%u %u", &offset, &level) != 2) return 0;
    for (i = 0; i < fakegpio.n && fakegpio.offsets[i] != offset; i++) {}
    if (i == fakegpio.n || ((fakegpio.levels >> i) & 1) == (level != 0)) return 0;
    fakegpio.levels ^= (uint64_t)1 << i;
    clock_gettime(CLOCK_MONOTONIC, &now);
    memset(ev, 0, sizeof *ev);
    ev->timestamp_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    ev->id = level ? GPIO_V2_LINE_EVENT_RISING_EDGE : GPIO_V2_LINE_EVENT_FALLING_EDGE;
    ev->offset = offset;
    ev->seqno = ++fakegpio.seqno;
    ev->line_seqno = ++fakegpio.line_seqno[i];
    return 1;
}

/* The request's reads: text in, at most one event out per call. */
static ssize_t fakegpio_read(int fd, void *buf, size_t n)
{
    char c;
    if (fd != fakegpio.line || fd < 0) return read(fd, buf, n);
    if (n < sizeof(struct gpio_v2_line_event)) { errno = EINVAL; return -1; }
    while (read(fd, &c, 1) == 1) {
        if (c != '\n') {
            if (fakegpio.len < sizeof fakegpio.text - 1) fakegpio.text[fakegpio.len++] = c;
            continue;
        }
        if (fakegpio_edge(buf)) return (ssize_t)sizeof(struct gpio_v2_line_event);
    }
    errno = EAGAIN;
    return -1;
}

#define ADEV_SYS_OPEN(path, flags) fakegpio_open((path), (flags))
#define ADEV_SYS_IOCTL(fd, req, arg) fakegpio_ioctl((fd), (unsigned long)(req), (void *)(arg))
#define ADEV_SYS_READ(fd, buf, n) fakegpio_read((fd), (buf), (n))
#endif
