/* tests/harness.h - the project's tiny test harness (not part of the library).
 *
 * One behaviour per test function; assertions record a failure and return
 * from the test.  Each failure prints one line:
 *     FAIL <suite>/<test> (<file>:<line>): <what>
 * and the program closes with "<suite>: N passed, N failed".
 * T_ONLY=WORD in the environment runs only the tests whose name contains
 * WORD.  A test that draws random numbers prints "seed N" first and takes
 * its seed from T_SEED when that is set, so a failure can be run again.
 *
 *     static void test_timer_fires_once(void) { ...; T_EQ(calls, 1); }
 *     int main(void) { T_RUN(test_timer_fires_once); return t_done("sched"); }
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static int t_pass_count, t_fail_count, t_current_failed;
static const char *t_current_name = "?";
static const char *t_suite_name = "";

#define T_FAILF(...) do { \
    if (!t_current_failed) { \
        printf("FAIL %s/%s (%s:%d): ", t_suite_name, t_current_name, __FILE__, __LINE__); \
        printf(__VA_ARGS__); printf("\n"); fflush(stdout); } \
    t_current_failed = 1; return; } while (0)

#define T_CHECK(cond) do { if (!(cond)) T_FAILF("%s", #cond); } while (0)
#define T_EQ(a, b) do { long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
    if (t_a_ != t_b_) T_FAILF("%s == %s: %lld != %lld", #a, #b, t_a_, t_b_); } while (0)
#define T_STREQ(a, b) do { const char *t_a_ = (a), *t_b_ = (b); \
    if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) \
        T_FAILF("%s == %s: \"%s\" != \"%s\"", #a, #b, t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); } while (0)
#define T_MEMEQ(a, b, n) do { if (memcmp((a), (b), (n)) != 0) T_FAILF("memcmp(%s, %s, %s) != 0", #a, #b, #n); } while (0)

/* Stops the program when a precondition of the whole suite fails. */
#define T_REQUIRE(cond) do { if (!(cond)) { \
    printf("FAIL %s/%s (%s:%d): required %s\n", t_suite_name, t_current_name, __FILE__, __LINE__, #cond); \
    printf("%s: %d passed, %d failed\n", t_suite_name, t_pass_count, t_fail_count + 1); exit(1); } } while (0)

#define T_RUN(fn) t_run_one(#fn, fn)

/* T_ONLY=WORD runs only the tests whose name contains WORD (tests/run.sh
 * SUITE TEST sets it); the others are not counted. */
static void t_run_one(const char *name, void (*fn)(void))
{
    const char *only = getenv("T_ONLY");
    if (only && *only && !strstr(name, only)) return;
    t_current_name = name;
    t_current_failed = 0;
    fn();
    if (t_current_failed) t_fail_count++; else t_pass_count++;
    if (getenv("T_VERBOSE")) printf("%s %s\n", t_current_failed ? "fail" : "ok  ", name);
}

static void t_suite(const char *name) { t_suite_name = name; }

/* Prints the closing line; the exit status says whether anything failed. */
static int t_done(void)
{
    printf("%s: %d passed, %d failed\n", t_suite_name, t_pass_count, t_fail_count);
    return t_fail_count ? 1 : 0;
}

#endif
