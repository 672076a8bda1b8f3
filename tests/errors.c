/* tests/errors.c - the family's one error space: every header's strerror
 * gives the same text for every code (the family's own and every -errno),
 * no two of the family's own codes share a number or a text, and none
 * of them is a system error number. */
#define ASYNCKIT_IMPLEMENTATION
#include "sched.h"
#include "aio_stream.h"
#include "asyncusb.h"
#include "tests/harness.h"
#include <errno.h>

static const struct { int code; const char *name; } family[] = {
    {AIOS_EINCOMPLETE, "AIOS_EINCOMPLETE"}, {AIOS_ETOOLONG, "AIOS_ETOOLONG"}, {AIOS_ECLOSED, "AIOS_ECLOSED"},
    {AIOS_ENOTFOUND, "AIOS_ENOTFOUND"}, {AIOS_ERESOLVE, "AIOS_ERESOLVE"}, {AIOS_ENOTNUMERIC, "AIOS_ENOTNUMERIC"},
    {AUSB_EFAIL, "AUSB_EFAIL"}, {AUSB_ESTALL, "AUSB_ESTALL"}, {AUSB_EBABBLE, "AUSB_EBABBLE"},
    {AUSB_EMALFORMED, "AUSB_EMALFORMED"}, {AUSB_ECLOSED, "AUSB_ECLOSED"},
};
#define NFAMILY ((int)(sizeof family / sizeof family[0]))

static void test_every_header_describes_every_code_alike(void)
{
    int code, i;
    for (code = -4200; code <= 1; code++) {
        const char *s = schd_strerror(code), *a = aios_strerror(code), *u = ausb_strerror(code);
        if (strcmp(s, a) != 0 || strcmp(s, u) != 0)
            T_FAILF("code %d: sched \"%s\", aio \"%s\", usb \"%s\"", code, s, a, u);
    }
    for (i = 0; i < NFAMILY; i++) printf("%6d %-18s %s\n", family[i].code, family[i].name, aios_strerror(family[i].code));
}

static void test_family_codes_mean_one_thing_each(void)
{
    int i, j;
    for (i = 0; i < NFAMILY; i++) {
        T_CHECK(family[i].code < -1000);                  /* never a -errno */
        T_CHECK(strcmp(ausb_strerror(family[i].code), "unknown error") != 0);
        for (j = 0; j < i; j++) {
            if (family[i].code == family[j].code && strcmp(family[i].name + 4, family[j].name + 4) != 0)
                T_FAILF("%s and %s share %d", family[i].name, family[j].name, family[i].code);
            if (family[i].code != family[j].code && strcmp(aios_strerror(family[i].code), aios_strerror(family[j].code)) == 0)
                T_FAILF("%s and %s share a text", family[i].name, family[j].name);
        }
    }
    T_EQ(AIOS_ECLOSED, AUSB_ECLOSED);                     /* one idea, one code */
}

static void test_system_errors_keep_their_words(void)
{
    T_STREQ(schd_strerror(-ETIMEDOUT), strerror(ETIMEDOUT));
    T_STREQ(aios_strerror(-EAGAIN), strerror(EAGAIN));
    T_STREQ(ausb_strerror(-ENODEV), strerror(ENODEV));
    T_STREQ(ausb_strerror(0), "success");
}

int main(void)
{
    t_suite("errors");
    T_RUN(test_every_header_describes_every_code_alike);
    T_RUN(test_family_codes_mean_one_thing_each);
    T_RUN(test_system_errors_keep_their_words);
    return t_done();
}
