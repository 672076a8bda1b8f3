/* tests/aio_dgram_flood.c - a flood of datagrams does not hold the loop:
 * another process sends UDP datagrams as fast as it can while the loop
 * receives them, and a 10 ms timer and a TCP echo on the same loop keep
 * going.  What is checked is counted, not timed, so that a loaded machine,
 * valgrind or qemu cannot fail it: how many datagrams the loop handed out
 * in a row while the timer was overdue (by the clock) and before it ran,
 * and while the echo byte sat readable in one of the TCP sockets (not when
 * it is in flight: a loaded kernel may take its time to deliver it).  The
 * loop reaches a due timer or a readable socket within two iterations,
 * and an iteration hands out at most recv_max (64) datagrams, so neither
 * count may pass 4 x 64 however fast or slow the machine.  The
 * flood lasts until the loop has received 2,000 datagrams, ticked 20
 * times and echoed 50 bytes (30 s at most).  The socket's receive buffer
 * holds thousands of datagrams, so a receiver without the bound fails:
 * with recv_max set to 1,000,000 two runs handed out 624 and 2,670 in a
 * row.  aio_dgram.c's recv_max_bounds_an_iteration checks the bound alone. */
#define SCHD_IMPLEMENTATION
#include "sched.h"
#define AIOS_IMPLEMENTATION
#include "aio_stream.h"
#include "tests/harness.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>

static schd_loop loop;
static schd_source src;
static aios_ctx ctx;

/* ---- what the loop does meanwhile ---- */

/* Datagrams handed out while the timer was overdue, and while the echo
 * byte sat unread in a TCP socket: the current run of each and the largest. */
static int late_for_tick, late_for_tick_max, during_echo, during_echo_max;

static int ticks;
static void on_tick(schd_timer *t, void *ud)
{
    (void)t;
    (void)ud;
    if (late_for_tick > late_for_tick_max) late_for_tick_max = late_for_tick;
    late_for_tick = 0;
    ticks++;
}

static aios_server srv;
static aios_stream *cli;
static char echo_byte;
static int trips;

static void on_server_byte(aios_stream *s, int status, void *ud)
{
    size_t n;
    const char *d = aios_data(s, &n);
    (void)ud;
    during_echo = 0;   /* the loop took the byte */
    if (status < 0) { aios_close(s, NULL, NULL); return; }
    aios_write_copy(s, d, n, NULL, NULL);
    aios_consume(s, n);
    aios_peek(s, 1, on_server_byte, NULL);
}

static aios_stream *served;
static void on_conn(aios_server *sv, aios_stream *s, const struct sockaddr *peer, void *ud)
{
    (void)sv; (void)peer; (void)ud;
    served = s;
    aios_peek(s, 1, on_server_byte, NULL);
}

static void on_echo(aios_stream *s, int status, void *ud);

static void echo_next(void)
{
    aios_write_copy(cli, "e", 1, NULL, NULL);
    aios_read_exactly(cli, &echo_byte, 1, on_echo, NULL);
}

static void on_echo(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    during_echo = 0;
    if (status != 1) return;
    trips++;
    echo_next();
}

static void on_connected(aios_stream *s, int status, void *ud)
{
    (void)s; (void)ud;
    if (status == 0) echo_next();
}

/* Whether the echo byte sits unread in either TCP socket, for the loop. */
static int echo_waiting(void)
{
    struct pollfd p[2];
    p[0].fd = served ? aios_stream_fd(served) : -1;
    p[1].fd = cli ? aios_stream_fd(cli) : -1;
    p[0].events = p[1].events = POLLIN;
    return poll(p, 2, 0) > 0 && ((p[0].revents | p[1].revents) & POLLIN);
}

static schd_timer tick;
static aios_dgram *rx;
static char rx_buf[2048];
static int received;
static void on_datagram(aios_dgram *d, int status, void *ud)
{
    (void)ud;
    if (status == -ECANCELED) return;
    received++;
    if (schd_now_ns() >= schd_timer_due(&tick, &loop)) late_for_tick++;
    if (echo_waiting() && ++during_echo > during_echo_max) during_echo_max = during_echo;
    aios_recv(d, rx_buf, sizeof rx_buf, on_datagram, NULL);
}

/* ---- the flood: another process, plain sockets ---- */

static void flood(int port)
{
    struct sockaddr_in to;
    struct mmsghdr v[64];
    struct iovec iov;
    char payload[64];
    int fd = socket(AF_INET, SOCK_DGRAM, 0), i;
    int64_t end = schd_now_ns() + SCHD_SEC(30);   /* or until the test has seen enough and kills it */
    /* below the loop's priority: on a machine of two cores the flood must
     * fill the socket, not take the loop's processor away */
    if (nice(5) == -1 && errno != 0) { /* no matter */ }
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    memset(payload, 'f', sizeof payload);
    iov.iov_base = payload;
    iov.iov_len = sizeof payload;
    memset(v, 0, sizeof v);
    for (i = 0; i < 64; i++) {
        v[i].msg_hdr.msg_iov = &iov;
        v[i].msg_hdr.msg_iovlen = 1;
        v[i].msg_hdr.msg_name = &to;
        v[i].msg_hdr.msg_namelen = sizeof to;
    }
    while (schd_now_ns() < end) (void)sendmmsg(fd, v, 64, 0);
    _exit(0);
}

/* The host's count of UDP datagrams dropped for a full receive buffer
 * (/proc/net/snmp, RcvbufErrors): shows that the sender outran the
 * receiver.  -1 where it cannot be read. */
static long udp_rcvbuf_errors(void)
{
    char line[512];
    long v = -1;
    int seen = 0;
    FILE *f = fopen("/proc/net/snmp", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Udp: ", 5) == 0 && ++seen == 2) {
            long a[6];
            if (sscanf(line + 5, "%ld %ld %ld %ld %ld %ld", &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) == 6) v = a[4];
        }
    fclose(f);
    return v;
}

static void reset_counts(void)
{
    ticks = trips = received = 0;
    late_for_tick = late_for_tick_max = during_echo = during_echo_max = 0;
}

static void test_a_timer_and_a_tcp_echo_keep_going_in_a_flood(void)
{
    pid_t child;
    int st = 0;
    int64_t give_up;
    aios_dgram_opts opts;
    long drops;
    T_REQUIRE(schd_loop_init(&loop) == 0 && aios_ctx_init(&ctx) == 0);
    T_REQUIRE(aios_attach(&ctx, &loop, &src) == 0);
    aios_dgram_opts_init(&opts);
    opts.rcvbuf = 4 << 20;   /* room for thousands of datagrams: a receiver without the bound would hand them all out */
    T_REQUIRE(aios_udp_open(&rx, &ctx, "127.0.0.1", 0, &opts) == 0);
    T_REQUIRE(aios_recv(rx, rx_buf, sizeof rx_buf, on_datagram, NULL) == 0);
    T_REQUIRE(aios_server_init(&srv, &ctx, NULL, on_conn, NULL) == 0);
    T_REQUIRE(aios_server_listen_tcp(&srv, "127.0.0.1", 0) == 0);
    T_REQUIRE(aios_tcp_connect(&cli, &ctx, "127.0.0.1", aios_server_port(&srv), NULL, on_connected, NULL) == 0);
    schd_timer_init(&tick, on_tick, NULL);
    T_REQUIRE(schd_timer_start(&tick, &loop, SCHD_MS(10), SCHD_MS(10)) == 0);
    give_up = schd_now_ns() + SCHD_SEC(20);
    while (trips < 1 && schd_now_ns() < give_up) schd_loop_run_once(&loop, SCHD_MS(5));   /* connected */
    T_REQUIRE(trips > 0);

    child = fork();
    T_REQUIRE(child >= 0);
    if (child == 0) flood(aios_dgram_port(rx));
    reset_counts();
    drops = udp_rcvbuf_errors();
    give_up = schd_now_ns() + SCHD_SEC(30);
    while ((received < 2000 || ticks < 20 || trips < 50) && schd_now_ns() < give_up)
        schd_loop_run_once(&loop, SCHD_MS(5));
    kill(child, SIGKILL);
    waitpid(child, &st, 0);
    drops = drops < 0 ? -1 : udp_rcvbuf_errors() - drops;
    printf("in the flood: %d datagrams (%ld more dropped by the kernel, whole host), %d ticks, %d echoes; "
           "at most %d datagrams handed out while the timer was overdue, %d while the echo byte sat unread\n",
           received, drops, ticks, trips, late_for_tick_max, during_echo_max);
    T_CHECK(received >= 2000);            /* it was a flood */
    T_CHECK(ticks >= 20);                 /* neither the timer */
    T_CHECK(trips >= 50);                 /* nor the echo was starved */
    T_CHECK(late_for_tick_max <= 4 * 64);
    T_CHECK(during_echo_max <= 4 * 64);

    schd_timer_stop(&tick, &loop);
    aios_close(cli, NULL, NULL);
    schd_source_remove(&src);
    aios_ctx_close(&ctx);
    schd_loop_close(&loop);
}

int main(void)
{
    t_suite("aio_dgram_flood");
    T_RUN(test_a_timer_and_a_tcp_echo_keep_going_in_a_flood);
    return t_done();
}
