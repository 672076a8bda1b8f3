/* tests/aio_lockout.c - can trickling peers lock a server's new clients out?
 *
 *   aio_lockout SERVER [ARGS...]
 *
 * Starts SERVER ARGS... 0 (examples/echo_server.c and its options) with a
 * descriptor limit of 1024, then holds 2,000 connections to it, each
 * sending one byte every 3 seconds (a connection the server closed is
 * opened again at its next turn, so the attack lasts).  Meanwhile, three
 * times, a new client connects, sends a line and must have it echoed
 * within 2 seconds.  A server that keeps every descriptor for the
 * tricklers never answers it.
 *
 * The program raises its own descriptor limit to hold the 2,000; when the
 * hard limit does not allow it, it says so and fewer connections are used
 * (a line starting "REDUCED:"). */
#define _GNU_SOURCE 1
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define L_ATTACKERS 2000
#define L_SERVER_FDS 1024
#define L_PERIOD_MS 3000
#define L_PROBE_MS 2000

static char **server_argv;
static pid_t server_pid = -1;
static int port, nattack = L_ATTACKERS;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_nb(void)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) { close(fd); return -1; }
    return fd;
}

/* Starts the server with its descriptor limit; reads its port. */
static int start_server(void)
{
    int out[2], n = 0;
    char line[64];
    if (pipe(out) < 0) return -1;
    server_pid = fork();
    if (server_pid < 0) return -1;
    if (server_pid == 0) {
        struct rlimit lim;
        lim.rlim_cur = lim.rlim_max = L_SERVER_FDS;
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        if (setrlimit(RLIMIT_NOFILE, &lim) < 0) _exit(126);
        execv(server_argv[0], server_argv);
        _exit(127);
    }
    close(out[1]);
    while (n < (int)sizeof line - 1) {
        ssize_t r = read(out[0], line + n, 1);
        if (r <= 0 || line[n] == '\n') break;
        n++;
    }
    line[n] = 0;
    close(out[0]);  /* the server writes nothing more */
    if (sscanf(line, "listening on %d", &port) != 1) {
        printf("the server said \"%s\"\n", line);
        return -1;
    }
    return 0;
}

static void stop_server(void)
{
    int i, st;
    if (server_pid <= 0) return;
    kill(server_pid, SIGTERM);
    for (i = 0; i < 300; i++) {
        if (waitpid(server_pid, &st, WNOHANG) == server_pid) { server_pid = -1; return; }
        usleep(50000);
    }
    kill(server_pid, SIGKILL);
    waitpid(server_pid, &st, 0);
    server_pid = -1;
}

typedef struct attacker { int fd; int64_t next; } attacker;
static attacker att[L_ATTACKERS];
static long reconnects, bytes_sent;

/* One turn of every attacker whose time has come: drain the echo; a
 * connection the server ended is opened again, else it sends one byte. */
static void trickle(int64_t t)
{
    int i;
    for (i = 0; i < nattack; i++) {
        attacker *a = &att[i];
        char buf[64];
        ssize_t r;
        if (a->next > t) continue;
        a->next += L_PERIOD_MS;
        if (a->fd >= 0) {
            while ((r = recv(a->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {}
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)) {
                close(a->fd);
                a->fd = -1;
            }
        }
        if (a->fd < 0) {  /* loopback connects at once: the byte can follow */
            a->fd = connect_nb();
            reconnects++;
            if (a->fd < 0) continue;
        }
        if (send(a->fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) bytes_sent++;
    }
}

/* A new client: connect, send a line, wait for it back.  Returns the
 * milliseconds it took, or -1 when it was not served within the limit. */
static long probe(void)
{
    int64_t t0 = now_ms(), left;
    char got[16];
    size_t have = 0;
    int fd = connect_nb(), sent = 0;
    if (fd < 0) return -1;
    while ((left = t0 + L_PROBE_MS - now_ms()) > 0 && have < 6) {
        struct pollfd p;
        p.fd = fd;
        p.events = sent ? POLLIN : POLLOUT;
        if (poll(&p, 1, (int)left) <= 0) continue;
        if (!sent) {
            if (send(fd, "probe\n", 6, MSG_NOSIGNAL) == 6) sent = 1;
            else if (errno != EAGAIN && errno != ENOTCONN) break;
            continue;
        }
        {
            ssize_t r = recv(fd, got + have, sizeof got - have, 0);
            if (r <= 0) break;
            have += (size_t)r;
        }
    }
    close(fd);
    return have >= 6 && memcmp(got, "probe\n", 6) == 0 ? (long)(now_ms() - t0) : -1;
}

static void test_new_clients_are_served_while_tricklers_hold_connections(void)
{
    int64_t start, t, probe_at[3];
    long took[3];
    int i, k = 0, established = 0;
    T_REQUIRE(start_server() == 0);
    start = now_ms();
    for (i = 0; i < nattack; i++) {  /* the turns spread evenly over the period */
        att[i].fd = -1;
        att[i].next = start + (int64_t)i * L_PERIOD_MS / nattack;
    }
    /* the attack is in place after one period; probes after 1.3, 2.3 and 3.3 periods */
    for (i = 0; i < 3; i++) probe_at[i] = start + (int64_t)L_PERIOD_MS * (13 + 10 * i) / 10;
    while (k < 3) {
        t = now_ms();
        trickle(t);
        if (t >= probe_at[k]) {
            took[k] = probe();
            printf("probe %d after %.1f s: %s (%ld ms)\n", k + 1, (double)(t - start) / 1000,
                   took[k] >= 0 ? "served" : "not served", took[k]);
            fflush(stdout);
            k++;
        }
        usleep(5000);
    }
    for (i = 0; i < nattack; i++) {
        int err = 0;
        socklen_t len = sizeof err;
        if (att[i].fd >= 0 && getsockopt(att[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) established++;
    }
    printf("attackers %d, connected at the end %d, reopened %ld, bytes sent %ld\n",
           nattack, established, reconnects - nattack, bytes_sent);
    for (i = 0; i < nattack; i++)
        if (att[i].fd >= 0) close(att[i].fd);
    stop_server();
    T_CHECK(established > L_SERVER_FDS);   /* more than the server can hold at once */
    for (i = 0; i < 3; i++) T_CHECK(took[i] >= 0 && took[i] <= L_PROBE_MS);
}

int main(int argc, char **argv)
{
    struct rlimit lim;
    int i;
    if (argc < 2) {
        fprintf(stderr, "usage: %s SERVER [ARGS...]\n", argv[0]);
        return 2;
    }
    server_argv = (char **)calloc((size_t)argc + 1, sizeof *server_argv);
    for (i = 1; i < argc; i++) server_argv[i - 1] = argv[i];
    server_argv[argc - 1] = (char *)"0";
    signal(SIGPIPE, SIG_IGN);
    getrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur < L_ATTACKERS + 64) {
        rlim_t want = L_ATTACKERS + 64;
        if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < want) want = lim.rlim_max;
        lim.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &lim);
        getrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur < L_ATTACKERS + 64) {
        nattack = (int)lim.rlim_cur - 64;
        printf("REDUCED: the descriptor limit (%ld) allows %d attackers\n", (long)lim.rlim_cur, nattack);
    }
    t_suite("aio_lockout");
    printf("server %s with %d descriptors, %d attackers, one byte every %d ms each\n", argv[1], L_SERVER_FDS,
           nattack, L_PERIOD_MS);
    T_RUN(test_new_clients_are_served_while_tricklers_hold_connections);
    stop_server();
    return t_done();
}
