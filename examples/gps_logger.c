/* gps_logger.c - logs the fixes of a GPS module on a serial port.
 *
 *   cc -std=c99 -O2 -I. -o build/gps_logger examples/gps_logger.c -lpthread
 *
 * Usage: build/gps_logger [--silence SECONDS] [--duration SECONDS] [--count N] [--verbose] DEVICE BAUD
 *        e.g. build/gps_logger /dev/ttyACM0 9600
 *
 * Reads NMEA 0183 sentences line by line from the port (raw, 8N1), checks
 * their checksums, and keeps the position, time, fix quality and
 * satellites from RMC and GGA (examples/nmea.h, which
 * tests/fuzz/fuzz_nmea.c fuzzes; the quoted #include finds it next to this
 * file).  The RMC and GGA of one time of fix make one epoch, and each
 * epoch with a good fix prints one line on stdout:
 *
 *   fix 1994-03-23 12:35:19.000 lat 48.1173000 lon 11.5166667 alt 545.400 m quality 1 sats 8 hdop 0.90 speed 22.400 kn course 84.40
 *
 * (date and time UTC, "-" when the epoch had none; degrees, south and west
 * negative; the values of a sentence the epoch lacked are left out).  When
 * the fix goes, "fix lost"; when no sentence with a good checksum came for
 * the silence time, "no data for SECONDS s", and "data again" once one
 * comes.  Lines of noise, bad checksums, sentences other than RMC and GGA
 * are skipped; a line over 128 bytes is skipped up to its end.  With
 * --verbose each line skipped is named on stdout ("skip bad checksum:
 * $GPRMC,..."), its bytes escaped: printable ASCII as it is, a backslash
 * as \\, anything else as \xHH, so that nothing the device sends reaches
 * the terminal raw.  On exit stderr gets a count of the lines by outcome.
 *
 * Options (SECONDS: digits, optionally a point and 1 to 3 more; N: digits):
 *   --silence SECONDS   quiet time before "no data" (default 5; 0.001 to 86400)
 *   --duration SECONDS  stop after this long (default: never; 0.001 to 9999999)
 *   --count N           stop after N fixes (default: never; 1 to 1000000000)
 *   --verbose           name every line skipped
 * BAUD is a rate in decimal digits (1 to 4000000; the port refuses rates
 * it does not have).  Anything else: the usage line, exit 2.
 *
 * Exit status: 0 after --count fixes, at the end of --duration, or on
 * SIGINT / SIGTERM; 1 when the device cannot be opened or read (an error,
 * a hang-up) or when --duration ran out without one good sentence (wrong
 * baud rate, not a GPS); 2 for bad arguments.
 */
#define _GNU_SOURCE 1
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmea.h"

#define LINE_LIMIT 128   /* bytes read for one line; a sentence has at most 82 */

static const char *usage_line =
    "usage: gps_logger [--silence SECONDS] [--duration SECONDS] [--count N] [--verbose] DEVICE BAUD\n";

static struct {
    int64_t silence_ns, duration_ns;   /* duration 0: none */
    const char *silence_text;          /* as given, for the "no data" line */
    long count;                        /* 0: none */
    int verbose;
    const char *device;
} opt;

static aios_ctx ctx;
static aios_stream *port;
static aios_signal sigint, sigterm;
static int64_t started, last_data;     /* CLOCK_MONOTONIC ns; last_data: the last good sentence */
static int silent;                     /* "no data" said, nothing good since */
static int skipping;                   /* inside a line longer than LINE_LIMIT */
static int got_data, had_fix, stopping, exit_code;
static long fixes, outcomes[7];        /* outcomes[-code]: lines by nmea_parse result */
static nmea_fix epoch;

static void finish(int code)
{
    if (stopping) return;
    stopping = 1;
    exit_code = code;
    aios_stop(&ctx);
}

static void fail(const char *what, int err)
{
    if (err == -ECANCELED) return;   /* the context closing after a stop */
    fprintf(stderr, "gps_logger: %s: %s: %s\n", opt.device, what, aios_strerror(err));
    finish(1);
}

/* ---- output ---- */

/* v / 10^scale with exactly `scale` decimals, no floating point. */
static void print_fixed(const char *label, long long v, int scale, const char *unit)
{
    long long div = 1, a = v < 0 ? -v : v;
    int i;
    for (i = 0; i < scale; i++) div *= 10;
    printf(" %s %s%lld.%0*lld%s", label, v < 0 ? "-" : "", a / div, scale, a % div, unit);
}

static void print_fix(const nmea_fix *f)
{
    if (f->have & NMEA_HAVE_DATE) printf("fix %04d-%02d-%02d", f->date.year, f->date.month, f->date.day);
    else printf("fix -");
    if (f->have & NMEA_HAVE_TIME)
        printf(" %02d:%02d:%02d.%03d", f->time.hour, f->time.minute, f->time.second, f->time.ms);
    else printf(" -");
    print_fixed("lat", f->lat_e7, 7, "");
    print_fixed("lon", f->lon_e7, 7, "");
    if (f->have & NMEA_HAVE_ALT) print_fixed("alt", f->alt_mm, 3, " m");
    if (f->seen & NMEA_GGA) printf(" quality %d", f->quality);
    if (f->have & NMEA_HAVE_SATS) printf(" sats %d", f->sats);
    if (f->have & NMEA_HAVE_HDOP) print_fixed("hdop", f->hdop_e2, 2, "");
    if (f->have & NMEA_HAVE_SPEED) print_fixed("speed", f->speed_e3, 3, " kn");
    if (f->have & NMEA_HAVE_COURSE) print_fixed("course", f->course_e2, 2, "");
    printf("\n");
}

/* One line per epoch with a good fix; "fix lost" when one without follows. */
static void report(const nmea_fix *f)
{
    if (stopping) return;
    if (!nmea_fix_valid(f)) {
        if (had_fix) printf("fix lost\n");
        had_fix = 0;
        return;
    }
    had_fix = 1;
    print_fix(f);
    if (++fixes == opt.count) finish(0);
}

/* The device chose these bytes: only printable ASCII goes out as it is. */
static void print_escaped(const char *p, size_t n)
{
    size_t i;
    if (n > 0 && p[n - 1] == '\n') n--;
    if (n > 0 && p[n - 1] == '\r') n--;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\\') printf("\\\\");
        else if (c >= 0x20 && c < 0x7f) putchar(c);
        else printf("\\x%02x", c);
    }
}

static void say_skipped(int code, const nmea_sentence *s, const char *p, size_t n)
{
    if (!opt.verbose) return;
    if (code == NMEA_EFIELD) printf("skip malformed field %d of %s: ", s->field, s->address);
    else printf("skip %s: ", nmea_strerror(code));
    print_escaped(p, n);
    printf("\n");
}

/* ---- reading ---- */

static void on_line(aios_stream *s, int status, void *ud);

/* The next line, bounded by the silence time (unless "no data" was said)
 * and by the duration. */
static void next_line(void)
{
    int64_t now = aios_now_ns(), until = INT64_MAX;
    int r;
    if (stopping) return;
    if (!silent) until = last_data + opt.silence_ns;
    if (opt.duration_ns && started + opt.duration_ns < until) until = started + opt.duration_ns;
    r = aios_set_timeouts(port, until == INT64_MAX ? 0 : until > now ? until - now : 1, 0);
    if (r == 0) r = aios_read_until(port, "\n", 1, LINE_LIMIT, on_line, NULL);
    if (r < 0) fail("read", r);
}

/* A read timed out: the duration ran out, or the module fell silent. */
static void on_quiet(void)
{
    int64_t now = aios_now_ns();
    nmea_fix done;
    if (opt.duration_ns && now >= started + opt.duration_ns) {
        if (nmea_fix_flush(&epoch, &done)) report(&done);
        if (!got_data) fprintf(stderr, "gps_logger: %s: no NMEA data\n", opt.device);
        finish(got_data ? 0 : 1);
    } else if (!silent && now >= last_data + opt.silence_ns) {
        if (nmea_fix_flush(&epoch, &done)) report(&done);
        printf("no data for %s s\n", opt.silence_text);
        silent = 1;
    }
}

static void take_line(const char *p, size_t n)
{
    nmea_sentence s;
    nmea_fix done;
    int r = nmea_parse(&s, p, n);
    outcomes[-r]++;
    if (r == NMEA_OK || r == NMEA_EUNKNOWN || r == NMEA_EFIELD) {   /* the checksum was good */
        last_data = aios_now_ns();
        got_data = 1;
        if (silent) printf("data again\n");
        silent = 0;
    }
    if (r != NMEA_OK) say_skipped(r, &s, p, n);
    else if (nmea_fix_feed(&epoch, &s, &done)) report(&done);
}

static void on_line(aios_stream *s, int status, void *ud)
{
    size_t n;
    const char *p = aios_data(s, &n);
    (void)ud;
    if (status == -ETIMEDOUT) {
        on_quiet();
    } else if (status == AIOS_ETOOLONG) {
        if (!skipping && opt.verbose) {
            printf("skip line over %d bytes: ", LINE_LIMIT);
            print_escaped(p, LINE_LIMIT);
            printf("...\n");
        }
        if (!skipping) outcomes[-NMEA_ETOOLONG]++;
        skipping = 1;   /* until the next newline */
        aios_consume(s, LINE_LIMIT);
    } else if (status == AIOS_EINCOMPLETE) {   /* the end of the stream */
        fprintf(stderr, "gps_logger: %s: the port hung up\n", opt.device);
        finish(1);
        return;
    } else if (status < 0) {
        fail("read", status);   /* a pseudo-terminal may report its hang-up as EIO */
        return;
    } else {
        if (!skipping) take_line(p, (size_t)status);
        skipping = 0;
        aios_consume(s, (size_t)status);
    }
    next_line();
}

/* SIGINT and SIGTERM come through the loop (no handler): a clean stop. */
static void on_signal(aios_signal *sig, const aios_siginfo *info, void *ud)
{
    (void)sig; (void)info; (void)ud;
    finish(0);
}

/* ---- the command line ---- */

/* Digits, optionally a point and 1 to 3 more, from 0.001 to max_s: 0 and
 * *ns, or -1. */
static int seconds(const char *t, long max_s, int64_t *ns)
{
    long long ms = 0;
    int whole = 0, frac = -1;
    for (; *t; t++) {
        if (*t == '.' && frac < 0 && whole > 0) { frac = 0; continue; }
        if (*t < '0' || *t > '9' || frac == 3 || whole == 9) return -1;
        ms = ms * 10 + (*t - '0');
        if (frac >= 0) frac++; else whole++;
    }
    if (whole == 0 || frac == 0) return -1;
    for (frac = frac < 0 ? 0 : frac; frac < 3; frac++) ms *= 10;
    if (ms < 1 || ms > max_s * 1000LL) return -1;
    *ns = (int64_t)ms * 1000000;
    return 0;
}

/* lo..hi in decimal digits, or -1. */
static long decimal(const char *text, long lo, long hi)
{
    char *end;
    long v;
    if (*text < '0' || *text > '9') return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    return *end || errno || v < lo || v > hi ? -1 : v;
}

/* 0 when the options and arguments are good; *baud set. */
static int parse_args(int argc, char **argv, long *baud)
{
    int i = 1;
    opt.silence_ns = AIOS_SEC(5);
    opt.silence_text = "5";
    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        const char *name = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(name, "--verbose") == 0) { opt.verbose = 1; i++; continue; }
        if (!val) return -1;
        if (strcmp(name, "--silence") == 0) {
            if (seconds(val, 86400, &opt.silence_ns) < 0) return -1;
            opt.silence_text = val;
        } else if (strcmp(name, "--duration") == 0) {
            if (seconds(val, 9999999, &opt.duration_ns) < 0) return -1;
        } else if (strcmp(name, "--count") == 0) {
            if ((opt.count = decimal(val, 1, 1000000000)) < 0) return -1;
        } else {
            return -1;
        }
        i += 2;
    }
    if (argc - i != 2 || !*argv[i] || (*baud = decimal(argv[i + 1], 1, 4000000)) < 0) return -1;
    opt.device = argv[i];
    return 0;
}

static int start(long baud)
{
    int r;
    const char *what = "open";
    aios_signal_init(&sigint, on_signal, NULL);
    aios_signal_init(&sigterm, on_signal, NULL);
    r = aios_serial_open(&port, &ctx, opt.device, (int)baud);
    if (r == 0) { what = "signals"; r = aios_signal_start(&sigint, &ctx, SIGINT); }
    if (r == 0) r = aios_signal_start(&sigterm, &ctx, SIGTERM);
    if (r < 0) { fail(what, r); return r; }
    started = last_data = aios_now_ns();
    next_line();
    return 0;
}

int main(int argc, char **argv)
{
    long baud = 0;
    int r;
    if (parse_args(argc, argv, &baud) < 0) {
        fputs(usage_line, stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);   /* each line as it happens, into a pipe too */
    if ((r = aios_ctx_init(&ctx)) < 0) {
        fprintf(stderr, "gps_logger: %s\n", aios_strerror(r));
        return 1;
    }
    nmea_fix_init(&epoch);
    if (start(baud) == 0 && !stopping && (r = aios_run(&ctx)) < 0) fail("loop", r);
    if (port)
        fprintf(stderr, "gps_logger: lines: %ld decoded, %ld not decoded, %ld bad checksum, %ld no checksum, "
                "%ld too long, %ld malformed, %ld not NMEA; fixes: %ld\n",
                outcomes[-NMEA_OK], outcomes[-NMEA_EUNKNOWN], outcomes[-NMEA_ECHECKSUM], outcomes[-NMEA_ENOCHECKSUM],
                outcomes[-NMEA_ETOOLONG], outcomes[-NMEA_EFIELD], outcomes[-NMEA_ENOTNMEA], fixes);
    aios_ctx_close(&ctx);   /* stops the watchers: the signal mask as it was */
    return exit_code;
}
