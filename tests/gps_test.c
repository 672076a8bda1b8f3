/* tests/gps_test.c - examples/nmea.h on its own, then behind aio_stream.h's
 * serial port on a pseudo-terminal whose other side the test plays as a GPS
 * module: the reading loop of examples/gps_logger.c (read_until "\n" with a
 * 128-byte limit, an over-long line skipped to its end, a read timeout for
 * the silence), fed good streams, bad checksums, noise, sentences cut at
 * every byte, over-long lines, a module that falls silent and one that
 * hangs up.  Every wait is for an event (bytes buffered, a line decoded, a
 * callback), with a 20 s guard; no sleep orders anything. */
#include "aio_common.h"
#include "examples/nmea.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* ---- building sentences (the checksum computed here, not by the parser) ---- */

static char sbuf[256];

/* "$BODY*HH\r\n" in a static buffer. */
static const char *sentence(const char *body)
{
    unsigned sum = 0;
    const char *c;
    for (c = body; *c; c++) sum ^= (unsigned char)*c;
    snprintf(sbuf, sizeof sbuf, "$%s*%02X\r\n", body, sum);
    return sbuf;
}

static int parse(nmea_sentence *s, const char *line) { return nmea_parse(s, line, strlen(line)); }
static int parse_body(nmea_sentence *s, const char *body) { return parse(s, sentence(body)); }

#define RMC1 "GNRMC,093010.00,A,5230.12345,N,01324.54321,E,0.150,273.40,150624,,,D"
#define GGA1 "GNGGA,093010.00,5230.12345,N,01324.54321,E,2,11,0.80,34.5,M,39.1,M,1.2,0123"

/* ---- the parser ---- */

static void test_rmc_decodes_every_field(void)
{
    nmea_sentence s;
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"), NMEA_OK);
    T_EQ(s.type, NMEA_RMC);
    T_STREQ(s.talker, "GP");
    T_STREQ(s.address, "GPRMC");
    T_EQ(s.have, NMEA_HAVE_TIME | NMEA_HAVE_DATE | NMEA_HAVE_POS | NMEA_HAVE_SPEED | NMEA_HAVE_COURSE |
                 NMEA_HAVE_MAGVAR);
    T_EQ(s.time.hour, 12); T_EQ(s.time.minute, 35); T_EQ(s.time.second, 19); T_EQ(s.time.ms, 0);
    T_EQ(s.status, 'A');
    T_EQ(s.lat_e7, 481173000);    /* 48 deg 7.038 min */
    T_EQ(s.lon_e7, 115166667);    /* 11 deg 31 min = 11.51666..., rounded */
    T_EQ(s.speed_e3, 22400);
    T_EQ(s.course_e2, 8440);
    T_EQ(s.date.year, 1994); T_EQ(s.date.month, 3); T_EQ(s.date.day, 23);
    T_EQ(s.magvar_e2, -310);      /* 3.1 W */
    T_EQ(s.mode, 0);
    T_EQ(s.skipped, 0);
}

static void test_gga_decodes_every_field(void)
{
    nmea_sentence s;
    T_EQ(parse(&s, "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"), NMEA_OK);
    T_EQ(s.type, NMEA_GGA);
    T_EQ(s.have, NMEA_HAVE_TIME | NMEA_HAVE_POS | NMEA_HAVE_SATS | NMEA_HAVE_HDOP | NMEA_HAVE_ALT | NMEA_HAVE_GEOID);
    T_EQ(s.time.hour, 12); T_EQ(s.time.second, 19);
    T_EQ(s.lat_e7, 481173000);
    T_EQ(s.lon_e7, 115166667);
    T_EQ(s.quality, 1);
    T_EQ(s.sats, 8);
    T_EQ(s.hdop_e2, 90);
    T_EQ(s.alt_mm, 545400);
    T_EQ(s.geoid_mm, 46900);
    T_EQ(s.status, 0);
}

static void test_modern_sentences_with_mode_and_station(void)
{
    nmea_sentence s;
    T_EQ(parse_body(&s, RMC1), NMEA_OK);
    T_EQ(s.time.ms, 0);
    T_EQ(s.lat_e7, 525020575);    /* 52 deg 30.12345 min */
    T_EQ(s.lon_e7, 134090535);    /* 13 deg 24.54321 min */
    T_EQ(s.speed_e3, 150);
    T_EQ(s.course_e2, 27340);
    T_EQ(s.date.year, 2024); T_EQ(s.date.month, 6); T_EQ(s.date.day, 15);
    T_EQ(s.mode, 'D');
    T_EQ(s.have & NMEA_HAVE_MAGVAR, 0);
    T_EQ(parse_body(&s, RMC1 ",V"), NMEA_OK);   /* NMEA 4.1: navigational status */
    T_EQ(parse_body(&s, GGA1), NMEA_OK);
    T_EQ(s.quality, 2);
    T_EQ(s.sats, 11);
    T_EQ(s.hdop_e2, 80);
    T_EQ(s.alt_mm, 34500);
    T_EQ(s.geoid_mm, 39100);
}

static void test_every_gnss_talker_is_decoded_others_are_not(void)
{
    static const char *good[] = {"GP", "GL", "GA", "GB", "BD", "GQ", "GI", "GN"};
    static const char *other[] = {"II", "XX", "GX", "AB"};
    char body[128];
    nmea_sentence s;
    size_t i;
    for (i = 0; i < sizeof good / sizeof *good; i++) {
        snprintf(body, sizeof body, "%sRMC%s", good[i], RMC1 + 5);
        T_EQ(parse_body(&s, body), NMEA_OK);
        T_STREQ(s.talker, good[i]);
    }
    for (i = 0; i < sizeof other / sizeof *other; i++) {
        snprintf(body, sizeof body, "%sRMC%s", other[i], RMC1 + 5);
        T_EQ(parse_body(&s, body), NMEA_EUNKNOWN);
        T_EQ(s.type, 0);
    }
    T_EQ(parse_body(&s, "GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00"), NMEA_EUNKNOWN);
    T_STREQ(s.address, "GPGSV");
    T_EQ(parse_body(&s, "PUBX,00,081350.00,4717.113210,N"), NMEA_EUNKNOWN);   /* proprietary */
    T_STREQ(s.talker, "P");
    T_STREQ(s.address, "PUBX");
    T_EQ(parse_body(&s, "gpRMC,093010.00,A,,,,,,,150624,,"), NMEA_ENOTNMEA);   /* lower case */
    T_EQ(parse_body(&s, "GPRMCX,1"), NMEA_ENOTNMEA);
    T_EQ(parse_body(&s, ""), NMEA_ENOTNMEA);
}

static void test_south_west_and_negative_numbers(void)
{
    nmea_sentence s;
    T_EQ(parse_body(&s, "GPGGA,000000,3352.1260,S,15112.6360,W,1,04,2.5,-12.3,M,-0.5,M,,"), NMEA_OK);
    T_EQ(s.lat_e7, -338687667);   /* 33 deg 52.126 min: 33.868766...7 */
    T_EQ(s.lon_e7, -1512106000);
    T_EQ(s.alt_mm, -12300);
    T_EQ(s.geoid_mm, -500);
    T_EQ(parse_body(&s, "GPRMC,000000,A,0000.0000,N,18000.0000,E,0,0,010100,0.5,E"), NMEA_OK);
    T_EQ(s.lon_e7, 1800000000);
    T_EQ(s.magvar_e2, 50);
    T_EQ(s.date.year, 2000);
}

static void test_fractions_round_at_the_first_digit_dropped(void)
{
    nmea_sentence s;
    /* minutes to 10 places: 0.00000000006 min rounds away; time to 4 places is cut to ms */
    T_EQ(parse_body(&s, "GPRMC,123519.1239,A,0000.0000000006,N,00000.0000030001,E,,,010180,,"), NMEA_OK);
    T_EQ(s.time.ms, 123);
    T_EQ(s.lat_e7, 0);
    T_EQ(s.lon_e7, 1);             /* to 9 places 0.000003 min, half of 10^-7 degree: up */
    T_EQ(s.date.year, 1980);
    T_EQ(parse_body(&s, "GPRMC,000000,A,,,,,0.0005,0.004,010180,,"), NMEA_OK);
    T_EQ(s.speed_e3, 1);           /* 0.0005 rounds up */
    T_EQ(s.course_e2, 0);          /* 0.004 rounds down */
    T_EQ(parse_body(&s, "GPRMC,123519.5,A,,,,,,,010180,,"), NMEA_OK);
    T_EQ(s.time.ms, 500);
    T_EQ(s.have & NMEA_HAVE_POS, 0);
}

static void test_empty_fields_before_a_fix(void)
{
    nmea_sentence s;
    T_EQ(parse(&s, "$GPGGA,,,,,,0,00,99.99,,,,,,*48\r\n"), NMEA_OK);
    T_EQ(s.have, NMEA_HAVE_SATS | NMEA_HAVE_HDOP);
    T_EQ(s.quality, 0);
    T_EQ(s.hdop_e2, 9999);
    T_EQ(parse(&s, "$GPRMC,,V,,,,,,,,,,N*53\r\n"), NMEA_OK);
    T_EQ(s.have, 0);
    T_EQ(s.status, 'V');
    T_EQ(s.mode, 'N');
}

static void test_checksums(void)
{
    nmea_sentence s;
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6a\r\n"), NMEA_OK);
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6B\r\n"), NMEA_ECHECKSUM);
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6\r\n"), NMEA_ECHECKSUM);
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6AA\r\n"), NMEA_ECHECKSUM);
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*G0\r\n"), NMEA_ECHECKSUM);
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W\r\n"), NMEA_ENOCHECKSUM);
    /* one byte changed anywhere after '$' */
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,E*6A\r\n"), NMEA_ECHECKSUM);
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"), NMEA_OK);
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\n"), NMEA_OK);
}

/* A line of exactly `len` bytes (CR LF included) holding a good RMC. */
static const char *rmc_of_length(size_t len)
{
    static char body[200];
    size_t base;
    snprintf(body, sizeof body, "GPRMC,123519,A,4807.038,N,01131.000,E,22.4");
    base = 1 + strlen(body) + strlen(",084.4,230394,003.1,W") + 3 + 2;   /* '$', "*HH", CR LF */
    while (base < len) { strcat(body, "0"); base++; }  /* more digits of the speed */
    strcat(body, ",084.4,230394,003.1,W");
    return sentence(body);
}

static void test_82_bytes_pass_83_do_not(void)
{
    nmea_sentence s;
    const char *l = rmc_of_length(82);
    T_EQ(strlen(l), 82);
    T_EQ(parse(&s, l), NMEA_OK);
    T_EQ(s.speed_e3, 22400);
    l = rmc_of_length(83);
    T_EQ(strlen(l), 83);
    T_EQ(parse(&s, l), NMEA_ETOOLONG);
    /* the limit counts from the '$', and counts CR LF even when only LF came */
    T_EQ(parse(&s, "noise" "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\n"), NMEA_OK);
    T_EQ(s.skipped, 5);
}

static void test_noise_and_bytes_that_are_not_nmea(void)
{
    nmea_sentence s;
    T_EQ(parse(&s, "\x1b[2J\xff\x01$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"), NMEA_OK);
    T_EQ(s.skipped, 6);
    T_EQ(parse(&s, "$GPGGA,12$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"), NMEA_OK);
    T_EQ(s.type, NMEA_RMC);   /* the last '$' begins the sentence */
    T_EQ(s.skipped, 9);
    T_EQ(parse(&s, "GPRMC,123519,A*6A\r\n"), NMEA_ENOTNMEA);
    T_EQ(parse(&s, "\r\n"), NMEA_ENOTNMEA);
    T_EQ(nmea_parse(&s, "", 0), NMEA_ENOTNMEA);
    T_EQ(nmea_parse(&s, "$GPRMC,1\0" "23519*00", 17), NMEA_ENOTNMEA);
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W\x1b*6A\r\n"), NMEA_ENOTNMEA);
    T_EQ(parse(&s, "$GPRMC,12\xc3\xa9\r\n"), NMEA_ENOTNMEA);
    T_EQ(parse(&s, "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\r\n"), NMEA_ENOTNMEA);
}

/* Each body breaks one rule of one field. */
static void test_malformed_fields_are_named(void)
{
    static const struct { const char *body; int field; } bad[] = {
        {"GPRMC,243519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", 1},    /* hour 24 */
        {"GPRMC,126019,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", 1},    /* minute 60 */
        {"GPRMC,123561,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", 1},    /* second 61 */
        {"GPRMC,12351,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", 1},     /* 5 digits */
        {"GPRMC,123519.,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", 1},   /* point, no digit */
        {"GPRMC,123519,X,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", 2},
        {"GPRMC,123519,,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", 2},     /* status required */
        {"GPRMC,123519,A,9107.038,N,01131.000,E,022.4,084.4,230394,003.1,W", 3},    /* 91 degrees */
        {"GPRMC,123519,A,4860.000,N,01131.000,E,022.4,084.4,230394,003.1,W", 3},    /* 60 minutes */
        {"GPRMC,123519,A,807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", 3},     /* one degree digit */
        {"GPRMC,123519,A,4807.0.38,N,01131.000,E,022.4,084.4,230394,003.1,W", 3},
        {"GPRMC,123519,A,-4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", 3},
        {"GPRMC,123519,A,4807.038,E,01131.000,E,022.4,084.4,230394,003.1,W", 4},
        {"GPRMC,123519,A,4807.038,,01131.000,E,022.4,084.4,230394,003.1,W", 4},
        {"GPRMC,123519,A,4807.038,N,18100.000,E,022.4,084.4,230394,003.1,W", 5},    /* 181 degrees */
        {"GPRMC,123519,A,4807.038,N,,E,022.4,084.4,230394,003.1,W", 5},             /* latitude alone */
        {"GPRMC,123519,A,4807.038,N,01131.000,N,022.4,084.4,230394,003.1,W", 6},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,-22.4,084.4,230394,003.1,W", 7},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,1e3,084.4,230394,003.1,W", 7},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,360.01,230394,003.1,W", 8},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4, 84.4,230394,003.1,W", 8},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,300294,003.1,W", 9},    /* 30 February */
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,290299,003.1,W", 9},    /* 1999 not a leap year */
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,311124,003.1,W", 9},    /* 31 November */
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,2303941,003.1,W", 9},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,,W", 10},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,180.01,W", 10},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,", 11},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,S", 11},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W,X", 12},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W,A,B", 13},
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1", 11},        /* 10 fields */
        {"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W,A,V,", 14}, /* 14 fields */
        {"GPGGA,123519,4807.038,N,01131.000,E,9,08,0.9,545.4,M,46.9,M,,", 6},          /* quality 9 */
        {"GPGGA,123519,4807.038,N,01131.000,E,,08,0.9,545.4,M,46.9,M,,", 6},           /* quality required */
        {"GPGGA,123519,4807.038,N,01131.000,E,1,8a,0.9,545.4,M,46.9,M,,", 7},
        {"GPGGA,123519,4807.038,N,01131.000,E,1,1000,0.9,545.4,M,46.9,M,,", 7},
        {"GPGGA,123519,4807.038,N,01131.000,E,1,08,.9,545.4,M,46.9,M,,", 8},
        {"GPGGA,123519,4807.038,N,01131.000,E,1,08,10000,545.4,M,46.9,M,,", 8},
        {"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,F,46.9,M,,", 10},         /* feet */
        {"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,,46.9,M,,", 10},
        {"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,1000000.001,M,46.9,M,,", 9},
        {"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,--46.9,M,,", 11},
        {"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,MM,,", 12},
        {"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,-1,", 13},
        {"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,1024", 14},
        {"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,", 14},          /* 13 fields */
        {"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,,", 15},        /* 15 fields */
        {"GPGGA", 1},
    };
    nmea_sentence s;
    size_t i;
    for (i = 0; i < sizeof bad / sizeof *bad; i++) {
        int r = parse_body(&s, bad[i].body);
        if (r != NMEA_EFIELD || s.field != bad[i].field)
            T_FAILF("%s: result %d field %d, want %d field %d", bad[i].body, r, s.field, NMEA_EFIELD, bad[i].field);
        if (s.have != 0 || s.type != 0 || s.lat_e7 != 0) T_FAILF("%s: values kept after an error", bad[i].body);
    }
    T_STREQ(s.address, "GPGGA");
}

static void test_dates_and_leap_seconds(void)
{
    nmea_sentence s;
    T_EQ(parse_body(&s, "GPRMC,235960,A,,,,,,,290224,,"), NMEA_OK);   /* a leap second, 29 Feb 2024 */
    T_EQ(s.time.second, 60);
    T_EQ(s.date.day, 29);
    T_EQ(parse_body(&s, "GPRMC,000000,A,,,,,,,290200,,"), NMEA_OK);   /* 2000 is a leap year */
    T_EQ(parse_body(&s, "GPRMC,000000,A,,,,,,,311299,,"), NMEA_OK);
    T_EQ(s.date.year, 1999);
    T_EQ(parse_body(&s, "GPRMC,000000,A,,,,,,,010179,,"), NMEA_OK);
    T_EQ(s.date.year, 2079);
    T_EQ(parse_body(&s, "GPRMC,000000,A,,,,,,,000124,,"), NMEA_EFIELD);
    T_EQ(parse_body(&s, "GPRMC,000000,A,,,,,,,011324,,"), NMEA_EFIELD);
}

static void test_every_code_has_words(void)
{
    int c;
    for (c = NMEA_EFIELD; c <= NMEA_OK; c++) {
        T_CHECK(strcmp(nmea_strerror(c), "unknown NMEA result") != 0);
        if (c < NMEA_OK) T_CHECK(strcmp(nmea_strerror(c), nmea_strerror(c + 1)) != 0);
    }
    T_STREQ(nmea_strerror(NMEA_ECHECKSUM), "bad checksum");
    T_STREQ(nmea_strerror(-100), "unknown NMEA result");
}

/* ---- the fix ---- */

static int feed(nmea_fix *fix, const char *body, nmea_fix *done)
{
    nmea_sentence s;
    if (parse_body(&s, body) != NMEA_OK) return -1;
    return nmea_fix_feed(fix, &s, done);
}

static void test_fix_merges_rmc_and_gga_of_one_time(void)
{
    nmea_fix fix, done;
    nmea_fix_init(&fix);
    T_EQ(feed(&fix, GGA1, &done), 0);
    T_EQ(feed(&fix, RMC1, &done), 1);
    T_EQ(done.seen, NMEA_RMC | NMEA_GGA);
    T_EQ(done.sats, 11);
    T_EQ(done.alt_mm, 34500);
    T_EQ(done.speed_e3, 150);
    T_EQ(done.date.year, 2024);
    T_EQ(done.lat_e7, 525020575);
    T_CHECK(nmea_fix_valid(&done));
    T_EQ(nmea_fix_flush(&fix, &done), 0);   /* handed out already */
    /* the next time starts an epoch of its own, with nothing carried over */
    T_EQ(feed(&fix, "GNRMC,093011.00,A,5230.12345,N,01324.54321,E,,,150624,,,A", &done), 0);
    T_EQ(fix.seen, NMEA_RMC);
    T_EQ(fix.have & (NMEA_HAVE_SATS | NMEA_HAVE_ALT | NMEA_HAVE_SPEED), 0);
    T_EQ(fix.sats, 0);
}

static void test_fix_of_one_type_comes_when_the_next_epoch_begins(void)
{
    nmea_fix fix, done;
    nmea_fix_init(&fix);
    T_EQ(feed(&fix, "GPRMC,000001,A,4807.038,N,01131.000,E,1.0,,230394,,", &done), 0);
    T_EQ(feed(&fix, "GPRMC,000002,A,4807.039,N,01131.000,E,2.0,,230394,,", &done), 1);
    T_EQ(done.time.second, 1);
    T_EQ(done.speed_e3, 1000);
    T_CHECK(nmea_fix_valid(&done));
    T_EQ(nmea_fix_flush(&fix, &done), 1);
    T_EQ(done.time.second, 2);
    T_EQ(nmea_fix_flush(&fix, &done), 0);
    /* after a flush the rest of that epoch merges but is not handed out again */
    T_EQ(feed(&fix, "GPGGA,000002,4807.039,N,01131.000,E,1,05,1.0,1.0,M,,,,", &done), 0);
    T_EQ(fix.seen, NMEA_RMC | NMEA_GGA);
    T_EQ(feed(&fix, "GPGGA,000003,4807.039,N,01131.000,E,1,05,1.0,1.0,M,,,,", &done), 0);
    T_EQ(fix.seen, NMEA_GGA);
}

static void test_fix_without_time_one_epoch_per_repeated_type(void)
{
    nmea_fix fix, done;
    nmea_fix_init(&fix);
    T_EQ(feed(&fix, "GPGGA,,,,,,0,00,99.99,,,,,,", &done), 0);
    T_EQ(feed(&fix, "GPRMC,,V,,,,,,,,,,N", &done), 1);
    T_CHECK(!nmea_fix_valid(&done));
    T_EQ(feed(&fix, "GPGGA,,,,,,0,00,99.99,,,,,,", &done), 0);
    T_EQ(feed(&fix, "GPGGA,,,,,,0,00,99.99,,,,,,", &done), 1);   /* a second GGA: the first had no RMC */
    T_EQ(done.seen, NMEA_GGA);
}

static void test_fix_valid_only_when_every_sentence_says_so(void)
{
    nmea_fix fix, done;
    nmea_fix_init(&fix);
    T_CHECK(!nmea_fix_valid(&fix));
    T_EQ(feed(&fix, "GPGGA,000001,4807.038,N,01131.000,E,1,05,1.0,1.0,M,,,,", &done), 0);
    T_EQ(feed(&fix, "GPRMC,000001,V,4807.038,N,01131.000,E,,,230394,,", &done), 1);
    T_CHECK(!nmea_fix_valid(&done));          /* RMC says V */
    T_EQ(feed(&fix, "GPGGA,000002,4807.038,N,01131.000,E,0,05,1.0,1.0,M,,,,", &done), 0);
    T_EQ(feed(&fix, "GPRMC,000002,A,4807.038,N,01131.000,E,,,230394,,", &done), 1);
    T_CHECK(!nmea_fix_valid(&done));          /* GGA says no fix */
    T_EQ(feed(&fix, "GPRMC,000003,A,4807.038,N,01131.000,E,,,230394,,,N", &done), 0);
    T_EQ(nmea_fix_flush(&fix, &done), 1);
    T_CHECK(!nmea_fix_valid(&done));          /* mode N: not valid */
    T_EQ(feed(&fix, "GPGGA,000004,,,,,1,05,1.0,1.0,M,,,,", &done), 0);
    T_EQ(nmea_fix_flush(&fix, &done), 1);
    T_CHECK(!nmea_fix_valid(&done));          /* no position */
    T_EQ(feed(&fix, "GPGGA,000005,4807.038,N,01131.000,E,1,05,1.0,1.0,M,,,,", &done), 0);
    T_EQ(nmea_fix_flush(&fix, &done), 1);
    T_CHECK(nmea_fix_valid(&done));
}

static void test_fix_ignores_sentences_not_decoded(void)
{
    nmea_fix fix, done;
    nmea_sentence s;
    nmea_fix_init(&fix);
    T_EQ(parse_body(&s, "GPGSV,1,1,00"), NMEA_EUNKNOWN);
    T_EQ(nmea_fix_feed(&fix, &s, &done), 0);
    T_EQ(fix.seen, 0);
}

/* ---- the module on a pseudo-terminal ---- */

#define RX_LIMIT 128     /* as gps_logger's */
#define RX_MAX 600

/* The reading side, as in examples/gps_logger.c. */
typedef struct rx {
    aios_stream *s;
    int64_t timeout_ns;           /* read timeout: the silence; 0 none */
    int skipping;                 /* inside a line over RX_LIMIT */
    int lines, too_long, timeouts, ended, end_status;
    int codes[7];                 /* lines by nmea_parse result */
    int n;                        /* decoded sentences */
    nmea_sentence got[RX_MAX];
    nmea_fix fix;
    int epochs;
    nmea_fix epoch[RX_MAX];
} rx;

static struct {
    int master;
    char path[128];
    aios_ctx ctx;
    rx r;
} m;

static void rx_next(rx *r);

static void rx_take(rx *r, const char *p, size_t n)
{
    nmea_sentence s;
    int code = nmea_parse(&s, p, n);
    r->lines++;
    r->codes[-code]++;
    if (code != NMEA_OK || r->n == RX_MAX) return;
    r->got[r->n++] = s;
    if (r->epochs < RX_MAX && nmea_fix_feed(&r->fix, &s, &r->epoch[r->epochs])) r->epochs++;
}

static void rx_line(aios_stream *s, int status, void *ud)
{
    rx *r = (rx *)ud;
    size_t n;
    const char *p = aios_data(s, &n);
    if (status == -ETIMEDOUT) {
        r->timeouts++;
    } else if (status == AIOS_ETOOLONG) {
        if (!r->skipping) r->too_long++;
        r->skipping = 1;
        aios_consume(s, RX_LIMIT);
    } else if (status < 0) {
        r->ended = 1;
        r->end_status = status;
        return;
    } else {
        if (!r->skipping) rx_take(r, p, (size_t)status);
        r->skipping = 0;
        aios_consume(s, (size_t)status);
    }
    rx_next(r);
}

static void rx_next(rx *r)
{
    int e = aios_set_timeouts(r->s, r->timeout_ns, 0);
    if (e == 0) e = aios_read_until(r->s, "\n", 1, RX_LIMIT, rx_line, r);
    if (e < 0) { r->ended = 1; r->end_status = e; }
}

/* A pseudo-terminal, its port side opened by aio_stream.h at 9600 baud. */
static int mod_open(int64_t silence_ns)
{
    const char *name;
    memset(&m.r, 0, sizeof m.r);
    nmea_fix_init(&m.r.fix);
    m.r.timeout_ns = silence_ns;
    m.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m.master < 0 || grantpt(m.master) < 0 || unlockpt(m.master) < 0 || !(name = ptsname(m.master))) return -1;
    snprintf(m.path, sizeof m.path, "%s", name);
    if (fcntl(m.master, F_SETFL, fcntl(m.master, F_GETFL) | O_NONBLOCK) < 0) return -1;
    if (aios_ctx_init(&m.ctx) < 0) return -1;
    if (aios_serial_open(&m.r.s, &m.ctx, m.path, 9600) < 0) return -1;
    rx_next(&m.r);
    return 0;
}

static void mod_close(void)
{
    aios_ctx_close(&m.ctx);
    if (m.master >= 0) close(m.master);
    m.master = -1;
}

/* The module sends: every byte, the reader running while the terminal is full. */
static int mod_send(const void *p, size_t n)
{
    const char *c = (const char *)p;
    int64_t give_up = aios_now_ns() + AIOS_SEC(20);
    while (n > 0) {
        ssize_t k = write(m.master, c, n);
        if (k > 0) { c += k; n -= (size_t)k; continue; }
        if (k < 0 && errno != EAGAIN && errno != EINTR) return -1;
        if (aios_now_ns() > give_up) return -1;
        aios_run_once(&m.ctx, AIOS_MS(10));
    }
    return 0;
}

static int mod_send_str(const char *t) { return mod_send(t, strlen(t)); }

/* Runs the loop until the reader holds exactly n unread bytes. */
static int mod_wait_buffered(size_t n)
{
    int64_t give_up = aios_now_ns() + AIOS_SEC(20);
    size_t have = 0;
    while ((aios_data(m.r.s, &have), have) != n && aios_now_ns() < give_up)
        aios_run_once(&m.ctx, AIOS_MS(50));
    return have == n;
}

/* The sentence decoded from line, but for the noise skipped before it. */
static int sentences_equal(const nmea_sentence *a, const char *line)
{
    nmea_sentence b;
    if (nmea_parse(&b, line, strlen(line)) != NMEA_OK) return 0;
    b.skipped = a->skipped;
    return memcmp(a, &b, sizeof b) == 0;   /* both cleared before parsing: padding too */
}

/* Epoch i of a module moving east: GGA then RMC, each second. */
static const char *epoch_sentence(int i, int rmc)
{
    char body[160];
    int sec = 10 + i % 50, lon = 54321 + i;
    if (rmc)
        snprintf(body, sizeof body, "GNRMC,0930%02d.00,A,5230.12345,N,01324.%05d,E,0.150,273.40,150624,,,D", sec, lon);
    else
        snprintf(body, sizeof body, "GNGGA,0930%02d.00,5230.12345,N,01324.%05d,E,2,11,0.80,34.5,M,39.1,M,1.2,0123",
                 sec, lon);
    return sentence(body);
}

static void test_pty_stream_decoded_exactly(void)
{
    int i;
    T_REQUIRE(mod_open(0) == 0);
    for (i = 0; i < 6; i++) T_CHECK(mod_send_str(epoch_sentence(i / 2, i % 2)) == 0);
    T_CHECK(t_spin(&m.ctx, &m.r.n, 6));
    T_EQ(m.r.lines, 6);
    T_EQ(m.r.epochs, 3);
    for (i = 0; i < 6; i++) T_CHECK(sentences_equal(&m.r.got[i], epoch_sentence(i / 2, i % 2)));
    for (i = 0; i < 3; i++) {
        T_EQ(m.r.epoch[i].seen, NMEA_RMC | NMEA_GGA);
        T_EQ(m.r.epoch[i].time.second, 10 + i);
        T_EQ(m.r.epoch[i].lat_e7, 525020575);
        T_EQ(m.r.epoch[i].lon_e7, 134090535 + (i * 10000 + 3000) / 6000);   /* + i * 0.00001 min, rounded */
        T_EQ(m.r.epoch[i].sats, 11);
        T_EQ(m.r.epoch[i].speed_e3, 150);
        T_CHECK(nmea_fix_valid(&m.r.epoch[i]));
    }
    mod_close();
}

static void test_pty_bad_checksums_skipped_good_ones_kept(void)
{
    char bad[256];
    T_REQUIRE(mod_open(0) == 0);
    snprintf(bad, sizeof bad, "%s", epoch_sentence(0, 1));
    bad[strlen(bad) - 3] ^= 1;   /* last checksum digit */
    T_CHECK(mod_send_str(bad) == 0);
    T_CHECK(mod_send_str(epoch_sentence(0, 0)) == 0);
    T_CHECK(mod_send_str("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W\r\n") == 0);
    T_CHECK(mod_send_str(epoch_sentence(0, 1)) == 0);
    T_CHECK(t_spin(&m.ctx, &m.r.lines, 4));
    T_EQ(m.r.codes[-NMEA_ECHECKSUM], 1);
    T_EQ(m.r.codes[-NMEA_ENOCHECKSUM], 1);
    T_EQ(m.r.n, 2);
    T_CHECK(sentences_equal(&m.r.got[1], epoch_sentence(0, 1)));
    T_EQ(m.r.epochs, 1);
    mod_close();
}

static uint32_t rng;
static uint32_t next_random(void)
{
    rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
    return rng;
}

/* Up to 40 random bytes before each sentence (newlines, NULs, escapes,
 * '$' included), the whole written in random pieces: every sentence
 * still comes out, in order, exactly. */
static void test_pty_binary_noise_between_sentences(void)
{
    static char stream[40000];
    size_t len = 0, off = 0;
    uint32_t seed = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
    int i;
    if (getenv("T_SEED")) seed = (uint32_t)strtoul(getenv("T_SEED"), NULL, 0);
    printf("seed %u (rerun with T_SEED=%u)\n", (unsigned)seed, (unsigned)seed);
    rng = seed ? seed : 1;
    for (i = 0; i < 100; i++) {
        int k, noise = (int)(next_random() % 41);
        const char *s = epoch_sentence(i / 2, i % 2);
        for (k = 0; k < noise; k++) stream[len++] = (char)(next_random() & 0xff);
        memcpy(stream + len, s, strlen(s));
        len += strlen(s);
    }
    T_REQUIRE(mod_open(0) == 0);
    while (off < len) {
        size_t piece = 1 + next_random() % 64;
        if (piece > len - off) piece = len - off;
        T_CHECK(mod_send(stream + off, piece) == 0);
        off += piece;
        aios_run_once(&m.ctx, 0);
    }
    T_CHECK(t_spin(&m.ctx, &m.r.n, 100));
    T_EQ(m.r.too_long, 0);
    for (i = 0; i < 100; i++)
        if (!sentences_equal(&m.r.got[i], epoch_sentence(i / 2, i % 2))) T_FAILF("sentence %d differs", i);
    T_EQ(m.r.epochs, 50);
    mod_close();
}

/* Half a sentence, seen buffered and not delivered, then the rest. */
static void test_pty_sentence_cut_across_writes(void)
{
    const char *s = epoch_sentence(0, 1);
    size_t half = strlen(s) / 2;
    char copy[256];
    snprintf(copy, sizeof copy, "%s", s);
    T_REQUIRE(mod_open(0) == 0);
    T_CHECK(mod_send(copy, half) == 0);
    T_CHECK(mod_wait_buffered(half));
    T_EQ(m.r.lines, 0);
    T_CHECK(mod_send(copy + half, strlen(copy) - half) == 0);
    T_CHECK(t_spin(&m.ctx, &m.r.n, 1));
    T_CHECK(sentences_equal(&m.r.got[0], copy));
    mod_close();
}

static void test_pty_split_at_every_byte_boundary(void)
{
    char copy[256];
    size_t k, len;
    snprintf(copy, sizeof copy, "%s", epoch_sentence(3, 0));
    len = strlen(copy);
    T_REQUIRE(mod_open(0) == 0);
    for (k = 1; k < len; k++) {
        int before = m.r.n;
        T_CHECK(mod_send(copy, k) == 0);
        if (!mod_wait_buffered(k)) T_FAILF("split at %zu: the first part never arrived whole", k);
        if (m.r.n != before) T_FAILF("split at %zu: a line came before its end", k);
        T_CHECK(mod_send(copy + k, len - k) == 0);
        if (!t_spin(&m.ctx, &m.r.n, before + 1)) T_FAILF("split at %zu: no sentence", k);
        if (!sentences_equal(&m.r.got[before], copy)) T_FAILF("split at %zu: the sentence differs", k);
    }
    T_EQ(m.r.lines, (int)len - 1);
    T_EQ(m.r.epochs, (int)len - 2);   /* each GGA again ends the epoch of the one before */
    mod_close();
}

static void test_pty_over_long_lines_skipped_to_their_end(void)
{
    char line[512];
    const char *good = epoch_sentence(0, 1);
    T_REQUIRE(mod_open(0) == 0);
    /* 300 bytes without a newline, then a sentence on a line of its own */
    memset(line, 'A', 300);
    line[300] = '\n';
    T_CHECK(mod_send(line, 301) == 0);
    T_CHECK(mod_send_str(good) == 0);
    T_CHECK(t_spin(&m.ctx, &m.r.n, 1));
    T_EQ(m.r.too_long, 1);
    T_EQ(m.r.lines, 1);
    /* a sentence at the end of an over-long line goes with it */
    memset(line, 'B', 100);
    snprintf(line + 100, sizeof line - 100, "%s", epoch_sentence(1, 1));
    T_CHECK(mod_send_str(line) == 0);
    T_CHECK(mod_send_str(epoch_sentence(2, 1)) == 0);
    T_CHECK(t_spin(&m.ctx, &m.r.n, 2));
    T_EQ(m.r.too_long, 2);
    T_CHECK(sentences_equal(&m.r.got[1], epoch_sentence(2, 1)));
    /* 128 bytes with the newline are a line (too long for NMEA); 129 are not */
    memset(line, 'C', 127);
    line[127] = '\n';
    T_CHECK(mod_send(line, 128) == 0);
    memset(line, 'D', 128);
    line[128] = '\n';
    T_CHECK(mod_send(line, 129) == 0);
    T_CHECK(mod_send_str(epoch_sentence(3, 1)) == 0);
    T_CHECK(t_spin(&m.ctx, &m.r.n, 3));
    T_EQ(m.r.too_long, 3);
    T_EQ(m.r.lines, 4);
    T_EQ(m.r.codes[-NMEA_ENOTNMEA], 1);   /* the 128-byte line: no '$' */
    mod_close();
}

/* The module stops in the middle of a sentence: the read times out with
 * the half kept, and the sentence comes whole once the module goes on. */
static void test_pty_silence_times_out_and_reading_resumes(void)
{
    char copy[256];
    size_t half;
    int before;
    snprintf(copy, sizeof copy, "%s", epoch_sentence(4, 1));
    half = strlen(copy) / 2;
    T_REQUIRE(mod_open(AIOS_MS(200)) == 0);
    T_CHECK(mod_send_str(epoch_sentence(4, 0)) == 0);
    T_CHECK(t_spin(&m.ctx, &m.r.n, 1));
    T_CHECK(mod_send(copy, half) == 0);
    T_CHECK(mod_wait_buffered(half));
    before = m.r.timeouts;
    T_CHECK(t_spin(&m.ctx, &m.r.timeouts, before + 1));
    T_EQ(m.r.n, 1);
    T_CHECK(mod_wait_buffered(half));   /* the half is still there */
    T_CHECK(mod_send(copy + half, strlen(copy) - half) == 0);
    T_CHECK(t_spin(&m.ctx, &m.r.n, 2));
    T_CHECK(sentences_equal(&m.r.got[1], copy));
    T_EQ(m.r.epochs, 1);
    T_EQ(m.r.ended, 0);
    mod_close();
}

static void test_pty_hang_up_ends_the_read(void)
{
    T_REQUIRE(mod_open(AIOS_SEC(60)) == 0);
    T_CHECK(mod_send_str(epoch_sentence(0, 0)) == 0);
    T_CHECK(t_spin(&m.ctx, &m.r.n, 1));
    close(m.master);
    m.master = -1;
    T_CHECK(t_spin(&m.ctx, &m.r.ended, 1));
    /* EIO while the other side is gone, end of stream once the kernel hung the port up */
    if (m.r.end_status != -EIO && m.r.end_status != AIOS_EINCOMPLETE)
        T_FAILF("end status %d (%s)", m.r.end_status, aios_strerror(m.r.end_status));
    T_EQ(m.r.timeouts, 0);
    mod_close();
}

/* 500 sentences as fast as the terminal takes them: none lost or changed. */
static void test_pty_burst_none_lost(void)
{
    static char stream[50000];
    size_t len = 0;
    int i;
    for (i = 0; i < 500; i++) {
        const char *s = epoch_sentence(i / 2, i % 2);
        memcpy(stream + len, s, strlen(s));
        len += strlen(s);
    }
    T_REQUIRE(mod_open(0) == 0);
    T_CHECK(mod_send(stream, len) == 0);
    T_CHECK(t_spin(&m.ctx, &m.r.n, 500));
    T_EQ(m.r.lines, 500);
    for (i = 0; i < 500; i++)
        if (!sentences_equal(&m.r.got[i], epoch_sentence(i / 2, i % 2))) T_FAILF("sentence %d differs", i);
    T_EQ(m.r.epochs, 250);
    mod_close();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    t_suite("gps");
    T_RUN(test_rmc_decodes_every_field);
    T_RUN(test_gga_decodes_every_field);
    T_RUN(test_modern_sentences_with_mode_and_station);
    T_RUN(test_every_gnss_talker_is_decoded_others_are_not);
    T_RUN(test_south_west_and_negative_numbers);
    T_RUN(test_fractions_round_at_the_first_digit_dropped);
    T_RUN(test_empty_fields_before_a_fix);
    T_RUN(test_checksums);
    T_RUN(test_82_bytes_pass_83_do_not);
    T_RUN(test_noise_and_bytes_that_are_not_nmea);
    T_RUN(test_malformed_fields_are_named);
    T_RUN(test_dates_and_leap_seconds);
    T_RUN(test_every_code_has_words);
    T_RUN(test_fix_merges_rmc_and_gga_of_one_time);
    T_RUN(test_fix_of_one_type_comes_when_the_next_epoch_begins);
    T_RUN(test_fix_without_time_one_epoch_per_repeated_type);
    T_RUN(test_fix_valid_only_when_every_sentence_says_so);
    T_RUN(test_fix_ignores_sentences_not_decoded);
    T_RUN(test_pty_stream_decoded_exactly);
    T_RUN(test_pty_bad_checksums_skipped_good_ones_kept);
    T_RUN(test_pty_binary_noise_between_sentences);
    T_RUN(test_pty_sentence_cut_across_writes);
    T_RUN(test_pty_split_at_every_byte_boundary);
    T_RUN(test_pty_over_long_lines_skipped_to_their_end);
    T_RUN(test_pty_silence_times_out_and_reading_resumes);
    T_RUN(test_pty_hang_up_ends_the_read);
    T_RUN(test_pty_burst_none_lost);
    return t_done();
}
