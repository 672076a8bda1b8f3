/* Fuzz target: the NMEA 0183 parser of examples/gps_logger.c
 * (examples/nmea.h), on what a broken or hostile receiver may send.
 *
 * Input: a mode byte, then bytes.
 *  - Every input: the bytes after the mode byte are cut at each LF into
 *    lines, and each line is parsed from a heap copy of exactly its length
 *    (ASan sees any read past it).  The verdict must agree with a reference
 *    of the framing rules written separately here (the last '$', at most
 *    82 bytes from it with CR LF, printable ASCII, '*' and two hex digits
 *    that match, an address of two letters and three, or 'P' and more);
 *    where the reference finds a GNSS RMC or GGA the parser must say
 *    NMEA_OK or NMEA_EFIELD.  A decoded sentence keeps every value in its
 *    range, every value whose NMEA_HAVE_ bit is clear at 0; a refused one
 *    keeps none.  Every decoded sentence goes through nmea_fix_feed: each
 *    epoch that begins is handed out exactly once (counting the final
 *    flush), and what is handed out holds only its own sentences.
 *  - mode & 1: an RMC and a GGA built from the bytes (every field drawn in
 *    its range, with 0 to 7 decimals, empty fields, both hemispheres, any
 *    GNSS talker), written as a receiver would, must decode to exactly the
 *    values computed here with a formula of their own (whole rationals,
 *    rounded half up), or be refused as too long when they pass 82 bytes;
 *    every cut of them short of the line end is refused, and so is every
 *    change of one byte after the '$' to another printable character but
 *    '$' (NMEA_ECHECKSUM; NMEA_ENOCHECKSUM for the '*'), the case of a
 *    checksum's hex letter aside.  The two, fed in either order, make one epoch
 *    with the values of both.
 */
#include "examples/nmea.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

/* ---- the reference: the framing rules ---- */

enum { REF_DECODE = 1 };   /* beyond the NMEA_ codes: a GNSS RMC or GGA, fields unchecked */

static int ref_frame(const unsigned char *p, size_t n)
{
    static const char *gnss[] = {"GP", "GL", "GA", "GB", "BD", "GQ", "GI", "GN"};
    size_t dollar = 0, i, star, alen;
    int found = 0, k, sum = 0, h1, h2;
    const unsigned char *a;
    if (n && p[n - 1] == '\n') n--;
    if (n && p[n - 1] == '\r') n--;
    for (i = 0; i < n; i++) if (p[i] == '$') { dollar = i; found = 1; }
    if (!found) return NMEA_ENOTNMEA;
    if (n - dollar + 2 > 82) return NMEA_ETOOLONG;
    for (i = dollar + 1; i < n; i++) if (p[i] < 32 || p[i] > 126) return NMEA_ENOTNMEA;
    for (star = dollar + 1; star < n && p[star] != '*'; star++) sum ^= p[star];
    if (star == n) return NMEA_ENOCHECKSUM;
    if (n - star != 3) return NMEA_ECHECKSUM;
    h1 = strchr("0123456789ABCDEFabcdef", p[star + 1]) && p[star + 1] ? p[star + 1] : -1;
    h2 = strchr("0123456789ABCDEFabcdef", p[star + 2]) && p[star + 2] ? p[star + 2] : -1;
    if (h1 < 0 || h2 < 0) return NMEA_ECHECKSUM;
    h1 = h1 <= '9' ? h1 - '0' : (h1 | 32) - 'a' + 10;
    h2 = h2 <= '9' ? h2 - '0' : (h2 | 32) - 'a' + 10;
    if (h1 * 16 + h2 != sum) return NMEA_ECHECKSUM;
    a = p + dollar + 1;
    for (alen = 0; a + alen < p + star && a[alen] != ','; alen++)
        if (!((a[alen] >= 'A' && a[alen] <= 'Z') || (a[alen] >= '0' && a[alen] <= '9'))) return NMEA_ENOTNMEA;
    if (alen >= 2 && a[0] == 'P') return NMEA_EUNKNOWN;
    if (alen != 5 || a[0] < 'A' || a[0] > 'Z' || a[1] < 'A' || a[1] > 'Z') return NMEA_ENOTNMEA;
    for (k = 0; k < 8; k++) if (a[0] == gnss[k][0] && a[1] == gnss[k][1]) break;
    if (k == 8) return NMEA_EUNKNOWN;
    return memcmp(a + 2, "RMC", 3) == 0 || memcmp(a + 2, "GGA", 3) == 0 ? REF_DECODE : NMEA_EUNKNOWN;
}

/* ---- what any sentence must look like ---- */

static int days_in(int year, int month)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    return d[month - 1] + (month == 2 && leap);
}

static void check_values(const nmea_sentence *s)
{
    unsigned rmc = NMEA_HAVE_TIME | NMEA_HAVE_DATE | NMEA_HAVE_POS | NMEA_HAVE_SPEED | NMEA_HAVE_COURSE |
                   NMEA_HAVE_MAGVAR;
    unsigned gga = NMEA_HAVE_TIME | NMEA_HAVE_POS | NMEA_HAVE_SATS | NMEA_HAVE_HDOP | NMEA_HAVE_ALT | NMEA_HAVE_GEOID;
    CHECK(s->type == NMEA_RMC || s->type == NMEA_GGA);
    CHECK((s->have & ~(s->type == NMEA_RMC ? rmc : gga)) == 0);
    if (s->have & NMEA_HAVE_TIME) {
        CHECK(s->time.hour >= 0 && s->time.hour <= 23 && s->time.minute >= 0 && s->time.minute <= 59);
        CHECK(s->time.second >= 0 && s->time.second <= 60 && s->time.ms >= 0 && s->time.ms <= 999);
    } else {
        CHECK(s->time.hour == 0 && s->time.minute == 0 && s->time.second == 0 && s->time.ms == 0);
    }
    if (s->have & NMEA_HAVE_DATE) {
        CHECK(s->date.year >= 1980 && s->date.year <= 2079 && s->date.month >= 1 && s->date.month <= 12);
        CHECK(s->date.day >= 1 && s->date.day <= days_in(s->date.year, s->date.month));
    } else {
        CHECK(s->date.year == 0 && s->date.month == 0 && s->date.day == 0);
    }
    if (s->have & NMEA_HAVE_POS) CHECK(s->lat_e7 >= -900000000 && s->lat_e7 <= 900000000 &&
                                       s->lon_e7 >= -1800000000 && s->lon_e7 <= 1800000000);
    else CHECK(s->lat_e7 == 0 && s->lon_e7 == 0);
    CHECK((s->have & NMEA_HAVE_SPEED) ? s->speed_e3 >= 0 : s->speed_e3 == 0);
    CHECK((s->have & NMEA_HAVE_COURSE) ? s->course_e2 >= 0 && s->course_e2 <= 36000 : s->course_e2 == 0);
    CHECK((s->have & NMEA_HAVE_MAGVAR) ? s->magvar_e2 >= -18000 && s->magvar_e2 <= 18000 : s->magvar_e2 == 0);
    CHECK((s->have & NMEA_HAVE_SATS) ? s->sats >= 0 && s->sats <= 999 : s->sats == 0);
    CHECK((s->have & NMEA_HAVE_HDOP) ? s->hdop_e2 >= 0 && s->hdop_e2 <= 999999 : s->hdop_e2 == 0);
    CHECK((s->have & NMEA_HAVE_ALT) ? s->alt_mm >= -1000000000 && s->alt_mm <= 1000000000 : s->alt_mm == 0);
    CHECK((s->have & NMEA_HAVE_GEOID) ? s->geoid_mm >= -10000000 && s->geoid_mm <= 10000000 : s->geoid_mm == 0);
    if (s->type == NMEA_RMC) {
        CHECK(s->status == 'A' || s->status == 'V');
        CHECK(s->mode == 0 || strchr("ADEFMNPRS", s->mode));
        CHECK(s->quality == 0);
    } else {
        CHECK(s->status == 0 && s->mode == 0 && s->quality >= 0 && s->quality <= 8);
    }
}

/* Parses a heap copy of exactly n bytes. */
static int parse_copy(nmea_sentence *s, const unsigned char *p, size_t n)
{
    char *copy = (char *)malloc(n ? n : 1);
    int r;
    CHECK(copy);
    if (n) memcpy(copy, p, n);
    r = nmea_parse(s, copy, n);
    free(copy);
    return r;
}

/* ---- the fix ---- */

typedef struct fix_check { nmea_fix fix; long begun, handed; } fix_check;

static void check_epoch(const nmea_fix *e)
{
    CHECK(e->reported == 1);
    CHECK(e->seen == NMEA_RMC || e->seen == NMEA_GGA || e->seen == (NMEA_RMC | NMEA_GGA));
    if (!(e->seen & NMEA_RMC)) CHECK(e->status == 0 && (e->have & (NMEA_HAVE_DATE | NMEA_HAVE_SPEED)) == 0);
    if (!(e->seen & NMEA_GGA)) CHECK(e->quality == 0 && (e->have & (NMEA_HAVE_SATS | NMEA_HAVE_ALT)) == 0);
    if (nmea_fix_valid(e)) CHECK(e->have & NMEA_HAVE_POS);
}

static void feed(fix_check *c, const nmea_sentence *s)
{
    nmea_fix done;
    int r = nmea_fix_feed(&c->fix, s, &done);
    CHECK(r == 0 || r == 1);
    /* a merge leaves both types; a sentence that begins an epoch, its own */
    if (c->fix.seen == (unsigned)s->type) c->begun++;
    else CHECK(c->fix.seen == (NMEA_RMC | NMEA_GGA));
    if (r) { check_epoch(&done); c->handed++; }
}

static void flush(fix_check *c)
{
    nmea_fix done;
    if (nmea_fix_flush(&c->fix, &done)) { check_epoch(&done); c->handed++; }
    CHECK(nmea_fix_flush(&c->fix, &done) == 0);
    CHECK(c->handed == c->begun);
}

/* ---- any bytes ---- */

static void any_lines(const unsigned char *p, size_t n)
{
    fix_check fc;
    size_t start = 0, i;
    memset(&fc, 0, sizeof fc);
    for (i = 0; i <= n; i++) {
        nmea_sentence s;
        int want, got;
        if (i < n && p[i] != '\n') continue;
        got = parse_copy(&s, p + start, i < n ? i + 1 - start : n - start);
        want = ref_frame(p + start, i < n ? i + 1 - start : n - start);
        if (want == REF_DECODE) CHECK(got == NMEA_OK || got == NMEA_EFIELD);
        else CHECK(got == want);
        if (got == NMEA_OK) {
            check_values(&s);
            feed(&fc, &s);
        } else {
            CHECK(s.type == 0 && s.have == 0 && s.lat_e7 == 0 && s.alt_mm == 0 && s.quality == 0 && s.status == 0);
            CHECK(got != NMEA_EFIELD || (s.field >= 1 && s.field <= 15));
        }
        start = i + 1;
    }
    flush(&fc);
}

/* ---- sentences built from the bytes ---- */

typedef struct src { const unsigned char *p; size_t n; } src;

static unsigned take(src *s, unsigned range)   /* 0..range-1 */
{
    unsigned v = 0;
    int k;
    for (k = 0; k < 3; k++) {
        v = v << 8 | (s->n ? *s->p : 0);
        if (s->n) { s->p++; s->n--; }
    }
    return range ? v % range : 0;
}

/* A decimal of up to 7 places: text, and the value scaled to `scale`
 * places, rounded half up from the whole rational I + F / 10^k. */
static long long decimal(src *s, unsigned whole_max, int sign, int scale, char *out, size_t cap)
{
    unsigned whole = take(s, whole_max + 1), k = take(s, 8), i;
    long long frac = 0, pow = 1, v;
    int neg = sign && take(s, 2);
    char digits[16];
    for (i = 0; i < k; i++) { unsigned d = take(s, 10); digits[i] = (char)('0' + d); frac = frac * 10 + d; pow *= 10; }
    digits[k] = 0;
    snprintf(out, cap, "%s%u%s%s", neg ? "-" : "", whole, k ? "." : "", digits);
    /* (whole + frac / pow) * 10^scale, rounded half up */
    v = 1;
    for (i = 0; i < (unsigned)scale; i++) v *= 10;
    v = (2 * ((long long)whole * pow + frac) * v + pow) / (2 * pow);
    return neg ? -v : v;
}

/* ddmm.mmm or dddmm.mmm: degrees * 10^7, rounded half up, from its own formula. */
static long long angle(src *s, int deg_digits, int max_deg, char *out, size_t cap)
{
    unsigned deg = take(s, (unsigned)max_deg), min = take(s, 60), k = take(s, 8), i;
    long long frac = 0, pow = 1, num;
    char digits[16];
    for (i = 0; i < k; i++) { unsigned d = take(s, 10); digits[i] = (char)('0' + d); frac = frac * 10 + d; pow *= 10; }
    digits[k] = 0;
    snprintf(out, cap, "%0*u%02u%s%s", deg_digits, deg, min, k ? "." : "", digits);
    /* (min + frac / pow) / 60 degrees in 10^-7 units: num / (60 * pow) */
    num = ((long long)min * pow + frac) * 10000000;
    return (long long)deg * 10000000 + (2 * num + 60 * pow) / (120 * pow);
}

typedef struct built {
    char line[256];
    nmea_sentence want;
} built;

static void finish_line(built *b, const char *body)
{
    unsigned sum = 0;
    const char *c;
    for (c = body; *c; c++) sum ^= (unsigned char)*c;
    snprintf(b->line, sizeof b->line, "$%s*%02X\r\n", body, sum);
}

static void build_time(src *s, nmea_sentence *w, char *t, size_t cap)
{
    unsigned h = take(s, 24), m = take(s, 60), sec = take(s, 61), k = take(s, 5), i, ms = 0;
    char digits[8];
    for (i = 0; i < k; i++) { unsigned d = take(s, 10); digits[i] = (char)('0' + d); if (i < 3) ms = ms * 10 + d; }
    digits[k] = 0;
    for (i = k; i < 3; i++) ms *= 10;
    snprintf(t, cap, "%02u%02u%02u%s%s", h, m, sec, k ? "." : "", digits);
    w->time.hour = (int)h; w->time.minute = (int)m; w->time.second = (int)sec; w->time.ms = (int)ms;
}

static void build_position(src *s, nmea_sentence *w, char *pos, size_t cap)
{
    char lat[32], lon[32];
    int south = (int)take(s, 2), west = (int)take(s, 2);
    long long la = angle(s, 2, 90, lat, sizeof lat), lo = angle(s, 3, 180, lon, sizeof lon);
    snprintf(pos, cap, "%s,%c,%s,%c", lat, south ? 'S' : 'N', lon, west ? 'W' : 'E');
    w->lat_e7 = (int32_t)(south ? -la : la);
    w->lon_e7 = (int32_t)(west ? -lo : lo);
}

static const char *talker(src *s)
{
    static const char *t[] = {"GP", "GL", "GA", "GB", "BD", "GQ", "GI", "GN"};
    return t[take(s, 8)];
}

static void build_rmc(src *s, built *b, const char *time_field, const char *pos_field)
{
    char body[300], speed[32] = "", course[32] = "", date[16], var[40] = ",", mode[4] = "";
    unsigned day, month, year;
    memset(&b->want, 0, sizeof b->want);
    b->want.type = NMEA_RMC;
    if (*time_field) b->want.have |= NMEA_HAVE_TIME;
    if (*pos_field != ',') b->want.have |= NMEA_HAVE_POS;
    b->want.status = take(s, 2) ? 'A' : 'V';
    if (take(s, 4)) {
        b->want.speed_e3 = (int32_t)decimal(s, 999, 0, 3, speed, sizeof speed);
        b->want.have |= NMEA_HAVE_SPEED;
    }
    if (take(s, 4)) {
        b->want.course_e2 = (int32_t)decimal(s, 359, 0, 2, course, sizeof course);
        b->want.have |= NMEA_HAVE_COURSE;
    }
    month = 1 + take(s, 12);
    year = take(s, 100);
    day = 1 + take(s, (unsigned)days_in(year >= 80 ? 1900 + (int)year : 2000 + (int)year, (int)month));
    snprintf(date, sizeof date, "%02u%02u%02u", day, month, year);
    b->want.date.day = (int)day; b->want.date.month = (int)month;
    b->want.date.year = (int)year + (year >= 80 ? 1900 : 2000);
    b->want.have |= NMEA_HAVE_DATE;
    if (take(s, 3) == 0) {
        char v[32];
        int west = (int)take(s, 2);
        long long m = decimal(s, 179, 0, 2, v, sizeof v);
        snprintf(var, sizeof var, "%s,%c", v, west ? 'W' : 'E');
        b->want.magvar_e2 = (int32_t)(west ? -m : m);
        b->want.have |= NMEA_HAVE_MAGVAR;
    }
    if (take(s, 2)) { mode[0] = ','; mode[1] = "ADEFMNPRS"[take(s, 9)]; b->want.mode = mode[1]; }
    snprintf(body, sizeof body, "%sRMC,%s,%c,%s,%s,%s,%s,%s%s", talker(s), time_field, b->want.status, pos_field,
             speed, course, date, var, mode);
    finish_line(b, body);
}

static void build_gga(src *s, built *b, const char *time_field, const char *pos_field)
{
    char body[300], sats[8] = "", hdop[32] = "", alt[40] = ",", geoid[40] = ",";
    memset(&b->want, 0, sizeof b->want);
    b->want.type = NMEA_GGA;
    if (*time_field) b->want.have |= NMEA_HAVE_TIME;
    if (*pos_field != ',') b->want.have |= NMEA_HAVE_POS;
    b->want.quality = (int)take(s, 9);
    if (take(s, 4)) {
        b->want.sats = (int)take(s, 100);
        snprintf(sats, sizeof sats, take(s, 2) ? "%02d" : "%d", b->want.sats);
        b->want.have |= NMEA_HAVE_SATS;
    }
    if (take(s, 4)) {
        b->want.hdop_e2 = (int32_t)decimal(s, 99, 0, 2, hdop, sizeof hdop);
        b->want.have |= NMEA_HAVE_HDOP;
    }
    if (take(s, 4)) {
        char v[32];
        b->want.alt_mm = (int32_t)decimal(s, 9999, 1, 3, v, sizeof v);
        snprintf(alt, sizeof alt, "%s,M", v);
        b->want.have |= NMEA_HAVE_ALT;
    }
    if (take(s, 4)) {
        char v[32];
        b->want.geoid_mm = (int32_t)decimal(s, 99, 1, 3, v, sizeof v);
        snprintf(geoid, sizeof geoid, "%s,M", v);
        b->want.have |= NMEA_HAVE_GEOID;
    }
    snprintf(body, sizeof body, "%sGGA,%s,%s,%d,%s,%s,%s,%s,,", talker(s), time_field, pos_field, b->want.quality,
             sats, hdop, alt, geoid);
    finish_line(b, body);
}

/* A built sentence decodes to its values, or is refused as too long; no
 * cut of it and no one-byte change passes. */
static int check_built(built *b, nmea_sentence *got, src *s)
{
    size_t len = strlen(b->line), star = len - 5, i;
    char m[256];
    nmea_sentence tmp;   /* the cuts and changes: *got keeps the sentence */
    int r = parse_copy(got, (const unsigned char *)b->line, len);
    if (len > 82) { CHECK(r == NMEA_ETOOLONG); return 0; }
    CHECK(r == NMEA_OK);
    CHECK(b->line[star] == '*');
    CHECK(memcmp(got->address + 2, b->want.type == NMEA_RMC ? "RMC" : "GGA", 4) == 0);
    memcpy(b->want.talker, got->talker, sizeof got->talker);   /* drawn by the builder */
    memcpy(b->want.address, got->address, sizeof got->address);
    CHECK(memcmp(got, &b->want, sizeof *got) == 0);
    for (i = 1; i + 2 < len; i++) CHECK(parse_copy(&tmp, (const unsigned char *)b->line, i) != NMEA_OK);
    memcpy(m, b->line, len);
    for (i = 1; i + 2 < len; i++) {   /* each byte once, to a printable other than '$' */
        char c = (char)(0x20 + take(s, 0x5f));
        if (c == '$' || c == b->line[i]) continue;
        if (i > star && (c | 32) == (b->line[i] | 32) && c >= 'A') continue;   /* a hex letter in the other case */
        m[i] = c;
        r = parse_copy(&tmp, (const unsigned char *)m, len);
        CHECK(r == NMEA_ECHECKSUM || (i == star && r == NMEA_ENOCHECKSUM));
        m[i] = b->line[i];
    }
    return 1;
}

static void built_sentences(const unsigned char *p, size_t n)
{
    src s;
    char t[32] = "", pos[96] = ",,,";
    built rmc, gga;
    nmea_sentence a, b, shared;
    fix_check fc;
    s.p = p;
    s.n = n;
    memset(&shared, 0, sizeof shared);
    /* one time and one position for both, often empty */
    if (take(&s, 8)) build_time(&s, &shared, t, sizeof t);
    if (take(&s, 8)) build_position(&s, &shared, pos, sizeof pos);
    build_rmc(&s, &rmc, t, pos);
    build_gga(&s, &gga, t, pos);
    rmc.want.time = gga.want.time = shared.time;
    rmc.want.lat_e7 = gga.want.lat_e7 = shared.lat_e7;
    rmc.want.lon_e7 = gga.want.lon_e7 = shared.lon_e7;
    if (!check_built(&rmc, &a, &s) || !check_built(&gga, &b, &s)) return;
    memset(&fc, 0, sizeof fc);
    if (take(&s, 2)) { feed(&fc, &a); feed(&fc, &b); } else { feed(&fc, &b); feed(&fc, &a); }
    CHECK(fc.handed == 1 && fc.begun == 1);
    CHECK(fc.fix.seen == (NMEA_RMC | NMEA_GGA));
    CHECK(fc.fix.speed_e3 == a.speed_e3 && fc.fix.sats == b.sats && fc.fix.alt_mm == b.alt_mm);
    CHECK(fc.fix.date.year == a.date.year && fc.fix.lat_e7 == a.lat_e7 && fc.fix.quality == b.quality);
    CHECK(nmea_fix_valid(&fc.fix) == ((fc.fix.have & NMEA_HAVE_POS) && a.status == 'A' && a.mode != 'N' &&
                                      b.quality > 0));
    flush(&fc);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size == 0 || size > 65536) return 0;
    any_lines(data + 1, size - 1);
    if (data[0] & 1) built_sentences(data + 1, size - 1);
    return 0;
}
