/* Fuzz target: the frequency scheduler's rate arithmetic.
 *
 * Input: a mode byte, an 8-byte value (Hz as a double, or a period in ns),
 * an 8-byte period index k and an 8-byte time.  Checks, against exact
 * 128-bit arithmetic, that the due time of period k is floor(k*num/den),
 * that due times never go backwards, and that the search for the first
 * period after a time finds exactly that period, whatever the inputs. */
#define SCHD_IMPLEMENTATION
#include "sched.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static uint64_t take64(const uint8_t **p, size_t *n)
{
    uint64_t v = 0;
    size_t i;
    for (i = 0; i < 8 && *n > 0; i++, (*p)++, (*n)--) v |= (uint64_t)**p << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data;
    size_t n = size;
    uint8_t mode;
    uint64_t raw, k, t;
    schd_rate r;
    schd_job job;
    double hz;
    unsigned __int128 exact;
    if (n < 1) return 0;
    mode = *p++;
    n--;
    raw = take64(&p, &n);
    k = take64(&p, &n) % 100000000000ull;     /* about three years of 1 kHz periods */
    t = take64(&p, &n);
    if (mode & 1) {
        memcpy(&hz, &raw, sizeof hz);
        r = schd_hz(hz);
        if (hz >= 0.001 && hz <= 1e6) CHECK(r.num > 0 && r.den > 0);
        else CHECK(r.num == 0 && r.den == 0);
    } else {
        r = schd_period((int64_t)(raw >> 1));
    }
    memset(&job, 0, sizeof job);
    job.rate = r;
    if (!schd__rate_ok(r)) return 0;
    job.anchor = (int64_t)(t % ((uint64_t)1 << 50));
    exact = (unsigned __int128)k * (uint64_t)r.num / (uint64_t)r.den;
    if (exact > (unsigned __int128)((uint64_t)1 << 62)) return 0;   /* beyond any real uptime */
    CHECK((unsigned __int128)schd__rate_offset(r, k) == exact);
    CHECK(schd__rate_offset(r, k + 1) >= schd__rate_offset(r, k));
    {
        /* the first period after a time: exact and not before job.next */
        int64_t now = job.anchor + (int64_t)(exact) + (int64_t)(raw % 7) - 3;
        uint64_t first;
        job.next = k / 2;
        first = schd__job_first_after(&job, now);
        CHECK(first >= job.next);
        CHECK(schd_job_due(&job, first) > now);
        CHECK(first == job.next || schd_job_due(&job, first - 1) <= now);
    }
    return 0;
}
