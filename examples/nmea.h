/* nmea.h - the NMEA 0183 parser of examples/gps_logger.c, on its own so that
 * tests/fuzz/fuzz_nmea.c can feed it hostile lines and tests/gps_test.c can
 * check it value by value.
 *
 * No I/O, no allocation, no floating point, no locale: every number is read
 * digit by digit into a scaled integer, so "4807.038" means the same on
 * every machine and a test can compare decoded values exactly.  All
 * functions are static: include it in one file.
 *
 *     nmea_sentence s;
 *     nmea_fix epoch, done;
 *     nmea_fix_init(&epoch);
 *     for each line read from the port (with or without its CR LF):
 *         if (nmea_parse(&s, line, len) == NMEA_OK && nmea_fix_feed(&epoch, &s, &done)
 *             && nmea_fix_valid(&done))
 *             print done.lat_e7, done.lon_e7, ...
 *
 * What a line must be (anything else gets a negative code, below):
 *  - bytes before the last '$' of the line are skipped (noise, or the tail
 *    of a sentence the reader came in on) and counted in `skipped`;
 *  - from that '$' to the end, with the CR LF counted whether the line had
 *    both or only the LF, at most NMEA_MAX_SENTENCE bytes (82, the
 *    standard's limit; define it before including this file to allow
 *    more): NMEA_ETOOLONG;
 *  - printable ASCII only (NMEA_ENOTNMEA for a control character or a byte
 *    above 0x7e, or no '$' at all);
 *  - a checksum: '*' and two hex digits (either case) end the sentence,
 *    the XOR of every byte between '$' and '*'.  A sentence without one is
 *    refused (NMEA_ENOCHECKSUM), not trusted: RMC and GGA carry one from
 *    every receiver made this century, and a line that lost its end to
 *    noise looks exactly like one that never had it.  Anything else after
 *    the '*', or a sum that differs: NMEA_ECHECKSUM;
 *  - an address of a two-letter talker and a three-letter type.  Talkers
 *    GP (GPS), GL (GLONASS), GA (Galileo), GB and BD (BeiDou), GQ (QZSS),
 *    GI (NavIC) and GN (several systems) with the types RMC and GGA are
 *    decoded; every other well-formed sentence, proprietary ones ($P...)
 *    included, is NMEA_EUNKNOWN: not a fault of the data, only nothing
 *    this parser reads.  An address of another shape: NMEA_ENOTNMEA;
 *  - RMC and GGA fields as the standard writes them; a field that breaks
 *    its rule, or a count of fields other than RMC's 11 to 13 (NMEA 2.0 to
 *    4.1) and GGA's 14, is NMEA_EFIELD, with the 1-based number of the
 *    field (the first after the address is 1) in `field`.
 *
 * Fields (an empty field is allowed everywhere but in RMC's status and
 * GGA's quality, and leaves its NMEA_HAVE_ bit clear):
 *  - time hhmmss[.s...]: hour 0-23, minute 0-59, second 0-60 (a leap
 *    second); the fraction is kept to the millisecond, further digits cut;
 *  - date ddmmyy: a day that exists in that month; yy 80-99 are 1980-1999,
 *    00-79 are 2000-2079;
 *  - latitude ddmm[.m...] with N or S, longitude dddmm[.m...] with E or W
 *    (exactly 2 and 3 degree digits, minutes below 60, at most 90 and 180
 *    degrees): both present or both empty; kept as lat_e7 and lon_e7,
 *    degrees times 10^7 rounded to the nearest (1.1 cm), south and west
 *    negative;
 *  - numbers are digits, optionally a point and at least one digit more
 *    (a sign only where one belongs: altitude and geoid separation); kept
 *    scaled (speed_e3: 1/1000 knot, course_e2 and magvar_e2: 1/100 degree,
 *    hdop_e2: 1/100, alt_mm and geoid_mm: millimetres), rounded half away
 *    from zero at the first digit dropped; units of altitude and geoid
 *    separation 'M';
 *  - RMC: status A (valid) or V, speed, course 0-360, magnetic variation
 *    up to 180 with E or W (west negative), then optionally the mode
 *    (A D E F M N P R S) and the navigational status (A C S U V);
 *  - GGA: quality 0-8, satellites 1 to 3 digits, HDOP up to 9999.99,
 *    altitude within 1,000 km, geoid separation within 10 km, the age of
 *    differential data (a number) and the station id (0-1023).
 *
 * The fix (nmea_fix) gathers what one epoch, a time of fix, told: RMC and
 * GGA of the same time merge into one; see nmea_fix_feed.
 */
#ifndef NMEA_H
#define NMEA_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef NMEA_MAX_SENTENCE
#define NMEA_MAX_SENTENCE 82   /* '$' to the line end, CR LF included */
#endif
#define NMEA_MAX_FIELDS 24     /* more than RMC and GGA ever have */

#if defined(__GNUC__)
#define NMEA_FN static __attribute__((unused))
#else
#define NMEA_FN static
#endif
#define NMEA_PRIVATE NMEA_FN

enum {
    NMEA_OK = 0,
    NMEA_ENOTNMEA = -1,     /* no '$', a control or non-ASCII byte, a bad address */
    NMEA_ETOOLONG = -2,     /* more than NMEA_MAX_SENTENCE bytes from '$' */
    NMEA_ENOCHECKSUM = -3,  /* no '*' */
    NMEA_ECHECKSUM = -4,    /* the sum differs, or '*' is not followed by two hex digits */
    NMEA_EUNKNOWN = -5,     /* a good sentence of a talker or type not decoded here */
    NMEA_EFIELD = -6        /* RMC or GGA with a malformed field: see `field` */
};

/* Sentence types, also bits of nmea_fix.seen. */
enum { NMEA_RMC = 1, NMEA_GGA = 2 };

/* Which values a sentence or an epoch carried (the others are 0). */
enum {
    NMEA_HAVE_TIME = 1 << 0,
    NMEA_HAVE_DATE = 1 << 1,    /* RMC */
    NMEA_HAVE_POS = 1 << 2,     /* lat_e7 and lon_e7 */
    NMEA_HAVE_SPEED = 1 << 3,   /* RMC */
    NMEA_HAVE_COURSE = 1 << 4,  /* RMC */
    NMEA_HAVE_MAGVAR = 1 << 5,  /* RMC */
    NMEA_HAVE_SATS = 1 << 6,    /* GGA */
    NMEA_HAVE_HDOP = 1 << 7,    /* GGA */
    NMEA_HAVE_ALT = 1 << 8,     /* GGA */
    NMEA_HAVE_GEOID = 1 << 9    /* GGA */
};

typedef struct nmea_time { int hour, minute, second, ms; } nmea_time;  /* UTC */
typedef struct nmea_date { int year, month, day; } nmea_date;

/* The values the two decoded types carry; nmea_sentence and nmea_fix
 * share it. */
#define NMEA__VALUES \
    unsigned have;           /* NMEA_HAVE_* */ \
    nmea_time time; \
    nmea_date date; \
    int32_t lat_e7, lon_e7;  /* degrees * 10^7; south, west negative */ \
    char status;             /* RMC: 'A' valid, 'V' warning; 0 without RMC */ \
    char mode;               /* RMC mode indicator (NMEA 2.3), 0 when absent */ \
    int quality;             /* GGA: 0 no fix, 1 GPS, 2 DGPS, ... 8 simulation */ \
    int sats;                /* GGA: satellites in use */ \
    int32_t hdop_e2;         /* GGA: horizontal dilution of precision * 100 */ \
    int32_t alt_mm;          /* GGA: altitude above mean sea level */ \
    int32_t geoid_mm;        /* GGA: geoid separation */ \
    int32_t speed_e3;        /* RMC: speed over ground, knots * 1000 */ \
    int32_t course_e2;       /* RMC: course over ground, degrees true * 100 */ \
    int32_t magvar_e2;       /* RMC: magnetic variation, degrees * 100, west negative */

typedef struct nmea_sentence {
    int type;                /* NMEA_RMC, NMEA_GGA; 0 when not decoded */
    char talker[3];          /* "GP", "GN", ... (also for NMEA_EUNKNOWN) */
    char address[8];         /* "GPRMC"; a proprietary address cut to 7 bytes */
    int field;               /* NMEA_EFIELD: the field at fault, 1-based */
    size_t skipped;          /* bytes before the '$' */
    NMEA__VALUES
} nmea_sentence;

/* One epoch: every RMC and GGA of one time of fix, merged. */
typedef struct nmea_fix {
    unsigned seen;           /* NMEA_RMC | NMEA_GGA: what this epoch got */
    int reported;            /* handed out by nmea_fix_feed or nmea_fix_flush */
    NMEA__VALUES
} nmea_fix;

/* ==== section: characters and numbers ==== */

NMEA_PRIVATE int nmea__digit(char c) { return c >= '0' && c <= '9'; }

NMEA_PRIVATE int nmea__hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

NMEA_PRIVATE int nmea__upper(char c) { return c >= 'A' && c <= 'Z'; }

/* n decimal digits exactly, as a number; -1 when one is not a digit. */
NMEA_PRIVATE long nmea__digits(const char *p, size_t n)
{
    long v = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        if (!nmea__digit(p[i])) return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* "[-]digits[.digits]" in units of 10^-scale, rounded half away from zero
 * at the first digit dropped; 0, or -1 when malformed or above max. */
NMEA_PRIVATE int nmea__fixed(const char *p, size_t n, int scale, int sign_ok, int64_t max, int64_t *out)
{
    int64_t v = 0;
    size_t i = 0;
    int neg = 0, whole = 0, frac = 0, round_up = 0;
    if (n > 0 && p[0] == '-' && sign_ok) { neg = 1; i++; }
    for (; i < n && nmea__digit(p[i]); i++) {
        if (++whole + scale > 18) return -1;   /* v stays below 10^18 */
        v = v * 10 + (p[i] - '0');
    }
    if (whole == 0) return -1;
    if (i < n && p[i] == '.') {
        if (++i == n) return -1;
        for (; i < n && nmea__digit(p[i]); i++, frac++) {
            if (frac < scale) v = v * 10 + (p[i] - '0');
            else if (frac == scale) round_up = p[i] >= '5';
        }
    }
    if (i != n) return -1;
    for (; frac < scale; frac++) v *= 10;
    v += round_up;
    if (v > max) return -1;
    *out = neg ? -v : v;
    return 0;
}

/* ==== section: fields ==== */

typedef struct nmea__field { const char *p; size_t n; } nmea__field;

/* hhmmss[.s...]; the fraction to the millisecond. */
NMEA_PRIVATE int nmea__time(const nmea__field *f, nmea_time *t)
{
    size_t i;
    int ms = 0, k = 0;
    if (f->n < 6 || nmea__digits(f->p, 6) < 0) return -1;
    t->hour = (int)nmea__digits(f->p, 2);
    t->minute = (int)nmea__digits(f->p + 2, 2);
    t->second = (int)nmea__digits(f->p + 4, 2);
    if (t->hour > 23 || t->minute > 59 || t->second > 60) return -1;
    if (f->n > 6) {
        if (f->p[6] != '.' || f->n == 7) return -1;
        for (i = 7; i < f->n; i++) {
            if (!nmea__digit(f->p[i])) return -1;
            if (k < 3) { ms = ms * 10 + (f->p[i] - '0'); k++; }
        }
        for (; k < 3; k++) ms *= 10;
    }
    t->ms = ms;
    return 0;
}

NMEA_PRIVATE int nmea__date(const nmea__field *f, nmea_date *d)
{
    static const char days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap;
    if (f->n != 6 || nmea__digits(f->p, 6) < 0) return -1;
    d->day = (int)nmea__digits(f->p, 2);
    d->month = (int)nmea__digits(f->p + 2, 2);
    d->year = (int)nmea__digits(f->p + 4, 2);
    d->year += d->year >= 80 ? 1900 : 2000;
    if (d->month < 1 || d->month > 12 || d->day < 1 || d->day > days[d->month - 1]) return -1;
    leap = d->year % 4 == 0 && (d->year % 100 != 0 || d->year % 400 == 0);
    return d->month == 2 && d->day == 29 && !leap ? -1 : 0;
}

/* One letter of `set`, or empty (*c = 0). */
NMEA_PRIVATE int nmea__letter(const nmea__field *f, const char *set, char *c)
{
    *c = 0;
    if (f->n == 0) return 0;
    if (f->n != 1 || !nmea__upper(f->p[0]) || !strchr(set, f->p[0])) return -1;
    *c = f->p[0];
    return 0;
}

/* An angle of `deg_digits` degree digits and two of minutes, with its
 * hemisphere letter: degrees * 10^7, negative for `neg`.  Returns 0, 1
 * when the number is at fault, 2 when the letter is. */
NMEA_PRIVATE int nmea__angle(const nmea__field *v, const nmea__field *h, int deg_digits, char pos, char neg,
                             int32_t *out)
{
    const int64_t e9 = 1000000000;
    int64_t raw, deg, min_e9;
    size_t whole = 0;
    while (whole < v->n && v->p[whole] != '.') whole++;
    if (whole != (size_t)deg_digits + 2 || nmea__fixed(v->p, v->n, 9, 0, INT64_MAX, &raw) < 0) return 1;
    deg = raw / (100 * e9);
    min_e9 = raw % (100 * e9);
    if (min_e9 >= 60 * e9) return 1;
    /* minutes / 60 in units of 10^-7 degree, rounded: min_e9 * 10^7 / (60 * 10^9) */
    raw = deg * 10000000 + (min_e9 + 3000) / 6000;
    if (raw > (deg_digits == 2 ? 90 : 180) * (int64_t)10000000) return 1;
    if (h->n != 1 || (h->p[0] != pos && h->p[0] != neg)) return 2;
    *out = (int32_t)(h->p[0] == neg ? -raw : raw);
    return 0;
}

/* A scaled number into *out (with `bit` in *have), or an empty field. */
NMEA_PRIVATE int nmea__number(const nmea__field *f, int scale, int sign_ok, int64_t max, int32_t *out,
                              unsigned *have, unsigned bit)
{
    int64_t v;
    if (f->n == 0) return 0;
    if (nmea__fixed(f->p, f->n, scale, sign_ok, max, &v) < 0) return -1;
    *out = (int32_t)v;
    *have |= bit;
    return 0;
}

/* ==== section: RMC and GGA ==== */

/* Each decoder returns 0, or the 1-based number of the field at fault. */

NMEA_PRIVATE int nmea__position(nmea_sentence *s, const nmea__field *f)
{
    int bad;
    if (f[0].n == 0 && f[1].n == 0 && f[2].n == 0 && f[3].n == 0) return 0;
    if ((bad = nmea__angle(&f[0], &f[1], 2, 'N', 'S', &s->lat_e7)) != 0) return bad;
    if ((bad = nmea__angle(&f[2], &f[3], 3, 'E', 'W', &s->lon_e7)) != 0) return bad + 2;
    s->have |= NMEA_HAVE_POS;
    return 0;
}

NMEA_PRIVATE int nmea__rmc(nmea_sentence *s, const nmea__field *f, int n)
{
    int bad;
    char c;
    int64_t var;
    if (n < 11) return n + 1;
    if (n > 13) return 14;
    if (f[0].n) { if (nmea__time(&f[0], &s->time) < 0) return 1; s->have |= NMEA_HAVE_TIME; }
    if (nmea__letter(&f[1], "AV", &s->status) < 0 || !s->status) return 2;
    if ((bad = nmea__position(s, &f[2])) != 0) return bad + 2;
    if (nmea__number(&f[6], 3, 0, 99999999, &s->speed_e3, &s->have, NMEA_HAVE_SPEED) < 0) return 7;
    if (nmea__number(&f[7], 2, 0, 36000, &s->course_e2, &s->have, NMEA_HAVE_COURSE) < 0) return 8;
    if (f[8].n) { if (nmea__date(&f[8], &s->date) < 0) return 9; s->have |= NMEA_HAVE_DATE; }
    if (f[9].n || f[10].n) {
        if (!f[9].n || nmea__fixed(f[9].p, f[9].n, 2, 0, 18000, &var) < 0) return 10;
        if (nmea__letter(&f[10], "EW", &c) < 0 || !c) return 11;
        s->magvar_e2 = (int32_t)(c == 'W' ? -var : var);
        s->have |= NMEA_HAVE_MAGVAR;
    }
    if (n >= 12 && nmea__letter(&f[11], "ADEFMNPRS", &s->mode) < 0) return 12;
    if (n == 13 && nmea__letter(&f[12], "ACSUV", &c) < 0) return 13;
    return 0;
}

/* A unit field after a number: 'M' when the number is there, 'M' or
 * empty when it is not. */
NMEA_PRIVATE int nmea__metres(const nmea__field *num, const nmea__field *unit)
{
    if (unit->n == 0) return num->n == 0 ? 0 : -1;
    return unit->n == 1 && unit->p[0] == 'M' ? 0 : -1;
}

NMEA_PRIVATE int nmea__gga(nmea_sentence *s, const nmea__field *f, int n)
{
    int bad;
    int64_t v;
    if (n != 14) return n < 14 ? n + 1 : 15;
    if (f[0].n) { if (nmea__time(&f[0], &s->time) < 0) return 1; s->have |= NMEA_HAVE_TIME; }
    if ((bad = nmea__position(s, &f[1])) != 0) return bad + 1;
    if (f[5].n != 1 || !nmea__digit(f[5].p[0]) || f[5].p[0] > '8') return 6;
    s->quality = f[5].p[0] - '0';
    if (f[6].n) {
        if (f[6].n > 3 || nmea__digits(f[6].p, f[6].n) < 0) return 7;
        s->sats = (int)nmea__digits(f[6].p, f[6].n);
        s->have |= NMEA_HAVE_SATS;
    }
    if (nmea__number(&f[7], 2, 0, 999999, &s->hdop_e2, &s->have, NMEA_HAVE_HDOP) < 0) return 8;
    if (nmea__number(&f[8], 3, 1, 1000000000, &s->alt_mm, &s->have, NMEA_HAVE_ALT) < 0) return 9;
    if (nmea__metres(&f[8], &f[9]) < 0) return 10;
    if (nmea__number(&f[10], 3, 1, 10000000, &s->geoid_mm, &s->have, NMEA_HAVE_GEOID) < 0) return 11;
    if (nmea__metres(&f[10], &f[11]) < 0) return 12;
    if (f[12].n && nmea__fixed(f[12].p, f[12].n, 0, 0, 99999, &v) < 0) return 13;
    if (f[13].n && (f[13].n > 4 || nmea__digits(f[13].p, f[13].n) < 0 || nmea__digits(f[13].p, f[13].n) > 1023))
        return 14;
    return 0;
}

/* ==== section: the sentence ==== */

/* The checked frame: body is what lies between '$' and '*'. */
NMEA_PRIVATE int nmea__frame(nmea_sentence *s, const char *line, size_t len, const char **body, size_t *n)
{
    size_t start, i, star = 0;
    unsigned sum = 0;
    int hi, lo;
    if (len > 0 && line[len - 1] == '\n') len--;
    if (len > 0 && line[len - 1] == '\r') len--;
    for (i = len; i > 0 && line[i - 1] != '$'; i--) {}
    if (i == 0) return NMEA_ENOTNMEA;
    start = i - 1;
    s->skipped = start;
    if (len - start + 2 > NMEA_MAX_SENTENCE) return NMEA_ETOOLONG;
    for (i = start + 1; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c > 0x7e) return NMEA_ENOTNMEA;
        if (c == '*' && !star) star = i;
        if (!star) sum ^= c;
    }
    if (!star) return NMEA_ENOCHECKSUM;
    if (len - star != 3) return NMEA_ECHECKSUM;
    hi = nmea__hex(line[star + 1]);
    lo = nmea__hex(line[star + 2]);
    if (hi < 0 || lo < 0 || (unsigned)(hi * 16 + lo) != sum) return NMEA_ECHECKSUM;
    *body = line + start + 1;
    *n = star - start - 1;
    return NMEA_OK;
}

/* The talker and the type from the address; NMEA_EUNKNOWN for what is not
 * decoded here. */
NMEA_PRIVATE int nmea__address(nmea_sentence *s, const char *p, size_t n)
{
    static const char talkers[] = "GP GL GA GB BD GQ GI GN";
    size_t i;
    for (i = 0; i < n && i < sizeof s->address - 1; i++) s->address[i] = p[i];
    s->address[i] = 0;
    for (i = 0; i < n; i++) if (!nmea__upper(p[i]) && !nmea__digit(p[i])) return NMEA_ENOTNMEA;
    if (n >= 2 && p[0] == 'P') { s->talker[0] = 'P'; return NMEA_EUNKNOWN; }   /* proprietary */
    if (n != 5 || !nmea__upper(p[0]) || !nmea__upper(p[1])) return NMEA_ENOTNMEA;
    s->talker[0] = p[0];
    s->talker[1] = p[1];
    for (i = 0; i + 2 <= sizeof talkers; i += 3)
        if (talkers[i] == p[0] && talkers[i + 1] == p[1]) break;
    if (i + 2 > sizeof talkers) return NMEA_EUNKNOWN;
    if (memcmp(p + 2, "RMC", 3) == 0) s->type = NMEA_RMC;
    else if (memcmp(p + 2, "GGA", 3) == 0) s->type = NMEA_GGA;
    else return NMEA_EUNKNOWN;
    return NMEA_OK;
}

/* Parses one line (its CR LF or LF may be there or not) into *s: NMEA_OK
 * or a negative NMEA_E* code.  *s is cleared first; after an error, talker,
 * address, field and skipped say what is known. */
NMEA_FN int nmea_parse(nmea_sentence *s, const char *line, size_t len)
{
    nmea__field f[NMEA_MAX_FIELDS];
    const char *body = NULL;
    size_t n = 0, i, from;
    int r, count = 0, bad;
    memset(s, 0, sizeof *s);
    if ((r = nmea__frame(s, line, len, &body, &n)) != NMEA_OK) return r;
    for (i = 0; i < n && body[i] != ','; i++) {}
    if ((r = nmea__address(s, body, i)) != NMEA_OK) return r;
    /* the fields after the address, split at every comma */
    for (from = i + 1; from <= n; from = i + 1) {
        for (i = from; i < n && body[i] != ','; i++) {}
        if (count == NMEA_MAX_FIELDS) { count++; break; }
        f[count].p = body + from;
        f[count].n = i - from;
        count++;
    }
    bad = s->type == NMEA_RMC ? nmea__rmc(s, f, count) : nmea__gga(s, f, count);
    if (bad) {
        nmea_sentence keep = *s;   /* what the address said; no half-decoded values */
        memset(s, 0, sizeof *s);
        memcpy(s->talker, keep.talker, sizeof s->talker);
        memcpy(s->address, keep.address, sizeof s->address);
        s->skipped = keep.skipped;
        s->field = bad;
        return NMEA_EFIELD;
    }
    return NMEA_OK;
}

NMEA_FN const char *nmea_strerror(int code)
{
    switch (code) {
    case NMEA_OK: return "ok";
    case NMEA_ENOTNMEA: return "not an NMEA sentence";
    case NMEA_ETOOLONG: return "sentence too long";
    case NMEA_ENOCHECKSUM: return "no checksum";
    case NMEA_ECHECKSUM: return "bad checksum";
    case NMEA_EUNKNOWN: return "sentence not decoded";
    case NMEA_EFIELD: return "malformed field";
    default: return "unknown NMEA result";
    }
}

/* ==== section: the fix ==== */

NMEA_FN void nmea_fix_init(nmea_fix *fix) { memset(fix, 0, sizeof *fix); }

NMEA_PRIVATE int nmea__same_time(const nmea_fix *fix, const nmea_sentence *s)
{
    if ((fix->have ^ s->have) & NMEA_HAVE_TIME) return 0;
    return !(s->have & NMEA_HAVE_TIME) || (fix->time.hour == s->time.hour && fix->time.minute == s->time.minute &&
                                           fix->time.second == s->time.second && fix->time.ms == s->time.ms);
}

NMEA_PRIVATE void nmea__merge(nmea_fix *fix, const nmea_sentence *s)
{
    unsigned h = s->have;
    fix->have |= h;
    fix->seen |= (unsigned)s->type;
    if (h & NMEA_HAVE_TIME) fix->time = s->time;
    if (h & NMEA_HAVE_POS) { fix->lat_e7 = s->lat_e7; fix->lon_e7 = s->lon_e7; }
    if (s->type == NMEA_RMC) {
        fix->status = s->status;
        fix->mode = s->mode;
        if (h & NMEA_HAVE_DATE) fix->date = s->date;
        if (h & NMEA_HAVE_SPEED) fix->speed_e3 = s->speed_e3;
        if (h & NMEA_HAVE_COURSE) fix->course_e2 = s->course_e2;
        if (h & NMEA_HAVE_MAGVAR) fix->magvar_e2 = s->magvar_e2;
    } else {
        fix->quality = s->quality;
        if (h & NMEA_HAVE_SATS) fix->sats = s->sats;
        if (h & NMEA_HAVE_HDOP) fix->hdop_e2 = s->hdop_e2;
        if (h & NMEA_HAVE_ALT) fix->alt_mm = s->alt_mm;
        if (h & NMEA_HAVE_GEOID) fix->geoid_mm = s->geoid_mm;
    }
}

/* Adds a decoded RMC or GGA to the epoch in *fix (anything else changes
 * nothing).  A sentence of another time, or of a type the epoch already
 * has, starts a new epoch; values never carry over from one epoch to the
 * next.  Returns 1 when an epoch is complete, copied to *done and marked
 * reported: the current one as soon as it has both RMC and GGA, or the one
 * this sentence ended if it had not been reported (a receiver that sends
 * only one of the two gets each epoch when the next one begins).  0
 * otherwise.  Each epoch is handed out at most once. */
NMEA_FN int nmea_fix_feed(nmea_fix *fix, const nmea_sentence *s, nmea_fix *done)
{
    int out = 0;
    if (s->type != NMEA_RMC && s->type != NMEA_GGA) return 0;
    if ((fix->seen & (unsigned)s->type) || (fix->seen && !nmea__same_time(fix, s))) {
        if (!fix->reported) { *done = *fix; done->reported = 1; out = 1; }
        memset(fix, 0, sizeof *fix);
    }
    nmea__merge(fix, s);
    if (!out && !fix->reported && fix->seen == (NMEA_RMC | NMEA_GGA)) {
        fix->reported = 1;
        *done = *fix;
        out = 1;
    }
    return out;
}

/* Hands out the current epoch if it has something not yet reported (when
 * the receiver falls silent, or at the end): 1 and *done, else 0. */
NMEA_FN int nmea_fix_flush(nmea_fix *fix, nmea_fix *done)
{
    if (!fix->seen || fix->reported) return 0;
    fix->reported = 1;
    *done = *fix;
    return 1;
}

/* 1 when the epoch has a position and every sentence of it says the fix
 * is good: RMC status A with a mode other than N (not valid), GGA quality
 * above 0. */
NMEA_FN int nmea_fix_valid(const nmea_fix *fix)
{
    if (!fix->seen || !(fix->have & NMEA_HAVE_POS)) return 0;
    if ((fix->seen & NMEA_RMC) && (fix->status != 'A' || fix->mode == 'N')) return 0;
    if ((fix->seen & NMEA_GGA) && fix->quality == 0) return 0;
    return 1;
}

#endif /* NMEA_H */
